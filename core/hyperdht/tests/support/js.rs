//! A JS peer (`tests/js/*.mjs`, JSON lines) as a child process that never blocks the
//! caller: lines are collected by a thread and taken when they match.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};

use serde_json::Value;

/// The repository's `tests/js` directory.
pub fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// Panics with how to fix it when `tests/js/node_modules/<package>` is missing.
pub fn require_js(package: &str) {
    assert!(
        js_dir().join("node_modules").join(package).is_dir(),
        "tests/js/node_modules/{package} is missing: run `npm ci` in tests/js"
    );
}

/// A running JS peer.
pub struct JsPeer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Lines received and not taken yet.
    pub pending: Vec<Value>,
    next_id: u64,
}

impl JsPeer {
    /// Spawns `node tests/js/<script> args…`.
    pub fn spawn(script: &str, args: &[&str]) -> JsPeer {
        // stderr is inherited: the peer's logs show with the test's output
        let mut cmd = Command::new("node");
        cmd.arg(js_dir().join(script)).args(args);
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = cmd.spawn().expect("node runs (is Node.js on PATH?)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = channel();
        // the peer prints one JSON value a line: read them as a stream of values
        std::thread::spawn(move || {
            let values = serde_json::Deserializer::from_reader(stdout).into_iter::<Value>();
            for v in values.map_while(Result::ok) {
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        JsPeer {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            pending: Vec::new(),
            next_id: 1,
        }
    }

    /// The first line received that matches `pred`, taken out (without waiting).
    pub fn take(&mut self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        self.pending.extend(self.lines.try_iter());
        let i = self.pending.iter().position(pred)?;
        Some(self.pending.remove(i))
    }

    /// Sends a command (an `id` is added); returns the id.
    pub fn send(&mut self, mut cmd: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        cmd["id"] = Value::from(id);
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{cmd}").expect("write to the JS peer");
        stdin.flush().expect("flush");
        id
    }

    /// Closes stdin and waits for the exit code.
    pub fn close(mut self) -> Option<i32> {
        drop(self.stdin.take());
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
    }
}
