//! Live UDX interop over loopback: a ferrocore UDX socket (`ferrocore-udp` run by Tokio,
//! `ferrocore_tokio::udx`) against udx-native 1.21.3 (`tests/js/udx-peer.mjs`), the stream
//! ids and ports exchanged over the peer's stdin/stdout lines. Each direction moves
//! `FERROCORE_UDX_MB` MiB (default 256) with every byte checked against the content formula
//! (`ferrocore_tests::content` / `content.mjs`) by the receiver, MESSAGE datagrams go both
//! ways, and both sides see the other's END and a clean close. Then the same through the
//! seeded lossy relay (`ferrocore_tests::relay`: 20 ms round trip, 1 % loss each way, some
//! duplication and reordering), `FERROCORE_UDX_RELAY_MB` MiB (default 64) each direction
//! (ferrocore sends with BBR, as libudx does; NewReno gets about 0.5 MB/s on this link).
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrocore_tests::content;
use ferrocore_tests::js::{udx_peer, JsPeer};
use ferrocore_tests::relay::{Impairment, Relay, RelayConfig, RelayStats};
use ferrocore_tokio::udx::{UdxSocket, UdxStream};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const WAIT: Duration = Duration::from_secs(10);
/// How long a whole transfer may take.
const LONG: Duration = Duration::from_secs(240);
/// The content base of what ferrocore sends (`content.mjs` `BASE_RESPONDER`); udx-peer
/// sends base 0.
const RUST_BASE: u32 = content::BASE_RESPONDER;
const JS_BASE: u32 = content::BASE_INITIATOR;

/// MiB from the environment variable `var`, or `default`.
fn mib(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        << 20
}

fn ok(js: &mut JsPeer, cmd: Value) -> Value {
    let id = js.send(cmd);
    let reply = js.wait_for(WAIT, |v| v["reply"].is_string() && v["id"] == id);
    assert!(reply.get("error").is_none(), "{reply}");
    reply
}

/// A ferrocore UDX stream connected to a udx-peer's first stream, directly or through a
/// relay (ferrocore on its side A).
struct Rig {
    rt: Runtime,
    js: JsPeer,
    socket: UdxSocket,
    stream: Option<UdxStream>,
    js_id: u32,
    relay: Option<Relay>,
}

fn rig(impairment: Option<(Impairment, u64)>) -> Rig {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (mut js, js_addr, js_id) = udx_peer(&[], WAIT);
    let socket = rt.block_on(UdxSocket::bind("127.0.0.1:0")).unwrap();
    let stream = {
        let _guard = rt.enter();
        socket.create_stream().unwrap()
    };
    let ours = socket.local_addr().unwrap();
    let relay = impairment.map(|(imp, seed)| {
        Relay::start(RelayConfig {
            peer_a: Some(ours),
            peer_b: Some(js_addr),
            ..RelayConfig::symmetric(imp, seed)
        })
        .unwrap()
    });
    let (to_js, to_us): (SocketAddr, SocketAddr) = match &relay {
        Some(r) => (r.addr_a(), r.addr_b()),
        None => (js_addr, ours),
    };
    stream.connect(js_id, to_js).unwrap();
    let reply = ok(
        &mut js,
        json!({"op": "connect", "remoteId": stream.id(), "port": to_us.port()}),
    );
    assert_eq!(reply["stream"], js_id);
    Rig {
        rt,
        js,
        socket,
        stream: Some(stream),
        js_id,
        relay,
    }
}

/// Writes `bytes` of the content with `base`, then END; returns the stream.
async fn source(mut stream: UdxStream, bytes: u64, base: u32) -> UdxStream {
    let mut buf = vec![0u8; 64 * 1024];
    let mut off = 0;
    while off < bytes {
        let n = buf.len().min((bytes - off) as usize);
        content::fill(&mut buf[..n], off, base);
        stream.write_all(&buf[..n]).await.unwrap();
        off += n as u64;
    }
    stream.shutdown().await.unwrap();
    stream
}

