//! The holepunch secret and the sealed holepunch payload (`hyperdht@6.34.0`
//! `lib/noise-wrap.js`, `lib/secure-payload.js`).
//!
//! Both ends of a Noise IK handshake derive the same secret,
//! `BLAKE2b-256(NS_PEER_HOLEPUNCH, key = handshake hash)` ([`holepunch_secret`]), and seal
//! each [`HolepunchPayload`] they send through the relays as
//! `nonce(24) ‖ crypto_secretbox_easy(payload, nonce, secret)` (XSalsa20-Poly1305, the
//! 16-byte tag before the ciphertext). The nonce is random; it is passed in here.

use alloc::vec::Vec;

use crypto_secretbox::aead::{AeadInPlace, KeyInit};
use crypto_secretbox::{Key, Nonce, Tag, XSalsa20Poly1305};

use super::signable::NS_PEER_HOLEPUNCH;
use super::{blake2b_256, HolepunchPayload};
use crate::encoding::{Decode, Encode};
use crate::DecodeError;

/// The nonce length of a sealed payload.
pub const NONCE_LEN: usize = 24;
/// The authentication tag length of a sealed payload.
pub const TAG_LEN: usize = 16;

/// Why a sealed holepunch payload does not open (the reference drops it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// 40 bytes or fewer: nonce and tag with no plaintext.
    #[error("sealed payload of {0} byte(s) is too short")]
    TooShort(usize),
    /// The tag does not verify: wrong key, or bytes changed on the way.
    #[error("sealed payload does not authenticate")]
    Unauthenticated,
    /// It authenticates, but the plaintext is no holepunch payload.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// The secret both ends of a handshake seal holepunch payloads with:
/// BLAKE2b-256 of `NS_PEER_HOLEPUNCH`, keyed with the 64-byte Noise handshake hash.
#[must_use]
pub fn holepunch_secret(handshake_hash: &[u8; 64]) -> [u8; 32] {
    blake2b_256(Some(handshake_hash), &[&NS_PEER_HOLEPUNCH])
}

/// Seals `payload` with `secret` under `nonce` (which the caller draws at random):
/// `nonce ‖ tag ‖ ciphertext`, as `SecurePayload.encrypt` writes it.
#[must_use]
pub fn seal_holepunch_payload(
    secret: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    payload: &HolepunchPayload,
) -> Vec<u8> {
    let len = payload.encoded_len();
    let mut out = Vec::with_capacity(NONCE_LEN + TAG_LEN + len);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&[0; TAG_LEN]);
    payload.encode_append(&mut out);
    let cipher = XSalsa20Poly1305::new(Key::from_slice(secret));
    let (head, body) = out.split_at_mut(NONCE_LEN + TAG_LEN);
    // Encryption fails only for messages beyond the cipher's 256 GiB limit.
    let tag = cipher
        .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", body)
        .expect("a holepunch payload is far below the XSalsa20 length limit");
    head[NONCE_LEN..].copy_from_slice(&tag);
    out
}

/// Opens a sealed holepunch payload, as `SecurePayload.decrypt` does: the tag must verify
/// and the plaintext must decode (bytes after the payload are ignored).
pub fn open_holepunch_payload(
    secret: &[u8; 32],
    sealed: &[u8],
) -> Result<HolepunchPayload, SealError> {
    if sealed.len() <= NONCE_LEN + TAG_LEN {
        return Err(SealError::TooShort(sealed.len()));
    }
    let nonce = Nonce::from_slice(&sealed[..NONCE_LEN]);
    let tag = Tag::from_slice(&sealed[NONCE_LEN..NONCE_LEN + TAG_LEN]);
    let mut plain = sealed[NONCE_LEN + TAG_LEN..].to_vec();
    XSalsa20Poly1305::new(Key::from_slice(secret))
        .decrypt_in_place_detached(nonce, b"", &mut plain, tag)
        .map_err(|_| SealError::Unauthenticated)?;
    Ok(HolepunchPayload::decode_from(&plain)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let secret = holepunch_secret(&[7; 64]);
        let p = HolepunchPayload {
            round: 3,
            punching: true,
            token: Some([1; 32]),
            ..HolepunchPayload::default()
        };
        let sealed = seal_holepunch_payload(&secret, &[9; 24], &p);
        assert_eq!(sealed.len(), 40 + p.encoded_len());
        assert_eq!(open_holepunch_payload(&secret, &sealed), Ok(p));
        let mut bad = sealed.clone();
        bad[30] ^= 1;
        assert_eq!(
            open_holepunch_payload(&secret, &bad),
            Err(SealError::Unauthenticated)
        );
        assert_eq!(
            open_holepunch_payload(&secret, &sealed[..40]),
            Err(SealError::TooShort(40))
        );
    }
}
