//! [`Bee::clear_unlinked`]: JS `clearUnlinked`, clearing the local blocks the current
//! tree no longer links to.

use std::collections::BTreeSet;

use ferrocore::storage::Storage;
use ferrocore_hyperbee::linked::Linked;

use super::run::Job;
use super::{Bee, Error};
use crate::node::Adapter;
use crate::{CoreInfo, Error as NodeError};

/// Bounds of [`Bee::clear_unlinked`] (JS `clearUnlinked({ gte, lt, batchSize })`): seqs,
/// a negative one counting back from the version, as the history stream reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearOptions {
    /// First seq looked at (default 1).
    pub gte: Option<i64>,
    /// Seqs below this (default: the version − 1, so the root's block stays).
    pub lt: Option<i64>,
    /// Seqs cleared per visit to the driver (default 4,096, JS's `batchSize`).
    pub batch_size: usize,
}

impl Default for ClearOptions {
    fn default() -> Self {
        ClearOptions {
            gte: None,
            lt: None,
            batch_size: 4096,
        }
    }
}

/// What [`Bee::clear_unlinked`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleared {
    /// Local blocks cleared.
    pub blocks: u64,
    /// The bound it cleared below (JS returns it: the next call's `gte`).
    pub lt: u64,
    /// The version whose tree decided what is linked.
    pub version: u64,
}

impl<S: Storage + Send + 'static, A: Adapter> Bee<S, A> {
    /// JS `clearUnlinked(options)`: clears (`core.clear`) every local block of `[gte, lt)`
    /// that the tree of the current version does not link to (neither a node reachable
    /// from the root nor the block of one of their keys), and, when `gte > 1`, the block
    /// that held each such block's key at version `gte` if it is unlinked too, as JS does.
    /// Every read of the current version answers as before; reads of older versions may
    /// then need blocks from peers. Clears in batches of `batch_size` seqs, one visit to
    /// the driver each.
    ///
    /// # Errors
    /// [`Error::ReadOnly`] on a checkout; [`Error::Bee`] on a damaged tree;
    /// [`Error::Node`] if a block of the tree cannot be had or storage fails.
    pub async fn clear_unlinked(&self, options: ClearOptions) -> Result<Cleared, Error> {
        if self.place.pin.is_some() {
            return Err(Error::ReadOnly("a checkout cannot clear blocks"));
        }
        let core = self.place.core;
        let info = self
            .place
            .node
            .call_reply(move |ep| CoreInfo::of(ep, core))
            .await?;
        let version = info.length.max(1);
        let v = i64::try_from(version).unwrap_or(i64::MAX);
        let rel = |b: i64| if b < 0 { b.saturating_add(v) } else { b };
        let seq = |b: i64| u64::try_from(b).unwrap_or(0);
        let gte = seq(rel(options.gte.filter(|&g| g != 0).unwrap_or(1))).max(1);
        let lt = seq(rel(options.lt.unwrap_or(v - 1))).min(info.length);
        let done = Cleared {
            blocks: 0,
            lt,
            version,
        };
        if gte >= lt {
            return Ok(done);
        }
        let pinned = self.checkout(version);
        let job = Job::Make(Box::new(|v: ferrocore_hyperbee::View| {
            Linked::new(v.version)
        }));
        let (_, found) = pinned.place.drive(job, usize::MAX, Option::is_some).await?;
        let linked: BTreeSet<u64> = found.into_iter().flatten().flatten().collect();
        let mut targets: BTreeSet<u64> = (gte..lt).filter(|s| !linked.contains(s)).collect();
        if gte > 1 {
            for s in self.earlier_unlinked(gte, lt, &linked).await? {
                targets.insert(s);
            }
        }
        let batch = options.batch_size.max(1);
        let targets: Vec<u64> = targets.into_iter().collect();
        let mut blocks = 0;
        for chunk in targets.chunks(batch) {
            let chunk = chunk.to_vec();
            blocks += self
                .place
                .node
                .call_reply(move |ep| {
                    let log = ep.log_mut(core).ok_or(NodeError::NoSuchCore)?;
                    let mut n = 0;
                    for s in chunk {
                        if log.has(s, s + 1) {
                            log.clear(s, s + 1).map_err(NodeError::Core)?;
                            n += 1;
                        }
                    }
                    Ok(n)
                })
                .await?;
        }
        Ok(Cleared { blocks, ..done })
    }

    /// For each local block of `[gte, lt)`: the seq that held its key at version `gte`,
    /// when the current tree does not link to it (JS's `prev.get(data.key)`).
    async fn earlier_unlinked(
        &self,
        gte: u64,
        lt: u64,
        linked: &BTreeSet<u64>,
    ) -> Result<Vec<u64>, Error> {
        let core = self.place.core;
        let keys = self
            .place
            .node
            .call_reply(move |ep| {
                let log = ep.log(core).ok_or(NodeError::NoSuchCore)?;
                let mut keys = Vec::new();
                for s in gte..lt {
                    if let Some(b) = log.get(s).map_err(NodeError::Core)? {
                        keys.push((s, b));
                    }
                }
                Ok(keys)
            })
            .await?;
        let before = self.checkout(gte);
        let mut out = Vec::new();
        for (s, bytes) in keys {
            let Ok(block) = ferrocore_hyperbee::Block::decode_entry(s, &bytes) else {
                continue;
            };
            let Ok(Some(e)) = before.get(block.key).await else {
                continue;
            };
            if !linked.contains(&e.seq) {
                out.push(e.seq);
            }
        }
        Ok(out)
    }
}
