//! Write batches held in memory under [`Durability::Eventual`](crate::Durability::Eventual)
//! until they are committed together (group commit).
//!
//! Batches are kept in order (they are replayed through the same code as a direct write,
//! inside one transaction) and indexed by record key, so reads see them at once. A full
//! group is frozen and committed by a background thread while the next one fills, so the
//! writer does not wait for the data file and the B-tree; reads see the frozen group until
//! the store retires it.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use ferrocore::storage::{Op, StorageError, WriteBatch};
use ferrocore::Node;

use crate::record::{self, key, split_prefix, Kind, MapKey, KEY_LEN};

/// Pending bytes (payloads of puts) past which a group is committed, by default (see
/// [`DEFAULT_GROUP_BYTES`](crate::DEFAULT_GROUP_BYTES)).
pub(crate) const MAX_PENDING_BYTES: usize = 2 << 20;

/// Pending batches past which a group is committed.
pub(crate) const MAX_PENDING_BATCHES: usize = 4096;

/// One group commit in this many (forced by the bounds above) is durable.
const DURABLE_EVERY: u64 = 8;

/// Write batches accepted but not yet committed to the database: the group filling up,
/// and the group before it while a background thread commits it.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Group commits forced by the bounds so far.
    groups: u64,
    /// The group taking new batches.
    active: Group,
    /// The previous group, handed to a background commit (see [`Frozen`]).
    frozen: Option<Frozen>,
}

/// A group of write batches committed together, with an index by record key.
#[derive(Debug, Default)]
pub(crate) struct Group {
    batches: Vec<([u8; 32], WriteBatch)>,
    /// Where the latest operation on every record a batch of the group wrote lies: the
    /// index of its batch and of the operation in it (the payloads stay in the batches, so
    /// holding a write copies nothing). (foldhash, seeded per map, over a [`MapKey`]:
    /// SipHash on the 41-byte record keys was 5% of a receiving peer's work.)
    records: HashMap<MapKey, (usize, usize), foldhash::fast::RandomState>,
    /// The lowest and highest index the group wrote for each key prefix (core and kind),
    /// so most lookups miss without touching the index: a peer serving old blocks while
    /// its last writes wait in a group asked the index about every block and node it read.
    /// A map: a group can hold thousands of cores (a store creating them), each a prefix
    /// per kind.
    spans: HashMap<[u8; KEY_LEN - 8], Span, foldhash::fast::RandomState>,
    bytes: usize,
}

/// The indices a group wrote under one key prefix lie in `low..=high`.
#[derive(Debug)]
struct Span {
    low: u64,
    high: u64,
}

impl Group {
    /// The group's batches, oldest first.
    pub(crate) fn batches(&self) -> &[([u8; 32], WriteBatch)] {
        &self.batches
    }

    fn lookup(&self, key: &[u8; KEY_LEN]) -> Option<Hit> {
        let (prefix, index) = split_prefix(key);
        let span = self.spans.get(prefix)?;
        if !(span.low..=span.high).contains(&index) {
            return None;
        }
        let &(batch, op) = self.records.get(&MapKey::record(key))?;
        match self.batches.get(batch)?.1.ops().get(op)? {
            Op::PutHeader(p) | Op::PutBlock(_, p) | Op::PutBitfieldPage(_, p) => {
                Some(Hit::Payload(p.clone()))
            }
            Op::PutNode(n) => Some(Hit::Node(*n)),
            Op::DeleteBitfieldPage(_) => Some(Hit::Deleted),
            // Never indexed (see `Pending::can_hold`).
            Op::DeleteNodes(_) | Op::DeleteBlocks(_) => None,
        }
    }

    /// True if a batch of the group wrote a record of one of `kinds` of `core`.
    fn touches(&self, core: &[u8; 32], kinds: &[Kind]) -> bool {
        kinds
            .iter()
            .any(|&kind| self.spans.contains_key(split_prefix(&key(core, kind, 0)).0))
    }

