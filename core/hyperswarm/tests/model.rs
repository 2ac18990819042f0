//! A property test: random discovery results, dial outcomes, incoming connections, time and
//! flushes against the honest adapter of `ferrocore_hyperswarm::testing`, which checks the
//! invariants after every step: the swarm never exceeds maxParallel dials, never dials a
//! peer it is connected or dialling to, keeps at most one connection per peer, reports each
//! flush once, never dials while suspended. Here also: without explicit peers or suspends,
//! every flush completes once the lookups and dials it waits for resolve.

use core::time::Duration;
use ferrocore_hyperswarm::testing::{key, HonestAdapter, Op};
use ferrocore_hyperswarm::{ErrorCode, JoinOptions, Peer, SwarmConfig};
use proptest::prelude::*;

const TOPIC: [u8; 32] = [7; 32];
const OURS: u8 = 5;

fn op() -> impl Strategy<Value = Op> {
    let k = 1u8..10;
    let found = proptest::collection::vec(k.clone(), 0..5).prop_map(|peers| Op::Found {
        query: 0,
        peers: peers
            .into_iter()
            .map(|n| Peer {
                public_key: key(n),
                relay_addresses: vec![],
            })
            .collect(),
    });
    let codes = [
        ErrorCode::PeerNotFound,
        ErrorCode::PeerConnectionFailed,
        ErrorCode::CannotHolepunch,
        ErrorCode::Other("ETIMEDOUT".into()),
    ];
    prop_oneof![
        4 => found,
        2 => any::<bool>().prop_map(Op::QueryDone),
        4 => (0usize..8).prop_map(Op::Open),
        3 => (0usize..8, 0usize..4).prop_map(move |(i, c)| Op::Fail(i, codes[c].clone())),
        2 => (0usize..8).prop_map(Op::Close),
        2 => k.clone().prop_map(|n| Op::Incoming(n, None)),
        3 => (0u64..1_200_000).prop_map(|ms| Op::Advance(Duration::from_millis(ms))),
        2 => Just(Op::Flush),
        1 => k.clone().prop_map(Op::JoinPeer),
        1 => k.prop_map(Op::LeavePeer),
        1 => Just(Op::Leave(TOPIC)),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(server, c)| Op::Join(
            TOPIC,
            JoinOptions { server, client: c || !server, limit: None },
        )),
        1 => (0usize..8).prop_map(|i| Op::Traffic(i, 1)),
        1 => Just(Op::Suspend),
        1 => Just(Op::Resume),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn swarm_keeps_its_invariants(seed in any::<u64>(), ops in proptest::collection::vec(op(), 1..80)) {
        let config = SwarmConfig {
            max_parallel: 2,
            max_peers: 6,
            ..SwarmConfig::default()
        };
        let mut m = HonestAdapter::new(OURS, config, seed, None);
        m.apply(Op::Join(TOPIC, JoinOptions::default()));
        for op in ops {
            m.apply(op);
        }
        prop_assert!(m.resolve_all(), "did not settle");
        if !m.liveness_exempt {
            let missing = m.unfinished_flushes();
            prop_assert!(missing.is_empty(), "flushes never completed: {:?}", missing);
        }
    }
}
