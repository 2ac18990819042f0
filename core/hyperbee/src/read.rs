//! Point reads: [`Get`] (`bee.get(key)`) and [`GetBySeq`] (`bee.getBySeq(seq)`).

use bytes::Bytes;

use crate::fetch::{machine, search, Ctx, Fed, Halt};
use crate::{BeeError, Entry, MAX_DEPTH};

/// `get(key)` at a version: the entry, or `None` when the key is absent or deleted.
///
/// Like JS, it first checks whether the block holding the current node wrote the key
/// itself (the last write's block is the root's), then searches the node.
#[derive(Debug, Clone)]
pub struct Get {
    version: u64,
    key: Bytes,
    fed: Fed,
}

impl Get {
    /// A lookup of `key` at `version`.
    #[must_use]
    pub fn new(version: u64, key: Bytes) -> Self {
        Get {
            version,
            key,
            fed: Fed::default(),
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Entry>, Halt> {
        let Some(mut node) = ctx.root()? else {
            return Ok(None);
        };
        for _ in 0..MAX_DEPTH {
            if node.block.key == self.key {
                let b = &node.block;
                return Ok(if b.is_deletion() {
                    None
                } else {
                    Some(b.entry())
                });
            }
            match search(ctx, &node, &self.key)? {
                Ok(mid) => return Ok(Some(ctx.block(node.block.seq, node.keys()[mid])?.entry())),
                Err(_) if node.is_leaf() => return Ok(None),
                Err(i) => node = ctx.child(&node, i)?,
            }
        }
        Err(BeeError::TooDeep(MAX_DEPTH).into())
    }
}

machine!(Get, Option<Entry>);

/// `getBySeq(seq)`: the key and value block `seq` writes (a deletion's value is `None`).
#[derive(Debug, Clone)]
pub struct GetBySeq {
    version: u64,
    seq: u64,
    fed: Fed,
}

impl GetBySeq {
    /// A read of block `seq` at `version`.
    #[must_use]
    pub fn new(version: u64, seq: u64) -> Self {
        GetBySeq {
            version,
            seq,
            fed: Fed::default(),
        }
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Entry, Halt> {
        Ok(ctx.block(0, self.seq)?.entry())
    }
}

machine!(GetBySeq, Entry);
