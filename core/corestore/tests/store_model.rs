//! Random sequences of sessions, opens, releases, replication channels, closes and time
//! against a simple model: no core is closed while referenced, and every unreferenced core
//! is closed exactly once, at the first `handle_timeout` at or after its idle deadline
//! (unless referenced again before).

use std::collections::BTreeMap;
use std::time::Duration;

use ferrocore_corestore::store::{Acquired, Released, SessionId, Store, StoreConfig, StoreEvent};
use proptest::prelude::*;

const TIMEOUT: Duration = Duration::from_millis(500);
const KEYS: u8 = 5;

#[derive(Debug, Clone)]
enum Op {
    Session(usize),
    Namespace(usize, u8),
    CloseSession(usize),
    Open(usize, u8),
    Release(usize, u8),
    PeerOpened(u8),
    PeerClosed(u8),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => any::<usize>().prop_map(Op::Session),
        1 => (any::<usize>(), 0..3u8).prop_map(|(p, n)| Op::Namespace(p, n)),
        1 => any::<usize>().prop_map(Op::CloseSession),
        4 => (any::<usize>(), 0..KEYS).prop_map(|(s, k)| Op::Open(s, k)),
        4 => (any::<usize>(), 0..KEYS).prop_map(|(s, k)| Op::Release(s, k)),
        2 => (0..KEYS).prop_map(Op::PeerOpened),
        2 => (0..KEYS).prop_map(Op::PeerClosed),
        3 => (0..400u64).prop_map(Op::Advance),
    ]
}

/// The model of one open core.
#[derive(Debug, Default)]
struct ModelCore {
    refs: BTreeMap<SessionId, u64>,
    peers: u64,
    /// When it last became unreferenced, while it is.
    idle_since: Option<Duration>,
}

impl ModelCore {
    fn referenced(&self) -> bool {
        self.peers > 0 || self.refs.values().any(|&n| n > 0)
    }
}

fn dk(k: u8) -> [u8; 32] {
    [k; 32]
}

fn pick(sessions: &[SessionId], i: usize) -> SessionId {
    sessions[i % sessions.len()]
}

