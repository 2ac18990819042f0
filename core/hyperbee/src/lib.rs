//! Hyperbee (JS `hyperbee@2.27.3`) without I/O: the append-only B-tree stored one
//! operation per block of a core, writing block for block what JS writes.
//!
//! Every operation is a resumable state machine the caller drives through [`Machine`]. It
//! asks for blocks by seq ([`Step::NeedBlock`]; feed them with [`Machine::handle_block`]),
//! hands back blocks to append ([`Step::Append`]), and finishes with [`Step::Done`] (the
//! iterators once per entry, `Done(None)` at the end). Where the blocks come from (local
//! storage, or a peer through replication, with whatever deadline) is the caller's
//! business; the machines never block and never do I/O. Decoded blocks are shared through
//! the [`Bee`]'s bounded [`BlockCache`], so a driver over local storage asks each block
//! once.
//!
//! * Writes: [`Write`] (puts and deletes, alone or as one batch; `cas`; JS's
//!   `alwaysDuplicate` default), exactly JS's tree (split at 9 keys, nearest-leaf deletes,
//!   borrow/merge order, pre-order index of the rewritten nodes, batch compaction).
//! * Reads at a version ([`View`], from [`Bee::view`] or [`Bee::checkout`]): [`Get`]
//!   (with JS's block-key shortcut, and [`Get::root_shortcut_only`] where JS's answer is a
//!   superseded entry), [`GetBySeq`], [`Range`] iteration (bounds, reverse, limit,
//!   [`Range::snapshot`] checkpoints and resuming from them, the extension request
//!   [`Checkpoint::to_request`]), [`History`], [`Diff`] between versions.
//! * [`sub`]: sub-bees' key prefixes and default ranges.
//!
//! Blocks from a hostile writer (pointer cycles, offsets out of range, oversized nodes,
//! keys from the future) are typed [`BeeError`]s: descents are bounded by [`MAX_DEPTH`] and
//! each step by a node budget.
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore_hyperbee::testing::MemBee;
//!
//! let mut bee = MemBee::new();
//! bee.put(b"a", Some(b"1"));
//! assert_eq!(hex(&bee.blocks[1]), "0a050a030a01011201611a0131");
//! assert_eq!(bee.get(b"a").unwrap().unwrap().value.as_deref(), Some(&b"1"[..]));
//! # fn hex(b: &[u8]) -> String { b.iter().map(|x| format!("{x:02x}")).collect() }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod block;
mod diff;
mod error;
pub mod ext;
mod fetch;
mod history;
pub mod linked;
mod range;
mod read;
pub mod sub;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::bee::{Header, Metadata};

pub use block::{Block, BlockCache, NodeData};
pub use diff::{Diff, DiffEntry};
pub use error::BeeError;
pub use history::{History, HistoryEntry, HistoryOptions};
pub use range::{Checkpoint, OpenRange, Range, RangeOptions};
pub use read::{Get, GetBySeq};
pub use write::{Op, Write, WriteOutcome};

/// Most keys a node holds (JS: `MAX_CHILDREN - 1`).
pub const MAX_KEYS: usize = 8;
/// A node with this many keys splits (JS's `MAX_CHILDREN`).
pub const MAX_CHILDREN: usize = 9;
/// Fewest keys a non-root node keeps (JS's `MIN_KEYS`).
pub const MIN_KEYS: usize = 4;
/// The deepest descent any operation makes (a honest bee of 2^53 keys is 23 deep).
pub const MAX_DEPTH: usize = 48;

/// A decision on a conditional write: called with the existing entry and the new one
/// (value `None` for a delete); false skips the write.
pub type Cas = Box<dyn FnMut(&Entry, &Entry) -> bool + Send>;

/// One key's entry: the block that wrote it, the key and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The block's seq.
    pub seq: u64,
    /// The (encoded) key.
    pub key: Bytes,
    /// The (encoded) value; `None` for a put of null.
    pub value: Option<Bytes>,
}

/// What a machine wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<T> {
    /// Feed block `seq` (`handle_block`), then poll again.
    NeedBlock(u64),
    /// Append these blocks to the core, in order, then poll again.
    Append(Vec<Bytes>),
    /// Finished.
    Done(T),
}

/// The driving interface every operation shares: poll until [`Step::Done`], feed what
/// [`Step::NeedBlock`] asks for, append what [`Step::Append`] hands back.
pub trait Machine {
    /// What the operation produces (per poll that returns `Done`, for the iterators).
    type Output;

