//! `log-bench`: the ferrocore side of `scripts/bench-log`, the side-by-side benchmark of the
//! ferrocore [`Log`] over `ferrocore-storage` against JS hypercore 11.37.1 (`bench/js/log.mjs`
//! is the JS side; both take the same arguments and do the same work).
//!
//! Each run measures one workload and prints one JSON line to stdout:
//!
//! ```text
//! log-bench append-single --block 4096 --ops 20000 --durability D --dir DIR
//! log-bench append-batch  --block 4096 --ops 50000 --batch 100 --durability D --dir DIR
//! log-bench build         --block 4096 --blocks 100000 --batch 1000 --dir DIR
//! log-bench get-random    --ops 100000 --dir DIR          (after `build`, fresh process)
//! log-bench open          [--verify-on-open false] --dir DIR   (after `build`, fresh process)
//! log-bench limit         --block 4096 --ops 2000 --batch 100
//! log-bench fdatasync     --block 4096 --ops 500 --dir DIR
//! ```
//!
//! `D` is a [`Durability`]: `immediate` (WAL record + `fdatasync` per commit), `logged` (WAL
//! record written with `write(2)`, no sync: survives a process kill, as JS hypercore's
//! RocksDB WAL write per append) or `eventual` (group commit in memory: lost on a process
//! kill). Every store is opened with `StoreOptions::default()` but for the durability, and
//! for `open --verify-on-open false`; each row reports the options it really used.
//!
//! Block contents, the key pair and the random read order are deterministic and identical to
//! the JS driver's, so both sides end with the same tree hash and read the same bytes (each
//! row carries `tree_hash` or `checksum` for the report to compare).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::flat_tree::sibling;
use ferrocore::hash::leaf_hashes;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::manifest::{default_manifest, key_from_public_key};
use ferrocore::signature::Verifier;
use ferrocore::{hash, Node};
use ferrocore_bench::{
    durability_name, median_secs, mib, parse_durability, status_kib, Row, XorShift32,
};
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};

/// The writer's seed (the JS driver passes the same seed to `crypto.keyPair`).
const SEED: [u8; 32] = [7; 32];
/// Distinct pseudo-random blocks appended in rotation (incompressible, same on both sides).
const POOL: usize = 64;
/// Seed of the random read order.
const READ_SEED: u32 = 0x2545_f491;
/// The store's file inside the data directory.
const DB_FILE: &str = "ferrocore.redb";
/// `build` makes its eventual commits durable every this many batches (bounds redb's file).
const BUILD_FLUSH_EVERY: u64 = 64;
/// fdatasync probes a durable append run takes (half before, half after its loop).
const SYNC_PROBES: u64 = 100;
/// `limit` reports the fastest of this many repetitions.
const LIMIT_REPS: u64 = 5;

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("log-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parsed command line: the workload and its `--name value` options.
struct Args {
    workload: String,
    block: usize,
    ops: u64,
    batch: usize,
    blocks: u64,
    /// Append workloads: `--durability`.
    durability: Option<Durability>,
    /// `open` only: `--verify-on-open true|false` (default: the store's default).
    verify_on_open: Option<bool>,
    dir: Option<PathBuf>,
}

impl Args {
    fn parse(args: &[String]) -> Res<Args> {
        let mut it = args.iter();
        let workload = it.next().ok_or("missing workload")?.clone();
        let mut a = Args {
            workload,
            block: 4096,
            ops: 1000,
            batch: 100,
            blocks: 0,
            durability: None,
            verify_on_open: None,
            dir: None,
        };
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let num = || {
                value
                    .parse::<u64>()
                    .map_err(|e| format!("{flag} {value}: {e}"))
            };
            match flag.as_str() {
                "--block" => a.block = usize::try_from(num()?).map_err(|e| e.to_string())?,
                "--ops" => a.ops = num()?,
                "--batch" => a.batch = usize::try_from(num()?).map_err(|e| e.to_string())?,
                "--blocks" => a.blocks = num()?,
                "--dir" => a.dir = Some(PathBuf::from(value)),
                "--durability" => a.durability = Some(parse_durability(value)?),
                "--verify-on-open" => {
                    a.verify_on_open = Some(match value.as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("--verify-on-open {value}: true or false")),
                    });
                }
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if a.block == 0 || a.batch == 0 || a.ops == 0 {
            return Err("--block, --batch and --ops must be positive".into());
        }
        Ok(a)
    }

    fn dir(&self) -> Res<&Path> {
        self.dir
            .as_deref()
            .ok_or_else(|| "--dir is required".into())
    }

    fn durability(&self) -> Res<Durability> {
        self.durability
            .ok_or_else(|| "--durability immediate|logged|eventual is required".into())
    }
}

