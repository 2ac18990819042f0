//! Hyperbee on Tokio: the same driving loop as every adapter, awaited. Writes on a store
//! core match `testing::MemBee` block for block, concurrent writers take turns, and a
//! sparse clone over loopback TCP streams a range of a 2,000-key bee fetching only the
//! blocks it reaches.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::{hash, Log, LogOptions};
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_hyperbee::BeeConfig;
use ferrocore_storage::{Store, StoreOptions};
use ferrocore_tests::sim::Rng;
use ferrocore_tokio::bee::{Bee, BeeOptions, Entry, Op, RangeOptions};
use ferrocore_tokio::Node;
use futures_core::Stream;

fn writable(seed: u8) -> (KeyPair, [u8; 32]) {
    let key_pair = KeyPair::from_seed(&[seed; 32]);
    let key = core_key(&default_manifest(&key_pair.public_key), false).unwrap();
    (key_pair, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_a_store_core_match_membee_and_concurrent_writers_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("cores.redb"), StoreOptions::default()).unwrap();
    let (key_pair, key) = writable(9);
    let options = LogOptions {
        key_pair: Some(key_pair),
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&hash::discovery_key(&key)), options).unwrap();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).await.unwrap();
    let bee: Bee<_> = Bee::open(&node, core, BeeOptions::default()).await.unwrap();
    let mut model = MemBee::new();
    let mut rng = Rng::new(4);
    for round in 0..150u32 {
        let k = format!("{:02}", rng.below(60));
        if rng.below(4) == 0 {
            assert_eq!(
                bee.del(k.clone()).await.unwrap(),
                model.del(k.as_bytes()).applied[0]
            );
        } else if round % 10 == 0 {
            let ops = |k: &str| vec![Op::put(k.to_owned(), None), Op::del(format!("{k}x"))];
            assert_eq!(
                bee.batch(ops(&k)).await.unwrap(),
                model.batch(ops(&k)).unwrap()
            );
        } else {
            bee.put(k.clone(), round.to_string()).await.unwrap();
            model.put(k.as_bytes(), Some(round.to_string().as_bytes()));
        }
    }
    let length = node.info(core).await.unwrap().length;
    let mut blocks = Vec::new();
    for i in 0..length {
        blocks.push(node.get(core, i, None).await.unwrap());
    }
    assert_eq!(blocks, model.blocks);
    let all: Vec<Entry> = bee.range(RangeOptions::default()).collect().await.unwrap();
    assert_eq!(all, model.range(RangeOptions::default(), None).unwrap());

    // Eight tasks writing at once: every write lands, and the core is a well-formed bee.
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let bee = bee.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    bee.put(format!("t{t}-{i:02}"), "v").await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let length = node.info(core).await.unwrap().length;
    let mut blocks = Vec::new();
    for i in 0..length {
        blocks.push(node.get(core, i, None).await.unwrap());
    }
    let mut reread = MemBee::from_blocks(blocks, BeeConfig::default());
    let from_t = RangeOptions {
        gte: Some("t".into()),
        ..RangeOptions::default()
    };
    let got: Vec<Entry> = bee.range(from_t.clone()).collect().await.unwrap();
    assert_eq!(got.len(), 160);
    assert_eq!(got, reread.range(from_t, None).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_clone_streams_a_range_fetching_only_what_it_reaches() {
    let (key_pair, key) = writable(10);
    let writer = Node::new(EndpointConfig::default()).unwrap();
    let options = LogOptions {
        key_pair: Some(key_pair),
        key: Some(key),
        ..LogOptions::default()
    };
    let core = writer
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .await
        .unwrap();
    let bee = Bee::open(&writer, core, BeeOptions::default())
        .await
        .unwrap();
    for chunk in (0..2000u32).collect::<Vec<_>>().chunks(500) {
        let ops = chunk
            .iter()
            .map(|k| Op::put(format!("{:04}", (k * 7919) % 2000), Some(Bytes::from("x"))))
            .collect();
        bee.batch(ops).await.unwrap();
    }
    let addr = writer.listen("127.0.0.1:0").await.unwrap();

    let reader = Node::new(EndpointConfig::default()).unwrap();
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let rcore = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .await
        .unwrap();
    reader.connect(addr).await.unwrap();
    let options = BeeOptions {
        timeout: Some(Duration::from_secs(20)),
        ..BeeOptions::default()
    };
    let clone = Bee::open(&reader, rcore, options).await.unwrap();
    let length = clone.update().await.unwrap();
    assert_eq!(length, 2001);
    let mut range = clone.range(RangeOptions {
        lte: Some("1200".into()),
        reverse: true,
        limit: Some(150),
        ..RangeOptions::default()
    });
    let mut seen = Vec::new();
    while let Some(e) = poll_fn(|cx| Pin::new(&mut range).poll_next(cx)).await {
        seen.push(e.unwrap().key);
    }
    let want: Vec<Bytes> = (1051..=1200)
        .rev()
        .map(|k| format!("{k:04}").into())
        .collect();
    assert_eq!(seen, want);
    // Block 1500 wrote the 1500th key: absent at version 1000, there now.
    let late = format!("{:04}", (1499 * 7919) % 2000);
    assert_eq!(clone.get(late.clone()).await.unwrap().unwrap().seq, 1500);
    assert_eq!(clone.checkout(1000).get(late).await.unwrap(), None);
    let fetched = clone.stats().fetched;
    eprintln!("sparse clone: fetched {fetched} of {length} blocks");
    assert!(
        fetched < length / 5,
        "fetched {fetched} of {length} blocks for a 150-entry range"
    );
}
