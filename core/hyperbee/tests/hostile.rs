//! Blocks from a hostile writer: every read and write ends in a typed error, promptly.

use bytes::Bytes;
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_hyperbee::{BeeConfig, BeeError, HistoryOptions, Op, RangeOptions};
use ferrocore_wire::bee::{Header, Level, Node, YoloIndex};

fn block(key: &str, levels: &[(&[u64], &[u64])]) -> Bytes {
    let index = YoloIndex {
        levels: levels
            .iter()
            .map(|(k, c)| Level {
                keys: k.to_vec(),
                children: c.to_vec(),
            })
            .collect(),
    };
    Node {
        index: index.encode().into(),
        key: Bytes::copy_from_slice(key.as_bytes()),
        value: Some(Bytes::from_static(b"v")),
    }
    .encode()
    .into()
}

fn bee(blocks: Vec<Bytes>) -> MemBee {
    let mut all = vec![Bytes::from(Header::hyperbee(None).encode())];
    all.extend(blocks);
    MemBee::from_blocks(all, BeeConfig::default())
}

/// A full scan either way fails with the expected error; gets and writes at both ends of
/// the key space do not panic, and at least one of each fails.
fn all_fail(mut b: MemBee, want: impl Fn(&BeeError) -> bool) {
    let e = b.range(RangeOptions::default(), None).unwrap_err();
    assert!(want(&e), "range: {e:?}");
    let reverse = RangeOptions {
        reverse: true,
        ..RangeOptions::default()
    };
    let e = b.range(reverse, None).unwrap_err();
    assert!(want(&e), "reverse range: {e:?}");
    let gets = [b.get(b""), b.get(b"zz")];
    assert!(
        gets.iter().any(|g| g.as_ref().is_err_and(&want)),
        "gets: {gets:?}"
    );
    let mut failed = false;
    for k in [&b""[..], b"zz"] {
        let mut w = b.clone();
        let mut write = w.bee.write(vec![Op::put(Bytes::copy_from_slice(k), None)]);
        if let Err(e) = w.run(&mut write) {
            failed |= want(&e);
            // the write cannot go on
            assert!(w.run(&mut write).is_err());
        }
    }
    assert!(failed, "no write failed");
}

#[test]
fn a_pointer_cycle_hits_the_depth_bound() {
    // block 1's root is its own child
    let b = bee(vec![block("a", &[(&[1], &[1, 0, 1, 0])])]);
    all_fail(b, |e| matches!(e, BeeError::TooDeep(_)));
}

#[test]
fn a_cycle_through_two_blocks() {
    let b = bee(vec![
        block("a", &[(&[1], &[2, 0, 2, 0])]),
        block("b", &[(&[2], &[1, 0, 1, 0])]),
    ]);
    all_fail(b, |e| matches!(e, BeeError::TooDeep(_)));
}

#[test]
fn offsets_out_of_range() {
    let b = bee(vec![
        block("a", &[(&[1], &[])]),
        block("b", &[(&[1], &[1, 7, 1, 0])]),
    ]);
    all_fail(b, |e| {
        matches!(e, BeeError::NoSuchNode { seq: 1, offset: 7 })
    });
}

#[test]
fn keys_and_children_from_the_future() {
    let b = bee(vec![block("a", &[(&[5], &[])])]);
    all_fail(b, |e| matches!(e, BeeError::SeqOutOfRange { seq: 5, .. }));
    let b = bee(vec![block("a", &[(&[0], &[])])]);
    all_fail(b, |e| matches!(e, BeeError::SeqOutOfRange { seq: 0, .. }));
    let b = bee(vec![
        block("a", &[(&[1], &[])]),
        block("b", &[(&[2], &[1, 0, 9, 0])]),
    ]);
    all_fail(b, |e| matches!(e, BeeError::SeqOutOfRange { seq: 9, .. }));
}

#[test]
fn misshapen_nodes() {
    let nine: &[u64] = &[1, 1, 1, 1, 1, 1, 1, 1, 1];
    let b = bee(vec![block("a", &[(nine, &[])])]);
    all_fail(b, |e| {
        matches!(
            e,
            BeeError::MalformedNode {
                why: "more than 8 keys",
                ..
            }
        )
    });
    let b = bee(vec![block("a", &[(&[1], &[1, 0])])]);
    all_fail(b, |e| matches!(e, BeeError::MalformedNode { .. }));
    let b = bee(vec![block("a", &[(&[1], &[1, 0, 1])])]);
    all_fail(b, |e| matches!(e, BeeError::MalformedNode { .. }));
}

