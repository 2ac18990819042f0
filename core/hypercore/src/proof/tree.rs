//! Flat-tree arithmetic on peer-derived indexes, guarded so it never overflows.
//!
//! Peer numbers are at most 2^53 − 1 (checked on entry), so a leaf index is below 2^54
//! and its depth below 54. Every climb stops at [`MAX_DEPTH`], keeping indexes below
//! 2^61, where every `flat_tree` function is exact.

use ferrocore_wire::encoding::MAX_SAFE_INTEGER;

use alloc::vec::Vec;

use crate::flat_tree::{depth, parent, sibling};
use crate::{hash, Node};

/// No node of a proof is deeper than this (a tree of 2^53 blocks has depth 54).
pub(crate) const MAX_DEPTH: u32 = 58;

/// The largest number a peer may use (JS `Number.MAX_SAFE_INTEGER`).
pub(crate) const MAX_NUMBER: u64 = MAX_SAFE_INTEGER;

/// The parent of `i`, or `None` when `i` is already at [`MAX_DEPTH`].
pub(crate) fn checked_parent(i: u64) -> Option<u64> {
    (depth(i) < MAX_DEPTH).then(|| parent(i))
}

/// Number of blocks under `i` (`None` beyond [`MAX_DEPTH`]).
pub(crate) fn checked_leaves(i: u64) -> Option<u64> {
    (depth(i) <= MAX_DEPTH).then(|| 1u64 << depth(i))
}

/// The parent node of two siblings (in either order), or `None` if their depth is at the
/// limit or their sizes overflow.
pub(crate) fn parent_node(a: &Node, b: &Node) -> Option<Node> {
    checked_parent(a.index)?;
    a.size.checked_add(b.size)?;
    Some(hash::parent(a, b))
}

/// Pushes `node` as the new last root of `roots` and merges it with its left neighbours
/// while they are siblings, handing every node (the pushed one, then each computed parent)
/// to `record`. Returns the resulting last root, or `None` on depth or size overflow
/// (`roots` is then partly merged: callers work on a copy they drop on error).
pub(crate) fn push_root(
    roots: &mut Vec<Node>,
    node: Node,
    mut record: impl FnMut(Node),
) -> Option<Node> {
    roots.push(node);
    record(node);
    let mut last = node;
    while let [.., left, right] = roots.as_slice() {
        if sibling(right.index) != left.index {
            break;
        }
        last = parent_node(left, right)?;
        roots.truncate(roots.len() - 2);
        roots.push(last);
        record(last);
    }
    Some(last)
}

/// `2 · n` for a peer number `n` (a leaf index or a head), if `n` is in range.
pub(crate) fn double(n: u64) -> Option<u64> {
    (n <= MAX_NUMBER).then(|| 2 * n)
}
