//! `ferrocore dht` live with JS HyperDHT 6.34.0 (`tests/js/dht-peer.mjs`) on loopback, both
//! directions: JS nodes bootstrap from a `ferrocore dht --bootstrap none` node, learn their
//! addresses from it, ping it, and find each other through it (an announce found by a
//! lookup) and connect by public key; a `ferrocore dht` bootstraps from a JS testnet and JS nodes ping it.
//!
//! Needs Node.js and `npm ci` in `tests/js`, as the other interop tests.

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferrocore_tests::js::JsPeer;
use ferrocore_wire::dht::{node_id, Ipv4Address};
use serde_json::{json, Value};
use support::Proc;

const WAIT: Duration = Duration::from_secs(30);

fn id_of(addr: SocketAddr) -> String {
    let SocketAddr::V4(v4) = addr else {
        panic!("IPv4 expected: {addr}")
    };
    hex::encode(node_id(&Ipv4Address::new(v4.ip().octets(), v4.port())))
}

/// Starts `ferrocore dht args…`; returns it with its address and id.
fn ferrocore_dht(args: &[&str]) -> (Proc, SocketAddr, String) {
    let mut all = vec!["dht", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let mut p = Proc::spawn(&all);
    let (mut addr, mut id) = (None, None);
    while addr.is_none() || id.is_none() {
        let line = p.line();
        if let Some(a) = line.strip_prefix("listening ") {
            addr = Some(a.parse::<SocketAddr>().expect("listening HOST:PORT"));
        } else if let Some(i) = line.strip_prefix("id ") {
            id = Some(i.to_owned());
        } else {
            panic!("unexpected line {line:?}");
        }
    }
    (p, addr.unwrap(), id.unwrap())
}

fn ready(js: &mut JsPeer) -> Value {
    js.wait_for(WAIT, |v| v["event"] == "ready")
}

#[test]
fn js_nodes_bootstrap_from_a_ferrocore_node_and_find_each_other_through_it() {
    let (mut boot, addr, id) = ferrocore_dht(&["--bootstrap", "none"]);
    // Persistent from the start: id = hash of its address, as JS's DHT.bootstrapper.
    assert_eq!(id, id_of(addr));
    assert_eq!(boot.line(), "bootstrapped 0");

    let bootstrap = addr.to_string();
    let args = [
        "--bootstrap",
        bootstrap.as_str(),
        "--persistent",
        "--timeout",
        "60000",
    ];
    let mut peers: Vec<JsPeer> = (0..3)
        .map(|_| JsPeer::spawn("dht-peer.mjs", &args))
        .collect();
    for p in &mut peers {
        let r = ready(p);
        // They learned their own address from our replies (`to`), hence their ids.
        let own: SocketAddr = (
            r["host"].as_str().unwrap().parse::<Ipv4Addr>().unwrap(),
            u16::try_from(r["port"].as_u64().unwrap()).unwrap(),
        )
            .into();
        assert_eq!(r["ephemeral"], false, "{r}");
        assert_eq!(r["nodeId"], id_of(own), "{r}");
        // Our PING reply carries our id, and JS accepts it (it matches our address).
        let pong = p.ok(
            json!({"op": "ping", "host": "127.0.0.1", "port": addr.port()}),
            WAIT,
        );
        assert_eq!(pong["pong"]["port"], addr.port());
        assert_eq!(pong["pong"]["nodeId"], id, "{pong}");
    }

    // The JS nodes learned each other through the ferrocore node: an announce by one is
    // stored by the others and found by a lookup from another.
    let topic = hex::encode([7u8; 32]);
    let ann = peers[0].ok(json!({"op": "announce", "topic": topic}), WAIT);
    assert!(ann["closest"].as_u64().unwrap() >= 2, "{ann}");
    let key = ann["publicKey"].clone();
    let found = peers[1].ok(json!({"op": "lookup", "topic": topic}), WAIT);
    assert!(
        found["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["publicKey"] == key),
        "{found}"
    );

    // And connect by public key across the network formed through it.
    let listening = peers[2].ok(json!({"op": "listen"}), WAIT);
    let server = listening["publicKey"].clone();
    let data = hex::encode(b"through a network bootstrapped by ferrocore");
    let cmd = json!({"op": "connect", "publicKey": server, "data": data});
    let connected = peers[0].ok(cmd, WAIT);
    assert_eq!(connected["remotePublicKey"], server);
    let echoed = peers[0].wait_for(WAIT, |v| v["event"] == "data");
    assert_eq!(echoed["data"], data.as_str());

    for p in peers {
        p.finish();
    }
    assert!(boot.terminate().success());
}

/// A 5-node JS testnet and its bootstrap list (`HOST:PORT,...`).
fn js_testnet() -> (JsPeer, String) {
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let r = ready(&mut net);
    let boot: Vec<String> = r["bootstrap"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| format!("{}:{}", b["host"].as_str().unwrap(), b["port"]))
        .collect();
    (net, boot.join(","))
}

#[test]
fn a_ferrocore_node_bootstraps_from_a_js_testnet() {
    let (mut net, boot) = js_testnet();
    let (mut node, addr, id) = ferrocore_dht(&["--bootstrap", &boot, "--persistent"]);
    // Persistent once it learned its address from the testnet's replies.
    assert_eq!(id, id_of(addr));
    let line = node.line();
    let known: usize = line
        .strip_prefix("bootstrapped ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .parse()
        .unwrap();
    // The testnet's persistent nodes answered its FIND_NODE walk with their ids.
    assert!(known >= 4, "{line}");
    let pong = net.ok(
        json!({"op": "ping", "host": "127.0.0.1", "port": addr.port()}),
        WAIT,
    );
    assert_eq!(pong["pong"]["nodeId"], id_of(addr), "{pong}");
    net.finish();
    assert!(node.terminate().success());
}

/// `node <script> args…` in `cwd` with `env`, its stdout lines on a channel.
fn node_script(
    script: &std::path::Path,
    args: &[&str],
    cwd: &std::path::Path,
    env: (&str, &str),
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = std::process::Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(cwd)
        .env(env.0, env.1)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// A JS testnet (with its bootstrap list) and a writer store in a temporary directory
/// holding `blocks` (with its path and key).
fn swarm_setup(
    blocks: &[&str],
) -> (
    JsPeer,
    String,
    tempfile::TempDir,
    std::path::PathBuf,
    String,
) {
    let (net, boot) = js_testnet();
    let tmp = tempfile::tempdir().unwrap();
    let writer = tmp.path().join("writer");
    let key = support::create(&writer, &[]);
    let mut args = vec!["append", support::s(&writer)];
    args.extend_from_slice(blocks);
    support::run(&args).ok();
    (net, boot, tmp, writer, key)
}

#[test]
fn the_seeds_js_reader_follows_a_ferrocore_writer_serving_over_the_swarm() {
    let (net, boot, tmp, writer, key) = swarm_setup(&["one", "two"]);
    let mut serve = Proc::spawn(&serve_swarm_args(&writer, &boot, &["--append-stdin"]));
    assert_eq!(serve.line(), format!("key {key}"));
    let line = serve.line();
    let dk = line.strip_prefix("announced ").expect("announced <dk>");
    assert_eq!(dk.len(), 64);

    // The seed's reader.js, unchanged but for its bootstrap from the environment.
    let reader_dir = tmp.path().join("reader");
    std::fs::create_dir_all(&reader_dir).unwrap();
    let script = ferrocore_tests::js::js_dir().join("tutorial/reader.js");
    let (mut reader, lines) = node_script(
        &script,
        &[&key],
        &reader_dir,
        ("HYPERSWARM_BOOTSTRAP", &boot),
    );
    let first = lines.recv_timeout(WAIT).expect("the reader's first line");
    assert_eq!(first, "Skipping 2 earlier blocks...");
    serve.write_line("three");
    serve.write_line("four");
    let got: Vec<String> = (0..2)
        .map(|_| lines.recv_timeout(WAIT).expect("a live block"))
        .collect();
    assert_eq!(got, ["Block 2: three", "Block 3: four"]);
    let _ = reader.kill();
    let _ = reader.wait();
    serve.terminate_cleanly();
    net.finish();
}

#[test]
fn clone_swarm_finds_a_serve_swarm_writer_by_discovery_key_or_times_out() {
    let (net, boot, tmp, writer, key) = swarm_setup(&["a", "b", "c"]);
    let reader = tmp.path().join("reader");

    let clone = |timeout: &str| {
        support::run(&[
            "clone",
            support::s(&reader),
            &key,
            "--swarm",
            "--bootstrap",
            &boot,
            "--timeout",
            timeout,
        ])
    };
    // Nobody serves yet: no peer before the timeout is exit 6 with a message.
    clone("2").fails(6, "no peer found");

    let (serve, _) = serve_swarm(&writer, &boot, &key, &[]);
    clone("20").ok();
    assert_eq!(
        support::run(&["cat", support::s(&reader)]).ok(),
        "a\nb\nc\n"
    );
    serve.terminate_cleanly();
    net.finish();
}

/// The arguments of `clone DIR KEY --swarm --bootstrap boot --timeout 20 extra…`.
fn clone_swarm_args<'a>(
    dir: &'a std::path::Path,
    key: &'a str,
    boot: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "clone",
        support::s(dir),
        key,
        "--swarm",
        "--bootstrap",
        boot,
    ];
    args.extend_from_slice(&["--timeout", "20"]);
    args.extend_from_slice(extra);
    args
}

/// `clone DIR KEY --swarm --bootstrap boot --timeout 20 --live`, running.
fn live_clone(dir: &std::path::Path, key: &str, boot: &str) -> Proc {
    Proc::spawn(&clone_swarm_args(dir, key, boot, &["--live"]))
}

#[test]
fn a_ferrocore_live_clone_follows_the_seeds_js_writer_over_the_swarm() {
    use std::io::Write as _;
    let (net, boot) = js_testnet();
    let tmp = tempfile::tempdir().unwrap();
    let writer_dir = tmp.path().join("writer");
    std::fs::create_dir_all(&writer_dir).unwrap();
    // The seed's writer.js, unchanged but for its bootstrap from the environment.
    let script = ferrocore_tests::js::js_dir().join("tutorial/writer.js");
    let (mut writer, lines) =
        node_script(&script, &[], &writer_dir, ("HYPERSWARM_BOOTSTRAP", &boot));
    let first = lines.recv_timeout(WAIT).expect("the writer's key");
    let key = first
        .strip_prefix("hypercore key: ")
        .expect("hypercore key: <hex>")
        .to_owned();
    let mut stdin = writer.stdin.take().unwrap();
    stdin.write_all(b"first").unwrap();
    stdin.flush().unwrap();

    let reader = tmp.path().join("reader");
    let mut clone = live_clone(&reader, &key, &boot);
    // Typed while the clone runs: printed live (writer.js appends each stdin chunk as a
    // block). The clone may still be downloading when "second" comes; "third" comes
    // after it printed a block or a second later, so it is always live.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    stdin.write_all(b"second").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    stdin.write_all(b"third").unwrap();
    stdin.flush().unwrap();
    let mut live = vec![clone.line()];
    if live[0] != "Block 2: third" {
        live.push(clone.line());
    }
    assert_eq!(live.last().unwrap(), "Block 2: third", "{live:?}");
    clone.terminate_cleanly();
    assert_eq!(
        support::run(&["cat", support::s(&reader)]).ok(),
        "first\nsecond\nthird\n"
    );
    let _ = writer.kill();
    let _ = writer.wait();
    net.finish();
}

/// The `peer <hex>` line a `clone --swarm` printed on stderr: the remote's public key.
fn peer_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peer "))
        .unwrap_or_else(|| panic!("no `peer <hex>` line on stderr: {stderr}"));
    assert_eq!(line.len(), 64, "{line}");
    line.to_owned()
}

/// The arguments of `serve DIR --swarm --bootstrap boot extra…`.
fn serve_swarm_args<'a>(
    dir: &'a std::path::Path,
    boot: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["serve", support::s(dir), "--swarm", "--bootstrap", boot];
    args.extend_from_slice(extra);
    args
}

