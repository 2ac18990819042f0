//! [`MemBee`]: a bee over an in-memory core that drives the machines to completion
//! (feature `testing`), for tests, examples and fuzzing.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::{
    Bee, BeeConfig, BeeError, DiffEntry, Entry, HistoryEntry, HistoryOptions, Machine, Op,
    RangeOptions, Step, View, WriteOutcome,
};

/// A core held as a list of blocks, and the bee over it.
#[derive(Debug, Clone)]
pub struct MemBee {
    /// The core's blocks (block 0 is the header once written).
    pub blocks: Vec<Bytes>,
    /// The bee.
    pub bee: Bee,
    /// Blocks fed to machines so far (what a remote reader would have fetched).
    pub fetched: u64,
}

impl Default for MemBee {
    fn default() -> Self {
        Self::new()
    }
}

impl MemBee {
    /// An empty core with the default configuration.
    #[must_use]
    pub fn new() -> Self {
        Self::with_config(BeeConfig::default())
    }

    /// An empty core.
    #[must_use]
    pub fn with_config(config: BeeConfig) -> Self {
        MemBee {
            blocks: Vec::new(),
            bee: Bee::new(0, config),
            fetched: 0,
        }
    }

    /// A core holding `blocks` (someone else's bee).
    #[must_use]
    pub fn from_blocks(blocks: Vec<Bytes>, config: BeeConfig) -> Self {
        let bee = Bee::new(blocks.len() as u64, config);
        MemBee {
            blocks,
            bee,
            fetched: 0,
        }
    }

    /// Drives `m` until it is done, serving blocks and taking appends.
    pub fn run<M: Machine>(&mut self, m: &mut M) -> Result<M::Output, BeeError> {
        loop {
            match m.poll(&mut self.bee)? {
                Step::NeedBlock(seq) => {
                    self.fetched += 1;
                    let block = usize::try_from(seq)
                        .ok()
                        .and_then(|s| self.blocks.get(s))
                        .cloned()
                        .ok_or(BeeError::SeqOutOfRange {
                            from: 0,
                            seq,
                            version: self.blocks.len() as u64,
                        })?;
                    m.handle_block(seq, &block)?;
                }
                Step::Append(blocks) => self.blocks.extend(blocks),
                Step::Done(out) => return Ok(out),
            }
        }
    }

    /// Drives an iterator to its end.
    pub fn collect<M: Machine<Output = Option<T>>, T>(
        &mut self,
        m: &mut M,
    ) -> Result<Vec<T>, BeeError> {
        let mut out = Vec::new();
        while let Some(item) = self.run(m)? {
            out.push(item);
        }
        Ok(out)
    }

    /// Applies `ops` as one batch.
    pub fn batch(&mut self, ops: Vec<Op>) -> Result<WriteOutcome, BeeError> {
        let mut w = self.bee.write(ops);
        self.run(&mut w)
    }

    /// `put(key, value)`; panics on error (a test helper).
    pub fn put(&mut self, key: &[u8], value: Option<&[u8]>) -> WriteOutcome {
        let op = Op::put(
            Bytes::copy_from_slice(key),
            value.map(Bytes::copy_from_slice),
        );
        self.batch(alloc::vec![op]).expect("put")
    }

    /// `del(key)`; panics on error (a test helper).
    pub fn del(&mut self, key: &[u8]) -> WriteOutcome {
        self.batch(alloc::vec![Op::del(Bytes::copy_from_slice(key))])
            .expect("del")
    }

    /// Reads at `version` (`None`: the current one).
    #[must_use]
    pub fn at(&self, version: Option<u64>) -> View {
        version.map_or(self.bee.view(), |v| self.bee.checkout(v))
    }

    /// `get(key)` at the current version.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Entry>, BeeError> {
        self.get_at(key, None)
    }

    /// `get(key)` at `version`.
    pub fn get_at(&mut self, key: &[u8], version: Option<u64>) -> Result<Option<Entry>, BeeError> {
        let mut g = self.at(version).get(Bytes::copy_from_slice(key));
        self.run(&mut g)
    }

    /// A whole range at `version`.
    pub fn range(&mut self, o: RangeOptions, version: Option<u64>) -> Result<Vec<Entry>, BeeError> {
        let mut r = self.at(version).range(o);
        self.collect(&mut r)
    }

    /// A whole history walk at `version`.
    pub fn history(
        &mut self,
        o: HistoryOptions,
        version: Option<u64>,
    ) -> Result<Vec<HistoryEntry>, BeeError> {
        let mut h = self.at(version).history(o);
        self.collect(&mut h)
    }

    /// The whole diff of `left` against `right`.
    pub fn diff(
        &mut self,
        left: u64,
        right: u64,
        range: crate::sub::KeyRange,
    ) -> Result<Vec<DiffEntry>, BeeError> {
        let mut d = self.bee.checkout(left).diff(right, range);
        self.collect(&mut d)
    }
}

/// Hostile blocks cut from fuzz input: a hyperbee header, then blocks of a length byte
/// and that many bytes each (the last one shorter if the input ends).
#[must_use]
pub fn cut_blocks(mut data: &[u8]) -> Vec<Bytes> {
    let mut out = alloc::vec![Bytes::from(
        ferrocore_wire::bee::Header::hyperbee(None).encode()
    )];
    while let Some((&len, rest)) = data.split_first() {
        let n = usize::from(len).min(rest.len());
        out.push(Bytes::copy_from_slice(&rest[..n]));
        data = &rest[n..];
    }
    out
}
