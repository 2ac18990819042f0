//! Point reads: [`Get`] (`bee.get(key)`) and [`GetBySeq`] (`bee.getBySeq(seq)`).

use bytes::Bytes;

use crate::fetch::{machine, search, Ctx, Fed, Halt};
use crate::{BeeError, Entry, MAX_DEPTH};

/// `get(key)` at a version: the entry, or `None` when the key is absent or deleted.
///
/// Like JS, at every node it first checks whether the block holding the node wrote the
/// key itself, and if so answers with that block. At the root this is right (the root's
/// block is the version's last write) and saves the search; below the root JS 2.27.3 can
/// be wrong: a node may live in a block that wrote the key before a later delete that left
/// the node in place, and then `get` returns the deleted entry (the range listing does not
/// have it). [`Get::root_shortcut_only`] answers as the tree says instead.
#[derive(Debug, Clone)]
pub struct Get {
    version: u64,
    key: Bytes,
    every_level: bool,
    fed: Fed,
}

impl Get {
    /// A lookup of `key` at `version`.
    #[must_use]
    pub fn new(version: u64, key: Bytes) -> Self {
        Get {
            version,
            key,
            every_level: true,
            fed: Fed::default(),
        }
    }

    /// Takes the shortcut at the root only: the tree's answer, where JS's can be a deleted
    /// entry (see [`Get`]).
    #[must_use]
    pub fn root_shortcut_only(mut self) -> Self {
        self.every_level = false;
        self
    }

    /// The `get` request of the `hyperbee` extension this lookup broadcasts when it waits
    /// for a block ([`crate::ext::get_request`]).
    #[must_use]
    pub fn extension_request(&self) -> ferrocore_wire::bee::Extension {
        crate::ext::get_request(self.version, &self.key)
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Entry>, Halt> {
        let Some(mut node) = ctx.root()? else {
            return Ok(None);
        };
        for depth in 0..MAX_DEPTH {
            if (depth == 0 || self.every_level) && node.block.key == self.key {
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
