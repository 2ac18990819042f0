use super::assemble::patched_tree;
use super::*;
use crate::manifest::{create_manifest, manifest_hash, ManifestOptions, SignerOptions};

/// Node `i` of a tree whose block `b` is `u64le(b)`.
fn node(i: u64) -> Node {
    match flat_tree::children(i) {
        None => hash::leaf(i / 2, &(i / 2).to_le_bytes()),
        Some((l, r)) => hash::parent(&node(l), &node(r)),
    }
}

fn tree(length: u64) -> Vec<Node> {
    flat_tree::full_roots(length).map(node).collect()
}

fn nodes_at(indexes: &[u64]) -> Vec<Node> {
    indexes.iter().map(|&i| node(i)).collect()
}

fn two_signers(allow_patch: bool, version: u64) -> (Manifest, KeyPair, KeyPair) {
    let a = KeyPair::from_seed(&[1; 32]);
    let b = KeyPair::from_seed(&[2; 32]);
    let m = create_manifest(&ManifestOptions {
        version: Some(version),
        allow_patch,
        signers: vec![
            SignerOptions::new(a.public_key),
            SignerOptions::new(b.public_key),
        ],
        ..ManifestOptions::default()
    })
    .unwrap();
    (m, a, b)
}

#[test]
fn decoded_signer_keys_verify_as_the_raw_keys_and_stale_ones_are_not_used() {
    for version in [0, 1] {
        let (m, a, b) = two_signers(false, version);
        let key = manifest_hash(&m);
        let v = Verifier::new(&key, &m);
        let (roots, th) = (tree(7), hash::tree_hash(&tree(7)));
        let sig = v
            .assemble(&[
                v.partial_sign(&a, &th, 7, 0).unwrap(),
                v.partial_sign(&b, &th, 7, 0).unwrap(),
            ])
            .unwrap();
        let mut forged = sig.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let right = decode_signers(&m);
        // Keys in each other's slots (as a stale cache could hold them) and a short list.
        let mut wrong = right.clone();
        wrong.reverse();
        for decoded in [&right[..], &wrong[..], &right[..1], &[]] {
            let v = Verifier::new(&key, &m).with_decoded(decoded);
            assert!(v.verify(&roots, 7, 0, Some(&sig)), "v{version}");
            assert!(!v.verify(&roots, 7, 0, Some(&forged)), "v{version}");
            assert!(!v.verify(&roots, 7, 1, Some(&sig)), "v{version}: fork");
        }
    }
}

#[test]
fn patch_indexes_extend_to_the_full_roots() {
    for start in 0..40u64 {
        for len in 1..20u64 {
            let idx = patch_indexes(start, len).unwrap();
            let map = nodes_at(&idx).into_iter().map(|n| (n.index, n)).collect();
            let (th, l) = patched_tree(&tree(start), start, len, &map).unwrap();
            assert_eq!((th, l), (hash::tree_hash(&tree(start + len)), start + len));
        }
    }
    assert_eq!(patch_indexes(MAX_TREE_LENGTH, 1), None);
    assert_eq!(patch_indexes(u64::MAX, 1), None);
}

#[test]
fn patched_multisig() {
    for version in [0, 1] {
        let (m, a, b) = two_signers(true, version);
        let key = manifest_hash(&m);
        let v = Verifier::new(&key, &m);
        let (short, long) = (tree(5), tree(9));
        // Signer a signed length 5; signer b signed length 9 (a patch of 4 blocks).
        let pa = v.partial_sign(&a, &hash::tree_hash(&short), 5, 0).unwrap();
        let mut pb = v.partial_sign(&b, &hash::tree_hash(&long), 9, 0).unwrap();
        pb.patch = 4;
        pb.nodes = nodes_at(&patch_indexes(5, 4).unwrap());
        let sig = v.assemble(&[pa.clone(), pb.clone()]).unwrap();
        assert!(v.verify(&short, 5, 0, Some(&sig)), "v{version}");
        // Without allowPatch the patch is ignored, so b's signature does not match.
        let (m2, ..) = two_signers(false, version);
        let key2 = manifest_hash(&m2);
        let v2 = Verifier::new(&key2, &m2);
        let pa2 = v2.partial_sign(&a, &hash::tree_hash(&short), 5, 0).unwrap();
        let mut pb2 = v2.partial_sign(&b, &hash::tree_hash(&long), 9, 0).unwrap();
        pb2.patch = 4;
        pb2.nodes = pb.nodes.clone();
        let sig2 = v2.assemble(&[pa2, pb2]).unwrap();
        assert!(!v2.verify(&short, 5, 0, Some(&sig2)), "v{version}");
        // A missing patch node fails.
        let mut pb3 = pb.clone();
        pb3.nodes.pop();
        let sig3 = v.assemble(&[pa, pb3]).unwrap();
        assert!(!v.verify(&short, 5, 0, Some(&sig3)), "v{version}");
    }
}

#[test]
fn v0_assembly_shares_nodes() {
    let n = nodes_at(&[8, 9, 11]);
    let input = |signer, nodes: &[Node]| PartialSignature {
        signer,
        signature: [signer as u8; 64],
        patch: 2,
        nodes: nodes.to_vec(),
    };
    let c = assemble_v0(&[input(0, &n[..2]), input(1, &n[1..])]).unwrap();
    assert_eq!(c.patch, n);
    assert_eq!(c.proofs[1].patch.as_ref().unwrap().nodes, [1, 2]);
    assert_eq!(MultiSignatureV0::decode_from(&c.to_vec()).unwrap(), c);
    let bad = PartialSignature {
        nodes: Vec::new(),
        ..input(0, &[])
    };
    assert!(matches!(assemble_v0(&[bad]), Err(Error::Misuse(_))));
}

#[test]
fn not_a_signer() {
    let m = crate::manifest::default_manifest(&[9; 32]);
    let kp = KeyPair::from_seed(&[1; 32]);
    assert!(matches!(
        sign(&m, &[0; 32], &[], 0, 0, &kp),
        Err(Error::Misuse(_))
    ));
}

#[test]
fn garbage_signatures_are_rejected() {
    let (m, ..) = two_signers(true, 1);
    let key = manifest_hash(&m);
    let roots = tree(3);
    for sig in [
        &[][..],
        &[0xff; 3],
        &[0x02, 0x05],
        &[0xfe, 0xff, 0xff, 0xff, 0xff],
        &[0x01; 200],
    ] {
        assert!(!verify(&m, &key, &roots, 3, 0, Some(sig)));
    }
    assert!(!verify(&m, &key, &roots, 3, 0, None));
}
