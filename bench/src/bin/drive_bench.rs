//! The ferrocore side of `scripts/bench-drive`: Hyperdrive (the blocking adapter's
//! `drive::Drive`) with its two cores in the persistent store on disk
//! (`ferrocore-storage`; `import` and `clone` write as `ferrocore drive import` and
//! `ferrocore clone` do: `Durability::Eventual`, group commit, and one durable flush at the
//! end, inside the timing; the other modes open it with `Durability::Logged`), folders
//! through `ferrocore-mirror` (`LocalDrive` + `Mirror`, the product's import and export
//! path), against `tests/js/bench-drive.mjs` (JS hyperdrive 13.3.4, localdrive 2.2.1,
//! mirror-drive 1.14.2). The same modes, options, checks and JSON rows (the schema is in
//! the JS driver's header); every drive is the one `new Hyperdrive(store)` makes under the
//! primary key 32 × 7, so both sides have the same drive key:
//!
//! ```text
//! drive-bench import --src FOLDER --dir DIR      (DIR must not exist)
//! drive-bench export --dir DIR --dst FOLDER      (FOLDER must not exist)
//! drive-bench clone  --dir DIR                   (served to a fresh store over loopback TCP)
//! drive-bench list   --dir DIR --count N         (DIR filled with N small files if missing)
//! drive-bench reads  --dir DIR --reads R [--preset bench|interop] [--seed S]
//! ```
//!
//! `make-folder` is left to the JS driver. `reads` checks every range against the bytes
//! of `tests/js/drive-data.mjs` (its generator is re-implemented in [`data`]) and prints
//! the SHA-256 of everything read, which must equal JS's for the same folder. CPU time of
//! `reads` is summed per read from `/proc/self/stat` (10 ms ticks: a statistical figure).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::{hash, Log, LogOptions};
use ferrocore_bench::{logged_store, mode_and_flags, number, store_with, timed, Row, XorShift32};
use ferrocore_blocking::drive::{Drive, DriveOp, DriveOptions, ListOptions, ReadOptions};
use ferrocore_blocking::Node;
use ferrocore_corestore::PrimaryKey;
use ferrocore_hyperdrive::keys::{content_core, DriveKeys};
use ferrocore_mirror::{LocalDrive, Mirror};
use ferrocore_storage::{CoreStorage, Durability, Store};
use ferrocore_wire::json::Value;
use sha2::{Digest, Sha256};

/// The length of every ranged read.
const READ: u64 = 65_536;
/// Files of at least this many bytes are the "large" ones `reads` picks from.
const LARGE: u64 = 1 << 20;
/// How long the clone waits for a peer's block or length.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `tests/js/drive-data.mjs` in Rust: each file's path, size and content (symlinks,
/// metadata and link targets, which `reads` never needs, are left out).
mod data {
    use ferrocore_bench::XorShift32;

    /// Bytes per content chunk.
    pub const CHUNK: u64 = 65_536;
    const DIRS: [&str; 10] = [
        "src",
        "docs",
        "assets",
        "a",
        "deep",
        "ünïcødé",
        "文件夹",
        "z-last",
        "with space",
        "A",
    ];
    const NAMES: [&str; 14] = [
        "readme",
        "data",
        "notes",
        "image",
        "Grüße",
        "año",
        "日本語",
        "данные",
        "ελληνικά",
        "🦀crab",
        "ｆｕｌｌ",
        "with space",
        "UPPER",
        "dot.name",
    ];
    const EXTS: [&str; 6] = [".txt", ".bin", ".json", "", ".tar.gz", ".md"];

    /// A preset (`PRESETS` of drive-data.mjs).
    #[derive(Clone, Copy, Debug)]
    pub struct Preset {
        /// Files in the preset.
        pub count: u32,
        /// Its seed (`--seed` overrides it).
        pub seed: u32,
        min_exp: u32,
        octaves: u32,
        empties: bool,
        links: bool,
        special: &'static [(u32, u32)],
    }

