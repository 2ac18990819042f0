//! Errors, split by blame.

use ferrocore_wire::DecodeError;

/// Why a proof from a peer was rejected. Always the peer's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// A proof node is not the node the verifier expected at that position.
    #[error("unexpected node in proof: expected index {expected}, got {got:?}")]
    UnexpectedNode {
        /// The flat-tree index the verifier needed next.
        expected: u64,
        /// The index that was there instead (`None` if the list ran out).
        got: Option<u64>,
    },
    /// Nodes left over after verification consumed what it needed.
    #[error("{0} unused node(s) in proof")]
    LeftoverNodes(usize),
    /// The proven subtree does not hash to a node the verifier trusts.
    #[error("proof does not connect to a trusted node (checksum mismatch at index {0})")]
    ChecksumMismatch(u64),
    /// The proof needs a trusted node the verifier does not have.
    #[error("proof needs trusted node {0}, which is not available")]
    MissingTrustedNode(u64),
    /// The upgrade's signature does not verify against the manifest.
    #[error("invalid signature")]
    InvalidSignature,
    /// The proof carries a manifest that does not hash to the core key.
    #[error("manifest does not match the core key")]
    ManifestMismatch,
    /// The verifier has no manifest and the proof carries none, so no signature can be checked.
    #[error("no manifest to verify the signature with")]
    MissingManifest,
    /// The upgrade starts inside the manifest's prologue without covering all of it.
    #[error("upgrade does not satisfy the prologue")]
    Prologue,
    /// The tree at the prologue's length does not hash to the prologue hash.
    #[error("tree hash does not match the prologue")]
    PrologueHash,
    /// Two different nodes with the same index.
    #[error("conflicting nodes at index {0}")]
    ConflictingNodes(u64),
    /// A number in the proof is above 2^53 − 1 (JS peers cannot send it).
    #[error("number in proof above 2^53 - 1")]
    NumberTooLarge,
    /// Structurally invalid (the message says which rule was broken).
    #[error("invalid proof: {0}")]
    Invalid(&'static str),
}

/// The crate's error type, split by blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed bytes (from a peer or from disk).
    #[error("malformed input: {0}")]
    Decode(#[from] DecodeError),
    /// A peer sent something that violates the protocol (bad proof, bad signature, ...).
    #[error("peer misbehaved: {0}")]
    Protocol(#[from] ProofError),
    /// A version or feature this implementation does not support.
    #[error("incompatible: {0}")]
    Incompatible(&'static str),
    /// Storage failed or holds damaged data (naming the record).
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    /// The caller's mistake (an argument out of range, an operation in the wrong state).
    #[error("misuse: {0}")]
    Misuse(&'static str),
    /// A peer's request cannot be answered (the requester's fault; answer with `noData`).
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] crate::proof::InvalidRequest),
    /// A tree node needed for the operation is not stored locally (e.g. dropped by a clear).
    #[error("tree node {0} is not stored locally")]
    MissingNode(u64),
    /// A block needed for the operation is not stored locally.
    #[error("block {0} is not stored locally")]
    MissingBlock(u64),
    /// A snapshot read at or above `length`, which was truncated after the snapshot was
    /// taken: the snapshot's view of those blocks is gone.
    #[error("snapshot invalidated: blocks from {length} were truncated")]
    SnapshotTruncated {
        /// The lowest length the log was truncated to since the snapshot.
        length: u64,
    },
}
