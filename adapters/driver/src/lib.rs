//! The half of every ferrocore adapter that does not depend on its runtime.
//!
//! The tokio, futures-io and blocking adapters each drive one [`Endpoint`] from a task or
//! a thread that owns the sockets and the waiting. Everything else is here, once:
//!
//! * [`Node`], the handle callers use (add cores, append, get, download, update, events,
//!   shut down), generic over an [`Adapter`] that says whether answers are awaited or
//!   waited for;
//! * [`Driver`], the body of the driver loop: it owns the endpoint, the connections'
//!   [`Link`]s, the outstanding requests and the event subscribers, and handles each
//!   message, input and deadline, then [`flush`](Driver::flush)es;
//! * [`Events`], the one policy for a subscriber that falls behind: its oldest
//!   non-terminal events are dropped and it is told how many; terminal ones
//!   ([`is_terminal`]: `Closed`, request results, ...) never are;
//! * [`Backlog`], the bound on a connection's unwritten output, and the bounded inbox
//!   for socket input ([`INPUT_QUEUE`]).
//!
//! An adapter supplies a [`Link`] per connection (where its output goes), an [`Adapter`]
//! type, and a loop that waits for [`Driver::poll_msg`], its sockets and
//! [`Driver::timeout`]. Here is the smallest one: no sockets, answers waited for on the
//! thread, and the driver run by hand.
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::replication::EndpointConfig;
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::wire::noise::KeyPair as NoiseKeyPair;
//! use ferrocore::{Log, LogOptions};
//! use ferrocore_driver::{Adapter, Link, Node, Reply};
//!
//! struct NoLink;
//! impl Link for NoLink {
//!     fn queue(&mut self, _: Bytes) {}
//!     fn finish(self, _: bool) {}
//! }
//!
//! /// Answers are futures; this example blocks on them with `Reply::wait`.
//! struct Manual;
//! impl Adapter for Manual {
//!     type Link = NoLink;
//!     type Out<T: Send + 'static> = Reply<T>;
//!     fn out<T: Send + 'static>(reply: Reply<T>) -> Reply<T> {
//!         reply
//!     }
//! }
//!
//! let (node, mut driver) =
//!     Node::<MemoryStorage, Manual>::new(EndpointConfig::default(), NoiseKeyPair::from_seed([1; 32]));
//! // One turn of a driver loop: every queued message, then a flush.
//! let mut turn = || {
//!     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//!     while let std::task::Poll::Ready(msg) = driver.poll_msg(&mut cx) {
//!         assert!(driver.handle(msg).is_none(), "no shutdown");
//!     }
//!     driver.flush();
//! };
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[2; 32])), ..LogOptions::default() };
//! let added = node.add_core(Log::open(MemoryStorage::new(), options).unwrap());
//! turn();
//! let core = added.wait().unwrap();
//! let appended = node.append(core, vec![Bytes::from("hello")]);
//! turn();
//! assert_eq!(appended.wait().unwrap(), 1);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backlog;
pub mod bee;
pub mod drive;
mod driver;
mod events;
mod inbox;
mod node;
mod reply;
mod requests;
pub mod spin;
mod turns;
mod walk;
mod watch;

use ferrocore::replication::{CoreId, Endpoint, RequestError};
use ferrocore::storage::Storage;
use ferrocore::wire::stream::Entropy;

pub use backlog::{Backlog, MAX_BACKLOG};
pub use driver::{Driver, ExtensionHandler, Link, Msg, Plugin, Stop};
pub use events::{is_terminal, Events, Recv, RecvError, EVENT_CAPACITY};
pub use inbox::INPUT_QUEUE;
pub use node::{Adapter, DownloadHandle, Node, Reporter, WeakNode};
pub use reply::Reply;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket operation (bind, connect, accept) or spawning a thread failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The core refused a local operation (append, truncate, a read), or storage failed.
    #[error(transparent)]
    Core(#[from] ferrocore::Error),
    /// A replication request (get, download, update) ended without its result.
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    /// No core with this id was added to the node.
    #[error("no such core")]
    NoSuchCore,
    /// The OS random number generator failed.
    #[error("OS random number generator: {0}")]
    Random(getrandom::Error),
    /// The node's driver has shut down.
    #[error("the node has shut down")]
    Shutdown,
    /// A store (`ferrocore-store`'s `Corestore`, a [`Plugin`]) refused the operation.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a store refused an operation on its cores (storage failures are
/// [`Error::Core`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No core with this discovery key is held (a `get` by discovery key never creates
    /// one: without the key nothing could be verified).
    #[error("no core with discovery key {} in the store", hex32(.0))]
    NotHeld([u8; 32]),
    /// The store has no such core and the `get` was not to create it.
    #[error("no such core in the store")]
    NotFound,
    /// A core by that name exists already in the namespace (a `get` that must create).
    #[error("a core named {0:?} exists already in this namespace")]
    NameTaken(String),
    /// The store holds another primary key than the one it was opened with.
    #[error("the store holds another primary key")]
    PrimaryKeyMismatch,
    /// Another session holds the core with `exclusive`.
    #[error("another session holds the core exclusively")]
    Exclusive,
    /// The options contradict each other or the stored core.
    #[error("misuse: {0}")]
    Misuse(&'static str),
    /// The store session was closed.
    #[error("the store session is closed")]
    Closed,
}

fn hex32(b: &[u8; 32]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// A snapshot of a core's state, from a node's `info`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoreInfo {
    /// The core key.
    pub key: [u8; 32],
    /// The discovery key.
    pub discovery_key: [u8; 32],
    /// The signed length.
    pub length: u64,
    /// Blocks held contiguously from 0.
    pub contiguous_length: u64,
    /// The user-visible byte length.
    pub byte_length: u64,
    /// The fork id.
    pub fork: u64,
    /// True if this node can append (holds the secret key).
    pub writable: bool,
    /// Peers replicating the core with us.
    pub peers: usize,
}

impl CoreInfo {
    /// The state of `core` in `endpoint`.
    ///
    /// # Errors
    /// [`Error::NoSuchCore`] if the endpoint has no such core.
    pub fn of<S: Storage>(endpoint: &Endpoint<S>, core: CoreId) -> Result<Self, Error> {
        let log = endpoint.log(core).ok_or(Error::NoSuchCore)?;
        Ok(Self {
            key: *log.key(),
            discovery_key: *log.discovery_key(),
            length: log.length(),
            contiguous_length: log.contiguous_length(),
            byte_length: log.byte_length(),
            fork: log.fork(),
            writable: log.writable(),
            peers: endpoint.peers(core).len(),
        })
    }
}

/// `N` bytes from the OS random number generator.
///
/// # Errors
/// [`Error::Random`] if it fails.
pub fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).map_err(Error::Random)?;
    Ok(out)
}

/// Fresh randomness for one connection's handshake.
///
/// # Errors
/// [`Error::Random`] if the OS random number generator fails.
pub fn entropy() -> Result<Entropy, Error> {
    Ok(Entropy {
        ephemeral_seed: random()?,
        header: random()?,
    })
}
