//! Hyperbee on the blocking adapter: [`ferrocore_driver::bee`]'s handle (the same loop
//! every adapter runs), each method waited for on the calling thread, each walk an
//! [`Iterator`].
//!
//! ```no_run
//! # fn demo(node: ferrocore_blocking::Node<ferrocore::storage::MemoryStorage>,
//! #         core: ferrocore::replication::CoreId) -> Result<(), ferrocore_blocking::bee::Error> {
//! use ferrocore_blocking::bee::{Bee, BeeOptions, RangeOptions};
//!
//! let bee = Bee::open(&node, core, BeeOptions::default())?;
//! bee.put("a", "1")?;
//! for entry in bee.range(RangeOptions::default()) {
//!     let entry = entry?;
//!     println!("{:?} = {:?}", entry.key, entry.value);
//! }
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, Instant};

use crate::park::block_on;
use bytes::Bytes;
use ferrocore::replication::CoreId;
use ferrocore::storage::Storage;
use ferrocore_driver::bee::{self as driver, Entries};
use ferrocore_hyperbee::{Diff, History, Machine, Range};

pub use ferrocore_driver::bee::{
    codec, BeeConfig, BeeError, BeeOptions, BeeStats, Change, Check, ClearOptions, Cleared,
    DiffEntry, Differ, Entry, Error, HistoryEntry, HistoryLive, HistoryOptions, KeyRange, Op,
    RangeOptions, Strip, WatchEntry, WatchOptions, WatchRange, WriteOutcome,
};

use crate::Blocking;

/// A Hyperbee on a core of a blocking [`Node`](crate::Node): see
/// [`ferrocore_driver::bee::Bee`], whose methods these wait for.
pub struct Bee<S: Storage>(driver::Bee<S, Blocking>);

impl<S: Storage> Clone for Bee<S> {
    fn clone(&self) -> Self {
        Bee(self.0.clone())
    }
}

impl<S: Storage> std::fmt::Debug for Bee<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A walk ([`Bee::range`], [`Bee::history`], [`Bee::diff`]) as an iterator of results; it
/// ends after the first error.
pub struct Iter<S: Storage, M: Machine<Output = Option<T>>, T>(Entries<S, Blocking, M, T>);

impl<S, M, T> Iterator for Iter<S, M, T>
where
    S: Storage + Send + 'static,
    M: Machine<Output = Option<T>> + Send + 'static,
    T: Strip + Send + 'static,
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

/// A read that keeps going as the core changes ([`Bee::watch`], [`Bee::get_and_watch`],
/// [`Bee::history_live`]; see [`driver::Live`]) as an iterator: [`next`](Iterator::next)
/// blocks until there is an item, [`next_timeout`](Self::next_timeout) at most a while.
/// Both give `None` once the node shut down.
pub struct Live<C: Check>(driver::Live<C>, bool);

impl<C: Check> Live<C> {
    pub(crate) fn new(live: driver::Live<C>) -> Self {
        Live(live, false)
    }

    /// The next item, waiting at most `timeout` (`None`: no limit) for a change of the
    /// core; `None` if none came in time or the node shut down.
    pub fn next_timeout(&mut self, timeout: Option<Duration>) -> Option<Result<C::Item, Error>> {
        let until = timeout.map(|t| Instant::now() + t);
        loop {
            match block_on(self.0.check()) {
                Ok(Some(item)) => return Some(Ok(item)),
                Err(e) => return Some(Err(e)),
                Ok(None) => {}
            }
            let left = until.map(|u| u.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return None;
            }
            match self.0.wait_blocking(left) {
                Some(true) => {}
                Some(false) => {
                    self.1 = true;
                    return None;
                }
                None => return None,
            }
        }
    }

    /// True once the node shut down (nothing more will come).
    #[must_use]
    pub fn closed(&self) -> bool {
        self.1
    }

    /// The check's state ([`driver::Live::state`]).
    #[must_use]
    pub fn state(&self) -> Option<&C> {
        self.0.state()
    }
}

impl<C: Check> Iterator for Live<C> {
    type Item = Result<C::Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_timeout(None)
    }
}

