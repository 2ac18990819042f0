//! Encode / decode throughput of the replication messages and protomux batches.
//!
//! * `data`: a block answer carrying a 4 KiB block with 20 uncle nodes and an upgrade
//!   (4 nodes, 2 additional nodes, a 68-byte multisig signature);
//! * `request`: a block + upgrade request;
//! * `sync`;
//! * `batch16`: one protomux batch frame of 16 hypercore messages (syncs, ranges, requests,
//!   small data answers) on two channels, built with `BatchBuilder` and decoded down to
//!   typed messages.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrocore_wire::encoding::Reader;
use ferrocore_wire::protomux::{BatchBuilder, Frame};
use ferrocore_wire::{
    Data, DataBlock, DataUpgrade, Decode, Encode, Message, Node, Proof, Range, Request,
    RequestBlock, RequestUpgrade, Sync,
};

fn nodes(n: u64, seed: u8) -> Vec<Node> {
    (0..n)
        .map(|i| {
            Node::new(
                i * 2 + 1,
                4096 << (i % 20),
                [seed.wrapping_add(i as u8); 32],
            )
        })
        .collect()
}

fn data_message(block_len: usize) -> Message {
    Message::Data(Data {
        request: 17,
        proof: Proof {
            fork: 0,
            block: Some(DataBlock {
                index: 1_000_003,
                value: Bytes::from(vec![0xab; block_len]),
                nodes: nodes(20, 1),
            }),
            hash: None,
            seek: None,
            upgrade: Some(DataUpgrade {
                start: 1_000_000,
                length: 24,
                nodes: nodes(4, 2),
                additional_nodes: nodes(2, 3),
                signature: Some(Bytes::from(vec![0x5a; 68])),
            }),
            manifest: None,
        },
    })
}

fn request_message() -> Message {
    Message::Request(Request {
        id: 42,
        fork: 0,
        block: Some(RequestBlock {
            index: 1_000_003,
            nodes: 3,
        }),
        hash: None,
        seek: None,
        upgrade: Some(RequestUpgrade {
            start: 1_000_000,
            length: 24,
        }),
        manifest: false,
        priority: 0,
    })
}

fn sync_message() -> Message {
    Message::Sync(Sync {
        fork: 0,
        length: 1_000_024,
        remote_length: 1_000_000,
        can_upgrade: true,
        uploading: true,
        downloading: true,
        has_manifest: true,
        allow_push: false,
    })
}

/// 16 messages as a JS peer would cork them: (channel, message).
fn batch_messages() -> Vec<(u64, Message)> {
    (0..16u64)
        .map(|i| {
            let channel = 1 + i % 2;
            let m = match i % 4 {
                0 => sync_message(),
                1 => Message::Range(Range {
                    drop: false,
                    start: 0,
                    length: 1_000 + i,
                }),
                2 => request_message(),
                _ => data_message(256),
            };
            (channel, m)
        })
        .collect()
}

fn bench_message(c: &mut Criterion, name: &str, m: &Message) {
    let enc = Bytes::from(m.to_vec());
    let ty = m.message_type().as_u64();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(enc.len() as u64));
    g.bench_function("encode", |b| {
        let mut out = Vec::with_capacity(enc.len());
        b.iter(|| {
            out.clear();
            black_box(m).encode_append(&mut out);
            black_box(&out);
        });
    });
    g.bench_function("decode", |b| {
        b.iter(|| Message::decode(ty, &mut Reader::new(black_box(&enc))).expect("decodes"));
    });
    g.bench_function("decode_zero_copy", |b| {
        b.iter(|| Message::decode_payload(ty, black_box(&enc)).expect("decodes"));
    });
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let msgs = batch_messages();
    let build = |msgs: &[(u64, Message)]| {
        let mut cork = BatchBuilder::new();
        for (ch, m) in msgs {
            assert!(cork.push_message(*ch, m).is_none());
        }
        cork.finish().expect("16 entries")
    };
    let frame = Bytes::from(build(&msgs));
    let mut g = c.benchmark_group("batch16");
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("encode", |b| b.iter(|| build(black_box(&msgs))));
    g.bench_function("decode", |b| {
        b.iter(|| {
            let Frame::Batch(batch) = Frame::decode_bytes(black_box(&frame)).expect("frame") else {
                panic!("batch frame")
            };
            for e in &batch.entries {
                black_box(e.decode_hypercore().expect("message"));
            }
        });
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_message(c, "data_4k_20nodes_upgrade", &data_message(4096));
    bench_message(c, "request", &request_message());
    bench_message(c, "sync", &sync_message());
    bench_batch(c);
}

criterion_group!(messages, benches);
criterion_main!(messages);
