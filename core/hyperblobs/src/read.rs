//! Reading: JS `blobs.get(id, opts)` and `createReadStream(id, opts)` as machines.

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::io::{js_subarray, Fetch, Io, MapLoad, MapProgress};
use crate::map::MapEntry;
use crate::{BlobError, BlobId, CoreInfo, Machine, Step};

/// The range options of a read (JS `{start, end, length}`).
///
/// `start` is relative to the blob; `end` is **inclusive** and may be negative as in JS
/// (`end: -1` reads nothing); `length` wins over `end` for a plain blob, `end` wins for
/// a block-map blob (JS's two streams differ). Nothing clamps a range to the blob: a
/// plain read runs on into the core's next blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// First byte, relative to the blob (`None`: 0).
    pub start: Option<u64>,
    /// Last byte, inclusive, relative to the blob.
    pub end: Option<i64>,
    /// How many bytes.
    pub length: Option<u64>,
}

#[derive(Debug, Clone)]
enum Phase {
    /// Plain blob: find the first block (a seek unless the read starts at the blob).
    Start,
    /// Plain blob whose start the caller could not seek (a sparse core without the tree
    /// nodes on the way): fetch the block that likely holds it (the blob's blocks being
    /// equal but for the last, as every writer cuts them), whose proof brings the tree
    /// nodes on its way, then seek again.
    Probe(u64),
    /// The probe did not make the start seekable: seek once more, then walk.
    Reseek,
    /// Walk the blob's blocks from its first, `at` being the core byte where block
    /// `index` starts, until the one holding the start.
    Walk {
        /// The block to look at next.
        index: u64,
        /// The core byte it starts at.
        at: u64,
    },
    /// Plain blob: stream blocks from `index`.
    Blocks,
    /// Block-map blob: load the map.
    Map(MapLoad),
    /// Block-map blob: stream the entries `next .. end_index`.
    Entries(Vec<MapEntry>),
    /// Finished.
    Done,
}

/// A read stream (JS `BlobReadStream` / `BlockMapReadStream`): polls yield
/// [`Step::Chunk`]s, then `Done(true)`, or `Done(false)` when a block (or the start's
/// seek) is not available (JS `BLOCK_NOT_AVAILABLE`, which `get` turns into `null`).
///
/// A plain blob's read that does not start at the blob's first byte asks where its
/// start lies with [`Step::NeedSeek`] (JS `core.seek(byte)`); answer with
/// [`Machine::handle_seek`]; `None` for a byte inside the read (a sparse core lacking the
/// tree nodes on the way) makes the stream ask for the block likely holding the start
/// (whose proof, on a replicated core, brings those nodes) and seek again, and if that
/// fails too, walk the blob's blocks from its first to the one holding the start. The blocks around zero-length blocks depend on the answer
/// (hypercore's seek walks the Merkle tree), the bytes do not. Requests past the
/// [`CoreInfo`] are answered as missing without asking, so a hostile id costs at most
/// one request per block of the core (or per map entry).
#[derive(Debug, Clone)]
pub struct ReadStream {
    id: BlobId,
    io: Io,
    phase: Phase,
    // plain
    index: u64,
    rel: u64,
    pos: i128,
    end: i128,
    // block map
    range: (i128, i128),
    next: usize,
    end_index: usize,
    start_offset: u64,
    end_offset: u64,
}

impl ReadStream {
    /// A stream over `id`'s content on a core of `core`'s size.
    ///
    /// # Errors
    /// [`BlobError::InvalidRange`] when a plain read's end falls before byte 0 of the
    /// core (JS: `seek is invalid`); block-map errors when the map is too large or empty.
    pub fn new(id: &BlobId, opts: &ReadOptions, core: CoreInfo) -> Result<Self, BlobError> {
        let mut s = ReadStream {
            id: *id,
            io: Io::new(core),
            phase: Phase::Start,
            index: 0,
            rel: 0,
            pos: 0,
            end: 0,
            range: (0, 0),
            next: 0,
            end_index: 0,
            start_offset: 0,
            end_offset: 0,
        };
        if id.block_map {
            let start = i128::from(opts.start.unwrap_or(0));
            let end = match (opts.end, opts.length) {
                (Some(e), _) => i128::from(e) + 1,
                (None, Some(l)) => start + i128::from(l),
                (None, None) => -1,
            };
            s.range = (start, end);
            s.phase = Phase::Map(MapLoad::new(id)?);
        } else {
            let base = i128::from(id.byte_offset);
            s.pos = base + i128::from(opts.start.unwrap_or(0));
            s.end = match (opts.length, opts.end) {
                (Some(l), _) => s.pos + i128::from(l),
                (None, Some(e)) => base + i128::from(e) + 1,
                (None, None) => base + i128::from(id.byte_length),
            };
            if s.end < 0 {
                return Err(BlobError::InvalidRange);
            }
        }
        Ok(s)
    }

