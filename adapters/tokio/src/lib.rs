//! # ferrocore-tokio
//!
//! A thin [Tokio](https://tokio.rs) binding of ferrocore's sans-IO replication
//! [`Endpoint`]: it owns the TCP sockets, the timer, the clock and the OS random number
//! generator; every bit of protocol behaviour stays in the endpoint.
//!
//! A [`Node`] is a cheap, cloneable handle to one driver task that owns the endpoint. The
//! driver waits for commands from the handles, bytes from the sockets and the endpoint's
//! next deadline; after each it drains the endpoint's output, writes the bytes to the
//! sockets, answers pending commands and forwards every [`Event`] to the subscribers of
//! [`Node::events`]. Each connection has one reader and one writer task; a connection whose
//! queued, unwritten output exceeds [`MAX_BACKLOG`] is not read from until the peer has
//! taken some of it, so a peer that never reads cannot grow our memory.
//!
//! ```no_run
//! use bytes::Bytes;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::replication::EndpointConfig;
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::{Log, LogOptions};
//! use ferrocore_tokio::Node;
//!
//! # async fn run() -> Result<(), ferrocore_tokio::Error> {
//! // A writer serving one core on port 4000...
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[7; 32])), ..LogOptions::default() };
//! let log = Log::open(MemoryStorage::new(), options)?;
//! let key = *log.key();
//! let writer = Node::new(EndpointConfig::default())?;
//! let core = writer.add_core(log).await?;
//! writer.append(core, vec![Bytes::from("hello")]).await?;
//! let addr = writer.listen("127.0.0.1:4000").await?;
//!
//! // ...and a reader fetching block 0 from it.
//! let reader = Node::new(EndpointConfig::default())?;
//! let log = Log::open(MemoryStorage::new(), LogOptions { key: Some(key), ..LogOptions::default() })?;
//! let core = reader.add_core(log).await?;
//! reader.connect(addr).await?;
//! assert_eq!(reader.get(core, 0, None).await?, "hello");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, RequestId, SessionError, SessionId, TransportError,
};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::Log;
use ferrocore_driver::{Channel, Command as Op, Requests, Span};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::{broadcast, mpsc, oneshot, Notify};
use tokio::task::JoinHandle;

pub use ferrocore;

/// Output queued for a connection but not yet written, in bytes, above which the
/// connection's input is no longer read (1 MiB). The bound is soft: input already read is
/// still handled, and the endpoint answers every request in it at once.
pub const MAX_BACKLOG: usize = 1 << 20;

/// Events a subscriber of [`Node::events`] may fall behind before it lags (misses some).
pub const EVENT_CAPACITY: usize = 4096;

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Small writes are gathered up to this many bytes into one socket write.
const WRITE_COALESCE: usize = 64 * 1024;

/// How long a connection that ended in order may take to write its last bytes.
const LINGER: Duration = Duration::from_secs(5);

/// Input chunks (from all connections) that may wait for the driver.
const NET_QUEUE: usize = 64;

pub use ferrocore_driver::{CoreInfo, Error};

type Reply<T> = oneshot::Sender<Result<T, Error>>;

/// Replies go over Tokio one-shot channels.
struct Tokio;

impl Channel for Tokio {
    type Reply<T> = Reply<T>;

    fn send<T>(reply: Reply<T>, result: Result<T, Error>) {
        let _ = reply.send(result);
    }

    fn is_closed<T>(reply: &Reply<T>) -> bool {
        reply.is_closed()
    }
}

enum Command<S: Storage> {
    /// What every adapter handles alike.
    Node(Op<Tokio, S>),
    Attach(TcpStream, Role, Reply<SessionId>),
    Listen(TcpListener),
    Shutdown(oneshot::Sender<Endpoint<S>>),
}

/// What the socket tasks tell the driver.
enum Net {
    Input(SessionId, Bytes),
    End(SessionId),
    /// A read or write failed.
    Failed(SessionId, TransportError),
    /// The writer wrote this many bytes of the session's output.
    Sent(SessionId, usize),
    Accepted(TcpStream),
}

