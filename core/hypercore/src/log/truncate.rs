//! Rewriting history (truncate, spec §8.2) and dropping local data (clear §8.4, purge).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::{stage_bits, wipe, Event, Log};
use crate::flat_tree::{
    count_leaves, exists_at, full_roots, left_span, parent, right_span, sibling,
};
use crate::storage::{Record, Storage, StorageError, WriteBatch};
use crate::{Error, Node};

/// The result of a clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearOutcome {
    /// Stored bytes of the deleted blocks (with padding).
    pub bytes_reclaimed: u64,
}

impl<S: Storage> Log<S> {
    /// Truncates to `new_length` with fork `fork` (default: current fork + 1) and re-signs.
    /// Drops nodes at or after the new head and those spanning past it, blocks at or after
    /// `new_length`, and their bitfield bits, in one batch.
    ///
    /// # Errors
    /// [`Error::Misuse`] if not writable, `new_length > length`, below the manifest's
    /// prologue, or the fork overflows; [`Error::MissingNode`] if a root of the new length
    /// was dropped by a clear; [`Error::Storage`] if the write fails (nothing changed).
    pub fn truncate(&mut self, new_length: u64, fork: Option<u64>) -> Result<(), Error> {
        if !self.writable() {
            return Err(Error::Misuse("log is not writable"));
        }
        if new_length > self.state.length {
            return Err(Error::Misuse("truncate beyond the length"));
        }
        let prologue = self.state.manifest.as_ref().and_then(|m| m.prologue);
        if !self.compat && prologue.is_some_and(|p| new_length < p.length) {
            return Err(Error::Misuse("truncate below the prologue"));
        }
        let fork = match fork {
            Some(f) => f,
            None => self
                .state
                .fork
                .checked_add(1)
                .ok_or(Error::Misuse("fork overflow"))?,
        };
        let mut roots = Vec::new();
        for i in full_roots(new_length) {
            roots.push(self.storage.node(i)?.ok_or(Error::MissingNode(i))?);
        }
        let mut state = self.state();
        let old = self.state.length;
        state.tree_bytes = roots
            .iter()
            .try_fold(0u64, |acc, r| acc.checked_add(r.size))
            .ok_or(StorageError::corrupt(Record::Header, "root sizes overflow"))?;
        state.signature = Some(self.sign(&roots, new_length, fork)?);
        state.roots = roots;
        state.length = new_length;
        state.fork = fork;
        state.contiguous_length = state.contiguous_length.min(new_length);

        let head = 2 * new_length;
        let mut batch = WriteBatch::new();
        batch.delete_nodes(head..u64::MAX);
        // Nodes left of the head that span past it: ancestors of leaf `head` in the old tree.
        let mut cur = head;
        while right_span(cur) < 2 * old {
            if cur < head {
                batch.delete_nodes(cur..cur + 1);
            }
            cur = parent(cur);
        }
        batch.delete_blocks(new_length..u64::MAX);
        let mut undo = self.undo();
        stage_bits(&mut self.bitfield, new_length, u64::MAX, false, &mut undo);
        self.commit(batch, state, undo)?;
        self.truncations.push(new_length);
        self.events.push(Event::Truncate {
            length: new_length,
            fork,
        });
        Ok(())
    }

    /// Deletes the local blocks `start..end` (clamped to the length), clears their bits and
    /// drops the tree nodes no longer needed: walking up from a cleared leaf, a node and
    /// its sibling go while neither subtree holds a block; roots stay. The signed state does
    /// not change; the contiguous length drops to `start` if it was above.
    ///
    /// # Errors
    /// [`Error::Storage`] if reading a leaf or the write fails (then nothing changed).
    pub fn clear(&mut self, start: u64, end: u64) -> Result<ClearOutcome, Error> {
        let end = end.min(self.state.length);
        if start >= end {
            return Ok(ClearOutcome { bytes_reclaimed: 0 });
        }
        let mut present = Vec::new();
        let mut pos = start;
        while let Some(i) = self.bitfield.first_set(pos).filter(|&i| i < end) {
            present.push(i);
            pos = i + 1;
        }
        let mut bytes_reclaimed = 0u64;
        for &i in &present {
            let size = self.storage.node(2 * i)?.map_or(0, |n: Node| n.size);
            bytes_reclaimed = bytes_reclaimed.saturating_add(size);
        }
        let mut state = self.state();
        let mut batch = WriteBatch::new();
        batch.delete_blocks(start..end);
        let mut undo = self.undo();
        stage_bits(&mut self.bitfield, start, end, false, &mut undo);
        let mut dropped = BTreeSet::new();
        for &i in &present {
            let mut node = 2 * i;
            loop {
                let up = parent(node);
                if dropped.contains(&node) || !exists_at(up, self.state.length) {
                    break;
                }
                let sib = sibling(node);
                let first = left_span(sib) / 2;
                if self.bitfield.count(first, first + count_leaves(sib)) > 0
                    || self
                        .bitfield
                        .count(left_span(node) / 2, right_span(node) / 2 + 1)
                        > 0
                {
                    break;
                }
                dropped.insert(node);
                dropped.insert(sib);
                node = up;
            }
        }
        for n in dropped {
            batch.delete_nodes(n..n + 1);
        }
        if state.contiguous_length > start {
            state.contiguous_length = start;
        }
        self.commit(batch, state, undo)?;
        self.events.push(Event::Clear { start, end });
        Ok(ClearOutcome { bytes_reclaimed })
    }

    /// Deletes everything of the core (nodes, blocks, bitfield pages) and leaves an empty
    /// header record, which [`open`](Self::open) treats as "no core". Returns the storage.
    ///
    /// # Errors
    /// [`Error::Storage`] if the write fails.
    pub fn purge(mut self) -> Result<S, Error> {
        let mut batch = WriteBatch::new();
        wipe(&self.storage, &mut batch)?;
        batch.put_header(bytes::Bytes::new());
        self.storage.write(batch)?;
        Ok(self.storage)
    }
}