    impl Preset {
        /// The preset `name` (`bench` or `interop`), with `seed` instead of its own if given.
        pub fn named(name: &str, seed: Option<u32>) -> Result<Preset, String> {
            let p = match name {
                "bench" => Preset {
                    count: 1000,
                    seed: 2,
                    min_exp: 10,
                    octaves: 12,
                    empties: false,
                    links: false,
                    special: &[],
                },
                "interop" => Preset {
                    count: 1000,
                    seed: 1,
                    min_exp: 0,
                    octaves: 18,
                    empties: true,
                    links: true,
                    special: &[(1, 65_536), (2, 65_537), (3, 131_072)],
                },
                _ => return Err(format!("preset: interop or bench, not {name:?}")),
            };
            Ok(Preset {
                seed: seed.unwrap_or(p.seed),
                ..p
            })
        }

        fn file_seed(&self, i: u32) -> u32 {
            (i + 1).wrapping_mul(0x9E37_79B1) ^ self.seed.wrapping_mul(0x85EB_CA77)
        }

        /// File `i`'s path and size (`file(p, i)`).
        pub fn file(&self, i: u32) -> (String, u64) {
            let mut rng = XorShift32::new(self.file_seed(i));
            let depth = rng.next() % 4;
            let mut path = String::from("/");
            for _ in 0..depth {
                path.push_str(DIRS[(rng.next() % DIRS.len() as u32) as usize]);
                path.push('/');
            }
            let word = NAMES[(rng.next() % NAMES.len() as u32) as usize];
            let ext = EXTS[(rng.next() % EXTS.len() as u32) as usize];
            let _exec = rng.next();
            let size_draw = rng.next();
            path.push_str(&format!("{word}-{i}{ext}"));
            let link = self.links && i % 100 == 37;
            let size = if link || (self.empties && i % 20 == 5) {
                0
            } else if let Some(&(_, s)) = self.special.iter().find(|(j, _)| *j == i) {
                s
            } else {
                let e = self.min_exp + i % self.octaves;
                (1 << e) + size_draw % (1 << e)
            };
            (path, u64::from(size))
        }

        /// Bytes `start..start + length` of file `i` of `size` bytes (clamped to it).
        pub fn range(&self, i: u32, size: u64, start: u64, length: u64) -> Vec<u8> {
            let end = size.min(start + length);
            let mut out = Vec::with_capacity(end.saturating_sub(start) as usize);
            let mut c = start / CHUNK;
            while c * CHUNK < end {
                let len = CHUNK.min(size - c * CHUNK) as usize;
                let seed = self.file_seed(i) ^ (c as u32 + 1).wrapping_mul(0xC2B2_AE35);
                let mut rng = XorShift32::new(seed);
                let chunk: Vec<u8> = (0..len.div_ceil(4))
                    .flat_map(|_| rng.next().to_le_bytes())
                    .take(len)
                    .collect();
                let from = start.saturating_sub(c * CHUNK) as usize;
                let to = (end - c * CHUNK).min(len as u64) as usize;
                out.extend_from_slice(&chunk[from..to]);
                c += 1;
            }
            out
        }
    }

    /// The file index a generated path names (`...-<i><ext>`, `indexOfPath`).
    pub fn index_of_path(path: &str) -> Option<u32> {
        let dash = path.rfind('-')?;
        let tail = &path[dash + 1..];
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        let rest = &tail[digits..];
        let ext_ok = rest.is_empty() || (rest.starts_with('.') && !rest.contains(['/', '-']));
        if digits == 0 || !ext_ok {
            return None;
        }
        tail[..digits].parse().ok()
    }

    #[cfg(test)]
    #[test]
    fn matches_the_check_values_of_drive_data_mjs() {
        let p = Preset::named("bench", None).unwrap();
        assert_eq!(p.file_seed(0), 0x95e0_ed5f);
        assert_eq!(
            p.file(0),
            ("/deep/with space/readme-0.json".to_string(), 1331)
        );
        let first = p.range(0, 1331, 0, 16);
        assert_eq!(hex::encode(first), "5592def8ffc41078b8836d71958546e2");
        let (path, size) = p.file(11);
        assert_eq!(
            (path.as_str(), size),
            ("/z-last/docs/docs/ｆｕｌｌ-11.tar.gz", 2_408_453)
        );
        assert_eq!(
            hex::encode(p.range(11, size, 1_000_000, 8)),
            "60b927c445bc7f52"
        );
        let total: u64 = (0..1000).map(|i| p.file(i).1).sum();
        assert_eq!(total, 526_730_910);
        assert_eq!(index_of_path(&path), Some(11));
        assert_eq!(index_of_path("/a-b/x"), None);
        let i = Preset::named("interop", None).unwrap();
        assert_eq!(i.file_seed(0), 0x1bdc_b3c6);
        assert_eq!(i.file(2), ("/notes-2.tar.gz".to_string(), 65_537));
        assert_eq!(hex::encode(i.range(2, 65_537, 65_536, 1)), "ea");
    }
}

