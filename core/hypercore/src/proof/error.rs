//! Errors of proof generation and verification.

use crate::ProofError;

/// Why a request cannot be answered: the requester's fault. The reference answers such
/// requests with `noData` (reason "invalid request").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// A number in the request is above 2^53 − 1 (JS peers cannot send it).
    #[error("number in request above 2^53 - 1")]
    NumberTooLarge,
    /// The upgrade range is empty or ends beyond the sender's length
    /// (`from ≥ to` or `to > head`).
    #[error("invalid upgrade range")]
    InvalidUpgrade,
    /// A seek together with an upgrade and a block/hash at or above `upgrade.start`.
    #[error("cannot both do a seek and block/hash request when upgrading")]
    SeekWithUpgrade,
    /// The requested node lies beyond the sender's length.
    #[error("requested node is beyond the sender's length")]
    OutOfRange,
    /// `nodes` climbs to a node that covers the end of the tree.
    #[error("nodes is out of bounds")]
    NodesOutOfBounds,
    /// The seek target lies outside the subtree the proof covers.
    #[error("invalid seek")]
    InvalidSeek,
    /// The block/hash (or seek) cannot be connected to the proof's subtree or upgrade.
    #[error("requested node cannot be placed in the proof")]
    Unreachable,
}

/// Why [`generate`](super::generate) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError<E> {
    /// The request is invalid (the requester's fault).
    #[error("invalid request: {0}")]
    Request(#[from] InvalidRequest),
    /// A tree node the proof needs is not stored by the sender.
    #[error("tree node {0} is not stored")]
    MissingNode(u64),
    /// A block was requested but no value was supplied.
    #[error("block {0} is not available")]
    MissingBlock(u64),
    /// The node source failed.
    #[error("node source failed: {0}")]
    Source(E),
}

/// Why [`verify`](super::verify) rejected a proof: the sender's fault, or the receiver's
/// storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError<E> {
    /// The proof is invalid (the sender's fault).
    #[error("{0}")]
    Proof(#[from] ProofError),
    /// The receiver's node source failed.
    #[error("node source failed: {0}")]
    Source(E),
    /// The receiver's trusted state is corrupt: its roots are not those of its length, or
    /// their sizes overflow.
    #[error("trusted state is inconsistent")]
    InvalidState,
}
