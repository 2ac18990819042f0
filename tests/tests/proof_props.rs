//! Property tests for proof generation and verification.
//!
//! Random cores (up to ~2000 blocks of 0..16 bytes; compat, manifest or prologue mode; any
//! fork) and random requesters (any signed length, some previously verified nodes, with or
//! without a manifest) ask for blocks, tree nodes, byte offsets and upgrades the way the
//! replicator does. Every generated proof must verify to exactly the writer's data; every
//! single-bit change to the message must be rejected, ignored, or verify to the very same
//! batch; a proof from another fork is ignored.

use std::collections::BTreeMap;

use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey};
use ferrocore::flat_tree::{exists_at, full_roots, left_span, parent, right_span};
use ferrocore::hash::{self, blake2b256, ns, tree_hash};
use ferrocore::manifest::{default_manifest, manifest_hash};
use ferrocore::proof::{
    generate, GenerateError, InvalidRequest, MissingNodes, SenderState, Verdict, VerifiedBatch,
    VerifyError,
};
use ferrocore::ProofError;
use ferrocore_tests::ProofReader;
use ferrocore_wire::{
    Data, Decode, Encode, Manifest, Node, Prologue, Proof, Request, RequestBlock, RequestSeek,
    RequestUpgrade,
};
use proptest::prelude::*;

// ----- the writer ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Compat,
    Manifest,
    /// Manifest mode with a prologue over the first `n` blocks.
    Prologue(u64),
}

/// A signed core: its blocks, every tree node (sorted by index), key, manifest and signature.
struct Core {
    blocks: Vec<Bytes>,
    nodes: Vec<Node>,
    length: u64,
    fork: u64,
    key: [u8; 32],
    public_key: [u8; 32],
    manifest: Manifest,
    signature: Bytes,
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&blake2b256(&[b"ferrocore proof props"]))
}

/// A cheap deterministic mix (splitmix64) for test data.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Block `i` of the core seeded by `seed`: 0..16 pseudo-random bytes.
fn block(seed: u64, i: u64) -> Bytes {
    let h = [mix(seed, i).to_le_bytes(), mix(seed, !i).to_le_bytes()].concat();
    Bytes::copy_from_slice(&h[..usize::from(h[15] % 17)])
}

/// Every node of the tree over `blocks`, sorted by index.
fn build_nodes(blocks: &[Bytes]) -> Vec<Node> {
    let length = blocks.len() as u64;
    let mut nodes: BTreeMap<u64, Node> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (2 * i as u64, hash::leaf(i as u64, b)))
        .collect();
    let mut level: Vec<u64> = nodes.keys().copied().collect();
    while level.len() > 1 {
        let mut next = Vec::new();
        for pair in level.chunks(2) {
            if let [a, b] = pair {
                let p = parent(*a);
                if exists_at(p, length) {
                    nodes.insert(p, hash::parent(&nodes[a], &nodes[b]));
                    next.push(p);
                }
            }
        }
        level = next;
    }
    nodes.into_values().collect()
}

fn node(nodes: &[Node], index: u64) -> Node {
    let i = nodes
        .binary_search_by_key(&index, |n| n.index)
        .expect("node exists");
    nodes[i]
}

fn roots_at(nodes: &[Node], length: u64) -> Vec<Node> {
    full_roots(length).map(|r| node(nodes, r)).collect()
}

fn sign(
    manifest: &Manifest,
    key: &[u8; 32],
    compat: bool,
    roots: &[Node],
    length: u64,
    fork: u64,
) -> Bytes {
    let sk = signing_key();
    let tree = tree_hash(roots);
    let tail = [&tree[..], &length.to_le_bytes(), &fork.to_le_bytes()].concat();
    if compat {
        return sk
            .sign(&[&ns::TREE[..], &tail].concat())
            .to_bytes()
            .to_vec()
            .into();
    }
    assert_eq!(manifest_hash(manifest), *key);
    let sig = sk.sign(&[&ns::TREE[..], key, &tail].concat()).to_bytes();
    [&[1, 0][..], &sig, &[0, 0]].concat().into()
}

impl Core {
    fn new(length: u64, seed: u64, mode: Mode, fork: u64) -> Self {
        let blocks: Vec<Bytes> = (0..length).map(|i| block(seed, i)).collect();
        let nodes = build_nodes(&blocks);
        let public_key = signing_key().verifying_key().to_bytes();
        let mut manifest = default_manifest(&public_key);
        if let Mode::Prologue(p) = mode {
            manifest.prologue = Some(Prologue {
                hash: tree_hash(&roots_at(&nodes, p)),
                length: p,
            });
        }
        let compat = mode == Mode::Compat;
        let key = if compat {
            public_key
        } else {
            manifest_hash(&manifest)
        };
        let signature = sign(
            &manifest,
            &key,
            compat,
            &roots_at(&nodes, length),
            length,
            fork,
        );
        Self {
            blocks,
            nodes,
            length,
            fork,
            key,
            public_key,
            manifest,
            signature,
        }
    }

