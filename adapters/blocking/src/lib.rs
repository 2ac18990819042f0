//! # ferrocore-blocking
//!
//! A blocking, thread-based binding of ferrocore's sans-IO replication
//! [`Endpoint`](ferrocore::replication::Endpoint) over
//! `std::net`: no async runtime. It owns the TCP sockets, the clock and the OS random
//! number generator; every bit of protocol behaviour stays in the endpoint.
//!
//! A [`Node`] is a cheap, cloneable handle to one driver thread that owns the endpoint. The
//! driver waits in `poll(2)` (with a timeout at the endpoint's next deadline) on its
//! sockets and on a wake-up socket that signals the handles' commands; it reads the
//! sockets itself, and hands everything to `ferrocore-driver`'s [`Driver`], the loop body
//! every adapter shares: it drains the endpoint, writes what the sockets take at once,
//! answers pending commands and forwards every event to the subscribers of
//! [`events`](ferrocore_driver::Node::events) ([`Events`]: a subscriber that falls behind
//! loses its oldest non-terminal events and is told so, never a `Closed` or a request's
//! result). The node's methods are [`ferrocore_driver::Node`]'s (through `Deref`), each
//! returning its result; this crate adds the sockets ([`Node::listen`],
//! [`Node::connect`], [`Node::add_stream`]). Each connection has a writer thread for the output its
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

pub mod bee;
pub mod dht;
pub mod drive;
mod park;
pub mod swarm;
pub mod udx;

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::ops::Deref;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::replication::{EndpointConfig, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::SecretStream;
use ferrocore_driver::spin::{spin_until, SPIN};
use ferrocore_driver::{Adapter, Backlog, Driver, Link, Reply, Reporter};

pub use ferrocore;
pub use ferrocore_driver::{
    CoreInfo, DownloadHandle, Error, Events, RecvError, EVENT_CAPACITY, MAX_BACKLOG,
};

/// Bytes read from a socket at a time (at most).
const READ_CHUNK: usize = 256 * 1024;

/// Queued output buffers are written together (one vectored write) up to this many bytes.
const WRITE_COALESCE: usize = 256 * 1024;

/// Buffers per vectored write (below every platform's `IOV_MAX`).
const WRITE_SLICES: usize = 64;

/// How long a connection that ended in order may block writing its last bytes.
const LINGER: Duration = Duration::from_secs(5);

/// The blocking [`Adapter`]: every method waits for its answer; connections are
/// [`TcpLink`]s.
#[derive(Debug)]
pub enum Blocking {}

impl Adapter for Blocking {
    type Link = TcpLink;
    type Out<T: Send + 'static> = Result<T, Error>;

    fn out<T: Send + 'static>(reply: Reply<T>) -> Result<T, Error> {
        reply.wait()
    }
}

/// The driver's half of a connection (TCP or UDX): the socket (a TCP socket is read and
/// written by the driver) and the queue to its writer thread.
pub struct TcpLink {
    out: Sender<Bytes>,
    backlog: Arc<Backlog>,
    transport: Transport,
    /// False once the socket's input ended or failed (it is no longer polled).
    reading: bool,
}

/// What a link's bytes travel over.
enum Transport {
    /// Polled and read by the driver.
    Tcp(TcpStream),
    /// Read by a thread of its own (the UDX socket has no descriptor per stream).
    Udx(Arc<udx::UdxStream>),
}

impl TcpLink {
    /// The TCP socket the driver polls, if the link is one.
    fn tcp(&self) -> Option<&TcpStream> {
        match &self.transport {
            Transport::Tcp(stream) => Some(stream),
            Transport::Udx(_) => None,
        }
    }
}

impl Link for TcpLink {
    fn queue(&mut self, bytes: Bytes) {
        self.backlog.add(bytes.len());
        // A writer that is gone failed, and has told the driver so.
        let _ = self.out.send(bytes);
    }