impl<C: Check> std::fmt::Debug for Live<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Storage + Send + 'static> Bee<S> {
    /// Opens the bee on `core` ([`driver::Bee::open`]).
    ///
    /// # Errors
    /// [`Error::NotABee`]; [`Error::Node`].
    pub fn open(
        node: &ferrocore_driver::Node<S, Blocking>,
        core: CoreId,
        options: BeeOptions,
    ) -> Result<Self, Error> {
        block_on(driver::Bee::open(node, core, options)).map(Bee)
    }

    /// The async handle underneath.
    #[must_use]
    pub fn inner(&self) -> &driver::Bee<S, Blocking> {
        &self.0
    }

    /// The core the bee is on.
    #[must_use]
    pub fn core(&self) -> CoreId {
        self.0.core()
    }

    /// True if this handle can write.
    #[must_use]
    pub fn writable(&self) -> bool {
        self.0.writable()
    }

    /// The version read.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.0.version()
    }

    /// Blocks read so far.
    #[must_use]
    pub fn stats(&self) -> BeeStats {
        self.0.stats()
    }

    /// A handle reading `version`.
    #[must_use]
    pub fn checkout(&self, version: u64) -> Self {
        Bee(self.0.checkout(version))
    }

    /// A handle pinned at the current version.
    #[must_use]
    pub fn snapshot(&self) -> Self {
        Bee(self.0.snapshot())
    }

    /// The sub-bee `name`.
    #[must_use]
    pub fn sub(&self, name: impl AsRef<[u8]>) -> Self {
        Bee(self.0.sub(name))
    }

    /// The sub-bee `name` with its own separator.
    #[must_use]
    pub fn sub_with(&self, name: impl AsRef<[u8]>, sep: Option<&[u8]>) -> Self {
        Bee(self.0.sub_with(name, sep))
    }

    /// Learns the newest length from peers ([`driver::Bee::update`]).
    ///
    /// # Errors
    /// As [`driver::Bee::update`].
    pub fn update(&self) -> Result<u64, Error> {
        block_on(self.0.update())
    }

    /// One batch, one append ([`driver::Bee::batch`]).
    ///
    /// # Errors
    /// As [`driver::Bee::batch`].
    pub fn batch(&self, ops: Vec<Op>) -> Result<WriteOutcome, Error> {
        block_on(self.0.batch(ops))
    }

    /// `put(key, value)`.
    ///
    /// # Errors
    /// As [`driver::Bee::batch`].
    pub fn put(&self, key: impl Into<Bytes>, value: impl Into<Bytes>) -> Result<(), Error> {
        block_on(self.0.put(key, value))
    }

    /// `put(key, value, { cas })` ([`driver::Bee::put_cas`]).
    ///
    /// # Errors
    /// As [`driver::Bee::batch`].
    pub fn put_cas(
        &self,
        key: impl Into<Bytes>,
        value: impl Into<Bytes>,
        cas: impl FnMut(&Entry, &Entry) -> bool + Send + 'static,
    ) -> Result<bool, Error> {
        block_on(self.0.put_cas(key, value, cas))
    }

    /// `del(key)`: true if the key was there.
    ///
    /// # Errors
    /// As [`driver::Bee::batch`].
    pub fn del(&self, key: impl Into<Bytes>) -> Result<bool, Error> {
        block_on(self.0.del(key))
    }

    /// `del(key, { cas })`.
    ///
    /// # Errors
    /// As [`driver::Bee::batch`].
    pub fn del_cas(
        &self,
        key: impl Into<Bytes>,
        cas: impl FnMut(&Entry, &Entry) -> bool + Send + 'static,
    ) -> Result<bool, Error> {
        block_on(self.0.del_cas(key, cas))
    }

    /// `get(key)`.
    ///
    /// # Errors
    /// As [`driver::Bee::get`].
    pub fn get(&self, key: impl Into<Bytes>) -> Result<Option<Entry>, Error> {
        block_on(self.0.get(key))
    }

    /// `getBySeq(seq)`.
    ///
    /// # Errors
    /// As [`driver::Bee::get_by_seq`].
    pub fn get_by_seq(&self, seq: u64) -> Result<Entry, Error> {
        block_on(self.0.get_by_seq(seq))
    }

    /// `peek(range)`.
    ///
    /// # Errors
    /// As [`driver::Bee::get`].
    pub fn peek(&self, options: RangeOptions) -> Result<Option<Entry>, Error> {
        block_on(self.0.peek(options))
    }

    /// A range, in key order.
    #[must_use]
    pub fn range(&self, options: RangeOptions) -> Iter<S, Range, Entry> {
        Iter(self.0.range(options))
    }

    /// The history stream.
    #[must_use]
    pub fn history(&self, options: HistoryOptions) -> Iter<S, History, HistoryEntry> {
        Iter(self.0.history(options))
    }

    /// The diff of this version against `other`.
    #[must_use]
    pub fn diff(&self, other: u64, range: KeyRange) -> Iter<S, Diff, DiffEntry> {
        Iter(self.0.diff(other, range))
    }

    /// JS `watch(range)` ([`driver::Bee::watch`]): an iterator of [`Change`]s.
    ///
    /// # Errors
    /// As [`driver::Bee::watch`].
    pub fn watch(&self, range: KeyRange) -> Result<Live<WatchRange<S, Blocking>>, Error> {
        block_on(self.0.watch(range)).map(|l| Live(l, false))
    }

    /// JS `watch(range, { eager, differ })` ([`driver::Bee::watch_with`]).
    ///
    /// # Errors
    /// As [`driver::Bee::watch`].
    pub fn watch_with(
        &self,
        range: KeyRange,
        options: WatchOptions,
    ) -> Result<Live<WatchRange<S, Blocking>>, Error> {
        block_on(self.0.watch_with(range, options)).map(|l| Live(l, false))
    }

    /// JS `getAndWatch(key)` ([`driver::Bee::get_and_watch`]): the entry now is
    /// `state().and_then(WatchEntry::entry)`; the iterator yields each new one.
    ///
    /// # Errors
    /// As [`driver::Bee::get_and_watch`].
    pub fn get_and_watch(
        &self,
        key: impl Into<Bytes>,
    ) -> Result<Live<WatchEntry<S, Blocking>>, Error> {
        block_on(self.0.get_and_watch(key)).map(|l| Live(l, false))
    }

    /// The live history stream ([`driver::Bee::history_live`]).
    #[must_use]
    pub fn history_live(&self, options: HistoryOptions) -> Live<HistoryLive<S, Blocking>> {
        Live(self.0.history_live(options), false)
    }

    /// JS `clearUnlinked(options)` ([`driver::Bee::clear_unlinked`]).
    ///
    /// # Errors
    /// As [`driver::Bee::clear_unlinked`].
    pub fn clear_unlinked(&self, options: ClearOptions) -> Result<Cleared, Error> {
        block_on(self.0.clear_unlinked(options))
    }
}
