//! Hostile peers against the dht-rpc layer and connects: hosts claiming ids that are not
//! theirs stay out of the routing table, fake closer nodes neither enter it nor capture a
//! query, request floods are answered one for one without state growing, our own request
//! floods respect the congestion window, and a relay lying in its PEER_HANDSHAKE reply makes
//! the connect fail with a typed error.

mod hostile;

use std::time::Duration;

use bytes::Bytes;
use ferrocore_hyperdht::dht::connect::ConnectConfig;
use ferrocore_hyperdht::dht::connect_node::{PeerEvent, PeerNode};
use ferrocore_hyperdht::dht::handshake::ConnectError;
use ferrocore_hyperdht::dht::{Dht, DhtEvent, OpOutput};
use ferrocore_hyperdht::rpc::io::{Outgoing, Socket, DRAIN_INTERVAL, MAX_WINDOW};
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::{
    commands, dht_commands, modes, node_id, Handshake, Ipv4Address, NoisePayload, Packet, Peer,
    Request, Response,
};
use ferrocore_wire::noise::{KeyPair, NoiseWrap};
use ferrocore_wire::Encode;
use hostile::{addr, Victim, VICTIM};

fn ping(tid: u16, id: Option<[u8; 32]>, command: u64) -> Vec<u8> {
    let req = Request {
        tid,
        to: VICTIM,
        id,
        token: None,
        internal: true,
        command,
        target: (command == commands::FIND_NODE).then_some([tid as u8; 32]),
        value: None,
    };
    Packet::Request(req).to_vec()
}

#[test]
fn ids_that_do_not_hash_from_the_sender_address_stay_out_of_the_table() {
    let mut v = Victim::new(0);
    // one host claiming 500 ids, none BLAKE2b(host:port)
    for i in 0..500u16 {
        let mut id = [0u8; 32];
        id[..2].copy_from_slice(&i.to_le_bytes());
        let replies = v.feed(addr(1), &ping(i, Some(id), commands::PING));
        assert_eq!(replies.len(), 1, "still answered");
    }
    assert_eq!(v.dht.node().table().len(), 0, "no unverified id admitted");
    // its one real id is admitted, once
    for i in 0..10 {
        v.feed(addr(1), &ping(i, Some(node_id(&addr(1))), commands::PING));
    }
    assert_eq!(v.dht.node().table().len(), 1);
    let all = v
        .dht
        .node()
        .table()
        .iter()
        .all(|n| n.id == node_id(&n.addr));
    assert!(all, "every table entry is verified");
}

#[test]
fn a_host_with_many_ports_fills_each_bucket_to_k_at_most() {
    let mut v = Victim::new(0);
    let host = [10, 9, 3, 3];
    // 3,000 ports of one host, each with its own verified id (JS admits each: ids are
    // per address); the table keeps at most K per bucket, the rest is not held anywhere
    for port in 1..=3_000u16 {
        let from = Ipv4Address::new(host, port);
        v.feed(from, &ping(port, Some(node_id(&from)), commands::PING));
    }
    let table = v.dht.node().table();
    let k = ferrocore_hyperdht::rpc::table::K;
    assert!((0..256).all(|i| table.row(i).len() <= k));
    assert!(table.len() < 3_000 && table.len() >= k, "{}", table.len());
    assert!(table.iter().all(|n| n.id == node_id(&n.addr)));
    // a full row re-pings its oldest node at most 3 at a time (dht-rpc `_onfullrow`)
    assert!(v.dht.node().io().inflight() <= 3);
}