    fn poll_plain(&mut self) -> Step<bool> {
        if matches!(self.phase, Phase::Start | Phase::Reseek) {
            if self.pos == i128::from(self.id.byte_offset) {
                self.index = self.id.block_offset;
            } else {
                match self.io.seek(self.pos as u64) {
                    Err(byte) => return Step::NeedSeek(byte),
                    Ok(None) if self.pos < self.end => {
                        self.phase = match self.phase {
                            Phase::Start => Phase::Probe(self.guess()),
                            _ => Phase::Walk {
                                index: self.id.block_offset,
                                at: self.id.byte_offset,
                            },
                        };
                        return self.poll_plain();
                    }
                    Ok(None) => return self.finish(false),
                    Ok(Some((index, rel))) => (self.index, self.rel) = (index, rel),
                }
            }
            self.phase = Phase::Blocks;
        }
        if let Phase::Probe(guess) = self.phase {
            match self.io.fetch(guess) {
                Fetch::Need(seq) => return Step::NeedBlock(seq),
                Fetch::Missing => return self.finish(false),
                Fetch::Got(_) => {
                    self.phase = Phase::Reseek;
                    return self.poll_plain();
                }
            }
        }
        if let Phase::Walk { index, at } = self.phase {
            // Bounded: every step takes a block of the core, and the core's end is missing.
            let block = match self.io.fetch(index) {
                Fetch::Need(seq) => return Step::NeedBlock(seq),
                Fetch::Missing => return self.finish(false),
                Fetch::Got(b) => b,
            };
            let next = at.saturating_add(block.len() as u64);
            if i128::from(next) > self.pos {
                (self.index, self.rel) = (index, self.pos as u64 - at);
                self.io.keep(index, block);
                self.phase = Phase::Blocks;
            } else {
                self.phase = Phase::Walk {
                    index: index + 1,
                    at: next,
                };
                return self.poll_plain();
            }
        }
        if self.pos >= self.end {
            return self.finish(true);
        }
        let block = match self.io.fetch(self.index) {
            Fetch::Need(seq) => return Step::NeedBlock(seq),
            Fetch::Missing => return self.finish(false),
            Fetch::Got(b) => b,
        };
        let remainder = self.end - self.pos;
        let block = if self.rel != 0 || remainder < block.len() as i128 {
            let rel = i128::from(self.rel);
            js_subarray(&block, rel, rel + remainder)
        } else {
            block
        };
        self.index += 1;
        self.rel = 0;
        self.pos += block.len() as i128;
        Step::Chunk(block)
    }

    fn poll_map(&mut self) -> Result<Step<bool>, BlobError> {
        if let Phase::Map(load) = &mut self.phase {
            let entries = match load.poll(&mut self.io)? {
                MapProgress::Need(seq) => return Ok(Step::NeedBlock(seq)),
                MapProgress::Done(None) => return Err(BlobError::MapNotAvailable),
                MapProgress::Done(Some(entries)) => entries,
            };
            let (s, so, e) = seek_block_map(&entries, self.range.0, self.range.1);
            let Some(s) = s else {
                return Err(BlobError::StartPastEnd);
            };
            (self.next, self.start_offset) = (s, so);
            (self.end_index, self.end_offset) = e.unwrap_or((entries.len(), 0));
            self.phase = Phase::Entries(entries);
        }
        let Phase::Entries(entries) = &self.phase else {
            return Ok(Step::Done(true));
        };
        if self.next >= self.end_index {
            return Ok(self.finish(true));
        }
        let entry = entries[self.next];
        let mut block = match self.io.fetch(entry.index) {
            Fetch::Need(seq) => return Ok(Step::NeedBlock(seq)),
            Fetch::Missing => return Ok(self.finish(false)),
            Fetch::Got(b) => b,
        };
        self.next += 1;
        if self.start_offset != 0 {
            block = js_subarray(&block, i128::from(self.start_offset), i128::MAX);
            self.start_offset = 0;
        }
        if self.next == self.end_index && self.end_offset != 0 {
            let end = block.len() as i128 - i128::from(self.end_offset);
            block = js_subarray(&block, 0, end);
        }
        Ok(Step::Chunk(block))
    }

    /// The blob's block that holds the read's start if its blocks are equal but for the
    /// last (a guess, checked by seeking again once it is fetched).
    fn guess(&self) -> u64 {
        let rel = (self.pos - i128::from(self.id.byte_offset)).max(0) as u128;
        let blocks = u128::from(self.id.block_length.max(1));
        let bytes = u128::from(self.id.byte_length.max(1));
        let at = (rel * blocks / bytes).min(blocks - 1) as u64;
        self.id.block_offset.saturating_add(at)
    }

