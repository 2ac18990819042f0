//! Applying one core's operations to the records table inside a write transaction: node
//! pages, block chunks (their bytes to the data file), bitfield pages, the header and the
//! core's counters.

use std::ops::Range;

use ferrocore::storage::{Op, Record, StorageError, StorageEstimate};
use redb::{ReadableTable, Table};

use crate::chunk::{self, Chunk, Entry};
use crate::core_storage::{offset_in, stats_in};
use crate::db_error;
use crate::node_page::{self, NodePage};
use crate::record::{self, key, split_key, Kind};

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

/// The block bytes one commit appends to the data file, and the data file ranges it leaves
/// unreferenced (holes).
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    /// The data file's end before this commit.
    start: u64,
    parts: Vec<&'a [u8]>,
    len: u64,
    holes: Vec<(u64, u64)>,
}

impl<'a> Sink<'a> {
    /// An empty sink for a commit whose bytes start at `start` in the data file.
    pub(crate) fn new(start: u64) -> Self {
        Self {
            start,
            parts: Vec::new(),
            len: 0,
            holes: Vec::new(),
        }
    }

    /// Queues `block`; returns the offset it will have.
    fn push(&mut self, block: &'a [u8]) -> u64 {
        let at = self.start + self.len;
        self.parts.push(block);
        self.len += block.len() as u64;
        at
    }

    /// Notes `len` bytes at `offset` as no longer referenced.
    fn hole(&mut self, offset: u64, len: u64) {
        if len > 0 {
            self.holes.push((offset, len));
        }
    }

    /// The queued blocks, in file order.
    pub(crate) fn parts(&self) -> &[&'a [u8]] {
        &self.parts
    }

    /// The holes noted (offset, length).
    pub(crate) fn holes(&self) -> &[(u64, u64)] {
        &self.holes
    }
}

/// Removes the blocks with index in `range`, cutting the chunks that straddle its ends (the
/// pieces kept point into the same data file bytes); returns the count and bytes of the
/// blocks removed and notes their data file ranges as holes.
fn delete_blocks(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    range: Range<u64>,
    sink: &mut Sink<'_>,
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
    // Pieces to store again: first index, data offset, entries.
    let mut keep: Vec<(u64, u64, Vec<Entry>)> = Vec::new();

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
            let n = c.count();
            if j < n {
                let to = usize::try_from(end - first).map_or(n, |t| t.min(n));
                count += (to - j) as u64;
                let (at, len) = c.span(j, to);
                bytes += len;
                sink.hole(at, len);
                let (off, head) = c.piece(0, j);
                keep.push((first, off, head));
                if to < n {
                    let (off, tail) = c.piece(to, n);
                    keep.push((end, off, tail));
                }
                cut_before = Some(ck.value().to_vec());
            }
        }
    }
    if let Some(k) = cut_before {
        table.remove(&k[..]).map_err(err)?;
    }

    // Every chunk that starts in the range goes; the last one may reach past `end`: keep
    // its tail. A chunk that fails its checksum still goes, but its bytes are not trusted
    // as a hole (a damaged offset must not punch live data).
    let mut removed: Vec<Vec<u8>> = Vec::new();
    table
        .retain_in::<&[u8], _>(&ks[..]..&ke[..], |k, v| {
            removed.push(k.to_vec());
            removed.push(v.to_vec());
            false
        })
        .map_err(err)?;
    for pair in removed.chunks_exact(2) {
        let (ck, v) = (&pair[0], &pair[1]);
        let first = split_key(ck).map_or(start, |(_, f)| f);
        match Chunk::parse(ck, v, Record::Block(first)) {
            Ok(c) => {
                let n = c.count();
                let to = usize::try_from(end.saturating_sub(first)).map_or(n, |t| t.min(n));
                count += to as u64;
                let (at, len) = c.span(0, to);
                bytes += len;
                sink.hole(at, len);
                if to < n {
                    let (off, tail) = c.piece(to, n);
                    keep.push((end, off, tail));
                }
            }
            Err(e) => {
                // A damaged chunk that may reach past `end` would take live blocks with it:
                // refuse, rather than guess.
                if first.saturating_add(chunk::lenient_count(v)) > end {
                    return Err(e);
                }
                count += chunk::lenient_count(v);
            }
        }
    }
    for (first, offset, entries) in keep {
        if !entries.is_empty() {
            put_chunk(table, core, first, offset, &entries)?;
        }
    }
    Ok((count, bytes))
}