    /// With nothing queued for the writer, the socket takes what it can at once: a live
    /// block then goes out without waking another thread (a hop costs tens of µs).
    fn send_now(&mut self, bufs: &[Bytes]) -> usize {
        if !self.backlog.is_empty() {
            return 0;
        }
        match &self.transport {
            Transport::Tcp(stream) => send_now(stream, bufs),
            Transport::Udx(stream) => udx::send_now(stream, bufs),
        }
    }

    fn finish(self, orderly: bool) {
        self.backlog.close();
        match (&self.transport, orderly) {
            // The writer writes what is queued (blocking at most LINGER per write), then
            // shuts the socket down; dropping `out` tells it nothing more comes.
            (Transport::Tcp(stream), true) => {
                let _ = stream.set_write_timeout(Some(LINGER));
            }
            (Transport::Tcp(stream), false) => {
                let _ = stream.shutdown(Shutdown::Both);
            }
            // The writer sends END after what is queued.
            (Transport::Udx(_), true) => {}
            (Transport::Udx(stream), false) => stream.destroy(),
        }
    }
}

/// A handle to a replication node: one endpoint driven by a thread. Clones share the
/// node; the driver shuts down (closing every connection and stopping its listeners)
/// when the last handle is dropped, or at [`shutdown`](ferrocore_driver::Node::shutdown).
#[derive(Clone, Debug)]
pub struct Node<S: Storage>(ferrocore_driver::Node<S, Blocking>);

impl<S: Storage> Deref for Node<S> {
    type Target = ferrocore_driver::Node<S, Blocking>;

    fn deref(&self) -> &Self::Target {
        &self.0
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
        let (wake, woken) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        woken.set_nonblocking(true)?;
        let (node, driver) = ferrocore_driver::Node::new(config, key_pair);
        thread::Builder::new()
            .name("ferrocore-driver".into())
            .spawn(move || run(driver, &woken, wake))?;
        Ok(Self(node))
    }

    /// Accepts connections on `addr` (as the Noise responder) on a thread of its own, until
    /// the node shuts down. Returns the bound address (useful with port 0).
    ///
    /// # Errors
    /// When binding fails.
    pub fn listen(&self, addr: impl ToSocketAddrs) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let node = self.0.downgrade();
        let stopped = stop.clone();
        thread::Builder::new()
            .name("ferrocore-accept".into())
            .spawn(move || accept_loop(&listener, &stopped, &node))?;
        self.at_shutdown(move || {
            stop.store(true, Ordering::Release);
            // Wake the accepting thread with a connection of our own.
            let mut addr = addr;
            if addr.ip().is_unspecified() {
                addr.set_ip(if addr.is_ipv4() {
                    Ipv4Addr::LOCALHOST.into()
                } else {
                    Ipv6Addr::LOCALHOST.into()
                });
            }
            let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
        });
        Ok(addr)
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
    /// socket cannot be cloned or its writer thread spawned.
    pub fn add_stream(&self, stream: TcpStream, role: Role) -> Result<SessionId, Error> {
        self.add_with(stream, |node, make| node.attach_link(make, role))
    }

    /// Replicates over a TCP connection whose Noise handshake already ran (e.g. hyperdht's
    /// IK, [`NoiseWrap`](ferrocore::wire::noise::NoiseWrap)), with the secret-stream
    /// built from it
    /// ([`SecretStream::from_handshake`](ferrocore::wire::stream::SecretStream::from_handshake)):
    /// its header record is the first thing written.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket cannot be cloned or its writer thread spawned.
    pub fn add_secret_stream(
        &self,
        stream: TcpStream,
        secret: SecretStream,
    ) -> Result<SessionId, Error> {
        self.add_with(stream, |node, make| node.attach_stream_link(make, secret))
    }

    /// As [`add_secret_stream`](Self::add_secret_stream), the node building the
    /// secret-stream from the handshake's `result` (its stream configuration and clock, a
    /// random secretstream header).
    ///
    /// # Errors
    /// As [`add_stream`](Self::add_stream).
    pub fn add_handshake(
        &self,
        stream: TcpStream,
        result: HandshakeResult,
    ) -> Result<SessionId, Error> {
        self.add_with(stream, |node, make| {
            node.attach_handshake_link(make, result)
        })
    }

