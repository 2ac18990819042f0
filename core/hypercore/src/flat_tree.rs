//! Flat-tree indexing: the in-order ("bin") numbering of Merkle tree nodes.
//!
//! Block `i` is the leaf with index `2i`; every odd index is a parent. A node is also
//! identified by `(depth, offset)`:
//!
//! ```text
//! depth 2:           3                       11
//! depth 1:     1           5           9           13
//! depth 0:  0     2     4     6     8     10    12    14
//! ```
//!
//! All functions are exact for indexes of trees of up to 2^62 blocks (far beyond the 2^53
//! JS limit) and total over every `u64`: beyond that range they saturate instead of
//! panicking, so indexes taken from untrusted input are always safe to pass.
//!
//! ```
//! use ferrocore::flat_tree;
//! assert_eq!(flat_tree::parent(5), 3);
//! assert_eq!(flat_tree::sibling(3), 11);
//! assert_eq!(flat_tree::full_roots(37).collect::<Vec<_>>(), [31, 67, 72]);
//! ```

/// The index of the node at `depth` and `offset`: `(2·offset + 1)·2^depth − 1`.
#[inline]
#[must_use]
pub const fn index(depth: u32, offset: u64) -> u64 {
    match ((offset << 1) | 1).checked_shl(depth) {
        Some(v) => v.wrapping_sub(1),
        None => u64::MAX,
    }
}

/// The depth of a node: the number of trailing one bits of its index.
#[inline]
#[must_use]
pub const fn depth(i: u64) -> u32 {
    i.trailing_ones()
}

/// The offset of a node within its depth.
#[inline]
#[must_use]
pub const fn offset(i: u64) -> u64 {
    let d = depth(i);
    if d >= 63 {
        return 0;
    }
    i >> (d + 1)
}

/// The parent of a node.
#[inline]
#[must_use]
pub const fn parent(i: u64) -> u64 {
    let d = depth(i);
    index(d + 1, offset(i) >> 1)
}

/// The sibling of a node (the other child of its parent).
#[inline]
#[must_use]
pub const fn sibling(i: u64) -> u64 {
    index(depth(i), offset(i) ^ 1)
}

/// The sibling of the parent of a node.
#[inline]
#[must_use]
pub const fn uncle(i: u64) -> u64 {
    sibling(parent(i))
}

/// The two children of a node, or `None` for a leaf.
#[inline]
#[must_use]
pub const fn children(i: u64) -> Option<(u64, u64)> {
    let d = depth(i);
    if d == 0 {
        return None;
    }
    let o = offset(i) << 1;
    Some((index(d - 1, o), index(d - 1, o + 1)))
}

/// The left child of a node, or `None` for a leaf.
#[inline]
#[must_use]
pub const fn left_child(i: u64) -> Option<u64> {
    match children(i) {
        Some((l, _)) => Some(l),
        None => None,
    }
}

/// The right child of a node, or `None` for a leaf.
#[inline]
#[must_use]
pub const fn right_child(i: u64) -> Option<u64> {
    match children(i) {
        Some((_, r)) => Some(r),
        None => None,
    }
}

/// The leftmost leaf index under a node (the node itself for a leaf).
#[inline]
#[must_use]
pub const fn left_span(i: u64) -> u64 {
    let d = depth(i);
    if d == 0 {
        i
    } else {
        match offset(i).checked_shl(d + 1) {
            Some(v) => v,
            None => 0,
        }
    }
}

/// The rightmost leaf index under a node (the node itself for a leaf).
#[inline]
#[must_use]
pub const fn right_span(i: u64) -> u64 {
    let d = depth(i);
    if d == 0 {
        i
    } else {
        match (offset(i) + 1).checked_shl(d + 1) {
            Some(v) if v >= 2 => v - 2,
            _ => u64::MAX - 1,
        }
    }
}

/// `(left_span(i), right_span(i))`.
#[inline]
#[must_use]
pub const fn spans(i: u64) -> (u64, u64) {
    (left_span(i), right_span(i))
}

