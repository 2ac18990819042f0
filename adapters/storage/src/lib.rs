//! Persistent storage for ferrocore: every core of a store in **one** crash-safe database
//! (a redb file, its data file, its write-ahead log and its page checksums), each record
//! checksummed.
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
//! The index is a [`redb`] database: why redb (and not an LSM tree such as `fjall`), with
//! measurements, is in `docs/why-redb.md` beside this crate's sources.
//! One process writes a store; others (or the same one) can read it at the same time with
//! [`Store::open_read_only`], which takes a consistent snapshot without writing a byte of
//! the store's files; how, and why simpler designs return stale or torn data, is in
//! `docs/read-only-open.md`.
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
//! Damage to the B-tree itself is an error too, never a page redb trusts (with
//! [`StoreOptions::verify_on_open`], the default): every 4 KiB block of the database file
//! redb reads is checked against a checksum the store recorded when it was written, kept
//! across a clean close in the `-sums` file; an open without them verifies the whole file
//! and computes them (see `sums.rs`). `tests/corruption.rs` flips and cuts the files at
//! thousands of offsets, with and without those checksums: every trial reads the original
//! data or gets a typed error. Each commit records the data file's end: opening the store
//! cuts off bytes past it (written for a commit that never landed), and a data file shorter
//! than that is `Corrupt`. A second table counts the cores with a header, so a damaged file
//! never reads as holding fewer cores (a vanished core would otherwise reopen as a new,
//! empty one).
//!
//! Beside its cores, a store keeps its own records in a third table, the catalog (see
//! `catalog.rs`): the store's primary key ([`Store::primary_key_or_insert`],
//! [`Store::set_primary_key`]), the alias table naming cores by namespace and name
//! ([`Store::insert_alias`], [`Store::alias`], [`Store::aliases_in`]) and small local slots
//! per core and per store ([`Store::put_local`]). They are checksummed as the records are,
//! and every change is logged and committed at once, so an acknowledged change survives a
//! kill in every durability mode.
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
//! thus five files (the database, its data file, its log, its page checksums and the
//! generation counter read-only readers check, see [`Store::open_read_only`]) whatever the
//! number of cores (one descriptor each: a store of 100,000 cores holds five). Writes of many megabytes start the data file's write-back early (a
//! hint to the kernel, no wait), so the sync that makes them durable waits for less.
//!
//! [`Durability::Logged`] writes the same log record with no `fdatasync`: an acknowledged
//! batch survives the process being killed, and a power loss only once a sync covered it
//! ([`Store::flush`], a checkpoint, the close); a power loss takes the newest unsynced
//! batches, each whole or absent. Its batches, once logged, are committed to redb in groups
//! as `Eventual`'s are (a replay after a kill writes again what a group commit already
//! holds, which changes nothing): a replicated 4 KiB block cost both peers 27–31 µs of CPU
//! against 59.6 µs with a commit per batch. [`Durability::Eventual`] holds batches in memory
//! (a group of at most 2 MiB) and commits them together, in a background thread while the
//! next group fills (so at most two groups, 4 MiB, are held); see its documentation for what
//! a crash loses.
//!
//! The evidence, in the crate's tests: `tests/crash.rs` SIGKILLs a writer (`Immediate` and
//! `Logged`) at random moments and checks every acknowledged block, byte for byte and by
//! proof; a killed process leaves the kernel's page cache behind, so that test alone could
//! not tell a sync from none. `tests/power_cut.rs` can: the store runs on a simulated disk
//! (every file operation goes through one seam, `disk.rs`) whose power fails at a random
//! operation (inside a log write, a data file write, a redb commit, a checkpoint, an open's
//! recovery or a close); every write no completed sync covered is then lost, or lands torn
//! in 512-byte sectors, in any order, and the store must reopen in a state between the last
//! acknowledged one and the one in flight, in all three modes. A second test makes the disk
//! ignore the syncs of one file at a time (the log, the data file, the database) and must
//! see the loss caught; removing single syncs from the code by hand (the log record's, the
//! data file's before a durable commit or before the close, the directory's after creating
//! the files) made the first test fail within 300 rounds each time. What it does not model:
//! a disk that loses data it reported synced, reorders across a completed sync, or damages
//! part of a sector.
//!
//! Point reads reuse one read transaction until the next commit; redb caches pages up to
//! [`StoreOptions::cache_bytes`]. Blocks read in order (a peer serving a download) are
//! read ahead from the data file, up to 64 KiB at a time: one system call and one buffer
//! for many blocks, which the blocks served from it share.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod apply;
mod cache;
mod catalog;
mod chunk;
mod commit;
mod core_storage;
mod data;
mod disk;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod meta;
mod node_page;
mod options;
mod overlay;
mod pending;
mod record;
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod sim;
mod store;
mod sums;
mod wal;

use ferrocore::storage::{Record, StorageError};
use redb::TableDefinition;

pub(crate) use cache::ReadCache;
pub use catalog::{
    Alias, LocalScope, PrimaryKeyError, StoredCore, MAX_LOCAL_LEN, MAX_NAME_LEN, MAX_TAG_LEN,
};
pub use core_storage::CoreStorage;
pub use options::{Durability, StoreOptions, DEFAULT_CACHE_BYTES, DEFAULT_GROUP_BYTES};
pub use store::Store;

/// The one table: record key → checksummed value.
pub(crate) const RECORDS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("records");

/// A read-only view of the records table.
pub(crate) type ReadTable = redb::ReadOnlyTable<&'static [u8], &'static [u8]>;

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
        redb::Error::Io(e) if sums::is_damage(&e) => StorageError::corrupt(record, e.to_string()),
        other => StorageError::io(record, other.to_string()),
    }
}
