//! Names to keys, as JS corestore 7 derives them (`index.js`: `generateNamespace`,
//! `deriveSeed`, `createKeyPair`, `_auth`).
//!
//! - the corestore namespace `NS` = `hypercore-crypto.namespace('corestore', 1)[0]`;
//! - a child namespace is BLAKE2b-256(parent ‖ utf-8 name), from 32 zero bytes at the root;
//! - a core's seed is BLAKE2b-256 keyed with the primary key over `NS ‖ namespace ‖ name`,
//!   its key pair the Ed25519 key pair of that seed;
//! - its core key is the hash of the default version-1 manifest with that one signer
//!   (corestore 7 never makes compat cores by name).
//!
//! ```
//! use ferrocore_corestore::{Namespace, PrimaryKey};
//! let primary = PrimaryKey::from_bytes([7; 32]);
//! let ns = Namespace::ROOT.child("app").child("posts");
//! let key = primary.core_key(&ns, "feed");
//! assert_eq!(key, ferrocore::manifest::key_from_public_key(&primary.key_pair(&ns, "feed").public_key, false));
//! ```

use ferrocore::hash::{blake2b256, blake2b256_keyed, Hash};
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{default_manifest, manifest_hash};

/// `hypercore-crypto.namespace('corestore', 1)[0]`: BLAKE2b-256(BLAKE2b-256("corestore") ‖ 0).
#[must_use]
pub fn corestore_ns() -> Hash {
    ferrocore::hash::namespace::<1>("corestore")[0]
}

/// A namespace: 32 bytes, the root being all zeros (JS `DEFAULT_NAMESPACE`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(pub [u8; 32]);

impl core::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Namespace(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

impl Namespace {
    /// The store's root namespace (32 zero bytes).
    pub const ROOT: Namespace = Namespace([0; 32]);

    /// The namespace `name` inside this one (`store.namespace(name)`): BLAKE2b-256(self ‖
    /// utf-8 name). Namespaces chain: `ROOT.child("a").child("b")`.
    #[must_use]
    pub fn child(&self, name: &str) -> Namespace {
        Namespace(blake2b256(&[&self.0, name.as_bytes()]))
    }

    /// The namespace reached from the root through `path`, in order.
    #[must_use]
    pub fn from_path<'a>(path: impl IntoIterator<Item = &'a str>) -> Namespace {
        path.into_iter().fold(Namespace::ROOT, |ns, n| ns.child(n))
    }
}

/// A store's primary key: the secret every named core's key pair derives from. Whoever holds
/// it can sign for every named core of the store.
#[derive(Clone, PartialEq, Eq)]
pub struct PrimaryKey([u8; 32]);

impl core::fmt::Debug for PrimaryKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrimaryKey(..)")
    }
}

impl PrimaryKey {
    /// A primary key from its 32 bytes (generated from a CSPRNG by the adapter on first
    /// open, or given for interop and recovery).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes (keep them secret).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The seed of core `name` in namespace `ns` (JS `deriveSeed`).
    #[must_use]
    pub fn seed(&self, ns: &Namespace, name: &str) -> [u8; 32] {
        blake2b256_keyed(&self.0, &[&corestore_ns(), &ns.0, name.as_bytes()])
    }

    /// The key pair of core `name` in namespace `ns` (JS `store.createKeyPair(name, ns)`).
    #[must_use]
    pub fn key_pair(&self, ns: &Namespace, name: &str) -> KeyPair {
        KeyPair::from_seed(&self.seed(ns, name))
    }

    /// The core key of core `name` in namespace `ns`, as JS corestore 7 gives it to a core it
    /// creates by name: the hash of the default version-1 manifest with that key pair's
    /// public key as its one signer.
    #[must_use]
    pub fn core_key(&self, ns: &Namespace, name: &str) -> Hash {
        named_core_key(&self.key_pair(ns, name).public_key)
    }
}

/// The core key corestore 7 gives a core signed by `public_key` (the default v1 manifest).
#[must_use]
pub fn named_core_key(public_key: &[u8; 32]) -> Hash {
    manifest_hash(&default_manifest(public_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn corestore_ns_matches_js() {
        assert_eq!(
            corestore_ns(),
            h("ac5c4cbfb1064776404637a280c71fac823281d351ebeced03151743270def29")
        );
    }

    #[test]
    fn namespaces_chain() {
        let a = Namespace::ROOT.child("a");
        assert_eq!(a.0, blake2b256(&[&[0; 32], b"a"]));
        assert_eq!(Namespace::from_path(["a", "b"]), a.child("b"));
        assert_ne!(a.child("b"), Namespace::ROOT.child("b"));
    }
}
