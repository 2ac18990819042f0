//! SIGKILL a process appending to a `ferrocore::log::Log` over a [`Store`] at random moments
//! (every other round with `Durability::Logged`, the rest with the default `Immediate`),
//! then reopen the log and check it:
//!
//! - its length is the last acknowledged length or the one the in-flight append would reach
//!   (appends are all-or-nothing, so never anything in between);
//! - every block holds the expected content, or is absent because the writer cleared it
//!   (it clears older ranges after some appends), and the storage holds nothing past the
//!   length;
//! - every checked block verifies against the signed tree: a fresh reader that knows only the
//!   core key applies the log's upgrade proof (signature and manifest) and block proofs
//!   (Merkle paths) and reads the same blocks;
//! - byte and contiguous lengths agree, and the log takes a new append.
//!
//! A second test kills the writer's many-cores workload: steps spread round-robin over 200
//! cores of one store, each core named in the alias table on its first step and some steps
//! recording themselves in the core's local slot; after each kill every acknowledged block
//! is there byte for byte, every created core has its header and alias, and every local
//! slot holds its last acknowledged value (or the in-flight step's), nothing past it.
//!
//! Rounds: `FERROCORE_CRASH_ROUNDS` (default 20). The RNG seed is printed; set
//! `FERROCORE_CRASH_SEED` to replay a run's kill schedule.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use ferrocore::storage::Storage;
use ferrocore_storage::{Store, StoreOptions};

mod common;

/// The child's own source, for its key, block contents and step plan.
#[allow(dead_code)]
#[path = "../src/bin/crash_writer.rs"]
mod writer;

use writer::{block, block_size, cleared, next_length};

/// Check every block up to this length; above it, a sample.
const CHECK_ALL_UP_TO: u64 = 2000;
/// Random blocks checked above [`CHECK_ALL_UP_TO`] (plus the last [`CHECK_TAIL`]).
const CHECK_SAMPLE: usize = 500;
const CHECK_TAIL: u64 = 50;

/// xorshift64: kill delays and samples need no cryptographic randomness.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// What the child reported before it was killed.
#[derive(Debug, Default)]
struct Reported {
    /// The length the child opened the log at.
    ready: Option<u64>,
    /// The length after its last acknowledged append.
    acked: Option<u64>,
}

/// Runs the writer (durability `mode`: `immediate` or `logged`; `args` after it) and
/// SIGKILLs it: a quarter of the rounds within 30 ms of the spawn (opening the store or the
/// log, or recovering it), the rest 0–100 ms after it is ready.
fn run_writer(path: &Path, mode: &str, args: &[&str], rng: &mut u64) -> Reported {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_writer"))
        .arg(path)
        .arg(mode)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = Reported::default();
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Each line is one write(2) of under PIPE_BUF bytes, so it arrives whole or not at
        // all; a line without its newline would be a cut-off write and is not counted.
        while stdout.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
            let text = std::mem::take(&mut line);
            let line = text.trim_end();
            if let Some(n) = line.strip_prefix("ready ") {
                let n = n.parse().expect("ready <length>");
                seen.ready = Some(n);
                let _ = ready_tx.send(n);
            } else if let Some(n) = line.strip_prefix("ack ") {
                let n: u64 = n.parse().expect("ack <length>");
                assert!(seen.acked.is_none_or(|a| n > a), "acks grow");
                seen.acked = Some(n);
            }
        }
        seen
    });
    if next(rng) % 4 == 0 {
        std::thread::sleep(Duration::from_micros(next(rng) % 30_000));
    } else {
        // A closed channel means the child died on its own; its status says why below.
        let _ = ready_rx.recv_timeout(Duration::from_secs(120));
        std::thread::sleep(Duration::from_micros(next(rng) % 100_000));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the writer died on its own: {status}"
        );
    }
    #[cfg(not(unix))]
    assert!(!status.success(), "the writer exited: {status}");
    reader.join().unwrap()
}

/// The blocks to check at length `length`: all, or a random sample plus the tail.
fn sample(length: u64, rng: &mut u64) -> BTreeSet<u64> {
    if length <= CHECK_ALL_UP_TO {
        return (0..length).collect();
    }
    let mut out: BTreeSet<u64> = (length - CHECK_TAIL..length).collect();
    for _ in 0..CHECK_SAMPLE {
        out.insert(next(rng) % length);
    }
    out
}

