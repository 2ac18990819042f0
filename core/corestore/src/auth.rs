//! What a `get` resolves to before any I/O, as JS corestore 7 decides it (`_auth`, then
//! hypercore's `createCore` for a core that is not stored yet).
//!
//! Rules (checked against the pinned JS by `tests/vectors/corestore/options.json`):
//! - a non-empty `name` gives the key pair (from the primary key, the session's namespace and
//!   the name), and wins over an explicit `key_pair`; an empty name counts as no name (JS
//!   tests it for truth);
//! - the manifest is the one given, else (for a core not stored yet, with a key pair) the
//!   default manifest of the store's manifest version with that key pair's one signer;
//! - the key is the one given, else the manifest's hash (corestore always passes
//!   `compat: false`, so a `compat` option changes nothing);
//! - the discovery key is the stored one (alias found), else the one given, else that of the
//!   key; with none of them the call fails ([`AuthError::NoDiscoveryKey`]);
//! - a core is compat (80-byte signable) iff it has a manifest with exactly one signer whose
//!   public key is the core key: JS makes one only from `get({ key: publicKey, keyPair })`.
//!
//! ```
//! use ferrocore_corestore::auth::{resolve, GetOptions};
//! use ferrocore_corestore::{Namespace, PrimaryKey};
//! let primary = PrimaryKey::from_bytes([1; 32]);
//! let ns = Namespace::ROOT.child("app");
//! let auth = resolve(&primary, &ns, 1, None, &GetOptions::name("feed")).unwrap();
//! assert_eq!(auth.key, Some(primary.core_key(&ns, "feed")));
//! assert!(auth.writable() && !auth.compat);
//! ```

use ferrocore::hash::{discovery_key, Hash};
use ferrocore::keys::KeyPair;
use ferrocore::manifest::manifest_hash;
use ferrocore::Manifest;

use crate::keys::{Namespace, PrimaryKey};

/// The inputs of a `get` that decide a core's identity (JS `get(opts)`: `name`, `keyPair`,
/// `key`, `discoveryKey`, `manifest`). Everything else (encryption, exclusive, ...) is a
/// per-core option the adapter passes through.
#[derive(Debug, Clone, Default)]
pub struct GetOptions<'a> {
    /// The core's name in the session's namespace (`get({ name })`); empty counts as none.
    pub name: Option<&'a str>,
    /// An explicit key pair (`get({ keyPair })`), ignored when a name is given.
    pub key_pair: Option<&'a KeyPair>,
    /// An explicit core key (`get({ key })`), e.g. to follow a remote core read-only.
    pub key: Option<Hash>,
    /// An explicit discovery key (`get({ discoveryKey })`): only for a core already stored.
    pub discovery_key: Option<Hash>,
    /// An explicit, normalised manifest (`get({ manifest })`; see
    /// [`ferrocore::manifest::create_manifest`]).
    pub manifest: Option<&'a Manifest>,
}

impl<'a> GetOptions<'a> {
    /// `get({ name })`.
    #[must_use]
    pub fn name(name: &'a str) -> Self {
        Self {
            name: Some(name),
            ..Self::default()
        }
    }

    /// `get({ key })`.
    #[must_use]
    pub fn key(key: Hash) -> Self {
        Self {
            key: Some(key),
            ..Self::default()
        }
    }
}

/// A core's identity as a `get` resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreAuth {
    /// The key pair the core signs with, if any (a named core's derived one, or the given one).
    pub key_pair: Option<KeyPair>,
    /// The core key; `None` only when a stored alias gave the discovery key and nothing
    /// else named the key (the stored record has it).
    pub key: Option<Hash>,
    /// The discovery key the store tracks the core by.
    pub discovery_key: Hash,
    /// The manifest a new core is created with; `None` for a core followed by key only (the
    /// manifest comes from a peer's proof) or one found by alias.
    pub manifest: Option<Manifest>,
    /// Whether hypercore verifies the core in compat mode (see the module docs).
    pub compat: bool,
}

