//! hyperdht's Noise IK handshake fed arbitrary bytes where the peer's message belongs: the
//! first input byte picks the side (even: the responder reads message 1; odd: the
//! initiator writes message 1, then reads message 2), the rest is the message. Keys and
//! ephemerals are those of `tests/vectors/wire/noise-ik.json`'s first case, so its
//! messages (the seeds) are valid inputs the fuzzer mutates from.
//!
//! No panic; a refused message leaves the handshake failed for good (nothing more is read
//! or written, `finish` refuses); an accepted one returns exactly the payload bytes the
//! message carries and completes the pattern.
#![no_main]

use ferrocore_wire::noise::{KeyPair, NoiseError, NoiseWrap};

fn check_refusal(wrap: &mut NoiseWrap, message: &[u8], e: NoiseError) {
    assert!(!matches!(e, NoiseError::Misuse(_)), "{e:?}");
    assert!(matches!(wrap.recv(message), Err(NoiseError::Misuse(_))));
    assert!(matches!(wrap.send(b""), Err(NoiseError::Misuse(_))));
    assert!(wrap.finish().is_err());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, message)) = data.split_first() else {
        return;
    };
    let server = KeyPair::from_seed([2; 32]);
    if mode % 2 == 0 {
        let mut wrap = NoiseWrap::responder(server, [4; 32]);
        match wrap.recv(message) {
            Ok(payload) => {
                assert_eq!(payload.len() + 96, message.len());
                assert!(wrap.remote_public_key().is_some());
                let reply = wrap.send(b"reply").unwrap();
                assert_eq!(reply.len(), 32 + 5 + 16);
                assert!(wrap.finish().is_ok());
            }
            Err(e) => check_refusal(&mut wrap, message, e),
        }
    } else {
        let mut wrap =
            NoiseWrap::initiator(KeyPair::from_seed([1; 32]), server.public_key, [3; 32]);
        // The first case's noisePayload, so that its message 2 is a valid input.
        wrap.send(&[1, 0x1a, 0, 1, 1, 127, 0, 0, 1, 0x49, 0xc2, 1, 0, 7, 0, 1])
            .unwrap();
        match wrap.recv(message) {
            Ok(payload) => {
                assert_eq!(payload.len() + 48, message.len());
                assert!(wrap.finish().is_ok());
            }
            Err(e) => check_refusal(&mut wrap, message, e),
        }
    }
});
