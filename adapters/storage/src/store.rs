//! The [`Store`]: one redb database, its data file, its write-ahead log and its page
//! checksums, holding every core; opening it (with recovery), closing it, and the handles
//! reads go through.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrocore::storage::{Record, StorageError};
use redb::{Database, ReadableDatabase};

use crate::cache::{ReadCache, Reader};
use crate::commit::commit_batches;
use crate::data::DataFile;
use crate::disk::{beside, DbFile, Disk, Use};
use crate::meta::{check_core_count, cores_in, meta_value, open_wal, DATA_END};
use crate::overlay::Generation;
use crate::pending::Pending;
use crate::sums::{CheckedDb, PageSums};
use crate::wal::Wal;
use crate::{db_error, guard, CoreStorage, Durability, ReadTable, StoreOptions, RECORDS};

/// A database file holding any number of cores. Cheap to clone (handles share the file).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Always `Some` until dropped (taken by `Drop` to close it under a guard). Shared
    /// with the thread committing a frozen group (see [`Pending`]).
    pub(crate) db: Option<Arc<Database>>,
    /// The block bytes (see [`data`]).
    pub(crate) data: Arc<DataFile>,
    pub(crate) options: StoreOptions,
    pub(crate) pending: Mutex<Pending>,
    /// The write-ahead log (locked after `pending`).
    pub(crate) wal: Mutex<Wal>,
    /// Set when a batch reached the write-ahead log but not the database: the store's view
    /// and its log disagree until it is reopened (which replays the log), so it refuses
    /// writes and never checkpoints.
    pub(crate) failed: AtomicBool,
    /// The read transaction of the last commit, reused by point reads, and what reads
    /// decoded from it.
    pub(crate) reader: Mutex<Reader>,
    /// The database file's page checksums (see [`crate::sums`]).
    pub(crate) sums: Arc<PageSums>,
    /// For a store opened read-only: its generation counter's path and the generation its
    /// snapshot was taken at (see [`crate::overlay`]).
    pub(crate) read_only: Option<(PathBuf, u64)>,
}

