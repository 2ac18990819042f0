//! The plain data the swarm exchanges with its adapter: ids, options, commands, events.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

/// A 32-byte ed25519 public key (a peer's identity on the DHT).
pub type PublicKey = [u8; 32];

/// A 32-byte discovery topic.
pub type Topic = [u8; 32];

/// A connection, named by the swarm: client connections get theirs in
/// [`Command::Connect`], server (incoming) connections from [`crate::Swarm::alloc_conn_id`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// One DHT query the swarm asked for ([`Command::Lookup`], [`Command::Announce`],
/// [`Command::LookupAndUnannounce`], [`Command::Unannounce`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueryId(pub u64);

/// A discovery session returned by [`crate::Swarm::join`] (JS's `PeerDiscoverySession`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

/// A pending [`crate::Swarm::flush`]; completes with [`Event::FlushDone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlushId(pub u64);

/// A peer found by a lookup or announce on a topic: its key and the relay addresses it
/// announced (opaque to the swarm; handed back in [`Command::Connect`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer's public key.
    pub public_key: PublicKey,
    /// The relay addresses from its announcement, encoded as the adapter likes.
    pub relay_addresses: Vec<Vec<u8>>,
}

/// A HyperDHT error code, as JS's `err.code` (hyperdht `lib/errors.js`). Hyperswarm keys its
/// relay forcing on a few of them ([`ErrorCode::forces_relaying`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// `PEER_NOT_FOUND`: no announcement or server for the key.
    PeerNotFound,
    /// `PEER_CONNECTION_FAILED`.
    PeerConnectionFailed,
    /// `CANNOT_HOLEPUNCH`.
    CannotHolepunch,
    /// `HOLEPUNCH_ABORTED`.
    HolepunchAborted,
    /// `HOLEPUNCH_DOUBLE_RANDOMIZED_NATS`.
    HolepunchDoubleRandomizedNats,
    /// `REMOTE_NOT_HOLEPUNCHABLE`.
    RemoteNotHolepunchable,
    /// `HOLEPUNCH_PROBE_TIMEOUT`.
    HolepunchProbeTimeout,
    /// `DUPLICATE_CONNECTION`.
    DuplicateConnection,
    /// Any other code, as its JS string.
    Other(String),
}

impl ErrorCode {
    /// The JS code string.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::PeerNotFound => "PEER_NOT_FOUND",
            ErrorCode::PeerConnectionFailed => "PEER_CONNECTION_FAILED",
            ErrorCode::CannotHolepunch => "CANNOT_HOLEPUNCH",
            ErrorCode::HolepunchAborted => "HOLEPUNCH_ABORTED",
            ErrorCode::HolepunchDoubleRandomizedNats => "HOLEPUNCH_DOUBLE_RANDOMIZED_NATS",
            ErrorCode::RemoteNotHolepunchable => "REMOTE_NOT_HOLEPUNCHABLE",
            ErrorCode::HolepunchProbeTimeout => "HOLEPUNCH_PROBE_TIMEOUT",
            ErrorCode::DuplicateConnection => "DUPLICATE_CONNECTION",
            ErrorCode::Other(s) => s,
        }
    }

    /// Parses a JS code string (unknown codes become [`ErrorCode::Other`]).
    pub fn from_code(code: &str) -> Self {
        match code {
            "PEER_NOT_FOUND" => ErrorCode::PeerNotFound,
            "PEER_CONNECTION_FAILED" => ErrorCode::PeerConnectionFailed,
            "CANNOT_HOLEPUNCH" => ErrorCode::CannotHolepunch,
            "HOLEPUNCH_ABORTED" => ErrorCode::HolepunchAborted,
            "HOLEPUNCH_DOUBLE_RANDOMIZED_NATS" => ErrorCode::HolepunchDoubleRandomizedNats,
            "REMOTE_NOT_HOLEPUNCHABLE" => ErrorCode::RemoteNotHolepunchable,
            "HOLEPUNCH_PROBE_TIMEOUT" => ErrorCode::HolepunchProbeTimeout,
            "DUPLICATE_CONNECTION" => ErrorCode::DuplicateConnection,
            other => ErrorCode::Other(String::from(other)),
        }
    }

    /// JS `shouldForceRelaying`: with a relay configured, these failures make the next
    /// attempts go through the relay (and reset the peer's attempts for a fast retry).
    pub fn forces_relaying(&self) -> bool {
        matches!(
            self,
            ErrorCode::HolepunchAborted
                | ErrorCode::HolepunchDoubleRandomizedNats
                | ErrorCode::CannotHolepunch
                | ErrorCode::RemoteNotHolepunchable
        )
    }
}

/// Why the swarm asks the adapter to close a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Another connection to the same peer won the tie-break (JS `Duplicate connection`).
    Duplicate,
    /// The swarm is destroyed (JS `Swarm has been destroyed`).
    Destroyed,
    /// The swarm is suspending ([`crate::Swarm::suspend`]).
    Suspended,
}

/// Why a peer was banned ([`Event::Ban`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// The firewall hook rejected it (JS `Peer is firewalled`).
    Firewalled,
    /// The application banned it with [`crate::Swarm::ban_peer`].
    Manual,
}

