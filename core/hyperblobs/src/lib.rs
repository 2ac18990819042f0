//! Hyperblobs (JS `hyperblobs@2.12.1`) without I/O: blobs stored as runs of blocks in a
//! core, block for block what JS appends.
//!
//! * Writes are planners: [`Blobs::put`] (content cut into `blockSize` blocks),
//!   [`BlobWriter`] (a write stream, one block per chunk), block maps and dedup
//!   ([`WriteOptions`], [`DedupTable`]), [`Batch`]. They hand out the appends, 16 data
//!   blocks at most per append as JS makes them, then the map in an append of its own,
//!   and the [`BlobId`] (JSON: [`BlobId::to_json`], [`BlobId::from_json`]).
//! * Reads and the rest are resumable machines driven through [`Machine`]: [`Get`]
//!   (JS `get`), [`ReadStream`] (JS `createReadStream`, chunk by chunk), [`Clear`] (the
//!   ranges JS clears), [`DedupLoad`] (the dedup table of JS's `blob` option). They ask
//!   for blocks by index ([`Step::NeedBlock`]; answer with [`Machine::handle_block`],
//!   `None` for a block the caller does not have, JS's `wait: false`), and a plain read
//!   that starts inside a blob asks where its start lies ([`Step::NeedSeek`], JS's
//!   `core.seek`; answer with [`Machine::handle_seek`]). Every machine is told the
//!   core's size ([`CoreInfo`]) and answers requests past it itself, so a hostile id
//!   or block map never makes one loop or allocate beyond the blocks it is given.
//!
//! JS's quirks are kept where they decide bytes (unclamped ranges, `end` inclusive, the
//! map reader's `end` over `length`, dropped trailing empty chunks); where JS throws a
//! `TypeError` the machines return a typed [`BlobError`].
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore_hyperblobs::{Blobs, WriteOptions};
//!
//! let blobs = Blobs::new(Some(3));
//! let put = blobs.put(&Bytes::from_static(b"abcdefg"), &WriteOptions::default(), 0, 0, None);
//! assert_eq!(put.id.to_json(), r#"{"blockOffset":0,"byteOffset":0,"blockLength":3,"byteLength":7}"#);
//! assert_eq!(put.appends, [vec![Bytes::from("abc"), Bytes::from("def"), Bytes::from("g")]]);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod id;
mod io;
pub mod map;
mod ops;
mod read;
mod write;

use bytes::Bytes;

pub use id::{BlobId, IdError, MAX_SAFE_INTEGER};
pub use map::{MapEntry, MapError};
pub use ops::{Clear, DedupLoad};
pub use read::{Get, ReadOptions, ReadStream};
pub use write::{block_hash, Batch, BlobWriter, DedupTable, Put, WriteOptions, APPEND_BATCH};

/// The block size when none is given (JS `DEFAULT_BLOCK_SIZE`, 64 KiB).
pub const DEFAULT_BLOCK_SIZE: usize = 1 << 16;

/// A Hyperblobs instance's settings (JS `new Hyperblobs(core, {blockSize})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blobs {
    block_size: usize,
}

impl Blobs {
    /// With `block_size` (`None` or 0: [`DEFAULT_BLOCK_SIZE`], as JS's `||`).
    #[must_use]
    pub fn new(block_size: Option<usize>) -> Self {
        Blobs {
            block_size: block_size.filter(|s| *s > 0).unwrap_or(DEFAULT_BLOCK_SIZE),
        }
    }

    /// The instance's block size.
    #[must_use]
    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// A put's chunk size: its own option when non-zero, else the instance's.
    fn chunk_size(&self, option: Option<usize>) -> usize {
        option.filter(|s| *s > 0).unwrap_or(self.block_size)
    }
}

impl Default for Blobs {
    fn default() -> Self {
        Blobs::new(None)
    }
}

/// The size of the core a machine reads: requests past it are answered as missing
/// without asking the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreInfo {
    /// Blocks in the core.
    pub length: u64,
    /// Bytes in the core.
    pub byte_length: u64,
}

/// What a machine wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Feed block `seq` ([`Machine::handle_block`]), then poll again.
    NeedBlock(u64),
    /// Say which block holds core byte `byte` and where in it ([`Machine::handle_seek`];
    /// hypercore's `seek`), then poll again.
    NeedSeek(u64),
    /// The next chunk of a [`ReadStream`].
    Chunk(Bytes),
    /// Finished.
    Done(T),
}

/// The driving interface every machine shares: poll until [`Step::Done`], answering
/// what [`Step::NeedBlock`] and [`Step::NeedSeek`] ask.
pub trait Machine {
    /// What the operation produces.
    type Output;

    /// Runs until the machine needs an answer, has a chunk, or is done.
    ///
    /// # Errors
    /// [`BlobError`]: the blocks or the id are not a blob JS could read (JS throws), or
    /// the caller answered something not asked.
    fn poll(&mut self) -> Result<Step<Self::Output>, BlobError>;

    /// Answers the last [`Step::NeedBlock`]: the block, or `None` if not available.
    ///
    /// # Errors
    /// [`BlobError::UnexpectedBlock`] if that block was not asked for.
    fn handle_block(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), BlobError>;

    /// Answers the last [`Step::NeedSeek`]: `(block index, offset in it)`, or `None` if
    /// not available.
    ///
    /// # Errors
    /// [`BlobError::UnexpectedSeek`] if that byte was not asked about.
    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), BlobError> {
        let _ = at;
        Err(BlobError::UnexpectedSeek(byte))
    }
}

/// Why a blob operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// A block-map id of more than 64 map blocks (JS: `Block map is too large`).
    #[error("block map of {0} blocks is too large (at most 64)")]
    MapTooLarge(u64),
    /// A block-map id of no map block: JS's map then has `blocks: null` and reading it
    /// throws (`Cannot read properties of null (reading 'length')`).
    #[error("block-map blob without map blocks")]
    EmptyBlockMap,
    /// A map block is not available: JS's map is `null` and reading it throws
    /// (`Cannot read properties of null (reading 'blocks')`).
    #[error("a block of the block map is not available")]
    MapNotAvailable,
    /// A block-map read starting at or past the content's end (JS: `Cannot read
    /// properties of undefined (reading 'index')`).
    #[error("read starts at or past the end of the block map's content")]
    StartPastEnd,
    /// A map block that does not decode.
    #[error("map block {seq}: {error}")]
    Map {
        /// The map block.
        seq: u64,
        /// Why.
        error: MapError,
    },
    /// A plain read whose end lies before byte 0 of the core (JS: `seek is invalid`).
    #[error("read range ends before the start of the core")]
    InvalidRange,
    /// A block a dedup source needs is not available.
    #[error("block {0} is not available")]
    BlockNotAvailable(u64),
    /// The caller fed a block that was not asked for.
    #[error("block {0} was not asked for")]
    UnexpectedBlock(u64),
    /// The caller answered a seek that was not asked for.
    #[error("seek to byte {0} was not asked for")]
    UnexpectedSeek(u64),
}
