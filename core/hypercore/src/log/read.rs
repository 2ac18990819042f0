//! Reading: blocks, presence, byte seeks, tree hashes and range readers.

use bytes::Bytes;

use super::{Log, Snapshot};
use crate::flat_tree::{children, full_roots};
use crate::storage::{Record, Storage, StorageError};
use crate::{hash, Error, Node};

impl<S: Storage> Log<S> {
    /// Block `index`, decrypted if the log has an encryption key. `None` means not stored
    /// locally (never downloaded, cleared, or at/after the length).
    ///
    /// # Errors
    /// [`Error::Storage`] if the bitfield says the block is stored but storage fails, lacks
    /// it or holds a block too short to be decrypted.
    pub fn get(&self, index: u64) -> Result<Option<Bytes>, Error> {
        match self.stored_block(index)? {
            None => Ok(None),
            Some(raw) => self.decode_block(index, raw).map(Some),
        }
    }

    /// The block as stored (with padding, encrypted), if present and below the length.
    pub(super) fn stored_block(&self, index: u64) -> Result<Option<Bytes>, Error> {
        if index >= self.state.length || !self.bitfield.get(index) {
            return Ok(None);
        }
        let raw = self.storage.block(index)?.ok_or_else(|| {
            StorageError::corrupt(Record::Block(index), "bitfield marks a missing block")
        })?;
        Ok(Some(raw))
    }

    fn decode_block(&self, index: u64, raw: Bytes) -> Result<Bytes, Error> {
        match &self.encryption {
            None => Ok(raw),
            Some(e) => e.decrypt(index, &raw).map(Bytes::from).map_err(|_| {
                StorageError::corrupt(Record::Block(index), "block shorter than its padding").into()
            }),
        }
    }

    /// True if every block in `start..end` is stored locally (an empty range is `true`).
    #[must_use]
    pub fn has(&self, start: u64, end: u64) -> bool {
        if start >= end {
            return true;
        }
        end <= self.state.length && self.bitfield.count(start, end) == end - start
    }

    /// The block containing user byte `offset` and the offset inside it: `Some((length,
    /// 0))` at the very end, `None` past the end or when the tree nodes on the way are not
    /// stored locally. Padding is excluded, as in [`byte_length`](Self::byte_length).
    ///
    /// # Errors
    /// [`Error::Storage`] if reading a node fails.
    pub fn seek(&self, offset: u64) -> Result<Option<(u64, u64)>, Error> {
        Ok(match self.locate(offset)? {
            Located::At(index, rest) => Some((index, rest)),
            Located::Past | Located::Missing(_) => None,
        })
    }

    /// Where user byte `offset` lies: [`seek`](Self::seek), saying which node was missing.
    fn locate(&self, offset: u64) -> Result<Located, Error> {
        let padding = self.padding();
        let user_size = |n: &Node| {
            n.size
                .saturating_sub(padding.saturating_mul(crate::flat_tree::count_leaves(n.index)))
        };
        let mut rest = offset;
        for root in &self.state.roots {
            let size = user_size(root);
            if rest >= size {
                rest -= size;
                continue;
            }
            let mut node = *root;
            while let Some((l, r)) = children(node.index) {
                let Some(left) = self.storage.node(l)? else {
                    return Ok(Located::Missing(l));
                };
                let left_size = user_size(&left);
                if rest < left_size {
                    node = left;
                } else {
                    rest -= left_size;
                    match self.storage.node(r)? {
                        Some(right) => node = right,
                        None => return Ok(Located::Missing(r)),
                    }
                }
            }
            return Ok(Located::At(node.index / 2, rest));
        }
        Ok(if rest == 0 {
            Located::At(self.state.length, 0)
        } else {
            Located::Past
        })
    }

    /// The tree hash at any `length ≤ self.length()`, from stored nodes; `None` if a root of
    /// that length is not stored locally (dropped by a clear).
    ///
    /// # Errors
    /// [`Error::Misuse`] if `length` exceeds the log's; [`Error::Storage`] on read failure.
    pub fn tree_hash(&self, length: u64) -> Result<Option<hash::Hash>, Error> {
        if length > self.state.length {
            return Err(Error::Misuse("tree_hash beyond the length"));
        }
        if length == self.state.length {
            return Ok(Some(hash::tree_hash(&self.state.roots)));
        }
        let mut roots = alloc::vec::Vec::new();
        for i in full_roots(length) {
            match self.storage.node(i)? {
                Some(n) => roots.push(n),
                None => return Ok(None),
            }
        }
        Ok(Some(hash::tree_hash(&roots)))
    }

