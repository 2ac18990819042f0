//! The bee against a `BTreeMap` model: random puts, deletes, batches and reopens (a fresh
//! bee over the same blocks, its cache cold, writing on: its blocks must stay identical to
//! those of a bee never reopened); then gets, ranges (random bounds, direction, limit,
//! checkpoints), history and diffs at every version a step ended on (checkouts), each
//! against the model's snapshot at that version.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use ferrocore_hyperbee::sub::KeyRange;
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_hyperbee::{BeeConfig, Entry, HistoryOptions, Op, RangeOptions};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, (u64, Option<Vec<u8>>)>;

#[derive(Debug, Clone)]
enum M {
    Put(Vec<u8>, Option<Vec<u8>>),
    Del(Vec<u8>),
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => (0u8..60).prop_map(|k| vec![b'k', k]),
        4 => (0u16..3000).prop_map(|k| [&b"m"[..], &k.to_be_bytes()].concat()),
        1 => proptest::collection::vec(any::<u8>(), 0..4),
    ]
}

fn m() -> impl Strategy<Value = M> {
    prop_oneof![
        3 => (key(), proptest::option::weighted(0.9, proptest::collection::vec(any::<u8>(), 0..3)))
            .prop_map(|(k, v)| M::Put(k, v)),
        2 => key().prop_map(M::Del),
    ]
}

fn step() -> impl Strategy<Value = Vec<M>> {
    prop_oneof![
        6 => m().prop_map(|x| vec![x]),
        1 => proptest::collection::vec(m(), 1..40),
    ]
}

fn to_op(x: &M) -> Op {
    match x {
        M::Put(k, v) => Op::put(Bytes::from(k.clone()), v.clone().map(Bytes::from)),
        M::Del(k) => Op::del(Bytes::from(k.clone())),
    }
}

fn entry(k: &[u8], (seq, v): &(u64, Option<Vec<u8>>)) -> Entry {
    Entry {
        seq: *seq,
        key: Bytes::copy_from_slice(k),
        value: v.clone().map(Bytes::from),
    }
}

fn bound(b: &Option<Bytes>, incl: bool) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some(k) if incl => Bound::Included(k.to_vec()),
        Some(k) => Bound::Excluded(k.to_vec()),
    }
}

fn model_range(m: &Model, o: &RangeOptions) -> Vec<Entry> {
    let lo = if o.gt.is_some() {
        bound(&o.gt, false)
    } else {
        bound(&o.gte, true)
    };
    let hi = if o.lt.is_some() {
        bound(&o.lt, false)
    } else {
        bound(&o.lte, true)
    };
    let empty = match (&lo, &hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => {
            a > b
                || (a == b
                    && !(matches!(lo, Bound::Included(_)) && matches!(hi, Bound::Included(_))))
        }
        _ => false,
    };
    if empty {
        return vec![];
    }
    let mut out: Vec<Entry> = m.range((lo, hi)).map(|(k, v)| entry(k, v)).collect();
    if o.reverse {
        out.reverse();
    }
    if let Some(l) = o.limit {
        out.truncate(l as usize);
    }
    out
}

