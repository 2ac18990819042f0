//! Property tests for signatures, block encryption and z-base-32.

use ferrocore::encryption::{BlockEncryption, KeyMode, PADDING};
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{self, create_manifest, ManifestOptions, SignerOptions};
use ferrocore::signature::{self, patch_indexes, Verifier};
use ferrocore::{hash, id, Manifest};
use proptest::prelude::*;

mod crypto_support;
use crypto_support::{node_from, roots_of};

fn blocks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..40)
}

/// Forks a JS peer can represent.
fn fork() -> impl Strategy<Value = u64> {
    0..(1u64 << 53)
}

/// The core key of the default manifest of `kp` in either mode.
fn core(kp: &KeyPair, compat: bool) -> (Manifest, [u8; 32]) {
    let m = manifest::default_manifest(&kp.public_key);
    let key = manifest::core_key(&m, compat).unwrap();
    (m, key)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify(seed in any::<[u8; 32]>(), blocks in blocks(), fork in fork(), compat in any::<bool>()) {
        let kp = KeyPair::from_seed(&seed);
        let (m, key) = core(&kp, compat);
        let length = blocks.len() as u64;
        let roots = roots_of(&blocks);
        let sig = signature::sign(&m, &key, &roots, length, fork, &kp).unwrap();
        prop_assert_eq!(sig.len(), if compat { 64 } else { 68 });
        prop_assert!(signature::verify(&m, &key, &roots, length, fork, Some(&sig)));
        prop_assert!(!signature::verify(&m, &key, &roots, length + 1, fork, Some(&sig)));
        prop_assert!(!signature::verify(&m, &key, &roots, length, fork + 1, Some(&sig)));
        // Another block's content changes the roots, so the tree hash.
        let mut other = blocks.clone();
        other[0].push(0);
        prop_assert!(!signature::verify(&m, &key, &roots_of(&other), length, fork, Some(&sig)));
        // The other mode's key does not accept it.
        let (_, other_key) = core(&kp, !compat);
        prop_assert!(!signature::verify(&m, &other_key, &roots, length, fork, Some(&sig)));
    }

    /// Flipping any single bit makes the signature invalid, except in the `patch` varint of a
    /// container (byte 66), which the reference ignores when the manifest does not allow
    /// patches.
    #[test]
    fn any_flipped_bit_invalidates(seed in any::<[u8; 32]>(), blocks in blocks(), fork in fork(), compat in any::<bool>(), bit in 0usize..(68 * 8)) {
        let kp = KeyPair::from_seed(&seed);
        let (m, key) = core(&kp, compat);
        let length = blocks.len() as u64;
        let roots = roots_of(&blocks);
        let mut sig = signature::sign(&m, &key, &roots, length, fork, &kp).unwrap();
        let bit = bit % (sig.len() * 8);
        sig[bit / 8] ^= 1 << (bit % 8);
        let accepted = signature::verify(&m, &key, &roots, length, fork, Some(&sig));
        prop_assert_eq!(accepted, !compat && bit / 8 == 66, "bit {}", bit);
    }

    /// Random bytes are never a valid signature and never make verification panic, whatever
    /// the manifest kind.
    #[test]
    fn garbage_never_verifies(sig in prop::collection::vec(any::<u8>(), 0..300), version in 0u64..3, allow_patch in any::<bool>(), blocks in blocks()) {
        let a = KeyPair::from_seed(&[1; 32]);
        let b = KeyPair::from_seed(&[2; 32]);
        let m = create_manifest(&ManifestOptions {
            version: Some(version),
            allow_patch,
            signers: vec![SignerOptions::new(a.public_key), SignerOptions::new(b.public_key)],
            ..ManifestOptions::default()
        }).unwrap();
        let key = manifest::manifest_hash(&m);
        let roots = roots_of(&blocks);
        prop_assert!(!signature::verify(&m, &key, &roots, blocks.len() as u64, 0, Some(&sig)));
        let single = manifest::default_manifest(&a.public_key);
        prop_assert!(!signature::verify(&single, &a.public_key, &roots, blocks.len() as u64, 0, Some(&sig)));
    }

    /// A 2-of-2 patched multisig: one signer signed a longer tree; the container's patch
    /// nodes extend the verifier's tree to that length.
    #[test]
    fn patched_quorum(blocks in blocks(), extra in 1usize..12, version in 0u64..2) {
        let a = KeyPair::from_seed(&[1; 32]);
        let b = KeyPair::from_seed(&[2; 32]);
        let m = create_manifest(&ManifestOptions {
            version: Some(version),
            allow_patch: true,
            signers: vec![SignerOptions::new(a.public_key), SignerOptions::new(b.public_key)],
            ..ManifestOptions::default()
        }).unwrap();
        let key = manifest::manifest_hash(&m);
        let v = Verifier::new(&key, &m);
        let length = blocks.len() as u64;
        let mut longer = blocks.clone();
        longer.extend((0..extra).map(|i| vec![i as u8; i]));
        let long_len = longer.len() as u64;
        let (short_roots, long_roots) = (roots_of(&blocks), roots_of(&longer));
        let pa = v.partial_sign(&a, &hash::tree_hash(&short_roots), length, 3).unwrap();
        let mut pb = v.partial_sign(&b, &hash::tree_hash(&long_roots), long_len, 3).unwrap();
        pb.patch = extra as u64;
        pb.nodes = patch_indexes(length, extra as u64).unwrap().iter().map(|&i| node_from(&longer, i)).collect();
        let sig = v.assemble(&[pb, pa]).unwrap();
        prop_assert!(v.verify(&short_roots, length, 3, Some(&sig)));
        prop_assert!(!v.verify(&short_roots, length, 4, Some(&sig)));
    }

    #[test]
    fn encrypt_then_decrypt(key in any::<[u8; 32]>(), core_key in any::<[u8; 32]>(), mode in 0u8..3, index in any::<u64>(), fork in any::<u64>(), plaintext in prop::collection::vec(any::<u8>(), 0..300)) {
        let mode = [KeyMode::Manifest, KeyMode::Compat, KeyMode::BlockKey][mode as usize];
        let enc = BlockEncryption::new(&key, &core_key, mode);
        let stored = enc.encrypt(index, fork, &plaintext);
        prop_assert_eq!(stored.len(), plaintext.len() + PADDING);
        prop_assert_eq!(&stored[..PADDING], &enc.blinded_fork(index, fork));
        prop_assert_eq!(enc.unblind_fork(index, &enc.blinded_fork(index, fork)), fork);
        prop_assert_eq!(enc.decrypt(index, &stored).unwrap(), plaintext.clone());
        if plaintext.len() >= 8 {
            // The keystream depends on the index.
            prop_assert_ne!(enc.decrypt(index ^ 1, &stored).unwrap(), plaintext);
        }
    }

    #[test]
    fn z32_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let s = id::z32_encode(&bytes);
        prop_assert_eq!(s.len(), (bytes.len() * 8).div_ceil(5));
        prop_assert!(s.bytes().all(|c| id::ALPHABET.contains(&c)));
        prop_assert_eq!(id::z32_decode(&s).unwrap(), bytes);
    }

    #[test]
    fn z32_decode_is_canonical(s in "[ybndrfg8ejkmcpqxot1uwisza345h769]{0,60}") {
        // Whatever decodes re-encodes to the same string.
        if let Ok(bytes) = id::z32_decode(&s) {
            prop_assert_eq!(id::z32_encode(&bytes), s);
        }
    }

    #[test]
    fn key_ids_round_trip(key in any::<[u8; 32]>()) {
        let core_id = id::core_id(&key);
        prop_assert_eq!(id::decode_key(&core_id).unwrap(), key);
        prop_assert_eq!(id::decode_key(&format!("pear://{core_id}/x/y")).unwrap(), key);
        prop_assert_eq!(id::normalize(&hex::encode(key)).unwrap(), core_id);
    }
}
