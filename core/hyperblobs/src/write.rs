//! Writing: what `put`, a write stream and a batch append, planned without I/O.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;

use crate::map::{self, MapEntry};
use crate::{BlobId, Blobs};

/// Blocks a write queues before appending them (JS appends as soon as 16 are queued).
pub const APPEND_BATCH: usize = 16;

/// BLAKE2b-256 of a block (hypercore-crypto `hash`, the dedup key).
#[must_use]
pub fn block_hash(block: &[u8]) -> [u8; 32] {
    let h = blake2b_simd::Params::new().hash_length(32).hash(block);
    let mut out = [0; 32];
    out.copy_from_slice(h.as_bytes());
    out
}

/// The blocks a dedup write may reuse, by BLAKE2b-256. Inserting a hash already present
/// replaces its entry (JS's `Map.set`, so a blob holding a block twice offers its last
/// copy); [`BlobWriter`] itself only inserts new hashes (the first copy of a write wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DedupTable {
    entries: BTreeMap<[u8; 32], MapEntry>,
}

impl DedupTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `block`'s hash as `entry` (replacing an earlier entry of the same hash).
    pub fn insert(&mut self, block: &[u8], entry: MapEntry) {
        self.entries.insert(block_hash(block), entry);
    }

    /// The entry recorded for `block`'s content.
    #[must_use]
    pub fn get(&self, block: &[u8]) -> Option<MapEntry> {
        self.entries.get(&block_hash(block)).copied()
    }

    /// How many distinct blocks the table holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table holds no block.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Options of a write (JS `createWriteStream(opts)`; `put` adds `block_size`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Write a block map after the data (`blockMap: true`).
    pub block_map: bool,
    /// Skip blocks whose content was seen (`dedup: true`; implies a block map). The
    /// previous blob of JS's `blob` option is loaded by [`crate::DedupLoad`] and passed to
    /// [`BlobWriter::new`] as the table.
    pub dedup: bool,
    /// `put` only: the chunk size (`blockSize`; `None` or 0: the [`Blobs`] default).
    pub block_size: Option<usize>,
}

/// A write stream (JS `BlobWriteStream`), one block per written chunk.
///
/// Start it at the core's current `length`/`byte_length`, [`write`](Self::write) the
/// chunks, [`end`](Self::end) it, and after every call append what
/// [`poll_append`](Self::poll_append) hands out, each batch as one append, in order,
/// with no other append in between (JS holds a lock for the whole write). The writer
/// counts the core's length itself from what it handed out.
///
/// Chunks are processed as JS processes chunks written before the stream opens (what
/// `put` and a write-then-end caller do): a zero-length chunk becomes an empty block,
/// except that zero-length chunks after the last non-empty one are dropped (JS's
/// `streamx` stops once the queued byte count reaches 0), keeping one when every chunk is
/// empty.
#[derive(Debug, Clone)]
pub struct BlobWriter {
    id: BlobId,
    length: u64,
    byte_length: u64,
    map: Option<Vec<MapEntry>>,
    table: Option<DedupTable>,
    batch: Vec<Bytes>,
    out: VecDeque<Vec<Bytes>>,
    pending_empty: usize,
    wrote_any: bool,
    ended: bool,
}

impl BlobWriter {
    /// A write starting on a core of `length` blocks and `byte_length` bytes. `table` is
    /// the dedup table for `opts.dedup` (`None`: an empty one, JS without `blob`).
    #[must_use]
    pub fn new(
        opts: &WriteOptions,
        length: u64,
        byte_length: u64,
        table: Option<DedupTable>,
    ) -> Self {
        let block_map = opts.block_map || opts.dedup;
        BlobWriter {
            id: BlobId {
                block_offset: length,
                byte_offset: byte_length,
                block_map,
                ..BlobId::default()
            },
            length,
            byte_length,
            map: block_map.then(Vec::new),
            table: opts.dedup.then(|| table.unwrap_or_default()),
            batch: Vec::new(),
            out: VecDeque::new(),
            pending_empty: 0,
            wrote_any: false,
            ended: false,
        }
    }

    /// Writes one chunk (one block, whatever its size). Ignored after [`end`](Self::end).
    pub fn write(&mut self, chunk: Bytes) {
        if self.ended {
            return;
        }
        if chunk.is_empty() {
            self.pending_empty += 1;
            return;
        }
        for _ in 0..core::mem::take(&mut self.pending_empty) {
            self.process(Bytes::new());
        }
        self.process(chunk);
    }

    fn process(&mut self, data: Bytes) {
        self.wrote_any = true;
        if let Some(map) = &mut self.map {
            let entry = MapEntry {
                index: self.length + self.batch.len() as u64,
                byte_length: data.len() as u64,
            };
            if let Some(table) = &mut self.table {
                let hash = block_hash(&data);
                if let Some(existing) = table.entries.get(&hash) {
                    map.push(*existing);
                    return;
                }
                table.entries.insert(hash, entry);
            }
            map.push(entry);
        }
        self.batch.push(data);
        if self.batch.len() >= APPEND_BATCH {
            self.flush_batch();
        }
    }

