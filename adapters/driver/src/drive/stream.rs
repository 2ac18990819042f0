//! [`Items`]: a listing, readdir, diff or read stream of a drive as an async stream,
//! fetched from the driver a batch at a time.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use ferrocore::storage::Storage;
use ferrocore_hyperdrive::drive::Machine;

use super::run::{Job, Place};
use super::Error;
use crate::node::Adapter;
use crate::walk::Walk;

/// Items one visit to the driver produces at most (the rest wait for the next).
pub const BATCH: usize = 256;

/// A walk over a drive ([`Drive::list`](super::Drive::list), `readdir`, `diff`, a read
/// stream's chunks) as a stream of `Result<T, Error>` ([`futures_core::Stream`], or
/// [`next`](Self::next)). It ends after the first error. Each visit to the driver yields
/// up to [`BATCH`] items; blocks a core lacks are fetched as the walk reaches them.
pub struct Items<S: Storage, A: Adapter, M: Machine<Output = Option<T>>, T> {
    place: Place<S, A>,
    walk: Walk<Job<M>, M, T, Error>,
}

impl<S, A, M, T> Items<S, A, M, T>
where
    S: Storage + Send + 'static,
    A: Adapter,
    M: Machine<Output = Option<T>> + Send + 'static,
    T: Send + 'static,
{
    pub(crate) fn new(place: Place<S, A>, job: Job<M>) -> Self {
        Items {
            place,
            walk: Walk::new(job),
        }
    }

    /// The next item, `None` at the end.
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        poll_fn(|cx| self.poll_item(cx)).await
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

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        let place = &self.place;
        self.walk.poll_next(
            cx,
            |job| {
                let place = place.clone();
                Box::pin(async move { place.drive(job, BATCH, Option::is_some).await })
            },
            Job::Run,
        )
    }
}

impl<S, A, M, T> futures_core::Stream for Items<S, A, M, T>
where
    S: Storage + Send + 'static,
    A: Adapter,
    M: Machine<Output = Option<T>> + Send + Unpin + 'static,
    T: Send + Unpin + 'static,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

impl<S: Storage, A: Adapter, M: Machine<Output = Option<T>>, T> std::fmt::Debug
    for Items<S, A, M, T>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.walk.fmt(f)
    }
}
