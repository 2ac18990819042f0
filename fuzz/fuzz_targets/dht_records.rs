//! The persistent node's request handlers (`Persistent::handle_request`) and the
//! forwarding router (`Router::handle_request`) fed arbitrary requests of every HyperDHT
//! command (raw values, and announces signed by a few keys with fuzzed fields) from a few
//! addresses, with clock steps and routes set by the fuzzer: no panic, every reply and
//! forward encodes and decodes, and the stores stay within their caps.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use ferrocore_hyperdht::dht::persistent::{Config, Persistent};
use ferrocore_hyperdht::dht::router::{Forward, Outcome, Router};
use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    announce_signable, node_id, Announce, Ipv4Address, Packet, Peer, Request, Response,
};
use ferrocore_wire::Encode;
use libfuzzer_sys::fuzz_target;

const CAP: usize = 16;
const ME: [u8; 32] = [0xee; 32];

fn peer(b: u8) -> Ipv4Address {
    Ipv4Address::new([10, 0, 0, b % 8], 1000 + u16::from(b % 3))
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(rest.len());
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    head
}

fn byte(rest: &mut &[u8]) -> u8 {
    take(rest, 1).first().copied().unwrap_or(0)
}

/// Checks that an outcome is something the node can send.
fn check(outcome: &Outcome, req: &Request) {
    match outcome {
        Outcome::Reply(r) => {
            let p = Packet::Response(Response {
                tid: req.tid,
                to: r.to,
                id: Some(ME),
                token: r.token.then_some([1; 32]),
                closer_nodes: vec![],
                error: r.error,
                value: r.value.clone(),
            });
            assert!(Packet::decode(&p.to_vec()).is_ok());
        }
        Outcome::Relay { value, .. } => {
            let p = Packet::Request(Request {
                value: Some(value.clone()),
                token: None,
                ..req.clone()
            });
            assert!(Packet::decode(&p.to_vec()).is_ok());
        }
        Outcome::Drop | Outcome::Server(_) | Outcome::Plugin(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut store = Persistent::new(
        Config::from_options(Some(CAP), Some(Duration::from_secs(60))),
        Duration::ZERO,
        3,
    );
    let mut router = Router::new(Duration::ZERO, CAP, Duration::from_secs(60));
    let mut now = Duration::ZERO;
    let mut rest = data;
    while !rest.is_empty() {
        let op = byte(&mut rest);
        match op % 4 {
            // a request with a raw value
            0 | 1 => {
                let [f, c, t, len] = [0; 4].map(|_| byte(&mut rest));
                let signed = op & 0x10 != 0;
                let target = [t % 4; 32];
                let value = if signed {
                    // an announce or unannounce signed by one of four keys, fields fuzzed
                    let key = SigningKey::from_bytes(&[len % 4 + 1; 32]);
                    let p = Peer {
                        public_key: key.verifying_key().to_bytes(),
                        relay_addresses: (0..len >> 5).map(peer).collect(),
                    };
                    let ns = if c & 1 == 0 {
                        NS_ANNOUNCE
                    } else {
                        NS_UNANNOUNCE
                    };
                    let token = [f & 3; 32];
                    let refresh = (len & 4 != 0).then_some([t; 32]);
                    let signable =
                        announce_signable(&ns, &target, &ME, &token, &p, refresh.as_ref());
                    let a = Announce {
                        peer: (len & 8 == 0).then_some(p),
                        refresh,
                        signature: (len & 16 == 0).then(|| key.sign(&signable).to_bytes()),
                        bump: u64::from(t >> 4),
                    };
                    Some(Bytes::from(a.to_vec()))
                } else {
                    (len & 0x80 == 0)
                        .then(|| Bytes::copy_from_slice(take(&mut rest, usize::from(len))))
                };
                let req = Request {
                    tid: 1,
                    to: peer(0),
                    id: Some(node_id(&peer(f))),
                    token: (op & 0x20 == 0).then_some([f & 3; 32]),
                    internal: false,
                    command: if signed {
                        4 + u64::from(c & 1)
                    } else {
                        u64::from(c % 12)
                    },
                    target: (op & 0x40 == 0).then_some(target),
                    value,
                };
                let outcome = if req.command <= 1 {
                    router.handle_request(now, peer(f), &req)
                } else {
                    store.handle_request(now, &mut router, &ME, peer(f), &req)
                };
                check(&outcome, &req);
            }
            2 => {
                now += Duration::from_millis(u64::from(byte(&mut rest)) * 500);
                if op & 0x80 != 0 {
                    store.handle_timeout(now);
                    router.handle_timeout(now);
                }
            }
            _ => {
                let t = byte(&mut rest);
                let forward = Forward {
                    relay: (t & 1 != 0).then(|| peer(t)),
                    record: Bytes::copy_from_slice(take(&mut rest, usize::from(t >> 4))),
                    local: t & 2 != 0,
                };
                router.set(now, [t % 4; 32], forward);
            }
        }
        let (records, refreshes, bumps, mutables, immutables) = store.sizes();
        assert!(records <= 2 * CAP + 1, "{:?}", store.sizes());
        assert!(refreshes <= 2 * CAP && bumps <= 2 * CAP);
        assert!(mutables <= CAP && immutables <= CAP);
        assert!(router.len() <= 2 * CAP);
    }
});
