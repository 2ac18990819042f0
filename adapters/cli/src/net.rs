//! The commands that replicate over TCP: serve and clone, on the blocking adapter's
//! [`Node`].
//!
//! Both install SIGTERM/SIGINT handlers (`signal-hook`) that shut the node down in
//! order: connections end cleanly (their last bytes are written), the endpoint hands back
//! the log, and dropping it closes the store.
//!
//! `clone` runs one thread beside the main one that watches the node's events: a session
//! that ends before the clone is done (the peer sent data that failed verification, broke
//! the protocol, or went away) records why and shuts the node down, which ends the main
//! thread's blocking request with [`NodeError::Shutdown`]; the recorded reason becomes
//! the command's error. It also draws the progress line when stderr is a terminal.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{
    CoreId, EndpointConfig, Event, PeerError, RequestError, SessionError,
};
use ferrocore::wire::noise::Role;
use ferrocore::wire::stream::Blame;
use ferrocore::{hash, id};
use ferrocore_blocking::{Error as NodeError, Events, Node, RecvError};
use ferrocore_storage::{CoreStorage, Durability};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::args::{CloneArgs, ServeArgs};
use crate::dir::{self, CoreDir, Marker};
use crate::local::{each_stdin_line, require_writable};
use crate::Error;

type CliNode = Node<CoreStorage>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Calls `f` with the signal number on every SIGTERM and SIGINT (on a thread of its own).
fn on_signals(f: impl Fn(i32) + Send + 'static) -> Result<(), Error> {
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
fn node_failed(e: NodeError) -> Error {
    Error::Failed(format!("cannot start the replication node: {e}"))
}

// ----- serve -----------------------------------------------------------------------------------

/// `ferrocore serve`.
pub(crate) fn serve(args: &ServeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let core_dir = CoreDir::existing(&args.dir)?;
    let encryption_key = core_dir.encryption(args.encryption_key, true)?;
    let store = core_dir.open_store()?;
    let log = core_dir.open_log(&store, encryption_key)?;
    if args.append_stdin {
        require_writable(&core_dir, &log, "append")?;
    }
    let (key, length) = (*log.key(), log.length());
    let node = CliNode::new(EndpointConfig::default()).map_err(node_failed)?;
    let core = node.add_core(log).map_err(node_failed)?;

    // What ends serving: a signal (Ok) or a failed append (Err).
    let (stop, stopped) = mpsc::channel::<Result<(), Error>>();
    let signalled = stop.clone();
    on_signals(move |_| {
        let _ = signalled.send(Ok(()));
    })?;
    let addr = node
        .listen(args.listen.as_str())
        .map_err(|e| Error::Network(format!("cannot listen on {}: {e}", args.listen)))?;
    writeln!(out, "key {}", hex::encode(key))?;
    writeln!(out, "listening {addr}")?;
    out.flush()?;
    let terminal = std::io::stderr().is_terminal();
    if terminal {
        eprintln!(
            "serving core {} (length {length}) on {addr}; stop with Ctrl-C",
            id::core_id(&key)
        );
        let events = node.events();
        thread::Builder::new()
            .name("ferrocore-peers".into())
            .spawn(move || report_peers(&events))?;
    }
    if args.append_stdin {
        let node = node.clone();
        let stop = stop.clone();
        thread::Builder::new()
            .name("ferrocore-stdin".into())
            .spawn(move || {
                if let Err(e) = append_stdin(&node, core) {
                    let _ = stop.send(Err(e));
                }
            })?;
    }
    drop(stop);
    // The signal thread holds a sender for as long as the process runs.
    let result = stopped.recv().unwrap_or(Ok(()));
    // Ends every connection in order; the endpoint handed back holds the log, and dropping
    // it closes the store.
    drop(node.shutdown());
    result
}

/// Appends every line of stdin (until its end) as one block.
fn append_stdin(node: &CliNode, core: CoreId) -> Result<(), Error> {
    each_stdin_line(|line| {
        node.append(core, vec![Bytes::copy_from_slice(line)])
            .map_err(|e| Error::Failed(format!("appending a line from stdin failed: {e}")))?;
        Ok(())
    })
}

/// Reports connections and peers on stderr (a terminal).
fn report_peers(events: &Events) {
    loop {
        match events.recv_blocking() {
            Ok(Event::Connected {
                remote_public_key, ..
            }) => eprintln!("peer connected: {}", hex::encode(&remote_public_key[..8])),
            Ok(Event::Closed { error, .. }) => match error {
                None | Some(SessionError::RemoteEnded) => eprintln!("peer disconnected"),
                Some(e) => eprintln!("peer disconnected: {e}"),
            },
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}

// ----- clone -----------------------------------------------------------------------------------

/// Why the node was stopped from another thread.
#[derive(Debug)]
enum Reason {
    /// SIGTERM or SIGINT.
    Signal(i32),
    /// The session failed (or local storage did).
    Failed(Error),
}

#[derive(Debug, Default)]
struct StopState {
    reason: Option<Reason>,
    stopping: bool,
    stopped: bool,
}

/// Shuts the node down once, from whichever thread asks first, remembering the first
/// reason given; everyone who asks waits until the node is down and its store closed.
struct Stopper {
    node: CliNode,
    state: Mutex<StopState>,
    done: Condvar,
}

impl Stopper {
    fn new(node: CliNode) -> Self {
        Self {
            node,
            state: Mutex::new(StopState::default()),
            done: Condvar::new(),
        }
    }

    fn stop(&self, reason: Option<Reason>) {
        let mut state = lock(&self.state);
        if state.reason.is_none() {
            state.reason = reason;
        }
        if state.stopping {
            while !state.stopped {
                state = self
                    .done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            return;
        }
        state.stopping = true;
        drop(state);
        // Connections end in order; the endpoint handed back holds the log, and dropping
        // it closes the store.
        drop(self.node.shutdown());
        lock(&self.state).stopped = true;
        self.done.notify_all();
    }

    fn stopping(&self) -> bool {
        lock(&self.state).stopping
    }

    fn take_reason(&self) -> Option<Reason> {
        lock(&self.state).reason.take()
    }
}

/// What the event watcher has seen, for messages and progress.
#[derive(Debug, Default)]
struct Status {
    connected: AtomicBool,
    peer_added: AtomicBool,
    /// Set once the clone is done: a session ending after that is no failure.
    finishing: AtomicBool,
    /// Set once the initial download of `--live` is done.
    live: AtomicBool,
    /// Blocks of the download stored (present before it started, or verified since).
    done: AtomicU64,
    /// Blocks the download wants (0 until known).
    total: AtomicU64,
    /// Average block size of the core in bytes (for the progress line's rate).
    average_block: AtomicU64,
}

/// Everything a clone's threads share.
struct Cloning {
    addr: String,
    key: [u8; 32],
    timeout: u64,
    node: CliNode,
    core: CoreId,
    stopper: Arc<Stopper>,
    status: Arc<Status>,
}

impl Cloning {
    /// The error for a failed node call.
    fn node_error(&self, e: NodeError) -> Error {
        match e {
            NodeError::Shutdown => self.stop_reason(),
            NodeError::Request(RequestError::Timeout) => self.timeout_error(),
            NodeError::Io(e) => Error::Network(format!("the connection to {}: {e}", self.addr)),
            e => Error::Failed(format!("replication failed: {e}")),
        }
    }

    /// Why the node shut down under a request (after waiting until it is down).
    fn stop_reason(&self) -> Error {
        self.stopper.stop(None);
        match self.stopper.take_reason() {
            Some(Reason::Signal(signal)) => Error::Interrupted(signal),
            Some(Reason::Failed(e)) => e,
            None => Error::Failed("the replication node shut down unexpectedly".into()),
        }
    }

    /// The error when `--timeout` passed, saying how far the clone got.
    fn timeout_error(&self) -> Error {
        let (s, addr) = (&self.status, &self.addr);
        let secs = self.timeout;
        Error::Timeout(if !s.connected.load(Ordering::Acquire) {
            format!("timed out after {secs} s: no handshake with {addr} (is it a hypercore peer?)")
        } else if !s.peer_added.load(Ordering::Acquire) {
            format!(
                "timed out after {secs} s: connected to {addr}, but the peer never opened core \
                 {}; it probably does not have this core (check KEY)",
                id::core_id(&self.key)
            )
        } else {
            match s.total.load(Ordering::Acquire) {
                0 => format!("timed out after {secs} s waiting for the peer's length"),
                total => format!(
                    "timed out after {secs} s with {} of {total} blocks downloaded; run the \
                     same command again to resume, or raise --timeout (0: no limit)",
                    s.done.load(Ordering::Acquire)
                ),
            }
        })
    }

    /// The error for a session that ended before the clone was done.
    fn closed_error(&self, error: Option<SessionError>) -> Error {
        let addr = &self.addr;
        let id = id::core_id(&self.key);
        match error {
            None => Error::Network(format!("the connection to {addr} was closed")),
            Some(SessionError::RemoteEnded) if !self.status.peer_added.load(Ordering::Acquire) => {
                Error::Network(format!(
                    "{addr} closed the connection without opening core {id}: it does not serve \
                     this core (check KEY)"
                ))
            }
            Some(SessionError::RemoteEnded) if self.status.live.load(Ordering::Acquire) => {
                Error::Network(format!("{addr} closed the connection"))
            }
            Some(SessionError::RemoteEnded) => Error::Network(format!(
                "{addr} closed the connection before the download finished"
            )),
            Some(SessionError::Peer(PeerError::InvalidProof { error, .. })) => {
                Error::Peer(format!(
                    "the peer at {addr} sent data that failed verification: {error} (the data was \
                 discarded; blocks verified before it are kept)"
                ))
            }
            Some(SessionError::Peer(PeerError::BadCapability(_))) => Error::Peer(format!(
                "the peer at {addr} failed the capability check for core {id}: it does not know \
                 this core's key"
            )),
            Some(SessionError::Peer(e)) => {
                Error::Peer(format!("the peer at {addr} misbehaved: {e}"))
            }
            Some(SessionError::Connection(e)) => match e.blame() {
                Blame::Peer => Error::Peer(format!(
                    "the peer at {addr} broke the encrypted transport: {e}"
                )),
                Blame::Timeout => {
                    Error::Network(format!("the connection to {addr} timed out: {e}"))
                }
                Blame::Local => Error::Network(format!("the connection to {addr} failed: {e}")),
            },
            Some(SessionError::Transport(e)) => {
                Error::Network(format!("the connection to {addr} was lost: {e}"))
            }
            Some(e) => Error::Network(format!("the connection to {addr} ended: {e}")),
        }
    }

    /// Stops the node for a failed session unless the clone is already done.
    fn fail(&self, error: Error) {
        if !self.status.finishing.load(Ordering::Acquire) {
            self.stopper.stop(Some(Reason::Failed(error)));
        }
    }
}

/// Time left until `deadline`, or a timeout error if none is.
fn remaining(clone: &Cloning, deadline: Option<Instant>) -> Result<Option<Duration>, Error> {
    match deadline {
        None => Ok(None),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(clone.timeout_error()),
        },
    }
}

/// Connects to `addr` (every address it resolves to, in order).
fn dial(addr: &str, timeout: Option<Duration>) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| Error::Network(format!("cannot resolve {addr}: {e}")))?
        .collect();
    let mut last = None;
    for a in &addrs {
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(a, t),
            None => TcpStream::connect(a),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut && timeout.is_some() => {
            Error::Timeout(format!("timed out connecting to {addr}"))
        }
        Some(e) => Error::Network(format!(
            "could not connect to {addr}: {e}; is a peer serving there (e.g. `ferrocore serve \
             DIR --listen {addr}`)?"
        )),
        None => Error::Network(format!("{addr} resolves to no address")),
    })
}

