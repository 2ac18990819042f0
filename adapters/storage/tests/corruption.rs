//! Damaged store files (the database and its data file): flipped bytes and truncations at many
//! offsets. Every outcome is the original data or a typed error (at open or at read): never
//! wrong data, never a panic.
//!
//! Two levels, both with the default `verify_on_open`: raw records, and a `Log` (whose open
//! checks the header, roots and bitfield against each other, and whose proofs must verify).
//! Most trials leave out the page checksums a clean close writes (`-sums`), so the open
//! verifies the whole database; the last test keeps them, as a store reopened after a clean
//! close has them: the open then reads almost nothing, and every page redb reads is checked
//! against them.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::storage::{MemoryStorage, Storage, StorageError, WriteBatch};
use ferrocore::Node;
use ferrocore_storage::{Store, StoreOptions};

mod common;

const CORES: [[u8; 32]; 2] = [[0x11; 32], [0xee; 32]];

/// Raw-record trials verify every page at open.
const VERIFY: StoreOptions = StoreOptions {
    durability: ferrocore_storage::Durability::Immediate,
    verify_on_open: true,
    cache_bytes: ferrocore_storage::DEFAULT_CACHE_BYTES,
    group_bytes: ferrocore_storage::DEFAULT_GROUP_BYTES,
};

fn content(core: u8) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in 0..40u64 {
        let fill = (i as u8) ^ core;
        b.put_block(i, Bytes::from(vec![fill; 100 + i as usize]))
            .put_node(Node::new(2 * i, 100 + i, [fill; 32]));
    }
    b.put_bitfield_page(0, Bytes::from(vec![core; 4096]))
        .put_header(Bytes::from(vec![core; 64]));
    b
}

/// Writes the reference store; returns the models of its cores.
fn write_store(path: &Path) -> Vec<MemoryStorage> {
    let store = Store::open(path, StoreOptions::default()).unwrap();
    CORES
        .iter()
        .map(|k| {
            let mut model = MemoryStorage::new();
            model.write(content(k[0])).unwrap();
            store.core(k).write(content(k[0])).unwrap();
            model
        })
        .collect()
}

/// Reads every record of the damaged store; `Err` if any read (or open) reports an error, and
/// panics (failing the test) if any read returns data other than the model's.
fn read_all(path: &Path, models: &[MemoryStorage]) -> Result<(), StorageError> {
    let store = Store::open(path, VERIFY)?;
    for (k, model) in CORES.iter().zip(models) {
        let core = store.core(k);
        assert_eq!(core.header()?, model.header()?, "header of {k:?}");
        for i in 0..41 {
            assert_eq!(core.block(i)?, model.block(i)?, "block {i}");
            assert_eq!(core.node(2 * i)?, model.node(2 * i)?, "node {i}");
        }
        assert_eq!(core.bitfield_pages()?, model.bitfield_pages()?);
        assert_eq!(core.estimate()?, model.estimate()?);
    }
    assert_eq!(store.cores()?, CORES.to_vec());
    Ok(())
}

/// A store's files as written: the database and its data file, and the page checksums of
/// the clean close if kept.
struct Files {
    db: Vec<u8>,
    data: Vec<u8>,
    sums: Option<Vec<u8>>,
}

/// The path of the store file beside `db` with `suffix`.
fn beside(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    p.into()
}

impl Files {
    fn read(db: &Path) -> Self {
        Self {
            db: std::fs::read(db).unwrap(),
            data: std::fs::read(beside(db, "-data")).unwrap(),
            sums: None,
        }
    }

    /// [`Files::read`], with the page checksums.
    fn read_with_sums(db: &Path) -> Self {
        let sums = std::fs::read(beside(db, "-sums")).unwrap();
        assert!(!sums.is_empty(), "a clean close writes the page checksums");
        Self {
            sums: Some(sums),
            ..Self::read(db)
        }
    }

    /// Writes the files (the database's `damaged`) as the store at `path`.
    fn write(&self, path: &Path, db: &[u8], data: &[u8]) {
        let _ = std::fs::remove_file(beside(path, "-wal"));
        let _ = std::fs::remove_file(beside(path, "-sums"));
        std::fs::write(path, db).unwrap();
        std::fs::write(beside(path, "-data"), data).unwrap();
        if let Some(sums) = &self.sums {
            std::fs::write(beside(path, "-sums"), sums).unwrap();
        }
    }
}

/// Which file a trial damages.
#[derive(Clone, Copy, Debug)]
enum Target {
    Db,
    Data,
}

/// Runs `damage` on a fresh copy of the reference files (on the `target` one) and checks
/// the outcome.
fn trial<E>(
    original: &Files,
    target: Target,
    read: &dyn Fn(&Path) -> Result<(), E>,
    dir: &Path,
    what: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let path = dir.join("damaged.redb");
    let (mut db, mut data) = (original.db.clone(), original.data.clone());
    damage(match target {
        Target::Db => &mut db,
        Target::Data => &mut data,
    });
    original.write(&path, &db, &data);
    let outcome = catch_unwind(AssertUnwindSafe(|| read(&path)));
    match outcome {
        Ok(Ok(())) => true,
        Ok(Err(_typed)) => false,
        Err(_) => panic!("{target:?} {what}: panicked (or read wrong data)"),
    }
}