    /// Holds `batch` of `core`, indexing each record it writes.
    fn push(&mut self, core: [u8; 32], batch: WriteBatch) {
        let at = self.batches.len();
        for (i, op) in batch.ops().iter().enumerate() {
            let k = match op {
                Op::PutHeader(_) => key(&core, Kind::Header, 0),
                Op::PutNode(n) => key(&core, Kind::Node, n.index),
                Op::PutBlock(b, _) => key(&core, Kind::Block, *b),
                Op::PutBitfieldPage(p, _) | Op::DeleteBitfieldPage(p) => {
                    key(&core, Kind::BitfieldPage, *p)
                }
                // Excluded by `can_hold`.
                Op::DeleteNodes(_) | Op::DeleteBlocks(_) => continue,
            };
            self.insert(k, (at, i));
        }
        self.bytes = self.bytes.saturating_add(payload_bytes(&batch));
        self.batches.push((core, batch));
    }

    /// Records that operation `slot` (batch, operation) is the latest word on `k`.
    fn insert(&mut self, k: [u8; KEY_LEN], slot: (usize, usize)) {
        let (prefix, index) = split_prefix(&k);
        self.spans
            .entry(*prefix)
            .and_modify(|span| {
                span.low = span.low.min(index);
                span.high = span.high.max(index);
            })
            .or_insert(Span {
                low: index,
                high: index,
            });
        self.records.insert(MapKey::record(&k), slot);
    }
}

/// What the pending batches last did to a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Hit {
    /// Deleted it.
    Deleted,
    /// Wrote this payload (a node comes as [`Hit::Node`]).
    Payload(Bytes),
    /// Wrote this tree node.
    Node(Node),
}

impl Hit {
    /// The record's payload, `None` if deleted (a node encoded as stored).
    pub(crate) fn payload(self) -> Option<Bytes> {
        match self {
            Hit::Deleted => None,
            Hit::Payload(p) => Some(p),
            Hit::Node(n) => Some(Bytes::copy_from_slice(&record::encode_node(&n))),
        }
    }
}

/// A group being committed by a background thread, or committed and not yet retired. Reads
/// keep finding its records here until the store retires it: it joins the thread, drops the
/// read transaction from before the commit, then drops the group (see `Store::retire`).
#[derive(Debug)]
pub(crate) struct Frozen {
    /// The batches (shared with the committing thread).
    pub(crate) group: Arc<Group>,
    /// The commit, until joined. `None` after a commit that failed, which the store retries.
    pub(crate) task: Option<JoinHandle<Result<(), StorageError>>>,
}

impl Frozen {
    /// Joins the commit (waiting for it if it runs) and tells whether it landed; false
    /// after a commit that failed, now or before (the group then stays for a retry).
    pub(crate) fn join(&mut self) -> bool {
        // The thread runs the commit under the store's panic guard, so it does not panic.
        self.task
            .take()
            .is_some_and(|task| task.join().is_ok_and(|result| result.is_ok()))
    }
}

impl Pending {
    /// True when nothing is pending, in the active group or a frozen one.
    pub(crate) fn is_empty(&self) -> bool {
        self.active.batches.is_empty() && self.frozen.is_none()
    }

    /// The active group's batches, oldest first (a frozen group's come before them).
    pub(crate) fn batches(&self) -> &[([u8; 32], WriteBatch)] {
        &self.active.batches
    }

    /// What the pending batches last did to a record, `None` if untouched (ask the
    /// database). The active group is newer than the frozen one.
    pub(crate) fn lookup(&self, key: &[u8; KEY_LEN]) -> Option<Hit> {
        self.active
            .lookup(key)
            .or_else(|| self.frozen.as_ref().and_then(|f| f.group.lookup(key)))
    }

