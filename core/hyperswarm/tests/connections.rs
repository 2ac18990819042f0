//! Connection rules: the duplicate tie-break, maxPeers/maxParallel/maxClientConnections,
//! bans and the firewall, relay forcing, explicit peers.

mod common;

use common::*;
use ferrocore_hyperswarm::{
    BanReason, CloseReason, Command, ConnId, ErrorCode, Event, SwarmConfig,
};

/// We dial `remote` (joinPeer) and an incoming connection from it arrives before ours opens.
fn simultaneous(ours: u8, remote: u8) -> (Harness, ConnId, ConnId) {
    let mut h = Harness::new(ours, fixed_config());
    h.swarm.join_peer(h.now, key(remote));
    let dials = h.take_dials();
    assert_eq!(dials.len(), 1);
    let ours_conn = dials[0].0;
    let theirs = h.incoming(remote);
    (h, ours_conn, theirs)
}

#[test]
fn duplicate_keeps_the_connection_dialled_by_the_larger_key_remote_larger() {
    let (mut h, ours_conn, theirs) = simultaneous(1, 2);
    // The remote's key is larger: its dial (our incoming connection) wins, ours closes.
    let cmds = h.take_commands();
    assert_eq!(
        cmds,
        vec![Command::Close {
            conn: ours_conn,
            reason: CloseReason::Duplicate
        }]
    );
    assert!(
        h.connections().is_empty(),
        "kept only once the loser closed"
    );
    h.close(ours_conn);
    assert_eq!(h.connections(), vec![(theirs, 2, false)]);
    // Our dial opening late changes nothing.
    h.open(ours_conn, 2);
    assert_eq!(h.connections().len(), 1);
    assert_eq!(h.swarm.connection_count(), 1);
}

#[test]
fn duplicate_keeps_the_connection_dialled_by_the_larger_key_ours_larger() {
    let (mut h, ours_conn, theirs) = simultaneous(9, 2);
    let cmds = h.take_commands();
    assert_eq!(
        cmds,
        vec![
            Command::SendKeepAlive { conn: ours_conn },
            Command::Close {
                conn: theirs,
                reason: CloseReason::Duplicate
            }
        ]
    );
    h.close(theirs); // the refused one closing is no news
    h.open(ours_conn, 2);
    assert_eq!(h.connections(), vec![(ours_conn, 2, true)]);
}

#[test]
fn duplicate_replaces_an_established_connection_whatever_the_keys() {
    let (mut h, ours_conn, _) = {
        let mut h = Harness::new(9, fixed_config());
        h.swarm.join_peer(h.now, key(2));
        let c = h.take_dials()[0].0;
        h.open(c, 2);
        (h, c, ())
    };
    h.swarm.handle_traffic(ours_conn, 10, 0);
    let refused = h.incoming(2);
    assert!(h.take_commands().contains(&Command::Close {
        conn: refused,
        reason: CloseReason::Duplicate
    }));
    h.close(refused);
    // Traffic both ways: the peer must have lost it and be reconnecting.
    h.swarm.handle_traffic(ours_conn, 10, 10);
    let newer = h.incoming(2);
    h.expect_only_close(ours_conn, CloseReason::Duplicate);
    h.close(ours_conn);
    assert_eq!(h.connections().last(), Some(&(newer, 2, false)));
}

#[test]
fn both_sides_of_a_simultaneous_dial_keep_the_same_connection() {
    for (a, b) in [(1u8, 2u8), (2, 1)] {
        let mut sa = Harness::new(a, fixed_config());
        let mut sb = Harness::new(b, fixed_config());
        sa.swarm.join_peer(sa.now, key(b));
        sb.swarm.join_peer(sb.now, key(a));
        let a_dial = sa.take_dials()[0].0;
        let b_dial = sb.take_dials()[0].0;
        // A's dial is B's incoming connection and the other way round.
        let b_in = sb.incoming(a); // = a_dial
        let a_in = sa.incoming(b); // = b_dial
        let a_closed: Vec<_> = sa.take_commands();
        let b_closed: Vec<_> = sb.take_commands();
        let a_keeps_own_dial = !a_closed
            .iter()
            .any(|c| matches!(c, Command::Close { conn, .. } if *conn == a_dial));
        let b_keeps_a_dial = !b_closed
            .iter()
            .any(|c| matches!(c, Command::Close { conn, .. } if *conn == b_in));
        let a_keeps_b_dial = !a_closed
            .iter()
            .any(|c| matches!(c, Command::Close { conn, .. } if *conn == a_in));
        let b_keeps_own_dial = !b_closed
            .iter()
            .any(|c| matches!(c, Command::Close { conn, .. } if *conn == b_dial));
        assert_eq!(a_keeps_own_dial, b_keeps_a_dial, "a={a} b={b}");
        assert_eq!(a_keeps_b_dial, b_keeps_own_dial, "a={a} b={b}");
        assert_ne!(a_keeps_own_dial, a_keeps_b_dial, "exactly one survives");
        assert_eq!(a_keeps_own_dial, a > b);
    }
}

