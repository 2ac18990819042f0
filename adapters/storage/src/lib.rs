//! Persistent storage for ferrocore: every core of a store in **one** crash-safe database file,
//! each record checksummed.
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore::storage::{Storage, WriteBatch};
//! use ferrocore_storage::{Store, StoreOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("cores.redb"), StoreOptions::default()).unwrap();
//! let mut core = store.core(&[1; 32]);
//! let mut batch = WriteBatch::new();
//! batch.put_block(0, Bytes::from_static(b"hello"));
//! core.write(batch).unwrap();
//! assert_eq!(core.block(0).unwrap().as_deref(), Some(&b"hello"[..]));
//! assert_eq!(store.cores().unwrap(), vec![[1; 32]]);
//! ```
//!
//! # Why redb
//!
//! Two mature pure-Rust embedded stores were weighed. [`redb`] (1.0 since 2023, now 4.x) is a
//! copy-on-write B-tree in a single file with ACID transactions: a commit either lands whole or
//! not at all after a crash or power loss (checksummed commit slots, 1-phase commit with
//! checksums or optional 2-phase), it has exactly two durability levels (`Immediate`: fsync
//! before `commit` returns; `None`: no fsync, made durable by the next `Immediate` commit), no
//! background threads and no dependencies beyond `libc`. `fjall` is an LSM tree (keyspace
//! directory with a journal, many segment files, background flush and compaction threads,
//! several dependencies); its writes are cheaper, but it costs threads on a 2-core machine,
//! many files per store, and its durability rests on journal replay. Hypercore's workload is
//! append-mostly with point reads and rare range deletes (truncate, clear), which a B-tree
//! serves well, so the store uses redb.
//!
//! # Layout and integrity
//!
//! One table holds every record of every core under a 41-byte key: the core's discovery key,
//! a kind byte (header, node, block, bitfield page, counters) and the big-endian index, so the
//! records of one kind of one core form one contiguous key range and a range delete touches no
//! other core. Every value starts with a CRC-32C of key and payload, checked on every read: a
//! mismatch or an undecodable value is [`StorageErrorKind::Corrupt`](ferrocore::storage::StorageErrorKind)
//! naming the record. redb's own page checksums are verified when a file is opened after an
//! unclean shutdown, and on every open when [`StoreOptions::verify_on_open`] is set (the
//! default), so damage to the B-tree itself is an error at open, not a missing record later.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod core_storage;
mod record;

use std::path::Path;
use std::sync::Arc;

use ferrocore::storage::{Record, StorageError};
use redb::{Database, ReadableDatabase, TableDefinition};

pub use core_storage::CoreStorage;

/// The one table: record key → checksummed value.
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// When a committed write batch is on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every write batch is durable (fsync'd) when [`Storage::write`](ferrocore::storage::Storage::write) returns.
    #[default]
    Immediate,
    /// Write batches commit without fsync: after a crash the store comes back as of some
    /// earlier durable commit. A later `Immediate` commit or [`Store::flush`] makes every
    /// earlier batch durable. redb reuses freed pages only at durable commits, so flush now and
    /// then to bound the file's growth.
    Eventual,
}

/// How a [`Store`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// When write batches are durable.
    pub durability: Durability,
    /// Verify every page checksum of the file on open (reads the whole file once). Without
    /// it, damage to redb's B-tree pages of a cleanly closed file can go unseen until a read
    /// misses; the records' own checksums are always checked.
    pub verify_on_open: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Immediate,
            verify_on_open: true,
        }
    }
}

/// A database file holding any number of cores.
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<Database>,
    options: StoreOptions,
}

/// Runs redb code, turning a panic into [`StorageErrorKind::Corrupt`] about `record`.
///
/// redb checks page checksums but still asserts on some malformed pages (an unknown page
/// type, for one) instead of returning `Corrupted`; bytes from disk must never panic us, so
/// every entry into redb goes through here. (With `panic = "abort"` this cannot help.)
///
/// [`StorageErrorKind::Corrupt`]: ferrocore::storage::StorageErrorKind
pub(crate) fn guard<T>(
    record: Record,
    f: impl FnOnce() -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(StorageError::corrupt(
            record,
            format!("database panicked: {what}"),
        ))
    })
}

/// Maps a redb error about `record` to a storage error.
pub(crate) fn db_error(record: Record, err: impl Into<redb::Error>) -> StorageError {
    match err.into() {
        redb::Error::Corrupted(m) => StorageError::corrupt(record, m),
        redb::Error::UpgradeRequired(v) => {
            StorageError::corrupt(record, format!("unsupported file format version {v}"))
        }
        other => StorageError::io(record, other.to_string()),
    }
}

