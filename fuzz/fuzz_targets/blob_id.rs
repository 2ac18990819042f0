//! Hyperblobs on arbitrary input: the blob-id JSON parser and the block-map decoder never
//! panic and what they accept re-encodes to the same value; then a core cut from the
//! input is read through a hostile id (plain or block map, with a hostile range and
//! hostile seek answers), cleared and used as a dedup source: typed errors at worst, never
//! a panic, and never more requests than the core's blocks and map entries allow. An
//! honest put of part of the input onto that core reads back as written.
#![no_main]

use bytes::Bytes;
use ferrocore_hyperblobs::{
    map, BlobError, BlobId, Blobs, Clear, CoreInfo, DedupLoad, Get, Machine, ReadOptions,
    ReadStream, Step, WriteOptions,
};

/// Bytes of the input, one field at a time (zeros once it runs out).
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }

    fn u64(&mut self) -> u64 {
        // Small values mostly, sometimes huge ones.
        match self.u8() % 4 {
            0 => u64::MAX - u64::from(self.u8()),
            1 => u64::from(self.u8()) << 40,
            _ => u64::from(self.u8()),
        }
    }
}

struct Core {
    blocks: Vec<Option<Bytes>>,
    byte_length: u64,
}

impl Core {
    fn info(&self) -> CoreInfo {
        CoreInfo {
            length: self.blocks.len() as u64,
            byte_length: self.byte_length,
        }
    }

    /// Drives `m`, answering seeks from `answers`; returns the output and the requests made.
    fn drive<M: Machine>(
        &self,
        m: &mut M,
        answers: &mut Input,
    ) -> (Result<M::Output, BlobError>, usize) {
        let mut requests = 0;
        // Per block a request and a chunk; per map entry (2 bytes at least) the same.
        let bound = 2 * self.blocks.len() + self.byte_length as usize + 70;
        loop {
            let step = match m.poll() {
                Ok(s) => s,
                Err(e) => return (Err(e), requests),
            };
            requests += 1;
            assert!(requests <= bound, "more requests than the core allows");
            let answered = match step {
                Step::NeedBlock(seq) => {
                    let b = self
                        .blocks
                        .get(seq as usize)
                        .expect("asked within the core");
                    m.handle_block(seq, b.clone())
                }
                Step::NeedSeek(byte) => {
                    assert!(byte <= self.byte_length, "seek within the core");
                    let at = (answers.u8() % 8 != 0).then(|| (answers.u64(), answers.u64()));
                    m.handle_seek(byte, at)
                }
                Step::Chunk(_) => Ok(()),
                Step::Done(out) => return (Ok(out), requests),
            };
            answered.expect("answers to what was asked are taken");
        }
    }
}

fn decoders(data: &[u8]) {
    if let Ok(id) = BlobId::from_json(data) {
        assert_eq!(BlobId::from_json(id.to_json().as_bytes()), Ok(id));
    }
    let mut entries = Vec::new();
    if map::decode_into(data, &mut entries).is_ok() {
        let mut again = Vec::new();
        for block in map::encode(&entries) {
            map::decode_into(&block, &mut again).expect("an encoded map decodes");
        }
        assert_eq!(again, entries);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    decoders(data);
    let mut input = Input(data);
    // A core: blocks cut from the input, some missing.
    let count = usize::from(input.u8() % 12);
    let mut core = Core {
        blocks: Vec::new(),
        byte_length: 0,
    };
    for _ in 0..count {
        let len = usize::from(input.u8() % 24).min(input.0.len());
        let (b, rest) = input.0.split_at(len);
        input.0 = rest;
        core.byte_length += b.len() as u64;
        let missing = input.u8() % 7 == 0;
        core.blocks
            .push((!missing).then(|| Bytes::copy_from_slice(b)));
    }
    let id = BlobId {
        block_offset: input.u64(),
        block_length: input.u64(),
        byte_offset: input.u64(),
        byte_length: input.u64(),
        block_map: input.u8() % 2 == 0,
    };
    let flags = input.u8();
    let opts = ReadOptions {
        start: (flags & 1 != 0).then(|| input.u64()),
        end: (flags & 2 != 0).then(|| i64::from(input.u8() as i8)),
        length: (flags & 4 != 0).then(|| input.u64()),
    };
    let info = core.info();
    if let Ok(mut g) = Get::new(&id, &opts, info) {
        let _ = core.drive(&mut g, &mut input);
    }
    if let Ok(mut s) = ReadStream::new(&id, &opts, info) {
        let _ = core.drive(&mut s, &mut input);
    }
    if let Ok(mut c) = Clear::new(&id, info) {
        if let (Ok(ranges), _) = core.drive(&mut c, &mut input) {
            assert!(ranges.iter().all(|(a, b)| a < b && *b <= info.length));
        }
    }
    let table = DedupLoad::new(&id, info)
        .ok()
        .and_then(|mut d| core.drive(&mut d, &mut input).0.ok());
    let _ = table;

    // An honest put of the rest onto this core reads back (every block present).
    if core.blocks.iter().all(Option::is_some) {
        let opts = WriteOptions {
            block_map: flags & 8 != 0,
            dedup: flags & 16 != 0,
            block_size: Some(usize::from(flags >> 5) + 1),
        };
        let content = Bytes::copy_from_slice(input.0);
        let put = Blobs::default().put(&content, &opts, info.length, info.byte_length, None);
        for a in put.appends {
            for b in a {
                core.byte_length += b.len() as u64;
                core.blocks.push(Some(b));
            }
        }
        let mut g = Get::new(&put.id, &ReadOptions::default(), core.info());
        match g.as_mut().map(|g| core.drive(g, &mut Input(&[])).0) {
            Ok(Ok(Some(bytes))) => assert_eq!(bytes, content),
            Ok(other) => panic!("an honest blob reads back: {other:?}"),
            Err(BlobError::EmptyBlockMap) => assert!(content.is_empty()),
            Err(e) => panic!("an honest blob opens: {e}"),
        }
    }
});
