//! The ferrocore side of `scripts/bench-udx` (`tests/js/bench-udx.mjs` is the JS side; both
//! take the same flags and print the same rows). One-way bulk throughput of ONE stream
//! between two processes on loopback: this process writes, a child process of this binary
//! reads.
//!
//! ```text
//! udx-bench [--mb N] [--chunk C] [--only LIST] [--repeat R] [--no-batching] [--stats]
//!           [--relay BIN [--loss P] [--delay-ms D] [--seed S]]
//! ```
//!
//! * `udx-plain`: a ferrocore UDX stream (`ferrocore_blocking::udx`: a socket thread in
//!   `poll(2)`; writes go into the state machine and out of the socket on the writer's
//!   thread);
//! * `udx-secret`: ferrocore's secret-stream (`ferrocore_wire::stream::SecretStream`, Noise
//!   XX in band, the sender initiates) over that UDX stream, one record per write;
//! * `tcp-plain`, `tcp-secret`: the same over a loopback TCP socket (`TCP_NODELAY`).
//!
//! `--stats` prints the sending UDX stream's statistics (cwnd, RTT, retransmissions) on
//! stderr after each UDX row. `--no-batching` moves one datagram per system call instead of quinn-udp's GSO/GRO and
//! `recvmmsg` batches. `--relay BIN` sends the UDX streams through the lossy relay
//! (`tests/src/bin/lossy-relay.rs`) at `--loss P` each way and `--delay-ms D` one way.
//! The clock starts when the sender can write (UDX: both streams connected; secret: the
//! handshake done on the sender's side) and stops when the receiver reports (a line on its
//! stdout) that it has read all bytes. Rows: `{"impl":"ferrocore","workload":W,"path":..,
//! "loss","rtt_ms","bytes","chunk","secs","mb_per_sec","handshake_ms"?,"retransmits"?,
//! "relay"?,"load1"}`; MB = 10^6 bytes. A run that fails prints `{"impl":"ferrocore",
//! "workload","path","bytes","error"}` and the others still run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ferrocore_bench::Row;
use ferrocore_blocking::udx::{Config, UdxSocket, UdxStream};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent};

const WORKLOADS: [&str; 4] = ["udx-plain", "udx-secret", "tcp-plain", "tcp-secret"];
/// The secret-stream's clock: this bench never lets a timer fire (no keep-alives).
const T0: Duration = Duration::ZERO;
const LOCALHOST: [u8; 4] = [127, 0, 0, 1];

type Res<T> = Result<T, String>;

struct Opts {
    bytes: usize,
    chunk: usize,
    only: Vec<String>,
    repeat: usize,
    batching: bool,
    stats: bool,
    relay: Option<String>,
    loss: f64,
    delay_ms: u64,
    seed: u64,
}

impl Opts {
    fn path(&self) -> &'static str {
        if self.relay.is_some() {
            "relay"
        } else {
            "loopback"
        }
    }
}

fn value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}

fn parse<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Res<T>
where
    T::Err: std::fmt::Display,
{
    value(args, name).map_or(Ok(default), |v| {
        v.parse().map_err(|e| format!("{name} {v}: {e}"))
    })
}

fn opts(args: &[String]) -> Res<Opts> {
    let mut o = Opts {
        bytes: parse::<usize>(args, "--mb", 256)? << 20,
        chunk: parse(args, "--chunk", 65536)?,
        only: value(args, "--only").map_or(WORKLOADS.map(String::from).to_vec(), |l| {
            l.split(',').map(String::from).collect()
        }),
        repeat: parse::<usize>(args, "--repeat", 1)?.max(1),
        batching: !args.iter().any(|a| a == "--no-batching"),
        stats: args.iter().any(|a| a == "--stats"),
        relay: value(args, "--relay").map(String::from),
        loss: parse(args, "--loss", 0.01)?,
        delay_ms: parse(args, "--delay-ms", 10)?,
        seed: parse(args, "--seed", 1)?,
    };
    if let Some(w) = o.only.iter().find(|w| !WORKLOADS.contains(&w.as_str())) {
        return Err(format!("bad workload {w}"));
    }
    if o.relay.is_some() {
        o.only.retain(|w| w.starts_with("udx"));
    }
    if o.bytes == 0 || o.chunk == 0 {
        return Err("--mb and --chunk must be positive".into());
    }
    Ok(o)
}

