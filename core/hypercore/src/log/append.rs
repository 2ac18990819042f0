//! Appending blocks: encrypt, hash the leaves (SIMD lanes for batches), grow the root set,
//! sign, and write everything in one batch.

use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::encoding::MAX_SAFE_INTEGER;

use super::{stage_bits, Event, Log};
use crate::proof::tree::push_root;
use crate::storage::{Storage, WriteBatch};
use crate::{hash, Error, Node};

/// The result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The new length.
    pub length: u64,
    /// The new user-visible byte length.
    pub byte_length: u64,
}

impl<S: Storage> Log<S> {
    /// Appends one block.
    ///
    /// # Errors
    /// See [`append_batch`](Self::append_batch).
    pub fn append(&mut self, block: &[u8]) -> Result<AppendOutcome, Error> {
        self.append_batch([block])
    }

    /// Appends blocks atomically: one write batch, one signature. An empty batch changes
    /// nothing.
    ///
    /// # Errors
    /// [`Error::Misuse`] if the log is not writable or the length would pass 2^53 − 1;
    /// [`Error::Storage`] if the write fails (then nothing changed).
    pub fn append_batch<I, B>(&mut self, blocks: I) -> Result<AppendOutcome, Error>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        self.append_stored(blocks, |b| Bytes::copy_from_slice(b.as_ref()))
    }

    /// [`append_batch`](Self::append_batch) of blocks the caller already holds as
    /// [`Bytes`]: an unencrypted log stores them as they are, without copying (a block
    /// that is a slice of a larger buffer keeps that buffer alive until it is written).
    ///
    /// # Errors
    /// See [`append_batch`](Self::append_batch).
    pub fn append_bytes<I>(&mut self, blocks: I) -> Result<AppendOutcome, Error>
    where
        I: IntoIterator<Item = Bytes>,
    {
        self.append_stored(blocks, |b| b)
    }

    /// Appends `blocks`, each stored as `keep` makes it when the log is not encrypted.
    fn append_stored<I, B>(
        &mut self,
        blocks: I,
        keep: impl Fn(B) -> Bytes,
    ) -> Result<AppendOutcome, Error>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        if !self.writable() {
            return Err(Error::Misuse("log is not writable"));
        }
        let start = self.state.length;
        let stored: Vec<Bytes> = blocks
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                let index = start.saturating_add(i as u64);
                match &self.encryption {
                    Some(e) => Bytes::from(e.encrypt(index, self.state.fork, b.as_ref())),
                    None => keep(b),
                }
            })
            .collect();
        let end = start
            .checked_add(stored.len() as u64)
            .filter(|&e| e <= MAX_SAFE_INTEGER)
            .ok_or(Error::Misuse("length would exceed 2^53 - 1"))?;
        if stored.is_empty() {
            return Ok(self.outcome());
        }
        let mut state = self.state();
        let mut batch = WriteBatch::new();
        for (i, (value, leaf_hash)) in stored.iter().zip(hash::leaf_hashes(&stored)).enumerate() {
            let index = start + i as u64;
            let leaf = Node::new(2 * index, value.len() as u64, leaf_hash);
            state.tree_bytes = state
                .tree_bytes
                .checked_add(leaf.size)
                .ok_or(Error::Misuse("byte length overflow"))?;
            push_root(&mut state.roots, leaf, |n| {
                batch.put_node(n);
            })
            .ok_or(Error::Misuse("byte length overflow"))?;
            batch.put_block(index, value.clone());
        }
        state.length = end;
        state.signature = Some(self.sign(&state.roots, end, state.fork)?);
        let mut undo = self.undo();
        stage_bits(&mut self.bitfield, start, end, true, &mut undo);
        state.contiguous_length = self.contiguous_from(state.contiguous_length, end);
        self.commit(batch, state, undo)?;
        self.events.push(Event::Append { length: end });
        Ok(self.outcome())
    }

    fn outcome(&self) -> AppendOutcome {
        AppendOutcome {
            length: self.state.length,
            byte_length: self.byte_length(),
        }
    }
}