    /// Has `attach` add a session whose link writes to `stream` (from a writer thread)
    /// and is read by the driver.
    fn add_with(
        &self,
        stream: TcpStream,
        attach: impl FnOnce(
            &ferrocore_driver::Node<S, Blocking>,
            MakeTcpLink,
        ) -> Result<SessionId, Error>,
    ) -> Result<SessionId, Error> {
        // Without TCP_NODELAY, Nagle's algorithm holds small records (live latency ~55 ms
        // instead of ~2 ms).
        let _ = stream.set_nodelay(true);
        let write = stream.try_clone()?;
        let reporter = self.reporter();
        attach(
            self,
            Box::new(move |session| {
                let backlog = Arc::new(Backlog::new());
                let (out, out_rx) = mpsc::channel();
                spawn_writer(write, out_rx, session, backlog.clone(), reporter)?;
                Ok(TcpLink {
                    out,
                    backlog,
                    transport: Transport::Tcp(stream),
                    reading: true,
                })
            }),
        )
    }
}

/// What builds a connection's link once its session has an id.
type MakeTcpLink = Box<dyn FnOnce(SessionId) -> std::io::Result<TcpLink> + Send>;

/// Wakes a thread out of `poll(2)`: a byte on the wake-up socket.
pub(crate) struct WakeSocket(pub(crate) UnixStream);

impl Wake for WakeSocket {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Non-blocking: a full wake-up socket wakes the driver already.
        let _ = (&self.0).write(&[1]);
    }
}

/// The driver thread's waker: a byte on the wake-up socket, written only while the
/// driver may be asleep in `poll(2)` (an awake driver looks at everything again before
/// it sleeps).
struct DriverWake {
    socket: WakeSocket,
    asleep: AtomicBool,
}

impl Wake for DriverWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.asleep.load(Ordering::SeqCst) {
            let _ = (&self.socket.0).write(&[1]);
        }
    }
}

/// The driver thread: the shared [`Driver`] fed from `poll(2)`.
///
/// After a handle's command the driver checks for the next one for a short while
/// ([`ferrocore_driver::spin`]) before it goes to sleep, and a sleeping driver is woken
/// only once it has said so, so a caller issuing commands one after another (reads of a
/// bee, say) hands them over without a kernel wake-up.
fn run<S: Storage + Send + 'static>(
    mut driver: Driver<S, TcpLink>,
    woken: &UnixStream,
    wake: UnixStream,
) {
    let wake = Arc::new(DriverWake {
        socket: WakeSocket(wake),
        asleep: AtomicBool::new(true),
    });
    let waker = Waker::from(wake.clone());
    let mut cx = Context::from_waker(&waker);
    // One buffer, allocated once, for every read: the endpoint copies what it keeps.
    let mut buf = vec![0u8; READ_CHUNK].into_boxed_slice();
    // When the driver last finished handling a message (it spins for `SPIN` after one).
    let mut busy: Option<Instant> = None;
    loop {
        driver.flush();
        if let Poll::Ready(msg) = driver.poll_msg(&mut cx) {
            wake.asleep.store(false, Ordering::SeqCst);
            if let Some(stop) = driver.handle(msg) {
                driver.shutdown(stop);
                return;
            }
            busy = Some(Instant::now());
            continue;
        }
        match driver.timeout() {
            Some(t) if t.is_zero() => driver.on_timeout(),
            timeout => {
                if !wake.asleep.load(Ordering::SeqCst) {
                    let left = busy.map_or(Duration::ZERO, |b| SPIN.saturating_sub(b.elapsed()));
                    if !left.is_zero() && spin_until(left, || driver.has_msg()) {
                        continue;
                    }
                    // Wakes go through from here: one more look at everything first.
                    wake.asleep.store(true, Ordering::SeqCst);
                    busy = None;
                    continue;
                }
                wait(&mut driver, woken, &mut buf, timeout);
            }
        }
    }
}

