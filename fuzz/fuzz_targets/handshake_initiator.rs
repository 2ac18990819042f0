//! The initiator's side of the secret-stream handshake fed arbitrary bytes, in arbitrary
//! pieces, where the responder's messages belong. No panic; nothing but the handshake unit
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
    let mut s = SecretStream::initiator(
        StreamConfig::default(),
        KeyPair::from_seed([1; 32]),
        entropy,
        Duration::ZERO,
    );
    assert!(s.poll_transmit().is_some(), "msg1 is ready at once");
    for piece in rest.chunks(usize::from(split).max(1)) {
        match s.handle_input(Duration::from_millis(1), piece) {
            Ok(()) => assert!(s.buffered_input() <= 3 + 96),
            Err(e) => {
                assert_eq!(s.handle_input(Duration::ZERO, piece), Err(e));
                assert!(s.poll_transmit().is_none());
                return;
            }
        }
    }
    let _ = s.handle_end();
});
