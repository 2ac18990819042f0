//! How records are laid out in the one table: keys that keep each core's records of one kind
//! contiguous, and values that carry a CRC-32C checksum over key and payload.

use ferrocore::storage::{Record, StorageError, StorageEstimate};
use ferrocore::Node;

/// The little-endian u32 at `at` (the caller checked the length).
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian u64 at `at` (the caller checked the length).
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
}

/// Bytes of a record key: core discovery key, record kind, big-endian index.
pub(crate) const KEY_LEN: usize = 32 + 1 + 8;

/// Bytes of the checksum that starts every value.
const CRC_LEN: usize = 4;

/// The kind byte of a key, so each kind of record of a core is one contiguous key range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The header (index 0).
    Header = 0,
    /// A page of tree nodes, by page number (see [`node_page`](crate::node_page)).
    NodePage = 1,
    /// A block, by index.
    Block = 2,
    /// A bitfield page, by page number.
    BitfieldPage = 3,
    /// One tree node, by flat-tree index: only the keys of write batches held in memory
    /// ([`Pending`](crate::pending::Pending)); the table stores nodes by page.
    Node = 4,
    /// The core's counters for [`StorageEstimate`] (index 0).
    Stats = 0xff,
}

/// A key of an in-memory map over a core's records: a core's discovery key and a number
/// (a record's kind and index, or a node page's number). It hashes 16 bytes of the
/// discovery key and the number rather than every byte (hashing the 41 bytes of a record
/// key was most of what indexing a write cost): discovery keys are hashes, so 16 of their
/// bytes tell cores apart as well as 32, and equality still compares the whole key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapKey {
    core: [u8; 32],
    /// The record kind (0 for a node page).
    kind: u8,
    number: u64,
}

impl MapKey {
    /// The key of record `key` (core, kind, index).
    pub(crate) fn record(key: &[u8; KEY_LEN]) -> Self {
        let (prefix, index) = split_prefix(key);
        let mut core = [0u8; 32];
        core.copy_from_slice(&prefix[..32]);
        Self {
            core,
            kind: prefix[32],
            number: index,
        }
    }

    /// The key of node page `page` of `core`.
    pub(crate) fn page(core: &[u8; 32], page: u64) -> Self {
        Self {
            core: *core,
            kind: 0,
            number: page,
        }
    }
}

impl core::hash::Hash for MapKey {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(u64_at(&self.core, 0));
        state.write_u64(u64_at(&self.core, 8));
        // Indexes stay far below 2^56, so the kind in the top byte keeps kinds apart (and
        // where it does not, equality still does).
        state.write_u64(self.number ^ u64::from(self.kind) << 56);
    }
}

/// The key of one record.
pub(crate) fn key(core: &[u8; 32], kind: Kind, index: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    k[..32].copy_from_slice(core);
    k[32] = kind as u8;
    k[33..].copy_from_slice(&index.to_be_bytes());
    k
}

/// A key's prefix (core and kind) and its index: the records of one kind of one core share
/// the prefix.
pub(crate) fn split_prefix(key: &[u8; KEY_LEN]) -> (&[u8; KEY_LEN - 8], u64) {
    let (prefix, index) = key.split_at(KEY_LEN - 8);
    (
        prefix.try_into().expect("prefix length"),
        u64::from_be_bytes(index.try_into().expect("8 bytes")),
    )
}

/// The core and index of a key this crate wrote, or `None` for a key of another shape.
pub(crate) fn split_key(key: &[u8]) -> Option<([u8; 32], u64)> {
    let core: [u8; 32] = key.get(..32)?.try_into().ok()?;
    let index: [u8; 8] = key.get(33..KEY_LEN)?.try_into().ok()?;
    (key.len() == KEY_LEN).then_some((core, u64::from_be_bytes(index)))
}

fn checksum(key: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(key), payload)
}

/// A stored value: the checksum of key and payload, then the payload.
pub(crate) fn seal(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(CRC_LEN + payload.len());
    v.extend_from_slice(&checksum(key, payload).to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// The payload of a stored value, if its checksum matches its key and payload.
pub(crate) fn open<'v>(
    key: &[u8],
    value: &'v [u8],
    record: Record,
) -> Result<&'v [u8], StorageError> {
    let (crc, payload) = value
        .split_first_chunk::<CRC_LEN>()
        .ok_or_else(|| StorageError::corrupt(record, "value shorter than its checksum"))?;
    if u32::from_le_bytes(*crc) != checksum(key, payload) {
        return Err(StorageError::corrupt(record, "checksum mismatch"));
    }
    Ok(payload)
}

