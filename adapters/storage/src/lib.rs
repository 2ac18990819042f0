//! Persistent storage for ferrocore: every core of a store in **one** crash-safe database
//! (a redb file, its data file and its write-ahead log), each record checksummed.
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
//! Measured on the 2-core development VM (records shaped like a log's: 41-byte keys, 4 KiB
//! blocks plus 44-byte nodes): redb reads a random record in 1.6–2.6 µs, fjall 2.11 (with
//! key-value separation for large values) in 9.9 µs; redb inserts a 4 KiB value in 23–33 µs
//! even in transactions of thousands, fjall in about 17 µs; a durable single write costs redb
//! one fdatasync after about a dozen page writes. Reads decide random-get latency, which
//! redb wins by 4×. Writes are redb's weak side, and the store keeps them small: block bytes
//! go to an append-only data file beside the database (redb holds one small index entry per
//! run of up to 256 blocks), tree nodes are packed 64 to a record, and durable writes go
//! through a write-ahead log (one sequential write and one `fdatasync` each; see below).
//!
//! # Layout and integrity
//!
//! One table holds every record of every core under a 41-byte key: the core's discovery key,
//! a kind byte (header, node page, block chunk, bitfield page, counters) and the big-endian
//! index, so the records of one kind of one core form one contiguous key range and a range
//! delete touches no other core. Tree nodes are stored 64 to a page, by flat-tree index.
//! Blocks with consecutive indices written by one commit form one chunk under the index of
//! its first block: the blocks' bytes are appended to the data file (the database path with
//! `-data` appended; shared by every core), and the chunk records where they start and each
//! block's length and checksum (a read finds the last chunk at or below the block; a delete
//! or overwrite that cuts a chunk stores the remaining pieces again, pointing at the same
//! bytes). Every value is checksummed (CRC-32C over key and payload; a chunk over key and
//! table), and every block's bytes have their own checksum, checked when the block is read.
//! A mismatch or an undecodable value is
//! [`StorageErrorKind::Corrupt`](ferrocore::storage::StorageErrorKind) naming the record.
//! redb's own page checksums are verified when a file is opened after an unclean shutdown,
//! and on every open when [`StoreOptions::verify_on_open`] is set (the default), so damage
//! to the B-tree itself is an error at open, not a missing record later. Each commit records
//! the data file's end: opening the store cuts off bytes past it (written for a commit that
//! never landed), and a data file shorter than that is `Corrupt`. A second table counts the
//! cores with a header, so a damaged file never reads as holding fewer cores (a vanished
//! core would otherwise reopen as a new, empty one).
//!
//! Bytes of cleared, truncated or overwritten blocks are given back to the file system by
//! punching holes in the data file (Linux; elsewhere the file keeps them), but only once a
//! durable commit no longer refers to them: until then a crash could bring back a commit
//! that does. Non-durable commits list their holes in a table; the next durable commit
//! takes them out and punches them after it lands. A crash between that commit and the
//! punch leaves those bytes allocated (space only, never data).
//!
//! # Durability and memory
//!
//! [`Durability::Immediate`] (the default) makes every write batch durable before
//! [`Storage::write`](ferrocore::storage::Storage::write) returns: an acknowledged append
//! survives a crash or power loss. The batch is appended to the store's write-ahead log (the
//! database path with `-wal` appended: one record, one `fdatasync` over space allocated
//! ahead), then committed to redb without a sync (its blocks' bytes written to the data
//! file, unsynced). Every 32 MiB of log, after a batch that deletes blocks, and when the
//! store closes, the data file is synced and one durable redb commit takes over, and the
//! log is emptied; opening a store after a crash replays the log's newer records. The log's
//! own damage handling is described in its module; damage never passes as data. A store is
//! thus three files (the database, its data file and its log) whatever the number of
//! cores. Writes of many megabytes start the data file's write-back early (a hint to the
//! kernel, no wait), so the sync that makes them durable waits for less. [`Durability::Eventual`] holds batches in memory
//! (a group of at most 2 MiB) and commits them together, in a background thread while the
//! next group fills (so at most two groups, 4 MiB, are held); see its documentation for
//! what a crash loses.
//! Point reads reuse one read transaction until the next commit; redb caches pages up to
//! [`StoreOptions::cache_bytes`]. Blocks read in order (a peer serving a download) are
//! read ahead from the data file, up to 64 KiB at a time: one system call and one buffer
//! for many blocks, which the blocks served from it share.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chunk;
mod core_storage;
mod data;
mod node_page;
mod pending;
mod record;
mod wal;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrocore::storage::{Op, Record, StorageError, WriteBatch};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use core_storage::Sink;
use data::DataFile;
use pending::{Frozen, Pending};
use wal::Wal;

