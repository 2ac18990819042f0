//! Tree signatures: signables, the multisig container, signing and verification against a
//! manifest, byte-exact with hypercore's `Verifier` and `multisig` modules.
//!
//! A tree state is `(treeHash, length, fork)`. What is signed depends on the mode:
//!
//! | mode | signable | signature as stored / sent |
//! |------|----------|----------------------------|
//! | compat (key = the signer's public key) | 80 bytes: `ns::TREE ‖ treeHash ‖ u64le(length) ‖ u64le(fork)` | raw 64 bytes |
//! | manifest, version ≥ 1 | 112 bytes: `ns::TREE ‖ key ‖ treeHash ‖ u64le(length) ‖ u64le(fork)` | [`MultiSignature`] container (68 bytes for one signer) |
//! | manifest, version 0 | 112 bytes with the *signer's namespace* in place of the key | raw for one signer without patches, else [`MultiSignatureV0`] |
//!
//! ```
//! use ferrocore::{hash, keys::KeyPair, manifest, signature};
//!
//! let kp = KeyPair::from_seed(&[1; 32]);
//! let m = manifest::default_manifest(&kp.public_key);
//! let key = manifest::manifest_hash(&m);
//! let roots = [hash::leaf(0, b"block 0")];
//!
//! let sig = signature::sign(&m, &key, &roots, 1, 0, &kp).unwrap();
//! assert_eq!(sig.len(), 68); // 01 00 ‖ ed25519 ‖ 00 00
//! assert!(signature::verify(&m, &key, &roots, 1, 0, Some(&sig)));
//! assert!(!signature::verify(&m, &key, &roots, 1, 1, Some(&sig))); // other fork
//!
//! // The same key pair in compat mode signs 80 bytes and stores the raw signature.
//! let compat = signature::sign(&m, &kp.public_key, &roots, 1, 0, &kp).unwrap();
//! assert_eq!(compat.len(), 64);
//! assert!(signature::verify(&m, &kp.public_key, &roots, 1, 0, Some(&compat)));
//! ```

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use ferrocore_wire::encoding::{array_len, uint_len};
use ferrocore_wire::{
    Decode, DecodeError, Encode, Manifest, Node, Prologue, Reader, Signer, Writer,
};

use crate::flat_tree;
use crate::hash::{self, ns, Hash};
use crate::keys::{self, DecodedKey, KeyPair};
use crate::proof::tree::push_root;
use crate::Error;

mod assemble;
mod multisig;
mod verifier;

pub use assemble::{assemble, assemble_v0, patch_indexes, PartialSignature};
pub use multisig::{MultiSignature, MultiSignatureV0, PatchV0, SignatureProof, SignatureProofV0};
pub use verifier::Verifier;

/// Length of a manifest-mode signable (`ns::TREE ‖ context ‖ treeHash ‖ length ‖ fork`).
pub const SIGNABLE_LEN: usize = 112;
/// Length of a compat-mode signable (`ns::TREE ‖ treeHash ‖ length ‖ fork`).
pub const COMPAT_SIGNABLE_LEN: usize = 80;
/// Length of a legacy compat signable without the `ns::TREE` header (`treeHash ‖ length ‖ fork`).
pub const LEGACY_SIGNABLE_LEN: usize = 48;

/// The longest tree a patch may describe (flat-tree indexes stay far from overflow).
const MAX_TREE_LENGTH: u64 = 1 << 62;

/// The 112-byte signable `ns::TREE ‖ context ‖ treeHash ‖ u64le(length) ‖ u64le(fork)`.
/// `context` is the manifest hash (the core key) for version ≥ 1, the signer's namespace
/// for version 0.
#[must_use]
pub fn signable(context: &Hash, tree_hash: &Hash, length: u64, fork: u64) -> [u8; SIGNABLE_LEN] {
    let mut out = [0u8; SIGNABLE_LEN];
    out[..32].copy_from_slice(&ns::TREE);
    out[32..64].copy_from_slice(context);
    out[64..].copy_from_slice(&legacy_signable(tree_hash, length, fork));
    out
}

/// The 80-byte compat signable `ns::TREE ‖ treeHash ‖ u64le(length) ‖ u64le(fork)`.
#[must_use]
pub fn compat_signable(tree_hash: &Hash, length: u64, fork: u64) -> [u8; COMPAT_SIGNABLE_LEN] {
    let mut out = [0u8; COMPAT_SIGNABLE_LEN];
    out[..32].copy_from_slice(&ns::TREE);
    out[32..].copy_from_slice(&legacy_signable(tree_hash, length, fork));
    out
}

/// The 48-byte header-less signable of the reference's `legacy: true` compat option:
/// `treeHash ‖ u64le(length) ‖ u64le(fork)`.
#[must_use]
pub fn legacy_signable(tree_hash: &Hash, length: u64, fork: u64) -> [u8; LEGACY_SIGNABLE_LEN] {
    let mut out = [0u8; LEGACY_SIGNABLE_LEN];
    out[..32].copy_from_slice(tree_hash);
    out[32..40].copy_from_slice(&length.to_le_bytes());
    out[40..].copy_from_slice(&fork.to_le_bytes());
    out
}

/// The bytes one signer signs for one tree state (48, 80 or 112 bytes), without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signable {
    buf: [u8; SIGNABLE_LEN],
    len: usize,
}

impl Signable {
    fn from_slice(bytes: &[u8]) -> Self {
        let mut buf = [0u8; SIGNABLE_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Self {
            buf,
            len: bytes.len(),
        }
    }

    /// The signable bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Deref for Signable {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Signable {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Signable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signable(")?;
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// The keys of `manifest`'s signers, decoded once for [`Verifier::with_decoded`].
#[must_use]
pub fn decode_signers(manifest: &Manifest) -> Vec<DecodedKey> {
    manifest
        .signers
        .iter()
        .map(|s| DecodedKey::new(&s.public_key))
        .collect()
}

/// Verifies `signature` for the tree state `(roots, length, fork)` of the core `key` with
/// `manifest`: [`Verifier::new`]`(key, manifest).verify(...)`; see [`Verifier::verify`].
#[must_use]
pub fn verify(
    manifest: &Manifest,
    key: &[u8; 32],
    roots: &[Node],
    length: u64,
    fork: u64,
    signature: Option<&[u8]>,
) -> bool {
    Verifier::new(key, manifest).verify(roots, length, fork, signature)
}

/// Signs the tree state `(roots, length, fork)` as a JS writer stores it: the 68-byte
/// container for the default single signer in manifest mode, the raw 64 bytes in compat mode
/// (see [`Verifier::sign`]).
///
/// # Errors
/// [`Error::Misuse`] if `key_pair` is not a declared signer.
pub fn sign(
    manifest: &Manifest,
    key: &[u8; 32],
    roots: &[Node],
    length: u64,
    fork: u64,
    key_pair: &KeyPair,
) -> Result<Vec<u8>, Error> {
    Verifier::new(key, manifest).sign(key_pair, &hash::tree_hash(roots), length, fork)
}

#[cfg(test)]
mod tests;
