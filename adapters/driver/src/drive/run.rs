//! The one loop that drives a drive's machines for every adapter.
//!
//! As for the bee ([`crate::bee`]): a machine runs inside the driver
//! ([`Node::call_reply`]) against the drive's two logs (the db core and the blobs core)
//! until it needs a block one of them lacks, has produced what the caller asked for, or is
//! done. Local blocks, seeks and `has` answers cost nothing more than that visit; appends
//! to either core happen in the same visit. A block a core lacks is fetched through
//! replication with the drive's deadline, fed to the machine, and the machine goes back to
//! the driver.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ferrocore::replication::{CoreId, Endpoint};
use ferrocore::storage::Storage;
use ferrocore_hyperblobs::CoreInfo as BlobsInfo;
use ferrocore_hyperdrive::drive::{Drive as State, DriveError, Machine, Step};

use super::Error;
use crate::node::Adapter;
use crate::turns::Turns;
use crate::{Error as NodeError, Node};

/// Which of the drive's cores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The db core (the Hyperbee of entries).
    Db,
    /// The blobs core (the contents).
    Blobs,
}

/// What every handle of one drive shares.
pub(crate) struct Shared {
    /// The sans-IO drive: the db bee (its cache) and the blobs core's size.
    drive: Mutex<State>,
    /// Writes take turns (as JS holds the cores' locks).
    pub writes: Turns,
    /// Blocks fetched from peers.
    pub fetched: AtomicU64,
    /// Blocks read from local storage.
    pub local: AtomicU64,
    /// The db core's fork as of the last visit (`u64::MAX` before the first).
    db_fork: AtomicU64,
}