/// `serve DIR --swarm --bootstrap boot extra…`, once it announced; with the discovery key
/// it announced (hex).
fn serve_swarm(dir: &std::path::Path, boot: &str, key: &str, extra: &[&str]) -> (Proc, String) {
    let mut serve = Proc::spawn(&serve_swarm_args(dir, boot, extra));
    assert_eq!(serve.line(), format!("key {key}"));
    let line = serve.line();
    let dk = line.strip_prefix("announced ").expect("announced <dk>");
    assert_eq!(dk.len(), 64, "{line}");
    let dk = dk.to_owned();
    (serve, dk)
}

/// `clone DIR KEY --swarm --bootstrap boot --timeout 20`, which must succeed; the public
/// key of the peer it connected to.
fn clone_swarm_peer(dir: &std::path::Path, key: &str, boot: &str) -> String {
    let out = support::run(&clone_swarm_args(dir, key, boot, &[]));
    out.ok();
    peer_line(&out.stderr)
}

#[test]
fn a_restarted_serve_swarm_is_the_same_peer() {
    let (net, boot, tmp, writer, key) = swarm_setup(&["a"]);
    let clone = |name: &str| clone_swarm_peer(&tmp.path().join(name), &key, &boot);
    let (serve, _) = serve_swarm(&writer, &boot, &key, &[]);
    let first = clone("r1");
    serve.terminate_cleanly();
    let (serve, _) = serve_swarm(&writer, &boot, &key, &[]);
    // The swarm key pair is the store's: the same public key after a restart.
    assert_eq!(clone("r2"), first);
    serve.terminate_cleanly();
    // Another store is another peer.
    let other = tmp.path().join("other");
    let other_key = support::create(&other, &[]);
    support::run(&["append", support::s(&other), "x"]).ok();
    let (serve, _) = serve_swarm(&other, &boot, &other_key, &[]);
    let peer = clone_swarm_peer(&tmp.path().join("r3"), &other_key, &boot);
    assert_ne!(peer, first);
    serve.terminate_cleanly();
    net.finish();
}

