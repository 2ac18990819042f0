//! The application's outstanding requests on one core: gets, downloads, updates.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

/// Names one application request (a get, download or update) of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The number behind the id (unique within an endpoint).
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What a download covers.
#[derive(Debug, Clone)]
pub(crate) enum Span {
    /// `start..end`; `end: None` follows the core live (never completes).
    Range { end: Option<u64> },
    /// Exactly these blocks (those still missing).
    List(BTreeSet<u64>),
}

#[derive(Debug, Clone)]
pub(crate) struct Download {
    /// The first block of a range.
    pub start: u64,
    /// Every block from `start` below it is stored.
    pub cursor: u64,
    pub span: Span,
}

/// One core's wants.
#[derive(Debug, Default)]
pub(crate) struct Wants {
    /// Block index → the gets waiting for it.
    pub gets: BTreeMap<u64, Vec<RequestId>>,
    pub downloads: BTreeMap<RequestId, Download>,
    pub updates: BTreeSet<RequestId>,
    /// Deadlines in expiry order, and by request (so ending a request is one lookup).
    deadlines: BTreeSet<(Duration, RequestId)>,
    deadline_of: BTreeMap<RequestId, Duration>,
}

impl Wants {
    /// Sets the deadline of request `id`.
    pub fn set_deadline(&mut self, id: RequestId, deadline: Duration) {
        self.deadlines.insert((deadline, id));
        self.deadline_of.insert(id, deadline);
    }

    /// Forgets the deadline of a request that ended.
    pub fn clear_deadline(&mut self, id: RequestId) {
        if let Some(d) = self.deadline_of.remove(&id) {
            self.deadlines.remove(&(d, id));
        }
    }

    /// The earliest deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.deadlines.first().map(|(d, _)| *d)
    }

    /// The requests whose deadline is at or before `now`.
    pub fn due(&self, now: Duration) -> Vec<RequestId> {
        self.deadlines
            .range(..=(now, RequestId(u64::MAX)))
            .map(|(_, id)| *id)
            .collect()
    }

    /// True if block `i` is wanted (by a get or a download).
    pub fn wants(&self, i: u64) -> bool {
        self.gets.contains_key(&i)
            || self.downloads.values().any(|d| match &d.span {
                Span::Range { end } => d.start <= i && end.is_none_or(|e| i < e),
                Span::List(set) => set.contains(&i),
            })
    }

    /// True if something wants blocks at or past `length` (a reason to upgrade).
    pub fn wants_past(&self, length: u64) -> bool {
        !self.updates.is_empty()
            || self.gets.range(length..).next().is_some()
            || self.downloads.values().any(|d| match &d.span {
                Span::Range { end } => end.is_none_or(|e| e > length),
                Span::List(set) => set.range(length..).next().is_some(),
            })
    }
}
