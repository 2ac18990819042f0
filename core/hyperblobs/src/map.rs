//! Block maps: `c.uint(0) ‖ c.array({c.uint index, c.uint byteLength})` per map block,
//! at most [`MAP_BLOCK_ENTRIES`] entries each (JS `lib/block-map.js`).

use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::{DecodeError, Reader, Writer};

/// Most entries one map block holds.
pub const MAP_BLOCK_ENTRIES: usize = 8192;
/// Most map blocks a block-map blob may have (JS: `Block map is too large`).
pub const MAX_MAP_BLOCKS: u64 = 64;

/// One entry of a block map: a block of the core holding the next piece of the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapEntry {
    /// The block's index in the core.
    pub index: u64,
    /// Its length in bytes (as the writer recorded it).
    pub byte_length: u64,
}

/// Why a map block was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The version is not 0 (JS: `Unsupported block map version`).
    #[error("unsupported block map version {0}")]
    Version(u64),
    /// The bytes do not decode (JS: `Out of bounds`, `Array is too big`).
    #[error("block map does not decode: {0}")]
    Decode(#[from] DecodeError),
}

/// Encodes a map into its blocks: one block per [`MAP_BLOCK_ENTRIES`] entries (no block
/// for an empty map).
#[must_use]
pub fn encode(entries: &[MapEntry]) -> Vec<Bytes> {
    entries
        .chunks(MAP_BLOCK_ENTRIES)
        .map(|part| {
            let mut out = Vec::with_capacity(2 + part.len() * 4);
            let mut w = Writer::append(&mut out);
            w.uint(0).uint(part.len() as u64);
            for e in part {
                w.uint(e.index).uint(e.byte_length);
            }
            Bytes::from(out)
        })
        .collect()
}

/// Decodes one map block and appends its entries to `out`. As in JS, bytes after the
/// array are ignored. The entry count is checked against what the block can hold
/// (2 bytes an entry) before anything is allocated.
///
/// # Errors
/// [`MapError`] for a bad version or bytes that do not decode.
pub fn decode_into(block: &[u8], out: &mut Vec<MapEntry>) -> Result<(), MapError> {
    let mut r = Reader::new(block);
    let version = r.uint()?;
    if version > 0 {
        return Err(MapError::Version(version));
    }
    let count = r.array_count(2)?;
    out.reserve(count);
    for _ in 0..count {
        let index = r.uint()?;
        let byte_length = r.uint()?;
        out.push(MapEntry { index, byte_length });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(index: u64, byte_length: u64) -> MapEntry {
        MapEntry { index, byte_length }
    }

    #[test]
    fn encodes_as_js() {
        // blobs.json, case block-map step 0.
        let map = [e(0, 3), e(1, 3), e(2, 3), e(3, 3), e(4, 3)];
        let blocks = encode(&map);
        assert_eq!(blocks.len(), 1);
        assert_eq!(hex::encode(&blocks[0]), "000500030103020303030403");
        let mut back = Vec::new();
        decode_into(&blocks[0], &mut back).unwrap();
        assert_eq!(back, map);
        assert!(encode(&[]).is_empty());
        let big: Vec<_> = (0..8200).map(|i| e(i % 2, 1)).collect();
        let blocks = encode(&big);
        assert_eq!(
            blocks.iter().map(|b| b.len()).collect::<Vec<_>>(),
            [16388, 18]
        );
    }

    #[test]
    fn hostile_map_blocks_are_errors() {
        let mut out = Vec::new();
        assert_eq!(decode_into(&[1, 0], &mut out), Err(MapError::Version(1)));
        assert!(matches!(
            decode_into(&[0, 0xfe, 0xff, 0xff, 0xff, 0x7f], &mut out),
            Err(MapError::Decode(_))
        ));
        assert!(matches!(
            decode_into(&[0, 2, 1, 1, 2], &mut out),
            Err(MapError::Decode(_))
        ));
        assert!(matches!(
            decode_into(&[], &mut out),
            Err(MapError::Decode(_))
        ));
        out.clear();
        // Trailing bytes are ignored, and non-minimal uints accepted, as in JS.
        decode_into(&[0, 1, 0xfd, 5, 0, 2, 9, 9], &mut out).unwrap();
        assert_eq!(out, [e(5, 2)]);
    }
}
