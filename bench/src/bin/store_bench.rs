//! The ferrocore side of `scripts/bench-store` (`tests/js/bench-store.mjs` is the JS side:
//! the same modes, options and JSON rows; the schema is in that file's header).
//!
//! ```text
//! store-bench create       --dir DIR --cores N [--block-size B] [--durability D]
//! store-bench open         --dir DIR --cores N [--durability D]
//! store-bench build-writer --dir DIR --cores M --blocks K [--block-size B]
//! store-bench replicate    --writer DIR --cores M --blocks K [--block-size B] [--durability D]
//! ```
//!
//! A store is a `ferrocore_store::Corestore` over a blocking node (its driver thread) and
//! a `ferrocore_storage::Store` in `DIR/db`, primary key 32 × 0x07, cores named
//! `core-<c>`, block `i` of core `c` the formula `blockValue(c, i, B)` of
//! `tests/js/blocks.mjs`. `D` defaults to `logged` (a write-ahead log write per batch, no
//! sync: what JS corestore's RocksDB does by default).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use bytes::Bytes;
use ferrocore::replication::EndpointConfig;
use ferrocore_bench::{durability_name, parse_durability, status_kib, Row};
use ferrocore_blocking::{Blocking, Node};
use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};
use ferrocore_store::{endpoint_config, CoreRef, Corestore, CorestoreOptions, GetOptions};
use ferrocore_tests::js::block_value;
use sha2::{Digest as _, Sha256};

const PRIMARY: [u8; 32] = [7; 32];

struct Args {
    mode: String,
    dir: Option<PathBuf>,
    writer: Option<PathBuf>,
    cores: usize,
    blocks: u64,
    block_size: usize,
    durability: Durability,
    /// Threads asking the store at once (create and open).
    concurrency: usize,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("usage: store-bench MODE [options]")?;
    let mut a = Args {
        mode,
        dir: None,
        writer: None,
        cores: 0,
        blocks: 1,
        block_size: 1024,
        durability: Durability::Logged,
        concurrency: 1,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--dir" => a.dir = Some(value()?.into()),
            "--writer" => a.writer = Some(value()?.into()),
            "--cores" => a.cores = value()?.parse().map_err(|e| format!("--cores: {e}"))?,
            "--blocks" => a.blocks = value()?.parse().map_err(|e| format!("--blocks: {e}"))?,
            "--block-size" => {
                a.block_size = value()?.parse().map_err(|e| format!("--block-size: {e}"))?;
            }
            "--durability" => a.durability = parse_durability(&value()?)?,
            "--concurrency" => {
                a.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?;
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(a)
}

/// User and system CPU seconds of this process so far (`/proc/self/stat`, 10 ms ticks).
fn cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 2..]);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1))
}

fn rss() -> f64 {
    status_kib("VmRSS:").map_or(f64::NAN, |k| k as f64 * 1024.0)
}

/// A store in `dir`: its node, the corestore, and a handle on its database (the last
/// handle may be dropped on the node's driver thread after `main` returned: flush it).
fn open_store(
    dir: &Path,
    durability: Durability,
) -> (Node<CoreStorage>, Corestore<Blocking>, Store) {
    let node = Node::new(endpoint_config(EndpointConfig::default())).expect("node");
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    std::fs::create_dir_all(dir).expect("store directory");
    let store = Store::open(dir.join("db"), options).expect("store opens");
    let mut options = CorestoreOptions::default();
    options.primary_key = Some(PRIMARY);
    let corestore =
        Corestore::open((*node).clone(), store.clone(), options).expect("corestore opens");
    (node, corestore, store)
}

struct Measure {
    start: Instant,
    cpu: (f64, f64),
    fds_start: usize,
}

impl Measure {
    fn start(fds_start: usize) -> Measure {
        Measure {
            start: Instant::now(),
            cpu: cpu(),
            fds_start,
        }
    }

