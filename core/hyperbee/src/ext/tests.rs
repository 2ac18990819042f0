use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use ferrocore_wire::bee::{Extension, ExtensionCache, ExtensionGet, ExtensionIterator};
use serde_json::Value;

use super::*;
use crate::testing::MemBee;
use crate::{Bee, BeeConfig, Machine, RangeOptions, Step};

const VECTORS: &str = include_str!("../../../../tests/vectors/bee/extension.json");

fn key(i: usize) -> Vec<u8> {
    format!("k{i:05}").into_bytes()
}

fn bee_of(n: usize) -> MemBee {
    let mut bee = MemBee::new();
    for i in 0..n {
        bee.put(&key((i * 7919) % n), Some(b"v"));
    }
    bee
}

fn local(bee: &MemBee) -> impl FnMut(u64) -> Option<Bytes> + '_ {
    |seq| bee.blocks.get(seq as usize).cloned()
}

/// The blocks a cold reader asks for, in order, running `m` over `bee`'s blocks (stopping
/// after `entries` outputs that say "go on").
fn cold<M: Machine>(
    bee: &MemBee,
    m: &mut M,
    mut outputs: usize,
    go_on: fn(&M::Output) -> bool,
) -> Vec<u64> {
    let mut fresh = Bee::new(bee.blocks.len() as u64, BeeConfig::default());
    let mut asked = Vec::new();
    loop {
        match m.poll(&mut fresh).unwrap() {
            Step::NeedBlock(seq) => {
                asked.push(seq);
                m.handle_block(seq, &bee.blocks[seq as usize]).unwrap();
            }
            Step::Done(out) => {
                if !go_on(&out) || outputs <= 1 {
                    return asked;
                }
                outputs -= 1;
            }
            Step::Append(_) => unreachable!(),
        }
    }
}

fn flat(replies: &[ExtensionCache]) -> Vec<u64> {
    replies
        .iter()
        .flat_map(|c| c.blocks.iter().copied())
        .collect()
}

fn check_framing(replies: &[ExtensionCache]) {
    for (i, c) in replies.iter().enumerate() {
        assert!(!c.blocks.is_empty());
        assert!(c.blocks.len() <= FLUSH_BATCH);
        if i + 1 < replies.len() {
            assert_eq!(
                c.blocks.len(),
                FLUSH_BATCH,
                "only the last reply is partial"
            );
        }
        assert_eq!(c.start, *c.blocks.iter().min().unwrap());
        assert_eq!(c.end, c.blocks.iter().max().unwrap() + 1);
    }
}

#[test]
fn cache_batch_builds_js_replies() {
    let mut b = CacheBatch::default();
    for s in [9, 2, 4] {
        b.push(s);
    }
    let replies = b.finish();
    assert_eq!(replies.len(), 1);
    let msg = Extension {
        cache: Some(replies[0].clone()),
        ..Extension::default()
    };
    // JS's `Cache{start: 2, end: 10, blocks: [9, 2, 4]}` (data-structures.md §2.9).
    assert_eq!(hex::encode(msg.encode()), "0a090802100a1a03090204");

    let mut b = CacheBatch::default();
    for s in (0..300u64).rev() {
        b.push(s * 3);
    }
    let replies = b.finish();
    assert_eq!(
        replies.iter().map(|c| c.blocks.len()).collect::<Vec<_>>(),
        vec![128, 128, 44]
    );
    assert_eq!((replies[0].start, replies[0].end), (172 * 3, 299 * 3 + 1));
    assert_eq!((replies[2].start, replies[2].end), (0, 43 * 3 + 1));
    check_framing(&replies);
    assert!(CacheBatch::default().finish().is_empty());
}

#[test]
fn get_request_is_js_bytes() {
    let m = get_request(5, &Bytes::from_static(b"a"));
    assert_eq!(hex::encode(m.encode()), "12050805120161");
    // On the wire: hypercore's `c.buffer` around it.
    let wire = encode_message(&m);
    assert_eq!(hex::encode(&wire), "0712050805120161");
    assert_eq!(decode_message(&Bytes::from(wire)), Some(m));
    for bad in [&b""[..], b"\x00", b"\x07\x12\x05", b"\x03\xff\xff\xff"] {
        assert_eq!(
            decode_message(&Bytes::copy_from_slice(bad)),
            None,
            "{bad:?}"
        );
    }
}

