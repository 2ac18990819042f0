//! The blocking swarm: a writer and a reader join a core's discovery key on a local DHT
//! of `bind_dht` nodes (three persistent, as a testnet's), find each other and replicate
//! the core.

use std::thread;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::KeyPair as NoiseKeyPair;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_blocking::swarm::{JoinOptions, Swarm};
use ferrocore_blocking::Node;
use futures_lite::future::block_on;

const WAIT: Duration = Duration::from_secs(30);

fn local_dht() -> (Vec<DhtNode>, RpcConfig) {
    let boot = bind_dht(
        "127.0.0.1:0",
        RpcConfig {
            persistent: true,
            ..RpcConfig::default()
        },
    )
    .unwrap();
    let config = RpcConfig {
        bootstrap: vec![boot.local_addr().unwrap()],
        ..RpcConfig::default()
    };
    let mut nodes = vec![boot];
    for _ in 0..2 {
        let persistent = RpcConfig {
            persistent: true,
            ..config.clone()
        };
        nodes.push(bind_dht("127.0.0.1:0", persistent).unwrap());
    }
    for n in &nodes[1..] {
        block_on(n.bootstrapped());
    }
    (nodes, config)
}

#[test]
fn blocking_swarms_find_each_other_by_topic_and_replicate() {
    let (_net, config) = local_dht();
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let core_key = *log.key();
    let topic = ferrocore::hash::discovery_key(&core_key);
    let writer =
        Node::with_key_pair(EndpointConfig::default(), NoiseKeyPair::from_seed([1; 32])).unwrap();
    let writer_core = writer.add_core(log).unwrap();
    let blocks: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 1000])).collect();
    writer.append(writer_core, blocks.clone()).unwrap();

    let writer_dht = bind_dht("127.0.0.1:0", config.clone()).unwrap();
    block_on(writer_dht.bootstrapped());
    let writer_key = NoiseKeyPair::from_seed([0x31; 32]);
    let writer_swarm = Swarm::new(writer_dht, writer_key.clone());
    writer_swarm.join(
        topic,
        JoinOptions {
            server: true,
            client: false,
            ..JoinOptions::default()
        },
    );
    assert!(writer_swarm.flush(), "the writer's topic is announced");
    let serving = thread::spawn(move || {
        let c = writer_swarm.connection().expect("a connection");
        assert!(!c.is_initiator);
        writer.add_dht_connection(c.connection).unwrap();
        (writer, writer_swarm)
    });

    let reader_dht = bind_dht("127.0.0.1:0", config).unwrap();
    block_on(reader_dht.bootstrapped());
    let reader_swarm = Swarm::new(reader_dht, NoiseKeyPair::from_seed([0x32; 32]));
    reader_swarm.join(
        topic,
        JoinOptions {
            server: false,
            client: true,
            ..JoinOptions::default()
        },
    );
    let c = reader_swarm.connection().expect("a connection");
    assert!(c.is_initiator);
    assert_eq!(c.remote_public_key, writer_key.public_key);
    assert_eq!(c.topics, vec![topic]);
    let reader =
        Node::with_key_pair(EndpointConfig::default(), NoiseKeyPair::from_seed([2; 32])).unwrap();
    let options = LogOptions {
        key: Some(core_key),
        ..LogOptions::default()
    };
    let reader_core = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .unwrap();
    reader.add_dht_connection(c.connection).unwrap();
    for (i, want) in blocks.iter().enumerate() {
        let got = reader.get(reader_core, i as u64, Some(WAIT)).unwrap();
        assert_eq!(&got[..], &want[..], "block {i}");
    }
    let _kept = serving.join().unwrap();
}
