//! Live interop of the dht-rpc node with JS (hyperdht 6.34.0 / dht-rpc 6.27.0) on loopback,
//! driven by a blocking std UDP loop (`support/udp.rs`):
//!
//! * our adaptive node bootstraps from a JS testnet, samples its address, passes the quick
//!   firewall check and finds the JS nodes by FIND_NODE;
//! * our node is a first bootstrap node (`bootstrap none`, persistent with id =
//!   hash(host:port)); two persistent JS nodes bootstrap from it, ping it, find each other
//!   through it and announce/look up a topic through it.
//!
//! Needs Node.js on PATH and `npm ci` in tests/js.

mod support;

use std::time::{Duration, Instant};

use ferrocore_hyperdht::rpc::config::Config;
use ferrocore_hyperdht::rpc::node::{Node, NodeEvent, QueryRequest};
use ferrocore_hyperdht::rpc::query::QueryConfig;
use ferrocore_wire::dht::{commands, errors, node_id, Ipv4Address};
use serde_json::{json, Value};

use support::js::{require_js, JsPeer};
use support::udp::UdpPair;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn addr_of(v: &Value) -> Ipv4Address {
    let host: std::net::Ipv4Addr = v["host"].as_str().expect("host").parse().expect("IPv4");
    let port = v["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("port");
    Ipv4Address::new(host.octets(), port)
}

/// Drives `node` until `done` holds (checked every 10 ms), answering application requests
/// as JS does when nobody listens (UNKNOWN_COMMAND); returns the events seen.
fn drive_until(
    udp: &UdpPair,
    node: &mut Node,
    timeout: Duration,
    what: &str,
    mut done: impl FnMut(&mut Node, &[NodeEvent]) -> bool,
) -> Vec<NodeEvent> {
    let until = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        for e in udp.step(node, Duration::from_millis(10)) {
            if let NodeEvent::Request(req) = &e {
                node.reply(req, errors::UNKNOWN_COMMAND, None, false);
            }
            seen.push(e);
        }
        if done(node, &seen) {
            return seen;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
    }
}

/// Drives `node` until `peer` prints a line matching `pred`.
fn await_js(
    udp: &UdpPair,
    node: &mut Node,
    peer: &mut JsPeer,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let mut got = None;
    drive_until(udp, node, Duration::from_secs(30), what, |_, _| {
        got = peer.take(&pred);
        got.is_some()
    });
    got.expect("matched")
}

#[test]
fn our_node_bootstraps_from_a_js_testnet_and_finds_its_nodes() {
    require_js("hyperdht");
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let udp = UdpPair::bind(0);
    let mut none = Node::new(udp.now(), [0; 32], 0, [[0; 32]; 2]);
    let ready = await_js(&udp, &mut none, &mut net, "the testnet", |v| {
        v["event"] == "ready"
    });
    let bootstrap: Vec<Ipv4Address> = ready["bootstrap"]
        .as_array()
        .expect("bootstrap list")
        .iter()
        .map(addr_of)
        .collect();
    let testnet: Vec<(Ipv4Address, String)> = ready["testnet"]
        .as_array()
        .expect("testnet list")
        .iter()
        .map(|n| (addr_of(n), n["nodeId"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(testnet.len(), 5);

    let cfg = Config {
        bootstrap,
        host: [127, 0, 0, 1],
        ..Config::default()
    };
    let mut node = Node::with_config(udp.now(), cfg, [0x5a; 32]);
    let started = Instant::now();
    node.start(udp.now(), udp.server_addr().port);
    let evs = drive_until(&udp, &mut node, Duration::from_secs(30), "ready", |n, _| {
        n.is_bootstrapped()
    });
    eprintln!("bootstrapped in {:?}", started.elapsed());
    assert!(evs.contains(&NodeEvent::Ready));
    // the JS nodes told us our address; the quick PING_NAT came through on loopback
    let server = udp.server_addr();
    assert_eq!(node.host(), Some([127, 0, 0, 1]));
    assert!(!node.firewalled(), "loopback is not firewalled");
    assert_eq!(node.port(), server.port);
    assert_eq!(node.remote_address(), Some(server));
    assert_eq!(*node.table().id(), node_id(&server));
    assert!(node.ephemeral(), "adaptive: ephemeral until stable");
    // every persistent testnet node is in our table, under its verified id
    for (a, id) in &testnet {
        if id.len() == 64 {
            let t = node
                .table()
                .get(&node_id(a))
                .expect("a testnet node in our table");
            assert_eq!(hex(&t.id), *id);
        }
    }
    // a FIND_NODE query reaches them and they answer with their ids
    let req = QueryRequest {
        target: [0x42; 32],
        internal: true,
        command: commands::FIND_NODE,
        value: None,
    };
    let q = node.query(udp.now(), req, QueryConfig::default(), &[]);
    let evs = drive_until(
        &udp,
        &mut node,
        Duration::from_secs(20),
        "the query",
        |_, e| e.contains(&NodeEvent::QueryDone(q)),
    );
    let repliers: Vec<[u8; 32]> = evs
        .iter()
        .filter_map(|e| match e {
            NodeEvent::QueryReply(x, r) if *x == q => r.from_id,
            _ => None,
        })
        .collect();
    let known = testnet
        .iter()
        .filter(|(a, id)| id.len() == 64 && repliers.contains(&node_id(a)))
        .count();
    assert!(
        known >= 4,
        "the testnet nodes answered our FIND_NODE ({known})"
    );
    // and the JS side can ping us
    let id = net.send(json!({"op": "ping", "host": "127.0.0.1", "port": server.port}));
    let pong = await_js(&udp, &mut node, &mut net, "the JS ping", |v| v["id"] == id);
    assert_eq!(pong["pong"]["port"], server.port, "{pong}");
    net.send(json!({"op": "close"}));
    drive_until(&udp, &mut node, Duration::from_secs(10), "close", |_, _| {
        net.take(|v| v["reply"] == "close").is_some()
    });
    assert_eq!(net.close(), Some(0));
}

#[test]
fn js_nodes_bootstrap_from_our_first_bootstrap_node() {
    require_js("hyperdht");
    let udp = UdpPair::bind(0);
    let us = udp.server_addr();
    let mut node = Node::with_config(udp.now(), Config::bootstrapper(us.host, us.port), [7; 32]);
    node.start(udp.now(), us.port);
    assert!(
        node.is_bootstrapped(),
        "a first bootstrap node is ready at once"
    );
    assert_eq!(
        node.id(),
        Some(node_id(&us)),
        "persistent with id = hash(host:port)"
    );

    let boot = format!("127.0.0.1:{}", us.port);
    let args = ["--bootstrap", &boot, "--persistent", "--timeout", "90000"];
    let mut p = JsPeer::spawn("dht-peer.mjs", &args);
    let rp = await_js(&udp, &mut node, &mut p, "P ready", |v| {
        v["event"] == "ready"
    });
    let mut q = JsPeer::spawn("dht-peer.mjs", &args);
    let rq = await_js(&udp, &mut node, &mut q, "Q ready", |v| {
        v["event"] == "ready"
    });
    // a third one: our node stores no records, so an announcement of P must land on a JS
    // node other than the one looking it up
    let mut r = JsPeer::spawn("dht-peer.mjs", &args);
    let rr = await_js(&udp, &mut node, &mut r, "R ready", |v| {
        v["event"] == "ready"
    });
    let (pa, qa, ra) = (addr_of(&rp), addr_of(&rq), addr_of(&rr));
    for r in [&rp, &rq, &rr] {
        assert_eq!(r["ephemeral"], false, "{r}");
        assert_eq!(
            r["nodeId"].as_str(),
            Some(hex(&node_id(&addr_of(r))).as_str())
        );
    }
    // they sent us their ids: they are in our table
    drive_until(
        &udp,
        &mut node,
        Duration::from_secs(10),
        "P, Q, R in our table",
        |n, _| [pa, qa, ra].iter().all(|a| n.table().contains(&node_id(a))),
    );
    // P pings us (dht-peer.mjs reports `r.id`, which dht-rpc's replies do not have, so
    // its nodeId is always null: only the address is checked)
    let id = p.send(json!({"op": "ping", "host": "127.0.0.1", "port": us.port}));
    let pong = await_js(&udp, &mut node, &mut p, "P's ping", |v| v["id"] == id);
    assert!(pong.get("error").is_none(), "{pong}");
    assert_eq!(pong["pong"]["port"], us.port, "{pong}");
    // a topic announced by P is found by Q: they found each other through us
    let topic = hex(&[0x7e; 32]);
    let id = p.send(json!({"op": "announce", "topic": topic}));
    let ann = await_js(&udp, &mut node, &mut p, "P's announce", |v| v["id"] == id);
    assert!(
        ann.get("error").is_none() && ann["closest"].as_u64() >= Some(1),
        "{ann}"
    );
    let id = q.send(json!({"op": "lookup", "topic": topic}));
    let found = await_js(&udp, &mut node, &mut q, "Q's lookup", |v| v["id"] == id);
    let peers = found["peers"].as_array().cloned().unwrap_or_default();
    assert!(
        peers.iter().any(|x| x["publicKey"] == rp["publicKey"]),
        "Q finds P's announcement: {found}"
    );
    let mut peers = [p, q, r];
    for js in &mut peers {
        js.send(json!({"op": "close"}));
    }
    let mut closed = [false; 3];
    drive_until(&udp, &mut node, Duration::from_secs(10), "close", |_, _| {
        for (c, js) in closed.iter_mut().zip(peers.iter_mut()) {
            *c |= js.take(|v| v["reply"] == "close").is_some();
        }
        closed == [true; 3]
    });
    let codes: Vec<Option<i32>> = peers.into_iter().map(JsPeer::close).collect();
    assert_eq!(codes, [Some(0); 3]);
}
