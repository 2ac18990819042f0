//! Write batches held in memory under [`Durability::Eventual`](crate::Durability::Eventual)
//! until they are committed together (group commit).
//!
//! Batches are kept in order (they are replayed through the same code as a direct write,
//! inside one transaction) and indexed by record key, so reads see them at once.

use std::collections::HashMap;

use bytes::Bytes;
use ferrocore::storage::{Op, WriteBatch};

use crate::record::{self, key, Kind, KEY_LEN};

/// Pending bytes (payloads of puts) past which the batches are committed durably.
pub(crate) const MAX_PENDING_BYTES: usize = 8 << 20;

/// Pending batches past which they are committed durably.
pub(crate) const MAX_PENDING_BATCHES: usize = 4096;

/// One group commit in this many (forced by the bounds above) is durable.
const DURABLE_EVERY: u64 = 8;

/// Write batches accepted but not yet committed to the database.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Group commits forced by the bounds so far.
    groups: u64,
    batches: Vec<([u8; 32], WriteBatch)>,
    /// The latest payload of every record a pending batch wrote; `None` if it deleted it.
    /// (foldhash, seeded per map: SipHash on these 41-byte keys was 5% of a receiving
    /// peer's work.)
    records: HashMap<[u8; KEY_LEN], Option<Bytes>, foldhash::fast::RandomState>,
    bytes: usize,
}

impl Pending {
    /// True when nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    /// The pending batches, oldest first.
    pub(crate) fn batches(&self) -> &[([u8; 32], WriteBatch)] {
        &self.batches
    }

    /// What the pending batches say about a record: `Some(Some(payload))` written,
    /// `Some(None)` deleted, `None` untouched (ask the database).
    pub(crate) fn lookup(&self, key: &[u8; KEY_LEN]) -> Option<Option<Bytes>> {
        self.records.get(key).cloned()
    }

    /// True if `batch` can wait in memory: it deletes no key range (a range delete would
    /// have to hide database records from reads; those batches, from truncate and clear,
    /// are rare and commit directly).
    pub(crate) fn can_hold(batch: &WriteBatch) -> bool {
        batch
            .ops()
            .iter()
            .all(|op| !matches!(op, Op::DeleteNodes(_) | Op::DeleteBlocks(_)))
    }

    /// True if adding `batch` would pass the memory bounds.
    pub(crate) fn would_overflow(&self, batch: &WriteBatch) -> bool {
        self.batches.len() >= MAX_PENDING_BATCHES
            || self.bytes.saturating_add(payload_bytes(batch)) > MAX_PENDING_BYTES
    }

    /// Holds `batch` of `core` (the caller checked [`can_hold`](Self::can_hold)).
    pub(crate) fn push(&mut self, core: [u8; 32], batch: WriteBatch) {
        for op in batch.ops() {
            let (k, v) = match op {
                Op::PutHeader(h) => (key(&core, Kind::Header, 0), Some(h.clone())),
                Op::PutNode(n) => (
                    key(&core, Kind::Node, n.index),
                    Some(Bytes::copy_from_slice(&record::encode_node(n))),
                ),
                Op::PutBlock(i, b) => (key(&core, Kind::Block, *i), Some(b.clone())),
                Op::PutBitfieldPage(p, b) => (key(&core, Kind::BitfieldPage, *p), Some(b.clone())),
                Op::DeleteBitfieldPage(p) => (key(&core, Kind::BitfieldPage, *p), None),
                // Excluded by `can_hold`.
                Op::DeleteNodes(_) | Op::DeleteBlocks(_) => continue,
            };
            self.records.insert(k, v);
        }
        self.bytes = self.bytes.saturating_add(payload_bytes(&batch));
        self.batches.push((core, batch));
    }

    /// True if the next group commit forced by the bounds is one of the durable ones.
    pub(crate) fn next_group_is_durable(&self) -> bool {
        self.groups % DURABLE_EVERY == DURABLE_EVERY - 1
    }

    /// Counts one group commit forced by the bounds.
    pub(crate) fn count_group(&mut self) {
        self.groups = self.groups.wrapping_add(1);
    }

    /// Forgets everything (after the batches were committed).
    pub(crate) fn clear(&mut self) {
        self.batches.clear();
        self.records.clear();
        self.bytes = 0;
    }
}

/// Bytes a batch holds in memory, roughly: its payloads plus a key per operation.
fn payload_bytes(batch: &WriteBatch) -> usize {
    batch
        .ops()
        .iter()
        .map(|op| {
            KEY_LEN
                + match op {
                    Op::PutHeader(b) | Op::PutBlock(_, b) | Op::PutBitfieldPage(_, b) => b.len(),
                    Op::PutNode(_) => 40,
                    _ => 0,
                }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocore::Node;

    #[test]
    fn lookups_see_the_latest_write_and_range_deletes_are_refused() {
        let mut p = Pending::default();
        let core = [1; 32];
        let mut b = WriteBatch::new();
        b.put_block(3, Bytes::from_static(b"a"))
            .put_node(Node::new(6, 1, [9; 32]))
            .put_bitfield_page(0, Bytes::from_static(b"p"));
        assert!(Pending::can_hold(&b));
        p.push(core, b);
        let mut b = WriteBatch::new();
        b.put_block(3, Bytes::from_static(b"b"))
            .delete_bitfield_page(0);
        p.push(core, b);
        assert_eq!(
            p.lookup(&key(&core, Kind::Block, 3)),
            Some(Some(Bytes::from_static(b"b")))
        );
        assert_eq!(p.lookup(&key(&core, Kind::BitfieldPage, 0)), Some(None));
        assert_eq!(p.lookup(&key(&[2; 32], Kind::Block, 3)), None);
        let node = p.lookup(&key(&core, Kind::Node, 6)).unwrap().unwrap();
        assert_eq!(
            record::decode_node(6, &node).unwrap(),
            Node::new(6, 1, [9; 32])
        );
        assert_eq!(p.batches().len(), 2);

        let mut del = WriteBatch::new();
        del.delete_blocks(0..4);
        assert!(!Pending::can_hold(&del));
        let mut big = WriteBatch::new();
        big.put_block(0, Bytes::from(vec![0; MAX_PENDING_BYTES]));
        assert!(p.would_overflow(&big));
        p.clear();
        assert!(p.is_empty() && p.lookup(&key(&core, Kind::Block, 3)).is_none());
    }
}
