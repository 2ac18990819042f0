//! Receiver side: verify a proof against trusted state, without mutating anything.

use alloc::vec::Vec;
use bytes::Bytes;

use super::batch::Batch;
use super::error::VerifyError;
use super::queue::Queue;
use super::source::NodeSource;
use super::tree::{parent_node, MAX_NUMBER};
use crate::flat_tree::{contains, full_roots, left_child, sibling};
use crate::keys::DecodedKey;
use crate::manifest::{default_manifest, is_compat, manifest_hash};
use crate::{hash, signature, Manifest, Node, Proof, ProofError};
use ferrocore_wire::{DataUpgrade, Prologue};

/// What the receiver trusts before a proof arrives.
#[derive(Debug, Clone, Copy)]
pub struct TrustedState<'a> {
    /// The core key.
    pub key: &'a [u8; 32],
    /// The core's manifest, once known (`None`: learn it from a proof, or fall back to the
    /// compat default signer manifest of `key`).
    pub manifest: Option<&'a Manifest>,
    /// The receiver's fork id.
    pub fork: u64,
    /// The receiver's signed length.
    pub length: u64,
    /// The root nodes of `length`, i.e. `full_roots(length)`, ascending.
    pub roots: &'a [Node],
}

/// The outcome of [`verify`].
// Returned once per proof and consumed at once: boxing the batch would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The proof verified: the caller stores / adopts the batch.
    Accepted(VerifiedBatch),
    /// The proof is for another fork: the reference ignores it (no error). Fork changes go
    /// through the reorg procedure instead.
    Ignored {
        /// The proof's fork.
        fork: u64,
    },
}

/// Everything a verified proof adds to the receiver's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifiedBatch {
    /// Tree nodes to store (verified and computed), ascending by index, no duplicates.
    pub nodes: Vec<Node>,
    /// The verified block, to store and mark in the bitfield.
    pub block: Option<VerifiedBlock>,
    /// The new signed state, if the proof grew the tree.
    pub upgrade: Option<VerifiedUpgrade>,
    /// A manifest to adopt (only when the receiver had none).
    pub manifest: Option<Manifest>,
}

/// A verified block value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBlock {
    /// Block index.
    pub index: u64,
    /// The value as stored (including encryption padding, if any).
    pub value: Bytes,
}

/// A verified, signed tree state to adopt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedUpgrade {
    /// New length.
    pub length: u64,
    /// Fork id of the signed state (the proof's fork).
    pub fork: u64,
    /// New root nodes, ascending.
    pub roots: Vec<Node>,
    /// Total byte size of the tree (sum of the root sizes).
    pub byte_length: u64,
    /// Tree hash of `roots`.
    pub tree_hash: [u8; 32],
    /// The signature that covers the state.
    pub signature: Option<Bytes>,
}

/// Verifies `proof` against the receiver's trusted `state` and trusted `source` nodes.
///
/// Steps (spec §7.3): a proof for another fork is [`Verdict::Ignored`]; the block / hash /
/// seek sections hash up to an unverified subtree root; an upgrade section rebuilds the
/// root set at `upgrade.start + upgrade.length` and then at the sender's length; a
/// subtree root the upgrade does not use must equal a trusted node (index, size and
/// hash); a grown tree must carry a valid signature for the manifest (the receiver's, or
/// the proof's if it hashes to the key or is compat with it, or the default signer
/// manifest of the key). Nothing is mutated: the caller applies the returned batch.
///
/// # Errors
/// [`VerifyError::Proof`] if the proof is invalid, [`VerifyError::Source`] if the
/// receiver's node source fails, [`VerifyError::InvalidState`] if `state.roots` are not
/// the roots of `state.length` blocks.
pub fn verify<S: NodeSource + ?Sized>(
    state: &TrustedState<'_>,
    source: &S,
    proof: &Proof,
) -> Result<Verdict, VerifyError<S::Error>> {
    verify_hashed(state, source, proof, None, &[])
}

