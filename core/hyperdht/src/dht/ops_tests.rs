//! Tests of the client operations.
use super::*;
use ferrocore_wire::dht::MutableGetResponse;

#[test]
fn closest_keeps_k_nodes_sorted_by_distance() {
    let target = [0u8; 32];
    let mut list = Vec::new();
    for i in (0..30u8).rev() {
        let mut id = [0u8; 32];
        id[0] = i;
        let addr = Ipv4Address::new([10, 0, 0, i], 1);
        push_closest(&mut list, &target, NodeRef { addr, id });
        push_closest(&mut list, &target, NodeRef { addr, id }); // duplicates ignored
    }
    assert_eq!(list.len(), K);
    let firsts: Vec<u8> = list.iter().map(|n| n.id[0]).collect();
    assert_eq!(firsts, (0..20u8).collect::<Vec<_>>());
}

use super::super::node_testnet::{addr, key, Behaviour, Net};
use ferrocore_wire::dht::errors as codes;

const TOPIC: [u8; 32] = [0x5a; 32];

fn honest(_: usize) -> Behaviour {
    Behaviour::Honest
}

fn committed(r: Result<OpOutput, DhtError>) -> (Vec<NodeRef>, Vec<CommitReply>) {
    match r {
        Ok(OpOutput::Committed { closest, commits }) => (closest, commits),
        other => panic!("expected a committed op, got {other:?}"),
    }
}

#[test]
fn announce_then_lookup_finds_the_peer_with_its_relays() {
    let mut net = Net::new(30, honest);
    let k = key(1);
    let relays = alloc::vec![addr(3), addr(4)];
    let op = net.nodes[5].announce(net.now, TOPIC, &k, relays.clone());
    let (closest, commits) = committed(net.wait(5, op));
    assert!(closest.len() >= 10 && commits.len() == closest.len());
    assert!(commits.iter().all(|c| c.error == 0));
    // the announce's own lookup saw nobody yet
    assert!(net.lookups(5, op).is_empty());

    let op = net.nodes[17].lookup(net.now, TOPIC);
    assert!(matches!(net.wait(17, op), Ok(OpOutput::Closest(ref c)) if !c.is_empty()));
    let found = net.lookups(17, op);
    assert!(found.len() >= 10, "{} nodes listed the peer", found.len());
    for r in &found {
        assert_eq!(r.peers.len(), 1);
        assert_eq!(r.peers[0].public_key, k.verifying_key().to_bytes());
        assert_eq!(r.peers[0].relay_addresses, relays);
        assert!(r.replier.token.is_some());
    }

    // unannounce removes it everywhere it was stored
    let op = net.nodes[5].unannounce(net.now, TOPIC, &k);
    assert!(matches!(net.wait(5, op), Ok(OpOutput::Closest(_))));
    assert!(!net.lookups(5, op).is_empty());
    let op = net.nodes[17].lookup(net.now, TOPIC);
    net.wait(17, op).expect("lookup");
    assert!(net.lookups(17, op).is_empty());
    assert!(net.stores.iter().all(|s| s
        .lock()
        .unwrap()
        .records
        .get(&TOPIC)
        .is_none_or(|l| l.is_empty())));
}

#[test]
fn announcing_under_ones_own_key_makes_a_route_find_peer_finds() {
    let mut net = Net::new(25, honest);
    let k = key(2);
    let pk = k.verifying_key().to_bytes();
    let target = mutable_target(&pk);
    let op = net.nodes[3].announce(net.now, target, &k, alloc::vec![addr(9)]);
    committed(net.wait(3, op));
    let routes = net
        .nodes
        .iter()
        .filter(|d| d.router().get(&target).is_some());
    assert!(routes.count() >= 10);

    let op = net.nodes[20].find_peer(net.now, &pk);
    net.wait(20, op).expect("find_peer");
    let replies: Vec<&FindPeerReply> = net.events[20]
        .iter()
        .filter_map(|e| match e {
            DhtEvent::FindPeer { op: o, reply } if *o == op => Some(reply),
            _ => None,
        })
        .collect();
    assert!(replies.len() >= 10);
    assert!(replies
        .iter()
        .all(|r| r.peer.public_key == pk && r.peer.relay_addresses == [addr(9)]));
    // the route relays through the announcer
    let holder = net
        .addrs
        .iter()
        .position(|a| *a == replies[0].replier.from)
        .unwrap();
    assert_eq!(
        net.nodes[holder].router().get(&target).unwrap().relay,
        Some(addr(3))
    );
}

