//! A [`Swarm`] fed arbitrary sequences of discovery results (peers with any key and any
//! number of relay addresses), dial outcomes, incoming connections (firewall first), time,
//! flushes, joins, leaves, bans and suspends, carried out by an honest adapter. The
//! invariants of `core/hyperswarm/tests/model.rs`: never more than `max_parallel` dials,
//! never a dial to itself, to a peer being dialled or connected, nor while suspended; at
//! most one connection kept per peer; each flush reported once; peers and the queue bounded
//! by the keys seen.
#![no_main]

use std::time::Duration;

use ferrocore_hyperswarm::testing::{HonestAdapter, Op};
use ferrocore_hyperswarm::{ErrorCode, JoinOptions, Peer, PublicKey, SwarmConfig};
use libfuzzer_sys::fuzz_target;

const OURS: u8 = 5;
/// Twelve keys in all (ours included).
const KEYS: u8 = 12;

fn peer(n: u8) -> u8 {
    n % KEYS
}

fn key(n: u8) -> PublicKey {
    ferrocore_hyperswarm::testing::key(peer(n))
}

fn topic(n: u8) -> [u8; 32] {
    [0x70 + n % 3; 32]
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, mut rest)) = data.split_first() else {
        return;
    };
    let config = SwarmConfig {
        max_parallel: 2,
        max_peers: 6,
        ..SwarmConfig::default()
    };
    let mut a = HonestAdapter::new(OURS, config, u64::from(seed), Some(usize::from(KEYS)));
    a.apply(Op::Join(topic(0), JoinOptions::default()));
    while let Some((&[op, x], tail)) = rest.split_first_chunk::<2>() {
        rest = tail;
        let i = usize::from(x);
        let op = match op % 16 {
            0 | 1 => {
                let n = usize::from(x % 6);
                let bytes = &rest[..n.min(rest.len())];
                rest = &rest[bytes.len()..];
                let peers = bytes
                    .iter()
                    .map(|&b| Peer {
                        public_key: key(b),
                        relay_addresses: (0..b >> 5).map(|i| vec![i; 6]).collect(),
                    })
                    .collect();
                Op::Found { query: i, peers }
            }
            2 => Op::QueryDone(x & 1 != 0),
            3 | 4 => Op::Open(i),
            5 => Op::Fail(
                i,
                match x >> 6 {
                    0 => ErrorCode::PeerNotFound,
                    1 => ErrorCode::PeerConnectionFailed,
                    2 => ErrorCode::CannotHolepunch,
                    _ => ErrorCode::Other("ETIMEDOUT".into()),
                },
            ),
            6 => Op::Close(i),
            7 => Op::Incoming(peer(x), (x & 0x80 != 0).then(|| vec![x; 3])),
            8 | 9 => Op::Advance(Duration::from_millis(u64::from(x) * u64::from(x) * 20)),
            10 => Op::Flush,
            11 => match x % 4 {
                0 => Op::JoinPeer(peer(x >> 2)),
                1 => Op::LeavePeer(peer(x >> 2)),
                2 => Op::Ban(peer(x >> 2), x & 0x80 != 0),
                _ => Op::NetworkChange,
            },
            12 => Op::Leave(topic(x)),
            13 => Op::Join(
                topic(x >> 2),
                JoinOptions {
                    server: x & 1 != 0,
                    client: x & 2 != 0 || x & 1 == 0,
                    limit: None,
                },
            ),
            14 if x & 1 == 0 => Op::Suspend,
            14 => Op::Resume,
            _ => Op::Traffic(i, u64::from(x)),
        };
        a.apply(op);
    }
});
