//! # ferrocore-futures
//!
//! A runtime-agnostic binding of ferrocore's sans-IO replication [`Endpoint`] over
//! [`futures-io`](futures_lite::io) byte streams: it works with smol, async-io, async-std or
//! any executor, because it neither spawns tasks nor opens sockets itself. The application
//! brings
//!
//! * an executor: it spawns the [`Driver`] future (and one [`Connection`] future per
//!   connection);
//! * a [`Timer`]: any `Fn(Duration) -> impl Future` (`smol::Timer::after`,
//!   `async_std::task::sleep`, ...);
//! * its connections: anything `AsyncRead + AsyncWrite` (a TCP stream of its runtime; set
//!   `TCP_NODELAY` on it — with Nagle's algorithm live latency grows from about 2 ms to
//!   about 55 ms).
//!
//! A [`Node`] is a cheap, cloneable handle to the driver, which owns the endpoint. The
//! driver waits for commands, bytes from the connections and the endpoint's next deadline;
//! after each it drains the endpoint, queues bytes for the connections, answers pending
//! commands and forwards every [`Event`] to the subscribers of [`Node::events`]. A
//! connection whose queued, unwritten output exceeds [`MAX_BACKLOG`] is not read from until
//! the peer has taken some of it, so a peer that never reads cannot grow our memory.
//!
//! ```no_run
//! use ferrocore::replication::EndpointConfig;
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::wire::noise::Role;
//! use ferrocore::{Log, LogOptions};
//! use ferrocore_futures::Node;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     // With async-std: `Node::new(config, async_std::task::sleep)`, `async_std::task::spawn`.
//!     let (node, driver) = Node::new(EndpointConfig::default(), smol::Timer::after)?;
//!     smol::spawn(driver).detach();
//!
//!     let key = [0; 32]; // the core key, from the writer
//!     let log = Log::open(MemoryStorage::new(), LogOptions { key: Some(key), ..LogOptions::default() })?;
//!     let core = node.add_core(log).await?;
//!
//!     // We dialed, so we are the Noise initiator (an accepted stream is the responder).
//!     let stream = smol::net::TcpStream::connect("127.0.0.1:4000").await?;
//!     stream.set_nodelay(true)?;
//!     let connection = node.attach(stream, Role::Initiator).await?;
//!     smol::spawn(connection).detach();
//!
//!     let block = node.get(core, 0, None).await?;
//!     println!("{block:?}");
//!     Ok(())
//! })
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender};
use bytes::Bytes;
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, RequestId, SessionError, SessionId, TransportError,
};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::Log;
use ferrocore_driver::{Channel, Command as Op, Requests, Span};
use futures_lite::future;
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_lite::FutureExt as _;

pub use ferrocore;

/// Output queued for a connection but not yet written, in bytes, above which the
/// connection's input is no longer read (1 MiB). The bound is soft: input already read is
/// still handled, and the endpoint answers every request in it at once.
pub const MAX_BACKLOG: usize = 1 << 20;

/// Events a subscriber of [`Node::events`] may fall behind; past that its oldest unread
/// events are dropped.
pub const EVENT_CAPACITY: usize = 4096;

/// Bytes read from a connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Small writes are gathered up to this many bytes into one write.
const WRITE_COALESCE: usize = 64 * 1024;

/// How long a connection that ended in order may take to write its last bytes.
const LINGER: Duration = Duration::from_secs(5);

/// Input chunks (from all connections) that may wait for the driver.
const NET_QUEUE: usize = 64;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The clock of a runtime: a future that completes after a duration. Implemented for every
/// `Fn(Duration) -> impl Future + Send` closure, e.g. `|d| smol::Timer::after(d)` or
/// `|d| async_std::task::sleep(d)`.
pub trait Timer: Send + Sync + 'static {
    /// Completes `duration` from now (not earlier).
    fn sleep(&self, duration: Duration) -> BoxFuture<()>;
}

impl<F, Fut> Timer for F
where
    F: Fn(Duration) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
{
    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let sleep = self(duration);
        Box::pin(async move {
            sleep.await;
        })
    }
}

pub use ferrocore_driver::{CoreInfo, Error};

/// A one-shot reply (a channel of capacity 1).
type Reply<T> = Sender<Result<T, Error>>;

