//! SIGKILL a writer at random moments: every acknowledged append survives, the store reopens
//! consistent (header length == contiguous blocks) and takes new writes.
//!
//! Rounds: `FERROCORE_CRASH_ROUNDS` (default 20). This drives raw `Storage` batches shaped like
//! a log append; it moves to `ferrocore::log::Log` once that lands.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ferrocore::storage::{Storage, WriteBatch};
use ferrocore_storage::{crash_block, Store, StoreOptions, CRASH_CORE};

/// xorshift64: kill delays need no cryptographic randomness.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Checks the store after a crash; returns its length.
fn check(path: &std::path::Path, acked: u64) -> u64 {
    let store = Store::open(path, StoreOptions::default()).expect("reopen after SIGKILL");
    let mut core = store.core(&CRASH_CORE);
    let length = core
        .header()
        .unwrap()
        .map_or(0, |h| u64::from_le_bytes(h.as_ref().try_into().unwrap()));
    assert!(length >= acked, "acknowledged {acked}, store has {length}");
    for i in 0..length {
        let (block, node) = crash_block(i);
        assert_eq!(core.block(i).unwrap(), Some(block), "block {i} of {length}");
        assert_eq!(
            core.node(2 * i).unwrap(),
            Some(node),
            "node {} of {length}",
            2 * i
        );
    }
    assert_eq!(
        core.block(length).unwrap(),
        None,
        "block past the header's length"
    );
    assert_eq!(core.estimate().unwrap().blocks, length);
    // The store takes writes: append one more here, as the writer would.
    let (block, node) = crash_block(length);
    let mut b = WriteBatch::new();
    b.put_block(length, block)
        .put_node(node)
        .put_header(Bytes::copy_from_slice(&(length + 1).to_le_bytes()));
    core.write(b).unwrap();
    length + 1
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let rounds: u64 = std::env::var("FERROCORE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    drop(Store::open(&path, StoreOptions::default()).unwrap());
    let mut rng = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {rng}");
    let mut length = 0;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
            .arg(&path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    last = n.parse().expect("ack <length>");
                }
            }
            last
        });
        // Anywhere from before the store is open to well into the appends.
        std::thread::sleep(Duration::from_micros(next(&mut rng) % 150_000));
        child.kill().unwrap();
        child.wait().unwrap();
        let acked = reader.join().unwrap();
        assert!(
            acked == 0 || acked > length,
            "round {round}: acks restart from the stored length"
        );
        let before = length;
        length = check(&path, acked);
        println!(
            "round {round}: {} acked appends, store length {}",
            acked.saturating_sub(before),
            length - 1
        );
    }
    assert!(length > rounds, "the writer never got to append");
}
