//! Helpers shared by `crypto_vectors.rs` and `crypto_props.rs`: an in-memory Merkle tree
//! over a list of blocks, computed from the leaves.

use ferrocore::{flat_tree, hash, Node};

/// Node `index` of the tree over `blocks`, computed from the leaves.
pub fn node_from(blocks: &[Vec<u8>], index: u64) -> Node {
    match flat_tree::children(index) {
        None => hash::leaf(index / 2, &blocks[(index / 2) as usize]),
        Some((l, r)) => hash::parent(&node_from(blocks, l), &node_from(blocks, r)),
    }
}

/// The full roots of the tree over `blocks`, computed from the leaves.
pub fn roots_of(blocks: &[Vec<u8>]) -> Vec<Node> {
    flat_tree::full_roots(blocks.len() as u64)
        .map(|r| node_from(blocks, r))
        .collect()
}
