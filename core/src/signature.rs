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

// ---------------------------------------------------------------------------------------
// Multisig containers
// ---------------------------------------------------------------------------------------

/// One signer's entry in a [`MultiSignature`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureProof {
    /// Index of the signer in the manifest's signer list.
    pub signer: u64,
    /// The raw Ed25519 signature.
    pub signature: [u8; 64],
    /// How many blocks beyond the verified length this signer signed (0 = none); only
    /// honoured when the manifest allows patches.
    pub patch: u64,
}

/// The version-1 multisig container (`array(proof) ‖ array(node)`), the signature format of
/// manifest-mode cores even with a single signer.
///
/// ```
/// use ferrocore::signature::{MultiSignature, SignatureProof};
/// use ferrocore::wire::{Decode, Encode};
///
/// let one = MultiSignature {
///     proofs: vec![SignatureProof { signer: 0, signature: [7; 64], patch: 0 }],
///     patch: vec![],
/// };
/// let bytes = one.to_vec();
/// assert_eq!(bytes.len(), 68);
/// assert_eq!((bytes[0], bytes[1], bytes[66], bytes[67]), (1, 0, 0, 0));
/// assert_eq!(MultiSignature::decode_from(&bytes).unwrap(), one);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiSignature {
    /// One entry per signature, in the order the writer assembled them.
    pub proofs: Vec<SignatureProof>,
    /// Tree nodes that let a verifier extend its tree for patched proofs (deduplicated by
    /// index).
    pub patch: Vec<Node>,
}

/// A version-0 patch: the signed tree extends the verified one by `length` blocks; `nodes`
/// index into the container's node list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchV0 {
    /// Block just after the last patch node's span (as the reference computes it).
    pub start: u64,
    /// Number of extra blocks signed.
    pub length: u64,
    /// Positions in [`MultiSignatureV0::patch`].
    pub nodes: Vec<u64>,
}

/// One signer's entry in a [`MultiSignatureV0`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureProofV0 {
    /// Index of the signer in the manifest's signer list.
    pub signer: u64,
    /// The raw Ed25519 signature.
    pub signature: [u8; 64],
    /// The patch, if this signer signed a longer tree.
    pub patch: Option<PatchV0>,
}

/// The version-0 multisig container (`array(proofV0) ‖ array(node)`), used by version-0
/// manifests with several signers or patches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MultiSignatureV0 {
    /// One entry per signature.
    pub proofs: Vec<SignatureProofV0>,
    /// Tree nodes referenced by the proofs' patches.
    pub patch: Vec<Node>,
}

const PROOF_MIN_LEN: usize = 1 + 64 + 1;
const PROOF_V0_MIN_LEN: usize = 1 + 1 + 64;

impl Encode for SignatureProof {
    fn encoded_len(&self) -> usize {
        uint_len(self.signer) + 64 + uint_len(self.patch)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.signer).raw(&self.signature).uint(self.patch);
    }
}

impl Decode for SignatureProof {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            signer: r.uint()?,
            signature: r.fixed()?,
            patch: r.uint()?,
        })
    }
}

impl Encode for MultiSignature {
    fn encoded_len(&self) -> usize {
        array_len(&self.proofs) + array_len(&self.patch)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.array(&self.proofs).array(&self.patch);
    }
}

impl Decode for MultiSignature {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            proofs: r.array(PROOF_MIN_LEN)?,
            patch: r.array(Node::MIN_ENCODED_LEN)?,
        })
    }
}

impl Encode for PatchV0 {
    fn encoded_len(&self) -> usize {
        uint_len(self.start)
            + uint_len(self.length)
            + uint_len(self.nodes.len() as u64)
            + self.nodes.iter().map(|&n| uint_len(n)).sum::<usize>()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.start)
            .uint(self.length)
            .uint(self.nodes.len() as u64);
        for &n in &self.nodes {
            w.uint(n);
        }
    }
}

impl Decode for PatchV0 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = r.uint()?;
        let length = r.uint()?;
        let count = r.array_count(1)?;
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            nodes.push(r.uint()?);
        }
        Ok(Self {
            start,
            length,
            nodes,
        })
    }
}

impl Encode for SignatureProofV0 {
    fn encoded_len(&self) -> usize {
        1 + uint_len(self.signer) + 64 + self.patch.as_ref().map_or(0, Encode::encoded_len)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(u64::from(self.patch.is_some()))
            .uint(self.signer)
            .raw(&self.signature);
        if let Some(p) = &self.patch {
            p.encode(w);
        }
    }
}

impl Decode for SignatureProofV0 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        let signer = r.uint()?;
        let signature = r.fixed()?;
        let patch = if flags & 1 != 0 {
            Some(PatchV0::decode(r)?)
        } else {
            None
        };
        Ok(Self {
            signer,
            signature,
            patch,
        })
    }
}

impl Encode for MultiSignatureV0 {
    fn encoded_len(&self) -> usize {
        array_len(&self.proofs) + array_len(&self.patch)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.array(&self.proofs).array(&self.patch);
    }
}

impl Decode for MultiSignatureV0 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            proofs: r.array(PROOF_V0_MIN_LEN)?,
            patch: r.array(Node::MIN_ENCODED_LEN)?,
        })
    }
}

