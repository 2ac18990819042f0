//! Manifests: creation with the reference defaults, validation, hashing and core keys.
//!
//! The manifest type and its byte encodings live in [`ferrocore_wire::manifest`]; this module
//! gives them meaning:
//!
//! * `manifest_hash(m) = BLAKE2b-256(ns::MANIFEST ‖ encode(m))`;
//! * a core's key is the manifest hash (manifest mode, the 11.x default) or, in compat mode,
//!   the single signer's public key;
//! * a `(key, manifest)` pair "is compat" iff the manifest has exactly one signer and its
//!   public key is the key.
//!
//! ```
//! use ferrocore::keys::KeyPair;
//! use ferrocore::manifest;
//!
//! let kp = KeyPair::from_seed(&[9; 32]);
//! let m = manifest::default_manifest(&kp.public_key);
//! let key = manifest::core_key(&m, false).unwrap();
//! assert_eq!(key, manifest::manifest_hash(&m));
//! assert!(manifest::is_valid_manifest(&key, &m));
//! assert!(!manifest::is_compat(&key, &m));
//! // Compat mode: the key is the public key.
//! assert_eq!(manifest::core_key(&m, true).unwrap(), kp.public_key);
//! assert!(manifest::is_compat(&kp.public_key, &m));
//! ```

use alloc::vec::Vec;

use bytes::Bytes;
use ferrocore_wire::{Encode, HashAlgorithm, Manifest, Prologue, SignatureAlgorithm, Signer};

use crate::hash::{self, ns, Hash};
use crate::Error;

/// The highest manifest version this implementation creates and verifies (the wire decoder's
/// limit).
pub const MAX_VERSION: u64 = 3;

/// `BLAKE2b-256(ns::MANIFEST ‖ encode(manifest))`: the core key of a manifest-mode core.
#[must_use]
pub fn manifest_hash(manifest: &Manifest) -> Hash {
    hash::blake2b256(&[&ns::MANIFEST, &manifest.to_vec()])
}

/// The bytes [`manifest_hash`] hashes: `ns::MANIFEST ‖ encode(manifest)`.
#[must_use]
pub fn hash_preimage(manifest: &Manifest) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + manifest.encoded_len());
    out.extend_from_slice(&ns::MANIFEST);
    manifest.encode_append(&mut out);
    out
}

/// The default signer manifest of `public_key` (what a new writable core uses):
/// version 1, BLAKE2b, no patches, quorum 1, one Ed25519 signer with the default namespace,
/// no prologue, no links, no user data.
#[must_use]
pub fn default_manifest(public_key: &[u8; 32]) -> Manifest {
    Manifest {
        version: 1,
        hash: HashAlgorithm::Blake2b,
        allow_patch: false,
        quorum: 1,
        signers: alloc::vec![default_signer(public_key)],
        prologue: None,
        linked: None,
        user_data: None,
    }
}

fn default_signer(public_key: &[u8; 32]) -> Signer {
    Signer {
        signature: SignatureAlgorithm::Ed25519,
        namespace: ns::DEFAULT_NAMESPACE,
        public_key: *public_key,
    }
}

/// True iff `manifest` has exactly one signer whose public key is `key`: such a core is
/// verified in compat mode (80-byte signable, raw 64-byte signatures).
#[must_use]
pub fn is_compat(key: &[u8; 32], manifest: &Manifest) -> bool {
    matches!(manifest.signers.as_slice(), [only] if only.public_key == *key)
}

/// True iff `manifest` hashes to `key` (hypercore `Verifier.isValidManifest`).
#[must_use]
pub fn is_valid_manifest(key: &[u8; 32], manifest: &Manifest) -> bool {
    manifest_hash(manifest) == *key
}

/// The core key of a core with `manifest`: the manifest hash, or in compat mode the single
/// signer's public key.
///
/// # Errors
/// [`Error::Misuse`] if `compat` is set and the manifest does not have exactly one signer.
pub fn core_key(manifest: &Manifest, compat: bool) -> Result<Hash, Error> {
    if !compat {
        return Ok(manifest_hash(manifest));
    }
    match manifest.signers.as_slice() {
        [only] => Ok(only.public_key),
        _ => Err(Error::Misuse(
            "compat mode needs a manifest with exactly one signer",
        )),
    }
}