#[test]
fn a_request_flood_from_one_address_is_answered_one_for_one_without_growing_state() {
    let mut v = Victim::new(0);
    let flood = addr(7);
    let mut replies = 0;
    for i in 0..20_000u32 {
        let cmd = [commands::PING, commands::FIND_NODE, commands::PING_NAT][i as usize % 3];
        let out = v.feed(flood, &ping(i as u16, Some(node_id(&flood)), cmd));
        if cmd == commands::PING_NAT {
            // without the port to answer to it is dropped, as JS does
            assert!(out.is_empty(), "{out:?}");
        }
        for (to, p) in &out {
            assert_eq!(*to, flood);
            let Packet::Response(r) = p else {
                panic!("the victim sent a request of its own: {p:?}")
            };
            assert!(r.closer_nodes.len() <= 20);
        }
        replies += out.len();
        assert_eq!(v.dht.node().io().inflight(), 0);
        assert!(v.dht.node().table().len() <= 1);
    }
    assert_eq!(
        replies, 13_334,
        "one reply per PING/FIND_NODE, no amplification"
    );
    assert!(
        v.events.len() <= 2,
        "no event per request: {}",
        v.events.len()
    );
}

#[test]
fn our_own_request_flood_respects_the_congestion_window() {
    let mut v = Victim::new(0);
    for i in 0..1_000u16 {
        let out = Outgoing {
            to: addr(i),
            internal: true,
            command: commands::PING,
            ..Outgoing::default()
        };
        v.dht.request(v.now, out);
    }
    let first = v.drain().len();
    assert!(first <= MAX_WINDOW as usize, "{first} sent at once");
    assert!(first > 0);
    let later = v.advance(DRAIN_INTERVAL).len();
    assert!(
        later <= 2 * MAX_WINDOW as usize,
        "{later} sent in a drain interval"
    );
}

#[test]
fn fake_closer_nodes_do_not_enter_the_table_or_capture_a_query() {
    let mut v = Victim::new(0);
    let (liar, honest) = (addr(1), addr(2));
    v.dht.node_mut().bootstrap = vec![liar, honest];
    let target = [0x5a; 32];
    // fake nodes "closer" than anyone: addresses nobody answers from
    let fakes: Vec<Ipv4Address> = (0..20)
        .map(|i| Ipv4Address::new([192, 0, 2, i], 9))
        .collect();
    let op = v.dht.find_node(v.now, target);
    let mut to_fakes = 0;
    let mut done = None;
    let mut out = v.drain();
    for _ in 0..600 {
        for (to, p) in std::mem::take(&mut out) {
            let Packet::Request(q) = p else { continue };
            if to == liar || to == honest {
                let r = Response {
                    tid: q.tid,
                    to: VICTIM,
                    id: Some(node_id(&to)),
                    closer_nodes: if to == liar { fakes.clone() } else { vec![] },
                    ..Response::default()
                };
                out.extend(v.feed(to, &Packet::Response(r).to_vec()));
            } else {
                assert!(fakes.contains(&to), "asks only nodes it heard of: {to:?}");
                to_fakes += 1;
            }
        }
        if let Some(r) = v.events.iter().find_map(|e| match e {
            DhtEvent::Done { op: o, result } if *o == op => Some(result.clone()),
            _ => None,
        }) {
            done = Some(r);
            break;
        }
        out.extend(v.advance(Duration::from_millis(100)));
    }
    let result = done.expect("the query ends despite the fake nodes");
    let Ok(OpOutput::Closest(closest)) = result else {
        panic!("{result:?}")
    };
    let addrs: Vec<Ipv4Address> = closest.iter().map(|n| n.addr).collect();
    assert!(
        addrs.contains(&honest) && addrs.contains(&liar),
        "{addrs:?}"
    );
    assert!(
        addrs.iter().all(|a| !fakes.contains(a)),
        "no fake node among the closest"
    );
    let table = v.dht.node().table();
    assert!(
        table.iter().all(|n| !fakes.contains(&n.addr)),
        "no fake node in the table"
    );
    assert!(table.contains(&node_id(&honest)));
    // each fake was tried with a query's retries at most (1 + 5 sends, dht-rpc query.js)
    assert!(
        to_fakes <= fakes.len() * 6,
        "{to_fakes} requests to fake nodes"
    );
}

