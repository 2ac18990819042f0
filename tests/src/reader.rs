//! A minimal proof receiver for tests: trusted state plus verified nodes, applying
//! verified batches the way the reference core does.

use std::collections::BTreeMap;
use std::convert::Infallible;

use ferrocore::proof::{missing_nodes, verify, TrustedState, Verdict, VerifiedBatch, VerifyError};
use ferrocore::{Manifest, Node, Proof};

/// A receiver at signed length `length`, holding its roots and the nodes it verified.
#[derive(Debug, Clone)]
pub struct ProofReader {
    /// The core key.
    pub key: [u8; 32],
    /// The manifest, once known.
    pub manifest: Option<Manifest>,
    /// The receiver's fork.
    pub fork: u64,
    /// The receiver's signed length.
    pub length: u64,
    /// The roots of `length`, ascending.
    pub roots: Vec<Node>,
    /// Every trusted node by index.
    pub nodes: BTreeMap<u64, Node>,
}

impl ProofReader {
    /// An empty receiver for `key`.
    pub fn new(key: [u8; 32], manifest: Option<Manifest>, fork: u64) -> Self {
        Self {
            key,
            manifest,
            fork,
            length: 0,
            roots: Vec::new(),
            nodes: BTreeMap::new(),
        }
    }

    /// The state `verify` checks proofs against.
    pub fn trusted(&self) -> TrustedState<'_> {
        TrustedState {
            key: &self.key,
            manifest: self.manifest.as_ref(),
            fork: self.fork,
            length: self.length,
            roots: &self.roots,
        }
    }

    /// Verifies `proof` against this receiver, mutating nothing.
    pub fn verify(&self, proof: &Proof) -> Result<Verdict, VerifyError<Infallible>> {
        verify(&self.trusted(), &self.nodes, proof)
    }

    /// What the replicator puts in `nodes` when requesting tree node `index`.
    pub fn missing(&self, index: u64) -> u64 {
        match missing_nodes(index, self.length, &self.nodes) {
            Ok(n) => n,
            Err(never) => match never {},
        }
    }

    /// Stores a verified batch's nodes and adopts its upgrade and manifest; asserts the
    /// batch's derived fields are consistent.
    pub fn apply(&mut self, batch: &VerifiedBatch) {
        self.nodes.extend(batch.nodes.iter().map(|n| (n.index, *n)));
        if let Some(u) = &batch.upgrade {
            assert_eq!(u.tree_hash, ferrocore::hash::tree_hash(&u.roots));
            assert_eq!(u.byte_length, u.roots.iter().map(|r| r.size).sum::<u64>());
            self.length = u.length;
            self.fork = u.fork;
            self.roots = u.roots.clone();
        }
        if let Some(m) = &batch.manifest {
            self.manifest = Some(m.clone());
        }
    }
}
