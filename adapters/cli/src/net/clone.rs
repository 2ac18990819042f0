//! `ferrocore clone`: download (and verify) a core from a peer, optionally following it
//! live.
//!
//! `clone` runs one thread beside the main one that watches the node's events
//! ([`watch`]): a session that ends before the clone is done (the
//! peer sent data that failed verification, broke the protocol, or went away) records why
//! and shuts the node down, which ends the main thread's blocking request with
//! [`NodeError::Shutdown`](ferrocore_blocking::Error::Shutdown); the recorded reason
//! becomes the command's error. It also draws the progress line when stderr is a
//! terminal.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::EndpointConfig;
use ferrocore::wire::noise::Role;
use ferrocore::{hash, id};
use ferrocore_storage::{CoreStorage, Durability};

use super::watch::{watch, Cloning, Reason, Status, Stopper};
use super::{node_failed, on_signals, CliNode};
use crate::args::CloneArgs;
use crate::dir::{self, CoreDir, Marker};
use crate::Error;

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
