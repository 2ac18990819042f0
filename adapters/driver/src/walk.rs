//! [`Walk`]: the batching under every walk of a bee or a drive (a range, a listing, a read
//! stream): a machine is run in the driver for a batch of outputs at a time, the batch is
//! handed out item by item, and the machine goes back for the next batch.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A batch under way: the machine back, and its outputs (`None`: the walk's end).
pub(crate) type Pending<M, T, E> =
    Pin<Box<dyn Future<Output = Result<(M, Vec<Option<T>>), E>> + Send + 'static>>;

/// The state of a walk: the job to run next (`J`: a machine to make, or one to resume),
/// the batch under way, the items ready.
pub(crate) struct Walk<J, M, T, E> {
    job: Option<J>,
    pending: Option<Pending<M, T, E>>,
    ready: VecDeque<T>,
    ended: bool,
}

impl<J, M, T, E> Walk<J, M, T, E> {
    pub(crate) fn new(job: J) -> Self {
        Walk {
            job: Some(job),
            pending: None,
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The next item: starts a batch with `start` when none is ready, resumes the machine
    /// with `resume` after it. `None` at the end; it ends after the first error.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        mut start: impl FnMut(J) -> Pending<M, T, E>,
        resume: impl Fn(M) -> J,
    ) -> Poll<Option<Result<T, E>>> {
        loop {
            if let Some(t) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(t)));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            if self.pending.is_none() {
                let Some(job) = self.job.take() else {
                    self.ended = true;
                    continue;
                };
                self.pending = Some(start(job));
            }
            let Some(pending) = self.pending.as_mut() else {
                continue;
            };
            let result = std::task::ready!(pending.as_mut().poll(cx));
            self.pending = None;
            match result {
                Ok((machine, items)) => {
                    for item in items {
                        match item {
                            Some(t) => self.ready.push_back(t),
                            None => self.ended = true,
                        }
                    }
                    if !self.ended {
                        self.job = Some(resume(machine));
                    }
                }
                Err(e) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl<J, M, T, E> std::fmt::Debug for Walk<J, M, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("ready", &self.ready.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
