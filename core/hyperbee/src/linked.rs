//! What the tree of a version still links to (for `clearUnlinked`): the blocks of every
//! node reachable from the root and the blocks holding their keys. Every other block of
//! the core is history only: no read at that version (or later, until a truncation)
//! touches it.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::fetch::{machine, Ctx, Fed, Halt};
use crate::BeeError;

/// Nodes one poll visits at most (the rest wait for the next poll).
pub const LINKED_STEP: usize = 1024;

/// The blocks the tree of one version links to. Poll for `Done(Some(seqs))` (the seqs
/// found by one step, possibly repeated across steps) until `Done(None)`.
///
/// Each node is visited once (a hostile tree's cycles end there), so the walk costs one
/// visit per distinct node and memory for the distinct nodes and linked seqs.
#[derive(Debug, Clone)]
pub struct Linked {
    version: u64,
    started: bool,
    stack: Vec<(u64, u64)>,
    seen: BTreeSet<(u64, u64)>,
    fed: Fed,
}

impl Linked {
    /// The walk of the tree at `version`.
    #[must_use]
    pub fn new(version: u64) -> Self {
        Linked {
            version: version.max(1),
            started: false,
            stack: Vec::new(),
            seen: BTreeSet::new(),
            fed: Fed::default(),
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Vec<u64>>, Halt> {
        if !self.started {
            if let Some(root) = ctx.root()? {
                self.stack.push((root.block.seq, 0));
                self.seen.insert((root.block.seq, 0));
            }
            self.started = true;
        }
        if self.stack.is_empty() {
            return Ok(None);
        }
        let mut out = Vec::new();
        for _ in 0..LINKED_STEP {
            let Some(&(seq, offset)) = self.stack.last() else {
                break;
            };
            // A halt here leaves the node on the stack: the step resumes with it.
            let node = ctx.node(0, seq, offset)?;
            self.stack.pop();
            out.push(seq);
            out.extend_from_slice(node.keys());
            for &child in node.children() {
                if child.0 > seq {
                    return Err(BeeError::SeqOutOfRange {
                        from: seq,
                        seq: child.0,
                        version: self.version,
                    }
                    .into());
                }
                if self.seen.insert(child) {
                    self.stack.push(child);
                }
            }
        }
        Ok(Some(out))
    }
}

machine!(Linked, Option<Vec<u64>>);

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeSet;
    use alloc::format;
    use bytes::Bytes;

    use super::*;
    use crate::testing::MemBee;
    use crate::{BeeConfig, HistoryOptions, RangeOptions};

    #[test]
    fn linked_blocks_are_exactly_those_reads_touch() {
        let mut bee = MemBee::new();
        for i in 0..200u32 {
            let k = format!("k{:03}", (i * 37) % 120);
            if i % 5 == 4 {
                bee.del(k.as_bytes());
            } else {
                bee.put(k.as_bytes(), Some(format!("v{i}").as_bytes()));
            }
        }
        let version = bee.bee.version();
        let linked: BTreeSet<u64> = bee
            .collect(&mut Linked::new(version))
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        // Every live key's block is linked, the root too; every block is below the version.
        let entries = bee.range(RangeOptions::default(), None).unwrap();
        assert!(!entries.is_empty());
        for e in &entries {
            assert!(linked.contains(&e.seq), "live entry {} unlinked", e.seq);
        }
        assert!(linked.contains(&(version - 1)));
        assert!(linked.iter().all(|&s| s >= 1 && s < version));
        // Rewrites and deletions left history behind that the tree no longer needs.
        let history = bee.history(HistoryOptions::default(), None).unwrap();
        assert!(linked.len() < history.len());
        // With every unlinked block replaced by garbage, every read answers the same.
        let blocks = bee
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if i == 0 || linked.contains(&(i as u64)) {
                    b.clone()
                } else {
                    Bytes::from_static(&[0xff; 3])
                }
            })
            .collect();
        let mut pruned = MemBee::from_blocks(blocks, BeeConfig::default());
        assert_eq!(
            pruned.range(RangeOptions::default(), None).unwrap(),
            entries
        );
        for i in 0..120u32 {
            let k = format!("k{i:03}");
            assert_eq!(
                pruned.get(k.as_bytes()).unwrap(),
                bee.get(k.as_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn an_empty_bee_links_nothing() {
        let mut bee = MemBee::new();
        assert!(bee.collect(&mut Linked::new(1)).unwrap().is_empty());
    }
}
