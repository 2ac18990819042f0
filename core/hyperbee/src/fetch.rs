//! How a machine gets blocks: from those the caller fed it, from the shared cache, or by
//! asking ([`Halt::Need`]). A machine's step either completes or stops at the first block
//! it lacks, with its state as before the step; the caller feeds the block and polls again.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use bytes::Bytes;

use crate::block::{Block, BlockCache, NodeRef};
use crate::{Bee, BeeError, Step};

/// Why a step stopped.
#[derive(Debug)]
pub(crate) enum Halt {
    /// It needs this block.
    Need(u64),
    /// It failed.
    Err(BeeError),
}

impl From<BeeError> for Halt {
    fn from(e: BeeError) -> Self {
        Halt::Err(e)
    }
}

/// Blocks fed to one machine (pinned until it drops them), and the one it asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fed {
    map: BTreeMap<u64, Arc<Block>>,
    asked: Option<u64>,
}

impl Fed {
    /// Takes the block the machine asked for.
    pub(crate) fn handle(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError> {
        if self.asked != Some(seq) {
            return Err(BeeError::UnexpectedBlock(seq));
        }
        self.asked = None;
        self.map
            .insert(seq, Arc::new(Block::decode_entry(seq, bytes)?));
        Ok(())
    }

    /// Settles a step: a halt for a block is recorded (the block is then asked for) and
    /// returned as `Err(seq)`; a failure is the machine's error.
    pub(crate) fn settle<T>(&mut self, r: Result<T, Halt>) -> Result<Result<T, u64>, BeeError> {
        match r {
            Ok(v) => Ok(Ok(v)),
            Err(Halt::Need(seq)) => {
                self.asked = Some(seq);
                Ok(Err(seq))
            }
            Err(Halt::Err(e)) => Err(e),
        }
    }

    /// Unpins every block (the machine holds what it still needs by itself).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}

/// A step's view of the blocks of one version.
pub(crate) struct Ctx<'a> {
    pub(crate) fed: &'a mut Fed,
    pub(crate) cache: &'a mut BlockCache,
    pub(crate) version: u64,
    visits: usize,
    budget: usize,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        fed: &'a mut Fed,
        cache: &'a mut BlockCache,
        version: u64,
        budget: usize,
    ) -> Self {
        Ctx {
            fed,
            cache,
            version,
            visits: 0,
            budget,
        }
    }

    /// Block `seq`, named by block `from` (0: by the caller), which must be below the version.
    fn lookup(&mut self, from: u64, seq: u64) -> Result<&Arc<Block>, Halt> {
        if seq == 0 || seq >= self.version {
            return Err(BeeError::SeqOutOfRange {
                from,
                seq,
                version: self.version,
            }
            .into());
        }
        if let Some(b) = self.fed.map.get(&seq) {
            if self.cache.get(seq).is_none() {
                self.cache.insert(b.clone());
            }
            return Ok(&self.fed.map[&seq]);
        }
        // A cache hit is not pinned: should the cache evict it before the step ends, the
        // step asks for it once more, and from then on it is pinned as fed.
        self.cache.get(seq).ok_or(Halt::Need(seq))
    }

    /// Block `seq`, named by block `from`.
    pub(crate) fn block(&mut self, from: u64, seq: u64) -> Result<Arc<Block>, Halt> {
        self.lookup(from, seq).cloned()
    }

    /// Compares `key` with the key of block `seq`.
    pub(crate) fn cmp_key(
        &mut self,
        from: u64,
        seq: u64,
        key: &[u8],
    ) -> Result<core::cmp::Ordering, Halt> {
        Ok(key.cmp(&self.lookup(from, seq)?.key))
    }

    /// Block `seq` with its index decoded (the decoded block replaces the cached one).
    pub(crate) fn full(&mut self, from: u64, seq: u64) -> Result<Arc<Block>, Halt> {
        let b = self.block(from, seq)?;
        if b.nodes().is_some() {
            return Ok(b);
        }
        let full = Arc::new(Block::clone(&b).with_nodes()?);
        self.fed.map.insert(seq, full.clone());
        self.cache.insert(full.clone());
        Ok(full)
    }

