//! The multisig containers: version 1 ([`MultiSignature`]) and version 0
//! ([`MultiSignatureV0`], with [`PatchV0`]), byte-exact with the reference's `multisig`.

use super::*;

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