/// [`verify`], given the leaf hash of the proof's block if the caller computed it already
/// (with others, in SIMD lanes). `leaf` must be [`hash::leaf_hash`] of the block's value:
/// it is trusted, which is why this is not public. `signers` are the manifest's signer
/// keys decoded ahead, if the caller keeps them ([`signature::decode_signers`]).
pub(crate) fn verify_hashed<S: NodeSource + ?Sized>(
    state: &TrustedState<'_>,
    source: &S,
    proof: &Proof,
    leaf: Option<hash::Hash>,
    signers: &[DecodedKey],
) -> Result<Verdict, VerifyError<S::Error>> {
    if proof.fork != state.fork {
        return Ok(Verdict::Ignored { fork: proof.fork });
    }
    let mut batch = Batch::new(state.roots, state.length).ok_or(VerifyError::InvalidState)?;
    check_numbers(proof)?;

    let mut created = Vec::new();
    let shortcut = (proof.upgrade.is_none() && proof.seek.is_none()).then_some(source);
    let top = verify_tree(proof, leaf, &mut created, shortcut)?;
    let unverified = top.filter(|t| !t.trusted).map(|t| t.node);
    let prologue = state.manifest.and_then(|m| m.prologue);
    let anchored = match &proof.upgrade {
        Some(up) => verify_upgrade(up, unverified, &mut batch, &mut created, prologue)?,
        None => false,
    };
    if let Some(u) = unverified.filter(|_| !anchored) {
        match source.node(u.index).map_err(VerifyError::Source)? {
            None => return Err(ProofError::MissingTrustedNode(u.index).into()),
            Some(t) if t.hash != u.hash || t.size != u.size => {
                return Err(ProofError::ChecksumMismatch(u.index).into())
            }
            Some(_) => {}
        }
    }
    // The reference "downgrades" an upgraded batch that is not longer than the receiver's
    // length and whose roots are all stored. It cannot apply here: the batch starts from
    // the receiver's own roots and every appended root adds at least one block.
    debug_assert!(!batch.upgraded || batch.length > state.length);

    let manifest = if batch.upgraded {
        check_signature(state, proof, &batch, signers)?
    } else {
        adopt_unsigned(state, proof)?
    };
    let upgrade = batch.upgraded.then(|| VerifiedUpgrade {
        length: batch.length,
        fork: proof.fork,
        tree_hash: hash::tree_hash(&batch.roots),
        byte_length: batch.byte_length,
        signature: proof.upgrade.as_ref().and_then(|u| u.signature.clone()),
        roots: batch.roots,
    });
    Ok(Verdict::Accepted(VerifiedBatch {
        nodes: sorted_unique(created)?,
        block: proof.block.as_ref().map(|b| VerifiedBlock {
            index: b.index,
            value: b.value.clone(),
        }),
        upgrade,
        manifest,
    }))
}

/// Rejects numbers JS peers cannot produce, so all tree arithmetic below is exact.
fn check_numbers(proof: &Proof) -> Result<(), ProofError> {
    let mut numbers = proof
        .block
        .iter()
        .flat_map(|b| core::iter::once(b.index).chain(b.nodes.iter().map(|n| n.index)))
        .chain(
            proof
                .hash
                .iter()
                .flat_map(|h| core::iter::once(h.index).chain(h.nodes.iter().map(|n| n.index))),
        )
        .chain(
            proof
                .seek
                .iter()
                .flat_map(|s| s.nodes.iter().map(|n| n.index)),
        )
        .chain(proof.upgrade.iter().flat_map(|u| {
            [u.start, u.length, u.start.saturating_add(u.length)]
                .into_iter()
                .chain(u.nodes.iter().chain(&u.additional_nodes).map(|n| n.index))
        }));
    if numbers.any(|n| n > MAX_NUMBER) {
        return Err(ProofError::NumberTooLarge);
    }
    Ok(())
}

/// Hashes two siblings into their parent, or fails on depth/size overflow.
fn join(a: &Node, b: &Node) -> Result<Node, ProofError> {
    parent_node(a, b).ok_or(ProofError::Invalid("size or depth overflow"))
}

/// Where a climb ended: the node reached, and whether it is a node the receiver already
/// trusts (stored, same hash and size), which verifies everything below it.
#[derive(Debug, Clone, Copy)]
struct Top {
    node: Node,
    trusted: bool,
}

