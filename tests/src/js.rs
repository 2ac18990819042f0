//! The JS hypercore peer (`tests/js/hypercore-peer.mjs`) as a child process: JSON lines
//! out, JSON commands in.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `tests/js` directory.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// Bytes each live interop test moves: `FERROCORE_INTEROP_MB` MiB (default 64).
pub fn interop_volume() -> usize {
    std::env::var("FERROCORE_INTEROP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
        << 20
}

/// Block `index` of core `core` for a block size: the first `size` bytes of
/// SHA-256("ferrocore {core} {index} {k}") for k = 0, 1, … (`tests/js/blocks.mjs`).
pub fn block_value(core: usize, index: u64, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut k = 0u64;
    while out.len() < size {
        out.extend_from_slice(&Sha256::digest(
            format!("ferrocore {core} {index} {k}").as_bytes(),
        ));
        k += 1;
    }
    out.truncate(size);
    out
}

/// A writable core (key pair from the seed `[1; 32]`, as `ik-peer.mjs --hypercore-writer`
/// has) holding [`block_value`]s `0..blocks` of core 0, 1000 bytes each.
pub fn formula_writer(blocks: u64) -> ferrocore::log::Log<ferrocore::storage::MemoryStorage> {
    let options = ferrocore::log::LogOptions {
        key_pair: Some(ferrocore::keys::KeyPair::from_seed(&[1; 32])),
        ..ferrocore::log::LogOptions::default()
    };
    let mut writer =
        ferrocore::log::Log::open(ferrocore::storage::MemoryStorage::new(), options).unwrap();
    let values: Vec<Vec<u8>> = (0..blocks).map(|i| block_value(0, i, 1000)).collect();
    writer.append_batch(values.iter().map(|v| &v[..])).unwrap();
    writer
}

/// A running JS peer.
pub struct JsPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Every line received so far.
    pub seen: Vec<Value>,
    next_id: u64,
}

impl JsPeer {
    /// Spawns `node tests/js/<script> args…`.
    pub fn spawn(script: &str, args: &[&str]) -> JsPeer {
        assert!(
            js_dir().join("node_modules/hypercore").is_dir(),
            "tests/js has no hypercore: run `npm ci` in tests/js (scripts/test does)"
        );
        let mut child = Command::new("node")
            .arg(js_dir().join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (is Node.js installed?)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("js (not JSON): {line}"),
                }
            }
        });
        JsPeer {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
            next_id: 1,
        }
    }

    /// Lines received since the last call, without waiting.
    pub fn poll(&mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Ok(v) = self.lines.try_recv() {
            self.seen.push(v.clone());
            out.push(v);
        }
        out
    }

    /// Waits (blocking) for a line matching `pred`.
    pub fn wait_for(&mut self, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Value {
        if let Some(v) = self.seen.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("JS peer: timed out; seen {:?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("JS peer exited; seen {:?}", self.seen)
                }
            }
        }
    }

    /// True if a line matching `pred` arrived (without waiting).
    pub fn saw(&mut self, mut pred: impl FnMut(&Value) -> bool) -> bool {
        self.poll();
        self.seen.iter().any(&mut pred)
    }

    /// Sends a command (an `id` is added) and returns the id.
    pub fn send(&mut self, mut cmd: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        cmd["id"] = Value::from(id);
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        id
    }

    /// Sends `cmd` and waits (at most `timeout`) for its reply, which must not be an
    /// error.
    #[track_caller]
    pub fn ok(&mut self, cmd: Value, timeout: Duration) -> Value {
        let id = self.send(cmd);
        let reply = self.wait_for(timeout, |v| v["reply"].is_string() && v["id"] == id);
        assert!(reply.get("error").is_none(), "{reply}");
        reply
    }

    /// The reply to command `id`, if it arrived.
    pub fn reply(&mut self, id: u64) -> Option<Value> {
        self.poll();
        self.seen
            .iter()
            .find(|v| v.get("reply").is_some() && v["id"] == id)
            .cloned()
    }

    /// Closes stdin (the peer exits) and waits for the process.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `hypercore-peer.mjs` listening on loopback as the Noise responder (the other side
/// connects as the initiator), with `args` added: the peer, its `ready` event and its
/// address. Waits at most `timeout` for each event.
pub fn js_listening(args: &[&str], timeout: Duration) -> (JsPeer, Value, SocketAddr) {
    let mut all = vec![
        "--role",
        "responder",
        "--listen",
        "0",
        "--timeout",
        "120000",
    ];
    all.extend_from_slice(args);
    let mut js = JsPeer::spawn("hypercore-peer.mjs", &all);
    let ready = js.wait_for(timeout, |v| v["event"] == "ready");
    let listening = js.wait_for(timeout, |v| v["event"] == "listening");
    let port = listening["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("the JS peer reports its port");
    (js, ready, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// The `hypercore-peer.mjs` arguments of a reader that connects to `addr` as the Noise
/// initiator and downloads all of core `key` (hex).
pub fn js_reader_args<'a>(addr: &'a str, key: &'a str) -> Vec<&'a str> {
    let mut args = js_sparse_reader_args(addr, key);
    args.push("--download-all");
    args
}

/// The `hypercore-peer.mjs` arguments of a reader that connects to `addr` as the Noise
/// initiator and opens the cores `keys` (hex, comma-separated) without downloading
/// anything by itself: it fetches only what its commands (`get`, `seek`, ...) ask for.
pub fn js_sparse_reader_args<'a>(addr: &'a str, keys: &'a str) -> Vec<&'a str> {
    vec![
        "--role",
        "initiator",
        "--connect",
        addr,
        "--reader",
        keys,
        "--timeout",
        "120000",
    ]
}

/// A `tests/js/udx-peer.mjs` (a udx-native socket on loopback with one stream, created
/// and not connected), with `args` added: the peer, its socket's address and its first
/// stream's id.
pub fn udx_peer(args: &[&str], timeout: Duration) -> (JsPeer, SocketAddr, u32) {
    assert!(
        js_dir().join("node_modules/udx-native").is_dir(),
        "tests/js has no udx-native: run `npm ci` in tests/js (scripts/test does)"
    );
    let mut all = vec!["--timeout", "300000"];
    all.extend_from_slice(args);
    let mut js = JsPeer::spawn("udx-peer.mjs", &all);
    let ready = js.wait_for(timeout, |v| v["event"] == "ready");
    let port = ready["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("the udx peer reports its port");
    let stream = ready["stream"]
        .as_u64()
        .and_then(|s| u32::try_from(s).ok())
        .expect("the udx peer reports its stream id");
    (js, SocketAddr::from(([127, 0, 0, 1], port)), stream)
}