impl Store {
    /// Opens the database file at `path`, creating it if absent.
    ///
    /// # Errors
    /// [`StorageError`] about [`Record::Database`]: `Io` if the file cannot be opened or is in
    /// use, `Corrupt` if it is damaged beyond redb's crash recovery, fails verification, or is
    /// empty (an existing empty file is never taken for a new store).
    pub fn open(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StorageError> {
        let path = path.as_ref();
        guard(Record::Database, || Self::open_unguarded(path, options))
    }

    fn open_unguarded(path: &Path, options: StoreOptions) -> Result<Self, StorageError> {
        let err = |e: redb::DatabaseError| db_error(Record::Database, e);
        // redb would format an empty file as a new database; a store's file is never empty
        // once created, so an empty one was truncated (or its creation crashed): say so.
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(StorageError::corrupt(
                Record::Database,
                "database file is empty (truncated, or its creation was interrupted)",
            ));
        }
        let mut db = Database::create(path).map_err(err)?;
        if options.verify_on_open && !db.check_integrity().map_err(err)? {
            return Err(StorageError::corrupt(
                Record::Database,
                "page checksums failed; redb repaired the file to its last valid commit",
            ));
        }
        let store = Self {
            db: Arc::new(db),
            options,
        };
        // Creates the table once, so read transactions always find it.
        store.commit(Durability::Immediate, |_| Ok(()))?;
        Ok(store)
    }

    /// The options the store was opened with.
    #[must_use]
    pub fn options(&self) -> StoreOptions {
        self.options
    }

    /// The storage of one core, by discovery key. Cores share the file; a core with no
    /// record yet reads as empty.
    #[must_use]
    pub fn core(&self, discovery_key: &[u8; 32]) -> CoreStorage {
        CoreStorage::new(self.clone(), *discovery_key)
    }

    /// The discovery keys of every core with a record, ascending.
    ///
    /// # Errors
    /// A [`StorageError`] about [`Record::Database`] if the file cannot be read.
    pub fn cores(&self) -> Result<Vec<[u8; 32]>, StorageError> {
        guard(Record::Database, || self.cores_unguarded())
    }

    fn cores_unguarded(&self) -> Result<Vec<[u8; 32]>, StorageError> {
        let err = |e: redb::Error| db_error(Record::Database, e);
        let tx = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = tx.open_table(RECORDS).map_err(|e| err(e.into()))?;
        let mut out = Vec::new();
        let mut from = [0u8; 32];
        // One seek per core: jump to the first key past the previous core's prefix.
        loop {
            let next = table
                .range::<&[u8]>(&from[..]..)
                .map_err(|e| err(e.into()))?
                .next();
            let Some(entry) = next else { break };
            let (k, _) = entry.map_err(|e| err(e.into()))?;
            let (core, _) = record::split_key(k.value())
                .ok_or_else(|| StorageError::corrupt(Record::Database, "malformed record key"))?;
            out.push(core);
            match successor(&core) {
                Some(s) => from = s,
                None => break,
            }
        }
        Ok(out)
    }

    /// Makes every committed write batch durable (a no-op with [`Durability::Immediate`]
    /// beyond one fsync).
    ///
    /// # Errors
    /// A [`StorageError`] about [`Record::Database`] if the commit fails.
    pub fn flush(&self) -> Result<(), StorageError> {
        self.commit(Durability::Immediate, |_| Ok(()))
    }

    /// Runs `f` on the records table in one write transaction and commits it.
    pub(crate) fn commit(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        guard(Record::Database, || self.commit_unguarded(durability, f))
    }

    fn commit_unguarded(
        &self,
        durability: Durability,
        f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let err = |e: redb::Error| db_error(Record::Database, e);
        let mut tx = self.db.begin_write().map_err(|e| err(e.into()))?;
        tx.set_durability(match durability {
            Durability::Immediate => redb::Durability::Immediate,
            Durability::Eventual => redb::Durability::None,
        })
        .map_err(|e| err(e.into()))?;
        {
            let mut table = tx.open_table(RECORDS).map_err(|e| err(e.into()))?;
            f(&mut table)?;
        }
        tx.commit().map_err(|e| err(e.into()))
    }

    /// A read transaction on the records table.
    pub(crate) fn read(
        &self,
        record: Record,
    ) -> Result<redb::ReadOnlyTable<&'static [u8], &'static [u8]>, StorageError> {
        let tx = self.db.begin_read().map_err(|e| db_error(record, e))?;
        tx.open_table(RECORDS).map_err(|e| db_error(record, e))
    }
}

/// The 32-byte big-endian successor of `core`, or `None` after the last.
fn successor(core: &[u8; 32]) -> Option<[u8; 32]> {
    let mut s = *core;
    for b in s.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::successor;

    #[test]
    fn successor_carries_and_ends() {
        let mut c = [0u8; 32];
        c[31] = 0xff;
        let mut want = [0u8; 32];
        want[30] = 1;
        assert_eq!(successor(&c), Some(want));
        assert_eq!(successor(&[0xff; 32]), None);
    }
}
