//! Edge cases and hostile inputs of the planners and machines, on an in-memory core.

use bytes::Bytes;
use ferrocore_hyperblobs::{
    map, BlobError, BlobId, BlobWriter, Blobs, Clear, CoreInfo, DedupLoad, Get, Machine, MapEntry,
    ReadOptions, ReadStream, Step, WriteOptions,
};

/// A core in memory; `None` blocks were cleared.
#[derive(Default)]
struct Core {
    blocks: Vec<Option<Bytes>>,
    sizes: Vec<u64>,
    requests: usize,
}

impl Core {
    fn info(&self) -> CoreInfo {
        CoreInfo {
            length: self.blocks.len() as u64,
            byte_length: self.sizes.iter().sum(),
        }
    }

    fn append(&mut self, batch: Vec<Bytes>) {
        for b in batch {
            self.sizes.push(b.len() as u64);
            self.blocks.push(Some(b));
        }
    }

    fn put(&mut self, blobs: &Blobs, content: &[u8], opts: &WriteOptions) -> BlobId {
        let info = self.info();
        let put = blobs.put(
            &Bytes::copy_from_slice(content),
            opts,
            info.length,
            info.byte_length,
            None,
        );
        for a in put.appends {
            self.append(a);
        }
        put.id
    }

    /// The first block holding byte `b` (no zero-length blocks in these tests).
    fn seek(&self, mut b: u64) -> Option<(u64, u64)> {
        for (i, s) in self.sizes.iter().enumerate() {
            if b < *s {
                return Some((i as u64, b));
            }
            b -= s;
        }
        (b == 0).then_some((self.sizes.len() as u64, 0))
    }

    fn drive<M: Machine>(&mut self, m: &mut M) -> Result<(M::Output, Vec<Bytes>), BlobError> {
        let mut chunks = Vec::new();
        loop {
            match m.poll()? {
                Step::NeedBlock(seq) => {
                    self.requests += 1;
                    let b = self.blocks[seq as usize].clone();
                    m.handle_block(seq, b)?;
                }
                Step::NeedSeek(byte) => m.handle_seek(byte, self.seek(byte))?,
                Step::Chunk(c) => chunks.push(c),
                Step::Done(out) => return Ok((out, chunks)),
            }
        }
    }

    fn get(&mut self, id: &BlobId, opts: ReadOptions) -> Result<Option<Bytes>, BlobError> {
        let mut g = Get::new(id, &opts, self.info())?;
        Ok(self.drive(&mut g)?.0)
    }

    fn stream(&mut self, id: &BlobId, opts: ReadOptions) -> Result<(bool, Vec<usize>), BlobError> {
        let mut s = ReadStream::new(id, &opts, self.info())?;
        let (done, chunks) = self.drive(&mut s)?;
        Ok((done, chunks.iter().map(Bytes::len).collect()))
    }
}

fn range(start: Option<u64>, end: Option<i64>, length: Option<u64>) -> ReadOptions {
    ReadOptions { start, end, length }
}

fn map_opts() -> WriteOptions {
    WriteOptions {
        block_map: true,
        block_size: Some(3),
        ..WriteOptions::default()
    }
}

#[test]
fn empty_blobs() {
    let blobs = Blobs::default();
    let mut core = Core::default();
    core.put(&blobs, b"xy", &WriteOptions::default());
    let id = core.put(&blobs, b"", &WriteOptions::default());
    assert_eq!(
        (
            id.block_offset,
            id.byte_offset,
            id.block_length,
            id.byte_length
        ),
        (1, 2, 0, 0)
    );
    assert_eq!(
        core.get(&id, ReadOptions::default()),
        Ok(Some(Bytes::new()))
    );
    assert_eq!(core.stream(&id, ReadOptions::default()), Ok((true, vec![])));

    let id = core.put(&blobs, b"", &map_opts());
    assert!(id.block_map && id.block_length == 0);
    assert_eq!(
        core.info().length,
        1,
        "an empty block-map blob writes nothing"
    );
    assert_eq!(
        core.get(&id, ReadOptions::default()),
        Err(BlobError::EmptyBlockMap)
    );
    assert_eq!(
        Clear::new(&id, core.info()).err(),
        Some(BlobError::EmptyBlockMap)
    );
}