    fn row(
        &self,
        a: &Args,
        phase: &str,
        cores: usize,
        blocks_per_core: u64,
        snap: (usize, f64),
    ) -> Row {
        let wall = self.start.elapsed().as_secs_f64();
        let (u, s) = cpu();
        let (u, s) = (u - self.cpu.0, s - self.cpu.1);
        let blocks = cores as f64 * blocks_per_core as f64;
        let mut row = Row::new();
        row.str("bench", "store")
            .str("impl", "ferrocore")
            .str("phase", phase)
            .num("cores", cores as f64)
            .num("blocks_per_core", blocks_per_core as f64)
            .num("block_size", a.block_size as f64)
            .num("blocks", blocks)
            .num("concurrency", a.concurrency.max(1) as f64)
            .num("processes", 1.0)
            .num("wall_s", wall)
            .num("cpu_s", u + s)
            .num("cpu_user_s", u)
            .num("cpu_system_s", s)
            .num("per_core_us", wall * 1e6 / cores.max(1) as f64)
            .num("blocks_per_s", blocks / wall)
            .num(
                "peak_rss_bytes",
                status_kib("VmHWM:").map_or(f64::NAN, |k| k as f64 * 1024.0),
            )
            .num("rss_bytes", snap.1)
            .num("fds", snap.0 as f64)
            .num("fds_start", self.fds_start as f64);
        row
    }
}

fn name(c: usize) -> String {
    format!("core-{c}")
}

fn keys_digest(keys: &[[u8; 32]]) -> String {
    let mut h = Sha256::new();
    for k in keys {
        h.update(k);
    }
    hex::encode(h.finalize())
}

fn finish(mut row: Row, a: &Args, ok: bool) {
    row.boolean("ok", ok)
        .str("primary_key", &hex::encode(PRIMARY))
        .str("durability", durability_name(a.durability));
    println!("{}", row.finish());
}

/// `f` for every core `0..a.cores`, from `a.concurrency` threads at once (core `c` on
/// thread `c % concurrency`); the results in core order.
fn each_core<T: Send>(
    a: &Args,
    f: impl Fn(usize) -> Result<T, String> + Sync,
) -> Result<Vec<T>, String> {
    let threads = a.concurrency.clamp(1, a.cores.max(1));
    let parts: Vec<Result<Vec<(usize, T)>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let f = &f;
                scope.spawn(move || {
                    (t..a.cores)
                        .step_by(threads)
                        .map(|c| f(c).map(|v| (c, v)))
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a worker panicked".into())))
            .collect()
    });
    let mut all = Vec::with_capacity(a.cores);
    for part in parts {
        all.extend(part?);
    }
    all.sort_by_key(|(c, _)| *c);
    Ok(all.into_iter().map(|(_, v)| v).collect())
}

/// (a) and the writer of (c): `cores` cores of `blocks` formula blocks each.
fn create(a: &Args, phase: &str) -> Result<(), String> {
    let dir = a.dir.as_ref().ok_or("--dir")?;
    let fds_start = fds();
    let m = Measure::start(fds_start);
    let (node, store, db) = open_store(dir, a.durability);
    let keys = each_core(a, |c| {
        let core = store
            .get(GetOptions::name(name(c)))
            .map_err(|e| e.to_string())?;
        let blocks = (0..a.blocks)
            .map(|i| Bytes::from(block_value(c, i, a.block_size)))
            .collect();
        node.append(core.id, blocks).map_err(|e| e.to_string())?;
        Ok(core.key)
    })?;
    // Memory and descriptors with every core open; the timed part ends with the store
    // closed (as JS's does).
    let snap = (fds(), rss());
    drop(store);
    drop(node.shutdown());
    let mut row = m.row(a, phase, a.cores, a.blocks, snap);
    // Untimed: makes what `Eventual` (build-writer) holds in memory durable before the
    // process exits (`Logged` has it in the write-ahead log already).
    db.flush().map_err(|e| e.to_string())?;
    row.str("keys_sha256", &keys_digest(&keys));
    finish(row, a, keys.len() == a.cores);
    Ok(())
}

