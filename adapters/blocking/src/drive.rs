//! Hyperdrive on the blocking adapter: [`ferrocore_driver::drive`]'s handle (the same loop
//! every adapter runs), each method waited for on the calling thread, each walk an
//! [`Iterator`], a write stream a [`std::io::Write`].
//!
//! ```no_run
//! # fn demo(node: ferrocore_blocking::Node<ferrocore::storage::MemoryStorage>,
//! #         db: ferrocore::replication::CoreId, blobs: ferrocore::replication::CoreId,
//! # ) -> Result<(), ferrocore_blocking::drive::Error> {
//! use ferrocore_blocking::drive::{Drive, DriveOptions, ListOptions, PutOptions};
//!
//! let drive = Drive::open(&node, db, blobs, DriveOptions::default())?;
//! drive.put("/hello.txt", "hello world".into(), PutOptions::default())?;
//! for node in drive.list("/", ListOptions::default()) {
//!     println!("{}", node?.path);
//! }
//! # Ok(())
//! # }
//! ```

use bytes::Bytes;
use ferrocore::replication::CoreId;
use ferrocore::storage::Storage;
use ferrocore_driver::drive::{self as driver, Items};
use ferrocore_hyperdrive::drive::{Diff, List, ReadStream, Readdir};
use ferrocore_hyperdrive::Machine;
use ferrocore_wire::json::Value;

pub use ferrocore_driver::drive::{
    BlobId, Change, Cleared, DiffNode, DriveConfig, DriveError, DriveNode, DriveOp, DriveOptions,
    DriveStats, Entry, Error, GetOptions, ListOptions, PathError, PutOptions, ReadOptions,
    TruncateTo, WatchRange, Which, WriteOutcome, WriteStreamOptions,
};

use crate::park::block_on;
use crate::Blocking;

/// A Hyperdrive on two cores of a blocking [`Node`](crate::Node): see
/// [`ferrocore_driver::drive::Drive`], whose methods these wait for.
pub struct Drive<S: Storage>(driver::Drive<S, Blocking>);

impl<S: Storage> Clone for Drive<S> {
    fn clone(&self) -> Self {
        Drive(self.0.clone())
    }
}

impl<S: Storage> std::fmt::Debug for Drive<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A walk ([`Drive::list`], [`Drive::readdir`], [`Drive::diff`], [`Drive::read_stream`])
/// as an iterator of results; it ends after the first error.
pub struct Iter<S: Storage, M: Machine<Output = Option<T>>, T>(Items<S, Blocking, M, T>);

impl<S, M, T> Iterator for Iter<S, M, T>
where
    S: Storage + Send + 'static,
    M: Machine<Output = Option<T>> + Send + 'static,
    T: Send + 'static,
{
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        block_on(self.0.next())
    }
}