/// A handle to a replication node: one [`Endpoint`] driven by a Tokio task. Clones share
/// the node; the driver shuts down (closing every connection) when the last handle is
/// dropped, or at [`shutdown`](Self::shutdown).
pub struct Node<S: Storage> {
    commands: mpsc::UnboundedSender<Command<S>>,
    events: broadcast::Sender<Event>,
    public_key: [u8; 32],
}

impl<S: Storage> Clone for Node<S> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            events: self.events.clone(),
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

impl<S: Storage + Send + 'static> Node<S> {
    /// Starts a node with a random static Noise key pair.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the driver is spawned with [`tokio::spawn`]).
    pub fn new(config: EndpointConfig) -> Result<Self, Error> {
        Ok(Self::with_key_pair(
            config,
            NoiseKeyPair::from_seed(ferrocore_driver::random()?),
        ))
    }

    /// Starts a node whose connections authenticate with `key_pair` (its public key is what
    /// peers see as ours).
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    pub fn with_key_pair(config: EndpointConfig, key_pair: NoiseKeyPair) -> Self {
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (net, net_rx) = mpsc::channel(NET_QUEUE);
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let public_key = key_pair.public_key;
        let driver = Driver {
            endpoint: Endpoint::new(config),
            origin: Instant::now(),
            key_pair,
            conns: HashMap::new(),
            requests: Requests::new(),
            events: events.clone(),
            net,
            listeners: Vec::new(),
        };
        tokio::spawn(driver.run(commands_rx, net_rx));
        Self {
            commands,
            events,
            public_key,
        }
    }

    /// Our static public key (what peers see in [`Event::Connected`]).
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    fn send(&self, command: Command<S>) -> Result<(), Error> {
        self.commands.send(command).map_err(|_| Error::Shutdown)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command<S>) -> Result<T, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(make(tx))?;
        rx.await.unwrap_or(Err(Error::Shutdown))
    }

    /// Accepts connections on `addr` (as the Noise responder) until the node shuts down.
    /// Returns the bound address (useful with port 0).
    ///
    /// # Errors
    /// When binding fails.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        self.send(Command::Listen(listener))?;
        Ok(local)
    }

    /// Dials `addr` and replicates every core with it (as the Noise initiator).
    ///
    /// # Errors
    /// When the connection cannot be made.
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> Result<SessionId, Error> {
        let stream = TcpStream::connect(addr).await?;
        self.add_stream(stream, Role::Initiator).await
    }

    /// Replicates over a TCP connection made elsewhere. By convention the side that dialed
    /// is the [`Role::Initiator`].
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    pub async fn add_stream(&self, stream: TcpStream, role: Role) -> Result<SessionId, Error> {
        self.ask(|tx| Command::Attach(stream, role, tx)).await
    }

    /// Adds a core, replicated with every connection, present and future.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub async fn add_core(&self, log: Log<S>) -> Result<CoreId, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Node(Op::AddCore(Box::new(log), tx)))?;
        rx.await.unwrap_or(Err(Error::Shutdown))
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
        let (done, done_rx) = oneshot::channel();
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

    /// Every [`Event`] of the node from now on. A subscriber more than [`EVENT_CAPACITY`]
    /// events behind lags ([`broadcast::error::RecvError::Lagged`]).
    #[must_use]
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
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
        let (tx, rx) = oneshot::channel();
        self.send(Command::Node(Op::Call(Box::new(move |ep| {
            let _ = tx.send(f(ep));
        }))))?;
        rx.await.map_err(|_| Error::Shutdown)
    }

    /// Closes every connection in order (their last bytes are still written), stops
    /// listening, fails pending requests with [`Error::Shutdown`] and hands back the
    /// endpoint (and with it the logs).
    ///
    /// # Errors
    /// [`Error::Shutdown`] if the node had already shut down.
    pub async fn shutdown(&self) -> Result<Endpoint<S>, Error> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Shutdown(tx))?;
        rx.await.map_err(|_| Error::Shutdown)
    }
}

/// A running download, from [`Node::download`]. Await it for its end; dropping it cancels
/// the download.
#[derive(Debug)]
pub struct DownloadHandle<S: Storage> {
    request: RequestId,
    done: oneshot::Receiver<Result<(), Error>>,
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
}