/// Reopens the log after a crash and checks it (see the module docs); `base` is the length
/// the writer had surely reached. Appends one block and returns the new length.
fn check(path: &Path, base: u64, reported: &Reported, rng: &mut u64) -> u64 {
    let store = Store::open(path, StoreOptions::default()).expect("reopen after SIGKILL");
    let storage = writer::storage(&store);
    if storage.header().unwrap().is_none() {
        assert!(
            base == 0 && reported.ready.is_none(),
            "the core vanished after the writer opened it"
        );
    }
    let mut log = writer::open(storage).expect("open the log after SIGKILL");
    let length = log.length();
    let in_flight = next_length(base);
    assert!(
        length == base || length == in_flight,
        "after acknowledged length {base} the log can be at {base} or {in_flight}, not {length}"
    );
    assert_eq!(
        log.byte_length(),
        (0..length).map(|i| block_size(i) as u64).sum::<u64>()
    );
    // Blocks a clear may have removed: those of every clear after an append up to `length`.
    let clearable: BTreeSet<u64> = (0..=length).filter_map(cleared).flatten().collect();
    let (mut present, mut first_missing) = (0, None);
    for i in 0..length {
        if log.has(i, i + 1) {
            present += 1;
        } else {
            assert!(clearable.contains(&i), "block {i} of {length} is missing");
            first_missing.get_or_insert(i);
        }
    }
    assert_eq!(log.contiguous_length(), first_missing.unwrap_or(length));
    assert_eq!(log.info().unwrap().storage.blocks, present);
    println!("  {} of {length} blocks cleared", length - present);
    assert_eq!(
        log.storage().block(length).unwrap(),
        None,
        "block past the length"
    );
    assert_eq!(
        log.storage().node(2 * length).unwrap(),
        None,
        "leaf past the length"
    );
    let which: BTreeSet<u64> = sample(length, rng)
        .into_iter()
        .filter(|&i| log.has(i, i + 1))
        .collect();
    for &i in &which {
        assert_eq!(
            log.get(i).unwrap().as_deref(),
            Some(&block(i)[..]),
            "block {i} of {length}"
        );
    }
    common::verify_through_reader(&log, writer::key(), which.iter().copied(), block).unwrap();
    // The log takes writes: append the next block, as the writer would.
    let appended = log.append(&block(length)).expect("append after SIGKILL");
    assert_eq!(appended.length, length + 1);
    length + 1
}

/// Rounds (`FERROCORE_CRASH_ROUNDS`, default 20) and the seed of the kill schedule
/// (`FERROCORE_CRASH_SEED`, else the clock).
fn rounds_and_seed() -> (u64, u64) {
    let rounds: u64 = std::env::var("FERROCORE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let rng = std::env::var("FERROCORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
        | 1;
    println!("seed {rng} (FERROCORE_CRASH_SEED replays the kill schedule)");
    (rounds, rng)
}

/// The writer's durability in round `round`: every other round `Logged` (the log written,
/// not synced: a killed process loses nothing the kernel had, so the guarantee is the same).
fn mode_of(round: u64) -> &'static str {
    if round % 2 == 0 {
        "immediate"
    } else {
        "logged"
    }
}