    fn answer(&self, request: &Request) -> Result<Proof, GenerateError<core::convert::Infallible>> {
        let state = SenderState {
            key: &self.key,
            manifest: Some(&self.manifest),
            fork: self.fork,
            length: self.length,
            signature: Some(self.signature.clone()),
        };
        let value = request
            .block
            .and_then(|b| self.blocks.get(usize::try_from(b.index).ok()?).cloned());
        generate(&state, self.nodes.as_slice(), request, value)
    }

    /// Total byte size of the blocks before block `b`.
    fn offset(&self, b: u64) -> u64 {
        self.blocks[..b as usize]
            .iter()
            .map(|x| x.len() as u64)
            .sum()
    }
}

// ----- the requester ------------------------------------------------------------------------

type Reader = ProofReader;

/// A receiver at signed length `length`, holding its roots and some verified nodes.
fn reader_at(core: &Core, length: u64, known_seed: u64, with_manifest: bool) -> Reader {
    let roots = roots_at(&core.nodes, length);
    let mut nodes: BTreeMap<u64, Node> = roots.iter().map(|n| (n.index, *n)).collect();
    // Some nodes verified earlier (e.g. uncles of blocks downloaded before).
    for n in core.nodes.iter().filter(|n| exists_at(n.index, length)) {
        if mix(known_seed, n.index) % 6 == 0 {
            nodes.insert(n.index, *n);
        }
    }
    ProofReader {
        key: core.key,
        manifest: with_manifest.then(|| core.manifest.clone()),
        fork: core.fork,
        length,
        roots,
        nodes,
    }
}

/// Picks `frac`'s share of `0..n` (n > 0).
fn pick(frac: u32, n: u64) -> u64 {
    ((u128::from(frac) * u128::from(n)) >> 32) as u64
}

/// A request as the replicator would make it, for request kind `kind` (0..6).
fn request_for(core: &Core, reader: &Reader, mode: Mode, kind: u8, f: [u32; 3]) -> Request {
    let (n, r) = (core.length, reader.length);
    // Below a prologue, the sender answers from 0 to the prologue length first.
    let reach = match mode {
        Mode::Prologue(p) if r < p => p,
        _ => n,
    };
    let mut req = Request {
        manifest: reader.manifest.is_none(),
        ..Request::default()
    };
    // An upgrade from r that covers block `last` (and possibly more).
    let upgrade_covering = |last: u64| {
        let min = last.saturating_add(1).saturating_sub(r).max(1);
        RequestUpgrade {
            start: r,
            length: min + pick(f[2], n - r - min + 1),
        }
    };
    let kind = match kind {
        1 | 5 if r == 0 => 0,
        0 | 2 | 4 if r == n => 1,
        k => k,
    };
    match kind {
        0 => req.upgrade = Some(upgrade_covering(r)),
        1 | 5 => {
            let b = pick(f[0], r);
            req.block = Some(RequestBlock {
                index: b,
                nodes: reader.missing(2 * b),
            });
            if kind == 5 {
                let mut sub = 2 * b;
                for _ in 0..reader.missing(2 * b) {
                    sub = parent(sub);
                }
                let start = core.offset(left_span(sub) / 2);
                let size = node(&core.nodes, sub).size;
                req.seek = Some(RequestSeek {
                    bytes: start + pick(f[1], size.max(1)).min(size),
                    padding: 0,
                });
            }
        }
        2 => {
            let b = pick(f[0], reach.min(n));
            req.block = Some(RequestBlock {
                index: b,
                nodes: reader.missing(2 * b),
            });
            if r < n {
                req.upgrade = Some(upgrade_covering(b));
            }
        }
        3 => {
            // Any node the requester can connect: inside its length, or inside the range an
            // upgrade adds (a node straddling its length cannot be proven, as in the
            // reference).
            let candidates: Vec<u64> = core
                .nodes
                .iter()
                .map(|x| x.index)
                .filter(|&i| {
                    right_span(i) < 2 * r || (left_span(i) >= 2 * r && right_span(i) / 2 < reach)
                })
                .collect();
            let i = candidates[pick(f[0], candidates.len() as u64) as usize];
            let last = right_span(i) / 2;
            req.hash = Some(RequestBlock {
                index: i,
                nodes: reader.missing(i),
            });
            if last >= r {
                req.upgrade = Some(upgrade_covering(last));
            }
        }
        _ => {
            let total = core.offset(n);
            req.seek = Some(RequestSeek {
                bytes: pick(f[0], total + 2),
                padding: 0,
            });
            req.upgrade = Some(upgrade_covering(r));
        }
    }
    req
}