impl<S: Storage, M: Machine<Output = Option<T>>, T> std::fmt::Debug for Iter<S, M, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Storage + Send + 'static> Drive<S> {
    /// Opens the drive on cores `db` and `blobs` ([`driver::Drive::open`]).
    ///
    /// # Errors
    /// [`Error::NotADrive`]; [`Error::Node`].
    pub fn open(
        node: &crate::Node<S>,
        db: CoreId,
        blobs: CoreId,
        options: DriveOptions,
    ) -> Result<Self, Error> {
        block_on(driver::Drive::open(node, db, blobs, options)).map(Drive)
    }

    /// The async handle (for an async caller beside this thread's).
    #[must_use]
    pub fn inner(&self) -> &driver::Drive<S, Blocking> {
        &self.0
    }

    /// The db core.
    #[must_use]
    pub fn db(&self) -> CoreId {
        self.0.db()
    }

    /// The blobs core.
    #[must_use]
    pub fn blobs(&self) -> CoreId {
        self.0.blobs()
    }

    /// True if this handle can write.
    #[must_use]
    pub fn writable(&self) -> bool {
        self.0.writable()
    }

    /// The version read ([`driver::Drive::version`]).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.0.version()
    }

    /// Blocks read so far.
    #[must_use]
    pub fn stats(&self) -> DriveStats {
        self.0.stats()
    }

    /// [`driver::Drive::update`].
    ///
    /// # Errors
    /// As there.
    pub fn update(&self) -> Result<u64, Error> {
        block_on(self.0.update())
    }

    /// [`driver::Drive::checkout`].
    #[must_use]
    pub fn checkout(&self, version: u64) -> Self {
        Drive(self.0.checkout(version))
    }

    /// [`driver::Drive::snapshot`].
    #[must_use]
    pub fn snapshot(&self) -> Self {
        Drive(self.0.snapshot())
    }

    /// [`driver::Drive::watch`]: each change as a [`Change`] (`next` blocks until one).
    ///
    /// # Errors
    /// As there.
    pub fn watch(&self, folder: &str) -> Result<crate::bee::Live<WatchRange<S, Blocking>>, Error> {
        block_on(self.0.watch(folder)).map(crate::bee::Live::new)
    }

    /// [`driver::Drive::batch`].
    ///
    /// # Errors
    /// As there.
    pub fn batch(&self, ops: Vec<DriveOp>) -> Result<WriteOutcome, Error> {
        block_on(self.0.batch(ops))
    }

    /// [`driver::Drive::put`].
    ///
    /// # Errors
    /// As there.
    pub fn put(&self, path: &str, content: Bytes, opts: PutOptions) -> Result<BlobId, Error> {
        block_on(self.0.put(path, content, opts))
    }

    /// [`driver::Drive::del`].
    ///
    /// # Errors
    /// As there.
    pub fn del(&self, path: &str) -> Result<(), Error> {
        block_on(self.0.del(path))
    }

    /// [`driver::Drive::symlink`].
    ///
    /// # Errors
    /// As there.
    pub fn symlink(&self, path: &str, target: &str, metadata: Value) -> Result<(), Error> {
        block_on(self.0.symlink(path, target, metadata))
    }

    /// [`driver::Drive::writer`], as a [`std::io::Write`] cutting what it is given into
    /// chunks of [`Writer::CHUNK`] bytes.
    ///
    /// # Errors
    /// As there.
    pub fn writer(&self, path: &str, opts: WriteStreamOptions) -> Result<Writer<S>, Error> {
        let w = block_on(self.0.writer(path, opts))?;
        Ok(Writer {
            inner: Some(w),
            buf: Vec::new(),
            full: Vec::new(),
        })
    }

    /// [`driver::Drive::entry`].
    ///
    /// # Errors
    /// As there.
    pub fn entry(&self, path: &str, follow: bool) -> Result<Option<DriveNode>, Error> {
        block_on(self.0.entry(path, follow))
    }

    /// [`driver::Drive::exists`].
    ///
    /// # Errors
    /// As there.
    pub fn exists(&self, path: &str) -> Result<bool, Error> {
        block_on(self.0.exists(path))
    }

    /// [`driver::Drive::get`].
    ///
    /// # Errors
    /// As there.
    pub fn get(&self, path: &str) -> Result<Option<Bytes>, Error> {
        block_on(self.0.get(path))
    }

    /// [`driver::Drive::get_with`].
    ///
    /// # Errors
    /// As there.
    pub fn get_with(&self, path: &str, opts: GetOptions) -> Result<Option<Bytes>, Error> {
        block_on(self.0.get_with(path, opts))
    }

    /// [`driver::Drive::read_stream`].
    #[must_use]
    pub fn read_stream(&self, path: &str, range: ReadOptions) -> Iter<S, ReadStream, Bytes> {
        Iter(self.0.read_stream(path, range))
    }

    /// [`driver::Drive::has`].
    ///
    /// # Errors
    /// As there.
    pub fn has(&self, path: &str) -> Result<bool, Error> {
        block_on(self.0.has(path))
    }

    /// [`driver::Drive::list`].
    #[must_use]
    pub fn list(&self, folder: &str, opts: ListOptions) -> Iter<S, List, DriveNode> {
        Iter(self.0.list(folder, opts))
    }

    /// [`driver::Drive::readdir`].
    #[must_use]
    pub fn readdir(&self, folder: &str) -> Iter<S, Readdir, String> {
        Iter(self.0.readdir(folder))
    }

    /// [`driver::Drive::diff`].
    #[must_use]
    pub fn diff(&self, from: u64, folder: &str) -> Iter<S, Diff, DiffNode> {
        Iter(self.0.diff(from, folder))
    }

    /// [`driver::Drive::blobs_length`].
    ///
    /// # Errors
    /// As there.
    pub fn blobs_length(&self) -> Result<u64, Error> {
        block_on(self.0.blobs_length())
    }

    /// [`driver::Drive::download`].
    ///
    /// # Errors
    /// As there.
    pub fn download(&self, path: &str) -> Result<u64, Error> {
        block_on(self.0.download(path))
    }

    /// [`driver::Drive::clear`].
    ///
    /// # Errors
    /// As there.
    pub fn clear(&self, path: &str) -> Result<Cleared, Error> {
        block_on(self.0.clear(path))
    }

    /// [`driver::Drive::clear_all`].
    ///
    /// # Errors
    /// As there.
    pub fn clear_all(&self) -> Result<Cleared, Error> {
        block_on(self.0.clear_all())
    }

    /// [`driver::Drive::truncate`].
    ///
    /// # Errors
    /// As there.
    pub fn truncate(&self, version: u64, blobs: Option<u64>) -> Result<(), Error> {
        block_on(self.0.truncate(version, blobs))
    }
}

