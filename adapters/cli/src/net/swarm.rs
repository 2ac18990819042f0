//! `--swarm`: the replication node's peers found through Hyperswarm on HyperDHT. The swarm
//! runs on a Tokio runtime of its own (`ferrocore_tokio::swarm`); its connections go to the
//! blocking replication node ([`ferrocore_blocking::Node::add_dht_connection`]).

use std::io::Write;
use std::net::SocketAddr;
use std::thread;

use ferrocore_tokio::dht::{bind_dht, RpcConfig};
use ferrocore_tokio::swarm::{JoinOptions, Swarm};
use ferrocore_wire::noise::KeyPair;

use super::CliNode;
use crate::Error;

/// The swarm's runtime: dropping it stops the swarm and its DHT node.
pub(crate) struct SwarmRuntime {
    _runtime: tokio::runtime::Runtime,
}

/// Joins every topic as a server on a new DHT node bootstrapped from `bootstrap`, prints
/// `announced <topic hex>` for each once announced, and adds every connection to `node`.
pub(crate) fn serve(
    node: &CliNode,
    bootstrap: Vec<SocketAddr>,
    topics: &[[u8; 32]],
    out: &mut dyn Write,
) -> Result<SwarmRuntime, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| Error::Failed(format!("no randomness for the swarm key pair: {e}")))?;
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let swarm = runtime.block_on(async {
        let dht = bind_dht("0.0.0.0:0", config)
            .await
            .map_err(|e| Error::Network(format!("cannot bind the DHT socket: {e}")))?;
        dht.bootstrapped().await;
        let swarm = Swarm::new(dht, KeyPair::from_seed(seed));
        for topic in topics {
            swarm.join(*topic, JoinOptions::default()).await;
        }
        if !swarm.flush().await {
            return Err(Error::Network("the swarm stopped before announcing".into()));
        }
        Ok::<_, Error>(swarm)
    })?;
    for topic in topics {
        writeln!(out, "announced {}", hex::encode(topic))?;
    }
    out.flush()?;
    let node = node.clone();
    let handle = runtime.handle().clone();
    thread::Builder::new()
        .name("ferrocore-swarm".into())
        .spawn(move || loop {
            let c = handle.block_on(swarm.connection());
            if node.add_dht_connection(c.connection).is_err() {
                return;
            }
        })?;
    Ok(SwarmRuntime { _runtime: runtime })
}
