//! The blocking adapter drives Hyperdrive over real cores: a drive on two cores of a node
//! writes exactly the blocks `testing::MemDrive` (the reference driver, checked block for
//! block against JS by `tests/tests/drive_ops_vectors.rs`) writes for the same operations
//! and reads back the same answers; a sparse clone over loopback TCP fetches only the
//! blocks its reads need, downloads a folder, clears and reads ranges.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::drive::{
    Drive, DriveConfig, DriveOp, DriveOptions, Error, ListOptions, PutOptions, ReadOptions,
    WriteStreamOptions,
};
use ferrocore_blocking::Node;
use ferrocore_corestore::PrimaryKey;
use ferrocore_hyperdrive::drive::GetOptions;
use ferrocore_hyperdrive::keys::DriveKeys;
use ferrocore_hyperdrive::testing::MemDrive;
use ferrocore_storage::{Store, StoreOptions};
use ferrocore_tests::sim::Rng;
use ferrocore_wire::json::Value;

/// The two logs of the drive `new Hyperdrive(store)` makes under primary key `[seed; 32]`,
/// writable (`write`) or as a reader that knows the keys.
fn drive_logs(seed: u8, write: bool) -> (Log<MemoryStorage>, Log<MemoryStorage>, DriveKeys) {
    drive_logs_in(|_| MemoryStorage::new(), seed, write)
}

/// [`drive_logs`] on the storage `storage` gives for a discovery key.
fn drive_logs_in<S: Storage>(
    storage: impl Fn(&[u8; 32]) -> S,
    seed: u8,
    write: bool,
) -> (Log<S>, Log<S>, DriveKeys) {
    let keys = DriveKeys::from_primary_key(&PrimaryKey::from_bytes([seed; 32]));
    let open = |key, manifest| {
        let options = LogOptions {
            key_pair: write.then(|| keys.key_pair.clone()),
            key: Some(key),
            manifest: Some(manifest),
            ..LogOptions::default()
        };
        Log::open(storage(&ferrocore::hash::discovery_key(&key)), options).unwrap()
    };
    let db = open(keys.key, keys.db_manifest.clone());
    let blobs = open(keys.content_key, keys.content_manifest.clone());
    (db, blobs, keys)
}

fn writer_drive(seed: u8) -> (Node<MemoryStorage>, Drive<MemoryStorage>, DriveKeys) {
    let node = Node::new(EndpointConfig::default()).unwrap();
    let (db, blobs, keys) = drive_logs(seed, true);
    let (db, blobs) = (node.add_core(db).unwrap(), node.add_core(blobs).unwrap());
    let drive = Drive::open(&node, db, blobs, DriveOptions::default()).unwrap();
    (node, drive, keys)
}

fn blocks<S: Storage + Send + 'static>(node: &Node<S>, core: CoreId) -> Vec<Bytes> {
    let length = node.info(core).unwrap().length;
    (0..length)
        .map(|i| node.get(core, i, None).unwrap())
        .collect()
}

/// File contents of `len` bytes, from `rng`.
fn content(rng: &mut Rng, len: usize) -> Bytes {
    let seed = rng.below(251) as u8;
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect::<Vec<_>>()
        .into()
}

fn some_path(rng: &mut Rng) -> String {
    let dirs = ["", "/a", "/a/b", "/c", "/c/d/e"];
    format!(
        "{}/f{}",
        dirs[rng.below(dirs.len() as u64) as usize],
        rng.below(12)
    )
}

