//! Requester side: how many uncle levels to ask for.

use alloc::collections::BTreeMap;

use super::source::NodeSource;
use super::tree::{checked_parent, MAX_DEPTH, MAX_NUMBER};
use crate::flat_tree::{contains, depth, right_span};

/// The `nodes` value of a block/hash request for node `index` (spec §7.1): the number of
/// tree levels, going up from `index`, whose node the requester neither stores in
/// `source` nor can derive from its signed `length` (a node covering `2 · length` is part
/// of no complete subtree the requester could hold). 0 when `index` is not inside the
/// requester's tree — the upgrade then carries the path.
///
/// ```
/// use std::collections::BTreeMap;
/// use ferrocore::{hash, proof::missing_nodes};
///
/// // A requester at length 37 holding only its roots 31, 67, 72 needs 5 levels for
/// // block 5 (leaf 10): 10, 9, 11, 7, 15 are missing, 31 is stored.
/// let mut stored = BTreeMap::new();
/// for i in [31, 67, 72] {
///     stored.insert(i, ferrocore::Node::new(i, 0, [0; 32]));
/// }
/// assert_eq!(missing_nodes(10, 37, &stored), Ok(5));
/// assert_eq!(missing_nodes(10, 0, &stored), Ok(0));
/// ```
///
/// # Errors
/// When the node source fails.
pub fn missing_nodes<S: NodeSource + ?Sized>(
    index: u64,
    length: u64,
    source: &S,
) -> Result<u64, S::Error> {
    MissingNodes::default().count(index, length, source)
}

/// [`missing_nodes`] for many indexes of one tree that does not change in between (the
/// requests of one scheduling pass): remembers what it counted for every node it walked,
/// so the walk for a nearby index stops where it meets an earlier one. Consecutive blocks
/// share all but about two levels of their paths, so a run of requests looks up about two
/// nodes each instead of the whole path.
///
/// Only valid while `source` and `length` stay the same: make a new one after any change.
///
/// ```
/// use std::collections::BTreeMap;
/// use ferrocore::{proof::{missing_nodes, MissingNodes}, Node};
///
/// let mut stored = BTreeMap::new();
/// for i in [31, 67, 72] {
///     stored.insert(i, Node::new(i, 0, [0; 32]));
/// }
/// let mut memo = MissingNodes::default();
/// for leaf in (0..37).map(|b| 2 * b) {
///     assert_eq!(memo.count(leaf, 37, &stored), missing_nodes(leaf, 37, &stored));
/// }
/// ```
#[derive(Debug, Default, Clone)]
pub struct MissingNodes {
    /// Node index → missing levels from that node up (itself included).
    counted: BTreeMap<u64, u64>,
    /// The length the counts were made for (a different one starts over).
    length: u64,
}

impl MissingNodes {
    /// [`missing_nodes`]`(index, length, source)`, using and extending what earlier calls
    /// counted.
    ///
    /// # Errors
    /// When the node source fails.
    pub fn count<S: NodeSource + ?Sized>(
        &mut self,
        index: u64,
        length: u64,
        source: &S,
    ) -> Result<u64, S::Error> {
        if length > MAX_NUMBER || depth(index) >= MAX_DEPTH || index > 2 * MAX_NUMBER {
            return Ok(0);
        }
        if length != self.length {
            self.counted.clear();
            self.length = length;
        }
        let head = 2 * length;
        if right_span(index) >= head {
            return Ok(0);
        }
        // One node per level, from `depth(index)` up to `MAX_DEPTH` at most.
        let mut walked = [0u64; MAX_DEPTH as usize + 1];
        let mut levels = 0;
        let mut cur = index;
        let mut above = 0;
        loop {
            if contains(cur, head) {
                break;
            }
            if let Some(&known) = self.counted.get(&cur) {
                above = known;
                break;
            }
            if source.has(cur)? {
                self.counted.insert(cur, 0);
                break;
            }
            walked[levels] = cur;
            levels += 1;
            match checked_parent(cur) {
                Some(p) => cur = p,
                None => break,
            }
        }
        let total = levels as u64 + above;
        for (i, &node) in walked[..levels].iter().enumerate() {
            self.counted.insert(node, total - i as u64);
        }
        Ok(total)
    }
}
