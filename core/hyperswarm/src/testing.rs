//! An honest adapter for property tests and fuzzing (feature `testing`): it carries out a
//! [`Swarm`]'s commands as a real adapter would (listening at once, closes reported at
//! once), applies [`Op`]s (discovery results, dial outcomes, incoming connections, time,
//! flushes, joins, leaves, bans, suspends) and checks the swarm's invariants after each:
//! never more than `max_parallel` dials, never a dial to itself, to a peer being dialled or
//! connected, nor while suspended; at most one connection kept per peer; each flush
//! reported once and only if asked for; with a bounded key space, peers and the queue
//! bounded by it. A broken invariant panics (the test or fuzz target fails).
//!
//! Peers are named by a byte `n`, their key being [`key`]`(n)`.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::time::Duration;

use crate::{
    Command, ConnId, ErrorCode, Event, FlushId, JoinOptions, Peer, PublicKey, QueryId, Swarm,
    SwarmConfig, Topic,
};

/// The key of peer `n`.
#[must_use]
pub fn key(n: u8) -> PublicKey {
    [n; 32]
}

/// One thing that happens to the swarm.
#[derive(Debug, Clone)]
pub enum Op {
    /// The `query`-th running query (modulo their number) found these peers.
    Found {
        /// Which running query.
        query: usize,
        /// The peers found.
        peers: Vec<Peer>,
    },
    /// The oldest running query ended (`ok`: it reached enough nodes).
    QueryDone(bool),
    /// The `i`-th dial in flight (modulo their number) connected.
    Open(usize),
    /// The `i`-th dial in flight failed with the code.
    Fail(usize, ErrorCode),
    /// The `i`-th open connection closed.
    Close(usize),
    /// Peer `n` connected to us (its handshake payload, if any, for the firewall).
    Incoming(u8, Option<Vec<u8>>),
    /// Time passed.
    Advance(Duration),
    /// `flush()`.
    Flush,
    /// `joinPeer(key(n))`.
    JoinPeer(u8),
    /// `leavePeer(key(n))`.
    LeavePeer(u8),
    /// `ban(key(n), banned)`.
    Ban(u8, bool),
    /// The network changed.
    NetworkChange,
    /// `leave(topic)`.
    Leave(Topic),
    /// `join(topic, options)`.
    Join(Topic, JoinOptions),
    /// `suspend()`.
    Suspend,
    /// `resume()`.
    Resume,
    /// The `i`-th open connection read this many bytes (and wrote one).
    Traffic(usize, u64),
}

/// A swarm and an adapter that does what it is told, checking invariants.
pub struct HonestAdapter {
    /// The swarm under test.
    pub swarm: Swarm,
    /// The simulated clock.
    pub now: Duration,
    ours: u8,
    max_parallel: usize,
    key_space: Option<usize>,
    /// Dials in flight: conn → peer.
    dials: BTreeMap<ConnId, u8>,
    /// Connections open at the transport level: conn → peer.
    open: BTreeMap<ConnId, u8>,
    /// Connections the application holds (from `Connection` events).
    kept: BTreeMap<ConnId, u8>,
    queries: BTreeSet<QueryId>,
    flushes: BTreeSet<FlushId>,
    flushed: BTreeSet<FlushId>,
    /// Explicit peers and suspends can leave a JS flush waiting for good.
    pub liveness_exempt: bool,
}

fn nth<T: Copy>(map: &BTreeMap<ConnId, T>, i: usize) -> Option<(ConnId, T)> {
    if map.is_empty() {
        return None;
    }
    map.iter().nth(i % map.len()).map(|(c, t)| (*c, *t))
}

impl HonestAdapter {
    /// A swarm with key [`key`]`(ours)`, `config` and `seed`; `key_space`, when known,
    /// bounds how many peers (ours included) it may know.
    #[must_use]
    pub fn new(ours: u8, config: SwarmConfig, seed: u64, key_space: Option<usize>) -> Self {
        HonestAdapter {
            max_parallel: config.max_parallel,
            swarm: Swarm::new(key(ours), config, seed),
            now: Duration::ZERO,
            ours,
            key_space,
            dials: BTreeMap::new(),
            open: BTreeMap::new(),
            kept: BTreeMap::new(),
            queries: BTreeSet::new(),
            flushes: BTreeSet::new(),
            flushed: BTreeSet::new(),
            liveness_exempt: false,
        }
    }

    /// Flushes asked for and not reported done.
    #[must_use]
    pub fn unfinished_flushes(&self) -> Vec<FlushId> {
        self.flushes.difference(&self.flushed).copied().collect()
    }

