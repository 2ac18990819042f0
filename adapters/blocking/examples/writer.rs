//! The writer of the "Hypercore: the basics" tutorial, with threads instead of async: opens
//! (or creates) a writable core in a directory, prints its key, joins the swarm on the
//! core's discovery key (as a server and a client, Hyperswarm's default), replicates with
//! every peer the swarm connects, and appends every line of standard input as a block. No
//! address is named but the DHT's bootstrap nodes.
//!
//! ```text
//! cargo run -p ferrocore-blocking --example blocking-writer -- [storage-dir] [bootstrap host:port,...]
//! ```
//! (defaults: `./writer-storage`, HyperDHT's public bootstrap nodes; a local DHT as in
//! `tokio-writer`'s docs). Then run `blocking-reader` with the key.

use std::io::BufRead;
use std::path::Path;

use bytes::Bytes;
use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::key_from_public_key;
use ferrocore::replication::EndpointConfig;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::dht::{bind_dht, bootstrap_list, RpcConfig};
use ferrocore_blocking::swarm::{JoinOptions, Swarm};
use ferrocore_blocking::Node;
use ferrocore_storage::{CoreStorage, Store, StoreOptions};
use ferrocore_wire::noise;
use futures_lite::future::block_on;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The store's core if it has one, else a new one with a random key pair.
fn open_writable(dir: &Path) -> Result<Log<CoreStorage>> {
    std::fs::create_dir_all(dir)?;
    let store = Store::open(dir.join("cores.redb"), StoreOptions::default())?;
    if let Some(dk) = store.cores()?.first() {
        let options = LogOptions {
            create_if_missing: false,
            ..LogOptions::default()
        };
        return Ok(Log::open(store.core(dk), options)?);
    }
    let key_pair = KeyPair::from_seed(&random()?);
    let key = key_from_public_key(&key_pair.public_key, false);
    let options = LogOptions {
        key_pair: Some(key_pair),
        ..LogOptions::default()
    };
    Ok(Log::open(store.core(&discovery_key(&key)), options)?)
}

fn random() -> Result<[u8; 32]> {
    let mut seed = [0; 32];
    getrandom::getrandom(&mut seed).map_err(|e| e.to_string())?;
    Ok(seed)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "writer-storage".into());
    let bootstrap = bootstrap_list(args.next().as_deref())?;

    let log = open_writable(Path::new(&dir))?;
    println!("hypercore key: {}", hex::encode(log.key()));
    let topic = discovery_key(log.key());
    let node = Node::new(EndpointConfig::default())?;
    let core = node.add_core(log)?;

    // swarm.join(core.discoveryKey); swarm.on('connection', conn => core.replicate(conn))
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let dht = bind_dht("0.0.0.0:0", config)?;
    block_on(dht.bootstrapped());
    let swarm = Swarm::new(dht, noise::KeyPair::from_seed(random()?));
    swarm.join(topic, JoinOptions::default());
    if swarm.flush() {
        println!("announced {}", hex::encode(topic));
    }
    let replicate = node.clone();
    std::thread::spawn(move || {
        while let Some(connection) = swarm.connection() {
            if replicate.add_dht_connection(connection.connection).is_err() {
                return;
            }
        }
    });

    for line in std::io::stdin().lock().lines() {
        let length = node.append(core, vec![Bytes::from(line?)])?;
        println!("appended block {}", length - 1);
    }
    // Standard input closed: keep serving until killed.
    loop {
        std::thread::park();
    }
}
