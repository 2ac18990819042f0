//! [`Verifier`]: signing and verifying tree states for one core.

use super::assemble::patched_tree;
use super::*;

/// Signs and verifies tree states for one core (`key`, `manifest`), like the reference's
/// `Verifier`.
///
/// The mode is compat iff [`manifest::is_compat`](crate::manifest::is_compat)`(key,
/// manifest)`, unless overridden with [`with_compat`](Self::with_compat). In compat mode the
/// manifest's version, quorum, patches and prologue are ignored: signer 0 signs the 80-byte
/// signable.
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    key: Hash,
    manifest: &'a Manifest,
    compat: bool,
    legacy: bool,
    /// Signers' keys decoded ahead (see [`with_decoded`](Self::with_decoded)).
    decoded: &'a [DecodedKey],
}

impl<'a> Verifier<'a> {
    /// A verifier for the core `key` with `manifest`.
    #[must_use]
    pub fn new(key: &Hash, manifest: &'a Manifest) -> Self {
        Self {
            key: *key,
            manifest,
            compat: crate::manifest::is_compat(key, manifest),
            legacy: false,
            decoded: &[],
        }
    }

    /// Verifies with signer keys decoded ahead ([`decode_signers`]) instead of decoding
    /// each signer's key per verification. A key whose bytes are not the signer's is not
    /// used, so stale keys cost time, never correctness.
    #[must_use]
    pub fn with_decoded(mut self, decoded: &'a [DecodedKey]) -> Self {
        self.decoded = decoded;
        self
    }

    /// Forces compat mode on or off (the reference's `compat` option).
    #[must_use]
    pub fn with_compat(mut self, compat: bool) -> Self {
        self.compat = compat;
        self
    }

    /// Compat signables without the `ns::TREE` header (the reference's `legacy` option).
    #[must_use]
    pub fn with_legacy(mut self, legacy: bool) -> Self {
        self.legacy = legacy;
        self
    }

    /// True in compat mode.
    #[must_use]
    pub fn is_compat(&self) -> bool {
        self.compat
    }

    /// The effective version: 0 in compat mode, else the manifest's.
    #[must_use]
    pub fn version(&self) -> u64 {
        if self.compat {
            0
        } else {
            self.manifest.version
        }
    }

    /// The effective quorum: 1 in compat mode, else the manifest's.
    #[must_use]
    pub fn quorum(&self) -> u64 {
        if self.compat {
            1
        } else {
            self.manifest.quorum
        }
    }

    fn allow_patch(&self) -> bool {
        !self.compat && self.manifest.allow_patch
    }

    fn prologue(&self) -> Option<&Prologue> {
        if self.compat {
            None
        } else {
            self.manifest.prologue.as_ref()
        }
    }

    fn signer(&self, index: u64) -> Option<&Signer> {
        self.manifest.signers.get(usize::try_from(index).ok()?)
    }

    /// What signer `signer` signs for the state `(tree_hash, length, fork)`; `None` if there
    /// is no such signer.
    #[must_use]
    pub fn signable(
        &self,
        signer: u64,
        tree_hash: &Hash,
        length: u64,
        fork: u64,
    ) -> Option<Signable> {
        let s = self.signer(signer)?;
        Some(if self.compat && self.legacy {
            Signable::from_slice(&legacy_signable(tree_hash, length, fork))
        } else if self.compat {
            Signable::from_slice(&compat_signable(tree_hash, length, fork))
        } else if self.manifest.version == 0 {
            Signable::from_slice(&signable(&s.namespace, tree_hash, length, fork))
        } else {
            Signable::from_slice(&signable(&self.key, tree_hash, length, fork))
        })
    }

    fn verify_one(
        &self,
        signer: u64,
        tree_hash: &Hash,
        length: u64,
        fork: u64,
        sig: &[u8],
    ) -> bool {
        let (Some(s), Ok(sig)) = (self.signer(signer), <&[u8; 64]>::try_from(sig)) else {
            return false;
        };
        let decoded = usize::try_from(signer)
            .ok()
            .and_then(|i| self.decoded.get(i))
            .filter(|k| k.public_key() == &s.public_key);
        self.signable(signer, tree_hash, length, fork)
            .is_some_and(|m| match decoded {
                Some(k) => k.verify(&m, sig),
                None => keys::verify(&s.public_key, &m, sig),
            })
    }