/// A random scenario: writer, reader, request and the honest proof.
struct Scenario {
    core: Core,
    reader: Reader,
    request: Request,
    proof: Proof,
}

#[allow(clippy::too_many_arguments)]
fn scenario(
    n: u64,
    seed: u64,
    mode: u8,
    fork: u64,
    r: u32,
    known: u64,
    manifest: bool,
    kind: u8,
    f: [u32; 3],
) -> Scenario {
    let mode = match mode {
        0 => Mode::Compat,
        1 => Mode::Manifest,
        _ => Mode::Prologue(1 + pick(f[1], n)),
    };
    let core = Core::new(n, seed, mode, fork);
    let mut r = pick(r, n + 1);
    if let Mode::Prologue(p) = mode {
        if r < p {
            r = 0; // states shorter than the prologue are never signed
        }
    }
    let reader = reader_at(&core, r, known, manifest);
    let request = request_for(&core, &reader, mode, kind, f);
    let proof = core
        .answer(&request)
        .unwrap_or_else(|e| panic!("generate {request:?} (n {n}, r {r}, {mode:?}): {e}"));
    Scenario {
        core,
        reader,
        request,
        proof,
    }
}

fn accepted(v: Result<Verdict, VerifyError<core::convert::Infallible>>) -> VerifiedBatch {
    match v {
        Ok(Verdict::Accepted(b)) => b,
        other => panic!("expected acceptance, got {other:?}"),
    }
}

/// Checks that everything in `got` is authentic: part of the honest batch `good` (a
/// tampered flag may drop a trailing section, never change one). Signature bytes are not
/// compared: a container may have equivalent encodings; what it authenticates is compared.
fn authentic(got: &VerifiedBatch, good: &VerifiedBatch) -> Result<(), TestCaseError> {
    for n in &got.nodes {
        prop_assert!(
            good.nodes.contains(n),
            "node {n:?} is not in the honest batch"
        );
    }
    if let Some(b) = &got.block {
        prop_assert_eq!(Some(b), good.block.as_ref());
    }
    if let (Some(u), Some(want)) = (&got.upgrade, &good.upgrade) {
        prop_assert_eq!(
            (u.length, u.fork, &u.roots, u.byte_length, u.tree_hash),
            (
                want.length,
                want.fork,
                &want.roots,
                want.byte_length,
                want.tree_hash
            )
        );
    } else {
        prop_assert!(
            got.upgrade.is_none(),
            "an upgrade the honest proof did not make"
        );
    }
    if got.manifest.is_some() {
        prop_assert_eq!(&got.manifest, &good.manifest);
    }
    Ok(())
}

/// The roots of `length` blocks of `core`, by index (a reader that downloaded nothing).
fn core_roots(core: &Core, length: u64) -> BTreeMap<u64, Node> {
    roots_at(&core.nodes, length)
        .into_iter()
        .map(|x| (x.index, x))
        .collect()
}

/// `index` and its first `levels` ancestors: the path a proof with `levels` uncles climbs.
fn path_of(index: u64, levels: usize) -> Vec<u64> {
    let mut path = vec![index];
    for _ in 0..levels {
        path.push(parent(*path.last().unwrap()));
    }
    path
}

fn uncles_empty(proof: &Proof) -> bool {
    proof.block.as_ref().is_none_or(|b| b.nodes.is_empty())
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    (
        (
            1u64..2000,
            any::<u64>(),
            0u8..3,
            prop_oneof![Just(0u64), any::<u64>().prop_map(|f| f >> 12)],
        ),
        (
            any::<u32>(),
            any::<u64>(),
            any::<bool>(),
            0u8..6,
            any::<[u32; 3]>(),
        ),
    )
        .prop_map(|((n, seed, mode, fork), (r, known, manifest, kind, f))| {
            scenario(n, seed, mode, fork, r, known, manifest, kind, f)
        })
}

