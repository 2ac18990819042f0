//! One core's view of a [`Store`]: the [`Storage`] trait over its key ranges.

use std::ops::Range;

use bytes::Bytes;
use ferrocore::storage::{Op, Record, Storage, StorageError, StorageEstimate, WriteBatch};
use ferrocore::Node;
use redb::{ReadableTable, Table};

use crate::record::{self, key, Kind};
use crate::{db_error, guard, Store};

/// The records of one core in a [`Store`]. Each [`Storage::write`] is one transaction, or
/// joins a group commit under [`Durability::Eventual`](crate::Durability::Eventual).
#[derive(Debug, Clone)]
pub struct CoreStorage {
    store: Store,
    core: [u8; 32],
}

impl CoreStorage {
    pub(crate) fn new(store: Store, core: [u8; 32]) -> Self {
        Self { store, core }
    }

    /// The core's discovery key.
    #[must_use]
    pub fn discovery_key(&self) -> &[u8; 32] {
        &self.core
    }

    /// The verified payload of one record, if stored (pending writes first).
    fn get(&self, kind: Kind, index: u64, record: Record) -> Result<Option<Bytes>, StorageError> {
        let k = key(&self.core, kind, index);
        if let Some(hit) = self.store.pending_lookup(&k) {
            return Ok(hit);
        }
        guard(record, || self.get_unguarded(&k, record))
    }

    fn get_unguarded(
        &self,
        k: &[u8; record::KEY_LEN],
        record: Record,
    ) -> Result<Option<Bytes>, StorageError> {
        self.store.with_table(record, |table| {
            let Some(v) = table.get(&k[..]).map_err(|e| db_error(record, e))? else {
                return Ok(None);
            };
            Ok(Some(Bytes::copy_from_slice(record::open(
                k,
                v.value(),
                record,
            )?)))
        })
    }

    /// True if the core has any record in the database (a probe of its key range).
    fn probe(&self) -> Result<bool, StorageError> {
        guard(Record::Database, || {
            let table = self.store.read(Record::Database)?;
            let lo = key(&self.core, Kind::Header, 0);
            let hi = key(&self.core, Kind::Stats, u64::MAX);
            let mut range = table
                .range::<&[u8]>(&lo[..]..=&hi[..])
                .map_err(|e| db_error(Record::Database, e))?;
            Ok(range.next().is_some())
        })
    }
}

/// The counters of `core` as `table` holds them.
fn stats_in<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    core: &[u8; 32],
) -> Result<StorageEstimate, StorageError> {
    let k = key(core, Kind::Stats, 0);
    let found = table
        .get(&k[..])
        .map_err(|e| db_error(Record::Database, e))?;
    match found {
        None => Ok(StorageEstimate::default()),
        Some(v) => record::decode_stats(record::open(&k, v.value(), Record::Database)?),
    }
}

/// Removes the records of `kind` with index in `range`; returns their count and payload bytes.
fn delete_range(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    kind: Kind,
    range: Range<u64>,
) -> Result<(u64, u64), StorageError> {
    if range.start >= range.end {
        return Ok((0, 0));
    }
    let (lo, hi) = (key(core, kind, range.start), key(core, kind, range.end));
    let (mut count, mut bytes) = (0u64, 0u64);
    table
        .retain_in::<&[u8], _>(&lo[..]..&hi[..], |_, v| {
            count += 1;
            bytes += record::payload_len(v);
            false
        })
        .map_err(|e| db_error(Record::Database, e))?;
    Ok((count, bytes))
}

/// Stores one record; returns the payload length of the value it replaced, if any.
fn put(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    kind: Kind,
    index: u64,
    payload: &[u8],
    record: Record,
) -> Result<Option<u64>, StorageError> {
    let k = key(core, kind, index);
    let old = table
        .insert(&k[..], &record::seal(&k, payload)[..])
        .map_err(|e| db_error(record, e))?;
    Ok(old.map(|v| record::payload_len(v.value())))
}

