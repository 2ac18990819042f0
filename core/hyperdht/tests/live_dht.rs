//! Live interop of the HyperDHT client operations ([`Dht`]) with JS (hyperdht 6.34.0) on
//! loopback: our node bootstraps from a JS testnet and
//!
//! * announces a topic (signed for each JS node with its id and token) that JS's lookup
//!   finds with our relay addresses, then unannounces it and JS no longer finds it;
//! * finds with its lookup what JS announced, and JS's key by FIND_PEER once JS announced
//!   under its own key;
//! * puts immutable and mutable records JS gets, and gets the ones JS put (hash and
//!   signature checked), with the latest seq winning.
//!
//! Needs Node.js on PATH and `npm ci` in tests/js.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use ferrocore_hyperdht::dht::{Dht, DhtEvent, OpId, OpOutput};
use ferrocore_hyperdht::rpc::config::Config;
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::{mutable_target, Ipv4Address};
use serde_json::{json, Value};

use support::js::{require_js, JsPeer};
use support::udp::UdpPair;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn addr_of(v: &Value) -> Ipv4Address {
    let host: std::net::Ipv4Addr = v["host"].as_str().expect("host").parse().expect("IPv4");
    let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok());
    Ipv4Address::new(host.octets(), port.expect("port"))
}

struct Live {
    udp: UdpPair,
    dht: Dht,
    js: JsPeer,
    events: Vec<DhtEvent>,
}

impl Live {
    /// Drives our node until `done` holds.
    fn until(&mut self, what: &str, mut done: impl FnMut(&mut Self) -> bool) {
        let limit = Instant::now() + Duration::from_secs(40);
        loop {
            let evs = self.udp.step(&mut self.dht, Duration::from_millis(10));
            self.events.extend(evs);
            if done(self) {
                return;
            }
            assert!(Instant::now() < limit, "timed out waiting for {what}");
        }
    }

    /// Runs our operation `op` to its end.
    fn wait(&mut self, op: OpId) -> Result<OpOutput, ferrocore_hyperdht::dht::DhtError> {
        let mut out = None;
        self.until("our operation", |l| {
            out = l.events.iter().find_map(|e| match e {
                DhtEvent::Done { op: o, result } if *o == op => Some(result.clone()),
                _ => None,
            });
            out.is_some()
        });
        out.expect("done")
    }

    /// Sends `cmd` to JS and drives our node until JS replies.
    fn js(&mut self, cmd: Value) -> Value {
        let id = self.js.send(cmd);
        let mut got = None;
        self.until("JS", |l| {
            got = l.js.take(|v| v["id"] == id);
            got.is_some()
        });
        let v = got.expect("reply");
        assert!(v.get("error").is_none(), "JS failed: {v}");
        v
    }
}