#[test]
fn immutable_round_trip_and_forged_values_are_ignored() {
    // nodes 20..30 answer gets with values that do not hash to the target
    let mut net = Net::new(30, |i| {
        if i >= 20 {
            Behaviour::Forger
        } else {
            Behaviour::Honest
        }
    });
    let value = Bytes::from_static(b"hello immutable world");
    let (op, hash) = net.nodes[1].immutable_put(net.now, value.clone());
    assert_eq!(hash, immutable_target(&value));
    let (_, commits) = committed(net.wait(1, op));
    assert!(commits.iter().filter(|c| c.error == 0).count() >= 5);

    let op = net.nodes[12].immutable_get(net.now, hash);
    match net.wait(12, op) {
        Ok(OpOutput::Immutable(Some(v))) => assert_eq!(v.value, value),
        other => panic!("{other:?}"),
    }
    // nothing stored under another target: only forged answers, all ignored
    let op = net.nodes[12].immutable_get(net.now, [0xee; 32]);
    assert_eq!(net.wait(12, op), Ok(OpOutput::Immutable(None)));
}

#[test]
fn mutable_round_trip_seq_rules_and_forged_records() {
    let mut net = Net::new(30, |i| match i {
        25.. => Behaviour::Forger,
        15..25 => Behaviour::IgnoresSeq,
        _ => Behaviour::Honest,
    });
    let k = key(3);
    let pk = k.verifying_key().to_bytes();
    let (op, sig) = net.nodes[2].mutable_put(net.now, &k, 2, Bytes::from_static(b"v2"));
    let (_, commits) = committed(net.wait(2, op));
    assert!(commits.iter().filter(|c| c.error == 0).count() >= 5);

    // the forgers' seq 1000 records have bad signatures: the valid seq 2 wins
    let op = net.nodes[9].mutable_get(net.now, &pk, 0, true);
    match net.wait(9, op) {
        Ok(OpOutput::Mutable(Some(m))) => {
            assert_eq!((m.seq, &m.value[..], m.signature), (2, &b"v2"[..], sig));
        }
        other => panic!("{other:?}"),
    }
    // asking for a higher seq finds nothing (the lower records some nodes send are ignored)
    let op = net.nodes[9].mutable_get(net.now, &pk, 3, true);
    assert_eq!(net.wait(9, op), Ok(OpOutput::Mutable(None)));

    // same seq, other value: SEQ_REUSED; lower seq: SEQ_TOO_LOW (JS resolves either way)
    let (op, _) = net.nodes[2].mutable_put(net.now, &k, 2, Bytes::from_static(b"other"));
    let (_, commits) = committed(net.wait(2, op));
    assert!(commits.iter().any(|c| c.error == codes::SEQ_REUSED));
    assert!(commits.iter().all(|c| c.error != 0));
    let (op, _) = net.nodes[2].mutable_put(net.now, &k, 1, Bytes::from_static(b"v1"));
    let (_, commits) = committed(net.wait(2, op));
    assert!(commits.iter().any(|c| c.error == codes::SEQ_TOO_LOW));
    assert!(commits.iter().all(|c| c.error != 0));

    // latest wins: one node holds a newer valid record
    let (op, _) = net.nodes[2].mutable_put(net.now, &k, 7, Bytes::from_static(b"v7"));
    committed(net.wait(2, op));
    let holder = net
        .stores
        .iter()
        .position(|s| {
            s.lock()
                .unwrap()
                .mutables
                .contains_key(&mutable_target(&pk))
        })
        .unwrap();
    let newer = {
        let value = Bytes::from_static(b"v9");
        let signature = k.sign(&mutable_signable(9, &value)).to_bytes();
        MutableGetResponse {
            seq: 9,
            value,
            signature,
        }
    };
    net.stores[holder]
        .lock()
        .unwrap()
        .mutables
        .insert(mutable_target(&pk), newer);
    let op = net.nodes[11].mutable_get(net.now, &pk, 0, true);
    assert!(matches!(net.wait(11, op), Ok(OpOutput::Mutable(Some(ref m))) if m.seq == 9));
    // without `latest` the first valid record ends the get
    let op = net.nodes[11].mutable_get(net.now, &pk, 0, false);
    assert!(
        matches!(net.wait(11, op), Ok(OpOutput::Mutable(Some(ref m))) if m.seq == 7 || m.seq == 9)
    );
}

