//! # ferrocore-futures
//!
//! A runtime-agnostic binding of ferrocore's sans-IO replication
//! [`Endpoint`](ferrocore::replication::Endpoint) over
//! [`futures-io`](futures_lite::io) byte streams: it works with smol, async-io, async-std,
//! tokio (through `ferrocore-tokio`) or any executor, because it neither spawns tasks nor
//! opens sockets itself. The application brings
//!
//! * an executor: it spawns the [`Driver`] future (and one [`Connection`] future per
//!   connection);
//! * a [`Timer`]: any `Fn(Duration) -> impl Future` (`smol::Timer::after`,
//!   `async_std::task::sleep`, `tokio::time::sleep`, ...);
//! * its connections: anything `AsyncRead + AsyncWrite` (a TCP stream of its runtime; set
//!   `TCP_NODELAY` on it — with Nagle's algorithm live latency grows from about 2 ms to
//!   about 55 ms).
//!
//! A [`Node`] is a cheap, cloneable handle to the driver; its methods are those of
//! [`ferrocore_driver::Node`] (each answer a [`Reply`] future) plus [`Node::attach`]
//! ([`Node::attach_secret`] / [`Node::attach_handshake`] for a stream whose Noise handshake
//! ran elsewhere, as hyperdht's IK does). The
//! driver and the node handle, the event fan-out ([`Events`]: a subscriber that falls
//! behind loses its oldest non-terminal events and is told so, never a `Closed` or a
//! request's result) and the backlog bound ([`MAX_BACKLOG`]) are `ferrocore-driver`'s,
//! shared with the blocking adapter; this crate is the async glue: the loop that waits
//! for the driver's messages and deadlines, and the connection futures.
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

/// Hyperbee on this adapter: [`ferrocore_driver::bee`]'s handle, whose methods are
/// futures and whose walks are streams (the same loop every adapter runs).
pub mod bee {
    pub use ferrocore_driver::bee::*;

    /// A Hyperbee on a core of an async [`Node`](crate::Node).
    pub type Bee<S> = ferrocore_driver::bee::Bee<S, crate::Async>;
}

/// Hyperdrive on this adapter: [`ferrocore_driver::drive`]'s handle, whose methods are
/// futures and whose walks are streams (the same loop every adapter runs).
pub mod drive {
    pub use ferrocore_driver::drive::*;

    /// A Hyperdrive on two cores of an async [`Node`](crate::Node).
    pub type Drive<S> = ferrocore_driver::drive::Drive<S, crate::Async>;
}
pub mod dht;
pub mod swarm;
pub mod udx;

use std::future::{poll_fn, Future};
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_channel::{Receiver, Sender};
use bytes::Bytes;
use ferrocore::replication::{EndpointConfig, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::SecretStream;
use ferrocore_driver::{Adapter, Backlog, Link, Reporter};
use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_lite::{future, FutureExt as _};

pub use ferrocore;
pub use ferrocore_driver::{
    CoreInfo, DownloadHandle, Error, Events, RecvError, Reply, EVENT_CAPACITY, MAX_BACKLOG,
};

/// Bytes read from a connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Small writes are gathered up to this many bytes into one write.
const WRITE_COALESCE: usize = 64 * 1024;

/// How long a connection that ended in order may take to write its last bytes.
const LINGER: Duration = Duration::from_secs(5);

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

/// What builds a connection's link once its session has an id.
type MakeAsyncLink = Box<dyn FnOnce(SessionId) -> std::io::Result<AsyncLink> + Send>;

/// The async [`Adapter`]: answers are [`Reply`] futures, connections [`AsyncLink`]s.
#[derive(Debug)]
pub enum Async {}

impl Adapter for Async {
    type Link = AsyncLink;
    type Out<T: Send + 'static> = Reply<T>;

    fn out<T: Send + 'static>(reply: Reply<T>) -> Reply<T> {
        reply
    }
}