/// Marks `k` idle at `now` if nothing references it any more; returns whether it did.
fn settle(cores: &mut BTreeMap<u8, ModelCore>, k: u8, now: Duration) -> bool {
    let c = cores.get_mut(&k).expect("open");
    if !c.referenced() && c.idle_since.is_none() {
        c.idle_since = Some(now);
        return true;
    }
    false
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut store = Store::new(StoreConfig { idle_timeout: TIMEOUT });
        let mut sessions = vec![SessionId::ROOT];
        let mut cores: BTreeMap<u8, ModelCore> = BTreeMap::new();
        let mut now = Duration::ZERO;
        // When handle_timeout last ran (only `Advance` passes time).
        let mut swept_at = Duration::ZERO;

        for op in ops {
            match op {
                Op::Session(p) => sessions.push(store.session(pick(&sessions, p)).unwrap()),
                Op::Namespace(p, n) => {
                    let parent = pick(&sessions, p);
                    let s = store.namespace(parent, &n.to_string()).unwrap();
                    let want = store.namespace_of(parent).unwrap().child(&n.to_string());
                    prop_assert_eq!(store.namespace_of(s), Some(want));
                    sessions.push(s);
                }
                Op::CloseSession(i) => {
                    let s = pick(&sessions, i);
                    if s == SessionId::ROOT {
                        prop_assert!(store.close_session(s, now).is_err());
                        continue;
                    }
                    sessions.retain(|x| *x != s);
                    let mut want = Vec::new();
                    for (k, c) in cores.iter_mut() {
                        if c.refs.remove(&s).is_some_and(|n| n > 0) && !c.referenced() {
                            c.idle_since = Some(now);
                            want.push(dk(*k));
                        }
                    }
                    let mut got = store.close_session(s, now).unwrap();
                    got.sort();
                    prop_assert_eq!(got, want);
                }
                Op::Open(i, k) => {
                    let s = pick(&sessions, i);
                    let want = match cores.get(&k) {
                        None => Acquired::Opened,
                        Some(c) if c.idle_since.is_some() => Acquired::Revived,
                        Some(_) => Acquired::Shared,
                    };
                    prop_assert_eq!(store.open_core(s, dk(k)), Ok(want));
                    let c = cores.entry(k).or_default();
                    *c.refs.entry(s).or_insert(0) += 1;
                    c.idle_since = None;
                }
                Op::Release(i, k) => {
                    let s = pick(&sessions, i);
                    let held = cores.get(&k).and_then(|c| c.refs.get(&s)).copied().unwrap_or(0);
                    let got = store.release_core(s, dk(k), now);
                    if held == 0 {
                        prop_assert!(got.is_err());
                        continue;
                    }
                    cores.get_mut(&k).unwrap().refs.insert(s, held - 1);
                    let idle = settle(&mut cores, k, now);
                    let want = if idle { Released::Idle { deadline: now + TIMEOUT } } else { Released::InUse };
                    prop_assert_eq!(got, Ok(want));
                }
                Op::PeerOpened(k) => {
                    let want = match cores.get(&k) {
                        None => Acquired::Opened,
                        Some(c) if c.idle_since.is_some() => Acquired::Revived,
                        Some(_) => Acquired::Shared,
                    };
                    prop_assert_eq!(store.handle_peer_opened(dk(k)), Ok(want));
                    let c = cores.entry(k).or_default();
                    c.peers += 1;
                    c.idle_since = None;
                }
                Op::PeerClosed(k) => {
                    let peers = cores.get(&k).map_or(0, |c| c.peers);
                    let got = store.handle_peer_closed(dk(k), now);
                    if peers == 0 {
                        prop_assert!(got.is_err());
                        continue;
                    }
                    cores.get_mut(&k).unwrap().peers -= 1;
                    let idle = settle(&mut cores, k, now);
                    prop_assert_eq!(got.unwrap() == Released::InUse, !idle);
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(ms);
                    store.handle_timeout(now);
                    swept_at = now;
                }
            }

            // Events: every CloseIdle names an unreferenced core whose time has come.
            while let Some(ev) = store.poll_event() {
                let StoreEvent::CloseIdle { discovery_key } = ev else {
                    prop_assert!(false, "unexpected {:?}", ev);
                    unreachable!();
                };
                let k = discovery_key[0];
                let c = cores.remove(&k);
                prop_assert!(c.is_some(), "closed a core that is not open");
                let c = c.unwrap();
                prop_assert!(!c.referenced(), "closed a referenced core");
                let since = c.idle_since.expect("closed a core that was not idle");
                prop_assert!(since + TIMEOUT <= now, "closed before its deadline");
            }
            // Nothing overdue stays open, and the machine agrees with the model.
            for (k, c) in &cores {
                let info = store.core(&dk(*k));
                prop_assert!(info.is_some(), "the model has {} open", k);
                let info = info.unwrap();
                prop_assert_eq!(info.peers, c.peers);
                prop_assert_eq!(info.sessions, c.refs.values().sum::<u64>());
                prop_assert_eq!(info.idle_deadline, c.idle_since.map(|t| t + TIMEOUT));
                if let Some(t) = c.idle_since {
                    prop_assert!(t + TIMEOUT > swept_at, "core {} overdue", k);
                }
            }
            prop_assert_eq!(store.open_core_count(), cores.len());
            let next = cores.values().filter_map(|c| c.idle_since).min().map(|t| t + TIMEOUT);
            prop_assert_eq!(store.poll_timeout(), next);
        }

        // Let every idle core go: each is closed exactly once.
        for s in sessions.iter().filter(|s| **s != SessionId::ROOT) {
            store.close_session(*s, now).unwrap();
        }
        for (dk, n) in store.cores_of(SessionId::ROOT).collect::<Vec<_>>() {
            for _ in 0..n {
                store.release_core(SessionId::ROOT, dk, now).unwrap();
            }
        }
        for k in 0..KEYS {
            while store.handle_peer_closed(dk(k), now).is_ok() {}
        }
        let opened_before: Vec<u8> = cores.keys().copied().collect();
        store.handle_timeout(now + TIMEOUT);
        let mut last: Vec<u8> = core::iter::from_fn(|| store.poll_event())
            .map(|e| match e {
                StoreEvent::CloseIdle { discovery_key } => discovery_key[0],
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        last.sort();
        prop_assert_eq!(last, opened_before);
        prop_assert_eq!(store.open_core_count(), 0);
        prop_assert_eq!(store.poll_timeout(), None);
    }
}
