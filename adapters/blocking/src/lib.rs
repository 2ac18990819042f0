//! # ferrocore-blocking
//!
//! A blocking, thread-based binding of ferrocore's sans-IO replication [`Endpoint`] over
//! `std::net`: no async runtime. It owns the TCP sockets, the clock and the OS random
//! number generator; every bit of protocol behaviour stays in the endpoint.
//!
//! A [`Node`] is a cheap, cloneable handle to one driver thread that owns the endpoint. The
//! driver waits in `poll(2)` (with a timeout at the endpoint's next deadline) on its
//! sockets and on a wake-up socket that signals the handles' commands; it reads the
//! sockets itself. After each command or read it drains the endpoint, writes what the
//! sockets take at once, answers pending commands and forwards every [`Event`] to the
//! subscribers of [`Node::events`]. Each connection has a writer thread for the output its
//! socket does not take at once; a connection whose queued, unwritten output exceeds
//! [`MAX_BACKLOG`] is not read from until the peer has taken some of it, so a peer that
//! never reads cannot grow our memory. Reading in the driver (rather than in a thread per
//! socket handing bytes over) saves two thread wake-ups per message each way.
//!
//! The adapter is for Unix-like systems (it uses `poll`); the tokio and futures-io
//! adapters run anywhere.
//!
//! ```no_run
//! use bytes::Bytes;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::replication::EndpointConfig;
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::{Log, LogOptions};
//! use ferrocore_blocking::Node;
//!
//! # fn run() -> Result<(), ferrocore_blocking::Error> {
//! // A writer serving one core on port 4000...
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[7; 32])), ..LogOptions::default() };
//! let log = Log::open(MemoryStorage::new(), options)?;
//! let key = *log.key();
//! let writer = Node::new(EndpointConfig::default())?;
//! let core = writer.add_core(log)?;
//! writer.append(core, vec![Bytes::from("hello")])?;
//! let addr = writer.listen("127.0.0.1:4000")?;
//!
//! // ...and a reader fetching block 0 from it.
//! let reader = Node::new(EndpointConfig::default())?;
//! let log = Log::open(MemoryStorage::new(), LogOptions { key: Some(key), ..LogOptions::default() })?;
//! let core = reader.add_core(log)?;
//! reader.connect(addr)?;
//! assert_eq!(reader.get(core, 0, None)?, "hello");
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#[cfg(not(unix))]
compile_error!(
    "ferrocore-blocking needs a Unix-like OS (poll); use ferrocore-tokio or ferrocore-futures"
);

use std::collections::HashMap;
use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{
    self, Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError,
};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, RequestId, SessionError, SessionId, TransportError,
};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::Log;
use ferrocore_driver::{Channel, Command as Op, Requests, Span};

pub use ferrocore;

/// Output queued for a connection but not yet written, in bytes, above which the
/// connection's input is no longer read (1 MiB). The bound is soft: input already read is
/// still handled, and the endpoint answers every request in it at once.
pub const MAX_BACKLOG: usize = 1 << 20;

/// Events a subscriber of [`Node::events`] may fall behind; past that, newer events are
/// dropped for it until it catches up.
pub const EVENT_CAPACITY: usize = 4096;

/// Bytes read from a socket at a time (at most).
const READ_CHUNK: usize = 256 * 1024;

/// Queued output buffers are written together (one vectored write) up to this many bytes.
const WRITE_COALESCE: usize = 256 * 1024;

/// Buffers per vectored write (below every platform's `IOV_MAX`).
const WRITE_SLICES: usize = 64;

/// How long a connection that ended in order may block writing its last bytes.
const LINGER: Duration = Duration::from_secs(5);

/// Messages (commands and socket input) that may wait for the driver.
const QUEUE: usize = 256;

pub use ferrocore_driver::{CoreInfo, Error};

/// A one-shot reply.
type Reply<T> = SyncSender<Result<T, Error>>;

fn reply<T>() -> (Reply<T>, Receiver<Result<T, Error>>) {
    mpsc::sync_channel(1)
}

