//! Tree signables and signature verification.
//!
//! Interim minimal version (compat and version-1 single-signer manifests only); replaced
//! by the full module at merge.

use ed25519_dalek::{Signature, VerifyingKey};

use crate::hash::{ns, tree_hash};
use crate::manifest::is_compat;
use crate::{Manifest, Node};

fn ed25519_verify(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(signature) else {
        return false;
    };
    let Ok(vk) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    vk.verify_strict(message, &Signature::from_bytes(&sig))
        .is_ok()
}

/// Verifies `signature` over the tree state `(treeHash(roots), length, fork)` of the core
/// with `key` and `manifest`.
#[must_use]
pub fn verify(
    manifest: &Manifest,
    key: &[u8; 32],
    roots: &[Node],
    length: u64,
    fork: u64,
    signature: Option<&[u8]>,
) -> bool {
    let tree = tree_hash(roots);
    if is_compat(key, manifest) {
        let mut signable = [0u8; 80];
        signable[..32].copy_from_slice(&ns::TREE);
        signable[32..64].copy_from_slice(&tree);
        signable[64..72].copy_from_slice(&length.to_le_bytes());
        signable[72..].copy_from_slice(&fork.to_le_bytes());
        return signature.is_some_and(|s| ed25519_verify(key, &signable, s));
    }
    if manifest.version == 0 {
        return false;
    }
    if let Some(p) = &manifest.prologue {
        if length <= p.length {
            return length == p.length && tree == p.hash;
        }
    }
    let (Some(sig), [signer]) = (signature, manifest.signers.as_slice()) else {
        return false;
    };
    if manifest.quorum != 1 || sig.len() != 68 || sig[..2] != [1, 0] || sig[66..] != [0, 0] {
        return false;
    }
    let mut signable = [0u8; 112];
    signable[..32].copy_from_slice(&ns::TREE);
    signable[32..64].copy_from_slice(key);
    signable[64..96].copy_from_slice(&tree);
    signable[96..104].copy_from_slice(&length.to_le_bytes());
    signable[104..].copy_from_slice(&fork.to_le_bytes());
    ed25519_verify(&signer.public_key, &signable, &sig[2..66])
}
