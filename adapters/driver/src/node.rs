//! [`Node`]: the handle every adapter gives its callers, and [`DownloadHandle`].

use std::future::{poll_fn, Future};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, RequestId, SessionId, TransportError,
};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::SecretStream;
use ferrocore::Log;

use crate::driver::{Driver, Inner, Link, Msg, Plugin, Start};
use crate::events::{Events, Subscribers, EVENT_CAPACITY};
use crate::inbox::Inbox;
use crate::reply::{reply, Replier, Reply};
use crate::requests::{Canceller, Command, Span};
use crate::{CoreInfo, Error};

/// What makes a [`Node`] one adapter's: how its callers get answers and what its
/// connections are.
pub trait Adapter: 'static {
    /// The driver's half of a connection.
    type Link: Link;

    /// What a node method answers with a `T`: a future of the result for async
    /// adapters ([`Reply`]), the result itself for blocking ones.
    type Out<T: Send + 'static>;

    /// Turns a command's reply into what the method returns.
    fn out<T: Send + 'static>(reply: Reply<T>) -> Self::Out<T>;
}

/// What a node's handles share; dropping the last one stops the driver.
struct Shared<S: Storage, L> {
    inbox: Arc<Inbox<Msg<S, L>>>,
    subscribers: Arc<Subscribers>,
    received: Arc<AtomicU64>,
    public_key: [u8; 32],
}

impl<S: Storage, L> Drop for Shared<S, L> {
    fn drop(&mut self) {
        let _ = self.inbox.send(Msg(Inner::Shutdown(None)));
    }
}

/// A handle to a replication node: one [`Endpoint`] owned by a [`Driver`] that the
/// adapter runs (on a task or a thread). Clones share the node; the driver shuts down
/// (closing every connection) when the last handle is dropped, or at
/// [`shutdown`](Self::shutdown).
///
/// Every method that answers returns `A::Out<T>`: with an async adapter a [`Reply`]
/// (`.await` it; dropping it cancels a request still waiting for a peer), with the
/// blocking adapter the `Result` itself.
pub struct Node<S: Storage, A: Adapter> {
    shared: Arc<Shared<S, A::Link>>,
    _adapter: PhantomData<fn() -> A>,
}

impl<S: Storage, A: Adapter> Clone for Node<S, A> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _adapter: PhantomData,
        }
    }
}

