//! The sparse bitfield: single-bit set/get, ranges, searches and counts over a 1M-bit field.
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput,
};
use ferrocore::bitfield::Bitfield;

/// Bits in the populated fields.
const BITS: u64 = 1 << 20;
/// Operations per measured iteration of the single-bit benches.
const OPS: u64 = 1 << 16;

/// A cheap deterministic index sequence (xorshift64).
fn indexes(n: u64, bound: u64) -> Vec<u64> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % bound
        })
        .collect()
}

/// Half the bits of `0 .. BITS` set at random: every page is partial.
fn scattered() -> Bitfield {
    let mut b = Bitfield::new();
    for i in indexes(BITS / 2, BITS) {
        b.set(i, true);
    }
    b
}

/// `0 .. BITS` all set but for the last bit: 31 full pages and one partial.
fn nearly_full() -> Bitfield {
    let mut b = Bitfield::new();
    b.set_range(0, BITS, true);
    b.set(BITS - 1, false);
    b
}

fn single_bits(c: &mut Criterion) {
    let mut g = c.benchmark_group("bitfield/bits");
    g.throughput(Throughput::Elements(OPS));
    let random = indexes(OPS, BITS);
    g.bench_function("set sequential", |bench| {
        bench.iter(|| {
            let mut b = Bitfield::new();
            for i in 0..OPS {
                b.set(black_box(i), true);
            }
            b
        })
    });
    g.bench_function("set random", |bench| {
        bench.iter(|| {
            let mut b = Bitfield::new();
            for &i in &random {
                b.set(black_box(i), true);
            }
            b
        })
    });
    let field = scattered();
    g.bench_function("get random", |bench| {
        bench.iter(|| random.iter().filter(|&&i| field.get(black_box(i))).count())
    });
    g.finish();
}

fn ranges(c: &mut Criterion) {
    let mut g = c.benchmark_group("bitfield/set_range");
    for (name, start, len) in [
        ("aligned 1M", 0, BITS),
        ("unaligned 1M", 13, BITS - 26),
        ("unaligned 4k", 1000, 4096),
    ] {
        g.throughput(Throughput::Elements(len));
        g.bench_with_input(
            BenchmarkId::from_parameter(name),
            &(start, len),
            |bench, &(s, l)| {
                bench.iter_batched(
                    scattered_small,
                    |mut b| {
                        b.set_range(black_box(s), s + l, true);
                        b
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    // 2^40 bits set on an empty field: cost is independent of the length.
    g.throughput(Throughput::Elements(1 << 40));
    g.bench_function("2^40 bits", |bench| {
        bench.iter(|| {
            let mut b = Bitfield::new();
            b.set_range(black_box(77), 77 + (1 << 40), true);
            b
        })
    });
    g.finish();
}

/// A field with a few set bits in the first pages, so set_range overwrites real pages.
fn scattered_small() -> Bitfield {
    let mut b = Bitfield::new();
    for i in (0..BITS).step_by(40_000) {
        b.set(i, true);
    }
    b
}

fn searches(c: &mut Criterion) {
    let mut g = c.benchmark_group("bitfield/scan");
    g.throughput(Throughput::Elements(BITS));
    let full = nearly_full();
    g.bench_function("first_unset over 1M nearly full", |bench| {
        bench.iter(|| full.first_unset(black_box(0)))
    });
    let mut dense = Bitfield::new();
    for i in 0..BITS - 1 {
        if i % 32_768 != 32_767 {
            dense.set(i, true);
        }
    }
    g.throughput(Throughput::Elements(32_768));
    g.bench_function("first_unset word scan, 1 page", |bench| {
        bench.iter(|| dense.first_unset(black_box(BITS - 32_768)))
    });
    g.throughput(Throughput::Elements(BITS));
    g.bench_function("last_set over 1M nearly full", |bench| {
        bench.iter(|| full.last_set(black_box(u64::MAX)))
    });
    let field = scattered();
    g.bench_function("count 1M scattered", |bench| {
        bench.iter(|| field.count(black_box(3), BITS - 3))
    });
    g.bench_function("count 1M nearly full", |bench| {
        bench.iter(|| full.count(black_box(3), BITS - 3))
    });
    g.bench_function("to_message 1M scattered", |bench| {
        bench.iter(|| field.to_message(black_box(0), (BITS / 32) as usize))
    });
    let msg = field.to_message(0, (BITS / 32) as usize).expect("aligned");
    g.bench_function("apply_message 1M", |bench| {
        bench.iter(|| {
            let mut b = Bitfield::new();
            b.apply_message(black_box(&msg)).expect("aligned");
            b
        })
    });
    g.finish();
}

criterion_group!(benches, single_bits, ranges, searches);
criterion_main!(benches);
