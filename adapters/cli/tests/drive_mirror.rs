//! `ferrocore drive import` / `drive export` end to end: a folder (binary files, an empty
//! one, deep and Unicode names, an executable, a symlink) imported, exported elsewhere and
//! compared byte for byte and mode for mode; a second import changes nothing; edits and
//! deletions go over with mirror-drive's counts (`--prune` deletes, `--dry-run` lists and
//! writes nothing); a sparse clone's export of a file it lacks is exit 3.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use ferrocore_cli::exit::NOT_FOUND;
use support::{run, s};

fn drive(cmd: &str, dir: &Path, args: &[&str]) -> support::Out {
    let mut all = vec!["drive", cmd, s(dir)];
    all.extend_from_slice(args);
    run(&all)
}

/// The summary line `drive import/export` prints on stderr.
fn summary(out: &support::Out) -> String {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stderr.lines().last().unwrap_or_default().to_owned()
}

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Every file and link under `root`: relative path → contents (a link: its target) and
/// exec bit.
fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>, bool)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let meta = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&p).unwrap();
                out.push((rel, target.to_string_lossy().as_bytes().to_vec(), false));
            } else if meta.is_dir() {
                stack.push(p);
            } else {
                let exec = meta.permissions().mode() & 0o100 != 0;
                out.push((rel, fs::read(&p).unwrap(), exec));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn import_export_round_trip_with_counts_prune_and_dry_run() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let (store, src, dst) = (
        t.path().join("store"),
        t.path().join("src"),
        t.path().join("dst"),
    );
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&src, "a/big.bin", &big);
    write(&src, "empty.txt", b"");
    write(&src, "deep/er/still/ünïcødé 日本.txt", b"unicode");
    write(&src, "bin/run.sh", b"#!/bin/sh\necho hi\n");
    fs::set_permissions(src.join("bin/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("../a/big.bin", src.join("bin/link")).unwrap();
    let bytes = big.len() + 7 + 18;

    drive("create", &store, &[]).ok();
    let out = drive("import", &store, &[s(&src)]);
    assert_eq!(
        summary(&out),
        format!("added 5 changed 0 removed 0 bytes {bytes}")
    );
    let out = drive("export", &store, &[s(&dst)]);
    assert_eq!(
        summary(&out),
        format!("added 5 changed 0 removed 0 bytes {bytes}")
    );
    assert_eq!(tree(&dst), tree(&src), "exported == imported");
    assert_eq!(
        summary(&drive("import", &store, &[s(&src)])),
        "added 0 changed 0 removed 0 bytes 0"
    );

    // Edits: one changed, one new, one deleted; without --prune nothing is removed.
    write(&src, "empty.txt", b"not empty now");
    write(&src, "new.txt", b"new");
    fs::remove_file(src.join("a/big.bin")).unwrap();
    let dry = drive("import", &store, &[s(&src), "--prune", "--dry-run"]);
    assert_eq!(
        summary(&dry),
        "added 1 changed 1 removed 1 bytes 16 (dry run: nothing written)"
    );
    let lines = dry.ok();
    assert!(lines.contains("remove\t/a/big.bin\t300000"), "{lines}");
    assert!(lines.contains("add\t/new.txt\t3"), "{lines}");
    assert!(lines.contains("change\t/empty.txt\t13"), "{lines}");
    let version = |store: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&drive("info", store, &["--json"]).ok()).unwrap();
        v["version"].as_u64().unwrap()
    };
    let before = version(&store);
    drive("import", &store, &[s(&src), "--prune", "--dry-run"]).ok();
    assert_eq!(version(&store), before, "a dry run writes nothing");
    assert_eq!(
        summary(&drive("import", &store, &[s(&src)])),
        "added 1 changed 1 removed 0 bytes 16"
    );
    assert!(
        drive("get", &store, &["/a/big.bin"]).code == Some(0),
        "kept without --prune"
    );
    assert_eq!(
        summary(&drive("import", &store, &[s(&src), "--prune"])),
        "added 0 changed 0 removed 1 bytes 0"
    );
    drive("export", &store, &[s(&dst), "--prune"]).ok();
    assert_eq!(tree(&dst), tree(&src));

    // Only a folder.
    let only = t.path().join("only");
    drive("export", &store, &[s(&only), "--path", "/deep"]).ok();
    assert_eq!(tree(&only).len(), 1);
}

#[test]
fn a_sparse_clone_cannot_export_what_it_lacks() {
    let t = tempfile::tempdir().unwrap();
    let (store, src) = (t.path().join("store"), t.path().join("src"));
    write(&src, "keep/a.txt", b"a");
    write(&src, "skip/b.bin", &vec![1u8; 100_000]);
    let key = drive("create", &store, &[]).ok();
    let key = key.trim().strip_prefix("key ").unwrap().to_owned();
    drive("import", &store, &[s(&src)]).ok();
    let (server, _, addr) = support::serve(&store, &[]);
    let clone = t.path().join("clone");
    run(&[
        "clone",
        s(&clone),
        &key,
        "--connect",
        &addr,
        "--paths",
        "/keep",
    ])
    .ok();
    drop(server);
    let out = t.path().join("out");
    drive("export", &clone, &[s(&out), "--path", "/keep"]).ok();
    assert_eq!(fs::read(out.join("keep/a.txt")).unwrap(), b"a");
    drive("export", &clone, &[s(&out)]).fails(i32::from(NOT_FOUND), "not stored locally");
}