impl<S: Storage> Future for DownloadHandle<S> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = ready!(Pin::new(&mut self.done).poll(cx));
        self.finished = true;
        Poll::Ready(result.unwrap_or(Err(Error::Shutdown)))
    }
}

impl<S: Storage> Drop for DownloadHandle<S> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self
                .node
                .commands
                .send(Command::Node(Op::Cancel(self.request)));
        }
    }
}

/// Output queued for one connection, shared by the driver (which adds) and the writer
/// (which subtracts); the reader waits while it is above [`MAX_BACKLOG`].
#[derive(Default)]
struct Backlog {
    queued: AtomicUsize,
    drained: Notify,
}

impl Backlog {
    fn add(&self, n: usize) {
        self.queued.fetch_add(n, Ordering::AcqRel);
    }

    fn sub(&self, n: usize) {
        let before = self.queued.fetch_sub(n, Ordering::AcqRel);
        if before > MAX_BACKLOG && before - n <= MAX_BACKLOG {
            self.drained.notify_one();
        }
    }

    async fn wait(&self) {
        while self.queued.load(Ordering::Acquire) > MAX_BACKLOG {
            self.drained.notified().await;
        }
    }
}

struct Conn {
    out: mpsc::UnboundedSender<Bytes>,
    backlog: Arc<Backlog>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
}

struct Driver<S: Storage> {
    endpoint: Endpoint<S>,
    origin: Instant,
    key_pair: NoiseKeyPair,
    conns: HashMap<SessionId, Conn>,
    requests: Requests<Tokio>,
    events: broadcast::Sender<Event>,
    net: mpsc::Sender<Net>,
    listeners: Vec<JoinHandle<()>>,
}