    /// True if a pending batch (active or frozen) writes a record of one of `kinds` of
    /// `core`: if not, the database alone tells what `core` holds of those kinds.
    pub(crate) fn touches(&self, core: &[u8; 32], kinds: &[Kind]) -> bool {
        self.active.touches(core, kinds)
            || self
                .frozen
                .as_ref()
                .is_some_and(|f| f.group.touches(core, kinds))
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

    /// True if adding `batch` to the active group would pass the memory bounds (`bytes`
    /// of payload, or [`MAX_PENDING_BATCHES`]).
    pub(crate) fn would_overflow(&self, batch: &WriteBatch, bytes: usize) -> bool {
        self.active.batches.len() >= MAX_PENDING_BATCHES
            || self.active.bytes.saturating_add(payload_bytes(batch)) > bytes
    }

    /// Holds `batch` of `core` in the active group (the caller checked
    /// [`can_hold`](Self::can_hold)).
    pub(crate) fn push(&mut self, core: [u8; 32], batch: WriteBatch) {
        self.active.push(core, batch);
    }

    /// True if the next group commit forced by the bounds is one of the durable ones.
    pub(crate) fn next_group_is_durable(&self) -> bool {
        self.groups % DURABLE_EVERY == DURABLE_EVERY - 1
    }

    /// Counts one group commit forced by the bounds.
    pub(crate) fn count_group(&mut self) {
        self.groups = self.groups.wrapping_add(1);
    }

    /// Forgets the active group (after its batches were committed).
    pub(crate) fn clear(&mut self) {
        self.active = Group::default();
    }

    /// Takes the active group out for a background commit (the caller retired any frozen
    /// group first) and returns it; [`set_frozen`](Self::set_frozen) keeps it readable.
    /// The next group starts with room for as many records and batches (growing the index
    /// batch by batch rehashes it again and again).
    pub(crate) fn freeze(&mut self) -> Arc<Group> {
        debug_assert!(self.frozen.is_none());
        let next = Group {
            batches: Vec::with_capacity(self.active.batches.len()),
            records: HashMap::with_capacity_and_hasher(
                self.active.records.len(),
                foldhash::fast::RandomState::default(),
            ),
            spans: HashMap::default(),
            bytes: 0,
        };
        Arc::new(core::mem::replace(&mut self.active, next))
    }

    /// Keeps `frozen` readable until it is retired.
    pub(crate) fn set_frozen(&mut self, frozen: Frozen) {
        self.frozen = Some(frozen);
    }

    /// The frozen group, if any.
    pub(crate) fn frozen_mut(&mut self) -> Option<&mut Frozen> {
        self.frozen.as_mut()
    }

    /// Takes the frozen group out (its commit landed and reads no longer need it).
    pub(crate) fn take_frozen(&mut self) -> Option<Arc<Group>> {
        self.frozen.take().map(|f| f.group)
    }

    /// If the frozen group's background commit has finished, joins it without waiting:
    /// when it landed, the group stops being read (it is freed here) and `true` is
    /// returned, so the caller drops reads from before that commit; when it failed, the
    /// group stays frozen for the next retire to commit again. A peer serving a core
    /// written long ago would otherwise look every read up in its last group for good.
    pub(crate) fn retire_landed(&mut self) -> bool {
        let Some(frozen) = self.frozen.as_mut() else {
            return false;
        };
        if !frozen.task.as_ref().is_some_and(JoinHandle::is_finished) {
            return false;
        }
        let landed = frozen.join();
        if landed {
            self.frozen = None;
        }
        landed
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
            Some(Hit::Payload(Bytes::from_static(b"b")))
        );
        assert_eq!(
            p.lookup(&key(&core, Kind::BitfieldPage, 0)),
            Some(Hit::Deleted)
        );
        assert_eq!(p.lookup(&key(&[2; 32], Kind::Block, 3)), None);
        let node = p.lookup(&key(&core, Kind::Node, 6)).unwrap();
        assert_eq!(node, Hit::Node(Node::new(6, 1, [9; 32])));
        let payload = node.payload().unwrap();
        assert_eq!(
            record::decode_node(6, &payload).unwrap(),
            Node::new(6, 1, [9; 32])
        );
        assert_eq!(p.batches().len(), 2);

        let mut del = WriteBatch::new();
        del.delete_blocks(0..4);
        assert!(!Pending::can_hold(&del));
        let mut big = WriteBatch::new();
        big.put_block(0, Bytes::from(vec![0; MAX_PENDING_BYTES]));
        assert!(p.would_overflow(&big, MAX_PENDING_BYTES));
        p.clear();
        assert!(p.is_empty() && p.lookup(&key(&core, Kind::Block, 3)).is_none());
    }