impl CoreAuth {
    /// Whether the core can be appended to: it has a key pair (JS `core.writable` of a new
    /// core; the key pair is kept even when the manifest names another signer).
    #[must_use]
    pub fn writable(&self) -> bool {
        self.key_pair.is_some()
    }
}

/// Why a `get` cannot name a core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No name, key pair, key, discovery key or manifest (JS: "Could not derive discovery
    /// from input").
    NoDiscoveryKey,
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AuthError::NoDiscoveryKey => f.write_str("could not derive a discovery key from input"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AuthError {}

/// The default manifest of a store with `manifest_version` for `public_key`: what
/// `createManifest({ version, signers: [{ publicKey }] })` gives (one Ed25519 signer in the
/// default namespace, quorum 1).
#[must_use]
pub fn store_manifest(manifest_version: u64, public_key: &[u8; 32]) -> Manifest {
    let mut m = ferrocore::manifest::default_manifest(public_key);
    m.version = manifest_version;
    m
}

/// Resolves `opts` in the session namespace `ns` of a store with `primary` and
/// `manifest_version` (JS `opts.manifestVersion || 1`: 0 means 1). `stored` is the discovery
/// key a stored alias gave for the name (the adapter looks it up first), if any.
///
/// # Errors
/// [`AuthError::NoDiscoveryKey`] if nothing names a core.
pub fn resolve(
    primary: &PrimaryKey,
    ns: &Namespace,
    manifest_version: u64,
    stored: Option<Hash>,
    opts: &GetOptions<'_>,
) -> Result<CoreAuth, AuthError> {
    let version = if manifest_version == 0 {
        1
    } else {
        manifest_version
    };
    let key_pair = match opts.name.filter(|n| !n.is_empty()) {
        Some(name) => Some(primary.key_pair(ns, name)),
        None => opts.key_pair.cloned(),
    };
    let manifest = match (opts.manifest, &key_pair) {
        (Some(m), _) => Some(m.clone()),
        (None, Some(kp)) if stored.is_none() => Some(store_manifest(version, &kp.public_key)),
        _ => None,
    };
    let key = opts.key.or_else(|| manifest.as_ref().map(manifest_hash));
    let discovery_key = stored
        .or(opts.discovery_key)
        .or_else(|| key.as_ref().map(discovery_key))
        .ok_or(AuthError::NoDiscoveryKey)?;
    let compat = match (&key, &manifest) {
        (Some(k), Some(m)) => ferrocore::manifest::is_compat(k, m),
        _ => false,
    };
    Ok(CoreAuth {
        key_pair,
        key,
        discovery_key,
        manifest,
        compat,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_names_no_core() {
        let p = PrimaryKey::from_bytes([3; 32]);
        let err = resolve(&p, &Namespace::ROOT, 1, None, &GetOptions::name("")).unwrap_err();
        assert_eq!(err, AuthError::NoDiscoveryKey);
    }

    #[test]
    fn a_stored_alias_keeps_its_discovery_key_and_builds_no_manifest() {
        let p = PrimaryKey::from_bytes([3; 32]);
        let a = resolve(
            &p,
            &Namespace::ROOT,
            1,
            Some([9; 32]),
            &GetOptions::name("x"),
        )
        .unwrap();
        assert_eq!(a.discovery_key, [9; 32]);
        assert_eq!((a.key, &a.manifest), (None, &None));
        assert!(a.writable());
    }

    #[test]
    fn a_key_pair_with_its_public_key_as_key_is_compat() {
        let kp = KeyPair::from_seed(&[4; 32]);
        let opts = GetOptions {
            key_pair: Some(&kp),
            key: Some(kp.public_key),
            ..GetOptions::default()
        };
        let a = resolve(
            &PrimaryKey::from_bytes([0; 32]),
            &Namespace::ROOT,
            1,
            None,
            &opts,
        );
        let a = a.unwrap();
        assert!(a.compat);
        assert_eq!(a.discovery_key, discovery_key(&kp.public_key));
    }
}