#[test]
fn undecodable_and_rootless_blocks() {
    let b = bee(vec![Bytes::from_static(&[0x0a, 0x05, 0x00])]);
    all_fail(b, |e| matches!(e, BeeError::Decode { seq: 1, .. }));
    // an intermediate block of a batch has no root: its version is not readable
    let b = bee(vec![block("a", &[])]);
    all_fail(b, |e| matches!(e, BeeError::NoRoot(1)));
}

#[test]
fn history_bounds_before_block_one_fail() {
    let mut b = MemBee::new();
    b.put(b"a", Some(b"1"));
    b.put(b"b", Some(b"2"));
    let before = HistoryOptions {
        gte: Some(-3),
        ..HistoryOptions::default()
    };
    assert_eq!(
        b.history(before, None).unwrap_err(),
        BeeError::BadHistoryBound(0)
    );
    // lt beyond the version names a block the version does not have
    let beyond = HistoryOptions {
        lt: Some(9),
        ..HistoryOptions::default()
    };
    assert!(matches!(
        b.history(beyond, None),
        Err(BeeError::SeqOutOfRange { .. })
    ));
}

#[test]
fn hostile_checkpoints_fail() {
    let mut b = MemBee::new();
    for k in 0..20u8 {
        b.put(&[k], Some(b"v"));
    }
    for cp in [vec![1, 2], vec![20, 9, 0], vec![20, 0, 99], vec![99, 0, 0]] {
        let o = RangeOptions {
            checkpoint: cp.clone(),
            ..RangeOptions::default()
        };
        // a slot past the node's end just ends that node; the rest must be errors
        match b.range(o, None) {
            Ok(v) => assert!(cp == [20, 0, 99] && v.is_empty(), "{cp:?}: {v:?}"),
            Err(e) => assert!(
                matches!(
                    e,
                    BeeError::BadCheckpoint
                        | BeeError::NoSuchNode { .. }
                        | BeeError::SeqOutOfRange { .. }
                ),
                "{cp:?}: {e:?}"
            ),
        }
    }
}

#[test]
fn unasked_blocks_are_refused() {
    let mut b = MemBee::new();
    b.put(b"a", Some(b"1"));
    let mut get = b.bee.view().get(Bytes::from_static(b"a"));
    use ferrocore_hyperbee::Machine;
    assert_eq!(
        get.handle_block(1, &b.blocks[1]),
        Err(BeeError::UnexpectedBlock(1))
    );
}

/// `clearUnlinked`'s walk of everything the tree links to ends on hostile trees: each
/// node once (cycles within a block end there), a child from a later block is an error.
#[test]
fn the_linked_walk_ends_on_cycles() {
    use ferrocore_hyperbee::linked::Linked;
    let seqs = |b: &mut MemBee| -> Result<Vec<u64>, BeeError> {
        let version = b.bee.version();
        let mut walk = Linked::new(version);
        Ok(b.collect(&mut walk)?.into_iter().flatten().collect())
    };
    // Block 1's root is its own child: visited once.
    let mut b = bee(vec![block("a", &[(&[1], &[1, 0, 1, 0])])]);
    assert_eq!(seqs(&mut b).unwrap(), vec![1, 1]);
    // Eight nodes of one block, each a child of every other: each visited once.
    let children: Vec<u64> = (0..9).flat_map(|i| [1, i % 8]).collect();
    let level = (&[1u64, 1, 1, 1, 1, 1, 1, 1][..], &children[..]);
    let mut b = bee(vec![block("a", &[level; 8])]);
    assert_eq!(seqs(&mut b).unwrap().len(), 8 * 9);
    // A child from a later block: an error, not a walk of it.
    let mut b = bee(vec![
        block("a", &[(&[1], &[2, 0, 2, 0])]),
        block("b", &[(&[2], &[1, 0, 1, 0])]),
    ]);
    assert!(matches!(
        seqs(&mut b),
        Err(BeeError::SeqOutOfRange {
            from: 1,
            seq: 2,
            ..
        })
    ));
}
