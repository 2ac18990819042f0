//! Topic discovery: announce/lookup, refresh timing, leave and unannounce, sessions, flush.

mod common;

use common::*;
use ferrocore_hyperswarm::{
    Command, ErrorCode, Event, JoinOptions, SwarmConfig, DELAY_GRACE_PERIOD, RANDOM_JITTER,
    REFRESH_INTERVAL,
};

fn server_only() -> JoinOptions {
    JoinOptions {
        server: true,
        client: false,
        limit: None,
    }
}

#[test]
fn a_server_listens_first_then_announces_with_clear_once() {
    let mut h = Harness::new(100, fixed_config());
    h.join(JoinOptions::default());
    assert_eq!(h.take_commands(), vec![Command::Listen]);
    h.swarm.handle_listening(h.now);
    let cmds = h.take_commands();
    let [Command::Announce {
        query,
        topic,
        clear: true,
    }] = cmds[..]
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(topic, TOPIC);
    // Announce results carry peers too: a client+server topic dials them.
    h.found(query, &[1]);
    assert_eq!(h.take_dials().len(), 1);
    h.done(query);
    let due = h.swarm.poll_timeout().unwrap();
    h.advance(due);
    let cmds = h.take_commands();
    assert!(
        matches!(cmds[..], [Command::Announce { clear: false, .. }]),
        "{cmds:?}"
    );
}

#[test]
fn a_client_only_topic_only_looks_up() {
    let mut h = Harness::new(100, fixed_config());
    h.join(Harness::client_only());
    let cmds = h.take_commands();
    assert!(
        matches!(cmds[..], [Command::Lookup { topic: TOPIC, .. }]),
        "{cmds:?}"
    );
}

#[test]
fn a_server_only_topic_does_not_dial_the_peers_its_announce_finds() {
    let mut h = Harness::new(100, fixed_config());
    h.join(server_only());
    h.take_commands();
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.found(q, &[1, 2]);
    assert!(h.take_dials().is_empty());
    assert_eq!(h.swarm.peer_count(), 0);
}

#[test]
fn refresh_comes_ten_minutes_plus_jitter_after_the_query_ends() {
    let mut deadlines = std::collections::BTreeSet::new();
    for seed in 0..16u64 {
        let mut h = Harness::new(100, fixed_config());
        h.swarm.reseed(seed);
        let q = h.join_client();
        h.advance(ms(5000));
        assert_eq!(
            h.swarm.poll_timeout(),
            None,
            "no refresh while the query runs"
        );
        h.done(q);
        let due = h.swarm.poll_timeout().unwrap();
        let delay = due - ms(5000);
        assert!(
            delay >= REFRESH_INTERVAL && delay <= REFRESH_INTERVAL + RANDOM_JITTER,
            "{delay:?}"
        );
        deadlines.insert(due);
        h.advance(due - ms(1));
        assert!(h.take_commands().is_empty());
        h.advance(due);
        let cmds = h.take_commands();
        assert!(matches!(cmds[..], [Command::Lookup { .. }]), "{cmds:?}");
    }
    assert!(deadlines.len() > 8, "jitter from the seed");
}

#[test]
fn a_failed_query_is_also_refreshed_later() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.swarm.handle_query_done(h.now, q, false);
    assert!(h.swarm.poll_timeout().unwrap() >= REFRESH_INTERVAL);
}

#[test]
fn an_overdue_refresh_after_sleep_reschedules_with_the_jitter_alone() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.done(q);
    let due = h.swarm.poll_timeout().unwrap();
    let woke = due + DELAY_GRACE_PERIOD + ms(1);
    h.advance(woke);
    assert!(
        h.take_commands().is_empty(),
        "no refresh straight after waking"
    );
    let next = h.swarm.poll_timeout().unwrap();
    assert!(next >= woke && next <= woke + RANDOM_JITTER, "{next:?}");
    h.advance(next);
    assert!(matches!(h.take_commands()[..], [Command::Lookup { .. }]));
    // Within the grace period it refreshes at once.
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.done(q);
    let due = h.swarm.poll_timeout().unwrap();
    h.advance(due + DELAY_GRACE_PERIOD);
    assert!(matches!(h.take_commands()[..], [Command::Lookup { .. }]));
}

#[test]
fn leave_cancels_the_query_unannounces_and_stops_refreshing() {
    let mut h = Harness::new(100, fixed_config());
    h.join(JoinOptions::default());
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.done(q);
    let refresh_due = h.swarm.poll_timeout().unwrap();
    h.advance(refresh_due);
    let q2 = h.take_lookup();
    h.swarm.leave(h.now, &TOPIC);
    let cmds = h.take_commands();
    let [Command::CancelQuery { query }, Command::Unannounce {
        query: un,
        topic: TOPIC,
    }] = cmds[..]
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(query, q2);
    assert!(
        !h.take_events().contains(&Event::Left { topic: TOPIC }),
        "not before the unannounce"
    );
    // A late result of the cancelled query is ignored.
    h.found(q2, &[1]);
    assert!(h.take_dials().is_empty());
    assert_eq!(h.swarm.topics().count(), 1, "still tearing down");
    h.done(un);
    assert!(h.take_events().contains(&Event::Left { topic: TOPIC }));
    assert_eq!(h.swarm.topics().count(), 0);
    assert_eq!(h.swarm.poll_timeout(), None);
    h.advance(refresh_due * 10);
    assert!(h.take_commands().is_empty());
}

#[test]
fn leaving_a_client_topic_needs_no_unannounce_and_stops_retries() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1]);
    let d = h.take_dials();
    h.done(q);
    h.swarm.leave(h.now, &TOPIC);
    assert!(h.take_commands().is_empty());
    assert!(h.take_events().contains(&Event::Left { topic: TOPIC }));
    // Its peer fails: no topic left, so no retry.
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    h.advance(ms(3_600_000));
    assert!(h.take_dials().is_empty());
}

