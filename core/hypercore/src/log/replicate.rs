//! Serving peers (proof generation) and applying their proofs (verification + one batch).

use ferrocore_wire::Request;

use super::{stage_bits, Event, Log};
use crate::proof::{self, GenerateError, SenderState, TrustedState, Verdict, VerifyError};
use crate::storage::{Record, Storage, StorageError, StorageNodes, WriteBatch};
use crate::{Error, Proof};

/// What [`Log::apply_proof`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The proof is for another fork: nothing changed (reorgs are not handled here).
    Ignored {
        /// The proof's fork.
        fork: u64,
    },
    /// The proof verified and was stored.
    Stored {
        /// The block stored, if the proof carried one.
        block: Option<u64>,
        /// The new length, if the proof grew the signed tree.
        upgrade: Option<u64>,
    },
}

impl<S: Storage> Log<S> {
    /// The proof answering a peer's `request`, from this log's signed state and stored
    /// nodes (the block value is sent as stored: encrypted, with padding).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a request that cannot be answered (reply `noData`),
    /// [`Error::MissingNode`] / [`Error::MissingBlock`] when the data is not stored
    /// locally, [`Error::Storage`] on read failure.
    pub fn proof(&self, request: &Request) -> Result<Proof, Error> {
        let value = match request.block {
            Some(b) => self.stored_block(b.index)?,
            None => None,
        };
        let state = SenderState {
            key: &self.key,
            manifest: self.state.manifest.as_ref(),
            fork: self.state.fork,
            length: self.state.length,
            signature: self.state.signature.clone(),
        };
        proof::generate(&state, &StorageNodes(&self.storage), request, value).map_err(|e| match e {
            GenerateError::Request(r) => Error::InvalidRequest(r),
            GenerateError::MissingNode(i) => Error::MissingNode(i),
            GenerateError::MissingBlock(i) => Error::MissingBlock(i),
            GenerateError::Source(s) => Error::Storage(s),
        })
    }

    /// How many uncle levels to request with a block/hash request for flat-tree node
    /// `index` ([`proof::missing_nodes`] over this log's stored nodes and length).
    ///
    /// # Errors
    /// [`Error::Storage`] on read failure.
    pub fn missing_nodes(&self, index: u64) -> Result<u64, Error> {
        Ok(proof::missing_nodes(
            index,
            self.state.length,
            &StorageNodes(&self.storage),
        )?)
    }

    /// [`missing_nodes`](Self::missing_nodes) for one of many requests made while the log
    /// does not change: `memo` remembers the paths walked so far (see
    /// [`proof::MissingNodes`]); use a new one after anything is stored or truncated.
    ///
    /// # Errors
    /// [`Error::Storage`] on read failure.
    pub fn missing_nodes_with(
        &self,
        index: u64,
        memo: &mut proof::MissingNodes,
    ) -> Result<u64, Error> {
        Ok(memo.count(index, self.state.length, &StorageNodes(&self.storage))?)
    }

    /// Verifies a peer's proof against the log's trusted state and stores what it proves
    /// in one batch: nodes, the block and its bitfield page, the grown signed state and a
    /// learned manifest. A proof for another fork is [`Applied::Ignored`].
    ///
    /// # Errors
    /// [`Error::Protocol`] for an invalid proof, [`Error::Storage`] on read/write failure;
    /// either way nothing changed.
    pub fn apply_proof(&mut self, proof: &Proof) -> Result<Applied, Error> {
        self.apply_proof_hashed(proof, None)
    }

    /// [`apply_proof`](Self::apply_proof), given the leaf hash of the proof's block if it
    /// was computed already (see [`proof::verify_hashed`]; it must be the block's).
    pub(crate) fn apply_proof_hashed(
        &mut self,
        proof: &Proof,
        leaf: Option<crate::hash::Hash>,
    ) -> Result<Applied, Error> {
        // An empty log has no history to reorg: it takes the fork of its first upgrade.
        let fork = if self.state.length == 0 && proof.upgrade.is_some() {
            proof.fork
        } else {
            self.state.fork
        };
        let trusted = TrustedState {
            key: &self.key,
            manifest: self.state.manifest.as_ref(),
            fork,
            length: self.state.length,
            roots: &self.state.roots,
        };
        let nodes = StorageNodes(&self.storage);
        let batch = match proof::verify_hashed(&trusted, &nodes, proof, leaf, &self.signers) {
            Ok(Verdict::Ignored { fork }) => return Ok(Applied::Ignored { fork }),
            Ok(Verdict::Accepted(b)) => b,
            Err(VerifyError::Proof(e)) => return Err(Error::Protocol(e)),
            Err(VerifyError::Source(e)) => return Err(Error::Storage(e)),
            Err(VerifyError::InvalidState) => {
                return Err(
                    StorageError::corrupt(Record::Header, "roots do not match length").into(),
                )
            }
        };
        let mut writes = WriteBatch::new();
        for n in &batch.nodes {
            writes.put_node(*n);
        }
        let upgrade = batch.upgrade.as_ref().map(|u| (u.length, u.fork));
        let length = upgrade.map_or(self.state.length, |(l, _)| l);
        let mut undo = self.undo();
        let block = match batch.block {
            Some(b) if b.index < length => {
                writes.put_block(b.index, b.value.clone());
                stage_bits(&mut self.bitfield, b.index, b.index + 1, true, &mut undo);
                Some(b.index)
            }
            _ => None,
        };
        if batch.upgrade.is_none() && batch.manifest.is_none() {
            // A block alone (most proofs): only the contiguous length can change.
            let contiguous = self.contiguous_from(self.state.contiguous_length, length);
            self.commit_contiguous(writes, contiguous, undo)?;
        } else {
            let mut state = self.state();
            if let Some(u) = batch.upgrade {
                state.length = u.length;
                state.fork = u.fork;
                state.tree_bytes = u.byte_length;
                state.roots = u.roots;
                state.signature = u.signature;
            }
            if let Some(m) = batch.manifest {
                state.manifest = Some(m);
            }
            state.contiguous_length = self.contiguous_from(state.contiguous_length, state.length);
            self.commit(writes, state, undo)?;
        }
        if let Some((length, fork)) = upgrade {
            self.events.push(Event::Upgrade { length, fork });
        }
        if let Some(index) = block {
            self.events.push(Event::Verified { index });
        }
        Ok(Applied::Stored {
            block,
            upgrade: upgrade.map(|(l, _)| l),
        })
    }
}
