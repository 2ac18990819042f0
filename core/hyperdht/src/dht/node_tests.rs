//! Tests of the dispatch of incoming requests and of the router.

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{
    dht_commands as cmd, errors as codes, modes, node_id, Handshake, Holepunch, Ipv4Address,
    Packet, Request, Response,
};
use ferrocore_wire::{Decode, Encode};

use super::node_testnet::{Behaviour, Net};
use super::router::DEFAULT_MAX_AGE;
use super::*;

const T: [u8; 32] = [0x77; 32];

fn server_route() -> Route {
    Route {
        relay: None,
        record: Bytes::new(),
        server: true,
    }
}

fn relay_route(to: Ipv4Address) -> Route {
    Route {
        relay: Some(to),
        record: Bytes::new(),
        server: false,
    }
}

/// Node `c` sends `command` with `value` for [`T`] to node `to`.
fn send(net: &mut Net, c: usize, to: usize, command: u64, value: Vec<u8>) -> RequestId {
    let out = Outgoing {
        to: net.addrs[to],
        command,
        target: Some(T),
        value: Some(Bytes::from(value)),
        ..Outgoing::default()
    };
    let id = net.nodes[c].request(net.now, out);
    net.deliver();
    id
}

fn handshakes(net: &Net, i: usize) -> Vec<PeerHandshake> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            DhtEvent::PeerHandshake(h) => Some(h.clone()),
            _ => None,
        })
        .collect()
}

fn response(net: &Net, i: usize, id: RequestId) -> Option<Response> {
    net.events[i].iter().find_map(|e| match e {
        DhtEvent::Response { id: x, reply } if *x == id => Some(reply.response.clone()),
        _ => None,
    })
}

fn client_hello(relay_address: Option<Ipv4Address>) -> Vec<u8> {
    Handshake {
        mode: modes::FROM_CLIENT,
        noise: Bytes::from_static(b"hello"),
        peer_address: None,
        relay_address,
    }
    .to_vec()
}

/// The server node `s` answers every handshake it got with "world".
fn server_answers(net: &mut Net, s: usize) -> Vec<PeerHandshake> {
    let hs = handshakes(net, s);
    for h in &hs {
        net.nodes[s].reply_peer_handshake(h, Bytes::from_static(b"world"));
    }
    net.deliver();
    hs
}

fn reply_handshake(r: &Response) -> Handshake {
    Handshake::decode_from(r.value.as_deref().expect("a value")).expect("a handshake")
}

#[test]
fn handshakes_reach_a_server_directly_or_through_one_or_two_relays() {
    let mut net = Net::new(6, |_| Behaviour::Honest);
    let (c, r1, r2, s) = (1, 2, 3, 4);
    let now = net.now;
    net.nodes[s].router_mut().set(now, T, server_route());
    net.nodes[r2]
        .router_mut()
        .set(now, T, relay_route(net.addrs[s]));

    // directly: the server answers the client
    let id = send(&mut net, c, s, cmd::PEER_HANDSHAKE, client_hello(None));
    let hs = server_answers(&mut net, s);
    assert_eq!(hs.len(), 1);
    assert_eq!(
        (hs[0].handshake.mode, hs[0].target),
        (modes::FROM_CLIENT, T)
    );
    let hs = reply_handshake(&response(&net, c, id).expect("an answer"));
    assert_eq!(
        (hs.mode, &hs.noise[..], hs.peer_address),
        (modes::REPLY, &b"world"[..], None)
    );
    net.events[s].clear();

    // through the relay holding the route
    let id = send(&mut net, c, r2, cmd::PEER_HANDSHAKE, client_hello(None));
    let hs = server_answers(&mut net, s);
    assert_eq!(hs[0].handshake.mode, modes::FROM_RELAY);
    assert_eq!(hs[0].handshake.peer_address, Some(net.addrs[c]));
    assert_eq!(hs[0].req.from, net.addrs[r2]);
    let res = response(&net, c, id).expect("an answer");
    let hs = reply_handshake(&res);
    assert_eq!((hs.mode, &hs.noise[..]), (modes::REPLY, &b"world"[..]));
    assert_eq!(hs.peer_address, Some(net.addrs[s]));
    net.events[s].clear();

    // through a first relay that only knows the client's relay address, then the second
    let hello = client_hello(Some(net.addrs[r2]));
    let id = send(&mut net, c, r1, cmd::PEER_HANDSHAKE, hello);
    let hs = server_answers(&mut net, s);
    assert_eq!(hs[0].handshake.mode, modes::FROM_SECOND_RELAY);
    assert_eq!(hs[0].handshake.relay_address, Some(net.addrs[r1]));
    let hs = reply_handshake(&response(&net, c, id).expect("an answer"));
    assert_eq!(
        (hs.mode, hs.peer_address),
        (modes::REPLY, Some(net.addrs[s]))
    );
}

