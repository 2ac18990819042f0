//! Where proofs read tree nodes from: the [`NodeSource`] trait and in-memory sources.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::convert::Infallible;

use crate::Node;

/// Read access to stored tree nodes, by flat-tree index.
///
/// The sender reads the nodes it proves from one; the receiver reads the nodes it already
/// trusts (verified earlier) from one. A storage backend implements it over its own
/// medium and reports its failures through [`NodeSource::Error`]; an in-memory source
/// uses [`Infallible`].
///
/// ```
/// use std::collections::BTreeMap;
/// use ferrocore::{hash, proof::NodeSource};
///
/// let mut nodes = BTreeMap::new();
/// nodes.insert(0, hash::leaf(0, b"block 0"));
/// assert_eq!(nodes.node(0).unwrap().map(|n| n.size), Some(7));
/// assert!(!nodes.has(2).unwrap());
/// ```
pub trait NodeSource {
    /// Why a lookup failed (not "absent": that is `Ok(None)`).
    type Error;

    /// The stored node at `index`, or `None` if it is not stored.
    ///
    /// # Errors
    /// When the backend cannot answer.
    fn node(&self, index: u64) -> Result<Option<Node>, Self::Error>;

    /// True if a node is stored at `index`.
    ///
    /// # Errors
    /// When the backend cannot answer.
    fn has(&self, index: u64) -> Result<bool, Self::Error> {
        Ok(self.node(index)?.is_some())
    }
}

impl<T: NodeSource + ?Sized> NodeSource for &T {
    type Error = T::Error;

    fn node(&self, index: u64) -> Result<Option<Node>, Self::Error> {
        (**self).node(index)
    }

    fn has(&self, index: u64) -> Result<bool, Self::Error> {
        (**self).has(index)
    }
}

impl NodeSource for BTreeMap<u64, Node> {
    type Error = Infallible;

    fn node(&self, index: u64) -> Result<Option<Node>, Infallible> {
        Ok(self.get(&index).copied())
    }
}

/// A slice of nodes **sorted by index** (e.g. every node of a tree in index order).
/// Lookups binary-search; an unsorted slice gives unspecified (but never panicking) answers.
impl NodeSource for [Node] {
    type Error = Infallible;

    fn node(&self, index: u64) -> Result<Option<Node>, Infallible> {
        Ok(self
            .binary_search_by_key(&index, |n| n.index)
            .ok()
            .and_then(|i| self.get(i).copied()))
    }
}

/// Same as the slice implementation: the vector must be sorted by index.
impl NodeSource for Vec<Node> {
    type Error = Infallible;

    fn node(&self, index: u64) -> Result<Option<Node>, Infallible> {
        self.as_slice().node(index)
    }
}
