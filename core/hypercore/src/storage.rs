//! The storage contract of a log: a synchronous key-value view of one core with atomic
//! write batches, and an in-memory implementation.
//!
//! A core stores four kinds of records:
//!
//! | record          | key            | value                                     |
//! |-----------------|----------------|-------------------------------------------|
//! | header          | —              | opaque bytes, encoded by the log          |
//! | tree node       | flat-tree index| [`Node`] (size and hash)                  |
//! | block           | block index    | the block bytes as hashed (with padding)  |
//! | bitfield page   | page number    | 4096 bytes (1024 little-endian u32 words) |
//!
//! Every [`WriteBatch`] is applied **atomically**: after a crash, either all of its
//! operations are visible or none. Durability (whether a batch survives power loss once
//! [`Storage::write`] returns) is a property of the backend and its configuration.
//!
//! Backends must detect corruption they can see (a checksum mismatch, a truncated record)
//! and report it as an error naming the record, never return silently wrong data.
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore::storage::{MemoryStorage, Storage, WriteBatch};
//!
//! let mut s = MemoryStorage::new();
//! let mut batch = WriteBatch::new();
//! batch.put_block(0, Bytes::from_static(b"hello"));
//! batch.put_header(Bytes::from_static(b"h1"));
//! s.write(batch).unwrap();
//! assert_eq!(s.block(0).unwrap().as_deref(), Some(&b"hello"[..]));
//! assert_eq!(s.header().unwrap().as_deref(), Some(&b"h1"[..]));
//! ```

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use bytes::Bytes;

use crate::proof::NodeSource;
use crate::Node;

/// Bytes in one bitfield page (32768 bits).
pub const BITFIELD_PAGE_BYTES: usize = 4096;

/// One operation of a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Replace the header.
    PutHeader(Bytes),
    /// Store a tree node (replacing any node at its index).
    PutNode(Node),
    /// Delete the tree nodes with index in the range.
    DeleteNodes(Range<u64>),
    /// Store a block.
    PutBlock(u64, Bytes),
    /// Delete the blocks with index in the range.
    DeleteBlocks(Range<u64>),
    /// Store a bitfield page (exactly [`BITFIELD_PAGE_BYTES`] bytes).
    PutBitfieldPage(u64, Bytes),
    /// Delete a bitfield page (it is all zero).
    DeleteBitfieldPage(u64),
}

/// Operations applied together, atomically, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The operations, in order.
    #[must_use]
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// True if the batch has no operation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Adds any operation.
    pub fn push(&mut self, op: Op) -> &mut Self {
        self.ops.push(op);
        self
    }

    /// Replaces the header.
    pub fn put_header(&mut self, header: Bytes) -> &mut Self {
        self.push(Op::PutHeader(header))
    }

    /// Stores a tree node.
    pub fn put_node(&mut self, node: Node) -> &mut Self {
        self.push(Op::PutNode(node))
    }

    /// Deletes the tree nodes with index in `range`.
    pub fn delete_nodes(&mut self, range: Range<u64>) -> &mut Self {
        self.push(Op::DeleteNodes(range))
    }

    /// Stores a block.
    pub fn put_block(&mut self, index: u64, value: Bytes) -> &mut Self {
        self.push(Op::PutBlock(index, value))
    }

    /// Deletes the blocks with index in `range`.
    pub fn delete_blocks(&mut self, range: Range<u64>) -> &mut Self {
        self.push(Op::DeleteBlocks(range))
    }

    /// Stores a bitfield page.
    pub fn put_bitfield_page(&mut self, page: u64, bytes: Bytes) -> &mut Self {
        self.push(Op::PutBitfieldPage(page, bytes))
    }

    /// Deletes a bitfield page.
    pub fn delete_bitfield_page(&mut self, page: u64) -> &mut Self {
        self.push(Op::DeleteBitfieldPage(page))
    }
}