/// Work the swarm asks of its adapter (drain with [`crate::Swarm::poll_command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start the DHT server with the swarm's key pair (JS `server.listen(keyPair)`); answer
    /// with [`crate::Swarm::handle_listening`].
    Listen,
    /// `dht.lookup(topic, {closestNodes})`; stream peers with
    /// [`crate::Swarm::handle_query_peers`], finish with [`crate::Swarm::handle_query_done`].
    Lookup {
        /// The query's id.
        query: QueryId,
        /// The topic.
        topic: Topic,
    },
    /// `dht.lookupAndUnannounce(topic, keyPair, {closestNodes})`: a lookup that also removes
    /// our earlier announcement (sent after a topic stops being served).
    LookupAndUnannounce {
        /// The query's id.
        query: QueryId,
        /// The topic.
        topic: Topic,
    },
    /// `dht.announce(topic, keyPair, server.relayAddresses, {clear, closestNodes})`.
    Announce {
        /// The query's id.
        query: QueryId,
        /// The topic.
        topic: Topic,
        /// True on the topic's first announce (JS `clear`).
        clear: bool,
    },
    /// `dht.unannounce(topic, keyPair, {closestNodes, onlyClosestNodes: true, force: true})`
    /// on the topic's last known closest nodes; finish with
    /// [`crate::Swarm::handle_query_done`] (the adapter may finish at once if it has none).
    Unannounce {
        /// The query's id.
        query: QueryId,
        /// The topic.
        topic: Topic,
    },
    /// Stop a query (JS `query.destroy()`); the swarm has already forgotten it.
    CancelQuery {
        /// The query to stop.
        query: QueryId,
    },
    /// `dht.connect(publicKey, {relayAddresses, keyPair, relayThrough})`; answer with
    /// [`crate::Swarm::handle_connected`] or [`crate::Swarm::handle_connect_failed`].
    Connect {
        /// The id of the new client connection.
        conn: ConnId,
        /// Whom to connect to.
        public_key: PublicKey,
        /// The relay addresses the peer announced.
        relay_addresses: Vec<Vec<u8>>,
        /// A blind relay to go through, if the relay policy asks for one.
        relay_through: Option<PublicKey>,
    },
    /// Close a connection (JS `conn.destroy(err)`); report the close with
    /// [`crate::Swarm::handle_closed`].
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// Suspend the DHT node and its server (JS `server.suspend()`, `dht.suspend()`).
    Suspend,
    /// Resume the DHT node and its server (JS `dht.resume()`, `server.resume()`).
    Resume,
    /// Send a keep-alive on a connection (JS `conn.sendKeepAlive()`).
    SendKeepAlive {
        /// The connection.
        conn: ConnId,
    },
}

/// What the swarm tells its application (drain with [`crate::Swarm::poll_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection is open and kept (JS `'connection'`).
    Connection {
        /// The connection.
        conn: ConnId,
        /// The peer.
        remote_public_key: PublicKey,
        /// True when we dialled it.
        is_initiator: bool,
        /// The topics the peer was found on so far.
        topics: Vec<Topic>,
    },
    /// The connection state changed (JS `'update'`).
    Update,
    /// A peer was banned (JS `'ban'`).
    Ban {
        /// The peer.
        public_key: PublicKey,
        /// Why.
        reason: BanReason,
    },
    /// A [`crate::Swarm::flush`] completed; `ok` is false when the swarm was destroyed first.
    FlushDone {
        /// The flush.
        id: FlushId,
        /// JS's resolved value.
        ok: bool,
    },
    /// A [`crate::Swarm::leave`] (or the last session's destroy) finished: lookups stopped
    /// and the announcement removed.
    Left {
        /// The topic.
        topic: Topic,
    },
}

/// What a [`crate::Swarm::join`] session does (JS `join(topic, {server, client, limit})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinOptions {
    /// Announce the topic and accept connections (default true).
    pub server: bool,
    /// Look the topic up and connect to the peers found (default true).
    pub client: bool,
    /// At most this many peers handed on per refresh (default unlimited).
    pub limit: Option<usize>,
}

impl Default for JoinOptions {
    fn default() -> Self {
        JoinOptions {
            server: true,
            client: true,
            limit: None,
        }
    }
}

/// Swarm limits and timings (JS constructor options), JS defaults by [`Default`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmConfig {
    /// JS `maxPeers` (64).
    pub max_peers: usize,
    /// JS `maxParallel` (3): client connections being opened at once.
    pub max_parallel: usize,
    /// JS `maxClientConnections` (unlimited).
    pub max_client_connections: usize,
    /// JS `maxServerConnections` (unlimited; JS 4.17.2 does not enforce it either).
    pub max_server_connections: usize,
    /// JS `backoffs`: the four retry delays. `None` picks JS's defaults, each drawn once:
    /// 1 s + [0, 500] ms, 5 s + [0, 1] s, 15 s + [0, 2] s, 10 min + [0, 2] min.
    pub backoffs: Option<[Duration; 4]>,
    /// JS `jitter` (500 ms): each retry timer's period adds [0, jitter].
    pub jitter: Duration,
    /// JS `relayThrough` given as a key: used when a holepunch failed for the peer
    /// ([`ErrorCode::forces_relaying`]) or while the DHT says our NAT is randomized.
    pub relay_through: Option<PublicKey>,
}

impl Default for SwarmConfig {
    fn default() -> Self {
        SwarmConfig {
            max_peers: 64,
            max_parallel: 3,
            max_client_connections: usize::MAX,
            max_server_connections: usize::MAX,
            backoffs: None,
            jitter: Duration::from_millis(500),
            relay_through: None,
        }
    }
}

/// Counters (JS `swarm.stats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// `'update'` events emitted.
    pub updates: u64,
    /// Client connections dialled.
    pub client_attempted: u64,
    /// Client connections opened.
    pub client_opened: u64,
    /// Client connections closed (opened or not).
    pub client_closed: u64,
    /// Server connections kept.
    pub server_opened: u64,
    /// Server connections closed.
    pub server_closed: u64,
    /// Bans.
    pub banned_peers: u64,
}
