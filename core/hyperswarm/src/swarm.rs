//! The swarm: its state, the adapter's inputs and outputs, and the connection side (JS
//! `index.js` `_connect`, `_handleServerConnection`, the queue and flush bookkeeping).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use crate::discovery::Discovery;
use crate::peer::PeerInfo;
use crate::queue::ConnectQueue;
use crate::retry::{default_backoffs, RetryTimer};
use crate::rng::Rng;
use crate::types::{
    BanReason, Command, ConnId, Event, FlushId, PublicKey, QueryId, SessionId, Stats, SwarmConfig,
    Topic,
};

/// The application's firewall (JS `firewall(remotePublicKey, payload)`): true rejects the
/// peer, which is then banned.
pub type Firewall = Box<dyn FnMut(&PublicKey, Option<&[u8]>) -> bool + Send>;

/// An explicit peer is not redialled within `attempts` seconds of its last disconnect.
const EXPLICIT_BACKOFF_STEP: Duration = Duration::from_secs(1);

/// Errors of the swarm's API (JS throws).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwarmError {
    /// The swarm was destroyed (JS `Swarm destroyed`).
    Destroyed,
    /// The session is unknown or destroyed (JS `PeerDiscovery is destroyed`).
    UnknownSession,
    /// A session must be a client, a server or both.
    NeitherClientNorServer,
}

impl fmt::Display for SwarmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwarmError::Destroyed => "Swarm destroyed",
            SwarmError::UnknownSession => "PeerDiscovery is destroyed",
            SwarmError::NeitherClientNorServer => {
                "Cannot refresh with neither client nor server option"
            }
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SwarmError {}

/// The DHT server's state (JS `swarm.listening`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listening {
    Idle,
    Pending,
    Ready,
}

/// A connection the swarm tracks.
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    pub remote: PublicKey,
    pub client: bool,
    pub opened: bool,
    /// Dialled from the queue (counts for flushes).
    pub queued: bool,
    /// The swarm asked for it to close.
    pub closing: bool,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// A flush past its discovery wait (JS `_pendingFlushes`).
#[derive(Debug)]
pub(crate) struct PendingFlush {
    pub id: FlushId,
    pub missing: usize,
    pub tick: u64,
}

/// A flush still waiting for listening and the refreshes in flight when it was asked.
#[derive(Debug)]
pub(crate) struct FlushWait {
    pub id: FlushId,
    pub refreshes: Vec<u64>,
}

/// Hyperswarm as a sans-IO state machine. See the crate documentation for the adapter loop.
pub struct Swarm {
    pub(crate) key: PublicKey,
    pub(crate) config: SwarmConfig,
    pub(crate) rng: Rng,
    pub(crate) now: Duration,
    pub(crate) destroyed: bool,
    pub(crate) suspended: bool,
    /// The retry backoffs, kept to rebuild the retry timer on suspend.
    pub(crate) backoffs: [Duration; 4],
    pub(crate) randomized: bool,
    pub(crate) listening: Listening,
    pub(crate) peers: BTreeMap<PublicKey, PeerInfo>,
    /// Explicit peers in join order (JS `explicitPeers`).
    pub(crate) explicit: Vec<PublicKey>,
    pub(crate) queue: ConnectQueue,
    pub(crate) retry: RetryTimer,
    pub(crate) conns: BTreeMap<ConnId, Conn>,
    /// JS `_allConnections`: the one live connection per peer.
    pub(crate) by_key: BTreeMap<PublicKey, ConnId>,
    /// (closing existing, waiting server connection) pairs (JS `_handleServerConnectionSwap`).
    pub(crate) swaps: Vec<(ConnId, ConnId)>,
    pub(crate) connecting: usize,
    pub(crate) client_connections: usize,
    pub(crate) server_connections: usize,
    pub(crate) flush_tick: u64,
    pub(crate) pending_flushes: Vec<PendingFlush>,
    pub(crate) flush_waits: Vec<FlushWait>,
    pub(crate) live_refreshes: BTreeSet<u64>,
    pub(crate) discoveries: BTreeMap<Topic, Discovery>,
    /// Discoveries replaced by a rejoin while they tear down.
    pub(crate) retiring: Vec<Discovery>,
    pub(crate) sessions: BTreeMap<SessionId, Topic>,
    pub(crate) next_id: u64,
    pub(crate) draining: bool,
    pub(crate) firewall: Option<Firewall>,
    pub(crate) commands: VecDeque<Command>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
}

impl fmt::Debug for Swarm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Swarm")
            .field("connections", &self.by_key.len())
            .field("connecting", &self.connecting)
            .field("peers", &self.peers.len())
            .field("topics", &self.discoveries.len())
            .finish_non_exhaustive()
    }
}

