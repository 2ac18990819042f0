//! The one loop that drives a bee's machines for every adapter.
//!
//! A machine runs inside the driver ([`Node::call_reply`]), against the core's `Log`, until
//! it needs a block the core does not hold, has produced what the caller asked for, or is
//! done: an operation over local blocks costs one visit to the driver, whatever its number
//! of blocks, and a write appends in the same visit (so a write over local blocks is
//! atomic with respect to every other command). A block the core lacks is fetched with
//! [`Node::get`](crate::Node::get) (through replication, with the bee's deadline), fed to
//! the machine, and the machine goes back to the driver.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ferrocore::replication::{CoreId, Endpoint};
use ferrocore::storage::Storage;
use ferrocore::wire::bee::Extension;
use ferrocore_hyperbee::ext::Requests;
use ferrocore_hyperbee::{Bee as State, Machine, Step, View};

use super::ext::{broadcast, ExtensionHint};

use super::Error;
use crate::node::Adapter;
use crate::turns::Turns;
use crate::{Error as NodeError, Node};

/// What every handle of one bee shares.
pub(crate) struct Shared {
    /// The sans-IO bee: its length and its cache of decoded blocks.
    pub bee: Mutex<State>,
    /// Writes take turns (one that waits for a remote block must not see another append
    /// under it).
    pub writes: Turns,
    /// Blocks fetched from peers.
    pub fetched: AtomicU64,
    /// Blocks read from local storage.
    pub local: AtomicU64,
    /// Block 0 was found to be a hyperbee header (or the core is still empty).
    pub header_checked: AtomicBool,
    /// The core's fork as of the last visit (`u64::MAX` before the first).
    fork: AtomicU64,
}