    /// Runs until the operation needs a block, has blocks to append, or has a result.
    fn poll(&mut self, bee: &mut Bee) -> Result<Step<Self::Output>, BeeError>;

    /// Feeds the block the last [`Step::NeedBlock`] asked for.
    fn handle_block(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError>;
}

/// How a [`Bee`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeeConfig {
    /// Decoded blocks kept in the shared cache.
    pub cache_blocks: usize,
    /// JS's `alwaysDuplicate` (default true): a put of an unchanged value still appends.
    pub always_duplicate: bool,
    /// Metadata written into the header (Hyperdrive writes an empty one).
    pub metadata: Option<Metadata>,
    /// Most nodes one step of an operation may visit.
    pub step_budget: usize,
}

impl Default for BeeConfig {
    fn default() -> Self {
        BeeConfig {
            cache_blocks: 65536,
            always_duplicate: true,
            metadata: None,
            step_budget: 1 << 16,
        }
    }
}

/// One bee over one core: its length and the cache of decoded blocks its operations share.
#[derive(Debug, Clone)]
pub struct Bee {
    length: u64,
    cache: BlockCache,
    config: BeeConfig,
}

impl Bee {
    /// A bee over a core of `length` blocks.
    #[must_use]
    pub fn new(length: u64, config: BeeConfig) -> Self {
        Bee {
            length,
            cache: BlockCache::new(config.cache_blocks),
            config,
        }
    }

    /// The core's length as this bee knows it (writes advance it).
    #[must_use]
    pub fn length(&self) -> u64 {
        self.length
    }

    /// The current version: `max(1, length)`.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.length.max(1)
    }

    /// Tells the bee the core's length changed (blocks from a peer, or a truncation, which
    /// drops the cached blocks past it).
    pub fn set_length(&mut self, length: u64) {
        if length < self.length {
            self.cache.truncate(length);
        }
        self.length = length;
    }

    /// Caches block `seq` ahead of need (a driver that prefetches).
    pub fn cache_block(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError> {
        self.cache
            .insert(alloc::sync::Arc::new(Block::decode(seq, bytes)?));
        Ok(())
    }

    /// The shared cache.
    #[must_use]
    pub fn cache(&self) -> &BlockCache {
        &self.cache
    }

    pub(crate) fn cache_mut(&mut self) -> &mut BlockCache {
        &mut self.cache
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &BeeConfig {
        &self.config
    }

    /// The header this bee writes as block 0.
    #[must_use]
    pub fn header(&self) -> Vec<u8> {
        Header::hyperbee(self.config.metadata.clone()).encode()
    }

    /// A batch of writes.
    #[must_use]
    pub fn write(&self, ops: Vec<Op>) -> Write {
        Write::new(ops)
    }

    /// Reads at the current version.
    #[must_use]
    pub fn view(&self) -> View {
        View {
            version: self.version(),
        }
    }

    /// Reads pinned to `version` (0 reads as 1, as in JS).
    #[must_use]
    pub fn checkout(&self, version: u64) -> View {
        View {
            version: version.max(1),
        }
    }
}

/// Reads pinned to one version (JS's `checkout(version)` / `snapshot()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The version read.
    pub version: u64,
}

impl View {
    /// `get(key)`.
    #[must_use]
    pub fn get(&self, key: impl Into<Bytes>) -> Get {
        Get::new(self.version, key.into())
    }

    /// `getBySeq(seq)`.
    #[must_use]
    pub fn get_by_seq(&self, seq: u64) -> GetBySeq {
        GetBySeq::new(self.version, seq)
    }

    /// `createRangeIterator(range)`.
    #[must_use]
    pub fn range(&self, options: RangeOptions) -> Range {
        Range::new(self.version, options)
    }

    /// `peek(range)`: the first entry of a range.
    #[must_use]
    pub fn peek(&self, mut options: RangeOptions) -> Range {
        options.limit = Some(1);
        Range::new(self.version, options)
    }

    /// `createHistoryStream(options)`.
    #[must_use]
    pub fn history(&self, options: HistoryOptions) -> History {
        History::new(self.version, options)
    }

    /// `createDiffStream(other, range)`: entries that differ between this version (`left`)
    /// and `other` (`right`, 0 reads as 1).
    #[must_use]
    pub fn diff(&self, other: u64, range: sub::KeyRange) -> Diff {
        Diff::new(self.version, other.max(1), range)
    }
}
