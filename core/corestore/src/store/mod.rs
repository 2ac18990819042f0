//! What a JS corestore 7 tracks in memory, without I/O: store sessions and their namespaces,
//! the open cores with their references, cores opened passively by replication, the idle
//! close of unreferenced cores, and `findingPeers`.
//!
//! The adapter does the I/O (resolving names with [`crate::auth`], opening and closing cores
//! in storage, attaching channels) and tells this machine what happened; it asks it what to
//! do next in the `handle_*` / `poll_*` style, with time passed in:
//!
//! - `open_core(session, dk)` when a session's `get` resolved a core (the answer says
//!   whether to open it from storage); `release_core(session, dk, now)` when one of those
//!   core sessions closes; `close_session(session, now)` releases everything it opened;
//! - `handle_peer_opened(dk)` / `handle_peer_closed(dk, now)` when a replication
//!   channel of a core attaches or goes (a peer asking for a core we hold but have not open
//!   opens it passively, JS `_attachMaybe`; the channel keeps it open, as JS `checkIfIdle`
//!   waits for the replicator's peers);
//! - a core with neither is idle: [`poll_timeout`](Store::poll_timeout) gives the next
//!   deadline, [`handle_timeout`](Store::handle_timeout) passes time, and
//!   [`poll_event`](Store::poll_event) yields [`StoreEvent::CloseIdle`] for each core to
//!   close. Opening it again first cancels the close.
//!
//! One difference from JS, on purpose: JS only cancels an idle core's countdown when the
//! store opens it again, so a core that gets a new channel while counting down is still
//! closed; here an attached channel is a reference like any other.
//!
//! ```
//! use core::time::Duration;
//! use ferrocore_corestore::store::{Acquired, Released, SessionId, Store, StoreConfig, StoreEvent};
//!
//! let mut store = Store::new(StoreConfig { idle_timeout: Duration::from_secs(5) });
//! let ns = store.namespace(SessionId::ROOT, "app").unwrap();
//! let dk = [7; 32]; // from ferrocore_corestore::auth::resolve(...).discovery_key
//! let t0 = Duration::ZERO;
//! assert_eq!(store.open_core(ns, dk), Ok(Acquired::Opened)); // adapter opens it
//! assert_eq!(store.open_core(SessionId::ROOT, dk), Ok(Acquired::Shared));
//! assert_eq!(store.release_core(SessionId::ROOT, dk, t0), Ok(Released::InUse));
//! assert_eq!(store.close_session(ns, t0), Ok(vec![dk])); // its last reference went
//! assert_eq!(store.poll_timeout(), Some(Duration::from_secs(5)));
//! store.handle_timeout(Duration::from_secs(5));
//! assert_eq!(store.poll_event(), Some(StoreEvent::CloseIdle { discovery_key: dk }));
//! assert_eq!(store.poll_event(), None);
//! assert!(!store.is_open(&dk));
//! ```

mod cores;
mod finding;
mod types;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use crate::keys::Namespace;

pub use types::{
    Acquired, CoreInfo, DiscoveryKey, FindingPeersToken, Released, SessionId, SessionInfo,
    StoreConfig, StoreError, StoreEvent,
};

/// One store session's state.
#[derive(Debug)]
struct Session {
    namespace: Namespace,
    parent: Option<SessionId>,
    /// References this session holds, per core.
    opened: BTreeMap<DiscoveryKey, u64>,
    /// Running `findingPeers()` tokens.
    finding: finding::Finding,
}

/// One open core's state.
#[derive(Debug)]
struct Core {
    sessions: u64,
    peers: u64,
    passive: bool,
    /// `(deadline, sequence)`: its key in `Store::idle` while it is unreferenced.
    idle: Option<(Duration, u64)>,
}

/// The store state machine (see the [module docs](self)).
#[derive(Debug)]
pub struct Store {
    config: StoreConfig,
    sessions: BTreeMap<SessionId, Session>,
    cores: BTreeMap<DiscoveryKey, Core>,
    /// Idle cores by close deadline (the sequence number keeps equal deadlines apart and in
    /// the order the cores went idle).
    idle: BTreeMap<(Duration, u64), DiscoveryKey>,
    events: VecDeque<StoreEvent>,
    next_session: u64,
    next_seq: u64,
    closed: bool,
}

impl Store {
    /// A store with only its root session, in the root namespace.
    #[must_use]
    pub fn new(config: StoreConfig) -> Self {
        let mut sessions = BTreeMap::new();
        sessions.insert(SessionId::ROOT, Session::new(Namespace::ROOT, None));
        Self {
            config,
            sessions,
            cores: BTreeMap::new(),
            idle: BTreeMap::new(),
            events: VecDeque::new(),
            next_session: 1,
            next_seq: 0,
            closed: false,
        }
    }

    /// The configuration the store was made with.
    #[must_use]
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    // ---------------------------------------------------------------------------- sessions

