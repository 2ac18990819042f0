//! A connection's queued, unwritten output, shared by the driver (which adds to it) and
//! the connection's writer (which takes from it as it writes).

use std::future::poll_fn;
use std::task::Context;

use crate::watch::Watched;

/// Output queued for a connection but not yet written, in bytes, above which the
/// connection's input is no longer read (1 MiB), so a peer that never reads cannot grow
/// our memory. The bound is soft: input already read is still handled, and the endpoint
/// answers every request in it at once.
pub const MAX_BACKLOG: usize = 1 << 20;

#[derive(Default)]
struct State {
    queued: usize,
    /// The session ended: nothing more is written at once (see [`Backlog::is_empty`]).
    closed: bool,
}

/// One connection's backlog (see [`MAX_BACKLOG`]).
pub struct Backlog(Watched<State>);

impl Default for Backlog {
    fn default() -> Self {
        Self::new()
    }
}

impl Backlog {
    /// Nothing queued.
    #[must_use]
    pub fn new() -> Self {
        Self(Watched::new(State::default()))
    }

    /// `n` more bytes were queued.
    pub fn add(&self, n: usize) {
        self.0.with(|s| s.queued += n);
    }

    /// `n` queued bytes were written; a reader waiting for room is woken once the backlog
    /// is back under [`MAX_BACKLOG`].
    pub fn sub(&self, n: usize) {
        let crossed = self.0.with(|s| {
            let before = s.queued;
            s.queued = before.saturating_sub(n);
            before > MAX_BACKLOG && s.queued <= MAX_BACKLOG
        });
        if crossed {
            self.0.update(|_| ());
        }
    }

    /// True while more than [`MAX_BACKLOG`] is queued: the connection is not read.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.0.with(|s| s.queued > MAX_BACKLOG)
    }

    /// True while nothing is queued for the writer (nor being written by it) and the
    /// session goes on: output may then be written at once, ahead of the writer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.with(|s| s.queued == 0 && !s.closed)
    }

    /// The session ended.
    pub fn close(&self) {
        self.0.with(|s| s.closed = true);
    }

    /// Waits until the backlog is at most [`MAX_BACKLOG`].
    pub async fn room(&self) {
        poll_fn(|cx: &mut Context<'_>| {
            self.0.poll(cx, |s| (s.queued <= MAX_BACKLOG).then_some(()))
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_full_backlog_holds_the_reader_until_drained() {
        let backlog = Backlog::new();
        assert!(backlog.is_empty() && !backlog.is_full());
        backlog.add(MAX_BACKLOG + 10);
        assert!(backlog.is_full());
        let mut room = Box::pin(backlog.room());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(room.as_mut().poll(&mut cx).is_pending());
        backlog.sub(5);
        assert!(room.as_mut().poll(&mut cx).is_pending());
        backlog.sub(5);
        assert!(room.as_mut().poll(&mut cx).is_ready());
        assert!(!backlog.is_full() && !backlog.is_empty());
        backlog.sub(MAX_BACKLOG);
        assert!(backlog.is_empty());
        backlog.close();
        assert!(!backlog.is_empty());
    }
}
