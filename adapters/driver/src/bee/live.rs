//! What keeps going as the core changes: [`Bee::watch`](super::Bee::watch) (JS
//! `watch(range)`), [`Bee::get_and_watch`](super::Bee::get_and_watch) (JS
//! `getAndWatch(key)`) and [`Bee::history_live`](super::Bee::history_live) (JS
//! `createHistoryStream({ live: true })`), each a [`Live`] stream.
//!
//! A [`Live`] subscribes to the node's events when it is made, so it misses no change:
//! it checks the core (its length and fork, then a diff, a get or the new blocks of the
//! history) once at the start and again after each `Append` or `Truncate` event of the
//! core (or a lag of its event queue), and waits in between.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ferrocore::replication::{CoreId, Event};
use ferrocore::storage::Storage;
use ferrocore_hyperbee::{DiffEntry, Entry, History, HistoryEntry, HistoryOptions};

use super::{Bee, Entries, Error, KeyRange};
use crate::events::{Events, RecvError};
use crate::node::Adapter;
use crate::CoreInfo;

/// A change [`Bee::watch`](super::Bee::watch) reports (JS yields `[current, previous]`
/// snapshots: check out these versions to read them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The version now.
    pub current: u64,
    /// The version of the previous report (or of the watch's start).
    pub previous: u64,
    /// The core was truncated (its fork changed) since: reported whatever the diff, and
    /// `previous` may no longer be readable.
    pub truncated: bool,
}

/// One core's events: what a [`Live`] waits on.
struct CoreEvents {
    events: Events,
    core: CoreId,
    /// The lowest length the core was truncated to since the last check (`u64::MAX`:
    /// none).
    cut: AtomicU64,
}

impl CoreEvents {
    /// True for an event that may change what a live read sees.
    fn concerns(&self, r: &Result<Event, RecvError>) -> Option<bool> {
        match r {
            Ok(Event::Truncate { core, length, .. }) if *core == self.core => {
                self.cut.fetch_min(*length, Ordering::Relaxed);
                Some(true)
            }
            Ok(Event::Append { core, .. }) => (*core == self.core).then_some(true),
            Ok(_) | Err(RecvError::Empty) => None,
            Err(RecvError::Lagged(_)) => Some(true),
            Err(RecvError::Closed) => Some(false),
        }
    }

    /// Forgets what is queued (the check that follows sees it all); false once the node
    /// shut down.
    fn drain(&self) -> bool {
        loop {
            let r = self.events.try_recv();
            match r {
                Err(RecvError::Empty) => return true,
                Err(RecvError::Closed) => return false,
                _ => drop(self.concerns(&r)),
            }
        }
    }

    /// The lowest length the core was truncated to since the last call.
    fn take_cut(&self) -> Option<u64> {
        Some(self.cut.swap(u64::MAX, Ordering::Relaxed)).filter(|&c| c != u64::MAX)
    }

    /// `Ready(true)` at a change of the core, `Ready(false)` once the node shut down.
    fn poll_change(&self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            let r = std::task::ready!(Pin::new(&mut self.events.recv()).poll(cx));
            if let Some(go) = self.concerns(&r) {
                return Poll::Ready(go);
            }
        }
    }

    fn wait_blocking(&self, timeout: Option<Duration>) -> Option<bool> {
        let until = timeout.map(|t| Instant::now() + t);
        loop {
            let r = match until {
                None => self.events.recv_blocking(),
                Some(u) => {
                    let left = u.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.events.recv_timeout(left)
                }
            };
            if let Some(go) = self.concerns(&r) {
                return Some(go);
            }
        }
    }
}

type Checked<C> = (C, Result<Option<<C as Check>::Item>, Error>);
type Pending<C> = Pin<Box<dyn Future<Output = Checked<C>> + Send>>;

/// What a [`Live`] looks for at each change of the core.
pub trait Check: Send + Sized + 'static {
    /// What it yields.
    type Item: Send + 'static;

    /// Looks at the core as it is now: `Some` for something to yield (it is called again
    /// at once after), `None` to wait for the next change. `cut` is the lowest length the
    /// core was truncated to since the last check, if it was.
    fn check(self, cut: Option<u64>) -> Pending<Self>;
}

/// A read that keeps going as the core changes: a stream of `Result<C::Item, Error>`
/// ([`futures_core::Stream`], or [`next`](Self::next)) that ends when the node shuts
/// down. An error does not end it (the next change is checked again).
pub struct Live<C: Check> {
    check: Option<C>,
    events: CoreEvents,
    pending: Option<Pending<C>>,
    /// Check before waiting (at the start, after an item, after a change).
    armed: bool,
    ended: bool,
}