    /// A new session in the same namespace as `parent` (JS `store.session()`).
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`].
    pub fn session(&mut self, parent: SessionId) -> Result<SessionId, StoreError> {
        let ns = self.live_session(parent)?.namespace;
        Ok(self.add_session(ns, parent))
    }

    /// A new session in the namespace `name` inside `parent`'s (JS
    /// `store.namespace(name)`; chains: `namespace(namespace(root, "a"), "b")`).
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`].
    pub fn namespace(&mut self, parent: SessionId, name: &str) -> Result<SessionId, StoreError> {
        let ns = self.live_session(parent)?.namespace.child(name);
        Ok(self.add_session(ns, parent))
    }

    /// A new session in the given namespace (JS `store.session({ namespace })`).
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`].
    pub fn session_in(
        &mut self,
        parent: SessionId,
        namespace: Namespace,
    ) -> Result<SessionId, StoreError> {
        self.live_session(parent)?;
        Ok(self.add_session(namespace, parent))
    }

    fn add_session(&mut self, namespace: Namespace, parent: SessionId) -> SessionId {
        let id = SessionId(self.next_session);
        self.next_session += 1;
        self.sessions
            .insert(id, Session::new(namespace, Some(parent)));
        id
    }

    /// Closes `session` (not the root): drops every reference it holds, and ends its
    /// `findingPeers()` ([`StoreEvent::FindingPeersDone`] if any ran). Returns the cores
    /// whose last reference went, now idle (closed after the idle timeout unless reopened).
    /// Sessions made from it stay open, as in JS (every session hangs off the root).
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`], [`StoreError::RootSession`].
    pub fn close_session(
        &mut self,
        session: SessionId,
        now: Duration,
    ) -> Result<Vec<DiscoveryKey>, StoreError> {
        self.live_session(session)?;
        if session == SessionId::ROOT {
            return Err(StoreError::RootSession);
        }
        let s = self.sessions.remove(&session).expect("checked above");
        if s.finding.running() > 0 {
            self.events
                .push_back(StoreEvent::FindingPeersDone { session });
        }
        let mut idle = Vec::new();
        for (dk, refs) in s.opened {
            let core = self.cores.get_mut(&dk).expect("a referenced core is open");
            core.sessions -= refs;
            if self.maybe_idle(dk, now).is_some() {
                idle.push(dk);
            }
        }
        Ok(idle)
    }

    /// Closes the store (JS `close()` on the root): every session ends (their running
    /// `findingPeers()` end with [`StoreEvent::FindingPeersDone`]) and every open core is
    /// returned, to be closed now; no [`StoreEvent::CloseIdle`] follows. Later calls fail
    /// with [`StoreError::Closed`]. Closing twice returns nothing the second time.
    pub fn close(&mut self) -> Vec<DiscoveryKey> {
        if self.closed {
            return Vec::new();
        }
        self.closed = true;
        for (id, s) in core::mem::take(&mut self.sessions) {
            if s.finding.running() > 0 {
                self.events
                    .push_back(StoreEvent::FindingPeersDone { session: id });
            }
        }
        self.events
            .retain(|e| !matches!(e, StoreEvent::CloseIdle { .. }));
        self.idle.clear();
        core::mem::take(&mut self.cores).into_keys().collect()
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The namespace of `session` (`None` if it is not open).
    #[must_use]
    pub fn namespace_of(&self, session: SessionId) -> Option<Namespace> {
        self.sessions.get(&session).map(|s| s.namespace)
    }

    /// A snapshot of `session` (`None` if it is not open).
    #[must_use]
    pub fn session_info(&self, session: SessionId) -> Option<SessionInfo> {
        self.sessions.get(&session).map(|s| SessionInfo {
            namespace: s.namespace,
            parent: s.parent,
            cores: s.opened.len(),
            finding_peers: s.finding.running(),
        })
    }

    /// The open sessions, root first.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// The open sessions in `namespace`.
    pub fn sessions_in(&self, namespace: Namespace) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions
            .iter()
            .filter(move |(_, s)| s.namespace == namespace)
            .map(|(id, _)| *id)
    }

    /// The cores `session` holds, with its number of references to each (none if the
    /// session is not open).
    pub fn cores_of(&self, session: SessionId) -> impl Iterator<Item = (DiscoveryKey, u64)> + '_ {
        self.sessions
            .get(&session)
            .into_iter()
            .flat_map(|s| s.opened.iter().map(|(dk, n)| (*dk, *n)))
    }

    fn live(&self) -> Result<(), StoreError> {
        if self.closed {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    fn live_session(&self, session: SessionId) -> Result<&Session, StoreError> {
        self.live()?;
        self.sessions
            .get(&session)
            .ok_or(StoreError::UnknownSession(session))
    }

    fn live_session_mut(&mut self, session: SessionId) -> Result<&mut Session, StoreError> {
        self.live_session(session)?;
        Ok(self.sessions.get_mut(&session).expect("checked"))
    }
}

impl Session {
    fn new(namespace: Namespace, parent: Option<SessionId>) -> Self {
        Self {
            namespace,
            parent,
            opened: BTreeMap::new(),
            finding: finding::Finding::default(),
        }
    }
}
