//! Making a drive in a store (`drive create`), finding a store's drive and opening it on a
//! node of this process, and the drive's failures as the CLI reports them.

use std::io::Write;
use std::path::Path;

use ferrocore::hash;
use ferrocore::id;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::EndpointConfig;
use ferrocore::wire::bee::Header;
use ferrocore::Manifest;
use ferrocore_blocking::drive::{Drive, DriveError, DriveOptions, Error as DriveErr};
use ferrocore_hyperdrive::keys::{self, DriveKeys, DB_NAME};
use ferrocore_storage::{CoreStorage, Durability, Store};
use serde_json::json;

use super::args::{CreateArgs, DriveSelect};
use crate::dir::{self, core_error, CoreDir, Marker};
use crate::local::store_primary_key;
use crate::net::{node_failed, CliNode};
use crate::pick::namespace;
use crate::Error;

/// `ferrocore drive create`.
pub(crate) fn create(args: &CreateArgs, out: &mut dyn Write) -> Result<(), Error> {
    let d = &args.dir;
    let created_dir = dir::make_dir(d)?;
    let marker = dir::read_marker(d)?;
    let store = dir::open_store(d, ferrocore_storage::Durability::Immediate)?;
    let made = add_drive(d, &store, args.primary_key);
    drop(store);
    // A new store: the drive is its default core.
    let keys = dir::finish_new_core(d, marker.is_none(), created_dir, made, |keys| {
        Marker::new(keys.key, None)
    })?;
    if args.json {
        let v = json!({
            "key": hex::encode(keys.key),
            "discoveryKey": hex::encode(keys.discovery_key),
            "contentKey": hex::encode(keys.content_key),
            "id": keys.id(),
        });
        writeln!(out, "{v}")?;
    } else {
        writeln!(out, "key {}", hex::encode(keys.key))?;
    }
    Ok(())
}

/// Adds the drive's two cores to `store` (the db named `db` in the root namespace).
fn add_drive(d: &Path, store: &Store, primary: Option<[u8; 32]>) -> Result<DriveKeys, Error> {
    let primary = store_primary_key(d, store, primary)?;
    let root = namespace(&[]);
    let taken = store
        .alias(&root.0, DB_NAME.as_bytes())
        .map_err(|e| core_error(d, e.into()))?;
    if taken.is_some() {
        return Err(Error::Failed(format!(
            "the store in {} already has a core named \"db\" (its drive, or a core made with \
             `create --name db`); use it with `ferrocore drive ... {}`, or make the drive in \
             another directory",
            d.display(),
            d.display()
        )));
    }
    let keys = DriveKeys::from_primary_key(&primary);
    let open = |key: [u8; 32], manifest: &Manifest| {
        let options = LogOptions {
            key_pair: Some(keys.key_pair.clone()),
            key: Some(key),
            manifest: Some(manifest.clone()),
            ..LogOptions::default()
        };
        let log = Log::open(store.core(&hash::discovery_key(&key)), options)
            .map_err(|e| core_error(d, e))?;
        debug_assert_eq!(*log.key(), key);
        Ok::<_, Error>(())
    };
    open(keys.key, &keys.db_manifest)?;
    open(keys.content_key, &keys.content_manifest)?;
    store
        .insert_alias(&root.0, DB_NAME.as_bytes(), &keys.discovery_key)
        .map_err(|e| core_error(d, e.into()))?;
    Ok(keys)
}