/// Everything the driver thread waits for.
enum Msg<S: Storage> {
    /// What every adapter handles alike.
    Node(Op<Blocking, S>),
    Attach(TcpStream, Role, Reply<SessionId>),
    Listen(TcpListener, Reply<SocketAddr>),
    /// From [`Node::shutdown`] (with a reply) or the last handle's drop.
    Shutdown(Option<SyncSender<Endpoint<S>>>),
    /// The session's socket reported end of input.
    End(SessionId),
    /// A read or write failed.
    Failed(SessionId, TransportError),
    /// The writer wrote this many bytes of the session's output.
    Sent(SessionId, usize),
    Accepted(TcpStream),
}

/// Replies go over synchronous channels of capacity 1.
struct Blocking;

impl Channel for Blocking {
    type Reply<T> = Reply<T>;

    fn send<T>(reply: Reply<T>, result: Result<T, Error>) {
        let _ = reply.try_send(result);
    }
}

type Subscribers = Arc<Mutex<Vec<SyncSender<Event>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The driver's inbox: a channel, and a socket whose readability wakes the driver out of
/// `poll` when something was sent.
struct Inbox<S: Storage> {
    tx: SyncSender<Msg<S>>,
    wake: Arc<UnixStream>,
}

impl<S: Storage> Clone for Inbox<S> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            wake: self.wake.clone(),
        }
    }
}

impl<S: Storage> Inbox<S> {
    /// Queues `msg` and wakes the driver; `Err` once the driver is gone.
    fn send(&self, msg: Msg<S>) -> Result<(), ()> {
        self.tx.send(msg).map_err(|_| ())?;
        // Non-blocking: a full wake-up socket wakes the driver already.
        let _ = (&*self.wake).write(&[1]);
        Ok(())
    }
}

/// What the handles share; dropping the last one stops the driver.
struct Shared<S: Storage> {
    inbox: Inbox<S>,
    subscribers: Subscribers,
    public_key: [u8; 32],
}

impl<S: Storage> Drop for Shared<S> {
    fn drop(&mut self) {
        let _ = self.inbox.send(Msg::Shutdown(None));
    }
}

/// A handle to a replication node: one [`Endpoint`] driven by a thread. Clones share the
/// node; the driver shuts down (closing every connection) when the last handle is
/// dropped, or at [`shutdown`](Self::shutdown).
pub struct Node<S: Storage> {
    shared: Arc<Shared<S>>,
}

impl<S: Storage> Clone for Node<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Storage> std::fmt::Debug for Node<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("public_key", &self.shared.public_key)
            .finish_non_exhaustive()
    }
}

