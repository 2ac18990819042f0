//! The half of every ferrocore adapter that does not depend on its runtime.
//!
//! The tokio, futures-io and blocking adapters each drive one
//! [`Endpoint`] from a task or thread that owns the sockets, the timer and the clock. What
//! they do with a node's commands (append, truncate, get, download, update, info) and with
//! the requests awaiting a replication event is the same in all three, and lives here: the
//! adapters differ only in their channels ([`Channel`]) and their I/O.
//!
//! ```
//! use std::sync::mpsc;
//! use bytes::Bytes;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::replication::{Endpoint, EndpointConfig};
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::{Log, LogOptions};
//! use ferrocore_driver::{Channel, Command, Error, Requests};
//!
//! /// Replies go over std channels.
//! struct Std;
//! impl Channel for Std {
//!     type Reply<T> = mpsc::Sender<Result<T, Error>>;
//!     fn send<T>(reply: Self::Reply<T>, result: Result<T, Error>) {
//!         let _ = reply.send(result);
//!     }
//! }
//!
//! let mut endpoint = Endpoint::new(EndpointConfig::default());
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[1; 32])), ..LogOptions::default() };
//! let log = Log::open(MemoryStorage::new(), options).unwrap();
//! let core = endpoint.add_core(log);
//! let mut requests = Requests::<Std>::new();
//! let (tx, rx) = mpsc::channel();
//! requests.handle(&mut endpoint, std::time::Duration::ZERO,
//!     Command::Append(core, vec![Bytes::from_static(b"hello")], tx));
//! // Appends are answered once the peers were sent the new length.
//! requests.answer_appends();
//! assert_eq!(rx.recv().unwrap().unwrap(), 1);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, Endpoint, Event, RequestError, RequestId, SessionId};
use ferrocore::storage::Storage;
use ferrocore::wire::stream::Entropy;
use ferrocore::Log;

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

/// How an adapter answers its callers: the sending half of its one-shot reply channels.
pub trait Channel {
    /// The sender a command's result of type `T` goes to.
    type Reply<T>;

    /// Sends `result`; a caller that went away is no error.
    fn send<T>(reply: Self::Reply<T>, result: Result<T, Error>);

    /// True if the caller went away (a dropped future), so its request can be cancelled.
    /// Channels that cannot tell answer false, and the request runs to its end.
    fn is_closed<T>(reply: &Self::Reply<T>) -> bool {
        let _ = reply;
        false
    }
}

/// The blocks a download asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// `start..end`; an `end` of `None` follows the core as it grows (a live download).
    Range(u64, Option<u64>),
    /// These blocks.
    Blocks(Vec<u64>),
}

/// A function run on the driver with the endpoint, for what the node has no command for.
pub type Call<S> = Box<dyn FnOnce(&mut Endpoint<S>) + Send>;

/// A node command that every adapter handles the same way.
pub enum Command<C: Channel, S: Storage> {
    /// Adds a core; replies with its id.
    AddCore(Box<Log<S>>, C::Reply<CoreId>),
    /// Appends blocks; replies with the new length once the peers were sent it.
    Append(CoreId, Vec<Bytes>, C::Reply<u64>),
    /// Truncates to a length.
    Truncate(CoreId, u64, C::Reply<()>),
    /// Gets a block, waiting for a peer at most the given time.
    Get(CoreId, u64, Option<Duration>, C::Reply<Bytes>),
    /// Downloads blocks: the first reply when done, the second with the request's id.
    Download(CoreId, Span, C::Reply<()>, C::Reply<RequestId>),
    /// Updates to the newest length, waiting at most the given time.
    Update(CoreId, Option<Duration>, C::Reply<u64>),
    /// Cancels a request.
    Cancel(RequestId),
    /// A snapshot of a core.
    Info(CoreId, C::Reply<CoreInfo>),
    /// Closes a connection.
    Close(SessionId),
    /// Runs a function with the endpoint.
    Call(Call<S>),
}

