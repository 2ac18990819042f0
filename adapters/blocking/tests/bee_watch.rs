//! The live reads of a bee on the blocking adapter: `watch` (a change per append or
//! truncation that touched its range; `eager` and `differ` as JS's options), `get_and_watch` (one key's changes only), the live
//! history, a sparse replica watching a remote writer over loopback TCP, and
//! `clear_unlinked` (every read answers the same, the cleared blocks are gone, and they
//! are exactly the blocks JS hyperbee 2.27.3's `clearUnlinked` clears on the same bee:
//! `tests/js/bee-clear.mjs`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::MemoryStorage;
use ferrocore_blocking::bee::{
    Bee, BeeOptions, ClearOptions, DiffEntry, HistoryOptions, KeyRange, Op, RangeOptions,
    WatchOptions,
};
use ferrocore_blocking::Node;

const SHORT: Option<Duration> = Some(Duration::from_millis(200));
const LONG: Option<Duration> = Some(Duration::from_secs(10));

fn writer(seed: u8) -> (Node<MemoryStorage>, CoreId, [u8; 32]) {
    let log = ferrocore_tests::hostile::writer_log([seed; 32], &[]);
    let key = *log.key();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    (node, core, key)
}

fn range(gte: &str, lt: &str) -> KeyRange {
    KeyRange {
        gte: Some(Bytes::copy_from_slice(gte.as_bytes())),
        lt: Some(Bytes::copy_from_slice(lt.as_bytes())),
        ..KeyRange::default()
    }
}

