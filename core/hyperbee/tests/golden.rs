//! The golden blocks of data-structures.md §2.10 (hyperbee 2.27.3, utf-8 keys and values).

use bytes::Bytes;
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_hyperbee::{HistoryOptions, Op, RangeOptions};

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

fn strip(s: &str) -> String {
    s.split_whitespace().collect()
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The §2.10 sequence, checked block by block.
fn golden_bee() -> MemBee {
    let mut bee = MemBee::new();
    bee.put(b"a", Some(b"1"));
    assert_eq!(hex(&bee.blocks[0]), "0a086879706572626565");
    assert_eq!(hex(&bee.blocks[1]), strip("0a05 0a03 0a0101 120161 1a0131"));
    for k in ["b", "c", "d", "e", "f", "g", "h", "i"] {
        bee.put(k.as_bytes(), Some(k.as_bytes()));
    }
    let split =
        "0a1b 0a09 0a0105 1204 09010902 0a06 0a04 01020304 0a06 0a04 06070809 120169 1a0169";
    assert_eq!(hex(&bee.blocks[9]), strip(split));
    bee.del(b"e");
    assert_eq!(
        hex(&bee.blocks[10]),
        strip("0a0c 0a0a 0a08 0102030406070809 120165")
    );
    let same = bee.put(b"a", Some(b"1"));
    assert_eq!(same.blocks, 1, "an unchanged value is still written");
    assert_eq!(
        hex(&bee.blocks[11]),
        strip("0a0c 0a0a 0a08 0b02030406070809 120161 1a0131")
    );
    let out = bee
        .batch(vec![
            Op::put(b("x"), Some(b("X"))),
            Op::put(b("y"), Some(b("Y"))),
            Op::del(b("a")),
        ])
        .unwrap();
    assert_eq!(out.applied, [true, true, true]);
    assert_eq!(out.first_seq, Some(12));
    assert_eq!(hex(&bee.blocks[12]), strip("0a00 120178 1a0158"));
    assert_eq!(hex(&bee.blocks[13]), strip("0a00 120179 1a0159"));
    let last = "0a1b 0a09 0a0107 1204 0e010e02 0a06 0a04 02030406 0a06 0a04 08090c0d 120161";
    assert_eq!(hex(&bee.blocks[14]), strip(last));
    assert_eq!(bee.blocks.len(), 15);
    bee
}

#[test]
fn golden_blocks_match_js() {
    golden_bee();
}

#[test]
fn golden_reads() {
    let mut bee = golden_bee();
    let got = bee.get(b"x").unwrap().unwrap();
    assert_eq!((got.seq, got.value), (12, Some(b("X"))));
    assert_eq!(bee.get(b"a").unwrap(), None, "deleted in the batch");
    assert_eq!(bee.get(b"e").unwrap(), None);
    // at version 11 (before `put a` again), a is block 1; at 12, block 11
    assert_eq!(bee.get_at(b"a", Some(11)).unwrap().unwrap().seq, 1);
    assert_eq!(bee.get_at(b"a", Some(12)).unwrap().unwrap().seq, 11);
    assert_eq!(bee.get_at(b"e", Some(10)).unwrap().unwrap().seq, 5);
    let keys: Vec<String> = bee
        .range(RangeOptions::default(), None)
        .unwrap()
        .iter()
        .map(|e| String::from_utf8(e.key.to_vec()).unwrap())
        .collect();
    assert_eq!(keys, ["b", "c", "d", "f", "g", "h", "i", "x", "y"]);
    let rev = bee
        .range(
            RangeOptions {
                gt: Some(b("c")),
                lte: Some(b("h")),
                reverse: true,
                limit: Some(3),
                ..RangeOptions::default()
            },
            None,
        )
        .unwrap();
    let rev: Vec<&[u8]> = rev.iter().map(|e| e.key.as_ref()).collect();
    assert_eq!(rev, [b"h", b"g", b"f"]);
    let hist = bee
        .history(
            HistoryOptions {
                gte: Some(-5),
                ..HistoryOptions::default()
            },
            None,
        )
        .unwrap();
    let kinds: Vec<(u64, bool)> = hist.iter().map(|h| (h.entry.seq, h.deletion)).collect();
    assert_eq!(
        kinds,
        [
            (10, true),
            (11, false),
            (12, false),
            (13, false),
            (14, true)
        ]
    );
}

#[test]
fn always_duplicate_off_skips_unchanged_values() {
    use ferrocore_hyperbee::BeeConfig;
    let config = BeeConfig {
        always_duplicate: false,
        ..BeeConfig::default()
    };
    let mut bee = MemBee::with_config(config);
    for k in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        bee.put(k.as_bytes(), Some(b"1"));
    }
    let len = bee.blocks.len();
    // unchanged, in a leaf and in the root (e is the root's key after the split)
    assert_eq!(bee.put(b"a", Some(b"1")).applied, [false]);
    assert_eq!(bee.put(b"e", Some(b"1")).applied, [false]);
    assert_eq!(bee.blocks.len(), len);
    assert_eq!(bee.put(b"e", Some(b"2")).applied, [true]);
    bee.put(b"n", None);
    let len = bee.blocks.len();
    // null equals null only
    assert_eq!(bee.put(b"n", None).applied, [false]);
    assert_eq!(bee.put(b"n", Some(b"")).applied, [true]);
    assert_eq!(bee.blocks.len(), len + 1);
    // the default writes them all
    let mut dup = MemBee::new();
    dup.put(b"a", Some(b"1"));
    assert_eq!(dup.put(b"a", Some(b"1")).applied, [true]);
}
