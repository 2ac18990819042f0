//! protomux frames on arbitrary input: no panic; every decoded frame re-encodes to bytes of
//! the announced length that decode to the same frame; batch entries interpret without
//! panicking and survive a trip through `BatchBuilder`; hypercore payloads inside decode
//! without panicking and round-trip when they decode.
#![no_main]

use bytes::Bytes;
use ferrocore_wire::protomux::{BatchBuilder, ChannelMessage, Frame};
use ferrocore_wire::{Decode, Encode, Message};

fn check_message(m: &ChannelMessage) {
    if let Ok(Some(msg)) = m.decode_hypercore() {
        let again = Message::decode_payload(m.message_type, &Bytes::from(msg.to_vec()));
        assert_eq!(again, Ok(Some(msg)));
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let record = Bytes::copy_from_slice(data);
    let Ok(Some(frame)) = Frame::decode_record(&record) else {
        return;
    };
    assert_eq!(Frame::decode_from(data).as_ref(), Ok(&frame));
    let enc = frame.to_vec();
    assert_eq!(enc.len(), frame.encoded_len());
    assert_eq!(
        Frame::decode_exact(&enc).expect("re-encoded frame decodes"),
        frame
    );

    match &frame {
        Frame::Message(m) => check_message(m),
        Frame::Batch(batch) => {
            let mut cork = BatchBuilder::new();
            for (entry, f) in batch.entries.iter().zip(batch.frames()) {
                if entry.channel != 0 {
                    check_message(entry);
                }
                if let Ok(f) = f {
                    assert_eq!(
                        (f.channel(), f.frame_type()),
                        (entry.channel, entry.message_type)
                    );
                }
                let raw = ferrocore_wire::encoding::Raw(&entry.payload);
                assert!(cork.push(entry.channel, entry.message_type, &raw).is_none());
            }
            if let Some(rebuilt) = cork.finish() {
                let Ok(Frame::Batch(b2)) = Frame::decode_exact(&rebuilt) else {
                    panic!("rebuilt batch must decode as a batch");
                };
                assert_eq!(&b2, batch);
            } else {
                assert!(batch.entries.is_empty());
            }
        }
        _ => {}
    }
});
