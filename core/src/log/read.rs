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
                    return Ok(None);
                };
                let left_size = user_size(&left);
                if rest < left_size {
                    node = left;
                } else {
                    rest -= left_size;
                    match self.storage.node(r)? {
                        Some(right) => node = right,
                        None => return Ok(None),
                    }
                }
            }
            return Ok(Some((node.index / 2, rest)));
        }
        Ok((rest == 0).then_some((self.state.length, 0)))
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