impl<S: Storage + Send + 'static> Node<S> {
    /// Starts a node (its driver thread) with a random static Noise key pair.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Io`] if the
    /// thread cannot be spawned.
    pub fn new(config: EndpointConfig) -> Result<Self, Error> {
        Self::with_key_pair(config, NoiseKeyPair::from_seed(ferrocore_driver::random()?))
    }

    /// Starts a node whose connections authenticate with `key_pair`.
    ///
    /// # Errors
    /// [`Error::Io`] if the driver thread or its wake-up socket cannot be made.
    pub fn with_key_pair(config: EndpointConfig, key_pair: NoiseKeyPair) -> Result<Self, Error> {
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        let inbox = Inbox {
            tx,
            wake: Arc::new(wake),
        };
        let subscribers = Subscribers::default();
        let public_key = key_pair.public_key;
        let driver = Driver {
            endpoint: Endpoint::new(config),
            origin: Instant::now(),
            key_pair,
            inbox: inbox.clone(),
            woken,
            read_buf: vec![0; READ_CHUNK].into_boxed_slice(),
            links: HashMap::new(),
            requests: Requests::new(),
            subscribers: subscribers.clone(),
            listeners: Vec::new(),
        };
        thread::Builder::new()
            .name("ferrocore-driver".into())
            .spawn(move || driver.run(&rx))?;
        Ok(Self {
            shared: Arc::new(Shared {
                inbox,
                subscribers,
                public_key,
            }),
        })
    }

    /// Our static public key (what peers see in [`Event::Connected`]).
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.shared.public_key
    }

    fn send(&self, msg: Msg<S>) -> Result<(), Error> {
        self.shared.inbox.send(msg).map_err(|()| Error::Shutdown)
    }

    fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Msg<S>) -> Result<T, Error> {
        let (tx, rx) = reply();
        self.send(make(tx))?;
        rx.recv().unwrap_or(Err(Error::Shutdown))
    }

    /// Accepts connections on `addr` (as the Noise responder) on a thread of its own, until
    /// the node shuts down. Returns the bound address (useful with port 0).
    ///
    /// # Errors
    /// When binding fails.
    pub fn listen(&self, addr: impl ToSocketAddrs) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(addr)?;
        self.ask(|tx| Msg::Listen(listener, tx))
    }

    /// Dials `addr` and replicates every core with it (as the Noise initiator).
    ///
    /// # Errors
    /// When the connection cannot be made.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> Result<SessionId, Error> {
        let stream = TcpStream::connect(addr)?;
        self.add_stream(stream, Role::Initiator)
    }

    /// Replicates over a TCP connection made elsewhere. By convention the side that dialed
    /// is the [`Role::Initiator`].
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Io`] if the
    /// socket cannot be cloned or its threads spawned.
    pub fn add_stream(&self, stream: TcpStream, role: Role) -> Result<SessionId, Error> {
        self.ask(|tx| Msg::Attach(stream, role, tx))
    }

    /// Adds a core, replicated with every connection, present and future.
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub fn add_core(&self, log: Log<S>) -> Result<CoreId, Error> {
        self.ask(|tx| Msg::Node(Op::AddCore(Box::new(log), tx)))
    }

    /// Appends blocks to a writable core (one signature for the batch); returns the new
    /// length. Peers learn of them at once.
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub fn append(&self, core: CoreId, blocks: Vec<Bytes>) -> Result<u64, Error> {
        self.ask(|tx| Msg::Node(Op::Append(core, blocks, tx)))
    }

    /// Truncates a writable core to `length` blocks (a new fork).
    ///
    /// # Errors
    /// [`Error::Core`] if the core is not writable or storage fails.
    pub fn truncate(&self, core: CoreId, length: u64) -> Result<(), Error> {
        self.ask(|tx| Msg::Node(Op::Truncate(core, length, tx)))
    }

    /// Block `index`: from local storage, or from the first peer that has it, waiting for
    /// it to be appended if need be. `timeout` bounds the wait
    /// ([`RequestError::Timeout`](ferrocore::replication::RequestError::Timeout));
    /// without one this blocks until the block arrives or the node shuts down.
    ///
    /// # Errors
    /// [`Error::Request`] when the request fails or times out.
    pub fn get(&self, core: CoreId, index: u64, timeout: Option<Duration>) -> Result<Bytes, Error> {
        self.ask(|tx| Msg::Node(Op::Get(core, index, timeout, tx)))
    }

    /// Downloads blocks `start..end` (`end: None`: from `start` on, following appends
    /// live, never ending by itself). Wait on the handle for the end; dropping it (or
    /// [`DownloadHandle::cancel`]) cancels the download.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn download(
        &self,
        core: CoreId,
        start: u64,
        end: Option<u64>,
    ) -> Result<DownloadHandle<S>, Error> {
        self.start_download(core, Span::Range(start, end))
    }

    /// Downloads exactly these blocks (see [`download`](Self::download)).
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn download_blocks(
        &self,
        core: CoreId,
        blocks: Vec<u64>,
    ) -> Result<DownloadHandle<S>, Error> {
        self.start_download(core, Span::Blocks(blocks))
    }

    fn start_download(&self, core: CoreId, span: Span) -> Result<DownloadHandle<S>, Error> {
        let (done, done_rx) = reply();
        let request = self.ask(|tx| Msg::Node(Op::Download(core, span, done, tx)))?;
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
    pub fn update(&self, core: CoreId, timeout: Option<Duration>) -> Result<u64, Error> {
        self.ask(|tx| Msg::Node(Op::Update(core, timeout, tx)))
    }

    /// Cancels a request (a download by its [`DownloadHandle::request`]).
    pub fn cancel(&self, request: RequestId) {
        let _ = self.send(Msg::Node(Op::Cancel(request)));
    }

    /// A core's lengths, fork and peer count.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`].
    pub fn info(&self, core: CoreId) -> Result<CoreInfo, Error> {
        self.ask(|tx| Msg::Node(Op::Info(core, tx)))
    }

    /// Every [`Event`] of the node from now on, until the receiver is dropped. A subscriber
    /// more than [`EVENT_CAPACITY`] events behind misses newer events until it catches up.
    #[must_use]
    pub fn events(&self) -> Receiver<Event> {
        let (tx, rx) = mpsc::sync_channel(EVENT_CAPACITY);
        lock(&self.shared.subscribers).push(tx);
        rx
    }

    /// Ends a connection in order.
    pub fn close(&self, session: SessionId) {
        let _ = self.send(Msg::Node(Op::Close(session)));
    }

    /// Sends an extension message on a core's channel with a peer.
    ///
    /// # Errors
    /// [`Error::Core`] if the session has no channel for the core.
    pub fn send_extension(
        &self,
        session: SessionId,
        core: CoreId,
        name: &str,
        message: &[u8],
    ) -> Result<(), Error> {
        let name = name.to_owned();
        let message = message.to_vec();
        self.with_endpoint(move |ep| ep.send_extension(session, core, &name, &message))?
            .map_err(Error::Core)
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
    ) -> Result<R, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Node(Op::Call(Box::new(move |ep| {
            let _ = tx.send(f(ep));
        }))))?;
        rx.recv().map_err(|_| Error::Shutdown)
    }

    /// Closes every connection in order (their last bytes are still written), stops
    /// listening, fails pending requests with [`Error::Shutdown`] and hands back the
    /// endpoint (and with it the logs).
    ///
    /// # Errors
    /// [`Error::Shutdown`] if the node had already shut down.
    pub fn shutdown(&self) -> Result<Endpoint<S>, Error> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Msg::Shutdown(Some(tx)))?;
        rx.recv().map_err(|_| Error::Shutdown)
    }
}

