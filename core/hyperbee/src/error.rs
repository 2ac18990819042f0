//! What can go wrong: a hostile or damaged block, or a misuse by the caller.

use ferrocore_wire::DecodeError;

/// Why a Hyperbee operation failed.
///
/// Everything but [`BeeError::Poisoned`] and [`BeeError::UnexpectedBlock`] describes the
/// *blocks* (the writer's fault, or the disk's): the machines never panic on them and
/// never do unbounded work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BeeError {
    /// A block that does not decode as a node (`Node`, or its `YoloIndex`).
    #[error("block {seq} does not decode: {error}")]
    Decode {
        /// The block.
        seq: u64,
        /// The decoder's reason.
        error: DecodeError,
    },
    /// Block 0 does not decode as a header.
    #[error("header does not decode: {0}")]
    Header(DecodeError),
    /// A pointer to a block outside `1 .. version` (seq 0 is the header).
    #[error("block {from} points at block {seq}, outside 1..{version}")]
    SeqOutOfRange {
        /// The block holding the pointer (0 for the caller's own request).
        from: u64,
        /// The seq it names.
        seq: u64,
        /// The version being read.
        version: u64,
    },
    /// A child pointer to a node a block does not hold.
    #[error("block {seq} has no node at offset {offset}")]
    NoSuchNode {
        /// The block.
        seq: u64,
        /// The offset named.
        offset: u64,
    },
    /// A tree node that breaks the B-tree's shape (more than 8 keys, or a child count
    /// other than 0 or keys + 1, or an odd pointer list).
    #[error("block {seq}, node {offset}: {why}")]
    MalformedNode {
        /// The block.
        seq: u64,
        /// The node's offset in it.
        offset: usize,
        /// Which rule.
        why: &'static str,
    },
    /// The root block of the version holds no tree (an intermediate block of a batch, or
    /// a hostile block).
    #[error("block {0} holds no root node")]
    NoRoot(u64),
    /// A descent deeper than [`crate::MAX_DEPTH`] (a cycle in the pointers).
    #[error("tree deeper than {0} levels (a pointer cycle?)")]
    TooDeep(usize),
    /// One step visited more nodes than its budget allows.
    #[error("more than {0} nodes visited in one step")]
    Budget(usize),
    /// A history bound that names no block (before block 1).
    #[error("history bound {0} names no node block")]
    BadHistoryBound(i64),
    /// A checkpoint that is not `(seq, offset, i)` triples naming slots of real nodes.
    #[error("malformed iterator checkpoint")]
    BadCheckpoint,
    /// A block handed to [`handle_block`](crate::Machine::handle_block) that this operation did
    /// not ask for.
    #[error("block {0} was not asked for")]
    UnexpectedBlock(u64),
    /// A write that failed half-way (on hostile blocks) left the batch unusable.
    #[error("a previous error left this batch unusable")]
    Poisoned,
}
