//! Hyperdrive on Tokio: the same driving loop as every adapter, awaited. Concurrent
//! writers on one drive take turns (every file whole, in one of the orders), a write
//! stream and a listing stream work as streams, and a sparse clone over loopback TCP
//! reads a range of a file fetching only the blocks it covers.

use std::future::poll_fn;
use std::pin::Pin;

use bytes::Bytes;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_corestore::PrimaryKey;
use ferrocore_hyperdrive::keys::DriveKeys;
use ferrocore_tokio::drive::{
    Drive, DriveNode, DriveOptions, ListOptions, PutOptions, ReadOptions, WriteStreamOptions,
};
use ferrocore_tokio::Node;
use futures_core::Stream;

async fn open(node: &Node<MemoryStorage>, keys: &DriveKeys, write: bool) -> Drive<MemoryStorage> {
    let log = |key, manifest| {
        let options = LogOptions {
            key_pair: write.then(|| keys.key_pair.clone()),
            key: Some(key),
            manifest: Some(manifest),
            ..LogOptions::default()
        };
        Log::open(MemoryStorage::new(), options).unwrap()
    };
    let db = node
        .add_core(log(keys.key, keys.db_manifest.clone()))
        .await
        .unwrap();
    let blobs = node
        .add_core(log(keys.content_key, keys.content_manifest.clone()))
        .await
        .unwrap();
    Drive::open(node, db, blobs, DriveOptions::default())
        .await
        .unwrap()
}

fn file(i: u8) -> Bytes {
    vec![i; 70_000 + usize::from(i) * 1000].into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_take_turns_and_a_sparse_clone_reads_a_range() {
    let keys = DriveKeys::from_primary_key(&PrimaryKey::from_bytes([3; 32]));
    let node = Node::new(EndpointConfig::default()).unwrap();
    let drive = open(&node, &keys, true).await;
    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let d = drive.clone();
            tokio::spawn(async move {
                d.put(&format!("/f/{i}"), file(i), PutOptions::default())
                    .await
                    .unwrap();
            })
        })
        .collect();
    // A write stream alongside them.
    let mut w = drive
        .writer("/stream.bin", WriteStreamOptions::default())
        .await
        .unwrap();
    for c in 0..5u8 {
        w.write(vec![c; 65_536].into()).await.unwrap();
    }
    w.finish().await.unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..8u8 {
        assert_eq!(drive.get(&format!("/f/{i}")).await.unwrap(), Some(file(i)));
    }
    let mut list = drive.list("/", ListOptions::default());
    let mut paths = Vec::new();
    while let Some(n) = poll_fn(|cx| Pin::new(&mut list).poll_next(cx)).await {
        let n: DriveNode = n.unwrap();
        paths.push(n.path);
    }
    assert_eq!(paths.len(), 9);
    assert!(paths.windows(2).all(|w| w[0] < w[1]), "{paths:?}");

    let addr = node.listen("127.0.0.1:0").await.unwrap();
    let reader = Node::new(EndpointConfig::default()).unwrap();
    let clone = open(&reader, &keys, false).await;
    reader.connect(addr).await.unwrap();
    clone.update().await.unwrap();
    let range = ReadOptions {
        start: Some(65_536 * 2 + 10),
        length: Some(100),
        ..ReadOptions::default()
    };
    let got = clone
        .read_stream("/stream.bin", range)
        .collect()
        .await
        .unwrap();
    assert_eq!(got.concat(), vec![2u8; 100]);
    let blobs = clone.blobs();
    let held = reader
        .with_endpoint(move |ep| {
            let log = ep.log(blobs).unwrap();
            log.bitfield().count(0, log.length())
        })
        .await
        .unwrap();
    assert_eq!(held, 1, "one blobs block: the one the range lies in");
}
