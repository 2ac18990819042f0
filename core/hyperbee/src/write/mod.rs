//! Writes: [`Write`] applies puts and deletes as one batch and hands back the blocks to
//! append (JS's `bee.put`, `bee.del` and `bee.batch()…flush()`).

mod del;
mod tree;

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::bee::{Level, Node, YoloIndex};

use crate::block::Block;
use crate::fetch::{Ctx, Fed};
use crate::{Bee, BeeError, Cas, Step};
use tree::Tree;

/// One write of a batch.
pub enum Op {
    /// `put(key, value, {cas})`; a `None` value is JS's `put(key, null)`.
    Put {
        /// The encoded key.
        key: Bytes,
        /// The encoded value.
        value: Option<Bytes>,
        /// Asked with the entry being replaced (only when the key exists); false skips
        /// the put.
        cas: Option<Cas>,
    },
    /// `del(key, {cas})`.
    Del {
        /// The encoded key.
        key: Bytes,
        /// Asked with the entry being deleted; false skips the delete.
        cas: Option<Cas>,
    },
}

impl Op {
    /// A put without `cas`.
    pub fn put(key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        Op::Put {
            key: key.into(),
            value,
            cas: None,
        }
    }

    /// A delete without `cas`.
    pub fn del(key: impl Into<Bytes>) -> Self {
        Op::Del {
            key: key.into(),
            cas: None,
        }
    }
}

impl core::fmt::Debug for Op {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Op::Put { key, value, cas } => f
                .debug_struct("Put")
                .field("key", key)
                .field("value", value)
                .field("cas", &cas.is_some())
                .finish(),
            Op::Del { key, cas } => f
                .debug_struct("Del")
                .field("key", key)
                .field("cas", &cas.is_some())
                .finish(),
        }
    }
}

/// What a [`Write`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOutcome {
    /// Per operation: whether it wrote a block (false: `cas` said no, a delete of an absent
    /// key, or an unchanged value with `always_duplicate` off).
    pub applied: Vec<bool>,
    /// The seq of the first block appended (the header excluded), when any was.
    pub first_seq: Option<u64>,
    /// How many node blocks were appended.
    pub blocks: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ops,
    Flushed,
    Done,
}

/// A batch of writes as a state machine: [`Machine::poll`](crate::Machine::poll) until [`Step::Done`], feeding the
/// blocks it asks for ([`Machine::handle_block`](crate::Machine::handle_block)) and appending, in order, the blocks it
/// hands back ([`Step::Append`]: the header first when the core is empty, then all node
/// blocks of the batch at once).
///
/// Run one write at a time on a bee (JS holds a lock): a write takes the bee's length when
/// it starts and advances it when it hands back its blocks, which the caller must append
/// before the next write starts. Reads may run alongside.
pub struct Write {
    ops: VecDeque<Op>,
    tree: Option<Tree>,
    fed: Fed,
    outcome: WriteOutcome,
    phase: Phase,
    poisoned: bool,
}

impl core::fmt::Debug for Write {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Write")
            .field("ops_left", &self.ops.len())
            .field("outcome", &self.outcome)
            .field("phase", &self.phase)
            .finish()
    }
}

impl Write {
    /// A batch of `ops`, applied in order.
    #[must_use]
    pub fn new(ops: Vec<Op>) -> Self {
        Write {
            ops: ops.into(),
            tree: None,
            fed: Fed::default(),
            outcome: WriteOutcome::default(),
            phase: Phase::Ops,
            poisoned: false,
        }
    }
}

impl crate::Machine for Write {
    type Output = WriteOutcome;

    fn handle_block(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError> {
        self.fed.handle(seq, bytes)
    }

    fn poll(&mut self, bee: &mut Bee) -> Result<Step<WriteOutcome>, BeeError> {
        if self.poisoned {
            return Err(BeeError::Poisoned);
        }
        let r = self.run(bee);
        if r.is_err() {
            self.poisoned = true;
        }
        r
    }
}

impl Write {
    fn run(&mut self, bee: &mut Bee) -> Result<Step<WriteOutcome>, BeeError> {
        if self.phase == Phase::Ops {
            if self.tree.is_none() && !self.ops.is_empty() {
                // `getRoot(true)`: the first write of an empty core appends the header.
                let header_due = bee.length() == 0;
                if header_due {
                    bee.set_length(1);
                }
                self.tree = Some(Tree::new(bee.length(), bee.config().always_duplicate));
                if header_due {
                    return Ok(Step::Append(alloc::vec![Bytes::from(bee.header())]));
                }
            }
            while let Some(op) = self.ops.front_mut() {
                let Some(tree) = self.tree.as_mut() else {
                    break;
                };
                tree.begin_op();
                let budget = bee.config().step_budget;
                let mut ctx = Ctx::new(&mut self.fed, bee.cache_mut(), tree.base, budget);
                let applied = match op {
                    Op::Put { key, value, cas } => {
                        let need_prev = cas.is_some() || !tree.always_duplicate;
                        let plan = tree.plan_put(&mut ctx, key, need_prev);
                        match self.fed.settle(plan)? {
                            Err(seq) => return Ok(Step::NeedBlock(seq)),
                            Ok(plan) => {
                                tree.apply_put(plan, key.clone(), value.clone(), cas.as_mut())?
                            }
                        }
                    }
                    Op::Del { key, cas } => {
                        let plan = tree.plan_del(&mut ctx, key, cas.is_some());
                        match self.fed.settle(plan)? {
                            Err(seq) => return Ok(Step::NeedBlock(seq)),
                            Ok(None) => false,
                            Ok(Some(plan)) => tree.apply_del(plan, key.clone(), cas.as_mut())?,
                        }
                    }
                };
                self.outcome.applied.push(applied);
                self.ops.pop_front();
                self.fed.clear();
            }
            self.phase = Phase::Flushed;
            if let Some(tree) = self.tree.as_mut() {
                let first = tree.base;
                let blocks = flush(tree, bee);
                if !blocks.is_empty() {
                    self.outcome.first_seq = Some(first);
                    self.outcome.blocks = blocks.len();
                    return Ok(Step::Append(blocks));
                }
            }
        }
        if self.phase == Phase::Flushed {
            self.phase = Phase::Done;
            return Ok(Step::Done(core::mem::take(&mut self.outcome)));
        }
        Err(BeeError::Poisoned)
    }
}

/// Encodes the batch's blocks, caches them decoded and advances the bee's length.
fn flush(tree: &mut Tree, bee: &mut Bee) -> Vec<Bytes> {
    let blocks = tree.compact_blocks();
    let mut out = Vec::with_capacity(blocks.len());
    for (p, nodes) in blocks {
        let index = YoloIndex {
            levels: nodes
                .iter()
                .map(|n| Level {
                    keys: n.keys.clone(),
                    children: n.children.iter().flat_map(|&(s, o)| [s, o]).collect(),
                })
                .collect(),
        };
        let mut raw = Vec::new();
        Node::encode_parts(&index.encode(), &p.key, p.value.as_deref(), &mut raw);
        bee.cache_mut()
            .insert(Arc::new(Block::built(p.seq, p.key, p.value, nodes)));
        out.push(Bytes::from(raw));
    }
    bee.set_length(bee.length() + out.len() as u64);
    out
}
