//! The multisig containers and quorum verification on arbitrary input.
//!
//! Input: a mode byte, then its data.
//! * Mode `% 4 == 0`: the rest as the bytes of a version-1 container ([`MultiSignature`]),
//!   a version-0 one ([`MultiSignatureV0`]), a [`PatchV0`] and a [`SignatureProof`]: none
//!   panics, and every value decoded re-encodes to its announced length and decodes again
//!   to itself.
//! * Otherwise a signature is built and verified against a fixed core of 7 blocks whose
//!   manifest has three signers and a quorum of two (version 1 for bit 2 clear, version 0
//!   otherwise; patches allowed): each following byte adds one partial signature (`& 3`:
//!   the signer, 3 meaning an index past the signers; bit 2: signed over 7 blocks and
//!   patched from 5, else signed over 5; bit 3: one signature byte flipped), up to a zero
//!   byte; the assembled container is then XORed with what input remains. It is verified
//!   for the tree of 5 blocks.
//!
//! Invariant: verification never panics, and a signature it accepts has, among its first
//! `quorum` proofs, distinct signers each carrying that signer's real signature (of the
//! 5-block state, or of the 7-block one with a patch): nothing is accepted that no key
//! pair signed, and no signer counts twice.
#![no_main]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ferrocore::flat_tree::full_roots;
use ferrocore::hash;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::manifest_hash;
use ferrocore::signature::{
    MultiSignature, MultiSignatureV0, PartialSignature, PatchV0, SignatureProof, Verifier,
};
use ferrocore_wire::{Decode, Encode, HashAlgorithm, Manifest, Node, SignatureAlgorithm, Signer};

const SIGNERS: usize = 3;
const QUORUM: u64 = 2;

struct Fixture {
    /// By version (0, 1): the manifest, its key, and each signer's partial signature of
    /// the 5-block state and of the 7-block state patched from 5.
    cores: [(Manifest, [u8; 32], Vec<[PartialSignature; 2]>); 2],
    roots5: Vec<Node>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pairs: Vec<KeyPair> = (1..=SIGNERS as u8)
            .map(|i| KeyPair::from_seed(&[i; 32]))
            .collect();
        // Every node of a tree of 8 leaves; the states of 5 and 7 blocks use some of them.
        let mut nodes: BTreeMap<u64, Node> = (0..8u64)
            .map(|i| (2 * i, hash::leaf(i, format!("block {i}").as_bytes())))
            .collect();
        for depth in 1..4u32 {
            let step = 1u64 << depth;
            let mut i = step - 1;
            while i < 16 {
                let (l, r) = (i - step / 2, i + step / 2);
                let p = hash::parent(&nodes[&l], &nodes[&r]);
                nodes.insert(i, p);
                i += 2 * step;
            }
        }
        let roots = |n: u64| -> Vec<Node> { full_roots(n).map(|r| nodes[&r]).collect() };
        let roots5 = roots(5);
        let patch: Vec<Node> = ferrocore::signature::patch_indexes(5, 2)
            .expect("a small patch")
            .into_iter()
            .map(|i| nodes[&i])
            .collect();
        let cores = [0u64, 1].map(|version| {
            let manifest = Manifest {
                version,
                hash: HashAlgorithm::Blake2b,
                allow_patch: true,
                quorum: QUORUM,
                signers: pairs
                    .iter()
                    .map(|kp| Signer {
                        signature: SignatureAlgorithm::Ed25519,
                        namespace: [0x42; 32],
                        public_key: kp.public_key,
                    })
                    .collect(),
                prologue: None,
                linked: None,
                user_data: None,
            };
            let key = manifest_hash(&manifest);
            let verifier = Verifier::new(&key, &manifest);
            let partials = pairs
                .iter()
                .enumerate()
                .map(|(i, kp)| {
                    let at5 = verifier
                        .partial_sign(kp, &hash::tree_hash(&roots5), 5, 0)
                        .expect("signer");
                    let mut at7 = verifier
                        .partial_sign(kp, &hash::tree_hash(&roots(7)), 7, 0)
                        .expect("signer");
                    assert_eq!(at7.signer, i as u64);
                    at7.patch = 2;
                    at7.nodes = patch.clone();
                    [at5, at7]
                })
                .collect();
            (manifest, key, partials)
        });
        Fixture { cores, roots5 }
    })
}

/// `T` decodes from `data` without panicking; a decoded value round-trips exactly.
fn round_trip<T: Decode + Encode + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = T::decode_from(data) {
        let enc = v.to_vec();
        assert_eq!(enc.len(), v.encoded_len());
        assert_eq!(T::decode_exact(&enc).expect("re-encoded value decodes"), v);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 4 == 0 {
        round_trip::<MultiSignature>(rest);
        round_trip::<MultiSignatureV0>(rest);
        round_trip::<PatchV0>(rest);
        round_trip::<SignatureProof>(rest);
        return;
    }
    let f = fixture();
    let version = usize::from(mode & 4 == 0);
    let (manifest, key, partials) = &f.cores[version];
    let verifier = Verifier::new(key, manifest);

    let mut inputs = Vec::new();
    let mut rest = rest;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        if op == 0 {
            break;
        }
        let signer = usize::from(op & 3);
        let mut p = match partials.get(signer) {
            Some(p) => p[usize::from(op & 4 != 0)].clone(),
            // An index past the signers, with some signature.
            None => PartialSignature {
                signer: signer as u64,
                ..partials[0][0].clone()
            },
        };
        if op & 8 != 0 {
            p.signature[usize::from(op >> 4) % 64] ^= 1;
        }
        inputs.push(p);
    }
    let Ok(mut signature) = verifier.assemble(&inputs) else {
        return;
    };
    for (b, x) in signature.iter_mut().zip(rest) {
        *b ^= x;
    }

    if !verifier.verify(&f.roots5, 5, 0, Some(&signature)) {
        return;
    }
    let container: MultiSignature = if version == 0 {
        MultiSignatureV0::decode_from(&signature)
            .expect("an accepted v0 container decodes")
            .into()
    } else {
        MultiSignature::decode_from(&signature).expect("an accepted container decodes")
    };
    let mut seen = Vec::new();
    for proof in container.proofs.iter().take(QUORUM as usize) {
        let signer = usize::try_from(proof.signer).expect("a signer index");
        assert!(!seen.contains(&signer), "signer {signer} counted twice");
        seen.push(signer);
        let real = &partials.get(signer).expect("an index in range");
        assert!(
            real.iter().any(|p| p.signature == proof.signature),
            "an accepted signature of signer {signer} that it never made"
        );
    }
    assert_eq!(seen.len(), QUORUM as usize, "a quorum of proofs");
});