/// (b): reopen and open every core by name.
fn open(a: &Args) -> Result<(), String> {
    let dir = a.dir.as_ref().ok_or("--dir")?;
    let fds_start = fds();
    let m = Measure::start(fds_start);
    let (node, store, _db) = open_store(dir, a.durability);
    let rss_store = rss();
    let opened: Vec<CoreRef> = each_core(a, |c| {
        store
            .get(GetOptions::name(name(c)))
            .map_err(|e| e.to_string())
    })?;
    let mut row = m.row(a, "open", a.cores, 1, (fds(), rss()));
    row.num(
        "rss_per_core_bytes",
        (rss() - rss_store) / a.cores.max(1) as f64,
    );
    let keys: Vec<[u8; 32]> = opened.iter().map(|c| c.key).collect();
    row.str("keys_sha256", &keys_digest(&keys));
    let mut ok = true;
    for (c, core) in opened.iter().enumerate() {
        let id = core.id;
        let block = node
            .with_endpoint(move |ep| {
                let log = ep.log(id)?;
                (log.length() == 1)
                    .then(|| log.get(0).ok().flatten())
                    .flatten()
            })
            .map_err(|e| e.to_string())?;
        ok &= block.as_deref() == Some(&block_value(c, 0, a.block_size)[..]);
    }
    finish(row, a, ok);
    drop(store);
    drop(node.shutdown());
    Ok(())
}

/// (c): a reader store downloads every core of the writer over one TCP connection.
fn replicate(a: &Args) -> Result<(), String> {
    let writer_dir = a.writer.as_ref().ok_or("--writer")?;
    let fds_start = fds();
    let (wnode, _wstore, _wdb) = open_store(writer_dir, a.durability);
    let addr = wnode.listen("127.0.0.1:0").map_err(|e| e.to_string())?;
    let reader_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (rnode, rstore, _rdb) = open_store(reader_dir.path(), a.durability);
    let primary = PrimaryKey::from_bytes(PRIMARY);
    let mut cores = Vec::with_capacity(a.cores);
    for c in 0..a.cores {
        let key = primary.core_key(&Namespace::ROOT, &name(c));
        cores.push(
            rstore
                .get(GetOptions::key(key))
                .map_err(|e| e.to_string())?,
        );
    }
    let m = Measure::start(fds_start);
    rnode.connect(addr).map_err(|e| e.to_string())?;
    let downloads: Vec<_> = cores
        .iter()
        .map(|core| rnode.download(core.id, 0, Some(a.blocks)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    for d in downloads {
        d.wait().map_err(|e| e.to_string())?;
    }
    let mut row = m.row(a, "replicate", a.cores, a.blocks, (fds(), rss()));
    let mut h = Sha256::new();
    let mut ok = true;
    for (c, core) in cores.iter().enumerate() {
        let id = core.id;
        let blocks = rnode
            .with_endpoint(move |ep| {
                let log = ep.log(id).expect("open");
                (0..log.length())
                    .map(|i| log.get(i).ok().flatten())
                    .collect::<Vec<_>>()
            })
            .map_err(|e| e.to_string())?;
        ok &= blocks.len() as u64 == a.blocks;
        for (i, b) in blocks.iter().enumerate() {
            let b = b.as_deref().unwrap_or_default();
            ok &= b == &block_value(c, i as u64, a.block_size)[..];
            h.update(b);
        }
    }
    row.str("content_sha256", &hex::encode(h.finalize()));
    finish(row, a, ok);
    Ok(())
}

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let a = parse()?;
        match a.mode.as_str() {
            "create" => create(&a, "create"),
            "build-writer" => {
                let a = Args {
                    durability: Durability::Eventual,
                    ..a
                };
                create(&a, "build")
            }
            "open" => open(&a),
            "replicate" => replicate(&a),
            m => Err(format!("unknown mode {m}")),
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