#[test]
fn watch_reports_changes_within_its_range_and_every_truncation() {
    let (node, core, _) = writer(1);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    bee.put("a0", "x").unwrap();
    let start = bee.version();
    let mut watch = bee.watch(range("b", "c")).unwrap();
    // Nothing changed yet; a write outside the range is no change either.
    assert!(watch.next_timeout(SHORT).is_none());
    bee.put("a1", "x").unwrap();
    assert!(watch.next_timeout(SHORT).is_none());
    bee.put("b1", "x").unwrap();
    let c = watch.next_timeout(LONG).unwrap().unwrap();
    // The previous version is the last one checked (the put outside the range).
    assert_eq!(
        (c.previous, c.current, c.truncated),
        (start + 1, start + 2, false)
    );
    // The versions it names differ in the range by exactly that put.
    let diff: Vec<_> = bee
        .checkout(c.current)
        .diff(c.previous, range("b", "c"))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(diff.len(), 1);
    assert_eq!(diff[0].left.as_ref().unwrap().key, "b1");

    // A writer on another thread: the watcher reports versions in order, each differing
    // from the one before within the range, up to the last write in the range.
    let w = bee.clone();
    let t = std::thread::spawn(move || {
        for i in 0..20 {
            w.put(format!("b{i:02}"), format!("v{i}")).unwrap();
            w.put(format!("z{i:02}"), "outside").unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        w.version()
    });
    let mut last = c.current;
    let mut changes = 0;
    loop {
        let finished = t.is_finished();
        let Some(c) = watch.next_timeout(Some(Duration::from_millis(300))) else {
            if finished {
                break;
            }
            continue;
        };
        let c = c.unwrap();
        assert!(c.previous >= last && c.current > c.previous && !c.truncated);
        let diff: Vec<_> = bee
            .checkout(c.current)
            .diff(c.previous, range("b", "c"))
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(!diff.is_empty());
        last = c.current;
        changes += 1;
    }
    let end = t.join().unwrap();
    assert!(
        changes >= 1 && last >= end - 1,
        "{changes} changes, last {last} of {end}"
    );
    assert_eq!(
        bee.checkout(last)
            .get("b19")
            .unwrap()
            .unwrap()
            .value
            .as_deref(),
        Some(&b"v19"[..])
    );

    // A truncation is always reported, even of blocks outside the range.
    node.truncate(core, end - 1).unwrap();
    let c = watch.next_timeout(LONG).unwrap().unwrap();
    assert!(c.truncated);
    assert_eq!((c.previous, c.current), (end, end - 1));
}

#[test]
fn an_eager_watch_reports_what_is_there_and_a_differ_picks_what_counts() {
    let (node, core, _) = writer(4);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    bee.put("b1", "x").unwrap();
    bee.put("c1", "x").unwrap();
    let now = bee.version();
    // JS `eager`: the range's present entries are a change from version 1.
    let eager = WatchOptions {
        eager: true,
        ..WatchOptions::default()
    };
    let mut w = bee.watch_with(range("b", "c"), eager.clone()).unwrap();
    let c = w.next_timeout(LONG).unwrap().unwrap();
    assert_eq!((c.previous, c.current, c.truncated), (1, now, false));
    assert!(w.next_timeout(SHORT).is_none());
    // Nothing in the range: an eager watch has nothing to report either.
    let mut empty = bee.watch_with(range("x", "y"), eager).unwrap();
    assert!(empty.next_timeout(SHORT).is_none());

    // JS `differ`: only deletions count here.
    let deletions = WatchOptions {
        differ: Some(Arc::new(|d: &DiffEntry| d.left.is_none())),
        ..WatchOptions::default()
    };
    let mut dels = bee.watch_with(KeyRange::default(), deletions).unwrap();
    bee.put("b2", "x").unwrap();
    bee.put("b1", "changed").unwrap();
    assert!(dels.next_timeout(SHORT).is_none(), "puts are no change");
    bee.del("c1").unwrap();
    let c = dels.next_timeout(LONG).unwrap().unwrap();
    assert_eq!(c.current, bee.version());
    node.truncate(core, now).unwrap();
    assert!(
        dels.next_timeout(LONG).unwrap().unwrap().truncated,
        "a truncation always counts"
    );
}

#[test]
fn a_sub_watches_its_own_keys() {
    let (node, core, _) = writer(7);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    let sub = bee.sub("s");
    let mut all = sub.watch(KeyRange::default()).unwrap();
    let mut some = sub.watch(range("b", "c")).unwrap();
    bee.put("b1", "outside the sub").unwrap();
    assert!(all.next_timeout(SHORT).is_none());
    sub.put("a", "1").unwrap();
    assert!(all.next_timeout(LONG).unwrap().is_ok());
    assert!(some.next_timeout(SHORT).is_none());
    sub.put("b1", "2").unwrap();
    let c = some.next_timeout(LONG).unwrap().unwrap();
    assert_eq!(c.current, bee.version());
    let mut key = sub.get_and_watch("b1").unwrap();
    assert_eq!(key.state().unwrap().entry().unwrap().key, "b1");
    bee.put("b1", "outside again").unwrap();
    assert!(key.next_timeout(SHORT).is_none());
    sub.put("b1", "3").unwrap();
    let e = key.next_timeout(LONG).unwrap().unwrap().unwrap();
    assert_eq!(
        (&e.key[..], e.value.as_deref()),
        (&b"b1"[..], Some(&b"3"[..]))
    );
}

#[test]
fn get_and_watch_sees_its_key_only() {
    let (node, core, _) = writer(2);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    bee.put("k", "1").unwrap();
    let mut w = bee.get_and_watch("k").unwrap();
    let first = w.state().unwrap().entry().unwrap().clone();
    assert_eq!(first.value.as_deref(), Some(&b"1"[..]));
    bee.put("other", "x").unwrap();
    assert!(w.next_timeout(SHORT).is_none());
    bee.put("k", "2").unwrap();
    let e = w.next_timeout(LONG).unwrap().unwrap().unwrap();
    assert_eq!(e.value.as_deref(), Some(&b"2"[..]));
    assert!(e.seq > first.seq);
    bee.put("other", "y").unwrap();
    bee.del("k").unwrap();
    assert_eq!(w.next_timeout(LONG).unwrap().unwrap(), None);
    assert!(w.next_timeout(SHORT).is_none());
    // A truncation that takes the deletion back: the put is the entry again.
    let v = bee.version();
    node.truncate(core, v - 1).unwrap();
    let e = w.next_timeout(LONG).unwrap().unwrap().unwrap();
    assert_eq!(e.value.as_deref(), Some(&b"2"[..]));
}

#[test]
fn live_history_keeps_yielding_new_blocks() {
    let (node, core, _) = writer(3);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    bee.put("a", "1").unwrap();
    bee.put("b", "2").unwrap();
    let mut h = bee.history_live(HistoryOptions::default());
    let w = bee.clone();
    let t = std::thread::spawn(move || {
        for i in 0..10 {
            std::thread::sleep(Duration::from_millis(3));
            if i % 3 == 2 {
                assert!(w.del(format!("n{}", i - 2)).unwrap());
            } else {
                w.put(format!("n{i}"), "v").unwrap();
            }
        }
    });
    let got: Vec<_> = (0..12)
        .map(|_| h.next_timeout(LONG).unwrap().unwrap())
        .collect();
    t.join().unwrap();
    let want: Vec<_> = bee
        .history(HistoryOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, want[..12]);
    assert_eq!(
        got.iter().map(|e| e.entry.seq).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    assert!(h.next_timeout(SHORT).is_none());
    // A limit counts across the appends; `gte` counts back from the version at the start.
    let mut h = bee.history_live(HistoryOptions {
        gte: Some(-1),
        limit: Some(2),
        ..HistoryOptions::default()
    });
    assert_eq!(h.next_timeout(LONG).unwrap().unwrap().entry.seq, 12);
    bee.put("late", "v").unwrap();
    assert_eq!(h.next_timeout(LONG).unwrap().unwrap().entry.key, "late");
    bee.put("later", "v").unwrap();
    assert!(h.next_timeout(SHORT).is_none());
}

#[test]
fn a_sparse_replica_watches_a_remote_writer_over_tcp() {
    let (wnode, wcore, key) = writer(4);
    let bee = Bee::open(&wnode, wcore, BeeOptions::default()).unwrap();
    for i in 0..50 {
        bee.put(format!("k{i:02}"), "v").unwrap();
    }
    let addr = wnode.listen("127.0.0.1:0").unwrap();
    let reader = Node::new(EndpointConfig::default()).unwrap();
    let rcore = reader
        .add_core(ferrocore_tests::memory_reader(key))
        .unwrap();
    reader.connect(addr).unwrap();
    let clone = Bee::open(&reader, rcore, BeeOptions::default()).unwrap();
    assert_eq!(clone.update().unwrap(), 51);
    let mut watch = clone.watch(range("k10", "k20")).unwrap();
    let mut key_watch = clone.get_and_watch("k15").unwrap();
    bee.put("k99", "outside").unwrap();
    bee.put("k15", "new").unwrap();
    let c = watch.next_timeout(LONG).unwrap().unwrap();
    assert_eq!(c.current, 53);
    let e = key_watch.next_timeout(LONG).unwrap().unwrap().unwrap();
    assert_eq!(e.value.as_deref(), Some(&b"new"[..]));
    assert_eq!(
        clone.get("k15").unwrap().unwrap().value.as_deref(),
        Some(&b"new"[..])
    );
    // It fetched what the diff and the gets needed, not the bee.
    assert!(clone.stats().fetched < 30, "{:?}", clone.stats());
}

#[test]
fn clear_unlinked_keeps_every_answer_and_drops_the_rest() {
    let (node, core, _) = writer(5);
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    for i in 0..400u32 {
        let k = format!("k{:03}", (i * 7) % 90);
        if i % 4 == 3 {
            bee.del(k).unwrap();
        } else {
            bee.batch(vec![Op::put(k, Some(Bytes::from(format!("v{i}"))))])
                .unwrap();
        }
    }
    let keys: Vec<String> = (0..90).map(|i| format!("k{i:03}")).collect();
    let gets: Vec<_> = keys.iter().map(|k| bee.get(k.clone()).unwrap()).collect();
    let all: Vec<_> = bee
        .range(RangeOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    let length = node.info(core).unwrap().length;
    let held = |node: &Node<MemoryStorage>| {
        node.with_endpoint(move |ep| ep.log(core).unwrap().bitfield().count(0, length))
            .unwrap()
    };
    assert_eq!(held(&node), length);
    let cleared = bee
        .clear_unlinked(ClearOptions {
            batch_size: 37,
            ..ClearOptions::default()
        })
        .unwrap();
    assert_eq!(cleared.lt, length - 1);
    assert!(cleared.blocks > length / 2, "{cleared:?} of {length}");
    assert_eq!(held(&node), length - cleared.blocks);
    // Read with a fresh cache and without fetching: only local blocks answer.
    let fresh = Bee::open(
        &node,
        core,
        BeeOptions {
            fetch: false,
            ..BeeOptions::default()
        },
    )
    .unwrap();
    let again: Vec<_> = keys.iter().map(|k| fresh.get(k.clone()).unwrap()).collect();
    assert_eq!(again, gets);
    let all_again: Vec<_> = fresh
        .range(RangeOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(all_again, all);
    // The history of the cleared blocks is gone.
    let history: Result<Vec<_>, _> = fresh.history(HistoryOptions::default()).collect();
    assert!(history.is_err());
    // Nothing more to clear; the writer goes on writing.
    assert_eq!(
        bee.clear_unlinked(ClearOptions::default()).unwrap().blocks,
        0
    );
    bee.put("k000", "after").unwrap();
    assert_eq!(
        fresh.get("k000").unwrap().unwrap().value.as_deref(),
        Some(&b"after"[..])
    );
}

/// JS hyperbee 2.27.3's `clearUnlinked` on the bee of `tests/js/bee-clear.mjs OPS KEYS
/// [GTE]`: its blocks, the seqs it cleared, what it returned.
fn js_clear(args: &[&str]) -> (Vec<String>, Vec<u64>, u64) {
    let out = std::process::Command::new("node")
        .arg(ferrocore_tests::js::js_dir().join("bee-clear.mjs"))
        .args(args)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let strings = |k: &str| -> Vec<serde_json::Value> { v[k].as_array().unwrap().clone() };
    (
        strings("blocks")
            .iter()
            .map(|b| b.as_str().unwrap().to_owned())
            .collect(),
        strings("cleared")
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect(),
        v["lt"].as_u64().unwrap(),
    )
}

#[test]
fn clear_unlinked_clears_exactly_the_blocks_js_clears() {
    for (ops, keys, gte) in [
        (400u32, 90u32, None),
        (400, 90, Some(200)),
        (1500, 300, Some(700)),
    ] {
        let mut args = vec![ops.to_string(), keys.to_string()];
        args.extend(gte.map(|g: i64| g.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (js_blocks, js_cleared, js_lt) = js_clear(&args);

        let (node, core, _) = writer(6);
        let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
        for i in 0..ops {
            let k = format!("k{:03}", (i * 7) % keys);
            if i % 4 == 3 {
                bee.del(k).unwrap();
            } else {
                bee.put(k, format!("v{i}")).unwrap();
            }
        }
        let length = node.info(core).unwrap().length;
        let blocks: Vec<String> = (0..length)
            .map(|i| hex::encode(node.get(core, i, None).unwrap()))
            .collect();
        assert_eq!(
            blocks, js_blocks,
            "the same operations write the same blocks"
        );
        let cleared = bee
            .clear_unlinked(ClearOptions {
                gte,
                ..ClearOptions::default()
            })
            .unwrap();
        let gone: Vec<u64> = node
            .with_endpoint(move |ep| {
                let log = ep.log(core).unwrap();
                (0..length).filter(|&i| !log.has(i, i + 1)).collect()
            })
            .unwrap();
        assert_eq!(gone, js_cleared, "gte {gte:?}");
        assert_eq!(cleared.blocks, gone.len() as u64);
        assert_eq!(cleared.lt, js_lt);
    }
}
