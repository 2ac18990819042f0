//! Hyperbee over a core of a [`Node`]: the sans-IO machines of `ferrocore-hyperbee`
//! driven once for every adapter.
//!
//! [`Bee`] is a handle to one bee (the key-value B-tree JS `hyperbee@2.27.3` writes, block
//! for block) on one core of a node. Its methods are futures (`.await` them on any
//! runtime; the blocking adapter waits for them on the calling thread) and its walks
//! ([`Bee::range`], [`Bee::history`], [`Bee::diff`]) are [`Entries`] streams. Each
//! operation runs in the node's driver against the core's log, reading local blocks
//! directly; a block the core lacks (a sparse clone) is fetched through replication with
//! the bee's deadline ([`BeeOptions::timeout`]) and the operation goes on (see
//! [`run`](self) for the loop). Keys and values are bytes; [`codec`] turns them into
//! text, JSON or your own types.
//!
//! The `hyperbee` extension is on by default ([`BeeOptions::extension`]), as for a JS
//! Hyperbee: an open bee answers peers' `get`/`iterator` requests with `Cache` replies
//! naming the blocks their lookups touch (read from local blocks only, inside the driver,
//! at most `ferrocore_hyperbee::ext::MAX_ACTIVE_BATCH` blocks a request), downloads the
//! blocks peers' replies name, and a read that waits for a remote block broadcasts its
//! request (a `get` once, a range its snapshot once per 2,048 blocks it asks).
//!
//! ```no_run
//! # async fn demo<S: ferrocore::storage::Storage + Send + 'static, A: ferrocore_driver::Adapter>(
//! #     node: ferrocore_driver::Node<S, A>, core: ferrocore::replication::CoreId,
//! # ) -> Result<(), ferrocore_driver::bee::Error> {
//! use ferrocore_driver::bee::{Bee, BeeOptions, RangeOptions};
//!
//! let bee = Bee::open(&node, core, BeeOptions::default()).await?;
//! bee.put("a", "1").await?;
//! assert_eq!(bee.get("a").await?.unwrap().value.as_deref(), Some(&b"1"[..]));
//! let mut keys = bee.range(RangeOptions::default());
//! while let Some(entry) = keys.next().await {
//!     println!("{:?}", entry?.key);
//! }
//! # Ok(())
//! # }
//! ```

mod clear;
pub mod codec;
mod ext;
mod live;
mod run;
mod stream;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::CoreId;
use ferrocore::storage::Storage;
use ferrocore::wire::bee::Header;
use ferrocore_hyperbee::sub::{Sub, SEP};
use ferrocore_hyperbee::{Bee as State, Diff, History, Range};

pub use clear::{ClearOptions, Cleared};
pub use ext::{ExtensionHint, DOWNLOAD_TIMEOUT, MAX_MESSAGE, MESSAGES_PER_SECOND, MESSAGE_BURST};
pub use ferrocore_hyperbee::sub::KeyRange;
pub use ferrocore_hyperbee::{
    BeeConfig, BeeError, DiffEntry, Entry, HistoryEntry, HistoryOptions, Op, RangeOptions,
    WriteOutcome,
};
pub use live::{Change, Check, Differ, HistoryLive, Live, WatchEntry, WatchOptions, WatchRange};
pub use stream::{Entries, Strip, BATCH};

use crate::node::Adapter;
use crate::Node;
use run::{Job, Place, Shared};

/// How a [`Bee`] reads and writes.
#[derive(Debug, Clone)]
pub struct BeeOptions {
    /// How long a read waits for a block the core lacks (`None`: no limit). Default 30 s.
    pub timeout: Option<Duration>,
    /// Fetch blocks the core lacks from peers (default true); false makes such a read fail
    /// with [`Error::NotLocal`].
    pub fetch: bool,
    /// The sans-IO bee's configuration (cache size, `alwaysDuplicate`, header metadata).
    pub config: BeeConfig,
    /// The `hyperbee` extension (default true, as in JS): answer peers' requests with the
    /// blocks their lookups need, download what peers' answers name, and broadcast a
    /// request when a read waits for a remote block.
    pub extension: bool,
}

