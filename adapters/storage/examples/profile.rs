use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore_storage::{Durability, Store, StoreOptions};
use std::time::Instant;

fn opts() -> LogOptions {
    LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    }
}

fn run<S: Storage>(name: &str, s: S, n: usize, batch: usize) -> Log<S> {
    let mut log = Log::open(s, opts()).unwrap();
    let block = vec![0xabu8; 4096];
    let blocks: Vec<&[u8]> = (0..batch).map(|_| &block[..]).collect();
    let t = Instant::now();
    for _ in 0..n {
        log.append_batch(blocks.iter()).unwrap();
    }
    let e = t.elapsed();
    println!(
        "{name}: {:.1} us/op, {:.0} blocks/s",
        e.as_secs_f64() * 1e6 / n as f64,
        (n * batch) as f64 / e.as_secs_f64()
    );
    log
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg == "batch" {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            dir.path().join("b.redb"),
            StoreOptions {
                durability: Durability::Eventual,
                verify_on_open: false,
            },
        )
        .unwrap();
        run("Eventual batch100", store.core(&[1; 32]), 1000, 100);
        return;
    }
    let kp = KeyPair::from_seed(&[7; 32]);
    let t = Instant::now();
    for _ in 0..2000 {
        std::hint::black_box(kp.sign(b"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901"));
    }
    println!("sign: {:.1} us", t.elapsed().as_secs_f64() * 1e6 / 2000.0);
    run("memory single", MemoryStorage::new(), 20000, 1);
    run("memory batch100", MemoryStorage::new(), 300, 100);
    let dir = tempfile::tempdir().unwrap();
    for (d, n) in [
        (Durability::Eventual, 20000usize),
        (Durability::Immediate, 1000),
    ] {
        if arg == "fast" && d == Durability::Immediate {
            continue;
        }
        let p = dir.path().join(format!("{d:?}.redb"));
        let store = Store::open(
            &p,
            StoreOptions {
                durability: d,
                verify_on_open: false,
            },
        )
        .unwrap();
        run(&format!("{d:?} single"), store.core(&[1; 32]), n, 1);
        let store = Store::open(
            dir.path().join(format!("{d:?}b.redb")),
            StoreOptions {
                durability: d,
                verify_on_open: false,
            },
        )
        .unwrap();
        let log = run(
            &format!("{d:?} batch100"),
            store.core(&[1; 32]),
            n / 50,
            100,
        );
        if d == Durability::Eventual {
            let len = log.length();
            let mut x = 88172645463325252u64;
            let t = Instant::now();
            let m = 200000;
            for _ in 0..m {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                std::hint::black_box(log.get(x % len).unwrap());
            }
            println!(
                "get random of {len}: {:.2} us",
                t.elapsed().as_secs_f64() * 1e6 / m as f64
            );
        }
    }
}
