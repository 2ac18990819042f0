//! [`MemDrive`]: a drive over two in-memory cores that drives the machines to completion
//! (feature `testing`), for tests and fuzzing.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_hyperblobs::CoreInfo;

use crate::drive::{Drive, DriveConfig, DriveError, Machine, Step, TruncateTo};

/// The db core and the blobs core as lists of blocks, and the drive over them.
#[derive(Debug, Clone)]
pub struct MemDrive {
    /// The db core's blocks.
    pub db: Vec<Bytes>,
    /// The blobs core's blocks.
    pub blobs: Vec<Bytes>,
    /// Blobs blocks cleared (`has` is false, reads find them missing).
    pub cleared: BTreeSet<u64>,
    /// The drive.
    pub drive: Drive,
    /// Blocks fed to machines so far (both cores).
    pub fetched: u64,
}

impl Default for MemDrive {
    fn default() -> Self {
        Self::new(DriveConfig::default())
    }
}

impl MemDrive {
    /// Two empty cores.
    #[must_use]
    pub fn new(config: DriveConfig) -> Self {
        Self::from_blocks(Vec::new(), Vec::new(), config)
    }

    /// Cores holding these blocks (someone else's drive, or hostile blocks).
    #[must_use]
    pub fn from_blocks(db: Vec<Bytes>, blobs: Vec<Bytes>, config: DriveConfig) -> Self {
        let info = blobs_info(&blobs);
        MemDrive {
            drive: Drive::new(config, db.len() as u64, info),
            db,
            blobs,
            cleared: BTreeSet::new(),
            fetched: 0,
        }
    }

    /// The blobs block `seq`, unless past the end or cleared.
    fn blob(&self, seq: u64) -> Option<Bytes> {
        if self.cleared.contains(&seq) {
            return None;
        }
        usize::try_from(seq)
            .ok()
            .and_then(|s| self.blobs.get(s))
            .cloned()
    }

    /// A `seek(byte)` over the blocks: the first non-empty block holding `byte` and the
    /// offset in it (the end of the core is the end of its last block). Hypercore's seek
    /// walks the Merkle tree and can land on another block among zero-length ones; the
    /// bytes read are the same.
    fn seek(&self, byte: u64) -> Option<(u64, u64)> {
        let mut at = 0u64;
        for (i, b) in self.blobs.iter().enumerate() {
            let len = b.len() as u64;
            if byte < at + len {
                return Some((i as u64, byte - at));
            }
            at += len;
        }
        (byte == at).then_some((self.blobs.len() as u64, 0))
    }

    /// Drives `m` until it is done, serving blocks and taking appends.
    ///
    /// # Errors
    /// The machine's, and [`DriveError::Bee`] for a db block past the core's end.
    pub fn run<M: Machine>(&mut self, m: &mut M) -> Result<M::Output, DriveError> {
        loop {
            match m.poll(&mut self.drive)? {
                Step::NeedDb(seq) => {
                    self.fetched += 1;
                    let block = usize::try_from(seq)
                        .ok()
                        .and_then(|s| self.db.get(s))
                        .cloned()
                        .ok_or(ferrocore_hyperbee::BeeError::SeqOutOfRange {
                            from: 0,
                            seq,
                            version: self.db.len() as u64,
                        })?;
                    m.handle_db(seq, &block)?;
                }
                Step::NeedBlobs(seq) => {
                    self.fetched += 1;
                    let block = self.blob(seq);
                    m.handle_blobs(seq, block)?;
                }
                Step::NeedBlobsSeek(byte) => {
                    let at = self.seek(byte);
                    m.handle_seek(byte, at)?;
                }
                Step::HasBlobs { start, end } => {
                    let held = end <= self.blobs.len() as u64
                        && self.cleared.range(start..end).next().is_none();
                    m.handle_has(start, end, held)?;
                }
                Step::AppendDb(blocks) => self.db.extend(blocks),
                Step::AppendBlobs(blocks) => self.blobs.extend(blocks),
                Step::Done(out) => return Ok(out),
            }
        }
    }

    /// Drives an iterator to its end.
    ///
    /// # Errors
    /// As [`MemDrive::run`].
    pub fn collect<M: Machine<Output = Option<T>>, T>(
        &mut self,
        m: &mut M,
    ) -> Result<Vec<T>, DriveError> {
        let mut out = Vec::new();
        while let Some(item) = self.run(m)? {
            out.push(item);
        }
        Ok(out)
    }

    /// Truncates the cores as a [`crate::drive::Truncate`] planned, and tells the drive.
    pub fn apply_truncate(&mut self, to: TruncateTo) {
        let db = usize::try_from(to.db).unwrap_or(usize::MAX);
        self.db.truncate(db);
        self.blobs
            .truncate(usize::try_from(to.blobs).unwrap_or(usize::MAX));
        self.cleared.retain(|&s| s < to.blobs);
        self.drive.set_db_length(self.db.len() as u64);
        self.drive.set_blobs(blobs_info(&self.blobs));
    }

    /// Clears blobs blocks `start..end` (what [`crate::drive::Clear`] planned).
    pub fn apply_clear(&mut self, ranges: &[(u64, u64)]) {
        for &(start, end) in ranges {
            let end = end.min(self.blobs.len() as u64);
            self.cleared.extend(start..end);
        }
    }
}

/// The size of a core of `blocks`.
fn blobs_info(blocks: &[Bytes]) -> CoreInfo {
    CoreInfo {
        length: blocks.len() as u64,
        byte_length: blocks.iter().map(|b| b.len() as u64).sum(),
    }
}