impl core::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Scenario {{ length: {}, fork: {}, reader: {} ({} nodes, manifest: {}), request: {:?} }}",
            self.core.length,
            self.core.fork,
            self.reader.length,
            self.reader.nodes.len(),
            self.reader.manifest.is_some(),
            self.request
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Honest proofs verify to exactly the writer's nodes, block and signed state.
    #[test]
    fn generated_proofs_verify(s in scenario_strategy()) {
        let encoded = Data { request: 9, proof: s.proof.clone() }.to_vec();
        prop_assert_eq!(&Data::decode_exact(&encoded).unwrap().proof, &s.proof);

        let batch = accepted(s.reader.verify(&s.proof));
        for n in &batch.nodes {
            prop_assert_eq!(*n, node(&s.core.nodes, n.index), "a stored node is the writer's");
        }
        let block = batch.block.as_ref().map(|b| (b.index, b.value.clone()));
        let want = s.request.block.map(|b| (b.index, s.core.blocks[b.index as usize].clone()));
        prop_assert_eq!(block, want);
        if let Some(leaf) = s.request.block.map(|b| 2 * b.index) {
            prop_assert!(
                batch.nodes.iter().any(|n| n.index == leaf) || s.reader.nodes.contains_key(&leaf),
                "the leaf is stored (unless it was already)"
            );
        }
        match &batch.upgrade {
            Some(u) => {
                prop_assert!(s.request.upgrade.is_some());
                let roots = roots_at(&s.core.nodes, s.core.length);
                prop_assert_eq!(u.length, s.core.length);
                prop_assert_eq!(u.fork, s.core.fork);
                prop_assert_eq!(u.tree_hash, tree_hash(&roots));
                prop_assert_eq!(&u.roots, &roots);
                prop_assert_eq!(u.byte_length, s.core.offset(s.core.length));
                prop_assert_eq!(u.signature.as_ref(), Some(&s.core.signature));
            }
            None => prop_assert!(s.request.upgrade.is_none()),
        }
        // A requester without a manifest learns it (or falls back to the compat default).
        let learned = match (&s.reader.manifest, &batch.upgrade, &s.proof.manifest) {
            (Some(_), _, _) => None,
            (None, Some(_), None) => Some(default_manifest(&s.core.public_key)),
            (None, _, m) => m.clone(),
        };
        prop_assert_eq!(&batch.manifest, &learned);
    }

    /// A pipelined download: every request of a run of blocks is made before any answer
    /// arrives (so each asks for its whole missing path), then the answers are applied in
    /// order. Each verifies to the writer's block; its climb stops at the first node an
    /// earlier answer stored, so no node of the block's path already stored is in its
    /// batch; nodes past that point are not checked, so a changed one is tolerated; and a
    /// stored node that differs from the climb is a checksum mismatch.
    #[test]
    fn pipelined_answers_stop_at_nodes_stored_by_earlier_ones(
        n in 2u64..1500,
        seed in any::<u64>(),
        start in any::<u32>(),
        run in 1u64..64,
        garble in any::<u32>(),
    ) {
        let core = Core::new(n, seed, Mode::Manifest, 0);
        let mut reader = reader_at(&core, n, 0, true);
        reader.nodes = core_roots(&core, n);
        let first = pick(start, n);
        let blocks: Vec<u64> = (first..n.min(first + run)).collect();
        let proofs: Vec<Proof> = blocks
            .iter()
            .map(|&b| {
                let request = Request {
                    block: Some(RequestBlock { index: b, nodes: reader.missing(2 * b) }),
                    ..Request::default()
                };
                core.answer(&request).unwrap()
            })
            .collect();
        let full: usize = proofs.iter().map(|p| p.block.as_ref().unwrap().nodes.len()).sum();
        let mut stored = 0;
        for (&b, proof) in blocks.iter().zip(&proofs) {
            // Changing the highest uncle changes nothing when the climb stops below it.
            let mut garbled = proof.clone();
            let uncles = &mut garbled.block.as_mut().unwrap().nodes;
            let stops_below = if let Some(top) = uncles.last_mut() {
                top.hash[pick(garble, 32) as usize] ^= 1;
                let path: Vec<u64> = path_of(2 * b, uncles.len());
                path[..path.len() - 1].iter().any(|i| reader.nodes.contains_key(i))
            } else {
                false
            };
            if stops_below {
                let batch = accepted(reader.verify(&garbled));
                prop_assert!(batch.nodes.iter().all(|x| *x == node(&core.nodes, x.index)));
            } else if !uncles_empty(proof) {
                prop_assert!(matches!(reader.verify(&garbled), Err(VerifyError::Proof(_))));
            }

            let batch = accepted(reader.verify(proof));
            prop_assert_eq!(batch.block.as_ref().map(|x| x.index), Some(b));
            for x in &batch.nodes {
                prop_assert_eq!(*x, node(&core.nodes, x.index), "a stored node is the writer's");
            }
            let path = path_of(2 * b, proof.block.as_ref().unwrap().nodes.len());
            for x in batch.nodes.iter().filter(|x| path.contains(&x.index)) {
                prop_assert!(!reader.nodes.contains_key(&x.index), "path node {} stored twice", x.index);
            }
            stored += batch.nodes.len();
            reader.nodes.extend(batch.nodes.iter().map(|x| (x.index, *x)));
        }
        // Without the stops, every answer would store its leaf, its uncles and their parents.
        if blocks.len() >= 4 {
            prop_assert!(stored < 2 * full + blocks.len(), "stored {stored} of {}", 2 * full + blocks.len());
        }

        // A stored path node that differs from what the proof hashes to is refused.
        let b = blocks[0];
        let mut conflicting = reader_at(&core, n, 0, true);
        conflicting.nodes = core_roots(&core, n);
        let proof = core
            .answer(&Request {
                block: Some(RequestBlock { index: b, nodes: conflicting.missing(2 * b) }),
                ..Request::default()
            })
            .unwrap();
        let mut wrong = node(&core.nodes, 2 * b);
        wrong.hash[0] ^= 1;
        conflicting.nodes.insert(2 * b, wrong);
        prop_assert_eq!(
            conflicting.verify(&proof),
            Err(VerifyError::Proof(ProofError::ChecksumMismatch(2 * b)))
        );
    }

    /// Counting missing nodes with a memo of earlier walks (one scheduling pass) gives the
    /// same counts as walking every path in full, in any order of indexes.
    #[test]
    fn memoized_missing_counts_match_full_walks(
        n in 1u64..1500,
        known in any::<u64>(),
        length in any::<u32>(),
        indexes in proptest::collection::vec((any::<u32>(), 0u32..4, any::<bool>()), 1..120),
    ) {
        let core = Core::new(n, 3, Mode::Manifest, 0);
        let reader = reader_at(&core, pick(length, n + 1), known, true);
        let mut memo = MissingNodes::default();
        let mut next = 0;
        for (at, level, sequential) in indexes {
            // Runs of consecutive leaves (a download) mixed with any node.
            let index = if sequential {
                next += 2;
                next
            } else {
                let leaf = 2 * pick(at, n + 2);
                next = leaf;
                (0..level).fold(leaf, |i, _| parent(i))
            };
            prop_assert_eq!(
                memo.count(index, reader.length, &reader.nodes),
                Ok::<u64, core::convert::Infallible>(reader.missing(index)),
                "index {}", index
            );
        }
    }

    /// Flipping any one bit of the message never makes different data verify.
    #[test]
    fn flipped_bits_never_verify_differently(s in scenario_strategy(), bit in any::<u32>()) {
        let good = accepted(s.reader.verify(&s.proof));
        let mut encoded = Data { request: 1, proof: s.proof.clone() }.to_vec();
        let bit = pick(bit, encoded.len() as u64 * 8) as usize;
        encoded[bit / 8] ^= 1 << (bit % 8);
        if let Ok(data) = Data::decode_from(&encoded) {
            match s.reader.verify(&data.proof) {
                Ok(Verdict::Accepted(b)) => authentic(&b, &good)?,
                Ok(Verdict::Ignored { fork }) => prop_assert_ne!(fork, s.reader.fork),
                Err(VerifyError::Proof(_)) => {}
                Err(e @ (VerifyError::Source(_) | VerifyError::InvalidState)) => {
                    prop_assert!(false, "{e}");
                }
            }
        }
    }

    /// A changed block value is always rejected.
    #[test]
    fn flipped_block_value_is_rejected(s in scenario_strategy(), bit in any::<u32>()) {
        let mut proof = s.proof.clone();
        let Some(b) = proof.block.as_mut().filter(|b| !b.value.is_empty()) else {
            return Err(proptest::test_runner::TestCaseError::reject("a scenario with a block"));
        };
        let mut v = b.value.to_vec();
        let bit = pick(bit, v.len() as u64 * 8) as usize;
        v[bit / 8] ^= 1 << (bit % 8);
        b.value = v.into();
        prop_assert!(matches!(s.reader.verify(&proof), Err(VerifyError::Proof(_))));
    }

    /// Proofs from another fork are ignored, whatever they contain.
    #[test]
    fn other_forks_are_ignored(s in scenario_strategy(), delta in 1u64..1000) {
        let mut proof = s.proof.clone();
        proof.fork = s.core.fork.wrapping_add(delta);
        prop_assert_eq!(s.reader.verify(&proof), Ok(Verdict::Ignored { fork: proof.fork }));
        let mut reader = s.reader;
        reader.fork = proof.fork;
        prop_assert_eq!(reader.verify(&s.proof), Ok(Verdict::Ignored { fork: s.core.fork }));
    }

    /// Arbitrary requests never panic the generator; a request for a block it does not hold
    /// is refused; and an answer that verifies for a requester that trusts the writer's
    /// roots carries only the writer's own nodes (an answer need not verify: the request's
    /// `nodes` may not match this requester).
    #[test]
    fn arbitrary_requests_do_not_panic(
        n in 1u64..300,
        block in proptest::option::of((0u64..400, 0u64..70)),
        hash in proptest::option::of((0u64..1000, 0u64..70)),
        seek in proptest::option::of((0u64..5000, 0u64..20)),
        upgrade in proptest::option::of((0u64..400, 0u64..400)),
        huge in any::<u64>(),
        which in 0u8..8,
    ) {
        let core = Core::new(n, 7, Mode::Compat, 0);
        let mut req = Request {
            block: block.map(|(index, nodes)| RequestBlock { index, nodes }),
            hash: hash.map(|(index, nodes)| RequestBlock { index, nodes }),
            seek: seek.map(|(bytes, padding)| RequestSeek { bytes, padding }),
            upgrade: upgrade.map(|(start, length)| RequestUpgrade { start, length }),
            ..Request::default()
        };
        match which {
            0 => if let Some(b) = &mut req.block { b.index = huge },
            1 => if let Some(b) = &mut req.block { b.nodes = huge },
            2 => if let Some(h) = &mut req.hash { h.index = huge },
            3 => if let Some(s) = &mut req.seek { s.padding = huge },
            4 => if let Some(u) = &mut req.upgrade { u.length = huge },
            _ => {}
        }
        if let Some(b) = req.block.filter(|b| b.index >= n) {
            // The replicator only answers for blocks it has.
            prop_assert_eq!(core.answer(&Request { block: Some(RequestBlock { index: b.index, nodes: b.nodes }), ..req }).err().is_some(), true);
            req.block = None;
        }
        if let Ok(proof) = core.answer(&req) {
            let start = req.upgrade.map_or(n, |u| u.start.min(n));
            let reader = reader_at(&core, start, 0, true);
            // Not every answer connects to this requester (its `nodes` may be wrong), but
            // none may verify to something the writer does not hold.
            if let Ok(Verdict::Accepted(b)) = reader.verify(&proof) {
                for x in &b.nodes {
                    prop_assert_eq!(*x, node(&core.nodes, x.index));
                }
            }
        }
    }
}

