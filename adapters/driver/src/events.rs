//! The fan-out of a node's [`Event`]s to its subscribers, and the one policy for a
//! subscriber that falls behind.
//!
//! Each subscriber has a queue of its own. Events that end something an application may
//! be waiting for ([`is_terminal`]) are always kept. Other events are kept up to
//! [`EVENT_CAPACITY`]; past that the oldest of them are dropped and the subscriber's next
//! receive says how many ([`RecvError::Lagged`]). So a slow or idle subscriber costs
//! bounded memory for the chatty events (`Verified`, `Append`, ...) and still learns of
//! every closed connection and finished request.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use ferrocore::replication::Event;

use crate::watch::Watched;

/// Non-terminal events a subscriber may fall behind before its oldest are dropped.
pub const EVENT_CAPACITY: usize = 4096;

/// True for the events a subscriber never loses: they end something an application may
/// be waiting for, and nothing later repeats them.
///
/// * [`Event::Closed`]: a connection ended;
/// * [`Event::PeerRemoved`]: a peer's channel for a core closed;
/// * [`Event::Get`], [`Event::Download`], [`Event::Update`]: a request ended;
/// * [`Event::Truncate`]: a fork ended (blocks from its length on were replaced);
/// * [`Event::StorageFailed`]: data was not stored.
#[must_use]
pub fn is_terminal(event: &Event) -> bool {
    matches!(
        event,
        Event::Closed { .. }
            | Event::PeerRemoved { .. }
            | Event::Get { .. }
            | Event::Download { .. }
            | Event::Update { .. }
            | Event::Truncate { .. }
            | Event::StorageFailed { .. }
    )
}

/// Why [`Events`] gave no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// The subscriber fell more than [`EVENT_CAPACITY`] events behind and this many
    /// (non-terminal) events were dropped; receiving again goes on with the ones kept.
    #[error("lagged: {0} events dropped")]
    Lagged(u64),
    /// The node shut down and every event was received.
    #[error("the node has shut down")]
    Closed,
    /// No event was queued ([`Events::try_recv`]) or came in time
    /// ([`Events::recv_timeout`]).
    #[error("no event")]
    Empty,
}

/// One subscriber's queue. Terminal and other events are queued apart (so the oldest
/// other one is dropped in O(1)) and merged back in order by sequence number.
struct Feed {
    next: u64,
    terminal: VecDeque<(u64, Event)>,
    other: VecDeque<(u64, Event)>,
    capacity: usize,
    lagged: u64,
    closed: bool,
    /// The subscriber dropped its [`Events`].
    gone: bool,
}

impl Feed {
    fn push(&mut self, event: Event) {
        let seq = self.next;
        self.next += 1;
        if is_terminal(&event) {
            self.terminal.push_back((seq, event));
            return;
        }
        self.other.push_back((seq, event));
        if self.other.len() > self.capacity {
            self.other.pop_front();
            self.lagged += 1;
        }
    }

    fn take(&mut self) -> Option<Result<Event, RecvError>> {
        if self.lagged > 0 {
            return Some(Err(RecvError::Lagged(std::mem::take(&mut self.lagged))));
        }
        let queue = match (self.terminal.front(), self.other.front()) {
            (Some((t, _)), Some((o, _))) if o < t => &mut self.other,
            (Some(_), _) => &mut self.terminal,
            (None, Some(_)) => &mut self.other,
            (None, None) => return self.closed.then_some(Err(RecvError::Closed)),
        };
        queue.pop_front().map(|(_, e)| Ok(e))
    }
}

/// A node's subscribers: the driver publishes, the handles subscribe.
pub(crate) struct Subscribers {
    feeds: Mutex<(Vec<Arc<Watched<Feed>>>, bool)>,
    capacity: usize,
}

impl Subscribers {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            feeds: Mutex::new((Vec::new(), false)),
            capacity,
        }
    }

    /// A new subscriber, which sees every event from now on.
    pub(crate) fn subscribe(&self) -> Events {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        let feed = Arc::new(Watched::new(Feed {
            next: 0,
            terminal: VecDeque::new(),
            other: VecDeque::new(),
            capacity: self.capacity,
            lagged: 0,
            closed: feeds.1,
            gone: false,
        }));
        if !feeds.1 {
            feeds.0.push(feed.clone());
        }
        Events { feed }
    }

    /// Queues `event` for every subscriber (and forgets those that went away).
    pub(crate) fn publish(&self, event: &Event) {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.0.retain(|f| !f.with(|f| f.gone));
        for feed in &feeds.0 {
            feed.update(|f| f.push(event.clone()));
        }
    }

    /// The node shut down: each subscriber gets what is queued, then [`RecvError::Closed`].
    pub(crate) fn close(&self) {
        let mut feeds = self.feeds.lock().unwrap_or_else(PoisonError::into_inner);
        feeds.1 = true;
        for feed in feeds.0.drain(..) {
            feed.update(|f| f.closed = true);
        }
    }
}