/// Climbs from `cur` while `queue` has nodes, hashing each uncle in. Records every node
/// it computes or takes from the queue.
///
/// With `trusted`, every node reached (`cur` included) is first looked up there: a stored
/// node with the same hash and size ends the climb (the uncles left above it would only
/// lead to roots that node is already verified against), one that differs is a
/// [`ProofError::ChecksumMismatch`]. A requester pipelining a download asks every block
/// for its whole path, because none of it is stored when it asks; by the time the answer
/// arrives the answers before it stored most of that path, and this saves hashing and
/// storing it again (about 17 parent hashes per block of a 100k-block core).
fn climb<S: NodeSource + ?Sized>(
    mut cur: Node,
    queue: &mut Queue<'_>,
    created: &mut Vec<Node>,
    trusted: Option<&S>,
) -> Result<Top, VerifyError<S::Error>> {
    loop {
        if let Some(source) = trusted {
            if let Some(t) = source.node(cur.index).map_err(VerifyError::Source)? {
                if t.hash != cur.hash || t.size != cur.size {
                    return Err(ProofError::ChecksumMismatch(cur.index).into());
                }
                return Ok(Top {
                    node: cur,
                    trusted: true,
                });
            }
        }
        created.push(cur);
        if queue.remaining() == 0 {
            return Ok(Top {
                node: cur,
                trusted: false,
            });
        }
        let uncle = queue.shift(sibling(cur.index))?;
        cur = join(&cur, &uncle)?;
        created.push(uncle);
    }
}

/// Step 1: the block / hash / seek sections up to their subtree root (unverified unless
/// the climb reached a trusted node, see [`climb`]). `trusted` is the receiver's node
/// source when the proof has neither an upgrade nor a seek section, whose checks need the
/// subtree root itself.
fn verify_tree<S: NodeSource + ?Sized>(
    proof: &Proof,
    leaf: Option<hash::Hash>,
    created: &mut Vec<Node>,
    trusted: Option<&S>,
) -> Result<Option<Top>, VerifyError<S::Error>> {
    let seek_root = match proof.seek.as_ref().map(|s| s.nodes.as_slice()) {
        Some(nodes @ [first, ..]) => {
            let mut queue = Queue::new(nodes, None);
            let start = queue.shift(first.index)?;
            Some(climb(start, &mut queue, created, None::<&S>)?.node)
        }
        _ => None,
    };
    let (mut queue, start) = match (&proof.block, &proof.hash) {
        (Some(_), Some(_)) => {
            return Err(ProofError::Invalid("both a block and a hash section").into())
        }
        (Some(b), None) => {
            let hash = leaf.unwrap_or_else(|| hash::leaf_hash(&b.value));
            debug_assert_eq!(hash, hash::leaf_hash(&b.value));
            let leaf = Node::new(2 * b.index, b.value.len() as u64, hash);
            (Queue::new(&b.nodes, seek_root), leaf)
        }
        (None, Some(h)) => {
            let mut queue = Queue::new(&h.nodes, seek_root);
            let node = queue.shift(h.index)?;
            (queue, node)
        }
        (None, None) => {
            return Ok(seek_root.map(|node| Top {
                node,
                trusted: false,
            }))
        }
    };
    climb(start, &mut queue, created, trusted).map(Some)
}