#[test]
fn max_parallel_bounds_dials_in_flight() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1, 2, 3, 4, 5]);
    let dials = h.take_dials();
    assert_eq!(dials.len(), 3, "maxParallel defaults to 3");
    assert_eq!(h.swarm.connecting(), 3);
    assert_eq!(h.swarm.queued(), 2);
    h.open(dials[0].0, dials[0].1);
    assert_eq!(h.take_dials().len(), 1, "one opened, one more dialled");
    h.fail(dials[1].0, ErrorCode::PeerNotFound);
    assert_eq!(h.take_dials().len(), 1);
    assert_eq!(h.swarm.queued(), 0);
}

#[test]
fn max_peers_stops_dialling_and_resumes_when_one_closes() {
    let config = SwarmConfig {
        max_peers: 2,
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    let q = h.join_client();
    h.found(q, &[1, 2, 3]);
    let dials = h.take_dials();
    assert_eq!(dials.len(), 2);
    for (c, n) in &dials {
        h.open(*c, *n);
    }
    assert!(h.take_dials().is_empty(), "at maxPeers");
    let incoming = h.incoming(50);
    h.close(dials[0].0);
    assert!(
        h.take_dials().is_empty(),
        "the incoming connection counts too"
    );
    h.close(incoming);
    let more = h.take_dials();
    assert_eq!(more.len(), 1);
    let remaining: Vec<u8> = [1, 2, 3]
        .into_iter()
        .filter(|n| !dials.iter().any(|d| d.1 == *n))
        .collect();
    assert_eq!(more[0].1, remaining[0]);
}

#[test]
fn max_peers_counts_explicit_peers_with_a_factor() {
    // One explicit peer doubles the weight of each connection: 2 * 2 < 5 but 2 * 3 >= 5.
    let config = SwarmConfig {
        max_peers: 5,
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    h.swarm.join_peer(h.now, key(60));
    let d = h.take_dials();
    h.open(d[0].0, 60);
    let q = h.join_client();
    h.found(q, &[1, 2, 3]);
    let dials = h.take_dials();
    assert_eq!(dials.len(), 2, "{dials:?}");
}

#[test]
fn max_client_connections_bounds_client_connections_only() {
    let config = SwarmConfig {
        max_client_connections: 1,
        ..fixed_config()
    };
    let (mut h, _, dials) = Harness::two_found(config);
    assert_eq!(dials.len(), 1);
    h.open(dials[0].0, dials[0].1);
    h.incoming(50);
    assert!(h.take_dials().is_empty());
    h.close(dials[0].0);
    assert_eq!(h.take_dials().len(), 1);
}

#[test]
fn firewall_rejection_bans_the_peer_for_good() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.set_firewall(Box::new(|k, _| k[0] == 66));
    assert!(h.swarm.handle_firewall(&key(100), None), "our own key");
    assert!(!h.swarm.handle_firewall(&key(1), None));
    assert!(h.swarm.handle_firewall(&key(66), Some(b"payload")));
    assert_eq!(
        h.take_events(),
        vec![Event::Ban {
            public_key: key(66),
            reason: BanReason::Firewalled
        }]
    );
    assert!(h.swarm.peer(&key(66)).unwrap().banned);
    // Found on a topic later: never dialled.
    let q = h.join_client();
    h.found(q, &[66, 1]);
    let dials = h.take_dials();
    assert_eq!(dials.iter().map(|d| d.1).collect::<Vec<_>>(), vec![1]);
    assert_eq!(h.swarm.stats().banned_peers, 1);
}

#[test]
fn a_banned_peer_is_neither_dialled_nor_retried() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1]);
    let d = h.take_dials();
    h.swarm.ban_peer(&key(1), true);
    h.fail(d[0].0, ErrorCode::PeerConnectionFailed);
    h.advance(ms(3_600_000));
    assert!(h.take_dials().is_empty());
    assert!(h.swarm.handle_firewall(&key(1), None));
    h.swarm.ban_peer(&key(1), false);
    assert!(!h.swarm.handle_firewall(&key(1), None));
}