/// What a backend holds for one core, for `info`-style estimates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageEstimate {
    /// Number of stored blocks.
    pub blocks: u64,
    /// Bytes of stored block values.
    pub block_bytes: u64,
    /// Number of stored tree nodes.
    pub nodes: u64,
    /// Number of stored bitfield pages.
    pub bitfield_pages: u64,
}

/// Which record a storage error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Record {
    /// The core's header.
    Header,
    /// The tree node at this flat-tree index.
    Node(u64),
    /// The block at this index.
    Block(u64),
    /// The bitfield page with this number.
    BitfieldPage(u64),
    /// The database as a whole (opening, committing).
    Database,
}

/// What went wrong in storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The backend failed to read or write (disk, permissions, space).
    Io,
    /// Stored bytes fail their integrity check or do not decode.
    Corrupt,
}

/// A storage failure, naming the record it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage {kind:?} error at {record:?}: {message}")]
pub struct StorageError {
    /// I/O failure or detected corruption.
    pub kind: StorageErrorKind,
    /// The record concerned.
    pub record: Record,
    /// The backend's description.
    pub message: String,
}

impl StorageError {
    /// An I/O failure concerning `record`.
    pub fn io(record: Record, message: impl Into<String>) -> Self {
        Self {
            kind: StorageErrorKind::Io,
            record,
            message: message.into(),
        }
    }

    /// Detected corruption of `record`.
    pub fn corrupt(record: Record, message: impl Into<String>) -> Self {
        Self {
            kind: StorageErrorKind::Corrupt,
            record,
            message: message.into(),
        }
    }
}

/// Synchronous storage of one core. Reads see every batch written before them.
pub trait Storage {
    /// The header, if the core was ever written.
    fn header(&self) -> Result<Option<Bytes>, StorageError>;

    /// The tree node at a flat-tree index.
    fn node(&self, index: u64) -> Result<Option<Node>, StorageError>;

    /// The block at an index.
    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError>;

    /// Every stored bitfield page, ascending by page number (read once on open).
    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError>;

    /// Applies a batch atomically: after a crash, all of it or none of it is visible.
    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError>;

    /// What is stored, for estimates.
    fn estimate(&self) -> Result<StorageEstimate, StorageError>;

    /// True if any record is stored. The log asks when the header is absent: a core with
    /// records but no header is damaged, not new. The default asks
    /// [`estimate`](Self::estimate) and [`bitfield_pages`](Self::bitfield_pages); backends
    /// whose counters can be damaged should probe their records instead.
    fn has_records(&self) -> Result<bool, StorageError> {
        Ok(self.header()?.is_some()
            || self.estimate()? != StorageEstimate::default()
            || !self.bitfield_pages()?.is_empty())
    }
}

/// Storage in memory: fast, for tests and ephemeral cores. Never fails.
#[derive(Debug, Clone, Default)]
pub struct MemoryStorage {
    header: Option<Bytes>,
    nodes: BTreeMap<u64, Node>,
    blocks: BTreeMap<u64, Bytes>,
    pages: BTreeMap<u64, Bytes>,
    block_bytes: u64,
}

impl MemoryStorage {
    /// Empty storage.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn remove_blocks(&mut self, range: Range<u64>) {
        if range.start >= range.end {
            return;
        }
        let removed: Vec<u64> = self.blocks.range(range).map(|(k, _)| *k).collect();
        for k in removed {
            if let Some(v) = self.blocks.remove(&k) {
                self.block_bytes -= v.len() as u64;
            }
        }
    }
}

impl Storage for MemoryStorage {
    fn header(&self) -> Result<Option<Bytes>, StorageError> {
        Ok(self.header.clone())
    }