// ----- typed errors and rules ---------------------------------------------------------------

fn upgrade(start: u64, length: u64) -> Request {
    Request {
        upgrade: Some(RequestUpgrade { start, length }),
        ..Request::default()
    }
}

#[test]
fn invalid_requests_are_typed_errors() {
    let core = Core::new(37, 1, Mode::Compat, 0);
    let invalid = |r: &Request| match core.answer(r) {
        Err(GenerateError::Request(e)) => e,
        other => panic!("{r:?}: expected an invalid request, got {other:?}"),
    };
    assert_eq!(invalid(&upgrade(10, 0)), InvalidRequest::InvalidUpgrade); // from == to
    assert_eq!(invalid(&upgrade(30, 8)), InvalidRequest::InvalidUpgrade); // to > head
    assert_eq!(
        invalid(&upgrade(1 << 60, 1)),
        InvalidRequest::NumberTooLarge
    );
    let seek = Request {
        block: Some(RequestBlock {
            index: 20,
            nodes: 0,
        }),
        seek: Some(RequestSeek {
            bytes: 10,
            padding: 0,
        }),
        ..upgrade(10, 27)
    };
    assert_eq!(invalid(&seek), InvalidRequest::SeekWithUpgrade);
    let block = |index, nodes| Request {
        block: Some(RequestBlock { index, nodes }),
        ..Request::default()
    };
    assert_eq!(invalid(&block(37, 0)), InvalidRequest::OutOfRange);
    assert_eq!(invalid(&block(5, 6)), InvalidRequest::NodesOutOfBounds); // 6 levels up covers 74
    assert_eq!(
        invalid(&block(5, u64::MAX)),
        InvalidRequest::NodesOutOfBounds
    );
    assert!(core.answer(&block(5, 5)).is_ok());
    // Block 5 (leaf 10) is inside the subtree of root 31; a seek must stay inside it.
    let seek_outside = Request {
        seek: Some(RequestSeek {
            bytes: core.offset(33),
            padding: 0,
        }),
        ..block(5, 5)
    };
    assert_eq!(invalid(&seek_outside), InvalidRequest::InvalidSeek);
    // A block above the upgraded range cannot be placed in the proof.
    let beyond = Request {
        block: Some(RequestBlock {
            index: 30,
            nodes: 0,
        }),
        ..upgrade(10, 10)
    };
    assert_eq!(invalid(&beyond), InvalidRequest::Unreachable);
    // The block value is the caller's to supply.
    let state = SenderState {
        key: &core.key,
        manifest: Some(&core.manifest),
        fork: 0,
        length: 37,
        signature: Some(core.signature.clone()),
    };
    assert_eq!(
        generate(&state, core.nodes.as_slice(), &block(5, 5), None),
        Err(GenerateError::MissingBlock(5))
    );
    // A node the sender lacks.
    let without_13: Vec<Node> = core
        .nodes
        .iter()
        .filter(|n| n.index != 13)
        .copied()
        .collect();
    assert_eq!(
        generate(
            &state,
            without_13.as_slice(),
            &block(5, 5),
            Some(core.blocks[5].clone())
        ),
        Err(GenerateError::MissingNode(13))
    );
    // An empty sender answers anything with an empty proof.
    let empty = SenderState {
        length: 0,
        signature: None,
        ..state
    };
    let proof = generate(&empty, core.nodes.as_slice(), &upgrade(3, 7), None).unwrap();
    assert_eq!(proof, Proof::default());
}