/// Waits up to `timeout` for input on a socket or a message in the inbox, and reads
/// what sockets have. A message sent after the inbox was found empty wrote a byte to the
/// wake-up socket, so it is never slept on.
fn wait<S: Storage + Send + 'static>(
    driver: &mut Driver<S, TcpLink>,
    woken: &UnixStream,
    buf: &mut [u8],
    timeout: Option<Duration>,
) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let ready: Vec<SessionId> = {
        let polled: Vec<(SessionId, &TcpLink)> = driver
            .links()
            .filter(|(s, l)| {
                l.tcp().is_some() && l.reading && !l.backlog.is_full() && !driver.is_stalled(*s)
            })
            .collect();
        let mut fds = Vec::with_capacity(polled.len() + 1);
        fds.push(PollFd::new(woken, PollFlags::IN));
        for (_, link) in &polled {
            if let Some(stream) = link.tcp() {
                fds.push(PollFd::new(stream, PollFlags::IN));
            }
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
            while matches!((&*woken).read(&mut sink), Ok(n) if n > 0) {}
        }
        polled
            .iter()
            .zip(&fds[1..])
            .filter(|(_, fd)| !fd.revents().is_empty())
            .map(|((s, _), _)| *s)
            .collect()
    };
    for session in ready {
        read_from(driver, session, buf);
    }
}

/// Reads what the session's socket holds (one read, without blocking) and hands it to
/// the driver.
fn read_from<S: Storage + Send + 'static>(
    driver: &mut Driver<S, TcpLink>,
    session: SessionId,
    buf: &mut [u8],
) {
    use rustix::net::{recv, RecvFlags};
    let Some(link) = driver.link_mut(session) else {
        return;
    };
    let Some(stream) = link.tcp() else {
        return;
    };
    match recv(stream, &mut *buf, RecvFlags::DONTWAIT) {
        Ok((0, _)) => {
            link.reading = false;
            driver.on_end(session);
        }
        Ok((n, _)) => driver.on_input(session, &buf[..n]),
        Err(rustix::io::Errno::INTR | rustix::io::Errno::WOULDBLOCK) => {}
        Err(e) => {
            link.reading = false;
            driver.on_failed(session, std::io::Error::from(e).kind().into());
        }
    }
}

fn accept_loop<S: Storage + Send + 'static>(
    listener: &TcpListener,
    stop: &AtomicBool,
    node: &ferrocore_driver::WeakNode<S, Blocking>,
) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                let Some(node) = node.upgrade() else {
                    return;
                };
                // Only the OS RNG or thread spawning can fail; the connection is dropped.
                let _ = Node(node).add_stream(stream, Role::Responder);
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The end of a writer thread's socket.
pub(crate) trait Sink: Write + Send + 'static {
    /// Everything was written (`orderly`), or writing failed.
    fn close(&mut self, orderly: bool);
}

impl Sink for TcpStream {
    fn close(&mut self, _: bool) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

pub(crate) fn spawn_writer<S: Storage + Send + 'static, W: Sink>(
    mut stream: W,
    out: Receiver<Bytes>,
    session: SessionId,
    backlog: Arc<Backlog>,
    reporter: Reporter<S, TcpLink>,
) -> std::io::Result<()> {
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
                    stream.close(false);
                    reporter.failed(session, e.kind().into());
                    return;
                }
                backlog.sub(len);
                // A driver that is gone no longer counts (it shut down).
                reporter.sent(session, len);
            }
            // The session ended and everything was written.
            stream.close(true);
        })
        .map(drop)
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

/// Writes every buffer in order with vectored writes (no gathering copy); empties `bufs`.
fn write_all_vectored(stream: &mut impl Write, bufs: &mut Vec<Bytes>) -> std::io::Result<()> {
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
