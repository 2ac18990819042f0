//! The driver's inbox: one queue for the handles' commands and the connections' news, so
//! the driver takes them in the order they came and neither starves the other.
//!
//! Sending never blocks, except socket input ([`Inbox::poll_send_input`]): at most
//! [`INPUT_QUEUE`] chunks of it wait for the driver, so a driver that falls behind slows
//! the readers down instead of buffering without bound. The driver side is polled with a
//! [`Context`] like any future; a blocking driver passes one whose waker wakes its
//! `poll(2)`.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Chunks of socket input (from all connections) that may wait for the driver.
pub const INPUT_QUEUE: usize = 64;

pub(crate) struct Inbox<M> {
    state: Mutex<State<M>>,
}

struct State<M> {
    /// Messages, each marked true if it is socket input.
    queue: VecDeque<(M, bool)>,
    inputs: usize,
    closed: bool,
    /// The driver, waiting for a message.
    driver: Option<Waker>,
    /// Readers waiting for room for their input.
    readers: Vec<Waker>,
}

impl<M> Inbox<M> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                inputs: 0,
                closed: false,
                driver: None,
                readers: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, mut state: MutexGuard<'_, State<M>>, msg: M, input: bool) {
        state.queue.push_back((msg, input));
        state.inputs += usize::from(input);
        let driver = state.driver.take();
        drop(state);
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    /// Queues `msg` for the driver; gives it back once the driver has stopped.
    pub(crate) fn send(&self, msg: M) -> Result<(), M> {
        let state = self.lock();
        if state.closed {
            return Err(msg);
        }
        self.push(state, msg, false);
        Ok(())
    }

    /// Queues socket input when there is room (taking it out of `msg`); `Ready(false)`
    /// once the driver has stopped.
    pub(crate) fn poll_send_input(&self, cx: &mut Context<'_>, msg: &mut Option<M>) -> Poll<bool> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(false);
        }
        if state.inputs >= INPUT_QUEUE {
            if !state.readers.iter().any(|w| w.will_wake(cx.waker())) {
                state.readers.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        if let Some(msg) = msg.take() {
            self.push(state, msg, true);
        }
        Poll::Ready(true)
    }

    /// The next message, or `Pending` (the driver is woken when one comes).
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<M> {
        let mut state = self.lock();
        match state.queue.pop_front() {
            Some((msg, input)) => {
                let readers = if input {
                    state.inputs -= 1;
                    std::mem::take(&mut state.readers)
                } else {
                    Vec::new()
                };
                drop(state);
                for r in readers {
                    r.wake();
                }
                Poll::Ready(msg)
            }
            None => {
                state.driver = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Stops taking messages; those queued are dropped (their callers' replies with them).
    pub(crate) fn close(&self) {
        let (queued, readers) = {
            let mut state = self.lock();
            state.closed = true;
            state.inputs = 0;
            (
                std::mem::take(&mut state.queue),
                std::mem::take(&mut state.readers),
            )
        };
        drop(queued);
        for r in readers {
            r.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_waits_for_room_and_commands_do_not() {
        let inbox = Inbox::new();
        let mut cx = Context::from_waker(Waker::noop());
        for i in 0..INPUT_QUEUE {
            let mut msg = Some(i);
            assert_eq!(inbox.poll_send_input(&mut cx, &mut msg), Poll::Ready(true));
            assert!(msg.is_none());
        }
        let mut more = Some(1000);
        assert!(inbox.poll_send_input(&mut cx, &mut more).is_pending());
        assert_eq!(inbox.send(2000), Ok(()));
        assert_eq!(inbox.poll_recv(&mut cx), Poll::Ready(0));
        assert_eq!(inbox.poll_send_input(&mut cx, &mut more), Poll::Ready(true));
        inbox.close();
        assert_eq!(inbox.send(1), Err(1));
        assert!(inbox.poll_recv(&mut cx).is_pending());
    }
}
