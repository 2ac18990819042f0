//! Golden bytes from hyperbee 2.27.3 (data-structures.md §2.9, §2.10) and hostile inputs.

use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    s.chunks(2)
        .map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn b(s: &[u8]) -> Bytes {
    Bytes::copy_from_slice(s)
}

fn leaf(keys: &[u64]) -> Level {
    Level {
        keys: keys.to_vec(),
        children: vec![],
    }
}

#[test]
fn headers_match_js() {
    let plain = Header::hyperbee(None);
    assert_eq!(plain.encode(), unhex("0a086879706572626565"));
    let drive = Header::hyperbee(Some(Metadata::default()));
    assert_eq!(drive.encode(), unhex("0a0868797065726265651200"));
    for h in [plain, drive] {
        let d = Header::decode(&h.encode().into()).unwrap();
        assert!(d.is_hyperbee());
        assert_eq!(d, h);
    }
    let with_feed = Header::hyperbee(Some(Metadata {
        content_feed: Some(b(&[7; 32])),
        user_data: None,
    }));
    // protocol field (10) + metadata header (2) + contentFeed field (2 + 32)
    assert_eq!(with_feed.encode().len(), 46);
    assert_eq!(
        Header::decode(&with_feed.encode().into()).unwrap(),
        with_feed
    );
}

fn node(index: &YoloIndex, key: &[u8], value: Option<&[u8]>) -> Vec<u8> {
    Node {
        index: index.encode().into(),
        key: b(key),
        value: value.map(b),
    }
    .encode()
}

#[test]
fn node_blocks_match_js() {
    // put a=1 on an empty bee
    let one = YoloIndex {
        levels: vec![leaf(&[1])],
    };
    assert_eq!(
        node(&one, b"a", Some(b"1")),
        unhex("0a05 0a03 0a0101 120161 1a0131")
    );
    // the first split: root [e@5] over (9,1) (9,2)
    let split = YoloIndex {
        levels: vec![
            Level {
                keys: vec![5],
                children: vec![9, 1, 9, 2],
            },
            leaf(&[1, 2, 3, 4]),
            leaf(&[6, 7, 8, 9]),
        ],
    };
    let want = "0a1b 0a09 0a0105 1204 09010902 0a06 0a04 01020304 0a06 0a04 06070809 120169 1a0169";
    assert_eq!(node(&split, b"i", Some(b"i")), unhex(want));
    // del e: one leaf, no value
    let del = YoloIndex {
        levels: vec![leaf(&[1, 2, 3, 4, 6, 7, 8, 9])],
    };
    assert_eq!(
        node(&del, b"e", None),
        unhex("0a0c 0a0a 0a08 0102030406070809 120165")
    );
    // a compacted batch block: empty index
    assert_eq!(
        node(&YoloIndex::default(), b"x", Some(b"X")),
        unhex("0a00 120178 1a0158")
    );
    // put of an empty value writes the field
    assert_eq!(
        node(&YoloIndex::default(), b"x", Some(b"")),
        unhex("0a00 120178 1a00")
    );
    for bytes in [
        want,
        "0a0c 0a0a 0a08 0102030406070809 120165",
        "0a00 120178 1a00",
    ] {
        let raw = Bytes::from(unhex(bytes));
        let n = Node::decode(&raw).unwrap();
        assert_eq!(n.encode(), raw);
        assert_eq!(YoloIndex::decode(&n.index).unwrap().encode(), n.index);
    }
    assert_eq!(
        YoloIndex::decode(&unhex(
            "0a090a01051204090109020a060a04010203040a060a0406070809"
        ))
        .unwrap(),
        split
    );
}

#[test]
fn empty_and_zero_levels() {
    // an empty level is `0a 00`; `keys: [0]` is written
    let idx = YoloIndex {
        levels: vec![leaf(&[]), leaf(&[0])],
    };
    assert_eq!(idx.encode(), unhex("0a00 0a03 0a0100"));
    assert_eq!(YoloIndex::decode(&idx.encode()).unwrap(), idx);
    assert!(YoloIndex::default().encode().is_empty());
}

#[test]
fn extension_messages_match_js() {
    let get = Extension {
        get: Some(ExtensionGet {
            version: Some(5),
            key: Some(b(b"a")),
        }),
        ..Extension::default()
    };
    assert_eq!(get.encode(), unhex("12050805120161"));
    let cache = Extension {
        cache: Some(ExtensionCache {
            start: 2,
            end: 10,
            blocks: vec![9, 2, 4],
        }),
        ..Extension::default()
    };
    assert_eq!(cache.encode(), unhex("0a090802100a1a03090204"));
    let it = Extension {
        iterator: Some(ExtensionIterator {
            version: Some(14),
            gte: Some(b(b"a")),
            limit: Some(0),
            reverse: Some(false),
            checkpoint: vec![14, 0, 1],
            ..ExtensionIterator::default()
        }),
        ..Extension::default()
    };
    assert_eq!(it.encode(), unhex("1a0e080e1201613000380042030e0001"));
    for m in [get, cache, it] {
        assert_eq!(Extension::decode(&m.encode().into()).unwrap(), m);
    }
}

#[test]
fn unknown_fields_are_skipped_and_unpacked_repeats_accepted() {
    // Node with an unknown varint field 9, a fixed64 field 10 and a fixed32 field 11.
    let mut raw = unhex("0a00 120161");
    raw.extend(unhex("4801 510102030405060708 5d01020304"));
    let n = Node::decode(&raw.into()).unwrap();
    assert_eq!(n.key, b"a".as_slice());
    assert_eq!(n.value, None);
    // keys written unpacked (wire type 0), twice
    let lvl = YoloIndex::decode(&unhex("0a04 0805 0806")).unwrap();
    assert_eq!(lvl.levels[0].keys, [5, 6]);
}

#[test]
fn hostile_inputs_are_errors() {
    let bad: &[&str] = &[
        "",                              // node without index and key
        "0a00",                          // node without key
        "0a05 00",                       // length past the end
        "0aff ffff ffff ffff ffff ff01", // length varint past 64 bits
        "0a00 1201",                     // truncated key
        "0f",                            // wire type 7
        "0b",                            // group start
        "08",                            // truncated varint
        "0a00 1201 61 49",               // truncated fixed64 of an unknown field
    ];
    for h in bad {
        assert!(Node::decode(&unhex(h).into()).is_err(), "{h}");
    }
    assert!(
        Node::decode(&unhex("0801 120161").into()).is_err(),
        "index as varint"
    );
    assert!(
        Header::decode(&unhex("1200").into()).is_err(),
        "no protocol"
    );
    assert!(
        Header::decode(&unhex("0a02 c328").into()).is_err(),
        "bad utf-8"
    );
    assert!(
        YoloIndex::decode(&unhex("0a03 0a05 01")).is_err(),
        "packed past its level"
    );
    assert!(
        YoloIndex::decode(&unhex("0a02 0a01 80")).is_err(),
        "truncated packed varint"
    );
    assert!(
        Extension::decode(&unhex("0a02 0801").into()).is_err(),
        "cache without end"
    );
    // a huge declared length fails before allocating
    assert!(YoloIndex::decode(&unhex("0a ffffffff0f")).is_err());
}