    fn flush_batch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let batch = core::mem::take(&mut self.batch);
        self.length += batch.len() as u64;
        self.byte_length += batch.iter().map(|b| b.len() as u64).sum::<u64>();
        self.out.push_back(batch);
    }

    /// Ends the write: appends what is queued, then the block map (an append of its own),
    /// and returns the blob's id (JS `ws.id`). A second call returns the same id.
    pub fn end(&mut self) -> BlobId {
        if self.ended {
            return self.id;
        }
        self.ended = true;
        if !self.wrote_any && self.pending_empty > 0 {
            self.process(Bytes::new());
        }
        self.pending_empty = 0;
        self.flush_batch();
        if let Some(entries) = self.map.take() {
            self.id.block_offset = self.length;
            self.id.byte_offset = self.byte_length;
            self.batch = map::encode(&entries);
            self.flush_batch();
        }
        self.id.block_length = self.length - self.id.block_offset;
        self.id.byte_length = self.byte_length - self.id.byte_offset;
        self.id
    }

    /// The next blocks to append (one `core.append`), if any.
    #[must_use]
    pub fn poll_append(&mut self) -> Option<Vec<Bytes>> {
        self.out.pop_front()
    }

    /// The core's length once everything handed out so far is appended.
    #[must_use]
    pub fn length(&self) -> u64 {
        self.length
    }
}

/// What a `put` appends: the id and the appends in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// The blob's id.
    pub id: BlobId,
    /// Each `core.append` the put makes, in order.
    pub appends: Vec<Vec<Bytes>>,
}

impl Blobs {
    /// JS `blobs.put(content, opts)` on a core of `length` blocks and `byte_length` bytes:
    /// the content cut into blocks of `opts.block_size` (else this instance's), written
    /// through a [`BlobWriter`]. `table` as in [`BlobWriter::new`].
    #[must_use]
    pub fn put(
        &self,
        content: &Bytes,
        opts: &WriteOptions,
        length: u64,
        byte_length: u64,
        table: Option<DedupTable>,
    ) -> Put {
        let size = self.chunk_size(opts.block_size);
        let mut w = BlobWriter::new(opts, length, byte_length, table);
        let mut appends = Vec::new();
        let mut at = 0;
        while at < content.len() {
            let end = content.len().min(at.saturating_add(size));
            w.write(content.slice(at..end));
            at = end;
            appends.extend(core::iter::from_fn(|| w.poll_append()));
        }
        let id = w.end();
        appends.extend(core::iter::from_fn(|| w.poll_append()));
        Put { id, appends }
    }

    /// JS `blobs.batch()` on a core of `length` blocks and `byte_length` bytes.
    #[must_use]
    pub fn batch(&self, length: u64, byte_length: u64) -> Batch {
        Batch {
            block_size: self.block_size(),
            length,
            byte_length,
            blocks: Vec::new(),
            bytes: 0,
        }
    }
}

/// A batch of puts appended together at [`flush`](Self::flush) (JS `HyperBlobsBatch`).
#[derive(Debug, Clone)]
pub struct Batch {
    block_size: usize,
    length: u64,
    byte_length: u64,
    blocks: Vec<Bytes>,
    bytes: u64,
}

impl Batch {
    /// Queues `content` in blocks of the instance's block size and returns its id (JSON
    /// through [`BlobId::to_batch_json`]).
    pub fn put(&mut self, content: &Bytes) -> BlobId {
        let mut id = BlobId {
            block_offset: self.length + self.blocks.len() as u64,
            byte_offset: self.byte_length + self.bytes,
            ..BlobId::default()
        };
        let mut at = 0;
        while at < content.len() {
            let end = content.len().min(at.saturating_add(self.block_size));
            self.blocks.push(content.slice(at..end));
            id.block_length += 1;
            id.byte_length += (end - at) as u64;
            self.bytes += (end - at) as u64;
            at = end;
        }
        id
    }

    /// The content of a blob this batch holds, before the flush: `None` when `id` is not
    /// (entirely) in the batch (read it from the core). JS's `HyperBlobsBatch.get`
    /// concatenates too many blocks here (see `tests/vectors/drive/README.md`); this one
    /// returns the blob.
    #[must_use]
    pub fn get(&self, id: &BlobId) -> Option<Bytes> {
        let first = usize::try_from(id.block_offset.checked_sub(self.length)?).ok()?;
        let n = usize::try_from(id.block_length).ok()?;
        let blocks = self.blocks.get(first..first.checked_add(n)?)?;
        Some(match blocks {
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        })
    }

    /// The blocks to append, as one append; the batch is empty afterwards and counts
    /// from the core's new length.
    pub fn flush(&mut self) -> Vec<Bytes> {
        self.length += self.blocks.len() as u64;
        self.byte_length += self.bytes;
        self.bytes = 0;
        core::mem::take(&mut self.blocks)
    }
}
