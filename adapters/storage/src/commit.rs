//! The write path: write batches into the write-ahead log and the database (directly, or
//! held and committed in groups), and the one function that commits them.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use ferrocore::storage::{Op, Record, StorageError, WriteBatch};
use redb::{Database, ReadableTable};

use crate::apply::{self, Sink};
use crate::cache::ReadCache;
use crate::catalog::{self, CatalogOp};
use crate::data::DataFile;
use crate::meta::{CORE_COUNT, DATA_END, HOLES, META, WAL_SEQ};
use crate::pending::{self, Frozen, Pending};
use crate::store::Inner;
use crate::{db_error, guard, record, wal, Durability, Store, RECORDS};

impl Inner {
    /// Commits the active group in a background thread (with `durability`), keeping it
    /// readable as the frozen group; the caller retired the previous one first. If no
    /// thread can be started, the group waits frozen and the next retire commits it.
    pub(crate) fn commit_in_background(&self, pending: &mut Pending, durability: Durability) {
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
                    commit_batches(&db, &data, durability, batches.batches(), None, None, &[])
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
    pub(crate) fn retire(
        &self,
        pending: &mut Pending,
    ) -> Result<Option<Arc<pending::Group>>, StorageError> {
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
                    &[],
                )
            })?;
        }
        // Reads that found nothing in the group went to the state before its commit; that
        // state must go before the group does.
        self.forget_reads();
        Ok(pending.take_frozen())
    }

    /// Drops the cached read transaction and everything decoded from it.
    pub(crate) fn forget_reads(&self) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader.table = None;
        reader.cache = ReadCache::default();
    }
}

impl Store {
    /// Commits everything durably, recording the write-ahead log as applied, and empties
    /// the log.
    pub(crate) fn checkpoint(&self, pending: &mut Pending) -> Result<(), StorageError> {
        self.check_failed()?;
        self.commit_pending(pending, Durability::Immediate, None, &[])?;
        self.wal().reset()
    }