    /// Drains the swarm, carrying out its commands, and checks the invariants.
    pub fn settle(&mut self) {
        loop {
            let mut closes = Vec::new();
            let mut progressed = false;
            while let Some(cmd) = self.swarm.poll_command() {
                progressed = true;
                match cmd {
                    Command::Listen => self.swarm.handle_listening(self.now),
                    Command::Lookup { query, .. }
                    | Command::LookupAndUnannounce { query, .. }
                    | Command::Announce { query, .. }
                    | Command::Unannounce { query, .. } => {
                        self.queries.insert(query);
                    }
                    Command::CancelQuery { query } => {
                        self.queries.remove(&query);
                    }
                    Command::Connect {
                        conn, public_key, ..
                    } => self.dial(conn, public_key[0]),
                    Command::Close { conn, .. } => closes.push(conn),
                    Command::SendKeepAlive { .. } | Command::Suspend | Command::Resume => {}
                }
            }
            while let Some(ev) = self.swarm.poll_event() {
                match ev {
                    Event::Connection {
                        conn,
                        remote_public_key,
                        ..
                    } => {
                        let n = remote_public_key[0];
                        assert!(
                            !self.kept.values().any(|p| *p == n),
                            "two connections kept to {n}"
                        );
                        self.kept.insert(conn, n);
                    }
                    Event::FlushDone { id, .. } => {
                        assert!(self.flushes.contains(&id), "unknown flush reported");
                        assert!(self.flushed.insert(id), "flush {id:?} reported twice");
                    }
                    _ => {}
                }
            }
            assert!(self.swarm.connecting() <= self.max_parallel);
            if let Some(k) = self.key_space {
                assert!(self.swarm.peer_count() <= k);
                assert!(self.swarm.queued() <= k);
            }
            for conn in closes {
                self.dials.remove(&conn);
                self.open.remove(&conn);
                self.kept.remove(&conn);
                self.swarm.handle_closed(self.now, conn);
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    fn dial(&mut self, conn: ConnId, n: u8) {
        assert_ne!(n, self.ours, "dials itself");
        assert!(!self.swarm.is_suspended(), "dials while suspended");
        let busy = self
            .dials
            .values()
            .chain(self.kept.values())
            .any(|p| *p == n);
        assert!(!busy, "dials {n} while dialling or connected to it");
        self.dials.insert(conn, n);
    }

    /// Applies `op` (ops that name nothing existing do nothing), then settles.
    pub fn apply(&mut self, op: Op) {
        let now = self.now;
        match op {
            Op::Found { query, peers } => {
                if !self.queries.is_empty() {
                    let i = query % self.queries.len();
                    if let Some(q) = self.queries.iter().nth(i).copied() {
                        self.swarm.handle_query_peers(now, q, &peers);
                    }
                }
            }
            Op::QueryDone(ok) => {
                if let Some(q) = self.queries.pop_first() {
                    self.swarm.handle_query_done(now, q, ok);
                }
            }
            Op::Open(i) => {
                if let Some((c, n)) = nth(&self.dials, i) {
                    self.dials.remove(&c);
                    self.open.insert(c, n);
                    self.swarm.handle_connected(now, c, key(n), true);
                }
            }
            Op::Fail(i, code) => {
                if let Some((c, _)) = nth(&self.dials, i) {
                    self.dials.remove(&c);
                    self.swarm.handle_connect_failed(now, c, &code);
                }
            }
            Op::Close(i) => {
                if let Some((c, _)) = nth(&self.open, i) {
                    self.open.remove(&c);
                    self.kept.remove(&c);
                    self.swarm.handle_closed(now, c);
                }
            }
            Op::Incoming(n, payload) => {
                if n != self.ours && !self.swarm.handle_firewall(&key(n), payload.as_deref()) {
                    let c = self.swarm.alloc_conn_id();
                    self.open.insert(c, n);
                    self.swarm.handle_connected(now, c, key(n), false);
                }
            }
            Op::Advance(d) => {
                self.now += d;
                self.swarm.handle_timeout(self.now);
            }
            Op::Flush => {
                let id = self.swarm.flush(now);
                self.flushes.insert(id);
            }
            Op::JoinPeer(n) => {
                self.liveness_exempt = true;
                self.swarm.join_peer(now, key(n));
            }
            Op::LeavePeer(n) => self.swarm.leave_peer(&key(n)),
            Op::Ban(n, banned) => self.swarm.ban_peer(&key(n), banned),
            Op::NetworkChange => self.swarm.handle_network_change(now),
            Op::Leave(topic) => self.swarm.leave(now, &topic),
            Op::Join(topic, options) => {
                let _ = self.swarm.join(now, topic, options);
            }
            Op::Suspend => {
                self.liveness_exempt = true;
                self.swarm.suspend(now);
            }
            Op::Resume => self.swarm.resume(now),
            Op::Traffic(i, read) => {
                if let Some((c, _)) = nth(&self.open, i) {
                    self.swarm.handle_traffic(c, read, 1);
                }
            }
        }
        self.settle();
    }

    /// Ends every query (reached) and fails every dial until none is left; false if that
    /// did not settle within 1,000 rounds.
    pub fn resolve_all(&mut self) -> bool {
        for _ in 0..1000 {
            if self.queries.is_empty() && self.dials.is_empty() {
                return true;
            }
            if let Some(q) = self.queries.pop_first() {
                self.swarm.handle_query_done(self.now, q, true);
            } else if let Some((c, _)) = self.dials.pop_first() {
                self.swarm
                    .handle_connect_failed(self.now, c, &ErrorCode::PeerNotFound);
            }
            self.settle();
        }
        false
    }
}
