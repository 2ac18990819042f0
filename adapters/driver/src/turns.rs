//! [`Turns`]: writes of one bee or drive take turns (one that waits for a remote block
//! must not see another append under it; JS holds the cores' locks).

use std::future::poll_fn;
use std::sync::Arc;

use crate::watch::Watched;

/// Whose turn it is to write: none, or the holder of the [`Turn`].
#[derive(Clone)]
pub(crate) struct Turns(Arc<Watched<bool>>);

impl Turns {
    pub(crate) fn new() -> Self {
        Turns(Arc::new(Watched::new(false)))
    }

    /// Waits for the other writers to finish; the turn lets the next one go when dropped.
    pub(crate) async fn take(&self) -> Turn {
        poll_fn(|cx| self.0.poll(cx, |busy| (!*busy).then(|| *busy = true))).await;
        Turn(self.0.clone())
    }
}

/// Held while a write runs.
pub(crate) struct Turn(Arc<Watched<bool>>);

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.update(|busy| *busy = false);
    }
}