/// `StoreOptions::default()` with `durability`.
fn options(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        ..StoreOptions::default()
    }
}

fn run(args: &[String]) -> Res<String> {
    let a = Args::parse(args)?;
    match a.workload.as_str() {
        "append-single" => append(&a, 1),
        "append-batch" => append(&a, a.batch),
        "build" => build(&a),
        "get-random" => get_random(&a),
        "open" => open(&a),
        "limit" => limit(&a),
        "fdatasync" => fdatasync(&a),
        w => Err(format!("unknown workload {w}")),
    }
}

// ---------------------------------------------------------------- shared with log.mjs

/// Block `k` of the pool: `size` bytes, the little-endian words of xorshift32 seeded
/// `k + 1` (after one step), truncated to `size`.
fn pool(size: usize) -> Vec<Bytes> {
    (0..POOL)
        .map(|k| {
            let mut rng = XorShift32(k as u32 + 1);
            let mut out = Vec::with_capacity(size + 4);
            while out.len() < size {
                out.extend_from_slice(&rng.next().to_le_bytes());
            }
            out.truncate(size);
            Bytes::from(out)
        })
        .collect()
}

/// The block appended at `index`.
fn block_at(pool: &[Bytes], index: u64) -> &Bytes {
    &pool[(index % POOL as u64) as usize]
}

/// The `n` indexes a random-read run visits, in order.
fn read_order(n: u64, length: u64) -> Vec<u64> {
    let mut rng = XorShift32(READ_SEED);
    (0..n).map(|_| u64::from(rng.next()) % length).collect()
}

/// Folds a read block into the run's checksum (the JS driver folds the same way).
fn fold(check: u32, block: &[u8]) -> u32 {
    let first = block
        .get(..4)
        .map_or(0, |w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    let len = u32::try_from(block.len()).unwrap_or(u32::MAX);
    (check.rotate_left(5) ^ first).wrapping_add(len)
}

// ---------------------------------------------------------------- the log

fn key_pair() -> KeyPair {
    KeyPair::from_seed(&SEED)
}

/// Opens (or creates) the bench core in `dir`'s store.
fn open_log(dir: &Path, options: StoreOptions) -> Res<(Store, Log<CoreStorage>)> {
    let store = open_store(dir, options)?;
    let log = open_core(&store)?;
    Ok((store, log))
}

fn open_store(dir: &Path, options: StoreOptions) -> Res<Store> {
    Store::open(dir.join(DB_FILE), options).map_err(|e| e.to_string())
}

fn open_core(store: &Store) -> Res<Log<CoreStorage>> {
    let kp = key_pair();
    let key = key_from_public_key(&kp.public_key, false);
    let core = store.core(&hash::discovery_key(&key));
    Log::open(
        core,
        LogOptions {
            key_pair: Some(kp),
            ..LogOptions::default()
        },
    )
    .map_err(|e| e.to_string())
}

/// Appends `a.ops` blocks, `batch` per call, to a fresh core; times the loop (and, with
/// [`Durability::Eventual`], the final `flush` that commits the last group).
fn append(a: &Args, batch: usize) -> Res<String> {
    let dir = a.dir()?;
    let blocks = pool(a.block);
    let durability = a.durability()?;
    let durable = durability == Durability::Immediate;
    let flush = durability == Durability::Eventual;
    let opts = options(durability);
    let (store, mut log) = open_log(dir, opts)?;
    // Durable runs bracket their loop with fdatasync probes of the same disk, and time
    // every commit, so the report compares medians measured side by side.
    let mut syncs = Vec::new();
    if durable {
        syncs.extend(sync_times(dir, a.block, SYNC_PROBES / 2)?);
    }
    let mut commits: Vec<Duration> = Vec::new();
    let mut chunk: Vec<&Bytes> = Vec::with_capacity(batch);
    let start = Instant::now();
    let mut i = 0u64;
    while i < a.ops {
        chunk.clear();
        let n = (a.ops - i).min(batch as u64);
        chunk.extend((i..i + n).map(|j| block_at(&blocks, j)));
        let t = Instant::now();
        if batch == 1 {
            log.append(chunk[0]).map_err(|e| e.to_string())?;
        } else {
            log.append_batch(chunk.iter()).map_err(|e| e.to_string())?;
        }
        if durable {
            commits.push(t.elapsed());
        }
        i += n;
    }
    if flush {
        store.flush().map_err(|e| e.to_string())?;
    }
    let secs = start.elapsed().as_secs_f64();
    let tree_hash = log
        .tree_hash(log.length())
        .map_err(|e| e.to_string())?
        .ok_or("no tree hash")?;
    let mut row = bench_row(&a.workload, a, Some(&opts));
    timing(&mut row, a.ops, secs)
        .num("batch", batch as f64)
        .boolean("flush_included", flush)
        .str("tree_hash", &hex::encode(tree_hash));
    if durable {
        syncs.extend(sync_times(dir, a.block, SYNC_PROBES / 2)?);
        row.num("commit_median_us", median_secs(&commits) * 1e6)
            .num("fdatasync_median_us", median_secs(&syncs) * 1e6)
            .num("fdatasync_probes", syncs.len() as f64);
    }
    Ok(row.finish_with_peak_rss())
}

/// Builds a log of `a.blocks` blocks in batches of `a.batch` (untimed set-up of the read and
/// open workloads; the timing is printed for information only).
fn build(a: &Args) -> Res<String> {
    let dir = a.dir()?;
    let blocks = pool(a.block);
    let opts = options(Durability::Eventual);
    let (store, mut log) = open_log(dir, opts)?;
    let start = Instant::now();
    let mut i = 0u64;
    let mut batches = 0u64;
    while i < a.blocks {
        let n = (a.blocks - i).min(a.batch as u64);
        log.append_batch((i..i + n).map(|j| block_at(&blocks, j)))
            .map_err(|e| e.to_string())?;
        i += n;
        batches += 1;
        if batches % BUILD_FLUSH_EVERY == 0 {
            store.flush().map_err(|e| e.to_string())?;
        }
    }
    store.flush().map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let mut row = bench_row("build", a, Some(&opts));
    timing(&mut row, a.blocks, secs).num("length", log.length() as f64);
    Ok(row.finish_with_peak_rss())
}

/// Times `a.ops` random whole-block gets on a built log, reopened (untimed) in this process
/// with `StoreOptions::default()`.
fn get_random(a: &Args) -> Res<String> {
    let opts = StoreOptions::default();
    let (_store, log) = open_log(a.dir()?, opts)?;
    let length = log.length();
    if length == 0 {
        return Err("empty log: run build first".into());
    }
    let order = read_order(a.ops, length);
    let mut check = 0u32;
    let start = Instant::now();
    for &i in &order {
        let block = log
            .get(i)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("block {i} missing"))?;
        check = fold(check, &block);
    }
    let secs = start.elapsed().as_secs_f64();
    let mut row = bench_row("get-random", a, Some(&opts));
    timing(&mut row, a.ops, secs)
        .num("length", length as f64)
        .str("checksum", &format!("{check:08x}"));
    Ok(row.finish_with_peak_rss())
}

