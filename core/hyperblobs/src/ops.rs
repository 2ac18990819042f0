//! `clear` and the dedup table of JS's `blob` option, as machines.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::io::{Fetch, Io, MapLoad, MapProgress};
use crate::map::MapEntry;
use crate::write::DedupTable;
use crate::{BlobError, BlobId, CoreInfo, Machine, Step};

/// JS `blobs.clear(id)`: the block ranges to clear, in JS's order (`Done(ranges)`,
/// each `start..end`).
///
/// A block-map blob clears each of its content's blocks one at a time (read from the
/// map, when every map block is present), then its map blocks. Ranges are cut to the
/// core's length (JS's `core.clear` ignores what lies past it), so a hostile id or map
/// costs at most one range per map entry.
#[derive(Debug, Clone)]
pub struct Clear {
    id: BlobId,
    io: Io,
    load: Option<MapLoad>,
}

impl Clear {
    /// A clear of `id` on a core of `core`'s size.
    ///
    /// # Errors
    /// For a block-map id: [`BlobError::MapTooLarge`], and [`BlobError::EmptyBlockMap`]
    /// for a map of no block (JS throws a `TypeError` iterating it).
    pub fn new(id: &BlobId, core: CoreInfo) -> Result<Self, BlobError> {
        Ok(Clear {
            id: *id,
            io: Io::new(core),
            load: if id.block_map {
                Some(MapLoad::new(id)?)
            } else {
                None
            },
        })
    }

    fn range(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let end = end.min(self.io.core.length);
        (start < end).then_some((start, end))
    }
}

impl Machine for Clear {
    type Output = Vec<(u64, u64)>;

    fn poll(&mut self) -> Result<Step<Self::Output>, BlobError> {
        let mut ranges = Vec::new();
        if let Some(load) = &mut self.load {
            match load.poll(&mut self.io)? {
                MapProgress::Need(seq) => return Ok(Step::NeedBlock(seq)),
                MapProgress::Done(None) => {}
                MapProgress::Done(Some(entries)) => ranges.extend(
                    entries
                        .iter()
                        .filter_map(|e| self.range(e.index, e.index.saturating_add(1))),
                ),
            }
        }
        let end = self.id.block_offset.saturating_add(self.id.block_length);
        ranges.extend(self.range(self.id.block_offset, end));
        Ok(Step::Done(ranges))
    }

    fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError> {
        self.io.handle_block(seq, block)
    }
}

/// The dedup table of JS's `blob` option (`blockMap.get(core, blob, {hashes: true})`):
/// the hash of every block of the previous blob, the last copy of a repeated block
/// winning. A plain blob counts as a map of its own blocks.
#[derive(Debug, Clone)]
pub struct DedupLoad {
    io: Io,
    load: Option<MapLoad>,
    /// A plain blob: entry lengths come from the blocks.
    infer: bool,
    entries: Vec<MapEntry>,
    next: usize,
    table: DedupTable,
}

impl DedupLoad {
    /// Loads the table of `blob` on a core of `core`'s size.
    ///
    /// # Errors
    /// As [`Clear::new`], and [`BlobError::BlockNotAvailable`] for a plain blob that
    /// reaches past the core's end.
    pub fn new(blob: &BlobId, core: CoreInfo) -> Result<Self, BlobError> {
        let mut entries = Vec::new();
        let load = if blob.block_map {
            Some(MapLoad::new(blob)?)
        } else {
            match blob.block_offset.checked_add(blob.block_length) {
                Some(end) if end <= core.length => {
                    entries.extend((blob.block_offset..end).map(|index| MapEntry {
                        index,
                        byte_length: 0,
                    }));
                }
                _ => return Err(BlobError::BlockNotAvailable(core.length)),
            }
            None
        };
        Ok(DedupLoad {
            io: Io::new(core),
            infer: load.is_none(),
            load,
            entries,
            next: 0,
            table: DedupTable::new(),
        })
    }
}

impl Machine for DedupLoad {
    type Output = DedupTable;

    fn poll(&mut self) -> Result<Step<DedupTable>, BlobError> {
        if let Some(load) = &mut self.load {
            match load.poll(&mut self.io)? {
                MapProgress::Need(seq) => return Ok(Step::NeedBlock(seq)),
                MapProgress::Done(None) => return Err(BlobError::MapNotAvailable),
                MapProgress::Done(Some(entries)) => self.entries = entries,
            }
            self.load = None;
        }
        while let Some(&entry) = self.entries.get(self.next) {
            let block = match self.io.fetch(entry.index) {
                Fetch::Need(seq) => return Ok(Step::NeedBlock(seq)),
                Fetch::Missing => return Err(BlobError::BlockNotAvailable(entry.index)),
                Fetch::Got(b) => b,
            };
            let byte_length = if self.infer {
                block.len() as u64
            } else {
                entry.byte_length
            };
            self.table.insert(
                &block,
                MapEntry {
                    index: entry.index,
                    byte_length,
                },
            );
            self.next += 1;
        }
        Ok(Step::Done(core::mem::take(&mut self.table)))
    }

    fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError> {
        self.io.handle_block(seq, block)
    }
}
