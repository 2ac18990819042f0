//! The ferrocore side of `scripts/bench-transport`: the secret-stream transport (and
//! protomux on it) through an in-memory pipe, the same workloads as
//! `tests/js/bench-transport.mjs` runs for the JS stack. One JSON line per measurement.
//!
//! ```text
//! transport-bench [--mb N] [--sizes 4096,65536] [--handshakes K] [--only LIST]
//! ```
//!
//! * `throughput`: a connected pair on one thread (as the JS pipe runs on one thread); the
//!   initiator sends `B / S` messages of `S` bytes, each one record; the responder decrypts
//!   them. Timed from the first send to the last byte received. Bytes move in batches of up
//!   to 1 MiB of records, as a socket write would.
//! * `throughput-mux`: the same, each message a protomux message on one open channel.
//! * `throughput-threads`, `throughput-mux-threads`: the same with each end on its own
//!   thread, joined by a bounded in-memory queue (two peers are two processes; the JS
//!   pipe cannot do this, its stack runs on one thread).
//! * `handshake`: a fresh pair, Noise XX and both header records sent, `K` times.
//! * `handshake-roundtrip`: as `handshake`, plus one 1-byte record each way received.
//! * `cipher` (ferrocore only): the bound — RustCrypto XChaCha20-Poly1305 sealing and
//!   opening `S`-byte messages in place (one `seal` + one `open` per message, as the
//!   pipe does), and our secretstream `Push::seal` + `Pull::open` of the same.

use std::time::{Duration, Instant};

use ferrocore_wire::mux::{ChannelId, Mux, MuxConfig, MuxEvent};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::secretstream::{Pull, Push, ABYTES, TAG_MESSAGE};
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent};

const T0: Duration = Duration::ZERO;
const MIB: usize = 1 << 20;

