//! Storage figures: log-shaped write batches (one 4 KiB block + node + header), durable and
//! eventual, and random block reads over 100k stored blocks.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrocore::storage::{Storage, WriteBatch};
use ferrocore::Node;
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};

const BLOCK: usize = 4096;

fn append_batch(i: u64, block: &Bytes) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put_block(i, block.clone())
        .put_node(Node::new(2 * i, BLOCK as u64, [i as u8; 32]))
        .put_header(Bytes::copy_from_slice(&(i + 1).to_le_bytes()));
    b
}

fn open(dir: &tempfile::TempDir, durability: Durability) -> (Store, CoreStorage) {
    let options = StoreOptions {
        durability,
        verify_on_open: false,
        ..StoreOptions::default()
    };
    let store = Store::open(dir.path().join("bench.redb"), options).unwrap();
    let core = store.core(&[5; 32]);
    (store, core)
}

fn writes(c: &mut Criterion) {
    let block = Bytes::from(vec![0xab; BLOCK]);
    let mut g = c.benchmark_group("append_4k");
    g.throughput(Throughput::Bytes(BLOCK as u64));
    for (name, durability) in [
        ("immediate", Durability::Immediate),
        ("eventual", Durability::Eventual),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (store, mut core) = open(&dir, durability);
        let mut i = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                core.write(append_batch(i, &block)).unwrap();
                i += 1;
            });
        });
        store.flush().unwrap();
    }
    g.finish();
}

fn reads(c: &mut Criterion) {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let (store, mut core) = open(&dir, Durability::Eventual);
    let block = Bytes::from(vec![0xcd; BLOCK]);
    for chunk in 0..N / 1000 {
        let mut b = WriteBatch::new();
        for i in chunk * 1000..(chunk + 1) * 1000 {
            b.put_block(i, block.clone());
        }
        core.write(b).unwrap();
    }
    store.flush().unwrap();
    let mut g = c.benchmark_group("random_read_4k_of_100k");
    g.throughput(Throughput::Elements(1));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    g.bench_function("block", |b| {
        b.iter_batched(
            || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % N
            },
            |i| core.block(i).unwrap().unwrap(),
            BatchSize::SmallInput,
        );
    });
    g.finish();
}

criterion_group!(benches, writes, reads);
criterion_main!(benches);
