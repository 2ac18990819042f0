//! The blocking adapter drives Hyperbee over real cores: a bee on a core of the persistent
//! store writes exactly the blocks `testing::MemBee` (the reference driver) writes for the
//! same operations and reads back the same answers, across a reopen; a sparse clone over
//! loopback TCP reads gets and ranges of a 2,000-key bee fetching only the blocks they
//! need.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore::{hash, Log, LogOptions};
use ferrocore_blocking::bee::{Bee, BeeOptions, Error, HistoryOptions, KeyRange, Op, RangeOptions};
use ferrocore_blocking::Node;
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_storage::{Store, StoreOptions};
use ferrocore_tests::sim::Rng;

/// A key of the test's key space.
fn some_key(rng: &mut Rng) -> Bytes {
    Bytes::from(format!("k{:03}", rng.below(300)))
}

fn all_blocks<S: Storage + Send + 'static>(node: &Node<S>, core: CoreId) -> Vec<Bytes> {
    let length = node.info(core).unwrap().length;
    (0..length)
        .map(|i| node.get(core, i, None).unwrap())
        .collect()
}

fn writer_log<S: Storage>(storage: impl FnOnce(&[u8; 32]) -> S, seed: u8) -> Log<S> {
    let key_pair = KeyPair::from_seed(&[seed; 32]);
    let key = core_key(&default_manifest(&key_pair.public_key), false).unwrap();
    let options = LogOptions {
        key_pair: Some(key_pair),
        key: Some(key),
        ..LogOptions::default()
    };
    Log::open(storage(&hash::discovery_key(&key)), options).unwrap()
}

/// Ranges, gets, history and a diff of `bee` agree with `model`.
fn agree<S: Storage + Send + 'static>(bee: &Bee<S>, model: &mut MemBee, rng: &mut Rng) {
    for _ in 0..40 {
        let k = some_key(rng);
        let got = bee.get(k.clone()).unwrap();
        assert_eq!(got, model.get(&k).unwrap(), "get {k:?}");
    }
    for _ in 0..10 {
        let (a, b) = (some_key(rng), some_key(rng));
        let o = RangeOptions {
            gte: Some(a.min(b.clone())),
            lt: Some(b.max(some_key(rng))),
            reverse: rng.below(2) == 1,
            limit: (rng.below(3) == 0).then(|| rng.below(20)),
            ..RangeOptions::default()
        };
        let got: Vec<_> = bee.range(o.clone()).collect::<Result<_, _>>().unwrap();
        assert_eq!(got, model.range(o.clone(), None).unwrap(), "range {o:?}");
        assert_eq!(
            bee.peek(o.clone()).unwrap(),
            model
                .range(
                    RangeOptions {
                        limit: Some(1),
                        ..o
                    },
                    None
                )
                .unwrap()
                .pop()
        );
    }
    let h = HistoryOptions {
        gte: Some(-50),
        ..HistoryOptions::default()
    };
    let got: Vec<_> = bee.history(h).collect::<Result<_, _>>().unwrap();
    assert_eq!(got, model.history(h, None).unwrap());
    assert_eq!(got.len(), 50);
    let old = bee.version() / 2;
    let got: Vec<_> = bee
        .diff(old, KeyRange::default())
        .collect::<Result<_, _>>()
        .unwrap();
    let want = model.diff(bee.version(), old, KeyRange::default()).unwrap();
    assert!(!want.is_empty());
    assert_eq!(got, want);
    for _ in 0..20 {
        let k = some_key(rng);
        let at = bee.checkout(old).get(k.clone()).unwrap();
        assert_eq!(
            at,
            model.get_at(&k, Some(old)).unwrap(),
            "get {k:?} at {old}"
        );
    }
    let seq = 1 + rng.below(bee.version() - 1);
    assert_eq!(
        bee.get_by_seq(seq).unwrap(),
        model.run(&mut model.bee.view().get_by_seq(seq)).unwrap()
    );
}

