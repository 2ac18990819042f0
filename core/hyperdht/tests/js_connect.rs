//! Live against JS on loopback: a [`PeerNode`] on a UDP socket and `tests/js/dht-peer.mjs`
//! (hyperdht 6.34.0 with a 3-node testnet). Our client connects to a JS server (the
//! handshake relayed by a JS testnet node, JS opens the stream to us); a JS client connects
//! to our server after our announcer stored our record on the JS nodes (JS verified the
//! signatures), and opens its stream to us. Skipped (with a note) when Node.js or
//! `tests/js/node_modules` is missing.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use ferrocore_hyperdht::dht::connect::ConnectConfig;
use ferrocore_hyperdht::dht::connect_node::{PeerEvent, PeerNode};
use ferrocore_hyperdht::dht::server::ServerConfig;
use ferrocore_hyperdht::dht::Dht;
use ferrocore_hyperdht::rpc::io::Socket;
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::rpc::{REQUEST_ID, RESPONSE_ID};
use ferrocore_wire::dht::Ipv4Address;
use ferrocore_wire::noise::KeyPair;
use serde_json::{json, Value};

mod connect_support;
use connect_support::addr;

struct Js {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
}

impl Js {
    fn start() -> Option<Self> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/js");
        if !dir.join("node_modules/hyperdht").exists() {
            eprintln!("skipped: tests/js/node_modules missing (npm ci in tests/js)");
            return None;
        }
        let spawned = Command::new("node")
            .arg("dht-peer.mjs")
            .args([
                "--testnet",
                "3",
                "--host",
                "127.0.0.1",
                "--timeout",
                "60000",
            ])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = spawned else {
            eprintln!("skipped: no node");
            return None;
        };
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Some(Self {
            child,
            stdin,
            lines,
        })
    }

    fn send(&mut self, v: Value) {
        writeln!(self.stdin, "{v}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line that `pick` accepts, waiting at most 20 s.
    fn wait(&self, pick: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.lines.recv_timeout(left).expect("JS peer went quiet");
            if pick(&v) {
                return v;
            }
        }
    }

    fn poll(&self) -> Option<Value> {
        self.lines.try_recv().ok()
    }
}

impl Drop for Js {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sock_addr(a: Ipv4Address) -> SocketAddr {
    SocketAddr::from((a.host, a.port))
}

/// Our node on one loopback UDP socket, driven until `done` says so (or 20 s).
struct Rust {
    sock: UdpSocket,
    addr: Ipv4Address,
    node: PeerNode,
    start: Instant,
    events: Vec<PeerEvent>,
}

impl Rust {
    fn new(bootstrap: Vec<Ipv4Address>) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(5)))
            .unwrap();
        let SocketAddr::V4(a) = sock.local_addr().unwrap() else {
            unreachable!()
        };
        let addr = Ipv4Address::new(a.ip().octets(), a.port());
        let mut rpc = Node::new(Duration::ZERO, [0x42; 32], 0x1234, [[1; 32], [2; 32]]);
        rpc.bootstrap = bootstrap;
        let node = PeerNode::new(Dht::new(rpc), [0x77; 32], 1);
        Self {
            sock,
            addr,
            node,
            start: Instant::now(),
            events: Vec::new(),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn run(
        &mut self,
        js: &Js,
        mut done: impl FnMut(&mut PeerNode, &[PeerEvent], Option<&Value>) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            while let Some(t) = self.node.poll_transmit() {
                let _ = self.sock.send_to(&t.bytes, sock_addr(t.to));
            }
            while let Some(e) = self.node.poll_event() {
                self.events.push(e);
            }
            let line = js.poll();
            if done(&mut self.node, &self.events, line.as_ref()) {
                return;
            }
            if let Ok((n, SocketAddr::V4(from))) = self.sock.recv_from(&mut buf) {
                let from = Ipv4Address::new(from.ip().octets(), from.port());
                let now = self.now();
                let d = &buf[..n];
                match d.first() {
                    Some(&REQUEST_ID) => self.node.handle_datagram(now, Socket::Server, from, d),
                    Some(&RESPONSE_ID) => self.node.handle_datagram(now, Socket::Client, from, d),
                    _ => {
                        if let Ok(p) = ferrocore_wire::udx::decode(d) {
                            self.node
                                .handle_stream_packet(now, p.header.stream_id, from);
                        }
                    }
                }
            }
            if self.node.poll_timeout().is_some_and(|t| t <= self.now()) {
                let now = self.now();
                self.node.handle_timeout(now);
            }
        }
        panic!("timed out; events: {:?}", self.events);
    }
}

