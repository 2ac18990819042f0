//! Decoded node blocks, the tree nodes they hold, and a bounded cache of them.

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

/// A node block, decoded: its key and value, and (once a read needs them) the tree nodes
/// of its index, checked. A block read only for its key keeps its index undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's seq.
    pub seq: u64,
    /// The key this block writes.
    pub key: Bytes,
    /// The value (absent for a deletion or a put of null).
    pub value: Option<Bytes>,
    /// The encoded index.
    pub index: Bytes,
    nodes: Option<Vec<NodeData>>,
}

impl Block {
    /// Decodes block `seq` and its index; every node must have at most 8 keys, and no
    /// children or one more than its keys.
    pub fn decode(seq: u64, bytes: &Bytes) -> Result<Self, BeeError> {
        Self::decode_entry(seq, bytes)?.with_nodes()
    }

    /// Decodes block `seq`, leaving its index undecoded ([`Block::with_nodes`] decodes it).
    pub fn decode_entry(seq: u64, bytes: &Bytes) -> Result<Self, BeeError> {
        let node = Node::decode(bytes).map_err(|error| BeeError::Decode { seq, error })?;
        Ok(Block {
            seq,
            key: node.key,
            value: node.value,
            index: node.index,
            nodes: None,
        })
    }

    /// A block made here, whose nodes are known.
    pub(crate) fn built(seq: u64, key: Bytes, value: Option<Bytes>, nodes: Vec<NodeData>) -> Self {
        Block {
            seq,
            key,
            value,
            index: Bytes::new(),
            nodes: Some(nodes),
        }
    }

    /// The block with its index decoded and checked.
    pub fn with_nodes(mut self) -> Result<Self, BeeError> {
        if self.nodes.is_none() {
            self.nodes = Some(decode_nodes(self.seq, &self.index)?);
        }
        Ok(self)
    }

    /// The tree nodes, when the index is decoded.
    #[must_use]
    pub fn nodes(&self) -> Option<&[NodeData]> {
        self.nodes.as_deref()
    }

    /// A deletion: no value, and the block's own seq is a key of none of its nodes (a put
    /// of null also has no value, but indexes itself). An index that does not decode
    /// names no keys.
    #[must_use]
    pub fn is_deletion(&self) -> bool {
        if self.value.is_some() {
            return false;
        }
        let indexes_itself = |nodes: &[NodeData]| nodes.iter().any(|n| n.keys.contains(&self.seq));
        match &self.nodes {
            Some(nodes) => !indexes_itself(nodes),
            None => !YoloIndex::decode(&self.index)
                .is_ok_and(|i| i.levels.iter().any(|l| l.keys.contains(&self.seq))),
        }
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

fn decode_nodes(seq: u64, index: &[u8]) -> Result<Vec<NodeData>, BeeError> {
    let index = YoloIndex::decode(index).map_err(|error| BeeError::Decode { seq, error })?;
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
    Ok(nodes)
}

/// A node of a decoded block: the block and the node's offset in it.
#[derive(Debug, Clone)]
pub(crate) struct NodeRef {
    pub(crate) block: Arc<Block>,
    pub(crate) offset: usize,
}

impl NodeRef {
    /// Node `offset` of a block whose index is decoded.
    pub(crate) fn new(block: Arc<Block>, offset: u64) -> Result<Self, BeeError> {
        let seq = block.seq;
        let count = block.nodes().map_or(0, <[NodeData]>::len);
        match usize::try_from(offset) {
            Ok(o) if o < count => Ok(NodeRef { block, offset: o }),
            _ => Err(BeeError::NoSuchNode { seq, offset }),
        }
    }

    pub(crate) fn data(&self) -> &NodeData {
        // `new` checked the offset against the decoded nodes
        &self.block.nodes().unwrap_or_default()[self.offset]
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

/// A bounded cache of decoded blocks, shared by the operations on one bee: direct-mapped
/// by seq (a block takes slot `seq mod capacity`, evicting whichever block held it), which
/// costs no hashing and never evicts within a window of consecutive seqs. Blocks are
/// immutable once written, so a cached block stays right until the core is truncated below
/// it ([`BlockCache::truncate`]).
#[derive(Debug, Clone)]
pub struct BlockCache {
    slots: Vec<Option<Arc<Block>>>,
    mask: u64,
    len: usize,
}

impl BlockCache {
    /// A cache of `capacity` slots (rounded up to a power of two, at least 64).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        let n = capacity.clamp(64, 1 << 30).next_power_of_two();
        BlockCache {
            slots: alloc::vec![None; n],
            mask: n as u64 - 1,
            len: 0,
        }
    }

    fn slot(&self, seq: u64) -> usize {
        // the mask is below the slot count, which is a usize
        (seq & self.mask) as usize
    }

    /// The cached block `seq`.
    #[must_use]
    pub fn get(&self, seq: u64) -> Option<&Arc<Block>> {
        self.slots[self.slot(seq)].as_ref().filter(|b| b.seq == seq)
    }

    /// Caches a block, evicting the one in its slot.
    pub fn insert(&mut self, block: Arc<Block>) {
        let i = self.slot(block.seq);
        if self.slots[i].replace(block).is_none() {
            self.len += 1;
        }
    }

    /// Forgets every block at or above `length` (after a truncation).
    pub fn truncate(&mut self, length: u64) {
        for s in &mut self.slots {
            if s.as_ref().is_some_and(|b| b.seq >= length) {
                *s = None;
                self.len -= 1;
            }
        }
    }

    /// How many blocks are cached.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