/// A subscription to a node's [`Event`]s, from the node's `events()`: every event from
/// the moment it was made, in order, until the node shuts down.
///
/// **A subscriber that lags** (more than [`EVENT_CAPACITY`] events unread) loses its
/// oldest unread *non-terminal* events, and its next receive returns
/// [`RecvError::Lagged`] with how many; receiving again goes on with the events kept.
/// Terminal events ([`is_terminal`]: `Closed`, `PeerRemoved`, request results,
/// `Truncate`, `StorageFailed`) are never dropped, so waiting for one cannot hang
/// however far behind the subscriber is; they are kept past the capacity (one per
/// closed connection, ended request, ... while unread). Drop the subscription to stop
/// queueing.
///
/// Receive with [`recv`](Self::recv) (`.await`) in async code, or
/// [`recv_blocking`](Self::recv_blocking), [`recv_timeout`](Self::recv_timeout) and
/// [`try_recv`](Self::try_recv) on a thread.
pub struct Events {
    feed: Arc<Watched<Feed>>,
}

impl Events {
    /// The next event (a future).
    ///
    /// # Errors
    /// [`RecvError::Lagged`] after events were dropped; [`RecvError::Closed`] once the
    /// node shut down and every event was received.
    pub fn recv(&self) -> Recv<'_> {
        Recv { events: self }
    }

    /// The next event, blocking the thread until it comes.
    ///
    /// # Errors
    /// As [`recv`](Self::recv).
    pub fn recv_blocking(&self) -> Result<Event, RecvError> {
        self.feed
            .wait(None, Duration::ZERO, Feed::take)
            .unwrap_or(Err(RecvError::Closed))
    }

    /// The next event, blocking the thread at most `timeout`.
    ///
    /// # Errors
    /// As [`recv`](Self::recv); [`RecvError::Empty`] if none came in time.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvError> {
        self.feed
            .wait(Some(timeout), Duration::ZERO, Feed::take)
            .unwrap_or(Err(RecvError::Empty))
    }

    /// The next event if one is queued.
    ///
    /// # Errors
    /// As [`recv`](Self::recv); [`RecvError::Empty`] if none is queued.
    pub fn try_recv(&self) -> Result<Event, RecvError> {
        self.feed.with(Feed::take).unwrap_or(Err(RecvError::Empty))
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.feed.with(|f| {
            f.gone = true;
            f.terminal.clear();
            f.other.clear();
        });
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

/// The future of [`Events::recv`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Recv<'a> {
    events: &'a Events,
}

impl Future for Recv<'_> {
    type Output = Result<Event, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.events.feed.poll(cx, Feed::take)
    }
}

#[cfg(test)]
mod tests {
    use ferrocore::keys::KeyPair;
    use ferrocore::replication::{CoreId, Endpoint, EndpointConfig, SessionId};
    use ferrocore::storage::MemoryStorage;
    use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
    use ferrocore::wire::stream::Entropy;
    use ferrocore::{Log, LogOptions};

    use super::*;

    /// A core id and two session ids (the types have no public constructors).
    fn ids() -> (CoreId, SessionId, SessionId) {
        let mut ep = Endpoint::new(EndpointConfig::default());
        let options = LogOptions {
            key_pair: Some(KeyPair::from_seed(&[1; 32])),
            ..LogOptions::default()
        };
        let core = ep.add_core(Log::open(MemoryStorage::new(), options).unwrap());
        let mut session = || {
            let entropy = Entropy {
                ephemeral_seed: [2; 32],
                header: [3; 24],
            };
            let noise = NoiseKeyPair::from_seed([4; 32]);
            ep.connect(Role::Initiator, noise, entropy, Duration::ZERO)
        };
        (core, session(), session())
    }

    fn verified(index: u64) -> Event {
        Event::Verified {
            core: ids().0,
            index,
        }
    }

    fn closed(first: bool) -> Event {
        let (_, a, b) = ids();
        Event::Closed {
            session: if first { a } else { b },
            error: None,
        }
    }

    #[test]
    fn a_subscriber_that_never_reads_still_gets_every_terminal_event() {
        let subs = Subscribers::new(8);
        let events = subs.subscribe();
        subs.publish(&closed(true));
        for i in 0..100 {
            subs.publish(&verified(i));
        }
        subs.publish(&closed(false));
        subs.publish(&verified(100));
        subs.close();
        // The 101 `Verified` events overflowed a queue of 8: the oldest 93 went.
        assert_eq!(events.try_recv(), Err(RecvError::Lagged(93)));
        let mut got = Vec::new();
        loop {
            match events.recv_blocking() {
                Ok(e) => got.push(e),
                Err(RecvError::Closed) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // Both closes, in order with the newest other events.
        let mut expected = vec![closed(true)];
        expected.extend((93..100).map(verified));
        expected.extend([closed(false), verified(100)]);
        assert_eq!(got, expected);
    }

    #[test]
    fn a_subscriber_that_keeps_up_loses_nothing() {
        let subs = Subscribers::new(4);
        let events = subs.subscribe();
        for i in 0..100 {
            subs.publish(&verified(i));
            assert_eq!(events.try_recv(), Ok(verified(i)));
        }
        assert_eq!(events.try_recv(), Err(RecvError::Empty));
        // A dropped subscriber is forgotten; a late one sees the node closed.
        drop(events);
        subs.publish(&verified(0));
        assert!(subs.feeds.lock().unwrap().0.is_empty());
        subs.close();
        assert_eq!(subs.subscribe().try_recv(), Err(RecvError::Closed));
    }
}
