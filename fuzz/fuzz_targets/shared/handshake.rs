//! One side of the secret-stream handshake fed arbitrary bytes, in arbitrary pieces, where
//! the other side's messages belong (shared by the `handshake_*` targets). No panic;
//! nothing but the handshake unit in progress is ever buffered (msg2, 96 bytes, for the
//! initiator; msg3, 64 bytes, for the responder); a failure is sticky and transmits nothing more.

use core::time::Duration;
use ferrocore_wire::noise::{KeyPair, Role};
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig};

/// Runs one input against a fresh side of `role`.
pub fn run(role: Role, data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let entropy = Entropy {
        ephemeral_seed: [3; 32],
        header: [5; 24],
    };
    let mut s = SecretStream::new(
        StreamConfig::default(),
        role,
        KeyPair::from_seed([1; 32]),
        entropy,
        Duration::ZERO,
    );
    assert_eq!(
        s.poll_transmit().is_some(),
        role == Role::Initiator,
        "only the initiator has msg1 ready at once"
    );
    let largest_unit = match role {
        Role::Initiator => 96,
        Role::Responder => 64,
    };
    for piece in rest.chunks(usize::from(split).max(1)) {
        match s.handle_input(Duration::from_millis(1), piece) {
            Ok(()) => assert!(s.buffered_input() <= 3 + largest_unit),
            Err(e) => {
                assert_eq!(s.handle_input(Duration::ZERO, piece), Err(e));
                assert!(s.poll_transmit().is_none());
                return;
            }
        }
    }
    let _ = s.handle_end();
}
