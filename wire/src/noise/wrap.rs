//! hyperdht's use of IK (`lib/noise-wrap.js`): the prologue is the peer-handshake
//! namespace, the initiator is whoever knows the other's key, and the finished handshake
//! also gives the holepunch secret and the stream id the remote will send.
//!
//! ```
//! use ferrocore_wire::noise::{KeyPair, NoiseWrap};
//!
//! let server = KeyPair::from_seed([2; 32]);
//! let mut client = NoiseWrap::initiator(KeyPair::from_seed([1; 32]), server.public_key, [3; 32]);
//! let mut server = NoiseWrap::responder(server, [4; 32]);
//! let request = client.send(b"client payload").unwrap();
//! assert_eq!(server.recv(&request).unwrap(), b"client payload");
//! let reply = server.send(b"server payload").unwrap();
//! assert_eq!(client.recv(&reply).unwrap(), b"server payload");
//! let (c, s) = (client.finish().unwrap(), server.finish().unwrap());
//! assert_eq!(c.holepunch_secret, s.holepunch_secret);
//! assert_eq!(c.remote_id, ferrocore_wire::stream::stream_id(&s.handshake.hash, s.handshake.role));
//! ```

use alloc::vec::Vec;

use blake2b_simd::Params;

use super::{HandshakeResult, IkHandshake, KeyPair, NoiseError, Role};
use crate::encoding::hex32;
use crate::stream::stream_id;

/// hyperdht's `NS.PEER_HANDSHAKE`, `namespace('hyperswarm/dht', ...)` for command 0: the
/// prologue of its IK handshakes.
pub const NS_PEER_HANDSHAKE: [u8; 32] =
    hex32("14d6d4b49214ab1033ed204976caa258bae9e1e8543b9ad1fd996a910b0c4e3a");
/// hyperdht's `NS.PEER_HOLEPUNCH` (command 1): hashed, keyed by the handshake hash, into
/// the holepunch secret.
pub const NS_PEER_HOLEPUNCH: [u8; 32] =
    hex32("f1191cd5e67b10b54a507033280ed1ff0e12278268d5679c8f93d417210d168b");

/// The holepunch secret of a handshake: BLAKE2b-256 of [`NS_PEER_HOLEPUNCH`] keyed by the
/// handshake hash (`crypto_generichash(out, NS.PEER_HOLEPUNCH, hash)`).
#[must_use]
pub fn holepunch_secret(handshake_hash: &[u8]) -> [u8; 32] {
    let digest = Params::new()
        .hash_length(32)
        .key(handshake_hash)
        .hash(&NS_PEER_HOLEPUNCH);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_bytes());
    out
}

/// What a finished [`NoiseWrap`] gives (noise-wrap's `final()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrapResult {
    /// Keys, hash and public keys, ready for
    /// [`SecretStream::from_handshake`](crate::stream::SecretStream::from_handshake).
    pub handshake: HandshakeResult,
    /// The secret both sides encrypt holepunch messages with.
    pub holepunch_secret: [u8; 32],
    /// The stream id the remote side's secret-stream header will carry.
    pub remote_id: [u8; 32],
}

/// One side of a hyperdht peer handshake: IK with [`NS_PEER_HANDSHAKE`] as prologue. The
/// initiator sends its payload in message 1, the responder reads it and replies with its
/// own. Payloads are opaque bytes here (hyperdht encodes a `noisePayload` in them).
#[derive(Debug)]
pub struct NoiseWrap {
    handshake: IkHandshake,
}

impl NoiseWrap {
    /// The connecting side, which knows the server's public key.
    #[must_use]
    pub fn initiator(
        key_pair: KeyPair,
        remote_public_key: [u8; 32],
        ephemeral_seed: [u8; 32],
    ) -> Self {
        Self {
            handshake: IkHandshake::initiator(
                key_pair,
                remote_public_key,
                &NS_PEER_HANDSHAKE,
                ephemeral_seed,
            ),
        }
    }

    /// The server side.
    #[must_use]
    pub fn responder(key_pair: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self {
            handshake: IkHandshake::responder(key_pair, &NS_PEER_HANDSHAKE, ephemeral_seed),
        }
    }

    /// Either side: the initiator needs the remote key, the responder takes none.
    #[must_use]
    pub fn new(
        role: Role,
        key_pair: KeyPair,
        remote_public_key: Option<[u8; 32]>,
        ephemeral_seed: [u8; 32],
    ) -> Option<Self> {
        match (role, remote_public_key) {
            (Role::Initiator, Some(rs)) => Some(Self::initiator(key_pair, rs, ephemeral_seed)),
            (Role::Responder, None) => Some(Self::responder(key_pair, ephemeral_seed)),
            _ => None,
        }
    }

    /// This side's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.handshake.role()
    }

    /// The remote public key: known to the initiator, learnt by the responder in `recv`.
    #[must_use]
    pub fn remote_public_key(&self) -> Option<[u8; 32]> {
        self.handshake.remote_static()
    }

    /// Whether the handshake has completed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.handshake.is_done()
    }

    /// This side's message carrying `payload`.
    pub fn send(&mut self, payload: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.handshake.write_message(payload)
    }

    /// The peer's message; returns its payload.
    pub fn recv(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        self.handshake.read_message(message)
    }

    /// The result, once both messages went through.
    pub fn finish(&self) -> Result<WrapResult, NoiseError> {
        let handshake = self.handshake.finish()?;
        Ok(WrapResult {
            holepunch_secret: holepunch_secret(&handshake.hash),
            remote_id: stream_id(&handshake.hash, handshake.role.other()),
            handshake,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_needs_the_remote_key_exactly_for_the_initiator() {
        let kp = || KeyPair::from_seed([1; 32]);
        assert!(NoiseWrap::new(Role::Initiator, kp(), None, [0; 32]).is_none());
        assert!(NoiseWrap::new(Role::Responder, kp(), Some([0; 32]), [0; 32]).is_none());
        let w = NoiseWrap::new(Role::Responder, kp(), None, [0; 32]).unwrap();
        assert_eq!((w.role(), w.remote_public_key()), (Role::Responder, None));
        assert!(w.finish().is_err());
    }
}