impl Default for BeeOptions {
    fn default() -> Self {
        BeeOptions {
            timeout: Some(Duration::from_secs(30)),
            fetch: true,
            config: BeeConfig::default(),
            extension: true,
        }
    }
}

/// Why a bee operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Block 0 of the core is not a hyperbee header.
    #[error("not a hyperbee: {0}")]
    NotABee(String),
    /// A block breaks the bee's format (the writer's fault, or the disk's).
    #[error(transparent)]
    Bee(#[from] BeeError),
    /// The block is not stored locally and [`BeeOptions::fetch`] is off.
    #[error("block {0} is not stored locally")]
    NotLocal(u64),
    /// A write on a bee that cannot take it (a read-only core, a checkout).
    #[error("read-only: {0}")]
    ReadOnly(&'static str),
    /// The node failed: a fetch that timed out or failed ([`crate::Error::Request`]),
    /// storage ([`crate::Error::Core`]), a node that shut down.
    #[error(transparent)]
    Node(#[from] crate::Error),
}

/// Blocks read by a bee's operations so far (all its handles together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BeeStats {
    /// Fetched from peers.
    pub fetched: u64,
    /// Read from local storage (each block once while it stays in the cache).
    pub local: u64,
}

/// A Hyperbee on one core of a node (see the [module docs](self)). Clones share the bee;
/// [`checkout`](Self::checkout) and [`sub`](Self::sub) make handles that read a version or
/// a sub-bee of it.
pub struct Bee<S: Storage, A: Adapter> {
    place: Place<S, A>,
    writable: bool,
    sub: Option<Sub>,
}

impl<S: Storage, A: Adapter> Clone for Bee<S, A> {
    fn clone(&self) -> Self {
        Bee {
            place: self.place.clone(),
            writable: self.writable,
            sub: self.sub.clone(),
        }
    }
}

impl<S: Storage, A: Adapter> std::fmt::Debug for Bee<S, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bee")
            .field("core", &self.place.core)
            .field("version", &self.place.pin)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

/// Keeps iterating while outputs come (an iterator's `Some`).
fn once<T>(_: &T) -> bool {
    false
}

impl<S: Storage + Send + 'static, A: Adapter> Bee<S, A> {
    /// Opens the bee on `core` (added to `node`): reads its length and, if it has blocks,
    /// checks that block 0 is a hyperbee header (fetching it if need be). A writable empty
    /// core gets its header with the first write, as in JS.
    ///
    /// # Errors
    /// [`Error::NotABee`]; [`Error::Node`] if the core is unknown or block 0 cannot be read.
    pub async fn open(node: &Node<S, A>, core: CoreId, options: BeeOptions) -> Result<Self, Error> {
        let info = node
            .call_reply(move |ep| crate::CoreInfo::of(ep, core))
            .await?;
        let bee = Bee {
            place: Place {
                node: node.clone(),
                core,
                shared: Arc::new(Shared::new(State::new(info.length, options.config))),
                pin: None,
                timeout: options.timeout,
                fetch: options.fetch,
                extension: options.extension,
            },
            writable: info.writable,
            sub: None,
        };
        if options.extension {
            let handler = ext::handler(core, &bee.place.shared);
            node.register_extension(core, ferrocore_hyperbee::ext::NAME, handler);
        }
        bee.check_header(info.length).await?;
        Ok(bee)
    }

    async fn check_header(&self, length: u64) -> Result<(), Error> {
        if length == 0 || self.place.shared.header_checked.load(Ordering::Relaxed) {
            return Ok(());
        }
        let block = self.place.block(0).await?;
        match Header::decode(&block) {
            Ok(h) if h.is_hyperbee() => {
                self.place
                    .shared
                    .header_checked
                    .store(true, Ordering::Relaxed);
                Ok(())
            }
            Ok(h) => Err(Error::NotABee(format!(
                "block 0 names the protocol {:?}, not \"hyperbee\"",
                h.protocol
            ))),
            Err(e) => Err(Error::NotABee(format!(
                "block 0 is not a hyperbee header ({e})"
            ))),
        }
    }

    /// The core the bee is on.
    #[must_use]
    pub fn core(&self) -> CoreId {
        self.place.core
    }

    /// True if this handle can write (a writable core, not a checkout).
    #[must_use]
    pub fn writable(&self) -> bool {
        self.writable && self.place.pin.is_none()
    }

    /// The version read: a checkout's, else the newest this bee knows (`max(1, length)`
    /// as of its last operation).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.place
            .pin
            .unwrap_or_else(|| self.place.shared.state().version())
    }

    /// Blocks read so far, fetched and local.
    #[must_use]
    pub fn stats(&self) -> BeeStats {
        let s = &self.place.shared;
        BeeStats {
            fetched: s.fetched.load(Ordering::Relaxed),
            local: s.local.load(Ordering::Relaxed),
        }
    }

    /// Learns the newest length from the connected peers (a clone's `update()`), checks
    /// the header of a bee that was empty, and answers the version.
    ///
    /// # Errors
    /// [`Error::Node`] if the update fails or times out; [`Error::NotABee`].
    pub async fn update(&self) -> Result<u64, Error> {
        let length = self
            .place
            .node
            .update_reply(self.place.core, self.place.timeout)
            .await?;
        self.check_header(length).await?;
        self.place.shared.state().set_length(length);
        Ok(self.version())
    }

    /// A handle reading `version` (JS `checkout(version)`; 0 reads as 1). It cannot write.
    #[must_use]
    pub fn checkout(&self, version: u64) -> Self {
        let mut b = self.clone();
        b.place.pin = Some(version.max(1));
        b
    }

    /// A handle reading the current version from now on (JS `snapshot()`).
    #[must_use]
    pub fn snapshot(&self) -> Self {
        self.checkout(self.version())
    }

    /// The sub-bee `name` (JS `sub(name)`: keys stored as `prefix ‖ name ‖ 0x00 ‖ key`;
    /// its ranges and diffs cover its own keys only, and hand them back without the
    /// prefix).
    #[must_use]
    pub fn sub(&self, name: impl AsRef<[u8]>) -> Self {
        self.sub_with(name, None)
    }

    /// [`sub`](Self::sub) with its own separator (JS `sub(name, { sep })`).
    #[must_use]
    pub fn sub_with(&self, name: impl AsRef<[u8]>, sep: Option<&[u8]>) -> Self {
        let sub = match &self.sub {
            Some(s) => s.sub(name.as_ref(), sep),
            None => Sub::new(name.as_ref(), sep, SEP),
        };
        let mut b = self.clone();
        b.sub = Some(sub);
        b
    }

    fn key(&self, key: Bytes) -> Bytes {
        match &self.sub {
            Some(s) => s.key(&key),
            None => key,
        }
    }

    fn strip<T: Strip>(&self, t: T) -> T {
        match &self.sub {
            Some(s) => t.strip(s),
            None => t,
        }
    }

    /// Applies `ops` as one batch: one append of all its blocks (JS `batch()` …
    /// `flush()`). Writes of one bee take turns.
    ///
    /// # Errors
    /// [`Error::ReadOnly`]; [`Error::Bee`] on a damaged tree; [`Error::Node`] if storage
    /// fails (nothing is appended then).
    pub async fn batch(&self, ops: Vec<Op>) -> Result<WriteOutcome, Error> {
        if self.place.pin.is_some() {
            return Err(Error::ReadOnly("a checkout cannot write"));
        }
        if !self.writable {
            return Err(Error::ReadOnly("the core is not writable"));
        }
        let ops: Vec<Op> = ops
            .into_iter()
            .map(|op| match op {
                Op::Put { key, value, cas } => Op::Put {
                    key: self.key(key),
                    value,
                    cas,
                },
                Op::Del { key, cas } => Op::Del {
                    key: self.key(key),
                    cas,
                },
            })
            .collect();
        let _turn = self.place.shared.writes.take().await;
        let job = Job::Make(Box::new(move |_| ferrocore_hyperbee::Write::new(ops)));
        let (_, mut out) = self.place.drive(job, 1, once).await?;
        Ok(out.pop().unwrap_or_default())
    }

    async fn one(&self, op: Op) -> Result<bool, Error> {
        let out = self.batch(vec![op]).await?;
        Ok(out.applied.first().copied().unwrap_or(false))
    }

    /// `put(key, value)`.
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub async fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        self.one(Op::put(key, Some(value.into()))).await.map(drop)
    }

    /// `put(key, value, { cas })`: `cas(existing, new)` decides whether a put over an
    /// existing key is written (keys as stored, with a sub's prefix). True if it was.
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub async fn put_cas(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        cas: impl FnMut(&Entry, &Entry) -> bool + Send + 'static,
    ) -> Result<bool, Error> {
        self.one(Op::Put {
            key: key.into(),
            value: Some(value.into()),
            cas: Some(Box::new(cas)),
        })
        .await
    }

    /// `del(key)`. True if a block was written (the key was there).
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub async fn del(&self, key: impl Into<Bytes>) -> Result<bool, Error> {
        self.one(Op::del(key)).await
    }

    /// `del(key, { cas })`: `cas(existing, deletion)` decides. True if a block was written.
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub async fn del_cas(
        &self,
        key: impl Into<Bytes>,
        cas: impl FnMut(&Entry, &Entry) -> bool + Send + 'static,
    ) -> Result<bool, Error> {
        self.one(Op::Del {
            key: key.into(),
            cas: Some(Box::new(cas)),
        })
        .await
    }

    /// `get(key)`: the entry, `None` if absent.
    ///
    /// # Errors
    /// [`Error::Bee`] on a damaged tree; [`Error::Node`] if a block cannot be had in time.
    pub async fn get(&self, key: impl Into<Bytes>) -> Result<Option<Entry>, Error> {
        let key = self.key(key.into());
        let job = Job::Make(Box::new(move |v: ferrocore_hyperbee::View| v.get(key)));
        let (_, mut out) = self.place.drive(job, 1, once).await?;
        Ok(out.pop().flatten().map(|e| self.strip(e)))
    }

    /// `getBySeq(seq)`: the key and value block `seq` wrote (a deletion's value is
    /// `None`).
    ///
    /// # Errors
    /// [`Error::Bee`] for a seq outside the version; as [`get`](Self::get).
    pub async fn get_by_seq(&self, seq: u64) -> Result<Entry, Error> {
        let job = Job::Make(Box::new(move |v: ferrocore_hyperbee::View| {
            v.get_by_seq(seq)
        }));
        let (_, mut out) = self.place.drive(job, 1, once).await?;
        let entry = out.pop().ok_or(BeeError::Poisoned)?;
        Ok(self.strip(entry))
    }

    /// `peek(range)`: the first entry of a range.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn peek(&self, options: RangeOptions) -> Result<Option<Entry>, Error> {
        let mut options = self.range_options(options);
        options.limit = Some(1);
        self.range_raw(options).next().await.transpose()
    }

    fn range_options(&self, options: RangeOptions) -> RangeOptions {
        match &self.sub {
            Some(s) => s.range_options(&options),
            None => options,
        }
    }

    fn range_raw(&self, options: RangeOptions) -> Entries<S, A, Range, Entry> {
        let job = Job::Make(Box::new(move |v: ferrocore_hyperbee::View| {
            v.range(options)
        }));
        Entries::new(self.place.clone(), self.sub.clone(), job)
    }

    /// `createRangeIterator(range)`: entries in key order (bounds, `reverse`, `limit`).
    #[must_use]
    pub fn range(&self, options: RangeOptions) -> Entries<S, A, Range, Entry> {
        self.range_raw(self.range_options(options))
    }

    /// `createHistoryStream(options)`: every block of a seq range, puts and deletions.
    #[must_use]
    pub fn history(&self, options: HistoryOptions) -> Entries<S, A, History, HistoryEntry> {
        let job = Job::Make(Box::new(move |v: ferrocore_hyperbee::View| {
            v.history(options)
        }));
        Entries::new(self.place.clone(), self.sub.clone(), job)
    }

    /// `createDiffStream(other, range)`: the entries that differ between this version
    /// (`left`) and version `other` (`right`), in key order.
    #[must_use]
    pub fn diff(&self, other: u64, range: KeyRange) -> Entries<S, A, Diff, DiffEntry> {
        let range = match &self.sub {
            Some(s) => s.range(&range),
            None => range,
        };
        let job = Job::Make(Box::new(move |v: ferrocore_hyperbee::View| {
            v.diff(other, range)
        }));
        Entries::new(self.place.clone(), self.sub.clone(), job)
    }

    /// The main handle of this bee (no checkout), for the live reads.
    fn live_handle(&self) -> Self {
        let mut b = self.clone();
        b.place.pin = None;
        b
    }

    async fn core_info(&self) -> Result<crate::CoreInfo, Error> {
        let core = self.place.core;
        Ok(self
            .place
            .node
            .call_reply(move |ep| crate::CoreInfo::of(ep, core))
            .await?)
    }

    /// JS `watch(range)`: a [`Live`] stream yielding a [`Change`] (the current version
    /// and the previous one) each time an append or truncation of the core changed the
    /// entries within `range` (a diff of the two versions is not empty), and always on a
    /// truncation (a fork change). It starts at the current version; keys of a sub are
    /// the sub's. Blocks a diff lacks are fetched as for any read.
    ///
    /// # Errors
    /// [`Error::Node`] if the core is unknown.
    pub async fn watch(&self, range: KeyRange) -> Result<Live<WatchRange<S, A>>, Error> {
        self.watch_with(range, WatchOptions::default()).await
    }

    /// JS `watch(range, { eager, differ })`: [`watch`](Self::watch) starting from version
    /// 1 when `eager`, counting only the differences `differ` accepts. (JS's `map` and
    /// `onchange` are what a stream's `map` and the loop over it do.)
    ///
    /// # Errors
    /// As [`watch`](Self::watch).
    pub async fn watch_with(
        &self,
        range: KeyRange,
        options: WatchOptions,
    ) -> Result<Live<WatchRange<S, A>>, Error> {
        // A sub's diffs take the range in its own keys.
        let bee = self.live_handle();
        // Subscribed before the version is read: no change falls in between.
        let live = Live::subscribe(&bee);
        let info = bee.core_info().await?;
        let start = if options.eager { 1 } else { info.length.max(1) };
        let check = WatchRange::new(bee, range, start, info.fork, options.differ);
        Ok(live.with(check))
    }

    /// JS `getAndWatch(key)`: the [`Live`] stream of `key`'s entry, which yields the new
    /// entry (`None`: deleted) each time the key's seq changes, and after a truncation
    /// (JS emits `update`). [`WatchEntry::entry`] (through [`Live::state`]) is the entry
    /// as last seen, starting with the current one.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub async fn get_and_watch(
        &self,
        key: impl Into<Bytes>,
    ) -> Result<Live<WatchEntry<S, A>>, Error> {
        let bee = self.live_handle();
        let key: Bytes = key.into();
        let live = Live::subscribe(&bee);
        let info = bee.core_info().await?;
        let entry = bee.get(key.clone()).await?;
        Ok(live.with(WatchEntry::new(bee, key, entry, &info)))
    }

    /// JS `createHistoryStream({ live: true, ... })`: the history from `options.gte` /
    /// `gt` (resolved against the version at the first poll) on, and then each block
    /// appended later, as it comes; `lt`/`lte` and `reverse` are ignored (JS refuses a
    /// live reverse stream), `limit` counts. After a truncation below what was yielded,
    /// the walk goes on from the length the core reports it kept (a replica's is
    /// conservative, so blocks below the writer's truncation point may come again).
    #[must_use]
    pub fn history_live(&self, options: HistoryOptions) -> Live<HistoryLive<S, A>> {
        let bee = self.live_handle();
        Live::new(&bee, HistoryLive::new(bee.clone(), options))
    }
}
