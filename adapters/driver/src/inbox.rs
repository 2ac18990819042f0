//! The driver's inbox: one queue for the handles' commands and the connections' news, so
//! the driver takes them in the order they came and neither starves the other.
//!
//! Sending never blocks, except socket input ([`Inbox::poll_send_input`]): at most
//! [`INPUT_QUEUE`] chunks of it wait for the driver, so a driver that falls behind slows
//! the readers down instead of buffering without bound; and a session the endpoint has
//! stalled ([`Endpoint::is_stalled`](ferrocore::replication::Endpoint::is_stalled): its
//! input waits for the application) takes none until the driver says it is no longer
//! stalled, so its reader stops reading. The driver side is polled with a
//! [`Context`] like any future; a blocking driver passes one whose waker wakes its
//! `poll(2)`.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use ferrocore::replication::SessionId;

/// Chunks of socket input (from all connections) that may wait for the driver.
pub const INPUT_QUEUE: usize = 64;

pub(crate) struct Inbox<M> {
    state: Mutex<State<M>>,
}

struct State<M> {
    /// Messages, each marked true if it is socket input.
    queue: VecDeque<(M, bool)>,
    inputs: usize,
    /// Sessions whose input waits for the application: their readers wait.
    stalled: HashSet<SessionId>,
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
                stalled: HashSet::new(),
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

    /// Queues socket input of `session` when there is room and the session is not
    /// stalled (taking it out of `msg`); `Ready(false)` once the driver has stopped.
    pub(crate) fn poll_send_input(
        &self,
        cx: &mut Context<'_>,
        session: SessionId,
        msg: &mut Option<M>,
    ) -> Poll<bool> {
        let mut state = self.lock();
        if state.closed {
            return Poll::Ready(false);
        }
        if state.inputs >= INPUT_QUEUE || state.stalled.contains(&session) {
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

    /// Marks `session` stalled (its reader waits) or not (its reader goes on).
    pub(crate) fn set_stalled(&self, session: SessionId, stalled: bool) {
        let mut state = self.lock();
        if stalled {
            state.stalled.insert(session);
            return;
        }
        if !state.stalled.remove(&session) {
            return;
        }
        let readers = std::mem::take(&mut state.readers);
        drop(state);
        for r in readers {
            r.wake();
        }
    }

    /// True if a message is queued.
    pub(crate) fn has_msg(&self) -> bool {
        !self.lock().queue.is_empty()
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

    fn sessions() -> [SessionId; 2] {
        use ferrocore::replication::{Endpoint, EndpointConfig};
        use ferrocore::storage::MemoryStorage;
        use ferrocore::wire::noise::{KeyPair, Role};
        use ferrocore::wire::stream::Entropy;
        let mut ep = Endpoint::<MemoryStorage>::new(EndpointConfig::default());
        [1, 2].map(|seed| {
            let entropy = Entropy {
                ephemeral_seed: [seed; 32],
                header: [seed; 24],
            };
            let keys = KeyPair::from_seed([seed; 32]);
            ep.connect(Role::Initiator, keys, entropy, core::time::Duration::ZERO)
        })
    }

    #[test]
    fn input_waits_for_room_and_commands_do_not() {
        let [s, _] = sessions();
        let inbox = Inbox::new();
        let mut cx = Context::from_waker(Waker::noop());
        for i in 0..INPUT_QUEUE {
            let mut msg = Some(i);
            assert_eq!(
                inbox.poll_send_input(&mut cx, s, &mut msg),
                Poll::Ready(true)
            );
            assert!(msg.is_none());
        }
        let mut more = Some(1000);
        assert!(inbox.poll_send_input(&mut cx, s, &mut more).is_pending());
        assert_eq!(inbox.send(2000), Ok(()));
        assert_eq!(inbox.poll_recv(&mut cx), Poll::Ready(0));
        assert_eq!(
            inbox.poll_send_input(&mut cx, s, &mut more),
            Poll::Ready(true)
        );
        inbox.close();
        assert_eq!(inbox.send(1), Err(1));
        assert!(inbox.poll_recv(&mut cx).is_pending());
    }

    /// Wakes count how often they were woken.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[test]
    fn a_stalled_sessions_input_waits_until_it_is_released() {
        let [stalled, other] = sessions();
        let inbox = Inbox::new();
        let count = std::sync::Arc::new(Count(0.into()));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        inbox.set_stalled(stalled, true);
        let mut held = Some(1);
        assert!(inbox
            .poll_send_input(&mut cx, stalled, &mut held)
            .is_pending());
        assert_eq!(held, Some(1), "the input stays with its reader");
        let mut free = Some(2);
        assert_eq!(
            inbox.poll_send_input(&mut cx, other, &mut free),
            Poll::Ready(true)
        );
        // Releasing another session, or one never stalled, wakes nobody.
        inbox.set_stalled(other, false);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 0);
        inbox.set_stalled(stalled, false);
        assert_eq!(count.0.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(
            inbox.poll_send_input(&mut cx, stalled, &mut held),
            Poll::Ready(true)
        );
        assert_eq!(inbox.poll_recv(&mut cx), Poll::Ready(2));
        assert_eq!(inbox.poll_recv(&mut cx), Poll::Ready(1));
        // A stopped driver releases every reader.
        inbox.set_stalled(stalled, true);
        inbox.close();
        assert_eq!(
            inbox.poll_send_input(&mut cx, stalled, &mut Some(3)),
            Poll::Ready(false)
        );
    }
}
