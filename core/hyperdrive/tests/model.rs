//! The drive's machines against a model: an in-memory file tree (path → file or link)
//! kept per version. Random puts of random sizes (over many small blobs blocks), deletes,
//! symlinks, clears, truncates, batches and reopenings from the cores' blocks; after each
//! op every path's `entry`, `exists`, `get` (whole, a range, followed), `has`, the
//! recursive and shallow listings, `readdir` and `getBlobsLength`'s bound are checked, and
//! a random earlier version is read through a checkout.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use ferrocore_hyperblobs::ReadOptions;
use ferrocore_hyperdrive::drive::{DriveOp, GetOptions, ListOptions, View};
use ferrocore_hyperdrive::follow::FollowError;
use ferrocore_hyperdrive::testing::MemDrive;
use ferrocore_hyperdrive::{DriveConfig, DriveError};
use ferrocore_wire::json::Value;
use proptest::prelude::*;

/// Paths of letters only, nested, so that byte order is the listing order.
const PATHS: &[&str] = &["/a", "/b", "/a/x", "/a/y/z", "/c", "/b/q", "/a/y", "/d/e/f"];
const BLOCK: usize = 256;

#[derive(Debug, Clone, PartialEq)]
enum Item {
    /// A file: the put that wrote it (clears are per put), its bytes, executable.
    File(u64, Bytes, bool),
    /// A symlink to an absolute path.
    Link(String),
}

type Tree = BTreeMap<String, Item>;

#[derive(Debug, Clone)]
enum Op {
    Put(usize, usize, u8, bool),
    Del(usize),
    Link(usize, usize),
    Batch(Vec<(usize, usize, u8)>, usize),
    Clear(usize),
    Truncate(usize),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PATHS.len();
    prop_oneof![
        6 => (p.clone(), 0..6000usize, any::<u8>(), any::<bool>()).prop_map(|(a, b, c, d)| Op::Put(a, b, c, d)),
        2 => p.clone().prop_map(Op::Del),
        2 => (p.clone(), p.clone()).prop_map(|(a, b)| Op::Link(a, b)),
        1 => (proptest::collection::vec((p.clone(), 0..600usize, any::<u8>()), 0..4), p.clone()).prop_map(|(a, b)| Op::Batch(a, b)),
        1 => p.prop_map(Op::Clear),
        1 => any::<prop::sample::Index>().prop_map(|i| Op::Truncate(i.index(1 << 16))),
        1 => Just(Op::Reopen),
    ]
}

fn bytes(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect::<Vec<_>>()
        .into()
}

fn config() -> DriveConfig {
    DriveConfig {
        block_size: Some(BLOCK),
        ..DriveConfig::default()
    }
}

/// `entry(path, {follow: true})` in the model.
fn follow<'a>(t: &'a Tree, mut name: &'a str) -> Result<Option<&'a Item>, ()> {
    for _ in 0..16 {
        match t.get(name) {
            Some(Item::Link(to)) => name = to,
            other => return Ok(other),
        }
    }
    Err(())
}

struct State {
    d: MemDrive,
    tree: Tree,
    /// (db length, tree) after every write.
    versions: Vec<(u64, Tree)>,
    cleared: BTreeSet<u64>,
    puts: u64,
}

/// What `get` gives for a model item: its bytes, `Err` when its blocks were cleared.
fn file(cleared: &BTreeSet<u64>, item: Option<&Item>) -> Option<Result<Bytes, ()>> {
    match item? {
        Item::File(put, b, _) if cleared.contains(put) && !b.is_empty() => Some(Err(())),
        Item::File(_, b, _) => Some(Ok(b.clone())),
        Item::Link(_) => None,
    }
}

