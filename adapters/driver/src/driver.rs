//! [`Driver`]: what a node does with each thing that happens to it, for every runtime.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, SessionError, SessionId, TransportError,
};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::SecretStream;

use crate::events::Subscribers;
use crate::inbox::Inbox;
use crate::reply::Replier;
use crate::requests::{Command, Requests};
use crate::Error;

/// The driver's half of one connection: where the session's output goes. The adapter
/// implements it over its socket (or the channel to the socket's writer).
pub trait Link: Send + 'static {
    /// Queues `bytes` for the connection's writer, in order.
    fn queue(&mut self, bytes: Bytes);

    /// Writes what the socket takes of `bufs` at once, without blocking and ahead of the
    /// writer, only if nothing is queued for it; returns the bytes written. The rest is
    /// [`queue`](Self::queue)d. By default nothing is written at once.
    fn send_now(&mut self, bufs: &[Bytes]) -> usize {
        let _ = bufs;
        0
    }

    /// The session ended. `orderly`: write what is queued (for a bounded time), then
    /// close the connection; otherwise drop it at once.
    fn finish(self, orderly: bool);
}

/// Logic that runs inside the driver beside the [`Endpoint`] (installed with
/// [`Node::set_plugin`](crate::Node::set_plugin)): it sees every event the endpoint emits
/// before the subscribers and requests do, may act on the endpoint at once (add a core a
/// peer asked for, reject it, remove an idle one), and has a deadline of its own on the
/// driver's clock. A corestore is one.
pub trait Plugin<S: Storage>: Send + 'static {
    /// The endpoint emitted `event`.
    fn on_event(&mut self, endpoint: &mut Endpoint<S>, event: &Event, now: Duration);

    /// The plugin's next deadline on the driver's clock, if it has one.
    fn poll_timeout(&self) -> Option<Duration> {
        None
    }

    /// The plugin's deadline passed (called when any deadline of the driver passes).
    fn handle_timeout(&mut self, endpoint: &mut Endpoint<S>, now: Duration) {
        let _ = (endpoint, now);
    }
}

/// Handles the messages of one extension on one core inside the driver (registered with
/// [`Node::register_extension`](crate::Node::register_extension)): called with the
/// endpoint, the sending session, the message and the driver's clock; false unregisters it.
pub type ExtensionHandler<S> =
    Box<dyn FnMut(&mut Endpoint<S>, SessionId, &Bytes, Duration) -> bool + Send>;

/// Builds a connection's [`Link`] once its session id is known.
pub(crate) type MakeLink<L> = Box<dyn FnOnce(SessionId) -> std::io::Result<L> + Send>;

/// How a new connection's secret-stream starts.
pub(crate) enum Start {
    /// With the Noise XX handshake in band, as this role.
    Handshake(Role),
    /// Ready-made by the caller from a handshake run elsewhere.
    Stream(Box<SecretStream>),
    /// From a handshake run elsewhere: the driver builds the stream with the endpoint's
    /// stream configuration, its clock and a random secretstream header.
    Finished(Box<HandshakeResult>),
}

/// A message to the driver, from a node handle or a connection. Opaque: adapters pass
/// what [`Driver::poll_msg`] gives to [`Driver::handle`].
pub struct Msg<S: Storage, L>(pub(crate) Inner<S, L>);

pub(crate) enum Inner<S: Storage, L> {
    Command(Command<S>),
    Attach(MakeLink<L>, Start, Replier<SessionId>),
    Input(SessionId, Bytes),
    End(SessionId),
    Failed(SessionId, TransportError),
    Sent(SessionId, usize),
    AtShutdown(Box<dyn FnOnce() + Send>),
    Plugin(Box<dyn Plugin<S>>),
    Extension(CoreId, String, ExtensionHandler<S>),
    Shutdown(Option<Replier<Endpoint<S>>>),
}