impl Shared {
    pub(crate) fn new(bee: State) -> Self {
        Shared {
            bee: Mutex::new(bee),
            writes: Turns::new(),
            fetched: AtomicU64::new(0),
            local: AtomicU64::new(0),
            header_checked: AtomicBool::new(false),
            fork: AtomicU64::new(u64::MAX),
        }
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.bee.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A machine to run: made at the bee's version when its first turn starts, or running.
pub(crate) enum Job<M> {
    /// Made from the view of the first turn (the version current then, or the pinned one).
    Make(Box<dyn FnOnce(View) -> M + Send>),
    /// Under way.
    Run(M),
}

/// A machine's `hyperbee` extension request ([`ExtensionHint::request`]).
pub(crate) type Hint<M> = fn(&M) -> Option<Extension>;

/// What one visit to the driver produced.
struct Turn<M: Machine> {
    machine: M,
    items: Vec<M::Output>,
    need: Option<u64>,
    /// Blocks the machine asked for in this visit.
    asked: u64,
}

/// Where a bee's machines run: its node, its core, its shared state, its version and how
/// it fetches.
pub(crate) struct Place<S: Storage, A: Adapter> {
    pub node: Node<S, A>,
    pub core: CoreId,
    pub shared: Arc<Shared>,
    pub pin: Option<u64>,
    pub timeout: Option<std::time::Duration>,
    pub fetch: bool,
    /// Broadcast `hyperbee` extension requests when a read waits for a remote block.
    pub extension: bool,
}

impl<S: Storage, A: Adapter> Clone for Place<S, A> {
    fn clone(&self) -> Self {
        Place {
            node: self.node.clone(),
            core: self.core,
            shared: self.shared.clone(),
            pin: self.pin,
            timeout: self.timeout,
            fetch: self.fetch,
            extension: self.extension,
        }
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Place<S, A> {
    /// Block `seq`: read locally if held, else fetched (unless fetching is off).
    pub(crate) async fn block(&self, seq: u64) -> Result<bytes::Bytes, Error> {
        let core = self.core;
        let local = self
            .node
            .call_reply(move |ep| {
                let log = ep.log(core).ok_or(NodeError::NoSuchCore)?;
                log.get(seq).map_err(NodeError::Core)
            })
            .await?;
        match local {
            Some(b) => {
                self.shared.local.fetch_add(1, Ordering::Relaxed);
                Ok(b)
            }
            None => self.fetch(seq).await,
        }
    }

    async fn fetch(&self, seq: u64) -> Result<bytes::Bytes, Error> {
        if !self.fetch {
            return Err(Error::NotLocal(seq));
        }
        let b = self.node.get_reply(self.core, seq, self.timeout).await?;
        self.shared.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(b)
    }

    /// Runs `job` until it is done, or (`more` true for an output) has produced `max`
    /// outputs. Hands back the machine (to go on with) and its outputs.
    pub(crate) async fn drive<M>(
        &self,
        job: Job<M>,
        max: usize,
        more: fn(&M::Output) -> bool,
    ) -> Result<(M, Vec<M::Output>), Error>
    where
        M: Machine + ExtensionHint + Send + 'static,
        M::Output: Send + 'static,
    {
        let pace = Mutex::new(Requests::new(M::EVERY));
        self.drive_paced(job, max, more, &pace, M::request).await
    }

    /// [`drive`](Self::drive), its extension requests paced by `pace` (a walk's, kept
    /// from one visit to the next).
    pub(crate) async fn drive_paced<M>(
        &self,
        mut job: Job<M>,
        max: usize,
        more: fn(&M::Output) -> bool,
        pace: &Mutex<Requests>,
        hint: Hint<M>,
    ) -> Result<(M, Vec<M::Output>), Error>
    where
        M: Machine + Send + 'static,
        M::Output: Send + 'static,
    {
        let mut items = Vec::new();
        loop {
            let (core, shared, pin) = (self.core, self.shared.clone(), self.pin);
            let left = max.saturating_sub(items.len()).max(1);
            let t = self
                .node
                .call_reply(move |ep| Ok(turn(ep, core, &shared, pin, job, left, more)))
                .await??;
            items.extend(t.items);
            let mut machine = t.machine;
            match t.need {
                None => return Ok((machine, items)),
                Some(seq) => {
                    self.hint(hint(&machine), t.asked, pace);
                    let b = self.fetch(seq).await?;
                    machine.handle_block(seq, &b)?;
                    job = Job::Run(machine);
                }
            }
        }
    }
}

impl<S: Storage + Send + 'static, A: Adapter> Place<S, A> {
    /// The machine asked `asked` blocks and now waits for a remote one: broadcasts its
    /// extension request if the pacing lets it (without waiting for the driver).
    fn hint(&self, request: Option<Extension>, asked: u64, pace: &Mutex<Requests>) {
        if !self.extension || !self.fetch {
            return;
        }
        let send = {
            let mut p = pace.lock().unwrap_or_else(PoisonError::into_inner);
            for _ in 0..asked {
                p.on_block();
            }
            p.on_wait()
        };
        if let Some(message) = request.filter(|_| send) {
            let core = self.core;
            drop(self.node.call_reply(move |ep| {
                broadcast(ep, core, &message);
                Ok(())
            }));
        }
    }
}

/// One visit: the machine runs against the core's log until it needs a block the log
/// lacks, or has its outputs.
fn turn<S: Storage, M: Machine>(
    ep: &mut Endpoint<S>,
    core: CoreId,
    shared: &Shared,
    pin: Option<u64>,
    job: Job<M>,
    max: usize,
    more: fn(&M::Output) -> bool,
) -> Result<Turn<M>, Error> {
    let log = ep.log(core).ok_or(NodeError::NoSuchCore)?;
    let (length, fork) = (log.length(), log.fork());
    let mut bee = shared.state();
    if shared.fork.swap(fork, Ordering::Relaxed) != fork {
        // A new fork (a truncation, maybe grown back past the old length since): any
        // cached block may be the old fork's.
        bee.set_length(0);
    }
    if bee.length() != length {
        bee.set_length(length);
    }
    let mut machine = match job {
        Job::Make(make) => make(pin.map_or_else(|| bee.view(), |v| bee.checkout(v))),
        Job::Run(m) => m,
    };
    let mut items = Vec::new();
    let mut asked = 0;
    loop {
        match machine.poll(&mut bee)? {
            Step::NeedBlock(seq) => {
                asked += 1;
                let log = ep.log(core).ok_or(NodeError::NoSuchCore)?;
                match log.get(seq).map_err(NodeError::Core)? {
                    Some(b) => {
                        shared.local.fetch_add(1, Ordering::Relaxed);
                        machine.handle_block(seq, &b)?;
                    }
                    None => {
                        return Ok(Turn {
                            machine,
                            items,
                            need: Some(seq),
                            asked,
                        })
                    }
                }
            }
            Step::Append(blocks) => {
                let log = ep.log_mut(core).ok_or(NodeError::NoSuchCore)?;
                if let Err(e) = log.append_bytes(blocks) {
                    // The machine counted its blocks in: forget them.
                    bee.set_length(log.length());
                    return Err(NodeError::Core(e).into());
                }
            }
            Step::Done(out) => {
                let go_on = more(&out);
                items.push(out);
                if !go_on || items.len() >= max {
                    return Ok(Turn {
                        machine,
                        items,
                        need: None,
                        asked,
                    });
                }
            }
        }
    }
}
