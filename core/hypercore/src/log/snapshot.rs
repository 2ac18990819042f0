//! Snapshots: a read view pinned to a length and fork.

use alloc::vec::Vec;
use bytes::Bytes;

use super::Log;
use crate::storage::Storage;
use crate::Error;

/// A read view of a log at one moment (see [`Log::snapshot`] and [`Log::get_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Length when taken.
    pub length: u64,
    /// Fork when taken.
    pub fork: u64,
    /// User-visible byte length when taken.
    pub byte_length: u64,
    /// Truncations the log had seen when taken.
    epoch: u64,
}

/// The truncations of a log since it was opened, as the minimum truncation length after
/// each epoch: a stack of `(epoch, length)` with both increasing, so its size is bounded
/// by the number of distinct increasing truncation points.
#[derive(Debug, Clone, Default)]
pub(crate) struct Truncations {
    epoch: u64,
    stack: Vec<(u64, u64)>,
}

impl Truncations {
    pub(crate) fn push(&mut self, length: u64) {
        self.epoch += 1;
        while self.stack.last().is_some_and(|&(_, l)| l >= length) {
            self.stack.pop();
        }
        self.stack.push((self.epoch, length));
    }

    /// The lowest length truncated to after `epoch`, if any.
    fn since(&self, epoch: u64) -> Option<u64> {
        self.stack
            .iter()
            .find(|&&(e, _)| e > epoch)
            .map(|&(_, l)| l)
    }
}

impl<S: Storage> Log<S> {
    /// A snapshot of the current state for consistent reads.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            length: self.state.length,
            fork: self.state.fork,
            byte_length: self.byte_length(),
            epoch: self.truncations.epoch,
        }
    }

    /// Block `index` as the snapshot saw it: `None` at/after the snapshot's length or when
    /// not stored locally.
    ///
    /// # Errors
    /// [`Error::SnapshotTruncated`] if the log was truncated to `index` or below since the
    /// snapshot (its block there may differ); else as [`get`](Self::get).
    pub fn get_at(&self, snapshot: &Snapshot, index: u64) -> Result<Option<Bytes>, Error> {
        if index >= snapshot.length {
            return Ok(None);
        }
        if let Some(length) = self.truncations.since(snapshot.epoch) {
            if index >= length {
                return Err(Error::SnapshotTruncated { length });
            }
        }
        self.get(index)
    }
}
