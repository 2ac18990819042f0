//! Damaged database files: flipped bytes and truncations at many offsets. Every outcome is the
//! original data or a typed `StorageError` (at open or at read): never wrong data, never a panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use bytes::Bytes;
use ferrocore::storage::{MemoryStorage, Storage, StorageError, WriteBatch};
use ferrocore::Node;
use ferrocore_storage::{Store, StoreOptions};

const CORES: [[u8; 32]; 2] = [[0x11; 32], [0xee; 32]];

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
    let store = Store::open(path, StoreOptions::default())?;
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

/// Runs `damage` on a fresh copy of the reference file and checks the outcome.
fn trial(
    original: &[u8],
    models: &[MemoryStorage],
    dir: &Path,
    what: &str,
    damage: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let path = dir.join("damaged.redb");
    let mut bytes = original.to_vec();
    damage(&mut bytes);
    std::fs::write(&path, &bytes).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| read_all(&path, models)));
    match outcome {
        Ok(Ok(())) => true,
        Ok(Err(_typed)) => false,
        Err(_) => panic!("{what}: panicked (or read wrong data)"),
    }
}

#[test]
fn damaged_files_give_original_data_or_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let models = write_store(&path);
    let original = std::fs::read(&path).unwrap();
    assert!(trial(&original, &models, dir.path(), "untouched", |_| {}));

    let len = original.len();
    // Dense over the first pages (header, commit slots, roots), then a stride over the rest,
    // always including the non-zero bytes where the data lives.
    let mut offsets: Vec<usize> = (0..len.min(8192)).step_by(29).collect();
    offsets.extend((8192..len).step_by(509));
    offsets.extend(
        original
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0)
            .map(|(i, _)| i)
            .step_by(13),
    );
    offsets.sort_unstable();
    offsets.dedup();
    let (mut ok, mut errors) = (0, 0);
    for (n, &at) in offsets.iter().enumerate() {
        {
            let mask = if n % 2 == 0 { 0x01u8 } else { 0xff };
            let clean = trial(
                &original,
                &models,
                dir.path(),
                &format!("flip {mask:#x} at {at}"),
                |b| {
                    b[at] ^= mask;
                },
            );
            if clean {
                ok += 1
            } else {
                errors += 1
            }
        }
    }
    for cut in (0..len)
        .step_by(len / 41 + 1)
        .chain([len - 1, len / 2, 4096, 1, 0])
    {
        let clean = trial(
            &original,
            &models,
            dir.path(),
            &format!("truncate at {cut}"),
            |b| {
                b.truncate(cut);
            },
        );
        if clean {
            ok += 1
        } else {
            errors += 1
        }
    }
    println!(
        "{} offsets of {len} bytes: {ok} trials read the original data, {errors} gave typed errors",
        offsets.len()
    );
    assert!(errors > 0, "no damage was detected at all");
}
