//! The drive's operations: writes (put, batch, del, symlink, write streams, truncate,
//! clear), reads (entry, exists, get, read streams, has, list, readdir, diff) and
//! download.

use std::collections::BTreeSet;

use bytes::Bytes;
use ferrocore::storage::Storage;
use ferrocore_hyperblobs::ReadOptions;
use ferrocore_hyperdrive::drive::{
    Diff, DiffNode, DriveOp, GetOptions, List, ListOptions, ReadStream, Readdir, WriteOutcome,
    WriteStream, WriteStreamOptions,
};
use ferrocore_hyperdrive::{BlobId, DriveError, Node as DriveNode};
use ferrocore_wire::json::Value;

use super::run::Job;
use super::{Drive, Error, Items};
use crate::node::Adapter;
use crate::turns::Turn;

/// The options of [`Drive::put`] (JS `put(path, buffer, {executable, metadata})`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutOptions {
    /// The file is executable.
    pub executable: bool,
    /// Any JSON value to store with the entry (`Value::Null`: none).
    pub metadata: Value,
}

/// What [`Drive::clear`] and [`Drive::clear_all`] freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cleared {
    /// Blobs blocks cleared (held locally before).
    pub blocks: u64,
    /// Stored bytes reclaimed.
    pub bytes: u64,
}

