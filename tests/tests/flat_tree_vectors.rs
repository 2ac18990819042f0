//! `ferrocore::flat_tree` against the reference's `flat-tree.json` (every `indexes`,
//! `indexOf` and `fullRoots` entry), plus property tests of the tree invariants.

use ferrocore::flat_tree;
use ferrocore_tests::{files, name, u64_of, Cases, Schema};
use proptest::prelude::*;
use serde_json::Value;

fn entries<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array"))
}

/// A flat-tree function from a node index to a number.
type NodeFn = fn(u64) -> u64;

/// Runs `check(file name, entry)` on every entry of array `key` of every flat-tree vector
/// file, counting each as one case.
fn each_entry(key: &str, label: &str, mut check: impl FnMut(&str, &Value)) {
    let mut cases = Cases::new(label);
    for (path, v) in files(Schema::FlatTree) {
        let file = name(&path);
        for e in entries(&v, key) {
            check(&file, e);
            cases.pass();
        }
    }
    cases.report();
}

fn pair(v: &Value) -> (u64, u64) {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => (u64_of(a), u64_of(b)),
        _ => panic!("expected a pair, got {v}"),
    }
}

#[test]
fn indexes() {
    each_entry("indexes", "flat-tree indexes", |file, e| {
        let i = u64_of(&e["index"]);
        let at = format!("{file} index {i}");
        let scalar: [(&str, NodeFn); 8] = [
            ("depth", |i| u64::from(flat_tree::depth(i))),
            ("offset", flat_tree::offset),
            ("parent", flat_tree::parent),
            ("sibling", flat_tree::sibling),
            ("leftSpan", flat_tree::left_span),
            ("rightSpan", flat_tree::right_span),
            ("count", flat_tree::count),
            ("countLeaves", flat_tree::count_leaves),
        ];
        for (field, f) in scalar {
            assert_eq!(f(i), u64_of(&e[field]), "{at}: {field}");
        }
        assert_eq!(flat_tree::spans(i), pair(&e["spans"]), "{at}: spans");
        let children = match &e["children"] {
            Value::Null => None,
            c => Some(pair(c)),
        };
        assert_eq!(flat_tree::children(i), children, "{at}: children");
        let halves = (flat_tree::left_child(i), flat_tree::right_child(i));
        assert_eq!(
            halves,
            (children.map(|c| c.0), children.map(|c| c.1)),
            "{at}: children"
        );
    });
}

#[test]
fn index_of() {
    each_entry("indexOf", "flat-tree indexOf", |file, e| {
        let depth = u32::try_from(u64_of(&e["depth"])).expect("small depth");
        let offset = u64_of(&e["offset"]);
        assert_eq!(
            flat_tree::index(depth, offset),
            u64_of(&e["index"]),
            "{file}: index({depth}, {offset})"
        );
    });
}

#[test]
fn full_roots() {
    each_entry("fullRoots", "flat-tree fullRoots", |file, e| {
        let length = u64_of(&e["length"]);
        assert_eq!(u64_of(&e["head"]), 2 * length, "{file}: head of {length}");
        let want: Vec<u64> = entries(e, "roots").iter().map(u64_of).collect();
        let roots = flat_tree::full_roots(length);
        assert_eq!(roots.len(), want.len(), "{file}: root count of {length}");
        assert_eq!(roots.collect::<Vec<_>>(), want, "{file}: roots of {length}");
    });
}

/// Node indexes of trees up to 2^60 blocks.
fn node() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1 << 12, 0u64..1 << 61]
}

proptest! {
    #[test]
    fn node_invariants(i in node()) {
        let (d, o) = (flat_tree::depth(i), flat_tree::offset(i));
        prop_assert_eq!(flat_tree::index(d, o), i);

        let p = flat_tree::parent(i);
        prop_assert_eq!(flat_tree::depth(p), d + 1);
        prop_assert_eq!(flat_tree::offset(p), o / 2);
        prop_assert_eq!(flat_tree::ancestors(i).next(), Some(p));
        let (l, r) = flat_tree::children(p).expect("a parent has children");
        prop_assert!(l == i || r == i);
        prop_assert_eq!(flat_tree::is_left(i), l == i);
        prop_assert_eq!(flat_tree::is_left(i), i < p);

        let s = flat_tree::sibling(i);
        prop_assert_ne!(s, i);
        prop_assert_eq!(flat_tree::sibling(s), i);
        prop_assert_eq!(flat_tree::parent(s), p);
        prop_assert_eq!(flat_tree::uncle(i), flat_tree::sibling(p));

        let (ls, rs) = flat_tree::spans(i);
        prop_assert!(ls % 2 == 0 && rs % 2 == 0 && ls <= i && i <= rs);
        prop_assert_eq!(rs - ls, 2 * (flat_tree::count_leaves(i) - 1));
        prop_assert_eq!(flat_tree::count(i), 2 * flat_tree::count_leaves(i) - 1);
        prop_assert_eq!(flat_tree::count_leaves(i), 1u64 << d);
        prop_assert!(flat_tree::contains(p, i) && flat_tree::contains(i, ls) && flat_tree::contains(i, rs));
        prop_assert!(!flat_tree::contains(i, rs + 1));
        prop_assert!(ls == 0 || !flat_tree::contains(i, ls - 1));
        prop_assert!(flat_tree::exists_at(i, rs / 2 + 1) && !flat_tree::exists_at(i, rs / 2));

        match flat_tree::children(i) {
            None => {
                prop_assert_eq!(d, 0);
                prop_assert_eq!(flat_tree::spans(i), (i, i));
            }
            Some((l, r)) => {
                prop_assert!(l < i && i < r);
                prop_assert_eq!(flat_tree::parent(l), i);
                prop_assert_eq!(flat_tree::parent(r), i);
                prop_assert_eq!(flat_tree::sibling(l), r);
                // The children's spans split the parent's span with no gap.
                prop_assert_eq!(flat_tree::left_span(l), ls);
                prop_assert_eq!(flat_tree::right_span(r), rs);
                prop_assert_eq!(flat_tree::right_span(l) + 2, flat_tree::left_span(r));
            }
        }
    }

    /// The full roots of a tree are left nodes whose spans tile `[0, 2·length)` exactly, one
    /// per set bit of `length`, largest first, and none could grow.
    #[test]
    fn full_roots_tile_the_tree(length in prop_oneof![0u64..300, 0u64..1 << 60]) {
        let roots: Vec<u64> = flat_tree::full_roots(length).collect();
        prop_assert_eq!(roots.len(), length.count_ones() as usize);
        let mut next = 0u64;
        let mut leaves = u64::MAX;
        for &root in &roots {
            prop_assert!(flat_tree::is_left(root), "root {} is a right node", root);
            prop_assert_eq!(flat_tree::left_span(root), next);
            prop_assert!(flat_tree::count_leaves(root) < leaves, "roots not strictly shrinking");
            leaves = flat_tree::count_leaves(root);
            prop_assert!(flat_tree::exists_at(root, length));
            prop_assert!(!flat_tree::exists_at(flat_tree::parent(root), length));
            next = flat_tree::right_span(root) + 2;
        }
        prop_assert_eq!(next, 2 * length);
    }
}
