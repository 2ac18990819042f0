//! A [`Swarm`] fed arbitrary sequences of discovery results (peers with any key and any
//! number of relay addresses), dial outcomes, incoming connections (firewall first), time,
//! flushes, joins, leaves, bans and suspends, carried out by an honest adapter. The
//! invariants of `core/hyperswarm/tests/model.rs`: never more than `max_parallel` dials,
//! never a dial to itself, to a peer being dialled or connected, nor while suspended; at
//! most one connection kept per peer; each flush reported once; peers and the queue bounded
//! by the keys seen.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ferrocore_hyperswarm::{
    Command, ConnId, ErrorCode, Event, FlushId, JoinOptions, Peer, PublicKey, QueryId, Swarm,
    SwarmConfig,
};
use libfuzzer_sys::fuzz_target;

const OURS: u8 = 5;
const MAX_PARALLEL: usize = 2;

fn key(n: u8) -> PublicKey {
    [n % 12; 32]
}

fn topic(n: u8) -> [u8; 32] {
    [0x70 + n % 3; 32]
}

struct Adapter {
    swarm: Swarm,
    now: Duration,
    dials: BTreeMap<ConnId, u8>,
    open: BTreeMap<ConnId, u8>,
    kept: BTreeMap<ConnId, u8>,
    queries: BTreeSet<QueryId>,
    flushes: BTreeSet<FlushId>,
    flushed: BTreeSet<FlushId>,
}

fn nth<T: Copy>(map: &BTreeMap<ConnId, T>, i: u8) -> Option<(ConnId, T)> {
    if map.is_empty() {
        return None;
    }
    map.iter()
        .nth(usize::from(i) % map.len())
        .map(|(c, t)| (*c, *t))
}

impl Adapter {
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
                        assert_ne!(n, OURS, "dials itself");
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
                        assert!(self.flushes.contains(&id), "unknown flush reported");
                        assert!(self.flushed.insert(id), "flush {id:?} reported twice");
                    }
                    _ => {}
                }
            }
            assert!(self.swarm.connecting() <= MAX_PARALLEL);
            // every key the swarm can know is one of `key`'s 12 (ours included)
            assert!(self.swarm.peer_count() <= 12);
            assert!(self.swarm.queued() <= 12);
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
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, mut rest)) = data.split_first() else {
        return;
    };
    let config = SwarmConfig {
        max_parallel: MAX_PARALLEL,
        max_peers: 6,
        ..SwarmConfig::default()
    };
    let mut a = Adapter {
        swarm: Swarm::new(key(OURS), config, u64::from(seed)),
        now: Duration::ZERO,
        dials: BTreeMap::new(),
        open: BTreeMap::new(),
        kept: BTreeMap::new(),
        queries: BTreeSet::new(),
        flushes: BTreeSet::new(),
        flushed: BTreeSet::new(),
    };
    let _ = a.swarm.join(a.now, topic(0), JoinOptions::default());
    a.settle();
    while let Some((&[op, x], tail)) = rest.split_first_chunk::<2>() {
        rest = tail;
        match op % 16 {
            0 | 1 => {
                let n = usize::from(x % 6);
                let bytes = &rest[..n.min(rest.len())];
                rest = &rest[bytes.len()..];
                let peers: Vec<Peer> = bytes
                    .iter()
                    .map(|&b| Peer {
                        public_key: key(b),
                        relay_addresses: (0..b >> 5).map(|i| vec![i; 6]).collect(),
                    })
                    .collect();
                if !a.queries.is_empty() {
                    let q = *a
                        .queries
                        .iter()
                        .nth(usize::from(x) % a.queries.len())
                        .unwrap();
                    a.swarm.handle_query_peers(a.now, q, &peers);
                }
            }
            2 => {
                if let Some(q) = a.queries.pop_first() {
                    a.swarm.handle_query_done(a.now, q, x & 1 != 0);
                }
            }
            3 | 4 => {
                if let Some((c, n)) = nth(&a.dials, x) {
                    a.dials.remove(&c);
                    a.open.insert(c, n);
                    a.swarm.handle_connected(a.now, c, key(n), true);
                }
            }
            5 => {
                if let Some((c, _)) = nth(&a.dials, x) {
                    a.dials.remove(&c);
                    let code = match x >> 6 {
                        0 => ErrorCode::PeerNotFound,
                        1 => ErrorCode::PeerConnectionFailed,
                        2 => ErrorCode::CannotHolepunch,
                        _ => ErrorCode::Other("ETIMEDOUT".into()),
                    };
                    a.swarm.handle_connect_failed(a.now, c, &code);
                }
            }
            6 => {
                if let Some((c, _)) = nth(&a.open, x) {
                    a.open.remove(&c);
                    a.kept.remove(&c);
                    a.swarm.handle_closed(a.now, c);
                }
            }
            7 => {
                let n = key(x)[0];
                let payload = [x; 3];
                let payload = (x & 0x80 != 0).then_some(&payload[..]);
                if n != OURS && !a.swarm.handle_firewall(&key(n), payload) {
                    let c = a.swarm.alloc_conn_id();
                    a.open.insert(c, n);
                    a.swarm.handle_connected(a.now, c, key(n), false);
                }
            }
            8 | 9 => {
                a.now += Duration::from_millis(u64::from(x) * u64::from(x) * 20);
                a.swarm.handle_timeout(a.now);
            }
            10 => {
                let id = a.swarm.flush(a.now);
                a.flushes.insert(id);
            }
            11 => match x % 4 {
                0 => a.swarm.join_peer(a.now, key(x >> 2)),
                1 => a.swarm.leave_peer(&key(x >> 2)),
                2 => a.swarm.ban_peer(&key(x >> 2), x & 0x80 != 0),
                _ => a.swarm.handle_network_change(a.now),
            },
            12 => a.swarm.leave(a.now, &topic(x)),
            13 => {
                let opts = JoinOptions {
                    server: x & 1 != 0,
                    client: x & 2 != 0 || x & 1 == 0,
                    limit: None,
                };
                let _ = a.swarm.join(a.now, topic(x >> 2), opts);
            }
            14 => {
                if x & 1 == 0 {
                    a.swarm.suspend(a.now);
                } else {
                    a.swarm.resume(a.now);
                }
            }
            _ => {
                if let Some((c, _)) = nth(&a.open, x) {
                    a.swarm.handle_traffic(c, u64::from(x), 1);
                }
            }
        }
        a.settle();
    }
});