/// The number after `"key":` in a one-line JSON object (the lines this bench exchanges).
fn field(line: &str, key: &str) -> Option<u64> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn loopback(port: u64) -> Res<SocketAddr> {
    let port = u16::try_from(port).map_err(|e| e.to_string())?;
    Ok(SocketAddr::from((LOCALHOST, port)))
}

fn udx_config(batching: bool) -> Config {
    Config {
        batching,
        ..Config::default()
    }
}

fn entropy(tag: u8) -> Entropy {
    let mut ephemeral_seed = [0u8; 32];
    let mut header = [0u8; 24];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    ephemeral_seed[..16].copy_from_slice(&nanos.to_le_bytes());
    ephemeral_seed[16] = tag;
    header[..16].copy_from_slice(&nanos.to_le_bytes());
    header[16] = tag;
    Entropy {
        ephemeral_seed,
        header,
    }
}

fn secret(initiator: bool) -> SecretStream {
    let config = StreamConfig {
        keep_alive: None,
        ..StreamConfig::default()
    };
    let tag = u8::from(initiator);
    let keys = KeyPair::from_seed([tag + 7; 32]);
    if initiator {
        SecretStream::initiator(config, keys, entropy(tag), T0)
    } else {
        SecretStream::responder(config, keys, entropy(tag), T0)
    }
}

/// Writes everything the secret-stream has to send.
fn flush(s: &mut SecretStream, io: &mut impl Write) -> Res<()> {
    while let Some(x) = s.poll_transmit() {
        io.write_all(&x).map_err(|e| e.to_string())?;
    }
    Ok(())
}

// ---------------------------------------------------------------- receiver (child)

/// Reads `bytes` bytes (records' plaintext when `secret`), then prints `{"done":n}`.
fn count(io: &mut (impl Read + Write), bytes: usize, secret_stream: bool) -> Res<()> {
    let mut buf = vec![0u8; 256 << 10];
    let mut s = secret_stream.then(|| secret(false));
    let mut n = 0;
    while n < bytes {
        let got = io.read(&mut buf).map_err(|e| e.to_string())?;
        if got == 0 {
            return Err(format!("stream ended after {n} bytes"));
        }
        match &mut s {
            None => n += got,
            Some(s) => {
                s.handle_input(T0, &buf[..got]).map_err(|e| e.to_string())?;
                while let Some(ev) = s.poll_event() {
                    if let StreamEvent::Message(m) = ev {
                        n += m.len();
                    }
                }
                flush(s, io)?;
            }
        }
    }
    println!("{{\"done\":{n}}}");
    Ok(())
}

fn child(args: &[String]) -> Res<()> {
    let workload = value(args, "--child").ok_or("--child needs a workload")?;
    let bytes: usize = parse(args, "--bytes", 0)?;
    let batching = !args.iter().any(|a| a == "--no-batching");
    let secret_stream = workload.ends_with("-secret");
    let mut stdin = std::io::stdin().lock().lines();
    if workload.starts_with("tcp") {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        println!("{{\"port\":{port}}}");
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        count(&mut tcp, bytes, secret_stream)?;
    } else {
        let socket =
            UdxSocket::bind_with("127.0.0.1:0", udx_config(batching)).map_err(|e| e.to_string())?;
        let mut stream = socket.create_stream().map_err(|e| e.to_string())?;
        let port = socket.local_addr().map_err(|e| e.to_string())?.port();
        println!("{{\"port\":{port},\"stream\":{}}}", stream.id());
        let line = stdin
            .next()
            .ok_or("no peer line")?
            .map_err(|e| e.to_string())?;
        let remote_id = field(&line, "remoteId").ok_or("no remoteId")?;
        let to = loopback(field(&line, "port").ok_or("no port")?)?;
        socket
            .connect(&stream, remote_id as u32, to)
            .map_err(|e| e.to_string())?;
        println!("{{\"connected\":true}}");
        count(&mut stream, bytes, secret_stream)?;
    }
    // Stay until the sender closes our stdin (it reads its stats first).
    for _ in stdin {}
    Ok(())
}

