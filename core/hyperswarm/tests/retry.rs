//! Retry delays and giving up (JS `lib/retry-timer.js`, `lib/peer-info.js`).

mod common;

use common::*;
use ferrocore_hyperswarm::{ErrorCode, Priority, Swarm, SwarmConfig};

/// Finds peer 1 on the topic and returns its first dial.
fn first_dial(h: &mut Harness) -> ferrocore_hyperswarm::ConnId {
    let q = h.join_client();
    h.found(q, &[1]);
    let d = h.take_dials();
    assert_eq!(d.len(), 1);
    d[0].0
}

/// Advances to `at - 1 ms` (no dial) and `at` (one dial), returning it.
fn redial_exactly_at(h: &mut Harness, at: u64) -> ferrocore_hyperswarm::ConnId {
    h.advance(ms(at - 1));
    assert!(h.take_dials().is_empty(), "no dial before {at} ms");
    h.advance(ms(at));
    let d = h.take_dials();
    assert_eq!(d.len(), 1, "a dial at {at} ms");
    d[0].0
}

#[test]
fn timer_periods_are_two_thirds_of_the_backoffs() {
    let h = Harness::new(100, fixed_config());
    assert_eq!(
        h.swarm.retry_periods(),
        [ms(660), ms(3300), ms(9900), ms(396_000)]
    );
}

#[test]
fn default_backoffs_draw_js_jitter() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..20 {
        let s = Swarm::new(key(1), SwarmConfig::default(), seed);
        let p = s.retry_periods();
        // backoff + module jitter + timer jitter (500 ms), times 0.66.
        let within = |d: core::time::Duration, lo: u64, hi: u64| {
            (lo * 66 / 100..=hi * 66 / 100).contains(&(d.as_millis() as u64))
        };
        assert!(within(p[0], 1000, 2000), "{p:?}");
        assert!(within(p[1], 5000, 6500), "{p:?}");
        assert!(within(p[2], 15000, 17500), "{p:?}");
        assert!(within(p[3], 600_000, 720_500), "{p:?}");
        seen.insert(p[0]);
    }
    assert!(seen.len() > 5, "the seed drives the jitter");
}

#[test]
fn an_unproven_peer_is_retried_medium_long_long_then_dropped() {
    let mut h = Harness::new(100, fixed_config());
    let c = first_dial(&mut h);
    h.fail(c, ErrorCode::PeerNotFound);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 1);
    // Medium timer (3.3 s) starts now; the peer rides the tick after next.
    let c = redial_exactly_at(&mut h, 6600);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().priority, Priority::VeryHigh);
    h.fail(c, ErrorCode::PeerConnectionFailed);
    // Long timer (9.9 s) starts at 6.6 s: ticks at 16.5 s and 26.4 s.
    let c = redial_exactly_at(&mut h, 26_400);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().priority, Priority::High);
    h.fail(c, ErrorCode::CannotHolepunch);
    // Same long timer, in phase: ticks at 36.3 s (moves it on) and 46.2 s.
    let c = redial_exactly_at(&mut h, 46_200);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().priority, Priority::Low);
    h.fail(c, ErrorCode::PeerNotFound);
    // Four failures: not retried, and forgotten.
    assert!(h.swarm.peer(&key(1)).is_none());
    assert_eq!(h.swarm.poll_timeout(), None, "no retry pending");
    h.advance(ms(500_000));
    assert!(h.take_dials().is_empty());
}

#[test]
fn a_proven_peer_is_retried_short_medium_long() {
    let mut h = Harness::new(100, fixed_config());
    let mut c = first_dial(&mut h);
    // Each time: the connection opens, lives 1 s and drops. Short timer (660 ms) from 1 s,
    // medium (3.3 s) from 3.32 s, long (9.9 s) from 10.92 s; each fires two ticks later.
    let mut at = 0;
    for (expected_at, attempts) in [(2320u64, 1u32), (9920, 2), (30_720, 3)] {
        h.open(c, 1);
        at += 1000;
        h.advance(ms(at));
        h.close(c);
        assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, attempts);
        c = redial_exactly_at(&mut h, expected_at);
        at = expected_at;
    }
}

#[test]
fn a_long_lived_connection_resets_the_attempts() {
    let mut h = Harness::new(100, fixed_config());
    let c = first_dial(&mut h);
    h.fail(c, ErrorCode::PeerNotFound);
    let c = redial_exactly_at(&mut h, 6600);
    h.open(c, 1);
    h.advance(ms(6600 + 15_000));
    h.close(c);
    // attempts 1 → reset to 0 by the 15 s connection → 1, proven: short timer.
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 1);
    let started = 21_600;
    redial_exactly_at(&mut h, started + 2 * 660);
}

#[test]
fn rediscovery_resets_a_failing_peer() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1]);
    let c = h.take_dials()[0].0;
    h.fail(c, ErrorCode::PeerNotFound);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 1);
    h.found(q, &[1]);
    // Found again: attempts back to 0 and dialled at once.
    let d = h.take_dials();
    assert_eq!(d.len(), 1);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().attempts, 0);
}

#[test]
fn an_explicit_peer_keeps_being_retried_on_the_extra_long_timer() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.join_peer(h.now, key(1));
    let mut c = h.take_dials()[0].0;
    for at in [6600u64, 26_400, 46_200] {
        h.fail(c, ErrorCode::PeerNotFound);
        c = redial_exactly_at(&mut h, at);
    }
    h.fail(c, ErrorCode::PeerNotFound);
    // Four failures: the 396 s extra long timer, started now.
    assert!(h.swarm.peer(&key(1)).is_some());
    let again = redial_exactly_at(&mut h, 46_200 + 2 * 396_000);
    assert_eq!(h.swarm.peer(&key(1)).unwrap().priority, Priority::Low);
    let _ = again;
}

#[test]
fn a_failed_dial_makes_room_for_the_next_queued_peer() {
    let config = SwarmConfig {
        max_parallel: 1,
        ..fixed_config()
    };
    let (mut h, _, d) = Harness::two_found(config);
    assert_eq!(d.len(), 1);
    let other = if d[0].1 == 1 { 2 } else { 1 };
    assert!(h.swarm.peer(&key(other)).unwrap().queued);
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    assert_eq!(h.dialled(), vec![other]);
}

#[test]
fn retries_due_together_fire_in_the_order_of_their_ticks() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.found(q, &[1, 2]);
    let d = h.take_dials();
    let conn = |n: u8| d.iter().find(|x| x.1 == n).unwrap().0;
    // Peer 1 fails at 0: medium timer, due at 6.6 s.
    h.fail(conn(1), ErrorCode::PeerNotFound);
    // Peer 2 opens and drops at 5.5 s: short timer from 5.5 s, due at 6.82 s.
    h.open(conn(2), 2);
    h.advance(ms(5500));
    h.close(conn(2));
    // Woken late at 7 s: both are due, peer 1's tick came first.
    h.advance(ms(7000));
    let order: Vec<u8> = h.take_dials().iter().map(|x| x.1).collect();
    assert_eq!(order, vec![1, 2]);
}

#[test]
fn a_peer_set_not_to_reconnect_is_not_retried() {
    let mut h = Harness::new(100, fixed_config());
    let c = first_dial(&mut h);
    h.swarm.set_reconnect(&key(1), false);
    h.fail(c, ErrorCode::PeerNotFound);
    assert_eq!(h.swarm.poll_timeout(), None);
    assert!(h.swarm.peer(&key(1)).is_none(), "not waiting: forgotten");
}
