//! Hyperdrive against JS hyperdrive 13.3.4 (`tests/js/drive-peer.mjs`: corestore 7.12.5 on
//! hypercore 11.37.1, localdrive 2.2.1 + mirror-drive 1.14.2), live over loopback TCP:
//! - a JS drive of 1,000 files (the `interop` preset of `tests/js/drive-data.mjs`: nested
//!   Unicode paths, empty files, executables, metadata, symlinks) cloned by ferrocore: read
//!   sparsely (only the blobs blocks of the files read come over) and whole (every file's
//!   bytes and every link give the tree checksum JS computes for its drive);
//! - a ferrocore drive (the same folder imported with our mirror) cloned and read by JS:
//!   JS's checksum of it equals the preset's;
//! - a change on either side seen live by the other's watch.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::drive::{Drive, DriveOptions, ListOptions, PutOptions};
use ferrocore_blocking::Node;
use ferrocore_hyperdrive::keys::content_core;
use ferrocore_mirror::{LocalDrive, Mirror};
use ferrocore_tests::js::JsPeer;

mod common;
use common::{drive_keys, new_drive};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const T: Duration = Duration::from_secs(120);

fn drive_peer() -> JsPeer {
    let mut js = JsPeer::spawn("drive-peer.mjs", &["--timeout", "300000"]);
    js.ok(json!({"op": "open"}), T);
    js
}

/// drive-data.mjs's tree checksum of `drive` (SHA-256 over the entries in list order:
/// `utf8(path) ‖ 0 ‖ kind ‖ u64le(n) ‖ payload`) and its entry count.
fn checksum<S: Storage + Send + 'static>(drive: &Drive<S>) -> (String, u64) {
    let mut h = Sha256::new();
    let mut count = 0;
    for node in drive.list("/", ListOptions::default()) {
        let node = node.unwrap();
        let (kind, payload) = match node.entry.linkname.as_deref() {
            Some(l) if !l.is_empty() => (b'l', Bytes::copy_from_slice(l.as_bytes())),
            _ => {
                let kind = if node.entry.executable { b'x' } else { b'f' };
                (kind, drive.get(&node.path).unwrap().unwrap_or_default())
            }
        };
        h.update(node.path.as_bytes());
        h.update([0, kind]);
        h.update((payload.len() as u64).to_le_bytes());
        h.update(&payload);
        count += 1;
    }
    (hex::encode(h.finalize()), count)
}

