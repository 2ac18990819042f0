//! Power cuts on a simulated disk: a `ferrocore::log::Log` over a [`Store`] appends, appends
//! batches, truncates, clears and flushes at random, the power fails at a random operation
//! of the disk (inside a write-ahead log write, a data file write, a redb commit, a
//! checkpoint, an open's recovery or a close), and the store reopens from what the disk had
//! made durable: every file's image as of its last completed sync, plus what the cut lets
//! through of the rest ([`CutModel`]: nothing but the last write, torn; or any of the
//! writes, each whole, torn into some of its 512-byte sectors or lost).
//!
//! After every cut:
//! - the store and the log open (a power cut damages nothing at rest, so a `Corrupt` error
//!   would be a false alarm, and counts as a failure; so does a panic);
//! - the log is exactly in one of the states its writer went through, from the last one
//!   acknowledged as durable (a write that returned `Ok` under `Immediate`; a `flush` that
//!   returned `Ok`, or a clean close, under the other modes) to the one the operation in
//!   flight would have reached: same length and fork, the same blocks present, each byte
//!   for byte (a block is a function of the append that wrote it, so a block from another
//!   fork or a half-written batch never matches);
//! - a fresh reader that knows only the core key verifies the signed length and every
//!   present block's proof.
//!
//! Each round runs three such cycles on one disk. `FERROCORE_POWER_CUT_ROUNDS` sets the
//! rounds (default 300), `FERROCORE_POWER_CUT_SEED` the first round's seed (a failing
//! round prints its seed).
//!
//! The second test shows the check can fail: on a disk that lies about the syncs of one of
//! the store's files (the write-ahead log, the data file, the database), rounds must find
//! acknowledged data lost.

use std::collections::BTreeMap;
use std::path::Path;

use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::manifest::key_from_public_key;
use ferrocore_storage::sim::{CutModel, SimDisk};
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};

mod common;

const PATH: &str = "store/cores.redb";

/// Cut-and-reopen cycles per round.
const CYCLES: usize = 3;

/// splitmix64: the test's only randomness, all from the round's seed.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn key_pair() -> KeyPair {
    KeyPair::from_seed(&[0x9c; 32])
}

fn key() -> [u8; 32] {
    key_from_public_key(&key_pair().public_key, false)
}

/// Block `index` as written by append number `generation`: both in its first 16 bytes,
/// then a fill; 0 to 2999 bytes (cut short, the prefix too).
fn block(generation: u64, index: u64) -> Vec<u8> {
    let h = mix(generation.wrapping_mul(0x1_0000_0001) ^ index);
    let size = (h % 3000) as usize;
    let mut out = Vec::with_capacity(size + 8);
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&index.to_le_bytes());
    let mut s = h;
    while out.len() < size {
        s = mix(s);
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// A state of the log as its writer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct State {
    fork: u64,
    /// Per block below the length: the append that wrote it, `None` if cleared.
    blocks: Vec<Option<u64>>,
}

