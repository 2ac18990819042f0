//! A store directory: the store's database (`core.db`, plus the `-data` and `-wal` files
//! the store keeps beside it), holding any number of cores, and the marker
//! `ferrocore.json`.
//!
//! The marker says a directory holds a store and which core is its default core:
//! `{"format", "key", "encryption"}` where `encryption` is `null` for a plain core, or a
//! check value of the encryption key (BLAKE2b-256 of a fixed label, the core key and the
//! encryption key; the key itself is never in the marker). It is written once the store's
//! first core exists in the database, so a `create` or `clone` interrupted before that
//! leaves a database without a marker, which every command reports instead of guessing.
//!
//! The database holds the writers' key pairs and the remembered encryption keys; on Unix
//! a directory `create` or `clone` makes is mode 0700 and the database files are mode
//! 0600.

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use ferrocore::hash;
use ferrocore::storage::StorageError;
use ferrocore_storage::{Durability, Store, StoreOptions};
use serde_json::{json, Value};

use crate::Error;

/// The database file inside a core directory.
pub(crate) const DB_FILE: &str = "core.db";
/// The marker file inside a core directory.
pub(crate) const MARKER_FILE: &str = "ferrocore.json";
/// The `format` of the marker this version writes and reads.
const FORMAT: &str = "ferrocore-cli/1";
/// The label hashed into the encryption key check value.
const CHECK_LABEL: &[u8] = b"ferrocore-cli encryption key check";

/// What the marker records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The core key.
    pub key: [u8; 32],
    /// The check value of the encryption key, if the core is encrypted.
    pub encryption: Option<[u8; 32]>,
}

/// The check value stored for an encryption key.
fn encryption_check(core_key: &[u8; 32], encryption_key: &[u8; 32]) -> [u8; 32] {
    hash::blake2b256(&[CHECK_LABEL, core_key, encryption_key])
}

impl Marker {
    /// The marker of core `key`, encrypted with `encryption_key` if given.
    pub fn new(key: [u8; 32], encryption_key: Option<&[u8; 32]>) -> Self {
        Self {
            key,
            encryption: encryption_key.map(|k| encryption_check(&key, k)),
        }
    }

    fn to_json(&self) -> String {
        let v = json!({
            "format": FORMAT,
            "key": hex::encode(self.key),
            "encryption": self.encryption.map(hex::encode),
        });
        format!("{v:#}\n")
    }

    fn parse(text: &str, path: &Path) -> Result<Marker, Error> {
        let bad = |why: &str| {
            Error::Failed(format!(
                "{} is damaged ({why}); it should hold {{\"format\":\"{FORMAT}\",\"key\":<hex>,\
                 \"encryption\":null|<hex>}}",
                path.display()
            ))
        };
        let v: Value = serde_json::from_str(text).map_err(|_| bad("not JSON"))?;
        if v["format"] != FORMAT {
            return Err(bad("unknown format"));
        }
        let hex32 = |v: &Value| -> Option<[u8; 32]> {
            let mut out = [0u8; 32];
            hex::decode_to_slice(v.as_str()?, &mut out).ok()?;
            Some(out)
        };
        let key = hex32(&v["key"]).ok_or_else(|| bad("no valid key"))?;
        let encryption = match &v["encryption"] {
            Value::Null => None,
            e => Some(hex32(e).ok_or_else(|| bad("bad encryption check value"))?),
        };
        Ok(Marker { key, encryption })
    }
}

/// An existing core directory and its marker.
#[derive(Debug)]
pub(crate) struct CoreDir {
    /// The directory.
    pub path: PathBuf,
    /// Its marker.
    pub marker: Marker,
}

/// How to read and write a core directory.
impl CoreDir {
    /// The core directory at `dir`, which must hold a core.
    pub fn existing(dir: &Path) -> Result<CoreDir, Error> {
        match fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Failed(format!(
                    "{} is not a directory; a core lives in a directory of its own",
                    dir.display()
                )))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::Failed(format!(
                    "no such directory: {d}; create a core with `ferrocore create {d}` or \
                     clone one with `ferrocore clone {d} KEY --connect HOST:PORT`",
                    d = dir.display()
                )))
            }
            Err(e) => {
                return Err(Error::Failed(format!("cannot read {}: {e}", dir.display())));
            }
        }
        match read_marker(dir)? {
            Some(marker) => Ok(CoreDir {
                path: dir.to_path_buf(),
                marker,
            }),
            None => Err(Error::Failed(format!(
                "no core in {d}; create one with `ferrocore create {d}` or clone one with \
                 `ferrocore clone {d} KEY --connect HOST:PORT`",
                d = dir.display()
            ))),
        }
    }

    /// The encryption key to open the core with: `given`, checked against the marker.
    /// Without one, an encrypted core is an error if `required` (commands that read,
    /// write or serve blocks), else opened without it.
    pub fn encryption(
        &self,
        given: Option<[u8; 32]>,
        required: bool,
    ) -> Result<Option<[u8; 32]>, Error> {
        let d = self.path.display();
        match (&self.marker.encryption, given) {
            (Some(check), Some(k)) => {
                if encryption_check(&self.marker.key, &k) == *check {
                    Ok(Some(k))
                } else {
                    Err(Error::Failed(format!(
                        "wrong encryption key for the core in {d}: pass the key it was \
                         created (or cloned) with"
                    )))
                }
            }
            (Some(_), None) if required => Err(Error::Failed(format!(
                "the core in {d} is encrypted: pass --encryption-key HEX64 (the key it was \
                 created or cloned with)"
            ))),
            (Some(_), None) | (None, None) => Ok(None),
            (None, Some(_)) => Err(Error::Failed(format!(
                "the core in {d} was created (or cloned) without an encryption key: drop \
                 --encryption-key"
            ))),
        }
    }

    /// True if the core is encrypted.
    pub fn encrypted(&self) -> bool {
        self.marker.encryption.is_some()
    }

    /// Opens the directory's store, with durable writes.
    pub fn open_store(&self) -> Result<Store, Error> {
        open_store(&self.path, Durability::Immediate)
    }

    /// Opens the directory's store read-only: it works while another process (`serve`,
    /// `clone`) has it open, and reads what that process acknowledged when it opened.
    pub fn open_store_read_only(&self) -> Result<Store, Error> {
        Store::open_read_only(self.path.join(DB_FILE), StoreOptions::default())
            .map_err(|e| store_error(&self.path, &e))
    }
}

