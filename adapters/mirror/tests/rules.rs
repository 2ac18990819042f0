//! mirror-drive's rules, checked on in-memory sides. The expected counts are what JS
//! `mirror-drive@1.14.2` reports for the same scenario, read from its `index.js` (line
//! numbers cited at each test).

use ferrocore_mirror::testing::{MemFile, MemSide};
use ferrocore_mirror::{Diff, Ignore, Mirror, MirrorTarget, Op, Summary};
use ferrocore_wire::json::{parse, Value};

fn json(s: &str) -> Value {
    parse(s.as_bytes()).unwrap()
}

fn run<T: MirrorTarget>(m: Mirror<'_, MemSide, T>) -> (Vec<Diff>, Summary) {
    let mut m = m;
    let diffs: Vec<Diff> = (&mut m).map(Result::unwrap).collect();
    (diffs, m.summary())
}

fn ops(diffs: &[Diff]) -> Vec<(Op, &str, u64, u64)> {
    diffs
        .iter()
        .map(|d| (d.op, d.key.as_str(), d.bytes_added, d.bytes_removed))
        .collect()
}

fn summary(files: u64, add: u64, change: u64, remove: u64, added: u64, removed: u64) -> Summary {
    let mut s = Summary::default();
    s.count.files = files;
    s.count.add = add;
    s.count.change = change;
    s.count.remove = remove;
    s.bytes_added = added;
    s.bytes_removed = removed;
    s
}

