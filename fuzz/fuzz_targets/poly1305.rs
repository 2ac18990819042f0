//! Our Poly1305 against the `poly1305` crate's: the input is a 32-byte key, a split point
//! and a message; the message's first part (cut to whole blocks) is fed zero-padded, the
//! rest unpadded, by both implementations, and the tags must agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poly1305::universal_hash::{KeyInit, UniversalHash};

fuzz_target!(|data: &[u8]| {
    if data.len() < 34 {
        return;
    }
    let key: [u8; 32] = data[..32].try_into().unwrap();
    let split_hint = u16::from_le_bytes([data[32], data[33]]) as usize;
    let message = &data[34..];
    let split = split_hint.min(message.len()) & !15;
    let (padded, last) = message.split_at(split);

    let mut ours = ferrocore_wire::poly1305::Poly1305::new(&key);
    ours.update_padded(padded);
    let ours = ours.finalize(last);

    let mut theirs = poly1305::Poly1305::new(&key.into());
    theirs.update_padded(padded);
    let theirs: [u8; 16] = theirs.compute_unpadded(last).into();
    assert_eq!(ours, theirs);
});
