//! Running the `ferrocore` binary from tests: one-shot commands with a time limit, and
//! long-running ones (`serve`, `clone --live`) whose output lines are awaited, never slept
//! for.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single command may take before the test fails.
pub const T: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferrocore")
}

/// What a finished command did.
#[derive(Debug)]
pub struct Out {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Out {
    /// Stdout as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts success and returns stdout as text.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(self.code, Some(0), "expected success: {self:?}");
        self.text()
    }

    /// Asserts exit code `code` and a message on stderr containing `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) {
        assert_eq!(self.code, Some(code), "expected exit code {code}: {self:?}");
        assert!(
            self.stderr.contains(needle),
            "expected stderr to contain {needle:?}: {self:?}"
        );
    }
}

/// Waits for `child` at most `timeout`; kills it and panics after.
fn wait_with_timeout(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let until = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: did not exit within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Spawns `ferrocore args…` with all three standard streams piped.
fn spawn_piped(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ferrocore")
}

/// Runs `ferrocore args…` with `stdin` (empty if `None`) and waits for it (at most [`T`]).
pub fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut child = spawn_piped(args);
    let input = stdin.unwrap_or_default().to_vec();
    let mut pipe = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_with_timeout(&mut child, T, &format!("ferrocore {args:?}"));
    let _ = writer.join();
    Out {
        code: status.code(),
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Runs `ferrocore args…` with an empty stdin.
pub fn run(args: &[&str]) -> Out {
    run_with_stdin(args, None)
}

/// A path as a `&str` argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// `ferrocore create DIR extra…`; returns the key (hex).
#[track_caller]
pub fn create(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["create", s(dir)];
    args.extend_from_slice(extra);
    let text = run(&args).ok();
    let key = text
        .strip_prefix("key ")
        .and_then(|k| k.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("create printed {text:?}"));
    key.to_owned()
}

/// A long-running `ferrocore` process whose stdout and stderr lines are read as they come.
pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Stdout lines received so far.
    pub out_lines: Vec<String>,
    /// Stderr lines received so far.
    pub err_lines: Vec<String>,
}

fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Proc {
    /// Spawns `ferrocore args…`.
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = spawn_piped(args);
        Proc {
            stdin: child.stdin.take(),
            stdout: line_reader(child.stdout.take().unwrap()),
            stderr: line_reader(child.stderr.take().unwrap()),
            child,
            out_lines: Vec::new(),
            err_lines: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next stdout line (at most [`T`]).
    #[track_caller]
    pub fn line(&mut self) -> String {
        match self.stdout.recv_timeout(T) {
            Ok(line) => {
                self.out_lines.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                self.drain_stderr();
                panic!(
                    "no stdout line within {T:?}; stdout so far {:?}, stderr {:?}",
                    self.out_lines, self.err_lines
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.drain_stderr();
                panic!(
                    "stdout ended; stdout so far {:?}, stderr {:?}",
                    self.out_lines, self.err_lines
                )
            }
        }
    }

    /// Waits (at most [`T`]) for a stderr line containing `needle`.
    #[track_caller]
    pub fn wait_stderr(&mut self, needle: &str) -> String {
        if let Some(l) = self.err_lines.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let until = Instant::now() + T;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.err_lines.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no stderr line containing {needle:?}; stderr {:?}, stdout {:?}",
                    self.err_lines, self.out_lines
                ),
            }
        }
    }

    fn drain_stderr(&mut self) {
        while let Ok(l) = self.stderr.try_recv() {
            self.err_lines.push(l);
        }
    }

    /// Writes a line to its stdin.
    pub fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Closes its stdin.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    fn send_term(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Sends SIGTERM (with the `kill` command) and waits (at most [`T`]) for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.send_term();
        self.wait()
    }

    /// Sends SIGTERM, waits for the exit, and asserts it was clean: exit code 0 and no
    /// panic (of any thread) on stderr. Returns its stderr.
    #[track_caller]
    pub fn terminate_cleanly(mut self) -> String {
        self.send_term();
        let exit = self.wait();
        let stderr = self.rest_of_stderr();
        assert!(exit.success(), "exit {exit:?}; stderr {stderr}");
        assert!(!stderr.contains("panicked"), "a thread panicked: {stderr}");
        stderr
    }

    /// Kills it with SIGKILL (no chance to clean up) and waits for the exit.
    pub fn kill(mut self) -> ExitStatus {
        self.child.kill().expect("kill");
        self.wait()
    }

    /// Waits (at most [`T`]) for the exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_with_timeout(&mut self.child, T, "ferrocore process")
    }

    /// Everything left on stderr after the process exited.
    pub fn rest_of_stderr(&mut self) -> String {
        let until = Instant::now() + T;
        while let Ok(l) = self
            .stderr
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.err_lines.push(l);
        }
        self.err_lines.join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ferrocore serve DIR --listen 127.0.0.1:0 extra…`, once it printed its key and address.
pub fn serve(dir: &Path, extra: &[&str]) -> (Proc, String, String) {
    let mut args = vec!["serve", s(dir), "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(&args);
    let key = p.line();
    let key = key
        .strip_prefix("key ")
        .unwrap_or_else(|| panic!("serve printed {key:?} first"))
        .to_owned();
    let listening = p.line();
    let addr = listening
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("serve printed {listening:?} second"))
        .to_owned();
    assert!(!addr.ends_with(":0"), "the real port is printed: {addr}");
    (p, key, addr)
}

/// `info DIR --json`, parsed.
#[track_caller]
pub fn info(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["info", s(dir), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&run(&args).ok()).expect("info --json prints JSON")
}
