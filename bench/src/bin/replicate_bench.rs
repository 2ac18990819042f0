//! The ferrocore side of `scripts/bench-replicate`. One JSON line per measurement.
//!
//! ```text
//! replicate-bench engine      [--blocks N]   # two endpoints on one thread, in-memory pipe
//! replicate-bench idle-memory [--peers K]    # heap bytes per connected idle peer
//! replicate-bench tcp         [--blocks N] [--latency-samples K] [--memory] [--inflight N]
//!                             [--allocs]     # ferrocore→ferrocore over loopback TCP
//!                                            # (--memory: in-memory storage on both ends;
//!                                            # --inflight: EndpointConfig::max_inflight;
//!                                            # --allocs: count heap allocations per block,
//!                                            # which slows the download)
//! replicate-bench send    --listen PORT [--blocks N]   # serve N formula blocks (to JS)
//! replicate-bench receive --connect ADDR --key HEX [--blocks N]   # download from JS
//! ```
//!
//! Blocks are 4096 bytes of the formula of `tests/js/blocks.mjs` (SHA-256 chain), stored
//! in the persistent store (`ferrocore-storage`, eventual durability) for the TCP modes,
//! as JS hypercore stores in RocksDB. MB = 10^6 bytes of block payload.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{Endpoint, EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::Entropy;
use ferrocore_tests::memory_reader;

/// Counts live heap bytes (for `idle-memory`) and allocations (`tcp --allocs`), only
/// while [`COUNTING`] is set: the other modes run threads on both cores, and one shared
/// counter written by every allocation would bounce its cache line between them and slow
/// what they measure.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static ALLOCATIONS: AtomicIsize = AtomicIsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

fn count(delta: isize) {
    if COUNTING.load(Ordering::Relaxed) {
        LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator; only adds counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        count(new as isize - layout.size() as isize);
        System.realloc(ptr, layout, new)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

pub const BLOCK: usize = 4096;

/// Block `index` of core 0 (`tests/js/blocks.mjs`), 4 KiB.
pub fn block_value(index: u64) -> Vec<u8> {
    ferrocore_tests::js::block_value(0, index, BLOCK)
}

fn arg(name: &str) -> Option<String> {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1).cloned())
}

fn writer_log(blocks: u64) -> Log<MemoryStorage> {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[1; 32])),
            ..LogOptions::default()
        },
    )
    .unwrap();
    fill(&mut log, 0, blocks);
    log
}

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b; 24],
    }
}

/// Moves bytes between two endpoints until both are quiet; returns reader events.
fn shuttle(
    a: &mut Endpoint<MemoryStorage>,
    b: &mut Endpoint<MemoryStorage>,
    a_sid: ferrocore::replication::SessionId,
    b_sid: ferrocore::replication::SessionId,
) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some((_, bytes)) = a.poll_transmit() {
            b.handle_input(b_sid, Duration::ZERO, &bytes);
            a.handle_sent(a_sid, bytes.len());
            moved = true;
        }
        while let Some((_, bytes)) = b.poll_transmit() {
            a.handle_input(a_sid, Duration::ZERO, &bytes);
            b.handle_sent(b_sid, bytes.len());
            moved = true;
        }
        while let Some(e) = b.poll_event() {
            events.push(e);
            moved = true;
        }
        while a.poll_event().is_some() {
            moved = true;
        }
        if !moved {
            return events;
        }
    }
}

fn engine(blocks: u64) {
    let wlog = writer_log(blocks);
    let key = *wlog.key();
    let mut w = Endpoint::new(EndpointConfig::default());
    w.add_core(wlog);
    let mut r = Endpoint::new(EndpointConfig::default());
    let core = r.add_core(memory_reader(key));
    let t = Instant::now();
    let ws = w.connect(
        Role::Initiator,
        NoiseKeyPair::from_seed([2; 32]),
        entropy(2),
        Duration::ZERO,
    );
    let rs = r.connect(
        Role::Responder,
        NoiseKeyPair::from_seed([3; 32]),
        entropy(3),
        Duration::ZERO,
    );
    r.download(core, 0, Some(blocks), None).unwrap();
    shuttle(&mut w, &mut r, ws, rs);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r.log(core).unwrap().contiguous_length(), blocks);
    let bytes = blocks as f64 * BLOCK as f64;
    println!(
        "{{\"bench\":\"replicate-engine\",\"impl\":\"ferrocore\",\"pair\":\"ferrocore->ferrocore (one thread, in-memory pipe)\",\"blocks\":{blocks},\"seconds\":{secs:.4},\"mb_per_s\":{:.1}}}",
        bytes / secs / 1e6
    );
}