#[test]
fn manifest_is_sent_only_when_asked_and_not_compat() {
    for (mode, sent) in [(Mode::Compat, false), (Mode::Manifest, true)] {
        let core = Core::new(5, 2, mode, 0);
        let asked = Request {
            manifest: true,
            ..upgrade(0, 5)
        };
        assert_eq!(
            core.answer(&asked).unwrap().manifest.is_some(),
            sent,
            "{mode:?}"
        );
        assert_eq!(
            core.answer(&upgrade(0, 5)).unwrap().manifest,
            None,
            "{mode:?}"
        );
    }
}

#[test]
fn prologue_rules() {
    let core = Core::new(20, 3, Mode::Prologue(9), 0);
    // An upgrade starting inside the prologue is answered from 0 to the prologue length.
    let proof = core.answer(&upgrade(4, 2)).unwrap();
    let up = proof.upgrade.as_ref().unwrap();
    assert_eq!((up.start, up.length), (0, 9));
    assert_eq!(ferrocore::proof::upgrade_length(up), 20);
    let reader = reader_at(&core, 0, 0, true);
    let batch = accepted(reader.verify(&proof));
    assert_eq!(batch.upgrade.unwrap().length, 20);

    // The receiver rejects an upgrade that starts inside the prologue without covering it.
    let mut short = proof.clone();
    short.upgrade.as_mut().unwrap().length = 8;
    assert_eq!(
        reader.verify(&short),
        Err(VerifyError::Proof(ProofError::Prologue))
    );

    // The tree at the prologue length must hash to the prologue, even with a valid
    // signature for the full length.
    let other = Core::new(20, 4, Mode::Prologue(9), 0);
    let mut forged_reader = reader_at(&core, 0, 0, true);
    forged_reader.manifest = Some(core.manifest.clone());
    let mut forged = other.answer(&upgrade(0, 9)).unwrap();
    forged.upgrade.as_mut().unwrap().signature = Some(core.signature.clone());
    assert_eq!(
        forged_reader.verify(&forged),
        Err(VerifyError::Proof(ProofError::PrologueHash))
    );
}