// ---------------------------------------------------------------- sender

struct Kid {
    proc: Child,
    stdin: Option<ChildStdin>,
    out: std::io::Lines<BufReader<ChildStdout>>,
}

impl Drop for Kid {
    /// A child left behind by a failed run must not outlive it.
    fn drop(&mut self) {
        if matches!(self.proc.try_wait(), Ok(None)) {
            let _ = self.proc.kill();
            let _ = self.proc.wait();
        }
    }
}

impl Kid {
    fn spawn(args: Vec<String>) -> Res<Kid> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        Kid::start(Command::new(exe).args(args))
    }

    fn start(cmd: &mut Command) -> Res<Kid> {
        let mut proc = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdin = proc.stdin.take();
        let out = BufReader::new(proc.stdout.take().ok_or("no stdout")?).lines();
        Ok(Kid { proc, stdin, out })
    }

    fn next(&mut self) -> Res<String> {
        self.out
            .next()
            .ok_or("child exited")?
            .map_err(|e| e.to_string())
    }

    fn send(&mut self, line: &str) -> Res<()> {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        writeln!(stdin, "{line}").map_err(|e| e.to_string())
    }

    /// Closes its stdin; returns the line it prints then, if any, and waits for it.
    fn end(mut self) -> Res<Option<String>> {
        drop(self.stdin.take());
        let last = self.out.next().and_then(Result::ok);
        self.proc.wait().map_err(|e| e.to_string())?;
        Ok(last)
    }
}

/// Runs the secret-stream handshake from the initiator's side; returns its milliseconds.
fn handshake(s: &mut SecretStream, io: &mut (impl Read + Write)) -> Res<f64> {
    let t = Instant::now();
    let mut buf = vec![0u8; 4096];
    flush(s, io)?;
    while !s.is_connected() {
        let n = io.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("stream ended during the handshake".into());
        }
        s.handle_input(T0, &buf[..n]).map_err(|e| e.to_string())?;
        flush(s, io)?;
    }
    while s.poll_event().is_some() {}
    Ok(t.elapsed().as_secs_f64() * 1e3)
}

/// Sends `o.bytes` in writes of `o.chunk` (one record each when `s` is a secret-stream).
fn write_all(io: &mut impl Write, s: Option<&mut SecretStream>, o: &Opts) -> Res<()> {
    let buf = vec![0xa5u8; o.chunk];
    let mut sent = 0;
    let mut s = s;
    while sent < o.bytes {
        let n = o.chunk.min(o.bytes - sent);
        sent += n;
        match s.as_deref_mut() {
            None => io.write_all(&buf[..n]).map_err(|e| e.to_string())?,
            Some(s) => {
                s.send(&buf[..n]).map_err(|e| e.to_string())?;
                flush(s, io)?;
            }
        }
    }
    Ok(())
}

/// Handshake (secret workloads), then the timed transfer; (secs, handshake ms).
fn transfer(
    io: &mut (impl Read + Write),
    secret_stream: bool,
    kid: &mut Kid,
    o: &Opts,
) -> Res<(f64, Option<f64>)> {
    let mut s = secret_stream.then(|| secret(true));
    let hs = match &mut s {
        Some(s) => Some(handshake(s, io)?),
        None => None,
    };
    let t = Instant::now();
    write_all(io, s.as_mut(), o)?;
    let done = kid.next()?;
    let secs = t.elapsed().as_secs_f64();
    if field(&done, "done") != Some(o.bytes as u64) {
        return Err(format!("receiver says {done}"));
    }
    Ok((secs, hs))
}

