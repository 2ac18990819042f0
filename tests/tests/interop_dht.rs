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
use ferrocore_tests::js::JsPeer;
use ferrocore_tokio::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_udp::ferrocore_hyperdht::dht::{DhtEvent, OpOutput};
use ferrocore_udp::DhtConnection;
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::{SecretStream, StreamConfig, StreamEvent};
use serde_json::json;
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
        let keys: Vec<String> = found
            .replies
            .iter()
            .filter_map(|e| match e {
                DhtEvent::Lookup { reply, .. } => Some(reply.peers.clone()),
                _ => None,
            })
            .flatten()
            .map(|p| hex::encode(p.public_key))
            .collect();
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

/// A ferrocore node and a JS client on a fresh JS testnet.
async fn testnet() -> (JsPeer, JsPeer, DhtNode) {
    let mut net = JsPeer::spawn("dht-peer.mjs", &["--testnet", "5", "--timeout", "90000"]);
    let ready = net.wait_for(WAIT, |v| v["event"] == "ready");
    let bootstrap: Vec<std::net::SocketAddr> = ready["bootstrap"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            format!("{}:{}", b["host"].as_str().unwrap(), b["port"])
                .parse()
                .unwrap()
        })
        .collect();
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
