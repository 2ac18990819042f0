//! The ferrocore side of `scripts/bench-replicate` (`bench/js/replicate.mjs` is the JS side;
//! both take the same arguments). One JSON line per measurement.
//!
//! ```text
//! replicate-bench build   --dir DIR --blocks N      # a writer of N formula blocks, in DIR
//! replicate-bench tcp     --writer DIR --blocks N --durability D [--latency-samples K]
//!                         [--expect-digest HEX] [--inflight N] [--allocs]
//!                         # ferrocore→ferrocore in this process over loopback TCP, one
//!                         # blocking Node (one driver thread) per peer
//! replicate-bench tcp     --memory --blocks N [...]  # the same, in-memory storage both ends
//! replicate-bench tcp     --transport udx [...]  # the same over one loopback UDX stream
//!                         # (a ferrocore_blocking::udx socket per peer) instead of TCP
//! replicate-bench send    --writer DIR --blocks N --durability D [--listen PORT]
//!                         # serve the writer until stdin closes (the reader is another process)
//! replicate-bench receive --connect ADDR --key HEX --blocks N --durability D
//!                         [--expect-digest HEX] [--pair LABEL]
//! replicate-bench engine  --blocks N      # two endpoints on one thread, in-memory pipe
//! replicate-bench idle-memory --connections K   # heap per idle connection, both ends
//! ```
//!
//! `D` is the store's [`Durability`] (`logged`, `eventual` or `immediate`), for the writer
//! and the reader alike. `--writer DIR` is what `build` wrote there: each run copies it
//! (untimed) to a temporary directory and serves the copy, so every run starts from the
//! same writer and the formula is computed once. Blocks are 4096 bytes of the formula
//! of `tests/js/blocks.mjs` (core 0). After every download the reader reads back all N
//! blocks (untimed) and folds them into a [`Digest`]; a digest other than `--expect-digest`
//! fails the run. CPU is user + system time of the whole process over the timed download
//! (both peers in `tcp`, the reader alone in `receive`; the script adds the sender's from
//! `/proc`). MB = 10^6 bytes of block payload.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, Endpoint, EndpointConfig, Event, SessionId};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::Entropy;
use ferrocore_bench::{
    durability_name, median, parse_durability, percentile, process_cpu_seconds, Digest, Row,
};
use ferrocore_blocking::udx::{UdxSocket, UdxStream};
use ferrocore_blocking::Node;
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};
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

const BLOCK: usize = 4096;
/// The writer's seed (`bench/js/replicate.mjs` uses the same: 32 × 0x01).
const WRITER_SEED: [u8; 32] = [1; 32];
/// The store's file inside a writer or reader directory.
const DB_FILE: &str = "ferrocore.redb";

type Res<T> = Result<T, String>;
type Disk = CoreStorage;

/// Block `index` of core 0 (`tests/js/blocks.mjs`), 4 KiB.
fn block_value(index: u64) -> Vec<u8> {
    ferrocore_tests::js::block_value(0, index, BLOCK)
}

// ---------------------------------------------------------------- arguments

struct Args(Vec<String>);