/// `"/list/" + floor(i / 1000) (3 digits) + "/" + i (6 digits) + ".txt"`.
fn list_path(i: u64) -> String {
    format!("/list/{:03}/{i:06}.txt", i / 1000)
}

/// The command line (the JS driver's options).
struct Args {
    mode: String,
    dir: Option<PathBuf>,
    src: Option<PathBuf>,
    dst: Option<PathBuf>,
    count: u64,
    reads: u64,
    preset: String,
    seed: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let (mode, flags) = mode_and_flags("a mode: import, export, clone, list or reads")?;
    let mut a = Args {
        mode,
        dir: None,
        src: None,
        dst: None,
        count: 0,
        reads: 0,
        preset: "bench".into(),
        seed: None,
    };
    for (flag, v) in flags {
        match flag.as_str() {
            "--dir" => a.dir = Some(v.into()),
            "--src" => a.src = Some(v.into()),
            "--dst" => a.dst = Some(v.into()),
            "--count" => a.count = number(&flag, &v)?,
            "--reads" => a.reads = number(&flag, &v)?,
            "--preset" => a.preset = v,
            "--seed" => a.seed = Some(number(&flag, &v)?),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

/// The keys of the drive `new Hyperdrive(store)` makes under the primary key 32 × 7.
fn drive_keys() -> DriveKeys {
    DriveKeys::from_primary_key(&PrimaryKey::from_bytes([7; 32]))
}

/// A log of `store` for `key` (writable with `keys`' key pair when given).
fn open_log(
    store: &Store,
    key: [u8; 32],
    manifest: Option<ferrocore::Manifest>,
    keys: Option<&DriveKeys>,
) -> Log<CoreStorage> {
    let options = LogOptions {
        key_pair: keys.map(|k| k.key_pair.clone()),
        key: Some(key),
        manifest,
        ..LogOptions::default()
    };
    Log::open(store.core(&hash::discovery_key(&key)), options).expect("log opens")
}

/// The writable drive in the store in `dir` (made if missing) on a fresh node.
fn open_drive(dir: &Path) -> (Node<CoreStorage>, Drive<CoreStorage>) {
    open_drive_in(logged_store(dir))
}

/// The writable drive in `store` on a fresh node.
fn open_drive_in(store: Store) -> (Node<CoreStorage>, Drive<CoreStorage>) {
    let keys = drive_keys();
    let db = open_log(
        &store,
        keys.key,
        Some(keys.db_manifest.clone()),
        Some(&keys),
    );
    let blobs = open_log(
        &store,
        keys.content_key,
        Some(keys.content_manifest.clone()),
        Some(&keys),
    );
    let node = Node::new(EndpointConfig::default()).expect("node");
    let db = node.add_core(db).expect("db core added");
    let blobs = node.add_core(blobs).expect("blobs core added");
    let drive = Drive::open(&node, db, blobs, DriveOptions::default()).expect("drive opens");
    (node, drive)
}

/// Length, blobs length and blobs byte length (the rows' `length`, `blobs_length`,
/// `blobs_bytes`).
fn cores(node: &Node<CoreStorage>, db: CoreId, blobs: CoreId) -> (u64, u64, u64) {
    let db = node.info(db).expect("db info");
    let blobs = node.info(blobs).expect("blobs info");
    (db.length, blobs.length, blobs.byte_length)
}

/// Entries and their file bytes of a drive (untimed).
fn census(drive: &Drive<CoreStorage>) -> (u64, u64) {
    let (mut n, mut bytes) = (0, 0);
    for node in drive.list("/", ListOptions::default()) {
        let node = node.expect("list");
        n += 1;
        if let Ok(Some(id)) = node.entry.blob_id() {
            bytes += id.byte_length;
        }
    }
    (n, bytes)
}

/// Regular files, symlinks and file bytes under a folder (untimed).
#[derive(Default)]
struct Walk {
    files: u64,
    symlinks: u64,
    bytes: u64,
}

fn walk(root: &Path) -> Walk {
    fn visit(dir: &Path, w: &mut Walk) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("dir entry");
            let t = e.file_type().expect("file type");
            if t.is_dir() {
                visit(&e.path(), w);
            } else if t.is_symlink() {
                w.symlinks += 1;
            } else if t.is_file() {
                w.files += 1;
                w.bytes += e.metadata().expect("metadata").len();
            }
        }
    }
    let mut w = Walk::default();
    visit(root, &mut w);
    w
}

/// A finished run: its row's fields after `phase`.
struct Outcome {
    count: u64,
    ops: u64,
    bytes: u64,
    wall: f64,
    cpu: f64,
    cores: (u64, u64, u64),
    large: Option<u64>,
    digest: Option<String>,
    ok: bool,
}

impl Outcome {
    /// An import's or export's: `ops` the entries the mirror added, `bytes` its
    /// `bytesAdded`.
    fn mirror(
        count: u64,
        m: &ferrocore_mirror::Summary,
        (wall, cpu): (f64, f64),
        cores: (u64, u64, u64),
        ok: bool,
    ) -> Outcome {
        Outcome {
            count,
            ops: m.count.add,
            bytes: m.bytes_added,
            wall,
            cpu,
            cores,
            large: None,
            digest: None,
            ok,
        }
    }
}

fn need<'a>(p: &'a Option<PathBuf>, what: &str) -> Result<&'a Path, String> {
    p.as_deref().ok_or(format!("{what} is required"))
}