/// Payload length of a stored value (for block byte counts), without checking it.
pub(crate) fn payload_len(value: &[u8]) -> u64 {
    value.len().saturating_sub(CRC_LEN) as u64
}

/// Bytes of an encoded node payload: size (u64 LE) then hash.
pub(crate) const NODE_LEN: usize = 8 + 32;

/// A node's payload (its index is in the key).
pub(crate) fn encode_node(node: &Node) -> [u8; NODE_LEN] {
    let mut p = [0u8; NODE_LEN];
    p[..8].copy_from_slice(&node.size.to_le_bytes());
    p[8..].copy_from_slice(&node.hash);
    p
}

/// The node at `index` from its payload.
pub(crate) fn decode_node(index: u64, payload: &[u8]) -> Result<Node, StorageError> {
    let bytes: &[u8; NODE_LEN] = payload
        .try_into()
        .map_err(|_| StorageError::corrupt(Record::Node(index), "node payload is not 40 bytes"))?;
    let (size, hash) = bytes.split_at(8);
    let size = u64::from_le_bytes(size.try_into().unwrap_or_default());
    let hash: [u8; 32] = hash.try_into().unwrap_or_default();
    Ok(Node::new(index, size, hash))
}

/// Bytes of the encoded counters: four u64 LE.
const STATS_LEN: usize = 4 * 8;

/// The counters' payload.
pub(crate) fn encode_stats(s: &StorageEstimate) -> [u8; STATS_LEN] {
    let mut p = [0u8; STATS_LEN];
    for (chunk, n) in
        p.chunks_exact_mut(8)
            .zip([s.blocks, s.block_bytes, s.nodes, s.bitfield_pages])
    {
        chunk.copy_from_slice(&n.to_le_bytes());
    }
    p
}

/// The counters from their payload.
pub(crate) fn decode_stats(payload: &[u8]) -> Result<StorageEstimate, StorageError> {
    if payload.len() != STATS_LEN {
        return Err(StorageError::corrupt(
            Record::Database,
            "counters are not 32 bytes",
        ));
    }
    let mut n = payload
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()));
    let mut next = || n.next().unwrap_or_default();
    Ok(StorageEstimate {
        blocks: next(),
        block_bytes: next(),
        nodes: next(),
        bitfield_pages: next(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_own_key() {
        let k = key(&[7; 32], Kind::Block, 3);
        let v = seal(&k, b"data");
        assert_eq!(open(&k, &v, Record::Block(3)).unwrap(), b"data");
        let other = key(&[7; 32], Kind::Block, 4);
        assert!(open(&other, &v, Record::Block(4)).is_err());
        let mut bad = v.clone();
        bad[5] ^= 1;
        assert!(open(&k, &bad, Record::Block(3)).is_err());
        assert!(open(&k, &v[..3], Record::Block(3)).is_err());
    }

    #[test]
    fn keys_sort_by_core_kind_then_index() {
        let c = [1; 32];
        assert!(key(&c, Kind::Block, 255) < key(&c, Kind::Block, 256));
        assert!(key(&c, Kind::NodePage, u64::MAX) < key(&c, Kind::Block, 0));
        assert!(key(&c, Kind::Stats, 0) < key(&[2; 32], Kind::Header, 0));
        assert_eq!(split_key(&key(&c, Kind::Node, 9)), Some((c, 9)));
        assert_eq!(split_key(&[0; 40]), None);
    }

    #[test]
    fn nodes_and_counters_round_trip() {
        let n = Node::new(5, 77, [9; 32]);
        assert_eq!(decode_node(5, &encode_node(&n)).unwrap(), n);
        assert!(decode_node(5, &[0; 39]).is_err());
        let s = StorageEstimate {
            blocks: 1,
            block_bytes: 2,
            nodes: 3,
            bitfield_pages: 4,
        };
        assert_eq!(decode_stats(&encode_stats(&s)).unwrap(), s);
        assert!(decode_stats(&[0; 31]).is_err());
    }
}