impl Shared {
    pub(crate) fn new(drive: State) -> Self {
        Shared {
            drive: Mutex::new(drive),
            writes: Turns::new(),
            fetched: AtomicU64::new(0),
            local: AtomicU64::new(0),
            db_fork: AtomicU64::new(u64::MAX),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.drive.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A machine to run: made from the drive's state when its first turn starts, or running.
pub(crate) enum Job<M> {
    /// Made in the first visit (from the drive as it is then).
    Make(Box<dyn FnOnce(&State) -> M + Send>),
    /// Under way.
    Run(M),
}

/// What one visit to the driver produced.
struct Turn<M: Machine> {
    machine: M,
    items: Vec<M::Output>,
    need: Option<(Which, u64)>,
}

/// Where a drive's machines run: its node, its two cores, its shared state and how it
/// fetches.
pub(crate) struct Place<S: Storage, A: Adapter> {
    pub node: Node<S, A>,
    pub db: CoreId,
    pub blobs: CoreId,
    pub shared: Arc<Shared>,
    pub timeout: Option<std::time::Duration>,
    pub fetch: bool,
}

impl<S: Storage, A: Adapter> Clone for Place<S, A> {
    fn clone(&self) -> Self {
        Place {
            node: self.node.clone(),
            db: self.db,
            blobs: self.blobs,
            shared: self.shared.clone(),
            timeout: self.timeout,
            fetch: self.fetch,
        }
    }
}

impl<S: Storage, A: Adapter> Place<S, A> {
    pub(crate) fn core(&self, which: Which) -> CoreId {
        match which {
            Which::Db => self.db,
            Which::Blobs => self.blobs,
        }
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Place<S, A> {
    /// Block `seq` of `which`, fetched from peers (unless fetching is off).
    pub(crate) async fn fetch(&self, which: Which, seq: u64) -> Result<bytes::Bytes, Error> {
        if !self.fetch {
            return Err(Error::NotLocal(which, seq));
        }
        let b = self
            .node
            .get_reply(self.core(which), seq, self.timeout)
            .await?;
        self.shared.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(b)
    }

    /// Runs `job` until it is done, or (`more` true for an output) has produced `max`
    /// outputs. Hands back the machine (to go on with) and its outputs.
    pub(crate) async fn drive<M>(
        &self,
        mut job: Job<M>,
        max: usize,
        more: fn(&M::Output) -> bool,
    ) -> Result<(M, Vec<M::Output>), Error>
    where
        M: Machine + Send + 'static,
        M::Output: Send + 'static,
    {
        let mut items = Vec::new();
        loop {
            let (db, blobs, shared) = (self.db, self.blobs, self.shared.clone());
            let left = max.saturating_sub(items.len()).max(1);
            let t = self
                .node
                .call_reply(move |ep| Ok(turn(ep, (db, blobs), &shared, job, left, more)))
                .await??;
            items.extend(t.items);
            let mut machine = t.machine;
            match t.need {
                None => return Ok((machine, items)),
                Some((which, seq)) => {
                    let b = self.fetch(which, seq).await?;
                    feed(&mut machine, which, seq, b)?;
                    job = Job::Run(machine);
                }
            }
        }
    }

    /// Brings the drive's idea of both cores up to date (after a truncation, an update).
    pub(crate) async fn refresh(&self) -> Result<(), Error> {
        let (db, blobs, shared) = (self.db, self.blobs, self.shared.clone());
        self.node
            .call_reply(move |ep| Ok(sync(ep, (db, blobs), &shared, &mut shared.state())))
            .await?
    }

    /// Runs `make`'s machine to its one result.
    pub(crate) async fn run<M>(
        &self,
        make: impl FnOnce(&State) -> M + Send + 'static,
    ) -> Result<M::Output, Error>
    where
        M: Machine + Send + 'static,
        M::Output: Send + 'static,
    {
        let (_, mut out) = self.drive(Job::Make(Box::new(make)), 1, |_| false).await?;
        out.pop().ok_or(Error::Node(NodeError::Shutdown))
    }
}

/// Brings the drive's idea of both cores up to date with their logs.
fn sync<S: Storage>(
    ep: &Endpoint<S>,
    (db, blobs): (CoreId, CoreId),
    shared: &Shared,
    drive: &mut State,
) -> Result<(), Error> {
    let log = ep.log(db).ok_or(NodeError::NoSuchCore)?;
    let (length, fork) = (log.length(), log.fork());
    if shared.db_fork.swap(fork, Ordering::Relaxed) != fork {
        // A new fork: any cached block may be the old fork's.
        drive.set_db_length(0);
    }
    if drive.bee().length() != length {
        drive.set_db_length(length);
    }
    let log = ep.log(blobs).ok_or(NodeError::NoSuchCore)?;
    let info = BlobsInfo {
        length: log.length(),
        byte_length: log.byte_length(),
    };
    if drive.blobs_core() != info {
        drive.set_blobs(info);
    }
    Ok(())
}

/// One visit: the machine runs against the two logs until it needs a block one lacks,
/// or has its outputs.
fn turn<S: Storage, M: Machine>(
    ep: &mut Endpoint<S>,
    cores: (CoreId, CoreId),
    shared: &Shared,
    job: Job<M>,
    max: usize,
    more: fn(&M::Output) -> bool,
) -> Result<Turn<M>, Error> {
    let mut drive = shared.state();
    sync(ep, cores, shared, &mut drive)?;
    let machine = match job {
        Job::Make(make) => make(&drive),
        Job::Run(m) => m,
    };
    let turn = run_turn(ep, cores, shared, &mut drive, machine, max, more);
    // What the machine appended is in the logs now: the drive's sizes follow them (a
    // handle's `version()` right after a write sees it).
    sync(ep, cores, shared, &mut drive)?;
    turn
}

/// The loop of [`turn`].
fn run_turn<S: Storage, M: Machine>(
    ep: &mut Endpoint<S>,
    cores: (CoreId, CoreId),
    shared: &Shared,
    drive: &mut State,
    mut machine: M,
    max: usize,
    more: fn(&M::Output) -> bool,
) -> Result<Turn<M>, Error> {
    let (db, blobs) = cores;
    let mut items = Vec::new();
    loop {
        let (which, seq) = match machine.poll(drive)? {
            Step::NeedDb(seq) => (Which::Db, seq),
            Step::NeedBlobs(seq) => (Which::Blobs, seq),
            Step::NeedBlobsSeek(byte) => {
                let log = ep.log(blobs).ok_or(NodeError::NoSuchCore)?;
                let at = log.seek(byte).map_err(NodeError::Core)?;
                machine.handle_seek(byte, at)?;
                continue;
            }
            Step::HasBlobs { start, end } => {
                let log = ep.log(blobs).ok_or(NodeError::NoSuchCore)?;
                machine.handle_has(start, end, log.has(start, end))?;
                continue;
            }
            Step::AppendDb(blocks) => {
                append(ep, db, blocks, shared, drive, cores)?;
                continue;
            }
            Step::AppendBlobs(blocks) => {
                append(ep, blobs, blocks, shared, drive, cores)?;
                continue;
            }
            Step::Done(out) => {
                let go_on = more(&out);
                items.push(out);
                if !go_on || items.len() >= max {
                    return Ok(Turn {
                        machine,
                        items,
                        need: None,
                    });
                }
                continue;
            }
        };
        // A block: fed from the log if held, else the turn ends needing it.
        let core = match which {
            Which::Db => db,
            Which::Blobs => blobs,
        };
        let log = ep.log(core).ok_or(NodeError::NoSuchCore)?;
        match log.get(seq).map_err(NodeError::Core)? {
            Some(b) => {
                shared.local.fetch_add(1, Ordering::Relaxed);
                feed(&mut machine, which, seq, b)?;
            }
            None => {
                let need = Some((which, seq));
                return Ok(Turn {
                    machine,
                    items,
                    need,
                });
            }
        }
    }
}

/// Feeds block `seq` of `which` to `machine`.
fn feed<M: Machine>(
    machine: &mut M,
    which: Which,
    seq: u64,
    block: bytes::Bytes,
) -> Result<(), DriveError> {
    match which {
        Which::Db => machine.handle_db(seq, &block),
        Which::Blobs => machine.handle_blobs(seq, Some(block)),
    }
}

/// Appends `blocks` to `core`; on failure the drive forgets what the machine counted in.
fn append<S: Storage>(
    ep: &mut Endpoint<S>,
    core: CoreId,
    blocks: Vec<bytes::Bytes>,
    shared: &Shared,
    drive: &mut State,
    cores: (CoreId, CoreId),
) -> Result<(), Error> {
    let log = ep.log_mut(core).ok_or(NodeError::NoSuchCore)?;
    if let Err(e) = log.append_bytes(blocks) {
        sync(ep, cores, shared, drive)?;
        return Err(NodeError::Core(e).into());
    }
    Ok(())
}
