//! A drive's keys, as JS `new Hyperdrive(corestore)` makes them: the db core (the store's
//! core named `db`, a Hyperbee), and the blobs (content) core, whose manifest follows from
//! the db core's, so a reader derives the content key from the drive key's manifest.
//!
//! * the drive key is the `db` core's key: `corestore.get({name: 'db'})` in the store's
//!   root namespace (`Hyperdrive.getDriveKey(store)`);
//! * the content manifest is the db manifest with each signer's namespace replaced by
//!   `BLAKE2b-256(BLOBS ‖ dbKey ‖ namespace)`, `hash: blake2b`, no prologue (JS
//!   `generateContentManifest`; a version-0 db manifest has none), and the content key its
//!   hash (`Hyperdrive.getContentKey`); the blobs core signs with the db core's key pair;
//! * the db core's block 0 is a Hyperbee header with empty metadata (`contentFeed` is
//!   `null`, so not written).
//!
//! ```
//! use ferrocore_corestore::PrimaryKey;
//! use ferrocore_hyperdrive::keys::DriveKeys;
//! let keys = DriveKeys::from_primary_key(&PrimaryKey::from_bytes([7; 32]));
//! assert_eq!(keys.content_key, ferrocore_hyperdrive::keys::content_key(&keys.db_manifest, &keys.key).unwrap());
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use ferrocore::hash::{blake2b256, discovery_key, Hash};
use ferrocore::keys::KeyPair;
use ferrocore::manifest::manifest_hash;
use ferrocore::Manifest;
use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_wire::bee::{Header, Metadata};
use ferrocore_wire::{HashAlgorithm, Signer};

/// The name of the db core in the store (`corestore.get({name: 'db'})`).
pub const DB_NAME: &str = "db";

/// `BLOBS`: `hypercore-crypto.namespace('hyperdrive', 1)[0]`.
#[must_use]
pub fn blobs_namespace() -> Hash {
    ferrocore::hash::namespace::<1>("hyperdrive")[0]
}

/// The content (blobs) core's manifest for a db core with `db_manifest` and key `db_key`
/// (JS `generateContentManifest`); `None` for a version-0 db manifest.
#[must_use]
pub fn content_manifest(db_manifest: &Manifest, db_key: &Hash) -> Option<Manifest> {
    if db_manifest.version < 1 {
        return None;
    }
    let blobs = blobs_namespace();
    let signers = db_manifest
        .signers
        .iter()
        .map(|s| Signer {
            namespace: blake2b256(&[&blobs, db_key, &s.namespace]),
            ..*s
        })
        .collect();
    Some(Manifest {
        version: db_manifest.version,
        hash: HashAlgorithm::Blake2b,
        allow_patch: db_manifest.allow_patch,
        quorum: db_manifest.quorum,
        signers,
        prologue: None,
        linked: None,
        user_data: None,
    })
}

/// `Hyperdrive.getContentKey(dbManifest, dbKey)`: the hash of [`content_manifest`].
#[must_use]
pub fn content_key(db_manifest: &Manifest, db_key: &Hash) -> Option<Hash> {
    content_core(db_manifest, db_key).map(|(_, key)| key)
}

/// The blobs core of the drive whose db core has `db_manifest` and key `db_key`: its
/// manifest ([`content_manifest`]) and key ([`content_key`]), derived once; `None` for a
/// version-0 db manifest.
#[must_use]
pub fn content_core(db_manifest: &Manifest, db_key: &Hash) -> Option<(Manifest, Hash)> {
    let manifest = content_manifest(db_manifest, db_key)?;
    let key = manifest_hash(&manifest);
    Some((manifest, key))
}

/// The db core's block 0: a Hyperbee header with empty metadata (`0a 08 "hyperbee" 12 00`).
#[must_use]
pub fn header_block() -> Vec<u8> {
    Header::hyperbee(Some(Metadata::default())).encode()
}

/// Everything that names a drive made in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveKeys {
    /// The db core's key pair (the blobs core signs with it too).
    pub key_pair: KeyPair,
    /// The db core's manifest.
    pub db_manifest: Manifest,
    /// The drive key (the db core's key).
    pub key: Hash,
    /// The db core's discovery key.
    pub discovery_key: Hash,
    /// The blobs core's manifest.
    pub content_manifest: Manifest,
    /// The blobs core's key.
    pub content_key: Hash,
    /// The blobs core's discovery key.
    pub content_discovery_key: Hash,
}

impl DriveKeys {
    /// The keys of `new Hyperdrive(new Corestore(dir, {primaryKey}))`: the `db` core in the
    /// store's root namespace (manifest version 1, corestore's default).
    ///
    /// # Panics
    /// Never: the version-1 manifest it makes always has a content manifest.
    #[must_use]
    pub fn from_primary_key(primary: &PrimaryKey) -> Self {
        let key_pair = primary.key_pair(&Namespace::ROOT, DB_NAME);
        let db_manifest = ferrocore::manifest::default_manifest(&key_pair.public_key);
        Self::from_db(key_pair, db_manifest).expect("a version-1 manifest has a content manifest")
    }

    /// The keys of a drive whose db core has `db_manifest` and signs with `key_pair`;
    /// `None` for a version-0 (compat) db manifest, whose blobs core is named, not derived.
    #[must_use]
    pub fn from_db(key_pair: KeyPair, db_manifest: Manifest) -> Option<Self> {
        let key = manifest_hash(&db_manifest);
        let (content_manifest, content_key) = content_core(&db_manifest, &key)?;
        Some(DriveKeys {
            key_pair,
            discovery_key: discovery_key(&key),
            db_manifest,
            key,
            content_discovery_key: discovery_key(&content_key),
            content_manifest,
            content_key,
        })
    }

    /// `drive.id`: the z-base-32 form of the drive key.
    #[must_use]
    pub fn id(&self) -> String {
        ferrocore::id::core_id(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_namespace_is_hyperdrives() {
        assert_eq!(
            hex::encode(blobs_namespace()),
            "f217b747161784b495ceee3c42163b07dd62cb06df26e20e95ba4d438123aeeb"
        );
    }

    #[test]
    fn the_content_manifest_renames_each_signer() {
        let keys = DriveKeys::from_primary_key(&PrimaryKey::from_bytes([1; 32]));
        let (db, content) = (
            &keys.db_manifest.signers[0],
            &keys.content_manifest.signers[0],
        );
        assert_eq!(db.public_key, content.public_key);
        assert_eq!(
            content.namespace,
            blake2b256(&[&blobs_namespace(), &keys.key, &db.namespace])
        );
        assert_ne!(keys.key, keys.content_key);
        let mut v0 = keys.db_manifest.clone();
        v0.version = 0;
        assert!(content_manifest(&v0, &keys.key).is_none());
        assert!(DriveKeys::from_db(keys.key_pair.clone(), v0).is_none());
        assert_eq!(hex::encode(header_block()), "0a0868797065726265651200");
    }
}
