//! The drive's operations as resumable machines over its two cores (JS `Hyperdrive`'s
//! methods without I/O).
//!
//! A [`Drive`] is the state a driver keeps for one drive: the [`Bee`] over the db core and
//! the size of the blobs core. Every operation is a machine driven through [`Machine`]:
//! poll it, and answer what each [`Step`] asks:
//!
//! * [`Step::NeedDb`]`(seq)`: block `seq` of the **db** core ([`Machine::handle_db`]);
//! * [`Step::NeedBlobs`]`(seq)`: block `seq` of the **blobs** core, or `None` when the
//!   driver does not have it (JS `wait: false`; [`Machine::handle_blobs`]);
//! * [`Step::NeedBlobsSeek`]`(byte)`: which blobs block holds core byte `byte` and where
//!   (hypercore's `seek`; [`Machine::handle_seek`]);
//! * [`Step::HasBlobs`]`{start, end}`: whether the driver holds every blobs block in
//!   `start..end` (hypercore's `has`; [`Machine::handle_has`]);
//! * [`Step::AppendBlobs`] / [`Step::AppendDb`]: blocks to append to that core, as one
//!   append, in order, before polling again;
//! * [`Step::Done`]: the result (the iterators once per item, `Done(None)` at the end).
//!
//! Writes run one at a time (JS holds the cores' locks); reads may run alongside. The
//! machines keep the drive's idea of both cores' sizes current as they hand out appends.
//! A truncation is planned by [`Truncate`]; the driver truncates the cores and then tells
//! the drive ([`Drive::set_db_length`], [`Drive::set_blobs`]).
//!
//! Bytes from a peer never panic: hostile db blocks are the bee's typed errors (bounded by
//! its depth and step budgets), hostile entry values [`EntryError`]s, hostile blob ids and
//! block maps the blobs machines' errors (bounded by the blobs core's size).
//!
//! A driver over two lists of blocks (`testing::MemDrive` is this, with clears and a count
//! of fetched blocks):
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore_hyperdrive::drive::{Drive, DriveConfig, GetOptions, Machine, Step};
//! use ferrocore_hyperblobs::CoreInfo;
//! use ferrocore_wire::json::Value;
//!
//! fn run<M: Machine>(d: &mut Drive, db: &mut Vec<Bytes>, blobs: &mut Vec<Bytes>, m: &mut M) -> M::Output {
//!     loop {
//!         match m.poll(d).unwrap() {
//!             Step::NeedDb(s) => m.handle_db(s, &db[s as usize]).unwrap(),
//!             Step::NeedBlobs(s) => m.handle_blobs(s, blobs.get(s as usize).cloned()).unwrap(),
//!             Step::AppendDb(b) => db.extend(b),
//!             Step::AppendBlobs(b) => blobs.extend(b),
//!             Step::NeedBlobsSeek(byte) => {
//!                 // The block holding `byte` and the offset in it (walking the block sizes).
//!                 let (mut seq, mut at) = (0u64, byte);
//!                 while blobs.get(seq as usize).is_some_and(|b| at >= b.len() as u64) {
//!                     at -= blobs[seq as usize].len() as u64;
//!                     seq += 1;
//!                 }
//!                 let found = (seq < blobs.len() as u64).then_some((seq, at));
//!                 m.handle_seek(byte, found).unwrap();
//!             }
//!             Step::HasBlobs { start, end } => {
//!                 m.handle_has(start, end, end <= blobs.len() as u64).unwrap();
//!             }
//!             Step::Done(out) => return out,
//!         }
//!     }
//! }
//!
//! let (mut db, mut blobs) = (Vec::new(), Vec::new());
//! let mut drive = Drive::new(DriveConfig::default(), 0, CoreInfo::default());
//! let mut put = drive.put("/hello.txt", Bytes::from("hello world"), false, Value::Null);
//! run(&mut drive, &mut db, &mut blobs, &mut put);
//! assert_eq!((db.len(), blobs.len(), drive.version()), (2, 1, 2)); // header + entry, one blob block
//! let mut get = drive.view().get("hello.txt", GetOptions::default());
//! assert_eq!(run(&mut drive, &mut db, &mut blobs, &mut get).as_deref(), Some(&b"hello world"[..]));
//! ```

mod listing;
mod lookup;
mod read;
mod write;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_hyperbee::{Bee, BeeConfig, BeeError};
use ferrocore_hyperblobs::{BlobError, Blobs, CoreInfo, ReadOptions};
use ferrocore_wire::bee::Metadata;