impl Swarm {
    /// A swarm for our key pair's public key, with `seed` as its randomness (jitter, queue
    /// shuffles; JS's `Math.random()`).
    pub fn new(public_key: PublicKey, config: SwarmConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let backoffs = config
            .backoffs
            .unwrap_or_else(|| default_backoffs(&mut rng));
        let retry = RetryTimer::new(backoffs, config.jitter, &mut rng);
        Swarm {
            key: public_key,
            config,
            rng,
            now: Duration::ZERO,
            destroyed: false,
            suspended: false,
            backoffs,
            randomized: false,
            listening: Listening::Idle,
            peers: BTreeMap::new(),
            explicit: Vec::new(),
            queue: ConnectQueue::default(),
            retry,
            conns: BTreeMap::new(),
            by_key: BTreeMap::new(),
            swaps: Vec::new(),
            connecting: 0,
            client_connections: 0,
            server_connections: 0,
            flush_tick: 0,
            pending_flushes: Vec::new(),
            flush_waits: Vec::new(),
            live_refreshes: BTreeSet::new(),
            discoveries: BTreeMap::new(),
            retiring: Vec::new(),
            sessions: BTreeMap::new(),
            next_id: 0,
            draining: false,
            firewall: None,
            commands: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Installs the application firewall (JS `firewall` option; default allows all).
    pub fn set_firewall(&mut self, firewall: Firewall) {
        self.firewall = Some(firewall);
    }

    /// Mixes fresh entropy from the caller into the swarm's random source.
    pub fn reseed(&mut self, entropy: u64) {
        self.rng.reseed(entropy);
    }

    /// Our public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.key
    }

    /// The counters (JS `stats`).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// A known peer (JS `swarm.peers.get(key)`).
    pub fn peer(&self, key: &PublicKey) -> Option<&PeerInfo> {
        self.peers.get(key)
    }

    /// Number of known peers.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Open connections (JS `swarm.connections.size`).
    pub fn connection_count(&self) -> usize {
        self.conns.values().filter(|c| c.opened).count()
    }

    /// Client connections being opened (JS `swarm.connecting`).
    pub fn connecting(&self) -> usize {
        self.connecting
    }

    /// Peers waiting in the connect queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The retry timers' tick periods (short, medium, long, extra long): a peer is retried
    /// one to two periods after it was scheduled.
    pub fn retry_periods(&self) -> [Duration; 4] {
        self.retry.periods()
    }

    /// Tells the swarm whether the DHT sees our NAT as randomized (JS `dht.randomized`),
    /// which routes dials through [`SwarmConfig::relay_through`].
    pub fn set_randomized(&mut self, randomized: bool) {
        self.randomized = randomized;
    }

    /// The next command for the adapter.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Swarm::handle_timeout`] wants calling next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let discovery = self
            .discoveries
            .values()
            .filter_map(Discovery::timer_deadline)
            .min();
        match (self.retry.poll_timeout(), discovery) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances time: retries due are queued and dialled, topics due are refreshed.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if !self.destroyed && !self.suspended {
            for batch in self.retry.handle_timeout(now) {
                self.requeue(batch);
            }
        }
        self.refresh_due_topics();
        self.progress_flushes();
    }

