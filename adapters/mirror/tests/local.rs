//! `LocalDrive` against JS localdrive 2.2.1's behaviour (`index.js`, `streams.js`).

mod common;

use std::io::{Read, Write};

use common::{leftovers, temp_drive};
use ferrocore_mirror::local::MemMetadata;
use ferrocore_mirror::{Ignore, LocalDrive, Mirror};
use ferrocore_wire::json::{parse, stringify, Value};

fn keys(d: &LocalDrive, folder: &str, ignore: &Ignore) -> Vec<String> {
    let mut k: Vec<String> = d
        .list(folder, ignore)
        .unwrap()
        .map(|e| e.unwrap().key)
        .collect();
    k.sort();
    k
}

/// `_entry` (`index.js:99-133`): the value's fields and localdrive's synthetic blob.
#[test]
fn entries_are_localdrive_values() {
    let (_t, d) = temp_drive();
    d.put("a/b.txt", b"hello", false, &Value::Null).unwrap();
    let e = d.entry("/a/./c/../b.txt").unwrap().unwrap();
    assert_eq!(e.key, "/a/b.txt");
    assert_eq!(e.size, 5);
    let blob = stringify(e.value.blob.as_ref().unwrap());
    assert!(
        blob.starts_with(r#"{"byteOffset":0,"blockOffset":0,"blockLength":"#),
        "{blob}"
    );
    assert!(blob.ends_with(r#","byteLength":5}"#), "{blob}");
    assert_eq!(
        (
            e.value.executable,
            e.value.linkname.clone(),
            e.value.metadata.clone()
        ),
        (false, None, Value::Null)
    );
    // Folders and missing paths are no entries; `..` past the root is an error.
    assert!(d.entry("/a").unwrap().is_none());
    assert!(d.entry("/").unwrap().is_none());
    assert!(d.entry("/nope").unwrap().is_none());
    assert!(d.entry("../x").is_err());
    assert!(d.exists("a/b.txt").unwrap());
}

#[cfg(unix)]
#[test]
fn exec_bit_is_the_user_exec_bit() {
    use std::os::unix::fs::PermissionsExt;
    let (_t, d) = temp_drive();
    d.put("/x", b"x", true, &Value::Null).unwrap();
    d.put("/y", b"y", false, &Value::Null).unwrap();
    let mode = |k: &str| {
        std::fs::metadata(d.root().join(k))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_ne!(mode("x") & 0o100, 0);
    assert_eq!(mode("y") & 0o100, 0);
    assert!(d.entry("/x").unwrap().unwrap().value.executable);
    // Only S_IXUSR counts (`isExecutable`, `index.js:339-341`).
    std::fs::set_permissions(d.root().join("y"), std::fs::Permissions::from_mode(0o611)).unwrap();
    assert!(!d.entry("/y").unwrap().unwrap().value.executable);
    std::fs::set_permissions(d.root().join("y"), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(d.entry("/y").unwrap().unwrap().value.executable);
    // Rewriting drops the bit again.
    d.put("/x", b"x", false, &Value::Null).unwrap();
    assert_eq!(mode("x") & 0o100, 0);
}

/// Symlinks are entries, never followed (`index.js:110-120`); a target inside the root
/// reads as a drive path; writing through a link's path replaces the link.
#[cfg(unix)]
#[test]
fn symlinks_are_not_followed() {
    let (_t, d) = temp_drive();
    d.put("/dir/target.txt", b"target", false, &Value::Null)
        .unwrap();
    d.symlink("/rel", "dir/target.txt").unwrap();
    d.symlink("/abs", "/dir/target.txt").unwrap();
    d.symlink("/to-dir", "/dir").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", d.root().join("outside")).unwrap();
    let link = |k: &str| d.entry(k).unwrap().unwrap().value.linkname.unwrap();
    assert_eq!(link("/rel"), "dir/target.txt");
    assert_eq!(link("/abs"), "/dir/target.txt");
    assert_eq!(link("/outside"), "/etc/hostname");
    let e = d.entry("/to-dir").unwrap().unwrap();
    assert!(e.value.blob.is_none() && !e.value.executable && e.size == 0);
    // `get` of a link is None, as JS `get`.
    assert_eq!(d.get("/rel").unwrap(), None);
    // A link to a folder is listed as a link, not walked.
    assert_eq!(
        keys(&d, "/", &Ignore::none()),
        ["/abs", "/dir/target.txt", "/outside", "/rel", "/to-dir"]
    );
    // Writing over a link replaces the link, not its target.
    d.put("/rel", b"new", false, &Value::Null).unwrap();
    assert_eq!(d.get("/rel").unwrap().unwrap(), b"new");
    assert_eq!(d.get("/dir/target.txt").unwrap().unwrap(), b"target");
    // A symlink replaces a file.
    d.symlink("/rel", "elsewhere").unwrap();
    assert_eq!(link("/rel"), "elsewhere");
}

/// `list` (`index.js:219-254`): recursive, ignoring sockets and other non-files, names
/// that do not resolve back to themselves, and ignored paths with their subtrees.
#[cfg(unix)]
#[test]
fn listing_rules() {
    let (_t, d) = temp_drive();
    for k in ["/a/1", "/a/b/2", "/c", "/node_modules/x/y", "/d/e/f/g"] {
        d.put(k, b"", false, &Value::Null).unwrap();
    }
    let _sock = std::os::unix::net::UnixListener::bind(d.root().join("a/sock")).unwrap();
    std::fs::write(d.root().join("a/back\\slash"), b"x").unwrap();
    std::fs::create_dir_all(d.root().join("empty/folders")).unwrap();
    assert_eq!(
        keys(&d, "/", &Ignore::none()),
        ["/a/1", "/a/b/2", "/c", "/d/e/f/g", "/node_modules/x/y"]
    );
    assert_eq!(keys(&d, "a", &Ignore::none()), ["/a/1", "/a/b/2"]);
    assert_eq!(keys(&d, "/a/b/", &Ignore::none()), ["/a/b/2"]);
    assert!(keys(&d, "/missing", &Ignore::none()).is_empty());
    assert_eq!(
        keys(
            &d,
            "/",
            &Ignore::paths(["node_modules", "/a/b", "/d/e/f/g"])
        ),
        ["/a/1", "/c"]
    );
    // Listing order is the folder's own (depth first): every subfolder's entries are
    // contiguous.
    let order: Vec<String> = d
        .list("/", &Ignore::none())
        .unwrap()
        .map(|e| e.unwrap().key)
        .collect();
    let a: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, k)| k.starts_with("/a/"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(a.last().unwrap() - a[0], a.len() - 1, "{order:?}");
}

/// `del` (`index.js:166-189`, `gcEmptyFolders` 383-392): a missing path is fine; parents
/// left empty are removed up to the root; non-empty ones stay.
#[test]
fn del_removes_empty_parents() {
    let (_t, d) = temp_drive();
    d.put("/a/b/c/file", b"1", false, &Value::Null).unwrap();
    d.put("/a/keep", b"2", false, &Value::Null).unwrap();
    d.del("/a/b/c/file").unwrap();
    assert!(!d.root().join("a/b").exists());
    assert!(d.root().join("a/keep").exists());
    d.del("/a/keep").unwrap();
    assert!(!d.root().join("a").exists());
    assert!(d.root().exists(), "the root stays");
    d.del("/never/was").unwrap();
    d.put("/dir/x", b"", false, &Value::Null).unwrap();
    assert!(d.del("/dir").is_err(), "a folder is no entry to delete");
}

/// Read ranges (`FileReadStream`, `streams.js:94-167`): from `start`, `length` bytes, cut
/// short at the end.
#[test]
fn reads_whole_or_ranges() {
    let (_t, d) = temp_drive();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    d.put("/big", &data, false, &Value::Null).unwrap();
    let read = |start, len| {
        let mut out = Vec::new();
        let mut r = d.read("/big", start, len).unwrap();
        let remaining = r.remaining();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(remaining, out.len() as u64);
        out
    };
    assert_eq!(read(0, None), data);
    assert_eq!(read(70_000, Some(10)), &data[70_000..70_010]);
    assert_eq!(read(199_990, Some(100)), &data[199_990..]);
    assert!(read(300_000, Some(5)).is_empty());
    assert!(read(5, Some(0)).is_empty());
    assert!(d.read("/missing", 0, None).is_err());
}

/// Writes go through a temporary file: an unfinished writer leaves the old contents and
/// no temporary file behind.
#[test]
fn writes_are_atomic() {
    let (_t, d) = temp_drive();
    d.put("/f", b"old", false, &Value::Null).unwrap();
    {
        let mut w = d.writer("/f", false, Value::Null).unwrap();
        w.write_all(b"half of the new").unwrap();
        assert_eq!(d.get("/f").unwrap().unwrap(), b"old");
        assert_eq!(leftovers(d.root()).len(), 1);
    }
    assert_eq!(d.get("/f").unwrap().unwrap(), b"old");
    assert!(leftovers(d.root()).is_empty());
    let mut w = d.writer("/deep/new/file", true, Value::Null).unwrap();
    w.write_all(b"streamed ").unwrap();
    w.write_all(b"in parts").unwrap();
    w.finish().unwrap();
    assert_eq!(
        d.get("/deep/new/file").unwrap().unwrap(),
        b"streamed in parts"
    );
    assert!(
        d.writer("/", false, Value::Null).is_err(),
        "the root is no file"
    );
}

/// Metadata hooks (`index.js:13-14, 123, 188`, `streams.js:68-75`): a drive with hooks
/// supports metadata; a falsy value is deleted; `del` forgets it; links carry none.
#[test]
fn metadata_hooks() {
    let (_t, d) = temp_drive();
    let d = d.with_metadata(Box::new(MemMetadata::default()));
    assert!(d.supports_metadata());
    let meta = parse(br#"{"mime":"text/plain"}"#).unwrap();
    d.put("/m", b"x", false, &meta).unwrap();
    assert_eq!(d.entry("/m").unwrap().unwrap().value.metadata, meta);
    d.put("/m", b"x", false, &parse(b"0").unwrap()).unwrap();
    assert_eq!(d.entry("/m").unwrap().unwrap().value.metadata, Value::Null);
    d.put("/m", b"x", false, &meta).unwrap();
    d.del("/m").unwrap();
    d.put("/m", b"x", false, &Value::Null).unwrap();
    assert_eq!(d.entry("/m").unwrap().unwrap().value.metadata, Value::Null);

    // Mirrored between two drives with hooks, metadata is compared and copied.
    let (_u, e) = temp_drive();
    let mut e = e.with_metadata(Box::new(MemMetadata::default()));
    d.put("/m", b"x", false, &meta).unwrap();
    let s = Mirror::new(&d, &mut e).run().unwrap();
    assert_eq!(s.count.add, 1);
    assert_eq!(e.entry("/m").unwrap().unwrap().value.metadata, meta);
    e.put("/m", b"x", false, &Value::Null).unwrap();
    let s = Mirror::new(&d, &mut e).run().unwrap();
    assert_eq!((s.count.change, s.bytes_added, s.bytes_removed), (1, 1, 1));
    // Without hooks on one side, metadata is not compared.
    let (_v, mut plain) = temp_drive();
    plain.put("/m", b"x", false, &Value::Null).unwrap();
    let s = Mirror::new(&d, &mut plain).run().unwrap();
    assert_eq!((s.count.files, s.count.change), (1, 0));
}

/// The shape the drive bindings take: a folder mirrored into a drive-like side (metadata
/// and `putEntry` supported) and back, both as trait objects.
#[test]
fn folder_to_drive_and_back_as_trait_objects() {
    use ferrocore_mirror::testing::MemSide;
    use ferrocore_mirror::{MirrorSource, MirrorTarget};
    let (_t, folder) = temp_drive();
    folder.put("/a/b", b"bytes", true, &Value::Null).unwrap();
    folder.put("/c", b"", false, &Value::Null).unwrap();
    #[cfg(unix)]
    folder.symlink("/l", "a/b").unwrap();
    let mut drive = MemSide::drive();
    let src: &dyn MirrorSource = &folder;
    let dst: &mut dyn MirrorTarget = &mut drive;
    let s = Mirror::new(src, dst).run().unwrap();
    assert_eq!((s.count.add, s.bytes_added), (2 + u64::from(cfg!(unix)), 5));
    assert_eq!(common::snapshot(&drive), common::snapshot(&folder));

    // The drive gains metadata the folder cannot keep: mirrored back, nothing changes,
    // since a folder without hooks does not support metadata.
    drive.file("/c", b"", false, parse(br#"{"m":1}"#).unwrap());
    let (_u, mut back) = temp_drive();
    let dst: &mut dyn MirrorTarget = &mut back;
    Mirror::new(&drive as &dyn MirrorSource, dst).run().unwrap();
    assert_eq!(common::snapshot(&back), common::snapshot(&folder));
    let s = Mirror::new(
        &drive as &dyn MirrorSource,
        &mut back as &mut dyn MirrorTarget,
    )
    .run()
    .unwrap();
    assert_eq!((s.count.add, s.count.change, s.count.remove), (0, 0, 0));
}