use crate::entry::{Entry, EntryError};
use crate::follow::FollowError;
use crate::list::OutsideFolder;
use crate::path::{self, PathError};

pub use listing::{BlobsLength, Diff, DiffNode, List, ListOptions, Readdir};
pub use lookup::{Exists, Lookup};
pub use read::{Get, GetOptions, Has, ReadStream};
pub use write::{
    Clear, DriveOp, Truncate, TruncateTo, Write, WriteOutcome, WriteStream, WriteStreamOptions,
};

/// What a drive machine wants next (see the [module](self) docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Feed db block `seq` ([`Machine::handle_db`]).
    NeedDb(u64),
    /// Feed blobs block `seq` ([`Machine::handle_blobs`]).
    NeedBlobs(u64),
    /// Say where blobs byte `byte` lies ([`Machine::handle_seek`]).
    NeedBlobsSeek(u64),
    /// Say whether blobs blocks `start..end` are all held ([`Machine::handle_has`]).
    HasBlobs {
        /// First block.
        start: u64,
        /// One past the last block.
        end: u64,
    },
    /// Append these blocks to the db core as one append.
    AppendDb(Vec<Bytes>),
    /// Append these blocks to the blobs core as one append.
    AppendBlobs(Vec<Bytes>),
    /// A result.
    Done(T),
}

/// The driving interface of every drive operation.
pub trait Machine {
    /// What the operation produces (per `Done`, for the iterators).
    type Output;

    /// Runs until the machine needs an answer, has blocks to append, or has a result.
    ///
    /// # Errors
    /// [`DriveError`]: hostile blocks, bad paths, or JS's errors.
    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Self::Output>, DriveError>;

    /// Answers [`Step::NeedDb`].
    ///
    /// # Errors
    /// [`DriveError::Unexpected`] when not asked.
    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        let _ = block;
        Err(DriveError::Unexpected("db", seq))
    }

    /// Answers [`Step::NeedBlobs`] (`None`: not available).
    ///
    /// # Errors
    /// [`DriveError::Unexpected`] when not asked.
    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        let _ = block;
        Err(DriveError::Unexpected("blobs", seq))
    }

    /// Answers [`Step::NeedBlobsSeek`]: `(block, offset in it)`, `None` if not available.
    ///
    /// # Errors
    /// [`DriveError::Unexpected`] when not asked.
    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), DriveError> {
        let _ = at;
        Err(DriveError::Unexpected("seek", byte))
    }

    /// Answers [`Step::HasBlobs`].
    ///
    /// # Errors
    /// [`DriveError::Unexpected`] when not asked.
    fn handle_has(&mut self, start: u64, end: u64, has: bool) -> Result<(), DriveError> {
        let _ = (end, has);
        Err(DriveError::Unexpected("has", start))
    }
}

