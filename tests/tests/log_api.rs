//! Focused tests of every `Log` method: appends, reads, seeks, truncation, clears,
//! snapshots, encryption (against the JS `realCores` vectors), compat mode, read-only
//! opens, writer → reader replication through `proof` / `apply_proof`, tampered proofs and
//! failing storage.

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Applied, Event, Log, LogOptions};
use ferrocore::manifest::{default_manifest, manifest_hash};
use ferrocore::storage::{
    MemoryStorage, Record, Storage, StorageError, StorageErrorKind, StorageEstimate, WriteBatch,
};
use ferrocore::wire::{Request, RequestBlock, RequestUpgrade};
use ferrocore::{Error, Node};
use ferrocore_tests::{files, hex, hex32, u64_of, Cases, Schema};

fn kp(seed: u8) -> KeyPair {
    KeyPair::from_seed(&[seed; 32])
}

fn writer_opts(seed: u8) -> LogOptions {
    LogOptions {
        key_pair: Some(kp(seed)),
        ..LogOptions::default()
    }
}

fn writer(seed: u8) -> Log<MemoryStorage> {
    Log::open(MemoryStorage::new(), writer_opts(seed)).unwrap()
}

fn reader_of(key: [u8; 32]) -> Log<MemoryStorage> {
    let o = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    Log::open(MemoryStorage::new(), o).unwrap()
}

/// Lengths, fork, roots, signature and every block.
type Observed = (
    u64,
    u64,
    u64,
    u64,
    Vec<Node>,
    Option<Bytes>,
    Vec<Option<Bytes>>,
);

/// Every observable part of a log's state, to check that failures change nothing.
fn state<S: Storage>(log: &Log<S>) -> Observed {
    (
        log.length(),
        log.byte_length(),
        log.fork(),
        log.contiguous_length(),
        log.roots().to_vec(),
        log.signature().cloned(),
        (0..log.length() + 1).map(|i| log.get(i).unwrap()).collect(),
    )
}