    pub(crate) fn alloc(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// An id for an incoming (server) connection, to report with
    /// [`Swarm::handle_connected`].
    pub fn alloc_conn_id(&mut self) -> ConnId {
        ConnId(self.alloc())
    }

    pub(crate) fn update(&mut self) {
        self.stats.updates += 1;
        self.events.push_back(Event::Update);
    }

    pub(crate) fn upsert_peer(
        &mut self,
        key: &PublicKey,
        relay_addresses: Vec<Vec<u8>>,
    ) -> Option<&mut PeerInfo> {
        if *key == self.key {
            return None;
        }
        let peer = self
            .peers
            .entry(*key)
            .or_insert_with(|| PeerInfo::new(*key, Vec::new()));
        peer.relay_addresses = relay_addresses; // new is always better
        Some(peer)
    }

    pub(crate) fn maybe_delete_peer(&mut self, key: &PublicKey) {
        let gc = self.peers.get(key).is_some_and(PeerInfo::should_gc);
        if gc && !self.by_key.contains_key(key) {
            self.peers.remove(key);
        }
    }

    /// Bans (or unbans) a known peer (JS `peerInfo.ban(true)`): it is never dialled again and
    /// its incoming connections are refused by [`Swarm::handle_firewall`].
    pub fn ban_peer(&mut self, key: &PublicKey, banned: bool) {
        if banned {
            if self.upsert_existing(key) {
                self.ban(key, BanReason::Manual);
            }
        } else if let Some(p) = self.peers.get_mut(key) {
            p.banned = false;
        }
    }

    fn upsert_existing(&mut self, key: &PublicKey) -> bool {
        if self.peers.contains_key(key) {
            return true;
        }
        self.upsert_peer(key, Vec::new()).is_some()
    }

    pub(crate) fn ban(&mut self, key: &PublicKey, reason: BanReason) {
        if let Some(p) = self.peers.get_mut(key) {
            p.banned = true;
            self.stats.banned_peers += 1;
            self.events.push_back(Event::Ban {
                public_key: *key,
                reason,
            });
        }
    }

    /// The firewall the adapter's DHT server consults for each incoming handshake (JS
    /// `_handleFirewall`): true rejects. Our own key and banned peers are rejected; a peer
    /// the application firewall rejects is banned.
    pub fn handle_firewall(&mut self, remote: &PublicKey, payload: Option<&[u8]>) -> bool {
        if *remote == self.key {
            return true;
        }
        if self.peers.get(remote).is_some_and(|p| p.banned) {
            return true;
        }
        let firewalled = match self.firewall.as_mut() {
            Some(f) => f(remote, payload),
            None => false,
        };
        if firewalled && self.upsert_existing(remote) {
            self.ban(remote, BanReason::Firewalled);
        }
        firewalled
    }

    // ---- queue and limits ------------------------------------------------------------

    pub(crate) fn enqueue(&mut self, key: &PublicKey) {
        let tick = self.flush_tick;
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        if peer.queued {
            return;
        }
        peer.queued = true;
        peer.flush_tick = tick;
        self.queue.add(*key, peer.priority);
        self.attempt_client_connections();
    }

    pub(crate) fn requeue(&mut self, batch: Vec<PublicKey>) {
        let tick = self.flush_tick;
        for key in batch {
            let connected = self.by_key.contains_key(&key);
            let Some(peer) = self.peers.get_mut(&key) else {
                continue;
            };
            peer.waiting = false;
            if !peer.update_priority() || connected || peer.queued {
                continue;
            }
            peer.queued = true;
            peer.flush_tick = tick;
            self.queue.add(key, peer.priority);
        }
        self.attempt_client_connections();
    }

    pub(crate) fn flush_maybe(&mut self, key: &PublicKey) {
        let tick = self.peers.get(key).map_or(0, |p| p.flush_tick);
        let mut i = 0;
        while i < self.pending_flushes.len() {
            let flush = &mut self.pending_flushes[i];
            if tick > flush.tick {
                i += 1;
                continue;
            }
            flush.missing = flush.missing.saturating_sub(1);
            if flush.missing > 0 {
                i += 1;
                continue;
            }
            let id = self.pending_flushes.remove(i).id;
            self.events.push_back(Event::FlushDone { id, ok: true });
        }
    }

    pub(crate) fn within_max_peers(&self) -> bool {
        let factor = match self.explicit.len() {
            0 => 1,
            1 => 2,
            2 | 3 => 3,
            _ => 4,
        };
        factor * self.by_key.len() < self.config.max_peers
    }

    pub(crate) fn flush_all_maybe(&mut self) -> bool {
        if self.connecting > 0
            || (self.within_max_peers()
                && self.client_connections < self.config.max_client_connections)
        {
            return false;
        }
        while let Some(flush) = self.pending_flushes.pop() {
            self.events.push_back(Event::FlushDone {
                id: flush.id,
                ok: true,
            });
        }
        true
    }

    pub(crate) fn should_connect_explicit(&self) -> bool {
        !self.destroyed && !self.suspended && self.connecting < self.config.max_parallel
    }

    fn should_connect(&self) -> bool {
        self.should_connect_explicit()
            && self.within_max_peers()
            && self.client_connections < self.config.max_client_connections
    }

    pub(crate) fn should_requeue(&self, peer: &PeerInfo) -> bool {
        if self.suspended {
            return false;
        }
        peer.explicit
            || (!self.destroyed && peer.topics.iter().any(|t| self.discoveries.contains_key(t)))
    }

    pub(crate) fn attempt_client_connections(&mut self) {
        if self.draining || self.suspended {
            return;
        }
        self.draining = true;
        for key in self.explicit.clone() {
            if !self.should_connect_explicit() {
                break;
            }
            let Some(peer) = self.peers.get(&key) else {
                continue;
            };
            let backoff = EXPLICIT_BACKOFF_STEP * peer.attempts;
            if peer.attempts >= 5 || self.now.saturating_sub(peer.disconnected_time) < backoff {
                continue;
            }
            self.connect(&key, false);
        }
        while self.queue.len() > 0 && self.should_connect() {
            let Some(key) = self.queue.shift(&mut self.rng) else {
                break;
            };
            if let Some(p) = self.peers.get_mut(&key) {
                p.queued = false;
            }
            self.connect(&key, true);
        }
        self.draining = false;
        if self.connecting == 0 {
            self.flush_all_maybe();
        }
    }

    pub(crate) fn push_query(&mut self) -> QueryId {
        QueryId(self.alloc())
    }
}