/// Flips bytes of the `target` file (dense over the first pages, a stride over the rest,
/// every 13th non-zero byte; of those, every `every`th) and truncates it at many lengths;
/// returns (original data, typed errors) counts.
fn damage_everywhere<E>(
    original: &Files,
    target: Target,
    dir: &Path,
    every: usize,
    read: &dyn Fn(&Path) -> Result<(), E>,
) -> (usize, usize) {
    assert!(trial(original, target, read, dir, "untouched", |_| {}));
    let bytes = match target {
        Target::Db => &original.db,
        Target::Data => &original.data,
    };
    let len = bytes.len();
    let mut offsets: Vec<usize> = (0..len.min(8192)).step_by(29).collect();
    offsets.extend((8192..len).step_by(509));
    offsets.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .map(|(i, _)| i)
            .step_by(13),
    );
    offsets.sort_unstable();
    offsets.dedup();
    let offsets: Vec<usize> = offsets.into_iter().step_by(every).collect();
    let (mut ok, mut errors) = (0, 0);
    let mut count = |clean: bool| if clean { ok += 1 } else { errors += 1 };
    for (n, &at) in offsets.iter().enumerate() {
        let mask = if n % 2 == 0 { 0x01u8 } else { 0xff };
        count(trial(
            original,
            target,
            read,
            dir,
            &format!("flip {mask:#x} at {at}"),
            |b| {
                b[at] ^= mask;
            },
        ));
    }
    for cut in (0..len)
        .step_by(len / 41 + 1)
        .chain([len - 1, len / 2, 4096, 1, 0])
        .filter(|&cut| cut < len)
    {
        count(trial(
            original,
            target,
            read,
            dir,
            &format!("truncate at {cut}"),
            |b| {
                b.truncate(cut);
            },
        ));
    }
    println!(
        "{target:?}: {} offsets of {len} bytes: {ok} trials read the original data, {errors} gave typed errors",
        offsets.len()
    );
    (ok, errors)
}

#[test]
fn damaged_files_give_original_data_or_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let models = write_store(&path);
    let original = Files::read(&path);
    let (_, errors) = damage_everywhere(&original, Target::Db, dir.path(), 1, &|p| {
        read_all(p, &models)
    });
    assert!(errors > 0, "no damage was detected at all");
    // Every byte of the data file is some block's: any flip or cut is an error.
    let (ok, _) = damage_everywhere(&original, Target::Data, dir.path(), 1, &|p| {
        read_all(p, &models)
    });
    assert_eq!(ok, 0, "damage to the data file read as data");
}

fn writer_options() -> LogOptions {
    LogOptions {
        key_pair: Some(KeyPair::from_seed(&[0x5a; 32])),
        ..LogOptions::default()
    }
}

/// Blocks of the damaged-log trials.
fn log_block(i: u64) -> Vec<u8> {
    vec![i as u8 ^ 0x3c; 60 + i as usize * 7]
}

/// Opens the log of a damaged store with the default options and reads everything: `Err`
/// on any typed error; panics on wrong or silently missing data.
fn read_log(path: &Path, key: &[u8; 32], length: u64) -> Result<(), ferrocore::Error> {
    let store = Store::open(path, StoreOptions::default())?;
    let dk = ferrocore::hash::discovery_key(key);
    let log = Log::open(store.core(&dk), writer_options())?;
    assert_eq!(log.key(), key);
    assert_eq!(log.length(), length, "length of the damaged log");
    assert_eq!(log.contiguous_length(), length);
    for i in 0..length {
        assert_eq!(log.get(i)?.as_deref(), Some(&log_block(i)[..]), "block {i}");
    }
    // Every node a proof needs is there and right: proofs of a few blocks verify.
    common::verify_through_reader(&log, *key, [0, length / 2, length - 1], log_block)?;
    Ok(())
}

#[test]
fn a_damaged_log_opens_with_a_typed_error_or_reads_true_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let (key, length) = {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let kp = KeyPair::from_seed(&[0x5a; 32]);
        let key = ferrocore::manifest::core_key(
            &ferrocore::manifest::default_manifest(&kp.public_key),
            false,
        )
        .unwrap();
        let mut log = Log::open(
            store.core(&ferrocore::hash::discovery_key(&key)),
            writer_options(),
        )
        .unwrap();
        for i in 0..30 {
            log.append(&log_block(i)).unwrap();
        }
        let blocks: Vec<Vec<u8>> = (30..45).map(log_block).collect();
        log.append_batch(&blocks).unwrap();
        (*log.key(), log.length())
    };
    let original = Files::read(&path);
    for target in [Target::Db, Target::Data] {
        let (_, errors) = damage_everywhere(&original, target, dir.path(), 1, &|p| {
            read_log(p, &key, length)
        });
        assert!(
            errors > 0,
            "no damage to the {target:?} file was detected at all"
        );
    }
}

#[test]
fn damage_at_rest_is_an_error_when_the_open_checks_pages_as_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let models = write_store(&path);
    let original = Files::read_with_sums(&path);
    // Untouched, the store opens from the checksums, without verifying the whole file.
    let trial_path = dir.path().join("damaged.redb");
    original.write(&trial_path, &original.db, &original.data);
    let store = Store::open(&trial_path, StoreOptions::default()).unwrap();
    assert!(
        store.opened_from_page_sums(),
        "the default open takes the fast path"
    );
    drop(store);
    let messages = std::cell::RefCell::new(Vec::new());
    // A third of the offsets of the test above: the same code reads them.
    let (_, errors) = damage_everywhere(&original, Target::Db, dir.path(), 3, &|p| {
        read_all(p, &models).inspect_err(|e| messages.borrow_mut().push(e.to_string()))
    });
    let messages = messages.into_inner();
    let by_checksum = messages
        .iter()
        .filter(|m| m.contains("fails its checksum"))
        .count();
    println!("{errors} typed errors, {by_checksum} of them a page failing its checksum on read");
    assert!(errors > 0, "no damage was detected at all");
    assert!(
        by_checksum > 0,
        "pages are checked as they are read (not only by a full verification)"
    );
}
