//! Assembling containers from partial signatures, and the patches that extend a signed tree.

use super::*;

/// One signer's contribution before assembly: a raw signature, plus for a patched proof the
/// number of extra blocks and the tree nodes at [`patch_indexes`]`(verified_length, patch)`
/// taken from the signer's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSignature {
    /// Index of the signer in the manifest's signer list.
    pub signer: u64,
    /// The raw Ed25519 signature.
    pub signature: [u8; 64],
    /// Extra blocks signed beyond the length being verified (0 = none).
    pub patch: u64,
    /// The patch nodes (empty when `patch` is 0).
    pub nodes: Vec<Node>,
}

/// Assembles a version-1 container from partial signatures, in the given order (the
/// reference's `multisig.assemble`): patch nodes are de-duplicated by index, first wins.
#[must_use]
pub fn assemble(inputs: &[PartialSignature]) -> MultiSignature {
    let mut out = MultiSignature::default();
    let mut seen = BTreeMap::new();
    for input in inputs {
        for node in &input.nodes {
            if seen.insert(node.index, ()).is_none() {
                out.patch.push(*node);
            }
        }
        out.proofs.push(SignatureProof {
            signer: input.signer,
            signature: input.signature,
            patch: input.patch,
        });
    }
    out
}

/// Assembles a version-0 container (the reference's `multisig.assemblev0`): patch nodes are
/// shared between proofs when identical (same index, size and hash).
///
/// # Errors
/// [`Error::Misuse`] if an input has a patch but no nodes, or a last node index ≥ 2^63.
pub fn assemble_v0(inputs: &[PartialSignature]) -> Result<MultiSignatureV0, Error> {
    let mut out = MultiSignatureV0::default();
    for input in inputs {
        let patch = if input.patch == 0 {
            None
        } else {
            let last = input
                .nodes
                .last()
                .filter(|n| n.index < 2 * MAX_TREE_LENGTH)
                .ok_or(Error::Misuse(
                    "a patched partial signature needs its nodes (indexes below 2^63)",
                ))?;
            let mut positions = Vec::with_capacity(input.nodes.len());
            for node in &input.nodes {
                let pos = match out.patch.iter().position(|n| n == node) {
                    Some(p) => p,
                    None => {
                        out.patch.push(*node);
                        out.patch.len() - 1
                    }
                };
                positions.push(pos as u64);
            }
            Some(PatchV0 {
                start: flat_tree::right_span(last.index) / 2 + 1,
                length: input.patch,
                nodes: positions,
            })
        };
        out.proofs.push(SignatureProofV0 {
            signer: input.signer,
            signature: input.signature,
            patch,
        });
    }
    Ok(out)
}

/// The indexes of the nodes that extend a tree of `start` blocks to `start + length` blocks,
/// in the order a verifier appends them (the reference's `generateUpgrade`): first the
/// right-hand siblings on the path from the last leaf up to the new root that contains it,
/// then every further new root. `None` if the tree would exceed 2^62 blocks.
///
/// ```
/// use ferrocore::signature::patch_indexes;
/// // 10 blocks (roots 7, 17) → 16 blocks (root 15): add 21 and 27.
/// assert_eq!(patch_indexes(10, 6), Some(vec![21, 27]));
/// // 4 → 5 blocks: root 3 stays, leaf 8 is new.
/// assert_eq!(patch_indexes(4, 1), Some(vec![8]));
/// ```
#[must_use]
pub fn patch_indexes(start: u64, length: u64) -> Option<Vec<u64>> {
    let end = start.checked_add(length)?;
    if end > MAX_TREE_LENGTH {
        return None;
    }
    let from = 2 * start;
    let mut out = Vec::new();
    let mut path_done = false;
    for root in flat_tree::full_roots(end) {
        if flat_tree::right_span(root) + 1 < from {
            continue;
        }
        if !path_done && from >= 2 && flat_tree::contains(root, from - 2) {
            let target = from - 2;
            let mut cur = target;
            while cur != root {
                let sibling = flat_tree::sibling(cur);
                if sibling > target {
                    out.push(sibling);
                }
                cur = flat_tree::parent(cur);
            }
        } else {
            out.push(root);
        }
        path_done = true;
    }
    Some(out)
}

/// Extends `roots` (the full roots of `length` blocks) by `patch` blocks with nodes looked up
/// in `nodes`, merging siblings as they meet. Returns the new tree hash and length, or `None`
/// if a node is missing or the roots are not those of `length`.
pub(super) fn patched_tree(
    roots: &[Node],
    length: u64,
    patch: u64,
    nodes: &BTreeMap<u64, Node>,
) -> Option<(Hash, u64)> {
    if !roots
        .iter()
        .map(|r| r.index)
        .eq(flat_tree::full_roots(length))
    {
        return None;
    }
    let mut stack: Vec<Node> = roots.to_vec();
    for index in patch_indexes(length, patch)? {
        push_root(&mut stack, *nodes.get(&index)?, |_| {})?;
    }
    Some((hash::tree_hash(&stack), length + patch))
}
