//! `Store::open_read_only` beside a live writer in another process: the writer
//! (`src/bin/crash_writer.rs`) appends to a log and clears older ranges (each clear is a
//! durable commit that lets redb reuse pages and punches holes in the data file, and
//! empties the write-ahead log), or spreads writes over 200 named cores; the test opens the
//! store read-only again and again while it runs and checks that every block acknowledged
//! before the open is there byte for byte (or was cleared), that the cores and aliases
//! acknowledged are there, and that nothing is ever `Corrupt`, wrong, or a panic. Then it
//! kills the writer and opens read-only with no writer.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::storage::{Storage, StorageErrorKind, WriteBatch};
use ferrocore_storage::{Store, StoreOptions};

mod common;

#[allow(dead_code)]
#[path = "../src/bin/crash_writer.rs"]
mod writer;

/// Spawns the writer (`args` after the store path); returns it, and the last acknowledged
/// count it printed (`ready` then `ack` lines; `u64::MAX` until ready).
fn spawn(path: &Path, args: &[&str]) -> (Child, Arc<AtomicU64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let acked = Arc::new(AtomicU64::new(u64::MAX));
    let seen = Arc::clone(&acked);
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let n = line
                .strip_prefix("ready ")
                .or_else(|| line.strip_prefix("ack "));
            if let Some(n) = n.and_then(|n| n.parse().ok()) {
                seen.store(n, Ordering::SeqCst);
            }
        }
    });
    let started = Instant::now();
    while acked.load(Ordering::SeqCst) == u64::MAX {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writer not ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, acked)
}

/// Counts of what the read-only opens saw.
#[derive(Debug, Default)]
struct Seen {
    opens: u64,
    blocks: u64,
    stale: u64,
    slowest: Duration,
}

/// Opens the store read-only (timing it) and checks that it refuses writes.
fn open(path: &Path, seen: &mut Seen) -> Store {
    let started = Instant::now();
    let store = Store::open_read_only(path, StoreOptions::default()).expect("read-only open");
    seen.slowest = seen.slowest.max(started.elapsed());
    seen.opens += 1;
    let mut batch = WriteBatch::new();
    batch.put_block(0, Bytes::from_static(b"x"));
    assert!(store.core(&[9; 32]).write(batch).is_err(), "writes refused");
    assert!(store.insert_alias(&[0; 32], b"n", &[1; 32]).is_err());
    store
}

/// Checks block `i` of the log as read from `store`: the writer's bytes, absent only if a
/// clear may have taken it, or (a clear since the open gave its bytes back) an `Io` error.
fn check_log_block(store: &Store, i: u64, acked: u64, seen: &mut Seen) {
    match writer::storage(store).block(i) {
        Ok(Some(b)) => assert_eq!(&b[..], &writer::block(i)[..], "block {i}"),
        Ok(None) => {
            let clearable =
                (i + 32..=acked + 64).any(|l| writer::cleared(l).is_some_and(|r| r.contains(&i)));
            assert!(clearable, "block {i} of {acked} acknowledged is missing");
        }
        Err(e) => {
            assert_eq!(e.kind, StorageErrorKind::Io, "block {i}: {e}");
            seen.stale += 1;
        }
    }
    seen.blocks += 1;
}

#[test]
fn a_reader_beside_a_writer_process_sees_every_acknowledged_block() {
    let (_dir, path) = common::new_store("cores.redb");
    let mut seen = Seen::default();
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    for mode in ["immediate", "logged"] {
        let (mut child, acked) = spawn(&path, &[mode]);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let before = acked.load(Ordering::SeqCst);
            let store = open(&path, &mut seen);
            let header = writer::storage(&store).header().unwrap();
            assert!(header.is_some() || before == 0);
            if before > 0 {
                // The last acknowledged block is never cleared (clears stay 32 behind).
                check_log_block(&store, before - 1, before, &mut seen);
            }
            for _ in 0..50.min(before) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                check_log_block(&store, x % before, before, &mut seen);
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // No writer now (killed, so no clean close): the open replays its log in memory.
        let last = acked.load(Ordering::SeqCst);
        let store = open(&path, &mut seen);
        for i in last.saturating_sub(100)..last {
            check_log_block(&store, i, last, &mut seen);
        }
    }
    println!("{seen:?}");
    assert!(seen.opens > 10 && seen.blocks > 100, "{seen:?}");
}

#[test]
fn a_reader_beside_a_writer_of_many_cores_sees_every_acknowledged_core_and_alias() {
    use writer::{alias_name, has_step, many_dk, CORES, NAMESPACE};
    let (_dir, path) = common::new_store("many.redb");
    let mut seen = Seen::default();
    let (mut child, acked) = spawn(&path, &["logged", "many"]);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let before = acked.load(Ordering::SeqCst);
        let store = open(&path, &mut seen);
        for k in before.saturating_sub(2 * CORES)..before {
            assert!(has_step(&store, k).unwrap(), "step {k} of {before}");
        }
        let aliases = store.aliases_in(&NAMESPACE).unwrap();
        assert!(aliases.len() as u64 >= before.min(CORES));
        for c in 0..before.min(CORES) {
            assert_eq!(
                store.alias(&NAMESPACE, &alias_name(c)).unwrap(),
                Some(many_dk(c))
            );
            assert!(store.has_core(&many_dk(c)).unwrap());
        }
        seen.blocks += before.min(2 * CORES);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    println!("{seen:?}");
    assert!(seen.opens > 10, "{seen:?}");
}
