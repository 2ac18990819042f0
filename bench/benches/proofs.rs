//! Proof generation and verification, in proofs per second, on cores of 2^10 and 2^20
//! blocks: a block proof with a full upgrade (for an empty receiver, signature checked)
//! and a block proof with uncles only (for a receiver that holds the roots).

use std::collections::BTreeMap;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ed25519_dalek::{Signer as _, SigningKey};
use ferrocore::flat_tree::{full_roots, parent};
use ferrocore::hash::{self, ns, tree_hash};
use ferrocore::manifest::default_manifest;
use ferrocore::proof::{generate, missing_nodes, verify, SenderState, TrustedState, Verdict};
use ferrocore_wire::{Node, Proof, Request, RequestBlock, RequestUpgrade};

/// A compat core of `2^log` 8-byte blocks: blocks, every node (position = flat index),
/// key, manifest and signature.
struct Core {
    blocks: Vec<Bytes>,
    nodes: Vec<Node>,
    key: [u8; 32],
    signature: Bytes,
}

impl Core {
    fn new(log: u32) -> Self {
        let length = 1u64 << log;
        let blocks: Vec<Bytes> = (0..length)
            .map(|i| Bytes::copy_from_slice(&i.to_le_bytes()))
            .collect();
        // A complete tree: every index 0 ..= 2·length − 2 exists.
        let mut nodes = vec![Node::new(0, 0, [0; 32]); (2 * length - 1) as usize];
        for (i, b) in blocks.iter().enumerate() {
            nodes[2 * i] = hash::leaf(i as u64, b);
        }
        let mut level: Vec<u64> = (0..length).map(|i| 2 * i).collect();
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|pair| {
                    let p = hash::parent(&nodes[pair[0] as usize], &nodes[pair[1] as usize]);
                    nodes[parent(pair[0]) as usize] = p;
                    p.index
                })
                .collect();
        }
        let sk = SigningKey::from_bytes(&[9; 32]);
        let key = sk.verifying_key().to_bytes();
        let roots = roots(&nodes, length);
        let signable = [
            &ns::TREE[..],
            &tree_hash(&roots),
            &length.to_le_bytes(),
            &0u64.to_le_bytes(),
        ]
        .concat();
        let signature = sk.sign(&signable).to_bytes().to_vec().into();
        Self {
            blocks,
            nodes,
            key,
            signature,
        }
    }

    fn length(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn answer(&self, request: &Request) -> Proof {
        let manifest = default_manifest(&self.key);
        let state = SenderState {
            key: &self.key,
            manifest: Some(&manifest),
            fork: 0,
            length: self.length(),
            signature: Some(self.signature.clone()),
        };
        let value = request.block.map(|b| self.blocks[b.index as usize].clone());
        generate(&state, self.nodes.as_slice(), request, value).expect("generate")
    }
}

fn roots(nodes: &[Node], length: u64) -> Vec<Node> {
    full_roots(length).map(|r| nodes[r as usize]).collect()
}

/// Block indexes spread over the core, so runs do not hit one path only.
fn spread(length: u64) -> Vec<u64> {
    (0..16).map(|k| (k * 0x9e37_79b9 + 7) % length).collect()
}

fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("proofs");
    group.throughput(Throughput::Elements(1));
    for log in [10u32, 20] {
        let core = Core::new(log);
        let n = core.length();
        let manifest = default_manifest(&core.key);
        let tip_roots = roots(&core.nodes, n);
        let trusted: BTreeMap<u64, Node> = tip_roots.iter().map(|r| (r.index, *r)).collect();
        let indexes = spread(n);

        // Block + full upgrade, as asked by an empty receiver.
        let with_upgrade: Vec<Request> = indexes
            .iter()
            .map(|&b| Request {
                block: Some(RequestBlock { index: b, nodes: 0 }),
                upgrade: Some(RequestUpgrade {
                    start: 0,
                    length: n,
                }),
                ..Request::default()
            })
            .collect();
        // Block with uncles only, as asked by a receiver holding the roots.
        let nodes_only: Vec<Request> = indexes
            .iter()
            .map(|&b| Request {
                block: Some(RequestBlock {
                    index: b,
                    nodes: missing_nodes(2 * b, n, &trusted).expect("infallible"),
                }),
                ..Request::default()
            })
            .collect();

        for (name, requests, receiver_length) in [
            ("block+upgrade", &with_upgrade, 0),
            ("block", &nodes_only, n),
        ] {
            let id = format!("{name}/2^{log}");
            let mut k = 0;
            group.bench_function(BenchmarkId::new("generate", &id), |b| {
                b.iter(|| {
                    k = (k + 1) % requests.len();
                    black_box(core.answer(&requests[k]))
                })
            });

            let answers: Vec<Proof> = requests.iter().map(|r| core.answer(r)).collect();
            let receiver_roots = roots(&core.nodes, receiver_length);
            let empty = BTreeMap::new();
            let source = if receiver_length == 0 {
                &empty
            } else {
                &trusted
            };
            let state = TrustedState {
                key: &core.key,
                manifest: Some(&manifest),
                fork: 0,
                length: receiver_length,
                roots: &receiver_roots,
            };
            let mut k = 0;
            group.bench_function(BenchmarkId::new("verify", &id), |b| {
                b.iter(|| {
                    k = (k + 1) % answers.len();
                    let verdict = verify(&state, source, &answers[k]).expect("verifies");
                    assert!(matches!(verdict, Verdict::Accepted(_)));
                    black_box(verdict)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, proofs);
criterion_main!(benches);
