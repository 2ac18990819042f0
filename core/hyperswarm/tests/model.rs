//! A property test: random discovery results, dial outcomes, incoming connections, time and
//! flushes against a model adapter. The swarm never exceeds maxParallel dials, never dials a
//! peer it is connected or dialling to, keeps at most one connection per peer, reports each
//! flush once, never dials while suspended, and (without explicit peers or suspends) completes every flush once the lookups and
//! dials it waits for resolve.

use std::collections::{BTreeMap, BTreeSet};

use core::time::Duration;
use ferrocore_hyperswarm::{
    Command, ConnId, ErrorCode, Event, FlushId, JoinOptions, Peer, PublicKey, QueryId, Swarm,
    SwarmConfig,
};
use proptest::prelude::*;

const TOPIC: [u8; 32] = [7; 32];
const OURS: u8 = 5;

#[derive(Debug, Clone)]
enum Op {
    Found(Vec<u8>),
    QueryDone(bool),
    Open(usize),
    Fail(usize, u8),
    Close(usize),
    Incoming(u8),
    Advance(u32),
    Flush,
    JoinPeer(u8),
    LeavePeer(u8),
    Leave,
    Rejoin(bool, bool),
    Traffic(usize),
    Suspend,
    Resume,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 1u8..10;
    prop_oneof![
        4 => proptest::collection::vec(k.clone(), 0..5).prop_map(Op::Found),
        2 => any::<bool>().prop_map(Op::QueryDone),
        4 => (0usize..8).prop_map(Op::Open),
        3 => (0usize..8, 0u8..4).prop_map(|(i, c)| Op::Fail(i, c)),
        2 => (0usize..8).prop_map(Op::Close),
        2 => k.clone().prop_map(Op::Incoming),
        3 => (0u32..1_200_000).prop_map(Op::Advance),
        2 => Just(Op::Flush),
        1 => k.clone().prop_map(Op::JoinPeer),
        1 => k.prop_map(Op::LeavePeer),
        1 => Just(Op::Leave),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(s, c)| Op::Rejoin(s, c || !s)),
        1 => (0usize..8).prop_map(Op::Traffic),
        1 => Just(Op::Suspend),
        1 => Just(Op::Resume),
    ]
}

fn key(n: u8) -> PublicKey {
    [n; 32]
}

struct Model {
    swarm: Swarm,
    now: Duration,
    max_parallel: usize,
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
    liveness_exempt: bool,
}

impl Model {
    fn new(seed: u64) -> Self {
        let config = SwarmConfig {
            max_parallel: 2,
            max_peers: 6,
            ..SwarmConfig::default()
        };
        let mut m = Model {
            swarm: Swarm::new(key(OURS), config, seed),
            now: Duration::ZERO,
            max_parallel: 2,
            dials: BTreeMap::new(),
            open: BTreeMap::new(),
            kept: BTreeMap::new(),
            queries: BTreeSet::new(),
            flushes: BTreeSet::new(),
            flushed: BTreeSet::new(),
            liveness_exempt: false,
        };
        m.swarm.join(m.now, TOPIC, JoinOptions::default()).unwrap();
        m.settle();
        m
    }