#[test]
fn rust_and_js_connect_both_ways() {
    let Some(mut js) = Js::start() else {
        return;
    };
    let ready = js.wait(|v| v["event"] == "ready");
    let bootstrap: Vec<Ipv4Address> = ready["testnet"]
        .as_array()
        .unwrap()
        .iter()
        .map(addr)
        .collect();
    assert!(!bootstrap.is_empty());
    let mut rust = Rust::new(bootstrap);
    let open = Some(rust.addr);

    // Our client, JS server.
    js.send(json!({"op": "listen", "id": 1, "seed": "11".repeat(32)}));
    let listening = js.wait(|v| v["reply"] == "listen");
    let js_key: [u8; 32] = hex::decode(listening["publicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let ours = KeyPair::from_seed([0x22; 32]);
    let config = ConnectConfig {
        our_address: open,
        ..ConnectConfig::default()
    };
    let now = rust.now();
    let id = rust.node.connect(now, ours.clone(), js_key, config);
    let our_hex = hex::encode(ours.public_key);
    let mut js_saw = false;
    rust.run(&js, |_, events, line| {
        if let Some(v) = line {
            js_saw |= v["event"] == "connection" && v["remotePublicKey"] == our_hex.as_str();
        }
        let connected = events
            .iter()
            .any(|e| matches!(e, PeerEvent::Connected(c, _) if *c == id));
        let failed = events
            .iter()
            .find(|e| matches!(e, PeerEvent::ConnectFailed(..)));
        assert!(failed.is_none(), "{failed:?}");
        connected && js_saw
    });
    let conn = rust.events.iter().find_map(|e| match e {
        PeerEvent::Connected(_, c) => Some(c.clone()),
        _ => None,
    });
    let conn = conn.unwrap();
    assert_eq!(conn.remote_public_key, js_key);
    assert!(conn.is_initiator);
    eprintln!(
        "our client -> JS server: stream {} -> {} at {}, JS payload firewall {}",
        conn.local_stream_id, conn.remote_stream_id, conn.remote_addr, conn.remote_payload.firewall
    );

    // JS client, our server (announced by our announcer on the JS testnet).
    let server_keys = KeyPair::from_seed([0x33; 32]);
    let server = ServerConfig {
        our_address: open,
        ..ServerConfig::default()
    };
    let now = rust.now();
    rust.node.listen(now, server_keys.clone(), server).unwrap();
    // Announced once the relays are known: our address and at least one JS node.
    rust.run(&js, |node, _, _| {
        let s = node.server_mut(&server_keys.public_key).unwrap();
        s.relay_addresses().len() >= 2
    });
    let key_hex = hex::encode(server_keys.public_key);
    js.send(json!({"op": "findPeer", "id": 2, "publicKey": key_hex}));
    let found = js.wait(|v| v["reply"] == "findPeer");
    assert_eq!(
        found["found"], true,
        "JS finds our announced record: {found}"
    );
    js.send(json!({"op": "connect", "id": 3, "publicKey": key_hex, "background": true}));
    rust.run(&js, |_, events, _| {
        events.iter().any(|e| {
            matches!(e, PeerEvent::Connection { public_key, connection }
                if *public_key == server_keys.public_key && !connection.is_initiator)
        })
    });
    let accepted = rust.events.iter().find_map(|e| match e {
        PeerEvent::Connection { connection, .. } => Some(connection.clone()),
        _ => None,
    });
    let accepted = accepted.unwrap();
    eprintln!(
        "JS client -> our server: from {} key {}, stream {} -> {}",
        accepted.remote_addr,
        hex::encode(accepted.remote_public_key),
        accepted.local_stream_id,
        accepted.remote_stream_id
    );
    assert_eq!(accepted.remote_addr.host, [127, 0, 0, 1]);
}
