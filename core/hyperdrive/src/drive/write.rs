//! Writes: `put`, `putEntry`, `symlink`, `del`, `batch`, `createWriteStream`, and the
//! plans of `truncate` and `clear`.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_hyperbee::{Machine as _, Op};
use ferrocore_hyperblobs::{BlobId, BlobWriter, DedupLoad, Machine as _, WriteOptions};
use ferrocore_wire::json::Value;

use super::lookup::sub;
use super::{blob, db, BlobsLength, Drive, DriveError, Lookup, Machine, Step};
use crate::entry::Entry;
use crate::path::{self, PathError};

/// One operation of a [`Write`].
#[derive(Debug, Clone, PartialEq)]
pub enum DriveOp {
    /// `put(path, content, {executable, metadata})`.
    Put {
        /// The path as the caller wrote it.
        path: String,
        /// The file's bytes.
        content: Bytes,
        /// `executable`.
        executable: bool,
        /// `metadata` (`Value::Null`: none).
        metadata: Value,
    },
    /// `putEntry(path, entry)`.
    PutEntry {
        /// The path as the caller wrote it.
        path: String,
        /// The entry stored.
        entry: Entry,
    },
    /// `symlink(path, target, {metadata})`.
    Symlink {
        /// The path as the caller wrote it.
        path: String,
        /// The link's target.
        target: String,
        /// `metadata`.
        metadata: Value,
    },
    /// `del(path)`.
    Del {
        /// The path as the caller wrote it.
        path: String,
    },
}

/// What a [`Write`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Per op: the blob id of a put (`None` for the others).
    pub ids: Vec<Option<BlobId>>,
    /// Per op: `Err` for a path JS refuses (a put's blob is stored all the same, as in JS;
    /// the op writes nothing to the db).
    pub results: Vec<Result<(), PathError>>,
    /// Db blocks appended (the header included).
    pub db_blocks: usize,
}

/// A batch of drive ops (one op: JS's `put`, `del`, …; several: `drive.batch()` …
/// `flush()`): each put's blob is appended to the blobs core first, in order (16 blocks
/// an append at most, as Hyperblobs does), then every entry goes to the db in one append
/// (a `del` of a missing path writes nothing). `Done(outcome)`.
#[derive(Debug)]
pub struct Write {
    ops: VecDeque<DriveOp>,
    appends: VecDeque<Vec<Bytes>>,
    bee_ops: Vec<Op>,
    write: Option<ferrocore_hyperbee::Write>,
    outcome: WriteOutcome,
}

impl Write {
    /// A batch of `ops`, applied in order.
    #[must_use]
    pub fn new(ops: Vec<DriveOp>) -> Self {
        Write {
            ops: ops.into(),
            appends: VecDeque::new(),
            bee_ops: Vec::new(),
            write: None,
            outcome: WriteOutcome::default(),
        }
    }

    /// Plans one op: its blob's appends, and its db op.
    fn plan(&mut self, drive: &Drive, op: DriveOp) {
        let (name, entry, id) = match op {
            DriveOp::Put {
                path,
                content,
                executable,
                metadata,
            } => {
                let core = drive.blobs_core();
                let opts = WriteOptions::default();
                let put = drive
                    .blobs()
                    .put(&content, &opts, core.length, core.byte_length, None);
                self.appends.extend(put.appends);
                let entry = Entry::file(put.id, executable, metadata);
                (path, Some(entry), Some(put.id))
            }
            DriveOp::PutEntry { path, entry } => (path, Some(entry), None),
            DriveOp::Symlink {
                path,
                target,
                metadata,
            } => (path, Some(Entry::symlink(&target, metadata)), None),
            DriveOp::Del { path } => (path, None, None),
        };
        self.outcome.ids.push(id);
        let result = path::key_of(&name).map(|key| {
            self.bee_ops.push(match entry {
                Some(e) => Op::put(key, Some(e.encode().into())),
                None => Op::del(key),
            });
        });
        self.outcome.results.push(result);
    }
}

impl Machine for Write {
    type Output = WriteOutcome;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<WriteOutcome>, DriveError> {
        loop {
            if let Some(blocks) = self.appends.pop_front() {
                drive.appended_blobs(&blocks);
                return Ok(Step::AppendBlobs(blocks));
            }
            let Some(op) = self.ops.pop_front() else {
                break;
            };
            self.plan(drive, op);
        }
        let ops = core::mem::take(&mut self.bee_ops);
        let write = self
            .write
            .get_or_insert_with(|| ferrocore_hyperbee::Write::new(ops));
        let done = match write.poll(drive.bee_mut())? {
            ferrocore_hyperbee::Step::Append(blocks) => {
                self.outcome.db_blocks += blocks.len();
                return Ok(Step::AppendDb(blocks));
            }
            other => db!(other),
        };
        let _ = done;
        Ok(Step::Done(core::mem::take(&mut self.outcome)))
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.write {
            Some(w) => Ok(w.handle_block(seq, block)?),
            None => Err(DriveError::Unexpected("db", seq)),
        }
    }
}