#[test]
fn a_drive_on_two_cores_writes_the_blocks_memdrive_writes_and_reads_the_same() {
    // On the persistent store, closed and reopened half way (a cold drive over the same
    // cores goes on writing what the model writes).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cores.redb");
    let open = || {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let node = Node::new(EndpointConfig::default()).unwrap();
        let (db, blobs, _) = drive_logs_in(|dk| store.core(dk), 1, true);
        let (db, blobs) = (node.add_core(db).unwrap(), node.add_core(blobs).unwrap());
        let drive = Drive::open(&node, db, blobs, DriveOptions::default()).unwrap();
        (node, drive)
    };
    let (mut node, mut drive) = open();
    let mut model = MemDrive::new(DriveConfig::default());
    let mut rng = Rng::new(29);
    let mut versions = Vec::new();
    for step in 0..120 {
        if step == 60 {
            drop(drive);
            drop(node.shutdown().unwrap());
            (node, drive) = open();
            assert_eq!(drive.version(), model.drive.version(), "reopened");
        }
        let ops: Vec<DriveOp> = (0..1 + rng.below(3))
            .map(|_| match rng.below(10) {
                0..=5 => DriveOp::Put {
                    path: some_path(&mut rng),
                    content: {
                        let len = [0, 1, 100, 65_536, 70_000, 300_000][rng.below(6) as usize];
                        content(&mut rng, len)
                    },
                    executable: rng.below(4) == 0,
                    metadata: if rng.below(3) == 0 {
                        ferrocore_wire::json::parse(br#"{"m":[1,"x"]}"#).unwrap()
                    } else {
                        Value::Null
                    },
                },
                6 | 7 => DriveOp::Del {
                    path: some_path(&mut rng),
                },
                _ => DriveOp::Symlink {
                    path: some_path(&mut rng),
                    target: some_path(&mut rng),
                    metadata: Value::Null,
                },
            })
            .collect();
        let got = drive.batch(ops.clone()).unwrap();
        let mut w = model.drive.write(ops);
        assert_eq!(got, model.run(&mut w).unwrap(), "step {step}");
        versions.push(drive.version());
        if step % 10 == 9 {
            // A write stream of several chunks.
            let path = some_path(&mut rng);
            let data = content(&mut rng, 200_000);
            let mut ws = drive.writer(&path, WriteStreamOptions::default()).unwrap();
            ws.write_all(&data).unwrap();
            ws.finish().unwrap();
            let mut m = model
                .drive
                .write_stream(&path, WriteStreamOptions::default());
            for c in data.chunks(64 * 1024) {
                m.write(Bytes::copy_from_slice(c));
            }
            m.end();
            while model.run(&mut m).unwrap().is_none() {}
        }
    }
    assert_eq!(blocks(&node, drive.db()), model.db, "db blocks");
    assert_eq!(blocks(&node, drive.blobs()), model.blobs, "blobs blocks");
    assert_eq!(drive.version(), model.drive.version());

    // Reads agree, at the head and at older versions.
    for version in [drive.version(), versions[60], versions[5]] {
        let d = drive.checkout(version);
        let view = model.drive.checkout(version);
        let got: Vec<_> = d
            .list("/", ListOptions::default())
            .collect::<Result<_, _>>()
            .unwrap();
        let want = model
            .collect(&mut view.list(Some("/"), ListOptions::default()))
            .unwrap();
        assert_eq!(got, want, "list at {version}");
        let dirs: Vec<_> = d.readdir("/a").collect::<Result<_, _>>().unwrap();
        assert_eq!(dirs, model.collect(&mut view.readdir(Some("/a"))).unwrap());
        for node in &got {
            let bytes = d.get(&node.path).unwrap();
            let mut get = view.get(&node.path, GetOptions::default());
            assert_eq!(bytes, model.run(&mut get).unwrap(), "{}", node.path);
            if let Some(b) = &bytes {
                let chunks: Vec<Bytes> = d
                    .read_stream(&node.path, ReadOptions::default())
                    .collect::<Result<_, _>>()
                    .unwrap();
                assert_eq!(&chunks.concat()[..], &b[..]);
            }
        }
        let diff: Vec<_> = drive.diff(version, "/").collect::<Result<_, _>>().unwrap();
        let mut m = model.drive.view().diff(version, Some("/"));
        assert_eq!(diff, model.collect(&mut m).unwrap());
    }
    assert!(drive
        .checkout(2)
        .put("/x", "y".into(), PutOptions::default())
        .is_err());
}

#[test]
fn a_bad_path_is_a_typed_error_and_truncate_goes_back_to_a_version() {
    let (_node, drive, _) = writer_drive(2);
    drive
        .put("/one", "1".into(), PutOptions::default())
        .unwrap();
    let v = drive.version();
    drive
        .put("/two", vec![9u8; 100_000].into(), PutOptions::default())
        .unwrap();
    let err = drive
        .put("/", "x".into(), PutOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::Drive(_)), "{err}");
    drive.truncate(v, None).unwrap();
    assert_eq!(drive.version(), v);
    assert_eq!(drive.get("/two").unwrap(), None);
    assert_eq!(drive.get("/one").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(drive.blobs_length().unwrap(), 1);
}

#[test]
fn a_sparse_clone_over_tcp_fetches_only_what_it_reads() {
    let (writer, drive, _) = writer_drive(3);
    let mut rng = Rng::new(5);
    let mut files = Vec::new();
    for i in 0..40 {
        let len = [10, 1_000, 65_536, 150_000, 400_000][i % 5];
        let path = format!("/{}/file{i:02}", ["docs", "img", "src"][i % 3]);
        let data = content(&mut rng, len);
        files.push((path.clone(), data.clone()));
        drive.put(&path, data, PutOptions::default()).unwrap();
    }
    let addr = writer.listen("127.0.0.1:0").unwrap();

    let reader = Node::new(EndpointConfig::default()).unwrap();
    let (db, blobs, _) = drive_logs(3, false);
    let (db, blobs) = (
        reader.add_core(db).unwrap(),
        reader.add_core(blobs).unwrap(),
    );
    reader.connect(addr).unwrap();
    let options = DriveOptions {
        timeout: Some(Duration::from_secs(20)),
        ..DriveOptions::default()
    };
    let clone = Drive::open(&reader, db, blobs, options).unwrap();
    assert_eq!(clone.update().unwrap(), drive.version());
    assert!(!clone.writable());

    // Whole files: exactly their blobs blocks come over.
    let held = |core| {
        reader
            .with_endpoint(move |ep| {
                let log = ep.log(core).unwrap();
                log.bitfield().count(0, log.length())
            })
            .unwrap()
    };
    for (path, data) in files.iter().step_by(7) {
        assert_eq!(clone.get(path).unwrap().as_ref(), Some(data), "{path}");
    }
    let want: u64 = files
        .iter()
        .step_by(7)
        .map(|(_, d)| (d.len() as u64).div_ceil(65_536))
        .sum();
    assert_eq!(held(blobs), want, "blobs blocks held after 6 gets");
    // A range of a file not read yet: the blocks it covers and no others (the block
    // likely holding its start is fetched first; its proof makes the start seekable).
    let before = held(blobs);
    let (path, data) = &files[4];
    let range = ReadOptions {
        start: Some(200_000),
        length: Some(70_000),
        ..ReadOptions::default()
    };
    let got: Vec<Bytes> = clone
        .read_stream(path, range)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(&got.concat()[..], &data[200_000..270_000]);
    assert_eq!(
        held(blobs) - before,
        2,
        "blocks 3 and 4 of the file (64 KiB each)"
    );
    let listed: Vec<_> = clone
        .list("/img", ListOptions::default())
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        listed.len(),
        files.iter().filter(|(p, _)| p.starts_with("/img/")).count()
    );

    // Download a folder: every blob under it is then held.
    assert!(!clone.has("/src").unwrap());
    clone.download("/src/").unwrap();
    assert!(clone.has("/src").unwrap());
    assert!(!clone.has("/docs").unwrap());

    // Clear gives the blocks back; the file reads again through replication.
    let (path, data) = &files[14]; // read above
    let cleared = clone.clear(path).unwrap();
    assert_eq!(cleared.blocks, (data.len() as u64).div_ceil(65_536));
    assert!(cleared.bytes >= data.len() as u64, "{cleared:?}");
    assert_eq!(clone.get(path).unwrap().as_ref(), Some(data));

    // Fetching off: a block not held is an error, not a wait.
    let local = Drive::open(
        &reader,
        db,
        blobs,
        DriveOptions {
            fetch: false,
            ..DriveOptions::default()
        },
    )
    .unwrap();
    let err = local.get(&files[1].0).unwrap_err();
    assert!(matches!(err, Error::NotLocal(..)), "{err}");
}

#[test]
fn watch_reports_changes_under_its_folder_only() {
    let (_node, drive, _) = writer_drive(4);
    drive
        .put("/a/x", "1".into(), PutOptions::default())
        .unwrap();
    let mut watch = drive.watch("/a").unwrap();
    drive
        .put("/b/y", "2".into(), PutOptions::default())
        .unwrap();
    assert!(
        watch
            .next_timeout(Some(Duration::from_millis(300)))
            .is_none(),
        "/b is not under /a"
    );
    let before = drive.version();
    drive
        .put("/a/z", "3".into(), PutOptions::default())
        .unwrap();
    let change = watch
        .next_timeout(Some(Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.previous, change.current),
        (before, drive.version()),
        "the watcher looked at the /b version already (nothing under /a changed there)"
    );
    let now = drive.checkout(change.current);
    assert_eq!(now.get("/a/z").unwrap().as_deref(), Some(&b"3"[..]));
    drive.del("/a/x").unwrap();
    let change = watch
        .next_timeout(Some(Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    assert!(!change.truncated);
    assert_eq!(drive.checkout(change.current).get("/a/x").unwrap(), None);
}