#[test]
fn unroutable_or_malformed_handshakes() {
    let mut net = Net::new(4, |_| Behaviour::Honest);
    // no route and no relay address: an empty answer with closer nodes
    let id = send(&mut net, 1, 2, cmd::PEER_HANDSHAKE, client_hello(None));
    let res = response(&net, 1, id).expect("an answer");
    assert_eq!((res.error, res.value.is_none()), (0, true));
    assert!(!res.closer_nodes.is_empty());
    // malformed, or without noise: dropped, never UNKNOWN_COMMAND
    let empty = Handshake {
        mode: modes::FROM_CLIENT,
        ..Handshake::default()
    };
    let now = net.now;
    net.nodes[3].router_mut().set(now, T, server_route());
    for to in [2, 3] {
        for v in [alloc::vec![0xff], empty.to_vec()] {
            let id = send(&mut net, 1, to, cmd::PEER_HANDSHAKE, v);
            assert_eq!(response(&net, 1, id), None);
        }
    }
    assert!(handshakes(&net, 3).is_empty(), "the server never sees them");
    // a server's empty answer is no answer
    let id = send(&mut net, 1, 3, cmd::PEER_HANDSHAKE, client_hello(None));
    let h = handshakes(&net, 3).pop().expect("delivered");
    net.nodes[3].reply_peer_handshake(&h, Bytes::new());
    net.deliver();
    assert_eq!(response(&net, 1, id), None);
}

