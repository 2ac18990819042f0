//! Decoded node blocks, the tree nodes they hold, and a bounded cache of them.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::bee::{Node, YoloIndex};

use crate::{BeeError, Entry, MAX_KEYS};

/// One tree node as a block stores it: key seqs and `(seq, offset)` child pointers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeData {
    /// Seqs of the blocks holding the keys, in key order.
    pub keys: Vec<u64>,
    /// `(seq, offset)` of each child (empty in a leaf, else `keys.len() + 1`).
    pub children: Vec<(u64, u64)>,
}

/// A node block, decoded and checked: its key, value and the nodes of its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's seq.
    pub seq: u64,
    /// The key this block writes.
    pub key: Bytes,
    /// The value (absent for a deletion or a put of null).
    pub value: Option<Bytes>,
    /// The tree nodes this block rewrote (`nodes[0]` is the root when this block is the
    /// last of its version).
    pub nodes: Vec<NodeData>,
}

impl Block {
    /// Decodes block `seq`; every node must have at most 8 keys, and no children or one
    /// more than its keys.
    pub fn decode(seq: u64, bytes: &Bytes) -> Result<Self, BeeError> {
        let err = |error| BeeError::Decode { seq, error };
        let node = Node::decode(bytes).map_err(err)?;
        let index = YoloIndex::decode(&node.index).map_err(err)?;
        let mut nodes = Vec::with_capacity(index.levels.len());
        for (offset, level) in index.levels.into_iter().enumerate() {
            let bad = |why| BeeError::MalformedNode { seq, offset, why };
            if level.keys.len() > MAX_KEYS {
                return Err(bad("more than 8 keys"));
            }
            if level.children.len() % 2 != 0 {
                return Err(bad("odd child pointer list"));
            }
            let children: Vec<(u64, u64)> = level
                .children
                .chunks_exact(2)
                .map(|p| (p[0], p[1]))
                .collect();
            if !children.is_empty() && children.len() != level.keys.len() + 1 {
                return Err(bad("child count is not keys + 1"));
            }
            nodes.push(NodeData {
                keys: level.keys,
                children,
            });
        }
        Ok(Block {
            seq,
            key: node.key,
            value: node.value,
            nodes,
        })
    }

    /// A deletion: no value, and the block's own seq is a key of none of its nodes (a put
    /// of null also has no value, but indexes itself).
    #[must_use]
    pub fn is_deletion(&self) -> bool {
        self.value.is_none() && !self.nodes.iter().any(|n| n.keys.contains(&self.seq))
    }

    /// The entry this block writes.
    #[must_use]
    pub fn entry(&self) -> Entry {
        Entry {
            seq: self.seq,
            key: self.key.clone(),
            value: self.value.clone(),
        }
    }
}

/// A node of a decoded block: the block and the node's offset in it.
#[derive(Debug, Clone)]
pub(crate) struct NodeRef {
    pub(crate) block: Arc<Block>,
    pub(crate) offset: usize,
}

impl NodeRef {
    pub(crate) fn new(block: Arc<Block>, offset: u64) -> Result<Self, BeeError> {
        let seq = block.seq;
        match usize::try_from(offset) {
            Ok(o) if o < block.nodes.len() => Ok(NodeRef { block, offset: o }),
            _ => Err(BeeError::NoSuchNode { seq, offset }),
        }
    }

    pub(crate) fn data(&self) -> &NodeData {
        &self.block.nodes[self.offset]
    }

    pub(crate) fn keys(&self) -> &[u64] {
        &self.data().keys
    }

    pub(crate) fn children(&self) -> &[(u64, u64)] {
        &self.data().children
    }

    pub(crate) fn is_leaf(&self) -> bool {
        self.data().children.is_empty()
    }
}

/// A bounded cache of decoded blocks, shared by the operations on one bee (first in,
/// first out). Blocks are immutable once written, so a cached block stays right until the
/// core is truncated below it ([`BlockCache::truncate`]).
#[derive(Debug, Clone)]
pub struct BlockCache {
    map: BTreeMap<u64, Arc<Block>>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl BlockCache {
    /// A cache of at most `capacity` blocks (at least one).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        BlockCache {
            map: BTreeMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The cached block `seq`.
    #[must_use]
    pub fn get(&self, seq: u64) -> Option<&Arc<Block>> {
        self.map.get(&seq)
    }

    /// Caches a block, evicting the oldest when full.
    pub fn insert(&mut self, block: Arc<Block>) {
        let seq = block.seq;
        if self.map.insert(seq, block).is_none() {
            self.order.push_back(seq);
            while self.map.len() > self.capacity {
                match self.order.pop_front() {
                    Some(old) => {
                        self.map.remove(&old);
                    }
                    None => break,
                }
            }
        }
    }

    /// Forgets every block at or above `length` (after a truncation).
    pub fn truncate(&mut self, length: u64) {
        self.map.retain(|&s, _| s < length);
        self.order.retain(|&s| s < length);
    }

    /// How many blocks are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