/// A client connecting to `server` whose only contact is a lying `relay`: given as the
/// relay address (`preconnect`) or found by the FIND_PEER query (the relay claims to hold
/// the record). The relay answers its PEER_HANDSHAKE with `value`.
fn connect_through_liar(value: Option<Bytes>, preconnect: bool) -> ConnectError {
    const ME: Ipv4Address = Ipv4Address {
        host: [10, 9, 9, 9],
        port: 7000,
    };
    let relay = addr(3);
    let mut node = Node::new(Duration::ZERO, node_id(&ME), 1, [[5; 32], [6; 32]]);
    node.bootstrapped = true;
    if !preconnect {
        node.bootstrap = vec![relay];
    }
    let mut peer = PeerNode::new(Dht::new(node), [8; 32], 1);
    let server = KeyPair::from_seed([9; 32]);
    let record = Peer {
        public_key: server.public_key,
        relay_addresses: vec![],
    }
    .to_vec();
    let config = ConnectConfig {
        relay_addresses: if preconnect { vec![relay] } else { vec![] },
        ..ConnectConfig::default()
    };
    let id = peer.connect(
        Duration::ZERO,
        KeyPair::from_seed([1; 32]),
        server.public_key,
        config,
    );
    let mut now = Duration::ZERO;
    for _ in 0..400 {
        while let Some(t) = peer.poll_transmit() {
            let Ok(Packet::Request(q)) = Packet::decode(&t.bytes) else {
                continue;
            };
            if t.to == relay {
                let value = match (q.internal, q.command) {
                    (false, dht_commands::PEER_HANDSHAKE) => value.clone(),
                    (false, dht_commands::FIND_PEER) => Some(Bytes::from(record.clone())),
                    _ => None,
                };
                let r = Response {
                    tid: q.tid,
                    to: ME,
                    id: Some(node_id(&relay)),
                    token: Some([1; 32]),
                    value,
                    ..Response::default()
                };
                peer.handle_datagram(now, Socket::Client, relay, &Packet::Response(r).to_vec());
            }
        }
        while let Some(ev) = peer.poll_event() {
            match ev {
                PeerEvent::ConnectFailed(c, e) if c == id => return e,
                PeerEvent::Connected(..) => panic!("connected through a lying relay"),
                _ => {}
            }
        }
        now += Duration::from_millis(100);
        peer.handle_timeout(now);
    }
    panic!("the connect never ended");
}

fn reply(noise: Bytes) -> Bytes {
    let hs = Handshake {
        mode: modes::REPLY,
        noise,
        peer_address: None,
        relay_address: None,
    };
    Bytes::from(hs.to_vec())
}

#[test]
fn a_relay_lying_in_peer_handshake_fails_the_connect_with_a_typed_error() {
    // garbage where the server's Noise message belongs
    let garbage = Some(reply(Bytes::from(vec![0xab; 96])));
    // a real Noise reply, from a server with another key
    let mut other_client = NoiseWrap::initiator(
        KeyPair::from_seed([2; 32]),
        KeyPair::from_seed([4; 32]).public_key,
        [3; 32],
    );
    let mut wrong = NoiseWrap::responder(KeyPair::from_seed([4; 32]), [5; 32]);
    let msg = other_client
        .send(&NoisePayload::default().to_vec())
        .unwrap();
    wrong.recv(&msg).unwrap();
    let payload = NoisePayload {
        version: 1,
        ..NoisePayload::default()
    };
    let wrong_key = Some(reply(Bytes::from(wrong.send(&payload.to_vec()).unwrap())));
    // not a handshake at all, and no value
    let junk = Some(Bytes::from_static(&[0xff, 0xff, 0xff]));
    for lie in [garbage, wrong_key, junk, None] {
        // the liar was found holding the record: the attempt counts (JS `attempts++`)
        let e = connect_through_liar(lie.clone(), false);
        assert_eq!(e, ConnectError::PeerConnectionFailed, "{e}");
        assert_eq!(e.code(), "PEER_CONNECTION_FAILED");
        // a lying relay address alone is no attempt in JS either: PEER_NOT_FOUND
        let e = connect_through_liar(lie, true);
        assert_eq!(e, ConnectError::PeerNotFound, "{e}");
        assert_eq!(e.code(), "PEER_NOT_FOUND");
    }
}