impl<C: Check> Live<C> {
    pub(crate) fn new<S: Storage + Send + 'static, A: Adapter>(bee: &Bee<S, A>, check: C) -> Self {
        Self::subscribe(bee).with(check)
    }

    /// Subscribed to the core's changes, its check to come ([`with`](Self::with)).
    pub(crate) fn subscribe<S: Storage + Send + 'static, A: Adapter>(bee: &Bee<S, A>) -> Self {
        Live {
            check: None,
            events: CoreEvents {
                events: bee.place.node.events(),
                core: bee.place.core,
                cut: AtomicU64::new(u64::MAX),
            },
            pending: None,
            armed: true,
            ended: false,
        }
    }

    pub(crate) fn with(mut self, check: C) -> Self {
        self.check = Some(check);
        self
    }

    /// The check's state (`None` while a check runs): [`WatchEntry::entry`],
    /// [`WatchRange::version`].
    #[must_use]
    pub fn state(&self) -> Option<&C> {
        self.check.as_ref()
    }

    /// The next item, waiting for changes of the core as long as it takes; `None` once the
    /// node shut down.
    pub async fn next(&mut self) -> Option<Result<C::Item, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// Checks the core now, without waiting for a change (what [`next`](Self::next) does
    /// at each change): `Ok(None)` if there is nothing new.
    ///
    /// # Errors
    /// As the read's (a diff's, a get's, a history walk's).
    pub async fn check(&mut self) -> Result<Option<C::Item>, Error> {
        if let Some(p) = self.pending.take() {
            // A `next` dropped while checking: that check finishes first.
            let (c, _) = p.await;
            self.check = Some(c);
        }
        let Some(check) = self.check.take() else {
            return Ok(None);
        };
        self.events.drain();
        let (check, r) = check.check(self.events.take_cut()).await;
        self.check = Some(check);
        r
    }

    /// Blocks the thread until the core changes (`Some(true)`), the node shuts down
    /// (`Some(false)`) or `timeout` passes (`None`); for blocking adapters, which call
    /// [`check`](Self::check) after it.
    pub fn wait_blocking(&self, timeout: Option<Duration>) -> Option<bool> {
        self.events.wait_blocking(timeout)
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<C::Item, Error>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if let Some(p) = self.pending.as_mut() {
                let (c, r) = std::task::ready!(p.as_mut().poll(cx));
                self.pending = None;
                self.check = Some(c);
                match r {
                    Ok(Some(item)) => return Poll::Ready(Some(Ok(item))),
                    Ok(None) => self.armed = false,
                    Err(e) => {
                        self.armed = false;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            if !self.armed {
                match std::task::ready!(self.events.poll_change(cx)) {
                    true => self.armed = true,
                    false => {
                        self.ended = true;
                        continue;
                    }
                }
            }
            if !self.events.drain() {
                self.ended = true;
                continue;
            }
            let Some(c) = self.check.take() else {
                self.ended = true;
                continue;
            };
            self.pending = Some(c.check(self.events.take_cut()));
        }
    }
}

impl<C: Check + Unpin> futures_core::Stream for Live<C> {
    type Item = Result<C::Item, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<C: Check> std::fmt::Debug for Live<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("core", &self.events.core)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

/// Implements [`Check`] for a check whose `look(&mut self)` finds the next item.
macro_rules! checks {
    ($ty:ident, $item:ty) => {
        impl<S: Storage + Send + 'static, A: Adapter> Check for $ty<S, A> {
            type Item = $item;

            fn check(mut self, cut: Option<u64>) -> Pending<Self> {
                Box::pin(async move {
                    let r = self.look(cut).await;
                    (self, r)
                })
            }
        }
    };
}

async fn info<S: Storage + Send + 'static, A: Adapter>(bee: &Bee<S, A>) -> Result<CoreInfo, Error> {
    let core = bee.place.core;
    Ok(bee
        .place
        .node
        .call_reply(move |ep| CoreInfo::of(ep, core))
        .await?)
}

/// [`Bee::watch`](super::Bee::watch)'s check: a diff of the last version against the
/// current one within a range.
pub struct WatchRange<S: Storage, A: Adapter> {
    bee: Bee<S, A>,
    range: KeyRange,
    version: u64,
    fork: u64,
    differ: Option<Differ>,
}

/// Which differences count as a change ([`WatchOptions::differ`]).
pub type Differ = Arc<dyn Fn(&DiffEntry) -> bool + Send + Sync>;

/// How [`Bee::watch_with`](super::Bee::watch_with) watches (JS `watch(range, opts)`).
#[derive(Clone, Default)]
pub struct WatchOptions {
    /// JS `eager`: start from version 1 (the empty bee) rather than the current version,
    /// so the first check reports the range's present entries as a change.
    pub eager: bool,
    /// JS `differ`: a change is reported only when some entry of the diff between the
    /// two versions (within the range) passes this test (default: any entry does). A
    /// truncation is reported whatever it says.
    pub differ: Option<Differ>,
}

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("eager", &self.eager)
            .field("differ", &self.differ.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl<S: Storage + Send + 'static, A: Adapter> WatchRange<S, A> {
    pub(crate) fn new(
        bee: Bee<S, A>,
        range: KeyRange,
        version: u64,
        fork: u64,
        differ: Option<Differ>,
    ) -> Self {
        WatchRange {
            bee,
            range,
            version,
            fork,
            differ,
        }
    }

    /// The version of the last report (or of the start).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    async fn look(&mut self, _cut: Option<u64>) -> Result<Option<Change>, Error> {
        let info = info(&self.bee).await?;
        let current = info.length.max(1);
        let previous = self.version;
        if info.fork != self.fork {
            self.fork = info.fork;
            self.version = current;
            return Ok(Some(Change {
                current,
                previous,
                truncated: true,
            }));
        }
        if current == previous {
            return Ok(None);
        }
        let mut diff = self
            .bee
            .checkout(current)
            .diff(previous, self.range.clone());
        let mut changed = false;
        while let Some(d) = diff.next().await.transpose()? {
            if self.differ.as_ref().is_none_or(|counts| counts(&d)) {
                changed = true;
                break;
            }
        }
        self.version = current;
        Ok(changed.then_some(Change {
            current,
            previous,
            truncated: false,
        }))
    }
}