pub use core_storage::CoreStorage;

/// The one table: record key → checksummed value.
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// A second table (its own B-tree, so damage to one is caught by the other): the number of
/// cores with a header. A damaged file must never read as holding fewer cores (a core whose
/// records all vanished would otherwise open as a new, empty core).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The [`META`] key counting cores.
const CORE_COUNT: &str = "cores";

/// The [`META`] key of the store's id, which its write-ahead log carries.
const STORE_ID: &str = "store id";

/// The [`META`] key of the last write-ahead log record the database holds durably.
const WAL_SEQ: &str = "wal seq";

/// The [`META`] key of the data file's end as of the commit (see [`data`]).
pub(crate) const DATA_END: &str = "data end";

/// Data file ranges no chunk refers to any more, by offset (value: length), left by
/// commits that were not durable; the next durable commit takes them out and punches them.
const HOLES: TableDefinition<u64, u64> = TableDefinition::new("holes");

/// When a committed write batch is on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every write batch is durable when [`Storage::write`](ferrocore::storage::Storage::write)
    /// returns: logged and synced in the write-ahead log (see the crate docs).
    #[default]
    Immediate,
    /// Group commit: write batches are held in memory (reads see them at once) and committed
    /// together when [`StoreOptions::group_bytes`] (2 MiB) or 4096 batches are pending (without fsync, except every eighth
    /// such group), durably on [`Store::flush`] and when the last handle of the store is
    /// dropped. A full group is committed by a background thread while the next one fills;
    /// the write that fills the next one waits for that commit, and reports its failure
    /// (after retrying it) by refusing its own batch. A process crash loses the pending batches, a power loss what was not flushed
    /// or fsync'd; the store comes back as of some earlier commit, each batch whole or
    /// absent. Batches that delete ranges (truncate, clear) commit at once, with everything
    /// pending before them, without fsync.
    Eventual,
}

/// How a [`Store`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// When write batches are durable.
    pub durability: Durability,
    /// Verify every page checksum of the file on open (default `true`). This reads the whole
    /// file once, so opening costs time in proportion to its size (about 0.7 s per GiB
    /// here). redb verifies on its own after an unclean shutdown; this adds the check for
    /// damage at rest. Turn it off only for files you trust: without it, damage to redb's
    /// B-tree pages can make records read as absent (which the log reports as corruption
    /// where it can tell) and some damage makes redb itself panic, even while unwinding,
    /// which aborts the process. The records' own checksums are checked on every read either
    /// way.
    pub verify_on_open: bool,
    /// Bytes of memory redb may use to cache pages it read and buffer pages it wrote
    /// (default [`DEFAULT_CACHE_BYTES`]).
    pub cache_bytes: usize,
    /// With [`Durability::Eventual`]: payload bytes a group of write batches collects before
    /// it is committed (default [`DEFAULT_GROUP_BYTES`]; at least one batch per group).
    /// Two groups can be in memory at once, one filling and one being committed.
    pub group_bytes: usize,
}

/// The default [`StoreOptions::group_bytes`]: 2 MiB (about 500 blocks of 4 KiB; at
/// 250 MB/s a group commit every 8 ms).
///
/// Small groups are faster, not only safer: a group's blocks are still in the CPU's caches
/// when its commit copies them into the data file, and the two groups in memory touch
/// little memory. Measured on the 2-core development VM against 8 MiB groups (alternating
/// runs): a replicated 4 KiB block cost both peers 26.0 instead of 31.8 µs of CPU, and
/// appends of 100 × 4 KiB ran 1.5× faster (147k against 82–98k blocks/s); 1 MiB groups
/// commit too often (replication slower again).
pub const DEFAULT_GROUP_BYTES: usize = pending::MAX_PENDING_BYTES;