/// Stores the chunk at `first` whose blocks start at `offset` in the data file.
fn put_chunk(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    first: u64,
    offset: u64,
    entries: &[Entry],
) -> Result<(), StorageError> {
    let k = key(core, Kind::Block, first);
    table
        .insert(&k[..], &chunk::encode(&k, offset, entries)[..])
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
        sink: &mut Sink<'a>,
    ) -> Result<(), StorageError> {
        if self.blocks.is_empty() {
            return Ok(());
        }
        let n = self.blocks.len() as u64;
        let (gone, gone_bytes) =
            delete_blocks(table, core, self.first..self.first.saturating_add(n), sink)?;
        let entries: Vec<Entry> = self.blocks.iter().map(|b| Entry::of(b)).collect();
        let mut offset = None;
        for b in &self.blocks {
            let at = sink.push(b);
            offset.get_or_insert(at);
        }
        put_chunk(table, core, self.first, offset.unwrap_or(0), &entries)?;
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

/// The node pages one core's operations in a commit touch: each read at most once and
/// written once, at the end (or before a range delete).
#[derive(Default)]
struct Pages {
    /// Page number → the page and whether it changed.
    cached: std::collections::BTreeMap<u64, (NodePage, bool)>,
}

impl Pages {
    /// Page `page`, read from `table` on first use, marked changed.
    fn get(
        &mut self,
        table: &Table<&[u8], &[u8]>,
        core: &[u8; 32],
        page: u64,
    ) -> Result<&mut NodePage, StorageError> {
        let entry = match self.cached.entry(page) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let k = key(core, Kind::NodePage, page);
                let record = Record::Node(page * node_page::PER_PAGE);
                let stored = table.get(&k[..]).map_err(|e| db_error(record, e))?;
                let p = match stored {
                    Some(v) => {
                        NodePage::decode(record::open(&k, v.value(), record)?, page, record)?
                    }
                    None => NodePage::default(),
                };
                e.insert((p, false))
            }
        };
        entry.1 = true;
        Ok(&mut entry.0)
    }

    /// Writes the changed pages (an empty page is removed) and forgets them all.
    fn flush(
        &mut self,
        table: &mut Table<&[u8], &[u8]>,
        core: &[u8; 32],
    ) -> Result<(), StorageError> {
        for (page, (p, changed)) in std::mem::take(&mut self.cached) {
            if !changed {
                continue;
            }
            let k = key(core, Kind::NodePage, page);
            let record = Record::Node(page * node_page::PER_PAGE);
            if p.count() == 0 {
                table.remove(&k[..]).map_err(|e| db_error(record, e))?;
            } else {
                table
                    .insert(&k[..], &record::seal(&k, &p.encode())[..])
                    .map_err(|e| db_error(record, e))?;
            }
        }
        Ok(())
    }

    /// Removes the nodes with index in `range`; returns how many there were. Pages wholly
    /// inside go without being decoded (counted by their bitmaps, so a damaged page still
    /// goes).
    fn delete(
        &mut self,
        table: &mut Table<&[u8], &[u8]>,
        core: &[u8; 32],
        range: Range<u64>,
    ) -> Result<u64, StorageError> {
        if range.start >= range.end {
            return Ok(0);
        }
        self.flush(table, core)?;
        let (first, from) = node_page::locate(range.start);
        let (last, to) = node_page::locate(range.end - 1);
        if first == last {
            return Ok(self.get(table, core, first)?.clear(from, to + 1));
        }
        let mut gone = self
            .get(table, core, first)?
            .clear(from, node_page::PER_PAGE as usize);
        gone += self.get(table, core, last)?.clear(0, to + 1);
        let (lo, hi) = (
            key(core, Kind::NodePage, first + 1),
            key(core, Kind::NodePage, last),
        );
        table
            .retain_in::<&[u8], _>(&lo[..]..&hi[..], |_, v| {
                gone += NodePage::lenient_count(v);
                false
            })
            .map_err(|e| db_error(Record::Node(range.start), e))?;
        Ok(gone)
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
pub(crate) fn apply<'a>(
    table: &mut Table<&[u8], &[u8]>,
    core: &[u8; 32],
    ops: &[&'a Op],
    sink: &mut Sink<'a>,
) -> Result<u64, StorageError> {
    let mut s = stats_in(table, core)?;
    let mut new_core = 0;
    let mut run = Run::default();
    let mut pages = Pages::default();
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
                let (page, slot) = node_page::locate(n.index);
                if pages.get(table, core, page)?.set(slot, n) {
                    s.nodes = s.nodes.saturating_add(1);
                }
            }
            Op::DeleteNodes(r) => {
                let n = pages.delete(table, core, r.clone())?;
                s.nodes = s.nodes.saturating_sub(n);
            }
            Op::PutBlock(i, v) => {
                if !run.extend(*i, v) {
                    run.store(table, core, &mut s, sink)?;
                    run.extend(*i, v);
                }
            }
            Op::DeleteBlocks(r) => {
                run.store(table, core, &mut s, sink)?;
                let (n, bytes) = delete_blocks(table, core, r.clone(), sink)?;
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
    run.store(table, core, &mut s, sink)?;
    pages.flush(table, core)?;
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
