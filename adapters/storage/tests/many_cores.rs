//! A store of many cores: it opens with a fixed handful of file descriptors whatever the
//! number of cores, and opening a core is a B-tree lookup (O(log n)).
//!
//! The test here builds a few thousand cores (quick in a debug build); the figures for
//! 1,000 to 100,000 cores come from the ignored test, run in release:
//! `cargo test --release -p ferrocore-storage --test many_cores -- --ignored --nocapture`.
//! This file holds one test that runs by default: it counts the process's descriptors,
//! which tests running beside it in the same process would disturb.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::storage::{Storage, WriteBatch};
use ferrocore_storage::{Durability, Store, StoreOptions};

/// The discovery key of core `i` (spread over the key space, as hashes are).
fn dk(i: u64) -> [u8; 32] {
    let mut k = [0u8; 32];
    let mut x = i;
    for chunk in k.chunks_exact_mut(8) {
        x = x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29) ^ i;
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    k
}

fn header(i: u64) -> Bytes {
    Bytes::from(format!("header of core {i}").into_bytes())
}

fn block(i: u64) -> Bytes {
    Bytes::from(format!("block 0 of core {i}").into_bytes())
}

/// Open file descriptors of this process.
fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

/// Creates `n` cores, each with a header, one block and an alias, in a store at `path`
/// (group commits, then one flush), and closes it.
fn build(path: &Path, n: u64) {
    let options = StoreOptions {
        durability: Durability::Eventual,
        ..StoreOptions::default()
    };
    let store = Store::open(path, options).unwrap();
    for i in 0..n {
        let mut batch = WriteBatch::new();
        batch.put_header(header(i)).put_block(0, block(i));
        store.core(&dk(i)).write(batch).unwrap();
    }
    store.flush().unwrap();
}

/// Opens core `i` and reads its header and first block.
fn open_core(store: &Store, i: u64) {
    let core = store.core(&dk(i));
    assert_eq!(core.header().unwrap(), Some(header(i)), "core {i}");
    assert_eq!(core.block(0).unwrap(), Some(block(i)), "core {i}");
}

#[test]
fn thousands_of_cores_open_with_a_few_file_descriptors() {
    let n = 4000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cores.redb");
    build(&path, n);
    let before = fds();
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let opened = fds() - before;
    assert!(opened <= 16, "the store holds {opened} descriptors");
    assert_eq!(store.cores().unwrap().len(), n as usize);
    for i in 0..n {
        open_core(&store, i);
        store
            .insert_alias(&[1; 32], &i.to_le_bytes(), &dk(i))
            .unwrap();
    }
    assert_eq!(fds() - before, opened, "no descriptor per core");
    // Every core open at once still shares them.
    let all: Vec<_> = (0..n).map(|i| store.core(&dk(i))).collect();
    assert!(all.iter().all(|c| c.header().is_ok_and(|h| h.is_some())));
    assert_eq!(fds() - before, opened);
    drop(all);
    drop(store);
    assert_eq!(fds(), before, "closing gives them back");
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.aliases().unwrap().len(), n as usize);
    println!("{n} cores: {opened} descriptors");
}

/// Mean time to open one of `cores` random cores of `store` and read it.
fn time_core_opens(store: &Store, cores: u64, samples: u64) -> Duration {
    let mut x = 0x1234_5678_u64;
    let started = Instant::now();
    for _ in 0..samples {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        open_core(store, x % cores);
    }
    started.elapsed() / samples as u32
}

#[test]
#[ignore = "builds 111,000 cores: run in release for the figures"]
fn figures_for_1k_10k_and_100k_cores() {
    for n in [1_000, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cores.redb");
        let started = Instant::now();
        build(&path, n);
        let built = started.elapsed();
        let before = fds();
        let started = Instant::now();
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let open = started.elapsed();
        let descriptors = fds() - before;
        // Cold then warm: the first pass reads pages from the file, the second from redb's
        // cache.
        let cold = time_core_opens(&store, n, 1000);
        let warm = time_core_opens(&store, n, 10_000);
        let size = std::fs::metadata(&path).unwrap().len();
        // Read-only beside the writer (this store, still open): copies and verifies.
        let started = Instant::now();
        let reader = Store::open_read_only(&path, StoreOptions::default()).unwrap();
        let read_only = started.elapsed();
        let reader_warm = time_core_opens(&reader, n, 10_000);
        println!(
            "{n} cores: built in {built:.2?}, store open {open:.2?}, {descriptors} descriptors, \
             open a core + read header and block: {cold:.2?} (first 1000), {warm:.2?} \
             (next 10,000); database {} KiB; read-only open beside it {read_only:.2?}, \
             then {reader_warm:.2?} a core",
            size >> 10
        );
        assert!(descriptors <= 16);
    }
}
