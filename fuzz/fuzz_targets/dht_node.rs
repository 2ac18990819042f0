//! A dht-rpc node fed arbitrary datagrams (raw, and well-formed requests and replies with
//! fuzzed fields) from a handful of peers on both sockets, with clock steps, requests and
//! queries of its own (all commit modes, awaited commits answered): no panic, every
//! datagram it sends decodes, its state stays bounded. The first byte picks a hand-made
//! bootstrapped node or a configured one that bootstraps (NAT sampling, firewall checks).
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use ferrocore_hyperdht::rpc::config::Config;
use ferrocore_hyperdht::rpc::io::{Outgoing, Socket};
use ferrocore_hyperdht::rpc::node::{CommitMode, Node, NodeEvent, QueryRequest};
use ferrocore_hyperdht::rpc::query::QueryConfig;
use ferrocore_wire::dht::{node_id, Ipv4Address, Packet, Request, Response};
use ferrocore_wire::Encode;
use libfuzzer_sys::fuzz_target;

fn peer(b: u8) -> Ipv4Address {
    Ipv4Address::new([10, 0, 0, b % 16], 1000 + u16::from(b % 4))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mut node = if mode & 1 == 0 {
        let mut node = Node::new(Duration::ZERO, [0x42; 32], 7, [[1; 32], [2; 32]]);
        node.bootstrapped = true;
        node.bootstrap = vec![peer(1), peer(2)];
        node
    } else {
        let cfg = Config {
            bootstrap: vec![peer(1), peer(2)],
            ephemeral: [None, Some(false), Some(true)][usize::from(mode >> 1) % 3],
            firewalled: mode & 8 == 0,
            ..Config::default()
        };
        let mut node = Node::with_config(Duration::ZERO, cfg, [mode; 32]);
        node.start(Duration::ZERO, 1000);
        node
    };
    let mut now = Duration::ZERO;
    let mut ops = 0usize;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        ops += 1;
        let socket = if op & 0x80 != 0 {
            Socket::Server
        } else {
            Socket::Client
        };
        match op % 7 {
            // A raw datagram of the next `len` bytes from a peer.
            0 => {
                let Some((&[from, len], tail)) = rest.split_first_chunk::<2>() else {
                    break;
                };
                let len = usize::from(len).min(tail.len());
                node.handle_datagram(now, socket, peer(from), &tail[..len]);
                rest = &tail[len..];
            }
            // A well-formed request with a verified id, fuzzed command and value.
            1 | 2 => {
                let Some((&[from, cmd, flags, v0, v1, v2, v3, v4], tail)) =
                    rest.split_first_chunk::<8>()
                else {
                    break;
                };
                rest = tail;
                let from = peer(from);
                let q = Request {
                    tid: u16::from(cmd),
                    to: peer(0),
                    id: (flags & 1 != 0).then(|| node_id(&from)),
                    token: (flags & 2 != 0).then_some([v0; 32]),
                    internal: flags & 4 != 0,
                    command: u64::from(cmd % 8),
                    target: (flags & 8 != 0).then_some([v1; 32]),
                    value: (flags & 16 != 0).then(|| {
                        Bytes::copy_from_slice(
                            &[v0, v1, v2, v3, v4, 0x03][..usize::from(flags >> 5).min(6)],
                        )
                    }),
                };
                node.handle_datagram(now, socket, from, &Packet::Request(q).to_vec());
            }
            // A reply to a guessed tid, with closer nodes.
            3 => {
                let Some((&[from, t0, t1, n], tail)) = rest.split_first_chunk::<4>() else {
                    break;
                };
                rest = tail;
                let from = peer(from);
                let r = Response {
                    tid: u16::from_le_bytes([t0, t1]),
                    to: peer(0),
                    id: (n & 1 != 0).then(|| node_id(&from)),
                    closer_nodes: (0..n % 8).map(peer).collect(),
                    error: u64::from(n >> 6),
                    ..Response::default()
                };
                node.handle_datagram(now, socket, from, &Packet::Response(r).to_vec());
            }
            // Time passes.
            4 => {
                let step = rest.first().copied().unwrap_or(0);
                rest = rest.get(1..).unwrap_or(&[]);
                now += Duration::from_millis(u64::from(step) * 40);
                if let Some(t) = node.poll_timeout() {
                    if t <= now {
                        node.handle_timeout(now);
                    }
                }
            }
            // A query of our own towards a fuzzed target.
            6 => {
                let t = rest.first().copied().unwrap_or(0);
                rest = rest.get(1..).unwrap_or(&[]);
                let req = QueryRequest {
                    target: [t; 32],
                    internal: true,
                    command: 2,
                    value: None,
                };
                let cfg = QueryConfig {
                    commit: t & 1 != 0,
                    ..QueryConfig::default()
                };
                let mode = [CommitMode::Events, CommitMode::Auto, CommitMode::Awaited]
                    [usize::from(t >> 1) % 3];
                node.query_with(now, req, cfg, mode, &[]);
            }
            // A request of our own.
            _ => {
                let to = peer(op);
                node.request(
                    now,
                    Outgoing {
                        to,
                        to_id: Some(node_id(&to)),
                        internal: true,
                        command: 0,
                        ..Outgoing::default()
                    },
                );
            }
        }
        while let Some(t) = node.poll_transmit() {
            assert!(
                Packet::decode(&t.bytes).is_ok(),
                "we sent an undecodable datagram"
            );
        }
        let mut answer = false;
        while let Some(e) = node.poll_event() {
            if let NodeEvent::QueryCommit(q, r) = e {
                // awaited commits: alternately a request and a failure
                answer = !answer;
                let out = answer.then(|| Outgoing {
                    to: r.from,
                    token: r.response.token,
                    command: 5,
                    ..Outgoing::default()
                });
                node.commit(now, q, out);
            }
        }
        assert!(node.table().len() <= 256 * 20);
        assert!(
            node.io().inflight() <= 64 * ops + 1,
            "requests in flight grow with ops only"
        );
        // ours, plus the bootstrap's and at most one background query per tick
        let ticks = (now.as_millis() / 5000) as usize;
        assert!(node.queries() <= ops + 2 + ticks);
    }
});