fn measure(workload: &str, o: &Opts) -> Res<String> {
    let secret_stream = workload.ends_with("-secret");
    let mut kid_args = vec![
        "--child".into(),
        workload.into(),
        "--bytes".into(),
        o.bytes.to_string(),
    ];
    if !o.batching {
        kid_args.push("--no-batching".into());
    }
    let mut kid = Kid::spawn(kid_args)?;
    let hello = kid.next()?;
    let kid_port = field(&hello, "port").ok_or("child sent no port")?;
    let mut relay_stats = None;
    let mut retransmits = None;
    let (secs, hs) = if workload.starts_with("tcp") {
        let mut tcp = TcpStream::connect(loopback(kid_port)?).map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        transfer(&mut tcp, secret_stream, &mut kid, o)?
    } else {
        let socket = UdxSocket::bind_with("127.0.0.1:0", udx_config(o.batching))
            .map_err(|e| e.to_string())?;
        let me = u64::from(socket.local_addr().map_err(|e| e.to_string())?.port());
        let (mut to_kid, mut to_me, mut relay) = (kid_port, me, None);
        if let Some(bin) = &o.relay {
            let mut r = Kid::start(Command::new(bin).args([
                "--loss".into(),
                o.loss.to_string(),
                "--delay-ms".into(),
                o.delay_ms.to_string(),
                "--seed".into(),
                o.seed.to_string(),
                "--peer-a".into(),
                me.to_string(),
                "--peer-b".into(),
                kid_port.to_string(),
            ]))?;
            let ports = r.next()?;
            to_kid = field(&ports, "a").ok_or("relay sent no ports")?;
            to_me = field(&ports, "b").ok_or("relay sent no ports")?;
            relay = Some(r);
        }
        let mut stream: UdxStream = socket.create_stream().map_err(|e| e.to_string())?;
        kid.send(&format!(
            "{{\"remoteId\":{},\"port\":{to_me}}}",
            stream.id()
        ))?;
        kid.next()?; // connected
        let remote_id = field(&hello, "stream").ok_or("child sent no stream")?;
        socket
            .connect(&stream, remote_id as u32, loopback(to_kid)?)
            .map_err(|e| e.to_string())?;
        let out = transfer(&mut stream, secret_stream, &mut kid, o)?;
        let stats = socket.stats(&stream);
        if o.stats {
            eprintln!("udx-bench: {workload}: sender {stats:?}");
        }
        retransmits = stats.map(|s| s.packets_retransmitted);
        stream.destroy();
        if let Some(r) = relay {
            relay_stats = r.end()?;
        }
        out
    };
    kid.end()?;
    let mut row = Row::new();
    row.str("impl", "ferrocore")
        .str("workload", workload)
        .str("path", o.path())
        .num("loss", if o.relay.is_some() { o.loss } else { 0.0 })
        .num(
            "rtt_ms",
            if o.relay.is_some() {
                2.0 * o.delay_ms as f64
            } else {
                0.0
            },
        )
        .num("bytes", o.bytes as f64)
        .num("chunk", o.chunk as f64)
        .num("secs", (secs * 1e4).round() / 1e4)
        .num(
            "mb_per_sec",
            (o.bytes as f64 / 1e6 / secs * 10.0).round() / 10.0,
        )
        .boolean("batching", o.batching);
    if let Some(h) = hs {
        row.num("handshake_ms", (h * 100.0).round() / 100.0);
    }
    if let Some(r) = retransmits {
        row.num("retransmits", r as f64);
    }
    row.num("load1", load1());
    let mut line = row.finish();
    if let Some(stats) = relay_stats.filter(|s| s.starts_with('{')) {
        line.pop();
        line.push_str(&format!(",\"relay\":{stats}}}"));
    }
    Ok(line)
}

fn load1() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split(' ').next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn run(args: &[String]) -> Res<()> {
    if value(args, "--child").is_some() {
        return child(args);
    }
    let o = opts(args)?;
    let mut meta = Row::new();
    meta.str("impl", "meta")
        .str("bench", "udx-bench")
        .str("path", o.path())
        .boolean("batching", o.batching);
    println!("{}", meta.finish());
    for w in &o.only {
        for _ in 0..o.repeat {
            match measure(w, &o) {
                Ok(row) => println!("{row}"),
                // A failed run is a row too (the report counts them), and the rest go on.
                Err(e) => {
                    eprintln!("udx-bench: {w}: {e}");
                    let mut row = Row::new();
                    row.str("impl", "ferrocore")
                        .str("workload", w)
                        .str("path", o.path())
                        .num("bytes", o.bytes as f64)
                        .str("error", &e);
                    println!("{}", row.finish());
                }
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("udx-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
