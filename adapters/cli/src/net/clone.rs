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
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::wire::noise::Role;
use ferrocore::{hash, id};
use ferrocore_blocking::{DownloadHandle, Events};
use ferrocore_storage::{CoreStorage, Durability, Store};

use super::live;
use super::watch::{watch, Cloning, Reason, Status, Stopper};
use super::{node_failed, on_signals, CliNode};
use crate::args::CloneArgs;
use crate::dir::{self, CoreDir, Marker};
use crate::local::store_primary_key;
use crate::pick::Picked;
use crate::Error;

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

/// Opens (or creates) the read-only core `args.key` in the store of `args.dir`; returns
/// the log and the marker to write if the store is new (its first core is its default).
fn open_clone(args: &CloneArgs) -> Result<OpenClone, Error> {
    let d = &args.dir;
    let created_dir = dir::make_dir(d)?;
    let marker = dir::read_marker(d)?;
    // Group commit while downloading; `clone` flushes durably when it ends.
    let store = dir::open_store(d, Durability::Eventual)?;
    let discovery_key = hash::discovery_key(&args.key);
    let (encryption_key, new_marker) = match marker {
        Some(marker) => {
            let held = store
                .has_core(&discovery_key)
                .map_err(|e| dir::core_error(d, e.into()))?;
            if marker.key != args.key && !held && !args.add {
                return Err(Error::Failed(format!(
                    "{} holds core {}, not {}; clone into another directory, or pass --add to \
                     add it to the store",
                    d.display(),
                    id::core_id(&marker.key),
                    id::core_id(&args.key)
                )));
            }
            let core_dir = CoreDir {
                path: d.clone(),
                marker,
            };
            let picked = Picked {
                discovery_key,
                key: Some(args.key),
                label: format!("core {}", id::core_id(&args.key)),
                default: core_dir.marker.key == args.key,
            };
            let key = if held || picked.default {
                core_dir.encryption_of(&store, &picked, args.encryption_key, args.live)?
            } else {
                // A core new to the store (`--add`): nothing to check the key against.
                args.encryption_key
            };
            (key, None)
        }
        None => {
            store_primary_key(d, &store, None)?;
            (
                args.encryption_key,
                Some(Marker::new(args.key, args.encryption_key.as_ref())),
            )
        }
    };
    let options = LogOptions {
        key: Some(args.key),
        encryption_key,
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&discovery_key), options).map_err(|e| dir::core_error(d, e))?;
    if let Some(k) = &encryption_key {
        ferrocore_store::remember_encryption_key(&store, &discovery_key, k)
            .map_err(|e| dir::core_error(d, e.into()))?;
    }
    Ok(OpenClone {
        store,
        log,
        new_marker,
        created_dir,
    })
}

/// The core a clone downloads into.
struct OpenClone {
    store: Store,
    log: Log<CoreStorage>,
    /// The marker to write: the core is new.
    new_marker: Option<Marker>,
    /// The directory was made by this clone.
    created_dir: bool,
}

