//! Live HyperDHT interop on loopback: a ferrocore HyperDHT node (`ferrocore-udp`'s
//! `DhtNode` run by Tokio, `ferrocore_tokio::dht::bind_dht`) on a JS hyperdht 6.34.0
//! testnet (`tests/js/dht-peer.mjs`): it bootstraps from the testnet, finds what a JS node
//! announced, and a JS node finds what it announced.
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).

use std::time::Duration;

use ed25519_dalek::SigningKey;
use ferrocore_tests::js::JsPeer;
use ferrocore_tokio::dht::{bind_dht, RpcConfig};
use ferrocore_udp::ferrocore_hyperdht::dht::{DhtEvent, OpOutput};
use serde_json::json;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_and_announce_across_with_a_js_testnet() {
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

    {
        let node = bind_dht(
            "127.0.0.1:0",
            RpcConfig {
                bootstrap,
                ..RpcConfig::default()
            },
        )
        .await
        .unwrap();
        timeout(WAIT, node.bootstrapped())
            .await
            .expect("bootstrapped");
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
