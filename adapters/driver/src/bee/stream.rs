//! [`Entries`]: a range, history or diff walk as an async stream, fetched from the driver
//! a batch at a time.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use ferrocore::storage::Storage;
use ferrocore_hyperbee::ext::Requests;
use ferrocore_hyperbee::sub::Sub;
use ferrocore_hyperbee::{DiffEntry, Entry, HistoryEntry, Machine};

use super::ext::ExtensionHint;
use super::run::{Hint, Job, Place};
use super::Error;
use crate::node::Adapter;
use crate::walk::Walk;

/// Entries one visit to the driver produces at most (the rest wait for the next).
pub const BATCH: usize = 256;

/// What a sub's walks hand back: keys without the sub's prefix.
pub trait Strip {
    /// Takes `sub`'s prefix off the keys (as JS slices it, unchecked).
    fn strip(self, sub: &Sub) -> Self;
}

impl Strip for Entry {
    fn strip(mut self, sub: &Sub) -> Self {
        self.key = self
            .key
            .slice(self.key.len() - sub.strip(&self.key).len()..);
        self
    }
}

impl Strip for HistoryEntry {
    fn strip(mut self, sub: &Sub) -> Self {
        self.entry = self.entry.strip(sub);
        self
    }
}

impl Strip for DiffEntry {
    fn strip(self, sub: &Sub) -> Self {
        DiffEntry {
            left: self.left.map(|e| e.strip(sub)),
            right: self.right.map(|e| e.strip(sub)),
        }
    }
}

/// A walk over a bee (a range, the history, a diff) as a stream of `Result<T, Error>`
/// ([`futures_core::Stream`], or [`next`](Self::next)). It ends after the first error.
/// Each visit to the driver yields up to [`BATCH`] entries; blocks the core lacks are
/// fetched through replication as the walk reaches them.
pub struct Entries<S: Storage, A: Adapter, M: Machine<Output = Option<T>>, T> {
    place: Place<S, A>,
    sub: Option<Sub>,
    walk: Walk<Job<M>, M, T, Error>,
    /// The pacing of the walk's `hyperbee` extension requests.
    pace: Arc<Mutex<Requests>>,
    /// The walk's request when it waits for a remote block.
    hint: Hint<M>,
}

impl<S, A, M, T> Entries<S, A, M, T>
where
    S: Storage + Send + 'static,
    A: Adapter,
    M: Machine<Output = Option<T>> + Send + 'static,
    T: Strip + Send + 'static,
{
    pub(crate) fn new(place: Place<S, A>, sub: Option<Sub>, job: Job<M>) -> Self
    where
        M: ExtensionHint,
    {
        Entries {
            place,
            sub,
            walk: Walk::new(job),
            pace: Arc::new(Mutex::new(Requests::new(M::EVERY))),
            hint: M::request,
        }
    }

    /// The next entry, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        poll_fn(|cx| self.poll_entry(cx)).await
    }

    /// Everything left, in order.
    ///
    /// # Errors
    /// The first error of the walk.
    pub async fn collect(mut self) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        while let Some(e) = self.next().await {
            out.push(e?);
        }
        Ok(out)
    }

    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        let (place, pace, hint) = (&self.place, &self.pace, self.hint);
        let next = std::task::ready!(self.walk.poll_next(
            cx,
            |job| {
                let (place, pace) = (place.clone(), pace.clone());
                Box::pin(async move {
                    place
                        .drive_paced(job, BATCH, Option::is_some, &pace, hint)
                        .await
                })
            },
            Job::Run,
        ));
        Poll::Ready(next.map(|r| {
            r.map(|t| match &self.sub {
                Some(sub) => t.strip(sub),
                None => t,
            })
        }))
    }
}

impl<S, A, M, T> futures_core::Stream for Entries<S, A, M, T>
where
    S: Storage + Send + 'static,
    A: Adapter,
    M: Machine<Output = Option<T>> + Send + Unpin + 'static,
    T: Strip + Send + Unpin + 'static,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_entry(cx)
    }
}

impl<S: Storage, A: Adapter, M: Machine<Output = Option<T>>, T> std::fmt::Debug
    for Entries<S, A, M, T>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.walk.fmt(f)
    }
}