fn opt_key(sel: u8, k: Vec<u8>) -> Option<Bytes> {
    (sel % 3 == 0).then(|| Bytes::from(k))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn bee_matches_btreemap(
        steps in proptest::collection::vec((step(), any::<u8>()), 1..250),
        probes in proptest::collection::vec((any::<u8>(), key(), any::<u8>(), key(), any::<u8>(), any::<bool>(), 0u64..8), 12),
        small_cache in any::<bool>(),
    ) {
        // a tiny cache evicts blocks mid-operation: the machines ask for them again
        let cache_blocks = if small_cache { 1 } else { 1 << 16 };
        let config = BeeConfig { cache_blocks, ..BeeConfig::default() };
        let mut bee = MemBee::with_config(config.clone());
        // the same steps on a bee never reopened
        let mut kept = MemBee::with_config(config.clone());
        let mut model = Model::new();
        let mut snapshots: Vec<(u64, Model)> = Vec::new();
        for (ops, reopen) in &steps {
            if reopen % 8 == 0 {
                bee = MemBee::from_blocks(bee.blocks.clone(), config.clone());
            }
            let mut next = bee.blocks.len().max(1) as u64;
            let mut applied = Vec::new();
            for x in ops {
                match x {
                    M::Put(k, v) => {
                        model.insert(k.clone(), (next, v.clone()));
                        next += 1;
                        applied.push(true);
                    }
                    M::Del(k) => {
                        let hit = model.remove(k).is_some();
                        next += u64::from(hit);
                        applied.push(hit);
                    }
                }
            }
            let out = bee.batch(ops.iter().map(to_op).collect()).unwrap();
            kept.batch(ops.iter().map(to_op).collect()).unwrap();
            prop_assert_eq!(out.applied, applied);
            prop_assert_eq!(bee.blocks.last(), kept.blocks.last());
            prop_assert_eq!(bee.blocks.len() as u64, next);
            snapshots.push((bee.blocks.len() as u64, model.clone()));
        }
        prop_assert_eq!(&bee.blocks, &kept.blocks);
        for (i, (version, snap)) in snapshots.iter().enumerate() {
            if !(i % 7 == 0 || i + 1 == snapshots.len()) {
                continue;
            }
            let v = Some(*version);
            for k in (0u8..60).map(|k| vec![b'k', k]).chain(snap.keys().cloned()) {
                let want = snap.get(&k).map(|e| entry(&k, e));
                let mut get = bee.bee.checkout(*version).get(Bytes::from(k.clone())).root_shortcut_only();
                prop_assert_eq!(bee.run(&mut get).unwrap(), want.clone());
                // JS's shortcut below the root differs only by answering from an older block
                // of this key (a put or a delete that a later write superseded)
                let js = bee.get_at(&k, v).unwrap();
                if js != want {
                    let stale = |e: &Entry| e.key == k && want.as_ref().is_none_or(|w| w.seq > e.seq);
                    prop_assert!(js.as_ref().map_or(want.is_some(), stale), "{:?} vs {:?}", js, want);
                }
            }
            prop_assert_eq!(bee.range(RangeOptions::default(), v).unwrap(), model_range(snap, &RangeOptions::default()));
            for (a, ka, b, kb, sel, reverse, limit) in &probes {
                let o = RangeOptions {
                    gt: opt_key(*a, ka.clone()),
                    gte: opt_key(a / 3, ka.clone()),
                    lt: opt_key(*b, kb.clone()),
                    lte: opt_key(b / 3, kb.clone()),
                    reverse: *reverse,
                    limit: (sel % 2 == 0).then_some(*limit),
                    ..RangeOptions::default()
                };
                let want = model_range(snap, &o);
                prop_assert_eq!(bee.range(o.clone(), v).unwrap(), want.clone(), "{:?}", o);
                // stop after some entries, snapshot, resume from the checkpoint: the rest
                let take = (*limit as usize).min(want.len());
                let mut it = bee.bee.checkout(*version).range(o.clone());
                bee.run(&mut it.opening()).unwrap();
                for w in &want[..take] {
                    let got = bee.run(&mut it).unwrap();
                    prop_assert_eq!(got.as_ref(), Some(w));
                }
                let cp = it.snapshot();
                let mut rest = bee.bee.checkout(*version).range(RangeOptions { checkpoint: cp.checkpoint.clone(), limit: None, ..o.clone() });
                let rest = bee.collect(&mut rest).unwrap();
                let left = o.limit.map_or(want.len(), |l| l as usize).min(want.len()) - take;
                if !cp.checkpoint.is_empty() {
                    prop_assert_eq!(&rest[..left.min(rest.len())], &want[take..take + left.min(rest.len())]);
                    prop_assert!(rest.len() >= left);
                }
            }
            // history: every block of the version, in order
            let hist = bee.history(HistoryOptions::default(), v).unwrap();
            prop_assert_eq!(hist.len() as u64, version - 1);
            prop_assert!(hist.iter().enumerate().all(|(j, h)| h.entry.seq == j as u64 + 1));
            // diff against the last version, as the naive per-key comparison
            let (last, last_snap) = snapshots.last().unwrap();
            let diff = bee.diff(*version, *last, KeyRange::default()).unwrap();
            let mut naive = Vec::new();
            let keys: std::collections::BTreeSet<_> = snap.keys().chain(last_snap.keys()).collect();
            for k in keys {
                let (l, r) = (snap.get(k), last_snap.get(k));
                if l.map(|e| e.0) != r.map(|e| e.0) {
                    naive.push((l.map(|e| entry(k, e)), r.map(|e| entry(k, e))));
                }
            }
            let got: Vec<_> = diff.into_iter().map(|d| (d.left, d.right)).collect();
            prop_assert_eq!(got, naive);
        }
    }
}
