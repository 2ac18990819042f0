//! The diff stream between two versions (`iterators/diff.js`): both trees walked in key
//! order side by side, skipping every subtree (or key) both point at by the same
//! `(seq, offset)`, so the work follows what changed.

use alloc::vec::Vec;
use bytes::Bytes;
use core::cmp::Ordering;

use crate::block::NodeRef;
use crate::fetch::{search, Ctx, Fed, Halt};
use crate::sub::KeyRange;
use crate::{Bee, BeeError, Entry, Machine, Step, MAX_DEPTH};

/// One difference: the entry on the left (this version) and on the right (the other),
/// either absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    /// The entry at the diff's own version.
    pub left: Option<Entry>,
    /// The entry at the other version.
    pub right: Option<Entry>,
}

/// JS's `SubTree`: a node and the slot the walk is at.
#[derive(Debug, Clone)]
struct SubTree {
    node: NodeRef,
    i: usize,
    n: usize,
    is_key: bool,
    seq: u64,
    offset: u64,
}

impl SubTree {
    fn new(node: NodeRef) -> Result<Self, BeeError> {
        let is_key = node.is_leaf();
        let (seq, offset) = if is_key {
            let k = *node.keys().first().ok_or(BeeError::MalformedNode {
                seq: node.block.seq,
                offset: node.offset,
                why: "empty non-root leaf",
            })?;
            (k, 0)
        } else {
            node.children()[0]
        };
        Ok(SubTree {
            node,
            i: usize::from(is_key),
            n: 0,
            is_key,
            seq,
            offset,
        })
    }

    fn next(&mut self) -> bool {
        self.i += 1;
        if self.i & 1 == 0 && self.node.is_leaf() {
            self.i += 1;
        }
        self.update()
    }

    fn update(&mut self) -> bool {
        self.is_key = self.i & 1 == 1;
        self.n = self.i >> 1;
        let len = if self.is_key {
            self.node.keys().len()
        } else {
            self.node.children().len()
        };
        if self.n >= len {
            return false;
        }
        (self.seq, self.offset) = if self.is_key {
            (self.node.keys()[self.n], 0)
        } else {
            self.node.children()[self.n]
        };
        true
    }

    /// Positions the walk at `key` (`incl`: on it, else past it); true when done seeking.
    fn bisect(&mut self, ctx: &mut Ctx<'_>, key: &[u8], incl: bool) -> Result<bool, Halt> {
        let leaf = self.node.is_leaf();
        match search(ctx, &self.node, key)? {
            Ok(mid) => {
                self.i = if incl {
                    mid * 2 + 1
                } else {
                    mid * 2 + if leaf { 3 } else { 2 }
                };
                Ok(true)
            }
            Err(s) => {
                self.i = 2 * s + usize::from(leaf);
                Ok(leaf)
            }
        }
    }
}

/// One side of the diff (JS's `TreeIterator`).
#[derive(Debug, Clone)]
struct TreeIter {
    version: u64,
    stack: Vec<SubTree>,
    lt: Option<Bytes>,
    lte: bool,
    gt: Option<Bytes>,
    gte: bool,
    seeking: bool,
}

/// `cmp` of diff.js: an absent key sorts after every key.
fn cmp(a: &Option<Bytes>, b: &Option<Bytes>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => a.as_ref().cmp(b.as_ref()),
    }
}

impl TreeIter {
    fn new(version: u64, r: &KeyRange) -> Self {
        TreeIter {
            version,
            stack: Vec::new(),
            lt: r.lt.clone().or_else(|| r.lte.clone()),
            lte: r.lte.is_some(),
            gt: r.gt.clone().or_else(|| r.gte.clone()),
            gte: r.gte.is_some(),
            seeking: r.gt.is_some() || r.gte.is_some(),
        }
    }