/// Opens (or creates) the read-only core `args.key` in `args.dir`; returns the log and the
/// marker to write if the core is new.
fn open_clone(args: &CloneArgs) -> Result<OpenClone, Error> {
    let d = &args.dir;
    let created_dir = dir::make_dir(d)?;
    let (encryption_key, marker) = match dir::read_marker(d)? {
        Some(marker) => {
            if marker.key != args.key {
                return Err(Error::Failed(format!(
                    "{} holds core {}, not {}; clone into another directory",
                    d.display(),
                    id::core_id(&marker.key),
                    id::core_id(&args.key)
                )));
            }
            let core_dir = CoreDir {
                path: d.clone(),
                marker,
            };
            (core_dir.encryption(args.encryption_key, args.live)?, None)
        }
        None => (
            args.encryption_key,
            Some(Marker::new(args.key, args.encryption_key.as_ref())),
        ),
    };
    // Group commit while downloading; `clone` flushes durably when it ends.
    let store = dir::open_store(d, Durability::Eventual)?;
    let options = LogOptions {
        key: Some(args.key),
        encryption_key,
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&hash::discovery_key(&args.key)), options)
        .map_err(|e| dir::core_error(d, e))?;
    Ok(OpenClone {
        store,
        log,
        new_marker: marker,
        created_dir,
    })
}