#[test]
fn append_get_seek_has_and_info() {
    let mut log = writer(1);
    assert!(log.writable() && log.readable());
    assert_eq!(
        log.key(),
        &manifest_hash(&default_manifest(&kp(1).public_key))
    );
    assert_eq!(log.discovery_key(), &hash::discovery_key(log.key()));
    assert_eq!(log.id(), ferrocore::id::core_id(log.key()));
    assert_eq!(log.padding(), 0);
    let out = log.append(b"hello").unwrap();
    assert_eq!((out.length, out.byte_length), (1, 5));
    let out = log.append_batch(["", "ab", "cdef"]).unwrap();
    assert_eq!((out.length, out.byte_length), (4, 11));
    assert_eq!(
        log.poll_event(),
        Some(Event::Append { length: 4 }),
        "appends coalesce"
    );
    assert_eq!(log.poll_event(), None);
    assert_eq!(log.get(3).unwrap().as_deref(), Some(&b"cdef"[..]));
    assert_eq!(log.get(1).unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(log.get(4).unwrap(), None);
    assert!(log.has(0, 4) && log.has(2, 2) && !log.has(3, 5));
    // offsets: hello = 0..5, "" , ab = 5..7, cdef = 7..11
    assert_eq!(log.seek(0).unwrap(), Some((0, 0)));
    assert_eq!(log.seek(4).unwrap(), Some((0, 4)));
    assert_eq!(log.seek(5).unwrap(), Some((2, 0)));
    assert_eq!(log.seek(8).unwrap(), Some((3, 1)));
    assert_eq!(log.seek(11).unwrap(), Some((4, 0)));
    assert_eq!(log.seek(12).unwrap(), None);
    let info = log.info().unwrap();
    assert_eq!(
        (info.length, info.byte_length, info.contiguous_length),
        (4, 11, 4)
    );
    assert_eq!(
        info.storage,
        StorageEstimate {
            blocks: 4,
            block_bytes: 11,
            nodes: 7,
            // Contiguous blocks need no stored page: the header vouches for them.
            bitfield_pages: 0
        }
    );
    // The signature verifies for the roots.
    let m = log.manifest().unwrap();
    assert!(ferrocore::signature::verify(
        m,
        log.key(),
        log.roots(),
        4,
        0,
        log.signature().map(|s| &s[..])
    ));
    // Tree hashes of prefixes equal those of a fresh log holding the prefix.
    for len in 0..=4 {
        let mut fresh = writer(1);
        for i in 0..len {
            fresh.append(&log.get(i).unwrap().unwrap()).unwrap();
        }
        assert_eq!(
            log.tree_hash(len).unwrap(),
            Some(hash::tree_hash(fresh.roots()))
        );
    }
    assert!(matches!(log.tree_hash(5), Err(Error::Misuse(_))));
}

#[test]
fn batch_append_equals_single_appends_and_simd_leaves_match() {
    let blocks: Vec<Vec<u8>> = (0..37u32)
        .map(|i| vec![i as u8; (i * 7 % 50) as usize])
        .collect();
    let stored: Vec<Bytes> = blocks.iter().map(|b| Bytes::from(b.clone())).collect();
    let many = hash::leaf_hashes(&stored);
    for (b, h) in blocks.iter().zip(&many) {
        assert_eq!(*h, hash::leaf_hash(b));
    }
    let mut a = writer(2);
    let mut b = writer(2);
    a.append_batch(&blocks).unwrap();
    for blk in &blocks {
        b.append(blk).unwrap();
    }
    assert_eq!(a.roots(), b.roots());
    assert_eq!(a.signature(), b.signature());
    assert_eq!(
        a.storage().estimate().unwrap(),
        b.storage().estimate().unwrap()
    );
    // One batch: the empty batch changes nothing.
    let before = state(&a);
    a.append_batch(Vec::<&[u8]>::new()).unwrap();
    assert_eq!(state(&a), before);
}

#[test]
fn reopen_restores_the_state() {
    let mut log = writer(3);
    log.append_batch(["a", "bb", "ccc", "dddd", "e"]).unwrap();
    log.truncate(3, None).unwrap();
    log.append(b"x").unwrap();
    log.clear(1, 2).unwrap();
    let before = state(&log);
    let key = *log.key();
    let log = Log::open(log.close(), LogOptions::default()).unwrap();
    assert_eq!(state(&log), before);
    assert_eq!(log.key(), &key);
    assert!(log.writable());
    // A key that does not match is refused.
    let bad = LogOptions {
        key: Some([9; 32]),
        ..LogOptions::default()
    };
    assert!(matches!(Log::open(log.close(), bad), Err(Error::Misuse(_))));
}

#[test]
fn open_rules_overwrite_purge_and_corrupt_header() {
    assert!(matches!(
        Log::open(MemoryStorage::new(), LogOptions::default()),
        Err(Error::Misuse(_))
    ));
    let none = LogOptions {
        create_if_missing: false,
        ..writer_opts(1)
    };
    assert!(matches!(
        Log::open(MemoryStorage::new(), none.clone()),
        Err(Error::Misuse(_))
    ));
    let mut log = writer(1);
    log.append(b"a").unwrap();
    let s = log.close();
    let mut log = Log::open(
        s,
        LogOptions {
            overwrite: true,
            ..writer_opts(4)
        },
    )
    .unwrap();
    assert_eq!(log.length(), 0);
    assert_eq!(
        log.key(),
        &manifest_hash(&default_manifest(&kp(4).public_key))
    );
    assert_eq!(
        log.storage().estimate().unwrap(),
        StorageEstimate::default()
    );
    log.append(b"b").unwrap();
    let s = log.purge().unwrap();
    assert_eq!(s.estimate().unwrap(), StorageEstimate::default());
    assert!(matches!(Log::open(s.clone(), none), Err(Error::Misuse(_))));
    // Purged storage opens as a new core.
    assert_eq!(Log::open(s, writer_opts(1)).unwrap().length(), 0);

    let mut s = MemoryStorage::new();
    let mut b = WriteBatch::new();
    b.put_header(Bytes::from_static(b"\x01\xff garbage"));
    s.write(b).unwrap();
    match Log::open(s, LogOptions::default()) {
        Err(Error::Storage(StorageError {
            kind: StorageErrorKind::Corrupt,
            record: Record::Header,
            ..
        })) => {}
        other => panic!("expected a corrupt header, got {other:?}"),
    }
}

#[test]
fn truncate_forks_resigns_and_snapshots_fail_typed() {
    let mut log = writer(5);
    log.append_batch(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"])
        .unwrap();
    let _ = log.poll_event();
    let snap = log.snapshot();
    let nodes_before = log.storage().estimate().unwrap().nodes;
    assert_eq!(nodes_before, 18);
    log.truncate(7, None).unwrap();
    assert_eq!(
        log.poll_event(),
        Some(Event::Truncate { length: 7, fork: 1 })
    );
    assert_eq!((log.length(), log.fork(), log.byte_length()), (7, 1, 7));
    assert_eq!(
        log.roots().iter().map(|r| r.index).collect::<Vec<_>>(),
        [3, 9, 12]
    );
    // nodes < 14 that stay: all but 7 (spans 0..14) and 11 (spans 8..14) and 13.
    let est = log.storage().estimate().unwrap();
    assert_eq!((est.blocks, est.nodes), (7, 11));
    assert!(ferrocore::signature::verify(
        log.manifest().unwrap(),
        log.key(),
        log.roots(),
        7,
        1,
        log.signature().map(|s| &s[..])
    ));
    assert_eq!(log.get_at(&snap, 6).unwrap().as_deref(), Some(&b"6"[..]));
    assert_eq!(
        log.get_at(&snap, 7),
        Err(Error::SnapshotTruncated { length: 7 })
    );
    log.append_batch(["x", "y", "z"]).unwrap();
    assert_eq!(
        log.get_at(&snap, 8),
        Err(Error::SnapshotTruncated { length: 7 })
    );
    let snap2 = log.snapshot();
    assert_eq!(log.get_at(&snap2, 8).unwrap().as_deref(), Some(&b"y"[..]));
    let range: Vec<_> = log.read_range(5, 11).map(Result::unwrap).collect();
    assert_eq!(
        range,
        [Some("5"), Some("6"), Some("x"), Some("y"), Some("z"), None]
            .map(|o| o.map(|s| Bytes::copy_from_slice(s.as_bytes())))
    );
    // Same length, explicit fork: only fork and signature change.
    let roots = log.roots().to_vec();
    let sig = log.signature().cloned();
    log.truncate(10, Some(5)).unwrap();
    assert_eq!((log.length(), log.fork()), (10, 5));
    assert_eq!(log.roots(), roots);
    assert_ne!(log.signature().cloned(), sig);
    assert!(matches!(log.truncate(11, None), Err(Error::Misuse(_))));
}

#[test]
fn bitfield_pages_are_stored_only_from_the_contiguous_length() {
    const PAGE: u64 = 32_768;
    let pages = |log: &Log<MemoryStorage>| -> Vec<u64> {
        log.storage()
            .bitfield_pages()
            .unwrap()
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    let reopen = |log: Log<MemoryStorage>| Log::open(log.close(), writer_opts(12)).unwrap();
    let mut log = writer(12);
    let block = [7u8; 1];
    log.append_batch(std::iter::repeat_n(&block[..], 2 * PAGE as usize + 10))
        .unwrap();
    log.append(b"x").unwrap();
    // The writer's appends are all below its contiguous length: no page is written.
    assert_eq!(pages(&log), Vec::<u64>::new());
    let mut log = reopen(log);
    assert!(log.has(0, log.length()));
    // Clearing inside page 1 drops the contiguous length there: pages 1 and 2 (from the new
    // contiguous length up to the old one) are stored; page 0 stays implied.
    log.clear(PAGE + 5, PAGE + 6).unwrap();
    assert_eq!(log.contiguous_length(), PAGE + 5);
    assert_eq!(pages(&log), vec![1, 2]);
    let mut log = reopen(log);
    assert_eq!(log.contiguous_length(), PAGE + 5);
    assert!(log.has(0, PAGE + 5) && !log.has(PAGE + 5, PAGE + 6));
    assert!(log.has(PAGE + 6, log.length()));
    assert_eq!(log.get(PAGE + 5).unwrap(), None);
    assert_eq!(log.get(2 * PAGE + 10).unwrap().as_deref(), Some(&b"x"[..]));
    // Truncating below the gap makes everything contiguous again; the stale pages of the
    // old tail are rewritten (page 1) or deleted (page 2), and a reopen agrees.
    log.truncate(PAGE + 3, None).unwrap();
    assert_eq!(log.contiguous_length(), PAGE + 3);
    let log = reopen(log);
    assert_eq!(
        (log.length(), log.contiguous_length()),
        (PAGE + 3, PAGE + 3)
    );
    assert!(log.has(0, PAGE + 3));
    assert_eq!(log.get(PAGE + 3).unwrap(), None);
}

#[test]
fn clear_drops_blocks_nodes_and_contiguous_length() {
    let mut log = writer(6);
    log.append_batch((0..8u8).map(|i| vec![i; 3])).unwrap();
    assert_eq!(log.storage().estimate().unwrap().nodes, 15);
    let out = log.clear(2, 4).unwrap();
    assert_eq!(out.bytes_reclaimed, 6);
    assert_eq!(log.poll_event(), Some(Event::Append { length: 8 }));
    assert_eq!(log.poll_event(), Some(Event::Clear { start: 2, end: 4 }));
    assert_eq!(log.contiguous_length(), 2);
    assert_eq!((log.get(2).unwrap(), log.get(3).unwrap()), (None, None));
    assert!(!log.has(0, 8) && log.has(4, 8));
    // leaves 4, 6 have no blocks left: they go; node 5 (their parent) stays (sibling 1 has
    // blocks).
    let s = log.storage();
    assert_eq!((s.node(4).unwrap(), s.node(6).unwrap()), (None, None));
    assert!(s.node(5).unwrap().is_some());
    assert_eq!(s.estimate().unwrap().nodes, 13);
    assert_eq!(log.length(), 8);
    // A cleared block cannot be served, the others can.
    let req = |i| Request {
        block: Some(RequestBlock { index: i, nodes: 0 }),
        ..Request::default()
    };
    assert_eq!(log.proof(&req(2)), Err(Error::MissingBlock(2)));
    assert!(log.proof(&req(5)).is_ok());
    // Seeking into the cleared part needs the dropped leaves.
    assert_eq!(log.seek(7).unwrap(), None);
    // A byte read starting there names the dropped leaf the seek needed.
    assert_eq!(
        log.read_bytes(7, 1).next(),
        Some(Err(Error::MissingNode(4)))
    );
    assert_eq!(log.seek(13).unwrap(), Some((4, 1)));
    // Clear everything: roots stay.
    log.clear(0, 100).unwrap();
    assert_eq!(log.contiguous_length(), 0);
    assert_eq!(log.storage().estimate().unwrap().blocks, 0);
    assert!(log.storage().node(7).unwrap().is_some());
    assert_eq!(log.tree_hash(8).unwrap().map(|_| ()), Some(()));
    // Truncating to a length whose root was dropped is a typed error.
    assert_eq!(log.truncate(1, None), Err(Error::MissingNode(0)));
}

#[test]
fn read_only_by_key_and_compat_mode() {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            compat: true,
            ..writer_opts(7)
        },
    )
    .unwrap();
    assert_eq!(log.key(), &kp(7).public_key);
    assert!(log.compat());
    log.append_batch(["a", "b", "c"]).unwrap();
    assert_eq!(log.signature().unwrap().len(), 64, "compat signs raw");
    let msg = ferrocore::signature::compat_signable(&hash::tree_hash(log.roots()), 3, 0);
    let sig: [u8; 64] = log.signature().unwrap()[..].try_into().unwrap();
    assert!(kp(7).verify(&msg, &sig));

    let mut reader = reader_of(*log.key());
    assert!(!reader.writable() && reader.manifest().is_none());
    assert!(matches!(reader.append(b"x"), Err(Error::Misuse(_))));
    assert!(matches!(reader.truncate(0, None), Err(Error::Misuse(_))));
    // The compat reader learns the default manifest from the first signed upgrade.
    sync(&log, &mut reader, &[0, 1, 2]);
    assert_eq!(
        reader.manifest(),
        Some(&default_manifest(&kp(7).public_key))
    );
    assert_eq!(reader.get(1).unwrap().as_deref(), Some(&b"b"[..]));
}

/// Replicates `blocks` of `from` into `to`: one upgrade request, then block requests.
fn sync(from: &Log<MemoryStorage>, to: &mut Log<MemoryStorage>, blocks: &[u64]) {
    let up = Request {
        fork: from.fork(),
        upgrade: Some(RequestUpgrade {
            start: to.length(),
            length: from.length() - to.length(),
        }),
        manifest: to.manifest().is_none(),
        ..Request::default()
    };
    let proof = from.proof(&up).unwrap();
    assert_eq!(
        to.apply_proof(&proof).unwrap(),
        Applied::Stored {
            block: None,
            upgrade: Some(from.length())
        }
    );
    for &i in blocks {
        let nodes = to.missing_nodes(2 * i).unwrap();
        let req = Request {
            fork: from.fork(),
            block: Some(RequestBlock { index: i, nodes }),
            ..Request::default()
        };
        let proof = from.proof(&req).unwrap();
        assert_eq!(
            to.apply_proof(&proof).unwrap(),
            Applied::Stored {
                block: Some(i),
                upgrade: None
            }
        );
    }
}

#[test]
fn writer_to_reader_replication() {
    let mut w = writer(8);
    w.append_batch((0..13u8).map(|i| vec![i; i as usize + 1]))
        .unwrap();
    let mut r = reader_of(*w.key());
    sync(&w, &mut r, &[5, 0, 12, 6]);
    assert_eq!(
        r.poll_event(),
        Some(Event::Upgrade {
            length: 13,
            fork: 0
        })
    );
    assert_eq!(r.poll_event(), Some(Event::Verified { index: 5 }));
    assert_eq!(r.manifest(), w.manifest());
    assert_eq!(
        (r.length(), r.byte_length(), r.roots()),
        (13, w.byte_length(), w.roots())
    );
    assert_eq!(r.signature(), w.signature());
    for i in 0..13 {
        let expect = [0, 5, 6, 12]
            .contains(&i)
            .then(|| w.get(i).unwrap().unwrap());
        assert_eq!(r.get(i).unwrap(), expect);
    }
    assert_eq!(r.contiguous_length(), 1);
    // The reader can serve what it holds to a third log.
    let mut r2 = reader_of(*w.key());
    sync(&r, &mut r2, &[6]);
    assert_eq!(r2.get(6).unwrap(), w.get(6).unwrap());
    // The writer grows; the reader follows with an upgrade from its length.
    w.append(b"more").unwrap();
    sync(&w, &mut r, &[13]);
    assert_eq!(r.get(13).unwrap().as_deref(), Some(&b"more"[..]));
    // Reopened reader keeps everything.
    let before = state(&r);
    let r = Log::open(r.close(), LogOptions::default()).unwrap();
    assert_eq!(state(&r), before);
    assert!(!r.writable());
    // A proof of another fork is ignored.
    w.truncate(14, None).unwrap();
    let p = w
        .proof(&Request {
            block: Some(RequestBlock { index: 1, nodes: 2 }),
            ..Request::default()
        })
        .unwrap();
    let mut r = r;
    assert_eq!(r.apply_proof(&p).unwrap(), Applied::Ignored { fork: 1 });
    assert_eq!(state(&r), before);
}

#[test]
fn tampered_proofs_change_nothing() {
    let mut w = writer(9);
    w.append_batch(["a", "b", "c", "d", "e"]).unwrap();
    let mut r = reader_of(*w.key());
    sync(&w, &mut r, &[0]);
    let _ = (r.poll_event(), r.poll_event());
    let before = state(&r);
    let req = Request {
        block: Some(RequestBlock {
            index: 3,
            nodes: r.missing_nodes(6).unwrap(),
        }),
        ..Request::default()
    };
    let good = w.proof(&req).unwrap();
    let mut bad = good.clone();
    bad.block.as_mut().unwrap().value = Bytes::from_static(b"X");
    assert!(matches!(r.apply_proof(&bad), Err(Error::Protocol(_))));
    let mut bad = good.clone();
    bad.block.as_mut().unwrap().nodes[0].hash[0] ^= 1;
    assert!(matches!(r.apply_proof(&bad), Err(Error::Protocol(_))));
    // A forged upgrade signature.
    w.append(b"f").unwrap();
    let mut up = w
        .proof(&Request {
            upgrade: Some(RequestUpgrade {
                start: 5,
                length: 1,
            }),
            ..Request::default()
        })
        .unwrap();
    let sig = up.upgrade.as_mut().unwrap().signature.as_mut().unwrap();
    let mut forged = sig.to_vec();
    forged[10] ^= 1;
    *sig = Bytes::from(forged);
    assert!(matches!(r.apply_proof(&up), Err(Error::Protocol(_))));
    assert_eq!(state(&r), before);
    assert_eq!(r.poll_event(), None);
    assert!(r.apply_proof(&good).is_ok());
}

/// Storage that fails every write while `fail` is set.
#[derive(Debug, Default)]
struct Flaky {
    inner: MemoryStorage,
    fail: bool,
}

impl Storage for Flaky {
    fn header(&self) -> Result<Option<Bytes>, StorageError> {
        self.inner.header()
    }
    fn node(&self, index: u64) -> Result<Option<Node>, StorageError> {
        self.inner.node(index)
    }
    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        self.inner.block(index)
    }
    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        self.inner.bitfield_pages()
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        if self.fail {
            return Err(StorageError::io(Record::Database, "injected"));
        }
        self.inner.write(batch)
    }
    fn estimate(&self) -> Result<StorageEstimate, StorageError> {
        self.inner.estimate()
    }
}

