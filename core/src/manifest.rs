//! Manifest hashing and core keys.
//!
//! Interim minimal version (only what proof verification needs); replaced by the full
//! module at merge.

use alloc::vec;
use ferrocore_wire::{Encode, HashAlgorithm, Manifest, SignatureAlgorithm, Signer};

use crate::hash::{blake2b256, ns, Hash};

/// `H(ns(MANIFEST) ‖ encode(manifest))`: the core key of a manifest-mode core.
#[must_use]
pub fn manifest_hash(m: &Manifest) -> Hash {
    blake2b256(&[&ns::MANIFEST, &m.to_vec()])
}

/// The default single-signer manifest (version 1, quorum 1, `DEFAULT_NAMESPACE`) of a
/// public key.
#[must_use]
pub fn default_manifest(public_key: &[u8; 32]) -> Manifest {
    Manifest {
        version: 1,
        hash: HashAlgorithm::Blake2b,
        allow_patch: false,
        quorum: 1,
        signers: vec![Signer {
            signature: SignatureAlgorithm::Ed25519,
            namespace: ns::DEFAULT_NAMESPACE,
            public_key: *public_key,
        }],
        prologue: None,
        linked: None,
        user_data: None,
    }
}

/// True if `(key, m)` is a compat pair: exactly one signer whose public key is `key`.
#[must_use]
pub fn is_compat(key: &[u8; 32], m: &Manifest) -> bool {
    m.signers.len() == 1 && m.signers[0].public_key == *key
}