/// The core a clone downloads into.
struct OpenClone {
    store: ferrocore_storage::Store,
    log: Log<CoreStorage>,
    /// The marker to write: the core is new.
    new_marker: Option<Marker>,
    /// The directory was made by this clone.
    created_dir: bool,
}

/// `ferrocore clone`.
pub(crate) fn clone(args: &CloneArgs, out: &mut dyn Write) -> Result<(), Error> {
    let deadline = (args.timeout > 0).then(|| Instant::now() + Duration::from_secs(args.timeout));
    let OpenClone {
        store,
        log,
        new_marker,
        created_dir,
    } = open_clone(args)?;
    if let Some(marker) = &new_marker {
        if let Err(e) = dir::write_marker(&args.dir, marker) {
            drop((log, store));
            dir::remove_new_core(&args.dir, created_dir);
            return Err(e);
        }
    }
    let node = CliNode::new(EndpointConfig::default()).map_err(node_failed)?;
    let core = node.add_core(log).map_err(node_failed)?;
    let events = node.events();
    let clone = Arc::new(Cloning {
        addr: args.connect.clone(),
        key: args.key,
        timeout: args.timeout,
        core,
        stopper: Arc::new(Stopper::new(node.clone())),
        status: Arc::new(Status::default()),
        node,
    });
    let stopper = clone.stopper.clone();
    on_signals(move |signal| stopper.stop(Some(Reason::Signal(signal))))?;
    let progress = std::io::stderr().is_terminal();
    let watcher = {
        let clone = clone.clone();
        thread::Builder::new()
            .name("ferrocore-events".into())
            .spawn(move || watch(&clone, &events, progress))?
    };
    let result = run_clone(&clone, args, deadline, out);
    clone.status.finishing.store(true, Ordering::Release);
    clone.stopper.stop(None);
    let _ = watcher.join();
    // Everything downloaded becomes durable here (the node, and with it the log, is
    // gone).
    let flushed = store.flush();
    drop(store);
    let result = match (result, flushed) {
        // SIGTERM/SIGINT is how a live clone ends.
        (Err(Error::Interrupted(_)), Ok(())) if args.live => Ok(()),
        (Ok(()), Err(e)) => Err(Error::Failed(format!(
            "storing the download in {} failed: {e}",
            args.dir.display()
        ))),
        (result, _) => result,
    };
    let status = &clone.status;
    if result.is_err()
        && new_marker.is_some()
        && !status.live.load(Ordering::Acquire)
        && status.done.load(Ordering::Acquire) == 0
    {
        // A first clone that got nothing (a wrong KEY or address, say) leaves no core
        // behind, so running it again with other arguments just works.
        dir::remove_new_core(&args.dir, created_dir);
    }
    result
}