#[test]
fn failed_writes_leave_the_log_unchanged() {
    let mut log = Log::open(Flaky::default(), writer_opts(10)).unwrap();
    log.append_batch((0..40_000u32).map(|i| i.to_le_bytes()))
        .unwrap();
    log.clear(5, 7).unwrap();
    let _ = (log.poll_event(), log.poll_event());
    let snap = log.snapshot();
    let before = state(&log);
    let pages = log.storage().inner.bitfield_pages().unwrap();
    let est = log.storage().estimate().unwrap();
    let mut s = log.close();
    s.fail = true;
    let mut log = Log::open(s, LogOptions::default()).unwrap();
    let io = |r: Result<(), Error>| {
        matches!(
            r,
            Err(Error::Storage(StorageError {
                kind: StorageErrorKind::Io,
                ..
            }))
        )
    };
    assert!(io(log.append(b"x").map(|_| ())));
    assert!(io(log.append_batch(["x", "y"]).map(|_| ())));
    assert!(io(log.truncate(3, None)));
    assert!(io(log.truncate(40_000, Some(9))));
    assert!(io(log.clear(0, 40_000).map(|_| ())));
    assert!(io(log.clear(1, 2).map(|_| ())));
    assert_eq!(state(&log), before);
    assert_eq!(log.get_at(&snap, 39_999).unwrap(), before.6[39_999]);
    assert_eq!(log.poll_event(), None);
    // The in-memory bitfield matches storage again: reopening gives the same answers.
    let s = log.close();
    assert_eq!(s.inner.bitfield_pages().unwrap(), pages);
    assert_eq!(s.estimate().unwrap(), est);
    // apply_proof on a failing reader.
    let mut w = writer(10);
    w.append_batch(["a", "b"]).unwrap();
    let r = Log::open(
        Flaky {
            fail: true,
            ..Flaky::default()
        },
        LogOptions {
            key: Some(*w.key()),
            ..LogOptions::default()
        },
    );
    assert!(r.is_err(), "creating a core writes its header");
    let f = Flaky {
        inner: reader_of(*w.key()).close(),
        fail: true,
    };
    let mut r = Log::open(f, LogOptions::default()).unwrap();
    let proof = w
        .proof(&Request {
            block: Some(RequestBlock { index: 1, nodes: 0 }),
            upgrade: Some(RequestUpgrade {
                start: 0,
                length: 2,
            }),
            manifest: true,
            ..Request::default()
        })
        .unwrap();
    let before = state(&r);
    assert!(matches!(r.apply_proof(&proof), Err(Error::Storage(_))));
    assert_eq!(state(&r), before);
    assert!(r.manifest().is_none());
    // A proof of a block alone (the common case, which only moves the contiguous length)
    // on a reader that has the upgrade: the failed write leaves the block unset.
    let mut s = r.close();
    s.fail = false;
    let mut r = Log::open(s, LogOptions::default()).unwrap();
    r.apply_proof(&proof).unwrap();
    let block0 = w
        .proof(&Request {
            block: Some(RequestBlock { index: 0, nodes: 0 }),
            ..Request::default()
        })
        .unwrap();
    let mut s = r.close();
    s.fail = true;
    let mut r = Log::open(s, LogOptions::default()).unwrap();
    let before = state(&r);
    assert_eq!(before.3, 0, "block 0 missing: nothing contiguous");
    assert!(matches!(r.apply_proof(&block0), Err(Error::Storage(_))));
    assert_eq!(state(&r), before);
    assert!(!r.has(0, 1));
    // Once writes work again the same proof stores the block.
    let mut s = r.close();
    s.fail = false;
    let mut r = Log::open(s, LogOptions::default()).unwrap();
    r.apply_proof(&block0).unwrap();
    assert_eq!(r.contiguous_length(), 2);
}