/// Times opening a built log to the point its length is known, and the memory it holds:
/// with `StoreOptions::default()`, or with `verify_on_open` set by `--verify-on-open`.
fn open(a: &Args) -> Res<String> {
    let dir = a.dir()?;
    let default = StoreOptions::default();
    let opts = StoreOptions {
        verify_on_open: a.verify_on_open.unwrap_or(default.verify_on_open),
        ..default
    };
    let before = status_kib("VmRSS:")?;
    let start = Instant::now();
    let store = open_store(dir, opts)?;
    let store_secs = start.elapsed().as_secs_f64();
    let log = open_core(&store)?;
    let length = log.length();
    let secs = start.elapsed().as_secs_f64();
    let after = status_kib("VmRSS:")?;
    let mut row = bench_row("open", a, Some(&opts));
    timing(&mut row, 1, secs)
        .boolean("default_options", opts == default)
        .num("ms", secs * 1e3)
        .num("store_open_ms", store_secs * 1e3)
        .num("log_open_ms", (secs - store_secs) * 1e3)
        .num("length", length as f64)
        .num("rss_before_mb", mib(before))
        .num("rss_after_mb", mib(after))
        .num("idle_mb", mib(after) - mib(before));
    drop((log, store));
    Ok(row.finish_with_peak_rss())
}

// ---------------------------------------------------------------- limits

/// Appends `leaves` to `roots` as the log does, hashing every parent that forms.
fn grow(roots: &mut Vec<Node>, length: &mut u64, leaves: &[hash::Hash], size: u64) {
    for h in leaves {
        roots.push(Node::new(2 * *length, size, *h));
        *length += 1;
        while let [.., l, r] = roots.as_slice() {
            if sibling(r.index) != l.index {
                break;
            }
            let p = hash::parent(l, r);
            roots.truncate(roots.len() - 2);
            roots.push(p);
        }
    }
}

/// The fastest of [`LIMIT_REPS`] runs of `f` (seconds per op): the bound, least disturbed
/// by other processes.
fn fastest(mut f: impl FnMut() -> Res<f64>) -> Res<f64> {
    let mut min = f64::INFINITY;
    for _ in 0..LIMIT_REPS {
        min = min.min(f()?);
    }
    Ok(min)
}