/// `ferrocore clone`.
pub(crate) fn clone(args: &CloneArgs, out: &mut dyn Write) -> Result<(), Error> {
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
    // Subscribed before connecting, so no truncation goes unseen.
    let live_events = args.live.then(|| node.events());
    let clone = Arc::new(Cloning {
        addr: args
            .connect
            .clone()
            .unwrap_or_else(|| "the swarm's peers".to_owned()),
        swarm: args.connect.is_none(),
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
    // With --swarm, the swarm runs (finding and adding peers) until the clone ends; it is
    // dropped once the node shut down, so its streams can close.
    let mut swarm = None;
    let result = run_clone(&clone, args, &store, live_events, &mut swarm, out);
    clone.status.finishing.store(true, Ordering::Release);
    clone.stopper.stop(None);
    let _ = watcher.join();
    drop(swarm);
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
    store: &Store,
    live_events: Option<Events>,
    swarm: &mut Option<super::swarm::SwarmRuntime>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let (node, core) = (&clone.node, clone.core);
    // Bounds connecting, learning the length, and each wait for the download's next block.
    let limit = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    // Finding peers while connecting (JS `core.findingPeers()` around a swarm's join):
    // the update waits for the peer to open the core's channel, up to the time limit,
    // instead of ending at once when it has not (yet, or at all: a peer without the core
    // refuses it, and the wait ends as "never opened").
    node.with_endpoint(move |ep| ep.start_finding_peers(Some(core)))
        .map_err(|e| clone.node_error(e))?
        .map_err(|e| Error::Failed(format!("cannot start the clone: {e}")))?;
    match &args.connect {
        Some(addr) => {
            let stream = dial(addr, limit)?;
            node.add_stream(stream, Role::Initiator)
                .map_err(|e| clone.node_error(e))?;
        }
        None => {
            let bootstrap = super::dht::bootstrap_list(args.bootstrap.as_deref())?;
            let topic = ferrocore::hash::discovery_key(&args.key);
            *swarm = Some(super::swarm::find(node, bootstrap, topic, limit)?);
        }
    }
    let length = node.update(core, limit).map_err(|e| clone.node_error(e))?;
    node.with_endpoint(move |ep| ep.stop_finding_peers(Some(core)))
        .map_err(|e| clone.node_error(e))?
        .map_err(|e| Error::Failed(format!("the clone failed: {e}")))?;
    let wanted: Option<Arc<[u64]>> = args.blocks.as_ref().map(|b| {
        let set: BTreeSet<u64> = b.iter().copied().collect();
        set.into_iter().collect()
    });
    if let Some(missing) = wanted.iter().flat_map(|w| w.iter()).find(|&&i| i >= length) {
        return Err(Error::NotFound(format!(
            "block {missing} does not exist: the peer's core has length {length}"
        )));
    }
    let info = node.info(core).map_err(|e| clone.node_error(e))?;
    let status = &clone.status;
    if let Some(average) = info.byte_length.checked_div(info.length) {
        status.average_block.store(average, Ordering::Release);
    }
    let stored = || stored(clone, wanted.clone(), length);
    status.done.fetch_add(stored()?, Ordering::AcqRel);
    let total = wanted.as_ref().map_or(length, |w| w.len() as u64);
    status.total.store(total, Ordering::Release);
    let download = match &wanted {
        Some(list) => node.download_blocks(core, list.to_vec()),
        None => node.download(core, 0, Some(length)),
    }
    .map_err(|e| clone.node_error(e))?;
    wait_download(clone, download, limit, stored)?;
    if clone.swarm {
        // On stderr with the swarm's `peer` lines: the download is complete and verified
        // (the command still lets its streams close before it exits).
        eprintln!("downloaded {total} blocks");
    }
    let drive = crate::drive::clone_blobs(
        node,
        store,
        &args.dir,
        core,
        &args.key,
        args.paths.is_some(),
    )?;
    match drive {
        // `--blocks` names the db's blocks only: the blobs core is there, empty, and
        // reads of what it lacks are exit 3.
        Some(blobs) if args.blocks.is_none() => clone_blobs(clone, args, blobs, limit)?,
        _ => {}
    }
    match live_events {
        Some(events) => live::follow(clone, &events, store, length, out),
        None => Ok(()),
    }
}

/// A drive's blobs core (its db core cloned): learns its length from the peer and
/// downloads it whole, or only the blobs of `--paths`; says how many blocks on stderr.
fn clone_blobs(
    clone: &Cloning,
    args: &CloneArgs,
    blobs: CoreId,
    limit: Option<Duration>,
) -> Result<(), Error> {
    let node = &clone.node;
    let scope = |start: bool| {
        node.with_endpoint(move |ep| {
            if start {
                ep.start_finding_peers(Some(blobs))
            } else {
                ep.stop_finding_peers(Some(blobs))
            }
        })
        .map_err(|e| clone.node_error(e))?
        .map_err(|e| Error::Failed(format!("cannot clone the drive's blobs core: {e}")))
    };
    scope(true)?;
    let length = node.update(blobs, limit).map_err(|e| clone.node_error(e))?;
    scope(false)?;
    let blocks = match &args.paths {
        Some(paths) => {
            crate::drive::download_paths(node, &args.dir, (clone.core, blobs), paths, limit)?
        }
        None => {
            let download = node
                .download(blobs, 0, Some(length))
                .map_err(|e| clone.node_error(e))?;
            let held = || {
                node.with_endpoint(move |ep| {
                    ep.log(blobs)
                        .map_or(0, |log| log.bitfield().count(0, length.min(log.length())))
                })
                .map_err(|e| clone.node_error(e))
            };
            wait_download(clone, download, limit, held)?;
            length
        }
    };
    eprintln!("downloaded {blocks} blobs blocks");
    Ok(())
}

/// How often a download with a time limit looks at its progress.
const PROGRESS_CHECK: Duration = Duration::from_millis(250);

/// Bytes that count as progress when no block was stored: a peer answers a batch of
/// requests in one record, verified only once it all arrived, so on a slow link data
/// arrives long before blocks do. Keep-alives (about 20 bytes every 5 s) take over an
/// hour to add up to this.
const PROGRESS_BYTES: u64 = 16 * 1024;

/// The blocks of the download stored locally: of `wanted`, or of `0..length`.
fn stored(clone: &Cloning, wanted: Option<Arc<[u64]>>, length: u64) -> Result<u64, Error> {
    let core = clone.core;
    clone
        .node
        .with_endpoint(move |ep| {
            ep.log(core).map_or(0, |log| match &wanted {
                Some(list) => list.iter().filter(|&&i| log.has_block(i)).count() as u64,
                None => log.bitfield().count(0, length.min(log.length())),
            })
        })
        .map_err(|e| clone.node_error(e))
}

/// Waits for the download to end. With a `limit` it fails once that long passed without
/// progress (a block stored, or [`PROGRESS_BYTES`] received): a download that keeps going
/// may take as long as it takes.
fn wait_download(
    clone: &Cloning,
    mut download: DownloadHandle,
    limit: Option<Duration>,
    stored: impl Fn() -> Result<u64, Error>,
) -> Result<(), Error> {
    let Some(limit) = limit else {
        return download.wait().map_err(|e| clone.node_error(e));
    };
    let progress = || Ok::<_, Error>((stored()?, clone.node.bytes_received()));
    // Progress when the window started, and when that was.
    let ((mut blocks, mut bytes), mut since) = (progress()?, Instant::now());
    loop {
        if let Some(done) = download.wait_timeout(PROGRESS_CHECK.min(limit)) {
            return done.map_err(|e| clone.node_error(e));
        }
        let (now_blocks, now_bytes) = progress()?;
        if now_blocks != blocks || now_bytes >= bytes + PROGRESS_BYTES {
            ((blocks, bytes), since) = ((now_blocks, now_bytes), Instant::now());
        } else if since.elapsed() >= limit {
            return Err(clone.timeout_error());
        }
    }
}