impl<S: Storage, A: Adapter> std::fmt::Debug for Node<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("public_key", &self.shared.public_key)
            .finish_non_exhaustive()
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Node<S, A> {
    /// A node whose connections authenticate with `key_pair`, and the driver for the
    /// adapter to run.
    #[must_use]
    pub fn new(config: EndpointConfig, key_pair: NoiseKeyPair) -> (Self, Driver<S, A::Link>) {
        let inbox = Arc::new(Inbox::new());
        let subscribers = Arc::new(Subscribers::new(EVENT_CAPACITY));
        let public_key = key_pair.public_key;
        let received = Arc::new(AtomicU64::new(0));
        let driver = Driver::new(
            config,
            key_pair,
            inbox.clone(),
            subscribers.clone(),
            received.clone(),
        );
        let shared = Arc::new(Shared {
            inbox,
            subscribers,
            received,
            public_key,
        });
        let node = Self {
            shared,
            _adapter: PhantomData,
        };
        (node, driver)
    }

    /// Our static public key (what peers see in
    /// [`Event::Connected`](ferrocore::replication::Event::Connected)).
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.shared.public_key
    }

    /// Bytes read from all connections so far (keep-alives included): whether data is
    /// still arriving, e.g. while a large record of blocks is under way.
    #[must_use]
    pub fn bytes_received(&self) -> u64 {
        self.shared.received.load(Ordering::Relaxed)
    }

    fn send(&self, msg: Inner<S, A::Link>) -> Result<(), Inner<S, A::Link>> {
        self.shared.inbox.send(Msg(msg)).map_err(|m| m.0)
    }

    fn ask<T: Send + 'static>(
        &self,
        make: impl FnOnce(Replier<T>) -> Inner<S, A::Link>,
    ) -> A::Out<T> {
        A::out(self.ask_reply(make))
    }

    /// [`ask`](Self::ask) answered with the [`Reply`] itself, whatever the adapter (for
    /// the loops written once for every adapter, such as [`crate::bee`]).
    fn ask_reply<T: Send + 'static>(
        &self,
        make: impl FnOnce(Replier<T>) -> Inner<S, A::Link>,
    ) -> Reply<T> {
        let (tx, rx) = reply();
        // A driver that is gone drops the message, and with it `tx`: `rx` says Shutdown.
        let _ = self.send(make(tx));
        rx
    }

    /// [`try_with_endpoint_at`](Self::try_with_endpoint_at) as a [`Reply`].
    pub(crate) fn call_reply<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<S>) -> Result<R, Error> + Send + 'static,
    ) -> Reply<R> {
        self.ask_reply(|tx| Inner::Command(Command::Call(Box::new(move |ep, _| tx.send(f(ep))))))
    }

    /// [`get`](Self::get) as a [`Reply`].
    pub(crate) fn get_reply(
        &self,
        core: CoreId,
        index: u64,
        timeout: Option<Duration>,
    ) -> Reply<Bytes> {
        self.ask_reply(|tx| Inner::Command(Command::Get(core, index, timeout, tx)))
    }

    /// [`update`](Self::update) as a [`Reply`].
    pub(crate) fn update_reply(&self, core: CoreId, timeout: Option<Duration>) -> Reply<u64> {
        self.ask_reply(|tx| Inner::Command(Command::Update(core, timeout, tx)))
    }

    /// [`download_blocks`](Self::download_blocks) as a [`Reply`].
    pub(crate) fn download_reply(&self, core: CoreId, blocks: Vec<u64>) -> Reply<DownloadHandle> {
        self.ask_reply(|tx| Inner::Command(Command::Download(core, Span::Blocks(blocks), tx)))
    }

    /// [`truncate`](Self::truncate) as a [`Reply`].
    pub(crate) fn truncate_reply(&self, core: CoreId, length: u64) -> Reply<()> {
        self.ask_reply(|tx| Inner::Command(Command::Truncate(core, length, tx)))
    }

    fn command<T: Send + 'static>(&self, make: impl FnOnce(Replier<T>) -> Command<S>) -> A::Out<T> {
        self.ask(|tx| Inner::Command(make(tx)))
    }

    /// Adds a core, replicated with every connection, present and future.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub fn add_core(&self, log: Log<S>) -> A::Out<CoreId> {
        self.command(|tx| Command::AddCore(Box::new(log), tx))
    }

    /// Appends blocks to a writable core (one signature for the batch); answers the new
    /// length once the peers were sent it.
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub fn append(&self, core: CoreId, blocks: Vec<Bytes>) -> A::Out<u64> {
        self.command(|tx| Command::Append(core, blocks, tx))
    }

    /// Truncates a writable core to `length` blocks (a new fork).
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub fn truncate(&self, core: CoreId, length: u64) -> A::Out<()> {
        self.command(|tx| Command::Truncate(core, length, tx))
    }

    /// Block `index`: from local storage, or from the first peer that has it, waiting for
    /// it to be appended if need be. `timeout` bounds the wait
    /// ([`RequestError::Timeout`](ferrocore::replication::RequestError::Timeout)).
    ///
    /// # Errors
    /// [`Error::Request`] when the request fails or times out.
    pub fn get(&self, core: CoreId, index: u64, timeout: Option<Duration>) -> A::Out<Bytes> {
        self.command(|tx| Command::Get(core, index, timeout, tx))
    }

    /// Downloads blocks `start..end` (`end: None`: from `start` on, following appends
    /// live, never ending by itself). Wait on the [`DownloadHandle`] for the end;
    /// dropping it (or [`DownloadHandle::cancel`]) cancels the download.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn download(&self, core: CoreId, start: u64, end: Option<u64>) -> A::Out<DownloadHandle> {
        self.command(|tx| Command::Download(core, Span::Range(start, end), tx))
    }

    /// Downloads exactly these blocks (see [`download`](Self::download)).
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn download_blocks(&self, core: CoreId, blocks: Vec<u64>) -> A::Out<DownloadHandle> {
        self.command(|tx| Command::Download(core, Span::Blocks(blocks), tx))
    }

    /// Learns the newest length from the connected peers (see [`Endpoint::update`]).
    ///
    /// # Errors
    /// [`Error::Request`] when it fails or times out.
    pub fn update(&self, core: CoreId, timeout: Option<Duration>) -> A::Out<u64> {
        self.command(|tx| Command::Update(core, timeout, tx))
    }

    /// Cancels a request (a download by its [`DownloadHandle::request`]).
    pub fn cancel(&self, request: RequestId) {
        let _ = self.send(Inner::Command(Command::Cancel(request)));
    }

    /// A core's lengths, fork and peer count.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn info(&self, core: CoreId) -> A::Out<CoreInfo> {
        self.command(|tx| Command::Info(core, tx))
    }

    /// Every [`Event`](ferrocore::replication::Event) of the node from now on. See
    /// [`Events`] for what a subscriber that falls behind loses (never a terminal event:
    /// `Closed`, request results, ...).
    #[must_use]
    pub fn events(&self) -> Events {
        self.shared.subscribers.subscribe()
    }

    /// Ends a connection in order.
    pub fn close(&self, session: SessionId) {
        let _ = self.send(Inner::Command(Command::Close(session)));
    }

    /// Sends an extension message on a core's channel with a peer.
    ///
    /// # Errors
    /// [`Error::Core`] if the session has no channel for the core.
    pub fn send_extension(
        &self,
        session: SessionId,
        core: CoreId,
        name: impl AsRef<str>,
        message: impl AsRef<[u8]>,
    ) -> A::Out<()> {
        let name = name.as_ref().to_owned();
        let message = message.as_ref().to_vec();
        self.command(|tx| {
            Command::Call(Box::new(move |ep, _| {
                tx.send(
                    ep.send_extension(session, core, &name, &message)
                        .map_err(Error::Core),
                );
            }))
        })
    }

    /// Runs `f` on the endpoint inside the driver (for anything this handle does not wrap:
    /// peers, remote lengths, uploading switches, removing a core, reading a log). The
    /// endpoint's output is handled right after.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub fn with_endpoint<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<S>) -> R + Send + 'static,
    ) -> A::Out<R> {
        self.command(|tx| Command::Call(Box::new(move |ep, _| tx.send(Ok(f(ep))))))
    }

    /// [`with_endpoint`](Self::with_endpoint), also given the driver's clock (the `now`
    /// the endpoint and the [`Plugin`] are driven with).
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub fn with_endpoint_at<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<S>, Duration) -> R + Send + 'static,
    ) -> A::Out<R> {
        self.command(|tx| Command::Call(Box::new(move |ep, now| tx.send(Ok(f(ep, now))))))
    }

    /// [`with_endpoint_at`](Self::with_endpoint_at) for a fallible `f`: its error is the
    /// answer's.
    ///
    /// # Errors
    /// What `f` returns; [`Error::Shutdown`].
    pub fn try_with_endpoint_at<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<S>, Duration) -> Result<R, Error> + Send + 'static,
    ) -> A::Out<R> {
        self.command(|tx| Command::Call(Box::new(move |ep, now| tx.send(f(ep, now)))))
    }

    /// Installs `plugin` in the driver (replacing any earlier one): from then on it sees
    /// every endpoint event before the subscribers do, and the driver keeps its deadline.
    /// Commands sent after this call run after it is installed.
    pub fn set_plugin(&self, plugin: impl Plugin<S>) {
        let _ = self.send(Inner::Plugin(Box::new(plugin)));
    }

    /// Registers `handler` for the extension `name` on `core` (replacing an earlier one):
    /// from then on it runs inside the driver for every such message a peer sends, before
    /// the subscribers see it, until it answers false. Commands sent after this call run
    /// after it is registered.
    pub fn register_extension(
        &self,
        core: CoreId,
        name: impl Into<String>,
        handler: impl FnMut(&mut Endpoint<S>, SessionId, &Bytes, Duration) -> bool + Send + 'static,
    ) {
        let _ = self.send(Inner::Extension(core, name.into(), Box::new(handler)));
    }

    /// Closes every connection in order (their last bytes are still written), stops
    /// listening, fails pending requests with [`Error::Shutdown`] and hands back the
    /// endpoint (and with it the logs).
    ///
    /// # Errors
    /// [`Error::Shutdown`] if the node had already shut down.
    pub fn shutdown(&self) -> A::Out<Endpoint<S>> {
        self.ask(|tx| Inner::Shutdown(Some(tx)))
    }

    /// For adapters: replicates every core over a new connection, whose link `make`
    /// builds once the session has its id. `role`: by convention the side that dialed is
    /// the [`Role::Initiator`].
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Io`] if
    /// `make` fails.
    pub fn attach_link(
        &self,
        make: impl FnOnce(SessionId) -> std::io::Result<A::Link> + Send + 'static,
        role: Role,
    ) -> A::Out<SessionId> {
        self.ask(|tx| Inner::Attach(Box::new(make), Start::Handshake(role), tx))
    }

    /// For adapters: replicates every core over a connection whose Noise handshake ran
    /// elsewhere (hyperdht's IK, see [`NoiseWrap`](ferrocore::wire::noise::NoiseWrap)),
    /// with the secret-stream built from it
    /// ([`SecretStream::from_handshake`]; its clock should be this node's, which starts
    /// near zero when the node is created: a stream made at another time sends its first
    /// keep-alive early or late, nothing worse without an idle timeout). The link `make`
    /// builds carries the stream's bytes, starting with its header record.
    ///
    /// # Errors
    /// [`Error::Io`] if `make` fails.
    pub fn attach_stream_link(
        &self,
        make: impl FnOnce(SessionId) -> std::io::Result<A::Link> + Send + 'static,
        stream: SecretStream,
    ) -> A::Out<SessionId> {
        self.ask(|tx| Inner::Attach(Box::new(make), Start::Stream(Box::new(stream)), tx))
    }

    /// For adapters: as [`attach_stream_link`](Self::attach_stream_link), with the
    /// secret-stream built by the driver from `result` (the endpoint's stream
    /// configuration, the driver's clock, a random secretstream header).
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Io`] if
    /// `make` fails.
    pub fn attach_handshake_link(
        &self,
        make: impl FnOnce(SessionId) -> std::io::Result<A::Link> + Send + 'static,
        result: HandshakeResult,
    ) -> A::Out<SessionId> {
        self.ask(|tx| Inner::Attach(Box::new(make), Start::Finished(Box::new(result)), tx))
    }

    /// For adapters: runs `f` when the node shuts down (at once if it has), e.g. to stop
    /// a listener.
    pub fn at_shutdown(&self, f: impl FnOnce() + Send + 'static) {
        if let Err(Inner::AtShutdown(f)) = self.send(Inner::AtShutdown(Box::new(f))) {
            f();
        }
    }

    /// For adapters: what a connection's reader and writer tell the driver.
    #[must_use]
    pub fn reporter(&self) -> Reporter<S, A::Link> {
        Reporter {
            inbox: self.shared.inbox.clone(),
        }
    }

    /// A handle that does not keep the node running (for a listener's accept loop).
    #[must_use]
    pub fn downgrade(&self) -> WeakNode<S, A> {
        WeakNode {
            shared: Arc::downgrade(&self.shared),
            _adapter: PhantomData,
        }
    }
}

