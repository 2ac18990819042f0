//! Child process of `tests/crash.rs`: opens a `ferrocore::log::Log` over a [`Store`] with
//! `Immediate` or `Logged` durability and appends to it forever, printing `ready <length>`
//! once the log is open and `ack <length>` once each append has returned. After some appends it clears
//! a range of older blocks ([`cleared`]), so kills also land in clears and the hole punching
//! that follows them.
//!
//! With a third argument, `many`, it writes to [`CORES`] cores instead, one block at a time
//! round-robin, naming each core in the alias table and keeping a local slot ([`run_many`]);
//! it prints `ready <step>` and `ack <steps done>` the same way.
//!
//! Usage: `crash_writer <store path> [immediate|logged] [many]` (default `immediate`). What the writer does at each length is a fixed
//! function of that length ([`step`]), and block `i` is [`block`]`(i)`, so the test knows
//! every length the log can be at and every block it must hold. The test includes this file
//! as a module for exactly those functions.

use std::io::Write;

use bytes::Bytes;
use ferrocore::storage::{Storage, StorageError, WriteBatch};

use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::manifest::key_from_public_key;
use ferrocore_storage::{CoreStorage, Durability, LocalScope, Store, StoreOptions};

/// The writer's key pair (fixed, so the test knows the core key).
pub fn key_pair() -> KeyPair {
    KeyPair::from_seed(&[0xc7; 32])
}

/// The core key: the hash of the key pair's default manifest.
pub fn key() -> [u8; 32] {
    key_from_public_key(&key_pair().public_key, false)
}

/// The core's storage in `store` (keyed by its discovery key).
pub fn storage(store: &Store) -> CoreStorage {
    store.core(&discovery_key(&key()))
}

/// Opens the log over `storage`, creating the core if it holds none.
pub fn open(storage: CoreStorage) -> Result<Log<CoreStorage>, ferrocore::Error> {
    let options = LogOptions {
        key_pair: Some(key_pair()),
        key: Some(key()),
        ..LogOptions::default()
    };
    Log::open(storage, options)
}

/// splitmix64: a well-mixed deterministic function of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The size of block `index`: one in 16 is empty, the rest 0..=5000 bytes.
pub fn block_size(index: u64) -> usize {
    let h = mix(index);
    if h % 16 == 0 {
        0
    } else {
        ((h >> 8) % 5001) as usize
    }
}

/// Block `index`: its index (little-endian) then a pseudo-random fill, cut to
/// [`block_size`]`(index)` bytes, so a block stored at the wrong index never matches.
pub fn block(index: u64) -> Vec<u8> {
    let size = block_size(index);
    let mut out = Vec::with_capacity(size + 8);
    out.extend_from_slice(&index.to_le_bytes());
    let mut state = mix(index ^ 0x5eed);
    while out.len() < size {
        state = mix(state);
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// What the writer does at length `length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `Log::append` of one block.
    Single,
    /// `Log::append_batch` of this many blocks (1..=8).
    Batch(u64),
}

/// The writer's step at `length`: a single append or a batch of 1..=8, about half each.
pub fn step(length: u64) -> Step {
    let h = mix(length ^ 0xba7c);
    if h % 2 == 0 {
        Step::Single
    } else {
        Step::Batch(1 + (h >> 8) % 8)
    }
}

/// The length after the writer's step at `length`.
pub fn next_length(length: u64) -> u64 {
    match step(length) {
        Step::Single => length + 1,
        Step::Batch(n) => length + n,
    }
}

/// The blocks the writer clears right after an append reaches `length`, if any: about one
/// append in eight clears 1..=32 blocks from 64 to 32 blocks behind.
pub fn cleared(length: u64) -> Option<std::ops::Range<u64>> {
    let h = mix(length ^ 0xc1ea);
    (length >= 64 && h % 8 == 0).then(|| {
        let start = length - 64 + (h >> 8) % 32;
        start..(start + 1 + (h >> 16) % 32).min(length - 32)
    })
}

/// Cores of the many-cores workload: step `k` writes block `k / CORES` (its content
/// [`block`]`(k)`) of core `k % CORES`.
pub const CORES: u64 = 200;

/// The namespace the many-cores workload names its cores in.
pub const NAMESPACE: [u8; 32] = [0x5c; 32];

/// The local slot the many-cores workload keeps per core: the last step that wrote it.
pub const LOCAL_TAG: &[u8] = b"last step";

/// The discovery key of core `c` of the many-cores workload.
pub fn many_dk(c: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    for (i, chunk) in k.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&mix(c ^ (i as u64) << 32).to_le_bytes());
    }
    k
}

