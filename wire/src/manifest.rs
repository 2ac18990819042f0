//! Manifests: who may sign a core, and their compact encodings.
//!
//! Version ≥ 1 (the 11.x default):
//!
//! ```text
//! uint version ‖ uint flags (bit0 allowPatch, bit1 prologue, bit2 linked, bit3 userData)
//! ‖ uint hash (0 = BLAKE2b) ‖ uint quorum ‖ array(signer)
//! ‖ [fixed32 prologue.hash ‖ uint prologue.length] ‖ [array(fixed32) linked] ‖ [buffer userData]
//! signer = uint signature (0 = Ed25519) ‖ fixed32 namespace ‖ fixed32 publicKey
//! ```
//!
//! Version 0 (legacy) is `uint 0 ‖ uint hash ‖ uint type` followed by a prologue hash
//! (type 0), one signer (type 1), or `uint flags ‖ uint quorum ‖ array(signer)` (type 2).
//!
//! Hashing a manifest into a core key is `ferrocore`'s job; this module only moves bytes.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::encoding::{array_len, buffer_len, uint_len, Decode, Encode, Reader, Writer};
use crate::DecodeError;

/// The tree hash function of a manifest. Only BLAKE2b (id 0) exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// BLAKE2b-256 (id 0).
    #[default]
    Blake2b,
}

/// The signature scheme of a manifest signer. Only Ed25519 (id 0) exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// Ed25519 (id 0).
    #[default]
    Ed25519,
}

/// One signer of a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signer {
    /// The signature scheme.
    pub signature: SignatureAlgorithm,
    /// The signer's namespace (`DEFAULT_NAMESPACE` unless given). Part of the manifest
    /// hash; in version-0 manifests also part of the signable.
    pub namespace: [u8; 32],
    /// The signer's Ed25519 public key.
    pub public_key: [u8; 32],
}

/// A fixed, unsigned prefix of the core: the tree hash at `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prologue {
    /// Tree hash of the prefix.
    pub hash: [u8; 32],
    /// Length of the prefix in blocks.
    pub length: u64,
}

/// A manifest: the signing policy a core key commits to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Manifest {
    /// Format version: 0 (legacy), 1 (default), 2+ (linked / user data).
    pub version: u64,
    /// Tree hash function.
    pub hash: HashAlgorithm,
    /// Signers may sign a longer tree than the one being verified (patches).
    pub allow_patch: bool,
    /// How many signers must sign.
    pub quorum: u64,
    /// The signers.
    pub signers: Vec<Signer>,
    /// A prefix that needs no signature.
    pub prologue: Option<Prologue>,
    /// Linked core keys (version ≥ 2).
    pub linked: Option<Vec<[u8; 32]>>,
    /// Opaque application data (version ≥ 2).
    pub user_data: Option<Bytes>,
}

const SIGNER_LEN: usize = 1 + 32 + 32;
const V0_TYPE_PROLOGUE: u64 = 0;
const V0_TYPE_SINGLE: u64 = 1;
const V0_TYPE_FULL: u64 = 2;

impl Encode for Signer {
    fn encoded_len(&self) -> usize {
        SIGNER_LEN
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(0).raw(&self.namespace).raw(&self.public_key);
    }
}

impl Decode for Signer {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let alg = r.uint()?;
        if alg != 0 {
            return Err(DecodeError::UnknownSignatureAlgorithm(alg));
        }
        Ok(Self {
            signature: SignatureAlgorithm::Ed25519,
            namespace: r.fixed()?,
            public_key: r.fixed()?,
        })
    }
}

struct Key32([u8; 32]);

impl Encode for Key32 {
    fn encoded_len(&self) -> usize {
        32
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.0);
    }
}

impl Decode for Key32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self(r.fixed()?))
    }
}

impl Manifest {
    fn flags(&self) -> u64 {
        u64::from(self.allow_patch)
            | if self.prologue.is_some() { 2 } else { 0 }
            | if self.linked.is_some() { 4 } else { 0 }
            | if self.user_data.is_some() { 8 } else { 0 }
    }

    fn v0_type(&self) -> u64 {
        if self.prologue.is_some() && self.signers.is_empty() {
            V0_TYPE_PROLOGUE
        } else if self.quorum == 1 && self.signers.len() == 1 && !self.allow_patch {
            V0_TYPE_SINGLE
        } else {
            V0_TYPE_FULL
        }
    }
}