    #[test]
    fn touches_tells_the_cores_and_kinds_the_pending_batches_write() {
        let mut p = Pending::default();
        let (a, b) = ([1; 32], [2; 32]);
        let all = [Kind::Header, Kind::Node, Kind::Block, Kind::BitfieldPage];
        assert!(!p.touches(&a, &all));
        let mut batch = WriteBatch::new();
        batch.put_header(Bytes::from_static(b"h"));
        p.push(a, batch);
        assert!(p.touches(&a, &all) && p.touches(&a, &[Kind::Header]));
        assert!(!p.touches(&a, &[Kind::BitfieldPage, Kind::Block]));
        assert!(!p.touches(&b, &all));
        let mut batch = WriteBatch::new();
        batch.put_bitfield_page(7, Bytes::from_static(b"p"));
        p.push(b, batch);
        assert!(p.touches(&b, &[Kind::BitfieldPage]) && !p.touches(&b, &[Kind::Header]));
        // A frozen group (being committed) still counts.
        let frozen = p.freeze();
        p.set_frozen(Frozen {
            group: frozen,
            task: None,
        });
        assert!(p.touches(&a, &[Kind::Header]) && p.touches(&b, &[Kind::BitfieldPage]));
        assert!(p.take_frozen().is_some());
        assert!(!p.touches(&a, &all) && !p.touches(&b, &all));
    }

    proptest::proptest! {
        /// A group's lookups (span check, then the index) answer as a plain map of its
        /// writes does, for keys inside, outside and at the edges of each span.
        #[test]
        fn group_lookups_match_a_map(
            writes in proptest::collection::vec(
                (0u8..3, 0usize..3, proptest::prop_oneof![0u64..40, u64::MAX - 3..=u64::MAX], proptest::bool::ANY),
                0..60,
            ),
            probes in proptest::collection::vec(
                (0u8..3, 0usize..3, proptest::prop_oneof![0u64..45, u64::MAX - 5..=u64::MAX]),
                0..80,
            ),
        ) {
            let kinds = [Kind::Block, Kind::Node, Kind::BitfieldPage];
            let mut group = Group::default();
            let mut model = std::collections::BTreeMap::new();
            for (c, kind, index, put) in writes {
                let value = Bytes::from(index.to_le_bytes().to_vec());
                let node = Node::new(index, index, [c; 32]);
                let mut batch = WriteBatch::new();
                let hit = match (kind, put) {
                    (0, _) => {
                        batch.put_block(index, value.clone());
                        Hit::Payload(value)
                    }
                    (1, _) => {
                        batch.put_node(node);
                        Hit::Node(node)
                    }
                    (_, true) => {
                        batch.put_bitfield_page(index, value.clone());
                        Hit::Payload(value)
                    }
                    (_, false) => {
                        batch.delete_bitfield_page(index);
                        Hit::Deleted
                    }
                };
                group.push([c; 32], batch);
                model.insert(key(&[c; 32], kinds[kind], index), hit);
            }
            for (c, kind, index) in probes {
                let k = key(&[c; 32], kinds[kind], index);
                proptest::prop_assert_eq!(group.lookup(&k), model.get(&k).cloned());
            }
        }
    }
}