/// A running download, from [`Node::download`]. Dropping it before it ended cancels the
/// download.
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

    /// Cancels the download: waiting on it yields
    /// [`RequestError::Cancelled`](ferrocore::replication::RequestError::Cancelled).
    pub fn cancel(&self) {
        self.node.cancel(self.request);
    }

    /// Blocks until the download ends.
    ///
    /// # Errors
    /// [`Error::Request`] if it failed or was cancelled; [`Error::Shutdown`].
    pub fn wait(mut self) -> Result<(), Error> {
        self.finished = true;
        self.done.recv().unwrap_or(Err(Error::Shutdown))
    }

    /// Blocks until the download ends or `timeout` passes (then `None`; the download goes
    /// on).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<(), Error>> {
        match self.done.recv_timeout(timeout) {
            Ok(result) => {
                self.finished = true;
                Some(result)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                self.finished = true;
                Some(Err(Error::Shutdown))
            }
        }
    }
}

impl<S: Storage> Drop for DownloadHandle<S> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self
                .node
                .shared
                .inbox
                .send(Msg::Node(Op::Cancel(self.request)));
        }
    }
}

/// Output queued for one connection, shared by the driver (which adds) and the writer
/// (which subtracts); the driver does not read the socket while it is above
/// [`MAX_BACKLOG`] (the writer's report of each write wakes it).
#[derive(Default)]
struct Backlog {
    state: Mutex<BacklogState>,
}

#[derive(Default)]
struct BacklogState {
    queued: usize,
    closed: bool,
}

impl Backlog {
    fn add(&self, n: usize) {
        lock(&self.state).queued += n;
    }

    fn sub(&self, n: usize) {
        let mut state = lock(&self.state);
        state.queued = state.queued.saturating_sub(n);
    }

    /// True while more than [`MAX_BACKLOG`] is queued: the socket is not read.
    fn is_full(&self) -> bool {
        lock(&self.state).queued > MAX_BACKLOG
    }

    /// True while nothing is queued for the writer (nor being written by it).
    fn is_empty(&self) -> bool {
        let state = lock(&self.state);
        state.queued == 0 && !state.closed
    }