impl State {
    fn length(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// The log holds exactly this state.
    fn held_by(&self, log: &Log<CoreStorage>) -> Result<bool, String> {
        if log.length() != self.length() || log.fork() != self.fork {
            return Ok(false);
        }
        let bytes: u64 = (0..self.length())
            .map(|i| self.size(i))
            .sum::<Option<u64>>()
            .unwrap_or(u64::MAX);
        // Cleared blocks still count in the byte length; their size comes from the tree,
        // so only compare when every block is present.
        if self.blocks.iter().all(Option::is_some) && log.byte_length() != bytes {
            return Ok(false);
        }
        for (i, g) in self.blocks.iter().enumerate() {
            let i = i as u64;
            let got = log.get(i).map_err(|e| format!("read block {i}: {e}"))?;
            match (g, got) {
                (None, None) => {}
                (Some(g), Some(b)) if b[..] == block(*g, i)[..] => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }

    fn size(&self, i: u64) -> Option<u64> {
        self.blocks[i as usize].map(|g| block(g, i).len() as u64)
    }

    fn describe(&self) -> String {
        let cleared = self.blocks.iter().filter(|b| b.is_none()).count();
        format!(
            "length {} fork {} ({cleared} cleared)",
            self.length(),
            self.fork
        )
    }
}

/// The states the log went through since the last one known durable.
struct History {
    /// `states[0]` is durable; the last may be an operation in flight.
    states: Vec<State>,
}

impl History {
    fn durable_now(&mut self) {
        let last = self.states.pop().expect("a state");
        self.states = vec![last];
    }

    fn current(&self) -> &State {
        self.states.last().expect("a state")
    }
}

/// One operation of the writer.
#[derive(Debug, Clone, Copy)]
enum Op {
    Append,
    Batch(u64),
    Clear(u64, u64),
    Truncate(u64),
    Flush,
}

fn pick(rng: &mut Rng, state: &State) -> Op {
    let length = state.length();
    match rng.below(100) {
        0..=39 => Op::Append,
        40..=69 => Op::Batch(1 + rng.below(8)),
        70..=79 if length > 0 => {
            let start = rng.below(length);
            Op::Clear(start, start + 1 + rng.below(length - start))
        }
        80..=87 if length > 0 => Op::Truncate(length - rng.below(length.min(10) + 1)),
        _ => Op::Flush,
    }
}

/// The state `op` leads to from `state` (append number `generation`).
fn after(state: &State, op: Op, generation: u64) -> State {
    let mut next = state.clone();
    match op {
        Op::Append => next.blocks.push(Some(generation)),
        Op::Batch(n) => next.blocks.extend((0..n).map(|_| Some(generation))),
        Op::Clear(a, b) => next.blocks[a as usize..b as usize].fill(None),
        Op::Truncate(n) => {
            next.blocks.truncate(n as usize);
            next.fork += 1;
        }
        Op::Flush => {}
    }
    next
}

/// Runs `op` on the log (or the store, for a flush).
fn run(op: Op, log: &mut Log<CoreStorage>, store: &Store, g: u64) -> Result<(), ferrocore::Error> {
    let length = log.length();
    match op {
        Op::Append => log.append(&block(g, length)).map(drop),
        Op::Batch(n) => log
            .append_batch((length..length + n).map(|i| block(g, i)))
            .map(drop),
        Op::Clear(a, b) => log.clear(a, b).map(drop),
        Op::Truncate(n) => log.truncate(n, None),
        Op::Flush => store.flush().map_err(Into::into),
    }
}

/// What a round did, for the summary.
#[derive(Debug, Default)]
struct Tally {
    cycles: u64,
    ops: u64,
    unacked_landed: u64,
    /// Where the power failed: the operation and the file, with counts.
    sites: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.cycles += other.cycles;
        self.ops += other.ops;
        self.unacked_landed += other.unacked_landed;
        for (site, n) in other.sites {
            *self.sites.entry(site).or_default() += n;
        }
    }
}

/// Which of the store's files `path` is.
fn file_kind(path: &Path) -> &'static str {
    let p = path.to_string_lossy();
    if p.ends_with("-wal") {
        "log"
    } else if p.ends_with("-data") {
        "data file"
    } else if p.ends_with(".redb") {
        "database"
    } else if p.ends_with("-sums") {
        "page sums"
    } else {
        "directory"
    }
}

/// The options a round opens its store with.
fn options(rng: &mut Rng, durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        // Tiny groups commit in the background all the time.
        group_bytes: if rng.below(2) == 0 {
            ferrocore_storage::DEFAULT_GROUP_BYTES
        } else {
            4096 + rng.below(60_000) as usize
        },
        // A small cache makes redb write pages out before its commits.
        cache_bytes: if rng.below(4) == 0 {
            256 << 10
        } else {
            ferrocore_storage::DEFAULT_CACHE_BYTES
        },
        ..StoreOptions::default()
    }
}

/// Where the power fails in a cycle.
#[derive(Debug, Clone, Copy)]
enum CutAt {
    Open,
    Ops,
    Close,
}

/// Opens the store and the log after a cut and checks the log against the history (see the
/// module docs); returns the store and log, or `None` if the power failed again in the open.
fn reopen(
    disk: &SimDisk,
    options: StoreOptions,
    history: &mut History,
    tally: &mut Tally,
) -> Result<Option<(Store, Log<CoreStorage>)>, String> {
    let store = match Store::open_simulated(disk, PATH, options) {
        Ok(s) => s,
        Err(_) if disk.is_cut() => return Ok(None),
        Err(e) => return Err(format!("the store does not open: {e}")),
    };
    let log_options = LogOptions {
        key_pair: Some(key_pair()),
        ..LogOptions::default()
    };
    let log = match Log::open(
        store.core(&ferrocore::hash::discovery_key(&key())),
        log_options,
    ) {
        Ok(l) => l,
        Err(_) if disk.is_cut() => return Ok(None),
        Err(e) => return Err(format!("the log does not open: {e}")),
    };
    let mut found = None;
    for (at, state) in history.states.iter().enumerate().rev() {
        if state.held_by(&log)? {
            found = Some(at);
            break;
        }
    }
    let Some(at) = found else {
        let wanted: Vec<String> = history.states.iter().map(State::describe).collect();
        return Err(format!(
            "the log reopened at length {} fork {}, in none of the states since the last \
             durable one: {wanted:?}",
            log.length(),
            log.fork()
        ));
    };
    tally.unacked_landed += u64::from(at > 0);
    history.states.truncate(at + 1);
    history.durable_now();
    let state = history.current().clone();
    let present: Vec<u64> = (0..state.length())
        .filter(|&i| state.blocks[i as usize].is_some())
        .collect();
    common::verify_through_reader(&log, key(), present, |i| {
        block(state.blocks[i as usize].expect("present"), i)
    })
    .map_err(|e| format!("proofs of the reopened log: {e}"))?;
    Ok(Some((store, log)))
}

