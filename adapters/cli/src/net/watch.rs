//! What a clone's threads share: the node's one-time shutdown ([`Stopper`]), what the
//! event watcher has seen ([`Status`]), the errors it reports, and the watcher itself
//! with its progress line.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ferrocore::id;
use ferrocore::replication::{CoreId, Event, PeerError, RequestError, SessionError};
use ferrocore::wire::stream::Blame;
use ferrocore_blocking::{Error as NodeError, Events, RecvError};

use super::{lock, CliNode};
use crate::Error;

/// Why the node was stopped from another thread.
#[derive(Debug)]
pub(crate) enum Reason {
    /// SIGTERM or SIGINT.
    Signal(i32),
    /// The session failed (or local storage did).
    Failed(Error),
}

#[derive(Debug, Default)]
pub(crate) struct StopState {
    reason: Option<Reason>,
    stopping: bool,
    stopped: bool,
}

/// Shuts the node down once, from whichever thread asks first, remembering the first
/// reason given; everyone who asks waits until the node is down and its store closed.
pub(crate) struct Stopper {
    node: CliNode,
    state: Mutex<StopState>,
    done: Condvar,
}

impl Stopper {
    pub(crate) fn new(node: CliNode) -> Self {
        Self {
            node,
            state: Mutex::new(StopState::default()),
            done: Condvar::new(),
        }
    }

    pub(crate) fn stop(&self, reason: Option<Reason>) {
        let mut state = lock(&self.state);
        if state.reason.is_none() {
            state.reason = reason;
        }
        if state.stopping {
            while !state.stopped {
                state = self
                    .done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            return;
        }
        state.stopping = true;
        drop(state);
        // Connections end in order; the endpoint handed back holds the log, and dropping
        // it closes the store.
        drop(self.node.shutdown());
        lock(&self.state).stopped = true;
        self.done.notify_all();
    }

    pub(crate) fn stopping(&self) -> bool {
        lock(&self.state).stopping
    }

    pub(crate) fn take_reason(&self) -> Option<Reason> {
        lock(&self.state).reason.take()
    }
}

/// What the event watcher has seen, for messages and progress.
#[derive(Debug, Default)]
pub(crate) struct Status {
    pub(crate) connected: AtomicBool,
    pub(crate) peer_added: AtomicBool,
    /// Set once the clone is done: a session ending after that is no failure.
    pub(crate) finishing: AtomicBool,
    /// Set once the initial download of `--live` is done.
    pub(crate) live: AtomicBool,
    /// Blocks of the download stored (present before it started, or verified since).
    pub(crate) done: AtomicU64,
    /// Blocks the download wants (0 until known).
    pub(crate) total: AtomicU64,
    /// Average block size of the core in bytes (for the progress line's rate).
    pub(crate) average_block: AtomicU64,
}

/// Everything a clone's threads share.
pub(crate) struct Cloning {
    pub(crate) addr: String,
    /// Peers come from a swarm (`--swarm`): once live, a lost peer is looked for again.
    pub(crate) swarm: bool,
    pub(crate) key: [u8; 32],
    pub(crate) timeout: u64,
    pub(crate) node: CliNode,
    pub(crate) core: CoreId,
    pub(crate) stopper: Arc<Stopper>,
    pub(crate) status: Arc<Status>,
}

impl Cloning {
    /// The error for a failed node call.
    pub(crate) fn node_error(&self, e: NodeError) -> Error {
        match e {
            NodeError::Shutdown => self.stop_reason(),
            NodeError::Request(RequestError::Timeout) => self.timeout_error(),
            NodeError::Io(e) => Error::Network(format!("the connection to {}: {e}", self.addr)),
            e => Error::Failed(format!("replication failed: {e}")),
        }
    }

    /// Why the node shut down under a request (after waiting until it is down).
    pub(crate) fn stop_reason(&self) -> Error {
        self.stopper.stop(None);
        match self.stopper.take_reason() {
            Some(Reason::Signal(signal)) => Error::Interrupted(signal),
            Some(Reason::Failed(e)) => e,
            None => Error::Failed("the replication node shut down unexpectedly".into()),
        }
    }

    /// The error when `--timeout` passed, saying how far the clone got.
    pub(crate) fn timeout_error(&self) -> Error {
        let (s, addr) = (&self.status, &self.addr);
        let secs = self.timeout;
        Error::Timeout(if !s.connected.load(Ordering::Acquire) {
            format!("timed out after {secs} s: no handshake with {addr} (is it a hypercore peer?)")
        } else if !s.peer_added.load(Ordering::Acquire) {
            format!(
                "timed out after {secs} s: connected to {addr}, but the peer never opened core \
                 {}; it probably does not have this core (check KEY)",
                id::core_id(&self.key)
            )
        } else {
            match s.total.load(Ordering::Acquire) {
                0 => format!("timed out after {secs} s waiting for the peer's length"),
                total => format!(
                    "timed out: no progress from {addr} for {secs} s ({} of {total} \
                     blocks downloaded); run the same command again to resume, or raise \
                     --timeout (0: no limit)",
                    s.done.load(Ordering::Acquire)
                ),
            }
        })
    }

