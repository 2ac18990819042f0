//! Real TCP on 127.0.0.1: download, get, live appends, and data relayed by a second reader.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::{CoreId, EndpointConfig, Event, RequestError};
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::{Error, Node};

const LIMIT: Duration = Duration::from_secs(5);

fn block(i: u64) -> Bytes {
    Bytes::from(format!("block {i}"))
}

fn writer(blocks: u64) -> (Node<MemoryStorage>, CoreId, [u8; 32]) {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[9; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    let length = node.append(core, (0..blocks).map(block).collect()).unwrap();
    assert_eq!(length, blocks);
    (node, core, key)
}

fn reader(key: [u8; 32]) -> (Node<MemoryStorage>, CoreId) {
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    (node, core)
}

/// Runs `f` on a thread, failing if it takes longer than [`LIMIT`].
fn bounded(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(()) => worker.join().unwrap(),
        // The worker panicked: show its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test took too long"),
    }
}

#[test]
fn download_get_and_live() {
    bounded(|| {
        let (writer, wcore, key) = writer(200);
        let addr = writer.listen("127.0.0.1:0").unwrap();
        let (reader, rcore) = reader(key);
        let events = reader.events();
        reader.connect(addr).unwrap();

        reader
            .download(rcore, 0, Some(200))
            .unwrap()
            .wait()
            .unwrap();
        let info = reader.info(rcore).unwrap();
        assert_eq!((info.length, info.contiguous_length), (200, 200));
        assert!(!info.writable);
        assert_eq!(info.peers, 1);
        for i in 0..200 {
            assert_eq!(reader.get(rcore, i, None).unwrap(), block(i));
        }

        // Live: a download without end sees new blocks as they are appended.
        let mut live = reader.download(rcore, 0, None).unwrap();
        assert!(live.wait_timeout(Duration::from_millis(10)).is_none());
        writer
            .append(wcore, (200..205).map(block).collect())
            .unwrap();
        let mut missing: BTreeSet<u64> = (200..205).collect();
        let start = Instant::now();
        while !missing.is_empty() {
            let left = LIMIT.saturating_sub(start.elapsed());
            if let Event::Verified { index, .. } = events.recv_timeout(left).unwrap() {
                missing.remove(&index);
            }
        }

        // A get past the end resolves once the block is appended.
        let pending = thread::spawn({
            let reader = reader.clone();
            move || reader.get(rcore, 207, None)
        });
        thread::sleep(Duration::from_millis(50));
        assert!(!pending.is_finished());
        writer
            .append(wcore, (205..208).map(block).collect())
            .unwrap();
        assert_eq!(pending.join().unwrap().unwrap(), block(207));

        let err = reader
            .get(rcore, 1000, Some(Duration::from_millis(50)))
            .unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::Timeout)),
            "{err}"
        );

        live.cancel();
        let err = live.wait().unwrap_err();
        assert!(
            matches!(err, Error::Request(RequestError::Cancelled)),
            "{err}"
        );

        // Dropping a download handle cancels the download.
        let dropped = reader.download(rcore, 0, None).unwrap();
        let id = dropped.request();
        drop(dropped);
        loop {
            if let Event::Download {
                request, result, ..
            } = events.recv_timeout(LIMIT).unwrap()
            {
                if request == id {
                    assert_eq!(result, Err(RequestError::Cancelled));
                    break;
                }
            }
        }

        let endpoint = reader.shutdown().unwrap();
        assert_eq!(endpoint.log(rcore).unwrap().length(), 208);
        assert!(matches!(reader.info(rcore), Err(Error::Shutdown)));
        writer.shutdown().unwrap();
    });
}

#[test]
fn relayed_by_a_second_reader() {
    bounded(|| {
        let (writer, wcore, key) = writer(200);
        let waddr = writer.listen("127.0.0.1:0").unwrap();

        // A downloads everything from the writer, then serves B.
        let (a, acore) = reader(key);
        a.connect(waddr).unwrap();
        a.download(acore, 0, Some(200)).unwrap().wait().unwrap();
        let aaddr = a.listen("127.0.0.1:0").unwrap();

        let (b, bcore) = reader(key);
        b.connect(aaddr).unwrap();
        b.download(bcore, 0, Some(200)).unwrap().wait().unwrap();
        for i in [0, 99, 199] {
            assert_eq!(b.get(bcore, i, None).unwrap(), block(i));
        }
        // B never talked to the writer.
        assert_eq!(writer.info(wcore).unwrap().peers, 1);
        assert_eq!(b.info(bcore).unwrap().peers, 1);

        // Live through the relay: the writer appends, A follows live, B gets it from A.
        let _a_live = a.download(acore, 0, None).unwrap();
        let pending = thread::spawn({
            let b = b.clone();
            move || b.get(bcore, 202, None)
        });
        writer
            .append(wcore, (200..203).map(block).collect())
            .unwrap();
        assert_eq!(pending.join().unwrap().unwrap(), block(202));
    });
}

#[test]
fn dropping_the_last_handle_stops_the_node() {
    bounded(|| {
        let (writer, _, key) = writer(3);
        let addr = writer.listen("127.0.0.1:0").unwrap();
        let (reader, rcore) = reader(key);
        let events = reader.events();
        reader.connect(addr).unwrap();
        assert_eq!(reader.get(rcore, 2, None).unwrap(), block(2));
        drop(writer);
        // The writer closed its connection in order; the reader sees the session end.
        loop {
            match events.recv_timeout(LIMIT).unwrap() {
                Event::Closed { .. } => break,
                _ => continue,
            }
        }
        assert_eq!(reader.info(rcore).unwrap().peers, 0);
    });
}
