use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use ed25519_dalek::{Signature, VerifyingKey};
use ferrocore_wire::dht::{dht_commands, Announce, Ipv4Address};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::Decode;

use super::*;

fn node(i: u8) -> ClosestReply {
    ClosestReply {
        from: Ipv4Address::new([10, 0, 0, i], 1000 + u16::from(i)),
        id: [i; 32],
        token: [100 + i; 32],
        to: Ipv4Address::new([1, 2, 3, 4], 5000),
    }
}

fn drain(a: &mut Announcer) -> Vec<AnnounceAction> {
    core::iter::from_fn(|| a.poll_action()).collect()
}

/// The request ids, destinations and commands of `actions`, checking signatures.
fn requests(
    a: &[AnnounceAction],
    key: &[u8; 32],
    nodes: &[ClosestReply],
) -> Vec<(AnnounceRequestId, Ipv4Address, u64)> {
    let vk = VerifyingKey::from_bytes(key).unwrap();
    let mut out = Vec::new();
    for act in a {
        match act {
            AnnounceAction::Request {
                id,
                to,
                token,
                command,
                target: t,
                value,
            } => {
                if let Some(v) = value {
                    let ann = Announce::decode_from(v).unwrap();
                    let n = nodes.iter().find(|n| n.from == *to).unwrap();
                    let ns = if *command == dht_commands::ANNOUNCE {
                        &NS_ANNOUNCE
                    } else {
                        &NS_UNANNOUNCE
                    };
                    let msg = announce_signable(
                        ns,
                        t,
                        &n.id,
                        &token.unwrap(),
                        ann.peer.as_ref().unwrap(),
                        None,
                    );
                    vk.verify_strict(&msg, &Signature::from_bytes(&ann.signature.unwrap()))
                        .unwrap();
                    assert_eq!(*t, target(key));
                }
                out.push((*id, *to, *command));
            }
            AnnounceAction::Ping { id, to } => out.push((*id, *to, u64::MAX)),
            _ => {}
        }
    }
    out
}

#[test]
fn announces_to_the_closest_three_and_keeps_them() {
    let kp = KeyPair::from_seed([3; 32]);
    let pk = kp.public_key;
    let ours = Ipv4Address::new([1, 2, 3, 4], 5000);
    let mut a = Announcer::new(kp, Some(ours));
    let t0 = Duration::from_secs(1);
    a.start(t0);
    assert!(
        matches!(drain(&mut a).as_slice(), [AnnounceAction::Query { nodes, .. }] if nodes.is_empty())
    );
    let nodes = [node(1), node(2), node(3), node(4)];
    a.handle_query_done(t0, &nodes, vec![node(1).from]);
    let reqs = requests(&drain(&mut a), &pk, &nodes);
    assert_eq!(
        reqs.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(),
        vec![
            (node(1).from, dht_commands::ANNOUNCE),
            (node(2).from, dht_commands::ANNOUNCE),
            (node(3).from, dht_commands::ANNOUNCE),
        ]
    );
    a.handle_response(t0, reqs[0].0, None, None, 0, false);
    a.handle_response(t0, reqs[1].0, None, None, 0, false);
    assert!(drain(&mut a).is_empty(), "waits for every commit");
    a.handle_response(t0, reqs[2].0, None, None, 1, false);
    let acts = drain(&mut a);
    assert_eq!(
        acts[0],
        AnnounceAction::Relays {
            relays: vec![
                RelayInfo {
                    relay_address: node(1).from,
                    peer_address: ours
                },
                RelayInfo {
                    relay_address: node(2).from,
                    peer_address: ours
                },
            ],
            relay_addresses: vec![ours, node(1).from, node(2).from],
        }
    );
    assert!(a.is_relay(&node(2).from) && !a.is_relay(&node(3).from));
    // A round of pings to both relays, then a 3 s pause.
    let pings = requests(&acts, &pk, &nodes);
    assert_eq!(
        pings.iter().map(|p| p.1).collect::<Vec<_>>(),
        vec![node(1).from, node(2).from]
    );
    let t1 = t0 + Duration::from_millis(50);
    for p in &pings {
        a.handle_response(t1, p.0, None, None, 0, false);
    }
    assert_eq!(a.poll_timeout(), Some(t1 + PING_INTERVAL));
    a.handle_timeout(t1 + Duration::from_secs(1));
    assert!(drain(&mut a).is_empty());
    let t2 = t1 + PING_INTERVAL;
    a.handle_timeout(t2);
    let pings = requests(&drain(&mut a), &pk, &nodes);
    assert_eq!(pings.len(), 2);
    // One relay lost: fewer than min(2, 3) answered, so the record is refreshed now.
    a.handle_response(t2, pings[0].0, None, None, 0, false);
    a.handle_failure(t2, pings[1].0);
    assert!(
        matches!(drain(&mut a).as_slice(), [AnnounceAction::Query { nodes, .. }] if nodes == &[node(1).from])
    );
    a.handle_query_done(t2, &nodes[..1], vec![]);
    let reqs = requests(&drain(&mut a), &pk, &nodes);
    a.handle_response(t2, reqs[0].0, None, None, 0, false);
    // Node 2 held the record last time but not now: unannounced after a token fetch.
    let acts = drain(&mut a);
    let reqs = requests(&acts, &pk, &nodes);
    assert_eq!(
        (reqs[0].1, reqs[0].2),
        (node(2).from, dht_commands::FIND_PEER)
    );
    a.handle_response(
        t2,
        reqs[0].0,
        Some(node(2).id),
        Some(node(2).token),
        0,
        true,
    );
    let un = requests(&drain(&mut a), &pk, &nodes);
    assert_eq!((un[0].1, un[0].2), (node(2).from, dht_commands::UNANNOUNCE));
    // Stopping unannounces the current relay.
    a.stop();
    let stop = requests(&drain(&mut a), &pk, &nodes);
    assert_eq!(
        (stop[0].1, stop[0].2),
        (node(1).from, dht_commands::FIND_PEER)
    );
    a.handle_response(t2, stop[0].0, None, Some(node(1).token), 0, true);
    assert!(
        drain(&mut a).is_empty(),
        "no node id: no unannounce (as the reference)"
    );
}

#[test]
fn without_relays_it_sleeps_and_updates_after_the_rounds() {
    let mut a = Announcer::new(KeyPair::from_seed([3; 32]), None);
    let mut now = Duration::ZERO;
    a.start(now);
    drain(&mut a);
    a.handle_query_done(now, &[], vec![]);
    let acts = drain(&mut a);
    assert_eq!(
        acts,
        vec![AnnounceAction::Relays {
            relays: vec![],
            relay_addresses: vec![]
        }]
    );
    let mut rounds = 0;
    while let Some(t) = a.poll_timeout() {
        assert_eq!(t, now + PING_INTERVAL);
        now = t;
        a.handle_timeout(now);
        rounds += 1;
        if !drain(&mut a).is_empty() {
            break;
        }
    }
    assert_eq!(
        rounds, PING_ROUNDS,
        "round 0 ran at once, 99 more, then the update"
    );
}
