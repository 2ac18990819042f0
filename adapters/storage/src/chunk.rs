//! Block chunks: the index entry of consecutive blocks of one core.
//!
//! A commit stores each run of consecutive blocks it writes as one chunk of up to
//! [`MAX_BLOCKS`] blocks under the key of its first block: the blocks' bytes go to the data
//! file back to back (see [`data`](crate::data)), and the chunk records where they start and
//! each block's length and checksum. One small value per run instead of one per block keeps
//! the database's share of a batch small. A block is found by the last chunk key at or below
//! its index.
//!
//! Value layout (integers little-endian):
//!
//! ```text
//! header crc  u32   CRC-32C of the key, then of every byte after this field
//! count       u32   blocks in the chunk, 1..=MAX_BLOCKS
//! offset      u64   where the first block's bytes start in the data file
//! table       count × (len u32, crc u32)   each block's length and CRC-32C of its bytes
//! ```
//!
//! A read checks the header and the one block it returns. A chunk cut by a delete is stored
//! again as the pieces that remain, each pointing into the same bytes of the data file.

use ferrocore::storage::{Record, StorageError};

use crate::record::{u32_at, u64_at};

/// Most blocks in one chunk (bounds the table a read checks and walks).
pub(crate) const MAX_BLOCKS: usize = 256;

/// Bytes of the header crc, count and offset.
const HEAD: usize = 16;

/// Bytes of one table entry.
const ENTRY: usize = 8;

/// One block's table entry: its length and the CRC-32C of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Bytes of the block.
    pub(crate) len: u32,
    /// CRC-32C of the block's bytes.
    pub(crate) crc: u32,
}

impl Entry {
    /// The entry of `block`.
    pub(crate) fn of(block: &[u8]) -> Self {
        Self {
            len: u32::try_from(block.len()).unwrap_or(u32::MAX),
            crc: crc32c::crc32c(block),
        }
    }
}

/// Encodes the chunk stored under `key` whose blocks (at least one, at most
/// [`MAX_BLOCKS`]) start at `offset` in the data file.
pub(crate) fn encode(key: &[u8], offset: u64, entries: &[Entry]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEAD + entries.len() * ENTRY);
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(
        &u32::try_from(entries.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    v.extend_from_slice(&offset.to_le_bytes());
    for e in entries {
        v.extend_from_slice(&e.len.to_le_bytes());
        v.extend_from_slice(&e.crc.to_le_bytes());
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(key), &v[4..]);
    v[..4].copy_from_slice(&crc.to_le_bytes());
    v
}

/// A chunk whose header has been checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'v> {
    offset: u64,
    table: &'v [u8],
}

/// Where one block's bytes are in the data file, and their checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Location {
    /// Offset in the data file.
    pub(crate) offset: u64,
    /// Bytes of the block.
    pub(crate) len: usize,
    /// CRC-32C of the block's bytes.
    pub(crate) crc: u32,
}

impl<'v> Chunk<'v> {
    /// Checks the header of `value` stored under `key`; `record` names the damage.
    pub(crate) fn parse(key: &[u8], value: &'v [u8], record: Record) -> Result<Self, StorageError> {
        let corrupt = |what| StorageError::corrupt(record, what);
        let head = value
            .get(..HEAD)
            .ok_or_else(|| corrupt("block chunk shorter than its header"))?;
        let count = u32_at(head, 4) as usize;
        if count == 0 || count > MAX_BLOCKS {
            return Err(corrupt("block chunk count out of range"));
        }
        if value.len() != HEAD + count * ENTRY {
            return Err(corrupt("block chunk length does not match its count"));
        }
        if u32_at(head, 0) != crc32c::crc32c_append(crc32c::crc32c(key), &value[4..]) {
            return Err(corrupt("block chunk checksum mismatch"));
        }
        let chunk = Self {
            offset: u64_at(head, 8),
            table: &value[HEAD..],
        };
        if chunk.offset.checked_add(chunk.data_len(0, count)).is_none() {
            return Err(corrupt("block chunk reaches past the largest file offset"));
        }
        Ok(chunk)
    }

    /// Blocks in the chunk.
    pub(crate) fn count(&self) -> usize {
        self.table.len() / ENTRY
    }

    /// The table entry of the `j`th block (`j < count`).
    pub(crate) fn entry(&self, j: usize) -> Entry {
        Entry {
            len: u32_at(self.table, j * ENTRY),
            crc: u32_at(self.table, j * ENTRY + 4),
        }
    }

    /// Bytes of blocks `from..to` (within the count).
    pub(crate) fn data_len(&self, from: usize, to: usize) -> u64 {
        (from..to).map(|j| u64::from(self.entry(j).len)).sum()
    }