/// A [`Node`] handle that does not keep the node running.
pub struct WeakNode<S: Storage, A: Adapter> {
    shared: Weak<Shared<S, A::Link>>,
    _adapter: PhantomData<fn() -> A>,
}

impl<S: Storage, A: Adapter> Clone for WeakNode<S, A> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            _adapter: PhantomData,
        }
    }
}

impl<S: Storage, A: Adapter> WeakNode<S, A> {
    /// The node, unless every handle to it was dropped.
    #[must_use]
    pub fn upgrade(&self) -> Option<Node<S, A>> {
        self.shared.upgrade().map(|shared| Node {
            shared,
            _adapter: PhantomData,
        })
    }
}

/// What a connection's reader and writer tell the driver (for adapters). It does not
/// keep the node running; each method returns false once the driver has stopped.
pub struct Reporter<S: Storage, L> {
    inbox: Arc<Inbox<Msg<S, L>>>,
}

impl<S: Storage, L> Clone for Reporter<S, L> {
    fn clone(&self) -> Self {
        Self {
            inbox: self.inbox.clone(),
        }
    }
}

impl<S: Storage, L> Reporter<S, L> {
    fn send(&self, msg: Inner<S, L>) -> bool {
        self.inbox.send(Msg(msg)).is_ok()
    }

