//! Live interop over loopback TCP with a JS peer that connects the way hyperdht does
//! (`tests/js/ik-peer.mjs`: `noise-handshake` IK with `noise-curve-ed`, prologue
//! `NS.PEER_HANDSHAKE`, a `noisePayload` on each message, then `@hyperswarm/secret-stream`
//! started with `{ handshake }`): ferrocore's [`NoiseWrap`] and
//! [`SecretStream::from_handshake`](ferrocore_wire::stream::SecretStream::from_handshake) as IK initiator and as responder. Both sides check the
//! other's payload (decoded), the handshake hash, the holepunch secret, and every message
//! both ways (each side echoes the other's messages). Then hypercore 11.37.1 replication
//! on such a stream, both directions: a JS writer to a ferrocore reader (every block
//! byte-compared) and a ferrocore writer to a JS reader (JS compares every block).
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{Endpoint, EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::echo::{self, check_messages, handle_events, JS_MESSAGE_ARGS};
use ferrocore_tests::js::{block_value, formula_writer, JsPeer};
use ferrocore_tests::net::NetDriver;
use ferrocore_wire::encoding::{Reader, Writer};
use ferrocore_wire::noise::{KeyPair, NoiseWrap, Role, WrapResult};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(30);
const RUST_SEED: u8 = 0x31;
const JS_SEED: u8 = 0x42;

/// The parts of hyperdht's `noisePayload` (lib/messages.js, version 1) these peers send:
/// `addresses4` (flag 2), `udx` (flag 8) and `secretStream` (flag 16).
#[derive(Debug, Clone, PartialEq, Eq)]
struct NoisePayload {
    error: u64,
    firewall: u64,
    addresses4: Vec<SocketAddr>,
    udx_id: u64,
    udx_seq: u64,
}

impl NoisePayload {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::append(&mut out);
        w.uint(1)
            .uint(2 | 8 | 16)
            .uint(self.error)
            .uint(self.firewall);
        w.uint(self.addresses4.len() as u64);
        for a in &self.addresses4 {
            let SocketAddr::V4(a) = a else {
                panic!("ipv4 only")
            };
            w.raw(&a.ip().octets()).u16(a.port());
        }
        w.uint(1).uint(0).uint(self.udx_id).uint(self.udx_seq); // udx: version, features
        w.uint(1); // secretStream: version
        out
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut r = Reader::new(bytes);
        assert_eq!(r.uint().unwrap(), 1, "version");
        assert_eq!(r.uint().unwrap(), 2 | 8 | 16, "flags");
        let error = r.uint().unwrap();
        let firewall = r.uint().unwrap();
        let n = r.uint_usize().unwrap();
        let addresses4 = (0..n)
            .map(|_| {
                let ip: [u8; 4] = r.fixed().unwrap();
                SocketAddr::from((Ipv4Addr::from(ip), r.u16().unwrap()))
            })
            .collect();
        assert_eq!(r.uint().unwrap(), 1, "udx version");
        assert_eq!(r.uint().unwrap(), 0, "udx features");
        let (udx_id, udx_seq) = (r.uint().unwrap(), r.uint().unwrap());
        assert_eq!(r.uint().unwrap(), 1, "secretStream version");
        r.finish().unwrap();
        Self {
            error,
            firewall,
            addresses4,
            udx_id,
            udx_seq,
        }
    }

    /// As `ik-peer.mjs` reports a decoded payload.
    fn json(&self) -> Value {
        json!({
            "version": 1,
            "error": self.error,
            "firewall": self.firewall,
            "addresses4": self.addresses4.iter()
                .map(|a| json!({"host": a.ip().to_string(), "port": a.port()}))
                .collect::<Vec<_>>(),
            "udx": {"version": 1, "reusableSocket": false, "id": self.udx_id, "seq": self.udx_seq},
            "secretStream": {"version": 1},
        })
    }
}

fn rust_payload() -> NoisePayload {
    NoisePayload {
        error: 0,
        firewall: 2,
        addresses4: vec!["192.168.7.9:40123".parse().unwrap()],
        udx_id: 300,
        udx_seq: 0,
    }
}

fn js_payload() -> NoisePayload {
    NoisePayload {
        error: 0,
        firewall: 1,
        addresses4: vec!["10.1.2.3:5000".parse().unwrap()],
        udx_id: 77,
        udx_seq: 0,
    }
}

fn hex_seed(b: u8) -> String {
    hex::encode([b; 32])
}