/// Reads the marker of `dir`: `None` if there is none (and no database either).
pub(crate) fn read_marker(dir: &Path) -> Result<Option<Marker>, Error> {
    let path = dir.join(MARKER_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => Marker::parse(&text, &path).map(Some),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if dir.join(DB_FILE).exists() {
                Err(Error::Failed(format!(
                    "{d} holds a database ({DB_FILE}) but no {MARKER_FILE}: a `create` or \
                     `clone` was interrupted, or {d} was not made by ferrocore; remove {d} \
                     (or use another directory) and start again",
                    d = dir.display()
                )))
            } else {
                Ok(None)
            }
        }
        Err(e) => Err(Error::Failed(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Makes `dir` if it is missing (mode 0700 on Unix); true if it was made.
pub(crate) fn make_dir(dir: &Path) -> Result<bool, Error> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => return Ok(false),
        Ok(_) => {
            return Err(Error::Failed(format!(
                "{} is not a directory; a core lives in a directory of its own",
                dir.display()
            )))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::Failed(format!("cannot read {}: {e}", dir.display()))),
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    Ok(true)
}

/// Writes the marker of a new core: to a temporary file, synced, then renamed into place
/// (and the directory synced), so it is never seen half-written.
pub(crate) fn write_marker(dir: &Path, marker: &Marker) -> Result<(), Error> {
    let fail = |e: std::io::Error| {
        Error::Failed(format!(
            "cannot write {}: {e}",
            dir.join(MARKER_FILE).display()
        ))
    };
    let tmp = dir.join(format!(".{MARKER_FILE}.tmp"));
    let mut file = fs::File::create(&tmp).map_err(fail)?;
    file.write_all(marker.to_json().as_bytes()).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    drop(file);
    fs::rename(&tmp, dir.join(MARKER_FILE)).map_err(fail)?;
    // Makes the rename durable (where directories can be opened and synced).
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Ends the making of a core in the store of `dir`: if the store was new (`new_store`),
/// its marker names the core made (`marker` of what `made` holds), and if making it (or
/// the marker) failed, what this process made of the store goes.
pub(crate) fn finish_new_core<T>(
    dir: &Path,
    new_store: bool,
    created_dir: bool,
    made: Result<T, Error>,
    marker: impl FnOnce(&T) -> Marker,
) -> Result<T, Error> {
    if !new_store {
        return made;
    }
    let made = made.and_then(|m| {
        write_marker(dir, &marker(&m))?;
        Ok(m)
    });
    if made.is_err() {
        // A store this process created (it held its lock): nothing half made stays.
        remove_new_core(dir, created_dir);
    }
    made
}

/// Removes a core this process created in `dir` (its store closed): the whole directory
/// if this process made it, else the files it wrote. Best effort.
pub(crate) fn remove_new_core(dir: &Path, created_dir: bool) {
    if created_dir {
        let _ = fs::remove_dir_all(dir);
        return;
    }
    for name in [
        MARKER_FILE.to_owned(),
        format!(".{MARKER_FILE}.tmp"),
        DB_FILE.to_owned(),
        format!("{DB_FILE}-data"),
        format!("{DB_FILE}-wal"),
        format!("{DB_FILE}-sums"),
        format!("{DB_FILE}-gen"),
    ] {
        let _ = fs::remove_file(dir.join(name));
    }
}

/// Opens (or creates) the store of `dir`; on Unix its files are made mode 0600, since the
/// database holds the writer's secret key.
///
/// Local writes (`create`, `append`, `truncate`, `serve --append-stdin`) use
/// [`Durability::Immediate`]: each is durable when it returns. `clone` uses
/// [`Durability::Eventual`] (group commit) and flushes at the end (and `clone --live`
/// within a second of printing a block): a downloaded block
/// can always be fetched again, and one `fdatasync` per verified block would hold a clone
/// to a few hundred blocks a second.
pub(crate) fn open_store(dir: &Path, durability: Durability) -> Result<Store, Error> {
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.join(DB_FILE), options).map_err(|e| store_error(dir, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-data", "-wal"] {
            let path = dir.join(format!("{DB_FILE}{suffix}"));
            if let Ok(m) = fs::metadata(&path) {
                if m.permissions().mode() & 0o077 != 0 {
                    let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
                }
            }
        }
    }
    Ok(store)
}

/// A store that failed to open.
fn store_error(dir: &Path, e: &StorageError) -> Error {
    let message = e.message.to_lowercase();
    let hint = if message.contains("already open") || message.contains("lock") {
        " (is another ferrocore process, e.g. `serve` or `clone`, using this directory? stop \
         it first)"
    } else {
        ""
    };
    Error::Failed(format!(
        "cannot open the database in {}: {e}{hint}",
        dir.display()
    ))
}

/// A failure of the log of the core in `dir`.
pub(crate) fn core_error(dir: &Path, e: ferrocore::Error) -> Error {
    Error::Failed(format!("the core in {}: {e}", dir.display()))
}