    fn close(&self) {
        lock(&self.state).closed = true;
    }
}

/// The driver's half of a connection.
struct Link {
    out: Sender<Bytes>,
    backlog: Arc<Backlog>,
    stream: TcpStream,
    /// False once the socket's input ended or failed (it is no longer polled).
    reading: bool,
}

struct Listening {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

struct Driver<S: Storage> {
    endpoint: Endpoint<S>,
    origin: Instant,
    key_pair: NoiseKeyPair,
    inbox: Inbox<S>,
    /// The read end of the inbox's wake-up socket.
    woken: UnixStream,
    /// Socket input is read into this buffer and handed to the endpoint in pieces.
    read_buf: Box<[u8]>,
    links: HashMap<SessionId, Link>,
    /// Outstanding requests, and replies to appends (sent at the end of the next
    /// [`flush`](Self::flush)).
    requests: Requests<Blocking>,
    subscribers: Subscribers,
    listeners: Vec<Listening>,
}

impl<S: Storage + Send + 'static> Driver<S> {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn run(mut self, rx: &Receiver<Msg<S>>) {
        loop {
            self.flush();
            let msg = match rx.try_recv() {
                Ok(msg) => msg,
                // The driver holds a sender itself.
                Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {
                    let now = self.now();
                    let timeout = match self.endpoint.poll_timeout() {
                        Some(deadline) if deadline <= now => {
                            self.endpoint.handle_timeout(now);
                            continue;
                        }
                        Some(deadline) => Some(deadline - now),
                        None => None,
                    };
                    self.wait(timeout);
                    continue;
                }
            };
            if let Msg::Shutdown(reply) = msg {
                self.shutdown();
                if let Some(reply) = reply {
                    let _ = reply.send(self.endpoint);
                }
                // Dropping `rx` fails later sends and drops queued messages (and with them
                // their replies).
                return;
            }
            self.on_msg(msg);
        }
    }

    /// Waits up to `timeout` for input on a socket or a message in the inbox, and reads
    /// what sockets have. A message sent before the inbox was found empty left a byte on
    /// the wake-up socket, so it is never slept on.
    fn wait(&mut self, timeout: Option<Duration>) {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let polled: Vec<SessionId> = self
            .links
            .iter()
            .filter(|(_, l)| l.reading && !l.backlog.is_full())
            .map(|(s, _)| *s)
            .collect();
        let ready: Vec<SessionId> = {
            let mut fds = Vec::with_capacity(polled.len() + 1);
            fds.push(PollFd::new(&self.woken, PollFlags::IN));
            for s in &polled {
                fds.push(PollFd::new(&self.links[s].stream, PollFlags::IN));
            }
            let timeout = timeout.map(|t| Timespec {
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            match poll(&mut fds, timeout.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => return,
                // Out of memory or descriptors: try again shortly rather than spin.
                Err(_) => {
                    thread::sleep(Duration::from_millis(1));
                    return;
                }
            }
            if !fds[0].revents().is_empty() {
                let mut sink = [0u8; 64];
                while matches!((&self.woken).read(&mut sink), Ok(n) if n > 0) {}
            }
            polled
                .iter()
                .zip(&fds[1..])
                .filter(|(_, fd)| !fd.revents().is_empty())
                .map(|(s, _)| *s)
                .collect()
        };
        for session in ready {
            self.read_from(session);
        }
    }

    /// Reads what the session's socket holds (one read, without blocking) and hands it to
    /// the endpoint.
    fn read_from(&mut self, session: SessionId) {
        use rustix::net::{recv, RecvFlags};
        let Some(link) = self.links.get_mut(&session) else {
            return;
        };
        // One buffer, allocated once, for every read: the endpoint copies what it keeps.
        let msg = match recv(&link.stream, &mut self.read_buf[..], RecvFlags::DONTWAIT) {
            Ok((0, _)) => Msg::End(session),
            Ok((n, _)) => {
                let now = self.now();
                self.endpoint
                    .handle_input(session, now, &self.read_buf[..n]);
                return;
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::WOULDBLOCK) => return,
            Err(e) => Msg::Failed(session, std::io::Error::from(e).kind().into()),
        };
        link.reading = false;
        self.on_msg(msg);
    }

    /// Drains the endpoint: bytes to the writers, events to their requests and subscribers.
    ///
    /// Events go out before bytes, and append replies after both: a write wakes the
    /// peer's driver, which on a busy machine may take this core at once, so what an
    /// application waits for (a verified block) goes first and what only the appender
    /// waits for (the new length) goes after the peers are told of it.
    fn flush(&mut self) {
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
    }

    fn flush_transmit(&mut self) -> bool {
        let mut busy = false;
        let mut out: Vec<(SessionId, Vec<Bytes>)> = Vec::new();
        while let Some((session, bytes)) = self.endpoint.poll_transmit() {
            busy = true;
            match out.iter_mut().find(|(s, _)| *s == session) {
                Some((_, q)) => q.push(bytes),
                None => out.push((session, vec![bytes])),
            }
        }
        for (session, mut queue) in out {
            let Some(link) = self.links.get(&session) else {
                continue;
            };
            // With nothing queued for the writer, the socket takes what it can at once: a
            // live block then goes out without waking another thread (a hop costs tens of
            // µs). What it does not take goes to the writer, in order.
            if link.backlog.is_empty() {
                let n = send_now(&link.stream, &queue);
                if n > 0 {
                    let mut left = n;
                    queue.retain_mut(|b| {
                        let take = left.min(b.len());
                        bytes::Buf::advance(b, take);
                        left -= take;
                        !b.is_empty()
                    });
                    self.endpoint.handle_sent(session, n);
                    busy = true;
                }
            }
            for bytes in queue {
                link.backlog.add(bytes.len());
                // A writer that is gone failed, and has told us so.
                let _ = link.out.send(bytes);
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
                link.backlog.close();
                if error.as_ref().is_none_or(SessionError::is_orderly) {
                    // The writer writes what is queued (blocking at most LINGER per
                    // write), then shuts the socket down, which ends the reader.
                    let _ = link.stream.set_write_timeout(Some(LINGER));
                } else {
                    let _ = link.stream.shutdown(Shutdown::Both);
                }
            }
        }
        let mut subscribers = lock(&self.subscribers);
        subscribers.retain(|s| match s.try_send(event.clone()) {
            Ok(()) | Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn attach(&mut self, stream: TcpStream, role: Role) -> Result<SessionId, Error> {
        let entropy = ferrocore_driver::entropy()?;
        // Without TCP_NODELAY, Nagle's algorithm holds small records (live latency ~55 ms
        // instead of ~2 ms).
        let _ = stream.set_nodelay(true);
        let write = stream.try_clone()?;
        let now = self.now();
        let session = self
            .endpoint
            .connect(role, self.key_pair.clone(), entropy, now);
        let backlog = Arc::new(Backlog::default());
        let (out, out_rx) = mpsc::channel();
        let spawned = spawn_writer(write, out_rx, session, backlog.clone(), self.inbox.clone());
        if let Err(e) = spawned {
            // The session never saw its socket: end it.
            let _ = stream.shutdown(Shutdown::Both);
            self.endpoint.close(session);
            return Err(Error::Io(e));
        }
        self.links.insert(
            session,
            Link {
                out,
                backlog,
                stream,
                reading: true,
            },
        );
        Ok(session)
    }

    fn listen(&mut self, listener: TcpListener) -> Result<SocketAddr, Error> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let inbox = self.inbox.clone();
        let stopped = stop.clone();
        thread::Builder::new()
            .name("ferrocore-accept".into())
            .spawn(move || accept_loop(&listener, &stopped, &inbox))?;
        self.listeners.push(Listening { addr, stop });
        Ok(addr)
    }

    fn on_msg(&mut self, msg: Msg<S>) {
        let now = self.now();
        match msg {
            Msg::End(session) => self.endpoint.handle_end(session),
            Msg::Failed(session, error) => self.endpoint.abort(session, error),
            Msg::Sent(session, n) => self.endpoint.handle_sent(session, n),
            Msg::Accepted(stream) => {
                // Only the OS RNG or thread spawning can fail; the connection is dropped.
                let _ = self.attach(stream, Role::Responder);
            }
            Msg::Attach(stream, role, tx) => {
                let _ = tx.send(self.attach(stream, role));
            }
            Msg::Listen(listener, tx) => {
                let _ = tx.send(self.listen(listener));
            }
            Msg::Node(op) => self.requests.handle(&mut self.endpoint, now, op),
            // Handled by `run`.
            Msg::Shutdown(_) => {}
        }
    }

    fn shutdown(&mut self) {
        for listening in self.listeners.drain(..) {
            listening.stop.store(true, Ordering::Release);
            // Wake the accepting thread with a connection of our own.
            let mut addr = listening.addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    Ipv6Addr::LOCALHOST.into()
                });
            }
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
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

fn accept_loop<S: Storage>(listener: &TcpListener, stop: &AtomicBool, inbox: &Inbox<S>) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                if inbox.send(Msg::Accepted(stream)).is_err() {
                    return;
                }
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn spawn_writer<S: Storage + Send + 'static>(
    mut stream: TcpStream,
    out: Receiver<Bytes>,
    session: SessionId,
    backlog: Arc<Backlog>,
    inbox: Inbox<S>,
) -> std::io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("ferrocore-write".into())
        .spawn(move || {
            let mut queued: Vec<Bytes> = Vec::new();
            while let Ok(first) = out.recv() {
                queued.clear();
                queued.push(first);
                let mut len = queued[0].len();
                while len < WRITE_COALESCE && queued.len() < WRITE_SLICES {
                    match out.try_recv() {
                        Ok(more) => {
                            len += more.len();
                            queued.push(more);
                        }
                        Err(_) => break,
                    }
                }
                if let Err(e) = write_all_vectored(&mut stream, &mut queued) {
                    let _ = stream.shutdown(Shutdown::Both);
                    let _ = inbox.send(Msg::Failed(session, e.kind().into()));
                    return;
                }
                backlog.sub(len);
                // A driver that is gone no longer counts (it shut down).
                let _ = inbox.send(Msg::Sent(session, len));
            }
            // The session ended and everything was written.
            let _ = stream.shutdown(Shutdown::Both);
        })
}

/// Writes what the socket takes of `bufs` now (one vectored send of up to [`WRITE_SLICES`]
/// buffers), without blocking; 0 if it takes nothing or fails (the writer thread then meets
/// the failure and reports it).
fn send_now(stream: &TcpStream, bufs: &[Bytes]) -> usize {
    use rustix::net::{sendmsg, SendAncillaryBuffer, SendFlags};
    let slices: Vec<IoSlice<'_>> = bufs
        .iter()
        .take(WRITE_SLICES)
        .map(|b| IoSlice::new(b))
        .collect();
    sendmsg(
        stream,
        &slices,
        &mut SendAncillaryBuffer::default(),
        SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
    )
    .unwrap_or(0)
}

/// Elsewhere every write goes through the writer thread.
/// Writes every buffer in order with vectored writes (no gathering copy); empties `bufs`.
fn write_all_vectored(stream: &mut TcpStream, bufs: &mut Vec<Bytes>) -> std::io::Result<()> {
    use bytes::Buf;
    bufs.retain(|b| !b.is_empty());
    let mut first = 0;
    while first < bufs.len() {
        let slices: Vec<IoSlice<'_>> = bufs[first..].iter().map(|b| IoSlice::new(b)).collect();
        let mut n = match stream.write_vectored(&slices) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while n > 0 {
            let b = &mut bufs[first];
            let k = n.min(b.len());
            b.advance(k);
            n -= k;
            if b.is_empty() {
                first += 1;
            }
        }
    }
    bufs.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_stops_reading_until_drained() {
        let backlog = Backlog::default();
        assert!(backlog.is_empty() && !backlog.is_full());
        backlog.add(MAX_BACKLOG + 10);
        assert!(backlog.is_full());
        backlog.sub(10);
        assert!(!backlog.is_full() && !backlog.is_empty());
        backlog.sub(MAX_BACKLOG);
        assert!(backlog.is_empty());
        backlog.close();
        assert!(!backlog.is_empty());
    }
}
