//! The responder's side of the secret-stream handshake fed arbitrary bytes, in arbitrary
//! pieces, where the initiator's messages belong. No panic; nothing but the handshake unit
//! in progress is ever buffered; a failure is sticky and transmits nothing more.
#![no_main]

use core::time::Duration;
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let entropy = Entropy {
        ephemeral_seed: [3; 32],
        header: [5; 24],
    };
    let mut s = SecretStream::responder(
        StreamConfig::default(),
        KeyPair::from_seed([2; 32]),
        entropy,
        Duration::ZERO,
    );
    assert!(s.poll_transmit().is_none(), "the responder waits for msg1");
    for piece in rest.chunks(usize::from(split).max(1)) {
        match s.handle_input(Duration::from_millis(1), piece) {
            Ok(()) => assert!(s.buffered_input() <= 3 + 64),
            Err(e) => {
                assert_eq!(s.handle_input(Duration::ZERO, piece), Err(e));
                assert!(s.poll_transmit().is_none());
                return;
            }
        }
    }
    let _ = s.handle_end();
});