/// The CPU bound of appending: hashing and signing only, no storage.
fn limit(a: &Args) -> Res<String> {
    let blocks = pool(a.block);
    let kp = key_pair();
    let manifest = default_manifest(&kp.public_key);
    let key = key_from_public_key(&kp.public_key, false);
    let verifier = Verifier::new(&key, &manifest);
    let size = a.block as u64;
    let sign = |roots: &[Node], length: u64| {
        verifier
            .sign(&kp, &hash::tree_hash(roots), length, 0)
            .map_err(|e| e.to_string())
    };

    let per_rep = (a.ops / LIMIT_REPS).max(1);

    // Single: one leaf hash (+ the parents it completes, as the log) and one signature.
    let (mut roots, mut length) = (Vec::new(), 0u64);
    let single = fastest(|| {
        let t = Instant::now();
        for i in 0..per_rep {
            let leaf = hash::leaf_hash(block_at(&blocks, i));
            grow(&mut roots, &mut length, &[leaf], size);
            std::hint::black_box(sign(&roots, length)?);
        }
        Ok(t.elapsed().as_secs_f64() / per_rep as f64)
    })?;

    // Batch: SIMD leaf hashes of `batch` blocks, their parents, one signature.
    let batch: Vec<Bytes> = (0..a.batch as u64)
        .map(|i| block_at(&blocks, i).clone())
        .collect();
    let rounds = (per_rep / 10).max(10);
    let (mut roots, mut length) = (Vec::new(), 0u64);
    let per_batch = fastest(|| {
        let t = Instant::now();
        for _ in 0..rounds {
            let leaves = leaf_hashes(&batch);
            grow(&mut roots, &mut length, &leaves, size);
            std::hint::black_box(sign(&roots, length)?);
        }
        Ok(t.elapsed().as_secs_f64() / rounds as f64)
    })?;

    let mut row = bench_row("limit", a, None);
    row.num("ops", per_rep as f64)
        .num("secs", single * per_rep as f64)
        .num("ops_per_sec", 1.0 / single)
        .num("reps", LIMIT_REPS as f64)
        .num("single_us", single * 1e6)
        .num("batch", a.batch as f64)
        .num("batch_us", per_batch * 1e6)
        .num("batch_blocks_per_sec", a.batch as f64 / per_batch);
    Ok(row.finish_with_peak_rss())
}

/// Median time of appending `a.block` bytes to a file and `fdatasync`ing it.
fn fdatasync(a: &Args) -> Res<String> {
    let times = sync_times(a.dir()?, a.block, a.ops)?;
    let median = median_secs(&times);
    let mut secs: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    secs.sort_by(f64::total_cmp);
    let p90 = ferrocore_bench::percentile(&secs, 90.0);
    let mut row = bench_row("fdatasync", a, None);
    row.num("ops", a.ops as f64)
        .num("secs", median * a.ops as f64)
        .num("ops_per_sec", 1.0 / median)
        .num("median_us", median * 1e6)
        .num("p90_us", p90 * 1e6);
    Ok(row.finish_with_peak_rss())
}

/// `n` times of appending `block` bytes to a scratch file in `dir` and `fdatasync`ing it.
fn sync_times(dir: &Path, block: usize, n: u64) -> Res<Vec<Duration>> {
    let path = dir.join("fdatasync.bin");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| e.to_string())?;
    let data = vec![0x5a; block];
    let mut times = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        file.write_all(&data).map_err(|e| e.to_string())?;
        file.sync_data().map_err(|e| e.to_string())?;
        times.push(t.elapsed());
    }
    drop(file);
    std::fs::remove_file(&path).map_err(|e| e.to_string())?;
    Ok(times)
}

// ---------------------------------------------------------------- output

/// A row for this workload: the implementation, the block size and, for the workloads
/// that open a store, the options it really used (`durability`, `verify_on_open`, and all
/// of them in `store_options`).
fn bench_row(workload: &str, a: &Args, opts: Option<&StoreOptions>) -> Row {
    let mut r = Row::new();
    r.str("impl", "ferrocore")
        .str("workload", workload)
        .num("block", a.block as f64);
    if let Some(o) = opts {
        r.str("durability", durability_name(o.durability))
            .str("storage", "ferrocore-storage (redb)")
            .boolean("verify_on_open", o.verify_on_open)
            .str("store_options", &format!("{o:?}"));
    }
    r
}

/// `ops`, `secs`, `ops_per_sec`.
fn timing(row: &mut Row, ops: u64, secs: f64) -> &mut Row {
    row.num("ops", ops as f64)
        .num("secs", secs)
        .num("ops_per_sec", ops as f64 / secs)
}