#[test]
fn ranges_are_not_clamped_to_the_blob() {
    let blobs = Blobs::default();
    let mut core = Core::default();
    let a = core.put(&blobs, b"abc", &WriteOptions::default());
    core.put(&blobs, b"defg", &WriteOptions::default());
    let get = |core: &mut Core, o| core.get(&a, o).unwrap().map(|b| b.to_vec());
    assert_eq!(
        get(&mut core, range(Some(1), None, Some(5))),
        Some(b"bcdef".to_vec())
    );
    assert_eq!(
        get(&mut core, range(None, Some(4), None)),
        Some(b"abcde".to_vec())
    );
    // `length` wins over `end` for a plain blob; `end` is inclusive.
    assert_eq!(
        get(&mut core, range(Some(1), Some(0), Some(2))),
        Some(b"bc".to_vec())
    );
    // Past the core's end: not available (JS waits, or `null` with `wait: false`).
    assert_eq!(get(&mut core, range(None, Some(7), None)), None);
    assert_eq!(get(&mut core, range(Some(8), None, None)), None);
    // At the blob's end, and zero-length ranges: nothing.
    assert_eq!(get(&mut core, range(Some(3), None, None)), Some(vec![]));
    assert_eq!(get(&mut core, range(None, None, Some(0))), Some(vec![]));
    assert_eq!(get(&mut core, range(Some(2), Some(-1), None)), Some(vec![]));
    assert_eq!(
        core.stream(&a, range(Some(2), None, Some(3))),
        Ok((true, vec![1, 2]))
    );
    // A range ending before the core's byte 0 is JS's `seek is invalid`.
    assert_eq!(
        ReadStream::new(&a, &range(None, Some(-2), None), core.info()).err(),
        Some(BlobError::InvalidRange)
    );
}

#[test]
fn block_map_reads_and_their_js_errors() {
    let blobs = Blobs::default();
    let mut core = Core::default();
    let id = core.put(&blobs, b"abcdefgh", &map_opts());
    let get = |core: &mut Core, o| core.get(&id, o).map(|b| b.map(|b| b.to_vec()));
    assert_eq!(
        get(&mut core, ReadOptions::default()),
        Ok(Some(b"abcdefgh".to_vec()))
    );
    assert_eq!(
        get(&mut core, range(Some(2), Some(4), None)),
        Ok(Some(b"cde".to_vec()))
    );
    // `end` wins over `length` in the map reader; JS's negative `subarray` end cuts
    // the single block to nothing here.
    assert_eq!(
        core.stream(&id, range(Some(2), Some(0), Some(3))),
        Ok((true, vec![0]))
    );
    assert_eq!(get(&mut core, range(None, None, Some(0))), Ok(Some(vec![])));
    assert_eq!(
        get(&mut core, range(Some(8), None, None)),
        Err(BlobError::StartPastEnd)
    );

    let too_large = BlobId {
        block_length: 65,
        ..id
    };
    assert_eq!(get_err(&core, &too_large), BlobError::MapTooLarge(65));

    // A map block that is not a map, and a missing one.
    core.append(vec![Bytes::from_static(&[7, 1, 2])]);
    let bad = BlobId {
        block_offset: core.info().length - 1,
        block_length: 1,
        block_map: true,
        ..id
    };
    assert!(matches!(
        core.get(&bad, ReadOptions::default()),
        Err(BlobError::Map {
            error: map::MapError::Version(7),
            ..
        })
    ));
    core.blocks[id.block_offset as usize] = None;
    assert_eq!(
        core.get(&id, ReadOptions::default()),
        Err(BlobError::MapNotAvailable)
    );
}

fn get_err(core: &Core, id: &BlobId) -> BlobError {
    Get::new(id, &ReadOptions::default(), core.info())
        .err()
        .unwrap()
}

