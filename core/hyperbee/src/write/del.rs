//! Deletes (`Batch._del`, `setKeyToNearestLeaf`, `rebalance`): the key is replaced by its
//! nearest leaf key (the left subtree's last unless the right's first leaf is fuller), then
//! from the leaf upwards a node short of keys borrows from its left sibling, else its
//! right, else merges with one of them; a root left without keys gives way to its child.

use alloc::vec::Vec;
use bytes::Bytes;

use super::tree::{corrupt, DelPlan, NodeId, Tree};
use crate::fetch::{Ctx, Halt};
use crate::{BeeError, Entry, MAX_DEPTH, MIN_KEYS};

impl Tree {
    /// Phase 1 of `_del`: finds the key, loads both candidate leaves (`leafSize`) and the
    /// siblings `rebalance` may borrow from or merge with. `None`: not found.
    pub(crate) fn plan_del(
        &mut self,
        ctx: &mut Ctx<'_>,
        key: &[u8],
        need_prev: bool,
    ) -> Result<Option<DelPlan>, Halt> {
        let Some(mut node) = self.root(ctx)? else {
            return Ok(None);
        };
        let mut stack = Vec::new();
        loop {
            stack.push(node);
            if stack.len() > MAX_DEPTH {
                return Err(BeeError::TooDeep(MAX_DEPTH).into());
            }
            match self.search(ctx, node, key)? {
                Ok(mid) => {
                    let prev = if need_prev {
                        Some(self.entry_of(ctx, node, mid)?)
                    } else {
                        None
                    };
                    if !self.nodes[node].children.is_empty() {
                        // both nearest leaves, with the siblings along the way
                        let left = self.child(ctx, node, mid)?;
                        let right = self.child(ctx, node, mid + 1)?;
                        self.load_path(ctx, left, false, stack.len())?;
                        self.load_path(ctx, right, true, stack.len())?;
                        self.siblings_around(ctx, node, mid)?;
                        self.siblings_around(ctx, node, mid + 1)?;
                    }
                    for w in 1..stack.len() {
                        let (parent, child) = (stack[w - 1], stack[w]);
                        let i = self.index_in(parent, child).ok_or_else(corrupt)?;
                        self.siblings_around(ctx, parent, i)?;
                    }
                    return Ok(Some(DelPlan { stack, mid, prev }));
                }
                Err(i) => {
                    if self.nodes[node].children.is_empty() {
                        return Ok(None);
                    }
                    node = self.child(ctx, node, i)?;
                }
            }
        }
    }

    /// Loads the leftmost (or rightmost) path below `node`, and each step's siblings.
    fn load_path(
        &mut self,
        ctx: &mut Ctx<'_>,
        mut node: NodeId,
        go_left: bool,
        depth: usize,
    ) -> Result<(), Halt> {
        let mut d = depth;
        while !self.nodes[node].children.is_empty() {
            d += 1;
            if d > MAX_DEPTH {
                return Err(BeeError::TooDeep(MAX_DEPTH).into());
            }
            let i = if go_left {
                0
            } else {
                self.nodes[node].children.len() - 1
            };
            self.siblings_around(ctx, node, i)?;
            node = self.child(ctx, node, i)?;
        }
        Ok(())
    }

    /// Loads children `i - 1 ..= i + 1` of `parent`.
    fn siblings_around(&mut self, ctx: &mut Ctx<'_>, parent: NodeId, i: usize) -> Result<(), Halt> {
        let n = self.nodes[parent].children.len();
        for j in i.saturating_sub(1)..(i + 2).min(n) {
            self.child(ctx, parent, j)?;
        }
        Ok(())
    }

    fn index_in(&self, parent: NodeId, child: NodeId) -> Option<usize> {
        self.nodes[parent]
            .children
            .iter()
            .position(|&c| self.childs[c].node == Some(child))
    }

    /// Phase 2 of `_del`; false when `cas` said no.
    pub(crate) fn apply_del(
        &mut self,
        plan: DelPlan,
        key: Bytes,
        cas: Option<&mut crate::Cas>,
    ) -> Result<bool, BeeError> {
        let seq = self.next_seq();
        let DelPlan {
            mut stack,
            mid,
            prev,
        } = plan;
        if let Some(cas) = cas {
            let new = Entry {
                seq,
                key: key.clone(),
                value: None,
            };
            if !cas(prev.as_ref().ok_or_else(corrupt)?, &new) {
                return Ok(false);
            }
        }
        let node = *stack.last().ok_or_else(corrupt)?;
        if self.nodes[node].children.is_empty() {
            self.remove_key(node, mid);
        } else {
            self.set_key_to_nearest_leaf(node, mid, &mut stack)?;
        }
        for &n in &stack {
            self.nodes[n].changed = true;
        }
        let root = self.rebalance(stack)?;
        self.append(root, seq, key, None);
        Ok(true)
    }

