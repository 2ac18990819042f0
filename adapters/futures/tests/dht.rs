//! `bind_dht` and the swarm on smol, on a local network of HyperDHT nodes (three
//! persistent, as a testnet's): a client finds a server by its public key and connects
//! through the relay; two swarms find each other by a core's discovery key and replicate it.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_futures::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_futures::swarm::{self, JoinOptions};
use ferrocore_futures::Node;
use ferrocore_wire::noise::KeyPair;
use futures_lite::future;

/// `f`, or a panic after 20 s.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    future::or(f, async {
        smol::Timer::after(Duration::from_secs(20)).await;
        panic!("timed out");
    })
    .await
}

fn spawn(config: RpcConfig) -> DhtNode {
    let (node, drivers) = bind_dht("127.0.0.1:0".parse().unwrap(), smol::Timer::after, config)
        .expect("bind a DHT node");
    for d in drivers {
        smol::spawn(d).detach();
    }
    node
}

/// A local DHT of three persistent nodes (as a testnet has, to store and relay), and the
/// config that bootstraps from it.
async fn local_dht() -> (Vec<DhtNode>, RpcConfig) {
    let boot = spawn(RpcConfig {
        persistent: true,
        ..RpcConfig::default()
    });
    let config = RpcConfig {
        bootstrap: vec![boot.local_addr().unwrap()],
        ..RpcConfig::default()
    };
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
    let mut net = vec![boot];
    net.extend(relays);
    (net, config)
}

#[test]
fn futures_dht_nodes_connect_by_public_key() {
    smol::block_on(async {
        let (_net, config) = local_dht().await;
        let server = spawn(config.clone());
        let client = spawn(config);
        server.bootstrapped().await;
        client.bootstrapped().await;
        assert!(client.table_len() >= 1, "the client knows the network");

        let server_key = KeyPair::from_seed([0x21; 32]);
        let client_key = KeyPair::from_seed([0x22; 32]);
        server.listen(server_key.clone()).await.expect("announced");
        let (dialled, accepted) = within(future::zip(
            client.connect(client_key.clone(), server_key.public_key),
            server.accept(),
        ))
        .await;
        let dialled = dialled.expect("connected");
        assert_eq!(dialled.connection.remote_public_key, server_key.public_key);
        assert_eq!(accepted.connection.remote_public_key, client_key.public_key);
    });
}

#[test]
fn futures_swarms_find_each_other_by_topic_and_replicate() {
    smol::block_on(async {
        let (_net, config) = local_dht().await;
        let options = LogOptions {
            key_pair: Some(ferrocore::keys::KeyPair::from_seed(&[7; 32])),
            ..LogOptions::default()
        };
        let log = Log::open(MemoryStorage::new(), options).unwrap();
        let core_key = *log.key();
        let topic = ferrocore::hash::discovery_key(&core_key);
        let (writer, driver) = Node::new(EndpointConfig::default(), smol::Timer::after).unwrap();
        smol::spawn(driver).detach();
        let writer_core = writer.add_core(log).await.unwrap();
        let blocks: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 1000])).collect();
        writer.append(writer_core, blocks.clone()).await.unwrap();

        let swarm_of = |dht, seed| {
            swarm::new(
                dht,
                KeyPair::from_seed([seed; 32]),
                |t| smol::spawn(t).detach(),
                smol::Timer::after,
            )
        };
        let writer_dht = spawn(config.clone());
        writer_dht.bootstrapped().await;
        let writer_swarm = swarm_of(writer_dht, 0x31);
        let server = JoinOptions {
            client: false,
            ..JoinOptions::default()
        };
        writer_swarm.join(topic, server).await;
        assert!(
            writer_swarm.flush().await,
            "the writer's topic is announced"
        );

        let reader_dht = spawn(config);
        reader_dht.bootstrapped().await;
        let reader_swarm = swarm_of(reader_dht, 0x32);
        let client = JoinOptions {
            server: false,
            ..JoinOptions::default()
        };
        reader_swarm.join(topic, client).await;
        let (incoming, outgoing) = within(future::zip(
            writer_swarm.connection(),
            reader_swarm.connection(),
        ))
        .await;
        assert!(!incoming.is_initiator && outgoing.is_initiator);
        assert_eq!(
            outgoing.remote_public_key,
            KeyPair::from_seed([0x31; 32]).public_key
        );
        assert_eq!(outgoing.topics, vec![topic]);
        let served = writer
            .add_dht_connection(incoming.connection)
            .await
            .unwrap();
        smol::spawn(served).detach();

        let (reader, driver) = Node::new(EndpointConfig::default(), smol::Timer::after).unwrap();
        smol::spawn(driver).detach();
        let options = LogOptions {
            key: Some(core_key),
            ..LogOptions::default()
        };
        let reader_core = reader
            .add_core(Log::open(MemoryStorage::new(), options).unwrap())
            .await
            .unwrap();
        let fetching = reader
            .add_dht_connection(outgoing.connection)
            .await
            .unwrap();
        smol::spawn(fetching).detach();
        for (i, want) in blocks.iter().enumerate() {
            let got = within(reader.get(reader_core, i as u64, None))
                .await
                .unwrap();
            assert_eq!(&got[..], &want[..], "block {i}");
        }
    });
}

/// Counts a spawned task as running until it ends (or is dropped).
struct Running(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn a_swarm_whose_handles_are_dropped_ends_its_tasks() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    smol::block_on(async {
        let (_net, config) = local_dht().await;
        let dht = spawn(config);
        dht.bootstrapped().await;
        let running = Arc::new(AtomicUsize::new(0));
        let count = running.clone();
        let swarm = swarm::new(
            dht,
            KeyPair::from_seed([0x41; 32]),
            move |t| {
                count.fetch_add(1, Ordering::SeqCst);
                let guard = Running(count.clone());
                smol::spawn(async move {
                    t.await;
                    drop(guard);
                })
                .detach();
            },
            smol::Timer::after,
        );
        let client = JoinOptions {
            server: false,
            ..JoinOptions::default()
        };
        swarm.join([9; 32], client).await;
        assert!(swarm.flush().await);
        assert!(running.load(Ordering::SeqCst) >= 1, "the actor runs");
        drop(swarm);
        within(async {
            while running.load(Ordering::SeqCst) > 0 {
                smol::Timer::after(Duration::from_millis(10)).await;
            }
        })
        .await;
    });
}