#[test]
fn the_last_server_session_ending_looks_up_with_unannounce() {
    let mut h = Harness::new(100, fixed_config());
    let server = h.join(server_only());
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.done(q);
    let client = h.join(Harness::client_only());
    // Mode changed to client + server: a new announce.
    let q = h.take_lookup();
    h.done(q);
    h.swarm.destroy_session(h.now, server);
    let cmds = h.take_commands();
    let [Command::LookupAndUnannounce { query, .. }] = cmds[..] else {
        panic!("{cmds:?}")
    };
    h.done(query);
    // Unannounced: the next refresh is a plain lookup.
    let due = h.swarm.poll_timeout().unwrap();
    h.advance(due);
    assert!(matches!(h.take_commands()[..], [Command::Lookup { .. }]));
    h.swarm.destroy_session(h.now, client);
    assert!(matches!(
        h.take_commands()[..],
        [Command::CancelQuery { .. }]
    ));
    assert!(h.take_events().contains(&Event::Left { topic: TOPIC }));
}

#[test]
fn joining_twice_shares_one_discovery() {
    let mut h = Harness::new(100, fixed_config());
    h.join_client();
    h.join(Harness::client_only());
    assert!(
        h.take_commands().is_empty(),
        "the running lookup serves both"
    );
    assert!(h
        .swarm
        .join(
            h.now,
            TOPIC,
            JoinOptions {
                server: false,
                client: false,
                limit: None
            }
        )
        .is_err());
}

#[test]
fn rejoining_while_unannouncing_waits_for_the_old_discovery() {
    let mut h = Harness::new(100, fixed_config());
    h.join(server_only());
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.done(q);
    h.swarm.leave(h.now, &TOPIC);
    let cmds = h.take_commands();
    let [Command::Unannounce { query: un, .. }] = cmds[..] else {
        panic!("{cmds:?}")
    };
    h.join(server_only());
    assert!(h.take_commands().is_empty(), "waits for the unannounce");
    h.done(un);
    let cmds = h.take_commands();
    assert!(
        matches!(cmds[..], [Command::Announce { clear: true, .. }]),
        "{cmds:?}"
    );
    assert!(h.take_events().contains(&Event::Left { topic: TOPIC }));
}

#[test]
fn limit_caps_the_peers_handed_on_per_refresh() {
    let mut h = Harness::new(100, fixed_config());
    h.join(JoinOptions {
        server: false,
        client: true,
        limit: Some(2),
    });
    let q = h.take_lookup();
    h.found(q, &[1, 2]);
    h.found(q, &[3]);
    assert_eq!(h.take_dials().len(), 2);
    assert!(h.swarm.peer(&key(3)).is_none());
}

#[test]
fn flush_waits_for_the_lookup_and_the_dials_it_caused() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    let f = h.swarm.flush(h.now);
    h.found(q, &[1, 2]);
    let d = h.take_dials();
    assert_eq!(h.flush_done(f), None, "lookup still running");
    h.done(q);
    assert_eq!(h.flush_done(f), None, "two dials pending");
    h.open(d[0].0, d[0].1);
    assert_eq!(h.flush_done(f), None, "one dial pending");
    h.fail(d[1].0, ErrorCode::PeerNotFound);
    assert_eq!(h.flush_done(f), Some(true));
    // Nothing pending: a new flush completes at once.
    let f2 = h.swarm.flush(h.now);
    h.drain();
    assert_eq!(h.flush_done(f2), Some(true));
}

#[test]
fn flush_waits_for_listening_before_an_announce() {
    let mut h = Harness::new(100, fixed_config());
    h.join(server_only());
    let f = h.swarm.flush(h.now);
    h.drain();
    assert_eq!(h.flush_done(f), None);
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    assert_eq!(h.flush_done(f), None);
    h.done(q);
    assert_eq!(h.flush_done(f), Some(true));
}

#[test]
fn flush_completes_early_at_max_peers() {
    let config = SwarmConfig {
        max_peers: 1,
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    let q = h.join_client();
    h.found(q, &[1, 2, 3]);
    let d = h.take_dials();
    assert_eq!(d.len(), 1);
    h.done(q);
    let f = h.swarm.flush(h.now);
    h.drain();
    assert_eq!(h.flush_done(f), None, "a dial is in flight");
    h.open(d[0].0, d[0].1);
    assert_eq!(
        h.flush_done(f),
        Some(true),
        "full: the queued peers will not be dialled"
    );
}

#[test]
fn destroy_fails_pending_flushes_and_unannounces() {
    let mut h = Harness::new(100, fixed_config());
    h.join(JoinOptions::default());
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.found(q, &[1]);
    h.done(q);
    let f = h.swarm.flush(h.now);
    h.drain();
    assert_eq!(h.flush_done(f), None);
    h.swarm.destroy(h.now);
    h.drain();
    assert_eq!(h.flush_done(f), Some(false));
    assert!(h
        .commands
        .iter()
        .any(|c| matches!(c, Command::Unannounce { .. })));
}

#[test]
fn network_change_probes_connections_and_refreshes_topics() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1]);
    let d = h.take_dials();
    h.open(d[0].0, 1);
    h.done(q);
    h.swarm.handle_network_change(h.now);
    let cmds = h.take_commands();
    assert!(cmds.contains(&Command::SendKeepAlive { conn: d[0].0 }));
    assert!(
        cmds.iter().any(|c| matches!(c, Command::Lookup { .. })),
        "{cmds:?}"
    );
}