    /// Bytes read from the session's connection; waits while the driver has
    /// [`INPUT_QUEUE`](crate::INPUT_QUEUE) chunks of input to handle, and while the
    /// session is stalled ([`Driver::is_stalled`](crate::Driver::is_stalled)), so a reader
    /// that awaits this before reading more stops reading a stalled session. False once
    /// the driver has stopped.
    pub async fn input(&self, session: SessionId, bytes: Bytes) -> bool {
        let mut msg = Some(Msg(Inner::Input(session, bytes)));
        poll_fn(|cx| self.inbox.poll_send_input(cx, session, &mut msg)).await
    }

    /// The connection's input ended.
    pub fn end(&self, session: SessionId) -> bool {
        self.send(Inner::End(session))
    }

    /// A read or write failed.
    pub fn failed(&self, session: SessionId, error: TransportError) -> bool {
        self.send(Inner::Failed(session, error))
    }

    /// The writer wrote `n` bytes of the session's output.
    pub fn sent(&self, session: SessionId, n: usize) -> bool {
        self.send(Inner::Sent(session, n))
    }
}

/// A running download, from [`Node::download`]. Wait on it ([`wait`](Self::wait) or
/// `.await`) for its end; dropping it before then cancels the download.
pub struct DownloadHandle {
    request: RequestId,
    done: Reply<()>,
    cancel: Canceller,
    finished: bool,
}

