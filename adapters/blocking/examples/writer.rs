//! The writer of the "Hypercore: the basics" tutorial, with threads instead of async: opens
//! (or creates) a writable core in a directory, prints its key, serves it on a TCP port
//! and appends every line of standard input as a block.
//!
//! ```text
//! cargo run -p ferrocore-blocking --example blocking-writer -- [storage-dir] [listen-addr]
//! ```
//! (defaults: `./writer-storage`, `127.0.0.1:4000`). Then run the reader with the key.

use std::io::BufRead;
use std::path::Path;

use bytes::Bytes;
use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::key_from_public_key;
use ferrocore::replication::EndpointConfig;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::Node;
use ferrocore_storage::{CoreStorage, Store, StoreOptions};

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
    let mut seed = [0; 32];
    getrandom::getrandom(&mut seed).map_err(|e| e.to_string())?;
    let key_pair = KeyPair::from_seed(&seed);
    let key = key_from_public_key(&key_pair.public_key, false);
    let options = LogOptions {
        key_pair: Some(key_pair),
        ..LogOptions::default()
    };
    Ok(Log::open(store.core(&discovery_key(&key)), options)?)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "writer-storage".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4000".into());

    let log = open_writable(Path::new(&dir))?;
    println!("hypercore key: {}", hex::encode(log.key()));
    let node = Node::new(EndpointConfig::default())?;
    let core = node.add_core(log)?;
    println!("listening on {}", node.listen(&addr)?);

    for line in std::io::stdin().lock().lines() {
        let length = node.append(core, vec![Bytes::from(line?)])?;
        println!("appended block {}", length - 1);
    }
    // Standard input closed: keep serving until killed.
    loop {
        std::thread::park();
    }
}