impl State {
    fn check(&mut self, view: View, t: &Tree) {
        let cleared = &self.cleared;
        let d = &mut self.d;
        for p in PATHS {
            let item = t.get(*p);
            let e = d.run(&mut view.entry(p, false)).unwrap();
            assert_eq!(e.is_some(), item.is_some(), "{p}");
            assert_eq!(d.run(&mut view.exists(p)).unwrap(), item.is_some());
            if let (Some(e), Some(item)) = (&e, item) {
                assert_eq!(e.path, *p);
                match item {
                    Item::File(_, b, x) => {
                        assert_eq!(e.entry.executable, *x);
                        let id = e.entry.blob_id().unwrap().unwrap();
                        assert_eq!(id.byte_length, b.len() as u64);
                    }
                    Item::Link(to) => assert_eq!(e.entry.linkname.as_deref(), Some(to.as_str())),
                }
            }
            let got = d.run(&mut view.get(p, GetOptions::default()));
            let want = file(cleared, item);
            match (got, want) {
                (Ok(g), Some(Ok(w))) => assert_eq!(g, Some(w)),
                (Ok(g), None) => assert_eq!(g, None),
                (Err(DriveError::BlockNotAvailable), Some(Err(()))) => {}
                (g, w) => panic!(
                    "{p}: get {:?}, model {:?}",
                    g.map(|b| b.map(|b| b.len())),
                    w.map(|w| w.map(|b| b.len()))
                ),
            }
            if let Some(Ok(w)) = file(cleared, item) {
                let (start, len) = (w.len() / 3, w.len() / 2);
                let range = ReadOptions {
                    start: Some(start as u64),
                    length: Some(len as u64),
                    end: None,
                };
                let o = GetOptions {
                    follow: false,
                    range,
                };
                let g = d.run(&mut view.get(p, o)).unwrap().unwrap();
                assert_eq!(g, w.slice(start..start + len), "{p}: range");
                let chunks = d.collect(&mut view.read_stream(p, range)).unwrap();
                assert!(chunks.iter().all(|c| c.len() <= BLOCK));
                assert_eq!(chunks.concat(), &w[start..start + len], "{p}: stream");
            }
            let held = d.run(&mut view.has(p)).unwrap();
            let under = t.iter().filter(|(k, _)| k.starts_with(&format!("{p}/")));
            let want_has = match item {
                Some(i @ Item::File(..)) => file(cleared, Some(i)) != Some(Err(())),
                Some(Item::Link(_)) => false,
                None => {
                    let mut any = false;
                    let mut all = true;
                    for (_, i) in under {
                        any = true;
                        all &= file(cleared, Some(i)) != Some(Err(()));
                    }
                    any && all
                }
            };
            assert_eq!(held, want_has, "{p}: has");
            let followed = d.run(&mut view.get(
                p,
                GetOptions {
                    follow: true,
                    ..Default::default()
                },
            ));
            match (followed, follow(t, p)) {
                (Err(DriveError::Follow(FollowError::Recursive)), Err(())) => {}
                (Ok(g), Ok(item)) => {
                    assert_eq!(g, file(cleared, item).and_then(Result::ok), "{p}: followed")
                }
                (Err(DriveError::BlockNotAvailable), Ok(item)) => {
                    assert_eq!(file(cleared, item), Some(Err(())))
                }
                (g, w) => panic!(
                    "{p}: followed {:?}, model {:?}",
                    g.map(|b| b.map(|b| b.len())),
                    w.is_ok()
                ),
            }
        }
        let listed = d
            .collect(&mut view.list(None, ListOptions::default()))
            .unwrap();
        let paths: Vec<&str> = listed.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, t.keys().map(String::as_str).collect::<Vec<_>>());
        let names = d.collect(&mut view.readdir(None)).unwrap();
        let mut want: Vec<String> = t
            .keys()
            .map(|k| k[1..].split('/').next().unwrap().to_owned())
            .collect();
        want.dedup();
        assert_eq!(names, want);
        let shallow = ListOptions {
            recursive: false,
            ignore: None,
        };
        let firsts = d.collect(&mut view.list(None, shallow)).unwrap();
        assert_eq!(firsts.len(), want.len());
        let length = d.run(&mut view.blobs_length()).unwrap();
        assert!(length <= d.drive.blobs_core().length);
    }

    fn apply(&mut self, op: Op) {
        let path = |i: usize| PATHS[i].to_owned();
        match op {
            Op::Put(p, len, seed, x) => {
                let content = bytes(len, seed);
                let mut w = self.d.drive.put(&path(p), content.clone(), x, Value::Null);
                self.d.run(&mut w).unwrap();
                self.puts += 1;
                self.tree.insert(path(p), Item::File(self.puts, content, x));
            }
            Op::Del(p) => {
                let mut w = self.d.drive.write(vec![DriveOp::Del { path: path(p) }]);
                self.d.run(&mut w).unwrap();
                self.tree.remove(&path(p));
            }
            Op::Link(p, to) => {
                let op = DriveOp::Symlink {
                    path: path(p),
                    target: path(to),
                    metadata: Value::Null,
                };
                self.d.run(&mut self.d.drive.write(vec![op])).unwrap();
                self.tree.insert(path(p), Item::Link(path(to)));
            }
            Op::Batch(puts, del) => {
                let mut ops = Vec::new();
                for (p, len, seed) in puts {
                    let content = bytes(len, seed);
                    ops.push(DriveOp::Put {
                        path: path(p),
                        content: content.clone(),
                        executable: false,
                        metadata: Value::Null,
                    });
                    self.puts += 1;
                    self.tree
                        .insert(path(p), Item::File(self.puts, content, false));
                }
                ops.push(DriveOp::Del { path: path(del) });
                self.tree.remove(&path(del));
                let before = self.d.db.len();
                let out = self.d.run(&mut self.d.drive.write(ops)).unwrap();
                assert!(
                    self.d.db.len() - before <= out.results.len() + 1,
                    "one block per op"
                );
            }
            Op::Clear(p) => {
                let ranges = self.d.run(&mut self.d.drive.clear(&path(p)));
                match self.tree.get(&path(p)) {
                    Some(Item::File(put, _, _)) => {
                        self.d.apply_clear(&ranges.unwrap());
                        self.cleared.insert(*put);
                    }
                    Some(Item::Link(_)) => assert_eq!(ranges, Err(DriveError::NoBlob)),
                    None => assert_eq!(ranges, Ok(vec![])),
                }
            }
            Op::Truncate(i) => {
                let (length, tree) = self.versions[i % self.versions.len()].clone();
                let to = self
                    .d
                    .run(&mut self.d.drive.truncate(length, None))
                    .unwrap();
                self.d.apply_truncate(to);
                // The blobs core keeps what this version needs; older versions may have
                // lost blocks (and new blobs reuse their indexes), so they leave the model.
                self.versions.clear();
                self.tree = tree;
            }
            Op::Reopen => {
                let (db, blobs) = (self.d.db.clone(), self.d.blobs.clone());
                let cleared = std::mem::take(&mut self.d.cleared);
                self.d = MemDrive::from_blocks(db, blobs, config());
                self.d.cleared = cleared;
            }
        }
        self.versions
            .push((self.d.db.len() as u64, self.tree.clone()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn drive_matches_a_file_tree(ops in proptest::collection::vec(op(), 1..30), pick in any::<prop::sample::Index>()) {
        let d = MemDrive::new(config());
        let mut s = State { d, tree: Tree::new(), versions: vec![(0, Tree::new())], cleared: BTreeSet::new(), puts: 0 };
        for op in ops {
            s.apply(op);
            let tree = s.tree.clone();
            let view = s.d.drive.view();
            s.check(view, &tree);
        }
        let (length, tree) = s.versions[pick.index(s.versions.len())].clone();
        let view = s.d.drive.checkout(length);
        s.check(view, &tree);
    }
}