#[test]
fn holepunches_go_through_the_relay_to_the_server_and_back() {
    let mut net = Net::new(5, |_| Behaviour::Honest);
    let (c, r, s) = (1, 2, 3);
    let now = net.now;
    net.nodes[s].router_mut().set(now, T, server_route());
    let punch = Holepunch {
        mode: modes::FROM_CLIENT,
        id: 9,
        payload: Bytes::from_static(b"sealed"),
        peer_address: Some(net.addrs[s]),
    };
    let id = send(&mut net, c, r, cmd::PEER_HOLEPUNCH, punch.to_vec());
    let got: Vec<PeerHolepunch> = net.events[s]
        .iter()
        .filter_map(|e| match e {
            DhtEvent::PeerHolepunch(h) => Some(h.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1);
    let hp = &got[0].holepunch;
    assert_eq!(
        (hp.mode, hp.id, &hp.payload[..]),
        (modes::FROM_RELAY, 9, &b"sealed"[..])
    );
    assert_eq!(hp.peer_address, Some(net.addrs[c]));
    net.nodes[s].reply_peer_holepunch(&got[0], Bytes::from_static(b"back"));
    net.deliver();
    let res = response(&net, c, id).expect("an answer");
    let hp = Holepunch::decode_from(res.value.as_deref().unwrap()).unwrap();
    assert_eq!((hp.mode, &hp.payload[..]), (modes::REPLY, &b"back"[..]));
    assert_eq!(hp.peer_address, Some(net.addrs[s]));
    // a relay's holepunch for a target nobody serves here is dropped
    let relayed = Holepunch {
        mode: modes::FROM_RELAY,
        peer_address: Some(net.addrs[c]),
        ..punch
    };
    let id = send(&mut net, c, r, cmd::PEER_HOLEPUNCH, relayed.to_vec());
    assert_eq!(response(&net, c, id), None);
}

/// A request for `command` to a lone node, answered how?
fn ask(d: &mut Dht, command: u64) -> Response {
    let from = Ipv4Address::new([10, 9, 9, 9], 999);
    let req = Packet::Request(Request {
        tid: 5,
        to: Ipv4Address::new([10, 0, 0, 1], 1),
        id: Some(node_id(&from)),
        command,
        target: Some(T),
        value: Some(Bytes::from_static(&[0])),
        ..Request::default()
    });
    d.handle_datagram(Duration::ZERO, Socket::Server, from, &req.to_vec());
    let t = d.poll_transmit().expect("an answer");
    match Packet::decode(&t.bytes) {
        Ok(Packet::Response(r)) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn record_commands_need_a_handler_and_a_persistent_node() {
    let node = || Node::new(Duration::ZERO, [1; 32], 1, [[2; 32], [3; 32]]);
    // no handler: UNKNOWN_COMMAND, as a JS node that is not persistent
    let mut d = Dht::new(node());
    let r = ask(&mut d, cmd::MUTABLE_GET);
    assert_eq!((r.error, r.token), (codes::UNKNOWN_COMMAND, None));
    assert!(!r.closer_nodes.is_empty(), "closer nodes go with it");
    // a handler on an ephemeral node: still refused
    let net = Net::new(1, |_| Behaviour::Honest);
    let mut d = Dht::new(node());
    let h = super::node_testnet::TestRecords {
        behaviour: Behaviour::Honest,
        store: net.stores[0].clone(),
    };
    d.set_record_handler(alloc::boxed::Box::new(h));
    assert_eq!(d.id(), None);
    assert_eq!(ask(&mut d, cmd::MUTABLE_GET).error, codes::UNKNOWN_COMMAND);
    // persistent: the handler answers (no record: an empty reply with a token)
    d.node_mut().io_mut().ephemeral = false;
    let r = ask(&mut d, cmd::MUTABLE_GET);
    assert_eq!((r.error, r.value, r.token.is_some()), (0, None, true));
    // commands beyond PLUGIN are unknown
    assert_eq!(ask(&mut d, cmd::PLUGIN + 1).error, codes::UNKNOWN_COMMAND);
}

#[test]
fn routes_age_out_unless_a_server_holds_them() {
    let mut r = Router::new();
    let t0 = Duration::from_secs(5);
    r.set(t0, [1; 32], relay_route(Ipv4Address::default()));
    r.set(t0, [2; 32], server_route());
    // a remote route never replaces a server's
    r.set(t0, [2; 32], relay_route(Ipv4Address::default()));
    assert!(r.get(&[2; 32]).is_some_and(|x| x.local));
    r.handle_timeout(t0 + DEFAULT_MAX_AGE / 2);
    assert_eq!(r.len(), 2);
    r.handle_timeout(t0 + DEFAULT_MAX_AGE * 2);
    assert!(r.get(&[1; 32]).is_none());
    assert!(r.get(&[2; 32]).is_some_and(|x| x.local));
    r.delete(&[2; 32]);
    assert!(r.is_empty());
}

/// xorshift64*: deterministic noise for the robustness test.
fn next(s: &mut u64) -> u64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    s.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn garbage_from_peers_never_panics_and_every_operation_still_ends() {
    use super::persistent::{Config, Persistent};
    let mut d = Dht::new(Node::new(Duration::ZERO, [9; 32], 500, [[1; 32], [2; 32]]));
    d.node_mut().io_mut().ephemeral = false;
    d.set_record_handler(alloc::boxed::Box::new(Persistent::new(
        Config::default(),
        Duration::ZERO,
        3,
    )));
    d.router_mut().set(Duration::ZERO, T, server_route());
    let peers: Vec<Ipv4Address> = (1..=8)
        .map(|i| Ipv4Address::new([10, 3, 0, i], 7000))
        .collect();
    d.node_mut().bootstrap = peers.clone();
    let k = super::node_testnet::key(4);
    let mut ops = Vec::new();
    let mut done = Vec::new();
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut now = Duration::ZERO;
    for round in 0..20_000u32 {
        if round % 2_000 == 0 {
            ops.push(d.lookup(now, T));
            ops.push(d.announce(now, T, &k, Vec::new()));
            ops.push(d.mutable_get(now, &[5; 32], 0, true));
            ops.push(d.immutable_get(now, T));
        }
        let from = peers[(next(&mut s) % 8) as usize];
        let r = next(&mut s);
        let value = match r % 5 {
            0 => Handshake {
                mode: r >> 8 & 7,
                noise: Bytes::from_static(b"n"),
                peer_address: (r & 1 << 20 != 0).then_some(from),
                relay_address: (r & 1 << 21 != 0).then_some(peers[0]),
            }
            .to_vec(),
            1 => Holepunch {
                mode: r >> 8 & 7,
                id: r >> 40,
                payload: Bytes::from_static(b"p"),
                peer_address: (r & 1 << 20 != 0).then_some(from),
            }
            .to_vec(),
            _ => (0..(r >> 8) % 80).map(|_| next(&mut s) as u8).collect(),
        };
        let tid = (500 + next(&mut s) % 200) as u16;
        let packet = if r & 1 << 30 != 0 {
            Packet::Request(Request {
                tid,
                to: Ipv4Address::new([10, 0, 0, 1], 1),
                id: Some(node_id(&from)),
                token: (r & 1 << 31 != 0).then_some([next(&mut s) as u8; 32]),
                command: next(&mut s) % 12,
                target: (r & 1 << 32 != 0).then_some(T),
                value: Some(Bytes::from(value)),
                ..Request::default()
            })
        } else {
            Packet::Response(Response {
                tid,
                to: Ipv4Address::new([10, 0, 0, 1], 1),
                id: Some(node_id(&from)),
                token: Some([7; 32]),
                closer_nodes: peers[..(r >> 33) as usize % 4].to_vec(),
                value: Some(Bytes::from(value)),
                ..Response::default()
            })
        };
        let mut bytes = packet.to_vec();
        // flip or cut now and then
        if r & 1 << 34 != 0 && !bytes.is_empty() {
            let i = (next(&mut s) as usize) % bytes.len();
            bytes[i] ^= next(&mut s) as u8;
        }
        if r & 1 << 35 != 0 {
            bytes.truncate((next(&mut s) as usize) % (bytes.len() + 1));
        }
        d.handle_datagram(now, Socket::Server, from, &bytes);
        while d.poll_transmit().is_some() {}
        while let Some(e) = d.poll_event() {
            if let DhtEvent::Done { op, .. } = e {
                done.push(op);
            }
        }
        now += Duration::from_millis(3);
        if d.poll_timeout().is_some_and(|t| t <= now) {
            d.handle_timeout(now);
        }
    }
    // whatever happened, every operation ends (by its deadline at the latest), once
    for _ in 0..200 {
        now += Duration::from_secs(1);
        d.handle_timeout(now);
        while d.poll_transmit().is_some() {}
        while let Some(e) = d.poll_event() {
            if let DhtEvent::Done { op, .. } = e {
                done.push(op);
            }
        }
    }
    let last: Vec<OpId> = ops.iter().rev().take(4).copied().collect();
    assert!(
        last.iter().all(|op| done.contains(op)),
        "the last operations ended"
    );
    assert!(d.router().len() < 100);
}
