//! The store's own bookkeeping in the database ([`META`] and [`HOLES`]), its write-ahead
//! log's recovery at open, and the scans over cores.

use ferrocore::storage::{Record, StorageError};
use redb::{Database, ReadableDatabase, TableDefinition};

use crate::commit::commit_batches;
use crate::data::DataFile;
use crate::disk::FileIo;
use crate::wal::{self, Wal};
use crate::{db_error, record, Durability, ReadTable, RECORDS};

/// A second table (its own B-tree, so damage to one is caught by the other): the number of
/// cores with a header. A damaged file must never read as holding fewer cores (a core whose
/// records all vanished would otherwise open as a new, empty core).
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The [`META`] key counting cores.
pub(crate) const CORE_COUNT: &str = "cores";

/// The [`META`] key of the store's id, which its write-ahead log carries.
const STORE_ID: &str = "store id";

/// The [`META`] key of the last write-ahead log record the database holds durably.
pub(crate) const WAL_SEQ: &str = "wal seq";

/// The [`META`] key of the data file's end as of the commit (see [`data`]).
pub(crate) const DATA_END: &str = "data end";

/// Data file ranges no chunk refers to any more, by offset (value: length), left by
/// commits that were not durable; the next durable commit takes them out and punches them.
pub(crate) const HOLES: TableDefinition<u64, u64> = TableDefinition::new("holes");

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
pub(crate) fn open_wal(db: &Database, data: &DataFile, file: FileIo) -> Result<Wal, StorageError> {
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
    let (mut wal, records) = Wal::open(file, id, applied, data.generation().clone())?;
    if !records.is_empty() {
        // Core batches and catalog changes touch different tables: each kept in order, they
        // are replayed in one commit. (An empty batch would give its core counters.)
        let (mut batches, mut catalog) = (Vec::new(), Vec::new());
        for p in &records {
            let (core, batch, ops) = wal::decode(p)?;
            if !batch.is_empty() {
                batches.push((core, batch));
            }
            catalog.extend(ops);
        }
        commit_batches(
            db,
            data,
            Durability::Immediate,
            &batches,
            None,
            Some(wal.seq()),
            &catalog,
        )?;
    }
    wal.reset()?;
    Ok(wal)
}

/// The value of `key` in the [`META`] table as of `tx` (`None` if absent, or if the table
/// was never created).
pub(crate) fn meta_value(
    tx: &redb::ReadTransaction,
    key: &str,
) -> Result<Option<u64>, StorageError> {
    let err = |e: redb::Error| db_error(Record::Database, e);
    match tx.open_table(META) {
        Ok(meta) => Ok(meta.get(key).map_err(|e| err(e.into()))?.map(|v| v.value())),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(err(e.into())),
    }
}

/// Checks that the records hold a header for as many cores as the meta table counts.
pub(crate) fn check_core_count(db: &Database) -> Result<(), StorageError> {
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
pub(crate) fn cores_in(table: &ReadTable) -> Result<Vec<[u8; 32]>, StorageError> {
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