/// What `Hypercore.key(publicKey, { compat })` returns: the public key itself in compat mode,
/// else the hash of its default signer manifest.
///
/// ```
/// use ferrocore::manifest::{default_manifest, key_from_public_key, manifest_hash};
/// let pk = [5; 32];
/// assert_eq!(key_from_public_key(&pk, true), pk);
/// assert_eq!(key_from_public_key(&pk, false), manifest_hash(&default_manifest(&pk)));
/// ```
#[must_use]
pub fn key_from_public_key(public_key: &[u8; 32], compat: bool) -> Hash {
    if compat {
        *public_key
    } else {
        manifest_hash(&default_manifest(public_key))
    }
}

/// One signer of a manifest being created: the namespace defaults to
/// [`ns::DEFAULT_NAMESPACE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignerOptions {
    /// The signer's Ed25519 public key.
    pub public_key: [u8; 32],
    /// The signer's namespace; `None` for the default.
    pub namespace: Option<[u8; 32]>,
}

impl SignerOptions {
    /// A signer with the default namespace.
    #[must_use]
    pub const fn new(public_key: [u8; 32]) -> Self {
        Self {
            public_key,
            namespace: None,
        }
    }
}

/// The input of [`create_manifest`]: every field optional, as in `Verifier.createManifest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestOptions {
    /// Format version; default 2 if `linked` (non-empty) or `user_data` is given, else 1.
    pub version: Option<u64>,
    /// Signers may sign longer trees (patches). Default false.
    pub allow_patch: bool,
    /// Signatures needed; default `signers / 2 + 1`, or 0 without signers.
    pub quorum: Option<u64>,
    /// The signers.
    pub signers: Vec<SignerOptions>,
    /// An unsigned fixed prefix.
    pub prologue: Option<Prologue>,
    /// Linked core keys (version ≥ 2). An empty list means none.
    pub linked: Option<Vec<[u8; 32]>>,
    /// Opaque application data (version ≥ 2).
    pub user_data: Option<Bytes>,
}

/// Builds a normalised manifest from `options` with the reference defaults
/// (`Verifier.createManifest`), then [`validate`]s it.
///
/// ```
/// use ferrocore::manifest::{create_manifest, ManifestOptions, SignerOptions};
/// let m = create_manifest(&ManifestOptions {
///     signers: vec![SignerOptions::new([1; 32]), SignerOptions::new([2; 32])],
///     ..Default::default()
/// })
/// .unwrap();
/// assert_eq!((m.version, m.quorum), (1, 2));
///
/// let too_many = ManifestOptions { quorum: Some(3), ..ManifestOptions::default() };
/// assert!(create_manifest(&too_many).is_err());
/// ```
///
/// # Errors
/// See [`validate`].
pub fn create_manifest(options: &ManifestOptions) -> Result<Manifest, Error> {
    let linked = options.linked.clone().filter(|l| !l.is_empty());
    let version = options
        .version
        .unwrap_or(if linked.is_some() || options.user_data.is_some() {
            2
        } else {
            1
        });
    let signers: Vec<Signer> = options
        .signers
        .iter()
        .map(|s| Signer {
            signature: SignatureAlgorithm::Ed25519,
            namespace: s.namespace.unwrap_or(ns::DEFAULT_NAMESPACE),
            public_key: s.public_key,
        })
        .collect();
    let quorum = options.quorum.unwrap_or(if signers.is_empty() {
        0
    } else {
        (signers.len() as u64 >> 1) + 1
    });
    let manifest = Manifest {
        version,
        hash: HashAlgorithm::Blake2b,
        allow_patch: options.allow_patch,
        quorum,
        signers,
        prologue: options.prologue,
        linked,
        user_data: options.user_data.clone(),
    };
    validate(&manifest)?;
    Ok(manifest)
}

