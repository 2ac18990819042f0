//! One core's view of a [`Store`]: the [`Storage`] trait over its key ranges.

use std::sync::Arc;

use bytes::Bytes;
use ferrocore::storage::{Record, Storage, StorageError, StorageEstimate, WriteBatch};
use ferrocore::Node;
use redb::ReadableTable;

use crate::chunk::{self, Chunk};
use crate::node_page::{self, NodePage};
use crate::pending::Hit;
use crate::record::{self, key, split_key, Kind};
use crate::{db_error, guard, ReadCache, ReadTable, Store};

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

    /// A record by key: what the pending writes say, else `read` on the committed table
    /// (under the panic guard).
    fn lookup(
        &self,
        k: &[u8; record::KEY_LEN],
        record: Record,
        read: impl FnOnce(&ReadTable, &mut ReadCache) -> Result<Option<Bytes>, StorageError>,
    ) -> Result<Option<Bytes>, StorageError> {
        if let Some(hit) = self.store.pending_lookup(k) {
            return Ok(hit.payload());
        }
        guard(record, || self.store.with_table(record, read))
    }

    /// The verified payload of one record, if stored (pending writes first).
    fn get(&self, kind: Kind, index: u64, record: Record) -> Result<Option<Bytes>, StorageError> {
        let k = key(&self.core, kind, index);
        self.lookup(&k, record, |table, _| {
            let Some(v) = table.get(&k[..]).map_err(|e| db_error(record, e))? else {
                return Ok(None);
            };
            Ok(Some(Bytes::copy_from_slice(record::open(
                &k,
                v.value(),
                record,
            )?)))
        })
    }

    /// Block `index` from the chunk holding it, if any (pending writes first, then the
    /// chunks decoded by earlier reads).
    ///
    /// A read that starts where the last one ended (blocks read in order, as a peer
    /// downloading a range asks for them) reads the blocks after it in its chunk too, up
    /// to [`ReadCache::AHEAD`] bytes in all, and the next reads take their bytes from
    /// there: one system call and one buffer for many blocks instead of one each. A block
    /// served from there shares that buffer, so holding on to it keeps the buffer alive.
    fn block_at(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        let record = Record::Block(index);
        let k = key(&self.core, Kind::Block, index);
        let lo = key(&self.core, Kind::Block, 0);
        let read = |cache: &mut ReadCache,
                    parsed: &chunk::Parsed,
                    j: usize|
         -> Result<Option<Bytes>, StorageError> {
            let loc = parsed.locate(j);
            let block = match cache.ahead_of(loc.offset, loc.len) {
                Some(bytes) => bytes,
                None => {
                    let end = if cache.last_end == Some(loc.offset) {
                        parsed.run_end(j, ReadCache::AHEAD)
                    } else {
                        loc.offset + loc.len as u64
                    };
                    let len = usize::try_from(end - loc.offset).map_err(|_| {
                        StorageError::corrupt(record, "block run does not fit in memory")
                    })?;
                    let data = self.store.data();
                    match data.read(loc.offset, len, record) {
                        Ok(run) if len > loc.len => {
                            let run = Bytes::from(run);
                            cache.ahead = Some((loc.offset, run.clone()));
                            run.slice(..loc.len)
                        }
                        Ok(block) => Bytes::from(block),
                        // A data file cut short within the blocks after this one is their
                        // damage, not this block's.
                        Err(_) if len > loc.len => {
                            Bytes::from(data.read(loc.offset, loc.len, record)?)
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            chunk::check(&block, &loc, record)?;
            cache.last_end = Some(loc.offset + loc.len as u64);
            Ok(Some(block))
        };
        self.lookup(&k, record, |table, cache| {
            if let Some((parsed, j)) = cache.chunk(&self.core, index) {
                return read(cache, &parsed, j);
            }
            let mut range = table
                .range::<&[u8]>(&lo[..]..=&k[..])
                .map_err(|e| db_error(record, e))?;
            let Some(entry) = range.next_back() else {
                return Ok(None);
            };
            let (ck, v) = entry.map_err(|e| db_error(record, e))?;
            let Some(j) = offset_in(ck.value(), index, record)? else {
                return Ok(None);
            };
            let c = Chunk::parse(ck.value(), v.value(), record)?;
            if j >= c.count() {
                return Ok(None);
            }
            let parsed = Arc::new(chunk::Parsed::new(index - j as u64, &c));
            cache.keep_chunk(&self.core, Arc::clone(&parsed));
            read(cache, &parsed, j)
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
pub(crate) fn stats_in<T: ReadableTable<&'static [u8], &'static [u8]>>(
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

/// Where block `index` would sit in the chunk keyed `chunk_key` (a key at or below the
/// block's), or `None` if no chunk that long could reach it.
pub(crate) fn offset_in(
    chunk_key: &[u8],
    index: u64,
    record: Record,
) -> Result<Option<usize>, StorageError> {
    let (_, first) =
        split_key(chunk_key).ok_or_else(|| StorageError::corrupt(record, "malformed chunk key"))?;
    let j = index.saturating_sub(first);
    Ok(usize::try_from(j).ok().filter(|&j| j < chunk::MAX_BLOCKS))
}

impl Storage for CoreStorage {
    fn header(&self) -> Result<Option<Bytes>, StorageError> {
        self.get(Kind::Header, 0, Record::Header)
    }

    /// One probe of the core's key range (after settling pending writes).
    fn has_records(&self) -> Result<bool, StorageError> {
        self.store.settle_core(&self.core, &ALL_KINDS)?;
        self.probe()
    }

    fn node(&self, index: u64) -> Result<Option<Node>, StorageError> {
        let record = Record::Node(index);
        if let Some(hit) = self
            .store
            .pending_lookup(&key(&self.core, Kind::Node, index))
        {
            return match hit {
                Hit::Node(n) => Ok(Some(n)),
                Hit::Deleted => Ok(None),
                Hit::Payload(p) => record::decode_node(index, &p).map(Some),
            };
        }
        let (page, slot) = node_page::locate(index);
        let k = key(&self.core, Kind::NodePage, page);
        guard(record, || {
            self.store.with_table(record, |table, cache| {
                if let Some(p) = cache.page(&self.core, page) {
                    return Ok(p.get(slot));
                }
                let Some(v) = table.get(&k[..]).map_err(|e| db_error(record, e))? else {
                    // An absent page is kept as an empty one: a receiver asks about nodes
                    // it lacks (to know what to request) far more often than it has them.
                    cache.keep_page(&self.core, page, NodePage::default());
                    return Ok(None);
                };
                let p = NodePage::decode(record::open(&k, v.value(), record)?, page, record)?;
                let node = p.get(slot);
                cache.keep_page(&self.core, page, p);
                Ok(node)
            })
        })
    }

    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        self.block_at(index).map_err(|e| self.store.stale_or(e))
    }

    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        // Only bitfield pages (a new core's header waiting in memory needs no commit).
        self.store.settle_core(&self.core, &[Kind::BitfieldPage])?;
        guard(Record::Database, || self.pages_unguarded())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.store.write(&self.core, batch)
    }

    fn estimate(&self) -> Result<StorageEstimate, StorageError> {
        self.store.settle_core(&self.core, &ALL_KINDS)?;
        guard(Record::Database, || {
            stats_in(&self.store.read(Record::Database)?, &self.core)
        })
    }
}

/// Every kind of record a pending write batch can hold.
const ALL_KINDS: [Kind; 4] = [Kind::Header, Kind::Node, Kind::Block, Kind::BitfieldPage];

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