impl Args {
    fn value(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    fn num(&self, name: &str, default: u64) -> Res<u64> {
        self.value(name).map_or(Ok(default), |v| {
            v.parse().map_err(|e| format!("{name} {v}: {e}"))
        })
    }

    fn required(&self, name: &str) -> Res<&str> {
        self.value(name)
            .ok_or_else(|| format!("{name} is required"))
    }

    fn durability(&self) -> Res<Durability> {
        parse_durability(self.required("--durability")?)
    }
}

// ---------------------------------------------------------------- logs

fn writer_key_pair() -> KeyPair {
    KeyPair::from_seed(&WRITER_SEED)
}

/// The writer's core key (default manifest of its key pair).
fn writer_key() -> [u8; 32] {
    let kp = writer_key_pair();
    ferrocore::manifest::core_key(
        &ferrocore::manifest::default_manifest(&kp.public_key),
        false,
    )
    .expect("the default manifest has a key")
}

/// The log of `key` in the store under `dir` (created if absent): writable when `key` is
/// the writer's.
fn disk_log(dir: &Path, key: [u8; 32], durability: Durability) -> Res<Log<Disk>> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let store = Store::open(
        dir.join(DB_FILE),
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    let storage = store.core(&ferrocore::hash::discovery_key(&key));
    let options = if key == writer_key() {
        LogOptions {
            key_pair: Some(writer_key_pair()),
            ..LogOptions::default()
        }
    } else {
        LogOptions {
            key: Some(key),
            ..LogOptions::default()
        }
    };
    Log::open(storage, options).map_err(|e| e.to_string())
}

/// A copy, in `tmp`, of the writer `build` left in `--writer`, which must hold `--blocks`
/// blocks, opened at `--durability`.
fn open_writer(args: &Args, tmp: &Path) -> Res<(Log<Disk>, Durability)> {
    let template = Path::new(args.required("--writer")?);
    let blocks = args.num("--blocks", 100_000)?;
    let durability = args.durability()?;
    let dir = tmp.join("writer");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let entries =
        std::fs::read_dir(template).map_err(|e| format!("{}: {e}", template.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        std::fs::copy(entry.path(), dir.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    let log = disk_log(&dir, writer_key(), durability)?;
    if log.length() != blocks {
        return Err(format!(
            "writer in {} has {} blocks, not {blocks} (run build)",
            template.display(),
            log.length()
        ));
    }
    Ok((log, durability))
}

/// The writer with formula blocks `0..blocks`, in memory.
fn memory_writer(blocks: u64) -> Res<Log<MemoryStorage>> {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(writer_key_pair()),
            ..LogOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    fill(&mut log, 0, blocks)?;
    Ok(log)
}

/// Appends formula blocks `from..from + blocks`, 1000 per batch; the digest of what it
/// appended.
fn fill<S: Storage>(log: &mut Log<S>, from: u64, blocks: u64) -> Res<Digest> {
    let mut digest = Digest::default();
    let mut i = from;
    while i < from + blocks {
        let n = (from + blocks - i).min(1000);
        let values: Vec<Vec<u8>> = (i..i + n).map(block_value).collect();
        for v in &values {
            digest.add(v);
        }
        log.append_batch(values.iter().map(|v| &v[..]))
            .map_err(|e| e.to_string())?;
        i += n;
    }
    Ok(digest)
}

/// What a reader holds after a download: the digest of blocks `0..blocks` read back from its
/// storage, how many it read, and its tree hash at `blocks`.
struct Content {
    digest: Digest,
    verified: u64,
    tree_hash: String,
}

fn read_back<S: Storage>(log: &Log<S>, blocks: u64) -> Res<Content> {
    let mut digest = Digest::default();
    for i in 0..blocks {
        let block = log
            .get(i)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("block {i} missing after the download"))?;
        digest.add(&block);
    }
    let tree_hash = log
        .tree_hash(blocks)
        .map_err(|e| e.to_string())?
        .ok_or("no tree hash after the download")?;
    Ok(Content {
        digest,
        verified: blocks,
        tree_hash: hex::encode(tree_hash),
    })
}

/// Reads back what the node's core `core` downloaded (in its driver thread).
fn read_back_in<S: Storage + Send + 'static>(
    node: &Node<S>,
    core: CoreId,
    blocks: u64,
) -> Res<Content> {
    node.with_endpoint(move |ep| match ep.log(core) {
        Some(log) => read_back(log, blocks),
        None => Err("the reader's core is gone".into()),
    })
    .map_err(|e| e.to_string())?
}

/// Fails unless the content matches `--expect-digest` (when given).
fn check(content: &Content, args: &Args) -> Res<()> {
    match args.value("--expect-digest") {
        Some(want) if want != content.digest.hex() => Err(format!(
            "downloaded content differs: digest {} (expected {want})",
            content.digest.hex()
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------- rows

/// The common fields of a download row.
struct Download<'a> {
    pair: &'a str,
    transport: &'a str,
    processes: u8,
    writer_durability: &'a str,
    reader_durability: &'a str,
    blocks: u64,
    secs: f64,
}

impl Download<'_> {
    fn row(&self, content: &Content) -> Row {
        let bytes = self.blocks * BLOCK as u64;
        let mut r = Row::new();
        r.str("bench", "replicate-download")
            .str("impl", "ferrocore")
            .str("pair", self.pair)
            .num("processes", f64::from(self.processes))
            .str("transport", self.transport)
            .str("writer_durability", self.writer_durability)
            .str("reader_durability", self.reader_durability)
            .num("blocks", self.blocks as f64)
            .num("block_size", BLOCK as f64)
            .num("bytes", bytes as f64)
            .num("seconds", self.secs)
            .num("mb_per_s", bytes as f64 / self.secs / 1e6)
            .str("content_digest", &content.digest.hex())
            .num("verified_blocks", content.verified as f64)
            .str("tree_hash", &content.tree_hash);
        r
    }
}

/// CPU µs per block of this process since `start` (NaN where /proc is not available).
fn cpu_us_per_block(start: Option<f64>, blocks: u64) -> f64 {
    start
        .zip(process_cpu_seconds())
        .map_or(f64::NAN, |(a, b)| (b - a) / blocks as f64 * 1e6)
}

// ---------------------------------------------------------------- modes

/// Builds the writer once (the script copies it for every run) and prints its key and the
/// digest of its blocks.
fn build(args: &Args) -> Res<String> {
    let dir = PathBuf::from(args.required("--dir")?);
    let blocks = args.num("--blocks", 100_000)?;
    let t = Instant::now();
    let digest = {
        let mut log = disk_log(&dir, writer_key(), Durability::Eventual)?;
        if log.length() != 0 {
            return Err(format!("{} already holds a writer", dir.display()));
        }
        fill(&mut log, 0, blocks)?
        // Dropping the last handle of the store commits it durably.
    };
    let mut r = Row::new();
    r.str("event", "built")
        .str("impl", "ferrocore")
        .str("key", &hex::encode(writer_key()))
        .num("blocks", blocks as f64)
        .str("digest", &digest.hex())
        .num("seconds", t.elapsed().as_secs_f64());
    Ok(r.finish())
}

/// ferrocore → ferrocore over loopback TCP in this process: one blocking `Node` (one
/// driver thread) per peer; the download, then live latency on the same connection.
fn tcp(args: &Args) -> Res<String> {
    let blocks = args.num("--blocks", 100_000)?;
    if args.flag("--memory") {
        let wlog = memory_writer(blocks)?;
        let rlog = memory_reader(*wlog.key());
        return tcp_with(wlog, rlog, args, "memory");
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (wlog, durability) = open_writer(args, dir.path())?;
    let rlog = disk_log(&dir.path().join("reader"), *wlog.key(), durability)?;
    tcp_with(wlog, rlog, args, durability_name(durability))
}

/// How `tcp` joins its two nodes: the writer's TCP listener, or a UDX stream on a socket
/// of each peer (connected before the clock starts; Noise XX runs in band once attached).
enum Link {
    Tcp(std::net::SocketAddr),
    Udx {
        sockets: [UdxSocket; 2],
        streams: [UdxStream; 2],
    },
}

impl Link {
    fn prepare<S: Storage + Send + 'static>(writer: &Node<S>, transport: &str) -> Res<Link> {
        let io = |e: std::io::Error| e.to_string();
        match transport {
            "tcp" => Ok(Link::Tcp(
                writer.listen("127.0.0.1:0").map_err(|e| e.to_string())?,
            )),
            "udx" => {
                let w = UdxSocket::bind("127.0.0.1:0").map_err(io)?;
                let r = UdxSocket::bind("127.0.0.1:0").map_err(io)?;
                let ws = w.create_stream().map_err(io)?;
                let rs = r.create_stream().map_err(io)?;
                w.connect(&ws, rs.id(), r.local_addr().map_err(io)?)
                    .map_err(io)?;
                r.connect(&rs, ws.id(), w.local_addr().map_err(io)?)
                    .map_err(io)?;
                Ok(Link::Udx {
                    sockets: [w, r],
                    streams: [ws, rs],
                })
            }
            other => Err(format!("--transport {other}: tcp or udx")),
        }
    }

    /// Connects the reader (the Noise initiator) to the writer; returns the UDX sockets,
    /// which must outlive the download.
    fn start<S: Storage + Send + 'static>(
        self,
        writer: &Node<S>,
        reader: &Node<S>,
    ) -> Res<Option<[UdxSocket; 2]>> {
        let err = |e: ferrocore_blocking::Error| e.to_string();
        match self {
            Link::Tcp(addr) => reader.connect(addr).map(|_| None).map_err(err),
            Link::Udx {
                sockets,
                streams: [ws, rs],
            } => {
                writer.add_udx_stream(ws, Role::Responder).map_err(err)?;
                reader.add_udx_stream(rs, Role::Initiator).map_err(err)?;
                Ok(Some(sockets))
            }
        }
    }
}

fn tcp_with<S: Storage + Send + 'static>(
    wlog: Log<S>,
    rlog: Log<S>,
    args: &Args,
    durability: &str,
) -> Res<String> {
    let blocks = args.num("--blocks", 100_000)?;
    let samples = args.num("--latency-samples", 0)?;
    let mut config = EndpointConfig::default();
    if let Some(n) = args.value("--inflight") {
        config.max_inflight = n.parse().map_err(|e| format!("--inflight {n}: {e}"))?;
    }
    let err = |e: ferrocore_blocking::Error| e.to_string();
    let writer: Node<S> = Node::new(config.clone()).map_err(err)?;
    let reader: Node<S> = Node::new(config).map_err(err)?;
    let wc = writer.add_core(wlog).map_err(err)?;
    let rc = reader.add_core(rlog).map_err(err)?;
    let transport = args.value("--transport").unwrap_or("tcp");
    let link = Link::prepare(&writer, transport)?;
    let events = reader.events();

    let allocs = args.flag("--allocs");
    COUNTING.store(allocs, Ordering::Relaxed);
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    let _sockets = link.start(&writer, &reader)?;
    reader
        .download(rc, 0, Some(blocks))
        .map_err(err)?
        .wait()
        .map_err(err)?;
    let secs = t.elapsed().as_secs_f64();
    // Both peers' CPU (every thread of this process), per block.
    let cpu_us = cpu_us_per_block(cpu, blocks);
    COUNTING.store(false, Ordering::Relaxed);

    let content = read_back_in(&reader, rc, blocks)?;
    check(&content, args)?;
    let download = Download {
        pair: "ferrocore->ferrocore",
        transport,
        processes: 1,
        writer_durability: durability,
        reader_durability: durability,
        blocks,
        secs,
    };
    let mut row = download.row(&content);
    row.num("cpu_us_per_block", cpu_us);
    if allocs {
        let n = ALLOCATIONS.load(Ordering::Relaxed) as f64 / blocks as f64;
        row.num("allocations_per_block", n);
    }
    let mut out = row.finish();

    if samples > 0 {
        // Live latency: one append at a time, from just before the append to the reader's
        // `Verified` event for that block.
        let _live = reader.download(rc, blocks, None).map_err(err)?;
        while events.try_recv().is_ok() {}
        let mut lat = Vec::new();
        for k in 0..samples {
            let index = blocks + k;
            let value = Bytes::from(block_value(index));
            let t = Instant::now();
            writer.append(wc, vec![value]).map_err(err)?;
            loop {
                match events.recv_timeout(Duration::from_secs(10)) {
                    Ok(Event::Verified { index: i, .. }) if i == index => break,
                    Ok(_) => {}
                    Err(e) => return Err(format!("live block {index}: {e:?}")),
                }
            }
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            std::thread::sleep(Duration::from_millis(2));
        }
        out.push('\n');
        out.push_str(&latency_row(
            "ferrocore->ferrocore",
            transport,
            durability,
            &mut lat,
        ));
    }
    let _ = writer.shutdown();
    let _ = reader.shutdown();
    Ok(out)
}

fn latency_row(pair: &str, transport: &str, durability: &str, lat: &mut [f64]) -> String {
    lat.sort_by(f64::total_cmp);
    let (p90, p99) = (percentile(lat, 90.0), percentile(lat, 99.0));
    let mut r = Row::new();
    r.str("bench", "replicate-latency")
        .str("impl", "ferrocore")
        .str("pair", pair)
        .num("processes", 1.0)
        .str("transport", transport)
        .str("writer_durability", durability)
        .str("reader_durability", durability)
        .num("samples", lat.len() as f64)
        .num("median_ms", median(lat))
        .num("p90_ms", p90)
        .num("p99_ms", p99);
    r.finish()
}

/// Serves the writer to whoever connects (a reader in another process) until stdin closes.
fn send(args: &Args) -> Res<String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (wlog, durability) = open_writer(args, dir.path())?;
    let key = hex::encode(wlog.key());
    let err = |e: ferrocore_blocking::Error| e.to_string();
    let writer: Node<Disk> = Node::new(EndpointConfig::default()).map_err(err)?;
    writer.add_core(wlog).map_err(err)?;
    let port = args.num("--listen", 0)?;
    let port = u16::try_from(port).map_err(|e| e.to_string())?;
    let addr = writer.listen(("127.0.0.1", port)).map_err(err)?;
    let mut r = Row::new();
    r.str("event", "ready")
        .str("key", &key)
        .num("port", f64::from(addr.port()))
        .num("pid", f64::from(std::process::id()))
        .str("durability", durability_name(durability));
    println!("{}", r.finish());
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    let _ = writer.shutdown();
    Ok(String::new())
}

/// Downloads the writer at `--connect` (another process); the row has this process's CPU
/// only (`reader_cpu_us_per_block`).
fn receive(args: &Args) -> Res<String> {
    let blocks = args.num("--blocks", 100_000)?;
    let durability = args.durability()?;
    let addr = args.required("--connect")?;
    let key: [u8; 32] = hex::decode(args.required("--key")?)
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "--key needs 32 bytes".to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let rlog = disk_log(dir.path(), key, durability)?;
    let err = |e: ferrocore_blocking::Error| e.to_string();
    let reader: Node<Disk> = Node::new(EndpointConfig::default()).map_err(err)?;
    let rc = reader.add_core(rlog).map_err(err)?;
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    reader.connect(addr).map_err(err)?;
    reader
        .download(rc, 0, Some(blocks))
        .map_err(err)?
        .wait()
        .map_err(err)?;
    let secs = t.elapsed().as_secs_f64();
    let cpu_us = cpu_us_per_block(cpu, blocks);
    let content = read_back_in(&reader, rc, blocks)?;
    check(&content, args)?;
    let pair = args.value("--pair").unwrap_or("js->ferrocore");
    let writer_durability = args.value("--writer-durability").unwrap_or("rocksdb-wal");
    let download = Download {
        pair,
        transport: "tcp",
        processes: 2,
        writer_durability,
        reader_durability: durability_name(durability),
        blocks,
        secs,
    };
    let mut row = download.row(&content);
    row.num("reader_cpu_us_per_block", cpu_us);
    let _ = reader.shutdown();
    Ok(row.finish())
}

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b; 24],
    }
}