/// Applies the operations of one batch of `core` to `table`, keeping its counters; returns 1
/// if the batch wrote the core's first header, else 0.
pub(crate) fn apply(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    ops: &[&Op],
) -> Result<u64, StorageError> {
    let mut s = stats_in(table, core)?;
    let mut new_core = 0;
    // Only the last header counts.
    let last_header = ops.iter().rposition(|op| matches!(op, Op::PutHeader(_)));
    for (n, op) in ops.iter().enumerate() {
        match op {
            Op::PutHeader(_) if Some(n) != last_header => {}
            Op::PutHeader(h) => {
                if put(table, core, Kind::Header, 0, h, Record::Header)?.is_none() {
                    new_core = 1;
                }
            }
            Op::PutNode(n) => {
                let p = record::encode_node(n);
                if put(table, core, Kind::Node, n.index, &p, Record::Node(n.index))?.is_none() {
                    s.nodes = s.nodes.saturating_add(1);
                }
            }
            Op::DeleteNodes(r) => {
                let (n, _) = delete_range(table, core, Kind::Node, r.clone())?;
                s.nodes = s.nodes.saturating_sub(n);
            }
            Op::PutBlock(i, v) => {
                match put(table, core, Kind::Block, *i, v, Record::Block(*i))? {
                    Some(old) => s.block_bytes = s.block_bytes.saturating_sub(old),
                    None => s.blocks = s.blocks.saturating_add(1),
                }
                s.block_bytes = s.block_bytes.saturating_add(v.len() as u64);
            }
            Op::DeleteBlocks(r) => {
                let (n, bytes) = delete_range(table, core, Kind::Block, r.clone())?;
                s.blocks = s.blocks.saturating_sub(n);
                s.block_bytes = s.block_bytes.saturating_sub(bytes);
            }
            Op::PutBitfieldPage(p, b) => {
                if put(
                    table,
                    core,
                    Kind::BitfieldPage,
                    *p,
                    b,
                    Record::BitfieldPage(*p),
                )?
                .is_none()
                {
                    s.bitfield_pages = s.bitfield_pages.saturating_add(1);
                }
            }
            Op::DeleteBitfieldPage(p) => {
                let (n, _) =
                    delete_range(table, core, Kind::BitfieldPage, *p..p.saturating_add(1))?;
                s.bitfield_pages = s.bitfield_pages.saturating_sub(n);
            }
        }
    }
    put(
        table,
        core,
        Kind::Stats,
        0,
        &record::encode_stats(&s),
        Record::Database,
    )?;
    Ok(new_core)
}

impl Storage for CoreStorage {
    fn header(&self) -> Result<Option<Bytes>, StorageError> {
        self.get(Kind::Header, 0, Record::Header)
    }

    /// One probe of the core's key range (after settling pending writes).
    fn has_records(&self) -> Result<bool, StorageError> {
        self.store.settle()?;
        self.probe()
    }

    fn node(&self, index: u64) -> Result<Option<Node>, StorageError> {
        self.get(Kind::Node, index, Record::Node(index))?
            .map(|p| record::decode_node(index, &p))
            .transpose()
    }

    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        self.get(Kind::Block, index, Record::Block(index))
    }

    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        self.store.settle()?;
        guard(Record::Database, || self.pages_unguarded())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.store.write(&self.core, batch)
    }

    fn estimate(&self) -> Result<StorageEstimate, StorageError> {
        self.store.settle()?;
        guard(Record::Database, || {
            stats_in(&self.store.read(Record::Database)?, &self.core)
        })
    }
}

impl CoreStorage {
    fn pages_unguarded(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        let table = self.store.read(Record::Database)?;
        let lo = key(&self.core, Kind::BitfieldPage, 0);
        let hi = key(&self.core, Kind::BitfieldPage, u64::MAX);
        let mut out = Vec::new();
        let range = table
            .range::<&[u8]>(&lo[..]..=&hi[..])
            .map_err(|e| db_error(Record::Database, e))?;
        for entry in range {
            let (k, v) = entry.map_err(|e| db_error(Record::Database, e))?;
            let (_, page) = record::split_key(k.value())
                .ok_or_else(|| StorageError::corrupt(Record::Database, "malformed page key"))?;
            let payload = record::open(k.value(), v.value(), Record::BitfieldPage(page))?;
            out.push((page, Bytes::copy_from_slice(payload)));
        }
        Ok(out)
    }
}