/// The default [`StoreOptions::cache_bytes`]: 1 GiB (redb's own default), filled only as
/// pages are read or written. Random reads of a store larger than the cache go to the file,
/// a whole chunk of blocks at a time: measured here, a 64 MiB cache reads random 4 KiB
/// blocks of a 400 MB core 3.5× slower than 1 GiB, while it writes batches about 10% faster
/// (a large cache keeps every page written in memory).
pub const DEFAULT_CACHE_BYTES: usize = 1 << 30;

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Immediate,
            verify_on_open: true,
            cache_bytes: DEFAULT_CACHE_BYTES,
            group_bytes: DEFAULT_GROUP_BYTES,
        }
    }
}

/// A database file holding any number of cores. Cheap to clone (handles share the file).
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A read-only view of the records table.
pub(crate) type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

#[derive(Debug)]
struct Inner {
    /// Always `Some` until dropped (taken by `Drop` to close it under a guard). Shared
    /// with the thread committing a frozen group (see [`Pending`]).
    db: Option<Arc<Database>>,
    /// The block bytes (see [`data`]).
    data: Arc<DataFile>,
    options: StoreOptions,
    pending: Mutex<Pending>,
    /// The write-ahead log (locked after `pending`).
    wal: Mutex<Wal>,
    /// Set when a batch reached the write-ahead log but not the database: the store's view
    /// and its log disagree until it is reopened (which replays the log), so it refuses
    /// writes and never checkpoints.
    failed: AtomicBool,
    /// The read transaction of the last commit, reused by point reads, and what reads
    /// decoded from it.
    reader: Mutex<Reader>,
}

/// The read side of the last commit: its read transaction and the records decoded from it.
/// A commit empties both (before it starts and after it lands, under this lock), so a
/// cached record is never older than the committed state.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    table: Option<ReadTable>,
    /// Decoded records (see [`ReadCache`]).
    cache: ReadCache,
}

/// Records decoded by earlier reads of the last commit: serving blocks in order reads the
/// same block chunk and the same few node pages again and again, and decoding and
/// checksumming them each time was a third of a serving peer's work.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    /// Node pages by (core, page number), boxed (a page is about 2.6 KiB, and the map moves
    /// its values when it grows). (foldhash: SipHash on these keys was 3% of a serving
    /// peer's work.)
    pub(crate) pages: std::collections::HashMap<
        record::MapKey,
        Box<node_page::NodePage>,
        foldhash::fast::RandomState,
    >,
    /// Block chunks, most recently used last.
    pub(crate) chunks: Vec<([u8; 32], Arc<chunk::Parsed>)>,
    /// Data-file bytes read ahead of a block (where they start, and the bytes), from the
    /// blocks after it in its chunk: see [`ReadCache::ahead_of`].
    pub(crate) ahead: Option<(u64, bytes::Bytes)>,
    /// Where the last block read ended in the data file: a read that starts there is
    /// sequential.
    pub(crate) last_end: Option<u64>,
}

impl ReadCache {
    /// Node pages kept (about 2.6 KiB each).
    const PAGES: usize = 1024;
    /// Block chunks kept (up to 2 KiB of table each).
    const CHUNKS: usize = 16;
    /// Bytes a sequential block read reads ahead, at most.
    pub(crate) const AHEAD: u64 = 64 << 10;

    /// The bytes at `offset .. offset + len` of the data file, if the last read ahead
    /// holds them.
    pub(crate) fn ahead_of(&self, offset: u64, len: usize) -> Option<bytes::Bytes> {
        let (at, bytes) = self.ahead.as_ref()?;
        let start = usize::try_from(offset.checked_sub(*at)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= bytes.len()).then(|| bytes.slice(start..end))
    }

    /// The cached node page `page` of `core`.
    pub(crate) fn page(&self, core: &[u8; 32], page: u64) -> Option<&node_page::NodePage> {
        self.pages
            .get(&record::MapKey::page(core, page))
            .map(|p| &**p)
    }

    /// Keeps a decoded node page.
    pub(crate) fn keep_page(&mut self, core: &[u8; 32], page: u64, p: node_page::NodePage) {
        if self.pages.len() >= Self::PAGES {
            self.pages.clear();
        }
        self.pages
            .insert(record::MapKey::page(core, page), Box::new(p));
    }