    fn finish(&mut self, complete: bool) -> Step<bool> {
        self.phase = Phase::Done;
        Step::Done(complete)
    }
}

impl Machine for ReadStream {
    type Output = bool;

    fn poll(&mut self) -> Result<Step<bool>, BlobError> {
        match self.phase {
            Phase::Done => Ok(Step::Done(true)),
            Phase::Map(_) | Phase::Entries(_) => self.poll_map(),
            Phase::Start | Phase::Probe(_) | Phase::Reseek | Phase::Walk { .. } | Phase::Blocks => {
                Ok(self.poll_plain())
            }
        }
    }

    fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError> {
        self.io.handle_block(seq, block)
    }

    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), BlobError> {
        self.io.handle_seek(byte, at)
    }
}

/// JS `seekBlockMap`: the entry the range starts in and the offset in it, and the entry
/// after the one it ends in with the bytes to cut from that one (`None`: to the end).
fn seek_block_map(
    entries: &[MapEntry],
    mut start: i128,
    mut end: i128,
) -> (Option<usize>, u64, Option<(usize, u64)>) {
    let mut s = None;
    let mut so = 0;
    let mut e = None;
    for (i, b) in entries.iter().enumerate() {
        let len = i128::from(b.byte_length);
        if s.is_none() {
            if start < len {
                s = Some(i);
                so = start as u64;
            } else {
                start -= len;
            }
        }
        if e.is_none() && end > -1 {
            if end <= len {
                e = Some((i + 1, (len - end) as u64));
            } else {
                end -= len;
            }
        }
    }
    (s, so, e)
}

#[derive(Debug, Clone)]
enum GetMode {
    /// JS `_getAll`: every block of the id, concatenated.
    All { next: u64 },
    /// Through a read stream.
    Stream(Box<ReadStream>),
}

/// JS `blobs.get(id, opts)`: `Done(Some(bytes))`, or `Done(None)` when a block is not
/// available (JS `null`). Without a range on a plain blob (no `start` or `start: 0`, no
/// `end`, no `length`) it concatenates the id's blocks as JS does; otherwise it collects
/// a [`ReadStream`].
#[derive(Debug, Clone)]
pub struct Get {
    id: BlobId,
    io: Io,
    mode: GetMode,
    parts: Vec<Bytes>,
}

impl Get {
    /// A read of `id` on a core of `core`'s size.
    ///
    /// # Errors
    /// As [`ReadStream::new`].
    pub fn new(id: &BlobId, opts: &ReadOptions, core: CoreInfo) -> Result<Self, BlobError> {
        let all = !id.block_map
            && opts.start.unwrap_or(0) == 0
            && opts.end.is_none()
            && opts.length.is_none();
        let mode = if all {
            GetMode::All { next: 0 }
        } else {
            GetMode::Stream(Box::new(ReadStream::new(id, opts, core)?))
        };
        Ok(Get {
            id: *id,
            io: Io::new(core),
            mode,
            parts: Vec::new(),
        })
    }

    fn done(&mut self) -> Step<Option<Bytes>> {
        let bytes = match self.parts.as_slice() {
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        };
        self.parts.clear();
        Step::Done(Some(bytes))
    }
}

impl Machine for Get {
    type Output = Option<Bytes>;

    fn poll(&mut self) -> Result<Step<Option<Bytes>>, BlobError> {
        match &mut self.mode {
            GetMode::All { next } => {
                let last = self.id.block_offset.checked_add(self.id.block_length);
                if last.is_none_or(|l| l > self.io.core.length) {
                    return Ok(Step::Done(None));
                }
                while *next < self.id.block_length {
                    match self.io.fetch(self.id.block_offset + *next) {
                        Fetch::Need(seq) => return Ok(Step::NeedBlock(seq)),
                        Fetch::Missing => return Ok(Step::Done(None)),
                        Fetch::Got(b) => self.parts.push(b),
                    }
                    *next += 1;
                }
                Ok(self.done())
            }
            GetMode::Stream(stream) => loop {
                match stream.poll()? {
                    Step::Chunk(b) => self.parts.push(b),
                    Step::Done(false) => return Ok(Step::Done(None)),
                    Step::Done(true) => return Ok(self.done()),
                    Step::NeedBlock(s) => return Ok(Step::NeedBlock(s)),
                    Step::NeedSeek(b) => return Ok(Step::NeedSeek(b)),
                }
            },
        }
    }

    fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError> {
        match &mut self.mode {
            GetMode::All { .. } => self.io.handle_block(seq, block),
            GetMode::Stream(s) => s.handle_block(seq, block),
        }
    }

    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), BlobError> {
        match &mut self.mode {
            GetMode::All { .. } => Err(BlobError::UnexpectedSeek(byte)),
            GetMode::Stream(s) => s.handle_seek(byte, at),
        }
    }
}