/// Why a drive operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriveError {
    /// The db core's blocks (see [`BeeError`]).
    #[error(transparent)]
    Bee(#[from] BeeError),
    /// The blobs core's blocks or a blob id (see [`BlobError`]).
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// A stored value that is not an entry.
    #[error("entry in block {seq}: {error}")]
    Entry {
        /// The db block.
        seq: u64,
        /// Why.
        error: EntryError,
    },
    /// A db key outside the drive's files where a file was expected.
    #[error("block {0} holds a key outside the drive's files")]
    NotAFile(u64),
    /// A path JS refuses.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Following links failed.
    #[error(transparent)]
    Follow(#[from] FollowError),
    /// A listing found a key outside its folder (a bee that ignores ranges).
    #[error(transparent)]
    OutsideFolder(#[from] OutsideFolder),
    /// A blob block is not available (JS `BLOCK_NOT_AVAILABLE`).
    #[error("BLOCK_NOT_AVAILABLE: Block is not available")]
    BlockNotAvailable,
    /// `createReadStream` of a path without entry (JS: `Blob does not exist`).
    #[error("Blob does not exist")]
    NoSuchFile,
    /// `clear` of an entry without blob (JS throws a `TypeError`).
    #[error("entry has no blob to clear")]
    NoBlob,
    /// A truncation past a core's length (JS: `BAD_ARGUMENT: Bad truncation length`).
    #[error("BAD_ARGUMENT: Bad truncation length")]
    BadTruncation,
    /// The driver answered something that was not asked (what, and the seq or byte).
    #[error("{0} {1} was not asked for")]
    Unexpected(&'static str, u64),
}

/// A drive's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriveConfig {
    /// The blobs' block size (`None`: 64 KiB, JS's default).
    pub block_size: Option<usize>,
    /// The db bee's cache and budgets (its header metadata is set by [`Drive::new`]).
    pub bee: BeeConfig,
}

/// One drive: the bee over its db core and the size of its blobs core.
#[derive(Debug, Clone)]
pub struct Drive {
    bee: Bee,
    blobs: Blobs,
    blobs_core: CoreInfo,
}

impl Drive {
    /// A drive over a db core of `db_length` blocks and a blobs core of `blobs`' size.
    #[must_use]
    pub fn new(config: DriveConfig, db_length: u64, blobs: CoreInfo) -> Self {
        let mut bee = config.bee;
        bee.metadata = Some(Metadata::default());
        Drive {
            bee: Bee::new(db_length, bee),
            blobs: Blobs::new(config.block_size),
            blobs_core: blobs,
        }
    }

    /// The db bee.
    #[must_use]
    pub fn bee(&self) -> &Bee {
        &self.bee
    }

    /// The db bee, to feed its cache or drive bee machines.
    pub fn bee_mut(&mut self) -> &mut Bee {
        &mut self.bee
    }

    /// The blobs settings.
    #[must_use]
    pub fn blobs(&self) -> Blobs {
        self.blobs
    }

    /// The blobs core's size as the drive knows it.
    #[must_use]
    pub fn blobs_core(&self) -> CoreInfo {
        self.blobs_core
    }

    /// `drive.version`: the db's version (`max(1, length)`).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.bee.version()
    }

    /// The db core's length changed (a peer's blocks, a truncation).
    pub fn set_db_length(&mut self, length: u64) {
        self.bee.set_length(length);
    }

    /// The blobs core's size changed (a peer's blocks, a truncation).
    pub fn set_blobs(&mut self, blobs: CoreInfo) {
        self.blobs_core = blobs;
    }

    /// Counts blocks handed out for the blobs core.
    pub(crate) fn appended_blobs(&mut self, blocks: &[Bytes]) {
        self.blobs_core.length += blocks.len() as u64;
        self.blobs_core.byte_length += blocks.iter().map(|b| b.len() as u64).sum::<u64>();
    }

    /// Reads at the current version.
    #[must_use]
    pub fn view(&self) -> View {
        self.checkout(self.version())
    }

    /// `drive.checkout(version)` (0 reads as 1, as the bee does).
    #[must_use]
    pub fn checkout(&self, version: u64) -> View {
        View {
            version: self.bee.checkout(version).version,
        }
    }

    /// A batch of writes: every put's blobs first, then one db append (JS
    /// `drive.batch()` … `flush()`; a single op is `put`, `del`, … on the drive).
    #[must_use]
    pub fn write(&self, ops: Vec<DriveOp>) -> Write {
        Write::new(ops)
    }

    /// `put(path, content, {executable, metadata})`.
    #[must_use]
    pub fn put(
        &self,
        path: &str,
        content: Bytes,
        executable: bool,
        metadata: ferrocore_wire::json::Value,
    ) -> Write {
        self.write(alloc::vec![DriveOp::Put {
            path: path.into(),
            content,
            executable,
            metadata,
        }])
    }

    /// `createWriteStream(path, opts)`.
    #[must_use]
    pub fn write_stream(&self, path: &str, opts: WriteStreamOptions) -> WriteStream {
        WriteStream::new(path, opts)
    }

    /// `truncate(version, {blobs})`: what to truncate each core to.
    #[must_use]
    pub fn truncate(&self, version: u64, blobs: Option<u64>) -> Truncate {
        Truncate::new(version, blobs)
    }

    /// `clear(path)`: the blobs ranges to clear.
    #[must_use]
    pub fn clear(&self, path: &str) -> Clear {
        Clear::new(path)
    }

    /// `getBlobsLength(checkout)`: at `checkout`, or at the current version for `0` (JS
    /// tests the argument for truth).
    #[must_use]
    pub fn blobs_length(&self, checkout: u64) -> BlobsLength {
        let at = if checkout == 0 {
            self.version()
        } else {
            checkout
        };
        self.checkout(at).blobs_length()
    }

    /// `clearAll()`: the blobs range to clear (none on an empty core).
    #[must_use]
    pub fn clear_all(&self) -> Option<(u64, u64)> {
        (self.blobs_core.length > 0).then_some((0, self.blobs_core.length))
    }
}

/// Reads pinned to one db version (JS `drive.checkout(version)`); blob reads use the
/// blobs core as the drive knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The db version read.
    pub version: u64,
}