    /// The cached chunk of `core` holding block `index`, and the block's position in it.
    pub(crate) fn chunk(
        &mut self,
        core: &[u8; 32],
        index: u64,
    ) -> Option<(Arc<chunk::Parsed>, usize)> {
        let (at, j) = self
            .chunks
            .iter()
            .enumerate()
            .rev()
            .find_map(|(at, (c, p))| {
                (c == core)
                    .then(|| p.position(index))
                    .flatten()
                    .map(|j| (at, j))
            })?;
        let hit = self.chunks.remove(at);
        let parsed = Arc::clone(&hit.1);
        self.chunks.push(hit);
        Some((parsed, j))
    }

    /// Keeps a parsed chunk.
    pub(crate) fn keep_chunk(&mut self, core: &[u8; 32], p: Arc<chunk::Parsed>) {
        if self.chunks.len() >= Self::CHUNKS {
            self.chunks.remove(0);
        }
        self.chunks.push((*core, p));
    }
}

impl Inner {
    fn db(&self) -> &Arc<Database> {
        self.db
            .as_ref()
            .expect("the database is open until the store is dropped")
    }

    /// Commits the active group in a background thread (with `durability`), keeping it
    /// readable as the frozen group; the caller retired the previous one first. If no
    /// thread can be started, the group waits frozen and the next retire commits it.
    fn commit_in_background(&self, pending: &mut Pending, durability: Durability) {
        let group = pending.freeze();
        let (db, data, batches) = (
            Arc::clone(self.db()),
            Arc::clone(&self.data),
            Arc::clone(&group),
        );
        let task = std::thread::Builder::new()
            .name("ferrocore-store-commit".into())
            .spawn(move || {
                guard(Record::Database, || {
                    commit_batches(&db, &data, durability, batches.batches(), None, None)
                })
            })
            .ok();
        pending.set_frozen(Frozen { group, task });
    }

    /// Retires the frozen group, if any: waits for its commit (and commits it here if that
    /// failed), drops the read transaction and records cached from before the commit, then
    /// the group. Every commit retires first, so commits land in order, one at a time.
    ///
    /// On error the group stays frozen and readable, and the next retire tries again.
    /// Returns the retired group, for the caller to drop.
    fn retire(&self, pending: &mut Pending) -> Result<Option<Arc<pending::Group>>, StorageError> {
        let Some(frozen) = pending.frozen_mut() else {
            return Ok(None);
        };
        if !frozen.join() {
            let batches = frozen.group.batches();
            guard(Record::Database, || {
                commit_batches(
                    self.db(),
                    &self.data,
                    Durability::Eventual,
                    batches,
                    None,
                    None,
                )
            })?;
        }
        // Reads that found nothing in the group went to the state before its commit; that
        // state must go before the group does.
        self.forget_reads();
        Ok(pending.take_frozen())
    }