#[test]
fn hostile_ids_cost_at_most_the_core() {
    let blobs = Blobs::new(Some(2));
    let mut core = Core::default();
    core.put(&blobs, b"abcdefghij", &WriteOptions::default());
    let huge = BlobId {
        block_offset: 1,
        block_length: u64::MAX,
        byte_offset: 2,
        byte_length: u64::MAX,
        block_map: false,
    };
    // Whole-blob read: refused without a request.
    assert_eq!(core.get(&huge, ReadOptions::default()), Ok(None));
    assert_eq!(core.requests, 0);
    // A ranged read runs to the core's end, one request per block, then stops.
    assert_eq!(
        core.stream(&huge, range(Some(1), None, None)),
        Ok((false, vec![1, 2, 2, 2]))
    );
    assert!(core.requests <= 5);
    // Map entries pointing past the core: not available, no request for them.
    let entries = [
        MapEntry {
            index: 1,
            byte_length: 2,
        },
        MapEntry {
            index: 1 << 50,
            byte_length: 9,
        },
    ];
    core.append(map::encode(&entries));
    let id = BlobId {
        block_offset: 5,
        block_length: 1,
        block_map: true,
        ..huge
    };
    core.requests = 0;
    assert_eq!(core.get(&id, ReadOptions::default()), Ok(None));
    assert_eq!(core.requests, 2, "the map block and block 1");
    let mut clear = Clear::new(&id, core.info()).unwrap();
    assert_eq!(core.drive(&mut clear).unwrap().0, [(1, 2), (5, 6)]);
    // A plain id past the core cannot seed a dedup table.
    assert_eq!(
        DedupLoad::new(&huge, core.info()).err(),
        Some(BlobError::BlockNotAvailable(6))
    );
}

#[test]
fn answers_not_asked_for_are_refused() {
    let mut core = Core::default();
    let id = core.put(&Blobs::default(), b"abc", &WriteOptions::default());
    let mut g = Get::new(&id, &ReadOptions::default(), core.info()).unwrap();
    assert_eq!(g.handle_block(0, None), Err(BlobError::UnexpectedBlock(0)));
    assert_eq!(g.poll(), Ok(Step::NeedBlock(0)));
    assert_eq!(g.handle_block(1, None), Err(BlobError::UnexpectedBlock(1)));
    assert_eq!(
        g.handle_seek(1, Some((0, 1))),
        Err(BlobError::UnexpectedSeek(1))
    );
    let mut s = ReadStream::new(&id, &range(Some(1), None, None), core.info()).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedSeek(1)));
    assert_eq!(s.handle_seek(2, None), Err(BlobError::UnexpectedSeek(2)));
    s.handle_seek(1, None).unwrap();
    // A seek without answer (a sparse core lacking tree nodes): the block likely holding
    // the start is fetched (its proof brings the nodes), and the start sought again...
    assert_eq!(s.poll(), Ok(Step::NeedBlock(0)));
    s.handle_block(0, Some(Bytes::from_static(b"abc"))).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedSeek(1)));
    s.handle_seek(1, Some((0, 1))).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedBlock(0)));
    s.handle_block(0, Some(Bytes::from_static(b"abc"))).unwrap();
    assert_eq!(s.poll(), Ok(Step::Chunk(Bytes::from_static(b"bc"))));
    assert_eq!(s.poll(), Ok(Step::Done(true)));
    // ... and if that seek fails too, the blob's blocks are walked from its first.
    let mut s = ReadStream::new(&id, &range(Some(1), None, None), core.info()).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedSeek(1)));
    s.handle_seek(1, None).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedBlock(0)));
    s.handle_block(0, Some(Bytes::from_static(b"abc"))).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedSeek(1)));
    s.handle_seek(1, None).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedBlock(0)));
    s.handle_block(0, Some(Bytes::from_static(b"abc"))).unwrap();
    assert_eq!(s.poll(), Ok(Step::Chunk(Bytes::from_static(b"bc"))));
    assert_eq!(s.poll(), Ok(Step::Done(true)));
    // A block missing on the way is "not available".
    let mut s = ReadStream::new(&id, &range(Some(1), None, None), core.info()).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedSeek(1)));
    s.handle_seek(1, None).unwrap();
    assert_eq!(s.poll(), Ok(Step::NeedBlock(0)));
    s.handle_block(0, None).unwrap();
    assert_eq!(s.poll(), Ok(Step::Done(false)), "not available");
}