impl<S: Storage + Send + 'static, A: Adapter> Drive<S, A> {
    fn check_writable(&self) -> Result<(), Error> {
        if self.pin.is_some() {
            return Err(Error::ReadOnly("a checkout cannot write"));
        }
        if !self.writable {
            return Err(Error::ReadOnly("the drive's cores are not writable"));
        }
        Ok(())
    }

    /// Applies `ops` as one batch: every put's blob to the blobs core, then one db append
    /// (JS `drive.batch()` … `flush()`). A put of a path JS refuses still stores its blob,
    /// as in JS; its result says why.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Drive`] on a damaged db; [`Error::Node`] if storage
    /// fails.
    pub async fn batch(&self, ops: Vec<DriveOp>) -> Result<WriteOutcome, Error> {
        self.check_writable()?;
        let _turn = self.place.shared.writes.take().await;
        self.place.run(move |s| s.write(ops)).await
    }

    /// One op as a batch, its path error as the error.
    async fn one(&self, op: DriveOp) -> Result<Option<BlobId>, Error> {
        let mut out = self.batch(vec![op]).await?;
        if let Some(Err(e)) = out.results.pop() {
            return Err(e.into());
        }
        Ok(out.ids.pop().flatten())
    }

    /// `put(path, content, {executable, metadata})`: answers the blob's id.
    ///
    /// # Errors
    /// As [`batch`](Self::batch); [`Error::Drive`] with [`DriveError::Path`] for a path
    /// JS refuses.
    pub async fn put(&self, path: &str, content: Bytes, opts: PutOptions) -> Result<BlobId, Error> {
        let op = DriveOp::Put {
            path: path.into(),
            content,
            executable: opts.executable,
            metadata: opts.metadata,
        };
        let id = self.one(op).await?;
        id.ok_or(Error::Drive(DriveError::NoBlob))
    }

    /// `del(path)` (nothing is written when there is no such entry).
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn del(&self, path: &str) -> Result<(), Error> {
        self.one(DriveOp::Del { path: path.into() }).await.map(drop)
    }

    /// `symlink(path, target, {metadata})`.
    ///
    /// # Errors
    /// As [`put`](Self::put).
    pub async fn symlink(&self, path: &str, target: &str, metadata: Value) -> Result<(), Error> {
        let op = DriveOp::Symlink {
            path: path.into(),
            target: target.into(),
            metadata,
        };
        self.one(op).await.map(drop)
    }

    /// `createWriteStream(path, opts)`: write chunks, then [`Writer::finish`]. The drive's
    /// other writes wait until it is finished or dropped.
    ///
    /// # Errors
    /// [`Error::ReadOnly`].
    pub async fn writer(
        &self,
        path: &str,
        opts: WriteStreamOptions,
    ) -> Result<Writer<S, A>, Error> {
        self.check_writable()?;
        let turn = self.place.shared.writes.take().await;
        let path = path.to_owned();
        let job = Job::Make(Box::new(move |s: &super::State| {
            s.write_stream(&path, opts)
        }));
        Ok(Writer {
            drive: self.clone(),
            job: Some(job),
            _turn: turn,
        })
    }

    /// `entry(path, {follow})`: the entry at the path (following symlinks when `follow`).
    ///
    /// # Errors
    /// [`Error::Drive`] for a damaged db or a bad path; [`Error::Node`].
    pub async fn entry(&self, path: &str, follow: bool) -> Result<Option<DriveNode>, Error> {
        let path = path.to_owned();
        self.read(move |v| v.entry(&path, follow)).await
    }

    /// `exists(path)`.
    ///
    /// # Errors
    /// As [`entry`](Self::entry).
    pub async fn exists(&self, path: &str) -> Result<bool, Error> {
        let path = path.to_owned();
        self.read(move |v| v.exists(&path)).await
    }

    /// `get(path)`: the whole file (`None`: no entry, or a symlink, as in JS).
    ///
    /// # Errors
    /// As [`entry`](Self::entry); blobs blocks that cannot be had.
    pub async fn get(&self, path: &str) -> Result<Option<Bytes>, Error> {
        self.get_with(path, GetOptions::default()).await
    }

    /// `get(path, {follow, start, end, length})`.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_with(&self, path: &str, opts: GetOptions) -> Result<Option<Bytes>, Error> {
        let path = path.to_owned();
        self.read(move |v| v.get(&path, opts)).await
    }

    /// `createReadStream(path, {start, end, length})`: the file's chunks as JS yields them.
    #[must_use]
    pub fn read_stream(&self, path: &str, range: ReadOptions) -> Items<S, A, ReadStream, Bytes> {
        let path = path.to_owned();
        self.items(move |v| v.read_stream(&path, range))
    }

    /// `has(path)`: a file's blob, or every blob under a folder, held locally.
    ///
    /// # Errors
    /// As [`entry`](Self::entry).
    pub async fn has(&self, path: &str) -> Result<bool, Error> {
        let path = path.to_owned();
        self.read(move |v| v.has(&path)).await
    }

    /// `list(folder, {recursive, ignore})`: entries under `folder` in key order.
    #[must_use]
    pub fn list(&self, folder: &str, opts: ListOptions) -> Items<S, A, List, DriveNode> {
        let folder = folder.to_owned();
        self.items(move |v| v.list(Some(&folder), opts))
    }

    /// `readdir(folder)`: the names of the folder's children, in order.
    #[must_use]
    pub fn readdir(&self, folder: &str) -> Items<S, A, Readdir, String> {
        let folder = folder.to_owned();
        self.items(move |v| v.readdir(Some(&folder)))
    }

    /// `diff(from, folder)`: entries under `folder` that differ between this version
    /// (`left`) and `from` (`right`).
    #[must_use]
    pub fn diff(&self, from: u64, folder: &str) -> Items<S, A, Diff, DiffNode> {
        let folder = folder.to_owned();
        self.items(move |v| v.diff(from, Some(&folder)))
    }

    /// `getBlobsLength(checkout)`: the blobs length the db needs at this version.
    ///
    /// # Errors
    /// As [`entry`](Self::entry).
    pub async fn blobs_length(&self) -> Result<u64, Error> {
        self.read(|v| v.blobs_length()).await
    }

    /// `download(path)`: fetches the blobs of the file at `path`, or of every file under
    /// the folder `path` (a path ending in `/`, or no file entry there), and the db
    /// blocks the listing touches; answers the blobs blocks asked for.
    ///
    /// # Errors
    /// As [`list`](Self::list); [`Error::Node`] when a download fails.
    pub async fn download(&self, path: &str) -> Result<u64, Error> {
        let mut blocks = BTreeSet::new();
        let mut add = |node: &DriveNode| -> Result<(), Error> {
            let id = node.entry.blob_id().map_err(|error| {
                Error::Drive(DriveError::Entry {
                    seq: node.seq,
                    error,
                })
            })?;
            if let Some(id) = id {
                blocks.extend(id.block_offset..id.block_offset.saturating_add(id.block_length));
            }
            Ok(())
        };
        let file = if path.is_empty() || path.ends_with('/') {
            None
        } else {
            self.entry(path, false).await?
        };
        match file {
            Some(node) => add(&node)?,
            None => {
                let mut list = self.list(path, ListOptions::default());
                while let Some(node) = list.next().await {
                    add(&node?)?;
                }
            }
        }
        let n = blocks.len() as u64;
        if n > 0 {
            let p = &self.place;
            let handle = p
                .node
                .download_reply(p.blobs, blocks.into_iter().collect())
                .await?;
            handle.await?;
        }
        Ok(n)
    }

    /// `clear(path)`: deletes the local blocks of the file's blob (a clone gives them
    /// back to its storage; they can be fetched again).
    ///
    /// # Errors
    /// As [`entry`](Self::entry); [`Error::Node`] if storage fails.
    pub async fn clear(&self, path: &str) -> Result<Cleared, Error> {
        let path = path.to_owned();
        let ranges = self.place.run(move |s| s.clear(&path)).await?;
        self.clear_ranges(ranges).await
    }

    /// `clearAll()`: deletes every local blobs block.
    ///
    /// # Errors
    /// [`Error::Node`] if storage fails.
    pub async fn clear_all(&self) -> Result<Cleared, Error> {
        let range = self.place.shared.state().clear_all();
        self.clear_ranges(range.into_iter().collect()).await
    }

    async fn clear_ranges(&self, ranges: Vec<(u64, u64)>) -> Result<Cleared, Error> {
        let blobs = self.place.blobs;
        let cleared = self
            .place
            .node
            .call_reply(move |ep| {
                let log = ep.log_mut(blobs).ok_or(crate::Error::NoSuchCore)?;
                let mut c = Cleared::default();
                for (start, end) in ranges {
                    let end = end.min(log.length());
                    let held = (start..end).filter(|&i| log.has(i, i + 1)).count() as u64;
                    let out = log.clear(start, end).map_err(crate::Error::Core)?;
                    c.blocks += held;
                    c.bytes += out.bytes_reclaimed;
                }
                Ok(c)
            })
            .await?;
        Ok(cleared)
    }

    /// `truncate(version, {blobs})`: truncates the blobs core to what the db needs at
    /// `version` (or to `blobs`), then the db to `version`.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Drive`] ([`DriveError::BadTruncation`] past a
    /// core's length); [`Error::Node`].
    pub async fn truncate(&self, version: u64, blobs: Option<u64>) -> Result<(), Error> {
        self.check_writable()?;
        let _turn = self.place.shared.writes.take().await;
        let to = self.place.run(move |s| s.truncate(version, blobs)).await?;
        let p = &self.place;
        p.node.truncate_reply(p.blobs, to.blobs).await?;
        p.node.truncate_reply(p.db, to.db).await?;
        p.refresh().await
    }
}

