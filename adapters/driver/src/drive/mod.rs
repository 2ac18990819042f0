//! Hyperdrive over two cores of a [`Node`]: the sans-IO machines of `ferrocore-hyperdrive`
//! driven once for every adapter.
//!
//! [`Drive`] is a handle to one drive (the file system JS `hyperdrive@13.3.4` writes,
//! block for block): its db core (a Hyperbee of entries) and its blobs core (the
//! contents, as Hyperblobs lays them out), both added to the node. Its methods are futures
//! (`.await` them on any runtime; the blocking adapter waits for them on the calling
//! thread) and its walks ([`Drive::list`], [`Drive::readdir`], [`Drive::diff`],
//! [`Drive::read_stream`]) are [`Items`] streams. Each operation runs in the node's driver
//! against the two logs, reading local blocks directly; a block a core lacks (a sparse
//! clone) is fetched through replication with the drive's deadline
//! ([`DriveOptions::timeout`]) and the operation goes on, so a sparse clone fetches only
//! what it reads. Writes take turns (JS holds the cores' locks); a put appends its blob's
//! blocks to the blobs core, then its entry to the db, as JS does.
//!
//! Which cores make a drive (the `db` core of a Corestore and the blobs core whose key
//! follows from its manifest) is `ferrocore_hyperdrive::keys`; `ferrocore-store` opens
//! both in a store.
//!
//! ```no_run
//! # async fn demo<S: ferrocore::storage::Storage + Send + 'static, A: ferrocore_driver::Adapter>(
//! #     node: ferrocore_driver::Node<S, A>, db: ferrocore::replication::CoreId,
//! #     blobs: ferrocore::replication::CoreId,
//! # ) -> Result<(), ferrocore_driver::drive::Error> {
//! use ferrocore_driver::drive::{Drive, DriveOptions, ListOptions, PutOptions};
//!
//! let drive = Drive::open(&node, db, blobs, DriveOptions::default()).await?;
//! drive.put("/docs/hello.txt", "hello world".into(), PutOptions::default()).await?;
//! assert_eq!(drive.get("/docs/hello.txt").await?.as_deref(), Some(&b"hello world"[..]));
//! let mut files = drive.list("/", ListOptions::default());
//! while let Some(node) = files.next().await {
//!     let node = node?;
//!     println!("{} {:?}", node.path, node.entry.blob);
//! }
//! # Ok(())
//! # }
//! ```

mod ops;
mod run;
mod stream;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ferrocore::replication::CoreId;
use ferrocore::storage::Storage;
use ferrocore::wire::bee::Header;
use ferrocore_hyperblobs::CoreInfo as BlobsInfo;
pub(crate) use ferrocore_hyperdrive::drive::Drive as State;

pub use ferrocore_hyperblobs::{BlobId, ReadOptions};
pub use ferrocore_hyperdrive::drive::{
    DiffNode, DriveConfig, DriveError, DriveOp, GetOptions, ListOptions, TruncateTo, WriteOutcome,
    WriteStreamOptions,
};
pub use ferrocore_hyperdrive::{Entry, Node as DriveNode, PathError};
pub use ops::{Cleared, PutOptions, Writer};
pub use run::Which;
pub use stream::{Items, BATCH};

pub use crate::bee::{Change, Live, WatchRange};
use crate::node::Adapter;
use crate::Node;
use run::{Job, Place, Shared};

/// How a [`Drive`] reads and writes.
#[derive(Debug, Clone)]
pub struct DriveOptions {
    /// How long a read waits for a block a core lacks (`None`: no limit). Default 30 s.
    pub timeout: Option<Duration>,
    /// Fetch blocks the cores lack from peers (default true); false makes such a read fail
    /// with [`Error::NotLocal`].
    pub fetch: bool,
    /// The sans-IO drive's configuration (blob block size, the db bee's cache).
    pub config: DriveConfig,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            timeout: Some(Duration::from_secs(30)),
            fetch: true,
            config: DriveConfig::default(),
        }
    }
}

