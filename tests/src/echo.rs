//! The message exchange of the IK interop tests (`interop_ik.rs` over TCP,
//! `interop_udx_ik.rs` over UDX) with `tests/js/ik-peer.mjs`: each side sends its messages,
//! echoes every message of the other's that is not an echo, and checks what came back.

use std::time::Duration;

use ferrocore_wire::noise::HandshakeResult;
use ferrocore_wire::stream::{SecretStream, StreamConfig, StreamEvent};

use crate::js::JsPeer;

/// What ferrocore sends once the secret-stream is up.
pub const RUST_MESSAGES: [&[u8]; 2] = [b"hello from rust", b"and a second one"];

/// The `ik-peer.mjs` arguments of the exchange: one message, one empty message (a
/// keep-alive-sized record, which ferrocore drops) and the count after which it ends.
pub const JS_MESSAGE_ARGS: [&str; 6] = ["--send", "hello from js", "--send", "", "--expect", "3"];

/// The secret-stream from a finished handshake at `now`, with [`RUST_MESSAGES`] queued.
pub fn start(handshake: &HandshakeResult, now: Duration) -> SecretStream {
    let mut stream =
        SecretStream::from_handshake(StreamConfig::default(), handshake, [0x66; 24], now);
    for m in RUST_MESSAGES {
        stream.send(m).unwrap();
    }
    stream
}

/// Runs `stream`'s timer at `now` and handles its events: a message is recorded in
/// `received` and answered with `echo:` + it unless it is an echo; the peer's end is
/// answered with ours; the peer's key must be `remote`.
pub fn handle_events(
    stream: &mut SecretStream,
    now: Duration,
    remote: [u8; 32],
    received: &mut Vec<Vec<u8>>,
) {
    if stream.poll_timeout().is_some_and(|t| t <= now) {
        stream.handle_timeout(now).unwrap();
    }
    while let Some(event) = stream.poll_event() {
        match event {
            StreamEvent::Message(m) => {
                if !m.starts_with(b"echo:") {
                    stream.send(&[b"echo:", &m[..]].concat()).unwrap();
                }
                received.push(m.to_vec());
            }
            StreamEvent::RemoteEnded => stream.end(),
            StreamEvent::Connected(c) => assert_eq!(c.remote_public_key, remote),
        }
    }
}

/// Checks both sides' messages once the JS peer ended: it got ours and the echo of its
/// own, we got its message and the echoes of ours.
pub fn check_messages(js: &mut JsPeer, timeout: Duration, received: &[Vec<u8>]) {
    let end = js.wait_for(timeout, |v| v["event"] == "end" || v["event"] == "error");
    assert_eq!(end["event"], "end", "{:?}", js.seen);
    let js_got: Vec<&str> = js
        .seen
        .iter()
        .filter(|v| v["event"] == "message")
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        js_got,
        ["hello from rust", "and a second one", "echo:hello from js"]
    );
    let ours: Vec<&[u8]> = received.iter().map(Vec::as_slice).collect();
    assert_eq!(
        ours,
        [
            &b"hello from js"[..],
            b"echo:hello from rust",
            b"echo:and a second one"
        ]
    );
}