    /// The blocks `start..end`, read against a snapshot taken now (see
    /// [`get_at`](Self::get_at)).
    #[must_use]
    pub fn read_range(&self, start: u64, end: u64) -> RangeReader<'_, S> {
        RangeReader {
            log: self,
            snapshot: self.snapshot(),
            next: start,
            end,
        }
    }

    /// The user bytes `start..start + length`, as one slice per block touched, read against
    /// a snapshot taken now. A range past the byte length ends early at it.
    ///
    /// ```
    /// # use ferrocore::{keys::KeyPair, log::{Log, LogOptions}, storage::MemoryStorage};
    /// # let o = LogOptions { key_pair: Some(KeyPair::from_seed(&[1; 32])), ..LogOptions::default() };
    /// let mut log = Log::open(MemoryStorage::new(), o).unwrap();
    /// log.append_batch([&b"hello "[..], b"big ", b"world"]).unwrap();
    /// let bytes: Vec<u8> = log
    ///     .read_bytes(4, 8)
    ///     .map(|chunk| chunk.unwrap())
    ///     .flat_map(|chunk| chunk.to_vec())
    ///     .collect();
    /// assert_eq!(bytes, b"o big wo");
    /// ```
    ///
    /// Each item is an error instead when a block or a tree node on the way is not stored
    /// locally ([`Error::MissingBlock`], [`Error::MissingNode`]), the log was truncated under
    /// the snapshot, or storage fails; the reader ends after an error.
    #[must_use]
    pub fn read_bytes(&self, start: u64, length: u64) -> ByteRangeReader<'_, S> {
        let snapshot = self.snapshot();
        let end = start.saturating_add(length).min(snapshot.byte_length);
        ByteRangeReader {
            log: self,
            snapshot,
            position: None,
            offset: start,
            end,
        }
    }
}

/// Where a byte offset lies (see [`Log::seek`]).
enum Located {
    /// In block `.0`, at offset `.1`.
    At(u64, u64),
    /// Past the byte length.
    Past,
    /// The tree node with this index, on the way, is not stored locally.
    Missing(u64),
}

/// A cursor over blocks `start..end` (or without end) that reads the log as it is at each
/// call, so it follows a live log: call [`next`](Self::next) again after an
/// [`Event::Append`](super::Event::Append) when it returned [`LiveRead::CaughtUp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveRangeReader {
    next: u64,
    end: Option<u64>,
}

/// One step of a [`LiveRangeReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveRead {
    /// The next block.
    Block {
        /// Its index.
        index: u64,
        /// Its bytes.
        value: Bytes,
    },
    /// The next block is below the length but not stored locally (a replicator can fetch
    /// it); the cursor stays on it.
    Missing {
        /// Its index.
        index: u64,
    },
    /// Every block below the current length was read; more may be appended.
    CaughtUp,
    /// The end of the range was reached.
    Done,
}

impl LiveRangeReader {
    /// A cursor from `start` to `end` (exclusive), or without end.
    #[must_use]
    pub fn new(start: u64, end: Option<u64>) -> Self {
        Self { next: start, end }
    }

    /// The index the cursor is on.
    #[must_use]
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Reads the next block from `log` as it is now.
    ///
    /// # Errors
    /// As [`Log::get`]; the cursor stays where it was.
    pub fn next<S: Storage>(&mut self, log: &Log<S>) -> Result<LiveRead, Error> {
        let index = self.next;
        if self.end.is_some_and(|e| index >= e) {
            return Ok(LiveRead::Done);
        }
        if index >= log.length() {
            return Ok(LiveRead::CaughtUp);
        }
        match log.get(index)? {
            Some(value) => {
                self.next += 1;
                Ok(LiveRead::Block { index, value })
            }
            None => Ok(LiveRead::Missing { index }),
        }
    }
}

/// An iterator over the user bytes of a range of a log, one slice per block, pinned to a
/// snapshot (see [`Log::read_bytes`]).
#[derive(Debug)]
pub struct ByteRangeReader<'a, S: Storage> {
    log: &'a Log<S>,
    snapshot: Snapshot,
    /// The block and offset in it of `offset`, once sought.
    position: Option<(u64, u64)>,
    offset: u64,
    end: u64,
}

impl<S: Storage> ByteRangeReader<'_, S> {
    fn step(&mut self) -> Result<Bytes, Error> {
        let (index, within) = match self.position {
            Some(p) => p,
            None => match self.log.locate(self.offset)? {
                Located::At(index, within) => (index, within),
                Located::Missing(node) => return Err(Error::MissingNode(node)),
                // `end` is capped at the snapshot's byte length: the log shrank under it.
                Located::Past => {
                    return Err(Error::SnapshotTruncated {
                        length: self.log.length(),
                    })
                }
            },
        };
        let block = self
            .log
            .get_at(&self.snapshot, index)?
            .ok_or(Error::MissingBlock(index))?;
        let from = usize::try_from(within)
            .unwrap_or(usize::MAX)
            .min(block.len());
        let want = usize::try_from(self.end - self.offset).unwrap_or(usize::MAX);
        let to = from.saturating_add(want).min(block.len());
        self.offset += (to - from) as u64;
        self.position = Some((index + 1, 0));
        Ok(block.slice(from..to))
    }
}

impl<S: Storage> Iterator for ByteRangeReader<'_, S> {
    type Item = Result<Bytes, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.offset >= self.end {
            return None;
        }
        let item = self.step();
        if item.is_err() {
            self.end = self.offset;
        }
        Some(item)
    }
}

/// An iterator over blocks `start..end` of a log, pinned to a snapshot. Yields one
/// `Result<Option<Bytes>>` per index (as [`Log::get_at`]).
#[derive(Debug)]
pub struct RangeReader<'a, S: Storage> {
    log: &'a Log<S>,
    snapshot: Snapshot,
    next: u64,
    end: u64,
}

impl<S: Storage> Iterator for RangeReader<'_, S> {
    type Item = Result<Option<Bytes>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(self.log.get_at(&self.snapshot, i))
    }
}
