//! Hostile bytes: random and bit-flipped requests of every command never panic, and the
//! stores stay within their caps.

use super::tests::{handle, kp, request, S};
use super::*;
use alloc::vec::Vec;
use ferrocore_wire::dht::{modes, Handshake, Holepunch};

/// A deterministic byte stream (xorshift64*).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Valid messages of every kind (command, target, value), to flip bits in.
fn seeds() -> Vec<(u64, [u8; 32], Vec<u8>)> {
    let k = kp(1);
    let t = [0x77; 32];
    let peer = Peer {
        public_key: k.public_key,
        relay_addresses: Vec::from([Ipv4Address::new([1, 2, 3, 4], 5); 4]),
    };
    let signable = announce_signable(
        &NS_ANNOUNCE,
        &t,
        &[0x11; 32],
        &[0x22; 32],
        &peer,
        Some(&[3; 32]),
    );
    let ann = Announce {
        signature: Some(k.sign(&signable)),
        peer: Some(peer),
        refresh: Some([3; 32]),
        bump: 1 << 40,
    };
    let put = MutablePutRequest {
        public_key: k.public_key,
        seq: 3,
        value: Bytes::from_static(b"value"),
        signature: k.sign(&mutable_signable(3, b"value")),
    };
    let hs = Handshake {
        mode: modes::FROM_CLIENT,
        noise: Bytes::from_static(&[9; 48]),
        peer_address: Some(Ipv4Address::new([1, 1, 1, 1], 1)),
        relay_address: Some(Ipv4Address::new([2, 2, 2, 2], 2)),
    };
    let hp = Holepunch {
        mode: modes::FROM_SERVER,
        id: 7,
        payload: Bytes::from_static(&[8; 40]),
        peer_address: Some(Ipv4Address::new([3, 3, 3, 3], 3)),
    };
    let kt = mutable_target(&k.public_key);
    Vec::from([
        (cmd::ANNOUNCE, t, ann.to_vec()),
        (cmd::UNANNOUNCE, t, ann.to_vec()),
        (cmd::MUTABLE_PUT, kt, put.to_vec()),
        (cmd::MUTABLE_GET, kt, Vec::from([3])),
        (
            cmd::IMMUTABLE_PUT,
            immutable_target(b"value"),
            b"value".to_vec(),
        ),
        (cmd::PEER_HANDSHAKE, t, hs.to_vec()),
        (cmd::PEER_HOLEPUNCH, t, hp.to_vec()),
    ])
}

#[test]
fn random_and_mutated_requests_never_panic_and_stay_within_the_caps() {
    let mut p = Persistent::new(Config::from_options(Some(32), None), Duration::ZERO, 5);
    let mut r = Router::new(Duration::ZERO, 32, DEFAULT_MAX_AGE);
    let mut rng = Noise(0x9e37_79b9_7f4a_7c15);
    let seeds = seeds();
    let (mut replies, mut peak) = (0, (0, 0, 0, 0, 0));
    for i in 0..30_000u64 {
        let mut t = [0x77; 32];
        t[0] = rng.below(64) as u8; // a few targets collide
        let (command, value) = if rng.below(2) == 0 {
            let (c, target, v) = &seeds[rng.below(seeds.len() as u64) as usize];
            let mut v = v.clone();
            // Up to two flipped bits (none: the valid message), sometimes cut short.
            for _ in 0..rng.below(3) {
                let at = rng.below(v.len() as u64) as usize;
                v[at] ^= 1 << rng.below(8);
            }
            if rng.below(4) == 0 {
                v.truncate(rng.below(v.len() as u64 + 1) as usize);
            }
            if rng.below(2) == 0 {
                t = *target;
            }
            (*c, v)
        } else {
            let len = rng.below(160) as usize;
            (rng.below(13), rng.bytes(len))
        };
        let target = (rng.below(8) != 0).then_some(t);
        let value = (rng.below(16) != 0).then_some(value);
        let req = request(command, target, rng.below(4) != 0, value);
        let now = S(i / 10);
        let from = Ipv4Address::new([10, 0, 0, rng.below(4) as u8], 1000);
        let outcome = match command {
            cmd::PEER_HANDSHAKE | cmd::PEER_HOLEPUNCH => r.handle_request(now, from, &req),
            _ => handle(&mut p, &mut r, now, from, &req),
        };
        replies += usize::from(matches!(outcome, Outcome::Reply(_)));
        let (records, refreshes, bumps, mutables, immutables) = p.sizes();
        peak = (
            peak.0.max(records),
            peak.1.max(refreshes),
            peak.2.max(bumps),
            peak.3.max(mutables),
            peak.4.max(immutables),
        );
        assert!(records <= 2 * 32 + 1 && refreshes <= 2 * 32 && bumps <= 2 * 32);
        assert!(mutables <= 2 * 16 && immutables <= 2 * 16);
        assert!(r.len() <= 2 * 32);
    }
    // Not everything is refused, and every store took something.
    assert!(replies > 1000, "{replies} replies");
    assert!(
        peak.0 > 0 && peak.1 > 0 && peak.2 > 0 && peak.3 > 0 && peak.4 > 0,
        "{peak:?}"
    );
}