/// The node was asked to shut down: pass it to [`Driver::shutdown`].
#[must_use = "the driver must be shut down"]
pub struct Stop<S: Storage>(Option<Replier<Endpoint<S>>>);

/// Closes the inbox and the event feeds when the driver goes, however it goes, so no
/// caller waits forever for a driver that is gone.
struct Closer<M> {
    inbox: Arc<Inbox<M>>,
    subscribers: Arc<Subscribers>,
}

impl<M> Drop for Closer<M> {
    fn drop(&mut self) {
        self.inbox.close();
        self.subscribers.close();
    }
}

/// The runtime-independent body of every adapter's driver loop. It owns the
/// [`Endpoint`], the connections' [`Link`]s, the outstanding requests and the event
/// subscribers; the adapter owns the sockets and the waiting, and runs:
///
/// ```text
/// loop {
///     driver.flush();                     // bytes to the links, events out, replies
///     wait for driver.poll_msg(), socket input or driver.timeout();
///     message   => if let Some(stop) = driver.handle(msg) { driver.shutdown(stop); break }
///     input     => driver.on_input(session, bytes)   (or a message from a reader task)
///     deadline  => driver.on_timeout()
/// }
/// ```
pub struct Driver<S: Storage, L: Link> {
    endpoint: Endpoint<S>,
    origin: Instant,
    key_pair: NoiseKeyPair,
    links: HashMap<SessionId, L>,
    /// Sessions whose readers were told to wait (see [`is_stalled`](Self::is_stalled)).
    stalled: HashSet<SessionId>,
    requests: Requests,
    subscribers: Arc<Subscribers>,
    inbox: Arc<Inbox<Msg<S, L>>>,
    /// Bytes of socket input handed to the endpoint (the node's `bytes_received`).
    received: Arc<AtomicU64>,
    at_shutdown: Vec<Box<dyn FnOnce() + Send>>,
    plugin: Option<Box<dyn Plugin<S>>>,
    extensions: HashMap<(CoreId, String), ExtensionHandler<S>>,
    _closer: Closer<Msg<S, L>>,
}