/// Standard base64 (the JS peer's binary contents).
fn base64(text: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(val).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &d) in chunk.iter().enumerate() {
            n |= u32::from(d) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn key(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn held(node: &Node<MemoryStorage>, core: CoreId) -> u64 {
    node.with_endpoint(move |ep| {
        let log = ep.log(core).unwrap();
        log.bitfield().count(0, log.length())
    })
    .unwrap()
}

/// A read-only clone of the JS drive `drive_key` on `node`, connected to `port`: the db
/// core first, then the blobs core whose key follows from the db's manifest.
fn clone_of(
    node: &Node<MemoryStorage>,
    drive_key: [u8; 32],
    port: u16,
) -> (Drive<MemoryStorage>, [u8; 32]) {
    let open = |key, manifest| {
        let options = LogOptions {
            key: Some(key),
            manifest,
            ..LogOptions::default()
        };
        node.add_core(Log::open(MemoryStorage::new(), options).unwrap())
            .unwrap()
    };
    let db = open(drive_key, None);
    node.connect(("127.0.0.1", port)).unwrap();
    node.update(db, Some(T)).unwrap();
    let manifest = node
        .with_endpoint(move |ep| ep.log(db).unwrap().manifest().cloned())
        .unwrap()
        .expect("the db's manifest came with its first proof");
    let (cmanifest, ckey) = content_core(&manifest, &drive_key).unwrap();
    let blobs = open(ckey, Some(cmanifest));
    let options = DriveOptions {
        timeout: Some(T),
        ..DriveOptions::default()
    };
    let drive = Drive::open(node, db, blobs, options).unwrap();
    drive.update().unwrap();
    (drive, ckey)
}

#[test]
fn a_js_drive_of_1000_files_is_read_sparsely_then_whole_and_changes_are_seen_live() {
    let mut js = drive_peer();
    let info = js.ok(json!({"op": "drive"}), T);
    let filled = js.ok(json!({"op": "fill", "drive": 0, "preset": "interop"}), T);
    assert_eq!(
        filled["files"].as_u64().unwrap() + filled["symlinks"].as_u64().unwrap(),
        1000
    );
    let sum = js.ok(json!({"op": "checksum", "drive": 0}), T);
    let port = js.ok(json!({"op": "listen"}), T)["port"].as_u64().unwrap() as u16;
    let drive_key = key(&info["key"]);

    let node = Node::new(EndpointConfig::default()).unwrap();
    let (drive, ckey) = clone_of(&node, drive_key, port);
    let after = js.ok(json!({"op": "info", "drive": 0}), T);
    assert_eq!(
        hex::encode(ckey),
        after["contentKey"].as_str().unwrap(),
        "content key"
    );
    assert_eq!(drive.version(), after["version"].as_u64().unwrap());

    // Sparse: ten files read, only their blobs blocks come over.
    let files: Vec<_> = drive
        .list("/", ListOptions::default())
        .map(Result::unwrap)
        .filter(|n| n.entry.blob.is_some())
        .collect();
    assert_eq!(held(&node, drive.blobs()), 0, "listing reads the db only");
    let mut want = BTreeSet::new();
    for n in files.iter().step_by(97).take(10) {
        let ours = drive.get(&n.path).unwrap().unwrap();
        let theirs = js.ok(json!({"op": "get", "drive": 0, "path": n.path}), T);
        assert_eq!(
            ours,
            base64(theirs["content"].as_str().unwrap()),
            "{}",
            n.path
        );
        let id = n.entry.blob_id().unwrap().unwrap();
        want.extend(id.block_offset..id.block_offset + id.block_length);
    }
    assert_eq!(
        held(&node, drive.blobs()),
        want.len() as u64,
        "only the files read"
    );
    // A range inside a large file not read yet.
    let big = files
        .iter()
        .find(|n| n.entry.blob_id().unwrap().unwrap().byte_length > 180_000)
        .expect("a large file");
    let range = ferrocore_blocking::drive::ReadOptions {
        start: Some(100_000),
        length: Some(65_536),
        ..Default::default()
    };
    let ours: Vec<Bytes> = drive
        .read_stream(&big.path, range)
        .collect::<Result<_, _>>()
        .unwrap();
    let theirs = js.ok(
        json!({"op": "get", "drive": 0, "path": big.path, "start": 100_000, "length": 65_536}),
        T,
    );
    assert_eq!(ours.concat(), base64(theirs["content"].as_str().unwrap()));

    // Whole: everything, then the tree checksum JS gives.
    drive.download("/").unwrap();
    let (ours, count) = checksum(&drive);
    assert_eq!(count, sum["count"].as_u64().unwrap());
    assert_eq!(ours, sum["sha256"].as_str().unwrap(), "tree checksum");

    // Live: JS writes, our watch sees it and reads the new file.
    let mut watch = drive.watch("/live").unwrap();
    js.ok(
        json!({"op": "put", "drive": 0, "path": "/live/from-js.txt", "content": "hello from JS"}),
        T,
    );
    let change = watch.next_timeout(Some(T)).expect("a change").unwrap();
    let now = drive.checkout(change.current);
    assert_eq!(
        now.get("/live/from-js.txt").unwrap().as_deref(),
        Some(&b"hello from JS"[..])
    );
    js.finish();
}

#[test]
fn a_ferrocore_drive_is_cloned_and_read_by_js_and_its_changes_seen_live() {
    let mut js = drive_peer();
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().to_str().unwrap();
    js.ok(
        json!({"op": "makeFolder", "folder": path, "preset": "interop"}),
        T,
    );
    let expected = js.ok(json!({"op": "expected", "preset": "interop"}), T);

    let keys = drive_keys(9);
    let node = Node::new(EndpointConfig::default()).unwrap();
    let mut drive = new_drive(&node, 9);
    let local = LocalDrive::new(folder.path()).unwrap();
    let summary = Mirror::new(&local, &mut drive).run().unwrap();
    assert_eq!(summary.count.add, 1000);
    assert_eq!(checksum(&drive).0, expected["sha256"].as_str().unwrap());
    let addr = node.listen("127.0.0.1:0").unwrap();

    js.ok(json!({"op": "connect", "port": addr.port()}), T);
    let info = js.ok(
        json!({"op": "drive", "key": hex::encode(keys.key), "update": true}),
        T,
    );
    assert_eq!(
        info["contentKey"].as_str().unwrap(),
        hex::encode(keys.content_key)
    );
    assert_eq!(info["version"].as_u64().unwrap(), drive.version());
    let theirs = js.ok(json!({"op": "checksum", "drive": 0}), T);
    assert_eq!(theirs["sha256"], expected["sha256"], "JS reads our drive");
    assert_eq!(theirs["count"].as_u64(), Some(1000));

    // Live: we write, JS's watch sees it.
    let w = js.ok(json!({"op": "watch", "drive": 0, "folder": "/live"}), T)["watch"].clone();
    drive
        .put(
            "/live/from-ferrocore.txt",
            "hello from ferrocore".into(),
            PutOptions::default(),
        )
        .unwrap();
    let event = js.wait_for(T, |v| v["event"] == "change" && v["watch"] == w);
    assert_eq!(event["version"].as_u64(), Some(drive.version()));
    assert_eq!(event["changes"][0]["key"], "/live/from-ferrocore.txt");
    let got = js.ok(
        json!({"op": "get", "drive": 0, "path": "/live/from-ferrocore.txt", "encoding": "utf8"}),
        T,
    );
    assert_eq!(got["content"], "hello from ferrocore");
    js.finish();
}