#[test]
fn a_live_clone_that_loses_its_peer_resumes_when_it_returns() {
    let (net, boot, tmp, writer, key) = swarm_setup(&["a"]);
    let (mut serve, _) = serve_swarm(&writer, &boot, &key, &["--append-stdin"]);
    let reader = tmp.path().join("reader");
    let mut clone = live_clone(&reader, &key, &boot);
    clone.wait_stderr("following core");
    serve.write_line("b");
    assert_eq!(clone.line(), "Block 1: b");

    // The writer goes away: the clone keeps running and looking.
    serve.terminate_cleanly();
    clone.wait_stderr("peer disconnected");
    // Back on the same store (the same peer): the swarm's retry finds it again.
    let (mut serve, _) = serve_swarm(&writer, &boot, &key, &["--append-stdin"]);
    serve.write_line("c");
    assert_eq!(clone.line(), "Block 2: c");
    let stderr = clone.terminate_cleanly();
    // It connected twice, to the same peer, and said so each time.
    let peers: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("peer "))
        .filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    assert_eq!(peers.len(), 2, "{stderr}");
    assert_eq!(peers[0], peers[1]);
    serve.terminate_cleanly();
    assert_eq!(
        support::run(&["cat", support::s(&reader)]).ok(),
        "a\nb\nc\n"
    );
    net.finish();
}