    /// Drops the cached read transaction and everything decoded from it.
    fn forget_reads(&self) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader.table = None;
        reader.cache = ReadCache::default();
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
        let _ = guard(Record::Database, move || {
            if !failed && retired && (!pending.is_empty() || wal.record_bytes() > 0) {
                let seq = Some(wal.seq());
                commit_batches(
                    &db,
                    data,
                    Durability::Immediate,
                    pending.batches(),
                    None,
                    seq,
                )?;
                wal.reset()?;
            }
            // No commit thread is left to share it.
            drop(Arc::try_unwrap(db));
            data.trim();
            Ok(())
        });
    }
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
        let mut db = redb::Builder::new()
            .set_cache_size(options.cache_bytes)
            .create(path)
            .map_err(err)?;
        if options.verify_on_open && !db.check_integrity().map_err(err)? {
            return Err(StorageError::corrupt(
                Record::Database,
                "page checksums failed; redb repaired the file to its last valid commit",
            ));
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
        let data = DataFile::open(&data::beside(path, "-data"), data_end)?;
        if !has_table {
            commit_batches(&db, &data, Durability::Immediate, &[], None, None)?;
        }
        let wal = open_wal(&db, &data, &data::beside(path, "-wal"))?;
        check_core_count(&db)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db: Some(Arc::new(db)),
                data: Arc::new(data),
                options,
                pending: Mutex::new(Pending::default()),
                wal: Mutex::new(wal),
                failed: AtomicBool::new(false),
                reader: Mutex::new(Reader::default()),
            }),
        })
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
    /// [`Durability::Eventual`] with an fsync (with [`Durability::Immediate`] every batch is
    /// durable when written, so this only reports an earlier failure).
    ///
    /// # Errors
    /// A [`StorageError`] about [`Record::Database`] if the commit fails (the pending batches
    /// stay pending, visible to reads, and a later flush retries them).
    pub fn flush(&self) -> Result<(), StorageError> {
        let mut pending = self.pending();
        if self.inner.options.durability == Durability::Immediate {
            // Every batch is durable in the write-ahead log already.
            return self.check_failed();
        }
        self.checkpoint(&mut pending)
    }

    /// Commits everything durably, recording the write-ahead log as applied, and empties
    /// the log.
    fn checkpoint(&self, pending: &mut Pending) -> Result<(), StorageError> {
        self.check_failed()?;
        self.commit_pending(pending, Durability::Immediate, None)?;
        self.wal().reset()
    }

    fn check_failed(&self) -> Result<(), StorageError> {
        if self.inner.failed.load(Ordering::Relaxed) {
            return Err(StorageError::io(
                Record::Database,
                "an earlier commit failed after its batch was logged; reopen the store",
            ));
        }
        Ok(())
    }

    /// Applies one core's write batch as the durability setting says.
    pub(crate) fn write(&self, core: &[u8; 32], batch: WriteBatch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.inner.options.durability == Durability::Immediate {
            // Nothing is ever pending in this mode: the batch is durable once logged, and
            // its commit to the database needs no sync of its own.
            let mut pending = self.pending();
            self.check_failed()?;
            self.wal().append(&wal::encode(core, &batch))?;
            if let Err(e) =
                self.commit_pending(&mut pending, Durability::Eventual, Some((core, &batch)))
            {
                self.inner.failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            // A batch that deleted blocks checkpoints at once, so the data file gives their
            // bytes back now (only a durable commit may).
            if self.wal().record_bytes() >= wal::CHECKPOINT_BYTES || !Pending::can_hold(&batch) {
                // The batch is durable and committed: a failed checkpoint must not report it
                // as failed. The log keeps its records and the next write tries again; a
                // database that refuses writes from now on fails that write.
                let _ = self.checkpoint(&mut pending);
            }
            return Ok(());
        }
        let mut pending = self.pending();
        if !Pending::can_hold(&batch) {
            // Everything pending, then this batch, in one transaction.
            return self.commit_pending(&mut pending, Durability::Eventual, Some((core, &batch)));
        }
        if pending.would_overflow(&batch, self.inner.options.group_bytes)
            && !pending.batches().is_empty()
        {
            // The older batches are committed in the background while this one starts the
            // next group. The group before them must have landed first: if it cannot be
            // committed, this batch is refused whole. Every few group commits is durable:
            // redb reuses freed pages only after a durable commit, so this bounds the
            // file's growth without an fsync each time.
            let durability = if pending.next_group_is_durable() {
                Durability::Immediate
            } else {
                Durability::Eventual
            };
            let retired = self.inner.retire(&mut pending)?;
            self.inner.commit_in_background(&mut pending, durability);
            pending.count_group();
            // Freed here, by the thread that allocated most of it (the blocks' receive
            // buffers), while the commit runs: freed by the commit thread instead, every
            // free contended for the allocator arena this thread keeps allocating from,
            // and the two threads took turns sleeping on its lock (a receiving peer
            // measured 5% slower).
            drop(retired);
        }
        pending.push(*core, batch);
        Ok(())
    }

    /// What the pending batches say about a record (see [`Pending::lookup`]).
    pub(crate) fn pending_lookup(&self, key: &[u8; record::KEY_LEN]) -> Option<pending::Hit> {
        if self.inner.options.durability == Durability::Immediate {
            return None;
        }
        let mut pending = self.pending();
        if pending.retire_landed() {
            // Reads that found nothing in the group went to the state before its commit.
            self.forget_reads();
        }
        pending.lookup(key)
    }

    /// Commits the pending batches without fsync, so a database scan sees them.
    pub(crate) fn settle(&self) -> Result<(), StorageError> {
        let mut pending = self.pending();
        if pending.is_empty() {
            return Ok(());
        }
        self.commit_pending(&mut pending, Durability::Eventual, None)
    }

    /// Commits the pending batches (a frozen group first, see [`Inner::retire`]), then
    /// `last`, in one transaction and forgets them; on failure nothing is forgotten. The
    /// cached read transaction goes first (a live reader would keep the pages this commit
    /// frees from being reused).
    fn commit_pending(
        &self,
        pending: &mut Pending,
        durability: Durability,
        last: Option<(&[u8; 32], &WriteBatch)>,
    ) -> Result<(), StorageError> {
        self.inner.retire(pending)?;
        self.forget_reads();
        // A durable commit holds every logged batch (each is committed as it is logged).
        let seq = (durability == Durability::Immediate).then(|| self.wal().seq());
        let result = guard(Record::Database, || {
            commit_batches(
                self.inner.db(),
                &self.inner.data,
                durability,
                pending.batches(),
                last,
                seq,
            )
        });
        // A read that ran during the commit may have kept the state before it.
        self.forget_reads();
        result?;
        pending.clear();
        Ok(())
    }

    /// Drops the cached read transaction and everything decoded from it.
    fn forget_reads(&self) {
        self.inner.forget_reads();
    }

    /// The data file.
    pub(crate) fn data(&self) -> &DataFile {
        &self.inner.data
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock left `Pending` whole (it mutates after commits).
        self.inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn wal(&self) -> MutexGuard<'_, Wal> {
        self.inner
            .wal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn reader(&self) -> MutexGuard<'_, Reader> {
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

/// Commits `batches` then `last` in one write transaction with `durability`
/// (`Eventual` = redb's `None`: no fsync). The blocks' bytes are appended to the data file
/// first (and synced, for a durable commit), so a commit never refers to bytes the file
/// lacks. A durable commit also takes every recorded hole out of [`HOLES`] and punches it,
/// with the holes it makes itself, once it has landed; other commits record theirs.
fn commit_batches(
    db: &Database,
    data: &DataFile,
    durability: Durability,
    batches: &[([u8; 32], WriteBatch)],
    last: Option<(&[u8; 32], &WriteBatch)>,
    wal_seq: Option<u64>,
) -> Result<(), StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    let mut tx = db.begin_write().map_err(|e| err(e.into()))?;
    let durable = durability == Durability::Immediate;
    tx.set_durability(if durable {
        redb::Durability::Immediate
    } else {
        redb::Durability::None
    })
    .map_err(|e| err(e.into()))?;
    let mut sink = Sink::new(data.end());
    let mut punch: Vec<(u64, u64)> = Vec::new();
    let end;
    {
        let mut table = tx.open_table(RECORDS).map_err(|e| err(e.into()))?;
        let mut meta = tx.open_table(META).map_err(|e| err(e.into()))?;
        let mut new_cores = 0u64;
        // Each core's operations in order, applied in one pass, so a group commit reads and
        // writes each core's counters once and its header only as last written.
        let mut by_core: BTreeMap<&[u8; 32], Vec<&Op>> = BTreeMap::new();
        for (core, batch) in batches.iter().map(|(c, b)| (c, b)).chain(last) {
            by_core.entry(core).or_default().extend(batch.ops());
        }
        for (core, ops) in by_core {
            new_cores += core_storage::apply(&mut table, core, &ops, &mut sink)?;
        }
        if new_cores > 0 {
            let count = meta
                .get(CORE_COUNT)
                .map_err(|e| err(e.into()))?
                .map_or(0, |v| v.value());
            meta.insert(CORE_COUNT, count.saturating_add(new_cores))
                .map_err(|e| err(e.into()))?;
        }
        if let Some(seq) = wal_seq {
            meta.insert(WAL_SEQ, seq).map_err(|e| err(e.into()))?;
        }
        if durable {
            let mut holes = tx.open_table(HOLES).map_err(|e| err(e.into()))?;
            for entry in holes.iter().map_err(|e| err(e.into()))? {
                let (k, v) = entry.map_err(|e| err(e.into()))?;
                punch.push((k.value(), v.value()));
            }
            holes.retain(|_, _| false).map_err(|e| err(e.into()))?;
            punch.extend_from_slice(sink.holes());
        } else if !sink.holes().is_empty() {
            let mut holes = tx.open_table(HOLES).map_err(|e| err(e.into()))?;
            for &(at, len) in sink.holes() {
                holes.insert(at, len).map_err(|e| err(e.into()))?;
            }
        }
        end = data.write(sink.parts())?;
        meta.insert(DATA_END, end).map_err(|e| err(e.into()))?;
        if durable {
            data.sync(end)?;
        }
    }
    tx.commit().map_err(|e| err(e.into()))?;
    data.set_end(end);
    let _ = data.start_write_back();
    for (at, len) in punch {
        data.punch(at, len);
    }
    Ok(())
}

/// A fresh store id: distinct for databases created at different times or by different
/// processes (it only tells a store's log from a log left by a deleted store).
fn new_store_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = crc32c::crc32c_append(
        crc32c::crc32c(&nanos.to_le_bytes()),
        &std::process::id().to_le_bytes(),
    );
    (nanos as u64).rotate_left(17) ^ (u64::from(mixed) << 32) ^ u64::from(mixed)
}