    fn node(&self, index: u64) -> Result<Option<Node>, StorageError> {
        Ok(self.nodes.get(&index).copied())
    }

    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        Ok(self.blocks.get(&index).cloned())
    }

    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        Ok(self.pages.iter().map(|(k, v)| (*k, v.clone())).collect())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        for op in batch.ops {
            match op {
                Op::PutHeader(h) => self.header = Some(h),
                Op::PutNode(n) => {
                    self.nodes.insert(n.index, n);
                }
                Op::DeleteNodes(r) => {
                    if r.start < r.end {
                        let keys: Vec<u64> = self.nodes.range(r).map(|(k, _)| *k).collect();
                        for k in keys {
                            self.nodes.remove(&k);
                        }
                    }
                }
                Op::PutBlock(i, v) => {
                    self.block_bytes += v.len() as u64;
                    if let Some(old) = self.blocks.insert(i, v) {
                        self.block_bytes -= old.len() as u64;
                    }
                }
                Op::DeleteBlocks(r) => self.remove_blocks(r),
                Op::PutBitfieldPage(p, b) => {
                    self.pages.insert(p, b);
                }
                Op::DeleteBitfieldPage(p) => {
                    self.pages.remove(&p);
                }
            }
        }
        Ok(())
    }

    fn estimate(&self) -> Result<StorageEstimate, StorageError> {
        Ok(StorageEstimate {
            blocks: self.blocks.len() as u64,
            block_bytes: self.block_bytes,
            nodes: self.nodes.len() as u64,
            bitfield_pages: self.pages.len() as u64,
        })
    }
}

/// Any storage is a source of trusted nodes for proofs.
#[derive(Debug)]
pub struct StorageNodes<'a, S: ?Sized>(pub &'a S);

impl<S: Storage + ?Sized> NodeSource for StorageNodes<'_, S> {
    type Error = StorageError;

    fn node(&self, index: u64) -> Result<Option<Node>, StorageError> {
        self.0.node(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(i: u64) -> Node {
        Node::new(i, i + 1, [i as u8; 32])
    }

    #[test]
    fn batches_apply_in_order_and_estimate_tracks_them() {
        let mut s = MemoryStorage::new();
        let mut b = WriteBatch::new();
        for i in 0..10 {
            b.put_node(node(i))
                .put_block(i, Bytes::from(alloc::vec![0u8; i as usize]));
        }
        b.put_bitfield_page(0, Bytes::from(alloc::vec![0xff; BITFIELD_PAGE_BYTES]));
        s.write(b).unwrap();
        assert_eq!(
            s.estimate().unwrap(),
            StorageEstimate {
                blocks: 10,
                block_bytes: 45,
                nodes: 10,
                bitfield_pages: 1
            }
        );

        let mut b = WriteBatch::new();
        b.delete_blocks(3..7)
            .delete_nodes(5..100)
            .put_block(0, Bytes::from_static(b"abc"));
        b.delete_bitfield_page(0);
        s.write(b).unwrap();
        assert_eq!(s.block(4).unwrap(), None);
        assert_eq!(s.block(0).unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(s.node(4).unwrap(), Some(node(4)));
        assert_eq!(s.node(5).unwrap(), None);
        // blocks 0(3 bytes),1,2,7,8,9 remain: 3 + 1 + 2 + 7 + 8 + 9
        assert_eq!(
            s.estimate().unwrap(),
            StorageEstimate {
                blocks: 6,
                block_bytes: 30,
                nodes: 5,
                bitfield_pages: 0
            }
        );
        assert!(s.bitfield_pages().unwrap().is_empty());
    }

    #[test]
    fn empty_and_inverted_ranges_delete_nothing() {
        let mut s = MemoryStorage::new();
        let mut b = WriteBatch::new();
        b.put_block(5, Bytes::from_static(b"x")).put_node(node(5));
        s.write(b).unwrap();
        let mut b = WriteBatch::new();
        #[allow(clippy::reversed_empty_ranges)]
        b.delete_blocks(9..2).delete_nodes(6..6);
        s.write(b).unwrap();
        assert!(s.block(5).unwrap().is_some() && s.node(5).unwrap().is_some());
    }
}