/// One round: `CYCLES` cycles of open, check, work and a power cut, then a last check. A
/// disk lying about the syncs of files ending in `lie` (from the second cycle on) should
/// make it fail.
fn round(seed: u64, durability: Durability, lie: Option<&str>) -> Result<Tally, String> {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut disk = SimDisk::new();
    let mut history = History {
        states: vec![State::default()],
    };
    let mut generation = 0;
    for cycle in 0..=CYCLES {
        let options = options(&mut rng, durability);
        let cut = match rng.below(20) {
            0 => CutAt::Open,
            1..=3 => CutAt::Close,
            _ => CutAt::Ops,
        };
        // Geometric-ish: mostly within the next few operations, sometimes 100 on.
        let cut_in = |rng: &mut Rng| {
            let scale = 1 << (1 + rng.below(7));
            1 + rng.below(scale)
        };
        if cycle == CYCLES {
            // The last open only checks.
            return reopen(&disk, options, &mut history, &mut tally).map(|_| tally);
        }
        if cycle > 0 {
            if let Some(suffix) = lie {
                disk.lie_on_syncs_of(suffix);
            }
        }
        tally.cycles += 1;
        if let CutAt::Open = cut {
            disk.cut_after(cut_in(&mut rng));
        }
        if let Some((store, mut log)) = reopen(&disk, options, &mut history, &mut tally)? {
            if let CutAt::Ops = cut {
                disk.cut_after(cut_in(&mut rng));
            }
            for _ in 0..1 + rng.below(24) {
                let op = pick(&mut rng, history.current());
                generation += 1;
                let next = after(history.current(), op, generation);
                history.states.push(next);
                tally.ops += 1;
                match run(op, &mut log, &store, generation) {
                    Ok(()) => {
                        let durable =
                            durability == Durability::Immediate || matches!(op, Op::Flush);
                        if durable {
                            history.durable_now();
                        }
                    }
                    Err(ferrocore::Error::Storage(e)) => {
                        if !disk.is_cut() {
                            return Err(format!("{op:?} failed with the power on: {e}"));
                        }
                        break;
                    }
                    // Refused (a truncate below a cleared root): nothing changed.
                    Err(_) => {
                        history.states.pop();
                    }
                }
            }
            if let CutAt::Close = cut {
                disk.cut_after(cut_in(&mut rng));
            }
            drop(log);
            drop(store);
            if !disk.is_cut() {
                // Closed cleanly: everything is durable.
                history.durable_now();
            }
        }
        let model = if rng.below(2) == 0 {
            CutModel::DropUnsynced
        } else {
            CutModel::Reorder
        };
        let site = disk.cut_in().map_or_else(
            || "no operation (between them)".to_owned(),
            |(what, path)| format!("{what} of the {}", file_kind(&path)),
        );
        *tally.sites.entry(site).or_default() += 1;
        disk = disk.power_cut(model, rng.next());
    }
    unreachable!("the last cycle returns")
}

fn rounds() -> u64 {
    std::env::var("FERROCORE_POWER_CUT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(300)
}

const MODES: [Durability; 3] = [
    Durability::Immediate,
    Durability::Logged,
    Durability::Eventual,
];

#[test]
fn acknowledged_writes_survive_power_cuts() {
    let first = std::env::var("FERROCORE_POWER_CUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let rounds = rounds();
    println!("first seed {first} (FERROCORE_POWER_CUT_SEED replays from there)");
    let mut total = Tally::default();
    for r in 0..rounds {
        let seed = first.wrapping_add(r);
        let durability = MODES[(mix(seed) % MODES.len() as u64) as usize];
        let tally = std::panic::catch_unwind(|| round(seed, durability, None))
            .unwrap_or_else(|_| panic!("round {r} (seed {seed}, {durability:?}) panicked"))
            .unwrap_or_else(|e| panic!("round {r} (seed {seed}, {durability:?}): {e}"));
        total.add(tally);
    }
    println!(
        "{rounds} rounds: {} power cuts over {} operations; {} reopened past the last \
         acknowledged state; the power failed in:",
        total.cycles, total.ops, total.unacked_landed
    );
    for (site, n) in &total.sites {
        println!("  {n:5} {site}");
    }
    assert!(total.ops > rounds, "the writer got to work");
    if rounds >= 100 {
        // The cuts reach every file's writes and syncs.
        for file in ["log", "data file", "database"] {
            for what in ["write", "sync"] {
                let site = format!("{what} of the {file}");
                assert!(total.sites.contains_key(&site), "no cut in a {site}");
            }
        }
    }
}

#[test]
fn a_disk_that_lies_about_syncs_is_caught() {
    for (lie, durability) in [
        ("-wal", Durability::Immediate),
        ("-wal", Durability::Logged),
        ("-data", Durability::Immediate),
        (".redb", Durability::Immediate),
        (".redb", Durability::Eventual),
    ] {
        let caught = (0..200u64)
            .find_map(|seed| round(seed, durability, Some(lie)).err().map(|e| (seed, e)));
        let (seed, e) = caught.unwrap_or_else(|| {
            panic!("200 rounds on a disk lying about syncs of {lie} ({durability:?}) passed")
        });
        println!("syncs of {lie} ignored ({durability:?}): caught in round {seed}: {e}");
    }
}