impl View {
    /// `entry(path, {follow})`.
    #[must_use]
    pub fn entry(&self, path: &str, follow: bool) -> Lookup {
        Lookup::new(self.version, path, follow)
    }

    /// `exists(path)`.
    #[must_use]
    pub fn exists(&self, path: &str) -> Exists {
        Exists::new(self.entry(path, false))
    }

    /// `get(path, {follow, start, end, length})`.
    #[must_use]
    pub fn get(&self, path: &str, opts: GetOptions) -> Get {
        Get::new(self.entry(path, opts.follow), opts.range)
    }

    /// `createReadStream(path, {start, end, length})`: chunks as JS yields them.
    #[must_use]
    pub fn read_stream(&self, path: &str, range: ReadOptions) -> ReadStream {
        ReadStream::new(self.entry(path, false), range)
    }

    /// `has(path)`: a file's blob, or every blob under a folder, held locally.
    #[must_use]
    pub fn has(&self, path: &str) -> Has {
        Has::new(self.version, path)
    }

    /// `list(folder, {recursive, ignore})` (`None`: the root).
    #[must_use]
    pub fn list(&self, folder: Option<&str>, opts: ListOptions) -> List {
        List::new(self.version, folder, opts)
    }

    /// `readdir(folder)`: the names of the folder's children.
    #[must_use]
    pub fn readdir(&self, folder: Option<&str>) -> Readdir {
        Readdir::new(self.version, folder)
    }

    /// `diff(from, folder)`: entries under `folder` that differ between this version
    /// (`left`) and `from` (`right`).
    #[must_use]
    pub fn diff(&self, from: u64, folder: Option<&str>) -> Diff {
        Diff::new(self.version, from, folder)
    }

    /// `getBlobsLength()` at this version.
    #[must_use]
    pub fn blobs_length(&self) -> BlobsLength {
        BlobsLength::new(self.version)
    }
}

/// A drive entry as JS returns it: `{seq, key, value}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The db block that wrote it.
    pub seq: u64,
    /// Its normalised path (JS decodes the key as UTF-8, replacing bad bytes).
    pub path: String,
    /// Its value.
    pub entry: Entry,
}

impl Node {
    /// Reads a bee entry as a drive entry.
    ///
    /// # Errors
    /// [`DriveError::NotAFile`] for a key outside the files, [`DriveError::Entry`] for a
    /// value that is not an entry (a `null` value included).
    pub fn decode(e: &ferrocore_hyperbee::Entry) -> Result<Node, DriveError> {
        let key = path::path_of_key(&e.key).ok_or(DriveError::NotAFile(e.seq))?;
        let entry = decode_value(e)?;
        Ok(Node {
            seq: e.seq,
            path: String::from_utf8_lossy(key).into_owned(),
            entry,
        })
    }
}

/// The entry a bee entry's value holds.
pub(crate) fn decode_value(e: &ferrocore_hyperbee::Entry) -> Result<Entry, DriveError> {
    let seq = e.seq;
    let bytes = e.value.as_deref().unwrap_or(b"null");
    Entry::decode(bytes).map_err(|error| DriveError::Entry { seq, error })
}

/// Polls a hyperbee machine: its asks become the drive's, its result the value.
macro_rules! db {
    ($poll:expr) => {
        match $poll {
            ferrocore_hyperbee::Step::NeedBlock(s) => return Ok($crate::drive::Step::NeedDb(s)),
            ferrocore_hyperbee::Step::Append(b) => return Ok($crate::drive::Step::AppendDb(b)),
            ferrocore_hyperbee::Step::Done(x) => x,
        }
    };
}

/// Polls a hyperblobs machine that yields no chunks: its asks become the drive's.
macro_rules! blob {
    ($poll:expr) => {
        match $poll {
            ferrocore_hyperblobs::Step::NeedBlock(s) => {
                return Ok($crate::drive::Step::NeedBlobs(s))
            }
            ferrocore_hyperblobs::Step::NeedSeek(b) => {
                return Ok($crate::drive::Step::NeedBlobsSeek(b))
            }
            ferrocore_hyperblobs::Step::Chunk(_) => {
                return Err($crate::drive::DriveError::Unexpected("chunk", 0))
            }
            ferrocore_hyperblobs::Step::Done(x) => x,
        }
    };
}

pub(crate) use {blob, db};