/// Connects, learns the length, downloads, then (with `--live`) follows the core.
fn run_clone(
    clone: &Cloning,
    args: &CloneArgs,
    deadline: Option<Instant>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (node, core) = (&clone.node, clone.core);
    let stream = dial(&args.connect, remaining(clone, deadline)?)?;
    node.add_stream(stream, Role::Initiator)
        .map_err(|e| clone.node_error(e))?;
    let length = node
        .update(core, remaining(clone, deadline)?)
        .map_err(|e| clone.node_error(e))?;
    let wanted: Option<Vec<u64>> = args.blocks.as_ref().map(|b| {
        let set: BTreeSet<u64> = b.iter().copied().collect();
        set.into_iter().collect()
    });
    if let Some(missing) = wanted.iter().flatten().find(|&&i| i >= length) {
        return Err(Error::NotFound(format!(
            "block {missing} does not exist: the peer's core has length {length}"
        )));
    }
    let info = node.info(core).map_err(|e| clone.node_error(e))?;
    let status = &clone.status;
    if let Some(average) = info.byte_length.checked_div(info.length) {
        status.average_block.store(average, Ordering::Release);
    }
    let present = {
        let wanted = wanted.clone();
        node.with_endpoint(move |ep| {
            ep.log(core).map_or(0, |log| match &wanted {
                Some(list) => list.iter().filter(|&&i| log.has_block(i)).count() as u64,
                None => log.bitfield().count(0, length.min(log.length())),
            })
        })
        .map_err(|e| clone.node_error(e))?
    };
    status.done.fetch_add(present, Ordering::AcqRel);
    let total = wanted.as_ref().map_or(length, |w| w.len() as u64);
    status.total.store(total, Ordering::Release);
    let mut download = match wanted {
        Some(list) => node.download_blocks(core, list),
        None => node.download(core, 0, Some(length)),
    }
    .map_err(|e| clone.node_error(e))?;
    let done = match remaining(clone, deadline)? {
        Some(left) => download
            .wait_timeout(left)
            .ok_or_else(|| clone.timeout_error())?,
        None => download.wait(),
    };
    done.map_err(|e| clone.node_error(e))?;
    if !args.live {
        return Ok(());
    }
    // From here on only new blocks are printed, each once it is verified and stored.
    clone.status.live.store(true, Ordering::Release);
    eprintln!(
        "following core {} live from block {length}; stop with Ctrl-C",
        id::core_id(&clone.key)
    );
    let _live = node
        .download(core, length, None)
        .map_err(|e| clone.node_error(e))?;
    let mut next = length;
    loop {
        let block = node
            .get(core, next, None)
            .map_err(|e| clone.node_error(e))?;
        writeln!(out, "Block {next}: {}", String::from_utf8_lossy(&block))?;
        out.flush()?;
        next += 1;
    }
}