/// Step 2: rebuilds the root set from the upgrade section. Returns true if the
/// unverified subtree root was used (and is therefore covered by the signature).
fn verify_upgrade(
    up: &DataUpgrade,
    unverified: Option<Node>,
    batch: &mut Batch,
    created: &mut Vec<Node>,
    prologue: Option<Prologue>,
) -> Result<bool, ProofError> {
    if let Some(p) = prologue {
        if up.start < p.length && (up.start != 0 || up.length < p.length) {
            return Err(ProofError::Prologue);
        }
    }
    // Numbers were checked: start + length <= 2^53 - 1.
    let target = up.start + up.length;
    let mut queue = Queue::new(&up.nodes, unverified);
    let mut grow = !batch.roots.is_empty();
    let mut i = 0;
    for root in full_roots(target) {
        if batch.roots.get(i).is_some_and(|r| r.index == root) {
            i += 1;
            continue;
        }
        if core::mem::take(&mut grow) && i < batch.roots.len() {
            // Grow the receiver's last root through its right-hand siblings up to `root`.
            let mut cur = batch.last_root().unwrap_or(root);
            if !contains(root, cur) {
                return Err(ProofError::UnexpectedNode {
                    expected: sibling(cur),
                    got: queue.peek(),
                });
            }
            while cur != root {
                let node = queue.shift(sibling(cur))?;
                cur = batch.append_root(node, created)?;
            }
            continue;
        }
        let node = queue.shift(root)?;
        batch.append_root(node, created)?;
    }
    // Unused upgrade nodes are tolerated, as the reference does: they appear honestly
    // when the receiver's length moved past `upgrade.start` after it asked. They are
    // never stored.

    if let Some(p) = prologue.filter(|p| p.length == batch.length) {
        if hash::tree_hash(&batch.roots) != p.hash {
            return Err(ProofError::PrologueHash);
        }
    }
    append_additional(&up.additional_nodes, batch, created)?;
    Ok(queue.extra_consumed())
}

/// The additional nodes: first siblings of the last root (merging upward), then nodes
/// found by descending left children from the position right of the last root.
fn append_additional(
    extra: &[Node],
    batch: &mut Batch,
    created: &mut Vec<Node>,
) -> Result<(), ProofError> {
    let mut cur = batch
        .last_root()
        .ok_or(ProofError::Invalid("upgrade to an empty tree"))?;
    let mut rest = extra;
    while let [node, tail @ ..] = rest {
        if node.index != sibling(cur) {
            cur = sibling(cur);
            break;
        }
        cur = batch.append_root(*node, created)?;
        rest = tail;
    }
    for node in rest {
        while node.index != cur {
            cur = left_child(cur).ok_or(ProofError::UnexpectedNode {
                expected: cur,
                got: Some(node.index),
            })?;
        }
        cur = sibling(batch.append_root(*node, created)?);
    }
    Ok(())
}

/// Step 4 for a grown tree: picks the manifest, checks it against the key and verifies
/// the signature. Returns the manifest to adopt, if the receiver had none.
fn check_signature(
    state: &TrustedState<'_>,
    proof: &Proof,
    batch: &Batch,
    signers: &[DecodedKey],
) -> Result<Option<Manifest>, ProofError> {
    let signature = proof.upgrade.as_ref().and_then(|u| u.signature.as_deref());
    let signed = |m: &Manifest| {
        signature::Verifier::new(state.key, m)
            .with_decoded(signers)
            .verify(&batch.roots, batch.length, proof.fork, signature)
            .then_some(())
            .ok_or(ProofError::InvalidSignature)
    };
    match state.manifest {
        Some(m) => signed(m).map(|()| None),
        None => {
            let m = proof
                .manifest
                .clone()
                .unwrap_or_else(|| default_manifest(state.key));
            if manifest_hash(&m) != *state.key && !is_compat(state.key, &m) {
                return Err(ProofError::ManifestMismatch);
            }
            signed(&m).map(|()| Some(m))
        }
    }
}

/// A proof that does not grow the tree may still carry the manifest: it is adopted only
/// if it hashes to the key.
fn adopt_unsigned(state: &TrustedState<'_>, proof: &Proof) -> Result<Option<Manifest>, ProofError> {
    match (&proof.manifest, state.manifest) {
        (Some(m), None) if manifest_hash(m) != *state.key => Err(ProofError::ManifestMismatch),
        (Some(m), None) => Ok(Some(m.clone())),
        _ => Ok(None),
    }
}

/// Sorts by index and drops repeats (the same node is recorded by several steps).
fn sorted_unique(mut nodes: Vec<Node>) -> Result<Vec<Node>, ProofError> {
    nodes.sort_unstable_by_key(|n| n.index);
    if let Some(w) = nodes
        .windows(2)
        .find(|w| w[0].index == w[1].index && w[0] != w[1])
    {
        return Err(ProofError::ConflictingNodes(w[0].index));
    }
    nodes.dedup();
    Ok(nodes)
}
