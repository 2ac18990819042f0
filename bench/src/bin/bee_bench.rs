//! The ferrocore side of `scripts/bench-bee`: Hyperbee (the blocking adapter's
//! `bee::Bee`) on the persistent store on disk (`ferrocore-storage`, `Durability::Logged`:
//! a WAL write per append, no sync), against `tests/js/bench-bee.mjs` (JS hyperbee 2.27.3).
//! The same modes, options, keys, values, orders and JSON rows (the schema is in the JS
//! driver's header):
//!
//! ```text
//! bee-bench puts   --dir DIR --count N [--batch B]
//! bee-bench gets   --dir DIR --count N --gets G
//! bee-bench scan   --dir DIR --count N
//! bee-bench sparse --dir DIR --count N --gets G
//! (every mode also takes --cache-blocks N: the bee's cache of decoded blocks, default the
//! library's; JS hyperbee's cache holds up to 65,536 entries)
//! ```
//!
//! Keys and values as `tests/js/bee-data.mjs`: `key(i)` = `key-` + i zero-padded to 6
//! digits, `value(i)` = `value-` + i likewise + `-` + `x` × (i mod 23), i in 1..=N, put in
//! the xorshift32 shuffle of seed 1; gets pick `1 + next() % N` (seed 2; sparse: seed 3).

use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::{hash, Log, LogOptions};
use ferrocore_bench::{logged_store, mode_and_flags, number, timed, Row, XorShift32};
use ferrocore_blocking::bee::{Bee, BeeOptions, Op, RangeOptions};
use ferrocore_blocking::Node;
use ferrocore_storage::CoreStorage;

/// The seed of the bee's key pair (the JS side derives its key pair from a primary key of
/// 32 × 7 and the name "bee"; the key does not change the work).
const SEED: [u8; 32] = [7; 32];

fn key(i: u32) -> String {
    format!("key-{i:06}")
}

fn value(i: u32) -> String {
    format!("value-{i:06}-{}", "x".repeat((i % 23) as usize))
}

/// 1..=n shuffled as `indices(1, n, "shuffle", seed)` does.
fn shuffled(n: u32, seed: u32) -> Vec<u32> {
    let mut out: Vec<u32> = (1..=n).collect();
    let mut rng = XorShift32::new(seed);
    for i in (1..out.len()).rev() {
        let j = (rng.next() % (i as u32 + 1)) as usize;
        out.swap(i, j);
    }
    out
}

/// `gets` picks of `1 + next() % n` with the sequence of `seed`.
fn picks(n: u32, gets: u32, seed: u32) -> Vec<u32> {
    let mut rng = XorShift32::new(seed);
    (0..gets).map(|_| 1 + rng.next() % n).collect()
}

struct Args {
    mode: String,
    dir: std::path::PathBuf,
    count: u32,
    batch: u32,
    gets: u32,
    /// `--cache-blocks`: the bee's cache of decoded blocks (default: the library's).
    cache_blocks: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let (mode, flags) = mode_and_flags("a mode: puts, gets, scan or sparse")?;
    let (mut dir, mut count, mut batch, mut gets, mut cache_blocks) = (None, 0, 1, 0, None);
    for (flag, v) in flags {
        match flag.as_str() {
            "--dir" => dir = Some(v.into()),
            "--count" => count = number(&flag, &v)?,
            "--batch" => batch = number(&flag, &v)?,
            "--gets" => gets = number(&flag, &v)?,
            "--cache-blocks" => cache_blocks = Some(number(&flag, &v)?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    let dir = dir.ok_or("--dir DIR")?;
    if count == 0 || batch == 0 {
        return Err("--count and --batch must be positive".into());
    }
    Ok(Args {
        mode,
        dir,
        count,
        batch,
        gets,
        cache_blocks,
    })
}

/// The bench bee's core key.
fn bee_key() -> [u8; 32] {
    let key_pair = KeyPair::from_seed(&SEED);
    core_key(&default_manifest(&key_pair.public_key), false).expect("core key")
}

/// The bee's options: the library's defaults, `--cache-blocks` and `timeout`.
fn bee_options(a: &Args, timeout: Option<Duration>) -> BeeOptions {
    let mut options = BeeOptions {
        timeout,
        ..BeeOptions::default()
    };
    if let Some(n) = a.cache_blocks {
        options.config.cache_blocks = n;
    }
    options
}

/// The store in `a.dir` with the bee's core (writable) on a fresh node.
fn open_writer(a: &Args) -> (Node<CoreStorage>, CoreId, Bee<CoreStorage>) {
    let dir = &a.dir;
    let store = logged_store(dir);
    let key = bee_key();
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&SEED)),
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&hash::discovery_key(&key)), options).expect("log opens");
    let node = Node::new(EndpointConfig::default()).expect("node");
    let core = node.add_core(log).expect("core added");
    let bee =
        Bee::open(&node, core, bee_options(a, BeeOptions::default().timeout)).expect("bee opens");
    (node, core, bee)
}

struct Outcome {
    ops: u32,
    length: u64,
    bytes: u64,
    fetched: Option<u64>,
    ok: bool,
}

fn length(node: &Node<CoreStorage>, core: CoreId) -> u64 {
    node.info(core).expect("core info").length
}