/// Opens the store's write-ahead log, replays the records the database lacks in one
/// durable commit, and empties the log.
fn open_wal(db: &Database, data: &DataFile, path: &Path) -> Result<Wal, StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    let (id, applied) = {
        let tx = db.begin_read().map_err(|e| err(e.into()))?;
        (
            meta_value(&tx, STORE_ID)?,
            meta_value(&tx, WAL_SEQ)?.unwrap_or(0),
        )
    };
    let id = match id {
        Some(id) => id,
        None => {
            // A store created before its log existed, or just now: give it an id.
            let id = new_store_id();
            let tx = db.begin_write().map_err(|e| err(e.into()))?;
            tx.open_table(META)
                .map_err(|e| err(e.into()))?
                .insert(STORE_ID, id)
                .map_err(|e| err(e.into()))?;
            tx.commit().map_err(|e| err(e.into()))?;
            id
        }
    };
    let (mut wal, records) = Wal::open(path, id, applied)?;
    if !records.is_empty() {
        let batches = records
            .iter()
            .map(|p| wal::decode(p))
            .collect::<Result<Vec<_>, _>>()?;
        commit_batches(
            db,
            data,
            Durability::Immediate,
            &batches,
            None,
            Some(wal.seq()),
        )?;
    }
    wal.reset()?;
    Ok(wal)
}