    /// Blocks `from..to` as a chunk of their own: where they start and their entries.
    pub(crate) fn piece(&self, from: usize, to: usize) -> (u64, Vec<Entry>) {
        (
            self.offset + self.data_len(0, from),
            (from..to).map(|j| self.entry(j)).collect(),
        )
    }

    /// The data file range of blocks `from..to`.
    pub(crate) fn span(&self, from: usize, to: usize) -> (u64, u64) {
        (
            self.offset + self.data_len(0, from),
            self.data_len(from, to),
        )
    }
}

/// A checked chunk decoded for repeated reads: every block's place without summing the
/// lengths before it again (kept by the store's read cache).
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    /// Index of the first block.
    first: u64,
    /// Where each block starts in the data file, then where the last one ends.
    starts: Vec<u64>,
    /// Each block's table entry.
    entries: Vec<Entry>,
}

impl Parsed {
    /// Decodes `chunk`, whose first block is `first`.
    pub(crate) fn new(first: u64, chunk: &Chunk<'_>) -> Self {
        let count = chunk.count();
        let mut starts = Vec::with_capacity(count + 1);
        let mut entries = Vec::with_capacity(count);
        let mut at = chunk.offset;
        for j in 0..count {
            let e = chunk.entry(j);
            starts.push(at);
            entries.push(e);
            at += u64::from(e.len);
        }
        starts.push(at);
        Self {
            first,
            starts,
            entries,
        }
    }

    /// The position of block `index` in the chunk, if it holds it.
    pub(crate) fn position(&self, index: u64) -> Option<usize> {
        let j = usize::try_from(index.checked_sub(self.first)?).ok()?;
        (j < self.entries.len()).then_some(j)
    }

    /// Where the run of blocks from the `j`th on (`j < count`) that fits in `max` bytes
    /// ends in the data file: past the `j`th block at least. The blocks of a chunk lie
    /// back to back.
    pub(crate) fn run_end(&self, j: usize, max: u64) -> u64 {
        let limit = self.starts[j].saturating_add(max);
        // `starts[k]` is where block `k - 1` ends; the last end within the limit.
        let fits = self.starts[j + 1..].partition_point(|&end| end <= limit);
        self.starts[j + fits.max(1)]
    }

    /// Where the `j`th block (`j < count`) is.
    pub(crate) fn locate(&self, j: usize) -> Location {
        let e = self.entries[j];
        Location {
            offset: self.starts[j],
            len: e.len as usize,
            crc: e.crc,
        }
    }
}

/// Checks `bytes` read for the block at `loc`.
pub(crate) fn check(bytes: &[u8], loc: &Location, record: Record) -> Result<(), StorageError> {
    if crc32c::crc32c(bytes) != loc.crc {
        return Err(StorageError::corrupt(
            record,
            "block checksum mismatch (data file)",
        ));
    }
    Ok(())
}

/// Block count of a chunk about to be deleted whole, without trusting it: a damaged chunk
/// still goes, counted as best its header allows.
pub(crate) fn lenient_count(value: &[u8]) -> u64 {
    value
        .get(4..8)
        .map_or(0, |c| u32_at(c, 0) as usize)
        .min(MAX_BLOCKS)
        .min(value.len().saturating_sub(HEAD) / ENTRY) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_detect_damage() {
        let key = b"key-of-first-block";
        let blocks: Vec<&[u8]> = vec![b"a", b"", b"ccc"];
        let entries: Vec<Entry> = blocks.iter().map(|b| Entry::of(b)).collect();
        let v = encode(key, 100, &entries);
        let c = Chunk::parse(key, &v, Record::Block(0)).unwrap();
        assert_eq!(c.count(), 3);
        let parsed = Parsed::new(7, &c);
        let offsets = [100, 101, 101];
        for (j, b) in blocks.iter().enumerate() {
            let loc = parsed.locate(j);
            assert_eq!((loc.offset, loc.len), (offsets[j], b.len()));
            check(b, &loc, Record::Block(0)).unwrap();
            assert_eq!(parsed.position(7 + j as u64), Some(j));
        }
        assert!(check(b"b", &parsed.locate(0), Record::Block(0)).is_err());
        assert_eq!(c.piece(1, 3), (101, entries[1..].to_vec()));
        assert_eq!(c.span(0, 2), (100, 1));
        assert_eq!(lenient_count(&v), 3);
        assert_eq!(parsed.position(6), None);
        assert_eq!(parsed.position(10), None);

        assert!(Chunk::parse(b"other key", &v, Record::Block(0)).is_err());
        for i in 0..v.len() {
            let mut bad = v.clone();
            bad[i] ^= 0x10;
            assert!(
                Chunk::parse(key, &bad, Record::Block(0)).is_err(),
                "flip at {i} not detected"
            );
        }
        for len in 0..v.len() {
            assert!(Chunk::parse(key, &v[..len], Record::Block(0)).is_err());
        }
    }
}
