//! The Noise handshakes of `noise-handshake` 4.2.0 with `noise-curve-ed` 2.1.0:
//!
//! - XX ([`Handshake`]), as `@hyperswarm/secret-stream` runs it in-band:
//!   `Noise_XX_Ed25519_ChaChaPoly_BLAKE2b`, empty prologue, empty payloads;
//! - IK ([`IkHandshake`]), as hyperdht runs it while connecting (`lib/noise-wrap.js`,
//!   [`NoiseWrap`]): `Noise_IK_Ed25519_ChaChaPoly_BLAKE2b`, the responder's static key known
//!   in advance, a prologue and a payload on each of the two messages.
//!
//! The Diffie-Hellman function is not X25519: both sides multiply the other's **Edwards**
//! public key by their own Ed25519 secret scalar and exchange compressed Edwards points, so
//! a peer's static Noise key is an ordinary Ed25519 public key ([`KeyPair`]). Ephemeral key
//! pairs come from a 32-byte seed the caller draws from its RNG (nothing here is random).
//!
//! ```
//! use ferrocore_wire::noise::{Handshake, KeyPair};
//!
//! let mut alice = Handshake::initiator(KeyPair::from_seed([1; 32]), [3; 32]);
//! let mut bob = Handshake::responder(KeyPair::from_seed([2; 32]), [4; 32]);
//! let msg1 = alice.initial_message().unwrap();
//! let msg2 = bob.read_message(&msg1).unwrap().unwrap();
//! let msg3 = alice.read_message(&msg2).unwrap().unwrap();
//! assert!(bob.read_message(&msg3).unwrap().is_none());
//! let (a, b) = (alice.finish().unwrap(), bob.finish().unwrap());
//! assert_eq!((a.tx, a.rx, a.hash), (b.rx, b.tx, b.hash));
//! assert_eq!(a.remote_public_key, KeyPair::from_seed([2; 32]).public_key);
//! ```

use zeroize::Zeroize;

mod ik;
mod keys;
mod symmetric;
mod wrap;
mod xx;

pub use ik::{IkHandshake, IK_PROTOCOL_NAME, MAX_PAYLOAD_LEN};
pub use keys::KeyPair;
pub use wrap::{holepunch_secret, NoiseWrap, WrapResult, NS_PEER_HANDSHAKE, NS_PEER_HOLEPUNCH};
pub use xx::Handshake;

/// The protocol name, mixed into the initial handshake hash.
pub const PROTOCOL_NAME: &[u8] = b"Noise_XX_Ed25519_ChaChaPoly_BLAKE2b";
/// Length of the handshake hash and chaining key (BLAKE2b-512).
pub const HASH_LEN: usize = 64;
/// Length of a public key and of a DH output.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an AEAD tag.
pub const TAG_LEN: usize = 16;
/// The largest Noise message the reference accepts.
pub const MAX_MESSAGE_LEN: usize = 65535;

/// Why a handshake failed. Every variant but [`NoiseError::Misuse`] is the peer's fault (or
/// an attacker's): the reference destroys the stream without a word on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoiseError {
    /// A handshake message of the wrong length for its place in the pattern.
    #[error("handshake message {message} is {len} bytes, expected {expected}")]
    BadLength {
        /// Which message of the pattern (1, 2 or 3).
        message: u8,
        /// Its length.
        len: usize,
        /// The length the pattern requires.
        expected: usize,
    },
    /// A handshake message too short to hold the fields its place in the pattern requires.
    #[error("handshake message {message} is {len} bytes, at least {min} required")]
    TooShort {
        /// Which message of the pattern (1 or 2).
        message: u8,
        /// Its length.
        len: usize,
        /// The shortest message the pattern allows (an empty payload).
        min: usize,
    },
    /// A handshake payload longer than a Noise ciphertext may be (the reference refuses
    /// ciphertexts over [`MAX_MESSAGE_LEN`] bytes, on both sending and receiving).
    #[error("handshake payload of {len} bytes exceeds the limit of {max}")]
    PayloadTooLarge {
        /// The payload length (plaintext when sending, ciphertext when receiving).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A public key that is not a canonical, prime-order Edwards point.
    #[error("invalid public key in handshake message")]
    InvalidPublicKey,
    /// A Diffie-Hellman result of the identity point.
    #[error("Diffie-Hellman result is the identity")]
    WeakSharedSecret,
    /// An encrypted field failed authentication.
    #[error("handshake decryption failed")]
    Decrypt,
    /// A call out of order (e.g. reading a message after the handshake completed).
    #[error("handshake API misuse: {0}")]
    Misuse(&'static str),
}

/// Which side of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the first message (`core.replicate(true)`).
    Initiator,
    /// Answers it.
    Responder,
}

impl Role {
    /// The other side's role.
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Initiator => Self::Responder,
            Self::Responder => Self::Initiator,
        }
    }
}

/// What a completed handshake gives the transport.
#[derive(Clone, PartialEq, Eq)]
pub struct HandshakeResult {
    /// This side's sending key.
    pub tx: [u8; 32],
    /// This side's receiving key.
    pub rx: [u8; 32],
    /// The final handshake hash (64 bytes), the same on both sides.
    pub hash: [u8; HASH_LEN],
    /// The remote's static public key, authenticated by the handshake.
    pub remote_public_key: [u8; 32],
    /// This side's static public key.
    pub public_key: [u8; 32],
    /// Which side this is.
    pub role: Role,
}

impl core::fmt::Debug for HandshakeResult {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HandshakeResult")
            .field("hash", &self.hash)
            .field("remote_public_key", &self.remote_public_key)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Drop for HandshakeResult {
    fn drop(&mut self) {
        self.tx.zeroize();
        self.rx.zeroize();
    }
}

/// Whether `result` failed through the peer's bytes (anything but [`NoiseError::Misuse`]),
/// which fails a handshake for good.
fn is_peer_fault<T>(result: &Result<T, NoiseError>) -> bool {
    matches!(result, Err(e) if !matches!(e, NoiseError::Misuse(_)))
}

/// The first 32 bytes of `bytes` (callers check the length).
fn key32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}