#[test]
fn a_bee_on_a_store_core_writes_the_blocks_membee_writes_and_reads_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cores.redb");
    let mut model = MemBee::new();
    let mut rng = Rng::new(0x5eed_0bee);
    let key;
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let log = writer_log(|dk| store.core(dk), 1);
        key = *log.key();
        let node = Node::new(EndpointConfig::default()).unwrap();
        let core = node.add_core(log).unwrap();
        let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
        assert!(bee.writable());
        assert_eq!(bee.get("nothing").unwrap(), None);
        for _ in 0..400 {
            match rng.below(10) {
                0..=5 => {
                    let (k, v) = (some_key(&mut rng), Bytes::from(rng.next_u64().to_string()));
                    bee.put(k.clone(), v.clone()).unwrap();
                    model.put(&k, Some(&v));
                }
                6..=7 => {
                    let k = some_key(&mut rng);
                    let deleted = bee.del(k.clone()).unwrap();
                    assert_eq!(deleted, model.del(&k).applied[0], "del {k:?}");
                }
                _ => {
                    let n = 1 + rng.below(20);
                    let ops = |r: &mut Rng| -> Vec<Op> {
                        (0..n)
                            .map(|i| {
                                let k = some_key(r);
                                if i % 3 == 2 {
                                    Op::del(k)
                                } else {
                                    Op::put(k, Some(Bytes::from(format!("b{i}"))))
                                }
                            })
                            .collect()
                    };
                    let mut again = rng.clone();
                    let out = bee.batch(ops(&mut rng)).unwrap();
                    assert_eq!(out, model.batch(ops(&mut again)).unwrap());
                }
            }
        }
        // cas: a put over an existing key that cas refuses writes nothing.
        let k = Bytes::from_static(b"k-cas");
        bee.put(k.clone(), "1").unwrap();
        model.put(&k, Some(b"1"));
        assert!(!bee.put_cas(k.clone(), "2", |_, _| false).unwrap());
        assert!(bee
            .put_cas(k.clone(), "3", |old, new| old.value != new.value)
            .unwrap());
        model.put(&k, Some(b"3"));

        assert_eq!(all_blocks(&node, core), model.blocks, "identical blocks");
        assert_eq!(bee.version(), model.blocks.len() as u64);
        agree(&bee, &mut model, &mut rng);

        // A sub-bee: prefixed keys, its own range.
        let sub = bee.sub("s");
        sub.put("x", "1").unwrap();
        model.put(b"s\0x", Some(b"1"));
        let in_sub: Vec<_> = sub
            .range(RangeOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(in_sub.len(), 1);
        assert_eq!(in_sub[0].key, "x");
        assert_eq!(sub.get("x").unwrap().unwrap().key, "x");
        assert!(matches!(
            bee.checkout(3).put("a", "b"),
            Err(Error::ReadOnly(_))
        ));
        let stats = bee.stats();
        assert_eq!(stats.fetched, 0, "a writer reads locally");
        node.shutdown().unwrap();
    }
    // Reopened: the same bee, read from disk.
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let log = Log::open(
        store.core(&hash::discovery_key(&key)),
        LogOptions {
            key: Some(key),
            create_if_missing: false,
            ..LogOptions::default()
        },
    )
    .unwrap();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    assert_eq!(all_blocks(&node, core), model.blocks);
    agree(&bee, &mut model, &mut rng);
    assert!(bee.stats().local > 0);
}

#[test]
fn a_core_that_is_not_a_bee_is_refused() {
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node
        .add_core(writer_log(|_| MemoryStorage::new(), 2))
        .unwrap();
    node.append(core, vec![Bytes::from("hello")]).unwrap();
    let err = Bee::open(&node, core, BeeOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotABee(_)), "{err}");
}

#[test]
fn a_sparse_clone_over_tcp_fetches_only_the_blocks_its_reads_need() {
    let writer = Node::new(EndpointConfig::default()).unwrap();
    let log = writer_log(|_| MemoryStorage::new(), 3);
    let key = *log.key();
    let core = writer.add_core(log).unwrap();
    let bee = Bee::open(&writer, core, BeeOptions::default()).unwrap();
    let mut rng = Rng::new(77);
    let mut keys: Vec<u32> = (0..2000).collect();
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for chunk in keys.chunks(250) {
        let ops = chunk
            .iter()
            .map(|k| Op::put(format!("key{k:04}"), Some(Bytes::from(format!("v{k}")))))
            .collect();
        bee.batch(ops).unwrap();
    }
    let length = writer.info(core).unwrap().length;
    assert_eq!(length, 2001);
    let addr = writer.listen("127.0.0.1:0").unwrap();

    let reader = Node::new(EndpointConfig::default()).unwrap();
    let log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key: Some(key),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let rcore = reader.add_core(log).unwrap();
    reader.connect(addr).unwrap();
    let options = BeeOptions {
        timeout: Some(Duration::from_secs(20)),
        // Reads alone (no `hyperbee` extension requests, so no blocks the writer names
        // are downloaded beside them: tests/bee_ext_interop.rs covers those).
        extension: false,
        ..BeeOptions::default()
    };
    let clone = Bee::open(&reader, rcore, options).unwrap();
    assert_eq!(clone.update().unwrap(), length);
    for _ in 0..25 {
        let k = rng.below(2000);
        let e = clone.get(format!("key{k:04}")).unwrap().unwrap();
        assert_eq!(e.value.unwrap(), format!("v{k}"));
    }
    assert_eq!(clone.get("key9999").unwrap(), None);
    let range: Vec<_> = clone
        .range(RangeOptions {
            gte: Some("key0500".into()),
            lt: Some("key0600".into()),
            ..RangeOptions::default()
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(range.len(), 100);
    assert!(range
        .iter()
        .enumerate()
        .all(|(i, e)| e.key == format!("key{:04}", 500 + i)));
    let fetched = clone.stats().fetched;
    let held = reader
        .with_endpoint(move |ep| ep.log(rcore).unwrap().bitfield().count(0, length))
        .unwrap();
    eprintln!("sparse clone: fetched {fetched} of {length} blocks");
    assert_eq!(held, fetched, "every block held was fetched by a read");
    assert!(
        fetched < length / 4,
        "fetched {fetched} of {length} blocks for 25 gets and 100 range entries"
    );
    // A block that is not there locally, with fetching off, is an error, not a wait.
    let local_only = Bee::open(
        &reader,
        rcore,
        BeeOptions {
            fetch: false,
            ..BeeOptions::default()
        },
    )
    .unwrap();
    let all: Result<Vec<_>, _> = local_only.range(RangeOptions::default()).collect();
    assert!(matches!(all, Err(Error::NotLocal(_))));

    // With the writer gone, a read that needs a block it never fetched fails at its
    // deadline instead of waiting.
    writer.shutdown().unwrap();
    let impatient = Bee::open(
        &reader,
        rcore,
        BeeOptions {
            timeout: Some(Duration::from_millis(300)),
            ..BeeOptions::default()
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    let all: Result<Vec<_>, _> = impatient.range(RangeOptions::default()).collect();
    assert!(matches!(all, Err(Error::Node(_))), "{all:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
