//! The `hyperbee` extension between two ferrocore nodes over loopback TCP: a sparse
//! reader's `get` broadcasts `Get{version, key}` when it waits, the writer answers with the
//! `Cache` replies its responder builds, a `Cache` makes the reader download the blocks it
//! names, and garbage, oversized or out-of-range requests get nothing.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::replication::{CoreId, Event, SessionId};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::bee::{Extension, ExtensionCache, ExtensionGet, ExtensionIterator};
use ferrocore::{Log, LogOptions};
use ferrocore_hyperbee::ext::{self, Responder, MAX_ACTIVE_BATCH};
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_tokio::bee::{Bee, BeeOptions, Op};
use ferrocore_tokio::{Events, Node};

type Store = MemoryStorage;

const KEYS: u32 = 3000;

fn key_of(i: u32) -> String {
    format!("{:05}", (i * 7919) % KEYS)
}

struct Pair {
    writer: Node<Store>,
    wcore: CoreId,
    reader: Node<Store>,
    rcore: CoreId,
    /// The writer's session with the reader.
    session: SessionId,
    blocks: Vec<Bytes>,
    /// The writer's bee (its responder lives as long as it does).
    _bee: Bee<Store>,
}

/// A writer node holding a bee of [`KEYS`] keys (built by `MemBee`, in batches of 100)
/// with its bee open, and a reader node paired with it on an empty clone of the core.
async fn pair(seed: u8) -> Pair {
    let mut model = MemBee::new();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        let ops = chunk
            .iter()
            .map(|&i| Op::put(key_of(i), Some(Bytes::from("v"))));
        model.batch(ops.collect()).unwrap();
    }
    let blocks = model.blocks;
    assert_eq!(blocks.len() as u64, 1 + u64::from(KEYS));
    let key_pair = KeyPair::from_seed(&[seed; 32]);
    let key = core_key(&default_manifest(&key_pair.public_key), false).unwrap();
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(key_pair),
            key: Some(key),
            ..LogOptions::default()
        },
    )
    .unwrap();
    log.append_bytes(blocks.clone()).unwrap();
    let writer = Node::new(Default::default()).unwrap();
    let wcore = writer.add_core(log).await.unwrap();
    let bee = Bee::open(&writer, wcore, BeeOptions::default())
        .await
        .unwrap();
    // The reader: an empty clone, connected over loopback.
    let reader = Node::new(Default::default()).unwrap();
    let empty = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let rcore = reader.add_core(Log::open(Store::new(), empty).unwrap());
    let rcore = rcore.await.unwrap();
    let addr = writer.listen("127.0.0.1:0").await.unwrap();
    reader.connect(addr).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let session = loop {
        let peers = writer
            .with_endpoint(move |ep| ep.peers(wcore))
            .await
            .unwrap();
        if let Some(&s) = peers.first() {
            break s;
        }
        assert!(Instant::now() < deadline, "the reader never paired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Pair {
        writer,
        wcore,
        reader,
        rcore,
        session,
        blocks,
        _bee: bee,
    }
}

/// The `hyperbee` messages that arrive at a node within `wait`.
async fn messages(events: &Events, wait: Duration) -> Vec<Extension> {
    let mut out = Vec::new();
    let end = Instant::now() + wait;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Ok(Event::Extension { name, message, .. })) if name == ext::NAME => {
                out.push(ext::decode_message(&message).expect("a hyperbee message"));
            }
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    out
}