/// Gets every picked key, checking values: (bytes read, all right).
fn get_all(bee: &Bee<CoreStorage>, which: &[u32]) -> (u64, bool) {
    let (mut bytes, mut ok) = (0, true);
    for &i in which {
        match bee.get(key(i)) {
            Ok(Some(e)) if e.value.as_deref() == Some(value(i).as_bytes()) => {
                bytes += value(i).len() as u64;
            }
            _ => ok = false,
        }
    }
    (bytes, ok)
}

fn puts(a: &Args) -> (Outcome, f64, f64) {
    assert!(!a.dir.exists(), "{} exists", a.dir.display());
    let (node, core, bee) = open_writer(a);
    let order = shuffled(a.count, 1);
    let ((bytes, ok), wall, cpu) = timed(|| {
        let mut bytes = 0u64;
        let mut ok = true;
        for part in order.chunks(a.batch as usize) {
            bytes += part.iter().map(|&i| value(i).len() as u64).sum::<u64>();
            let result = if a.batch == 1 {
                bee.put(key(part[0]), value(part[0]))
            } else {
                let ops = part
                    .iter()
                    .map(|&i| Op::put(key(i), Some(Bytes::from(value(i)))))
                    .collect();
                bee.batch(ops).map(|_| ())
            };
            ok &= result.is_ok();
        }
        (bytes, ok)
    });
    let length = length(&node, core);
    node.shutdown().expect("node shuts down");
    let ok = ok && length > u64::from(a.count / a.batch);
    let ops = a.count;
    let fetched = None;
    let outcome = Outcome {
        ops,
        length,
        bytes,
        fetched,
        ok,
    };
    (outcome, wall, cpu)
}

fn gets(a: &Args) -> (Outcome, f64, f64) {
    let (node, core, bee) = open_writer(a);
    let which = picks(a.count, a.gets, 2);
    let ((bytes, ok), wall, cpu) = timed(|| get_all(&bee, &which));
    let length = length(&node, core);
    node.shutdown().expect("node shuts down");
    let (ops, fetched) = (a.gets, None);
    (
        Outcome {
            ops,
            length,
            bytes,
            fetched,
            ok,
        },
        wall,
        cpu,
    )
}

fn scan(a: &Args) -> (Outcome, f64, f64) {
    let (node, core, bee) = open_writer(a);
    let ((n, bytes, ok), wall, cpu) = timed(|| {
        let (mut n, mut bytes, mut ok) = (0u32, 0u64, true);
        for e in bee.range(RangeOptions::default()) {
            n += 1;
            match e {
                Ok(e) => {
                    let v = e.value.unwrap_or_default();
                    ok &= e.key == key(n).as_bytes() && v == value(n).as_bytes();
                    bytes += v.len() as u64;
                }
                Err(_) => ok = false,
            }
        }
        (n, bytes, ok && n == a.count)
    });
    let length = length(&node, core);
    node.shutdown().expect("node shuts down");
    (
        Outcome {
            ops: n,
            length,
            bytes,
            fetched: None,
            ok,
        },
        wall,
        cpu,
    )
}

fn sparse(a: &Args) -> (Outcome, f64, f64) {
    let (writer, _core, _bee) = open_writer(a);
    let addr = writer.listen("127.0.0.1:0").expect("listen");
    let reader_dir = tempfile::tempdir().expect("temporary directory");
    let store = logged_store(reader_dir.path());
    let key = bee_key();
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&hash::discovery_key(&key)), options).expect("log opens");
    let reader = Node::new(EndpointConfig::default()).expect("node");
    let rcore = reader.add_core(log).expect("core added");
    let which = picks(a.count, a.gets, 3);
    let ((bytes, ok, fetched, length), wall, cpu) = timed(|| {
        reader.connect(addr).expect("connect");
        let options = bee_options(a, Some(Duration::from_secs(30)));
        let bee = Bee::open(&reader, rcore, options).expect("remote bee opens");
        let length = bee.update().expect("update");
        let (bytes, ok) = get_all(&bee, &which);
        (bytes, ok, bee.stats().fetched, length)
    });
    reader.shutdown().expect("reader shuts down");
    writer.shutdown().expect("writer shuts down");
    (
        Outcome {
            ops: a.gets,
            length,
            bytes,
            fetched: Some(fetched),
            ok,
        },
        wall,
        cpu,
    )
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bee-bench: {e}\nusage: bee-bench puts|gets|scan|sparse --dir DIR --count N [--batch B] [--gets G]");
            return ExitCode::from(2);
        }
    };
    let (o, wall, cpu) = match a.mode.as_str() {
        "puts" => puts(&a),
        "gets" => gets(&a),
        "scan" => scan(&a),
        "sparse" => sparse(&a),
        m => {
            eprintln!("bee-bench: unknown mode {m}");
            return ExitCode::from(2);
        }
    };
    let phase = match a.mode.as_str() {
        "puts" if a.batch > 1 => "batched",
        m => m,
    };
    let mut row = Row::new();
    row.str("bench", "bee")
        .str("impl", "ferrocore")
        .str("phase", phase)
        .num("count", f64::from(a.count))
        .num("ops", f64::from(o.ops))
        .num("batch", f64::from(a.batch))
        .num("wall_s", wall)
        .num("cpu_s", cpu)
        .num("ops_per_s", f64::from(o.ops) / wall)
        .num("length", o.length as f64)
        .num("bytes", o.bytes as f64)
        .num(
            "cache_blocks",
            bee_options(&a, None).config.cache_blocks as f64,
        );
    if let Some(f) = o.fetched {
        row.num("blocks_fetched", f as f64);
    }
    row.boolean("ok", o.ok);
    println!("{}", row.finish());
    if o.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
