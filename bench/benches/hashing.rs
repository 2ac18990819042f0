//! Hashing, signing and block-encryption throughput.
//!
//! * `leaf_hash/{64,1024,4096}`: BLAKE2b leaf hashing, MB/s;
//! * `parent_hash`, `tree_hash/{1,3,16}_roots`: per second;
//! * `ed25519/{sign,verify}` of a 112-byte signable, and the full 68-byte manifest-mode
//!   `signature::{sign,verify}` (tree hash + container), per second;
//! * `block_encryption/{encrypt,decrypt}/4096`: XSalsa20 block encryption, MB/s.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferrocore::encryption::{BlockEncryption, KeyMode, PADDING};
use ferrocore::keys::{self, KeyPair};
use ferrocore::{flat_tree, hash, manifest, signature, Node};

fn leaf_hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("leaf_hash");
    for size in [64usize, 1024, 4096] {
        let data = vec![0xa5u8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &data, |b, data| {
            b.iter(|| hash::leaf_hash(black_box(data)));
        });
    }
    g.finish();
}

/// The roots of a core of `length` blocks (each root a leaf-derived stand-in node).
fn roots(length: u64) -> Vec<Node> {
    flat_tree::full_roots(length)
        .map(|i| Node::new(i, flat_tree::count_leaves(i) * 1000, [i as u8; 32]))
        .collect()
}

fn tree_hashing(c: &mut Criterion) {
    let left = hash::leaf(0, b"left block");
    let right = hash::leaf(1, b"right block");
    let mut g = c.benchmark_group("parent_hash");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parent", |b| {
        b.iter(|| hash::parent(black_box(&left), black_box(&right)));
    });
    g.finish();

    let mut g = c.benchmark_group("tree_hash");
    g.throughput(Throughput::Elements(1));
    // 1, 3 and 16 roots: lengths 2^20, 37 and 2^16 - 1.
    for (label, length) in [
        ("1_roots", 1u64 << 20),
        ("3_roots", 37),
        ("16_roots", 0xffff),
    ] {
        let r = roots(length);
        g.bench_with_input(BenchmarkId::from_parameter(label), &r, |b, r| {
            b.iter(|| hash::tree_hash(black_box(r)));
        });
    }
    g.finish();
}

fn signing(c: &mut Criterion) {
    let kp = KeyPair::from_seed(&[7; 32]);
    let m = manifest::default_manifest(&kp.public_key);
    let key = manifest::manifest_hash(&m);
    let r = roots(37);
    let signable = signature::signable(&key, &hash::tree_hash(&r), 37, 0);
    let sig = kp.sign(&signable);
    let container = signature::sign(&m, &key, &r, 37, 0, &kp).expect("declared signer");

    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| b.iter(|| kp.sign(black_box(&signable))));
    g.bench_function("verify", |b| {
        b.iter(|| keys::verify(&kp.public_key, black_box(&signable), black_box(&sig)));
    });
    g.finish();

    let mut g = c.benchmark_group("tree_signature");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| {
        b.iter(|| signature::sign(&m, &key, black_box(&r), 37, 0, &kp));
    });
    g.bench_function("verify", |b| {
        b.iter(|| signature::verify(&m, &key, black_box(&r), 37, 0, Some(&container)));
    });
    g.finish();
}

fn block_encryption(c: &mut Criterion) {
    let enc = BlockEncryption::new(&[1; 32], &[2; 32], KeyMode::Manifest);
    let plaintext = vec![0x5au8; 4096];
    let mut out = vec![0u8; 4096 + PADDING];
    let mut g = c.benchmark_group("block_encryption");
    g.throughput(Throughput::Bytes(4096));
    g.bench_function("encrypt/4096", |b| {
        b.iter(|| enc.encrypt_into(black_box(12), 3, black_box(&plaintext), &mut out));
    });
    let stored = enc.encrypt(12, 3, &plaintext);
    let mut buf = stored.clone();
    g.bench_function("decrypt/4096", |b| {
        b.iter(|| enc.decrypt_in_place(black_box(12), black_box(&mut buf)));
    });
    g.finish();
}

criterion_group!(
    benches,
    leaf_hashing,
    tree_hashing,
    signing,
    block_encryption
);
criterion_main!(benches);
