//! Child process of `tests/crash.rs`: opens a `ferrocore::log::Log` over a [`Store`] with
//! `Immediate` or `Logged` durability and appends to it forever, printing `ready <length>`
//! once the log is open and `ack <length>` once each append has returned. After some appends it clears
//! a range of older blocks ([`cleared`]), so kills also land in clears and the hole punching
//! that follows them.
//!
//! Usage: `crash_writer <store path> [immediate|logged]` (default `immediate`). What the writer does at each length is a fixed
//! function of that length ([`step`]), and block `i` is [`block`]`(i)`, so the test knows
//! every length the log can be at and every block it must hold. The test includes this file
//! as a module for exactly those functions.

use std::io::Write;

use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::manifest::key_from_public_key;
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: crash_writer <store path> [immediate|logged]";
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