    fn open(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Halt> {
        ctx.version = self.version;
        let Some(root) = ctx.root()? else {
            return Ok(());
        };
        if root.keys().is_empty() {
            return Ok(());
        }
        let mut tree = SubTree::new(root)?;
        if self.seeking && !self.seek(ctx, &mut tree)? {
            return Ok(());
        }
        self.stack.push(tree);
        Ok(())
    }

    fn seek(&mut self, ctx: &mut Ctx<'_>, tree: &mut SubTree) -> Result<bool, Halt> {
        ctx.version = self.version;
        let gt = self.gt.clone().unwrap_or_default();
        let done = tree.bisect(ctx, &gt, self.gte)?;
        let oob = !tree.update();
        if done || oob {
            self.seeking = false;
            if oob {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The key bounding stack entry `idx` from above (`SubTree.key()`).
    fn key(&self, ctx: &mut Ctx<'_>, idx: usize) -> Result<Option<Bytes>, Halt> {
        ctx.version = self.version;
        let mut idx = idx;
        loop {
            let t = &self.stack[idx];
            if t.n < t.node.keys().len() {
                return Ok(Some(ctx.key(t.node.block.seq, t.node.keys()[t.n])?));
            }
            if idx == 0 {
                return Ok(None);
            }
            idx -= 1;
        }
    }

    fn skip(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            if !top.next() {
                self.stack.pop();
            }
        }
    }

    fn next(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Entry>, Halt> {
        ctx.version = self.version;
        let Some(top) = self.stack.last_mut() else {
            return Ok(None);
        };
        let (is_key, n, seq) = (top.is_key, top.n, top.seq);
        let node = top.node.clone();
        if !top.next() {
            self.stack.pop();
        }
        if is_key {
            self.seeking = false;
            return Ok(Some(ctx.block(node.block.seq, seq)?.entry()));
        }
        let child = ctx.child(&node, n)?;
        let mut tree = SubTree::new(child)?;
        if self.seeking && !self.seek(ctx, &mut tree)? {
            return Ok(None);
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(BeeError::TooDeep(MAX_DEPTH).into());
        }
        self.stack.push(tree);
        Ok(None)
    }

    fn next_key(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Entry>, Halt> {
        ctx.version = self.version;
        let mut n = None;
        while !self.stack.is_empty() && n.is_none() {
            n = self.next(ctx)?;
        }
        let Some(n) = n else { return Ok(None) };
        let Some(lt) = &self.lt else {
            return Ok(Some(n));
        };
        let c = n.key.as_ref().cmp(lt.as_ref());
        if c == Ordering::Less || (self.lte && c == Ordering::Equal) {
            return Ok(Some(n));
        }
        self.stack.clear();
        Ok(None)
    }
}

/// The diff between the version it was made at (left) and another (right): poll for
/// `Done(Some(difference))`, `Done(None)` at the end.
#[derive(Debug, Clone)]
pub struct Diff {
    left: TreeIter,
    right: TreeIter,
    opened: bool,
    limit: i64,
    fed: Fed,
}

impl Diff {
    /// The diff of `left` against `right` within `range` (encoded keys).
    #[must_use]
    pub fn new(left: u64, right: u64, range: KeyRange) -> Self {
        Diff {
            left: TreeIter::new(left, &range),
            right: TreeIter::new(right, &range),
            opened: false,
            limit: -1,
            fed: Fed::default(),
        }
    }

    /// Stops after `limit` differences.
    #[must_use]
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self
    }

    /// One turn of `_next`'s loop: `Some` when it produced a difference.
    fn turn(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<DiffEntry>, Halt> {
        let (a, b) = (&mut self.left, &mut self.right);
        let (l, r) = (a.stack.last().cloned(), b.stack.last().cloned());
        let (l, r) = match (l, r) {
            (None, None) => {
                return Ok(Some(DiffEntry {
                    left: None,
                    right: None,
                }))
            }
            (None, Some(_)) => {
                return Ok(Some(DiffEntry {
                    left: None,
                    right: b.next_key(ctx)?,
                }))
            }
            (Some(_), None) => {
                return Ok(Some(DiffEntry {
                    left: a.next_key(ctx)?,
                    right: None,
                }))
            }
            (Some(l), Some(r)) => (l, r),
        };
        if l.seq == r.seq && l.is_key == r.is_key && l.offset == r.offset {
            a.skip();
            b.skip();
            return Ok(None);
        }
        let c = cmp(
            &a.key(ctx, a.stack.len() - 1)?,
            &b.key(ctx, b.stack.len() - 1)?,
        );
        match (l.is_key, r.is_key) {
            (true, false) => {
                b.next(ctx)?;
            }
            (false, true) => {
                a.next(ctx)?;
            }
            (true, true) => {
                return Ok(Some(match c {
                    Ordering::Equal => DiffEntry {
                        left: a.next_key(ctx)?,
                        right: b.next_key(ctx)?,
                    },
                    Ordering::Less => DiffEntry {
                        left: a.next_key(ctx)?,
                        right: None,
                    },
                    Ordering::Greater => DiffEntry {
                        left: None,
                        right: b.next_key(ctx)?,
                    },
                }));
            }
            (false, false) => match c {
                Ordering::Equal => {
                    a.next(ctx)?;
                    b.next(ctx)?;
                }
                Ordering::Less => {
                    b.next(ctx)?;
                }
                Ordering::Greater => {
                    a.next(ctx)?;
                }
            },
        }
        Ok(None)
    }
}

impl Diff {
    /// Opens both sides, then turns until a difference (or the end) comes out. A turn
    /// that stops for a block is undone, so the next poll repeats it whole.
    fn run(&mut self, ctx: &mut Ctx<'_>, budget: usize) -> Result<Option<DiffEntry>, Halt> {
        if !self.opened {
            let saved = (self.left.clone(), self.right.clone());
            let r = self.left.open(ctx).and_then(|()| self.right.open(ctx));
            if let Err(e) = r {
                (self.left, self.right) = saved;
                return Err(e);
            }
            self.opened = true;
        }
        for _ in 0..budget {
            let saved = (self.left.clone(), self.right.clone());
            match self.turn(ctx) {
                Ok(Some(d)) => return Ok(Some(d)),
                Ok(None) => {}
                Err(e) => {
                    (self.left, self.right) = saved;
                    return Err(e);
                }
            }
        }
        Err(BeeError::Budget(budget).into())
    }
}

impl Machine for Diff {
    type Output = Option<DiffEntry>;

    fn poll(&mut self, bee: &mut Bee) -> Result<Step<Option<DiffEntry>>, BeeError> {
        if self.limit == 0 {
            return Ok(Step::Done(None));
        }
        let budget = bee.config().step_budget;
        let version = self.left.version.max(self.right.version);
        let step = crate::fetch::drive(
            self,
            |s| &mut s.fed,
            version,
            bee,
            |s, ctx| s.run(ctx, budget),
        )?;
        Ok(match step {
            Step::Done(Some(d)) if d.left.is_some() || d.right.is_some() => {
                self.limit -= 1;
                Step::Done(Some(d))
            }
            Step::Done(_) => Step::Done(None),
            Step::NeedBlock(seq) => Step::NeedBlock(seq),
            Step::Append(_) => Step::Done(None),
        })
    }

    fn handle_block(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError> {
        self.fed.handle(seq, bytes)
    }
}