checks!(WatchRange, Change);

/// [`Bee::get_and_watch`](super::Bee::get_and_watch)'s check: one key's entry, yielded
/// when its seq changes (or the core was truncated).
pub struct WatchEntry<S: Storage, A: Adapter> {
    bee: Bee<S, A>,
    key: bytes::Bytes,
    entry: Option<Entry>,
    length: u64,
    fork: u64,
}

impl<S: Storage + Send + 'static, A: Adapter> WatchEntry<S, A> {
    pub(crate) fn new(
        bee: Bee<S, A>,
        key: bytes::Bytes,
        entry: Option<Entry>,
        info: &CoreInfo,
    ) -> Self {
        WatchEntry {
            bee,
            key,
            entry,
            length: info.length,
            fork: info.fork,
        }
    }

    /// The entry as last seen (`None`: absent).
    #[must_use]
    pub fn entry(&self) -> Option<&Entry> {
        self.entry.as_ref()
    }

    async fn look(&mut self, _cut: Option<u64>) -> Result<Option<Option<Entry>>, Error> {
        let info = info(&self.bee).await?;
        let force = info.fork != self.fork;
        if !force && info.length == self.length {
            return Ok(None);
        }
        let entry = self.bee.get(self.key.clone()).await?;
        (self.length, self.fork) = (info.length, info.fork);
        let seq = |e: &Option<Entry>| e.as_ref().map(|e| e.seq);
        if force || seq(&entry) != seq(&self.entry) {
            self.entry = entry.clone();
            return Ok(Some(entry));
        }
        Ok(None)
    }
}

checks!(WatchEntry, Option<Entry>);

/// [`Bee::history_live`](super::Bee::history_live)'s check: the blocks past the last one
/// yielded, as the core grows.
pub struct HistoryLive<S: Storage, A: Adapter> {
    bee: Bee<S, A>,
    options: HistoryOptions,
    /// The next seq to yield, once resolved against the version at the start.
    next: Option<u64>,
    limit: Option<u64>,
    fork: Option<u64>,
    walk: Option<Entries<S, A, History, HistoryEntry>>,
}

impl<S: Storage + Send + 'static, A: Adapter> HistoryLive<S, A> {
    pub(crate) fn new(bee: Bee<S, A>, options: HistoryOptions) -> Self {
        HistoryLive {
            bee,
            options,
            next: None,
            limit: options.limit,
            fork: None,
            walk: None,
        }
    }

    async fn look(&mut self, cut: Option<u64>) -> Result<Option<HistoryEntry>, Error> {
        if let Some(c) = cut {
            // Blocks from the cut on were replaced: the walk starts again, from the cut if
            // it had yielded past it.
            self.walk = None;
            if let Some(n) = self.next {
                self.next = Some(n.min(c.max(1)));
            }
        }
        loop {
            if self.limit == Some(0) {
                return Ok(None);
            }
            if let Some(walk) = self.walk.as_mut() {
                match walk.next().await {
                    Some(Ok(e)) => {
                        self.next = Some(e.entry.seq + 1);
                        self.limit = self.limit.map(|l| l - 1);
                        return Ok(Some(e));
                    }
                    Some(Err(e)) => {
                        self.walk = None;
                        return Err(e);
                    }
                    None => self.walk = None,
                }
            }
            let info = info(&self.bee).await?;
            let version = info.length.max(1);
            let next = match (self.next, self.fork) {
                // Truncated below what was yielded: the new blocks at those seqs come next.
                (Some(n), Some(f)) if f != info.fork => n.min(version),
                (Some(n), _) => n,
                (None, _) => {
                    let start = History::new(version, self.options).bounds().0;
                    u64::try_from(start).unwrap_or(0).max(1)
                }
            };
            self.next = Some(next);
            self.fork = Some(info.fork);
            if next >= info.length {
                return Ok(None);
            }
            let to = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
            let options = HistoryOptions {
                gte: Some(to(next)),
                lt: Some(to(info.length)),
                limit: self.limit,
                ..HistoryOptions::default()
            };
            self.walk = Some(self.bee.checkout(info.length).history(options));
        }
    }
}

checks!(HistoryLive, HistoryEntry);