/// How a connection ends.
enum Control {
    /// Write what is queued (at most for [`LINGER`]), then close.
    Finish,
    /// Stop at once.
    Abort,
}

/// The driver's half of an async connection: a queue to the [`Connection`] future that
/// writes it.
pub struct AsyncLink {
    out: Sender<Bytes>,
    control: Sender<Control>,
    backlog: Arc<Backlog>,
}

impl Link for AsyncLink {
    fn queue(&mut self, bytes: Bytes) {
        self.backlog.add(bytes.len());
        // A connection that is gone has told the driver so.
        let _ = self.out.try_send(bytes);
    }

    fn finish(self, orderly: bool) {
        let how = if orderly {
            Control::Finish
        } else {
            Control::Abort
        };
        let _ = self.control.try_send(how);
        self.out.close();
    }
}

/// A handle to a replication node: the [`ferrocore_driver::Node`] methods (it derefs to
/// one), plus [`attach`](Self::attach) for connections. Clones share the node; the
/// driver shuts down (closing every connection) when the last handle is dropped, or at
/// [`shutdown`](ferrocore_driver::Node::shutdown).
pub struct Node<S: Storage> {
    node: ferrocore_driver::Node<S, Async>,
    timer: Arc<dyn Timer>,
}

impl<S: Storage> Clone for Node<S> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            timer: self.timer.clone(),
        }
    }
}

impl<S: Storage> std::fmt::Debug for Node<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.node.fmt(f)
    }
}

impl<S: Storage> Deref for Node<S> {
    type Target = ferrocore_driver::Node<S, Async>;

    fn deref(&self) -> &Self::Target {
        &self.node
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
        let (node, driver) = ferrocore_driver::Node::new(config, key_pair);
        let timer: Arc<dyn Timer> = Arc::new(timer);
        let inner = Box::pin(run(driver, timer.clone()));
        (Self { node, timer }, Driver { inner })
    }

    /// A handle that does not keep the node running (for an accept loop).
    #[must_use]
    pub fn downgrade(&self) -> WeakNode<S> {
        WeakNode {
            node: self.node.downgrade(),
            timer: self.timer.clone(),
        }
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
        self.attach_with(stream, |node, make| node.attach_link(make, role))
            .await
    }

