//! What a mirror reports: its diffs, its counts and its errors.

use ferrocore_hyperdrive::path::PathError;

use crate::side::SideError;

/// What a [`Diff`] does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// A source entry the target lacked (JS `'add'`).
    Add,
    /// A source entry that differed from the target's (JS `'change'`).
    Change,
    /// A target entry the source lacks, pruned (JS `'remove'`).
    Remove,
    /// A source entry equal to the target's, reported only with `include_equals` (JS
    /// `'equal'`).
    Equal,
}

impl Op {
    /// JS's name of the op.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Change => "change",
            Op::Remove => "remove",
            Op::Equal => "equal",
        }
    }
}

/// One step of a mirror (JS `{ op, key, bytesRemoved, bytesAdded }`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// What it does.
    pub op: Op,
    /// The entry's path.
    pub key: String,
    /// Bytes it adds to the target.
    pub bytes_added: u64,
    /// Bytes it removes from the target.
    pub bytes_removed: u64,
}

/// mirror-drive's `count` (JS `{ files, add, remove, change }`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Source entries compared (equal ones included).
    pub files: u64,
    /// Entries added.
    pub add: u64,
    /// Entries removed.
    pub remove: u64,
    /// Entries changed.
    pub change: u64,
}

/// What a whole mirror did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// The counts.
    pub count: Count,
    /// JS `bytesAdded`.
    pub bytes_added: u64,
    /// JS `bytesRemoved`.
    pub bytes_removed: u64,
}

/// Why a mirror stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// A prefix that names no path.
    #[error("bad prefix {prefix:?}: {error}")]
    Prefix {
        /// The prefix given.
        prefix: String,
        /// Why it does not resolve.
        error: PathError,
    },
    /// The source side failed.
    #[error("source {key}: {error}")]
    Source {
        /// The path at which it failed.
        key: String,
        /// Its error.
        error: SideError,
    },
    /// The target side failed.
    #[error("target {key}: {error}")]
    Target {
        /// The path at which it failed.
        key: String,
        /// Its error.
        error: SideError,
    },
}

impl MirrorError {
    pub(super) fn source(key: &str, error: impl Into<SideError>) -> Self {
        MirrorError::Source {
            key: key.into(),
            error: error.into(),
        }
    }

    pub(super) fn target(key: &str, error: impl Into<SideError>) -> Self {
        MirrorError::Target {
            key: key.into(),
            error: error.into(),
        }
    }
}
