//! `clone --live`: after the download, print every block from the peer's length on as it
//! is stored, follow the writer's truncations, and make what was printed durable.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::id;
use ferrocore::replication::Event;
use ferrocore_blocking::{Events, RecvError};
use ferrocore_storage::Store;

use super::watch::Cloning;
use crate::Error;

/// A printed block is durable (the store flushed) at most this long after it was printed;
/// each flush is reported on stderr (`durable through block <i>`).
pub(crate) const DURABLE_WITHIN: Duration = Duration::from_secs(1);

/// Blocks read from the log at a time.
const BATCH: u64 = 256;

/// Prints `Block <i>: <text>` for every block from `from` on, in order, as each is
/// verified and stored, until the node stops (a signal, or the peer went away). When the
/// writer truncates below what was printed, prints a `Truncated to length ...` line and
/// goes on with the new fork's blocks from the truncation point. `events` must have been
/// subscribed before the download started.
pub(crate) fn follow(
    clone: &Cloning,
    events: &Events,
    store: &Store,
    from: u64,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (node, core) = (&clone.node, clone.core);
    clone.status.live.store(true, Ordering::Release);
    eprintln!(
        "following core {} live from block {from}; stop with Ctrl-C",
        id::core_id(&clone.key)
    );
    let live_from = |start| {
        node.download(core, start, None)
            .map_err(|e| clone.node_error(e))
    };
    let mut _live = live_from(from)?;
    let mut next = from;
    // The fork printed from: blocks of another are printed only once its truncation was.
    let (mut fork, _) = read(clone, next)?;
    // When the oldest block printed but not yet durable was printed.
    let mut unflushed: Option<Instant> = None;
    // The last block printed (of the fork followed).
    let mut printed: Option<u64> = None;
    loop {
        if unflushed.is_some_and(|t| t.elapsed() >= DURABLE_WITHIN) {
            flush(store)?;
            unflushed = None;
            if let Some(last) = printed {
                eprintln!("durable through block {last}");
            }
        }
        let (log_fork, blocks) = read(clone, next)?;
        if log_fork == fork && !blocks.is_empty() {
            for block in &blocks {
                writeln!(out, "Block {next}: {}", String::from_utf8_lossy(block))?;
                printed = Some(next);
                next += 1;
            }
            out.flush()?;
            unflushed.get_or_insert_with(Instant::now);
            continue;
        }
        // Nothing new: wait for an event, at most until what was printed is due.
        let event = match unflushed {
            Some(t) => events.recv_timeout(DURABLE_WITHIN.saturating_sub(t.elapsed())),
            None => events.recv_blocking(),
        };
        match event {
            Ok(Event::Truncate {
                core: c,
                length,
                fork: f,
            }) if c == core && f > fork => {
                fork = f;
                if length < next {
                    writeln!(
                        out,
                        "Truncated to length {length} (fork {f}): the blocks from {length} \
                         on are the new fork's"
                    )?;
                    out.flush()?;
                    next = length;
                    // The new fork's blocks below the old download's start are wanted too.
                    _live = live_from(length)?;
                    printed = printed.zip(length.checked_sub(1)).map(|(p, l)| p.min(l));
                }
            }
            // The log says what is new; a missed `Verified` costs nothing.
            Ok(_) | Err(RecvError::Empty | RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return Err(clone.stop_reason()),
        }
    }
}

/// The log's fork and its stored blocks from `next` on (up to the first missing one).
fn read(clone: &Cloning, next: u64) -> Result<(u64, Vec<Bytes>), Error> {
    let core = clone.core;
    clone
        .node
        .with_endpoint(move |ep| {
            let Some(log) = ep.log(core) else {
                return Ok((0, Vec::new()));
            };
            let mut blocks = Vec::new();
            for i in next..log.length().min(next.saturating_add(BATCH)) {
                match log.get(i)? {
                    Some(block) => blocks.push(block),
                    None => break,
                }
            }
            Ok((log.fork(), blocks))
        })
        .map_err(|e| clone.node_error(e))?
        .map_err(|e: ferrocore::Error| Error::Failed(format!("reading a downloaded block: {e}")))
}

fn flush(store: &Store) -> Result<(), Error> {
    store
        .flush()
        .map_err(|e| Error::Failed(format!("storing downloaded blocks failed: {e}")))
}