/// The key of the db core of the drive `select` names.
fn find_db(store: &Store, core_dir: &CoreDir, select: &DriveSelect) -> Result<[u8; 32], Error> {
    let d = &core_dir.path;
    if let Some(key) = select.drive {
        let held = store
            .has_core(&hash::discovery_key(&key))
            .map_err(|e| core_error(d, e.into()))?;
        if !held {
            return Err(Error::Failed(format!(
                "{} holds no drive {}; list its cores with `ferrocore cores {}`",
                d.display(),
                id::core_id(&key),
                d.display()
            )));
        }
        return Ok(key);
    }
    let named = store
        .alias(&namespace(&[]).0, DB_NAME.as_bytes())
        .map_err(|e| core_error(d, e.into()))?;
    let Some(dk) = named else {
        return Ok(core_dir.marker.key);
    };
    if dk == hash::discovery_key(&core_dir.marker.key) {
        return Ok(core_dir.marker.key);
    }
    let log = open_log(store, d, &dk, None, None)?;
    Ok(*log.key())
}

/// Opens an existing core (`key`, `manifest`: known beforehand, checked).
fn open_log(
    store: &Store,
    d: &Path,
    discovery_key: &[u8; 32],
    key: Option<[u8; 32]>,
    manifest: Option<Manifest>,
) -> Result<Log<CoreStorage>, Error> {
    let options = LogOptions {
        create_if_missing: false,
        key,
        manifest,
        ..LogOptions::default()
    };
    Log::open(store.core(discovery_key), options).map_err(|e| core_error(d, e))
}

/// Exit 7 unless the db's block 0 (if held) is a hyperbee header.
fn check_header(db: &Log<CoreStorage>, d: &Path) -> Result<(), Error> {
    if db.length() == 0 {
        return Ok(());
    }
    let Some(block) = db.get(0).map_err(|e| core_error(d, e))? else {
        return Ok(());
    };
    match Header::decode(&block) {
        Ok(h) if h.is_hyperbee() => Ok(()),
        _ => Err(Error::NotABee(format!(
            "the core {} in {} is not a drive: its block 0 is not a hyperbee header; pick \
             the drive with --drive KEY",
            id::core_id(db.key()),
            d.display()
        ))),
    }
}

/// A drive opened on a node of this process.
pub(crate) struct Opened {
    /// The drive (reads local blocks only: a missing block is an error, never a wait).
    pub drive: Drive<CoreStorage>,
    /// The node both cores are on.
    pub node: CliNode,
    /// The store's directory (for messages).
    pub dir: std::path::PathBuf,
    /// The drive key.
    pub key: [u8; 32],
    /// The blobs core's key.
    pub content_key: [u8; 32],
    /// The store, when opened for writing (flushed by [`close`](Self::close)).
    store: Option<Store>,
}

impl Opened {
    /// Opens the drive `select` names; `write` to write to it (the store is opened
    /// read-only otherwise, so reads work beside a running `serve`).
    pub fn new(select: &DriveSelect, write: bool) -> Result<Self, Error> {
        let durability = write.then_some(Durability::Immediate);
        Self::with_durability(select, durability)
    }

    /// [`new`](Self::new) for a bulk write (`drive import`): the store commits in groups
    /// (`Durability::Eventual`) and [`close`](Self::close) makes everything durable at
    /// once, as `clone` does, instead of a sync per append.
    pub fn bulk(select: &DriveSelect) -> Result<Self, Error> {
        Self::with_durability(select, Some(Durability::Eventual))
    }