/// A request awaiting its replication event.
enum Pending<C: Channel> {
    Get(C::Reply<Bytes>),
    Download(C::Reply<()>),
    Update(C::Reply<u64>),
}

impl<C: Channel> Pending<C> {
    fn is_closed(&self) -> bool {
        match self {
            Pending::Get(tx) => C::is_closed(tx),
            Pending::Download(tx) => C::is_closed(tx),
            Pending::Update(tx) => C::is_closed(tx),
        }
    }
}

/// A driver's commands and outstanding requests: [`handle`](Self::handle) applies a
/// command to the endpoint, [`on_event`](Self::on_event) answers the request an event
/// ends, [`answer_appends`](Self::answer_appends) answers appends after a flush.
pub struct Requests<C: Channel> {
    pending: HashMap<RequestId, Pending<C>>,
    appended: Vec<(C::Reply<u64>, Result<u64, Error>)>,
}

impl<C: Channel> Default for Requests<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Channel> Requests<C> {
    /// No requests.
    pub fn new() -> Self {
        Self {
            pending: HashMap::new(),
            appended: Vec::new(),
        }
    }

    /// Requests awaiting their event.
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Applies `command` at time `now` (the endpoint's clock). Requests whose callers
    /// went away are cancelled first.
    pub fn handle<S: Storage>(
        &mut self,
        endpoint: &mut Endpoint<S>,
        now: Duration,
        command: Command<C, S>,
    ) {
        self.reap(endpoint);
        let deadline = |timeout: Option<Duration>| timeout.map(|t| now + t);
        match command {
            Command::AddCore(log, tx) => C::send(tx, Ok(endpoint.add_core(*log))),
            Command::Append(core, blocks, tx) => {
                let result = match endpoint.log_mut(core) {
                    Some(log) => log
                        .append_bytes(blocks)
                        .map(|o| o.length)
                        .map_err(Error::Core),
                    None => Err(Error::NoSuchCore),
                };
                self.appended.push((tx, result));
            }
            Command::Truncate(core, length, tx) => {
                let result = match endpoint.log_mut(core) {
                    Some(log) => log.truncate(length, None).map_err(Error::Core),
                    None => Err(Error::NoSuchCore),
                };
                C::send(tx, result);
            }
            Command::Get(core, index, timeout, tx) => {
                let started = known(endpoint, core)
                    .and_then(|()| Ok(endpoint.get(core, index, deadline(timeout))?));
                self.start(started, Pending::Get(tx));
            }
            Command::Download(core, span, done, tx) => {
                let started = known(endpoint, core).and_then(|()| {
                    Ok(match span {
                        Span::Range(start, end) => endpoint.download(core, start, end, None),
                        Span::Blocks(blocks) => endpoint.download_blocks(core, &blocks, None),
                    }?)
                });
                match started {
                    Ok(id) => {
                        self.pending.insert(id, Pending::Download(done));
                        C::send(tx, Ok(id));
                    }
                    // The caller never gets a handle to await `done` with.
                    Err(e) => C::send(tx, Err(e)),
                }
            }
            Command::Update(core, timeout, tx) => {
                let started = known(endpoint, core)
                    .and_then(|()| Ok(endpoint.update(core, deadline(timeout))?));
                self.start(started, Pending::Update(tx));
            }
            Command::Cancel(id) => {
                endpoint.cancel(id);
            }
            Command::Info(core, tx) => C::send(tx, CoreInfo::of(endpoint, core)),
            Command::Close(session) => endpoint.close(session),
            Command::Call(f) => f(endpoint),
        }
    }

    /// Keeps the request `started` for its event, or fails it at once.
    fn start(&mut self, started: Result<RequestId, Error>, pending: Pending<C>) {
        match started {
            Ok(id) => {
                self.pending.insert(id, pending);
            }
            Err(e) => match pending {
                Pending::Get(tx) => C::send(tx, Err(e)),
                Pending::Download(tx) => C::send(tx, Err(e)),
                Pending::Update(tx) => C::send(tx, Err(e)),
            },
        }
    }

    /// Cancels the requests whose callers went away.
    fn reap<S: Storage>(&mut self, endpoint: &mut Endpoint<S>) {
        let abandoned: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in abandoned {
            self.pending.remove(&id);
            endpoint.cancel(id);
        }
    }

    /// Answers the request `event` ends, if it is one of ours.
    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Get {
                request, result, ..
            } => {
                if let Some(Pending::Get(tx)) = self.pending.remove(request) {
                    C::send(tx, result.clone().map_err(Error::Request));
                }
            }
            Event::Download {
                request, result, ..
            } => {
                if let Some(Pending::Download(tx)) = self.pending.remove(request) {
                    C::send(tx, result.clone().map_err(Error::Request));
                }
            }
            Event::Update {
                request, result, ..
            } => {
                if let Some(Pending::Update(tx)) = self.pending.remove(request) {
                    C::send(tx, result.clone().map_err(Error::Request));
                }
            }
            _ => {}
        }
    }

    /// Answers the appends handled since the last call. Drivers call it after flushing
    /// the endpoint's output, so an append returns once the peers were sent the new length.
    pub fn answer_appends(&mut self) {
        for (tx, result) in self.appended.drain(..) {
            C::send(tx, result);
        }
    }

    /// Drops every request and unanswered append; their callers see the driver gone
    /// (the adapters' [`Error::Shutdown`]).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.appended.clear();
    }
}