/// The value of `key` in the [`META`] table as of `tx` (`None` if absent, or if the table
/// was never created).
fn meta_value(tx: &redb::ReadTransaction, key: &str) -> Result<Option<u64>, StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    match tx.open_table(META) {
        Ok(meta) => Ok(meta.get(key).map_err(|e| err(e.into()))?.map(|v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(err(e.into())),
    }
}

/// Checks that the records hold a header for as many cores as the meta table counts.
fn check_core_count(db: &Database) -> Result<(), StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    let tx = db.begin_read().map_err(|e| err(e.into()))?;
    let recorded = meta_value(&tx, CORE_COUNT)?.unwrap_or(0);
    let table = tx.open_table(RECORDS).map_err(|e| err(e.into()))?;
    let mut found = 0u64;
    for core in cores_in(&table)? {
        let k = record::key(&core, record::Kind::Header, 0);
        if table.get(&k[..]).map_err(|e| err(e.into()))?.is_some() {
            found += 1;
        }
    }
    if found != recorded {
        return Err(StorageError::corrupt(
            Record::Database,
            format!("the store records {recorded} cores but holds the header of {found}"),
        ));
    }
    Ok(())
}

/// The discovery keys of every core with a record in `table`, ascending: one seek per core,
/// to the first key past the previous core's prefix.
fn cores_in(table: &ReadTable) -> Result<Vec<[u8; 32]>, StorageError> {
    let err = |e: redb::StorageError| db_error(Record::Database, e);
    let mut out = Vec::new();
    let mut from = [0u8; 32];
    loop {
        let next = table.range::<&[u8]>(&from[..]..).map_err(err)?.next();
        let Some(entry) = next else { break };
        let (k, _) = entry.map_err(err)?;
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
    use super::*;
    use bytes::Bytes;
    use ferrocore::storage::Storage;

    #[test]
    fn a_read_retires_a_group_whose_commit_landed_and_still_sees_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            durability: Durability::Eventual,
            group_bytes: 64 << 10,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path().join("db"), options).unwrap();
        let mut core = store.core(&[3; 32]);
        let block = |i: u64| Bytes::from(vec![i as u8; 4096]);
        let first = block(0);
        let mut i = 0;
        while store.pending().frozen_mut().is_none() {
            let mut batch = WriteBatch::new();
            batch.put_block(i, if i == 0 { first.clone() } else { block(i) });
            core.write(batch).unwrap();
            i += 1;
        }
        // The frozen group's background commit lands; nothing joins it until a read.
        while !store
            .pending()
            .frozen_mut()
            .and_then(|f| f.task.as_ref())
            .is_some_and(std::thread::JoinHandle::is_finished)
        {
            std::thread::yield_now();
        }
        assert_eq!(core.block(0).unwrap(), Some(block(0)));
        assert!(
            store.pending().frozen_mut().is_none(),
            "the read retired it"
        );
        assert!(first.is_unique(), "the retired group was freed at once");
        for j in 0..i {
            assert_eq!(core.block(j).unwrap(), Some(block(j)), "block {j}");
        }
        // Later group commits go on from there and everything still reads back.
        for j in i..i + 40 {
            let mut batch = WriteBatch::new();
            batch.put_block(j, block(j));
            core.write(batch).unwrap();
        }
        store.flush().unwrap();
        for j in 0..i + 40 {
            assert_eq!(core.block(j).unwrap(), Some(block(j)), "block {j}");
        }
    }

    /// Blocks of 1000 to 1099 bytes, each filled with its index.
    fn run_block(i: u64) -> Bytes {
        Bytes::from(vec![i as u8; 1000 + i as usize])
    }

    /// A store (writes durable at once) holding blocks `0..n` in one chunk, and its path.
    fn store_with_run(dir: &Path, n: u64) -> (Store, std::path::PathBuf) {
        let path = dir.join("db");
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..n {
            batch.put_block(i, run_block(i));
        }
        store.core(&[5; 32]).write(batch).unwrap();
        (store, path)
    }

    #[test]
    fn blocks_read_in_order_come_from_one_read_ahead_and_a_commit_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_run(dir.path(), 100);
        let mut core = store.core(&[5; 32]);
        assert_eq!(core.block(0).unwrap(), Some(run_block(0)));
        assert!(
            store.reader().cache.ahead.is_none(),
            "a first read reads one block"
        );
        assert_eq!(core.block(1).unwrap(), Some(run_block(1)));
        let (at, run) = store.reader().cache.ahead.clone().expect("read ahead");
        assert!(run.len() as u64 <= ReadCache::AHEAD && run.len() > 40_000);
        for i in 2..100 {
            assert_eq!(core.block(i).unwrap(), Some(run_block(i)), "block {i}");
        }
        // Out of order: still right.
        for i in [7, 3, 99, 50, 51, 0] {
            assert_eq!(core.block(i).unwrap(), Some(run_block(i)), "block {i}");
        }
        // Read ahead again, then overwrite a block it holds: the commit forgets it.
        assert_eq!(core.block(60).unwrap(), Some(run_block(60)));
        assert_eq!(core.block(61).unwrap(), Some(run_block(61)));
        assert_ne!(store.reader().cache.ahead.as_ref().map(|a| a.0), Some(at));
        let mut batch = WriteBatch::new();
        batch.put_block(62, Bytes::from_static(b"new"));
        core.write(batch).unwrap();
        assert!(store.reader().cache.ahead.is_none());
        assert_eq!(
            core.block(62).unwrap().as_deref(),
            Some(&b"new"[..]),
            "not the bytes read ahead"
        );
    }

    #[test]
    fn damage_within_a_read_ahead_is_the_damaged_blocks_error_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_with_run(dir.path(), 40);
        let data = data::beside(&path, "-data");
        let start = |i: u64| (0..i).map(|j| 1000 + j).sum::<u64>();
        // A flipped byte in block 5, and (behind the open store's back) the file cut
        // inside block 30.
        let mut bytes = std::fs::read(&data).unwrap();
        bytes[start(5) as usize + 9] ^= 0x40;
        bytes.truncate(start(30) as usize + 10);
        std::fs::write(&data, &bytes).unwrap();
        let core = store.core(&[5; 32]);
        for round in 0..2 {
            for i in 0..40 {
                let read = core.block(i);
                if i == 5 || i >= 30 {
                    let err = read.expect_err("damaged block read as data");
                    assert_eq!(
                        err.kind,
                        ferrocore::storage::StorageErrorKind::Corrupt,
                        "round {round}, block {i}"
                    );
                } else {
                    assert_eq!(
                        read.unwrap(),
                        Some(run_block(i)),
                        "round {round}, block {i}"
                    );
                }
            }
        }
    }

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
