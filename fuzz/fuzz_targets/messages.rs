//! Hypercore messages on arbitrary input. The first byte selects the message type (0..=9 the
//! channel messages, 10 the channel handshake, 11 reorgHint, anything else an unknown type,
//! which must decode as "ignore"); the rest is the payload. Every successful decode must
//! re-encode to bytes of the announced length that decode to the same value.
#![no_main]

use bytes::Bytes;
use ferrocore_wire::encoding::Reader;
use ferrocore_wire::{Decode, Encode, Handshake, Message, MessageType, ReorgHint};

fn stable<T: Encode + Decode + PartialEq + std::fmt::Debug>(payload: &[u8]) {
    if let Ok(v) = T::decode_from(payload) {
        let enc = v.to_vec();
        assert_eq!(enc.len(), v.encoded_len());
        assert_eq!(T::decode_exact(&enc).expect("re-encoded value decodes"), v);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let ty = u64::from(selector);
    match selector {
        10 => return stable::<Handshake>(payload),
        11 => return stable::<ReorgHint>(payload),
        _ => {}
    }
    let copied = Message::decode(ty, &mut Reader::new(payload));
    let shared = Message::decode_payload(ty, &Bytes::copy_from_slice(payload));
    assert_eq!(copied, shared, "copying and zero-copy decoding agree");
    match copied {
        Ok(Some(m)) => {
            assert_eq!(MessageType::from_u64(ty), Some(m.message_type()));
            let enc = m.to_vec();
            assert_eq!(enc.len(), m.encoded_len());
            let mut r = Reader::new(&enc);
            let again = Message::decode(ty, &mut r).expect("re-encoded message decodes");
            assert!(r.is_empty(), "re-encoded message fully consumed");
            assert_eq!(again, Some(m));
        }
        Ok(None) => assert!(ty >= 10, "known type {ty} reported as unknown"),
        Err(_) => assert!(ty < 10, "unknown type {ty} must be ignored, not an error"),
    }
});
