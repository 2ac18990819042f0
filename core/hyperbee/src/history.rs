//! The history stream (`iterators/history.js`): the blocks of a seq range, in order,
//! each a put or a delete.

use crate::fetch::{machine, Ctx, Fed, Halt};
use crate::{BeeError, Entry};

/// Bounds of a history walk, as JS reads them: a negative bound counts back from the
/// version, and a bound of 0 counts as absent (except `lt`/`lte` of 0: nothing).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Seqs above this.
    pub gt: Option<i64>,
    /// Seqs at or above this (default 1).
    pub gte: Option<i64>,
    /// Seqs below this (default: the version).
    pub lt: Option<i64>,
    /// Seqs at or below this.
    pub lte: Option<i64>,
    /// Newest first.
    pub reverse: bool,
    /// Most entries to yield.
    pub limit: Option<u64>,
}

/// One block of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// True for a deletion, false for a put.
    pub deletion: bool,
    /// The block's entry (a deletion's value is `None`).
    pub entry: Entry,
}

/// The history stream at a version: poll for `Done(Some(entry))` per block, `Done(None)`
/// at the end.
#[derive(Debug, Clone)]
pub struct History {
    version: u64,
    gte: i64,
    lt: i64,
    reverse: bool,
    limit: i64,
    fed: Fed,
}

fn nonzero(v: Option<i64>) -> Option<i64> {
    v.filter(|&v| v != 0)
}

impl History {
    /// A history walk at `version`.
    #[must_use]
    pub fn new(version: u64, o: HistoryOptions) -> Self {
        let v = i64::try_from(version).unwrap_or(i64::MAX);
        let rel = |b: i64| if b < 0 { b.saturating_add(v) } else { b };
        let gte = match nonzero(o.gt) {
            Some(gt) => rel(gt).saturating_add(1),
            None => rel(nonzero(o.gte).unwrap_or(1)),
        };
        let lt = if o.lte == Some(0) || o.lt == Some(0) {
            0
        } else if let Some(lte) = nonzero(o.lte) {
            rel(lte).saturating_add(1)
        } else {
            rel(nonzero(o.lt).unwrap_or(v))
        };
        History {
            version,
            gte,
            lt,
            reverse: o.reverse,
            limit: o.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
            fed: Fed::default(),
        }
    }

    /// The seqs `[gte, lt)` still to walk (a negative `gte` when the options reach below
    /// block 0, which the walk reports as an error).
    #[must_use]
    pub fn bounds(&self) -> (i64, i64) {
        (self.gte, self.lt)
    }

    fn step(&mut self, ctx: &mut Ctx<'_>) -> Result<Option<HistoryEntry>, Halt> {
        if self.limit == 0 || self.gte >= self.lt || (self.reverse && self.lt <= 1) {
            if self.limit > 0 {
                self.limit -= 1;
            }
            return Ok(None);
        }
        let seq = if self.reverse { self.lt - 1 } else { self.gte };
        let s = u64::try_from(seq).map_err(|_| BeeError::BadHistoryBound(seq))?;
        if s == 0 {
            return Err(BeeError::BadHistoryBound(seq).into());
        }
        let block = ctx.full(0, s)?;
        if self.limit > 0 {
            self.limit -= 1;
        }
        if self.reverse {
            self.lt -= 1;
        } else {
            self.gte += 1;
        }
        Ok(Some(HistoryEntry {
            deletion: block.is_deletion(),
            entry: block.entry(),
        }))
    }
}

machine!(History, Option<HistoryEntry>);