fn idle_memory(peers: usize) {
    COUNTING.store(true, Ordering::Relaxed);
    let mut w = Endpoint::new(EndpointConfig::default());
    let wlog = writer_log(1000);
    let key = *wlog.key();
    w.add_core(wlog);
    let base = LIVE.load(Ordering::Relaxed);
    let mut readers = Vec::new();
    for p in 0..peers {
        let mut r = Endpoint::new(EndpointConfig::default());
        let core = r.add_core(memory_reader(key));
        let b = (p % 200) as u8 + 10;
        let ws = w.connect(
            Role::Initiator,
            NoiseKeyPair::from_seed([b; 32]),
            entropy(b),
            Duration::ZERO,
        );
        let rs = r.connect(
            Role::Responder,
            NoiseKeyPair::from_seed([b + 1; 32]),
            entropy(b + 1),
            Duration::ZERO,
        );
        // An idle peer: connected, channel open, synced, nothing wanted.
        shuttle(&mut w, &mut r, ws, rs);
        let _ = core;
        readers.push(r);
    }
    drop(readers);
    let used = LIVE.load(Ordering::Relaxed) - base;
    println!(
        "{{\"bench\":\"idle-peer-memory\",\"impl\":\"ferrocore\",\"peers\":{peers},\"bytes_per_peer\":{}}}",
        used / peers as isize
    );
}

type Disk = ferrocore_storage::CoreStorage;

/// A log in a fresh persistent store under `dir` (eventual durability, as JS hypercore
/// does not fsync each append either): the writer's (from its key pair) or a reader's.
fn disk_log(dir: &std::path::Path, key: Option<[u8; 32]>) -> Log<Disk> {
    use ferrocore_storage::{Durability, Store, StoreOptions};
    let store = Store::open(
        dir,
        StoreOptions {
            durability: Durability::Eventual,
            ..StoreOptions::default()
        },
    )
    .unwrap();
    let kp = KeyPair::from_seed(&[1; 32]);
    let core_key = key.unwrap_or_else(|| {
        ferrocore::manifest::core_key(
            &ferrocore::manifest::default_manifest(&kp.public_key),
            false,
        )
        .unwrap()
    });
    let storage = store.core(&ferrocore::hash::discovery_key(&core_key));
    let options = match key {
        Some(k) => LogOptions {
            key: Some(k),
            ..LogOptions::default()
        },
        None => LogOptions {
            key_pair: Some(kp),
            ..LogOptions::default()
        },
    };
    Log::open(storage, options).unwrap()
}

/// Appends formula blocks `from..from + blocks`, 1000 per batch.
fn fill<S: ferrocore::storage::Storage>(log: &mut Log<S>, from: u64, blocks: u64) {
    let mut i = from;
    while i < from + blocks {
        let n = (from + blocks - i).min(1000);
        let values: Vec<Vec<u8>> = (i..i + n).map(block_value).collect();
        log.append_batch(values.iter().map(|v| &v[..])).unwrap();
        i += n;
    }
}

/// User + system CPU time of the whole process (all threads, exited ones included), from
/// `/proc/self/stat`; `None` where that is not available.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports USER_HZ ticks, 100 per second on Linux.
    Some(ticks / 100.0)
}