impl<S: Storage + Send + 'static> Driver<S> {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command<S>>,
        mut net: mpsc::Receiver<Net>,
    ) {
        let mut sleep = pin!(tokio::time::sleep(Duration::ZERO));
        // The deadline `sleep` is set for.
        let mut armed = None;
        loop {
            self.flush();
            let deadline = self.endpoint.poll_timeout();
            if let Some(d) = deadline.filter(|&d| armed != Some(d)) {
                sleep.as_mut().reset((self.origin + d).into());
                armed = Some(d);
            }
            // Unbiased: neither socket input nor commands can starve the other.
            tokio::select! {
                () = &mut sleep, if deadline.is_some() => {
                    armed = None;
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                }
                Some(msg) = net.recv() => self.on_net(msg),
                command = commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => {
                        self.shutdown(&mut commands);
                        let _ = reply.send(self.endpoint);
                        return;
                    }
                    Some(command) => self.on_command(command),
                    None => {
                        self.shutdown(&mut commands);
                        return;
                    }
                },
            }
        }
    }

    /// Drains the endpoint: bytes to the writers, events to their requests and subscribers.
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
            if let Some(conn) = self.conns.get(&session) {
                conn.backlog.add(bytes.len());
                // A writer that is gone failed, and has told us so.
                let _ = conn.out.send(bytes);
            }
        }
        busy
    }

    fn on_event(&mut self, event: Event) {
        self.requests.on_event(&event);
        if let Event::Closed { session, error } = &event {
            // Whatever the endpoint queued for the session goes out first.
            self.flush_transmit();
            self.drop_conn(
                *session,
                error.as_ref().is_none_or(SessionError::is_orderly),
            );
        }
        // No subscribers is fine.
        let _ = self.events.send(event);
    }

    fn drop_conn(&mut self, session: SessionId, orderly: bool) {
        let Some(conn) = self.conns.remove(&session) else {
            return;
        };
        conn.reader.abort();
        if orderly {
            // The writer ends once it wrote what is queued (closing its channel), at the
            // latest after LINGER.
            let writer = conn.writer.abort_handle();
            tokio::spawn(async move {
                tokio::time::sleep(LINGER).await;
                writer.abort();
            });
        } else {
            conn.writer.abort();
        }
    }

    fn on_net(&mut self, msg: Net) {
        match msg {
            Net::Input(session, bytes) => {
                if self.conns.contains_key(&session) {
                    let now = self.now();
                    self.endpoint.handle_input(session, now, &bytes);
                }
            }
            Net::End(session) => self.endpoint.handle_end(session),
            Net::Failed(session, error) => self.endpoint.abort(session, error),
            Net::Sent(session, n) => self.endpoint.handle_sent(session, n),
            Net::Accepted(stream) => {
                // Only the OS RNG can fail here; the connection is then dropped.
                let _ = self.attach(stream, Role::Responder);
            }
        }
    }

    fn attach(&mut self, stream: TcpStream, role: Role) -> Result<SessionId, Error> {
        let entropy = ferrocore_driver::entropy()?;
        // Without TCP_NODELAY, Nagle's algorithm holds small records (live latency ~55 ms
        // instead of ~2 ms).
        let _ = stream.set_nodelay(true);
        let now = self.now();
        let session = self
            .endpoint
            .connect(role, self.key_pair.clone(), entropy, now);
        let (read, write) = stream.into_split();
        let backlog = Arc::new(Backlog::default());
        let (out, out_rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(read, session, backlog.clone(), self.net.clone()));
        let writer = tokio::spawn(write_loop(
            write,
            out_rx,
            session,
            backlog.clone(),
            self.net.clone(),
        ));
        self.conns.insert(
            session,
            Conn {
                out,
                backlog,
                reader,
                writer,
            },
        );
        Ok(session)
    }

    fn on_command(&mut self, command: Command<S>) {
        match command {
            Command::Node(op) => {
                let now = self.now();
                self.requests.handle(&mut self.endpoint, now, op);
            }
            Command::Attach(stream, role, tx) => {
                let _ = tx.send(self.attach(stream, role));
            }
            Command::Listen(listener) => {
                let net = self.net.clone();
                self.listeners
                    .push(tokio::spawn(accept_loop(listener, net)));
            }
            // Handled by `run`.
            Command::Shutdown(_) => {}
        }
    }

    fn shutdown(&mut self, commands: &mut mpsc::UnboundedReceiver<Command<S>>) {
        // Later commands fail at once; queued ones fail as their replies are dropped.
        commands.close();
        while commands.try_recv().is_ok() {}
        for listener in self.listeners.drain(..) {
            listener.abort();
        }
        let sessions: Vec<SessionId> = self.endpoint.sessions().collect();
        for session in sessions {
            self.endpoint.close(session);
        }
        self.flush();
        // Pending requests fail with `Error::Shutdown` as their replies are dropped.
        self.requests.clear();
    }
}

async fn accept_loop(listener: TcpListener, net: mpsc::Sender<Net>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if net.send(Net::Accepted(stream)).await.is_err() {
                    return;
                }
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn read_loop(
    mut read: OwnedReadHalf,
    session: SessionId,
    backlog: Arc<Backlog>,
    net: mpsc::Sender<Net>,
) {
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
            return;
        }
    }
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut out: mpsc::UnboundedReceiver<Bytes>,
    session: SessionId,
    backlog: Arc<Backlog>,
    net: mpsc::Sender<Net>,
) {
    let mut gather = Vec::new();
    while let Some(first) = out.recv().await {
        let mut len = first.len();
        let result = if first.len() >= WRITE_COALESCE {
            write.write_all(&first).await
        } else {
            gather.clear();
            gather.extend_from_slice(&first);
            while gather.len() < WRITE_COALESCE {
                match out.try_recv() {
                    Ok(more) => gather.extend_from_slice(&more),
                    Err(_) => break,
                }
            }
            len = gather.len();
            write.write_all(&gather).await
        };
        if let Err(e) = result {
            let _ = net.send(Net::Failed(session, e.kind().into())).await;
            return;
        }
        backlog.sub(len);
        // A driver that is gone no longer counts (it shut down).
        let _ = net.send(Net::Sent(session, len)).await;
    }
    // The session ended in order and everything was written.
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backlog_holds_the_reader_until_drained() {
        let backlog = Arc::new(Backlog::default());
        backlog.add(MAX_BACKLOG + 10);
        let waiter = tokio::spawn({
            let backlog = backlog.clone();
            async move { backlog.wait().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        backlog.sub(5);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        backlog.sub(5);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
