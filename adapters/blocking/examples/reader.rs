//! The reader of the "Hypercore: the basics" tutorial, with threads instead of async:
//! replicates a core from the writer, downloading live from block 0, and prints every block
//! as it arrives.
//!
//! ```text
//! cargo run -p ferrocore-blocking --example blocking-reader -- <key-hex> [writer-addr] [storage-dir]
//! ```
//! (defaults: `127.0.0.1:4000`, `./reader-storage`).

use std::path::Path;

use ferrocore::hash::discovery_key;
use ferrocore::replication::EndpointConfig;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::Node;
use ferrocore_storage::{Store, StoreOptions};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let key = args
        .next()
        .ok_or("usage: reader <key-hex> [writer-addr] [storage-dir]")?;
    let key: [u8; 32] = hex::decode(key)?
        .try_into()
        .map_err(|_| "the key is 32 bytes (64 hex digits)")?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4000".into());
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
    node.connect(&addr)?;

    // Fetch everything, following appends live; print blocks in order as they land.
    let _live = node.download(core, 0, None)?;
    for index in 0.. {
        let block = node.get(core, index, None)?;
        println!("Block {index}: {}", String::from_utf8_lossy(&block));
    }
    Ok(())
}