    /// The error for a session that ended before the clone was done.
    pub(crate) fn closed_error(&self, error: Option<SessionError>) -> Error {
        let addr = &self.addr;
        let id = id::core_id(&self.key);
        match error {
            None => Error::Network(format!("the connection to {addr} was closed")),
            Some(SessionError::RemoteEnded) if !self.status.peer_added.load(Ordering::Acquire) => {
                Error::Network(format!(
                    "{addr} closed the connection without opening core {id}: it does not serve \
                     this core (check KEY)"
                ))
            }
            Some(SessionError::RemoteEnded) if self.status.live.load(Ordering::Acquire) => {
                Error::Network(format!("{addr} closed the connection"))
            }
            Some(SessionError::RemoteEnded) => Error::Network(format!(
                "{addr} closed the connection before the download finished"
            )),
            Some(SessionError::Peer(PeerError::InvalidProof { error, .. })) => {
                Error::Peer(format!(
                    "the peer at {addr} sent data that failed verification: {error} (the data was \
                 discarded; blocks verified before it are kept)"
                ))
            }
            Some(SessionError::Peer(PeerError::BadCapability(_))) => Error::Peer(format!(
                "the peer at {addr} failed the capability check for core {id}: it does not know \
                 this core's key"
            )),
            Some(SessionError::Peer(e)) => {
                Error::Peer(format!("the peer at {addr} misbehaved: {e}"))
            }
            Some(SessionError::Connection(e)) => match e.blame() {
                Blame::Peer => Error::Peer(format!(
                    "the peer at {addr} broke the encrypted transport: {e}"
                )),
                Blame::Timeout => {
                    Error::Network(format!("the connection to {addr} timed out: {e}"))
                }
                Blame::Local => Error::Network(format!("the connection to {addr} failed: {e}")),
            },
            Some(SessionError::Transport(e)) => {
                Error::Network(format!("the connection to {addr} was lost: {e}"))
            }
            Some(e) => Error::Network(format!("the connection to {addr} ended: {e}")),
        }
    }

    /// Stops the node for a failed session unless the clone is already done.
    pub(crate) fn fail(&self, error: Error) {
        if !self.status.finishing.load(Ordering::Acquire) {
            self.stopper.stop(Some(Reason::Failed(error)));
        }
    }
}

/// Watches the node's events until it stops: records the handshake and the peer, counts
/// verified blocks (drawing the progress line if `progress`), and stops the node when the
/// session fails before the clone is done. A `Closed` event is never lost, however far
/// behind this thread falls (the node's event policy), so waiting for it is enough.
pub(crate) fn watch(clone: &Cloning, events: &Events, progress: bool) {
    let status = &clone.status;
    let mut bar = Progress::new(progress);
    loop {
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Connected { .. }) => status.connected.store(true, Ordering::Release),
            Ok(Event::PeerAdded { core, .. }) if core == clone.core => {
                status.peer_added.store(true, Ordering::Release);
            }
            Ok(Event::Verified { core, .. }) if core == clone.core => {
                status.done.fetch_add(1, Ordering::AcqRel);
            }
            Ok(Event::Closed { .. }) if clone.swarm && status.live.load(Ordering::Acquire) => {
                // The swarm retries the peer and connects to those it finds; the live
                // download goes on with whoever comes.
                eprintln!("peer disconnected; looking for peers on the swarm");
            }
            Ok(Event::Closed { error, .. }) => {
                bar.clear();
                clone.fail(clone.closed_error(error));
                return;
            }
            Ok(Event::StorageFailed { error, .. }) => {
                bar.clear();
                clone.fail(Error::Failed(format!(
                    "storing downloaded data failed: {error}"
                )));
                return;
            }
            // Missed `Verified` events only make the progress line lag.
            Ok(_) | Err(RecvError::Empty | RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
        if clone.stopper.stopping() || status.finishing.load(Ordering::Acquire) {
            bar.finish(status);
            return;
        }
        bar.draw(status, false);
    }
}

/// The one-line progress display on stderr (only when it is a terminal).
pub(crate) struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    fn draw(&mut self, status: &Status, force: bool) {
        let total = status.total.load(Ordering::Acquire);
        if !self.enabled || total == 0 {
            return;
        }
        if !force
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        let done = status.done.load(Ordering::Acquire).min(total);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mb = (done * status.average_block.load(Ordering::Acquire)) as f64 / 1e6;
        let percent = done * 100 / total;
        eprint!(
            "\r{done}/{total} blocks ({percent}%), ~{:.1} MB/s   ",
            mb / secs
        );
        let _ = std::io::stderr().flush();
        self.drawn = true;
    }

    fn finish(&mut self, status: &Status) {
        if self.drawn {
            self.draw(status, true);
            eprintln!();
            self.drawn = false;
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}