impl DownloadHandle {
    pub(crate) fn new(request: RequestId, done: Reply<()>, cancel: Canceller) -> Self {
        Self {
            request,
            done,
            cancel,
            finished: false,
        }
    }

    /// The endpoint's id of the download.
    #[must_use]
    pub fn request(&self) -> RequestId {
        self.request
    }

    /// Cancels the download: waiting on it yields
    /// [`RequestError::Cancelled`](ferrocore::replication::RequestError::Cancelled).
    pub fn cancel(&self) {
        (self.cancel)(self.request);
    }

    /// Blocks the thread until the download ends.
    ///
    /// # Errors
    /// [`Error::Request`] if it failed or was cancelled; [`Error::Shutdown`].
    pub fn wait(mut self) -> Result<(), Error> {
        self.finished = true;
        self.done.block(None).unwrap_or(Err(Error::Shutdown))
    }

    /// Blocks the thread until the download ends or `timeout` passes (then `None`; the
    /// download goes on).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<(), Error>> {
        let result = self.done.block(Some(timeout));
        self.finished |= result.is_some();
        result
    }
}

impl Future for DownloadHandle {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = Pin::new(&mut self.done).poll(cx);
        self.finished |= result.is_ready();
        result
    }
}

impl Drop for DownloadHandle {
    fn drop(&mut self) {
        if !self.finished {
            self.cancel();
        }
    }
}

impl std::fmt::Debug for DownloadHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadHandle")
            .field("request", &self.request)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
