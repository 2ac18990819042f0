//! # ferrocore-tokio
//!
//! A thin [Tokio](https://tokio.rs) binding of ferrocore's sans-IO replication
//! [`Endpoint`](ferrocore::replication::Endpoint): it owns the TCP sockets, the timer, the clock and the OS random number
//! generator; every bit of protocol behaviour stays in the endpoint.
//!
//! A [`Node`] is a cheap, cloneable handle to one driver task that owns the endpoint. It
//! is `ferrocore-futures`' node run on Tokio: the driver and each connection are Tokio
//! tasks, Tokio's `sleep` is the timer and its TCP streams go through
//! [`tokio_util::compat`]. This crate adds only the sockets: [`Node::listen`],
//! [`Node::connect`] and [`Node::add_stream`] (and [`Node::add_secret_stream`] /
//! [`Node::add_handshake`] for a connection whose Noise handshake ran elsewhere); every other method is
//! [`ferrocore_driver::Node`]'s (through `Deref`), each answer a future. The event policy
//! ([`Events`]: a subscriber that falls behind loses its oldest non-terminal events and
//! is told so, never a `Closed` or a request's result) and the backlog bound
//! ([`MAX_BACKLOG`]) are the driver's, the same for every adapter.
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

/// Hyperbee on Tokio: [`ferrocore_futures::bee`] (methods are
/// futures, walks are streams).
pub use ferrocore_futures::bee;
pub use ferrocore_futures::drive;
pub mod dht;
pub mod swarm;
pub mod udx;

use std::net::SocketAddr;
use std::ops::Deref;
use std::time::Duration;

use ferrocore::replication::{EndpointConfig, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::noise::{HandshakeResult, KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::SecretStream;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio_util::compat::TokioAsyncReadCompatExt;

pub use ferrocore;
pub use ferrocore_futures::{
    CoreInfo, DownloadHandle, Error, Events, RecvError, Reply, EVENT_CAPACITY, MAX_BACKLOG,
};

/// A handle to a replication node: one endpoint driven by a Tokio task. Clones share the
/// node; the driver shuts down (closing every connection and stopping its listeners)
/// when the last handle is dropped, or at
/// [`shutdown`](ferrocore_driver::Node::shutdown).
#[derive(Clone, Debug)]
pub struct Node<S: Storage>(ferrocore_futures::Node<S>);

impl<S: Storage> Deref for Node<S> {
    type Target = ferrocore_futures::Node<S>;

    fn deref(&self) -> &Self::Target {
        &self.0
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
        let (node, driver) =
            ferrocore_futures::Node::with_key_pair(config, key_pair, tokio::time::sleep);
        tokio::spawn(driver);
        Self(node)
    }

    /// Accepts connections on `addr` (as the Noise responder) until the node shuts down.
    /// Returns the bound address (useful with port 0).
    ///
    /// # Errors
    /// When binding fails.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> Result<SocketAddr, Error> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let accepting = tokio::spawn(accept_loop(listener, self.0.downgrade()));
        let accepting = accepting.abort_handle();
        self.at_shutdown(move || accepting.abort());
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
        // Without TCP_NODELAY, Nagle's algorithm holds small records (live latency ~55 ms
        // instead of ~2 ms).
        let _ = stream.set_nodelay(true);
        Ok(spawn(self.0.attach(stream.compat(), role).await?))
    }

    /// Replicates over a TCP connection whose Noise handshake already ran (e.g. hyperdht's
    /// IK, [`NoiseWrap`](ferrocore::wire::noise::NoiseWrap)), with the secret-stream
    /// built from it; see [`ferrocore_futures::Node::attach_secret`].
    ///
    /// # Errors
    /// [`Error::Shutdown`].
    pub async fn add_secret_stream(
        &self,
        stream: TcpStream,
        secret: SecretStream,
    ) -> Result<SessionId, Error> {
        let _ = stream.set_nodelay(true);
        Ok(spawn(self.0.attach_secret(stream.compat(), secret).await?))
    }

    /// As [`add_secret_stream`](Self::add_secret_stream), the node building the
    /// secret-stream from the handshake's `result`.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Shutdown`].
    pub async fn add_handshake(
        &self,
        stream: TcpStream,
        result: HandshakeResult,
    ) -> Result<SessionId, Error> {
        let _ = stream.set_nodelay(true);
        Ok(spawn(
            self.0.attach_handshake(stream.compat(), result).await?,
        ))
    }

    /// Replicates over a connection set up through the DHT ([`dht::DhtNode::connect`] or
    /// [`dht::DhtNode::accept`]): its UDX stream carries a secret-stream started from the
    /// DHT's handshake (no Noise in band), as JS's `dht.connect` / `server.on('connection')`
    /// sockets.
    ///
    /// ```no_run
    /// # async fn f(node: ferrocore_tokio::Node<ferrocore::storage::MemoryStorage>, dht: ferrocore_tokio::dht::DhtNode, server: [u8; 32]) -> Result<(), Box<dyn std::error::Error>> {
    /// let key_pair = ferrocore::wire::noise::KeyPair::from_seed([1; 32]);
    /// let connection = dht.connect(key_pair, server).await?;
    /// node.add_dht_connection(connection).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails; [`Error::Shutdown`].
    pub async fn add_dht_connection(
        &self,
        connection: dht::DhtConnection,
    ) -> Result<SessionId, Error> {
        Ok(spawn(self.0.add_dht_connection(connection).await?))
    }

    /// Replicates over a UDX stream, exactly as over a TCP connection: Noise XX runs in
    /// band (as JS apps do over a raw udx stream). Connect the stream to its peer first;
    /// by convention the side that connected first is the [`Role::Initiator`].
    ///
    /// ```no_run
    /// # async fn f(node: ferrocore_tokio::Node<ferrocore::storage::MemoryStorage>, peer: std::net::SocketAddr, peer_id: u32) -> Result<(), ferrocore_tokio::Error> {
    /// let socket = ferrocore_tokio::udx::UdxSocket::bind("127.0.0.1:0").await?;
    /// let stream = socket.create_stream()?;
    /// socket.connect(&stream, peer_id, peer)?;
    /// node.add_udx_stream(stream, ferrocore::wire::noise::Role::Initiator).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    pub async fn add_udx_stream(
        &self,
        stream: udx::UdxStream,
        role: Role,
    ) -> Result<SessionId, Error> {
        Ok(spawn(self.0.attach(stream.into_inner(), role).await?))
    }
}

/// Spawns a connection's future; returns its session.
fn spawn(connection: ferrocore_futures::Connection) -> SessionId {
    let session = connection.session();
    tokio::spawn(connection);
    session
}

/// Attaches every accepted connection while the node runs (holding no handle to it
/// between connections, so it stops when its last handle is dropped).
async fn accept_loop<S: Storage + Send + 'static>(
    listener: TcpListener,
    node: ferrocore_futures::WeakNode<S>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let Some(node) = node.upgrade() else {
                    return;
                };
                // Only the OS RNG can fail here; the connection is then dropped.
                let _ = Node(node).add_stream(stream, Role::Responder).await;
            }
            // E.g. out of file descriptors: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