impl From<MultiSignatureV0> for MultiSignature {
    /// The reference's `proofToVersion1`: a v0 patch becomes its `length`; its `start` and
    /// node positions are not used for verification.
    fn from(v0: MultiSignatureV0) -> Self {
        Self {
            proofs: v0
                .proofs
                .into_iter()
                .map(|p| SignatureProof {
                    signer: p.signer,
                    signature: p.signature,
                    patch: p.patch.map_or(0, |p| p.length),
                })
                .collect(),
            patch: v0.patch,
        }
    }
}

/// One signer's contribution before assembly: a raw signature, plus for a patched proof the
/// number of extra blocks and the tree nodes at [`patch_indexes`]`(verified_length, patch)`
/// taken from the signer's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartialSignature {
    /// Index of the signer in the manifest's signer list.
    pub signer: u64,
    /// The raw Ed25519 signature.
    pub signature: [u8; 64],
    /// Extra blocks signed beyond the length being verified (0 = none).
    pub patch: u64,
    /// The patch nodes (empty when `patch` is 0).
    pub nodes: Vec<Node>,
}

/// Assembles a version-1 container from partial signatures, in the given order (the
/// reference's `multisig.assemble`): patch nodes are de-duplicated by index, first wins.
#[must_use]
pub fn assemble(inputs: &[PartialSignature]) -> MultiSignature {
    let mut out = MultiSignature::default();
    let mut seen = BTreeMap::new();
    for input in inputs {
        for node in &input.nodes {
            if seen.insert(node.index, ()).is_none() {
                out.patch.push(*node);
            }
        }
        out.proofs.push(SignatureProof {
            signer: input.signer,
            signature: input.signature,
            patch: input.patch,
        });
    }
    out
}

/// Assembles a version-0 container (the reference's `multisig.assemblev0`): patch nodes are
/// shared between proofs when identical (same index, size and hash).
///
/// # Errors
/// [`Error::Misuse`] if an input has a patch but no nodes, or a last node index ≥ 2^63.
pub fn assemble_v0(inputs: &[PartialSignature]) -> Result<MultiSignatureV0, Error> {
    let mut out = MultiSignatureV0::default();
    for input in inputs {
        let patch = if input.patch == 0 {
            None
        } else {
            let last = input
                .nodes
                .last()
                .filter(|n| n.index < 2 * MAX_TREE_LENGTH)
                .ok_or(Error::Misuse(
                    "a patched partial signature needs its nodes (indexes below 2^63)",
                ))?;
            let mut positions = Vec::with_capacity(input.nodes.len());
            for node in &input.nodes {
                let pos = match out.patch.iter().position(|n| n == node) {
                    Some(p) => p,
                    None => {
                        out.patch.push(*node);
                        out.patch.len() - 1
                    }
                };
                positions.push(pos as u64);
            }
            Some(PatchV0 {
                start: flat_tree::right_span(last.index) / 2 + 1,
                length: input.patch,
                nodes: positions,
            })
        };
        out.proofs.push(SignatureProofV0 {
            signer: input.signer,
            signature: input.signature,
            patch,
        });
    }
    Ok(out)
}

/// The indexes of the nodes that extend a tree of `start` blocks to `start + length` blocks,
/// in the order a verifier appends them (the reference's `generateUpgrade`): first the
/// right-hand siblings on the path from the last leaf up to the new root that contains it,
/// then every further new root. `None` if the tree would exceed 2^62 blocks.
///
/// ```
/// use ferrocore::signature::patch_indexes;
/// // 10 blocks (roots 7, 17) → 16 blocks (root 15): add 21 and 27.
/// assert_eq!(patch_indexes(10, 6), Some(vec![21, 27]));
/// // 4 → 5 blocks: root 3 stays, leaf 8 is new.
/// assert_eq!(patch_indexes(4, 1), Some(vec![8]));
/// ```
#[must_use]
pub fn patch_indexes(start: u64, length: u64) -> Option<Vec<u64>> {
    let end = start.checked_add(length)?;
    if end > MAX_TREE_LENGTH {
        return None;
    }
    let from = 2 * start;
    let mut out = Vec::new();
    let mut path_done = false;
    for root in flat_tree::full_roots(end) {
        if flat_tree::right_span(root) + 1 < from {
            continue;
        }
        if !path_done && from >= 2 && flat_tree::contains(root, from - 2) {
            let target = from - 2;
            let mut cur = target;
            while cur != root {
                let sibling = flat_tree::sibling(cur);
                if sibling > target {
                    out.push(sibling);
                }
                cur = flat_tree::parent(cur);
            }
        } else {
            out.push(root);
        }
        path_done = true;
    }
    Some(out)
}

/// Extends `roots` (the full roots of `length` blocks) by `patch` blocks with nodes looked up
/// in `nodes`, merging siblings as they meet. Returns the new tree hash and length, or `None`
/// if a node is missing or the roots are not those of `length`.
fn patched_tree(
    roots: &[Node],
    length: u64,
    patch: u64,
    nodes: &BTreeMap<u64, Node>,
) -> Option<(Hash, u64)> {
    if !roots
        .iter()
        .map(|r| r.index)
        .eq(flat_tree::full_roots(length))
    {
        return None;
    }
    let mut stack: Vec<Node> = roots.to_vec();
    for index in patch_indexes(length, patch)? {
        push_root(&mut stack, *nodes.get(&index)?, |_| {})?;
    }
    Some((hash::tree_hash(&stack), length + patch))
}

// ---------------------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------------------

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
mod tests {
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
}
