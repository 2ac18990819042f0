//! Live HyperDHT interop on loopback: a ferrocore HyperDHT node (`ferrocore-udp`'s
//! `DhtNode` run by Tokio, `ferrocore_tokio::dht::bind_dht`) on a JS hyperdht 6.34.0
//! testnet (`tests/js/dht-peer.mjs`): it bootstraps from the testnet, finds what a JS node
//! announced, a JS node finds what it announced, and each connects to the other's server
//! by public key (the handshake relayed through the testnet) with a secret-stream over the
//! UDX stream the connection gives.
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::js::JsPeer;
use ferrocore_tokio::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_tokio::swarm::{JoinOptions, Swarm};
use ferrocore_tokio::Node;
use ferrocore_udp::ferrocore_hyperdht::dht::OpOutput;
use ferrocore_udp::DhtConnection;
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::{SecretStream, StreamConfig, StreamEvent};
use serde_json::{json, Value};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_and_announce_across_with_a_js_testnet() {
    let (net, mut js, node) = testnet().await;
    {
        assert!(node.table_len() >= 4, "{} nodes", node.table_len());

        // JS announces, ferrocore looks up.
        let topic = [0x11u8; 32];
        let cmd = json!({"op": "announce", "topic": hex::encode(topic)});
        let ann = tokio::task::block_in_place(|| js.ok(cmd, WAIT));
        let js_key = ann["publicKey"].as_str().unwrap().to_owned();
        let found = timeout(WAIT, node.lookup(topic)).await.unwrap().unwrap();
        let keys: Vec<String> = found.peers().map(|p| hex::encode(p.public_key)).collect();
        assert!(keys.contains(&js_key), "{keys:?} lacks {js_key}");

        // ferrocore announces, JS looks up.
        let topic = [0x22u8; 32];
        let key = SigningKey::from_bytes(&[5u8; 32]);
        let done = timeout(WAIT, node.announce(topic, &key))
            .await
            .unwrap()
            .unwrap();
        let OpOutput::Committed { commits, .. } = &done.output else {
            panic!("{:?}", done.output)
        };
        assert!(!commits.is_empty(), "{done:?}");
        let cmd = json!({"op": "lookup", "topic": hex::encode(topic)});
        let found = tokio::task::block_in_place(|| js.ok(cmd, WAIT));
        let ours = hex::encode(key.verifying_key().to_bytes());
        assert!(
            found["peers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["publicKey"] == ours.as_str()),
            "{found}"
        );
    }
    js.finish();
    net.finish();
}

/// Runs a secret-stream over `conn` (started from the DHT handshake): sends `send`, echoes
/// what comes unless `echo` is off, and returns the messages received once `want` came.
async fn exchange(
    conn: DhtConnection,
    send: Option<&[u8]>,
    echo: bool,
    want: usize,
) -> Vec<Vec<u8>> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let start = Instant::now();
    let DhtConnection {
        mut stream,
        connection,
    } = conn;
    // The secret-stream header's nonce seed: fixed in a test, random in an application.
    let header = [0x42u8; 24];
    let mut secret = SecretStream::from_handshake(
        StreamConfig::default(),
        &connection.handshake.handshake,
        header,
        start.elapsed(),
    );
    if let Some(m) = send {
        secret.send(m).unwrap();
    }
    let (mut got, mut buf) = (Vec::new(), vec![0u8; 65536]);
    while got.len() < want {
        assert!(start.elapsed() < WAIT, "timed out; got {got:?}");
        while let Some(out) = secret.poll_transmit() {
            stream.write_all(&out).await.unwrap();
        }
        if let Ok(n) = timeout(Duration::from_millis(20), stream.read(&mut buf)).await {
            let n = n.unwrap();
            assert!(n > 0, "the stream ended early; got {got:?}");
            secret.handle_input(start.elapsed(), &buf[..n]).unwrap();
        }
        while let Some(ev) = secret.poll_event() {
            match ev {
                StreamEvent::Message(m) => {
                    if echo {
                        secret.send(&m).unwrap();
                    }
                    got.push(m.to_vec());
                }
                StreamEvent::Connected(c) => {
                    assert_eq!(c.remote_public_key, connection.remote_public_key);
                }
                StreamEvent::RemoteEnded => {}
            }
        }
    }
    while let Some(out) = secret.poll_transmit() {
        stream.write_all(&out).await.unwrap();
    }
    got
}

/// The bootstrap list of a dht-peer's `ready` event.
fn bootstrap_of(ready: &Value) -> Vec<std::net::SocketAddr> {
    ready["bootstrap"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!("{}:{}", b["host"].as_str().unwrap(), b["port"])
                .parse()
                .unwrap()
        })
        .collect()
}

