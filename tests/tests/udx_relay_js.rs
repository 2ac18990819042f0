//! udx-native to udx-native through the lossy relay (`ferrocore_tests::relay`): proves the
//! rig the Rust UDX interop tests stand on. Two `tests/js/udx-peer.mjs` processes, one
//! stream each, 64 MiB (`FERROCORE_INTEROP_MB`) one way at 1 % loss each way and a 20 ms
//! round trip; the sink checks every byte against `content.mjs`, and the SHA-256 both
//! report must be the one of `ferrocore_tests::content` (the Rust copy of the formula).

use std::time::Duration;

use ferrocore_tests::content;
use ferrocore_tests::js::{udx_peer, JsPeer};
use ferrocore_tests::relay::{Impairment, Relay, RelayConfig};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const WAIT: Duration = Duration::from_secs(10);

fn volume() -> u64 {
    ferrocore_tests::js::interop_volume() as u64
}

fn ok(js: &mut JsPeer, cmd: Value) -> Value {
    let id = js.send(cmd);
    let reply = js.wait_for(WAIT, |v| v["reply"].is_string() && v["id"] == id);
    assert!(reply.get("error").is_none(), "{reply}");
    reply
}

#[test]
fn udx_native_streams_64_mib_intact_through_1_percent_loss_and_20_ms_rtt() {
    let bytes = volume();
    let (mut a, addr_a, id_a) = udx_peer(&[], WAIT);
    let (mut b, addr_b, id_b) = udx_peer(&[], WAIT);
    let relay = Relay::start(RelayConfig {
        peer_a: Some(addr_a),
        peer_b: Some(addr_b),
        ..RelayConfig::symmetric(Impairment::lossy(0.01, Duration::from_millis(10)), 26)
    })
    .unwrap();
    let via = |addr: std::net::SocketAddr| addr.port();
    ok(
        &mut a,
        json!({"op": "connect", "remoteId": id_b, "port": via(relay.addr_a())}),
    );
    ok(
        &mut b,
        json!({"op": "connect", "remoteId": id_a, "port": via(relay.addr_b())}),
    );
    ok(&mut b, json!({"op": "sink", "bytes": bytes}));
    ok(&mut a, json!({"op": "source", "bytes": bytes}));
    let long = Duration::from_secs(240);
    let sunk = b.wait_for(long, |v| v["event"] == "sinkDone");
    let sourced = a.wait_for(long, |v| v["event"] == "sourceDone");
    // both ENDs get through the loss too: each stream closes cleanly
    for js in [&mut a, &mut b] {
        let closed = js.wait_for(WAIT, |v| v["event"] == "closed");
        assert_eq!(closed["error"], Value::Null, "{closed}");
    }
    let stats = relay.stop();
    eprintln!("sink {sunk}\nsource {sourced}\nrelay {stats:?}");

    assert_eq!(sunk["ok"], true, "{sunk}");
    assert_eq!(sunk["bytes"], bytes);
    assert_eq!(sunk["firstMismatch"], -1);
    assert!(sourced.get("error").is_none(), "{sourced}");
    let mut sha = Sha256::new();
    let mut off = 0;
    while off < bytes {
        let n = (bytes - off).min(1 << 20);
        sha.update(content::bytes(off, n as usize, 0));
        off += n;
    }
    let expected = hex::encode(sha.finalize());
    assert_eq!(sunk["sha256"], expected.as_str());
    assert_eq!(sourced["sha256"], expected.as_str());

    // the relay really was lossy both ways, at about the rate asked for
    for d in [stats.a_to_b, stats.b_to_a] {
        assert!(d.lost > 0, "{stats:?}");
        let rate = d.lost as f64 / d.received as f64;
        assert!((0.005..0.02).contains(&rate), "{stats:?}");
    }
    // ... and UDX recovered by retransmitting
    let st = ok(&mut a, json!({"op": "stats"}));
    assert!(st["retransmits"].as_u64().unwrap() > 0, "{st}");
    a.finish();
    b.finish();
}