/// Watches the node's events until it stops: records the handshake and the peer, counts
/// verified blocks (drawing the progress line if `progress`), and stops the node when the
/// session fails before the clone is done. A `Closed` event is never lost, however far
/// behind this thread falls (the node's event policy), so waiting for it is enough.
fn watch(clone: &Cloning, events: &Events, progress: bool) {
    let status = &clone.status;
    let mut bar = Progress::new(progress);
    loop {
        match events.recv_timeout(Duration::from_millis(100)) {
            Ok(Event::Connected { .. }) => status.connected.store(true, Ordering::Release),
            Ok(Event::PeerAdded { core, .. }) if core == clone.core => {
                status.peer_added.store(true, Ordering::Release);
            }
            Ok(Event::Verified { core, .. }) if core == clone.core => {
                status.done.fetch_add(1, Ordering::AcqRel);
            }
            Ok(Event::Closed { error, .. }) => {
                bar.clear();
                clone.fail(clone.closed_error(error));
                return;
            }
            Ok(Event::StorageFailed { error, .. }) => {
                bar.clear();
                clone.fail(Error::Failed(format!(
                    "storing downloaded data failed: {error}"
                )));
                return;
            }
            // Missed `Verified` events only make the progress line lag.
            Ok(_) | Err(RecvError::Empty | RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
        if clone.stopper.stopping() || status.finishing.load(Ordering::Acquire) {
            bar.finish(status);
            return;
        }
        bar.draw(status, false);
    }
}

/// The one-line progress display on stderr (only when it is a terminal).
struct Progress {
    enabled: bool,
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: Instant::now(),
            last: None,
            drawn: false,
        }
    }

    fn draw(&mut self, status: &Status, force: bool) {
        let total = status.total.load(Ordering::Acquire);
        if !self.enabled || total == 0 {
            return;
        }
        if !force
            && self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(Instant::now());
        let done = status.done.load(Ordering::Acquire).min(total);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let mb = (done * status.average_block.load(Ordering::Acquire)) as f64 / 1e6;
        let percent = done * 100 / total;
        eprint!(
            "\r{done}/{total} blocks ({percent}%), ~{:.1} MB/s   ",
            mb / secs
        );
        let _ = std::io::stderr().flush();
        self.drawn = true;
    }

    fn finish(&mut self, status: &Status) {
        if self.drawn {
            self.draw(status, true);
            eprintln!();
            self.drawn = false;
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}