/// src: /a (3 bytes), /dir/b (5), /same (4); dst: /dir/b (2 other bytes), /same, /gone (7).
fn scenario() -> (MemSide, MemSide) {
    let mut src = MemSide::drive();
    src.file("/a", b"aaa", false, Value::Null);
    src.file("/dir/b", b"bbbbb", false, Value::Null);
    src.file("/same", b"same", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/dir/b", b"xx", false, Value::Null);
    dst.file("/same", b"same", false, Value::Null);
    dst.file("/gone", b"1234567", false, Value::Null);
    (src, dst)
}

/// Prune is on by default (`index.js:79`) and runs first (254-266): `/gone` is removed
/// with its 7 bytes; then `/a` is added (300-305, +3), `/dir/b` changed (288-299, -2 +5),
/// `/same` equal and counted in `files` only (271, 278-283).
#[test]
fn default_mirror_prunes_first_and_counts_like_js() {
    let (src, mut dst) = scenario();
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(
        ops(&diffs),
        vec![
            (Op::Remove, "/gone", 0, 7),
            (Op::Add, "/a", 3, 0),
            (Op::Change, "/dir/b", 5, 2),
        ]
    );
    assert_eq!(s, summary(3, 1, 1, 1, 8, 9));
    assert_eq!(dst.files, src.files);
}

/// `prune: false` (`index.js:79, 254`): nothing is removed.
#[test]
fn prune_off_keeps_extra_entries() {
    let (src, mut dst) = scenario();
    let (diffs, s) = run(Mirror::new(&src, &mut dst).prune(false));
    assert!(diffs.iter().all(|d| d.op != Op::Remove));
    assert_eq!(s, summary(3, 1, 1, 0, 8, 2));
    assert!(dst.files.contains_key("/gone"));
}

/// `dryRun` (`index.js:264, 307`): the same diffs and counts, no write.
#[test]
fn dry_run_reports_and_changes_nothing() {
    let (src, mut dst) = scenario();
    let before = dst.files.clone();
    let (dry, dry_s) = run(Mirror::new(&src, &mut dst).dry_run(true));
    assert_eq!(dst.files, before);
    assert_eq!(dst.writes, 0);
    let (real, real_s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(dry, real);
    assert_eq!(dry_s, real_s);
}

/// `includeEquals` (`index.js:279-281`) yields equal entries as `equal`, 0 bytes.
#[test]
fn include_equals_reports_equal_entries() {
    let (src, mut dst) = scenario();
    let (diffs, _) = run(Mirror::new(&src, &mut dst).include_equals(true));
    assert!(ops(&diffs).contains(&(Op::Equal, "/same", 0, 0)));
    let (diffs, s) = run(Mirror::new(&src, &mut dst).include_equals(true));
    assert!(diffs.iter().all(|d| d.op == Op::Equal));
    assert_eq!(s, summary(3, 0, 0, 0, 0, 0));
}

/// Same length, other bytes: the contents decide (`same`, `index.js:417-423`).
#[test]
fn same_size_other_contents_is_a_change() {
    let mut src = MemSide::drive();
    src.file("/f", b"abcd", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/f", b"abce", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(ops(&diffs), vec![(Op::Change, "/f", 4, 4)]);
    assert_eq!(s, summary(1, 0, 1, 0, 4, 4));
}

/// Equal contents, other `executable` or `metadata`: `DIFF_META` (418-421). A target with
/// `putEntry` (a Hyperdrive) stores the entry again with its own blob and 0 bytes count
/// (285, 289-290, 337-343); any other target copies the file and counts its bytes.
#[test]
fn metadata_only_changes() {
    let mut src = MemSide::drive();
    src.file("/x", b"12345", true, json(r#"{"k":1}"#));
    src.file("/y", b"abc", false, json(r#"{"k":2}"#));
    let mut dst = MemSide::drive();
    dst.file("/x", b"12345", false, json(r#"{"k":1}"#));
    dst.file("/y", b"abc", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(
        ops(&diffs),
        vec![(Op::Change, "/x", 0, 0), (Op::Change, "/y", 0, 0)]
    );
    assert_eq!(s, summary(2, 0, 2, 0, 0, 0));
    assert_eq!(dst.files, src.files);
    assert_eq!(dst.writes, 2, "two putEntry, no copy");

    // The same against a target without putEntry (a localdrive with metadata hooks).
    let mut dst = MemSide::drive();
    dst.put_entry = false;
    dst.file("/x", b"12345", false, json(r#"{"k":1}"#));
    dst.file("/y", b"abc", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(
        ops(&diffs),
        vec![(Op::Change, "/x", 5, 5), (Op::Change, "/y", 3, 3)]
    );
    assert_eq!(s, summary(2, 0, 2, 0, 8, 8));
    assert_eq!(dst.files, src.files);
    // Contents need not be read to know the outcome there.
    assert_eq!(src.reads.get(), 2 + 2);
}

/// `metadataEquals` (`index.js:438-452`): ignored when a side does not support metadata;
/// falsy values are all equal; objects compare by `same-data` (member order ignored);
/// a custom predicate replaces the rule.
#[test]
fn metadata_comparison_rules() {
    let mut src = MemSide::drive();
    src.file("/null-zero", b"1", false, Value::Null);
    src.file("/order", b"2", false, json(r#"{"a":1,"b":[1,2]}"#));
    src.file("/other", b"3", false, json(r#"{"a":1}"#));
    let mut dst = MemSide::drive();
    dst.file("/null-zero", b"1", false, json("0"));
    dst.file("/order", b"2", false, json(r#"{"b":[1,2],"a":1}"#));
    dst.file("/other", b"3", false, json(r#"{"a":2}"#));
    let mut d = dst.clone();
    let (diffs, _) = run(Mirror::new(&src, &mut d).dry_run(true));
    assert_eq!(ops(&diffs), vec![(Op::Change, "/other", 0, 0)]);

    let mut d = dst.clone();
    let (diffs, _) = run(Mirror::new(&src, &mut d)
        .dry_run(true)
        .metadata_equals(|_, _| true));
    assert!(diffs.is_empty());

    // A target (or source) without metadata support: metadata never differs.
    let mut d = dst.clone();
    d.supports_metadata = false;
    let (diffs, _) = run(Mirror::new(&src, &mut d).dry_run(true));
    assert!(diffs.is_empty());
}

/// Symlinks (`same`, `index.js:411-413`; apply 324-325): equal iff the targets are; no
/// blob, so 0 bytes on their side.
#[test]
fn symlink_rules() {
    let mut src = MemSide::drive();
    src.link("/l-same", "t");
    src.link("/l-retarget", "new");
    src.link("/file-to-link", "t");
    src.file("/link-to-file", b"hello", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.link("/l-same", "t");
    dst.link("/l-retarget", "old");
    dst.file("/file-to-link", b"123", false, Value::Null);
    dst.link("/link-to-file", "t");
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(
        ops(&diffs),
        vec![
            (Op::Change, "/file-to-link", 0, 3),
            (Op::Change, "/l-retarget", 0, 0),
            (Op::Change, "/link-to-file", 5, 0),
        ]
    );
    assert_eq!(s, summary(4, 0, 3, 0, 5, 3));
    assert_eq!(dst.files, src.files);
}

/// An empty file has a blob of length 0; an entry without blob is not a file
/// (`maybeEquals`, `index.js:426-436`).
#[test]
fn empty_files_and_executables() {
    let mut src = MemSide::drive();
    src.file("/empty", b"", false, Value::Null);
    src.file("/exec", b"#!", true, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/empty", b"", false, Value::Null);
    dst.file("/exec", b"#!", false, Value::Null);
    dst.put_entry = false;
    let (diffs, s) = run(Mirror::new(&src, &mut dst));
    assert_eq!(ops(&diffs), vec![(Op::Change, "/exec", 2, 2)]);
    assert_eq!(s, summary(2, 0, 1, 0, 2, 2));
    assert_eq!(dst.files.get("/exec"), src.files.get("/exec"));
}

/// `filter` applies to the source listing only (`index.js:268, 381`), never to pruning
/// (255: `_list(dst, src, null)`): a filtered-out source entry is neither copied nor
/// counted, yet it keeps its target twin from being pruned; target-only entries are
/// pruned whatever the filter says.
#[test]
fn filter_skips_copies_but_not_pruning() {
    let mut src = MemSide::drive();
    src.file("/keep/a", b"a", false, Value::Null);
    src.file("/skip/b", b"b", false, Value::Null);
    src.file("/skip/twin", b"new", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/skip/twin", b"old!", false, Value::Null);
    dst.file("/skip/orphan", b"o", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst).filter(|k| !k.starts_with("/skip/")));
    assert_eq!(
        ops(&diffs),
        vec![
            (Op::Remove, "/skip/orphan", 0, 1),
            (Op::Add, "/keep/a", 1, 0)
        ]
    );
    assert_eq!(s, summary(1, 1, 0, 1, 1, 1));
    assert_eq!(
        dst.files.get("/skip/twin"),
        Some(&MemFile::File {
            data: b"old!".to_vec(),
            executable: false,
            metadata: Value::Null
        })
    );
}

/// `prefix` (`index.js:76, 357-398`): only entries below each prefix are listed (on both
/// sides, so pruning stays inside too), then the entry at the prefix's own path.
#[test]
fn prefixes_limit_both_passes() {
    let mut src = MemSide::drive();
    src.file("/docs/a", b"a", false, Value::Null);
    src.file("/docs", b"the file /docs", false, Value::Null);
    src.file("/single.txt", b"s", false, Value::Null);
    src.file("/other/x", b"x", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/docs/stale", b"zz", false, Value::Null);
    dst.file("/elsewhere", b"e", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst).prefixes(["/docs", "single.txt"]));
    assert_eq!(
        ops(&diffs),
        vec![
            (Op::Remove, "/docs/stale", 0, 2),
            (Op::Add, "/docs/a", 1, 0),
            (Op::Add, "/docs", 14, 0),
            (Op::Add, "/single.txt", 1, 0),
        ]
    );
    assert_eq!(s, summary(3, 3, 0, 1, 16, 2));
    assert!(dst.files.contains_key("/elsewhere") && !dst.files.contains_key("/other/x"));
}

/// `ignore` (`index.js:93, 364, 457-458`): ignored paths and all below them are left out
/// of both listings, so they are neither copied nor pruned.
#[test]
fn ignore_skips_both_sides() {
    let mut src = MemSide::drive();
    src.file("/node_modules/m/index.js", b"m", false, Value::Null);
    src.file("/node_modules2", b"n", false, Value::Null);
    src.file("/src/main.rs", b"fn", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/node_modules/old", b"o", false, Value::Null);
    let (diffs, _) = run(Mirror::new(&src, &mut dst).ignore(Ignore::paths(["node_modules"])));
    assert_eq!(
        ops(&diffs),
        vec![
            (Op::Add, "/node_modules2", 1, 0),
            (Op::Add, "/src/main.rs", 2, 0)
        ]
    );
    assert!(dst.files.contains_key("/node_modules/old"));
    // Ignoring `/` ignores nothing, as JS's `key.startsWith(path + '/')`.
    assert!(!Ignore::paths(["/"]).matches("/a"));
}

/// A mirror that stops at an error reports it once and ends.
#[test]
fn errors_end_the_mirror() {
    let mut src = MemSide::drive();
    src.file("/a", b"a", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.put_entry = true;
    let mut m = Mirror::new(&src, &mut dst).prefixes([".."]);
    assert!(matches!(
        m.next(),
        Some(Err(ferrocore_mirror::MirrorError::Prefix { .. }))
    ));
    assert!(m.next().is_none());
}

/// Overlapping prefixes: each prefix is listed after the previous one's removals, so an
/// entry is removed once; a copy listed twice is equal the second time (`index.js:254-266,
/// 268-283, 374-397`: one pass per prefix, deleting while listing).
#[test]
fn overlapping_prefixes_remove_once() {
    let mut src = MemSide::drive();
    src.file("/a/b/new", b"n", false, Value::Null);
    let mut dst = MemSide::drive();
    dst.file("/a/b/old", b"oo", false, Value::Null);
    let (diffs, s) = run(Mirror::new(&src, &mut dst).prefixes(["/a", "/a/b"]));
    assert_eq!(
        ops(&diffs),
        vec![(Op::Remove, "/a/b/old", 0, 2), (Op::Add, "/a/b/new", 1, 0)]
    );
    assert_eq!(s, summary(2, 1, 0, 1, 1, 2));
}
