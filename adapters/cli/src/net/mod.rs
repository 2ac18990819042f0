//! The commands that replicate over TCP: serve and clone, on the blocking adapter's
//! [`Node`].
//!
//! Both install SIGTERM/SIGINT handlers (`signal-hook`) that shut the node down in
//! order: connections end cleanly (their last bytes are written), the endpoint hands back
//! the log, and dropping it closes the store.

mod clone;
mod dht;
mod live;
mod serve;
mod swarm;
mod watch;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;

use ferrocore_blocking::{Error as NodeError, Node};
use ferrocore_storage::CoreStorage;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::Error;

pub(crate) use clone::clone;
pub(crate) use dht::dht;
pub(crate) use serve::serve;

pub(crate) type CliNode = Node<CoreStorage>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Calls `f` with the signal number on every SIGTERM and SIGINT (on a thread of its own).
pub(crate) fn on_signals(f: impl Fn(i32) + Send + 'static) -> Result<(), Error> {
    let mut signals = Signals::new([SIGTERM, SIGINT])
        .map_err(|e| Error::Failed(format!("cannot install the signal handlers: {e}")))?;
    thread::Builder::new()
        .name("ferrocore-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                f(signal);
            }
        })?;
    Ok(())
}

/// A node that could not start (no thread, no randomness).
pub(crate) fn node_failed(e: NodeError) -> Error {
    Error::Failed(format!("cannot start the replication node: {e}"))
}
