//! # ferrocore-wire
//!
//! Byte-exact codecs for the Hypercore 11 replication stack, as spoken by the JavaScript
//! reference (`hypercore@11.37.1`, `protomux@3.12.1`, `compact-encoding@3.5.2`):
//!
//! * [`bee`]: Hyperbee's protobuf blocks (header, node, index) and its extension message;
//! * [`encoding`]: the compact-encoding primitives (`uint`, fixed-width integers, buffers,
//!   arrays, strings) and the [`Encode`] / [`Decode`] traits every message implements;
//! * [`messages`]: a typed struct for every message of the `hypercore/alpha` channel;
//! * [`json`]: JSON as JS's `JSON.parse` reads it and `JSON.stringify` writes it, byte for
//!   byte (Hyperbee's `json` values, Hyperdrive's entries);
//! * [`manifest`]: the manifest (who may sign a core) and its v0 / v1+ encodings;
//! * [`protomux`]: protomux frames (open, close, reject, message, batch);
//! * [`noise`]: the Noise XX handshake of `@hyperswarm/secret-stream` (Ed25519 DH,
//!   BLAKE2b, ChaChaPoly);
//! * [`secretstream`]: libsodium's `crypto_secretstream_xchacha20poly1305`, in place or
//!   buffer to buffer;
//! * [`poly1305`]: its one-time authenticator, by whichever implementation is faster at a
//!   message's length;
//! * [`stream`]: the secret-stream transport as a sans-IO state machine (framing, header
//!   records, keep-alives, timeouts, end);
//! * [`mux`]: the protomux state machine (channels, pairing, batches, bounds);
//! * [`connection`]: a stream and a mux as one state machine: raw bytes in and out;
//! * [`dht`]: the DHT's datagrams and messages (`dht-rpc@6.27.0`, `hyperdht@6.34.0`);
//! * [`udx`]: the UDX packet (header, SACK blocks, MTU-probe padding) and the router of a
//!   UDP socket shared with dht-rpc and holepunching.
//!
//! Everything here is pure: bytes in, values out, and back; the state machines take the
//! time and their randomness from the caller (`handle_input`, `poll_transmit`,
//! `poll_event`, `poll_timeout`, `handle_timeout`). Encoding computes the exact length
//! first and writes once. Decoding never panics and never allocates more than the input
//! justifies: every malformed input is a typed error.
//!
//! The crate is `#![no_std]` (with `alloc`); the default `std` feature only adds
//! `std::error::Error` integration.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod bee;
pub mod connection;
pub mod dht;
pub mod encoding;
mod error;
pub mod json;
pub mod manifest;
pub mod messages;
pub mod mux;
pub mod noise;
pub mod poly1305;
pub mod protomux;
pub mod secretstream;
pub mod stream;
pub mod udx;

pub use encoding::{Decode, Encode, Reader, Writer};
pub use error::DecodeError;
pub use manifest::{HashAlgorithm, Manifest, Prologue, SignatureAlgorithm, Signer};
pub use messages::{
    Bitfield, Cancel, Data, DataBlock, DataHash, DataSeek, DataUpgrade, Extension, Handshake,
    Message, MessageType, NoData, Node, Proof, Range, ReorgHint, Request, RequestBlock,
    RequestSeek, RequestUpgrade, Sync, Unwant, Want,
};
