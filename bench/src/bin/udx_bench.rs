//! The ferrocore side of `scripts/bench-udx`: one-way bulk throughput of ONE raw UDX stream
//! (`ferrocore-udx`, no encryption) between two processes on loopback, or through the lossy
//! relay. Prints the rows of `tests/js/bench-udx.mjs` with `"impl":"ferrocore"` and
//! `"receiver"`: who read the bytes (a ferrocore process, or the JS receiver of
//! bench-udx.mjs: udx-native).
//!
//!   udx-bench [--mb N] [--receiver ferrocore|js|both] [--repeat R]
//!             [--relay BIN [--loss P] [--delay-ms D] [--seed S]]
//!
//! The sender writes N MiB (default 256) and ends; the clock runs from the first write until
//! the receiver says it read all of it. A run that fails (the stream closes with an error)
//! prints its row with "error" and "mb_per_sec": null. Rows also carry the sender stream's
//! retransmitted packets, RTO timeouts and fast recoveries (`ferrocore_udx::Stats`). The socket is driven by a minimal std loop written
//! for this benchmark (non-blocking `UdpSocket`, no GSO, sleeping at most 200 µs when idle),
//! not by a ferrocore adapter: the figures bound what the state machine does with a simple
//! driver. Child mode (internal, the same line protocol as bench-udx.mjs's child):
//! `udx-bench --child --bytes B`.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use ferrocore_udx::{Config, Event, Socket, StreamId};
use serde_json::{json, Value};

/// A UDX socket on a non-blocking std UDP socket.
struct Driver {
    udp: UdpSocket,
    udx: Socket,
    origin: Instant,
    out: Vec<u8>,
    events: Vec<Event>,
}

