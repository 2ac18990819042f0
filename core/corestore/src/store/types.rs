//! The vocabulary of the store state machine: ids, configuration, events, errors and the
//! read-only views of a core and a session.

use core::time::Duration;

use crate::keys::Namespace;

/// A core's discovery key: how the store tracks an open core (JS keys `CoreTracker` by its
/// hex).
pub type DiscoveryKey = [u8; 32];

/// A store session (JS: a `Corestore` made by `session()` or `namespace()`, or the root).
/// Ids are never reused within one [`Store`](super::Store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl SessionId {
    /// The root session every store starts with (JS: the `Corestore` the application made).
    pub const ROOT: SessionId = SessionId(0);

    /// The id's number (0 is the root), for logs.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

/// A `findingPeers()` in progress (JS: the `done` function it returns). Ending it twice is
/// harmless, as in JS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FindingPeersToken {
    pub(crate) session: SessionId,
    pub(crate) id: u64,
}

impl FindingPeersToken {
    /// The session whose cores are finding peers.
    #[must_use]
    pub const fn session(&self) -> SessionId {
        self.session
    }
}

/// How the store behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// How long a core with no reference (no session holds it, no replication channel is
    /// attached) stays open before [`StoreEvent::CloseIdle`] asks the adapter to close it;
    /// re-opening it before then cancels the close.
    ///
    /// JS corestore 7.12.5 (`CoreTracker.gc`) gives an idle core its first strike and counts
    /// one more on each tick of a 2 s interval, closing it on the 4th strike: 6 s after it
    /// went idle when the interval starts for it, between 4 and 6 s when other cores were
    /// already being collected (the interval's phase). The default, 6 s, is the JS delay of a
    /// lone idle core and never closes a core earlier than JS would (a live run of 7.12.5
    /// closed a lone idle core 6.05 s after its last session closed; a core a peer opened
    /// passively stayed open while the channel was up and closed once the stream went).
    pub idle_timeout: Duration,
}

impl StoreConfig {
    /// JS corestore 7's GC delay for a lone idle core: 3 ticks of its 2 s interval.
    pub const JS_IDLE_TIMEOUT: Duration = Duration::from_secs(6);
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Self::JS_IDLE_TIMEOUT,
        }
    }
}

/// What the adapter must do next (drained with [`Store::poll_event`](super::Store::poll_event)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreEvent {
    /// The core stayed unreferenced for [`StoreConfig::idle_timeout`]: close it and drop it.
    /// The store has forgotten it; opening it again is a fresh open
    /// ([`Acquired::Opened`]), which must wait until this close is done (JS `preopen`).
    CloseIdle {
        /// The core to close.
        discovery_key: DiscoveryKey,
    },
    /// The session's last `findingPeers()` ended (or the session closed while some were
    /// running): the cores it opened should run their pending updates now (JS
    /// `queueUpdateAll` via each core session's `findingPeers` done).
    FindingPeersDone {
        /// The session that stopped finding peers.
        session: SessionId,
    },
}

/// What a reference to a core did (see [`Store::open_core`](super::Store::open_core) and
/// [`Store::handle_peer_opened`](super::Store::handle_peer_opened)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The core was not open: the adapter opens it (after any close still running for it).
    Opened,
    /// The core was open and referenced: the adapter reuses it.
    Shared,
    /// The core was open and idle, waiting to be closed: the close is cancelled and the
    /// adapter reuses it.
    Revived,
}

impl Acquired {
    /// Whether the adapter must open the core from storage.
    #[must_use]
    pub const fn needs_open(self) -> bool {
        matches!(self, Acquired::Opened)
    }
}

/// What dropping a reference to a core did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Other references keep the core open.
    InUse,
    /// That was the last reference: the core is idle and will be closed at `deadline`
    /// unless it is opened again before.
    Idle {
        /// When [`StoreEvent::CloseIdle`] comes for it.
        deadline: Duration,
    },
}

/// Why a call was refused. Nothing changed when one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The store was closed ([`Store::close`](super::Store::close)).
    Closed,
    /// No such session: never made, or closed.
    UnknownSession(SessionId),
    /// The root session closes with the store ([`Store::close`](super::Store::close)).
    RootSession,
    /// The session holds no reference to this core.
    NotOpenedBy(SessionId, DiscoveryKey),
    /// No replication channel of this core is attached.
    NoPeer(DiscoveryKey),
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StoreError::Closed => f.write_str("the store is closed"),
            StoreError::UnknownSession(s) => write!(f, "no store session {}", s.0),
            StoreError::RootSession => f.write_str("the root session closes with the store"),
            StoreError::NotOpenedBy(s, _) => write!(f, "session {} did not open this core", s.0),
            StoreError::NoPeer(_) => f.write_str("no replication channel of this core is attached"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for StoreError {}

/// A snapshot of one open core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreInfo {
    /// References held by store sessions (one per open that was not released).
    pub sessions: u64,
    /// Replication channels attached to it.
    pub peers: u64,
    /// Opened by replication (a peer asked for it, JS `_attachMaybe`) and by no session
    /// since.
    pub passive: bool,
    /// When it will be closed if nothing opens it: `Some` iff it has no reference.
    pub idle_deadline: Option<Duration>,
}

/// A snapshot of one store session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo {
    /// Its namespace (the root's is [`Namespace::ROOT`]).
    pub namespace: Namespace,
    /// The session it was made from (`None` for the root).
    pub parent: Option<SessionId>,
    /// Distinct cores it holds references to.
    pub cores: usize,
    /// Its `findingPeers()` still running.
    pub finding_peers: u64,
}
