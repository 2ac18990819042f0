//! The live reads of a bee on Tokio, as streams: a watcher of a range while a task
//! writes, `get_and_watch` of one key, the live history, a sparse replica watching a
//! remote writer over loopback TCP (through truncation), and `clear_unlinked`.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::MemoryStorage;
use ferrocore_tokio::bee::{
    Bee, BeeOptions, Check, ClearOptions, HistoryOptions, KeyRange, Live, RangeOptions,
};
use ferrocore_tokio::Node;
use futures_core::Stream;

async fn writer(seed: u8) -> (Node<MemoryStorage>, CoreId, [u8; 32]) {
    let log = ferrocore_tests::hostile::writer_log([seed; 32], &[]);
    let key = *log.key();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).await.unwrap();
    (node, core, key)
}

/// The stream's next item within `ms` milliseconds (through `Stream::poll_next`).
async fn within<C: Check + Unpin>(live: &mut Live<C>, ms: u64) -> Option<C::Item> {
    let next = poll_fn(|cx| Pin::new(&mut *live).poll_next(cx));
    match tokio::time::timeout(Duration::from_millis(ms), next).await {
        Ok(item) => Some(item.unwrap().unwrap()),
        Err(_) => None,
    }
}

fn range(gte: &str, lt: &str) -> KeyRange {
    KeyRange {
        gte: Some(Bytes::copy_from_slice(gte.as_bytes())),
        lt: Some(Bytes::copy_from_slice(lt.as_bytes())),
        ..KeyRange::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_streams_the_changes_a_writing_task_makes_in_its_range() {
    let (node, core, _) = writer(11).await;
    let bee: Bee<_> = Bee::open(&node, core, BeeOptions::default()).await.unwrap();
    bee.put("m", "0").await.unwrap();
    let mut watch = bee.watch(range("k", "l")).await.unwrap();
    let mut entry = bee.get_and_watch("k05").await.unwrap();
    assert_eq!(entry.state().unwrap().entry(), None);
    let mut history = bee.history_live(HistoryOptions {
        gte: Some(-1),
        ..HistoryOptions::default()
    });
    assert_eq!(within(&mut history, 5000).await.unwrap().entry.key, "m");
    let w = bee.clone();
    let task = tokio::spawn(async move {
        for i in 0..10 {
            w.put(format!("k{i:02}"), "v").await.unwrap();
            w.put(format!("x{i:02}"), "outside").await.unwrap();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        w.version()
    });
    let mut last = 0;
    while let Some(c) = within(&mut watch, 500).await {
        assert!(c.current > c.previous && c.previous >= last && !c.truncated);
        last = c.current;
    }
    let end = task.await.unwrap();
    assert!(last >= end - 1, "last change at {last} of {end}");
    // The key's watcher saw its one put.
    let e = within(&mut entry, 5000).await.unwrap().unwrap();
    assert_eq!(e.key, "k05");
    assert!(within(&mut entry, 100).await.is_none());
    // The live history yields all twenty writes, in order.
    let mut seqs = Vec::new();
    while let Some(e) = within(&mut history, 500).await {
        seqs.push(e.entry.seq);
    }
    assert_eq!(seqs, (2..end).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparse_replica_watches_a_remote_writer_through_a_truncation() {
    let (wnode, wcore, key) = writer(12).await;
    let bee: Bee<_> = Bee::open(&wnode, wcore, BeeOptions::default())
        .await
        .unwrap();
    for i in 0..30 {
        bee.put(format!("k{i:02}"), "v").await.unwrap();
    }
    let addr = wnode.listen("127.0.0.1:0").await.unwrap();
    let reader = Node::new(EndpointConfig::default()).unwrap();
    let rcore = reader
        .add_core(ferrocore_tests::memory_reader(key))
        .await
        .unwrap();
    reader.connect(addr).await.unwrap();
    let clone: Bee<_> = Bee::open(&reader, rcore, BeeOptions::default())
        .await
        .unwrap();
    assert_eq!(clone.update().await.unwrap(), 31);
    let mut watch = clone.watch(range("k", "l")).await.unwrap();
    bee.put("k07", "new").await.unwrap();
    let c = within(&mut watch, 10_000).await.unwrap();
    assert_eq!((c.previous, c.current, c.truncated), (31, 32, false));
    // The writer truncates and writes again: the replica adopts the new fork and its
    // watcher reports it.
    wnode.truncate(wcore, 31).await.unwrap();
    bee.put("k08", "after").await.unwrap();
    let c = within(&mut watch, 10_000).await.unwrap();
    assert!(c.truncated, "{c:?}");
    // Reads see the new fork, not blocks of the old one still cached.
    let value = |e: Option<ferrocore_tokio::bee::Entry>| e.unwrap().value.unwrap();
    assert_eq!(value(clone.get("k07").await.unwrap()), "v");
    assert_eq!(value(clone.get("k08").await.unwrap()), "after");
    assert!(clone.stats().fetched < 20, "{:?}", clone.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_unlinked_leaves_the_answers_and_clears_the_history() {
    let (node, core, _) = writer(13).await;
    let bee: Bee<_> = Bee::open(&node, core, BeeOptions::default()).await.unwrap();
    for i in 0..200u32 {
        bee.put(format!("k{:02}", i % 25), i.to_string())
            .await
            .unwrap();
    }
    let all = bee.range(RangeOptions::default()).collect().await.unwrap();
    let cleared = bee.clear_unlinked(ClearOptions::default()).await.unwrap();
    // 200 puts over 25 keys: the last put of each key and the tree's nodes stay.
    assert!(cleared.blocks >= 150, "{cleared:?}");
    let fresh: Bee<_> = Bee::open(
        &node,
        core,
        BeeOptions {
            fetch: false,
            ..BeeOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        fresh
            .range(RangeOptions::default())
            .collect()
            .await
            .unwrap(),
        all
    );
    assert!(fresh.get_by_seq(1).await.is_err());
}