/// Reopens the store after the many-cores writer was killed and checks it: the steps done
/// are the acknowledged ones, or one more (the one in flight); every block of them is there
/// byte for byte, and nothing past them; every core they created has its header and its
/// alias; every core's local slot holds its last step's value (or the in-flight step's).
/// Returns the steps found.
fn check_many(path: &Path, acked: u64, rng: &mut u64) -> u64 {
    use ferrocore_storage::LocalScope;
    use writer::{alias_name, has_step, many_dk, writes_local, CORES, LOCAL_TAG, NAMESPACE};
    let store = Store::open(path, StoreOptions::default()).expect("reopen after SIGKILL");
    let found = writer::resume_point(&store).unwrap();
    assert!(
        found == acked || found == acked + 1,
        "after {acked} acknowledged steps the store holds {found}"
    );
    for k in found..found + 2 * CORES {
        assert!(!has_step(&store, k).unwrap(), "step {k} past {found}");
    }
    for k in sample(found, rng) {
        let got = store.core(&many_dk(k % CORES)).block(k / CORES).unwrap();
        assert_eq!(got.as_deref(), Some(&block(k)[..]), "step {k} of {found}");
    }
    let aliases = store.aliases_in(&NAMESPACE).unwrap();
    let created = found.min(CORES);
    // The in-flight step names its core before writing its block.
    assert!(
        aliases.len() as u64 == created || found < CORES && aliases.len() as u64 == created + 1,
        "{} aliases after {found} steps",
        aliases.len()
    );
    for c in 0..CORES {
        let dk = many_dk(c);
        if c < created {
            assert_eq!(store.alias(&NAMESPACE, &alias_name(c)).unwrap(), Some(dk));
            let header = store.core(&dk).header().unwrap();
            assert_eq!(header.as_deref(), Some(&alias_name(c)[..]), "core {c}");
            assert!(store.has_core(&dk).unwrap());
        }
        let last = (0..found)
            .rev()
            .find(|&k| k % CORES == c && writes_local(k));
        let value = store
            .local(LocalScope::Core(dk), LOCAL_TAG)
            .unwrap()
            .map(|v| u64::from_le_bytes(v.try_into().expect("8 bytes")));
        let in_flight = (found % CORES == c && writes_local(found)).then_some(found);
        assert!(
            value == last || value.is_some() && value == in_flight,
            "core {c}: local slot {value:?}, last written at step {last:?}"
        );
    }
    found
}

#[test]
fn acknowledged_writes_to_many_cores_and_their_aliases_survive_sigkill() {
    let (rounds, mut rng) = rounds_and_seed();
    let (_dir, path) = common::new_store("many.redb");
    let (mut steps, mut acked_total) = (0, 0);
    for round in 0..rounds {
        let mode = mode_of(round);
        let reported = run_writer(&path, mode, &["many"], &mut rng);
        if let Some(ready) = reported.ready {
            assert_eq!(
                ready, steps,
                "round {round}: the writer resumed at our step"
            );
        }
        let acked = reported.acked.unwrap_or(steps);
        acked_total += acked - steps;
        steps = check_many(&path, acked, &mut rng);
        println!(
            "round {round} ({mode}): {} steps acked, {steps} found",
            acked - reported.ready.unwrap_or(steps).min(acked)
        );
    }
    println!(
        "{rounds} rounds: {steps} steps over {} cores, {acked_total} acked",
        writer::CORES
    );
    assert!(
        acked_total > 0 || rounds < 4,
        "the writer never got to write"
    );
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let (rounds, mut rng) = rounds_and_seed();
    let (_dir, path) = common::new_store("crash.redb");
    let started = Instant::now();
    // The length the parent left the log at (0 before the core exists).
    let mut length = 0;
    let (mut acked_total, mut unacked_found, mut early_kills) = (0, 0, 0);
    for round in 0..rounds {
        // Every other round writes with `Logged` durability (the log written, not synced):
        // a killed process loses nothing the kernel had, so the guarantee is the same.
        let mode = mode_of(round);
        let reported = run_writer(&path, mode, &[], &mut rng);
        if let Some(ready) = reported.ready {
            assert_eq!(
                ready, length,
                "round {round}: the writer opened at our length"
            );
        } else {
            early_kills += 1;
        }
        let base = match reported.acked {
            Some(acked) => {
                assert!(acked > length, "round {round}: acks start past {length}");
                acked
            }
            None => length,
        };
        let found = check(&path, base, &reported, &mut rng) - 1;
        acked_total += base - length;
        unacked_found += u64::from(found > base);
        println!(
            "round {round} ({mode}): {} acked ({}), log length {found}{}",
            base - length,
            if reported.ready.is_some() {
                "after ready"
            } else {
                "killed opening"
            },
            if found > base {
                " (the in-flight append landed)"
            } else {
                ""
            }
        );
        length = found + 1;
    }
    println!(
        "{rounds} rounds in {:.1?}: final length {length}, {acked_total} blocks acked, \
         {unacked_found} in-flight appends landed unacked, {early_kills} kills before ready",
        started.elapsed()
    );
    assert!(
        acked_total > 0 || rounds < 4,
        "the writer never got to append"
    );
}
