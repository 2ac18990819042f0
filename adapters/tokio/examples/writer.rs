//! The writer of the "Hypercore: the basics" tutorial as the seed writes it: opens (or
//! creates) a writable core in a directory, prints its key, joins the swarm on the core's
//! discovery key (as a server and a client, Hyperswarm's default), replicates with every
//! peer the swarm connects, and appends every line of standard input as a block. No address
//! is named but the DHT's bootstrap nodes.
//!
//! ```text
//! cargo run -p ferrocore-tokio --example tokio-writer -- [storage-dir] [bootstrap host:port,...]
//! ```
//! (defaults: `./writer-storage`, HyperDHT's public bootstrap nodes). A local DHT instead:
//! `ferrocore dht --listen 127.0.0.1:49737 --bootstrap none` and two more `ferrocore dht
//! --listen 127.0.0.1:0 --bootstrap 127.0.0.1:49737 --persistent`, then pass
//! `127.0.0.1:49737`. Then run `tokio-reader` with the key.

use std::path::Path;

use bytes::Bytes;
use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::key_from_public_key;
use ferrocore::replication::EndpointConfig;
use ferrocore::{Log, LogOptions};
use ferrocore_storage::{CoreStorage, Store, StoreOptions};
use ferrocore_tokio::dht::{bind_dht, bootstrap_list, RpcConfig};
use ferrocore_tokio::swarm::{JoinOptions, Swarm};
use ferrocore_tokio::Node;
use ferrocore_wire::noise;
use tokio::io::{AsyncBufReadExt, BufReader};

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

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "writer-storage".into());
    let bootstrap = bootstrap_list(args.next().as_deref())?;

    let log = open_writable(Path::new(&dir))?;
    println!("hypercore key: {}", hex::encode(log.key()));
    let topic = discovery_key(log.key());
    let node = Node::new(EndpointConfig::default())?;
    let core = node.add_core(log).await?;

    // swarm.join(core.discoveryKey); swarm.on('connection', conn => core.replicate(conn))
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let dht = bind_dht("0.0.0.0:0", config).await?;
    dht.bootstrapped().await;
    let swarm = Swarm::new(dht, noise::KeyPair::from_seed(random()?));
    swarm.join(topic, JoinOptions::default()).await;
    if swarm.flush().await {
        println!("announced {}", hex::encode(topic));
    }
    let replicate = node.clone();
    let connections = swarm.clone();
    tokio::spawn(async move {
        while let Some(connection) = connections.next_connection().await {
            if replicate
                .add_dht_connection(connection.connection)
                .await
                .is_err()
            {
                return;
            }
        }
    });

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let length = node.append(core, vec![Bytes::from(line)]).await?;
        println!("appended block {}", length - 1);
    }
    // Standard input closed: keep serving until killed.
    std::future::pending::<()>().await;
    Ok(())
}
