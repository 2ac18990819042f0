//! Mirror round trips of a generated folder: folder → folder → folder and back, with
//! binary files of many sizes (empty and over 1 MiB), deep nesting, Unicode names,
//! symlinks and executables; contents, exec bits and link targets must survive, and
//! mirroring again must find everything equal.

mod common;

use std::collections::BTreeMap;

use common::{generate, leftovers, snapshot, temp_drive, Node, Rng};
use ferrocore_mirror::{LocalDrive, Mirror, Op};
use ferrocore_wire::json::Value;

fn mirror_all(
    src: &LocalDrive,
    dst: &mut LocalDrive,
) -> (Vec<(Op, String)>, ferrocore_mirror::Summary) {
    let mut ops = Vec::new();
    let mut m = Mirror::new(src, dst).include_equals(true);
    for d in &mut m {
        let d = d.unwrap();
        ops.push((d.op, d.key));
    }
    let s = m.summary();
    (ops, s)
}

#[cfg(unix)]
fn exec_bits(root: &std::path::Path, tree: &BTreeMap<String, Node>) -> Vec<(String, bool)> {
    use std::os::unix::fs::PermissionsExt;
    tree.iter()
        .filter(|(_, n)| matches!(n, Node::File(..)))
        .map(|(k, _)| {
            let p = root.join(&k[1..]);
            let mode = std::fs::symlink_metadata(p).unwrap().permissions().mode();
            (k.clone(), mode & 0o100 != 0)
        })
        .collect()
}

#[test]
fn folder_to_folder_to_folder_and_back() {
    let (_a_dir, mut a) = temp_drive();
    let (_b_dir, mut b) = temp_drive();
    let (_c_dir, mut c) = temp_drive();
    let total = generate(&a, 29);
    let tree = snapshot(&a);
    let files = tree.len() as u64;
    assert!(files > 60);

    // A → B: everything is added; bytes are the files' sizes (links count 0).
    let (ops, s) = mirror_all(&a, &mut b);
    assert!(ops.iter().all(|(op, _)| *op == Op::Add));
    assert_eq!(
        (s.count.files, s.count.add, s.count.change, s.count.remove),
        (files, files, 0, 0)
    );
    assert_eq!((s.bytes_added, s.bytes_removed), (total, 0));
    assert_eq!(snapshot(&b), tree);

    // B → C, then C → A: the same tree, and nothing to do going back.
    let (_, s) = mirror_all(&b, &mut c);
    assert_eq!(s.count.add, files);
    assert_eq!(snapshot(&c), tree);
    let (ops, s) = mirror_all(&c, &mut a);
    assert!(ops.iter().all(|(op, _)| *op == Op::Equal), "{ops:?}");
    assert_eq!(
        (s.count.files, s.count.add, s.count.change, s.count.remove),
        (files, 0, 0, 0)
    );
    assert_eq!((s.bytes_added, s.bytes_removed), (0, 0));
    assert_eq!(snapshot(&a), tree);

    #[cfg(unix)]
    {
        let want = exec_bits(a.root(), &tree);
        assert!(want.iter().any(|(_, x)| *x) && want.iter().any(|(_, x)| !*x));
        assert_eq!(exec_bits(b.root(), &tree), want);
        assert_eq!(exec_bits(c.root(), &tree), want);
        // Link targets on disk: relative ones as written, drive-absolute ones under the root.
        let link = std::fs::read_link(c.root().join("links/rel")).unwrap();
        assert_eq!(link, std::path::Path::new("../sizes/file-03.bin"));
        let link = std::fs::read_link(c.root().join("links/abs")).unwrap();
        assert_eq!(link, c.root().join("sizes/file-04.bin"));
    }

    // Edits on C (size change, same-size change (4097 bytes), exec flip, delete, new file, link retarget)
    // mirrored back to A.
    let mut rng = Rng(7);
    c.put("/sizes/file-05.bin", &rng.bytes(10), false, &Value::Null)
        .unwrap();
    c.put("/sizes/file-06.bin", &rng.bytes(4097), false, &Value::Null)
        .unwrap();
    let old = c.get("/sizes/file-07.bin").unwrap().unwrap();
    c.put("/sizes/file-07.bin", &old, true, &Value::Null)
        .unwrap();
    c.del("/unicode/Ωmega/ünïcödé dir/x").unwrap();
    assert!(
        !c.root().join("unicode/Ωmega").exists(),
        "emptied folders go"
    );
    c.put("/new/ñ.bin", &rng.bytes(1234), true, &Value::Null)
        .unwrap();
    c.symlink("/links/rel", "../sizes/file-05.bin").unwrap();
    let (ops, s) = mirror_all(&c, &mut a);
    let changed: Vec<_> = ops
        .iter()
        .filter(|(op, _)| *op != Op::Equal)
        .cloned()
        .collect();
    assert_eq!(
        changed
            .iter()
            .filter(|(op, _)| *op == Op::Remove)
            .collect::<Vec<_>>(),
        vec![&(Op::Remove, "/unicode/Ωmega/ünïcödé dir/x".to_string())]
    );
    assert_eq!((s.count.add, s.count.change, s.count.remove), (1, 4, 1));
    assert_eq!(snapshot(&a), snapshot(&c));
    assert!(!a.root().join("unicode/Ωmega").exists());
    assert!(leftovers(a.root()).is_empty() && leftovers(c.root()).is_empty());
}
