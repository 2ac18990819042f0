//! A store killed mid-write keeps its acknowledged appends in the write-ahead log; with bytes
//! of that log flipped, reopening either fails with a typed `Corrupt` error or gives a log
//! whose every block is the writer's and verifies against the signed tree, at the
//! acknowledged length, one write earlier (damage to the last record reads as an interrupted
//! write) or the in-flight length. Never wrong data, never a panic.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use ferrocore::storage::StorageErrorKind;
use ferrocore_storage::{Store, StoreOptions};

mod common;

#[allow(dead_code)]
#[path = "../src/bin/crash_writer.rs"]
mod writer;

/// Runs the writer until it acknowledged at least `at_least` blocks, then SIGKILLs it;
/// returns the last acknowledged length.
fn write_then_kill(path: &Path, at_least: u64) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut acked = 0;
    let mut line = String::new();
    while acked < at_least {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the writer stopped");
        if let Some(n) = line.trim_end().strip_prefix("ack ") {
            acked = n.parse().unwrap();
        }
    }
    // Stop reading first: the writer blocks on a full pipe, so no append is in flight.
    child.kill().unwrap();
    child.wait().unwrap();
    // Acks written before the kill but not yet read count too.
    for l in out.lines().map_while(Result::ok) {
        if let Some(n) = l.strip_prefix("ack ") {
            acked = n.parse().unwrap();
        }
    }
    acked
}

/// The lengths the writer passes through, up to and past `acked`.
fn lengths_around(acked: u64) -> (u64, u64) {
    let mut prev = 0;
    let mut l = 0;
    while l < acked {
        prev = l;
        l = writer::next_length(l);
    }
    assert_eq!(l, acked, "acks follow the writer's plan");
    (prev, writer::next_length(acked))
}

#[test]
fn a_damaged_write_ahead_log_gives_a_typed_error_or_true_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.redb");
    let wal = dir.path().join("s.redb-wal");
    let acked = write_then_kill(&db, 60);
    let (before, in_flight) = lengths_around(acked);
    let clean_db = std::fs::read(&db).unwrap();
    let clean_wal = std::fs::read(&wal).unwrap();
    let end = clean_wal.iter().rposition(|&b| b != 0).unwrap() + 1;
    assert!(
        end > 60 * 20,
        "the log holds the writes since the last checkpoint"
    );

    // Undamaged, it replays to the acknowledged length (or the in-flight one).
    let trial_dir = tempfile::tempdir().unwrap();
    let (tdb, twal) = (
        trial_dir.path().join("s.redb"),
        trial_dir.path().join("s.redb-wal"),
    );
    let mut outcomes = [0u32; 2];
    let offsets: Vec<usize> = (0..64).chain((64..end).step_by(end / 300 + 1)).collect();
    for (n, at) in std::iter::once(None)
        .chain(offsets.into_iter().map(Some))
        .enumerate()
    {
        let mut bytes = clean_wal.clone();
        if let Some(at) = at {
            bytes[at] ^= 1 << (n % 8);
        }
        std::fs::write(&tdb, &clean_db).unwrap();
        std::fs::write(&twal, &bytes).unwrap();
        let store = match Store::open(&tdb, StoreOptions::default()) {
            Ok(s) => s,
            Err(e) => {
                assert!(at.is_some(), "the clean log opens: {e}");
                assert_eq!(e.kind, StorageErrorKind::Corrupt, "flip at {at:?}: {e}");
                outcomes[0] += 1;
                continue;
            }
        };
        let log = writer::open(writer::storage(&store)).unwrap();
        let length = log.length();
        if at.is_none() {
            assert!(
                length == acked || length == in_flight,
                "clean replay to {length}"
            );
        } else {
            assert!(
                [before, acked, in_flight].contains(&length),
                "flip at {at:?}: length {length}, acknowledged {acked}"
            );
        }
        common::verify_through_reader(&log, writer::key(), 0..length, writer::block).unwrap();
        outcomes[1] += 1;
    }
    eprintln!(
        "{} trials over {end} bytes of log: {} typed errors, {} opened with true data",
        outcomes[0] + outcomes[1],
        outcomes[0],
        outcomes[1]
    );
    assert!(outcomes[0] > 0, "damage to records is detected");

    // The log belongs to its database: beside a new database (the old one deleted) it is
    // discarded, not replayed into it.
    std::fs::remove_file(&tdb).unwrap();
    std::fs::write(&twal, &clean_wal).unwrap();
    let store = Store::open(&tdb, StoreOptions::default()).unwrap();
    assert!(
        store.cores().unwrap().is_empty(),
        "a new store starts empty"
    );
    drop(store);
    assert!(std::fs::metadata(&twal).unwrap().len() < 64);
}