    /// Verifies `signature` for the tree with `roots` (ascending, the full roots of
    /// `length`), `length` and `fork`, with the reference's rules:
    ///
    /// * version ≥ 1 with a prologue and `length ≤ prologue.length`: valid iff the length and
    ///   tree hash equal the prologue's (the signature is not consulted);
    /// * compat, or version 0 with one signer and no patches: one raw 64-byte signature;
    /// * otherwise the multisig container of the version: quorum 0 or a missing signature is
    ///   invalid; the first `quorum` proofs must each verify, each signer at most once, signer
    ///   indexes in range; a proof with a patch (honoured only when the manifest allows
    ///   patches) is checked against the tree extended with the container's nodes.
    ///
    /// Malformed signature bytes make it return `false`; it never panics.
    #[must_use]
    pub fn verify(&self, roots: &[Node], length: u64, fork: u64, signature: Option<&[u8]>) -> bool {
        let tree_hash = hash::tree_hash(roots);
        if self.version() == 0 {
            let Some(sig) = signature else {
                return false;
            };
            if self.compat || (!self.allow_patch() && self.manifest.signers.len() == 1) {
                return self.verify_one(0, &tree_hash, length, fork, sig);
            }
        } else if let Some(p) = self.prologue() {
            if length <= p.length {
                return length == p.length && tree_hash == p.hash;
            }
        }
        self.verify_multi(roots, &tree_hash, length, fork, signature)
    }

    fn decode_container(&self, sig: &[u8]) -> Option<MultiSignature> {
        if self.version() == 0 {
            MultiSignatureV0::decode_from(sig).ok().map(Into::into)
        } else {
            MultiSignature::decode_from(sig).ok()
        }
    }

    fn verify_multi(
        &self,
        roots: &[Node],
        tree_hash: &Hash,
        length: u64,
        fork: u64,
        signature: Option<&[u8]>,
    ) -> bool {
        let quorum = self.quorum();
        let Some(sig) = signature else {
            return false;
        };
        if quorum == 0 {
            return false;
        }
        let Some(container) = self.decode_container(sig) else {
            return false;
        };
        if (container.proofs.len() as u64) < quorum {
            return false;
        }
        // Later nodes with the same index replace earlier ones, as the reference's map does.
        let nodes: BTreeMap<u64, Node> = if self.allow_patch() {
            container.patch.iter().map(|n| (n.index, *n)).collect()
        } else {
            BTreeMap::new()
        };
        let mut tried = vec![false; self.manifest.signers.len()];
        for proof in container.proofs.iter().take(quorum as usize) {
            let (th, len) = if proof.patch > 0 && self.allow_patch() {
                match patched_tree(roots, length, proof.patch, &nodes) {
                    Some(t) => t,
                    None => return false,
                }
            } else {
                (*tree_hash, length)
            };
            let Some(seen) = usize::try_from(proof.signer)
                .ok()
                .and_then(|i| tried.get_mut(i))
            else {
                return false;
            };
            if *seen {
                return false;
            }
            *seen = true;
            if !self.verify_one(proof.signer, &th, len, fork, &proof.signature) {
                return false;
            }
        }
        true
    }

    /// `key_pair`'s raw signature of the state, as signer number `signer` (the first signer
    /// with its public key).
    ///
    /// # Errors
    /// [`Error::Misuse`] if the key pair is not a declared signer.
    pub fn partial_sign(
        &self,
        key_pair: &KeyPair,
        tree_hash: &Hash,
        length: u64,
        fork: u64,
    ) -> Result<PartialSignature, Error> {
        let index = self
            .manifest
            .signers
            .iter()
            .position(|s| s.public_key == key_pair.public_key)
            .ok_or(Error::Misuse("public key is not a declared signer"))?;
        let index = index as u64;
        let msg = self
            .signable(index, tree_hash, length, fork)
            .ok_or(Error::Misuse("public key is not a declared signer"))?;
        Ok(PartialSignature {
            signer: index,
            signature: key_pair.sign(&msg),
            patch: 0,
            nodes: Vec::new(),
        })
    }

    /// Signs the state like the reference's `Verifier.sign`: a single signer of a version ≥ 1
    /// manifest gets the 68-byte container; compat, version 0 and multi-signer manifests
    /// get the raw 64-byte signature (combine several with [`assemble`](Self::assemble)).
    ///
    /// # Errors
    /// [`Error::Misuse`] if the key pair is not a declared signer.
    pub fn sign(
        &self,
        key_pair: &KeyPair,
        tree_hash: &Hash,
        length: u64,
        fork: u64,
    ) -> Result<Vec<u8>, Error> {
        let partial = self.partial_sign(key_pair, tree_hash, length, fork)?;
        if self.manifest.signers.len() != 1 || self.version() == 0 {
            return Ok(partial.signature.to_vec());
        }
        Ok(assemble(&[partial]).to_vec())
    }

    /// Encodes partial signatures into the container of this manifest's version.
    ///
    /// # Errors
    /// [`Error::Misuse`] for a version-0 input with a patch but no nodes.
    pub fn assemble(&self, inputs: &[PartialSignature]) -> Result<Vec<u8>, Error> {
        if self.version() == 0 {
            Ok(assemble_v0(inputs)?.to_vec())
        } else {
            Ok(assemble(inputs).to_vec())
        }
    }
}