/// A ferrocore node and a JS client on a fresh JS testnet.
async fn testnet() -> (JsPeer, JsPeer, DhtNode) {
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let ready = net.wait_for(WAIT, |v| v["event"] == "ready");
    let bootstrap = bootstrap_of(&ready);
    let boot_arg: Vec<String> = bootstrap.iter().map(ToString::to_string).collect();
    let boot_arg = boot_arg.join(",");
    let mut js = JsPeer::spawn(
        "dht-peer.mjs",
        &["--bootstrap", &boot_arg, "--timeout", "90000"],
    );
    js.wait_for(WAIT, |v| v["event"] == "ready");
    let config = RpcConfig {
        bootstrap,
        ..RpcConfig::default()
    };
    let node = bind_dht("127.0.0.1:0", config).await.unwrap();
    timeout(WAIT, node.bootstrapped())
        .await
        .expect("bootstrapped");
    // On loopback the firewall check finds it reachable at its socket's address.
    let remote = node
        .machine()
        .with(|m, _| m.peer().dht().node().remote_address());
    let local = node.local_addr().unwrap();
    assert_eq!(remote.map(|a| a.port), Some(local.port()));
    (net, js, node)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferrocore_connects_to_a_js_server_by_public_key() {
    let (net, mut js, node) = testnet().await;
    let cmd = json!({"op": "listen", "seed": hex::encode([9u8; 32])});
    let listening = tokio::task::block_in_place(|| js.ok(cmd, WAIT));
    let server: [u8; 32] = hex::decode(listening["publicKey"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let ours = KeyPair::from_seed([3u8; 32]);
    let conn = timeout(WAIT, node.connect(ours.clone(), server))
        .await
        .expect("connect in time")
        .expect("connected");
    assert_eq!(conn.connection.remote_public_key, server);
    assert!(conn.connection.is_initiator);
    // JS echoes what it reads from the secret-stream.
    let got = exchange(conn, Some(b"hello through the dht"), false, 1).await;
    assert_eq!(got, vec![b"hello through the dht".to_vec()]);
    let seen = tokio::task::block_in_place(|| js.wait_for(WAIT, |v| v["event"] == "connection"));
    assert_eq!(seen["remotePublicKey"], hex::encode(ours.public_key));
    js.finish();
    net.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_client_connects_to_a_ferrocore_server_by_public_key() {
    let (net, mut js, node) = testnet().await;
    let server = KeyPair::from_seed([4u8; 32]);
    let announced = timeout(WAIT, node.listen(server.clone()))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(announced.output, OpOutput::Committed { .. }));
    let accept = tokio::spawn({
        let node = node.clone();
        async move {
            let conn = timeout(WAIT, node.accept()).await.expect("a connection");
            assert!(!conn.connection.is_initiator);
            exchange(conn, None, true, 1).await
        }
    });
    let cmd = json!({
        "op": "connect",
        "publicKey": hex::encode(server.public_key),
        "data": hex::encode(b"hello ferrocore server"),
    });
    let connected = tokio::task::block_in_place(|| js.ok(cmd, WAIT));
    assert_eq!(connected["remotePublicKey"], hex::encode(server.public_key));
    let got = accept.await.unwrap();
    assert_eq!(got, vec![b"hello ferrocore server".to_vec()]);
    // Our echo came back to JS.
    let echo = tokio::task::block_in_place(|| js.wait_for(WAIT, |v| v["event"] == "data"));
    assert_eq!(echo["data"], hex::encode(b"hello ferrocore server"));
    js.finish();
    net.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ferrocore_nodes_replicate_a_core_over_a_dht_connection() {
    const BLOCKS: u64 = 50;
    let (net, js, server_dht) = testnet().await;
    let bootstrap = bootstrap_of(&js.seen[0]);
    let client_dht = bind_dht(
        "127.0.0.1:0",
        RpcConfig {
            bootstrap,
            ..RpcConfig::default()
        },
    )
    .await
    .unwrap();
    timeout(WAIT, client_dht.bootstrapped()).await.unwrap();

    // The writer listens on its DHT key pair and replicates with whoever connects.
    let writer = ferrocore_tests::js::formula_writer(BLOCKS);
    let key = *writer.key();
    let writer_node = Node::with_key_pair(EndpointConfig::default(), KeyPair::from_seed([6; 32]));
    writer_node.add_core(writer).await.unwrap();
    let server_key = KeyPair::from_seed([7u8; 32]);
    timeout(WAIT, server_dht.listen(server_key.clone()))
        .await
        .unwrap()
        .unwrap();
    let serving = tokio::spawn(async move {
        let conn = timeout(WAIT, server_dht.accept()).await.unwrap();
        writer_node.add_dht_connection(conn).await.unwrap();
        (writer_node, server_dht)
    });

    // The reader connects by the server's public key and downloads every block.
    let reader = Node::with_key_pair(EndpointConfig::default(), KeyPair::from_seed([8; 32]));
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let core = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .await
        .unwrap();
    let conn = timeout(
        WAIT,
        client_dht.connect(KeyPair::from_seed([9; 32]), server_key.public_key),
    )
    .await
    .unwrap()
    .unwrap();
    reader.add_dht_connection(conn).await.unwrap();
    for i in 0..BLOCKS {
        let block = reader.get(core, i, Some(WAIT)).await.unwrap();
        assert_eq!(
            block[..],
            ferrocore_tests::js::block_value(0, i, 1000),
            "block {i}"
        );
    }
    let _kept = serving.await.unwrap();
    drop(js);
    net.finish();
}

/// The public key of the swarm a dht-peer made (its `join` reply).
fn seen_key(js: &JsPeer) -> String {
    let join = js.seen.iter().rev().find(|v| v["reply"] == "join").unwrap();
    join["publicKey"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperswarm_join_across_both_ways() {
    let (mut net, mut js, node) = testnet().await;
    // JS serves topic A (echoing); the ferrocore swarm joins it as a client and connects.
    let topic_a = [0xa1u8; 32];
    let cmd = json!({"op": "join", "topic": hex::encode(topic_a), "server": true, "client": false, "echo": true});
    let joined = tokio::task::block_in_place(|| js.ok(cmd, WAIT));
    let js_key = joined["publicKey"].as_str().unwrap().to_owned();
    let ours = KeyPair::from_seed([0x55u8; 32]);
    let swarm = Swarm::new(node.clone(), ours.clone());
    let client = JoinOptions {
        server: false,
        client: true,
        ..JoinOptions::default()
    };
    swarm.join(topic_a, client).await;
    let c = timeout(WAIT, swarm.connection())
        .await
        .expect("a swarm connection");
    assert_eq!(hex::encode(c.remote_public_key), js_key);
    assert!(c.is_initiator);
    assert_eq!(c.topics, vec![topic_a]);
    let got = exchange(c.connection, Some(b"hello swarm"), false, 1).await;
    assert_eq!(got, vec![b"hello swarm".to_vec()]);

    // The ferrocore swarm serves topic B; another JS swarm (the testnet process's node)
    // joins it as a client and connects.
    let topic_b = [0xb2u8; 32];
    swarm.join(topic_b, JoinOptions::default()).await;
    assert!(timeout(WAIT, swarm.flush()).await.unwrap(), "flushed");
    let cmd = json!({"op": "join", "topic": hex::encode(topic_b), "server": false, "client": true});
    tokio::task::block_in_place(|| net.ok(cmd, WAIT));
    let seen =
        tokio::task::block_in_place(|| net.wait_for(WAIT, |v| v["event"] == "swarmConnection"));
    assert_eq!(
        seen["remotePublicKey"],
        hex::encode(ours.public_key),
        "{seen}"
    );
    assert_eq!(seen["client"], true, "{seen}");
    assert_eq!(seen["topics"], json!([hex::encode(topic_b)]), "{seen}");
    let incoming = timeout(WAIT, swarm.connection())
        .await
        .expect("the incoming connection");
    assert!(!incoming.is_initiator);
    assert_eq!(hex::encode(incoming.remote_public_key), seen_key(&net));
    js.finish();
    net.finish();
}

#[test]
fn blocking_nodes_replicate_over_a_dht_connection() {
    use ferrocore_blocking::dht::bind_dht as bind_blocking;
    use futures_lite::future::block_on;
    const BLOCKS: u64 = 20;
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let ready = net.wait_for(WAIT, |v| v["event"] == "ready");
    let config = RpcConfig {
        bootstrap: bootstrap_of(&ready),
        ..RpcConfig::default()
    };
    let server_dht = bind_blocking("127.0.0.1:0", config.clone()).unwrap();
    let client_dht = bind_blocking("127.0.0.1:0", config).unwrap();
    block_on(async {
        server_dht.bootstrapped().await;
        client_dht.bootstrapped().await;
    });

    let writer = ferrocore_tests::js::formula_writer(BLOCKS);
    let key = *writer.key();
    let writer_node = ferrocore_blocking::Node::with_key_pair(
        EndpointConfig::default(),
        KeyPair::from_seed([6; 32]),
    )
    .unwrap();
    writer_node.add_core(writer).unwrap();
    let server_key = KeyPair::from_seed([0x17u8; 32]);
    block_on(server_dht.listen(server_key.clone())).unwrap();
    let serving = std::thread::spawn(move || {
        let conn = block_on(server_dht.accept());
        writer_node.add_dht_connection(conn).unwrap();
        (writer_node, server_dht)
    });

    let reader = ferrocore_blocking::Node::with_key_pair(
        EndpointConfig::default(),
        KeyPair::from_seed([8; 32]),
    )
    .unwrap();
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let core = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .unwrap();
    let conn = block_on(client_dht.connect(KeyPair::from_seed([0x19; 32]), server_key.public_key))
        .unwrap();
    reader.add_dht_connection(conn).unwrap();
    for i in 0..BLOCKS {
        let block = reader.get(core, i, Some(WAIT)).unwrap();
        assert_eq!(
            block[..],
            ferrocore_tests::js::block_value(0, i, 1000),
            "block {i}"
        );
    }
    let _kept = serving.join().unwrap();
    net.finish();
}

/// A JS testnet of 5 with a JS swarm serving `topic` (echoing what it reads): the peer,
/// the JS swarm's public key (hex) and a DHT config bootstrapping from the testnet.
fn js_echo_server(topic: [u8; 32]) -> (JsPeer, String, RpcConfig) {
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let ready = net.wait_for(WAIT, |v| v["event"] == "ready");
    let cmd = json!({"op": "join", "topic": hex::encode(topic), "server": true, "client": false, "echo": true});
    let joined = net.ok(cmd, WAIT);
    let js_key = joined["publicKey"].as_str().unwrap().to_owned();
    let config = RpcConfig {
        bootstrap: bootstrap_of(&ready),
        ..RpcConfig::default()
    };
    (net, js_key, config)
}

/// Checks a client connection `c` to [`js_echo_server`]'s swarm (its key, our role, the
/// topic) and that `msg` comes back echoed, then ends the JS peer. `exchange` times its
/// reads with a Tokio timer of its own; the stream is whichever adapter's.
fn check_echoed(
    net: JsPeer,
    c: ferrocore_udp::swarm::SwarmConnection,
    topic: [u8; 32],
    js_key: &str,
    msg: &[u8],
) {
    assert_eq!(hex::encode(c.remote_public_key), js_key);
    assert!(c.is_initiator);
    assert_eq!(c.topics, vec![topic]);
    let timer = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let got = timer.block_on(exchange(c.connection, Some(msg), false, 1));
    assert_eq!(got, vec![msg.to_vec()]);
    net.finish();
}

/// The blocking adapter's swarm (threads; the same swarm code as Tokio's) joins a topic a
/// JS swarm serves (echoing), connects to it and exchanges bytes over the connection.
#[test]
fn blocking_swarm_joins_a_js_swarm() {
    use ferrocore_blocking::dht::bind_dht as bind_blocking;
    use ferrocore_blocking::swarm::Swarm as BlockingSwarm;
    use futures_lite::future::block_on;
    let topic = [0xc3u8; 32];
    let (net, js_key, config) = js_echo_server(topic);
    let dht = bind_blocking("127.0.0.1:0", config).unwrap();
    block_on(dht.bootstrapped());
    let swarm = BlockingSwarm::new(dht, KeyPair::from_seed([0x56u8; 32]));
    let client = JoinOptions {
        server: false,
        ..JoinOptions::default()
    };
    swarm.join(topic, client);
    let c = swarm.connection().expect("a swarm connection");
    check_echoed(net, c, topic, &js_key, b"hello threads");
}

/// The futures-io adapter's swarm (on smol: its tasks spawned there, smol's timers; the
/// same swarm code as Tokio's) joins a topic a JS swarm serves (echoing), connects to it
/// and exchanges bytes over the connection.
#[test]
fn futures_swarm_joins_a_js_swarm() {
    use ferrocore_futures::dht::bind_dht as bind_futures;
    let topic = [0xc4u8; 32];
    let (net, js_key, config) = js_echo_server(topic);
    let c = smol::block_on(async {
        let (dht, drivers) =
            bind_futures("127.0.0.1:0".parse().unwrap(), smol::Timer::after, config).unwrap();
        for d in drivers {
            smol::spawn(d).detach();
        }
        dht.bootstrapped().await;
        let swarm = ferrocore_futures::swarm::new(
            dht,
            KeyPair::from_seed([0x57u8; 32]),
            |t| smol::spawn(t).detach(),
            smol::Timer::after,
        );
        let client = JoinOptions {
            server: false,
            ..JoinOptions::default()
        };
        swarm.join(topic, client).await;
        let c = smol::future::or(async { Some(swarm.connection().await) }, async {
            smol::Timer::after(WAIT).await;
            None
        })
        .await
        .expect("a swarm connection within 30 s");
        // The swarm may end with its handle: keep it until the bytes came back.
        (c, swarm)
    });
    let (c, _swarm) = c;
    // smol's global executor keeps driving the socket.
    check_echoed(net, c, topic, &js_key, b"hello smol");
}