fn reply<T>() -> (Reply<T>, Receiver<Result<T, Error>>) {
    async_channel::bounded(1)
}

/// Replies go over async channels of capacity 1.
struct Async;

impl Channel for Async {
    type Reply<T> = Reply<T>;

    fn send<T>(reply: Reply<T>, result: Result<T, Error>) {
        let _ = reply.try_send(result);
    }

    fn is_closed<T>(reply: &Reply<T>) -> bool {
        reply.is_closed()
    }
}

enum Command<S: Storage> {
    /// What every adapter handles alike.
    Node(Op<Async, S>),
    Attach(Arc<Link>, Role, Reply<SessionId>),
    Shutdown(Sender<Endpoint<S>>),
}

/// What the connections tell the driver.
enum Net {
    Input(SessionId, Bytes),
    End(SessionId),
    /// A read or write failed.
    Failed(SessionId, TransportError),
    /// The writer wrote this many bytes of the session's output.
    Sent(SessionId, usize),
}

/// The driver's half of a connection, handed over when it is attached.
struct Link {
    out: Sender<Bytes>,
    control: Sender<Control>,
    backlog: Arc<Backlog>,
}

/// How a connection ends.
enum Control {
    /// Write what is queued (at most for [`LINGER`]), then close.
    Finish,
    /// Stop at once.
    Abort,
}

type Subscribers = Arc<Mutex<Vec<Sender<Event>>>>;

/// A handle to a replication node: one [`Endpoint`] inside a [`Driver`] future. Clones
/// share the node; the driver shuts down (closing every connection) when the last handle
/// is dropped, or at [`shutdown`](Self::shutdown).
pub struct Node<S: Storage> {
    commands: Sender<Command<S>>,
    net: Sender<Net>,
    subscribers: Subscribers,
    timer: Arc<dyn Timer>,
    public_key: [u8; 32],
}

impl<S: Storage> Clone for Node<S> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            net: self.net.clone(),
            subscribers: self.subscribers.clone(),
            timer: self.timer.clone(),
            public_key: self.public_key,
        }
    }
}

