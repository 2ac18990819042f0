//! `bind_dht` on smol: a local network of HyperDHT nodes (three persistent, as a
//! testnet's) finds a server by its public key and connects to it through the relay.

use std::time::Duration;

use ferrocore_futures::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_wire::noise::KeyPair;
use futures_lite::future;

fn spawn(config: RpcConfig) -> DhtNode {
    let (node, drivers) = bind_dht("127.0.0.1:0".parse().unwrap(), smol::Timer::after, config)
        .expect("bind a DHT node");
    for d in drivers {
        smol::spawn(d).detach();
    }
    node
}

#[test]
fn futures_dht_nodes_connect_by_public_key() {
    smol::block_on(async {
        let boot = spawn(RpcConfig {
            persistent: true,
            ..RpcConfig::default()
        });
        let config = RpcConfig {
            bootstrap: vec![boot.local_addr().unwrap()],
            ..RpcConfig::default()
        };
        // Two more persistent nodes, as a testnet has, to store and relay.
        let relays: Vec<DhtNode> = (0..2)
            .map(|_| {
                spawn(RpcConfig {
                    persistent: true,
                    ..config.clone()
                })
            })
            .collect();
        for r in &relays {
            r.bootstrapped().await;
        }
        let server = spawn(config.clone());
        let client = spawn(config);
        server.bootstrapped().await;
        client.bootstrapped().await;
        assert!(client.table_len() >= 1, "the client knows the network");

        let server_key = KeyPair::from_seed([0x21; 32]);
        let client_key = KeyPair::from_seed([0x22; 32]);
        server.listen(server_key.clone()).await.expect("announced");
        let within = |d| async move {
            smol::Timer::after(d).await;
            panic!("timed out");
        };
        let (dialled, accepted) = future::or(
            future::zip(
                client.connect(client_key.clone(), server_key.public_key),
                server.accept(),
            ),
            within(Duration::from_secs(20)),
        )
        .await;
        let dialled = dialled.expect("connected");
        assert_eq!(dialled.connection.remote_public_key, server_key.public_key);
        assert_eq!(accepted.connection.remote_public_key, client_key.public_key);
    });
}