#[test]
fn anchoring_and_manifest_checks() {
    let core = Core::new(37, 5, Mode::Manifest, 0);
    let reader = reader_at(&core, 37, 0, true);
    // Too few levels: the subtree root (node 11) is not trusted.
    let block = |nodes| Request {
        block: Some(RequestBlock { index: 5, nodes }),
        ..Request::default()
    };
    let short = core.answer(&block(2)).unwrap();
    assert_eq!(
        reader.verify(&short),
        Err(VerifyError::Proof(ProofError::MissingTrustedNode(11)))
    );
    // A trusted node with another hash.
    let mut wrong = reader_at(&core, 37, 0, true);
    let mut bad = node(&core.nodes, 11);
    bad.hash[0] ^= 1;
    wrong.nodes.insert(11, bad);
    assert_eq!(
        wrong.verify(&short),
        Err(VerifyError::Proof(ProofError::ChecksumMismatch(11)))
    );
    // Same hash, wrong size: rejected too (the size is not inside its own hash).
    let mut sized = reader_at(&core, 37, 0, true);
    let mut resized = node(&core.nodes, 11);
    resized.size += 1;
    sized.nodes.insert(11, resized);
    assert_eq!(
        sized.verify(&short),
        Err(VerifyError::Proof(ProofError::ChecksumMismatch(11)))
    );

    // A manifest-mode requester without the manifest cannot verify a signature unless the
    // proof carries the manifest; a manifest that does not hash to the key is refused.
    let fresh = reader_at(&core, 0, 0, false);
    let plain = core.answer(&upgrade(0, 37)).unwrap();
    assert_eq!(
        fresh.verify(&plain),
        Err(VerifyError::Proof(ProofError::InvalidSignature))
    );
    let mut with = core
        .answer(&Request {
            manifest: true,
            ..upgrade(0, 37)
        })
        .unwrap();
    assert_eq!(
        accepted(fresh.verify(&with)).manifest,
        Some(core.manifest.clone())
    );
    with.manifest.as_mut().unwrap().quorum = 2;
    assert_eq!(
        fresh.verify(&with),
        Err(VerifyError::Proof(ProofError::ManifestMismatch))
    );
    // Without an upgrade, the carried manifest must hash to the key as well.
    let mut carried = core
        .answer(&Request {
            manifest: true,
            ..block(5)
        })
        .unwrap();
    let learner = Reader {
        manifest: None,
        ..reader_at(&core, 37, 0, true)
    };
    assert_eq!(
        accepted(learner.verify(&carried)).manifest,
        Some(core.manifest.clone())
    );
    carried.manifest.as_mut().unwrap().quorum = 2;
    assert_eq!(
        learner.verify(&carried),
        Err(VerifyError::Proof(ProofError::ManifestMismatch))
    );
}