fn known<S: Storage>(endpoint: &Endpoint<S>, core: CoreId) -> Result<(), Error> {
    endpoint.log(core).map(|_| ()).ok_or(Error::NoSuchCore)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{self, Receiver, TryRecvError};
    use std::sync::Arc;

    use ferrocore::keys::KeyPair;
    use ferrocore::replication::EndpointConfig;
    use ferrocore::storage::MemoryStorage;
    use ferrocore::LogOptions;

    use super::*;

    /// Replies over std channels, with a flag the test sets for "the caller went away"
    /// (a dropped future), which std senders cannot tell.
    struct Test;

    struct Tx<T> {
        tx: mpsc::Sender<Result<T, Error>>,
        closed: Arc<AtomicBool>,
    }

    impl Channel for Test {
        type Reply<T> = Tx<T>;

        fn send<T>(reply: Tx<T>, result: Result<T, Error>) {
            let _ = reply.tx.send(result);
        }

        fn is_closed<T>(reply: &Tx<T>) -> bool {
            reply.closed.load(Ordering::Relaxed)
        }
    }

    fn reply<T>() -> (Tx<T>, Receiver<Result<T, Error>>) {
        let (tx, rx) = mpsc::channel();
        let closed = Arc::new(AtomicBool::new(false));
        (Tx { tx, closed }, rx)
    }

    fn node(writable: bool) -> (Endpoint<MemoryStorage>, CoreId) {
        let pair = KeyPair::from_seed(&[3; 32]);
        let options = if writable {
            LogOptions {
                key_pair: Some(pair),
                ..LogOptions::default()
            }
        } else {
            LogOptions {
                key: Some(pair.public_key),
                ..LogOptions::default()
            }
        };
        let mut endpoint = Endpoint::new(EndpointConfig::default());
        let core = endpoint.add_core(Log::open(MemoryStorage::new(), options).unwrap());
        (endpoint, core)
    }

    type R = Requests<Test>;

    #[test]
    fn appends_are_answered_only_after_the_flush() {
        let (mut ep, core) = node(true);
        let mut requests = R::new();
        let (tx, rx) = reply();
        let blocks = vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        requests.handle(&mut ep, Duration::ZERO, Command::Append(core, blocks, tx));
        assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        requests.answer_appends();
        assert_eq!(rx.try_recv().unwrap().unwrap(), 2);
        assert_eq!(ep.log(core).unwrap().length(), 2);
    }

    #[test]
    fn unknown_cores_fail_every_command_at_once() {
        let (mut ep, core) = node(true);
        let missing = {
            let (mut other, _) = node(true);
            let log = Log::open(
                MemoryStorage::new(),
                LogOptions {
                    key_pair: Some(KeyPair::from_seed(&[4; 32])),
                    ..LogOptions::default()
                },
            )
            .unwrap();
            other.add_core(log)
        };
        assert_ne!(missing, core);
        let mut requests = R::new();
        let now = Duration::ZERO;
        let (g, g_rx) = reply();
        requests.handle(&mut ep, now, Command::Get(missing, 0, None, g));
        let (u, u_rx) = reply();
        requests.handle(&mut ep, now, Command::Update(missing, None, u));
        let (d, d_rx) = reply();
        let (id, id_rx) = reply();
        requests.handle(
            &mut ep,
            now,
            Command::Download(missing, Span::Range(0, None), d, id),
        );
        let (i, i_rx) = reply();
        requests.handle(&mut ep, now, Command::Info(missing, i));
        let (t, t_rx) = reply();
        requests.handle(&mut ep, now, Command::Truncate(missing, 0, t));
        assert!(matches!(g_rx.try_recv().unwrap(), Err(Error::NoSuchCore)));
        assert!(matches!(u_rx.try_recv().unwrap(), Err(Error::NoSuchCore)));
        assert!(matches!(id_rx.try_recv().unwrap(), Err(Error::NoSuchCore)));
        assert!(matches!(i_rx.try_recv().unwrap(), Err(Error::NoSuchCore)));
        assert!(matches!(t_rx.try_recv().unwrap(), Err(Error::NoSuchCore)));
        // The download never started: its completion reply is dropped unanswered.
        assert!(matches!(d_rx.try_recv(), Err(TryRecvError::Disconnected)));
        assert_eq!(requests.outstanding(), 0);
    }

    #[test]
    fn a_request_is_answered_by_its_event_and_a_local_block_at_once() {
        let (mut ep, core) = node(true);
        let mut requests = R::new();
        let (tx, _rx) = reply();
        requests.handle(
            &mut ep,
            Duration::ZERO,
            Command::Append(core, vec![Bytes::from_static(b"x")], tx),
        );
        let (g, g_rx) = reply();
        requests.handle(&mut ep, Duration::ZERO, Command::Get(core, 0, None, g));
        assert_eq!(requests.outstanding(), 1);
        while let Some(event) = ep.poll_event() {
            requests.on_event(&event);
        }
        assert_eq!(g_rx.try_recv().unwrap().unwrap(), "x");
        assert_eq!(requests.outstanding(), 0);
    }

    #[test]
    fn abandoned_requests_are_cancelled_and_clear_drops_the_rest() {
        let (mut ep, core) = node(false);
        let mut requests = R::new();
        let now = Duration::ZERO;
        // No peer has block 5: both gets wait.
        let (a, a_rx) = reply();
        let gone = a.closed.clone();
        requests.handle(&mut ep, now, Command::Get(core, 5, None, a));
        let (b, b_rx) = reply();
        requests.handle(&mut ep, now, Command::Get(core, 5, None, b));
        assert_eq!(requests.outstanding(), 2);
        gone.store(true, Ordering::Relaxed);
        // The next command reaps the first (its caller went away) and cancels it.
        let (i, i_rx) = reply();
        requests.handle(&mut ep, now, Command::Info(core, i));
        assert_eq!(i_rx.try_recv().unwrap().unwrap().length, 0);
        assert_eq!(requests.outstanding(), 1);
        let mut cancelled = 0;
        while let Some(event) = ep.poll_event() {
            if matches!(
                &event,
                Event::Get {
                    result: Err(RequestError::Cancelled),
                    ..
                }
            ) {
                cancelled += 1;
            }
            requests.on_event(&event);
        }
        assert_eq!(cancelled, 1);
        assert!(a_rx.try_recv().is_err());
        assert!(matches!(b_rx.try_recv(), Err(TryRecvError::Empty)));
        requests.clear();
        assert_eq!(requests.outstanding(), 0);
        assert!(matches!(b_rx.try_recv(), Err(TryRecvError::Disconnected)));
    }
}