impl<S: Storage + Send + 'static, L: Link> Driver<S, L> {
    pub(crate) fn new(
        config: EndpointConfig,
        key_pair: NoiseKeyPair,
        inbox: Arc<Inbox<Msg<S, L>>>,
        subscribers: Arc<Subscribers>,
        received: Arc<AtomicU64>,
    ) -> Self {
        let cancel = {
            let inbox = inbox.clone();
            Arc::new(move |id| {
                let _ = inbox.send(Msg(Inner::Command(Command::Cancel(id))));
            })
        };
        Self {
            endpoint: Endpoint::new(config),
            origin: Instant::now(),
            key_pair,
            links: HashMap::new(),
            stalled: HashSet::new(),
            requests: Requests::new(cancel),
            _closer: Closer {
                inbox: inbox.clone(),
                subscribers: subscribers.clone(),
            },
            subscribers,
            inbox,
            received,
            at_shutdown: Vec::new(),
            plugin: None,
            extensions: HashMap::new(),
        }
    }

    /// The endpoint's clock: time since the driver started.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The next message, or `Pending` (the context's waker is woken when one comes).
    pub fn poll_msg(&mut self, cx: &mut Context<'_>) -> Poll<Msg<S, L>> {
        self.inbox.poll_recv(cx)
    }

    /// True if a message waits in the inbox (a driver that spins before it sleeps checks
    /// this; [`poll_msg`](Self::poll_msg) takes it).
    #[must_use]
    pub fn has_msg(&self) -> bool {
        self.inbox.has_msg()
    }

    /// Handles a message; `Some` if it asks the node to shut down.
    pub fn handle(&mut self, msg: Msg<S, L>) -> Option<Stop<S>> {
        match msg.0 {
            Inner::Command(command) => {
                let now = self.now();
                self.requests.handle(&mut self.endpoint, now, command);
            }
            Inner::Attach(make, start, tx) => tx.send(self.attach(make, start)),
            Inner::Input(session, bytes) => self.on_input(session, &bytes),
            Inner::End(session) => self.on_end(session),
            Inner::Failed(session, error) => self.on_failed(session, error),
            Inner::Sent(session, n) => self.endpoint.handle_sent(session, n),
            Inner::AtShutdown(f) => self.at_shutdown.push(f),
            Inner::Plugin(p) => self.plugin = Some(p),
            Inner::Extension(core, name, handler) => {
                self.extensions.insert((core, name), handler);
            }
            Inner::Shutdown(reply) => return Some(Stop(reply)),
        }
        None
    }

    /// Bytes read from a session's connection.
    pub fn on_input(&mut self, session: SessionId, bytes: &[u8]) {
        if self.links.contains_key(&session) {
            self.received
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            let now = self.now();
            self.endpoint.handle_input(session, now, bytes);
        }
    }

    /// The session's connection reported end of input.
    pub fn on_end(&mut self, session: SessionId) {
        self.endpoint.handle_end(session);
    }

    /// A read or write on the session's connection failed.
    pub fn on_failed(&mut self, session: SessionId, error: TransportError) {
        self.endpoint.abort(session, error);
    }

    /// The endpoint's next deadline on the driver's clock ([`now`](Self::now)), if it has
    /// one.
    #[must_use]
    pub fn deadline(&self) -> Option<Duration> {
        let plugin = self.plugin.as_ref().and_then(|p| p.poll_timeout());
        match (self.endpoint.poll_timeout(), plugin) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How long until the endpoint's next deadline (zero once it passed), if it has one:
    /// wait at most that long, then call [`on_timeout`](Self::on_timeout).
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        let now = self.now();
        self.deadline().map(|d| d.saturating_sub(now))
    }

    /// The endpoint's deadline passed.
    pub fn on_timeout(&mut self) {
        let now = self.now();
        self.endpoint.handle_timeout(now);
        if let Some(p) = &mut self.plugin {
            if p.poll_timeout().is_some_and(|d| d <= now) {
                p.handle_timeout(&mut self.endpoint, now);
            }
        }
    }

    /// True while the session's input waits for the application
    /// ([`Endpoint::is_stalled`]: unknown cores the peer opened that nobody has answered
    /// yet, say): stop reading its socket until it is false again, so what the peer sends
    /// meanwhile waits in the network rather than in memory. Readers that hand input over
    /// through [`Reporter::input`](crate::Reporter::input) wait by themselves; a driver
    /// that reads its sockets itself asks this after each [`flush`](Self::flush).
    #[must_use]
    pub fn is_stalled(&self, session: SessionId) -> bool {
        self.endpoint.is_stalled(session)
    }

    /// The links of the live connections.
    pub fn links(&self) -> impl Iterator<Item = (SessionId, &L)> + '_ {
        self.links.iter().map(|(s, l)| (*s, l))
    }

    /// The link of a live connection.
    pub fn link_mut(&mut self, session: SessionId) -> Option<&mut L> {
        self.links.get_mut(&session)
    }

    fn attach(&mut self, make: MakeLink<L>, start: Start) -> Result<SessionId, Error> {
        let now = self.now();
        let session = match start {
            Start::Handshake(role) => {
                let entropy = crate::entropy()?;
                self.endpoint
                    .connect(role, self.key_pair.clone(), entropy, now)
            }
            Start::Stream(stream) => self.endpoint.add_stream(*stream),
            Start::Finished(result) => {
                let config = self.endpoint.config().stream;
                let stream = SecretStream::from_handshake(config, &result, crate::random()?, now);
                self.endpoint.add_stream(stream)
            }
        };
        match make(session) {
            Ok(link) => {
                self.links.insert(session, link);
                Ok(session)
            }
            Err(e) => {
                // The session never had a connection: end it.
                self.endpoint.close(session);
                Err(Error::Io(e))
            }
        }
    }

    /// Drains the endpoint: events to their requests and subscribers, bytes to the
    /// links, until neither has more; then answers the appends.
    ///
    /// Events go out before bytes and append replies after both: a write wakes the
    /// peer, which on a busy machine may take this core at once, so what an application
    /// waits for (a verified block) goes first, and an append returns once the peers
    /// were sent the new length.
    pub fn flush(&mut self) {
        loop {
            let mut busy = false;
            while let Some(event) = self.endpoint.poll_event() {
                busy = true;
                self.on_event(event);
            }
            busy |= self.flush_transmit();
            if !busy {
                break;
            }
        }
        self.requests.answer_appends();
        self.update_stalls();
    }

    /// Tells the readers of sessions that stalled to wait and those of sessions that no
    /// longer are (or are gone) to go on.
    fn update_stalls(&mut self) {
        let endpoint = &self.endpoint;
        let inbox = &self.inbox;
        self.stalled.retain(|&s| {
            let still = endpoint.is_stalled(s);
            if !still {
                inbox.set_stalled(s, false);
            }
            still
        });
        for &s in self.links.keys() {
            if endpoint.is_stalled(s) && self.stalled.insert(s) {
                inbox.set_stalled(s, true);
            }
        }
    }

    fn flush_transmit(&mut self) -> bool {
        let mut out: Vec<(SessionId, Vec<Bytes>)> = Vec::new();
        while let Some((session, bytes)) = self.endpoint.poll_transmit() {
            match out.iter_mut().find(|(s, _)| *s == session) {
                Some((_, queue)) => queue.push(bytes),
                None => out.push((session, vec![bytes])),
            }
        }
        let busy = !out.is_empty();
        for (session, mut queue) in out {
            let Some(link) = self.links.get_mut(&session) else {
                continue;
            };
            let n = link.send_now(&queue);
            if n > 0 {
                let mut left = n;
                queue.retain_mut(|b| {
                    let take = left.min(b.len());
                    b.advance(take);
                    left -= take;
                    !b.is_empty()
                });
                // Reporting it may let the endpoint queue more: the caller loops.
                self.endpoint.handle_sent(session, n);
            }
            for bytes in queue {
                link.queue(bytes);
            }
        }
        busy
    }

    fn on_event(&mut self, event: Event) {
        if let Some(p) = &mut self.plugin {
            let now = self.origin.elapsed();
            p.on_event(&mut self.endpoint, &event, now);
        }
        if let Event::Extension {
            session,
            core,
            name,
            message,
        } = &event
        {
            let now = self.origin.elapsed();
            let id = (*core, name.clone());
            if let Some(h) = self.extensions.get_mut(&id) {
                if !h(&mut self.endpoint, *session, message, now) {
                    self.extensions.remove(&id);
                }
            }
        }
        self.requests.on_event(&event);
        if let Event::Closed { session, error } = &event {
            // Whatever the endpoint queued for the session goes out first.
            self.flush_transmit();
            if let Some(link) = self.links.remove(session) {
                link.finish(error.as_ref().is_none_or(SessionError::is_orderly));
            }
        }
        self.subscribers.publish(&event);
    }

    /// Shuts the node down: later commands fail at once and queued ones as their replies
    /// are dropped; listeners stop; every connection is closed in order (its last bytes
    /// are still written); pending requests fail with [`Error::Shutdown`]; subscribers
    /// get their queued events, then the end; the endpoint goes to whoever asked.
    pub fn shutdown(mut self, stop: Stop<S>) {
        self.inbox.close();
        for f in self.at_shutdown.drain(..) {
            f();
        }
        let sessions: Vec<SessionId> = self.endpoint.sessions().collect();
        for session in sessions {
            self.endpoint.close(session);
        }
        self.flush();
        self.requests.clear();
        self.subscribers.close();
        if let Some(reply) = stop.0 {
            reply.send(Ok(self.endpoint));
        }
    }
}