#[test]
fn commits_nobody_answers_time_out_with_request_timeout() {
    let mut net = Net::new(20, |_| Behaviour::Silent(cmd::ANNOUNCE));
    let op = net.nodes[4].announce(net.now, TOPIC, &key(4), Vec::new());
    let start = net.now;
    assert_eq!(net.wait(4, op), Err(DhtError::RequestTimeout));
    assert_eq!(net.wait(4, op).unwrap_err().code(), "REQUEST_TIMEOUT");
    // the commit requests were resent before giving up (4 sends, 1 s apart)
    assert!(net.now - start >= Duration::from_secs(4));
}

#[test]
fn a_node_alone_has_too_few_nodes_to_commit_to() {
    let mut net = Net::new(3, honest);
    net.dead.insert(addr(1));
    net.dead.insert(addr(2));
    // node 1 can reach nobody
    let op = net.nodes[1].announce(net.now, TOPIC, &key(5), Vec::new());
    assert_eq!(net.wait(1, op), Err(DhtError::TooFewNodes));
    let (op, _) = net.nodes[1].immutable_put(net.now, Bytes::from_static(b"x"));
    assert_eq!(net.wait(1, op), Err(DhtError::TooFewNodes));
    // a lookup just ends empty
    let op = net.nodes[1].lookup(net.now, TOPIC);
    assert_eq!(net.wait(1, op), Ok(OpOutput::Closest(Vec::new())));
}

#[test]
fn deadline_and_destroy_end_operations_with_their_codes() {
    let mut net = Net::new(3, honest);
    net.dead.insert(addr(2));
    net.nodes[2].op_timeout = Duration::from_millis(1500);
    let op = net.nodes[2].lookup(net.now, TOPIC);
    let start = net.now;
    let r = net.wait(2, op);
    assert_eq!(r, Err(DhtError::OperationTimeout));
    assert_eq!(net.now - start, Duration::from_millis(1500));

    let opts = OpOptions {
        timeout: Some(Duration::from_millis(700)),
        ..OpOptions::default()
    };
    let op = net.nodes[2].lookup_with(net.now, TOPIC, &opts);
    let start = net.now;
    assert_eq!(net.wait(2, op), Err(DhtError::OperationTimeout));
    assert_eq!(net.now - start, Duration::from_millis(700));

    let op = net.nodes[2].lookup(net.now, TOPIC);
    net.nodes[2].destroy();
    net.deliver();
    assert_eq!(net.done(2, op), Some(Err(DhtError::NodeDestroyed)));
    assert_eq!(net.nodes[2].poll_timeout(), None);
    let later = net.nodes[2].find_node(net.now, TOPIC);
    net.deliver();
    assert_eq!(
        net.done(2, later).unwrap().unwrap_err().code(),
        "NODE_DESTROYED"
    );
}

#[test]
fn js_persistent_nodes_serve_every_operation() {
    let mut net = Net::new(25, |_| Behaviour::Js);
    let k = key(6);
    let pk = k.verifying_key().to_bytes();
    // announce, lookup, unannounce
    let op = net.nodes[2].announce(net.now, TOPIC, &k, alloc::vec![addr(7)]);
    committed(net.wait(2, op));
    let op = net.nodes[11].lookup(net.now, TOPIC);
    net.wait(11, op).expect("lookup");
    let found = net.lookups(11, op);
    assert!(found.len() >= 10);
    assert!(found
        .iter()
        .all(|r| r.peers.len() == 1 && r.peers[0].public_key == pk));
    let op = net.nodes[2].unannounce(net.now, TOPIC, &k);
    net.wait(2, op).expect("unannounce");
    let op = net.nodes[11].lookup(net.now, TOPIC);
    net.wait(11, op).expect("lookup");
    assert!(net.lookups(11, op).is_empty());
    // under one's own key: FIND_PEER answers from the forwards
    let op = net.nodes[2].announce(net.now, mutable_target(&pk), &k, Vec::new());
    committed(net.wait(2, op));
    let op = net.nodes[20].find_peer(net.now, &pk);
    net.wait(20, op).expect("find_peer");
    let n = net.events[20]
        .iter()
        .filter(|e| matches!(e, DhtEvent::FindPeer { op: o, reply } if *o == op && reply.peer.public_key == pk))
        .count();
    assert!(n >= 10, "{n} nodes know the peer");
    // immutable and mutable records, and the seq rules' codes
    let (op, hash) = net.nodes[4].immutable_put(net.now, Bytes::from_static(b"imm"));
    committed(net.wait(4, op));
    let op = net.nodes[19].immutable_get(net.now, hash);
    assert!(matches!(net.wait(19, op), Ok(OpOutput::Immutable(Some(ref v))) if v.value == "imm"));
    let (op, _) = net.nodes[4].mutable_put(net.now, &k, 5, Bytes::from_static(b"m5"));
    committed(net.wait(4, op));
    let op = net.nodes[19].mutable_get(net.now, &pk, 0, true);
    assert!(matches!(net.wait(19, op), Ok(OpOutput::Mutable(Some(ref m))) if m.seq == 5));
    let (op, _) = net.nodes[4].mutable_put(net.now, &k, 4, Bytes::from_static(b"m4"));
    let (_, commits) = committed(net.wait(4, op));
    assert!(!commits.is_empty());
    assert!(commits.iter().all(|c| c.error == codes::SEQ_TOO_LOW));
    let (op, _) = net.nodes[4].mutable_put(net.now, &k, 5, Bytes::from_static(b"other"));
    let (_, commits) = committed(net.wait(4, op));
    assert!(commits.iter().all(|c| c.error == codes::SEQ_REUSED));
}

