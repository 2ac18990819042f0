//! Block chunks: the blocks of one core with consecutive indices, stored as one value.
//!
//! A commit packs each run of consecutive blocks it writes into chunks of up to
//! [`MAX_BYTES`] (and [`MAX_BLOCKS`]) and stores each chunk under the key of its first
//! block. One large value costs redb about a tenth of what the same bytes cost as 4 KiB values
//! (each small value takes its own page), so a batch of blocks is written at close to the
//! file's speed. A block is found by the last chunk key at or below its index.
//!
//! Value layout (integers little-endian):
//!
//! ```text
//! header crc  u32   CRC-32C of the key, then of the bytes from `count` to the end of the table
//! count       u32   blocks in the chunk, 1..=MAX_BLOCKS
//! table       count × (len u32, crc u32)   each block's length and CRC-32C of its bytes
//! data        the blocks' bytes, back to back (exactly the sum of the lengths)
//! ```
//!
//! A read checks the header and the one block it returns, so a random read of a small block
//! from a large chunk costs a checksum over that block, not over the chunk.

use ferrocore::storage::{Record, StorageError};

use crate::record::u32_at;

/// Most bytes (table and data) a chunk is filled to; a larger block gets a chunk of its own.
pub(crate) const MAX_BYTES: usize = 60 * 1024;

/// Most blocks in one chunk (bounds the table a read walks).
pub(crate) const MAX_BLOCKS: usize = 1024;

/// Bytes of the header crc and count.
const HEAD: usize = 8;

/// Bytes of one table entry.
const ENTRY: usize = 8;

/// The encoded size of a chunk's table and data for blocks of total `data` bytes.
pub(crate) fn encoded_len(blocks: usize, data: usize) -> usize {
    HEAD + blocks * ENTRY + data
}

/// Encodes `blocks` (at least one, at most [`MAX_BLOCKS`]) as the value stored under `key`.
pub(crate) fn encode<B: AsRef<[u8]>>(key: &[u8], blocks: &[B]) -> Vec<u8> {
    let data: usize = blocks.iter().map(|b| b.as_ref().len()).sum();
    let mut v = Vec::with_capacity(encoded_len(blocks.len(), data));
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(
        &u32::try_from(blocks.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for b in blocks {
        let b = b.as_ref();
        v.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        v.extend_from_slice(&crc32c::crc32c(b).to_le_bytes());
    }
    let crc = crc32c::crc32c_append(crc32c::crc32c(key), &v[4..]);
    v[..4].copy_from_slice(&crc.to_le_bytes());
    for b in blocks {
        v.extend_from_slice(b.as_ref());
    }
    v
}

/// A chunk whose header has been checked: its table and data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chunk<'v> {
    table: &'v [u8],
    data: &'v [u8],
}

fn entry(table: &[u8], j: usize) -> (usize, u32) {
    (
        u32_at(table, j * ENTRY) as usize,
        u32_at(table, j * ENTRY + 4),
    )
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
        let table_end = HEAD + count * ENTRY;
        let table = value
            .get(HEAD..table_end)
            .ok_or_else(|| corrupt("block chunk shorter than its table"))?;
        let crc = u32_at(head, 0);
        if crc != crc32c::crc32c_append(crc32c::crc32c(key), &value[4..table_end]) {
            return Err(corrupt("block chunk header checksum mismatch"));
        }
        let data = &value[table_end..];
        let total: u64 = (0..count).map(|j| entry(table, j).0 as u64).sum();
        if total != data.len() as u64 {
            return Err(corrupt("block chunk length does not match its table"));
        }
        Ok(Self { table, data })
    }

    /// Blocks in the chunk.
    pub(crate) fn count(&self) -> usize {
        self.table.len() / ENTRY
    }

    /// The `j`th block (`j < count`), checked against its CRC.
    pub(crate) fn block(&self, j: usize, record: Record) -> Result<&'v [u8], StorageError> {
        let offset: usize = (0..j).map(|i| entry(self.table, i).0).sum();
        let (len, crc) = entry(self.table, j);
        let b = &self.data[offset..offset + len];
        if crc32c::crc32c(b) != crc {
            return Err(StorageError::corrupt(record, "block checksum mismatch"));
        }
        Ok(b)
    }

    /// Every block from the `from`th on, each checked.
    pub(crate) fn blocks_from(
        &self,
        from: usize,
        first: u64,
    ) -> Result<Vec<&'v [u8]>, StorageError> {
        let mut offset: usize = (0..from).map(|i| entry(self.table, i).0).sum();
        let mut out = Vec::with_capacity(self.count().saturating_sub(from));
        for j in from..self.count() {
            let (len, crc) = entry(self.table, j);
            let b = &self.data[offset..offset + len];
            if crc32c::crc32c(b) != crc {
                return Err(StorageError::corrupt(
                    Record::Block(first.saturating_add(j as u64)),
                    "block checksum mismatch",
                ));
            }
            out.push(b);
            offset += len;
        }
        Ok(out)
    }
}

/// Block count and data bytes of a chunk about to be deleted whole, without trusting it:
/// a damaged chunk still goes, counted as best its header allows.
pub(crate) fn lenient_size(value: &[u8]) -> (u64, u64) {
    let count = value
        .get(4..HEAD)
        .map_or(0, |c| u32_at(c, 0) as usize)
        .min(MAX_BLOCKS);
    let table = (HEAD + count * ENTRY).min(value.len());
    (count as u64, (value.len() - table) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_detect_damage() {
        let key = b"key-of-first-block";
        let blocks: Vec<Vec<u8>> = vec![b"a".to_vec(), vec![], b"ccc".to_vec()];
        let v = encode(key, &blocks);
        let c = Chunk::parse(key, &v, Record::Block(0)).unwrap();
        assert_eq!(c.count(), 3);
        for (j, b) in blocks.iter().enumerate() {
            assert_eq!(c.block(j, Record::Block(0)).unwrap(), &b[..]);
        }
        assert_eq!(c.blocks_from(1, 0).unwrap(), vec![&b""[..], &b"ccc"[..]]);
        assert_eq!(lenient_size(&v), (3, 4));

        assert!(Chunk::parse(b"other key", &v, Record::Block(0)).is_err());
        for i in 0..v.len() {
            let mut bad = v.clone();
            bad[i] ^= 0x10;
            let damaged = match Chunk::parse(key, &bad, Record::Block(0)) {
                Err(_) => true,
                Ok(c) => (0..c.count()).any(|j| c.block(j, Record::Block(0)).is_err()),
            };
            assert!(damaged, "flip at {i} not detected");
        }
        for len in 0..v.len() {
            assert!(Chunk::parse(key, &v[..len], Record::Block(0)).is_err());
        }
    }
}