#[test]
fn our_dht_operations_interoperate_with_js() {
    require_js("hyperdht");
    let mut js = JsPeer::spawn("dht-peer.mjs", &["--testnet", "6", "--timeout", "120000"]);
    let udp = UdpPair::bind(0);
    let mut idle = Node::new(udp.now(), [0; 32], 0, [[0; 32]; 2]);
    let ready = loop {
        udp.step(&mut idle, Duration::from_millis(10));
        if let Some(v) = js.take(|v| v["event"] == "ready") {
            break v;
        }
    };
    let bootstrap = ready["bootstrap"].as_array().expect("bootstrap");
    let cfg = Config {
        bootstrap: bootstrap.iter().map(addr_of).collect(),
        host: [127, 0, 0, 1],
        ..Config::default()
    };
    let mut node = Node::with_config(udp.now(), cfg, [0x21; 32]);
    node.start(udp.now(), udp.server_addr().port);
    let dht = Dht::new(node);
    let mut l = Live {
        udp,
        dht,
        js,
        events: Vec::new(),
    };
    l.until("bootstrap", |l| l.dht.node().is_bootstrapped());

    // we announce; JS finds us with our relay addresses; we unannounce
    let topic = [0x61; 32];
    let key = SigningKey::from_bytes(&[0x31; 32]);
    let pk = hex(&key.verifying_key().to_bytes());
    let relay = Ipv4Address::new([1, 2, 3, 4], 5678);
    let started = Instant::now();
    let op = l.dht.announce(l.udp.now(), topic, &key, vec![relay]);
    let Ok(OpOutput::Committed { commits, .. }) = l.wait(op) else {
        panic!("announce failed");
    };
    eprintln!(
        "announce: {} commits in {:?}",
        commits.len(),
        started.elapsed()
    );
    assert!(commits.len() >= 5 && commits.iter().all(|c| c.error == 0));
    let r = l.js(json!({"op": "lookup", "topic": hex(&topic)}));
    let ours: Vec<&Value> = r["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .filter(|p| p["publicKey"] == pk)
        .collect();
    assert_eq!(ours.len(), 1, "JS finds our announce: {r}");
    assert_eq!(
        ours[0]["relayAddresses"],
        json!([{"host": "1.2.3.4", "port": 5678}])
    );
    let op = l.dht.unannounce(l.udp.now(), topic, &key);
    l.wait(op).expect("unannounce");
    let r = l.js(json!({"op": "lookup", "topic": hex(&topic)}));
    assert!(
        r["peers"]
            .as_array()
            .expect("peers")
            .iter()
            .all(|p| p["publicKey"] != pk),
        "still announced: {r}"
    );

    // JS announces; our lookup finds it; JS under its own key: FIND_PEER finds it
    let js_seed = hex(&[0x41; 32]);
    let topic2 = [0x62; 32];
    let relays = json!([{"host": "5.6.7.8", "port": 9}]);
    let a = l.js(
        json!({"op": "announce", "topic": hex(&topic2), "seed": js_seed, "relayAddresses": relays}),
    );
    let js_pk: [u8; 32] = unhex(a["publicKey"].as_str().expect("key"))
        .try_into()
        .expect("32");
    let op = l.dht.lookup(l.udp.now(), topic2);
    l.wait(op).expect("lookup");
    let found = l.events.iter().filter(|e| {
        matches!(e, DhtEvent::Lookup { op: o, reply }
        if *o == op && reply.peers.iter().any(|p| p.public_key == js_pk
            && p.relay_addresses == [Ipv4Address::new([5, 6, 7, 8], 9)]))
    });
    assert!(found.count() >= 3, "our lookup finds JS's announce");
    l.js(json!({"op": "announce", "topic": hex(&mutable_target(&js_pk)), "seed": js_seed}));
    let op = l.dht.find_peer(l.udp.now(), &js_pk);
    l.wait(op).expect("find_peer");
    let found = l.events.iter().filter(|e| {
        matches!(e, DhtEvent::FindPeer { op: o, reply }
        if *o == op && reply.peer.public_key == js_pk)
    });
    assert!(found.count() >= 3, "FIND_PEER finds JS's key");

    // immutable: ours to JS, JS's to us
    let (op, hash) = l
        .dht
        .immutable_put(l.udp.now(), Bytes::from_static(b"from rust"));
    l.wait(op).expect("immutable put");
    let r = l.js(json!({"op": "immutableGet", "hash": hex(&hash)}));
    assert_eq!(r["value"], hex(b"from rust"));
    let r = l.js(json!({"op": "immutablePut", "value": hex(b"from js")}));
    let h: [u8; 32] = unhex(r["hash"].as_str().expect("hash"))
        .try_into()
        .expect("32");
    let op = l.dht.immutable_get(l.udp.now(), h);
    match l.wait(op) {
        Ok(OpOutput::Immutable(Some(v))) => assert_eq!(&v.value[..], b"from js"),
        other => panic!("{other:?}"),
    }

    // mutable: ours to JS, JS's (seq 3 then 4) to us
    let (op, sig) = l
        .dht
        .mutable_put(l.udp.now(), &key, 2, Bytes::from_static(b"m2"));
    l.wait(op).expect("mutable put");
    let r = l.js(json!({"op": "mutableGet", "publicKey": pk}));
    assert_eq!(
        (r["seq"].as_u64(), r["value"].as_str()),
        (Some(2), Some(hex(b"m2").as_str()))
    );
    assert_eq!(r["signature"], hex(&sig));
    for seq in [3, 4] {
        l.js(json!({"op": "mutablePut", "value": hex(format!("js{seq}").as_bytes()), "seq": seq, "seed": js_seed}));
    }
    let op = l.dht.mutable_get(l.udp.now(), &js_pk, 0, true);
    match l.wait(op) {
        Ok(OpOutput::Mutable(Some(m))) => assert_eq!((m.seq, &m.value[..]), (4, &b"js4"[..])),
        other => panic!("{other:?}"),
    }
    let op = l.dht.mutable_get(l.udp.now(), &js_pk, 5, true);
    assert_eq!(l.wait(op), Ok(OpOutput::Mutable(None)));

    l.js.send(json!({"op": "close"}));
    l.until("close", |l| l.js.take(|v| v["reply"] == "close").is_some());
}
