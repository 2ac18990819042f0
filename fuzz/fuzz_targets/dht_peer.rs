//! The full HyperDHT node (a persistent [`PeerNode`] with the JS-equivalent record store)
//! fed arbitrary datagrams from a handful of peers on both sockets, well-formed fuzzed
//! requests of every HyperDHT command (with valid tokens, real Noise handshakes to its
//! servers, signed and forged announces), replies to its own requests, clock steps, and
//! listens, connects and operations started by the fuzzer: no panic, every datagram it
//! sends decodes, its tables, routes, handshakes and requests in flight stay within caps.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use ferrocore_hyperdht::dht::connect::ConnectConfig;
use ferrocore_hyperdht::dht::connect_node::PeerNode;
use ferrocore_hyperdht::dht::persistent::{Config, Persistent};
use ferrocore_hyperdht::dht::server::{ServerConfig, MAX_HANDSHAKES};
use ferrocore_hyperdht::dht::{handshake, Dht};
use ferrocore_hyperdht::rpc::io::Socket;
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::{
    announce_signable, node_id, signable::NS_ANNOUNCE, Announce, Ipv4Address, NoisePayload, Packet,
    Peer, Request, Response,
};
use ferrocore_wire::noise::{KeyPair, NoiseWrap};
use ferrocore_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

const ME: Ipv4Address = Ipv4Address {
    host: [10, 0, 0, 200],
    port: 4000,
};

fn peer(b: u8) -> Ipv4Address {
    Ipv4Address::new([10, 0, 0, b % 16], 1000 + u16::from(b % 4))
}

fn key_pair(b: u8) -> KeyPair {
    KeyPair::from_seed([b % 4 + 1; 32])
}

/// Takes `n` bytes (fewer at the end of the input).
fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(rest.len());
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    head
}

fn byte(rest: &mut &[u8]) -> u8 {
    take(rest, 1).first().copied().unwrap_or(0)
}

fn new_node() -> PeerNode {
    let mut node = Node::new(Duration::ZERO, node_id(&ME), 7, [[1; 32], [2; 32]]);
    node.io_mut().ephemeral = false;
    node.io_mut().firewalled = false;
    node.bootstrapped = true;
    node.bootstrap = vec![peer(1), peer(2)];
    let mut dht = Dht::new(node);
    dht.set_record_handler(Box::new(Persistent::new(
        Config::default(),
        Duration::ZERO,
        9,
    )));
    PeerNode::new(dht, [5; 32], 1)
}

