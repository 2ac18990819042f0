//! The B-tree as JS's `Batch` mutates it: nodes and child pointers as objects with
//! identity (an arena), because JS shares `Child` objects between a node's children and the
//! pending index of every block of a batch, and the bytes depend on it.
//!
//! Every write is two phases. [`Tree::plan_put`] / [`Tree::plan_del`] walk the tree and load
//! every node and key the write will touch (loading only fills caches, so a halted plan is
//! simply run again); [`Tree::apply_put`] / [`Tree::apply_del`] then mutate without I/O,
//! in JS's order (`Batch._put`, `Batch._del`, `TreeNode`, `setKeyToNearestLeaf`,
//! `rebalance`, `indexChanges`).

use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::fetch::{Ctx, Halt};
use crate::{BeeError, Entry, MAX_CHILDREN, MAX_DEPTH, MAX_KEYS};

pub(crate) type NodeId = usize;
pub(crate) type ChildId = usize;

/// A key slot: the seq of the block holding the key, and its bytes once loaded.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub(crate) seq: u64,
    pub(super) bytes: Option<Bytes>,
}

/// JS's `Child`: a pointer object, shared by identity.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub(crate) seq: u64,
    pub(crate) offset: u64,
    pub(crate) node: Option<NodeId>,
}

/// JS's `TreeNode`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TNode {
    pub(crate) keys: Vec<Key>,
    pub(crate) children: Vec<ChildId>,
    pub(super) changed: bool,
    /// The block this node was read from (0 for a node made here).
    pub(super) src: u64,
}

/// One operation's block before the batch is flushed: JS's `BatchEntry`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) seq: u64,
    pub(crate) key: Bytes,
    pub(crate) value: Option<Bytes>,
    pub(crate) index: Vec<Option<ChildId>>,
}

/// Where a put lands.
pub(crate) struct PutPlan {
    /// Internal nodes on the way down (marked changed, "but compressible").
    pub(super) stack: Vec<NodeId>,
    /// The node holding the key or receiving it.
    node: NodeId,
    /// `Ok(i)`: the key is `node.keys[i]`; `Err(i)`: insert at `i` (then `node` is a leaf).
    pos: Result<usize, usize>,
    /// The entry being replaced, when a `cas` or the duplicate check needs it.
    pub(super) prev: Option<Entry>,
}

/// Where a delete lands.
pub(crate) struct DelPlan {
    pub(super) stack: Vec<NodeId>,
    pub(super) mid: usize,
    pub(super) prev: Option<Entry>,
}

/// The live tree of one batch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    pub(super) nodes: Vec<TNode>,
    pub(super) childs: Vec<Child>,
    pub(crate) root: Option<NodeId>,
    pub(crate) entries: Vec<Pending>,
    /// The core's length when the batch started (block seqs below it are on disk).
    pub(crate) base: u64,
    pub(crate) always_duplicate: bool,
}

pub(super) fn corrupt() -> BeeError {
    BeeError::MalformedNode {
        seq: 0,
        offset: 0,
        why: "tree changed shape between planning and writing (hostile blocks)",
    }
}

impl Tree {
    pub(crate) fn new(base: u64, always_duplicate: bool) -> Self {
        Tree {
            base,
            always_duplicate,
            ..Tree::default()
        }
    }