/// Number of nodes in the subtree rooted at `i`: `2^(depth+1) − 1`.
#[inline]
#[must_use]
pub const fn count(i: u64) -> u64 {
    match 1u64.checked_shl(depth(i) + 1) {
        Some(v) if v > 0 => v - 1,
        _ => u64::MAX,
    }
}

/// Number of leaves (blocks) under `i`: `2^depth`.
#[inline]
#[must_use]
pub const fn count_leaves(i: u64) -> u64 {
    match 1u64.checked_shl(depth(i)) {
        Some(v) => v,
        None => u64::MAX,
    }
}

/// True if `j` lies within the span of `i` (any index, odd or even).
#[inline]
#[must_use]
pub const fn contains(i: u64, j: u64) -> bool {
    left_span(i) <= j && j <= right_span(i)
}

/// True if the node is a left child (even offset).
#[inline]
#[must_use]
pub const fn is_left(i: u64) -> bool {
    offset(i) & 1 == 0
}

/// True if node `i` exists in a tree of `length` blocks.
#[inline]
#[must_use]
pub const fn exists_at(i: u64, length: u64) -> bool {
    right_span(i) < length.saturating_mul(2)
}

/// The full roots of a tree of `length` blocks, in ascending index order: one per set bit
/// of `length`, largest subtree first.
///
/// ```
/// use ferrocore::flat_tree::full_roots;
/// assert_eq!(full_roots(0).count(), 0);
/// assert_eq!(full_roots(7).collect::<Vec<_>>(), [3, 9, 12]);
/// ```
#[must_use]
pub fn full_roots(length: u64) -> FullRoots {
    FullRoots {
        remaining: length,
        position: 0,
    }
}

/// Iterator over the full roots of a tree (see [`full_roots`]).
#[derive(Debug, Clone)]
pub struct FullRoots {
    remaining: u64,
    position: u64,
}

impl Iterator for FullRoots {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.remaining == 0 {
            return None;
        }
        // The largest power of two not above `remaining` (in leaves).
        let leaves = 1u64 << (63 - self.remaining.leading_zeros());
        let root = self.position.wrapping_add(leaves - 1);
        self.position = self.position.wrapping_add(leaves.wrapping_mul(2));
        self.remaining -= leaves;
        Some(root)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for FullRoots {}

/// Walks up from a node to its ancestors (`parent`, grandparent, ...).
///
/// ```
/// use ferrocore::flat_tree::ancestors;
/// assert_eq!(ancestors(4).take(3).collect::<Vec<_>>(), [5, 3, 7]);
/// ```
pub fn ancestors(i: u64) -> impl Iterator<Item = u64> {
    let mut cur = i;
    core::iter::from_fn(move || {
        if depth(cur) >= 62 {
            return None;
        }
        cur = parent(cur);
        Some(cur)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tree() {
        assert_eq!(parent(0), 1);
        assert_eq!(parent(2), 1);
        assert_eq!(parent(1), 3);
        assert_eq!(parent(5), 3);
        assert_eq!(parent(3), 7);
        assert_eq!(sibling(11), 3);
        assert_eq!(children(7), Some((3, 11)));
        assert_eq!(children(4), None);
        assert_eq!(spans(11), (8, 14));
        assert_eq!(spans(31), (0, 62));
        assert_eq!(count(7), 15);
        assert_eq!(count_leaves(7), 8);
        assert!(contains(7, 9) && !contains(3, 8));
    }

    #[test]
    fn roots() {
        assert_eq!(full_roots(37).collect::<alloc::vec::Vec<_>>(), [31, 67, 72]);
        assert_eq!(full_roots(20).collect::<alloc::vec::Vec<_>>(), [15, 35]);
    }

    #[test]
    fn extremes_do_not_panic() {
        for i in [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 62) - 1] {
            let _ = (
                depth(i),
                offset(i),
                parent(i),
                sibling(i),
                children(i),
                spans(i),
            );
            let _ = (count(i), count_leaves(i), exists_at(i, 1 << 61));
        }
        assert_eq!(full_roots(u64::MAX >> 2).count(), 62);
    }
}
