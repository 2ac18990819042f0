//! Range iteration (`iterators/range.js`): a stack of `{node, i}` where `i` counts slots
//! of a node, even for a child, odd for a key; forward from 0, reverse from
//! `keys.len() * 2`. [`Range::snapshot`] turns the stack into checkpoint triples
//! `(seq, offset, i)` that a new iterator can resume from (the extension sends them).

use alloc::vec::Vec;
use bytes::Bytes;

use crate::block::NodeRef;
use crate::fetch::{machine, search, Ctx, Fed, Halt};
use crate::{BeeError, Entry, MAX_DEPTH};

/// Bounds and direction of a range (JS's `createRangeIterator` options, encoded keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeOptions {
    /// Keys above this.
    pub gt: Option<Bytes>,
    /// Keys at or above this (ignored when `gt` is set).
    pub gte: Option<Bytes>,
    /// Keys below this.
    pub lt: Option<Bytes>,
    /// Keys at or below this (ignored when `lt` is set).
    pub lte: Option<Bytes>,
    /// Largest key first.
    pub reverse: bool,
    /// Most entries to yield (`None`: JS's `-1`, no limit).
    pub limit: Option<u64>,
    /// Resume from these `(seq, offset, i)` triples (a [`Checkpoint`]'s) instead of seeking.
    pub checkpoint: Vec<u64>,
}

/// An iterator's state as JS's `snapshot()` gives it (and the extension sends it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The version iterated.
    pub version: u64,
    /// Inclusive lower bound.
    pub gte: Option<Bytes>,
    /// Exclusive lower bound.
    pub gt: Option<Bytes>,
    /// Inclusive upper bound.
    pub lte: Option<Bytes>,
    /// Exclusive upper bound.
    pub lt: Option<Bytes>,
    /// Entries still to yield (-1: no limit).
    pub limit: i64,
    /// Direction.
    pub reverse: bool,
    /// Opened and nothing left.
    pub ended: bool,
    /// The stack as `(seq, offset, i)` triples.
    pub checkpoint: Vec<u64>,
}

impl Checkpoint {
    /// The `iterator` request of the `hyperbee` extension for this state, as JS's
    /// `HyperbeeExtension.iterator(snapshot)` sends it: none when the iterator ended or has
    /// no entries left to yield; no limit (-1) is sent as 0.
    #[must_use]
    pub fn to_request(&self) -> Option<ferrocore_wire::bee::ExtensionIterator> {
        if self.ended || self.limit == 0 {
            return None;
        }
        Some(ferrocore_wire::bee::ExtensionIterator {
            version: Some(self.version),
            gte: self.gte.clone(),
            gt: self.gt.clone(),
            lte: self.lte.clone(),
            lt: self.lt.clone(),
            limit: Some(u64::try_from(self.limit).unwrap_or(0)),
            reverse: Some(self.reverse),
            checkpoint: self.checkpoint.clone(),
        })
    }
}

#[derive(Debug, Clone)]
struct Frame {
    node: NodeRef,
    i: i64,
}

/// A range iterator at one version: poll for [`Step::Done`](crate::Step::Done)`(Some(entry))` per entry,
/// `Done(None)` at the end.
#[derive(Debug, Clone)]
pub struct Range {
    version: u64,
    g_key: Option<Bytes>,
    g_incl: bool,
    l_key: Option<Bytes>,
    l_incl: bool,
    reverse: bool,
    limit: i64,
    checkpoint: Vec<u64>,
    stack: Vec<Frame>,
    opened: bool,
    fed: Fed,
}

impl Range {
    /// An iterator over `options` at `version`.
    #[must_use]
    pub fn new(version: u64, options: RangeOptions) -> Self {
        let g_incl = options.gt.is_none();
        let l_incl = options.lt.is_none();
        Range {
            version,
            g_key: options.gt.or(options.gte),
            g_incl,
            l_key: options.lt.or(options.lte),
            l_incl,
            reverse: options.reverse,
            limit: options
                .limit
                .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            checkpoint: options.checkpoint,
            stack: Vec::new(),
            opened: false,
            fed: Fed::default(),
        }
    }

    /// The iterator's state (`snapshot()`), resumable with [`RangeOptions::checkpoint`].
    #[must_use]
    pub fn snapshot(&self) -> Checkpoint {
        let mut checkpoint = Vec::new();
        if self.opened {
            for f in &self.stack {
                if f.i >= 0 {
                    checkpoint.extend([f.node.block.seq, f.node.offset as u64, f.i as u64]);
                }
            }
        }
        let (g, l) = (self.g_key.clone(), self.l_key.clone());
        Checkpoint {
            version: self.version,
            gte: if self.g_incl { g.clone() } else { None },
            gt: if self.g_incl { None } else { g },
            lte: if self.l_incl { l.clone() } else { None },
            lt: if self.l_incl { None } else { l },
            limit: self.limit,
            reverse: self.reverse,
            ended: self.opened && checkpoint.is_empty(),
            checkpoint,
        }
    }

    fn slots(node: &NodeRef, reverse: bool) -> i64 {
        if reverse {
            (node.keys().len() as i64) << 1
        } else {
            0
        }
    }