/// Moves bytes between two endpoints until both are quiet. `pairs` maps each of `a`'s
/// sessions to its other end in `b`. Returns `b`'s events.
fn shuttle(
    a: &mut Endpoint<MemoryStorage>,
    b: &mut Endpoint<MemoryStorage>,
    pairs: &HashMap<SessionId, SessionId>,
) -> Vec<Event> {
    let back: HashMap<SessionId, SessionId> = pairs.iter().map(|(x, y)| (*y, *x)).collect();
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some((sid, bytes)) = a.poll_transmit() {
            b.handle_input(pairs[&sid], Duration::ZERO, &bytes);
            a.handle_sent(sid, bytes.len());
            moved = true;
        }
        while let Some((sid, bytes)) = b.poll_transmit() {
            a.handle_input(back[&sid], Duration::ZERO, &bytes);
            b.handle_sent(sid, bytes.len());
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

/// Connects `a` (initiator) to `b` once more; returns the two session ids.
fn connect(
    a: &mut Endpoint<MemoryStorage>,
    b: &mut Endpoint<MemoryStorage>,
    seed: u8,
) -> (SessionId, SessionId) {
    let sa = a.connect(
        Role::Initiator,
        NoiseKeyPair::from_seed([seed; 32]),
        entropy(seed),
        Duration::ZERO,
    );
    let sb = b.connect(
        Role::Responder,
        NoiseKeyPair::from_seed([seed.wrapping_add(1); 32]),
        entropy(seed.wrapping_add(1)),
        Duration::ZERO,
    );
    (sa, sb)
}

/// Two endpoints on this thread through an in-memory pipe: the protocol engine alone.
fn engine(args: &Args) -> Res<String> {
    let blocks = args.num("--blocks", 100_000)?;
    let wlog = memory_writer(blocks)?;
    let key = *wlog.key();
    let mut w = Endpoint::new(EndpointConfig::default());
    w.add_core(wlog);
    let mut r = Endpoint::new(EndpointConfig::default());
    let core = r.add_core(memory_reader(key));
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    let (ws, rs) = connect(&mut w, &mut r, 2);
    r.download(core, 0, Some(blocks), None)
        .map_err(|e| format!("{e:?}"))?;
    shuttle(&mut w, &mut r, &HashMap::from([(ws, rs)]));
    let secs = t.elapsed().as_secs_f64();
    let cpu_us = cpu_us_per_block(cpu, blocks);
    let log = r.log(core).ok_or("reader core gone")?;
    if log.contiguous_length() != blocks {
        return Err(format!(
            "engine: {} of {blocks} blocks",
            log.contiguous_length()
        ));
    }
    let content = read_back(log, blocks)?;
    let mut row = Row::new();
    row.str("bench", "replicate-engine")
        .str("impl", "ferrocore")
        .str("pair", "ferrocore->ferrocore")
        .str(
            "layout",
            "both endpoints on one thread, in-memory pipe and storage",
        )
        .num("blocks", blocks as f64)
        .num("seconds", secs)
        .num("mb_per_s", blocks as f64 * BLOCK as f64 / secs / 1e6)
        .num("cpu_us_per_block", cpu_us)
        .str("content_digest", &content.digest.hex())
        .num("verified_blocks", content.verified as f64);
    Ok(row.finish())
}

/// Heap bytes per idle connection, both ends: `K` connections between one writer endpoint
/// and one reader endpoint (one core each, as the JS side connects the same two cores `K`
/// times), each handshaken, its channel open and synced, nothing wanted.
fn idle_memory(args: &Args) -> Res<String> {
    let connections = args.num("--connections", 100)?.max(1);
    let wlog = memory_writer(1000)?;
    let key = *wlog.key();
    COUNTING.store(true, Ordering::Relaxed);
    let mut w = Endpoint::new(EndpointConfig::default());
    w.add_core(wlog);
    let mut r = Endpoint::new(EndpointConfig::default());
    r.add_core(memory_reader(key));
    // One connection first, so what every endpoint sets up once is in the base.
    let first = connect(&mut w, &mut r, 1);
    shuttle(&mut w, &mut r, &HashMap::from([first]));
    let base = LIVE.load(Ordering::Relaxed);
    let mut pairs = HashMap::new();
    for c in 0..connections {
        let (sa, sb) = connect(&mut w, &mut r, 3 + (c % 120) as u8 * 2);
        pairs.insert(sa, sb);
    }
    pairs.insert(first.0, first.1);
    shuttle(&mut w, &mut r, &pairs);
    let used = LIVE.load(Ordering::Relaxed) - base;
    COUNTING.store(false, Ordering::Relaxed);
    let mut row = Row::new();
    row.str("bench", "idle-connection-memory")
        .str("impl", "ferrocore")
        .str(
            "counts",
            "both ends of each connection (writer and reader endpoints)",
        )
        .num("connections", connections as f64)
        .num(
            "heap_bytes_per_connection",
            used as f64 / connections as f64,
        );
    Ok(row.finish())
}

fn run(args: &Args) -> Res<String> {
    match args.0.first().map(String::as_str) {
        Some("build") => build(args),
        Some("tcp") => tcp(args),
        Some("send") => send(args),
        Some("receive") => receive(args),
        Some("engine") => engine(args),
        Some("idle-memory") => idle_memory(args),
        other => Err(format!(
            "unknown mode {other:?}; see the header of bench/src/bin/replicate_bench.rs"
        )),
    }
}

fn main() -> ExitCode {
    let args = Args(std::env::args().skip(1).collect());
    match run(&args) {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("replicate-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