impl Driver {
    fn bind() -> Driver {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        udp.set_nonblocking(true).expect("non-blocking");
        Driver {
            udp,
            udx: Socket::new(Config::default()),
            origin: Instant::now(),
            out: Vec::with_capacity(65536),
            events: Vec::new(),
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn port(&self) -> u16 {
        self.udp.local_addr().expect("bound").port()
    }

    /// Sends what is due, reads what arrived, runs timers; sleeps briefly when idle.
    fn turn(&mut self) {
        let mut busy = self.flush();
        let mut buf = [0u8; 2048];
        for _ in 0..256 {
            match self.udp.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let now = self.now();
                    let _ = self.udx.handle_datagram(now, from, &buf[..n]);
                    busy = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => break, // e.g. ICMP unreachable from an earlier send
            }
        }
        let now = self.now();
        if self.udx.poll_timeout().is_some_and(|t| t <= now) {
            self.udx.handle_timeout(now);
        }
        busy |= self.flush();
        while let Some(e) = self.udx.poll_event() {
            self.events.push(e);
        }
        if !busy {
            let now = self.now();
            let wait = self
                .udx
                .poll_timeout()
                .map_or(Duration::from_micros(200), |t| t.saturating_sub(now))
                .min(Duration::from_micros(200));
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }

    /// Sends every datagram due now; true if any.
    fn flush(&mut self) -> bool {
        let mut any = false;
        loop {
            self.out.clear();
            let now = self.now();
            let Some(t) = self.udx.poll_transmit(now, &mut self.out, 1) else {
                return any;
            };
            any = true;
            for d in self.out[..t.len].chunks(t.segment_size.max(1)) {
                // a full kernel buffer drops the datagram: UDX recovers like any loss
                let _ = self.udp.send_to(d, t.dst);
            }
        }
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn line(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// The receiver: the line protocol of bench-udx.mjs's child (udx-plain).
fn child(bytes: u64) {
    let mut d = Driver::bind();
    let id: StreamId = 2;
    d.udx.create_stream(id).expect("stream");
    line(&json!({"port": d.port(), "stream": id}));
    let (tx, rx) = std::sync::mpsc::channel::<Option<String>>();
    std::thread::spawn(move || {
        for l in std::io::stdin().lock().lines() {
            let Ok(l) = l else { break };
            let _ = tx.send(Some(l));
        }
        let _ = tx.send(None);
    });
    let mut got = 0u64;
    let mut reported = false;
    let mut buf = vec![0u8; 65536];
    loop {
        match rx.try_recv() {
            Ok(Some(l)) => {
                let v: Value = serde_json::from_str(&l).expect("JSON command");
                let remote_id = v["remoteId"].as_u64().expect("remoteId") as u32;
                let port = v["port"].as_u64().expect("port") as u16;
                let now = d.now();
                d.udx
                    .connect(now, id, remote_id, SocketAddr::from(([127, 0, 0, 1], port)))
                    .expect("connect");
                line(&json!({"connected": true}));
            }
            Ok(None) => return,
            Err(_) => {}
        }
        d.turn();
        d.events.clear();
        while let Ok(n) = d.udx.read(id, &mut buf) {
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        if got >= bytes && !reported {
            reported = true;
            line(&json!({"done": got}));
        }
    }
}

struct Peer {
    proc: Child,
    stdin: Option<ChildStdin>,
    lines: std::sync::mpsc::Receiver<Value>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut proc = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let stdout = proc.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Peer {
            stdin: proc.stdin.take(),
            proc,
            lines,
        }
    }

    fn next(&self) -> Value {
        self.lines
            .recv_timeout(Duration::from_secs(600))
            .expect("a line from the child")
    }

    fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{v}").expect("write to child");
        stdin.flush().expect("flush");
    }

    fn end(mut self) {
        drop(self.stdin.take());
        let _ = self.proc.wait();
    }
}

struct Opts {
    bytes: u64,
    relay: Option<String>,
    loss: f64,
    delay_ms: f64,
    seed: u64,
}

fn measure(receiver: &str, o: &Opts) -> Value {
    let js_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    let cmd = if receiver == "js" {
        let mut c = Command::new("node");
        c.arg(js_dir.join("bench-udx.mjs")).args([
            "--child",
            "udx-plain",
            "--bytes",
            &o.bytes.to_string(),
        ]);
        c
    } else {
        let mut c = Command::new(std::env::current_exe().expect("own path"));
        c.args(["--child", "--bytes", &o.bytes.to_string()]);
        c
    };
    let mut kid = Peer::spawn(cmd);
    let hello = kid.next();
    let kid_port = hello["port"].as_u64().expect("port") as u16;
    let kid_stream = hello["stream"].as_u64().expect("stream") as u32;
    let mut d = Driver::bind();
    let (mut to_kid, mut to_me) = (kid_port, d.port());
    let relay = o.relay.as_ref().map(|bin| {
        let mut c = Command::new(bin);
        c.args([
            "--loss",
            &o.loss.to_string(),
            "--delay-ms",
            &o.delay_ms.to_string(),
        ])
        .args(["--seed", &o.seed.to_string()])
        .args([
            "--peer-a",
            &d.port().to_string(),
            "--peer-b",
            &kid_port.to_string(),
        ]);
        let r = Peer::spawn(c);
        let ports = r.next();
        to_kid = ports["a"].as_u64().expect("relay side a") as u16;
        to_me = ports["b"].as_u64().expect("relay side b") as u16;
        r
    });
    let id: StreamId = 1;
    kid.send(&json!({"remoteId": id, "port": to_me}));
    assert_eq!(kid.next()["connected"], true);
    d.udx.create_stream(id).expect("stream");
    let now = d.now();
    d.udx
        .connect(
            now,
            id,
            kid_stream,
            SocketAddr::from(([127, 0, 0, 1], to_kid)),
        )
        .expect("connect");

    let chunk = vec![0xa5u8; 65536];
    let start = Instant::now();
    let mut sent = 0u64;
    let mut ended = false;
    let done = loop {
        while sent < o.bytes {
            let n = (o.bytes - sent).min(chunk.len() as u64) as usize;
            let now = d.now();
            let took = d.udx.write(now, id, &chunk[..n]).expect("write");
            if took == 0 {
                break;
            }
            sent += took as u64;
        }
        if sent == o.bytes && !ended {
            let now = d.now();
            d.udx.end(now, id).expect("end");
            ended = true;
        }
        d.turn();
        let failed = d.events.iter().find_map(|e| match e {
            Event::Closed { error: Some(e), .. } => Some(*e),
            _ => None,
        });
        d.events.clear();
        if let Some(err) = failed {
            break json!({"error": format!("the sender's stream failed: {err}")});
        }
        if let Ok(v) = kid.lines.try_recv() {
            break v;
        }
    };
    let secs = start.elapsed().as_secs_f64();
    let stats = d.udx.stats(id);
    let error = match &done["done"] {
        v if *v == o.bytes => None,
        _ => Some(format!("{done}")),
    };
    // let the END be acked before the receiver goes away
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until && d.udx.has_stream(id) {
        d.turn();
    }
    kid.end();
    let mut row = json!({
        "impl": "ferrocore", "workload": "udx-plain", "receiver": receiver,
        "path": if relay.is_some() { "relay" } else { "loopback" },
        "loss": if relay.is_some() { o.loss } else { 0.0 },
        "rtt_ms": if relay.is_some() { 2.0 * o.delay_ms } else { 0.0 },
        "bytes": o.bytes, "chunk": chunk.len(),
        "secs": (secs * 1e4).round() / 1e4,
        "mb_per_sec": error.is_none().then(|| (o.bytes as f64 / 1e6 / secs * 10.0).round() / 10.0),
        "retransmits": stats.map(|s| s.packets_retransmitted),
        "rto_timeouts": stats.map(|s| s.rto_timeouts),
        "fast_recoveries": stats.map(|s| s.fast_recoveries),
        "sent_bytes": sent,
    });
    if let Some(e) = error {
        row["error"] = e.into();
    }
    if let Some(mut r) = relay {
        drop(r.stdin.take());
        row["relay"] = r.next();
        let _ = r.proc.wait();
    }
    row["load1"] = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .into();
    row
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |name: &str, default: f64| -> f64 {
        arg(&args, name).map_or(default, |v| {
            v.parse().unwrap_or_else(|_| panic!("{name}: not a number"))
        })
    };
    if args.iter().any(|a| a == "--child") {
        child(num("--bytes", 0.0) as u64);
        return;
    }
    let o = Opts {
        bytes: (num("--mb", 256.0) * 1048576.0) as u64,
        relay: arg(&args, "--relay"),
        loss: num("--loss", 0.01),
        delay_ms: num("--delay-ms", 10.0),
        seed: num("--seed", 1.0) as u64,
    };
    let receiver = arg(&args, "--receiver").unwrap_or_else(|| "both".into());
    let receivers = match receiver.as_str() {
        "both" => vec!["ferrocore", "js"],
        "ferrocore" => vec!["ferrocore"],
        "js" => vec!["js"],
        r => panic!("--receiver {r}: ferrocore, js or both"),
    };
    let mut meta =
        json!({"impl": "meta", "path": if o.relay.is_some() { "relay" } else { "loopback" }});
    if o.relay.is_some() {
        meta["loss"] = o.loss.into();
        meta["rtt_ms"] = (2.0 * o.delay_ms).into();
        meta["seed"] = o.seed.into();
    }
    line(&meta);
    for r in receivers {
        for _ in 0..num("--repeat", 1.0).max(1.0) as usize {
            line(&measure(r, &o));
        }
    }
}