impl Inner {
    pub(crate) fn db(&self) -> &Arc<Database> {
        self.db
            .as_ref()
            .expect("the database is open until the store is dropped")
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The cached reader goes first: a live read transaction would hold the close up.
        let reader = self
            .reader
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .table
            .take();
        let _ = guard(Record::Database, move || {
            drop(reader);
            Ok(())
        });
        if self.db.is_none() {
            return;
        }
        // Best effort: `Store::flush` is the way to learn about a failure. Closing a damaged
        // file can panic inside redb; a drop must not.
        let mut pending = core::mem::take(
            self.pending
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // A frozen group that cannot be committed keeps the newer batches out too: they may
        // refer to its records.
        let retired = self.retire(&mut pending).is_ok();
        let Some(db) = self.db.take() else { return };
        let wal = self.wal.get_mut().unwrap_or_else(PoisonError::into_inner);
        let failed = *self.failed.get_mut();
        let data = &self.data;
        let sums = &self.sums;
        let _ = guard(Record::Database, move || {
            // The close checkpoints and trims the data file.
            let _changing = data.generation().changing();
            let mut checkpoint = || {
                if !failed && retired && (!pending.is_empty() || wal.record_bytes() > 0) {
                    let seq = Some(wal.seq());
                    commit_batches(
                        &db,
                        data,
                        Durability::Immediate,
                        pending.batches(),
                        None,
                        seq,
                        &[],
                    )?;
                    wal.reset()?;
                }
                Ok(())
            };
            let closed = checkpoint();
            // redb's close makes its last commit durable, a commit made without a sync
            // included (a group commit of `Eventual`, say): the data file's bytes it refers
            // to must be durable first. (Found by the power-cut test: the store reopened
            // with blocks missing from the data file.)
            let synced = data.sync(data.end());
            // redb's close, its last write done, has the page checksums written.
            sums.save_on_close();
            // No commit thread is left to share it.
            drop(Arc::try_unwrap(db));
            data.trim();
            closed.and(synced)
        });
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
        guard(Record::Database, || Self::open_on(&Disk::Os, path, options))
    }

    /// [`Store::open`] on a simulated disk (see [`crate::sim`]; tests only).
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn open_simulated(
        disk: &crate::sim::SimDisk,
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<Self, StorageError> {
        let disk = Disk::Sim(disk.clone());
        guard(Record::Database, || {
            Self::open_on(&disk, path.as_ref(), options)
        })
    }

    pub(crate) fn open_on(
        disk: &Disk,
        path: &Path,
        options: StoreOptions,
    ) -> Result<Self, StorageError> {
        let err = |e: redb::DatabaseError| db_error(Record::Database, e);
        let io = |what: &str, e: std::io::Error| {
            StorageError::io(Record::Database, format!("{what}: {e}"))
        };
        // redb would format an empty file as a new database; a store's file is never empty
        // once created, so an empty one was truncated (or its creation crashed): say so.
        if disk.len_of(path) == Some(0) {
            return Err(StorageError::corrupt(
                Record::Database,
                "database file is empty (truncated, or its creation was interrupted)",
            ));
        }
        // The generation counter first: the open's recovery changes files a read-only reader
        // may be copying. Held locked while the store is open, so readers can tell a live
        // writer (see `overlay`). Only real files have readers: a simulated disk's store and
        // a reader's own copy count nothing.
        let generation = match disk {
            Disk::Os => {
                let (file, _) = disk
                    .open(&beside(path, "-gen"), Use::Plain)
                    .map_err(|e| io("open the generation counter", e))?;
                file.lock_writer()
                    .map_err(|e| io("lock the generation counter", e))?;
                Generation::open(file).map_err(|e| io("read the generation counter", e))?
            }
            _ => Generation::default(),
        };
        let generation = Arc::new(generation);
        let changing = generation.changing();
        let (file, mut created) = disk
            .open(path, Use::Plain)
            .map_err(|e| io("open the database", e))?;
        let db_file = Arc::new(DbFile::new(file).map_err(|e| io("open the database", e))?);
        let (file, c) = disk
            .open(&beside(path, "-sums"), Use::Plain)
            .map_err(|e| io("open the page checksums", e))?;
        created |= c;
        // Checksums a clean close left, if they fit the file as it is (see `sums`); the
        // file is emptied either way before redb writes.
        let sums = PageSums::load(file, &db_file, options.verify_on_open)
            .map_err(|e| io("read the page checksums", e))?;
        let sums = Arc::new(sums);
        let repaired = Arc::new(AtomicBool::new(false));
        let mut builder = redb::Builder::new();
        builder.set_cache_size(options.cache_bytes);
        let noted = Arc::clone(&repaired);
        builder.set_repair_callback(move |_| noted.store(true, Ordering::Relaxed));
        let backend = CheckedDb::new(Arc::clone(&db_file), Arc::clone(&sums));
        let mut db = builder.create_with_backend(backend).map_err(err)?;
        if options.verify_on_open && !sums.known() {
            // No checksums to check reads against: verify every page now, as redb's repair
            // after an unclean shutdown just did, then compute them.
            if !repaired.load(Ordering::Relaxed) && !db.check_integrity().map_err(err)? {
                return Err(StorageError::corrupt(
                    Record::Database,
                    "page checksums failed; redb repaired the file to its last valid commit",
                ));
            }
            sums.compute(&db_file)
                .map_err(|e| io("compute the page checksums", e))?;
        }
        // Creates the tables once, so read transactions always find them.
        let has_table = match db
            .begin_read()
            .map_err(|e| db_error(Record::Database, e))?
            .open_table(RECORDS)
        {
            Ok(_) => true,
            Err(redb::TableError::TableDoesNotExist(_)) => false,
            Err(e) => return Err(db_error(Record::Database, e)),
        };
        let data_end = {
            let tx = db.begin_read().map_err(|e| db_error(Record::Database, e))?;
            meta_value(&tx, DATA_END)?.unwrap_or(0)
        };
        let (file, c) = disk
            .open(&beside(path, "-data"), Use::Reads)
            .map_err(|e| io("open the data file", e))?;
        created |= c;
        let data = DataFile::new(file, data_end, Arc::clone(&generation))?;
        if !has_table {
            commit_batches(&db, &data, Durability::Immediate, &[], None, None, &[])?;
        }
        let (file, c) = disk
            .open(&beside(path, "-wal"), Use::Plain)
            .map_err(|e| io("open the write-ahead log", e))?;
        created |= c;
        let wal = open_wal(&db, &data, file)?;
        if created {
            // A file's directory entry is durable only once its directory is synced: until
            // then a power loss could take a created file, and what was logged in it, away.
            disk.sync_dir(path)
                .map_err(|e| io("sync the store's directory", e))?;
        }
        check_core_count(&db)?;
        drop(changing);
        Ok(Self {
            inner: Arc::new(Inner {
                db: Some(Arc::new(db)),
                data: Arc::new(data),
                options,
                pending: Mutex::new(Pending::default()),
                wal: Mutex::new(wal),
                failed: AtomicBool::new(false),
                reader: Mutex::new(Reader::default()),
                sums,
                read_only: None,
            }),
        })
    }

    /// True if the open checked the database against the page checksums of the last clean
    /// close instead of reading the whole file (tests only).
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    #[must_use]
    pub fn opened_from_page_sums(&self) -> bool {
        self.inner.sums.loaded()
    }

    /// The options the store was opened with.
    #[must_use]
    pub fn options(&self) -> StoreOptions {
        self.inner.options
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
        self.settle()?;
        guard(Record::Database, || self.cores_unguarded())
    }

    fn cores_unguarded(&self) -> Result<Vec<[u8; 32]>, StorageError> {
        cores_in(&self.read(Record::Database)?)
    }

    /// Makes every write batch durable: commits the pending ones of
    /// [`Durability::Eventual`] with an fsync, syncs the write-ahead log of
    /// [`Durability::Logged`] (with [`Durability::Immediate`] every batch is durable when
    /// written, so this only reports an earlier failure).
    ///
    /// # Errors
    /// A [`StorageError`] about [`Record::Database`] if the commit or the sync fails (pending
    /// batches stay pending, visible to reads, and a later flush retries them).
    pub fn flush(&self) -> Result<(), StorageError> {
        let mut pending = self.pending();
        match self.inner.options.durability {
            // Every batch is durable in the write-ahead log already.
            Durability::Immediate => self.check_failed(),
            Durability::Logged => {
                self.check_failed()?;
                self.wal().sync()
            }
            Durability::Eventual => self.checkpoint(&mut pending),
        }
    }

    /// Refuses writes to a store opened read-only.
    pub(crate) fn check_writable(&self) -> Result<(), StorageError> {
        if self.inner.read_only.is_some() {
            return Err(StorageError::io(
                Record::Database,
                "the store is open read-only",
            ));
        }
        Ok(())
    }

    pub(crate) fn check_failed(&self) -> Result<(), StorageError> {
        if self.inner.failed.load(Ordering::Relaxed) {
            return Err(StorageError::io(
                Record::Database,
                "an earlier commit failed after its batch was logged; reopen the store",
            ));
        }
        Ok(())
    }

    /// Drops the cached read transaction and everything decoded from it.
    pub(crate) fn forget_reads(&self) {
        self.inner.forget_reads();
    }

    /// The data file.
    pub(crate) fn data(&self) -> &DataFile {
        &self.inner.data
    }

    pub(crate) fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock left `Pending` whole (it mutates after commits).
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn wal(&self) -> MutexGuard<'_, Wal> {
        self.inner
            .wal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn reader(&self) -> MutexGuard<'_, Reader> {
        self.inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the records table as last committed, through a read transaction kept
    /// between reads (opening one costs as much as the lookup itself) and dropped at the
    /// next commit.
    pub(crate) fn with_table<T>(
        &self,
        record: Record,
        f: impl FnOnce(&ReadTable, &mut ReadCache) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        let mut reader = self.reader();
        let table = match reader.table.take() {
            Some(t) => t,
            None => self.read(record)?,
        };
        let out = f(&table, &mut reader.cache);
        reader.table = Some(table);
        out
    }

    /// A read transaction on the records table.
    pub(crate) fn read(&self, record: Record) -> Result<ReadTable, StorageError> {
        let tx = self
            .inner
            .db()
            .begin_read()
            .map_err(|e| db_error(record, e))?;
        tx.open_table(RECORDS).map_err(|e| db_error(record, e))
    }
}
