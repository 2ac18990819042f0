//! Live interop over loopback TCP with the real JS stack (`@hyperswarm/secret-stream`
//! 6.9.2 + `protomux` 3.12.1 in Node, `tests/js/peer.mjs`): ferrocore as Noise initiator
//! and as responder. Each run opens a channel both ways, moves 64 MiB each way in 64 KiB
//! messages of a fixed formula (`tests/js/content.mjs`), exchanges SHA-256 digests,
//! closes the channel and ends the stream cleanly; both sides check everything.
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).
//! `FERROCORE_INTEROP_MB` sets the volume per direction (default 64).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrocore_tests::content;
use ferrocore_wire::connection::{Connection, ConnectionEvent};
use ferrocore_wire::mux::{ChannelId, CloseReason, MuxConfig, MuxEvent};
use ferrocore_wire::noise::{KeyPair, Role};
use ferrocore_wire::stream::{Entropy, StreamConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

const PROTOCOL: &str = "ferrocore/interop";
const CHUNK: usize = 65536;

fn volume() -> usize {
    ferrocore_tests::js::interop_volume()
}

fn base(role: Role) -> u32 {
    match role {
        Role::Initiator => content::BASE_INITIATOR,
        Role::Responder => content::BASE_RESPONDER,
    }
}

/// Bytes `[offset, offset + buf.len())` of the stream a side of `role` sends.
fn fill(buf: &mut [u8], offset: usize, role: Role) {
    content::fill(buf, offset as u64, base(role));
}

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn spawn_js(args: &[&str]) -> Child {
    assert!(
        js_dir()
            .join("node_modules/@hyperswarm/secret-stream")
            .is_dir(),
        "tests/js has no node_modules: run `npm ci` in tests/js (scripts/test does)"
    );
    Command::new("node")
        .arg(js_dir().join("peer.mjs"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (is Node.js installed?)")
}

/// What the ferrocore side saw.
#[derive(Debug, Default)]
struct Outcome {
    remote_public_key: [u8; 32],
    handshake_hash: Vec<u8>,
    remote_handshake: String,
    received: usize,
    received_digest: Vec<u8>,
    remote_digest: Vec<u8>,
    sent_digest: Vec<u8>,
    close_reason: Option<CloseReason>,
}

/// Runs the interop protocol as `role` over `sock` until the peer ends the stream.
fn run_ferrocore(sock: TcpStream, role: Role) -> Outcome {
    sock.set_nodelay(true).unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut sock = sock;
    let start = Instant::now();
    let now = || start.elapsed();
    let seed = match role {
        Role::Initiator => 0x11,
        Role::Responder => 0x22,
    };
    let entropy = Entropy {
        ephemeral_seed: [seed + 1; 32],
        header: [seed + 2; 24],
    };
    let mut conn = Connection::new(
        role,
        KeyPair::from_seed([seed; 32]),
        entropy,
        StreamConfig::default(),
        MuxConfig::default(),
        now(),
    );
    conn.mux().listen(PROTOCOL);
    // c.string "hello from rust": uint length ‖ UTF-8.
    let mut hello = vec![15u8];
    hello.extend_from_slice(b"hello from rust");
    let ours: ChannelId = conn.mux().open(PROTOCOL, None, &hello).unwrap();

    let total = volume();
    let mut out = Outcome::default();
    let (mut sent, mut opened, mut digest_sent) = (0usize, false, false);
    let mut sent_hash = Sha256::new();
    let mut recv_hash = Sha256::new();
    let mut expect = vec![0u8; CHUNK];
    let mut msg = vec![0u8; CHUNK];
    let mut pending: Option<bytes::Bytes> = None;
    let mut written_at = 0usize;
    let mut buf = vec![0u8; 256 << 10];
    let mut remote_done = false;
    let mut ended = false;
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "interop run timed out"
        );
        let mut progressed = false;
        // App: keep about 1 MiB of records queued while there is data to send.
        if opened && !ended {
            let mut budget = 16;
            while sent < total && budget > 0 && pending.is_none() {
                let n = CHUNK.min(total - sent);
                fill(&mut msg[..n], sent, role);
                sent_hash.update(&msg[..n]);
                conn.mux().send(ours, 0, &msg[..n]).unwrap();
                sent += n;
                budget -= 1;
                progressed = true;
            }
            if sent == total && !digest_sent {
                let d = sent_hash.clone().finalize().to_vec();
                conn.mux().send(ours, 1, &d).unwrap();
                out.sent_digest = d;
                digest_sent = true;
            }
            if digest_sent && remote_done {
                // Both digests are across: close the channel (unless the peer did) and end.
                if conn.mux().is_open(ours) {
                    conn.mux().close(ours).unwrap();
                }
                conn.end();
                ended = true;
            }
        }
        // Socket writes.
        if pending.is_none() {
            pending = conn.poll_transmit();
            written_at = 0;
        }
        if let Some(p) = &pending {
            match sock.write(&p[written_at..]) {
                Ok(n) => {
                    written_at += n;
                    progressed = true;
                    if written_at == p.len() {
                        pending = None;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("write: {e}"),
            }
        } else if ended && conn.is_ended() {
            let _ = sock.shutdown(std::net::Shutdown::Write);
        }
        // Socket reads.
        match sock.read(&mut buf) {
            Ok(0) => {
                conn.handle_end().expect("clean end");
                progressed = true;
            }
            Ok(n) => {
                conn.handle_input(now(), &buf[..n])
                    .unwrap_or_else(|e| panic!("input: {e}"));
                progressed = true;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
        if let Some(t) = conn.poll_timeout() {
            if now() >= t {
                conn.handle_timeout(now()).unwrap();
            }
        }
        while let Some(ev) = conn.poll_event() {
            progressed = true;
            if std::env::var_os("INTEROP_DEBUG").is_some() {
                eprintln!(
                    "{role:?} event: {:?}",
                    match &ev {
                        ConnectionEvent::Mux(MuxEvent::Message {
                            message_type,
                            payload,
                            ..
                        }) => format!("msg {message_type} len {}", payload.len()),
                        e => format!("{e:?}"),
                    }
                );
            }
            match ev {
                ConnectionEvent::Connected(c) => {
                    out.remote_public_key = c.remote_public_key;
                    out.handshake_hash = c.handshake_hash.to_vec();
                }
                ConnectionEvent::Mux(MuxEvent::Opened {
                    channel, handshake, ..
                }) => {
                    assert_eq!(channel, ours);
                    let len = usize::from(handshake[0]);
                    out.remote_handshake = String::from_utf8(handshake[1..=len].to_vec()).unwrap();
                    opened = true;
                }
                ConnectionEvent::Mux(MuxEvent::Message {
                    message_type: 0,
                    payload,
                    ..
                }) => {
                    let peer = match role {
                        Role::Initiator => Role::Responder,
                        Role::Responder => Role::Initiator,
                    };
                    fill(&mut expect[..payload.len()], out.received, peer);
                    assert!(
                        payload[..] == expect[..payload.len()],
                        "content at offset {}",
                        out.received
                    );
                    recv_hash.update(&payload);
                    out.received += payload.len();
                }
                ConnectionEvent::Mux(MuxEvent::Message {
                    message_type: 1,
                    payload,
                    ..
                }) => {
                    out.remote_digest = payload.to_vec();
                    out.received_digest = recv_hash.clone().finalize().to_vec();
                    remote_done = true;
                }
                ConnectionEvent::Mux(MuxEvent::Closed { reason, .. }) => {
                    out.close_reason.get_or_insert(reason);
                }
                ConnectionEvent::Mux(other) => panic!("unexpected {other:?}"),
                ConnectionEvent::Failed(e) => panic!("the JS peer's frames failed the mux: {e}"),
                ConnectionEvent::RemoteEnded => {}
            }
        }
        if conn.is_remote_ended() && ended && pending.is_none() {
            let _ = sock.shutdown(std::net::Shutdown::Write);
            return out;
        }
        if !progressed {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

fn js_result(child: Child) -> Value {
    let out = child.wait_with_output().expect("node finishes");
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or_default();
    let v: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("JS printed {text:?}: {e}"));
    assert!(out.status.success(), "JS peer failed: {v}");
    v
}

fn check(role: Role, ours: &Outcome, js: &Value) {
    let total = volume();
    assert_eq!(js["ok"], true, "{js}");
    assert_eq!(ours.received, total);
    assert_eq!(js["received"].as_u64(), Some(total as u64));
    assert_eq!(
        ours.received_digest, ours.remote_digest,
        "the JS digest matches what arrived"
    );
    assert_eq!(
        js["receivedDigest"],
        hex::encode(&ours.sent_digest),
        "JS got exactly our bytes"
    );
    assert_eq!(js["remoteDigest"], hex::encode(&ours.sent_digest));
    assert_eq!(js["remoteHandshake"], "hello from rust");
    assert_eq!(ours.remote_handshake, "hello from js");
    assert_eq!(
        js["handshakeHash"],
        hex::encode(&ours.handshake_hash),
        "one handshake hash"
    );
    let seed = if role == Role::Initiator { 0x11 } else { 0x22 };
    assert_eq!(
        js["remotePublicKey"],
        hex::encode(KeyPair::from_seed([seed; 32]).public_key)
    );
    assert_eq!(
        hex::encode(ours.remote_public_key),
        js["publicKey"].as_str().unwrap()
    );
    assert!(ours.close_reason.is_some(), "our channel closed");
}

#[test]
fn ferrocore_initiator_with_js_responder() {
    let mut child = spawn_js(&[
        "--role",
        "responder",
        "--listen",
        "--seed",
        &"33".repeat(32),
        "--bytes",
        &volume().to_string(),
    ]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
        .as_u64()
        .expect("port");
    let sock = TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
    let ours = run_ferrocore(sock, Role::Initiator);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    child.stdout = None;
    let status = child.wait().unwrap();
    let js: Value = serde_json::from_str(rest.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{rest}: {e}"));
    assert!(status.success(), "{js}");
    assert_eq!(js["remotePublicKey"].as_str().map(str::len), Some(64));
    check(Role::Initiator, &ours, &js);
}

#[test]
fn ferrocore_responder_with_js_initiator() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let child = spawn_js(&[
        "--role",
        "initiator",
        "--connect",
        &port,
        "--seed",
        &"44".repeat(32),
        "--bytes",
        &volume().to_string(),
    ]);
    let (sock, _) = listener.accept().unwrap();
    let ours = run_ferrocore(sock, Role::Responder);
    let js = js_result(child);
    check(Role::Responder, &ours, &js);
}
