//! State that both threads and async tasks wait on.
//!
//! Every hand-over between a node's handles and its driver (replies, event feeds, a
//! connection's backlog) is a small piece of state behind a mutex that one side changes
//! and the other waits to see change. [`Watched`] is that, once: threads wait on a
//! condition variable, tasks register their [`Waker`], and a change wakes both. It is
//! what lets one driver serve blocking callers and async ones of any runtime alike.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::spin::spin_until;

/// A value behind a mutex that threads and tasks can wait on.
pub(crate) struct Watched<T> {
    inner: Mutex<Inner<T>>,
    changed: Condvar,
}

struct Inner<T> {
    value: T,
    /// Tasks waiting for the next change.
    wakers: Vec<Waker>,
    /// Threads waiting on the condition variable (a change notifies it only then).
    sleepers: usize,
}

impl<T> Watched<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(Inner {
                value,
                wakers: Vec::new(),
                sleepers: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads or changes the value without waking anyone.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock().value)
    }

    /// Changes the value and wakes every waiting thread and task.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let (result, wakers, sleepers) = {
            let mut inner = self.lock();
            let result = f(&mut inner.value);
            (result, std::mem::take(&mut inner.wakers), inner.sleepers)
        };
        if sleepers > 0 {
            self.changed.notify_all();
        }
        for waker in wakers {
            waker.wake();
        }
        result
    }

    /// `Ready` with what `f` takes from the value, or `Pending` (woken at the next change).
    pub(crate) fn poll<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut T) -> Option<R>,
    ) -> Poll<R> {
        let mut inner = self.lock();
        if let Some(r) = f(&mut inner.value) {
            return Poll::Ready(r);
        }
        if !inner.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            inner.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Blocks the thread until `f` takes something from the value, at most `timeout`
    /// (`None` once it passed). The thread checks for up to `spin` first
    /// ([`spin`](crate::spin)): for an answer the driver is about to give.
    pub(crate) fn wait<R>(
        &self,
        timeout: Option<Duration>,
        spin: Duration,
        mut f: impl FnMut(&mut T) -> Option<R>,
    ) -> Option<R> {
        let until = timeout.map(|t| Instant::now() + t);
        let mut taken = None;
        let budget = timeout.map_or(spin, |t| t.min(spin));
        if !budget.is_zero()
            && spin_until(budget, || {
                taken = f(&mut self.lock().value);
                taken.is_some()
            })
        {
            return taken;
        }
        let mut inner = self.lock();
        loop {
            if let Some(r) = f(&mut inner.value) {
                return Some(r);
            }
            inner.sleepers += 1;
            inner = match until {
                None => self
                    .changed
                    .wait(inner)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        inner.sleepers -= 1;
                        return None;
                    }
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            inner.sleepers -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::task::Waker;

    use super::*;

    #[test]
    fn a_change_wakes_a_waiting_thread_and_a_polling_task() {
        let w = Arc::new(Watched::new(0u32));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(w.poll(&mut cx, |v| (*v > 0).then_some(*v)).is_pending());
        let t = std::thread::spawn({
            let w = w.clone();
            move || w.wait(None, Duration::ZERO, |v| (*v > 0).then_some(*v))
        });
        w.update(|v| *v = 7);
        assert_eq!(t.join().unwrap(), Some(7));
        assert_eq!(w.poll(&mut cx, |v| (*v > 0).then_some(*v)), Poll::Ready(7));
        // A wait with a timeout gives up.
        assert_eq!(
            w.wait(
                Some(Duration::from_millis(1)),
                Duration::from_micros(50),
                |_| None::<()>
            ),
            None
        );
    }
}