    /// The key of block `seq`.
    pub(crate) fn key(&mut self, from: u64, seq: u64) -> Result<Bytes, Halt> {
        Ok(self.block(from, seq)?.key.clone())
    }

    /// The node at `(seq, offset)`, named by block `from`; counts against the budget.
    pub(crate) fn node(&mut self, from: u64, seq: u64, offset: u64) -> Result<NodeRef, Halt> {
        self.visits += 1;
        if self.visits > self.budget {
            return Err(BeeError::Budget(self.budget).into());
        }
        let block = self.full(from, seq)?;
        Ok(NodeRef::new(block, offset)?)
    }

    /// The root of the version: node 0 of block `version - 1`; `None` below version 2.
    pub(crate) fn root(&mut self) -> Result<Option<NodeRef>, Halt> {
        if self.version < 2 {
            return Ok(None);
        }
        let seq = self.version - 1;
        let block = self.full(0, seq)?;
        if block.nodes().is_none_or(<[_]>::is_empty) {
            return Err(BeeError::NoRoot(seq).into());
        }
        Ok(Some(NodeRef::new(block, 0)?))
    }

    /// Child `i` of `node`.
    pub(crate) fn child(&mut self, node: &NodeRef, i: usize) -> Result<NodeRef, Halt> {
        let (seq, offset) = node.children()[i];
        self.node(node.block.seq, seq, offset)
    }
}

/// Binary search of `key` among `node`'s keys (`b4a.compare` order): `Ok(i)` when
/// `keys[i]` is the key, `Err(i)` for the slot it would take.
pub(crate) fn search(
    ctx: &mut Ctx<'_>,
    node: &NodeRef,
    key: &[u8],
) -> Result<Result<usize, usize>, Halt> {
    let (mut s, mut e) = (0, node.keys().len());
    while s < e {
        let mid = (s + e) >> 1;
        match ctx.cmp_key(node.block.seq, node.keys()[mid], key)? {
            core::cmp::Ordering::Equal => return Ok(Ok(mid)),
            core::cmp::Ordering::Less => e = mid,
            core::cmp::Ordering::Greater => s = mid + 1,
        }
    }
    Ok(Err(s))
}

/// One poll of a machine whose blocks are pinned in the [`Fed`] that `fed` selects: runs
/// `step` against the shared cache; a block it lacks becomes [`Step::NeedBlock`], and a
/// finished step unpins everything (the machine holds what it still needs).
pub(crate) fn drive<S, T>(
    state: &mut S,
    fed: fn(&mut S) -> &mut Fed,
    version: u64,
    bee: &mut Bee,
    step: impl FnOnce(&mut S, &mut Ctx<'_>) -> Result<T, Halt>,
) -> Result<Step<T>, BeeError> {
    let budget = bee.config().step_budget;
    let mut f = core::mem::take(fed(state));
    let r = {
        let mut ctx = Ctx::new(&mut f, bee.cache_mut(), version, budget);
        step(state, &mut ctx)
    };
    let r = f.settle(r);
    *fed(state) = f;
    match r? {
        Ok(v) => {
            fed(state).clear();
            Ok(Step::Done(v))
        }
        Err(seq) => Ok(Step::NeedBlock(seq)),
    }
}

/// Implements [`crate::Machine`] for a machine with `fed` and `version` fields and a
/// `step(&mut self, &mut Ctx) -> Result<T, Halt>` method.
macro_rules! machine {
    ($ty:ty, $out:ty) => {
        impl crate::Machine for $ty {
            type Output = $out;

            fn poll(&mut self, bee: &mut crate::Bee) -> Result<crate::Step<$out>, crate::BeeError> {
                let version = self.version;
                crate::fetch::drive(self, |s| &mut s.fed, version, bee, |s, ctx| s.step(ctx))
            }

            fn handle_block(
                &mut self,
                seq: u64,
                bytes: &bytes::Bytes,
            ) -> Result<(), crate::BeeError> {
                self.fed.handle(seq, bytes)
            }
        }
    };
}
pub(crate) use machine;
