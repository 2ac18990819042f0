//! The responder's side of the secret-stream handshake fed arbitrary bytes where the
//! initiator's messages belong; see `shared/handshake.rs` for what is checked.
#![no_main]

#[path = "shared/handshake.rs"]
mod handshake;

libfuzzer_sys::fuzz_target!(|data: &[u8]| handshake::run(
    ferrocore_wire::noise::Role::Responder,
    data
));
