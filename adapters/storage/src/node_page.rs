//! Node pages: the tree nodes of one core with flat-tree indices `64 p .. 64 p + 64`, stored
//! as one record under page number `p`.
//!
//! Appending a block stores about two nodes; one record per node made the database's B-tree
//! work the largest cost of a batch after hashing. Nodes of a batch (and of a group commit)
//! have nearby indices, so they fall in a few pages, each written once per commit.
//!
//! Payload layout (integers little-endian; the record as a whole is sealed with its key's
//! checksum, see [`record`](crate::record)):
//!
//! ```text
//! present  u64    bit s set: the node at slot s (index 64 p + s) is stored
//! nodes    popcount(present) × (size u64, hash [u8; 32]), by ascending slot
//! ```

use ferrocore::storage::{Record, StorageError};
use ferrocore::Node;

use crate::record::{decode_node, encode_node, u64_at, NODE_LEN};

/// Nodes per page.
pub(crate) const PER_PAGE: u64 = 64;

/// The page of the node at `index`, and its slot there.
pub(crate) fn locate(index: u64) -> (u64, usize) {
    (index / PER_PAGE, (index % PER_PAGE) as usize)
}

/// A decoded page.
#[derive(Debug, Clone)]
pub(crate) struct NodePage {
    present: u64,
    /// The node of every slot whose `present` bit is set (the others are placeholders).
    nodes: [Node; PER_PAGE as usize],
}

impl Default for NodePage {
    fn default() -> Self {
        Self {
            present: 0,
            nodes: [Node::new(0, 0, [0; 32]); PER_PAGE as usize],
        }
    }
}

impl NodePage {
    /// Decodes the payload of page `page`; damage is reported about the node `record`.
    pub(crate) fn decode(payload: &[u8], page: u64, record: Record) -> Result<Self, StorageError> {
        let corrupt = |what| StorageError::corrupt(record, what);
        if payload.len() < 8 {
            return Err(corrupt("node page shorter than its bitmap"));
        }
        let present = u64_at(payload, 0);
        if payload.len() != 8 + present.count_ones() as usize * NODE_LEN {
            return Err(corrupt("node page length does not match its bitmap"));
        }
        let mut out = Self {
            present,
            ..Self::default()
        };
        let mut at = 8;
        for s in 0..PER_PAGE as usize {
            if present & (1 << s) != 0 {
                let index = page * PER_PAGE + s as u64;
                out.nodes[s] = decode_node(index, &payload[at..at + NODE_LEN])?;
                at += NODE_LEN;
            }
        }
        Ok(out)
    }

    /// The node at `slot`, if stored.
    pub(crate) fn get(&self, slot: usize) -> Option<Node> {
        (self.present & (1 << slot) != 0).then_some(self.nodes[slot])
    }

    /// Stores `node` at `slot`; true if the slot was empty.
    pub(crate) fn set(&mut self, slot: usize, node: &Node) -> bool {
        let was_empty = self.present & (1 << slot) == 0;
        self.present |= 1 << slot;
        self.nodes[slot] = *node;
        was_empty
    }

    /// Empties the slots `from..to`; returns how many held a node.
    pub(crate) fn clear(&mut self, from: usize, to: usize) -> u64 {
        let mut mask = 0u64;
        for s in from..to.min(PER_PAGE as usize) {
            mask |= 1 << s;
        }
        let gone = (self.present & mask).count_ones();
        self.present &= !mask;
        u64::from(gone)
    }

    /// Nodes in a page about to be deleted whole, by its bitmap alone (without checking the
    /// record, so a damaged page still goes): the sealed value's bitmap follows its 4-byte
    /// checksum.
    pub(crate) fn lenient_count(value: &[u8]) -> u64 {
        value
            .get(4..12)
            .map_or(0, |b| u64::from(u64_at(b, 0).count_ones()))
    }

    /// Nodes stored.
    pub(crate) fn count(&self) -> u64 {
        u64::from(self.present.count_ones())
    }

    /// The payload.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.count() as usize * NODE_LEN);
        v.extend_from_slice(&self.present.to_le_bytes());
        for s in 0..PER_PAGE as usize {
            if self.present & (1 << s) != 0 {
                v.extend_from_slice(&encode_node(&self.nodes[s]));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_clear_and_refuse_bad_lengths() {
        let mut p = NodePage::default();
        assert!(p.set(3, &Node::new(67, 10, [1; 32])));
        assert!(!p.set(3, &Node::new(67, 11, [2; 32])));
        assert!(p.set(63, &Node::new(127, 5, [3; 32])));
        let v = p.encode();
        assert_eq!(v.len(), 8 + 2 * NODE_LEN);
        let q = NodePage::decode(&v, 1, Record::Node(67)).unwrap();
        assert_eq!(q.get(3), Some(Node::new(67, 11, [2; 32])));
        assert_eq!(q.get(63), Some(Node::new(127, 5, [3; 32])));
        assert_eq!(q.get(4), None);
        for len in 0..v.len() {
            assert!(NodePage::decode(&v[..len], 1, Record::Node(67)).is_err());
        }
        let mut sealed = vec![0; 4];
        sealed.extend_from_slice(&v);
        assert_eq!(NodePage::lenient_count(&sealed), 2);
        let mut q = q;
        assert_eq!(q.clear(0, 10), 1);
        assert_eq!(q.count(), 1);
        assert_eq!(q.clear(0, 200), 1);
        assert_eq!(q.count(), 0);
        assert_eq!(locate(130), (2, 2));
    }
}
