//! One-shot replies from the driver to a caller, awaited (`.await`) or waited for on a
//! thread ([`Reply::wait`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::spin::ANSWER_SPIN;
use crate::watch::Watched;
use crate::Error;

struct Slot<T> {
    value: Option<Result<T, Error>>,
    /// The replier sent or went away: nothing more will come.
    done: bool,
    /// The caller went away.
    abandoned: bool,
}

impl<T> Slot<T> {
    fn take(&mut self) -> Option<Result<T, Error>> {
        match self.value.take() {
            Some(v) => Some(v),
            None if self.done => Some(Err(Error::Shutdown)),
            None => None,
        }
    }
}

/// A new reply: the driver's half and the caller's.
pub(crate) fn reply<T>() -> (Replier<T>, Reply<T>) {
    let slot = Arc::new(Watched::new(Slot {
        value: None,
        done: false,
        abandoned: false,
    }));
    (Replier(slot.clone()), Reply(slot))
}

/// The driver's half of a [`Reply`]: answers once. Dropping it unanswered fails the
/// caller with [`Error::Shutdown`].
pub(crate) struct Replier<T>(Arc<Watched<Slot<T>>>);

impl<T> Replier<T> {
    /// Answers the caller (a caller that went away is no error).
    pub fn send(self, result: Result<T, Error>) {
        self.0.update(|s| {
            s.value = Some(result);
            s.done = true;
        });
    }

    /// True once the caller dropped its [`Reply`] (a dropped future): its request can
    /// be cancelled.
    pub fn is_closed(&self) -> bool {
        self.0.with(|s| s.abandoned)
    }
}

impl<T> Drop for Replier<T> {
    fn drop(&mut self) {
        if !self.0.with(|s| s.done) {
            self.0.update(|s| s.done = true);
        }
    }
}

impl<T> std::fmt::Debug for Replier<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replier").finish_non_exhaustive()
    }
}

/// The answer to a node command: `.await` it, or block on it with [`wait`](Self::wait).
/// It is [`Error::Shutdown`] if the node shut down first. Dropping it tells the driver
/// the caller went away, which cancels a request still waiting for a peer.
#[must_use = "a reply does nothing unless awaited or waited for"]
pub struct Reply<T>(Arc<Watched<Slot<T>>>);

impl<T> Reply<T> {
    /// Blocks the thread until the answer comes.
    ///
    /// # Errors
    /// The command's error, or [`Error::Shutdown`].
    pub fn wait(mut self) -> Result<T, Error> {
        self.block(None).unwrap_or(Err(Error::Shutdown))
    }

    /// Blocks the thread until the answer comes or `timeout` passes (then `None`: the
    /// command goes on, and the answer can still be waited for).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, Error>> {
        self.block(Some(timeout))
    }

    pub(crate) fn block(&mut self, timeout: Option<Duration>) -> Option<Result<T, Error>> {
        // An answer usually comes within microseconds: checked for a while before sleeping.
        self.0.wait(timeout, ANSWER_SPIN, Slot::take)
    }
}

impl<T> Future for Reply<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll(cx, Slot::take)
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        self.0.with(|s| s.abandoned = true);
    }
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reaches_a_thread_and_a_dropped_replier_means_shutdown() {
        let (tx, rx) = reply::<u32>();
        let t = std::thread::spawn(move || rx.wait());
        tx.send(Ok(5));
        assert_eq!(t.join().unwrap().unwrap(), 5);

        let (tx, mut rx) = reply::<u32>();
        assert!(rx.wait_timeout(Duration::from_millis(1)).is_none());
        drop(tx);
        assert!(matches!(rx.wait(), Err(Error::Shutdown)));

        let (tx, rx) = reply::<u32>();
        assert!(!tx.is_closed());
        drop(rx);
        assert!(tx.is_closed());
    }
}