#[test]
fn announce_with_clear_waits_for_its_unannounces_and_bump_is_sent() {
    // nodes that never answer UNANNOUNCE: the announces wait until those time out
    let mut net = Net::new(20, |_| Behaviour::Silent(cmd::UNANNOUNCE));
    let k = key(7);
    let op = net.nodes[3].announce(net.now, TOPIC, &k, alloc::vec![addr(1)]);
    committed(net.wait(3, op));
    let start = net.now;
    let opts = OpOptions {
        clear: true,
        ..OpOptions::default()
    };
    let op = net.nodes[3].announce_with(net.now, TOPIC, &k, alloc::vec![addr(2)], &opts);
    let (_, commits) = committed(net.wait(3, op));
    assert!(!commits.is_empty() && commits.iter().all(|c| c.error == 0));
    // the announces reached the nodes only once the unannounces had timed out
    let late = start + Duration::from_secs(4);
    let at: Vec<Option<Duration>> = net
        .stores
        .iter()
        .map(|s| s.lock().unwrap().announced_at)
        .collect();
    assert!(
        at.iter().all(|t| t.is_none_or(|t| t < start || t >= late)),
        "{at:?}"
    );
    assert!(at.iter().any(|t| t.is_some_and(|t| t >= late)), "{at:?}");
    let op = net.nodes[9].lookup(net.now, TOPIC);
    net.wait(9, op).expect("lookup");
    let found = net.lookups(9, op);
    assert!(found
        .iter()
        .all(|r| r.peers.len() == 1 && r.peers[0].relay_addresses == [addr(2)]));

    // JS nodes keep the bump an announce carries and return it with lookups
    let mut net = Net::new(20, |_| Behaviour::Js);
    let opts = OpOptions {
        bump: 5,
        ..OpOptions::default()
    };
    let op = net.nodes[3].announce_with(net.now, TOPIC, &k, Vec::new(), &opts);
    committed(net.wait(3, op));
    let op = net.nodes[9].lookup(net.now, TOPIC);
    net.wait(9, op).expect("lookup");
    let found = net.lookups(9, op);
    assert!(!found.is_empty() && found.iter().all(|r| r.bump == 5));
}

#[test]
fn seeded_operations_start_from_the_given_nodes() {
    let mut net = Net::new(20, honest);
    let k = key(8);
    let op = net.nodes[2].announce(net.now, TOPIC, &k, Vec::new());
    let (closest, _) = committed(net.wait(2, op));
    // node 5 forgets every node and its bootstrap list: alone, it finds nothing
    let d = net.nodes[5].node_mut();
    d.bootstrap.clear();
    let ids: Vec<[u8; 32]> = d.table().iter().map(|n| n.id).collect();
    for id in &ids {
        d.io_mut().table_mut().remove(id);
    }
    let op = net.nodes[5].lookup(net.now, TOPIC);
    assert_eq!(net.wait(5, op), Ok(OpOutput::Closest(Vec::new())));
    // seeded with the announce's closest nodes it finds the record
    let opts = OpOptions {
        nodes: closest.into_iter().map(Into::into).collect(),
        timeout: Some(Duration::from_secs(30)),
        ..OpOptions::default()
    };
    let op = net.nodes[5].lookup_with(net.now, TOPIC, &opts);
    net.wait(5, op).expect("seeded lookup");
    assert!(net.lookups(5, op).len() >= 5);
}