/// The `ik-peer.mjs` arguments for `role`: keys and payload fields.
fn js_args(role: Role) -> Vec<String> {
    let p = js_payload();
    let mut args: Vec<String> = [
        "--role",
        match role {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        },
        "--seed",
        &hex_seed(JS_SEED),
        "--firewall",
        &p.firewall.to_string(),
        "--address",
        &p.addresses4[0].to_string(),
        "--udx-id",
        &p.udx_id.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if role == Role::Initiator {
        args.extend([
            "--remote-key".into(),
            hex::encode(KeyPair::from_seed([RUST_SEED; 32]).public_key),
        ]);
    }
    args
}

fn write_frame(sock: &mut TcpStream, msg: &[u8]) {
    let mut framed = (msg.len() as u32).to_le_bytes()[..3].to_vec();
    framed.extend_from_slice(msg);
    sock.write_all(&framed).unwrap();
}

fn read_frame(sock: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    sock.read_exact(&mut prefix[..3]).unwrap();
    let len = u32::from_le_bytes(prefix) as usize;
    assert!(len <= 1024, "an IK message of {len} bytes");
    let mut msg = vec![0; len];
    sock.read_exact(&mut msg).unwrap();
    msg
}

/// The IK handshake on `sock` as `role` (our static key of seed [`RUST_SEED`], the JS
/// peer's of [`JS_SEED`]), with [`rust_payload`]; returns the result and the JS payload.
fn ik(sock: &mut TcpStream, role: Role) -> (WrapResult, Vec<u8>) {
    sock.set_nodelay(true).unwrap();
    sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    let key_pair = KeyPair::from_seed([RUST_SEED; 32]);
    let remote = KeyPair::from_seed([JS_SEED; 32]).public_key;
    let payload = rust_payload().encode();
    let mut wrap = NoiseWrap::new(
        role,
        key_pair,
        (role == Role::Initiator).then_some(remote),
        [0x55; 32],
    )
    .unwrap();
    let remote_payload = if role == Role::Initiator {
        write_frame(sock, &wrap.send(&payload).unwrap());
        wrap.recv(&read_frame(sock)).unwrap()
    } else {
        let p = wrap.recv(&read_frame(sock)).unwrap();
        write_frame(sock, &wrap.send(&payload).unwrap());
        p
    };
    assert_eq!(wrap.remote_public_key(), Some(remote));
    (wrap.finish().unwrap(), remote_payload)
}

/// What the ferrocore side saw.
struct Outcome {
    wrap: WrapResult,
    remote_payload: NoisePayload,
    received: Vec<Vec<u8>>,
}

/// IK over `sock` as `role`, then the secret-stream: sends [`RUST_MESSAGES`], echoes every
/// message that is not an echo, and runs until the peer ended and everything is flushed.
fn run_rust(mut sock: TcpStream, role: Role) -> Outcome {
    let (wrap, remote_payload) = ik(&mut sock, role);
    let remote = KeyPair::from_seed([JS_SEED; 32]).public_key;

    let start = Instant::now();
    let mut stream = echo::start(&wrap.handshake, start.elapsed());
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut received = Vec::new();
    let mut buf = vec![0u8; 65536];
    let mut shut = false;
    loop {
        while let Some(out) = stream.poll_transmit() {
            sock.write_all(&out).unwrap();
        }
        if stream.is_ended() && !shut {
            sock.shutdown(std::net::Shutdown::Write).unwrap();
            shut = true;
        }
        if shut && stream.is_remote_ended() {
            break;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out; received {received:?}"
        );
        let now = start.elapsed();
        match sock.read(&mut buf) {
            Ok(0) => stream.handle_end().unwrap(),
            Ok(n) => stream.handle_input(now, &buf[..n]).unwrap(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("socket: {e}"),
        }
        handle_events(&mut stream, now, remote, &mut received);
    }
    Outcome {
        wrap,
        remote_payload: NoisePayload::decode(&remote_payload),
        received,
    }
}

/// Checks both sides' views after a run.
fn check(outcome: &Outcome, js: &mut JsPeer) {
    let hs = js.wait_for(TIMEOUT, |v| v["event"] == "handshake");
    assert_eq!(
        hs["remotePayloadFields"],
        rust_payload().json(),
        "JS decoded our payload"
    );
    assert_eq!(outcome.remote_payload, js_payload());
    assert_eq!(hs["payload"], hex::encode(js_payload().encode()));
    assert_eq!(hs["hash"], hex::encode(outcome.wrap.handshake.hash));
    assert_eq!(
        hs["holepunchSecret"],
        hex::encode(outcome.wrap.holepunch_secret)
    );
    assert_eq!(
        hs["remotePublicKey"],
        hex::encode(KeyPair::from_seed([RUST_SEED; 32]).public_key)
    );
    check_messages(js, TIMEOUT, &outcome.received);
}

/// An `ik-peer.mjs` responder listening on loopback, and a socket connected to it.
fn js_responder() -> (JsPeer, TcpStream) {
    let mut args = js_args(Role::Responder);
    args.extend(JS_MESSAGE_ARGS.map(String::from));
    args.extend(["--listen".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut js = JsPeer::spawn("ik-peer.mjs", &args);
    let listening = js.wait_for(TIMEOUT, |v| v["event"] == "listening");
    let port = u16::try_from(listening["port"].as_u64().unwrap()).unwrap();
    (js, TcpStream::connect(("127.0.0.1", port)).unwrap())
}

#[test]
fn rust_initiator_js_responder() {
    let (mut js, sock) = js_responder();
    let outcome = run_rust(sock, Role::Initiator);
    assert_eq!(outcome.wrap.handshake.role, Role::Initiator);
    check(&outcome, &mut js);
}

#[test]
fn js_initiator_rust_responder() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut args = js_args(Role::Initiator);
    args.extend(JS_MESSAGE_ARGS.map(String::from));
    args.extend(["--connect".into(), addr]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut js = JsPeer::spawn("ik-peer.mjs", &args);
    let (sock, _) = listener.accept().unwrap();
    let outcome = run_rust(sock, Role::Responder);
    assert_eq!(outcome.wrap.handshake.role, Role::Responder);
    check(&outcome, &mut js);
}

#[test]
fn js_refuses_a_message_1_sealed_for_another_key() {
    let (mut js, mut sock) = js_responder();
    let mut wrap = NoiseWrap::initiator(
        KeyPair::from_seed([RUST_SEED; 32]),
        KeyPair::from_seed([JS_SEED ^ 1; 32]).public_key,
        [0x55; 32],
    );
    write_frame(&mut sock, &wrap.send(&rust_payload().encode()).unwrap());
    let outcome = js.wait_for(TIMEOUT, |v| v["event"] != "listening");
    assert_eq!(outcome["event"], "error", "{outcome}");
    assert!(!js.saw(|v| v["event"] == "handshake"));
}

/// Hypercore replication on a secret-stream started from IK: the first `BLOCKS` formula
/// blocks of core 0, 1000 bytes each (`tests/js/blocks.mjs`).
const BLOCKS: u64 = 200;

#[test]
fn js_hypercore_writer_to_ferrocore_reader_over_ik() {
    let mut args = js_args(Role::Responder);
    args.extend(["--hypercore-writer".into(), BLOCKS.to_string()]);
    args.extend(["--listen".into(), "0".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut js = JsPeer::spawn("ik-peer.mjs", &args);
    let core_event = js.wait_for(TIMEOUT, |v| v["event"] == "core");
    let key: [u8; 32] = hex::decode(core_event["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let listening = js.wait_for(TIMEOUT, |v| v["event"] == "listening");
    let port = u16::try_from(listening["port"].as_u64().unwrap()).unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (wrap, _) = ik(&mut sock, Role::Initiator);

    let mut d = NetDriver::new(Endpoint::new(EndpointConfig::default()), RUST_SEED);
    let log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key: Some(key),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let core = d.endpoint.add_core(log);
    d.attach_handshake(sock, &wrap.handshake);
    d.endpoint.download(core, 0, None, None).unwrap();
    assert!(
        d.run_until(TIMEOUT, |d| d
            .endpoint
            .log(core)
            .is_some_and(|l| l.length() == BLOCKS && l.has(0, BLOCKS))),
        "full download over IK; JS saw {:?}",
        js.seen
    );
    let log = d.endpoint.log(core).unwrap();
    for i in 0..BLOCKS {
        assert_eq!(
            log.get(i).unwrap().unwrap(),
            block_value(0, i, 1000),
            "block {i}"
        );
    }
    assert!(d.events.iter().any(|e| matches!(
        e,
        Event::Connected { remote_public_key, .. }
            if *remote_public_key == KeyPair::from_seed([JS_SEED; 32]).public_key
    )));
}

#[test]
fn ferrocore_hypercore_writer_to_js_reader_over_ik() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let writer = formula_writer(BLOCKS);
    let key = hex::encode(writer.key());
    let mut args = js_args(Role::Initiator);
    let blocks = BLOCKS.to_string();
    args.extend(["--hypercore-reader".into(), key, "--blocks".into(), blocks]);
    args.extend(["--connect".into(), addr]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut js = JsPeer::spawn("ik-peer.mjs", &args);
    let (mut sock, _) = listener.accept().unwrap();
    let (wrap, _) = ik(&mut sock, Role::Responder);

    let mut d = NetDriver::new(Endpoint::new(EndpointConfig::default()), RUST_SEED);
    d.endpoint.add_core(writer);
    d.attach_handshake(sock, &wrap.handshake);
    assert!(
        d.run_until(TIMEOUT, |_| js
            .saw(|v| v["event"] == "verified" || v["event"] == "error")),
        "JS reader: {:?}",
        js.seen
    );
    let verified = js.wait_for(TIMEOUT, |v| {
        v["event"] == "verified" || v["event"] == "error"
    });
    assert_eq!(verified["event"], "verified", "{:?}", js.seen);
    assert_eq!(verified["length"], BLOCKS);
}