#[test]
fn request_messages_match_vectors() {
    let v: Value = serde_json::from_str(VECTORS).unwrap();
    let blocks: Vec<Bytes> = v["snapshotBee"]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Bytes::from(hex::decode(h.as_str().unwrap()).unwrap()))
        .collect();
    let bee = MemBee::from_blocks(blocks, BeeConfig::default());
    let mut checked = 0;
    for s in v["snapshots"].as_array().unwrap() {
        let r = &s["range"];
        let opt = |k: &str| r[k].as_str().map(|h| Bytes::from(hex::decode(h).unwrap()));
        let options = RangeOptions {
            gt: opt("gt"),
            gte: opt("gte"),
            lt: opt("lt"),
            lte: opt("lte"),
            reverse: r["reverse"].as_bool().unwrap(),
            limit: r["limit"].as_i64().and_then(|l| u64::try_from(l).ok()),
            checkpoint: Vec::new(),
        };
        let mut range = bee.at(None).range(options);
        let mut b = bee.clone();
        b.run(&mut range.opening()).unwrap();
        for _ in 0..s["nexts"].as_u64().unwrap() {
            b.run(&mut range).unwrap();
        }
        let want = s["bytes"].as_str();
        let got = iterator_request(&range).map(|m| hex::encode(m.encode()));
        assert_eq!(got.as_deref(), want, "{s}");
        // Our responder answers it with blocks of the bee, framed as JS frames them.
        if let Some(m) = iterator_request(&range) {
            let resp = Responder::iterator(m.iterator.as_ref().unwrap(), 116).unwrap();
            let replies = resp.run(local(&bee));
            check_framing(&replies);
            assert!(flat(&replies).iter().all(|&s| s > 0 && s < 116));
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked}");
}

#[test]
fn get_names_what_a_cold_get_reads() {
    let bee = bee_of(3000);
    let length = bee.blocks.len() as u64;
    for (i, version) in [(17, length), (2999, length), (5, 900), (1234, 2)] {
        let k = Bytes::from(key(i));
        let req = ExtensionGet {
            version: Some(version),
            key: Some(k.clone()),
        };
        let replies = Responder::get(&req, length).unwrap().run(local(&bee));
        let want = cold(&bee, &mut bee.at(Some(version)).get(k), 1, |_| false);
        assert_eq!(flat(&replies), want, "key {i} at {version}");
        assert_eq!(want.first(), Some(&(version - 1)), "the root first");
        check_framing(&replies);
    }
}

#[test]
fn requests_out_of_range_are_ignored() {
    let bee = bee_of(50);
    let length = bee.blocks.len() as u64;
    let get = |version| ExtensionGet {
        version,
        key: Some(Bytes::from_static(b"k00001")),
    };
    assert!(Responder::get(&get(None), length).is_none());
    assert!(Responder::get(&get(Some(0)), length).is_none());
    assert!(Responder::get(&get(Some(length + 1)), length).is_none());
    assert!(Responder::get(&get(Some(length)), length).is_some());
    // Version 1 has no root: nothing to say.
    let replies = Responder::get(&get(Some(1)), length)
        .unwrap()
        .run(local(&bee));
    assert!(replies.is_empty());
    let ite = |cp: Vec<u64>| ExtensionIterator {
        version: Some(length),
        checkpoint: cp,
        ..ExtensionIterator::default()
    };
    assert!(Responder::iterator(&ite(vec![1, 0]), length).is_none());
    assert!(Responder::iterator(&ite(vec![1; 3 * (crate::MAX_DEPTH + 1)]), length).is_none());
    let m = Extension {
        get: Some(get(Some(length))),
        iterator: Some(ite(Vec::new())),
        ..Extension::default()
    };
    assert_eq!(Responder::for_message(&m, length).len(), 2);
}

#[test]
fn a_missing_block_ends_the_walk_and_is_named() {
    let bee = bee_of(3000);
    let length = bee.blocks.len() as u64;
    let k = Bytes::from(key(42));
    let want = cold(&bee, &mut bee.at(None).get(k.clone()), 1, |_| false);
    assert!(want.len() >= 4, "{want:?}");
    let missing = want[2];
    let req = ExtensionGet {
        version: Some(length),
        key: Some(k),
    };
    let replies = Responder::get(&req, length)
        .unwrap()
        .run(|seq| (seq != missing).then(|| bee.blocks[seq as usize].clone()));
    assert_eq!(flat(&replies), want[..3]);
}

