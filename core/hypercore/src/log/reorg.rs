//! Adopting a peer's rewritten history (spec §8.3): a signed state on another fork.

use alloc::collections::BTreeMap;

use super::{stage_bits, Event, Log};
use crate::flat_tree::{parent, right_span};
use crate::proof::{self, TrustedState, Verdict, VerifyError};
use crate::storage::{Storage, WriteBatch};
use crate::{Error, Node, Proof};

/// What [`Log::apply_reorg`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reorg {
    /// Blocks kept: the longest prefix whose tree the old and the new history share, as
    /// far as the new roots show it.
    pub ancestors: u64,
    /// The new signed length.
    pub length: u64,
    /// The new fork id.
    pub fork: u64,
}

impl<S: Storage> Log<S> {
    /// Adopts the signed state proven by `proof`, an upgrade from length 0 on a fork other
    /// than ours (a peer's answer to `request {fork, upgrade {start: 0, length}}`).
    ///
    /// The proof is verified from scratch (its signature alone vouches for the new roots),
    /// then the local history is cut at the end of the last new root that equals a stored
    /// node (`ancestors`, a conservative common prefix: blocks past it are dropped even if
    /// they happen to match, and are downloaded again), and the new roots and signature are
    /// stored, all in one batch. Reports [`Event::Truncate`] then [`Event::Upgrade`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for a writable log (a writer never adopts another history) or a
    /// proof that is not an upgrade from 0 on another fork; [`Error::Protocol`] for an
    /// invalid proof; [`Error::Storage`] on read/write failure. Nothing changes on error.
    pub fn apply_reorg(&mut self, proof: &Proof) -> Result<Reorg, Error> {
        if self.writable() {
            return Err(Error::Misuse("a writable log does not adopt another fork"));
        }
        let Some(up) = &proof.upgrade else {
            return Err(Error::Misuse("a reorg proof carries an upgrade"));
        };
        if up.start != 0 || proof.fork == self.state.fork || proof.block.is_some() {
            return Err(Error::Misuse(
                "a reorg proof is an upgrade from 0 on another fork",
            ));
        }
        let trusted = TrustedState {
            key: &self.key,
            manifest: self.state.manifest.as_ref(),
            fork: proof.fork,
            length: 0,
            roots: &[],
        };
        let empty: BTreeMap<u64, Node> = BTreeMap::new();
        let batch = match proof::verify(&trusted, &empty, proof) {
            Ok(Verdict::Accepted(b)) => b,
            Ok(Verdict::Ignored { .. }) => {
                return Err(Error::Misuse("proof on an unexpected fork"))
            }
            Err(VerifyError::Proof(e)) => return Err(Error::Protocol(e)),
            Err(VerifyError::Source(never)) => match never {},
            Err(VerifyError::InvalidState) => return Err(Error::Misuse("invalid trusted state")),
        };
        let Some(upgrade) = batch.upgrade else {
            return Err(Error::Misuse("a reorg proof carries an upgrade"));
        };
        let old = self.state.length;
        let mut ancestors = 0u64;
        for root in &upgrade.roots {
            let end = right_span(root.index) / 2 + 1;
            if end > old {
                break;
            }
            match self.storage.node(root.index)? {
                Some(n) if n == *root => ancestors = end,
                _ => break,
            }
        }

        let mut state = self.state();
        let head = 2 * ancestors;
        let mut writes = WriteBatch::new();
        writes.delete_nodes(head..u64::MAX);
        let mut cur = head;
        while right_span(cur) < 2 * old {
            if cur < head {
                writes.delete_nodes(cur..cur + 1);
            }
            cur = parent(cur);
        }
        writes.delete_blocks(ancestors..u64::MAX);
        let mut undo = self.undo();
        stage_bits(&mut self.bitfield, ancestors, u64::MAX, false, &mut undo);
        for n in &batch.nodes {
            writes.put_node(*n);
        }
        for r in &upgrade.roots {
            writes.put_node(*r);
        }
        if let Some(m) = batch.manifest {
            state.manifest = Some(m);
        }
        state.length = upgrade.length;
        state.fork = upgrade.fork;
        state.tree_bytes = upgrade.byte_length;
        state.roots = upgrade.roots.clone();
        state.signature = upgrade.signature.clone();
        state.contiguous_length = state.contiguous_length.min(ancestors);
        self.commit(writes, state, undo)?;
        self.truncations.push(ancestors);
        self.events.push(Event::Truncate {
            length: ancestors,
            fork: upgrade.fork,
        });
        self.events.push(Event::Upgrade {
            length: upgrade.length,
            fork: upgrade.fork,
        });
        Ok(Reorg {
            ancestors,
            length: upgrade.length,
            fork: upgrade.fork,
        })
    }

    /// The first block index at or after `from` that is not stored locally (may be at or
    /// past the length).
    #[must_use]
    pub fn next_missing(&self, from: u64) -> u64 {
        if from < self.state.contiguous_length {
            return self
                .bitfield
                .first_unset(self.state.contiguous_length)
                .unwrap_or(u64::MAX);
        }
        self.bitfield.first_unset(from).unwrap_or(u64::MAX)
    }

    /// True if block `index` is stored locally.
    #[must_use]
    pub fn has_block(&self, index: u64) -> bool {
        index < self.state.length && self.bitfield.get(index)
    }

    /// The local bitfield (which blocks are stored), e.g. to answer a peer's `want`.
    #[must_use]
    pub fn bitfield(&self) -> &crate::bitfield::Bitfield {
        &self.bitfield
    }
}
