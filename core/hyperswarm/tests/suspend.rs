//! Suspend and resume (JS `swarm.suspend()` / `swarm.resume()`).

mod common;

use common::*;
use ferrocore_hyperswarm::{CloseReason, Command, ErrorCode, JoinOptions};

#[test]
fn suspend_stops_everything_and_resume_starts_it_again() {
    let mut h = Harness::new(100, fixed_config());
    h.join(JoinOptions::default());
    h.swarm.handle_listening(h.now);
    let q = h.take_lookup();
    h.found(q, &[1, 2]);
    let d = h.take_dials();
    h.open(d[0].0, d[0].1);
    h.done(q);
    h.swarm.suspend(h.now);
    let cmds = h.take_commands();
    assert_eq!(cmds[0], Command::Suspend);
    assert!(matches!(cmds[1], Command::Unannounce { .. }), "{cmds:?}");
    assert!(cmds.contains(&Command::Close {
        conn: d[0].0,
        reason: CloseReason::Suspended
    }));
    assert!(cmds.contains(&Command::Close {
        conn: d[1].0,
        reason: CloseReason::Suspended
    }));
    h.close(d[0].0);
    h.fail(d[1].0, ErrorCode::PeerConnectionFailed);
    // Suspended: no retries, no refresh, incoming refused.
    assert_eq!(h.swarm.poll_timeout(), None);
    h.advance(ms(3_600_000));
    assert!(h.take_dials().is_empty());
    let c = h.incoming(9);
    h.expect_only_close(c, CloseReason::Destroyed);
    h.swarm.join_peer(h.now, key(3));
    assert!(h.take_dials().is_empty());
    // Resume: the topic is announced again (no clear) and found peers dialled.
    h.swarm.resume(h.now);
    let cmds = h.take_commands();
    assert_eq!(cmds[0], Command::Resume);
    let Some(Command::Announce {
        query,
        clear: false,
        ..
    }) = cmds.get(1).cloned()
    else {
        panic!("{cmds:?}")
    };
    assert!(cmds
        .iter()
        .any(|c| matches!(c, Command::Connect { public_key, .. } if *public_key == key(3))));
    h.found(query, &[1]);
    assert_eq!(
        h.take_dials().iter().map(|d| d.1).collect::<Vec<_>>(),
        vec![1]
    );
}

#[test]
fn a_client_topic_suspended_needs_no_unannounce() {
    let mut h = Harness::new(100, fixed_config());
    let q = h.join_client();
    h.swarm.suspend(h.now);
    assert_eq!(
        h.take_commands(),
        vec![Command::Suspend, Command::CancelQuery { query: q }]
    );
    // The cancelled lookup's late end schedules nothing.
    h.done(q);
    assert_eq!(h.swarm.poll_timeout(), None);
    h.swarm.resume(h.now);
    h.expect_resume_lookup();
}

#[test]
fn joining_while_suspended_waits_for_the_resume() {
    let mut h = Harness::new(100, fixed_config());
    h.swarm.suspend(h.now);
    h.take_commands();
    h.join(Harness::client_only());
    assert!(h.take_commands().is_empty());
    h.swarm.resume(h.now);
    h.expect_resume_lookup();
}

#[test]
fn peers_queued_at_suspend_are_dialled_after_resume() {
    let config = ferrocore_hyperswarm::SwarmConfig {
        max_parallel: 1,
        ..fixed_config()
    };
    let (mut h, _, d) = Harness::two_found(config);
    let other = if d[0].1 == 1 { 2 } else { 1 };
    h.swarm.suspend(h.now);
    h.fail(d[0].0, ErrorCode::PeerNotFound);
    h.swarm.resume(h.now);
    let q = h.take_lookup();
    h.found(q, &[other]);
    assert_eq!(h.dialled(), vec![other]);
}
