//! Events a [`Log`](super::Log) reports through [`poll_event`](super::Log::poll_event).

use alloc::collections::VecDeque;

/// Something that changed the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Local blocks were appended; the log now has `length` blocks. Consecutive appends
    /// not yet polled coalesce into one event with the latest length.
    Append {
        /// New length.
        length: u64,
    },
    /// The log was truncated to `length` at fork `fork`.
    Truncate {
        /// New length.
        length: u64,
        /// New fork id.
        fork: u64,
    },
    /// Blocks `start..end` were cleared locally.
    Clear {
        /// First cleared block.
        start: u64,
        /// One past the last cleared block.
        end: u64,
    },
    /// A block verified by a peer's proof was stored.
    Verified {
        /// Block index.
        index: u64,
    },
    /// A peer's proof grew the signed length.
    Upgrade {
        /// New length.
        length: u64,
        /// Fork of the signed state.
        fork: u64,
    },
}

/// The pending events, oldest first.
#[derive(Debug, Clone, Default)]
pub(crate) struct Events(VecDeque<Event>);

impl Events {
    pub(crate) fn push(&mut self, event: Event) {
        if let (Event::Append { .. }, Some(Event::Append { length })) = (event, self.0.back_mut()) {
            if let Event::Append { length: new } = event {
                *length = new;
            }
            return;
        }
        self.0.push_back(event);
    }

    pub(crate) fn pop(&mut self) -> Option<Event> {
        self.0.pop_front()
    }
}
