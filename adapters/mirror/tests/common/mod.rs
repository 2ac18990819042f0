//! What the mirror tests share: a seeded generator and tree snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read as _;

use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::drive::{Drive, DriveOptions};
use ferrocore_corestore::PrimaryKey;
use ferrocore_hyperdrive::keys::DriveKeys;
use ferrocore_mirror::{Ignore, LocalDrive, MirrorSource};
use ferrocore_wire::json::Value;

/// A small seeded generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// What a tree holds at a path: a file (contents, exec bit) or a link (target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(Vec<u8>, bool),
    Link(String),
}

/// Every entry of a side, by key, read through the side's own API.
pub fn snapshot(side: &dyn MirrorSource) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for e in side.list("/", &Ignore::none()).unwrap() {
        let e = e.unwrap();
        let node = match &e.value.linkname {
            Some(l) if !l.is_empty() => Node::Link(l.clone()),
            _ => {
                let mut data = Vec::new();
                side.read(&e).unwrap().read_to_end(&mut data).unwrap();
                assert_eq!(data.len() as u64, e.size, "{}", e.key);
                Node::File(data, e.value.executable)
            }
        };
        assert!(out.insert(e.key.clone(), node).is_none(), "{} twice", e.key);
    }
    out
}

/// A drive over a fresh temporary folder (kept alive by the returned guard).
pub fn temp_drive() -> (tempfile::TempDir, LocalDrive) {
    let dir = tempfile::tempdir().unwrap();
    let drive = LocalDrive::new(dir.path()).unwrap();
    (dir, drive)
}

/// Temporary files a writer may have left under `root`.
pub fn leftovers(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".localdrive.tmp") {
                out.push(p);
            }
        }
    }
    out
}

pub const SIZES: &[usize] = &[
    0, 1, 7, 100, 4095, 4096, 4097, 65535, 65536, 65537, 200_000, 1_100_000, 2_097_155,
];

/// Fills `drive` with the seeded tree; the files' total size.
pub fn generate(drive: &LocalDrive, seed: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut total = 0;
    let mut put = |key: &str, n: usize, exec: bool, rng: &mut Rng| {
        drive.put(key, &rng.bytes(n), exec, &Value::Null).unwrap();
        total += n as u64;
    };
    for (i, &n) in SIZES.iter().enumerate() {
        put(&format!("/sizes/file-{i:02}.bin"), n, i % 3 == 0, &mut rng);
    }
    let deep: String = (0..14).map(|i| format!("/level{i}")).collect();
    put(&format!("{deep}/leaf.bin"), 3000, false, &mut rng);
    put(&format!("{deep}/run.sh"), 12, true, &mut rng);
    for name in [
        "/unicode/é.txt",
        // Another spelling of é, other bytes: kept apart, never normalised.
        "/unicode/e\u{301}.txt",
        "/unicode/日本語/ファイル.bin",
        "/unicode/emoji 🐱 space.dat",
        "/unicode/Ωmega/ünïcödé dir/x",
    ] {
        let n = (rng.next() % 70_000) as usize;
        put(name, n, rng.next() % 2 == 0, &mut rng);
    }
    for i in 0..40 {
        let dir = rng.next() % 5;
        let n = (rng.next() % 5000) as usize;
        put(&format!("/many/d{dir}/f{i}"), n, false, &mut rng);
    }
    drive.symlink("/links/rel", "../sizes/file-03.bin").unwrap();
    drive.symlink("/links/abs", "/sizes/file-04.bin").unwrap();
    drive.symlink("/links/dangling", "nowhere/at/all").unwrap();
    drive.symlink("/links/to-dir", "/unicode").unwrap();
    drive.symlink("/links/日本", "../unicode/日本語").unwrap();
    total
}

/// The writable drive `new Hyperdrive(store)` makes under primary key `[seed; 32]`, its two
/// cores in memory on `node`.
pub fn new_drive(node: &ferrocore_blocking::Node<MemoryStorage>, seed: u8) -> Drive<MemoryStorage> {
    let keys = drive_keys(seed);
    let add = |key, manifest| {
        let options = LogOptions {
            key_pair: Some(keys.key_pair.clone()),
            key: Some(key),
            manifest: Some(manifest),
            ..LogOptions::default()
        };
        node.add_core(Log::open(MemoryStorage::new(), options).unwrap())
            .unwrap()
    };
    let db = add(keys.key, keys.db_manifest.clone());
    let blobs = add(keys.content_key, keys.content_manifest.clone());
    Drive::open(node, db, blobs, DriveOptions::default()).unwrap()
}

/// The keys of the drive [`new_drive`] makes for `seed`.
pub fn drive_keys(seed: u8) -> DriveKeys {
    DriveKeys::from_primary_key(&PrimaryKey::from_bytes([seed; 32]))
}