#[test]
fn holepunch_failures_force_the_relay_and_a_fast_retry() {
    let relay = key(200);
    let config = SwarmConfig {
        relay_through: Some(relay),
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    let q = h.join_client();
    h.found(q, &[1]);
    let cmds = h.take_commands();
    let Command::Connect {
        conn,
        relay_through,
        ..
    } = cmds[0].clone()
    else {
        panic!("{cmds:?}")
    };
    assert_eq!(relay_through, None);
    h.fail(conn, ErrorCode::CannotHolepunch);
    // attempts reset to 0, then 1 (unproven): medium timer; without the reset it would be
    // the same, so check the relay and the attempts count.
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 1);
    h.advance(ms(6600));
    let cmds = h.take_commands();
    assert!(
        matches!(cmds[0], Command::Connect { relay_through: Some(r), .. } if r == relay),
        "{cmds:?}"
    );
    // A code that does not force relaying leaves attempts counting up.
    let Command::Connect { conn, .. } = cmds[0].clone() else {
        unreachable!()
    };
    h.fail(conn, ErrorCode::PeerNotFound);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 2);
}

#[test]
fn randomized_nat_dials_through_the_relay() {
    let config = SwarmConfig {
        relay_through: Some(key(200)),
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    h.swarm.set_randomized(true);
    h.swarm.join_peer(h.now, key(1));
    assert!(matches!(
        h.take_commands()[0],
        Command::Connect {
            relay_through: Some(_),
            ..
        }
    ));
}

#[test]
fn leave_peer_stops_redialling_an_explicit_peer() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.join_peer(h.now, key(1));
    let d = h.take_dials();
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    h.swarm.leave_peer(&key(1));
    // As in JS, the retry already scheduled still dials once (6.6 s: medium timer)…
    h.advance(ms(6600));
    let d = h.take_dials();
    assert_eq!(d.len(), 1);
    // …but its failure is not retried any more: no topic, not explicit.
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    h.advance(ms(3_600_000));
    assert!(h.take_dials().is_empty());
    assert!(h.swarm.peer(&key(1)).is_none(), "forgotten");
}

#[test]
fn an_explicit_peer_is_redialled_without_a_topic() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.join_peer(h.now, key(1));
    let d = h.take_dials();
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    h.advance(ms(6599));
    assert!(h.take_dials().is_empty());
    h.advance(ms(6600));
    assert_eq!(h.take_dials().len(), 1);
}

#[test]
fn incoming_connections_are_refused_after_destroy() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.destroy(h.now);
    let c = h.incoming(1);
    h.expect_only_close(c, CloseReason::Destroyed);
    assert!(h.swarm.join(h.now, TOPIC, Default::default()).is_err());
}

#[test]
fn connection_event_carries_the_topics_the_peer_was_found_on() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1]);
    let d = h.take_dials();
    h.open(d[0].0, 1);
    let events = h.take_events();
    assert!(events.contains(&Event::Connection {
        conn: d[0].0,
        remote_public_key: key(1),
        is_initiator: true,
        topics: vec![TOPIC],
    }));
    assert!(events.contains(&Event::Update));
}

#[test]
fn two_or_three_explicit_peers_weigh_connections_three_times() {
    // Dials go out while 3 * connections < 10: with two explicit connections, two more
    // (a factor of 2 would allow three, a factor of 4 one).
    let config = SwarmConfig {
        max_peers: 10,
        ..fixed_config()
    };
    let mut h = Harness::new(100, config);
    for n in [60, 61] {
        h.swarm.join_peer(h.now, key(n));
        let d = h.take_dials();
        h.open(d[0].0, n);
    }
    let q = h.join_client();
    h.found(q, &[1, 2, 3]);
    assert_eq!(h.take_dials().len(), 2);
}

/// The trace of two JS swarms (hyperswarm 4.17.2, loopback testnet) that `joinPeer` each
/// other at once: each dial opens and writes its handshake (22 raw bytes written, none read)
/// before the other side's incoming connection arrives. The smaller key drops its own open
/// dial for the incoming one (two `connection` events); the larger refuses the incoming one.
#[test]
fn an_open_dial_without_reads_still_loses_to_the_larger_keys_dial() {
    for (ours, remote, keeps_own) in [(1u8, 2u8, false), (2, 1, true)] {
        let mut h = Harness::new(ours, fixed_config());
        h.swarm.join_peer(h.now, key(remote));
        let dial = h.take_dials()[0].0;
        h.open(dial, remote);
        h.swarm.handle_traffic(dial, 0, 22);
        let incoming = h.incoming(remote);
        let cmds = h.take_commands();
        let closed_own = cmds.contains(&Command::Close {
            conn: dial,
            reason: CloseReason::Duplicate,
        });
        let closed_new = cmds.contains(&Command::Close {
            conn: incoming,
            reason: CloseReason::Duplicate,
        });
        assert_eq!(
            (closed_own, closed_new),
            (!keeps_own, keeps_own),
            "{cmds:?}"
        );
        h.close(if keeps_own { incoming } else { dial });
        let kept: Vec<_> = h.connections();
        if keeps_own {
            assert_eq!(kept, vec![(dial, remote, true)]);
        } else {
            assert_eq!(kept, vec![(dial, remote, true), (incoming, remote, false)]);
        }
        assert_eq!(h.swarm.connection_count(), 1);
    }
}