    /// Replicates every core over a byte stream whose Noise handshake already ran on it
    /// or elsewhere (hyperdht's IK before a UDX stream; see
    /// [`NoiseWrap`](ferrocore::wire::noise::NoiseWrap)): `secret` is the secret-stream
    /// built from that handshake
    /// ([`SecretStream::from_handshake`](ferrocore::wire::stream::SecretStream::from_handshake)),
    /// and its header record is the first thing written. Spawn the returned
    /// [`Connection`].
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub async fn attach_secret<T>(&self, io: T, secret: SecretStream) -> Result<Connection, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.attach_with(io, |node, make| node.attach_stream_link(make, secret))
            .await
    }

    /// As [`attach_secret`](Self::attach_secret), with the secret-stream built by the
    /// node from the handshake's `result` (its stream configuration and clock, a random
    /// secretstream header).
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Shutdown`].
    pub async fn attach_handshake<T>(
        &self,
        io: T,
        result: HandshakeResult,
    ) -> Result<Connection, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        self.attach_with(io, |node, make| node.attach_handshake_link(make, result))
            .await
    }

    /// Replicates every core over a HyperDHT connection (from
    /// [`DhtNode::connect`](crate::dht::DhtNode::connect), a server's accept or a swarm): its
    /// encrypted UDX stream, keyed by the Noise IK handshake that ran through the DHT.
    /// Spawn the returned [`Connection`].
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Shutdown`].
    pub async fn add_dht_connection(
        &self,
        connection: crate::dht::DhtConnection,
    ) -> Result<Connection, Error> {
        let crate::dht::DhtConnection { stream, connection } = connection;
        self.attach_handshake(stream, connection.handshake.handshake)
            .await
    }

    /// Makes the link of a new connection over `stream`, has `attach` add the session
    /// with it, and returns the connection's future.
    async fn attach_with<T>(
        &self,
        stream: T,
        attach: impl FnOnce(&ferrocore_driver::Node<S, Async>, MakeAsyncLink) -> Reply<SessionId>,
    ) -> Result<Connection, Error>
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (out, out_rx) = async_channel::unbounded();
        let (control, control_rx) = async_channel::bounded(1);
        let backlog = Arc::new(Backlog::new());
        let link = AsyncLink {
            out,
            control,
            backlog: backlog.clone(),
        };
        let session = attach(&self.node, Box::new(move |_| Ok(link))).await?;
        let inner = Box::pin(run_connection(
            stream,
            session,
            backlog,
            out_rx,
            control_rx,
            self.node.reporter(),
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
}

/// A [`Node`] handle that does not keep the node running.
pub struct WeakNode<S: Storage> {
    node: ferrocore_driver::WeakNode<S, Async>,
    timer: Arc<dyn Timer>,
}

impl<S: Storage> Clone for WeakNode<S> {
    fn clone(&self) -> Self {
        Self {
            node: self.node.clone(),
            timer: self.timer.clone(),
        }
    }
}

impl<S: Storage> WeakNode<S> {
    /// The node, unless every handle to it was dropped.
    #[must_use]
    pub fn upgrade(&self) -> Option<Node<S>> {
        self.node.upgrade().map(|node| Node {
            node,
            timer: self.timer.clone(),
        })
    }
}

/// What woke the driver.
enum Wake<M> {
    Deadline,
    Msg(M),
}

/// The driver loop: waits for a message or the endpoint's next deadline, hands it to the
/// driver, flushes.
async fn run<S: Storage + Send + 'static>(
    mut driver: ferrocore_driver::Driver<S, AsyncLink>,
    timer: Arc<dyn Timer>,
) {
    // The armed sleep and the deadline (the driver's clock) it is for.
    let mut sleep: Option<(Duration, BoxFuture<()>)> = None;
    loop {
        driver.flush();
        match driver.deadline() {
            None => sleep = None,
            Some(deadline) => {
                if sleep.as_ref().map(|(d, _)| *d) != Some(deadline) {
                    let wait = deadline.saturating_sub(driver.now());
                    sleep = Some((deadline, timer.sleep(wait)));
                }
            }
        }
        // The deadline first (it fires at most once per deadline), then the inbox, which
        // holds commands and socket input in the order they came.
        let wake = poll_fn(|cx| {
            if let Some((_, s)) = &mut sleep {
                if s.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Wake::Deadline);
                }
            }
            driver.poll_msg(cx).map(Wake::Msg)
        })
        .await;
        match wake {
            Wake::Deadline => {
                sleep = None;
                driver.on_timeout();
            }
            Wake::Msg(msg) => {
                if let Some(stop) = driver.handle(msg) {
                    driver.shutdown(stop);
                    return;
                }
            }
        }
    }
}

async fn run_connection<T, S: Storage + Send + 'static>(
    stream: T,
    session: SessionId,
    backlog: Arc<Backlog>,
    out: Receiver<Bytes>,
    control: Receiver<Control>,
    reporter: Reporter<S, AsyncLink>,
    timer: Arc<dyn Timer>,
) where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut read, mut write) = futures_lite::io::split(stream);
    let reader = async {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            backlog.room().await;
            match read.read(&mut buf).await {
                Ok(0) => {
                    reporter.end(session);
                    break;
                }
                Err(e) => {
                    reporter.failed(session, e.kind().into());
                    break;
                }
                Ok(n) => {
                    let bytes = Bytes::copy_from_slice(&buf[..n]);
                    if !reporter.input(session, bytes).await {
                        break;
                    }
                }
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
                reporter.failed(session, e.kind().into());
                return;
            }
            backlog.sub(gather.len());
            // A driver that is gone no longer counts (it shut down).
            reporter.sent(session, gather.len());
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