#[test]
fn a_range_walk_stops_at_the_active_batch() {
    let bee = bee_of(5000);
    let length = bee.blocks.len() as u64;
    let req = ExtensionIterator {
        version: Some(length),
        limit: Some(0),
        ..ExtensionIterator::default()
    };
    let replies = Responder::iterator(&req, length).unwrap().run(local(&bee));
    check_framing(&replies);
    let got = flat(&replies);
    assert!(got.len() >= MAX_ACTIVE_BATCH && got.len() < MAX_ACTIVE_BATCH + 2 * crate::MAX_DEPTH);
    assert_eq!(replies.len(), got.len().div_ceil(FLUSH_BATCH));
    // Exactly what a cold forward scan reads first.
    let mut range = bee.at(None).range(RangeOptions::default());
    let want = cold(&bee, &mut range, usize::MAX, Option::is_some);
    assert_eq!(got, want[..got.len()]);

    // A limit ends it sooner: 10 entries.
    let req = ExtensionIterator {
        limit: Some(10),
        reverse: Some(true),
        ..req
    };
    let got = flat(&Responder::iterator(&req, length).unwrap().run(local(&bee)));
    let options = RangeOptions {
        reverse: true,
        limit: Some(10),
        ..RangeOptions::default()
    };
    let want = cold(
        &bee,
        &mut bee.at(None).range(options),
        usize::MAX,
        Option::is_some,
    );
    assert_eq!(got, want);
    assert!(got.len() < 40, "{}", got.len());
}

#[test]
fn a_checkpoint_resumes_and_skips_as_js() {
    let bee = bee_of(3000);
    let length = bee.blocks.len() as u64;
    let mut range = bee.at(None).range(RangeOptions::default());
    let mut b = bee.clone();
    for _ in 0..500 {
        b.run(&mut range).unwrap();
    }
    let m = iterator_request(&range).unwrap();
    let it = m.iterator.unwrap();
    let skip = it.checkpoint.len();
    let got = flat(&Responder::iterator(&it, length).unwrap().run(local(&bee)));
    let resumed = RangeOptions {
        checkpoint: it.checkpoint.clone(),
        ..RangeOptions::default()
    };
    let want = cold(
        &bee,
        &mut bee.at(None).range(resumed),
        usize::MAX,
        Option::is_some,
    );
    assert_eq!(got, want[skip..skip + got.len()]);
    // As JS, the cap is checked between entries: the entry that reaches it finishes.
    assert!(got.len() >= MAX_ACTIVE_BATCH && got.len() < MAX_ACTIVE_BATCH + 2 * crate::MAX_DEPTH);
}

#[test]
fn hostile_blocks_cost_bounded_work() {
    // A tree whose root points at itself as its only child, and garbage blocks.
    let mut bee = bee_of(20);
    let length = bee.blocks.len() as u64;
    bee.blocks[length as usize - 1] = Bytes::from_static(b"\xff\xff\xff");
    let req = ExtensionIterator {
        version: Some(length),
        ..ExtensionIterator::default()
    };
    let replies = Responder::iterator(&req, length).unwrap().run(local(&bee));
    assert_eq!(flat(&replies), vec![length - 1]);
    let req = ExtensionIterator {
        version: Some(length),
        checkpoint: vec![u64::MAX, u64::MAX, u64::MAX],
        ..ExtensionIterator::default()
    };
    let mut asked = 0;
    let replies = Responder::iterator(&req, length).unwrap().run(|_| {
        asked += 1;
        None
    });
    assert!(asked <= 1 && flat(&replies).is_empty(), "{asked}");
}

#[test]
fn requester_paces_and_filters() {
    let mut r = Requests::new(MAX_PASSIVE_BATCH);
    assert!(r.on_wait());
    assert!(!r.on_wait());
    for _ in 0..MAX_PASSIVE_BATCH - 1 {
        r.on_block();
    }
    assert!(!r.on_wait());
    r.on_block();
    assert!(r.on_wait());
    let mut once = Requests::new(u64::MAX);
    assert!(once.on_wait());
    once.on_block();
    assert!(!once.on_wait());

    let cache = ExtensionCache {
        start: 0,
        end: 0,
        blocks: vec![5, 9, 5, 1000, 7, 3, 8],
    };
    let got = blocks_to_download(&cache, 100, 3, |s| s == 7);
    assert_eq!(got, vec![5, 9, 3]);
    let got = blocks_to_download(&cache, 100, 100, |s| s == 7);
    assert_eq!(got, vec![5, 9, 3, 8]);
}
