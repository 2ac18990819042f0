//! Property tests: random trees and random edits, mirrored, on in-memory sides and on
//! disk. After a mirror both sides hold the same entries; mirroring again changes
//! nothing; a dry run reports exactly what the real run then does; the counts add up.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{snapshot, temp_drive};
use ferrocore_mirror::testing::{MemFile, MemSide};
use ferrocore_mirror::{Diff, LocalDrive, Mirror, MirrorTarget, Op, Summary};
use ferrocore_wire::json::Value;
use proptest::prelude::*;

/// Leaf paths: no leaf is also a folder, so every tree fits a file system.
fn paths() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["", "/d", "/d/e", "/f", "/ü/日本"] {
        for name in ["x", "y", "z.bin", "é"] {
            out.push(format!("{dir}/{name}"));
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Item {
    /// `size` bytes of `fill` (few sizes and fills: equal lengths with other bytes are
    /// common), the exec bit, metadata.
    File(usize, u8, bool, Option<u8>),
    /// A link to this target.
    Link(String),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (
            prop::sample::select(vec![0usize, 1, 4, 100, 70_000]),
            0u8..3,
            any::<bool>(),
            prop::option::of(0u8..2),
        )
            .prop_map(|(s, f, x, m)| Item::File(s, f, x, m)),
        1 => prop::sample::select(vec!["x", "../y", "/d/e/é", "nowhere"])
            .prop_map(|t| Item::Link(t.to_string())),
    ]
}

type Tree = BTreeMap<usize, Item>;

fn tree() -> impl Strategy<Value = Tree> {
    prop::collection::btree_map(0..20usize, item(), 0..14)
}

fn edits() -> impl Strategy<Value = BTreeMap<usize, Option<Item>>> {
    prop::collection::btree_map(0..20usize, prop::option::of(item()), 0..8)
}

fn meta(m: Option<u8>) -> Value {
    m.map_or(Value::Null, |m| {
        Value::Object(vec![("v".into(), Value::Number(f64::from(m)))])
    })
}

fn build(side: &mut dyn MirrorTarget, tree: &Tree) {
    let p = paths();
    for (&i, it) in tree {
        match it {
            Item::File(size, fill, exec, m) => {
                side.put(&p[i], &mut &vec![*fill; *size][..], *exec, &meta(*m))
                    .unwrap();
            }
            Item::Link(t) => side.symlink(&p[i], t).unwrap(),
        }
    }
}

fn edit(tree: &Tree, edits: &BTreeMap<usize, Option<Item>>) -> Tree {
    let mut out = tree.clone();
    for (&i, e) in edits {
        match e {
            Some(it) => out.insert(i, it.clone()),
            None => out.remove(&i),
        };
    }
    out
}

fn mirror<T: MirrorTarget + ?Sized, S: ferrocore_mirror::MirrorSource + ?Sized>(
    src: &S,
    dst: &mut T,
    dry: bool,
) -> (Vec<Diff>, Summary) {
    let mut m = Mirror::new(src, dst).dry_run(dry);
    let diffs: Vec<Diff> = (&mut m).map(Result::unwrap).collect();
    (diffs, m.summary())
}

/// The counts a mirror of `src` over `before` must report.
fn check_counts(src: &BTreeSet<String>, before: &BTreeSet<String>, diffs: &[Diff], s: &Summary) {
    let n = |op| diffs.iter().filter(|d| d.op == op).count() as u64;
    assert_eq!(s.count.files, src.len() as u64);
    assert_eq!(s.count.add, src.difference(before).count() as u64);
    assert_eq!(s.count.remove, before.difference(src).count() as u64);
    assert_eq!(
        (n(Op::Add), n(Op::Change), n(Op::Remove)),
        (s.count.add, s.count.change, s.count.remove)
    );
    assert_eq!(
        s.bytes_added,
        diffs.iter().map(|d| d.bytes_added).sum::<u64>()
    );
    assert_eq!(
        s.bytes_removed,
        diffs.iter().map(|d| d.bytes_removed).sum::<u64>()
    );
    // Removals come first (mirror-drive prunes before copying).
    let first_copy = diffs
        .iter()
        .position(|d| d.op != Op::Remove)
        .unwrap_or(diffs.len());
    assert!(diffs[first_copy..].iter().all(|d| d.op != Op::Remove));
}

fn keys(side: &MemSide) -> BTreeSet<String> {
    side.files.keys().cloned().collect()
}

/// Mirrors `src` over `dst` (dry run first), checks the result, then again.
fn converge(src: &MemSide, dst: &mut MemSide) {
    let before = dst.files.clone();
    let (dry, dry_s) = mirror(src, dst, true);
    assert_eq!(dst.files, before, "a dry run writes nothing");
    let before_keys = keys(dst);
    let (diffs, s) = mirror(src, dst, false);
    assert_eq!((&dry, dry_s), (&diffs, s));
    check_counts(&keys(src), &before_keys, &diffs, &s);
    let strip = |m: &BTreeMap<String, MemFile>, keep: bool| -> BTreeMap<String, MemFile> {
        m.iter()
            .map(|(k, f)| {
                let mut f = f.clone();
                if let (MemFile::File { metadata, .. }, false) = (&mut f, keep) {
                    *metadata = Value::Null;
                }
                (k.clone(), f)
            })
            .collect()
    };
    let keep = src.supports_metadata && dst.supports_metadata;
    assert_eq!(strip(&dst.files, keep), strip(&src.files, keep));
    let (again, s) = mirror(src, dst, false);
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(s.count.files, src.files.len() as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mem_mirrors_converge(
        a in tree(), b in tree(), e in edits(),
        put_entry in any::<bool>(), dst_meta in any::<bool>(),
    ) {
        let mut src = MemSide::drive();
        build(&mut src, &a);
        let mut dst = MemSide::drive();
        dst.put_entry = put_entry;
        dst.supports_metadata = dst_meta;
        build(&mut dst, &b);
        converge(&src, &mut dst);
        // Random edits of the source, mirrored over the synced target.
        let mut src2 = MemSide::drive();
        build(&mut src2, &edit(&a, &e));
        converge(&src2, &mut dst);
    }
}

fn local_from(tree: &Tree) -> (tempfile::TempDir, LocalDrive) {
    let (t, mut d) = temp_drive();
    build(&mut d, tree);
    (t, d)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn folder_mirrors_converge(a in tree(), b in tree(), e in edits()) {
        let (_ta, src) = local_from(&a);
        let (_tb, mut dst) = local_from(&b);
        let before: BTreeSet<String> = snapshot(&dst).into_keys().collect();
        let (diffs, s) = mirror(&src, &mut dst, false);
        let want = snapshot(&src);
        check_counts(&want.keys().cloned().collect(), &before, &diffs, &s);
        prop_assert_eq!(snapshot(&dst), want.clone());
        let (again, _) = mirror(&src, &mut dst, false);
        prop_assert!(again.is_empty());

        // Edits on the source, mirrored; and everything back into a third folder.
        let (_tc, src2) = local_from(&edit(&a, &e));
        mirror(&src2, &mut dst, false);
        prop_assert_eq!(snapshot(&dst), snapshot(&src2));
        let (_td, mut back) = temp_drive();
        mirror(&dst, &mut back, false);
        prop_assert_eq!(snapshot(&back), snapshot(&src2));
    }
}
