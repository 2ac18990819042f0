//! What the machines share: the caller's answers, bounded by the core's size, and the
//! block-map loader.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::map::{self, MapEntry, MAX_MAP_BLOCKS};
use crate::{BlobError, BlobId, CoreInfo};

/// One block request at a time: what was asked and what came back.
#[derive(Debug, Clone)]
pub(crate) struct Io {
    pub(crate) core: CoreInfo,
    want: Option<u64>,
    got: Option<(u64, Option<Bytes>)>,
    want_seek: Option<u64>,
    got_seek: Option<(u64, Option<(u64, u64)>)>,
}

/// The answer to a block request.
pub(crate) enum Fetch {
    /// Ask the caller for this block.
    Need(u64),
    /// Not in the core (past its end, or the caller has none).
    Missing,
    /// The block.
    Got(Bytes),
}

impl Io {
    pub(crate) fn new(core: CoreInfo) -> Self {
        Io {
            core,
            want: None,
            got: None,
            want_seek: None,
            got_seek: None,
        }
    }

    /// Block `seq`: missing past the core's end (no request), else the caller's answer
    /// or a request for it.
    pub(crate) fn fetch(&mut self, seq: u64) -> Fetch {
        if seq >= self.core.length {
            return Fetch::Missing;
        }
        match self.got.take() {
            Some((s, b)) if s == seq => b.map_or(Fetch::Missing, Fetch::Got),
            _ => {
                self.want = Some(seq);
                Fetch::Need(seq)
            }
        }
    }

    /// The block holding core byte `byte` and the offset in it: `None` past the core's
    /// end (no request), else the caller's answer. `Err(byte)`: ask the caller.
    pub(crate) fn seek(&mut self, byte: u64) -> Result<Option<(u64, u64)>, u64> {
        if byte > self.core.byte_length {
            return Ok(None);
        }
        match self.got_seek.take() {
            Some((b, at)) if b == byte => Ok(at),
            _ => {
                self.want_seek = Some(byte);
                Err(byte)
            }
        }
    }

    /// Keeps `block` as the answer for `seq` (a block read once, needed again next).
    pub(crate) fn keep(&mut self, seq: u64, block: Bytes) {
        self.got = Some((seq, Some(block)));
    }

    pub(crate) fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError> {
        if self.want != Some(seq) {
            return Err(BlobError::UnexpectedBlock(seq));
        }
        self.want = None;
        self.got = Some((seq, block));
        Ok(())
    }

    pub(crate) fn handle_seek(
        &mut self,
        byte: u64,
        at: Option<(u64, u64)>,
    ) -> Result<(), BlobError> {
        if self.want_seek != Some(byte) {
            return Err(BlobError::UnexpectedSeek(byte));
        }
        self.want_seek = None;
        self.got_seek = Some((byte, at));
        Ok(())
    }
}

/// Progress of a [`MapLoad`].
pub(crate) enum MapProgress {
    /// Ask the caller for this block.
    Need(u64),
    /// The map (`None`: a map block is missing, JS's `null` map).
    Done(Option<Vec<MapEntry>>),
}

/// Reads and decodes the map blocks of a block-map blob, in order (JS `blockMap.get`).
#[derive(Debug, Clone)]
pub(crate) struct MapLoad {
    id: BlobId,
    next: u64,
    entries: Vec<MapEntry>,
}

impl MapLoad {
    /// # Errors
    /// [`BlobError::MapTooLarge`] past 64 map blocks, [`BlobError::EmptyBlockMap`] for
    /// none (JS then has a map whose `blocks` is `null`).
    pub(crate) fn new(id: &BlobId) -> Result<Self, BlobError> {
        if id.block_length > MAX_MAP_BLOCKS {
            return Err(BlobError::MapTooLarge(id.block_length));
        }
        if id.block_length == 0 {
            return Err(BlobError::EmptyBlockMap);
        }
        Ok(MapLoad {
            id: *id,
            next: 0,
            entries: Vec::new(),
        })
    }

    pub(crate) fn poll(&mut self, io: &mut Io) -> Result<MapProgress, BlobError> {
        while self.next < self.id.block_length {
            let seq = self.id.block_offset.saturating_add(self.next);
            match io.fetch(seq) {
                Fetch::Need(s) => return Ok(MapProgress::Need(s)),
                Fetch::Missing => return Ok(MapProgress::Done(None)),
                Fetch::Got(block) => {
                    map::decode_into(&block, &mut self.entries)
                        .map_err(|error| BlobError::Map { seq, error })?;
                    self.next += 1;
                }
            }
        }
        Ok(MapProgress::Done(Some(core::mem::take(&mut self.entries))))
    }
}

/// JS `buf.subarray(start, end)`: negative positions count from the end, both are
/// clamped to the buffer, and an end before the start gives nothing.
pub(crate) fn js_subarray(b: &Bytes, start: i128, end: i128) -> Bytes {
    let len = b.len() as i128;
    let at = |x: i128| if x < 0 { (len + x).max(0) } else { x.min(len) };
    let (s, e) = (at(start), at(end));
    if e <= s {
        return Bytes::new();
    }
    b.slice(s as usize..e as usize)
}