fn must_not_exist<'a>(p: &'a Option<PathBuf>, what: &str) -> Result<&'a Path, String> {
    let p = need(p, what)?;
    if p.exists() {
        return Err(format!("{} exists", p.display()));
    }
    Ok(p)
}

fn import(a: &Args) -> Result<Outcome, String> {
    let src = need(&a.src, "--src")?;
    let dir = must_not_exist(&a.dir, "--dir")?;
    let want = walk(src);
    // As `ferrocore drive import` writes: group commit, one durable flush at the end
    // (timed).
    let store = store_with(dir, Durability::Eventual);
    let (node, mut drive) = open_drive_in(store.clone());
    let local = LocalDrive::new(src).map_err(|e| e.to_string())?;
    let (summary, wall, cpu) = timed(|| {
        let m = Mirror::new(&local, &mut drive).run();
        store.flush().map(|()| m).map_err(|e| e.to_string())
    });
    let summary = summary?;
    let m = summary.map_err(|e| format!("import: {e}"))?;
    let cores = cores(&node, drive.db(), drive.blobs());
    let ok = m.count.add == want.files + want.symlinks
        && m.bytes_added == want.bytes
        && cores.0 == 1 + m.count.add;
    drop(drive);
    node.shutdown().map_err(|e| e.to_string())?;
    Ok(Outcome::mirror(m.count.files, &m, (wall, cpu), cores, ok))
}

fn export(a: &Args) -> Result<Outcome, String> {
    let dir = need(&a.dir, "--dir")?;
    let dst = must_not_exist(&a.dst, "--dst")?;
    let (node, drive) = open_drive(dir);
    let (n, bytes) = census(&drive);
    let mut local = LocalDrive::new(dst).map_err(|e| e.to_string())?;
    let (summary, wall, cpu) = timed(|| Mirror::new(&drive, &mut local).run());
    let m = summary.map_err(|e| format!("export: {e}"))?;
    let got = walk(dst);
    let ok = m.count.add == n
        && m.bytes_added == bytes
        && got.bytes == bytes
        && got.files + got.symlinks == n;
    let cores = cores(&node, drive.db(), drive.blobs());
    drop(drive);
    node.shutdown().map_err(|e| e.to_string())?;
    Ok(Outcome::mirror(n, &m, (wall, cpu), cores, ok))
}