/// A write stream ([`Drive::writer`]): [`write`](Self::write) chunks, then
/// [`finish`](Self::finish). Dropping it unfinished leaves the blocks written so far in
/// the blobs core and no entry, as a destroyed JS stream does.
pub struct Writer<S: Storage, A: Adapter> {
    drive: Drive<S, A>,
    job: Option<Job<WriteStream>>,
    _turn: Turn,
}

impl<S: Storage, A: Adapter> std::fmt::Debug for Writer<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Writer<S, A> {
    async fn step(
        &mut self,
        feed: impl FnOnce(&mut WriteStream) + Send + 'static,
    ) -> Result<Option<BlobId>, Error> {
        let job = match self.job.take() {
            Some(Job::Run(mut m)) => {
                feed(&mut m);
                Job::Run(m)
            }
            Some(Job::Make(make)) => Job::Make(Box::new(move |s| {
                let mut m = make(s);
                feed(&mut m);
                m
            })),
            None => return Err(Error::ReadOnly("the write stream has failed or finished")),
        };
        let (machine, mut out) = self.drive.place.drive(job, 1, |_| false).await?;
        self.job = Some(Job::Run(machine));
        Ok(out.pop().flatten())
    }

    /// Writes a chunk (its blocks go to the blobs core as they fill).
    ///
    /// # Errors
    /// [`Error::Node`] if storage fails; the stream cannot go on then.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.step(move |m| m.write(chunk)).await.map(drop)
    }

    /// Writes several chunks (each one block) in one visit to the driver.
    ///
    /// # Errors
    /// As [`write`](Self::write).
    pub async fn write_chunks(&mut self, chunks: Vec<Bytes>) -> Result<(), Error> {
        self.step(move |m| chunks.into_iter().for_each(|c| m.write(c)))
            .await
            .map(drop)
    }

    /// Ends the stream: the last blocks, then the entry in the db. Answers the blob id.
    ///
    /// # Errors
    /// As [`write`](Self::write); [`Error::Drive`] for a path JS refuses.
    pub async fn finish(mut self) -> Result<BlobId, Error> {
        let id = self.step(WriteStream::end).await?;
        self.job = None;
        id.ok_or(Error::Drive(DriveError::NoBlob))
    }
}
