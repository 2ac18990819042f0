//! The tick's rules on a single node: `_pingSome`, the DOWN_HINT budget, health events.

use super::*;
use crate::rpc::health::NetworkState;
use crate::rpc::table::RECENT_NODE;
use alloc::vec::Vec;
use ferrocore_wire::dht::Packet;

fn node() -> Node {
    let mut n = Node::new(Duration::ZERO, [0; 32], 100, [[1; 32], [2; 32]]);
    n.bootstrapped = true;
    n
}

fn peer(n: u16) -> Ipv4Address {
    Ipv4Address::new([10, 0, (n >> 8) as u8, n as u8], 3000 + n)
}

/// Runs ticks (and every timer) up to `tick`, collecting the PINGs sent, by tick.
fn run_to(n: &mut Node, tick: u64) -> Vec<(u64, Ipv4Address)> {
    let mut pings = Vec::new();
    while n.tick() < tick {
        let Some(t) = n.poll_timeout() else { break };
        n.handle_timeout(t);
        while let Some(t) = n.poll_transmit() {
            if let Ok(Packet::Request(r)) = Packet::decode(&t.bytes) {
                if r.internal && r.command == commands::PING {
                    pings.push((n.tick(), t.to));
                }
            }
        }
    }
    pings
}

#[test]
fn ping_some_checks_the_least_recently_seen_nodes_every_eighth_tick() {
    let mut n = node();
    for i in 1..=10 {
        n.add_node(Duration::ZERO, peer(i));
    }
    // tick 8: the oldest was pinged (added) within RECENT_NODE ticks: only 2 checks, the
    // two added first
    let pings = run_to(&mut n, 8);
    assert_eq!(pings, [(8, peer(1)), (8, peer(2))]);
    const { assert!(8 < RECENT_NODE) };
    // silent: they are dropped once their pings time out
    let pings = run_to(&mut n, 15);
    assert!(pings.iter().all(|(_, a)| *a == peer(1) || *a == peer(2)));
    assert_eq!(n.table().len(), 8);
    // tick 16: the oldest was added 16 ticks ago: 5 checks, the next five in age order
    let pings = run_to(&mut n, 16);
    let want: Vec<(u64, Ipv4Address)> = (3..=7).map(|i| (16, peer(i))).collect();
    assert_eq!(pings, want);
}

#[test]
fn nothing_ticks_before_the_node_is_bootstrapped() {
    let mut n = node();
    n.bootstrapped = false;
    for i in 1..=3 {
        n.add_node(Duration::ZERO, peer(i));
    }
    assert!(run_to(&mut n, 40).is_empty());
}

#[test]
fn requests_that_all_time_out_make_the_node_offline() {
    let mut n = node();
    let mut events = Vec::new();
    let mut now = Duration::ZERO;
    for tick in 1..=10u16 {
        // four silent peers asked each tick: enough traffic not to be idle
        for i in 0..4 {
            n.ping(now, peer(100 * tick + i), 0);
        }
        now += TICK_INTERVAL;
        while let Some(t) = n.poll_timeout().filter(|t| *t <= now) {
            n.handle_timeout(t);
            while n.poll_transmit().is_some() {}
        }
        while let Some(e) = n.poll_event() {
            if let NodeEvent::Network(s) = e {
                events.push((n.tick(), s));
            }
        }
    }
    // online (the default) is not reported again; offline comes once two judged ticks
    // in a row had no response at all, after a full window of samples
    assert_eq!(events.len(), 1, "{events:?}");
    let (tick, state) = events[0];
    assert_eq!(state, NetworkState::Offline);
    assert!(tick >= 5, "the health window was warm: {tick}");
    assert_eq!(n.network(), (false, false));
}

#[test]
fn a_configured_node_starts_at_a_random_tick_with_its_nodes_in_order() {
    let cfg = crate::rpc::config::Config {
        nodes: alloc::vec![peer(1), peer(2), peer(3)],
        ..Default::default()
    };
    let n = Node::with_config(Duration::ZERO, cfg, [3; 32]);
    // JS adds them last first: the first is the most recently added
    assert_eq!(n.to_array(), [peer(1), peer(2), peer(3)]);
    // randomOffset(100): in (50, 100]
    assert!((51..=100).contains(&n.tick()), "{}", n.tick());
    assert!(n.table().iter().all(|x| x.added == n.tick()));
    assert!(n.ephemeral() && n.firewalled() && n.adaptive() && !n.is_bootstrapped());
    assert_eq!(n.id(), None);
    // another seed, another start
    let m = Node::with_config(Duration::ZERO, Default::default(), [4; 32]);
    assert_ne!(m.table().id(), n.table().id());
}