    fn open(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Halt> {
        let mut stack = Vec::new();
        if !self.checkpoint.is_empty() {
            for t in self.checkpoint.chunks(3) {
                let &[seq, offset, i] = t else {
                    return Err(BeeError::BadCheckpoint.into());
                };
                if stack.len() >= MAX_DEPTH {
                    return Err(BeeError::TooDeep(MAX_DEPTH).into());
                }
                let node = ctx.node(0, seq, offset)?;
                let i = i64::try_from(i).map_err(|_| BeeError::BadCheckpoint)?;
                stack.push(Frame { node, i });
            }
            self.stack = stack;
            return Ok(());
        }
        let Some(mut node) = ctx.root()? else {
            return Ok(());
        };
        let (incl, start) = if self.reverse {
            (self.l_incl, self.l_key.clone())
        } else {
            (self.g_incl, self.g_key.clone())
        };
        let Some(start) = start else {
            let i = Self::slots(&node, self.reverse);
            self.stack.push(Frame { node, i });
            return Ok(());
        };
        loop {
            if stack.len() >= MAX_DEPTH {
                return Err(BeeError::TooDeep(MAX_DEPTH).into());
            }
            let slots = (node.keys().len() as i64) << 1;
            match search(ctx, &node, &start)? {
                Ok(mid) => {
                    let mid = mid as i64;
                    let i = if incl {
                        mid * 2 + 1
                    } else {
                        mid * 2 + if self.reverse { 0 } else { 2 }
                    };
                    stack.push(Frame { node, i });
                    break;
                }
                Err(s) => {
                    let i = 2 * s as i64 + if self.reverse { -1 } else { 1 };
                    let leaf = node.is_leaf();
                    let next = if leaf {
                        None
                    } else {
                        Some(ctx.child(&node, s)?)
                    };
                    if i >= 0 && i <= slots {
                        stack.push(Frame { node, i });
                    }
                    match next {
                        Some(n) => node = n,
                        None => break,
                    }
                }
            }
        }
        self.stack = stack;
        Ok(())
    }

    fn ensure_open(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Halt> {
        if !self.opened {
            self.open(ctx)?;
            self.opened = true;
        }
        Ok(())
    }

    /// JS's `open()`: seeks (or loads the checkpoint) without yielding, so that a
    /// [`Range::snapshot`] taken before the first entry already holds the stack. Polling
    /// for entries opens the iterator too.
    #[must_use]
    pub fn opening(&mut self) -> OpenRange<'_> {
        OpenRange(self)
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<Entry>, Halt> {
        self.ensure_open(ctx)?;
        let (end, incl) = if self.reverse {
            (self.g_key.clone(), self.g_incl)
        } else {
            (self.l_key.clone(), self.l_incl)
        };
        while self.limit != 0 {
            let Some(top) = self.stack.last() else { break };
            let is_key = top.i & 1 == 1;
            let (n, next_i) = match (self.reverse, top.i < 0) {
                (true, true) => (top.node.keys().len(), top.i),
                (true, false) => ((top.i >> 1) as usize, top.i - 1),
                (false, _) => ((top.i >> 1) as usize, top.i + 1),
            };
            if !is_key {
                if top.node.is_leaf() {
                    self.top().i = next_i;
                    continue;
                }
                if n >= top.node.children().len() {
                    return Err(BeeError::BadCheckpoint.into());
                }
                let child = ctx.child(&top.node, n)?;
                self.top().i = next_i;
                if self.stack.len() >= MAX_DEPTH {
                    return Err(BeeError::TooDeep(MAX_DEPTH).into());
                }
                let i = Self::slots(&child, self.reverse);
                self.stack.push(Frame { node: child, i });
                continue;
            }
            if n >= top.node.keys().len() {
                self.stack.pop();
                continue;
            }
            let block = ctx.block(top.node.block.seq, top.node.keys()[n])?;
            self.top().i = next_i;
            if let Some(end) = &end {
                let c = block.key.as_ref().cmp(end.as_ref());
                let past = match c {
                    core::cmp::Ordering::Equal => !incl,
                    core::cmp::Ordering::Less => self.reverse,
                    core::cmp::Ordering::Greater => !self.reverse,
                };
                if past {
                    self.limit = 0;
                    break;
                }
            }
            if self.limit > 0 {
                self.limit -= 1;
            }
            return Ok(Some(block.entry()));
        }
        Ok(None)
    }

    fn top(&mut self) -> &mut Frame {
        let last = self.stack.len() - 1;
        &mut self.stack[last]
    }
}

machine!(Range, Option<Entry>);

/// [`Range::opening`]: a machine that only opens the iterator.
#[derive(Debug)]
pub struct OpenRange<'a>(&'a mut Range);

impl OpenRange<'_> {
    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<(), Halt> {
        self.0.ensure_open(ctx)
    }
}

impl crate::Machine for OpenRange<'_> {
    type Output = ();

    fn poll(&mut self, bee: &mut crate::Bee) -> Result<crate::Step<()>, BeeError> {
        let version = self.0.version;
        crate::fetch::drive(self, |s| &mut s.0.fed, version, bee, |s, ctx| s.step(ctx))
    }

    fn handle_block(&mut self, seq: u64, bytes: &Bytes) -> Result<(), BeeError> {
        self.0.fed.handle(seq, bytes)
    }
}
