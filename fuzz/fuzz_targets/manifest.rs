//! Manifests on arbitrary input: no panic; every decoded manifest re-encodes to bytes of the
//! announced length that decode to the same manifest.
#![no_main]

use bytes::Bytes;
use ferrocore_wire::{Decode, Encode, Manifest};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let copied = Manifest::decode_from(data);
    assert_eq!(
        copied,
        Manifest::decode_bytes(&Bytes::copy_from_slice(data))
    );
    if let Ok(m) = copied {
        let enc = m.to_vec();
        assert_eq!(enc.len(), m.encoded_len());
        assert_eq!(
            Manifest::decode_exact(&enc).expect("re-encoded manifest decodes"),
            m
        );
    }
});
