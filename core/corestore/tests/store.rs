//! The store state machine's rules, one by one (see `store_model.rs` for random sequences).

use core::time::Duration;

use ferrocore_corestore::store::{
    Acquired, Released, SessionId, Store, StoreConfig, StoreError, StoreEvent,
};
use ferrocore_corestore::Namespace;

const T: Duration = Duration::from_secs(5);
const ROOT: SessionId = SessionId::ROOT;

fn store() -> Store {
    Store::new(StoreConfig { idle_timeout: T })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn events(store: &mut Store) -> Vec<StoreEvent> {
    core::iter::from_fn(|| store.poll_event()).collect()
}

fn close_idle(dk: [u8; 32]) -> StoreEvent {
    StoreEvent::CloseIdle { discovery_key: dk }
}

#[test]
fn sessions_keep_or_chain_namespaces() {
    let mut s = store();
    assert_eq!(s.namespace_of(ROOT), Some(Namespace::ROOT));
    let a = s.namespace(ROOT, "a").unwrap();
    let ab = s.namespace(a, "b").unwrap();
    let same = s.session(ab).unwrap();
    assert_eq!(s.namespace_of(ab), Some(Namespace::from_path(["a", "b"])));
    assert_eq!(s.namespace_of(same), s.namespace_of(ab));
    assert_eq!(s.session_info(same).unwrap().parent, Some(ab));
    let ns = Namespace::ROOT.child("x");
    let x = s.session_in(ROOT, ns).unwrap();
    assert_eq!(s.namespace_of(x), Some(ns));
    let in_ab: Vec<_> = s.sessions_in(Namespace::from_path(["a", "b"])).collect();
    assert_eq!(in_ab, vec![ab, same]);
    assert_eq!(s.sessions().count(), 5);
    assert!(ab != same && a != ab, "ids are distinct");
}

#[test]
fn references_count_per_session_and_the_last_release_makes_the_core_idle() {
    let mut s = store();
    let dk = [1; 32];
    assert_eq!(s.open_core(ROOT, dk), Ok(Acquired::Opened));
    assert_eq!(s.open_core(ROOT, dk), Ok(Acquired::Shared));
    assert_eq!(s.cores_of(ROOT).collect::<Vec<_>>(), vec![(dk, 2)]);
    assert_eq!(s.core(&dk).unwrap().sessions, 2);
    assert_eq!(s.release_core(ROOT, dk, secs(1)), Ok(Released::InUse));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(
        s.release_core(ROOT, dk, secs(2)),
        Ok(Released::Idle {
            deadline: secs(2) + T
        })
    );
    assert_eq!(
        s.release_core(ROOT, dk, secs(2)),
        Err(StoreError::NotOpenedBy(ROOT, dk))
    );
    assert_eq!(s.core(&dk).unwrap().idle_deadline, Some(secs(2) + T));
    assert_eq!(s.cores_of(ROOT).count(), 0);
}

#[test]
fn an_idle_core_closes_once_at_its_deadline() {
    let mut s = store();
    let dk = [2; 32];
    s.open_core(ROOT, dk).unwrap();
    s.release_core(ROOT, dk, secs(1)).unwrap();
    let deadline = secs(1) + T;
    assert_eq!(s.poll_timeout(), Some(deadline));
    s.handle_timeout(deadline - Duration::from_nanos(1));
    assert_eq!(events(&mut s), vec![]);
    assert!(s.is_open(&dk));
    s.handle_timeout(deadline);
    assert_eq!(events(&mut s), vec![close_idle(dk)]);
    assert!(!s.is_open(&dk));
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(deadline + secs(100));
    assert_eq!(events(&mut s), vec![]);
    // Opening it again is a fresh open.
    assert_eq!(s.open_core(ROOT, dk), Ok(Acquired::Opened));
}

#[test]
fn reopening_an_idle_core_cancels_its_close() {
    let mut s = store();
    let dk = [3; 32];
    let a = s.session(ROOT).unwrap();
    s.open_core(a, dk).unwrap();
    s.release_core(a, dk, secs(0)).unwrap();
    assert_eq!(s.open_core(ROOT, dk), Ok(Acquired::Revived));
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(secs(60));
    assert_eq!(events(&mut s), vec![]);
    // Released again: a new countdown from then.
    s.release_core(ROOT, dk, secs(60)).unwrap();
    s.handle_timeout(secs(64));
    assert_eq!(events(&mut s), vec![]);
    s.handle_timeout(secs(65));
    assert_eq!(events(&mut s), vec![close_idle(dk)]);
}

#[test]
fn closing_a_session_releases_what_it_opened_and_nothing_else() {
    let mut s = store();
    let a = s.namespace(ROOT, "a").unwrap();
    let child = s.session(a).unwrap();
    let (only_a, shared, childs) = ([4; 32], [5; 32], [6; 32]);
    s.open_core(a, only_a).unwrap();
    s.open_core(a, only_a).unwrap();
    s.open_core(a, shared).unwrap();
    s.open_core(ROOT, shared).unwrap();
    s.open_core(child, childs).unwrap();
    assert_eq!(s.close_session(a, secs(1)), Ok(vec![only_a]));
    assert_eq!(s.core(&only_a).unwrap().idle_deadline, Some(secs(1) + T));
    assert_eq!(s.core(&shared).unwrap().sessions, 1);
    assert_eq!(s.namespace_of(a), None);
    assert!(
        s.namespace_of(child).is_some(),
        "sessions made from it stay open"
    );
    assert!(s.core(&childs).unwrap().idle_deadline.is_none());
    assert_eq!(
        s.close_session(a, secs(1)),
        Err(StoreError::UnknownSession(a))
    );
    assert_eq!(s.open_core(a, only_a), Err(StoreError::UnknownSession(a)));
    assert_eq!(s.close_session(ROOT, secs(1)), Err(StoreError::RootSession));
}

#[test]
fn equal_deadlines_close_in_the_order_the_cores_went_idle() {
    let mut s = store();
    let keys = [[9; 32], [8; 32], [7; 32]];
    for dk in keys {
        s.open_core(ROOT, dk).unwrap();
    }
    for dk in keys {
        s.release_core(ROOT, dk, secs(0)).unwrap();
    }
    s.handle_timeout(T);
    assert_eq!(events(&mut s), keys.map(close_idle).to_vec());
}

#[test]
fn a_peer_opens_a_core_passively_and_keeps_it_open() {
    let mut s = store();
    let dk = [10; 32];
    assert_eq!(s.handle_peer_opened(dk), Ok(Acquired::Opened));
    let info = s.core(&dk).unwrap();
    assert!(info.passive && info.peers == 1 && info.sessions == 0);
    assert_eq!(info.idle_deadline, None, "the channel keeps it open");
    // A second connection asks too; one goes.
    assert_eq!(s.handle_peer_opened(dk), Ok(Acquired::Shared));
    assert_eq!(s.handle_peer_closed(dk, secs(1)), Ok(Released::InUse));
    // A session opens it: no longer passive, and it outlives the channel.
    assert_eq!(s.open_core(ROOT, dk), Ok(Acquired::Shared));
    assert!(!s.core(&dk).unwrap().passive);
    assert_eq!(s.handle_peer_closed(dk, secs(2)), Ok(Released::InUse));
    assert_eq!(
        s.handle_peer_closed(dk, secs(2)),
        Err(StoreError::NoPeer(dk))
    );
    assert_eq!(
        s.release_core(ROOT, dk, secs(3)),
        Ok(Released::Idle {
            deadline: secs(3) + T
        })
    );
    // A peer asking for an idle core revives it.
    assert_eq!(s.handle_peer_opened(dk), Ok(Acquired::Revived));
    assert_eq!(
        s.handle_peer_closed(dk, secs(5)),
        Ok(Released::Idle {
            deadline: secs(5) + T
        })
    );
    s.handle_timeout(secs(5) + T);
    assert_eq!(events(&mut s), vec![close_idle(dk)]);
    assert_eq!(
        s.handle_peer_closed(dk, secs(20)),
        Err(StoreError::NoPeer(dk))
    );
}

#[test]
fn finding_peers_counts_tokens_and_the_last_done_is_an_event() {
    let mut s = store();
    let a = s.session(ROOT).unwrap();
    let dk = [11; 32];
    s.open_core(a, dk).unwrap();
    assert!(!s.is_finding_peers(a));
    let t1 = s.finding_peers(a).unwrap();
    let t2 = s.finding_peers(a).unwrap();
    assert_eq!(t1.session(), a);
    assert!(s.is_finding_peers(a) && !s.is_finding_peers(ROOT));
    assert!(s.is_core_finding_peers(&dk));
    assert!(!s.is_core_finding_peers(&[12; 32]));
    assert!(s.finding_peers_done(t1));
    assert!(!s.finding_peers_done(t1), "done twice changes nothing");
    assert_eq!(events(&mut s), vec![]);
    assert!(s.is_finding_peers(a));
    assert!(s.finding_peers_done(t2));
    assert_eq!(
        events(&mut s),
        vec![StoreEvent::FindingPeersDone { session: a }]
    );
    assert!(!s.is_finding_peers(a) && !s.is_core_finding_peers(&dk));
    // A session closed while finding peers ends them.
    let t3 = s.finding_peers(a).unwrap();
    assert_eq!(s.close_session(a, secs(1)), Ok(vec![dk]));
    assert_eq!(
        events(&mut s),
        vec![StoreEvent::FindingPeersDone { session: a }]
    );
    assert!(!s.finding_peers_done(t3));
    assert_eq!(s.finding_peers(a), Err(StoreError::UnknownSession(a)));
}

#[test]
fn closing_the_store_returns_every_core_and_refuses_everything_after() {
    let mut s = store();
    let a = s.namespace(ROOT, "a").unwrap();
    let (held, idle, closed) = ([13; 32], [14; 32], [15; 32]);
    s.open_core(a, held).unwrap();
    s.open_core(ROOT, idle).unwrap();
    s.open_core(ROOT, closed).unwrap();
    s.release_core(ROOT, closed, secs(0)).unwrap();
    s.handle_timeout(T);
    s.release_core(ROOT, idle, T).unwrap();
    let _token = s.finding_peers(ROOT).unwrap();
    let mut all = s.close();
    all.sort();
    assert_eq!(all, vec![held, idle]);
    assert!(s.is_closed());
    assert_eq!(
        events(&mut s),
        vec![StoreEvent::FindingPeersDone { session: ROOT }],
        "a pending CloseIdle is moot: the adapter closes every core now"
    );
    assert_eq!(s.poll_timeout(), None);
    assert!(s.close().is_empty());
    assert_eq!(s.open_core(ROOT, held), Err(StoreError::Closed));
    assert_eq!(s.session(ROOT), Err(StoreError::Closed));
    assert_eq!(s.handle_peer_opened(held), Err(StoreError::Closed));
    assert_eq!(s.open_core_count(), 0);
}

#[test]
fn the_default_idle_timeout_is_the_js_delay_of_a_lone_idle_core() {
    // corestore 7.12.5: first strike when idle, one per 2 s tick, closed on the 4th.
    assert_eq!(
        StoreConfig::default().idle_timeout,
        Duration::from_secs(2 * 3)
    );
}