/// A write stream ([`Drive::writer`]): a [`std::io::Write`]; call
/// [`finish`](Self::finish) to store the entry (dropping it unfinished stores none).
pub struct Writer<S: Storage> {
    inner: Option<driver::Writer<S, Blocking>>,
    /// The chunk being filled.
    buf: Vec<u8>,
    /// Full chunks not yet handed to the drive (sent [`Writer::CHUNKS`] at a time).
    full: Vec<Bytes>,
}

impl<S: Storage> std::fmt::Debug for Writer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl<S: Storage + Send + 'static> Writer<S> {
    /// The size of the chunks handed to the drive (one 64 KiB blobs block each).
    pub const CHUNK: usize = 64 * 1024;

    /// Full chunks handed to the drive in one visit (one append of 16 blocks, as
    /// Hyperblobs batches them).
    pub const CHUNKS: usize = 16;

    /// Hands the full chunks to the drive.
    fn send(&mut self) -> Result<(), Error> {
        let w = self
            .inner
            .as_mut()
            .ok_or(Error::ReadOnly("the write stream has failed or finished"))?;
        let r = block_on(w.write_chunks(std::mem::take(&mut self.full)));
        if r.is_err() {
            self.inner = None;
        }
        r
    }

    /// Queues a full chunk, sending the queue once it holds [`Self::CHUNKS`].
    fn queue(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.full.push(chunk);
        if self.full.len() >= Self::CHUNKS {
            self.send()?;
        }
        Ok(())
    }

    /// Writes `data` without copying it when it lines up with the chunks (a whole
    /// [`Self::CHUNK`] while none is being filled), else as [`std::io::Write::write`].
    ///
    /// # Errors
    /// [`driver::Writer::write`]'s.
    pub fn write_bytes(&mut self, data: Bytes) -> Result<(), Error> {
        if self.buf.is_empty() && data.len() == Self::CHUNK {
            return self.queue(data);
        }
        self.fill(&data)
    }

    /// Copies `data` into the chunk being filled, queueing each chunk that fills.
    fn fill(&mut self, data: &[u8]) -> Result<(), Error> {
        let mut rest = data;
        while !rest.is_empty() {
            let take = (Self::CHUNK - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.buf.len() == Self::CHUNK {
                let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::CHUNK));
                self.queue(chunk.into())?;
            }
        }
        Ok(())
    }

    /// Writes what is buffered, ends the stream and stores the entry; answers the blob id.
    ///
    /// # Errors
    /// [`driver::Writer::finish`]'s.
    pub fn finish(mut self) -> Result<BlobId, Error> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.full.push(rest.into());
        }
        if !self.full.is_empty() {
            self.send()?;
        }
        let w = self
            .inner
            .take()
            .ok_or(Error::ReadOnly("the write stream has failed or finished"))?;
        block_on(w.finish())
    }
}

impl<S: Storage + Send + 'static> std::io::Write for Writer<S> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.fill(data).map_err(std::io::Error::other)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
