//! Sender side: find the node that holds a byte offset (the `seek` request).
//!
//! Sizes are compared "unpadded": `padding` bytes per block are subtracted from every
//! node size (8 for encrypted cores). The arithmetic is done in saturating `i128`, so a
//! hostile `padding` can make sizes negative (as in the reference) but never overflow.

use ferrocore_wire::RequestSeek;

use super::error::{GenerateError, InvalidRequest};
use super::generate::{Builder, Result};
use super::source::NodeSource;
use crate::flat_tree::{
    children, count_leaves, full_roots, left_child, left_span, parent, right_span, sibling,
};

/// `size − padding · leaves(index)`.
fn unpadded(size: u64, padding: u64, index: u64) -> i128 {
    i128::from(size)
        .saturating_sub(i128::from(padding).saturating_mul(i128::from(count_leaves(index))))
}

impl<S: NodeSource + ?Sized> Builder<'_, S> {
    /// The node holding `seek.bytes` among the roots of the tree of `to / 2` blocks, or
    /// `None` if the offset is beyond it.
    pub(super) fn seek_from_head(&self, to: u64, seek: RequestSeek) -> Result<Option<u64>, S> {
        let mut bytes = i128::from(seek.bytes);
        for root in full_roots(to / 2) {
            let size = unpadded(self.fetch(root)?.size, seek.padding, root);
            if bytes == size {
                return Ok(Some(root));
            }
            if bytes > size {
                bytes = bytes.saturating_sub(size);
                continue;
            }
            return self.seek_trusted(root, bytes, seek.padding).map(Some);
        }
        Ok(None)
    }

    /// The node holding `seek.bytes` inside `root` (a subtree of the sender's tree of
    /// `length` blocks), which must contain the offset.
    pub(super) fn seek_untrusted(
        &self,
        length: u64,
        root: u64,
        seek: RequestSeek,
    ) -> Result<u64, S> {
        let before = i128::from(seek.padding).saturating_mul(i128::from(left_span(root) / 2));
        let offset = i128::from(self.byte_offset(length, root)?).saturating_sub(before);
        let bytes = i128::from(seek.bytes);
        if offset > bytes {
            return Err(InvalidRequest::InvalidSeek.into());
        }
        if offset == bytes {
            return Ok(root);
        }
        let rest = bytes.saturating_sub(offset);
        if unpadded(self.fetch(root)?.size, seek.padding, root) <= rest {
            return Err(InvalidRequest::InvalidSeek.into());
        }
        self.seek_trusted(root, rest, seek.padding)
    }

    /// Descends from `root` to the node holding `bytes` (relative to `root`): a node whose
    /// span ends exactly there, a leaf, or the lowest stored ancestor.
    fn seek_trusted(&self, root: u64, mut bytes: i128, padding: u64) -> Result<u64, S> {
        if bytes == 0 {
            return Ok(root);
        }
        let mut cur = root;
        while let Some(left) = left_child(cur) {
            let Some(node) = self.source.node(left).map_err(GenerateError::Source)? else {
                return Ok(parent(left));
            };
            let size = unpadded(node.size, padding, left);
            if size == bytes {
                return Ok(left);
            }
            if size > bytes {
                cur = left;
                continue;
            }
            bytes = bytes.saturating_sub(size);
            cur = sibling(left);
        }
        Ok(cur)
    }

    /// Byte offset of node `index` in the sender's tree of `length` blocks (total size of
    /// the blocks before it).
    fn byte_offset(&self, length: u64, index: u64) -> Result<u64, S> {
        let index = if index & 1 == 1 {
            left_span(index)
        } else {
            index
        };
        let mut offset = 0u64;
        for root in full_roots(length) {
            if index > right_span(root) {
                offset = offset.saturating_add(self.fetch(root)?.size);
                continue;
            }
            let mut cur = root;
            while cur != index {
                let (left, right) = children(cur).ok_or(InvalidRequest::Unreachable)?;
                if index < cur {
                    cur = left;
                } else {
                    offset = offset.saturating_add(self.fetch(left)?.size);
                    cur = right;
                }
            }
            return Ok(offset);
        }
        Err(InvalidRequest::Unreachable.into())
    }
}
