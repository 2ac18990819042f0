//! Arbitrary bytes as a `data` message, verified against trusted states of a fixed
//! 16-block core whose manifest has a prologue over all 16 blocks (so an upgrade to 16 with
//! the right roots is valid without any signature, and reachable by the fuzzer).
//!
//! Invariants: decoding round-trips; verification never panics; a proof for another fork
//! is ignored; anything accepted is authentic — every node is the core's node, a block
//! value is the core's block, and an upgrade lands exactly on the core's 16-block state.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ferrocore::flat_tree::{exists_at, full_roots, parent};
use ferrocore::proof::{verify, TrustedState, Verdict, VerifyError};
use ferrocore::wire::{Data, Decode, Encode, HashAlgorithm, Manifest, Node, Prologue};
use ferrocore::{hash, manifest::manifest_hash};

const LENGTH: u64 = 16;

struct Core {
    blocks: Vec<Vec<u8>>,
    nodes: BTreeMap<u64, Node>,
    manifest: Manifest,
    key: [u8; 32],
}

fn core() -> &'static Core {
    static CORE: OnceLock<Core> = OnceLock::new();
    CORE.get_or_init(|| {
        let blocks: Vec<Vec<u8>> = (0..LENGTH)
            .map(|i| format!("block {i}").into_bytes())
            .collect();
        let mut nodes: BTreeMap<u64, Node> = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| (2 * i as u64, hash::leaf(i as u64, b)))
            .collect();
        // Parents level by level: pair up the nodes of the level below.
        for depth in 1..=4u32 {
            let indexes: Vec<u64> = nodes
                .keys()
                .copied()
                .filter(|&i| i.trailing_ones() == depth - 1 && exists_at(parent(i), LENGTH))
                .collect();
            for i in indexes.chunks(2) {
                if let [a, b] = i {
                    let p = hash::parent(&nodes[a], &nodes[b]);
                    nodes.insert(p.index, p);
                }
            }
        }
        let roots: Vec<Node> = full_roots(LENGTH).map(|r| nodes[&r]).collect();
        let manifest = Manifest {
            version: 1,
            hash: HashAlgorithm::Blake2b,
            allow_patch: false,
            quorum: 0,
            signers: Vec::new(),
            prologue: Some(Prologue {
                hash: hash::tree_hash(&roots),
                length: LENGTH,
            }),
            linked: None,
            user_data: None,
        };
        let key = manifest_hash(&manifest);
        Core {
            blocks,
            nodes,
            manifest,
            key,
        }
    })
}

/// Verifies `data` against a receiver at `length` / `fork` holding `known` nodes and checks
/// the invariants.
fn check(data: &Data, length: u64, fork: u64, known: &BTreeMap<u64, Node>, with_manifest: bool) {
    let c = core();
    let roots: Vec<Node> = full_roots(length).map(|r| c.nodes[&r]).collect();
    let state = TrustedState {
        key: &c.key,
        manifest: with_manifest.then_some(&c.manifest),
        fork,
        length,
        roots: &roots,
    };
    match verify(&state, known, &data.proof) {
        Ok(Verdict::Accepted(batch)) => {
            for n in &batch.nodes {
                assert_eq!(c.nodes.get(&n.index), Some(n), "accepted a foreign node");
            }
            assert!(batch.nodes.windows(2).all(|w| w[0].index < w[1].index));
            if let Some(b) = &batch.block {
                assert_eq!(
                    c.blocks.get(b.index as usize).map(Vec::as_slice),
                    Some(&b.value[..])
                );
            }
            if let Some(u) = &batch.upgrade {
                let want: Vec<Node> = full_roots(LENGTH).map(|r| c.nodes[&r]).collect();
                assert_eq!((u.length, &u.roots, u.fork), (LENGTH, &want, fork));
            }
            if let Some(m) = &batch.manifest {
                assert_eq!(m, &c.manifest);
            }
        }
        Ok(Verdict::Ignored { fork: other }) => assert_ne!(other, fork),
        Err(e) => assert!(matches!(e, VerifyError::Proof(_)), "{e}"),
    }
}

libfuzzer_sys::fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else {
        return;
    };
    let Ok(data) = Data::decode_from(bytes) else {
        return;
    };
    assert_eq!(Data::decode_from(&data.to_vec()).as_ref(), Ok(&data));

    // A fixed state: an empty receiver that knows the manifest.
    check(&data, 0, 0, &BTreeMap::new(), true);

    // A state derived from the selector: length, fork, manifest, and which nodes it holds
    // (always its roots, as a receiver at that length does).
    let c = core();
    let length = u64::from(selector % 17);
    let fork = u64::from(selector >> 7);
    let mut known: BTreeMap<u64, Node> = full_roots(length).map(|r| (r, c.nodes[&r])).collect();
    for (i, n) in &c.nodes {
        if exists_at(*i, length)
            && (i.wrapping_mul(0x9e37_79b9) >> 5) & 3 == u64::from(selector >> 5) & 3
        {
            known.insert(*i, *n);
        }
    }
    check(&data, length, fork, &known, selector & 0x20 == 0);
});
