//! `ferrocore serve`: serve the core to every peer that connects.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::thread;

use bytes::Bytes;
use ferrocore::id;
use ferrocore::replication::{CoreId, EndpointConfig, Event, SessionError};
use ferrocore_blocking::bee::{Bee, BeeOptions};
use ferrocore_blocking::{Events, RecvError};
use ferrocore_storage::CoreStorage;

use super::{node_failed, on_signals, CliNode};
use crate::args::ServeArgs;
use crate::dir::CoreDir;
use crate::local::each_stdin_line;
use crate::pick::pick;
use crate::Error;
use ferrocore_store::{endpoint_config, Corestore, CorestoreOptions, GetOptions};

/// `ferrocore serve`: serves every core of the store (the picked one opened at once, the
/// others when a peer asks for them). A picked core holding a bee also answers the
/// `hyperbee` extension.
pub(crate) fn serve(args: &ServeArgs, out: &mut dyn Write) -> Result<(), Error> {
    let core_dir = CoreDir::existing(&args.dir)?;
    let store = core_dir.open_store()?;
    let picked = pick(&store, &core_dir, &args.select)?;
    // Serving sends blocks as stored (encrypted); only appending needs the key.
    let encryption_key =
        core_dir.encryption_of(&store, &picked, args.encryption_key, args.append_stdin)?;
    let node = CliNode::new(endpoint_config(EndpointConfig::default())).map_err(node_failed)?;
    let corestore =
        Corestore::open((*node).clone(), store, CorestoreOptions::default()).map_err(|e| {
            Error::Failed(format!(
                "cannot open the store in {}: {e}",
                core_dir.path.display()
            ))
        })?;
    let mut options = GetOptions::discovery_key(picked.discovery_key);
    options.encryption_key = encryption_key;
    let opened = corestore.get(options).map_err(|e| {
        Error::Failed(format!(
            "the {} in {}: {e}",
            picked.label,
            core_dir.path.display()
        ))
    })?;
    let core = opened.id;
    if args.append_stdin && !opened.writable {
        return Err(Error::Failed(format!(
            "the {} in {} is read-only (a clone of {}): only its writer can append",
            picked.label,
            core_dir.path.display(),
            id::core_id(&opened.key)
        )));
    }
    let key = opened.key;
    let length = node.info(core).map_err(node_failed)?.length;
    // A bee answers JS readers' `hyperbee` extension requests while it is served.
    let _bee = (!args.append_stdin && length > 0)
        .then(|| open_bee(&node, core))
        .flatten();

    // What ends serving: a signal (Ok) or a failed append (Err).
    let (stop, stopped) = mpsc::channel::<Result<(), Error>>();
    let signalled = stop.clone();
    on_signals(move |_| {
        let _ = signalled.send(Ok(()));
    })?;
    let addr = match &args.listen {
        Some(listen) => Some(
            node.listen(listen.as_str())
                .map_err(|e| Error::Network(format!("cannot listen on {listen}: {e}")))?,
        ),
        None => None,
    };
    writeln!(out, "key {}", hex::encode(key))?;
    if let Some(addr) = addr {
        writeln!(out, "listening {addr}")?;
    }
    out.flush()?;
    let _swarm = if args.swarm {
        let topics: Vec<[u8; 32]> = corestore
            .list()
            .map_err(|e| Error::Failed(format!("cannot list the store's cores: {e}")))?
            .iter()
            .map(|c| c.discovery_key)
            .collect();
        let bootstrap = super::dht::bootstrap_list(args.bootstrap.as_deref())?;
        let key_pair = super::swarm::store_key_pair(corestore.primary_key());
        Some(super::swarm::serve(
            &node, bootstrap, &topics, key_pair, out,
        )?)
    } else {
        None
    };
    let addr = addr.map_or_else(|| "the swarm".to_owned(), |a| a.to_string());
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
    // Ends every connection in order; the endpoint handed back holds the logs, and
    // dropping it (and the store handle) closes the store.
    drop(node.shutdown());
    drop(corestore);
    result
}

/// The picked core as a bee, if its first block is a hyperbee header: its `hyperbee`
/// extension answers peers' get and range requests with the blocks their lookups need
/// (from local blocks only), as a JS Hyperbee on the core would.
fn open_bee(node: &CliNode, core: CoreId) -> Option<Bee<CoreStorage>> {
    let options = BeeOptions {
        fetch: false,
        ..BeeOptions::default()
    };
    Bee::open(node, core, options).ok()
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