struct Args {
    mb: Option<usize>,
    sizes: Vec<usize>,
    handshakes: usize,
    only: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        mb: None,
        sizes: vec![4096, 65536],
        handshakes: 500,
        only: Vec::new(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let val = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--mb" => a.mb = Some(val.parse().expect("--mb N")),
            "--sizes" => {
                a.sizes = val
                    .split(',')
                    .map(|s| s.parse().expect("--sizes"))
                    .collect()
            }
            "--handshakes" => a.handshakes = val.parse().expect("--handshakes K"),
            "--only" => a.only = val.split(',').map(String::from).collect(),
            other => {
                eprintln!("transport-bench: unknown option {other}");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

fn entropy(counter: &mut u64) -> Entropy {
    *counter += 1;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&counter.to_le_bytes());
    seed[8] = 0xe7;
    let mut header = [0u8; 24];
    header[..8].copy_from_slice(&counter.to_le_bytes());
    Entropy {
        ephemeral_seed: seed,
        header,
    }
}

/// Moves every pending byte both ways until both are quiet.
fn pump(a: &mut SecretStream, b: &mut SecretStream) {
    loop {
        let mut moved = false;
        while let Some(x) = a.poll_transmit() {
            b.handle_input(T0, &x).expect("b accepts a's bytes");
            moved = true;
        }
        while let Some(x) = b.poll_transmit() {
            a.handle_input(T0, &x).expect("a accepts b's bytes");
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn pair(keys: &(KeyPair, KeyPair), counter: &mut u64) -> (SecretStream, SecretStream) {
    let config = StreamConfig::default();
    (
        SecretStream::initiator(config, keys.0.clone(), entropy(counter), T0),
        SecretStream::responder(config, keys.1.clone(), entropy(counter), T0),
    )
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(-1.0)
}

/// Opens one "ferrocore/bench" channel between the muxes of two connected streams.
fn open_channel(
    a: &mut SecretStream,
    b: &mut SecretStream,
    ma: &mut Mux,
    mb: &mut Mux,
) -> ChannelId {
    mb.listen("ferrocore/bench");
    let c = ma.open("ferrocore/bench", None, b"").unwrap();
    for _ in 0..4 {
        while let Some(f) = ma.poll_transmit() {
            a.send(&f).unwrap();
        }
        while let Some(f) = mb.poll_transmit() {
            b.send(&f).unwrap();
        }
        pump(a, b);
        for (s, m) in [(&mut *a, &mut *ma), (&mut *b, &mut *mb)] {
            while let Some(ev) = s.poll_event() {
                if let StreamEvent::Message(f) = ev {
                    m.handle_frame(f).unwrap();
                }
            }
            while let Some(ev) = m.poll_event() {
                if let MuxEvent::OpenRequest { protocol, id, .. } = ev {
                    m.open(&protocol, id.as_deref(), b"").unwrap();
                }
            }
        }
    }
    assert!(ma.is_open(c), "channel open");
    c
}

/// Bytes of every message `b` (through its mux, when `mux`) delivers now.
fn drain(b: &mut SecretStream, mb: &mut Mux, mux: bool) -> usize {
    let mut n = 0;
    while let Some(ev) = b.poll_event() {
        if let StreamEvent::Message(m) = ev {
            if mux {
                mb.handle_frame(m).unwrap();
                while let Some(ev) = mb.poll_event() {
                    if let MuxEvent::Message { payload, .. } = ev {
                        n += payload.len();
                    }
                }
            } else {
                n += m.len();
            }
        }
    }
    n
}

/// A connected pair with its muxes, and the bench channel when `mux`.
fn setup(
    keys: &(KeyPair, KeyPair),
    mux: bool,
    counter: &mut u64,
) -> (SecretStream, SecretStream, Mux, Mux, Option<ChannelId>) {
    let (mut a, mut b) = pair(keys, counter);
    pump(&mut a, &mut b);
    while a.poll_event().is_some() {}
    while b.poll_event().is_some() {}
    let (mut ma, mut mb) = (
        Mux::new(MuxConfig::default()),
        Mux::new(MuxConfig::default()),
    );
    let ch = mux.then(|| open_channel(&mut a, &mut b, &mut ma, &mut mb));
    (a, b, ma, mb, ch)
}

/// Queues `n` messages on the sending side (records, or mux messages on `ch`) and seals
/// them.
fn send_batch(a: &mut SecretStream, ma: &mut Mux, ch: Option<ChannelId>, msg: &[u8], n: usize) {
    for _ in 0..n {
        match ch {
            Some(c) => ma.send(c, 0, msg).unwrap(),
            None => a.send(msg).unwrap(),
        }
    }
    while let Some(f) = ma.poll_transmit() {
        a.send(&f).unwrap();
    }
}

/// `throughput` / `throughput-mux`: both ends on this thread, as the JS pipe runs.
fn throughput(
    keys: &(KeyPair, KeyPair),
    size: usize,
    total: usize,
    mux: bool,
    counter: &mut u64,
) -> f64 {
    let (mut a, mut b, mut ma, mut mb, ch) = setup(keys, mux, counter);
    let msg = vec![0x5au8; size];
    let count = total / size;
    let per_batch = (MIB / size).max(1);
    let t = Instant::now();
    let (mut received, mut sent) = (0usize, 0);
    while sent < count {
        let n = per_batch.min(count - sent);
        send_batch(&mut a, &mut ma, ch, &msg, n);
        sent += n;
        while let Some(x) = a.poll_transmit() {
            b.handle_input(T0, &x).unwrap();
        }
        received += drain(&mut b, &mut mb, mux);
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(received, count * size);
    secs
}

/// `throughput-threads` / `throughput-mux-threads`: the two ends on two threads joined by a
/// bounded in-memory queue of transmitted buffers (as two peers are two processes): the
/// sender seals while the receiver opens.
fn throughput_threads(
    keys: &(KeyPair, KeyPair),
    size: usize,
    total: usize,
    mux: bool,
    counter: &mut u64,
) -> f64 {
    let (mut a, mut b, mut ma, mut mb, ch) = setup(keys, mux, counter);
    let count = total / size;
    let per_batch = ((256 << 10) / size).max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(16);
    let t = Instant::now();
    let receiver = std::thread::spawn(move || {
        let mut received = 0usize;
        while let Ok(x) = rx.recv() {
            b.handle_input(T0, &x).unwrap();
            received += drain(&mut b, &mut mb, mux);
        }
        received
    });
    let msg = vec![0x5au8; size];
    let mut sent = 0;
    while sent < count {
        let n = per_batch.min(count - sent);
        send_batch(&mut a, &mut ma, ch, &msg, n);
        sent += n;
        while let Some(x) = a.poll_transmit() {
            tx.send(x).unwrap();
        }
    }
    drop(tx);
    let received = receiver.join().unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(received, count * size);
    secs
}

fn handshakes(keys: &(KeyPair, KeyPair), count: usize, roundtrip: bool, counter: &mut u64) -> f64 {
    let t = Instant::now();
    for _ in 0..count {
        let (mut a, mut b) = pair(keys, counter);
        pump(&mut a, &mut b);
        assert!(a.is_connected() && b.is_connected());
        if roundtrip {
            a.send(&[1]).unwrap();
            b.send(&[2]).unwrap();
            pump(&mut a, &mut b);
            let got = |s: &mut SecretStream| {
                let mut n = 0;
                while let Some(ev) = s.poll_event() {
                    if let StreamEvent::Message(m) = ev {
                        n += m.len();
                    }
                }
                n
            };
            assert_eq!((got(&mut a), got(&mut b)), (1, 1));
        }
    }
    t.elapsed().as_secs_f64()
}

/// Seconds to seal and open `count` messages of `size` bytes: RustCrypto's
/// XChaCha20-Poly1305 AEAD, and our secretstream.
fn cipher(size: usize, count: usize) -> (f64, f64) {
    use chacha20poly1305::aead::AeadInPlace;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let aead = XChaCha20Poly1305::new(&[7u8; 32].into());
    let mut buf = vec![0x5au8; size];
    let t = Instant::now();
    for i in 0..count {
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let tag = aead
            .encrypt_in_place_detached(&nonce.into(), b"", &mut buf)
            .unwrap();
        aead.decrypt_in_place_detached(&nonce.into(), b"", &mut buf, &tag)
            .unwrap();
    }
    let raw = t.elapsed().as_secs_f64();

    let (mut push, mut pull) = (Push::new(&[7; 32], &[9; 24]), Pull::new(&[7; 32], &[9; 24]));
    let mut record = vec![0x5au8; size + ABYTES];
    let t = Instant::now();
    for _ in 0..count {
        push.seal(&mut record, TAG_MESSAGE);
        pull.open(&mut record).unwrap();
    }
    (raw, t.elapsed().as_secs_f64())
}

fn main() {
    let a = args();
    let want = |w: &str| a.only.is_empty() || a.only.iter().any(|o| o == w);
    let keys = (KeyPair::from_seed([1; 32]), KeyPair::from_seed([2; 32]));
    let mut counter = 0u64;
    println!(
        "{{\"impl\":\"meta\",\"rustc\":\"{}\",\"nproc\":{}}}",
        option_env!("RUSTC_VERSION").unwrap_or("see rustc --version"),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for &size in &a.sizes {
        let total =
            a.mb.map_or(if size <= 4096 { 128 * MIB } else { 256 * MIB }, |m| {
                m * MIB
            });
        let bytes = (total / size) * size;
        let row = |workload: &str, secs: f64| {
            println!(
                "{{\"impl\":\"ferrocore\",\"workload\":\"{workload}\",\"message\":{size},\"bytes\":{bytes},\"secs\":{secs},\"mb_per_sec\":{},\"load1\":{}}}",
                bytes as f64 / 1e6 / secs,
                load1()
            );
        };
        for (workload, mux) in [("throughput", false), ("throughput-mux", true)] {
            if want(workload) {
                throughput(&keys, size, 16 * MIB, mux, &mut counter); // warm-up
                row(workload, throughput(&keys, size, total, mux, &mut counter));
            }
        }
        for (workload, mux) in [
            ("throughput-threads", false),
            ("throughput-mux-threads", true),
        ] {
            if want(workload) {
                throughput_threads(&keys, size, 16 * MIB, mux, &mut counter); // warm-up
                row(
                    workload,
                    throughput_threads(&keys, size, total, mux, &mut counter),
                );
            }
        }
        if want("cipher") {
            let count = total / size;
            let (raw, ours) = cipher(size, count);
            row("cipher-rustcrypto-xchacha20poly1305", raw);
            row("cipher-secretstream", ours);
        }
    }
    for (workload, roundtrip) in [("handshake", false), ("handshake-roundtrip", true)] {
        if want(workload) {
            handshakes(&keys, 20, roundtrip, &mut counter);
            let secs = handshakes(&keys, a.handshakes, roundtrip, &mut counter);
            println!(
                "{{\"impl\":\"ferrocore\",\"workload\":\"{workload}\",\"count\":{},\"secs\":{secs},\"per_sec\":{},\"load1\":{}}}",
                a.handshakes,
                a.handshakes as f64 / secs,
                load1()
            );
        }
    }
}