    /// Opens the drive for writing with `durability`, or read-only (`None`).
    fn with_durability(
        select: &DriveSelect,
        durability: Option<Durability>,
    ) -> Result<Self, Error> {
        let write = durability.is_some();
        let core_dir = CoreDir::existing(&select.dir)?;
        let d = core_dir.path.clone();
        let store = match durability {
            Some(durability) => dir::open_store(&d, durability)?,
            None => core_dir.open_store_read_only()?,
        };
        let key = find_db(&store, &core_dir, select)?;
        let db = open_log(&store, &d, &hash::discovery_key(&key), Some(key), None)?;
        let Some(manifest) = db.manifest().cloned() else {
            return Err(Error::NotABee(format!(
                "the core {} in {} has no manifest yet (a clone that got no block): it is no \
                 drive that can be read; clone it again",
                id::core_id(&key),
                d.display()
            )));
        };
        let Some((content_manifest, content_key)) = keys::content_core(&manifest, &key) else {
            return Err(Error::NotABee(format!(
                "the core {} in {} is not a drive: its manifest (version 0) has no content core",
                id::core_id(&key),
                d.display()
            )));
        };
        check_header(&db, &d)?;
        let content_dk = hash::discovery_key(&content_key);
        let held = store
            .has_core(&content_dk)
            .map_err(|e| core_error(&d, e.into()))?;
        if !held {
            return Err(Error::Failed(format!(
                "the store in {} lacks the blobs core {} of drive {} (is the core a drive? a \
                 drive's clone fetches it: `ferrocore clone {} {} --connect HOST:PORT`)",
                d.display(),
                id::core_id(&content_key),
                id::core_id(&key),
                d.display(),
                hex::encode(key)
            )));
        }
        let blobs = open_log(
            &store,
            &d,
            &content_dk,
            Some(content_key),
            Some(content_manifest),
        )?;
        if write && !(db.writable() && blobs.writable()) {
            return Err(Error::Failed(format!(
                "the drive {} in {} is read-only (a clone): only its writer can change it",
                id::core_id(&key),
                d.display()
            )));
        }
        let node = CliNode::new(EndpointConfig::default()).map_err(node_failed)?;
        let db = node.add_core(db).map_err(node_failed)?;
        let blobs = node.add_core(blobs).map_err(node_failed)?;
        let options = DriveOptions {
            timeout: None,
            fetch: false,
            ..DriveOptions::default()
        };
        let drive = Drive::open(&node, db, blobs, options).map_err(|e| drive_error(&d, e))?;
        Ok(Opened {
            drive,
            node,
            dir: d,
            key,
            content_key,
            store: write.then_some(store),
        })
    }

    /// A drive failure as the CLI reports it.
    pub fn fail(&self) -> impl Fn(DriveErr) -> Error + '_ {
        |e| drive_error(&self.dir, e)
    }

    /// Ends the node in order (the cores' writes are durable already).
    pub fn close(self) -> Result<(), Error> {
        drop(self.drive);
        self.node.shutdown().map(drop).map_err(node_failed)?;
        match &self.store {
            Some(store) => store.flush().map_err(|e| core_error(&self.dir, e.into())),
            None => Ok(()),
        }
    }
}

/// A drive failure as the CLI reports it.
pub(crate) fn drive_error(dir: &Path, e: DriveErr) -> Error {
    let d = dir.display();
    match e {
        DriveErr::NotADrive(why) => Error::NotABee(format!(
            "the core in {d} is not a drive: {why}; pick the drive with --drive KEY"
        )),
        DriveErr::Drive(DriveError::Path(e)) => Error::Usage(format!("bad path: {e}")),
        DriveErr::Drive(e @ (DriveError::Follow(_) | DriveError::BadTruncation)) => {
            Error::Failed(format!("the drive in {d}: {e}"))
        }
        DriveErr::Drive(e @ (DriveError::BlockNotAvailable | DriveError::NoSuchFile)) => {
            Error::NotFound(format!("the drive in {d}: {e}"))
        }
        DriveErr::Drive(e) => Error::NotABee(format!("the drive in {d} is damaged: {e}")),
        DriveErr::NotLocal(which, seq) => Error::NotFound(format!(
            "{} block {seq} of the drive in {d} is not stored locally; download it with \
             `ferrocore clone {d} <KEY> --connect HOST:PORT` (whole, or --paths PATH,...)",
            format!("{which:?}").to_lowercase()
        )),
        DriveErr::ReadOnly(why) => Error::Failed(format!("the drive in {d} is read-only: {why}")),
        DriveErr::Node(ferrocore_blocking::Error::Core(e)) => core_error(dir, e),
        e => Error::Failed(format!("the drive in {d}: {e}")),
    }
}