fn median_p(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// ferrocore → ferrocore over loopback TCP (blocking adapter, one driver thread per node).
fn tcp(blocks: u64, samples: usize) {
    if std::env::args().any(|a| a == "--memory") {
        let wlog = writer_log(blocks);
        let key = *wlog.key();
        let rlog = memory_reader(key);
        tcp_with(
            wlog,
            rlog,
            blocks,
            samples,
            "ferrocore->ferrocore (in memory)",
        );
    } else {
        let dir = tempfile::tempdir().unwrap();
        let mut wlog = disk_log(&dir.path().join("w"), None);
        fill(&mut wlog, 0, blocks);
        let key = *wlog.key();
        let rlog = disk_log(&dir.path().join("r"), Some(key));
        tcp_with(wlog, rlog, blocks, samples, "ferrocore->ferrocore");
    }
}

fn tcp_with<S: ferrocore::storage::Storage + Send + 'static>(
    wlog: Log<S>,
    rlog: Log<S>,
    blocks: u64,
    samples: usize,
    pair: &str,
) {
    use ferrocore_blocking::Node;
    let mut config = EndpointConfig::default();
    if let Some(n) = arg("--inflight") {
        config.max_inflight = n.parse().expect("--inflight N");
    }
    let writer: Node<S> = Node::new(config.clone()).unwrap();
    let reader: Node<S> = Node::new(config).unwrap();
    let wc = writer.add_core(wlog).unwrap();
    let rc = reader.add_core(rlog).unwrap();
    let addr = writer.listen("127.0.0.1:0").unwrap();
    let events = reader.events();

    let allocs = std::env::args().any(|a| a == "--allocs");
    COUNTING.store(allocs, Ordering::Relaxed);
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    reader.connect(addr).unwrap();
    reader
        .download(rc, 0, Some(blocks))
        .unwrap()
        .wait()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    COUNTING.store(false, Ordering::Relaxed);
    if allocs {
        let n = ALLOCATIONS.load(Ordering::Relaxed) as f64 / blocks as f64;
        println!("{{\"bench\":\"replicate-allocations\",\"impl\":\"ferrocore\",\"pair\":\"{pair}\",\"allocations_per_block\":{n:.2}}}");
    }
    // Both peers' CPU (every thread of this process), per block: steadier than the
    // throughput on a machine whose speed drifts, and what the two cores are spent on.
    let cpu_us = cpu
        .zip(process_cpu_seconds())
        .map_or(f64::NAN, |(a, b)| (b - a) / blocks as f64 * 1e6);
    println!(
        "{{\"bench\":\"replicate-download\",\"impl\":\"ferrocore\",\"pair\":\"{pair}\",\"blocks\":{blocks},\"bytes\":{},\"seconds\":{secs:.4},\"mb_per_s\":{:.1},\"cpu_us_per_block\":{cpu_us:.1}}}",
        blocks * BLOCK as u64,
        (blocks * BLOCK as u64) as f64 / secs / 1e6
    );

    // Live latency: one append at a time, from just before the append to the reader's
    // `Verified` event for that block.
    let _live = reader.download(rc, blocks, None).unwrap();
    while events.try_recv().is_ok() {}
    let mut lat = Vec::with_capacity(samples);
    for k in 0..samples as u64 {
        let index = blocks + k;
        let value = bytes::Bytes::from(block_value(index));
        let t = Instant::now();
        writer.append(wc, vec![value]).unwrap();
        loop {
            match events
                .recv_timeout(Duration::from_secs(10))
                .expect("live block")
            {
                Event::Verified { index: i, .. } if i == index => break,
                _ => {}
            }
        }
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(2));
    }
    lat.sort_by(f64::total_cmp);
    if samples > 0 {
        println!(
        "{{\"bench\":\"replicate-latency\",\"impl\":\"ferrocore\",\"pair\":\"{pair}\",\"samples\":{samples},\"median_ms\":{:.3},\"p90_ms\":{:.3},\"p99_ms\":{:.3}}}",
        median_p(&lat, 0.5),
        median_p(&lat, 0.9),
        median_p(&lat, 0.99)
    );
    }
    let _ = writer.shutdown();
    let _ = reader.shutdown();
}

/// Serves `blocks` formula blocks to whoever connects (a JS reader).
fn send(blocks: u64, port: u16) {
    use ferrocore_blocking::Node;
    let dir = tempfile::tempdir().unwrap();
    let mut wlog = disk_log(&dir.path().join("w"), None);
    fill(&mut wlog, 0, blocks);
    let key = hex::encode(wlog.key());
    let writer: Node<Disk> = Node::new(EndpointConfig::default()).unwrap();
    writer.add_core(wlog).unwrap();
    let addr = writer.listen(("127.0.0.1", port)).unwrap();
    println!(
        "{{\"event\":\"ready\",\"key\":\"{key}\",\"port\":{}}}",
        addr.port()
    );
    // Serve until stdin closes.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    let _ = writer.shutdown();
}

/// Downloads `blocks` blocks from a JS writer at `addr`.
fn receive(blocks: u64, addr: &str, key: &str) {
    use ferrocore_blocking::Node;
    let dir = tempfile::tempdir().unwrap();
    let key: [u8; 32] = hex::decode(key).unwrap().try_into().unwrap();
    let rlog = disk_log(&dir.path().join("r"), Some(key));
    let reader: Node<Disk> = Node::new(EndpointConfig::default()).unwrap();
    let rc = reader.add_core(rlog).unwrap();
    let t = Instant::now();
    reader.connect(addr).unwrap();
    reader
        .download(rc, 0, Some(blocks))
        .unwrap()
        .wait()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"replicate-download\",\"impl\":\"ferrocore\",\"pair\":\"js->ferrocore\",\"blocks\":{blocks},\"bytes\":{},\"seconds\":{secs:.4},\"mb_per_s\":{:.1}}}",
        blocks * BLOCK as u64,
        (blocks * BLOCK as u64) as f64 / secs / 1e6
    );
    let _ = reader.shutdown();
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let blocks: u64 = arg("--blocks").map_or(100_000, |v| v.parse().expect("--blocks N"));
    match mode.as_str() {
        "engine" => engine(blocks),
        "idle-memory" => idle_memory(arg("--peers").map_or(100, |v| v.parse().unwrap())),
        "tcp" => tcp(
            blocks,
            arg("--latency-samples").map_or(500, |v| v.parse().unwrap()),
        ),
        "send" => send(blocks, arg("--listen").map_or(0, |v| v.parse().unwrap())),
        "receive" => receive(
            blocks,
            &arg("--connect").expect("--connect ADDR"),
            &arg("--key").expect("--key HEX"),
        ),
        other => {
            eprintln!("unknown mode {other:?}; see the header of bench/src/bin/replicate_bench.rs");
            std::process::exit(2);
        }
    }
}