    /// Applies one core's write batch as the durability setting says.
    pub(crate) fn write(&self, core: &[u8; 32], batch: WriteBatch) -> Result<(), StorageError> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(());
        }
        let durability = self.inner.options.durability;
        if durability == Durability::Logged {
            return self.write_logged(core, batch);
        }
        if durability == Durability::Immediate {
            // Nothing is ever pending in this mode: the batch is synced in the write-ahead
            // log, and its commit to the database needs no sync of its own.
            let mut pending = self.pending();
            self.check_failed()?;
            self.wal().append(&wal::encode(core, &batch), true)?;
            if let Err(e) = self.commit_pending(
                &mut pending,
                Durability::Eventual,
                Some((core, &batch)),
                &[],
            ) {
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
            return self.commit_pending(
                &mut pending,
                Durability::Eventual,
                Some((core, &batch)),
                &[],
            );
        }
        self.make_room(&mut pending, &batch)?;
        pending.push(*core, batch);
        Ok(())
    }

    /// [`Durability::Logged`]: the batch is written to the write-ahead log (not synced),
    /// then held and committed in groups as under `Eventual`: a process kill loses nothing
    /// (opening replays the log's records newer than the last checkpoint, and replaying a
    /// batch a group commit already holds writes the same records again), and a database
    /// commit costs each batch a share of one group's, not one of its own. A checkpoint
    /// (every 32 MiB of log, a batch that deletes blocks, the close) commits everything
    /// durably and empties the log.
    fn write_logged(&self, core: &[u8; 32], batch: WriteBatch) -> Result<(), StorageError> {
        let mut pending = self.pending();
        self.check_failed()?;
        if Pending::can_hold(&batch) {
            // Before the batch is logged: a group that cannot be committed refuses it whole.
            self.make_room(&mut pending, &batch)?;
        }
        self.wal().append(&wal::encode(core, &batch), false)?;
        if !Pending::can_hold(&batch) {
            // Everything pending, then this batch, durably; then the log is emptied (the
            // data file gives the deleted blocks' bytes back only after a durable commit).
            if let Err(e) = self.commit_pending(
                &mut pending,
                Durability::Immediate,
                Some((core, &batch)),
                &[],
            ) {
                // The log holds a batch the database lacks: refuse writes until a reopen
                // replays it.
                self.inner.failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
            // The batch is logged and committed durably: a failed reset must not report it
            // as failed (the next checkpoint empties the log).
            let _ = self.wal().reset();
            return Ok(());
        }
        pending.push(*core, batch);
        if self.wal().record_bytes() >= wal::CHECKPOINT_BYTES {
            // Everything is logged: a failed checkpoint leaves it pending and logged, and the
            // next write tries again.
            let _ = self.checkpoint(&mut pending);
        }
        Ok(())
    }

    /// Makes room for `batch` in the active group: a group it would overflow is committed in
    /// the background, once the group before it has landed (else the error, and `batch`
    /// is refused).
    fn make_room(&self, pending: &mut Pending, batch: &WriteBatch) -> Result<(), StorageError> {
        if pending.would_overflow(batch, self.inner.options.group_bytes)
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
            let retired = self.inner.retire(pending)?;
            self.inner.commit_in_background(pending, durability);
            pending.count_group();
            // Freed here, by the thread that allocated most of it (the blocks' receive
            // buffers), while the commit runs: freed by the commit thread instead, every
            // free contended for the allocator arena this thread keeps allocating from,
            // and the two threads took turns sleeping on its lock (a receiving peer
            // measured 5% slower).
            drop(retired);
        }
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

    /// Commits the pending batches without fsync if one writes a record of one of `kinds`
    /// of `core`, so a database scan of those records sees them (other records' batches
    /// change nothing there: a store opening thousands of new cores does not commit once
    /// per core).
    pub(crate) fn settle_core(
        &self,
        core: &[u8; 32],
        kinds: &[record::Kind],
    ) -> Result<(), StorageError> {
        let mut pending = self.pending();
        if pending.is_empty() || !pending.touches(core, kinds) {
            return Ok(());
        }
        self.commit_pending(&mut pending, Durability::Eventual, None, &[])
    }

    /// Commits the pending batches without fsync, so a database scan sees them.
    pub(crate) fn settle(&self) -> Result<(), StorageError> {
        let mut pending = self.pending();
        if pending.is_empty() {
            return Ok(());
        }
        self.commit_pending(&mut pending, Durability::Eventual, None, &[])
    }

    /// Commits the pending batches (a frozen group first, see [`Inner::retire`]), then
    /// `last` and the `catalog` changes, in one transaction and forgets them; on failure nothing is forgotten. The
    /// cached read transaction goes first (a live reader would keep the pages this commit
    /// frees from being reused).
    pub(crate) fn commit_pending(
        &self,
        pending: &mut Pending,
        durability: Durability,
        last: Option<(&[u8; 32], &WriteBatch)>,
        catalog: &[CatalogOp],
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
                catalog,
            )
        });
        // A read that ran during the commit may have kept the state before it.
        self.forget_reads();
        result?;
        pending.clear();
        Ok(())
    }
}

/// Commits `batches` then `last`, and the `catalog` changes, in one write transaction with `durability`
/// (`Eventual` = redb's `None`: no fsync). The blocks' bytes are appended to the data file
/// first (and synced, for a durable commit), so a commit never refers to bytes the file
/// lacks. A durable commit also takes every recorded hole out of [`HOLES`] and punches it,
/// with the holes it makes itself, once it has landed; other commits record theirs.
pub(crate) fn commit_batches(
    db: &Database,
    data: &DataFile,
    durability: Durability,
    batches: &[([u8; 32], WriteBatch)],
    last: Option<(&[u8; 32], &WriteBatch)>,
    wal_seq: Option<u64>,
    catalog: &[CatalogOp],
) -> Result<(), StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    let durable = durability == Durability::Immediate;
    // Once durable, the commit lets redb reuse the previous durable commit's pages, and its
    // holes are punched: a read-only reader's snapshot may go stale.
    let _changing = durable.then(|| data.generation().changing());
    let mut tx = db.begin_write().map_err(|e| err(e.into()))?;
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
            new_cores += apply::apply(&mut table, core, &ops, &mut sink)?;
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
        catalog::apply(&tx, catalog)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;
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
}