    /// Drains the swarm, carrying out its commands like an adapter would (listen at once,
    /// closes reported at once), and checks the invariants.
    fn settle(&mut self) {
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
                    } => {
                        let n = public_key[0];
                        assert_ne!(n, OURS, "never dials itself");
                        assert!(!self.swarm.is_suspended(), "dials while suspended");
                        let busy = self
                            .dials
                            .values()
                            .chain(self.kept.values())
                            .any(|p| *p == n);
                        assert!(!busy, "dials {n} while dialling or connected to it");
                        self.dials.insert(conn, n);
                    }
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
                        assert!(self.flushes.contains(&id));
                        assert!(self.flushed.insert(id), "flush {id:?} reported twice");
                    }
                    _ => {}
                }
            }
            assert!(self.swarm.connecting() <= self.max_parallel);
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

    fn nth<T: Copy>(map: &BTreeMap<ConnId, T>, i: usize) -> Option<(ConnId, T)> {
        if map.is_empty() {
            return None;
        }
        map.iter().nth(i % map.len()).map(|(c, t)| (*c, *t))
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Found(peers) => {
                if let Some(q) = self.queries.iter().next().copied() {
                    let peers: Vec<Peer> = peers
                        .into_iter()
                        .map(|n| Peer {
                            public_key: key(n),
                            relay_addresses: vec![],
                        })
                        .collect();
                    self.swarm.handle_query_peers(self.now, q, &peers);
                }
            }
            Op::QueryDone(ok) => {
                if let Some(q) = self.queries.pop_first() {
                    self.swarm.handle_query_done(self.now, q, ok);
                }
            }
            Op::Open(i) => {
                if let Some((c, n)) = Self::nth(&self.dials, i) {
                    self.dials.remove(&c);
                    self.open.insert(c, n);
                    self.swarm.handle_connected(self.now, c, key(n), true);
                }
            }
            Op::Fail(i, code) => {
                if let Some((c, _)) = Self::nth(&self.dials, i) {
                    self.dials.remove(&c);
                    let code = [
                        ErrorCode::PeerNotFound,
                        ErrorCode::PeerConnectionFailed,
                        ErrorCode::CannotHolepunch,
                        ErrorCode::Other("ETIMEDOUT".into()),
                    ][code as usize % 4]
                        .clone();
                    self.swarm.handle_connect_failed(self.now, c, &code);
                }
            }
            Op::Close(i) => {
                if let Some((c, _)) = Self::nth(&self.open, i) {
                    self.open.remove(&c);
                    self.kept.remove(&c);
                    self.swarm.handle_closed(self.now, c);
                }
            }
            Op::Incoming(n) => {
                if n != OURS && !self.swarm.handle_firewall(&key(n), None) {
                    let c = self.swarm.alloc_conn_id();
                    self.open.insert(c, n);
                    self.swarm.handle_connected(self.now, c, key(n), false);
                }
            }
            Op::Advance(ms) => {
                self.now += Duration::from_millis(ms.into());
                self.swarm.handle_timeout(self.now);
            }
            Op::Flush => {
                let id = self.swarm.flush(self.now);
                self.flushes.insert(id);
            }
            Op::JoinPeer(n) => {
                self.liveness_exempt = true;
                self.swarm.join_peer(self.now, key(n));
            }
            Op::LeavePeer(n) => self.swarm.leave_peer(&key(n)),
            Op::Leave => self.swarm.leave(self.now, &TOPIC),
            Op::Rejoin(server, client) => {
                let opts = JoinOptions {
                    server,
                    client,
                    limit: None,
                };
                let _ = self.swarm.join(self.now, TOPIC, opts);
            }
            Op::Suspend => {
                self.liveness_exempt = true;
                self.swarm.suspend(self.now);
            }
            Op::Resume => self.swarm.resume(self.now),
            Op::Traffic(i) => {
                if let Some((c, _)) = Self::nth(&self.open, i) {
                    self.swarm.handle_traffic(c, 1, 1);
                }
            }
        }
        self.settle();
    }

    /// Resolves every query and dial (failing the dials) until none is left.
    fn resolve_all(&mut self) {
        for _ in 0..1000 {
            if self.queries.is_empty() && self.dials.is_empty() {
                return;
            }
            if let Some(q) = self.queries.pop_first() {
                self.swarm.handle_query_done(self.now, q, true);
            } else if let Some((c, _)) = self.dials.pop_first() {
                self.swarm
                    .handle_connect_failed(self.now, c, &ErrorCode::PeerNotFound);
            }
            self.settle();
        }
        panic!("did not settle");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn swarm_keeps_its_invariants(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..80)) {
        let mut m = Model::new(seed);
        for op in ops {
            m.apply(op);
        }
        m.resolve_all();
        if !m.liveness_exempt {
            let missing: Vec<_> = m.flushes.difference(&m.flushed).collect();
            prop_assert!(missing.is_empty(), "flushes never completed: {:?}", missing);
        }
    }
}