impl Encode for Manifest {
    fn encoded_len(&self) -> usize {
        if self.version == 0 {
            let body = match self.v0_type() {
                V0_TYPE_PROLOGUE => 32,
                V0_TYPE_SINGLE => SIGNER_LEN,
                _ => 1 + uint_len(self.quorum) + array_len(&self.signers),
            };
            return 3 + body;
        }
        let mut n = uint_len(self.version)
            + uint_len(self.flags())
            + 1
            + uint_len(self.quorum)
            + array_len(&self.signers);
        if let Some(p) = &self.prologue {
            n += 32 + uint_len(p.length);
        }
        if let Some(l) = &self.linked {
            n += uint_len(l.len() as u64) + 32 * l.len();
        }
        if let Some(u) = &self.user_data {
            n += buffer_len(u.len());
        }
        n
    }

    fn encode(&self, w: &mut Writer<'_>) {
        if self.version == 0 {
            let ty = self.v0_type();
            w.uint(0).uint(0).uint(ty);
            match ty {
                V0_TYPE_PROLOGUE => {
                    let hash = self.prologue.map_or([0; 32], |p| p.hash);
                    w.raw(&hash);
                }
                V0_TYPE_SINGLE => {
                    self.signers[0].encode(w);
                }
                _ => {
                    w.uint(u64::from(self.allow_patch))
                        .uint(self.quorum)
                        .array(&self.signers);
                }
            }
            return;
        }
        w.uint(self.version)
            .uint(self.flags())
            .uint(0)
            .uint(self.quorum)
            .array(&self.signers);
        if let Some(p) = &self.prologue {
            w.raw(&p.hash).uint(p.length);
        }
        if let Some(l) = &self.linked {
            w.uint(l.len() as u64);
            for k in l {
                w.raw(k);
            }
        }
        if let Some(u) = &self.user_data {
            w.buffer(u);
        }
    }
}

impl Decode for Manifest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let version = r.uint()?;
        if version > 3 {
            return Err(DecodeError::UnsupportedManifestVersion(version));
        }
        if version == 0 {
            return decode_v0(r);
        }
        let flags = r.uint()?;
        let hash = decode_hash(r)?;
        let quorum = r.uint()?;
        let signers = r.array(SIGNER_LEN)?;
        let prologue = if flags & 2 != 0 {
            Some(Prologue {
                hash: r.fixed()?,
                length: r.uint()?,
            })
        } else {
            None
        };
        let linked = if flags & 4 != 0 {
            Some(r.array::<Key32>(32)?.into_iter().map(|k| k.0).collect())
        } else {
            None
        };
        let user_data = if flags & 8 != 0 {
            Some(r.buffer_bytes()?)
        } else {
            None
        };
        Ok(Self {
            version,
            hash,
            allow_patch: flags & 1 != 0,
            quorum,
            signers,
            prologue,
            linked,
            user_data,
        })
    }
}

fn decode_v0(r: &mut Reader<'_>) -> Result<Manifest, DecodeError> {
    let hash = decode_hash(r)?;
    let ty = r.uint()?;
    let base = Manifest {
        version: 0,
        hash,
        allow_patch: false,
        quorum: 0,
        signers: Vec::new(),
        prologue: None,
        linked: None,
        user_data: None,
    };
    match ty {
        V0_TYPE_PROLOGUE => Ok(Manifest {
            prologue: Some(Prologue {
                hash: r.fixed()?,
                length: 0,
            }),
            ..base
        }),
        V0_TYPE_SINGLE => {
            let signers = alloc::vec![Signer::decode(r)?];
            Ok(Manifest {
                quorum: 1,
                signers,
                ..base
            })
        }
        V0_TYPE_FULL => {
            let flags = r.uint()?;
            let quorum = r.uint()?;
            let signers = r.array(SIGNER_LEN)?;
            Ok(Manifest {
                allow_patch: flags & 1 != 0,
                quorum,
                signers,
                ..base
            })
        }
        other => Err(DecodeError::UnknownManifestType(other)),
    }
}

fn decode_hash(r: &mut Reader<'_>) -> Result<HashAlgorithm, DecodeError> {
    match r.uint()? {
        0 => Ok(HashAlgorithm::Blake2b),
        other => Err(DecodeError::UnknownHashAlgorithm(other)),
    }
}
