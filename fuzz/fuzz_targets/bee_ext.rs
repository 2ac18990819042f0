//! The `hyperbee` extension's responder on arbitrary input: a message from the wire
//! (`decode_message`, or an iterator request built from the input) answered over a bee of
//! hostile blocks cut from the input. Never a panic; replies framed as JS frames them
//! (at most 128 seqs each, `start`/`end` their bounds); a bounded number of block reads.
#![no_main]

use bytes::Bytes;
use ferrocore_hyperbee::ext::{self, Responder, FLUSH_BATCH, MAX_ACTIVE_BATCH};
use ferrocore_hyperbee::testing::cut_blocks;
use ferrocore_hyperbee::MAX_DEPTH;
use ferrocore_wire::bee::{Extension, ExtensionIterator};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let (head, body) = rest.split_at((split as usize).min(rest.len()));
    let blocks = cut_blocks(body);
    let length = blocks.len() as u64;
    let message = match ext::decode_message(&Bytes::copy_from_slice(head)) {
        Some(m) => m,
        None => Extension {
            iterator: Some(ExtensionIterator {
                version: Some(length),
                reverse: Some(split & 1 == 1),
                checkpoint: head.iter().map(|&b| u64::from(b)).collect(),
                ..ExtensionIterator::default()
            }),
            ..Extension::default()
        },
    };
    for r in Responder::for_message(&message, length) {
        let mut reads = 0usize;
        let replies = r.run(|seq| {
            reads += 1;
            blocks.get(usize::try_from(seq).ok()?).cloned()
        });
        let named: usize = replies.iter().map(|c| c.blocks.len()).sum();
        assert!(reads <= MAX_ACTIVE_BATCH + 8 * MAX_DEPTH, "{reads} reads");
        assert!(named <= reads);
        for c in &replies {
            assert!(!c.blocks.is_empty() && c.blocks.len() <= FLUSH_BATCH);
            assert_eq!(c.start, *c.blocks.iter().min().unwrap());
            assert_eq!(c.end, c.blocks.iter().max().unwrap() + 1);
        }
    }
});
