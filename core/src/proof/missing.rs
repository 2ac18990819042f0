//! Requester side: how many uncle levels to ask for.

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
    if length > MAX_NUMBER || depth(index) >= MAX_DEPTH || index > 2 * MAX_NUMBER {
        return Ok(0);
    }
    let head = 2 * length;
    if right_span(index) >= head {
        return Ok(0);
    }
    let mut cur = index;
    let mut count = 0;
    while !contains(cur, head) && !source.has(cur)? {
        count += 1;
        match checked_parent(cur) {
            Some(p) => cur = p,
            None => break,
        }
    }
    Ok(count)
}