#[test]
fn write_streams_batch_appends_and_drop_trailing_empty_chunks() {
    let w = |chunks: &[&'static [u8]]| {
        let mut w = BlobWriter::new(&WriteOptions::default(), 0, 0, None);
        let mut appends = Vec::new();
        for c in chunks {
            w.write(Bytes::from_static(c));
            appends.extend(std::iter::from_fn(|| w.poll_append()));
        }
        let id = w.end();
        assert_eq!(w.end(), id);
        w.write(Bytes::from_static(b"late"));
        appends.extend(std::iter::from_fn(|| w.poll_append()));
        (
            id,
            appends
                .iter()
                .map(|a| a.iter().map(Bytes::len).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(w(&[b"ab", b"", b"c", b"", b""]).1, [vec![2, 0, 1]]);
    assert_eq!(w(&[b"", b""]).1, [vec![0]]);
    assert_eq!(w(&[]).1, Vec::<Vec<usize>>::new());
    let many = [&b"x"[..]; 33];
    let (id, appends) = w(&many);
    assert_eq!(
        appends.iter().map(Vec::len).collect::<Vec<_>>(),
        [16, 16, 1]
    );
    assert_eq!((id.block_length, id.byte_length), (33, 33));
}

#[test]
fn dedup_reuses_first_copy_within_a_write_and_last_copy_of_the_old_blob() {
    let blobs = Blobs::new(Some(1));
    let mut core = Core::default();
    let old = core.put(&blobs, b"aba", &WriteOptions::default());
    let mut load = DedupLoad::new(&old, core.info()).unwrap();
    let table = core.drive(&mut load).unwrap().0;
    assert_eq!(table.len(), 2);
    assert_eq!(
        table.get(b"a"),
        Some(MapEntry {
            index: 2,
            byte_length: 1
        })
    );
    let opts = WriteOptions {
        dedup: true,
        ..WriteOptions::default()
    };
    let info = core.info();
    let put = blobs.put(
        &Bytes::from_static(b"cacbc"),
        &opts,
        info.length,
        info.byte_length,
        Some(table),
    );
    // New blocks: c (3); the map: c a c b c → 3 2 3 1 3.
    let e = |index| MapEntry {
        index,
        byte_length: 1,
    };
    assert_eq!(put.appends[0], [Bytes::from_static(b"c")]);
    assert_eq!(put.appends[1], map::encode(&[e(3), e(2), e(3), e(1), e(3)]));
    for a in put.appends {
        core.append(a);
    }
    assert_eq!(
        core.get(&put.id, ReadOptions::default()).unwrap().unwrap(),
        &b"cacbc"[..]
    );
}

#[test]
fn batches_append_once_and_read_their_own_blobs() {
    let blobs = Blobs::new(Some(2));
    let mut b = blobs.batch(3, 10);
    let x = b.put(&Bytes::from_static(b"abc"));
    let y = b.put(&Bytes::from_static(b""));
    let z = b.put(&Bytes::from_static(b"de"));
    assert_eq!((x.block_offset, x.block_length, x.byte_offset), (3, 2, 10));
    assert_eq!(
        (
            y.block_offset,
            y.block_length,
            z.block_offset,
            z.byte_offset
        ),
        (5, 0, 5, 13)
    );
    assert_eq!(b.get(&x).unwrap(), &b"abc"[..]);
    assert_eq!(b.get(&y).unwrap(), &b""[..]);
    assert_eq!(b.get(&z).unwrap(), &b"de"[..]);
    assert_eq!(
        b.get(&BlobId {
            block_offset: 2,
            ..x
        }),
        None,
        "in the core, not the batch"
    );
    assert_eq!(b.flush().len(), 3);
    assert_eq!(b.put(&Bytes::from_static(b"f")).block_offset, 6);
}