    /// The seq the next operation writes.
    pub(crate) fn next_seq(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub(super) fn new_node(&mut self, node: TNode) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub(super) fn new_child(&mut self, seq: u64, offset: u64, node: Option<NodeId>) -> ChildId {
        self.childs.push(Child { seq, offset, node });
        self.childs.len() - 1
    }

    /// Reads node `(seq, offset)` from disk into a new tree node.
    pub(super) fn load(
        &mut self,
        ctx: &mut Ctx<'_>,
        from: u64,
        seq: u64,
        offset: u64,
    ) -> Result<NodeId, Halt> {
        let r = ctx.node(from, seq, offset)?;
        let mut node = TNode {
            src: seq,
            ..TNode::default()
        };
        for &k in r.keys() {
            if k == 0 || k >= self.base {
                return Err(BeeError::SeqOutOfRange {
                    from: seq,
                    seq: k,
                    version: self.base,
                }
                .into());
            }
            node.keys.push(Key {
                seq: k,
                bytes: None,
            });
        }
        for &(s, o) in r.children() {
            node.children.push(self.new_child(s, o, None));
        }
        Ok(self.new_node(node))
    }

    /// The root, loading it on the batch's first operation (`getRoot`).
    pub(super) fn root(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<NodeId>, Halt> {
        if self.root.is_none() && self.entries.is_empty() && self.base >= 2 {
            let seq = self.base - 1;
            let block = ctx.full(0, seq)?;
            if block.nodes().is_none_or(<[_]>::is_empty) {
                return Err(BeeError::NoRoot(seq).into());
            }
            self.root = Some(self.load(ctx, 0, seq, 0)?);
        }
        Ok(self.root)
    }

    /// `getChildNode(i)`, loading the child when needed.
    pub(super) fn child(
        &mut self,
        ctx: &mut Ctx<'_>,
        node: NodeId,
        i: usize,
    ) -> Result<NodeId, Halt> {
        let cid = self.nodes[node].children[i];
        if let Some(n) = self.childs[cid].node {
            return Ok(n);
        }
        let Child { seq, offset, .. } = self.childs[cid];
        let n = self.load(ctx, self.nodes[node].src, seq, offset)?;
        self.childs[cid].node = Some(n);
        Ok(n)
    }

    /// A loaded child (the apply phase only follows what the plan loaded).
    pub(super) fn loaded_child(&self, node: NodeId, i: usize) -> Result<NodeId, BeeError> {
        let cid = *self.nodes[node].children.get(i).ok_or_else(corrupt)?;
        self.childs[cid].node.ok_or_else(corrupt)
    }

    /// `getKey(i)`, loading the key's block when needed.
    pub(super) fn key(&mut self, ctx: &mut Ctx<'_>, node: NodeId, i: usize) -> Result<Bytes, Halt> {
        if let Some(b) = self.key_loaded(node, i) {
            return Ok(b);
        }
        let k = self.nodes[node].keys[i].seq;
        let bytes = ctx.key(self.nodes[node].src, k)?;
        self.nodes[node].keys[i].bytes = Some(bytes.clone());
        Ok(bytes)
    }

    pub(super) fn key_loaded(&self, node: NodeId, i: usize) -> Option<Bytes> {
        let k = &self.nodes[node].keys[i];
        if let Some(b) = &k.bytes {
            return Some(b.clone());
        }
        let at = k.seq.checked_sub(self.base)?;
        self.entries
            .get(usize::try_from(at).ok()?)
            .map(|e| e.key.clone())
    }

    /// The entry a key slot names (for `cas` and the duplicate check).
    pub(super) fn entry_of(
        &mut self,
        ctx: &mut Ctx<'_>,
        node: NodeId,
        i: usize,
    ) -> Result<Entry, Halt> {
        let seq = self.nodes[node].keys[i].seq;
        if let Some(e) = seq
            .checked_sub(self.base)
            .and_then(|at| self.entries.get(at as usize))
        {
            return Ok(Entry {
                seq,
                key: e.key.clone(),
                value: e.value.clone(),
            });
        }
        Ok(ctx.block(self.nodes[node].src, seq)?.entry())
    }

    /// Binary search of `key` in `node` (loading keys): `Ok(i)` found, `Err(i)` the slot.
    pub(super) fn search(
        &mut self,
        ctx: &mut Ctx<'_>,
        node: NodeId,
        key: &[u8],
    ) -> Result<Result<usize, usize>, Halt> {
        let (mut s, mut e) = (0, self.nodes[node].keys.len());
        while s < e {
            let mid = (s + e) >> 1;
            match key.cmp(&self.key(ctx, node, mid)?) {
                core::cmp::Ordering::Equal => return Ok(Ok(mid)),
                core::cmp::Ordering::Less => e = mid,
                core::cmp::Ordering::Greater => s = mid + 1,
            }
        }
        Ok(Err(s))
    }

    /// The same search without I/O (every key it meets was loaded by the plan).
    pub(super) fn search_loaded(
        &self,
        node: NodeId,
        key: &[u8],
    ) -> Result<Result<usize, usize>, BeeError> {
        let (mut s, mut e) = (0, self.nodes[node].keys.len());
        while s < e {
            let mid = (s + e) >> 1;
            match key.cmp(&self.key_loaded(node, mid).ok_or_else(corrupt)?) {
                core::cmp::Ordering::Equal => return Ok(Ok(mid)),
                core::cmp::Ordering::Less => e = mid,
                core::cmp::Ordering::Greater => s = mid + 1,
            }
        }
        Ok(Err(s))
    }

    /// Resets the reused root's flag, as JS's fresh `TreeNode` over the same arrays has it.
    pub(crate) fn begin_op(&mut self) {
        if self.entries.is_empty() {
            if let Some(r) = self.root {
                self.nodes[r].changed = false;
            }
        }
    }

    /// Phase 1 of `_put`: the descent, loading what the write needs.
    pub(crate) fn plan_put(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &[u8],
        need_prev: bool,
    ) -> Result<PutPlan, Halt> {
        let Some(mut node) = self.root(ctx)? else {
            let root = self.new_node(TNode::default());
            self.nodes[root].changed = true;
            self.root = Some(root);
            return Ok(PutPlan {
                stack: vec![],
                node: root,
                pos: Err(0),
                prev: None,
            });
        };
        let mut stack = Vec::new();
        loop {
            if stack.len() > MAX_DEPTH {
                return Err(BeeError::TooDeep(MAX_DEPTH).into());
            }
            let leaf = self.nodes[node].children.is_empty();
            if !leaf {
                stack.push(node);
            }
            let pos = self.search(ctx, node, key)?;
            if let Ok(mid) = pos {
                let prev = if need_prev {
                    Some(self.entry_of(ctx, node, mid)?)
                } else {
                    None
                };
                return Ok(PutPlan {
                    stack,
                    node,
                    pos,
                    prev,
                });
            }
            if leaf {
                // a full node splits: its median key moves up and is compared there
                // (JS's `split` loads it), all the way up while the nodes are full
                for &n in core::iter::once(&node).chain(stack.iter().rev()) {
                    if self.nodes[n].keys.len() < MAX_KEYS {
                        break;
                    }
                    for i in 0..self.nodes[n].keys.len() {
                        self.key(ctx, n, i)?;
                    }
                }
                return Ok(PutPlan {
                    stack,
                    node,
                    pos,
                    prev: None,
                });
            }
            node = self.child(ctx, node, pos.unwrap_or_else(|i| i))?;
        }
    }

    /// Phase 2 of `_put`: returns false when nothing is written (`cas` said no, or an equal
    /// value with `always_duplicate` off).
    pub(crate) fn apply_put(
        &mut self,
        plan: PutPlan,
        key: Bytes,
        value: Option<Bytes>,
        cas: Option<&mut crate::Cas>,
    ) -> Result<bool, BeeError> {
        let seq = self.next_seq();
        let PutPlan {
            mut stack,
            node,
            pos,
            prev,
        } = plan;
        // the internal node holding the key is the top of the stack: not a split parent
        let internal = !self.nodes[node].children.is_empty();
        if internal && pos.is_err() {
            return Err(corrupt());
        }
        for &n in &stack {
            self.nodes[n].changed = true;
        }
        let target = Key {
            seq,
            bytes: Some(key.clone()),
        };
        let new = Entry {
            seq,
            key: key.clone(),
            value: value.clone(),
        };
        let always_duplicate = self.always_duplicate;
        let accept =
            |cas: Option<&mut crate::Cas>, prev: &Option<Entry>| -> Result<bool, BeeError> {
                let prev = prev.as_ref();
                if let Some(cas) = cas {
                    if !cas(prev.ok_or_else(corrupt)?, &new) {
                        return Ok(false);
                    }
                }
                if !always_duplicate && prev.ok_or_else(corrupt)?.value == new.value {
                    return Ok(false);
                }
                Ok(true)
            };
        let mut root = self.root.ok_or_else(corrupt)?;
        match pos {
            Ok(mid) => {
                if !accept(cas, &prev)? {
                    if internal || !self.nodes[node].changed {
                        return Ok(false);
                    }
                } else {
                    self.nodes[node].keys[mid] = target;
                    self.nodes[node].changed = true;
                }
                if internal {
                    self.append(root, seq, key, value);
                    return Ok(true);
                }
            }
            Err(i) => {
                self.nodes[node].keys.insert(i, target);
                self.nodes[node].changed = true;
                let mut needs_split = self.nodes[node].keys.len() >= MAX_CHILDREN;
                let mut node = node;
                while needs_split {
                    let (median, right) = self.split(node);
                    if let Some(parent) = stack.pop() {
                        needs_split = !self.insert_median(parent, median, right)?;
                        node = parent;
                    } else {
                        let l = self.new_child(0, 0, Some(node));
                        let r = self.new_child(0, 0, Some(right));
                        root = self.new_node(TNode {
                            keys: vec![median],
                            children: vec![l, r],
                            changed: true,
                            src: 0,
                        });
                        needs_split = false;
                    }
                }
            }
        }
        self.append(root, seq, key, value);
        Ok(true)
    }

    /// `insertKey(median, …, right)` into an internal node; false when it must split.
    pub(super) fn insert_median(
        &mut self,
        parent: NodeId,
        median: Key,
        right: NodeId,
    ) -> Result<bool, BeeError> {
        let mkey = median
            .bytes
            .clone()
            .or_else(|| self.key_of(&median))
            .ok_or_else(corrupt)?;
        match self.search_loaded(parent, &mkey)? {
            Ok(mid) => {
                // Only a hostile tree has the median in its parent; JS overwrites it.
                self.nodes[parent].keys[mid] = median;
                self.nodes[parent].changed = true;
                Ok(true)
            }
            Err(i) => {
                self.nodes[parent].keys.insert(i, median);
                let c = self.new_child(0, 0, Some(right));
                let children = &mut self.nodes[parent].children;
                if i + 1 > children.len() {
                    return Err(corrupt());
                }
                children.insert(i + 1, c);
                self.nodes[parent].changed = true;
                Ok(self.nodes[parent].keys.len() < MAX_CHILDREN)
            }
        }
    }

    pub(super) fn key_of(&self, k: &Key) -> Option<Bytes> {
        let at = k.seq.checked_sub(self.base)?;
        self.entries
            .get(usize::try_from(at).ok()?)
            .map(|e| e.key.clone())
    }

    /// `TreeNode.split`: the right half moves to a new node; returns the median and it.
    pub(super) fn split(&mut self, node: NodeId) -> (Key, NodeId) {
        let n = &mut self.nodes[node];
        let len = n.keys.len() >> 1;
        let right_keys = n.keys.split_off(n.keys.len() - len);
        let median = n.keys.pop().unwrap_or(Key {
            seq: 0,
            bytes: None,
        });
        let right_children = if n.children.is_empty() {
            Vec::new()
        } else {
            n.children
                .split_off(n.children.len().saturating_sub(len + 1))
        };
        n.changed = true;
        let right = self.new_node(TNode {
            keys: right_keys,
            children: right_children,
            changed: true,
            src: 0,
        });
        (median, right)
    }

    /// `_append` / `indexChanges`: the changed nodes in pre-order, root first.
    pub(super) fn append(&mut self, root: NodeId, seq: u64, key: Bytes, value: Option<Bytes>) {
        let mut index = Vec::new();
        self.index_changes(root, &mut index, seq);
        index[0] = Some(self.new_child(seq, 0, Some(root)));
        self.entries.push(Pending {
            seq,
            key,
            value,
            index,
        });
        self.root = Some(root);
    }

    pub(super) fn index_changes(
        &mut self,
        node: NodeId,
        index: &mut Vec<Option<ChildId>>,
        seq: u64,
    ) -> u64 {
        let offset = index.len() as u64;
        index.push(None);
        self.nodes[node].changed = false;
        for k in 0..self.nodes[node].children.len() {
            let cid = self.nodes[node].children[k];
            let Some(v) = self.childs[cid].node else {
                continue;
            };
            if !self.nodes[v].changed {
                continue;
            }
            self.childs[cid].seq = seq;
            let off = self.index_changes(v, index, seq);
            self.childs[cid].offset = off;
            index[off as usize] = Some(cid);
        }
        offset
    }

    /// `toBlocks`: every block but the last keeps only the nodes that still carry its seq
    /// (swap-remove, renumbering offsets); then each block is encoded.
    pub(crate) fn compact_blocks(&mut self) -> Vec<(Pending, Vec<crate::block::NodeData>)> {
        let n = self.entries.len();
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let seq = self.entries[i].seq;
            let mut index = core::mem::take(&mut self.entries[i].index);
            if i + 1 < n {
                index[0] = None;
                let mut j = 0;
                while j < index.len() {
                    if let Some(c) = index[j] {
                        if self.childs[c].seq == seq {
                            self.childs[c].offset = j as u64;
                            j += 1;
                            continue;
                        }
                    }
                    let last = index.pop().flatten();
                    if j < index.len() {
                        index[j] = last;
                    }
                }
            }
            let levels = index
                .iter()
                .flatten()
                .filter_map(|&c| self.childs[c].node)
                .map(|node| crate::block::NodeData {
                    keys: self.nodes[node].keys.iter().map(|k| k.seq).collect(),
                    children: self.nodes[node]
                        .children
                        .iter()
                        .map(|&c| (self.childs[c].seq, self.childs[c].offset))
                        .collect(),
                })
                .collect();
            self.entries[i].index = index;
            out.push((self.entries[i].clone(), levels));
        }
        out
    }
}