impl<S: Storage> std::fmt::Debug for Node<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// The future that runs a [`Node`]: spawn it on any executor. It ends when the node shuts
/// down.
#[must_use = "the node does nothing unless its driver is spawned"]
pub struct Driver {
    inner: BoxFuture<()>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

/// The future that runs one connection of a [`Node`] (from [`Node::attach`]): spawn it.
/// It ends when the session ends.
#[must_use = "the connection does nothing unless its future is spawned"]
pub struct Connection {
    session: SessionId,
    inner: BoxFuture<()>,
}

impl Connection {
    /// The connection's session.
    #[must_use]
    pub fn session(&self) -> SessionId {
        self.session
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Future for Connection {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl<S: Storage + Send + 'static> Node<S> {
    /// A node with a random static Noise key pair, and the driver to spawn.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    pub fn new(config: EndpointConfig, timer: impl Timer) -> Result<(Self, Driver), Error> {
        Ok(Self::with_key_pair(
            config,
            NoiseKeyPair::from_seed(ferrocore_driver::random()?),
            timer,
        ))
    }

    /// A node whose connections authenticate with `key_pair`, and the driver to spawn.
    pub fn with_key_pair(
        config: EndpointConfig,
        key_pair: NoiseKeyPair,
        timer: impl Timer,
    ) -> (Self, Driver) {
        let (commands, commands_rx) = async_channel::unbounded();
        let (net, net_rx) = async_channel::bounded(NET_QUEUE);
        let subscribers = Subscribers::default();
        let timer: Arc<dyn Timer> = Arc::new(timer);
        let node = Self {
            commands,
            net,
            subscribers: subscribers.clone(),
            timer: timer.clone(),
            public_key: key_pair.public_key,
        };
        let driver = DriverState {
            endpoint: Endpoint::new(config),
            origin: Instant::now(),
            key_pair,
            timer,
            links: HashMap::new(),
            requests: Requests::new(),
            subscribers,
        };
        let inner = Box::pin(driver.run(commands_rx, net_rx));
        (node, Driver { inner })
    }

    /// Our static public key (what peers see in [`Event::Connected`]).
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn send(&self, command: Command<S>) -> Result<(), Error> {
        self.commands.try_send(command).map_err(|_| Error::Shutdown)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command<S>) -> Result<T, Error> {
        let (tx, rx) = reply();
        self.send(make(tx))?;
        rx.recv().await.unwrap_or(Err(Error::Shutdown))
    }

    /// Replicates every core over a byte stream (a TCP connection: set `TCP_NODELAY` on
    /// it). By convention the side that dialed is the [`Role::Initiator`], the side that
    /// accepted the [`Role::Responder`]. Spawn the returned [`Connection`].
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Shutdown`].
    pub async fn attach<T>(&self, stream: T, role: Role) -> Result<Connection, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (out, out_rx) = async_channel::unbounded();
        let (control, control_rx) = async_channel::bounded(1);
        let backlog = Arc::new(Backlog::new());
        let link = Arc::new(Link {
            out,
            control,
            backlog: backlog.clone(),
        });
        let session = self.ask(|tx| Command::Attach(link, role, tx)).await?;
        let inner = Box::pin(run_connection(
            stream,
            session,
            backlog,
            out_rx,
            control_rx,
            self.net.clone(),
            self.timer.clone(),
        ));
        Ok(Connection { session, inner })
    }

    /// [`attach`](Self::attach)es a stream and runs the connection until the session ends.
    ///
    /// # Errors
    /// As [`attach`](Self::attach).
    pub async fn serve<T>(&self, stream: T, role: Role) -> Result<(), Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.attach(stream, role).await?.await;
        Ok(())
    }

    /// Adds a core, replicated with every connection, present and future.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub async fn add_core(&self, log: Log<S>) -> Result<CoreId, Error> {
        self.ask(|tx| Command::Node(Op::AddCore(Box::new(log), tx)))
            .await
    }

    /// Appends blocks to a writable core (one signature for the batch); returns the new
    /// length. Peers learn of them at once.
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub async fn append(&self, core: CoreId, blocks: Vec<Bytes>) -> Result<u64, Error> {
        self.ask(|tx| Command::Node(Op::Append(core, blocks, tx)))
            .await
    }

    /// Truncates a writable core to `length` blocks (a new fork).
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub async fn truncate(&self, core: CoreId, length: u64) -> Result<(), Error> {
        self.ask(|tx| Command::Node(Op::Truncate(core, length, tx)))
            .await
    }

    /// Block `index`: from local storage, or from the first peer that has it, waiting for
    /// it to be appended if need be. `timeout` bounds the wait
    /// ([`RequestError::Timeout`](ferrocore::replication::RequestError::Timeout)).
    /// Dropping the future cancels the request (when the node takes its next command).
    ///
    /// # Errors
    /// [`Error::Request`] when the request fails or times out.
    pub async fn get(
        &self,
        core: CoreId,
        index: u64,
        timeout: Option<Duration>,
    ) -> Result<Bytes, Error> {
        self.ask(|tx| Command::Node(Op::Get(core, index, timeout, tx)))
            .await
    }

    /// Downloads blocks `start..end` (`end: None`: from `start` on, following appends
    /// live, never ending by itself). Await the handle for the end; dropping it (or
    /// [`DownloadHandle::cancel`]) cancels the download.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub async fn download(
        &self,
        core: CoreId,
        start: u64,
        end: Option<u64>,
    ) -> Result<DownloadHandle<S>, Error> {
        self.start_download(core, Span::Range(start, end)).await
    }

    /// Downloads exactly these blocks (see [`download`](Self::download)).
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub async fn download_blocks(
        &self,
        core: CoreId,
        blocks: Vec<u64>,
    ) -> Result<DownloadHandle<S>, Error> {
        self.start_download(core, Span::Blocks(blocks)).await
    }

    async fn start_download(&self, core: CoreId, span: Span) -> Result<DownloadHandle<S>, Error> {
        let (done, done_rx) = reply();
        let request = self
            .ask(|tx| Command::Node(Op::Download(core, span, done, tx)))
            .await?;
        Ok(DownloadHandle {
            request,
            done: done_rx,
            node: self.clone(),
            finished: false,
        })
    }

    /// Learns the newest length from the connected peers (see [`Endpoint::update`]).
    ///
    /// # Errors
    /// [`Error::Request`] when it fails or times out.
    pub async fn update(&self, core: CoreId, timeout: Option<Duration>) -> Result<u64, Error> {
        self.ask(|tx| Command::Node(Op::Update(core, timeout, tx)))
            .await
    }

    /// Cancels a request (a download by its [`DownloadHandle::request`]).
    pub fn cancel(&self, request: RequestId) {
        let _ = self.send(Command::Node(Op::Cancel(request)));
    }

    /// A core's lengths, fork and peer count.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub async fn info(&self, core: CoreId) -> Result<CoreInfo, Error> {
        self.ask(|tx| Command::Node(Op::Info(core, tx))).await
    }

    /// Every [`Event`] of the node from now on, until the receiver is dropped. A subscriber
    /// more than [`EVENT_CAPACITY`] events behind loses its oldest unread events.
    #[must_use]
    pub fn events(&self) -> Receiver<Event> {
        let (tx, rx) = async_channel::bounded(EVENT_CAPACITY);
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tx);
        rx
    }

    /// Ends a connection in order.
    pub fn close(&self, session: SessionId) {
        let _ = self.send(Command::Node(Op::Close(session)));
    }

    /// Sends an extension message on a core's channel with a peer.
    ///
    /// # Errors
    /// [`Error::Core`] if the session has no channel for the core.
    pub async fn send_extension(
        &self,
        session: SessionId,
        core: CoreId,
        name: String,
        message: Bytes,
    ) -> Result<(), Error> {
        self.with_endpoint(move |ep| ep.send_extension(session, core, &name, &message))
            .await?
            .map_err(Error::Core)
    }

    /// Runs `f` on the endpoint inside the driver (for anything this handle does not wrap:
    /// peers, remote lengths, uploading switches, removing a core, reading a log). The
    /// endpoint's output is handled right after.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub async fn with_endpoint<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Endpoint<S>) -> R + Send + 'static,
    ) -> Result<R, Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.send(Command::Node(Op::Call(Box::new(move |ep| {
            let _ = tx.try_send(f(ep));
        }))))?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }

    /// Closes every connection in order (their last bytes are still written), fails
    /// pending requests with [`Error::Shutdown`] and hands back the endpoint (and with it
    /// the logs). The driver future then ends.
    ///
    /// # Errors
    /// [`Error::Shutdown`] if the node had already shut down.
    pub async fn shutdown(&self) -> Result<Endpoint<S>, Error> {
        let (tx, rx) = async_channel::bounded(1);
        self.send(Command::Shutdown(tx))?;
        rx.recv().await.map_err(|_| Error::Shutdown)
    }
}

/// A running download, from [`Node::download`]. Await it for its end; dropping it cancels
/// the download.
#[derive(Debug)]
pub struct DownloadHandle<S: Storage> {
    request: RequestId,
    done: Receiver<Result<(), Error>>,
    node: Node<S>,
    finished: bool,
}

impl<S: Storage + Send + 'static> DownloadHandle<S> {
    /// The endpoint's id of the download.
    #[must_use]
    pub fn request(&self) -> RequestId {
        self.request
    }

    /// Cancels the download: awaiting it yields
    /// [`RequestError::Cancelled`](ferrocore::replication::RequestError::Cancelled).
    pub fn cancel(&self) {
        self.node.cancel(self.request);
    }

    fn mark_finished(&mut self) {
        self.finished = true;
    }
}

impl<S: Storage + Send + 'static> IntoFuture for DownloadHandle<S> {
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<Result<(), Error>>;

    fn into_future(mut self) -> Self::IntoFuture {
        Box::pin(async move {
            let result = self.done.recv().await;
            // Ended: nothing to cancel when `self` is dropped.
            self.mark_finished();
            result.unwrap_or(Err(Error::Shutdown))
        })
    }
}

impl<S: Storage> Drop for DownloadHandle<S> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self
                .node
                .commands
                .try_send(Command::Node(Op::Cancel(self.request)));
        }
    }
}

/// Output queued for one connection, shared by the driver (which adds) and the connection
/// (which subtracts as it writes); the connection does not read while it is above
/// [`MAX_BACKLOG`].
struct Backlog {
    queued: AtomicUsize,
    /// A wake-up token (capacity 1) for a reader waiting for the backlog to drain.
    drained: Sender<()>,
    drained_rx: Receiver<()>,
}

impl Backlog {
    fn new() -> Self {
        let (drained, drained_rx) = async_channel::bounded(1);
        Self {
            queued: AtomicUsize::new(0),
            drained,
            drained_rx,
        }
    }

    fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    fn sub(&self, n: usize) {
        let before = self.queued.fetch_sub(n, Ordering::AcqRel);
        if before > MAX_BACKLOG && before - n <= MAX_BACKLOG {
            let _ = self.drained.try_send(());
        }
    }

    async fn wait(&self) {
        while self.queued.load(Ordering::Acquire) > MAX_BACKLOG {
            // A stale token only costs another look at the count.
            let _ = self.drained_rx.recv().await;
        }
    }
}

async fn run_connection<T>(
    stream: T,
    session: SessionId,
    backlog: Arc<Backlog>,
    out: Receiver<Bytes>,
    control: Receiver<Control>,
    net: Sender<Net>,
    timer: Arc<dyn Timer>,
) where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut read, mut write) = futures_lite::io::split(stream);
    let reader = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            backlog.wait().await;
            let msg = match read.read(&mut buf).await {
                Ok(0) => Net::End(session),
                Err(e) => Net::Failed(session, e.kind().into()),
                Ok(n) => Net::Input(session, Bytes::copy_from_slice(&buf[..n])),
            };
            let end = matches!(msg, Net::End(_) | Net::Failed(..));
            if net.send(msg).await.is_err() || end {
                break;
            }
        }
        // The connection ends when the driver says so.
        future::pending::<()>().await;
    };
    let writer = async {
        let mut gather = Vec::new();
        while let Ok(first) = out.recv().await {
            gather.clear();
            gather.extend_from_slice(&first);
            while gather.len() < WRITE_COALESCE {
                match out.try_recv() {
                    Ok(more) => gather.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            let written = match write.write_all(&gather).await {
                Ok(()) => write.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = written {
                let _ = net.send(Net::Failed(session, e.kind().into())).await;
                return;
            }
            backlog.sub(gather.len());
            // A driver that is gone no longer counts (it shut down).
            let _ = net.send(Net::Sent(session, gather.len())).await;
        }
        // The session ended in order and everything was written.
        let _ = write.close().await;
    };
    let control = async {
        match control.recv().await {
            Ok(Control::Finish) => timer.sleep(LINGER).await,
            Ok(Control::Abort) | Err(_) => {}
        }
    };
    writer.or(control).or(reader).await;
}

enum Wake<S: Storage> {
    Timer,
    Net(Net),
    Command(Option<Command<S>>),
}

struct DriverState<S: Storage> {
    endpoint: Endpoint<S>,
    origin: Instant,
    key_pair: NoiseKeyPair,
    timer: Arc<dyn Timer>,
    links: HashMap<SessionId, Arc<Link>>,
    requests: Requests<Async>,
    subscribers: Subscribers,
}

impl<S: Storage + Send + 'static> DriverState<S> {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn run(mut self, commands: Receiver<Command<S>>, net: Receiver<Net>) {
        // The armed sleep and the deadline it is for.
        let mut sleep: Option<(Duration, BoxFuture<()>)> = None;
        let mut turn = false;
        loop {
            self.flush();
            match self.endpoint.poll_timeout() {
                None => sleep = None,
                Some(deadline) => {
                    if sleep.as_ref().map(|(d, _)| *d) != Some(deadline) {
                        let wait = deadline.saturating_sub(self.now());
                        sleep = Some((deadline, self.timer.sleep(wait)));
                    }
                }
            }
            let timer = async {
                match &mut sleep {
                    Some((_, s)) => s.as_mut().await,
                    None => future::pending::<()>().await,
                }
                Wake::Timer
            };
            let input = async {
                match net.recv().await {
                    Ok(msg) => Wake::Net(msg),
                    // The driver's node handles hold senders, so this does not happen.
                    Err(_) => future::pending().await,
                }
            };
            let command = async { Wake::Command(commands.recv().await.ok()) };
            // The timer first (it fires at most once per deadline), then input and commands
            // in turns, so neither starves the other.
            turn = !turn;
            let wake = if turn {
                timer.or(input.or(command)).await
            } else {
                timer.or(command.or(input)).await
            };
            match wake {
                Wake::Timer => {
                    sleep = None;
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                }
                Wake::Net(msg) => self.on_net(msg),
                Wake::Command(Some(Command::Shutdown(reply))) => {
                    self.shutdown(&commands);
                    let _ = reply.try_send(self.endpoint);
                    return;
                }
                Wake::Command(Some(command)) => self.on_command(command),
                Wake::Command(None) => {
                    self.shutdown(&commands);
                    return;
                }
            }
        }
    }

    /// Drains the endpoint: bytes to the connections, events to their requests and
    /// subscribers.
    /// Events go out before bytes and append replies after both, as in the blocking
    /// driver: an application waiting for a verified block hears of it before the writes
    /// wake the peer, and an append returns once the peers were sent the new length.
    fn flush(&mut self) {
        loop {
            let mut busy = false;
            while let Some(event) = self.endpoint.poll_event() {
                busy = true;
                self.on_event(event);
            }
            busy |= self.flush_transmit();
            if !busy {
                // Appends return once the peers were sent the new length.
                self.requests.answer_appends();
                return;
            }
        }
    }

    fn flush_transmit(&mut self) -> bool {
        let mut busy = false;
        while let Some((session, bytes)) = self.endpoint.poll_transmit() {
            busy = true;
            if let Some(link) = self.links.get(&session) {
                link.backlog.add(bytes.len());
                // A connection that is gone has told us so.
                let _ = link.out.try_send(bytes);
            }
        }
        busy
    }

    fn on_event(&mut self, event: Event) {
        self.requests.on_event(&event);
        if let Event::Closed { session, error } = &event {
            // Whatever the endpoint queued for the session goes out first.
            self.flush_transmit();
            if let Some(link) = self.links.remove(session) {
                let how = if error.as_ref().is_none_or(SessionError::is_orderly) {
                    Control::Finish
                } else {
                    Control::Abort
                };
                let _ = link.control.try_send(how);
                link.out.close();
            }
        }
        let mut subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        subscribers.retain(|s| !s.is_closed());
        for s in subscribers.iter() {
            let _ = s.force_send(event.clone());
        }
    }

    fn on_net(&mut self, msg: Net) {
        match msg {
            Net::Input(session, bytes) => {
                if self.links.contains_key(&session) {
                    let now = self.now();
                    self.endpoint.handle_input(session, now, &bytes);
                }
            }
            Net::End(session) => self.endpoint.handle_end(session),
            Net::Failed(session, error) => self.endpoint.abort(session, error),
            Net::Sent(session, n) => self.endpoint.handle_sent(session, n),
        }
    }

    fn attach(&mut self, link: Arc<Link>, role: Role) -> Result<SessionId, Error> {
        let entropy = ferrocore_driver::entropy()?;
        let now = self.now();
        let session = self
            .endpoint
            .connect(role, self.key_pair.clone(), entropy, now);
        self.links.insert(session, link);
        Ok(session)
    }

    fn on_command(&mut self, command: Command<S>) {
        match command {
            Command::Node(op) => {
                let now = self.now();
                self.requests.handle(&mut self.endpoint, now, op);
            }
            Command::Attach(link, role, tx) => {
                let _ = tx.try_send(self.attach(link, role));
            }
            // Handled by `run`.
            Command::Shutdown(_) => {}
        }
    }

    fn shutdown(&mut self, commands: &Receiver<Command<S>>) {
        // Later commands fail at once; queued ones fail as their replies are dropped.
        commands.close();
        while commands.try_recv().is_ok() {}
        let sessions: Vec<SessionId> = self.endpoint.sessions().collect();
        for session in sessions {
            self.endpoint.close(session);
        }
        self.flush();
        // Pending requests fail with `Error::Shutdown` as their replies are dropped.
        self.requests.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backlog_holds_the_reader_until_drained() {
        let backlog = Backlog::new();
        backlog.add(MAX_BACKLOG + 10);
        let mut wait = Box::pin(backlog.wait());
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        backlog.sub(5);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        backlog.sub(5);
        assert!(wait.as_mut().poll(&mut cx).is_ready());
    }
}