/// The alias (and header) of core `c` of the many-cores workload.
pub fn alias_name(c: u64) -> Vec<u8> {
    format!("core-{c}").into_bytes()
}

/// True if step `k` also writes its core's local slot (about one step in four).
pub fn writes_local(k: u64) -> bool {
    mix(k ^ 0x10ca1) % 4 == 0
}

/// True if the block of step `k` is in the store.
pub fn has_step(store: &Store, k: u64) -> Result<bool, StorageError> {
    Ok(store.core(&many_dk(k % CORES)).block(k / CORES)?.is_some())
}

/// The first step whose block the store lacks: where the workload resumes. (Each step
/// writes its catalog changes before its block, so every step before it is whole.)
pub fn resume_point(store: &Store) -> Result<u64, StorageError> {
    let mut k = 0;
    while has_step(store, k)? {
        k += 1;
    }
    Ok(k)
}

/// Step `k` of the many-cores workload: names the core (its first step), records the step in
/// its local slot (some steps), then writes its block (and, the first time, its header).
/// Every change is idempotent, so a step cut short is simply done again.
pub fn many_step(store: &Store, k: u64) -> Result<(), StorageError> {
    let (c, index) = (k % CORES, k / CORES);
    let dk = many_dk(c);
    if index == 0 {
        store.insert_alias(&NAMESPACE, &alias_name(c), &dk)?;
    }
    if writes_local(k) {
        store.put_local(LocalScope::Core(dk), LOCAL_TAG, &k.to_le_bytes())?;
    }
    let mut batch = WriteBatch::new();
    if index == 0 {
        batch.put_header(Bytes::from(alias_name(c)));
    }
    batch.put_block(index, Bytes::from(block(k)));
    store.core(&dk).write(batch)
}

/// Runs the many-cores workload from where the store is, forever.
fn run_many(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    let mut k = resume_point(store)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {k}")?;
    out.flush()?;
    loop {
        many_step(store, k)?;
        k += 1;
        writeln!(out, "ack {k}")?;
        out.flush()?;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: crash_writer <store path> [immediate|logged] [many]";
    let path = std::env::args().nth(1).ok_or(usage)?;
    let durability = match std::env::args().nth(2).as_deref() {
        None | Some("immediate") => Durability::Immediate,
        Some("logged") => Durability::Logged,
        Some(_) => return Err(usage.into()),
    };
    let options = StoreOptions {
        durability,
        // Small groups: `Logged` commits them in the background all the time, so kills
        // land inside group commits too.
        group_bytes: 64 * 1024,
        ..StoreOptions::default()
    };
    let store = Store::open(path, options)?;
    match std::env::args().nth(3).as_deref() {
        None => {}
        Some("many") => return run_many(&store),
        Some(_) => return Err(usage.into()),
    }
    let mut log = open(storage(&store))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {}", log.length())?;
    out.flush()?;
    loop {
        let length = log.length();
        let appended = match step(length) {
            Step::Single => log.append(&block(length))?,
            Step::Batch(n) => log.append_batch((length..length + n).map(block))?,
        };
        writeln!(out, "ack {}", appended.length)?;
        out.flush()?;
        if let Some(r) = cleared(appended.length) {
            log.clear(r.start, r.end)?;
        }
    }
}