/// Reads to the END, checking every byte against the content with `base`; returns how
/// many came and the stream offset of the first wrong byte.
/// A read that waits over a second logs ferrocore's stream statistics (`socket`'s).
async fn sink(
    stream: &mut UdxStream,
    base: u32,
    socket: &ferrocore_udp::UdxSocket,
) -> (u64, Option<u64>) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut expected = vec![0u8; buf.len()];
    let (mut got, mut mismatch) = (0u64, None);
    loop {
        let n = loop {
            match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
                Ok(n) => break n.unwrap(),
                Err(_) => eprintln!(
                    "ferrocore waits for data at {got}: {:?}",
                    socket.stats(stream)
                ),
            }
        };
        if n == 0 {
            return (got, mismatch);
        }
        if mismatch.is_none() {
            content::fill(&mut expected[..n], got, base);
            mismatch = buf[..n]
                .iter()
                .zip(&expected[..n])
                .position(|(a, b)| a != b)
                .map(|i| got + i as u64);
        }
        got += n as u64;
    }
}

/// Waits until the stream has closed (both ENDs delivered and acked): its message queue
/// then answers `NotConnected`; any other error is how it failed.
async fn closed(stream: &UdxStream) -> std::io::Result<()> {
    loop {
        match stream.recv_message().await {
            Ok(m) => eprintln!("a late message of {} bytes", m.len()),
            Err(e) if e.kind() == ErrorKind::NotConnected => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// MESSAGE datagrams both ways on a connected rig (loopback: none is lost).
fn messages(rig: &mut Rig) {
    let stream = rig.stream.as_ref().unwrap();
    for m in [&b"from ferrocore"[..], &[0xab; 1000]] {
        stream.send_message(m).unwrap();
        let got = rig.js.wait_for(WAIT, |v| v["event"] == "message");
        assert_eq!(got["data"], hex::encode(m), "{got}");
        assert_eq!(got["stream"], rig.js_id);
        rig.js.seen.retain(|v| v["event"] != "message");
    }
    for m in [&b"from udx-native"[..], &[0xcd; 1000]] {
        let reply = ok(&mut rig.js, json!({"op": "send", "data": hex::encode(m)}));
        assert_eq!(reply["sent"], true, "{reply}");
        let got = rig
            .rt
            .block_on(async { tokio::time::timeout(WAIT, stream.recv_message()).await })
            .expect("a MESSAGE from udx-native")
            .unwrap();
        assert_eq!(got, m);
    }
}

/// Rate in MB/s (10^6 bytes per second).
fn rate(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// ferrocore sends `bytes`, udx-native checks them; both see the END and close cleanly.
fn ferrocore_to_js(rig: &mut Rig, bytes: u64) -> f64 {
    ok(
        &mut rig.js,
        json!({"op": "sink", "bytes": bytes, "base": RUST_BASE}),
    );
    let stream = rig.stream.take().unwrap();
    let socket = (*rig.socket).clone();
    let start = Instant::now();
    let sending = rig.rt.spawn(async move {
        let mut stream = source(stream, bytes, RUST_BASE).await;
        // udx-peer ends its side once it read our END
        let (back, _) = tokio::time::timeout(LONG, sink(&mut stream, RUST_BASE, &socket))
            .await
            .expect("udx-native's END");
        let closed = tokio::time::timeout(WAIT, closed(&stream)).await;
        (back, closed, stream)
    });
    let sunk = rig.js.wait_for(LONG, |v| v["event"] == "sinkDone");
    let elapsed = start.elapsed();
    eprintln!("udx-native sink: {sunk}");
    assert_eq!(sunk["ok"], true, "{sunk}");
    assert_eq!(sunk["bytes"], bytes);
    assert_eq!(sunk["firstMismatch"], -1);
    let (back, closed, stream) = rig.rt.block_on(sending).unwrap();
    assert_eq!(back, 0, "udx-native sent nothing but its END");
    closed.expect("ferrocore saw the stream close").unwrap();
    assert!(rig.js.saw(|v| v["event"] == "remoteEnded"));
    let js_closed = rig.js.wait_for(WAIT, |v| v["event"] == "closed");
    assert_eq!(js_closed["error"], Value::Null, "{js_closed}");
    rig.stream = Some(stream);
    rate(bytes, elapsed)
}

/// udx-native sends `bytes`, ferrocore checks them; both see the END and close cleanly.
fn js_to_ferrocore(rig: &mut Rig, bytes: u64) -> f64 {
    let mut stream = rig.stream.take().unwrap();
    let socket = (*rig.socket).clone();
    let start = Instant::now();
    let receiving = rig.rt.spawn(async move {
        let got = tokio::time::timeout(LONG, sink(&mut stream, JS_BASE, &socket))
            .await
            .expect("udx-native's data and END");
        let elapsed = start.elapsed();
        stream.shutdown().await.unwrap();
        let closed = tokio::time::timeout(WAIT, closed(&stream)).await;
        (got, elapsed, closed, stream)
    });
    ok(
        &mut rig.js,
        json!({"op": "source", "bytes": bytes, "base": JS_BASE}),
    );
    let sourced = rig.js.wait_for(LONG, |v| v["event"] == "sourceDone");
    eprintln!("udx-native source: {sourced}");
    if sourced.get("error").is_some() {
        let st = ok(&mut rig.js, json!({"op": "stats"}));
        panic!("udx-native's source failed: {sourced}; its stream: {st}");
    }
    let ((got, mismatch), elapsed, closed, stream) = rig.rt.block_on(receiving).unwrap();
    assert_eq!(got, bytes);
    assert_eq!(mismatch, None, "first wrong byte");
    closed.expect("ferrocore saw the stream close").unwrap();
    let js_closed = rig.js.wait_for(WAIT, |v| v["event"] == "closed");
    assert_eq!(js_closed["error"], Value::Null, "{js_closed}");
    assert!(rig.js.saw(|v| v["event"] == "remoteEnded"), "our END");
    rig.stream = Some(stream);
    rate(bytes, elapsed)
}

/// What ferrocore's side of the stream counted.
fn stats(rig: &Rig) -> String {
    format!("{:?}", rig.socket.stats(rig.stream.as_ref().unwrap()))
}

#[test]
fn ferrocore_to_udx_native_over_loopback() {
    let bytes = mib("FERROCORE_UDX_MB", 256);
    let mut rig = rig(None);
    messages(&mut rig);
    let mbps = ferrocore_to_js(&mut rig, bytes);
    eprintln!(
        "ferrocore -> udx-native: {} MiB at {mbps:.1} MB/s; {}",
        bytes >> 20,
        stats(&rig)
    );
    rig.js.finish();
}

#[test]
fn udx_native_to_ferrocore_over_loopback() {
    let bytes = mib("FERROCORE_UDX_MB", 256);
    let mut rig = rig(None);
    messages(&mut rig);
    let mbps = js_to_ferrocore(&mut rig, bytes);
    eprintln!(
        "udx-native -> ferrocore: {} MiB at {mbps:.1} MB/s; {}",
        bytes >> 20,
        stats(&rig)
    );
    rig.js.finish();
}

/// 20 ms round trip, 1 % loss, 0.5 % duplicated, 0.5 % held back 5 ms (reordered).
fn impaired() -> Impairment {
    Impairment {
        duplicate: 0.005,
        reorder: 0.005,
        reorder_delay: Duration::from_millis(5),
        ..Impairment::lossy(0.01, Duration::from_millis(10))
    }
}

/// The relay really was lossy, duplicating and reordering both ways.
fn check_relay(stats: &RelayStats) {
    for d in [&stats.a_to_b, &stats.b_to_a] {
        assert!(
            d.lost > 0 && d.duplicated > 0 && d.reordered > 0,
            "{stats:?}"
        );
    }
}

#[test]
fn ferrocore_to_udx_native_through_loss() {
    let bytes = mib("FERROCORE_UDX_RELAY_MB", 64);
    let mut rig = rig(Some((impaired(), 61)));
    let mbps = ferrocore_to_js(&mut rig, bytes);
    let relay = rig.relay.take().unwrap().stop();
    eprintln!(
        "ferrocore -> udx-native through loss: {} MiB at {mbps:.1} MB/s; {}; relay {relay:?}",
        bytes >> 20,
        stats(&rig)
    );
    check_relay(&relay);
    let st = rig.socket.stats(rig.stream.as_ref().unwrap());
    if let Some(st) = st {
        assert!(st.packets_retransmitted > 0, "{st:?}");
    }
    rig.js.finish();
}

#[test]
fn udx_native_to_ferrocore_through_loss() {
    let bytes = mib("FERROCORE_UDX_RELAY_MB", 64);
    let mut rig = rig(Some((impaired(), 62)));
    let mbps = js_to_ferrocore(&mut rig, bytes);
    let relay = rig.relay.take().unwrap().stop();
    eprintln!(
        "udx-native -> ferrocore through loss: {} MiB at {mbps:.1} MB/s; relay {relay:?}",
        bytes >> 20
    );
    check_relay(&relay);
    let st = ok(&mut rig.js, json!({"op": "stats"}));
    assert!(st["retransmits"].as_u64().unwrap() > 0, "{st}");
    rig.js.finish();
}
