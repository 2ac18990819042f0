//! Real TCP on 127.0.0.1: download, get, live appends, and data relayed by a second reader.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::{
    CoreId, EndpointConfig, Event, RequestError, SessionError, TransportError,
};
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_tokio::{Error, Node};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(5);

fn block(i: u64) -> Bytes {
    Bytes::from(format!("block {i}"))
}

async fn writer(blocks: u64) -> (Node<MemoryStorage>, CoreId, [u8; 32]) {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[9; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).await.unwrap();
    let length = node
        .append(core, (0..blocks).map(block).collect())
        .await
        .unwrap();
    assert_eq!(length, blocks);
    (node, core, key)
}

async fn reader(key: [u8; 32]) -> (Node<MemoryStorage>, CoreId) {
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).await.unwrap();
    (node, core)
}

/// Waits for `Verified` events of every index in `want`.
async fn verified(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    want: std::ops::Range<u64>,
) {
    let mut missing: BTreeSet<u64> = want.collect();
    while !missing.is_empty() {
        match events.recv().await {
            Ok(Event::Verified { index, .. }) => {
                missing.remove(&index);
            }
            Ok(_) => {}
            Err(RecvError::Lagged(_)) => panic!("subscriber lagged"),
            Err(RecvError::Closed) => panic!("node gone"),
        }
    }
}

#[tokio::test]
async fn download_get_and_live() {
    timeout(LIMIT, async {
        let (writer, wcore, key) = writer(200).await;
        let addr = writer.listen("127.0.0.1:0").await.unwrap();
        let (reader, rcore) = reader(key).await;
        let mut events = reader.events();
        reader.connect(addr).await.unwrap();

        let download = reader.download(rcore, 0, Some(200)).await.unwrap();
        download.await.unwrap();
        let info = reader.info(rcore).await.unwrap();
        assert_eq!((info.length, info.contiguous_length), (200, 200));
        assert!(!info.writable);
        assert_eq!(info.peers, 1);
        for i in 0..200 {
            assert_eq!(reader.get(rcore, i, None).await.unwrap(), block(i));
        }

        // Live: a download without end sees new blocks as they are appended.
        let live = reader.download(rcore, 0, None).await.unwrap();
        let appended = writer
            .append(wcore, (200..205).map(block).collect())
            .await
            .unwrap();
        assert_eq!(appended, 205);
        verified(&mut events, 200..205).await;
        assert_eq!(reader.get(rcore, 204, None).await.unwrap(), block(204));

        // A get past the end resolves once the block is appended.
        let pending = tokio::spawn({
            let reader = reader.clone();
            async move { reader.get(rcore, 207, None).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!pending.is_finished());
        writer
            .append(wcore, (205..208).map(block).collect())
            .await
            .unwrap();
        assert_eq!(pending.await.unwrap().unwrap(), block(207));

        // A get with a timeout past the end fails with `Timeout`.
        let err = reader
            .get(rcore, 1000, Some(Duration::from_millis(50)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::Timeout)),
            "{err}"
        );

        live.cancel();
        let err = live.await.unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::Cancelled)),
            "{err}"
        );

        // Dropping a download handle cancels the download.
        let dropped = reader.download(rcore, 0, None).await.unwrap();
        let id = dropped.request();
        drop(dropped);
        loop {
            if let Event::Download {
                request, result, ..
            } = events.recv().await.unwrap()
            {
                if request == id {
                    assert_eq!(result, Err(RequestError::Cancelled));
                    break;
                }
            }
        }

        let endpoint = reader.shutdown().await.unwrap();
        assert_eq!(endpoint.log(rcore).unwrap().length(), 208);
        assert!(matches!(reader.info(rcore).await, Err(Error::Shutdown)));
        writer.shutdown().await.unwrap();
    })
    .await
    .expect("test took too long");
}

#[tokio::test]
async fn relayed_by_a_second_reader() {
    timeout(LIMIT, async {
        let (writer, wcore, key) = writer(200).await;
        let waddr = writer.listen("127.0.0.1:0").await.unwrap();

        // A downloads everything from the writer, then serves B.
        let (a, acore) = reader(key).await;
        a.connect(waddr).await.unwrap();
        a.download(acore, 0, Some(200))
            .await
            .unwrap()
            .await
            .unwrap();
        let aaddr = a.listen("127.0.0.1:0").await.unwrap();

        let (b, bcore) = reader(key).await;
        b.connect(aaddr).await.unwrap();
        b.download(bcore, 0, Some(200))
            .await
            .unwrap()
            .await
            .unwrap();
        for i in [0, 99, 199] {
            assert_eq!(b.get(bcore, i, None).await.unwrap(), block(i));
        }
        // B never talked to the writer.
        let writer_peers = writer.info(wcore).await.unwrap().peers;
        assert_eq!(writer_peers, 1);
        assert_eq!(b.info(bcore).await.unwrap().peers, 1);

        // Live through the relay: the writer appends, A follows live, B gets it from A.
        let _a_live = a.download(acore, 0, None).await.unwrap();
        let pending = tokio::spawn({
            let b = b.clone();
            async move { b.get(bcore, 202, None).await }
        });
        writer
            .append(wcore, (200..203).map(block).collect())
            .await
            .unwrap();
        assert_eq!(pending.await.unwrap().unwrap(), block(202));
    })
    .await
    .expect("test took too long");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_node() {
    timeout(LIMIT, async {
        let (writer, _, key) = writer(3).await;
        let addr = writer.listen("127.0.0.1:0").await.unwrap();
        let (reader, rcore) = reader(key).await;
        let mut events = reader.events();
        reader.connect(addr).await.unwrap();
        assert_eq!(reader.get(rcore, 2, None).await.unwrap(), block(2));
        drop(writer);
        // The writer closed its connection in order; the reader sees the session end.
        loop {
            if let Event::Closed { error, .. } = events.recv().await.unwrap() {
                // The writer ended in order; the reader sees that, or a reset when the writer's
                // socket closed with the reader's last bytes unread.
                assert!(
                    matches!(
                        error,
                        Some(
                            SessionError::RemoteEnded
                                | SessionError::Transport(TransportError::Reset)
                        )
                    ),
                    "{error:?}"
                );
                break;
            }
        }
        assert_eq!(reader.info(rcore).await.unwrap().peers, 0);
    })
    .await
    .expect("test took too long");
}
