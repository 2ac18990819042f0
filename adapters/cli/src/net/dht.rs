//! `ferrocore dht`: a HyperDHT node on UDP (dht-rpc, and the PEER_HANDSHAKE and
//! PEER_HOLEPUNCH relay) until SIGTERM or SIGINT.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use ferrocore_blocking::dht::{bind_dht, RpcConfig};

use super::on_signals;
use crate::args::{DhtArgs, DEFAULT_BOOTSTRAP};
use crate::Error;

/// One bootstrap entry: `HOST:PORT`, or JS's `IP@HOST:PORT` (the IP is used as is, the
/// host name only when the IP is not an address).
fn resolve(entry: &str) -> Result<Vec<SocketAddr>, Error> {
    let entry = entry.trim();
    if let Some((ip, rest)) = entry.split_once('@') {
        if let Some((_, port)) = rest.rsplit_once(':') {
            if let Ok(addr) = format!("{ip}:{port}").parse::<SocketAddr>() {
                return Ok(vec![addr]);
            }
        }
        return resolve(rest);
    }
    let addrs: Vec<SocketAddr> = entry
        .to_socket_addrs()
        .map_err(|e| Error::Usage(format!("bad bootstrap node {entry:?}: {e}")))?
        .filter(SocketAddr::is_ipv4)
        .collect();
    if addrs.is_empty() {
        return Err(Error::Usage(format!(
            "bootstrap node {entry:?} has no IPv4 address (HyperDHT is IPv4 only)"
        )));
    }
    Ok(addrs)
}

/// The bootstrap list `--bootstrap` gives (`None`: JS's public nodes; `none`: empty).
pub(crate) fn bootstrap_list(arg: Option<&str>) -> Result<Vec<SocketAddr>, Error> {
    let entries: Vec<&str> = match arg {
        None => DEFAULT_BOOTSTRAP.to_vec(),
        Some(s) if s.trim() == "none" => Vec::new(),
        Some(s) => s.split(',').filter(|e| !e.trim().is_empty()).collect(),
    };
    let mut out = Vec::new();
    for e in entries {
        out.extend(resolve(e)?);
    }
    Ok(out)
}

/// Runs `ferrocore dht`.
pub(crate) fn dht(args: &DhtArgs, out: &mut dyn Write) -> Result<(), Error> {
    let bootstrap = bootstrap_list(args.bootstrap.as_deref())?;
    let config = RpcConfig {
        persistent: args.persistent || bootstrap.is_empty(),
        bootstrap,
        ..RpcConfig::default()
    };
    let node = bind_dht(args.listen.as_str(), config)
        .map_err(|e| Error::Network(format!("cannot listen on {}: {e}", args.listen)))?;
    let (stop, stopped) = mpsc::channel();
    on_signals(move |_| {
        let _ = stop.send(());
    })?;
    writeln!(out, "listening {}", node.local_addr()?)?;
    out.flush()?;
    // A bootstrap node knows its id at once; another learns its address (hence its
    // persistent id) while bootstrapping.
    let mut id_printed = false;
    if let Some(id) = node.id() {
        writeln!(out, "id {}", hex::encode(id))?;
        out.flush()?;
        id_printed = true;
    }
    let mut bootstrapped = false;
    loop {
        match stopped.recv_timeout(Duration::from_millis(50)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            _ => return Ok(()),
        }
        // Connection events (none: this node has no servers) are not kept.
        while node.machine().try_event().is_some() {}
        if !bootstrapped && node.is_bootstrapped() {
            bootstrapped = true;
            if !id_printed {
                let id = node.id().unwrap_or_else(|| node.table_id());
                writeln!(out, "id {}", hex::encode(id))?;
                id_printed = true;
            }
            writeln!(out, "bootstrapped {}", node.table_len())?;
            out.flush()?;
        }
    }
}