fn clone(a: &Args) -> Result<Outcome, String> {
    let dir = need(&a.dir, "--dir")?;
    let (writer, wdrive) = open_drive(dir);
    let (n, _) = census(&wdrive);
    let wdb = writer.info(wdrive.db()).map_err(|e| e.to_string())?;
    let wblobs = writer.info(wdrive.blobs()).map_err(|e| e.to_string())?;
    let addr = writer.listen("127.0.0.1:0").map_err(|e| e.to_string())?;

    let reader_dir = tempfile::Builder::new()
        .prefix("ferrocore-bench-drive-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    // As `ferrocore clone` writes: group commit, one durable flush at the end (timed).
    let store = store_with(reader_dir.path(), Durability::Eventual);
    let drive_key = drive_keys().key;
    let reader = Node::new(EndpointConfig::default()).map_err(|e| e.to_string())?;
    let db = reader
        .add_core(open_log(&store, drive_key, None, None))
        .map_err(|e| e.to_string())?;
    let (result, wall, cpu) = timed(|| -> Result<CoreId, String> {
        let err = |e: ferrocore_blocking::Error| e.to_string();
        reader.connect(addr).map_err(err)?;
        reader.update(db, Some(TIMEOUT)).map_err(err)?;
        // The blobs core's key and manifest follow from the db's manifest (JS getBlobs).
        let manifest = reader
            .with_endpoint(move |ep| ep.log(db).and_then(|l| l.manifest().cloned()))
            .map_err(err)?
            .ok_or("the db's manifest did not come with its first proof")?;
        let (cmanifest, ckey) = content_core(&manifest, &drive_key).ok_or("no content key")?;
        let cmanifest = Some(cmanifest);
        let blobs = reader
            .add_core(open_log(&store, ckey, cmanifest, None))
            .map_err(err)?;
        let options = DriveOptions {
            timeout: Some(TIMEOUT),
            ..DriveOptions::default()
        };
        let _drive = Drive::open(&reader, db, blobs, options).map_err(|e| e.to_string())?;
        reader.update(blobs, Some(TIMEOUT)).map_err(err)?;
        let dl = reader.info(db).map_err(err)?.length;
        let bl = reader.info(blobs).map_err(err)?.length;
        let d1 = reader.download(db, 0, Some(dl)).map_err(err)?;
        let d2 = reader.download(blobs, 0, Some(bl)).map_err(err)?;
        d1.wait().map_err(err)?;
        d2.wait().map_err(err)?;
        store.flush().map_err(|e| e.to_string())?;
        Ok(blobs)
    });
    let blobs = result?;
    let rdb = reader.info(db).map_err(|e| e.to_string())?;
    let rblobs = reader.info(blobs).map_err(|e| e.to_string())?;
    let ok = rdb.length == wdb.length
        && rdb.contiguous_length == rdb.length
        && rdb.byte_length == wdb.byte_length
        && rblobs.length == wblobs.length
        && rblobs.contiguous_length == rblobs.length
        && rblobs.byte_length == wblobs.byte_length;
    reader.shutdown().map_err(|e| e.to_string())?;
    drop(wdrive);
    writer.shutdown().map_err(|e| e.to_string())?;
    Ok(Outcome {
        count: n,
        // Every block of both cores came over (the reader started empty).
        ops: rdb.length + rblobs.length,
        bytes: rdb.byte_length + rblobs.byte_length,
        wall,
        cpu,
        cores: (rdb.length, rblobs.length, rblobs.byte_length),
        large: None,
        digest: None,
        ok,
    })
}

fn list(a: &Args) -> Result<Outcome, String> {
    let dir = need(&a.dir, "--dir")?;
    if a.count == 0 {
        return Err("list needs --count".into());
    }
    if !dir.exists() {
        let (node, drive) = open_drive(dir);
        let mut i = 0;
        while i < a.count {
            let ops = (i..a.count.min(i + 1000))
                .map(|j| DriveOp::Put {
                    path: list_path(j),
                    content: Bytes::from(format!("file {j}\n")),
                    executable: false,
                    metadata: Value::Null,
                })
                .collect();
            let out = drive.batch(ops).map_err(|e| format!("fill: {e}"))?;
            if let Some(Err(e)) = out.results.into_iter().find(Result::is_err) {
                return Err(format!("fill: {e}"));
            }
            i += 1000;
        }
        drop(drive);
        node.shutdown().map_err(|e| e.to_string())?;
    }
    let (node, drive) = open_drive(dir);
    let ((n, bytes, ordered), wall, cpu) = timed(|| {
        let (mut n, mut bytes, mut ordered) = (0u64, 0u64, true);
        for node in drive.list("/", ListOptions::default()) {
            let Ok(node) = node else {
                ordered = false;
                break;
            };
            ordered &= node.path == list_path(n);
            n += 1;
            if let Ok(Some(id)) = node.entry.blob_id() {
                bytes += id.byte_length;
            }
        }
        (n, bytes, ordered)
    });
    let cores = cores(&node, drive.db(), drive.blobs());
    drop(drive);
    node.shutdown().map_err(|e| e.to_string())?;
    Ok(Outcome {
        count: a.count,
        ops: n,
        bytes,
        wall,
        cpu,
        cores,
        large: None,
        digest: None,
        ok: ordered && n == a.count,
    })
}

fn reads(a: &Args) -> Result<Outcome, String> {
    let dir = need(&a.dir, "--dir")?;
    if a.reads == 0 {
        return Err("reads needs --reads".into());
    }
    let p = data::Preset::named(&a.preset, a.seed)?;
    let (node, drive) = open_drive(dir);
    let (n, _) = census(&drive);
    let large: Vec<(String, u64)> = drive
        .list("/", ListOptions::default())
        .filter_map(|node| {
            let node = node.expect("list");
            let id = node.entry.blob_id().ok().flatten()?;
            (id.byte_length >= LARGE).then_some((node.path, id.byte_length))
        })
        .collect();
    if large.is_empty() {
        return Err("no file of 1 MiB or more in the drive".into());
    }
    let mut rng = XorShift32::new(2);
    let mut digest = Sha256::new();
    let (mut ok, mut bytes, mut wall, mut cpu) = (true, 0u64, 0f64, 0f64);
    for _ in 0..a.reads {
        let (path, size) = &large[(rng.next() % large.len() as u32) as usize];
        let start = u64::from(rng.next()) % (size - READ + 1);
        let range = ReadOptions {
            start: Some(start),
            length: Some(READ),
            ..ReadOptions::default()
        };
        let (chunks, w, c) = timed(|| {
            drive
                .read_stream(path, range)
                .collect::<Result<Vec<Bytes>, _>>()
        });
        wall += w;
        cpu += c;
        let buf = chunks.map_err(|e| format!("read {path}: {e}"))?.concat();
        bytes += buf.len() as u64;
        digest.update(&buf);
        ok &= buf.len() as u64 == READ
            && match data::index_of_path(path).filter(|&i| i < p.count) {
                Some(i) => {
                    let (want_path, want_size) = p.file(i);
                    want_path == *path
                        && want_size == *size
                        && buf == p.range(i, want_size, start, READ)
                }
                None => false,
            };
    }
    let cores = cores(&node, drive.db(), drive.blobs());
    drop(drive);
    node.shutdown().map_err(|e| e.to_string())?;
    Ok(Outcome {
        count: n,
        ops: a.reads,
        bytes,
        wall,
        cpu,
        cores,
        large: Some(large.len() as u64),
        digest: Some(hex::encode(digest.finalize())),
        ok,
    })
}

fn main() -> ExitCode {
    let usage = "usage: drive-bench import --src FOLDER --dir DIR | export --dir DIR --dst FOLDER | clone --dir DIR\n       drive-bench list --dir DIR --count N | reads --dir DIR --reads R [--preset P] [--seed S]";
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("drive-bench: {e}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let run = match a.mode.as_str() {
        "import" => import,
        "export" => export,
        "clone" => clone,
        "list" => list,
        "reads" => reads,
        m => {
            eprintln!("drive-bench: mode: import, export, clone, list or reads, not {m}\n{usage}");
            return ExitCode::from(2);
        }
    };
    let o = match run(&a) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("drive-bench {}: {e}", a.mode);
            return ExitCode::FAILURE;
        }
    };
    let mut row = Row::new();
    row.str("bench", "drive")
        .str("impl", "ferrocore")
        .str("phase", &a.mode)
        .num("count", o.count as f64)
        .num("ops", o.ops as f64)
        .num("bytes", o.bytes as f64)
        .num("wall_s", o.wall)
        .num("cpu_s", o.cpu)
        .num("ops_per_s", o.ops as f64 / o.wall);
    if a.mode != "list" {
        row.num("mb_per_s", o.bytes as f64 / 1e6 / o.wall);
    }
    row.num("length", o.cores.0 as f64)
        .num("blobs_length", o.cores.1 as f64)
        .num("blobs_bytes", o.cores.2 as f64);
    if let Some(l) = o.large {
        row.num("large", l as f64);
    }
    if let Some(d) = &o.digest {
        row.str("digest", d);
    }
    row.boolean("ok", o.ok);
    println!("{}", row.finish());
    if o.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