#[test]
fn serve_swarms_server_record_is_on_the_dht() {
    let (mut net, boot, _tmp, writer, key) = swarm_setup(&["a"]);
    let (serve, dk) = serve_swarm(&writer, &boot, &key, &[]);
    let found = net.ok(json!({"op": "lookup", "topic": dk}), WAIT);
    let peers = found["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 1, "{found}");
    // The server's announcer stored its record (under the hash of its key) before the
    // swarm announced the topic: a JS findPeer gets it from the nodes holding it.
    let record = net.ok(
        json!({"op": "findPeer", "publicKey": peers[0]["publicKey"]}),
        WAIT,
    );
    assert_eq!(record["found"], true, "{record}");
    assert!(!record["from"].as_array().unwrap().is_empty(), "{record}");
    serve.terminate_cleanly();
    net.finish();
}

#[test]
fn serve_swarm_with_listen_serves_both_ways() {
    let (net, boot, tmp, writer, key) = swarm_setup(&["a", "b"]);
    let mut serve = Proc::spawn(&serve_swarm_args(
        &writer,
        &boot,
        &["--listen", "127.0.0.1:0"],
    ));
    assert_eq!(serve.line(), format!("key {key}"));
    let line = serve.line();
    let addr = line
        .strip_prefix("listening ")
        .expect("listening HOST:PORT");
    assert!(!addr.ends_with(":0"), "{line}");
    assert!(serve.line().starts_with("announced "));
    // A clone over TCP and one over the swarm, from the same serve.
    let by_tcp = tmp.path().join("tcp");
    let connect = ["clone", support::s(&by_tcp), &key, "--connect", addr];
    support::run(&connect).ok();
    clone_swarm_peer(&tmp.path().join("swarm"), &key, &boot);
    for dir in ["tcp", "swarm"] {
        let copy = tmp.path().join(dir);
        assert_eq!(support::run(&["cat", support::s(&copy)]).ok(), "a\nb\n");
    }
    serve.terminate_cleanly();
    net.finish();
}