async fn held(node: &Node<Store>, core: CoreId, blocks: Vec<u64>) -> Vec<u64> {
    node.with_endpoint(move |ep| {
        let log = ep.log(core).unwrap();
        blocks.into_iter().filter(|&b| log.has_block(b)).collect()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_get_asks_and_the_writer_answers_its_path() {
    let p = pair(21).await;
    let length = p.blocks.len() as u64;
    let wevents = p.writer.events();
    let revents = p.reader.events();
    let options = BeeOptions {
        timeout: Some(Duration::from_secs(20)),
        ..BeeOptions::default()
    };
    let clone = Bee::open(&p.reader, p.rcore, options).await.unwrap();
    assert_eq!(clone.update().await.unwrap(), length);
    let k = key_of(1234);
    let got = clone.get(k.clone()).await.unwrap().unwrap();
    assert_eq!(got.key, k.as_bytes());

    // The reader asked once, as JS: Get{version, key}.
    let asked = messages(&wevents, Duration::from_millis(300)).await;
    let want = ext::get_request(length, &Bytes::from(k.clone()));
    assert_eq!(asked, vec![want.clone()]);
    // The writer answered with its responder's replies: the get's path, root first.
    let answered = messages(&revents, Duration::from_millis(300)).await;
    let blocks = p.blocks.clone();
    let replies = Responder::for_message(&want, length)
        .pop()
        .unwrap()
        .run(|s| blocks.get(s as usize).cloned());
    assert!(!replies.is_empty());
    assert_eq!(replies[0].blocks[0], length - 1);
    let replies: Vec<Extension> = replies
        .into_iter()
        .map(|c| Extension {
            cache: Some(c),
            ..Extension::default()
        })
        .collect();
    assert_eq!(answered, replies);
    // A get with nothing to wait for asks nothing.
    assert!(clone.get(k).await.unwrap().is_some());
    assert!(messages(&wevents, Duration::from_millis(200))
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_reply_downloads_the_blocks_it_names() {
    let p = pair(22).await;
    let length = p.blocks.len() as u64;
    let clone = Bee::open(&p.reader, p.rcore, BeeOptions::default())
        .await
        .unwrap();
    assert_eq!(clone.update().await.unwrap(), length);
    let named = vec![10, 700, 2500, 42];
    let cache = Extension {
        cache: Some(ExtensionCache {
            start: 10,
            end: 2501,
            blocks: [named.clone(), vec![length + 5, 700]].concat(),
        }),
        ..Extension::default()
    };
    p.writer
        .send_extension(p.session, p.wcore, ext::NAME, ext::encode_message(&cache))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while held(&p.reader, p.rcore, named.clone()).await.len() < named.len() {
        assert!(Instant::now() < deadline, "never downloaded {named:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only those (and what the bee read to open: its header).
    let all: Vec<u64> = (0..length).collect();
    let mut have = held(&p.reader, p.rcore, all).await;
    have.retain(|&b| b != 0);
    have.sort_unstable();
    assert_eq!(have, vec![10, 42, 700, 2500]);
    assert_eq!(clone.stats().fetched, 1, "the header only was read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_from_peers_cost_bounded_work() {
    let p = pair(23).await;
    let length = p.blocks.len() as u64;
    // The reader's node is the requester here: no bee on it, so nothing answers it.
    let revents = p.reader.events();
    let send = |m: Vec<u8>| {
        let (reader, core) = (p.reader.clone(), p.rcore);
        async move {
            let s = reader
                .with_endpoint(move |ep| ep.peers(core))
                .await
                .unwrap()[0];
            reader.send_extension(s, core, ext::NAME, m).await.unwrap();
        }
    };
    let get = |version| Extension {
        get: Some(ExtensionGet {
            version,
            key: Some(Bytes::from(key_of(7))),
        }),
        ..Extension::default()
    };
    // Garbage, a version of 0 or past ours, an oversized message, a bad checkpoint.
    send(vec![0xff, 0xff, 0xff]).await;
    send(get(Some(length)).encode()).await; // without hypercore's length prefix
    send(ext::encode_message(&get(Some(0)))).await;
    send(ext::encode_message(&get(Some(length + 1)))).await;
    send(ext::encode_message(&get(None))).await;
    let mut big = get(Some(length));
    big.get.as_mut().unwrap().key =
        Some(Bytes::from(vec![b'k'; ferrocore_tokio::bee::MAX_MESSAGE]));
    send(ext::encode_message(&big)).await;
    let cp = Extension {
        iterator: Some(ExtensionIterator {
            version: Some(length),
            checkpoint: vec![u64::MAX; 9],
            ..ExtensionIterator::default()
        }),
        ..Extension::default()
    };
    send(ext::encode_message(&cp)).await;
    assert!(messages(&revents, Duration::from_millis(500))
        .await
        .is_empty());

    // A whole-bee range gets the active batch's worth of blocks, framed by 128.
    let all = Extension {
        iterator: Some(ExtensionIterator {
            version: Some(length),
            limit: Some(0),
            ..ExtensionIterator::default()
        }),
        ..Extension::default()
    };
    send(ext::encode_message(&all)).await;
    let replies = messages(&revents, Duration::from_secs(2)).await;
    let count: usize = replies
        .iter()
        .map(|m| m.cache.as_ref().unwrap().blocks.len())
        .sum();
    assert!(
        (MAX_ACTIVE_BATCH..MAX_ACTIVE_BATCH + 100).contains(&count),
        "{count}"
    );
    assert!(replies
        .iter()
        .all(|m| m.cache.as_ref().unwrap().blocks.len() <= 128));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_is_answered_at_the_bees_rate() {
    use ferrocore_tokio::bee::{MESSAGES_PER_SECOND, MESSAGE_BURST};
    let p = pair(24).await;
    let length = p.blocks.len() as u64;
    let revents = p.reader.events();
    let session = p
        .reader
        .with_endpoint({
            let core = p.rcore;
            move |ep| ep.peers(core)[0]
        })
        .await
        .unwrap();
    let request = ext::encode_message(&ext::get_request(length, &Bytes::from(key_of(9))));
    let started = Instant::now();
    let sent = 3 * MESSAGE_BURST as usize;
    for _ in 0..sent {
        p.reader
            .send_extension(session, p.rcore, ext::NAME, request.clone())
            .await
            .unwrap();
    }
    let replies = messages(&revents, Duration::from_millis(500)).await.len();
    let took = started.elapsed().as_secs_f64();
    let most = MESSAGE_BURST as f64 + f64::from(MESSAGES_PER_SECOND) * took + 1.0;
    eprintln!("{sent} requests in {took:.2} s: {replies} replies");
    assert!(replies >= MESSAGE_BURST as usize, "{replies}");
    assert!((replies as f64) <= most, "{replies} > {most}");
}
