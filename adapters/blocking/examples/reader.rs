//! The reader of the "Hypercore: the basics" tutorial, with threads instead of async: joins
//! the swarm on the core's discovery key (it never names the writer's address), replicates
//! with the peers it finds, downloads live from block 0 and prints every block as it
//! arrives.
//!
//! ```text
//! cargo run -p ferrocore-blocking --example blocking-reader -- <key-hex> [bootstrap host:port,...] [storage-dir]
//! ```
//! (defaults: HyperDHT's public bootstrap nodes, `./reader-storage`).

use std::path::Path;

use ferrocore::hash::discovery_key;
use ferrocore::replication::EndpointConfig;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::dht::{bind_dht, bootstrap_list, RpcConfig};
use ferrocore_blocking::swarm::{JoinOptions, Swarm};
use ferrocore_blocking::Node;
use ferrocore_storage::{Store, StoreOptions};
use ferrocore_wire::noise;
use futures_lite::future::block_on;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: blocking-reader <key-hex> [bootstrap host:port,...] [storage-dir]";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let key: [u8; 32] = hex::decode(args.next().ok_or(USAGE)?)?
        .try_into()
        .map_err(|_| "the key is 32 bytes (64 hex digits)")?;
    let bootstrap = bootstrap_list(args.next().as_deref())?;
    let dir = args.next().unwrap_or_else(|| "reader-storage".into());

    std::fs::create_dir_all(&dir)?;
    let store = Store::open(Path::new(&dir).join("cores.redb"), StoreOptions::default())?;
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&discovery_key(&key)), options)?;

    let node = Node::new(EndpointConfig::default())?;
    let core = node.add_core(log)?;

    // swarm.join(core.discoveryKey) as a client; every connection replicates the core.
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let dht = bind_dht("0.0.0.0:0", config)?;
    block_on(dht.bootstrapped());
    let mut seed = [0; 32];
    getrandom::getrandom(&mut seed).map_err(|e| e.to_string())?;
    let swarm = Swarm::new(dht, noise::KeyPair::from_seed(seed));
    let client = JoinOptions {
        server: false,
        ..JoinOptions::default()
    };
    swarm.join(discovery_key(&key), client);
    let replicate = node.clone();
    std::thread::spawn(move || {
        while let Some(connection) = swarm.connection() {
            if replicate.add_dht_connection(connection.connection).is_err() {
                return;
            }
        }
    });

    // Fetch everything, following appends live; print blocks in order as they land.
    let _live = node.download(core, 0, None)?;
    for index in 0.. {
        let block = node.get(core, index, None)?;
        println!("Block {index}: {}", String::from_utf8_lossy(&block));
    }
    Ok(())
}