#[test]
fn strict_node_order_and_bounds() {
    let core = Core::new(37, 6, Mode::Compat, 0);
    let reader = reader_at(&core, 0, 0, true);
    let proof = core
        .answer(&Request {
            block: Some(RequestBlock { index: 5, nodes: 0 }),
            ..upgrade(0, 37)
        })
        .unwrap();
    accepted(reader.verify(&proof));
    // Swapped uncles.
    let mut swapped = proof.clone();
    swapped.block.as_mut().unwrap().nodes.swap(0, 1);
    assert!(matches!(
        reader.verify(&swapped),
        Err(VerifyError::Proof(ProofError::UnexpectedNode {
            expected: 8,
            got: Some(13)
        }))
    ));
    // A missing upgrade root.
    let mut dropped = proof.clone();
    dropped.upgrade.as_mut().unwrap().nodes.pop();
    assert!(matches!(
        reader.verify(&dropped),
        Err(VerifyError::Proof(ProofError::UnexpectedNode {
            expected: 72,
            got: None
        }))
    ));
    // An extra uncle climbs past the upgrade root: it no longer connects.
    let mut extra = proof.clone();
    extra
        .block
        .as_mut()
        .unwrap()
        .nodes
        .push(node(&core.nodes, 67));
    assert!(reader.verify(&extra).is_err());
    // Both a block and a hash section.
    let mut both = proof.clone();
    both.hash = Some(ferrocore_wire::DataHash {
        index: 11,
        nodes: vec![],
    });
    assert!(reader.verify(&both).is_err());
    // A corrupt trusted state (roots not those of its length) is reported as such.
    let mut corrupt = reader_at(&core, 10, 0, true);
    corrupt.roots.pop();
    assert_eq!(corrupt.verify(&proof), Err(VerifyError::InvalidState));
    corrupt.roots = vec![Node::new(u64::MAX, 1, [0; 32])];
    corrupt.length = u64::MAX;
    assert_eq!(corrupt.verify(&proof), Err(VerifyError::InvalidState));
    // Numbers JS cannot send.
    let mut huge = proof;
    huge.block.as_mut().unwrap().index = u64::MAX;
    assert_eq!(
        reader.verify(&huge),
        Err(VerifyError::Proof(ProofError::NumberTooLarge))
    );
}

#[test]
fn missing_nodes_counts_unknown_levels() {
    let core = Core::new(37, 8, Mode::Compat, 0);
    let mut reader = reader_at(&core, 37, 0, true);
    reader.nodes = reader.roots.iter().map(|n| (n.index, *n)).collect();
    assert_eq!(reader.missing(10), 5); // 10, 9, 11, 7, 15 below root 31
    assert_eq!(reader.missing(72), 0); // a root
    assert_eq!(reader.missing(74), 0); // beyond the length
    assert_eq!(reader.missing(u64::MAX), 0);
    reader.nodes.insert(11, node(&core.nodes, 11));
    assert_eq!(reader.missing(10), 2);
    let empty = reader_at(&core, 0, 0, true);
    assert_eq!(empty.missing(10), 0);
}