/// Checks the rules a manifest must satisfy to be created and encoded faithfully.
///
/// # Errors
/// * [`Error::Incompatible`] if the version is above [`MAX_VERSION`];
/// * [`Error::Misuse`] if the quorum exceeds the number of signers, if `linked` or
///   `user_data` is set below version 2, or if a version-0 manifest has a prologue that its
///   encoding cannot carry (a prologue together with signers, or a non-zero prologue length).
pub fn validate(manifest: &Manifest) -> Result<(), Error> {
    if manifest.version > MAX_VERSION {
        return Err(Error::Incompatible("manifest version above 3"));
    }
    if manifest.quorum > manifest.signers.len() as u64 {
        return Err(Error::Misuse("quorum is higher than the number of signers"));
    }
    if manifest.version < 2 && manifest.linked.is_some() {
        return Err(Error::Misuse("linked cores need manifest version 2"));
    }
    if manifest.version < 2 && manifest.user_data.is_some() {
        return Err(Error::Misuse("user data needs manifest version 2"));
    }
    if let (0, Some(prologue)) = (manifest.version, &manifest.prologue) {
        if !manifest.signers.is_empty() || prologue.length != 0 {
            return Err(Error::Misuse(
                "a version-0 manifest can only carry a prologue hash, without signers",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(n: usize) -> ManifestOptions {
        ManifestOptions {
            signers: (0..n).map(|i| SignerOptions::new([i as u8; 32])).collect(),
            ..ManifestOptions::default()
        }
    }

    #[test]
    fn default_quorums() {
        for (n, q) in [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (5, 3)] {
            assert_eq!(create_manifest(&opts(n)).unwrap().quorum, q, "{n} signers");
        }
    }

    #[test]
    fn single_signer_options_give_the_default_manifest() {
        let m = create_manifest(&opts(1)).unwrap();
        assert_eq!(m, default_manifest(&[0; 32]));
    }

    #[test]
    fn version_defaults_and_v2_fields() {
        let with_user_data = ManifestOptions {
            user_data: Some(Bytes::from_static(b"x")),
            ..opts(1)
        };
        assert_eq!(create_manifest(&with_user_data).unwrap().version, 2);
        let empty_links = ManifestOptions {
            linked: Some(Vec::new()),
            ..opts(1)
        };
        let m = create_manifest(&empty_links).unwrap();
        assert_eq!((m.version, m.linked), (1, None));
        let links_v1 = ManifestOptions {
            version: Some(1),
            linked: Some(alloc::vec![[7; 32]]),
            ..opts(1)
        };
        assert!(matches!(create_manifest(&links_v1), Err(Error::Misuse(_))));
        let data_v1 = ManifestOptions {
            version: Some(1),
            ..with_user_data
        };
        assert!(matches!(create_manifest(&data_v1), Err(Error::Misuse(_))));
    }

    #[test]
    fn rejected_manifests() {
        let quorum = ManifestOptions {
            quorum: Some(3),
            ..opts(2)
        };
        assert!(matches!(create_manifest(&quorum), Err(Error::Misuse(_))));
        let version = ManifestOptions {
            version: Some(4),
            ..opts(1)
        };
        assert!(matches!(
            create_manifest(&version),
            Err(Error::Incompatible(_))
        ));
        let prologue = Some(Prologue {
            hash: [1; 32],
            length: 0,
        });
        let v0_prologue_signers = ManifestOptions {
            version: Some(0),
            prologue,
            ..opts(1)
        };
        assert!(matches!(
            create_manifest(&v0_prologue_signers),
            Err(Error::Misuse(_))
        ));
        let v0_prologue_only = ManifestOptions {
            version: Some(0),
            prologue,
            ..opts(0)
        };
        assert!(create_manifest(&v0_prologue_only).is_ok());
    }

    #[test]
    fn compat_and_keys() {
        let m = default_manifest(&[3; 32]);
        assert!(is_compat(&[3; 32], &m));
        assert!(!is_compat(&[4; 32], &m));
        let two = create_manifest(&opts(2)).unwrap();
        assert!(!is_compat(&[0; 32], &two));
        assert!(matches!(core_key(&two, true), Err(Error::Misuse(_))));
        assert_eq!(core_key(&two, false), Ok(manifest_hash(&two)));
        assert_eq!(
            hash::blake2b256(&[&hash_preimage(&two)]),
            manifest_hash(&two)
        );
    }
}