/// The value of a well-formed request of HyperDHT command `cmd`.
fn value_for(cmd: u64, rest: &mut &[u8], target: &mut [u8; 32]) -> Option<Bytes> {
    let sel = byte(rest);
    match cmd {
        // a real Noise IK message to one of the fuzzer's server keys
        0 => {
            let server = key_pair(sel);
            *target = handshake::target(&server.public_key);
            let mut wrap = NoiseWrap::initiator(key_pair(sel >> 2), server.public_key, [sel; 32]);
            let payload = NoisePayload {
                version: 1,
                firewall: u64::from(sel >> 6),
                addresses4: vec![peer(sel)],
                ..NoisePayload::default()
            };
            let noise = wrap.send(&payload.to_vec()).ok()?;
            let mut hs = ferrocore_wire::dht::Handshake::decode_from(&handshake::client_request(
                Bytes::from(noise),
            ))
            .ok()?;
            hs.mode = u64::from(sel >> 5) % 5;
            hs.peer_address = (sel & 1 != 0).then(|| peer(sel >> 1));
            Some(Bytes::from(hs.to_vec()))
        }
        // an announce signed by one of four keys (for this target or another)
        4 | 5 => {
            let key = SigningKey::from_bytes(&[sel % 4 + 1; 32]);
            if sel & 4 != 0 {
                *target = ferrocore_wire::dht::mutable_target(&key.verifying_key().to_bytes());
            }
            let peer_record = Peer {
                public_key: key.verifying_key().to_bytes(),
                relay_addresses: (0..sel % 5).map(peer).collect(),
            };
            let token = [byte(rest); 32];
            let signable = announce_signable(
                &NS_ANNOUNCE,
                target,
                &node_id(&ME),
                &token,
                &peer_record,
                None,
            );
            let signature = (sel & 8 == 0).then(|| key.sign(&signable).to_bytes());
            let a = Announce {
                peer: Some(peer_record),
                refresh: (sel & 16 != 0).then_some([sel; 32]),
                signature,
                bump: u64::from(sel >> 5),
            };
            Some(Bytes::from(a.to_vec()))
        }
        _ => {
            let len = usize::from(sel & 0x3f);
            (sel & 0x40 == 0).then(|| Bytes::copy_from_slice(take(rest, len)))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut node = new_node();
    let mut now = Duration::ZERO;
    let mut sent: Vec<(Ipv4Address, u16)> = Vec::new();
    let mut listening: Vec<[u8; 32]> = Vec::new();
    let mut ops = 0usize;
    let mut rest = data;
    while !rest.is_empty() {
        let op = byte(&mut rest);
        ops += 1;
        let socket = if op & 0x80 != 0 {
            Socket::Server
        } else {
            Socket::Client
        };
        match op % 10 {
            0 => {
                let from = peer(byte(&mut rest));
                let len = usize::from(byte(&mut rest));
                let bytes = take(&mut rest, len);
                node.handle_datagram(now, socket, from, bytes);
            }
            1 | 2 => {
                let [f, c, flags] = [byte(&mut rest), byte(&mut rest), byte(&mut rest)];
                let from = peer(f);
                let command = u64::from(c % 12);
                let mut target = [byte(&mut rest); 32];
                let value = value_for(command, &mut rest, &mut target);
                let token = match flags & 3 {
                    0 => None,
                    1 => Some([flags; 32]),
                    // the token this node hands out to `from` (current or previous secret)
                    n => Some(
                        node.dht_mut()
                            .node_mut()
                            .io_mut()
                            .token(&from, usize::from(n - 2)),
                    ),
                };
                let q = Request {
                    tid: u16::from(c),
                    to: ME,
                    id: (flags & 4 != 0).then(|| node_id(&from)),
                    token,
                    internal: flags & 8 != 0,
                    command,
                    target: (flags & 16 == 0).then_some(target),
                    value,
                };
                node.handle_datagram(now, socket, from, &Packet::Request(q).to_vec());
            }
            // a reply to one of its own requests
            3 | 4 => {
                let [i, n, e] = [byte(&mut rest), byte(&mut rest), byte(&mut rest)];
                let Some(&(to, tid)) = sent.get(usize::from(i) % sent.len().max(1)) else {
                    continue;
                };
                let len = usize::from(n >> 3);
                let value = (n & 4 != 0).then(|| Bytes::copy_from_slice(take(&mut rest, len)));
                let r = Response {
                    tid,
                    to: ME,
                    id: (e & 1 != 0).then(|| node_id(&to)),
                    token: (e & 2 != 0).then_some([e; 32]),
                    closer_nodes: (0..n % 4).map(|k| peer(e.wrapping_add(k))).collect(),
                    error: u64::from(e >> 6),
                    value,
                };
                node.handle_datagram(now, socket, to, &Packet::Response(r).to_vec());
            }
            5 => {
                now += Duration::from_millis(u64::from(byte(&mut rest)) * 50);
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
            6 => {
                let kp = key_pair(byte(&mut rest));
                let pk = kp.public_key;
                if node.listen(now, kp, ServerConfig::default()).is_ok() {
                    listening.push(pk);
                } else {
                    node.unlisten(now, &pk);
                    listening.retain(|k| *k != pk);
                }
            }
            7 => {
                let b = byte(&mut rest);
                let config = ConnectConfig {
                    relay_addresses: (0..b % 3).map(peer).collect(),
                    ..ConnectConfig::default()
                };
                node.connect(now, key_pair(b >> 2), key_pair(b).public_key, config);
            }
            8 => {
                let b = byte(&mut rest);
                let t = [b; 32];
                let key = SigningKey::from_bytes(&[b % 4 + 1; 32]);
                let dht = node.dht_mut();
                match b % 8 {
                    0 => drop(dht.lookup(now, t)),
                    1 => drop(dht.announce(now, t, &key, vec![peer(b)])),
                    2 => drop(dht.unannounce(now, t, &key)),
                    3 => drop(dht.find_peer(now, &t)),
                    4 => drop(
                        dht.immutable_put(now, Bytes::copy_from_slice(&t[..usize::from(b % 32)])),
                    ),
                    5 => drop(dht.immutable_get(now, t)),
                    6 => drop(dht.mutable_put(now, &key, u64::from(b), Bytes::from_static(b"v"))),
                    _ => drop(dht.mutable_get(now, &key.verifying_key().to_bytes(), 0, b & 1 != 0)),
                }
            }
            _ => {
                let [s, f] = [byte(&mut rest), byte(&mut rest)];
                node.handle_stream_packet(now, u32::from(s % 8), peer(f));
            }
        }
        while let Some(t) = node.poll_transmit() {
            match Packet::decode(&t.bytes) {
                Ok(Packet::Request(q)) => {
                    if sent.len() < 64 {
                        sent.push((t.to, q.tid));
                    } else {
                        sent[usize::from(q.tid) % 64] = (t.to, q.tid);
                    }
                }
                Ok(Packet::Response(_)) => {}
                Err(e) => panic!("we sent an undecodable datagram: {e}"),
            }
        }
        while node.poll_event().is_some() {}
        let dht = node.dht();
        assert!(dht.node().table().len() <= 256 * 20);
        assert!(
            dht.node().io().inflight() <= 64 * ops + 1,
            "requests in flight grow with ops only"
        );
        assert!(dht.router().len() <= ops, "routes grow with ops only");
        for pk in &listening {
            let s = node.server_mut(pk).expect("listening");
            assert!(s.handshakes() <= MAX_HANDSHAKES.min(ops));
        }
    }
});