/// The options of `createWriteStream`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteStreamOptions {
    /// `executable`.
    pub executable: bool,
    /// `metadata`.
    pub metadata: Value,
    /// `dedup`: a block map, deduplicated against the blob of the path's current entry.
    pub dedup: bool,
}

#[derive(Debug)]
enum StreamPhase {
    Open,
    Lookup(Lookup),
    Table(DedupLoad),
    Writing(BlobWriter),
    Ending(BlobId),
    Db(ferrocore_hyperbee::Write, BlobId),
    Done(BlobId),
}

/// `createWriteStream(path, opts)`: [`write`](Self::write) chunks (one blobs block each)
/// and [`end`](Self::end) it, polling between calls. A poll returns `Done(None)` when
/// every chunk so far is handed out and the stream is not ended, `Done(Some(id))` once
/// the entry is in the db.
#[derive(Debug)]
pub struct WriteStream {
    path: String,
    opts: WriteStreamOptions,
    chunks: VecDeque<Bytes>,
    ended: bool,
    phase: StreamPhase,
}

impl WriteStream {
    /// A stream to `path`.
    #[must_use]
    pub fn new(path: &str, opts: WriteStreamOptions) -> Self {
        WriteStream {
            path: path.into(),
            opts,
            chunks: VecDeque::new(),
            ended: false,
            phase: StreamPhase::Open,
        }
    }

    /// Queues a chunk (ignored after [`end`](Self::end)).
    pub fn write(&mut self, chunk: Bytes) {
        if !self.ended {
            self.chunks.push_back(chunk);
        }
    }

    /// Ends the stream.
    pub fn end(&mut self) {
        self.ended = true;
    }

    fn writer(
        &self,
        drive: &Drive,
        table: Option<ferrocore_hyperblobs::DedupTable>,
    ) -> StreamPhase {
        let opts = WriteOptions {
            dedup: self.opts.dedup,
            ..WriteOptions::default()
        };
        let core = drive.blobs_core();
        StreamPhase::Writing(BlobWriter::new(&opts, core.length, core.byte_length, table))
    }
}

impl Machine for WriteStream {
    type Output = Option<BlobId>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<BlobId>>, DriveError> {
        loop {
            match &mut self.phase {
                StreamPhase::Open if self.opts.dedup => {
                    // The entry at the drive's current version.
                    let l = Lookup::new(drive.version(), &self.path, false);
                    self.phase = StreamPhase::Lookup(l);
                }
                StreamPhase::Open => self.phase = self.writer(drive, None),
                StreamPhase::Lookup(l) => {
                    let node = sub!(l.poll(drive)?);
                    let id = match node {
                        Some(n) => n
                            .entry
                            .blob_id()
                            .map_err(|error| DriveError::Entry { seq: n.seq, error })?,
                        None => None,
                    };
                    self.phase = match id {
                        Some(id) => StreamPhase::Table(DedupLoad::new(&id, drive.blobs_core())?),
                        None => self.writer(drive, None),
                    };
                }
                StreamPhase::Table(load) => {
                    let table = blob!(load.poll()?);
                    self.phase = self.writer(drive, Some(table));
                }
                StreamPhase::Writing(w) => {
                    if let Some(blocks) = w.poll_append() {
                        drive.appended_blobs(&blocks);
                        return Ok(Step::AppendBlobs(blocks));
                    }
                    if let Some(chunk) = self.chunks.pop_front() {
                        w.write(chunk);
                    } else if self.ended {
                        // `end` is idempotent: the first call queues the last appends
                        // (handed out above), a later one finds none.
                        let id = w.end();
                        match w.poll_append() {
                            Some(blocks) => {
                                drive.appended_blobs(&blocks);
                                return Ok(Step::AppendBlobs(blocks));
                            }
                            None => self.phase = StreamPhase::Ending(id),
                        }
                    } else {
                        return Ok(Step::Done(None));
                    }
                }
                StreamPhase::Ending(id) => {
                    let id = *id;
                    let key = path::key_of(&self.path)?;
                    let entry = Entry::file(id, self.opts.executable, self.opts.metadata.clone());
                    let op = Op::put(key, Some(entry.encode().into()));
                    self.phase =
                        StreamPhase::Db(ferrocore_hyperbee::Write::new(alloc::vec![op]), id);
                }
                StreamPhase::Db(w, id) => {
                    let id = *id;
                    db!(w.poll(drive.bee_mut())?);
                    self.phase = StreamPhase::Done(id);
                }
                StreamPhase::Done(id) => return Ok(Step::Done(Some(*id))),
            }
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.phase {
            StreamPhase::Lookup(l) => l.handle_db(seq, block),
            StreamPhase::Db(w, _) => Ok(w.handle_block(seq, block)?),
            _ => Err(DriveError::Unexpected("db", seq)),
        }
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        match &mut self.phase {
            StreamPhase::Table(load) => Ok(load.handle_block(seq, block)?),
            _ => Err(DriveError::Unexpected("blobs", seq)),
        }
    }
}

/// What [`Truncate`] asks the driver to truncate each core to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TruncateTo {
    /// The db core's new length.
    pub db: u64,
    /// The blobs core's new length.
    pub blobs: u64,
}

