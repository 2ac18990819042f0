//! One core's view of a [`Store`]: the [`Storage`] trait over its key ranges.

use std::ops::Range;

use bytes::Bytes;
use ferrocore::storage::{Op, Record, Storage, StorageError, StorageEstimate, WriteBatch};
use ferrocore::Node;
use redb::{ReadableTable, Table};

use crate::chunk::{self, Chunk};
use crate::record::{self, key, split_key, Kind};
use crate::{db_error, guard, ReadTable, Store};

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
        read: impl FnOnce(&ReadTable) -> Result<Option<Bytes>, StorageError>,
    ) -> Result<Option<Bytes>, StorageError> {
        if let Some(hit) = self.store.pending_lookup(k) {
            return Ok(hit);
        }
        guard(record, || self.store.with_table(record, read))
    }

    /// The verified payload of one record, if stored (pending writes first).
    fn get(&self, kind: Kind, index: u64, record: Record) -> Result<Option<Bytes>, StorageError> {
        let k = key(&self.core, kind, index);
        self.lookup(&k, record, |table| {
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

    /// Block `index` from the chunk holding it, if any (pending writes first).
    fn block_at(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        let record = Record::Block(index);
        let k = key(&self.core, Kind::Block, index);
        let lo = key(&self.core, Kind::Block, 0);
        self.lookup(&k, record, |table| {
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
            Ok(Some(Bytes::copy_from_slice(c.block(j, record)?)))
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

/// Where block `index` would sit in the chunk keyed `chunk_key` (a key at or below the
/// block's), or `None` if no chunk that long could reach it.
fn offset_in(chunk_key: &[u8], index: u64, record: Record) -> Result<Option<usize>, StorageError> {
    let (_, first) =
        split_key(chunk_key).ok_or_else(|| StorageError::corrupt(record, "malformed chunk key"))?;
    let j = index.saturating_sub(first);
    Ok(usize::try_from(j).ok().filter(|&j| j < chunk::MAX_BLOCKS))
}

/// Blocks to store again after a delete cut the chunk they were in: first index and bytes.
type Piece = (u64, Vec<Vec<u8>>);

/// Removes the blocks with index in `range`, cutting the chunks that straddle its ends;
/// returns the count and bytes of the blocks removed.
fn delete_blocks(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    range: Range<u64>,
) -> Result<(u64, u64), StorageError> {
    let Range { start, end } = range;
    if start >= end {
        return Ok((0, 0));
    }
    let err = |e| db_error(Record::Block(start), e);
    let (lo, ks, ke) = (
        key(core, Kind::Block, 0),
        key(core, Kind::Block, start),
        key(core, Kind::Block, end),
    );
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut keep: Vec<Piece> = Vec::new();

    // A chunk that starts below `start` and reaches into the range: keep its head (and its
    // tail, if it also reaches past `end`).
    let mut cut_before = None;
    if let Some(entry) = table
        .range::<&[u8]>(&lo[..]..&ks[..])
        .map_err(err)?
        .next_back()
    {
        let (ck, v) = entry.map_err(err)?;
        if let Some(j) = offset_in(ck.value(), start, Record::Block(start))? {
            let first = start - j as u64;
            let c = Chunk::parse(ck.value(), v.value(), Record::Block(first))?;
            if j < c.count() {
                let blocks = c.blocks_from(0, first)?;
                let to = usize::try_from(end - first).map_or(blocks.len(), |t| t.min(blocks.len()));
                count += (to - j) as u64;
                bytes += blocks[j..to].iter().map(|b| b.len() as u64).sum::<u64>();
                keep.push((first, blocks[..j].iter().map(|b| b.to_vec()).collect()));
                if to < blocks.len() {
                    keep.push((end, blocks[to..].iter().map(|b| b.to_vec()).collect()));
                }
                cut_before = Some(ck.value().to_vec());
            }
        }
    }
    if let Some(k) = cut_before {
        table.remove(&k[..]).map_err(err)?;
    }

    // The last chunk that starts in the range may reach past `end`: keep its tail.
    let mut tail: Option<Vec<Vec<u8>>> = None;
    if let Some(entry) = table
        .range::<&[u8]>(&ks[..]..&ke[..])
        .map_err(err)?
        .next_back()
    {
        let (ck, v) = entry.map_err(err)?;
        let (_, first) = split_key(ck.value())
            .ok_or_else(|| StorageError::corrupt(Record::Block(start), "malformed chunk key"))?;
        let (n, _) = chunk::lenient_size(v.value());
        if first.saturating_add(n) > end {
            let c = Chunk::parse(ck.value(), v.value(), Record::Block(first))?;
            let from = usize::try_from(end - first).unwrap_or(usize::MAX);
            if from < c.count() {
                tail = Some(
                    c.blocks_from(from, first)?
                        .iter()
                        .map(|b| b.to_vec())
                        .collect(),
                );
            }
        }
    }
    table
        .retain_in::<&[u8], _>(&ks[..]..&ke[..], |_, v| {
            let (n, b) = chunk::lenient_size(v);
            count += n;
            bytes += b;
            false
        })
        .map_err(err)?;
    if let Some(blocks) = tail {
        count = count.saturating_sub(blocks.len() as u64);
        bytes = bytes.saturating_sub(blocks.iter().map(|b| b.len() as u64).sum());
        keep.push((end, blocks));
    }
    for (first, blocks) in keep {
        if !blocks.is_empty() {
            put_chunk(table, core, first, &blocks)?;
        }
    }
    Ok((count, bytes))
}

/// Stores `blocks` (within one chunk's limits, or a single block) as the chunk at `first`.
fn put_chunk<B: AsRef<[u8]>>(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    first: u64,
    blocks: &[B],
) -> Result<(), StorageError> {
    let k = key(core, Kind::Block, first);
    table
        .insert(&k[..], &chunk::encode(&k, blocks)[..])
        .map_err(|e| db_error(Record::Block(first), e))?;
    Ok(())
}

/// Consecutive blocks of a commit waiting to be stored as one chunk.
#[derive(Default)]
struct Run<'a> {
    first: u64,
    blocks: Vec<&'a [u8]>,
    bytes: usize,
}

impl<'a> Run<'a> {
    /// Adds block `index` if it continues the run and fits; false if the run must be
    /// stored first.
    fn extend(&mut self, index: u64, block: &'a [u8]) -> bool {
        if self.blocks.is_empty() {
            self.first = index;
        } else if index != self.first.saturating_add(self.blocks.len() as u64)
            || self.blocks.len() >= chunk::MAX_BLOCKS
            || chunk::encoded_len(self.blocks.len() + 1, self.bytes + block.len())
                > chunk::MAX_BYTES
        {
            return false;
        }
        self.blocks.push(block);
        self.bytes += block.len();
        true
    }

    /// Stores the run as one chunk, replacing whatever blocks it covers, and empties it.
    fn store(
        &mut self,
        table: &mut Table<&[u8], &[u8]>,
        core: &[u8; 32],
        s: &mut StorageEstimate,
    ) -> Result<(), StorageError> {
        if self.blocks.is_empty() {
            return Ok(());
        }
        let n = self.blocks.len() as u64;
        let (gone, gone_bytes) =
            delete_blocks(table, core, self.first..self.first.saturating_add(n))?;
        put_chunk(table, core, self.first, &self.blocks)?;
        s.blocks = s.blocks.saturating_sub(gone).saturating_add(n);
        s.block_bytes = s
            .block_bytes
            .saturating_sub(gone_bytes)
            .saturating_add(self.bytes as u64);
        self.blocks.clear();
        self.bytes = 0;
        Ok(())
    }
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
    let mut run = Run::default();
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
                if !run.extend(*i, v) {
                    run.store(table, core, &mut s)?;
                    run.extend(*i, v);
                }
            }
            Op::DeleteBlocks(r) => {
                run.store(table, core, &mut s)?;
                let (n, bytes) = delete_blocks(table, core, r.clone())?;
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
    run.store(table, core, &mut s)?;
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
        self.block_at(index)
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
