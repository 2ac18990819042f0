//! Write-ahead log record payloads (what a store's reopen, or a read-only open, replays) on
//! arbitrary input: decoding never panics; the heap it takes stays linear in the input (no
//! allocation sized by a length field the input does not back); what decodes re-encodes to
//! a payload that decodes to the same core, batch and catalog operations, and encoding that
//! again gives the same bytes.
#![no_main]

use ferrocore::storage::WriteBatch;
use ferrocore_storage::fuzzing::{decode_wal_payload, encode_wal_batch, encode_wal_catalog};
use ferrocore_tests::heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    heap::reset_peak();
    let before = heap::live_bytes();
    let decoded = decode_wal_payload(data);
    // Each operation takes at least 10 input bytes and under 64 bytes of memory (doubled
    // by vector growth); the bytes it carries are copied once.
    let bound = 16 * data.len() as i64 + 1024;
    assert!(
        heap::peak_bytes() - before <= bound,
        "decoding {} bytes took {} heap bytes",
        data.len(),
        heap::peak_bytes() - before
    );
    let Ok((core, batch, catalog)) = decoded else {
        return;
    };
    if !batch.is_empty() || catalog.is_empty() {
        let enc = encode_wal_batch(&core, &batch);
        let (c, b, ops) = decode_wal_payload(&enc).expect("an encoded batch decodes");
        assert_eq!((c, &b), (core, &batch));
        assert!(ops.is_empty());
        assert_eq!(encode_wal_batch(&c, &b), enc);
    }
    if !catalog.is_empty() {
        let enc = encode_wal_catalog(&catalog);
        let (c, b, ops) = decode_wal_payload(&enc).expect("encoded catalog operations decode");
        assert_eq!((c, &b, &ops), ([0; 32], &WriteBatch::new(), &catalog));
        assert_eq!(encode_wal_catalog(&ops), enc);
    }
});