/// `truncate(version, {blobs})`: the lengths to truncate the db core (`version`) and the
/// blobs core to (`blobs`, else the blobs length the db needs at `version`, as
/// [`BlobsLength`]; `0` means the current version there, as JS tests it for truth).
/// [`DriveError::BadTruncation`] past either core's length. The machine changes nothing:
/// the driver truncates the cores, then calls [`Drive::set_db_length`] and
/// [`Drive::set_blobs`].
#[derive(Debug, Clone)]
pub struct Truncate {
    version: u64,
    blobs: Option<u64>,
    length: Option<BlobsLength>,
}

impl Truncate {
    /// The plan for `truncate(version, {blobs})`.
    #[must_use]
    pub fn new(version: u64, blobs: Option<u64>) -> Self {
        Truncate {
            version,
            blobs,
            length: None,
        }
    }
}

impl Machine for Truncate {
    type Output = TruncateTo;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<TruncateTo>, DriveError> {
        if self.version > drive.bee().length() {
            return Err(DriveError::BadTruncation);
        }
        let blobs = match self.blobs {
            Some(b) => b,
            None => {
                let version = self.version;
                let l = self
                    .length
                    .get_or_insert_with(|| drive.blobs_length(version));
                sub!(l.poll(drive)?)
            }
        };
        if blobs > drive.blobs_core().length {
            return Err(DriveError::BadTruncation);
        }
        Ok(Step::Done(TruncateTo {
            db: self.version,
            blobs,
        }))
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.length {
            Some(l) => l.handle_db(seq, block),
            None => Err(DriveError::Unexpected("db", seq)),
        }
    }
}

#[derive(Debug, Clone)]
enum ClearPhase {
    Lookup(Lookup),
    Blob(ferrocore_hyperblobs::Clear),
}

/// `clear(path)`: the blobs ranges (`start..end`) to clear, in JS's order; none when the
/// path has no entry (a failing lookup counts as none, as JS catches it).
/// [`DriveError::NoBlob`] for an entry without blob (JS throws a `TypeError`).
#[derive(Debug, Clone)]
pub struct Clear(ClearPhase);

impl Clear {
    /// The plan for `clear(path)` at the current version.
    #[must_use]
    pub fn new(path: &str) -> Self {
        Clear(ClearPhase::Lookup(Lookup::new(u64::MAX, path, false)))
    }
}

impl Machine for Clear {
    type Output = Vec<(u64, u64)>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Self::Output>, DriveError> {
        if let ClearPhase::Lookup(l) = &mut self.0 {
            l.at_most(drive.version());
            let node = match l.poll(drive) {
                Ok(Step::Done(node)) => node,
                Ok(other) => return super::lookup::map_ask(other),
                Err(_) => None,
            };
            let Some(node) = node else {
                return Ok(Step::Done(Vec::new()));
            };
            let id = node.entry.blob_id().map_err(|error| DriveError::Entry {
                seq: node.seq,
                error,
            })?;
            let id = id.ok_or(DriveError::NoBlob)?;
            self.0 = ClearPhase::Blob(ferrocore_hyperblobs::Clear::new(&id, drive.blobs_core())?);
        }
        let ClearPhase::Blob(c) = &mut self.0 else {
            return Ok(Step::Done(Vec::new()));
        };
        Ok(Step::Done(blob!(c.poll()?)))
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.0 {
            ClearPhase::Lookup(l) => l.handle_db(seq, block),
            ClearPhase::Blob(_) => Err(DriveError::Unexpected("db", seq)),
        }
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        match &mut self.0 {
            ClearPhase::Blob(c) => Ok(c.handle_block(seq, block)?),
            ClearPhase::Lookup(_) => Err(DriveError::Unexpected("blobs", seq)),
        }
    }
}
