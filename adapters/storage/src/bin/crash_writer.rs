//! Child process of `tests/crash.rs`: appends to one core of a store with `Immediate`
//! durability, forever, printing `ack <length>` once each append is committed.
//!
//! Usage: `crash_writer <store path>`. An append mimics the log's: block `i`, leaf node `2i`
//! and the header holding the new length (u64 LE), in one write batch.

use std::io::Write;

use ferrocore::storage::{Storage, WriteBatch};
use ferrocore_storage::{crash_block, Store, StoreOptions, CRASH_CORE};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: crash_writer <store path>")?;
    let store = Store::open(path, StoreOptions::default())?;
    let mut core = store.core(&CRASH_CORE);
    let mut length = match core.header()? {
        Some(h) => u64::from_le_bytes(h.as_ref().try_into()?),
        None => 0,
    };
    let mut out = std::io::stdout().lock();
    loop {
        let (block, node) = crash_block(length);
        let mut batch = WriteBatch::new();
        batch
            .put_block(length, block)
            .put_node(node)
            .put_header(bytes::Bytes::copy_from_slice(&(length + 1).to_le_bytes()));
        core.write(batch)?;
        length += 1;
        writeln!(out, "ack {length}")?;
        out.flush()?;
    }
}