/// Why a drive operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Block 0 of the db core is not a hyperbee header.
    #[error("not a hyperdrive: {0}")]
    NotADrive(String),
    /// The drive's blocks break its format (the writer's fault, or the disk's), a path JS
    /// refuses, or one of JS's errors (see [`DriveError`]).
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// The block is not stored locally and [`DriveOptions::fetch`] is off.
    #[error("{0:?} block {1} is not stored locally")]
    NotLocal(Which, u64),
    /// A write on a drive that cannot take it (a read-only core, a checkout).
    #[error("read-only: {0}")]
    ReadOnly(&'static str),
    /// Watching the db failed (see [`crate::bee::Error`]).
    #[error(transparent)]
    Watch(#[from] crate::bee::Error),
    /// The node failed: a fetch that timed out or failed ([`crate::Error::Request`]),
    /// storage ([`crate::Error::Core`]), a node that shut down.
    #[error(transparent)]
    Node(#[from] crate::Error),
}

impl From<PathError> for Error {
    fn from(e: PathError) -> Self {
        Error::Drive(DriveError::Path(e))
    }
}

/// Blocks read by a drive's operations so far (all its handles together, both cores).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DriveStats {
    /// Fetched from peers.
    pub fetched: u64,
    /// Read from local storage.
    pub local: u64,
}

/// A Hyperdrive on two cores of a node (see the [module docs](self)). Clones share the
/// drive; [`checkout`](Self::checkout) makes a handle that reads one version.
pub struct Drive<S: Storage, A: Adapter> {
    place: Place<S, A>,
    writable: bool,
    pin: Option<u64>,
}

impl<S: Storage, A: Adapter> Clone for Drive<S, A> {
    fn clone(&self) -> Self {
        Drive {
            place: self.place.clone(),
            writable: self.writable,
            pin: self.pin,
        }
    }
}

impl<S: Storage, A: Adapter> std::fmt::Debug for Drive<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drive")
            .field("db", &self.place.db)
            .field("blobs", &self.place.blobs)
            .field("version", &self.pin)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Drive<S, A> {
    /// Opens the drive whose db core is `db` and blobs core `blobs` (both added to
    /// `node`): reads their sizes and, if the db has blocks, checks that block 0 is a
    /// hyperbee header (fetching it if need be). A writable empty drive gets its header
    /// with the first write, as in JS.
    ///
    /// # Errors
    /// [`Error::NotADrive`]; [`Error::Node`] if a core is unknown or block 0 cannot be
    /// read.
    pub async fn open(
        node: &Node<S, A>,
        db: CoreId,
        blobs: CoreId,
        options: DriveOptions,
    ) -> Result<Self, Error> {
        let (d, b) = node
            .call_reply(move |ep| {
                Ok((
                    crate::CoreInfo::of(ep, db)?,
                    crate::CoreInfo::of(ep, blobs)?,
                ))
            })
            .await?;
        let info = BlobsInfo {
            length: b.length,
            byte_length: b.byte_length,
        };
        let drive = Drive {
            place: Place {
                node: node.clone(),
                db,
                blobs,
                shared: Arc::new(Shared::new(State::new(options.config, d.length, info))),
                timeout: options.timeout,
                fetch: options.fetch,
            },
            writable: d.writable && b.writable,
            pin: None,
        };
        drive.check_header(d.length).await?;
        Ok(drive)
    }

    async fn check_header(&self, length: u64) -> Result<(), Error> {
        if length == 0 {
            return Ok(());
        }
        let block = self.place.block(Which::Db, 0).await?;
        match Header::decode(&block) {
            Ok(h) if h.is_hyperbee() => Ok(()),
            Ok(h) => Err(Error::NotADrive(format!(
                "block 0 of the db names the protocol {:?}, not \"hyperbee\"",
                h.protocol
            ))),
            Err(e) => Err(Error::NotADrive(format!(
                "block 0 of the db is not a hyperbee header ({e})"
            ))),
        }
    }

    /// The db core (the drive's key is its key).
    #[must_use]
    pub fn db(&self) -> CoreId {
        self.place.db
    }

    /// The blobs core.
    #[must_use]
    pub fn blobs(&self) -> CoreId {
        self.place.blobs
    }

    /// The node the drive is on.
    #[must_use]
    pub fn node(&self) -> &Node<S, A> {
        &self.place.node
    }

    /// True if this handle can write (both cores writable, not a checkout).
    #[must_use]
    pub fn writable(&self) -> bool {
        self.writable && self.pin.is_none()
    }

    /// The version read: a checkout's, else the newest this drive knows (JS
    /// `drive.version`, the db's `max(1, length)` as of its last operation).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.pin
            .unwrap_or_else(|| self.place.shared.state().version())
    }

    /// Blocks read so far, fetched and local.
    #[must_use]
    pub fn stats(&self) -> DriveStats {
        let s = &self.place.shared;
        DriveStats {
            fetched: s.fetched.load(Ordering::Relaxed),
            local: s.local.load(Ordering::Relaxed),
        }
    }

    /// Learns the newest lengths of both cores from the connected peers (a clone's
    /// `update()`), checks the header of a drive that was empty, and answers the version.
    /// The blobs core's update is best effort (a drive without files has no blobs peer).
    ///
    /// # Errors
    /// [`Error::Node`] if the db's update fails or times out; [`Error::NotADrive`].
    pub async fn update(&self) -> Result<u64, Error> {
        let p = &self.place;
        let length = p.node.update_reply(p.db, p.timeout).await?;
        let _ = p
            .node
            .update_reply(p.blobs, Some(Duration::from_secs(1)))
            .await;
        self.check_header(length).await?;
        self.place.refresh().await?;
        Ok(self.version())
    }

    /// A handle reading `version` (JS `checkout(version)`; 0 reads as 1). It cannot write.
    #[must_use]
    pub fn checkout(&self, version: u64) -> Self {
        let mut d = self.clone();
        d.pin = Some(version.max(1));
        d
    }

    /// A handle reading the current version from now on (JS `snapshot()`).
    #[must_use]
    pub fn snapshot(&self) -> Self {
        self.checkout(self.version())
    }

    /// `watch(folder)`: reports each new version of the db whose entries under `folder`
    /// differ from the last one reported (JS's watcher over the folder's key range; a
    /// truncation is always reported). Read the new version with
    /// [`checkout`](Self::checkout)`(change.current)`.
    ///
    /// # Errors
    /// [`Error::Drive`] for a bad folder; [`Error::Watch`] if the db cannot be read.
    pub async fn watch(&self, folder: &str) -> Result<Live<WatchRange<S, A>>, Error> {
        let range = ferrocore_hyperdrive::list::list_range_of(Some(folder))?;
        let options = crate::bee::BeeOptions {
            timeout: self.place.timeout,
            fetch: self.place.fetch,
            extension: false,
            ..crate::bee::BeeOptions::default()
        };
        let bee = crate::bee::Bee::open(&self.place.node, self.place.db, options).await?;
        Ok(bee.watch(range).await?)
    }

    fn view(pin: Option<u64>, state: &State) -> ferrocore_hyperdrive::View {
        pin.map_or_else(|| state.view(), |v| state.checkout(v))
    }

    fn items<M, T>(
        &self,
        make: impl FnOnce(ferrocore_hyperdrive::View) -> M + Send + 'static,
    ) -> Items<S, A, M, T>
    where
        M: ferrocore_hyperdrive::Machine<Output = Option<T>> + Send + 'static,
        T: Send + 'static,
    {
        let pin = self.pin;
        Items::new(
            self.place.clone(),
            Job::Make(Box::new(move |s| make(Self::view(pin, s)))),
        )
    }

    async fn read<M>(
        &self,
        make: impl FnOnce(ferrocore_hyperdrive::View) -> M + Send + 'static,
    ) -> Result<M::Output, Error>
    where
        M: ferrocore_hyperdrive::Machine + Send + 'static,
        M::Output: Send + 'static,
    {
        let pin = self.pin;
        self.place.run(move |s| make(Self::view(pin, s))).await
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Place<S, A> {
    /// Block `seq` of `which`: read locally if held, else fetched.
    pub(crate) async fn block(&self, which: Which, seq: u64) -> Result<bytes::Bytes, Error> {
        let core = self.core(which);
        let local = self
            .node
            .call_reply(move |ep| {
                let log = ep.log(core).ok_or(crate::Error::NoSuchCore)?;
                log.get(seq).map_err(crate::Error::Core)
            })
            .await?;
        match local {
            Some(b) => Ok(b),
            None => self.fetch(which, seq).await,
        }
    }
}
