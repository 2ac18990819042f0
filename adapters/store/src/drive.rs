//! A Hyperdrive's two cores in a store (JS `new Hyperdrive(store, key?)`): the db core,
//! and the blobs core whose key and manifest follow from the db's manifest
//! (`ferrocore_hyperdrive::keys`). Open the drive on them with
//! `ferrocore_driver::drive::Drive::open(store.node(), cores.db.id, cores.blobs.id, ..)`.

use ferrocore_driver::{Adapter, StoreError};
use ferrocore_hyperdrive::keys::{content_core, DB_NAME};

use crate::state::lock;
use crate::{CoreRef, Corestore, GetOptions};

/// A drive's cores, as [`Corestore::drive_cores`] opens them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveCores {
    /// The db core (a Hyperbee of entries); its key is the drive key.
    pub db: CoreRef,
    /// The blobs core (the contents), writable when the db is (it signs with the db's
    /// key pair).
    pub blobs: CoreRef,
}

impl<A: Adapter> Corestore<A> {
    /// Opens a drive's two cores: the store's own drive (`key` `None`: the core named
    /// `db` in this session's namespace, created if missing, as JS `new
    /// Hyperdrive(store)`), or the drive `key` (created empty and read-only if missing).
    /// The blobs core is opened (created if missing) from the db's manifest, so a remote
    /// drive's db must have been updated from a peer first (its first proof carries the
    /// manifest: `node.update(cores.db.id, ..)` after [`get`](Self::get) by key).
    ///
    /// # Errors
    /// [`get`](Self::get)'s; [`StoreError::Misuse`] while the db's manifest is unknown,
    /// or for a version-0 (compat) db core, whose blobs core is named, not derived.
    pub fn drive_cores(&self, key: Option<[u8; 32]>) -> A::Out<DriveCores> {
        let state = self.state.clone();
        let session = self.session;
        self.node.try_with_endpoint_at(move |ep, _| {
            let mut state = lock(&state);
            let db = match key {
                None => GetOptions::name(DB_NAME),
                Some(k) => GetOptions::key(k),
            };
            let db = state.get(ep, session, db)?;
            let log = ep.log(db.id).ok_or(ferrocore_driver::Error::NoSuchCore)?;
            let manifest = log.manifest().cloned().ok_or(StoreError::Misuse(
                "the drive's db core has no manifest yet: update it from a peer first",
            ))?;
            let (content, content_key) = content_core(&manifest, &db.key).ok_or(
                StoreError::Misuse("a version-0 db core: its blobs core is named, not derived"),
            )?;
            let mut blobs = GetOptions::key(content_key).manifest(content);
            if let Some(kp) = log.key_pair().filter(|_| db.writable) {
                blobs = blobs.key_pair(kp.clone());
            }
            let blobs = state.get(ep, session, blobs)?;
            Ok(DriveCores { db, blobs })
        })
    }
}