#[test]
fn encryption_matches_the_js_real_cores() {
    let seed = hash::blake2b256(&[b"hypercore-rs test vector seed 1"]);
    let mut cases = Cases::new("log encryption realCores");
    for (_, file) in files(Schema::Encryption) {
        let ek = hex32(&file["encryptionKey"]);
        for core in file["realCores"].as_array().unwrap() {
            let compat = core["compat"].as_bool().unwrap();
            let opts = LogOptions {
                key_pair: Some(KeyPair::from_seed(&seed)),
                compat,
                encryption_key: Some(ek),
                ..LogOptions::default()
            };
            let mut log = Log::open(MemoryStorage::new(), opts.clone()).unwrap();
            log.append_batch(["hello", "world", "encrypted hypercore"])
                .unwrap();
            log.truncate(1, None).unwrap();
            log.append(b"after truncate").unwrap();
            assert_eq!(log.key(), &hex32(&core["key"]));
            assert_eq!(log.padding(), u64_of(&core["padding"]));
            assert_eq!(log.fork(), u64_of(&core["fork"]));
            assert_eq!(log.length(), u64_of(&core["length"]));
            assert_eq!(log.byte_length(), u64_of(&core["byteLength"]));
            let tree_bytes: u64 = log.roots().iter().map(|r| r.size).sum();
            assert_eq!(tree_bytes, u64_of(&core["treeByteLength"]));
            assert_eq!(
                log.tree_hash(log.length()).unwrap(),
                Some(hex32(&core["treeHash"]))
            );
            for b in core["blocks"].as_array().unwrap() {
                let i = u64_of(&b["index"]);
                assert_eq!(log.get(i).unwrap().unwrap().to_vec(), hex(&b["plaintext"]));
                assert_eq!(
                    log.storage().block(i).unwrap().unwrap().to_vec(),
                    hex(&b["stored"])
                );
                assert_eq!(
                    log.storage().node(2 * i).unwrap().unwrap().hash,
                    hex32(&b["leafHash"])
                );
            }
            // Seeks skip the padding; a reader replicates the encrypted bytes and, with the
            // key, reads the plaintext.
            assert_eq!(log.seek(6).unwrap(), Some((1, 1)));
            let mut r = Log::open(
                MemoryStorage::new(),
                LogOptions {
                    key: Some(*log.key()),
                    compat,
                    encryption_key: Some(ek),
                    ..LogOptions::default()
                },
            )
            .unwrap();
            sync(&log, &mut r, &[0, 1]);
            assert_eq!(r.get(1).unwrap().as_deref(), Some(&b"after truncate"[..]));
            assert_eq!(r.byte_length(), log.byte_length());
            // Reopen needs the key again (it is not persisted).
            let reopened = Log::open(log.close(), opts).unwrap();
            assert_eq!(reopened.get(0).unwrap().as_deref(), Some(&b"hello"[..]));
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn byte_ranges_and_live_cursors() {
    use ferrocore::log::{LiveRangeReader, LiveRead};
    for encrypted in [false, true] {
        let mut o = writer_opts(13);
        if encrypted {
            o.encryption_key = Some([9; 32]);
        }
        let mut log = Log::open(MemoryStorage::new(), o).unwrap();
        let blocks: Vec<Vec<u8>> = (0..20u8)
            .map(|i| vec![b'a' + i; (i % 5) as usize])
            .collect();
        log.append_batch(&blocks).unwrap();
        let all: Vec<u8> = blocks.concat();
        assert_eq!(log.byte_length(), all.len() as u64);
        // Every sub-range, including empty blocks on the way and a range past the end.
        for start in 0..=all.len() as u64 {
            for len in [0, 1, 3, 7, 100] {
                let got: Vec<u8> = log
                    .read_bytes(start, len)
                    .flat_map(|c| c.unwrap().to_vec())
                    .collect();
                let end = (start + len).min(all.len() as u64) as usize;
                assert_eq!(
                    got,
                    all[start as usize..end],
                    "{start}+{len} enc={encrypted}"
                );
            }
        }
        // A cleared block in the range is a typed error, and the reader stops there.
        log.clear(7, 8).unwrap();
        let at7: u64 = blocks[..7].iter().map(|b| b.len() as u64).sum();
        let mut r = log.read_bytes(at7 - 1, 4);
        assert!(r.next().unwrap().is_ok());
        assert_eq!(r.next(), Some(Err(Error::MissingBlock(7))));
        assert_eq!(r.next(), None);

        // A live cursor: reads, reports the hole, catches up, follows appends, ends.
        let mut cursor = LiveRangeReader::new(5, Some(23));
        let mut seen = vec![];
        loop {
            match cursor.next(&log).unwrap() {
                LiveRead::Block { index, value } => seen.push((index, value)),
                LiveRead::Missing { index } => {
                    assert_eq!(index, 7);
                    // Skip it the way an application that gave up would: a fresh cursor.
                    cursor = LiveRangeReader::new(index + 1, Some(23));
                }
                LiveRead::CaughtUp => break,
                LiveRead::Done => unreachable!("the log is shorter than the range"),
            }
        }
        assert_eq!(seen.len(), 20 - 5 - 1);
        assert_eq!(cursor.position(), 20);
        log.append_batch([&b"new"[..], b"more", b"x", b"beyond"])
            .unwrap();
        let mut tail = vec![];
        loop {
            match cursor.next(&log).unwrap() {
                LiveRead::Block { value, .. } => tail.push(value),
                LiveRead::Done => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(tail, [&b"new"[..], b"more", b"x"]);
    }
}

#[test]
fn append_bytes_matches_append_batch_and_shares_unencrypted_blocks() {
    let values: Vec<Bytes> = (0..5u8)
        .map(|i| Bytes::from(vec![i; 100 + i as usize]))
        .collect();
    for encryption_key in [None, Some([3; 32])] {
        let opts = LogOptions {
            encryption_key,
            ..writer_opts(21)
        };
        let mut copied = Log::open(MemoryStorage::new(), opts.clone()).unwrap();
        let mut shared = Log::open(MemoryStorage::new(), opts).unwrap();
        copied.append_batch(&values).unwrap();
        let out = shared.append_bytes(values.iter().cloned()).unwrap();
        assert_eq!((out.length, out.byte_length), (5, 510));
        assert_eq!(state(&shared), state(&copied));
        for (i, v) in values.iter().enumerate() {
            let stored = shared.storage().block(i as u64).unwrap().unwrap();
            // Unencrypted, the stored block is the caller's own buffer; encrypted, a new one.
            assert_eq!(stored.as_ptr() == v.as_ptr(), encryption_key.is_none());
        }
    }
    // Not writable: refused, as append_batch is.
    let mut r = reader_of(*writer(21).key());
    assert!(matches!(
        r.append_bytes([Bytes::from_static(b"x")]),
        Err(Error::Misuse(_))
    ));
}
