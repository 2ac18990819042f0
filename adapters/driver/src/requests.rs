//! A node's commands, and the requests awaiting a replication event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, Endpoint, Event, RequestId, SessionId};
use ferrocore::storage::Storage;
use ferrocore::Log;

use crate::node::DownloadHandle;
use crate::reply::{reply, Replier};
use crate::{CoreInfo, Error};

/// The blocks a download asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Span {
    /// `start..end`; an `end` of `None` follows the core as it grows (a live download).
    Range(u64, Option<u64>),
    /// These blocks.
    Blocks(Vec<u64>),
}

/// A function run on the driver with the endpoint, for what the node has no command for.
pub(crate) type Call<S> = Box<dyn FnOnce(&mut Endpoint<S>, Duration) + Send>;

/// Cancels a request (sends the driver a [`Command::Cancel`]).
pub(crate) type Canceller = Arc<dyn Fn(RequestId) + Send + Sync>;

/// A node command.
pub(crate) enum Command<S: Storage> {
    /// Adds a core; replies with its id.
    AddCore(Box<Log<S>>, Replier<CoreId>),
    /// Appends blocks; replies with the new length once the peers were sent it.
    Append(CoreId, Vec<Bytes>, Replier<u64>),
    /// Truncates to a length.
    Truncate(CoreId, u64, Replier<()>),
    /// Gets a block, waiting for a peer at most the given time.
    Get(CoreId, u64, Option<Duration>, Replier<Bytes>),
    /// Starts a download; replies with its handle.
    Download(CoreId, Span, Replier<DownloadHandle>),
    /// Updates to the newest length, waiting at most the given time.
    Update(CoreId, Option<Duration>, Replier<u64>),
    /// Cancels a request.
    Cancel(RequestId),
    /// A snapshot of a core.
    Info(CoreId, Replier<CoreInfo>),
    /// Closes a connection.
    Close(SessionId),
    /// Runs a function with the endpoint.
    Call(Call<S>),
}

/// A request awaiting its replication event.
enum Pending {
    Get(Replier<Bytes>),
    Download(Replier<()>),
    Update(Replier<u64>),
}

impl Pending {
    fn is_closed(&self) -> bool {
        match self {
            Pending::Get(tx) => tx.is_closed(),
            Pending::Download(tx) => tx.is_closed(),
            Pending::Update(tx) => tx.is_closed(),
        }
    }

    fn fail(self, e: Error) {
        match self {
            Pending::Get(tx) => tx.send(Err(e)),
            Pending::Download(tx) => tx.send(Err(e)),
            Pending::Update(tx) => tx.send(Err(e)),
        }
    }
}

/// A driver's outstanding requests: [`handle`](Self::handle) applies a command to the
/// endpoint, [`on_event`](Self::on_event) answers the request an event ends,
/// [`answer_appends`](Self::answer_appends) answers appends after a flush.
pub(crate) struct Requests {
    pending: HashMap<RequestId, Pending>,
    appended: Vec<(Replier<u64>, Result<u64, Error>)>,
    cancel: Canceller,
}

impl Requests {
    pub(crate) fn new(cancel: Canceller) -> Self {
        Self {
            pending: HashMap::new(),
            appended: Vec::new(),
            cancel,
        }
    }

    /// Requests awaiting their event.
    #[cfg(test)]
    fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Applies `command` at time `now` (the endpoint's clock). Requests whose callers
    /// went away are cancelled first.
    pub(crate) fn handle<S: Storage>(
        &mut self,
        endpoint: &mut Endpoint<S>,
        now: Duration,
        command: Command<S>,
    ) {
        self.reap(endpoint);
        let deadline = |timeout: Option<Duration>| timeout.map(|t| now + t);
        match command {
            Command::AddCore(log, tx) => tx.send(Ok(endpoint.add_core(*log))),
            Command::Append(core, blocks, tx) => {
                let result = match endpoint.log_mut(core) {
                    Some(log) => log
                        .append_bytes(blocks)
                        .map(|o| o.length)
                        .map_err(Error::Core),
                    None => Err(Error::NoSuchCore),
                };
                self.appended.push((tx, result));
            }
            Command::Truncate(core, length, tx) => tx.send(match endpoint.log_mut(core) {
                Some(log) => log.truncate(length, None).map_err(Error::Core),
                None => Err(Error::NoSuchCore),
            }),
            Command::Get(core, index, timeout, tx) => {
                let started = known(endpoint, core)
                    .and_then(|()| Ok(endpoint.get(core, index, deadline(timeout))?));
                self.start(started, Pending::Get(tx));
            }
            Command::Download(core, span, tx) => {
                let started = known(endpoint, core).and_then(|()| {
                    Ok(match span {
                        Span::Range(start, end) => endpoint.download(core, start, end, None),
                        Span::Blocks(blocks) => endpoint.download_blocks(core, &blocks, None),
                    }?)
                });
                tx.send(started.map(|id| {
                    let (done, done_rx) = reply();
                    self.pending.insert(id, Pending::Download(done));
                    DownloadHandle::new(id, done_rx, self.cancel.clone())
                }));
            }
            Command::Update(core, timeout, tx) => {
                let started = known(endpoint, core)
                    .and_then(|()| Ok(endpoint.update(core, deadline(timeout))?));
                self.start(started, Pending::Update(tx));
            }
            Command::Cancel(id) => {
                endpoint.cancel(id);
            }
            Command::Info(core, tx) => tx.send(CoreInfo::of(endpoint, core)),
            Command::Close(session) => endpoint.close(session),
            Command::Call(f) => f(endpoint, now),
        }
    }

    /// Keeps the request `started` for its event, or fails it at once.
    fn start(&mut self, started: Result<RequestId, Error>, pending: Pending) {
        match started {
            Ok(id) => {
                self.pending.insert(id, pending);
            }
            Err(e) => pending.fail(e),
        }
    }

    /// Cancels the requests whose callers went away.
    fn reap<S: Storage>(&mut self, endpoint: &mut Endpoint<S>) {
        let abandoned: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.is_closed())
            .map(|(id, _)| *id)
            .collect();
        for id in abandoned {
            self.pending.remove(&id);
            endpoint.cancel(id);
        }
    }

    /// Answers the request `event` ends, if it is one of ours.
    pub(crate) fn on_event(&mut self, event: &Event) {
        match event {
            Event::Get {
                request, result, ..
            } => {
                if let Some(Pending::Get(tx)) = self.pending.remove(request) {
                    tx.send(result.clone().map_err(Error::Request));
                }
            }
            Event::Download {
                request, result, ..
            } => {
                if let Some(Pending::Download(tx)) = self.pending.remove(request) {
                    tx.send(result.clone().map_err(Error::Request));
                }
            }
            Event::Update {
                request, result, ..
            } => {
                if let Some(Pending::Update(tx)) = self.pending.remove(request) {
                    tx.send(result.clone().map_err(Error::Request));
                }
            }
            _ => {}
        }
    }

    /// Answers the appends handled since the last call. Drivers call it after flushing
    /// the endpoint's output, so an append returns once the peers were sent the new length.
    pub(crate) fn answer_appends(&mut self) {
        for (tx, result) in self.appended.drain(..) {
            tx.send(result);
        }
    }

    /// Drops every request and unanswered append; their callers see
    /// [`Error::Shutdown`].
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.appended.clear();
    }
}

fn known<S: Storage>(endpoint: &Endpoint<S>, core: CoreId) -> Result<(), Error> {
    endpoint.log(core).map(|_| ()).ok_or(Error::NoSuchCore)
}

#[cfg(test)]
mod tests;