    fn leaf_size(&self, mut node: NodeId, go_left: bool) -> Result<usize, BeeError> {
        while !self.nodes[node].children.is_empty() {
            let i = if go_left {
                0
            } else {
                self.nodes[node].children.len() - 1
            };
            node = self.loaded_child(node, i)?;
        }
        Ok(self.nodes[node].keys.len())
    }

    fn set_key_to_nearest_leaf(
        &mut self,
        node: NodeId,
        index: usize,
        stack: &mut Vec<NodeId>,
    ) -> Result<(), BeeError> {
        let left = self.loaded_child(node, index)?;
        let right = self.loaded_child(node, index + 1)?;
        let (ls, rs) = (self.leaf_size(left, false)?, self.leaf_size(right, true)?);
        let key = if ls < rs {
            let mut n = right;
            stack.push(n);
            while !self.nodes[n].children.is_empty() {
                n = self.loaded_child(n, 0)?;
                stack.push(n);
            }
            if self.nodes[n].keys.is_empty() {
                return Err(corrupt());
            }
            self.nodes[n].keys.remove(0)
        } else {
            let mut n = left;
            stack.push(n);
            while !self.nodes[n].children.is_empty() {
                n = self.loaded_child(n, self.nodes[n].children.len() - 1)?;
                stack.push(n);
            }
            self.nodes[n].keys.pop().ok_or_else(corrupt)?
        };
        self.nodes[node].keys[index] = key;
        Ok(())
    }

    fn remove_key(&mut self, node: NodeId, index: usize) {
        let n = &mut self.nodes[node];
        n.keys.remove(index);
        if !n.children.is_empty() && index + 1 < n.children.len() {
            let c = n.children.remove(index + 1);
            self.childs[c].seq = 0; // freed: dropped from earlier blocks of the batch
        }
        self.nodes[node].changed = true;
    }

    fn rebalance(&mut self, mut stack: Vec<NodeId>) -> Result<NodeId, BeeError> {
        let root = stack[0];
        while stack.len() > 1 {
            let node = stack.pop().ok_or_else(corrupt)?;
            let parent = *stack.last().ok_or_else(corrupt)?;
            if self.nodes[node].keys.len() >= MIN_KEYS {
                return Ok(root);
            }
            let index = self.index_in(parent, node).ok_or_else(corrupt)?;
            let count = self.nodes[parent].children.len();
            let left = if index > 0 {
                Some(self.loaded_child(parent, index - 1)?)
            } else {
                None
            };
            let right = if index + 1 < count {
                Some(self.loaded_child(parent, index + 1)?)
            } else {
                None
            };
            if index > self.nodes[parent].keys.len() {
                return Err(corrupt());
            }
            if let Some(l) = left.filter(|&l| self.nodes[l].keys.len() > MIN_KEYS) {
                self.nodes[l].changed = true;
                let from_parent = self.nodes[parent].keys[index - 1].clone();
                self.nodes[node].keys.insert(0, from_parent);
                if let Some(c) = self.nodes[l].children.pop() {
                    self.nodes[node].children.insert(0, c);
                }
                let up = self.nodes[l].keys.pop().ok_or_else(corrupt)?;
                self.nodes[parent].keys[index - 1] = up;
                return Ok(root);
            }
            if let Some(r) = right.filter(|&r| self.nodes[r].keys.len() > MIN_KEYS) {
                self.nodes[r].changed = true;
                let from_parent = self.nodes[parent].keys[index].clone();
                self.nodes[node].keys.push(from_parent);
                if !self.nodes[r].children.is_empty() {
                    let c = self.nodes[r].children.remove(0);
                    self.nodes[node].children.push(c);
                }
                let up = self.nodes[r].keys.remove(0);
                self.nodes[parent].keys[index] = up;
                return Ok(root);
            }
            let (l, r, at) = match (left, right) {
                (Some(l), _) => (l, node, index - 1),
                (None, Some(r)) => (node, r, index),
                (None, None) => return Err(corrupt()),
            };
            let median = self.nodes[parent]
                .keys
                .get(at)
                .cloned()
                .ok_or_else(corrupt)?;
            let moved = self.nodes[r].keys.clone();
            let moved_children = self.nodes[r].children.clone();
            let ln = &mut self.nodes[l];
            ln.changed = true;
            ln.keys.push(median);
            ln.keys.extend(moved);
            ln.children.extend(moved_children);
            self.remove_key(parent, at);
        }
        if self.nodes[root].keys.is_empty() && !self.nodes[root].children.is_empty() {
            return self.loaded_child(root, 0);
        }
        Ok(root)
    }
}
