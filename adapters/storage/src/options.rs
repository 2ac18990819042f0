//! How a [`Store`](crate::Store) is opened: [`StoreOptions`] and [`Durability`].

use crate::pending;
#[cfg(doc)]
use crate::Store;

/// When a committed write batch is on disk.
///
/// | mode | a write survives a process kill | a write survives a power loss | a write costs |
/// |---|---|---|---|
/// | [`Immediate`](Self::Immediate) | when it returns | when it returns | one `write(2)` and one `fdatasync` (write-ahead log), plus the database commit |
/// | [`Logged`](Self::Logged) | when it returns | after the next sync: [`Store::flush`], a checkpoint, the close | one `write(2)` (write-ahead log); held in memory and committed in groups |
/// | [`Eventual`](Self::Eventual) | after its group is committed | after [`Store::flush`] or the close (or a durable group) | held in memory; one commit per group |
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every write batch is durable when [`Storage::write`](ferrocore::storage::Storage::write)
    /// returns: logged and synced in the write-ahead log (see the crate docs).
    #[default]
    Immediate,
    /// Every write batch is in the write-ahead log when
    /// [`Storage::write`](ferrocore::storage::Storage::write) returns, written there with
    /// `write(2)` and not synced: it survives the process being killed (the kernel holds it),
    /// not a power loss or an operating system crash until a sync covers it. Syncs come with
    /// [`Store::flush`] (one `fdatasync` of the log), with every checkpoint (after 32 MiB of
    /// log and after a batch that deletes blocks) and when the store closes. A power loss
    /// loses only batches no sync covered, the newest ones, each whole or absent; the store
    /// comes back at some state between the last sync and the last write. This is the
    /// guarantee of hypercore's RocksDB storage, whose write-ahead log is written on every
    /// append and not synced. Once logged, batches are held in memory (reads see them at
    /// once) and committed to the database in groups, as under `Eventual`; opening the store
    /// after a kill replays the log.
    Logged,
    /// Group commit: write batches are held in memory (reads see them at once) and committed
    /// together when [`StoreOptions::group_bytes`] (2 MiB) or 4096 batches are pending
    /// (without fsync, except every eighth such group), durably on [`Store::flush`] and when
    /// the last handle of the store is dropped. A full group is committed by a background
    /// thread while the next one fills; the write that fills the next one waits for that
    /// commit, and reports its failure (after retrying it) by refusing its own batch. A
    /// process crash loses the pending batches, a power loss what was not flushed or
    /// fsync'd; the store comes back as of some earlier commit, each batch whole or absent.
    /// Batches that delete ranges (truncate, clear) commit at once, with everything pending
    /// before them, without fsync.
    Eventual,
}

/// How a [`Store`] is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// When write batches are durable.
    pub durability: Durability,
    /// Damage to the database file at rest is an error, never a page redb trusts
    /// (default `true`). Every block of the file redb reads is checked against a CRC-32C the
    /// store recorded when it was written: a clean close keeps these checksums (the `-sums`
    /// file, 1/1024 of the database's size), so the next open reads only them and the
    /// database's first block (opening a store holding a log of a million blocks took
    /// 1.3–6.3 ms on the shared 2-core development VM, against 0.17–0.67 s to verify the
    /// whole file). Without them (the first open of a store, after a
    /// crash, after a session with this off) the open verifies every page of the file as
    /// redb's own check does, and computes them. Off, nothing is checked: damage to redb's
    /// B-tree pages can then make records read as absent (which the log reports as
    /// corruption only where it can tell) and some damage makes redb itself panic, even
    /// while unwinding, which aborts the process. The records' own checksums are checked on
    /// every read either way.
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
