//! The receiver's working copy of the root set while an upgrade is verified.

use alloc::vec::Vec;

use super::tree::{checked_leaves, push_root, MAX_NUMBER};
use crate::flat_tree::full_roots;
use crate::{Node, ProofError};

/// Roots, length and byte length being grown by an upgrade, plus every node created.
pub(crate) struct Batch {
    pub(crate) roots: Vec<Node>,
    pub(crate) length: u64,
    pub(crate) byte_length: u64,
    /// Set once any root was appended.
    pub(crate) upgraded: bool,
}

const OVERFLOW: ProofError = ProofError::Invalid("size or length overflow");

impl Batch {
    /// A batch starting from the receiver's trusted roots, or `None` if they are not the
    /// roots of `length` blocks or their sizes overflow (a corrupt trusted state).
    pub(crate) fn new(roots: &[Node], length: u64) -> Option<Self> {
        if length > MAX_NUMBER || !roots.iter().map(|r| r.index).eq(full_roots(length)) {
            return None;
        }
        let byte_length = roots
            .iter()
            .try_fold(0u64, |acc, r| acc.checked_add(r.size))?;
        Some(Self {
            roots: roots.to_vec(),
            length,
            byte_length,
            upgraded: false,
        })
    }

    /// Appends `node` as the new last root and merges it with its left neighbours while
    /// they are siblings, recording every node in `created`. Returns the index of the
    /// resulting last root.
    pub(crate) fn append_root(
        &mut self,
        node: Node,
        created: &mut Vec<Node>,
    ) -> Result<u64, ProofError> {
        let leaves = checked_leaves(node.index).ok_or(OVERFLOW)?;
        self.length = self.length.checked_add(leaves).ok_or(OVERFLOW)?;
        self.byte_length = self.byte_length.checked_add(node.size).ok_or(OVERFLOW)?;
        self.upgraded = true;
        push_root(&mut self.roots, node, |n| created.push(n))
            .map(|last| last.index)
            .ok_or(OVERFLOW)
    }

    /// The index of the last root, if any.
    pub(crate) fn last_root(&self) -> Option<u64> {
        self.roots.last().map(|r| r.index)
    }
}
