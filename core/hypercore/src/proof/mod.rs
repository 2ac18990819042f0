//! Merkle proofs: **pure** generation and **pure** verification (spec §7).
//!
//! * Sender: [`generate`] answers a wire [`Request`](ferrocore_wire::Request) with a
//!   [`Proof`](crate::Proof) from its [`SenderState`] and a [`NodeSource`] of its tree
//!   nodes — byte-exact with the reference (`hypercore@11.37.1`).
//! * Receiver: [`verify`] checks a proof against its [`TrustedState`] and the nodes it
//!   already trusts, and returns a [`Verdict`]: either [`Verdict::Accepted`] with the
//!   [`VerifiedBatch`] to store/adopt, or [`Verdict::Ignored`] for another fork. Nothing
//!   is mutated; the storage layer applies the batch.
//! * Requester: [`missing_nodes`] computes the `nodes` field of block/hash requests.
//!
//! No I/O: nodes are read through [`NodeSource`], whose associated error type lets a
//! storage backend fail. Peer-supplied numbers above 2^53 − 1 are rejected; all other
//! arithmetic on them is checked; allocation is bounded by the size of the message.
//!
//! ```
//! use std::collections::BTreeMap;
//! use ferrocore::{flat_tree, hash, proof::*, wire::{Request, RequestBlock}};
//!
//! // A 4-block tree held by the sender.
//! let mut tree = BTreeMap::new();
//! for i in 0..4u64 {
//!     tree.insert(2 * i, hash::leaf(i, format!("block {i}").as_bytes()));
//! }
//! for (i, (a, b)) in [(1, (0, 2)), (5, (4, 6)), (3, (1, 5))] {
//!     let p = hash::parent(&tree[&a], &tree[&b]);
//!     assert_eq!(p.index, i);
//!     tree.insert(i, p);
//! }
//! let key = [7u8; 32];
//! let sender = SenderState { key: &key, manifest: None, fork: 0, length: 4, signature: None };
//! // The receiver knows the root (node 3) and asks for block 2 with 2 levels of uncles.
//! let request = Request { block: Some(RequestBlock { index: 2, nodes: 2 }), ..Request::default() };
//! let proof = generate(&sender, &tree, &request, Some(b"block 2"[..].into())).unwrap();
//! assert_eq!(proof.block.as_ref().unwrap().nodes.iter().map(|n| n.index).collect::<Vec<_>>(), [6, 1]);
//!
//! let roots = [tree[&3]];
//! let trusted: BTreeMap<u64, _> = roots.iter().map(|n| (n.index, *n)).collect();
//! let receiver = TrustedState { key: &key, manifest: None, fork: 0, length: 4, roots: &roots };
//! let Ok(Verdict::Accepted(batch)) = verify(&receiver, &trusted, &proof) else { panic!() };
//! assert_eq!(batch.block.unwrap().index, 2);
//! assert!(batch.upgrade.is_none());
//! ```

mod batch;
mod error;
mod generate;
mod missing;
mod queue;
mod seek;
mod source;
pub(crate) mod tree;
mod verify;

pub use error::{GenerateError, InvalidRequest, VerifyError};
pub use generate::{generate, SenderState};
pub use missing::{missing_nodes, MissingNodes};
pub use source::NodeSource;
pub(crate) use verify::verify_hashed;
pub use verify::{verify, TrustedState, Verdict, VerifiedBatch, VerifiedBlock, VerifiedUpgrade};

use ferrocore_wire::{DataUpgrade, Prologue, RequestUpgrade};

use crate::flat_tree::{depth, right_span};

/// The upgrade range a sender actually proves (spec §11.16): an upgrade that starts
/// inside the prologue is answered from 0 to the prologue's length (the additional nodes
/// then carry the receiver on); any other range is unchanged.
#[must_use]
pub fn prologue_upgrade(upgrade: RequestUpgrade, prologue: Option<&Prologue>) -> RequestUpgrade {
    match prologue {
        Some(p) if upgrade.start < p.length => RequestUpgrade {
            start: 0,
            length: p.length,
        },
        _ => upgrade,
    }
}

/// The length a receiver reaches by applying `upgrade` (the reference's
/// `MerkleTree.upgradeLength`): the end of the last additional node, else
/// `start + length`. The replicator uses it to track what it pushed.
#[must_use]
pub fn upgrade_length(upgrade: &DataUpgrade) -> u64 {
    match upgrade.additional_nodes.last() {
        Some(last) if depth(last.index) < tree::MAX_DEPTH && last.index <= tree::MAX_NUMBER => {
            right_span(last.index) / 2 + 1
        }
        _ => upgrade.start.saturating_add(upgrade.length),
    }
}
