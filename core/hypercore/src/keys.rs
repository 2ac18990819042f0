//! Ed25519 key pairs, signing and verification, byte-exact with libsodium.
//!
//! A key pair is libsodium's `crypto_sign_seed_keypair(seed)`: a 32-byte public key and a
//! 64-byte secret key laid out as `seed ‖ public key`. Signatures are deterministic
//! (RFC 8032), so signing the same message with the same key gives the same 64 bytes as the
//! JavaScript reference.
//!
//! ```
//! use ferrocore::keys::{self, KeyPair};
//!
//! let kp = KeyPair::from_seed(&[7; 32]);
//! assert_eq!(kp.secret_key[..32], [7; 32]);
//! assert_eq!(kp.secret_key[32..], kp.public_key);
//!
//! let sig = kp.sign(b"hello");
//! assert!(keys::verify(&kp.public_key, b"hello", &sig));
//! assert!(!keys::verify(&kp.public_key, b"hullo", &sig));
//! ```
//!
//! # Acceptance rules of [`verify`]
//!
//! libsodium's `crypto_sign_verify_detached` (what every JS peer uses) rejects a signature
//! whose `S` is not canonical (`S ≥ ℓ`), whose `R` has small order, or whose public key is
//! a non-canonical encoding (`y ≥ 2^255 − 19`) or has small order; it then checks
//! `R == [S]B − [H(R ‖ A ‖ M)]A` *without* the cofactor, comparing encodings byte for byte.
//!
//! `ed25519-dalek`'s `verify_strict` applies the same rules (canonical `S`, small-order `R`
//! and `A` rejected, cofactorless, byte-wise `R` comparison) with one difference: it accepts
//! a non-canonical public-key encoding. [`verify`] therefore checks public-key canonicity
//! itself (libsodium's `ge25519_is_canonical`) before calling `verify_strict`, which makes the
//! set of accepted `(key, message, signature)` triples identical to libsodium's.

use core::fmt;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::Error;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of a libsodium secret key (`seed ‖ public key`).
pub const SECRET_KEY_LEN: usize = 64;
/// Length of a seed.
pub const SEED_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// An Ed25519 key pair in libsodium layout.
///
/// `Debug` never prints the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The 32-byte public key.
    pub public_key: [u8; 32],
    /// The 64-byte secret key: `seed ‖ public_key`.
    pub secret_key: [u8; 64],
    /// The expanded signing key of the seed, derived once (deriving it costs a scalar
    /// multiplication, as much as the signature itself).
    signing: SigningKey,
}

impl KeyPair {
    /// The key pair of `seed` (libsodium `crypto_sign_seed_keypair`).
    #[must_use]
    pub fn from_seed(seed: &[u8; 32]) -> KeyPair {
        let signing = SigningKey::from_bytes(seed);
        let public_key = signing.verifying_key().to_bytes();
        let mut secret_key = [0u8; 64];
        secret_key[..32].copy_from_slice(seed);
        secret_key[32..].copy_from_slice(&public_key);
        KeyPair {
            public_key,
            secret_key,
            signing,
        }
    }

    /// The key pair of a 64-byte libsodium secret key, checking that its public half is the
    /// public key of its seed half (hypercore-crypto `validateKeyPair`).
    ///
    /// # Errors
    /// [`Error::Misuse`] if the two halves do not belong together.
    pub fn from_secret_key(secret_key: &[u8; 64]) -> Result<KeyPair, Error> {
        let kp = KeyPair::from_seed(&seed_of(secret_key));
        if kp.secret_key[32..] != secret_key[32..] {
            return Err(Error::Misuse(
                "secret key's public half does not match its seed",
            ));
        }
        Ok(kp)
    }

    /// The 32-byte seed (the first half of the secret key).
    #[must_use]
    pub fn seed(&self) -> [u8; 32] {
        seed_of(&self.secret_key)
    }

    /// Signs `msg` (libsodium `crypto_sign_detached`); deterministic.
    ///
    /// Signing uses the seed half of the secret key; key pairs built with
    /// [`from_seed`](Self::from_seed) or [`from_secret_key`](Self::from_secret_key) always
    /// have a matching public half.
    #[must_use]
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let seed = self.seed();
        if self.signing.as_bytes() == &seed {
            self.signing.sign(msg).to_bytes()
        } else {
            // The public `secret_key` field was changed after construction.
            SigningKey::from_bytes(&seed).sign(msg).to_bytes()
        }
    }

    /// Verifies a signature by this key pair's public key (see [`verify`]).
    #[must_use]
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        verify(&self.public_key, msg, sig)
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &HexBytes(&self.public_key))
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

struct HexBytes<'a>(&'a [u8]);

impl fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

fn seed_of(secret_key: &[u8; 64]) -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&secret_key[..32]);
    seed
}

/// Verifies a detached Ed25519 signature with libsodium's `crypto_sign_verify_detached`
/// acceptance rules (see the [module docs](self)). Never panics.
///
/// ```
/// use ferrocore::keys::{verify, KeyPair};
/// let kp = KeyPair::from_seed(&[1; 32]);
/// let mut sig = kp.sign(b"m");
/// assert!(verify(&kp.public_key, b"m", &sig));
/// sig[0] ^= 1;
/// assert!(!verify(&kp.public_key, b"m", &sig));
/// ```
#[must_use]
pub fn verify(public_key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    DecodedKey::new(public_key).verify(msg, sig)
}

/// A public key decoded once for many verifications: decoding its point takes a square
/// root in the field, about a sixth of what a verification costs. Verifies exactly as
/// [`verify`] does with the same key.
///
/// ```
/// use ferrocore::keys::{DecodedKey, KeyPair};
/// let kp = KeyPair::from_seed(&[1; 32]);
/// let key = DecodedKey::new(&kp.public_key);
/// assert_eq!(key.public_key(), &kp.public_key);
/// assert!(key.verify(b"m", &kp.sign(b"m")));
/// assert!(!key.verify(b"n", &kp.sign(b"m")));
/// ```
#[derive(Clone)]
pub struct DecodedKey {
    public_key: [u8; 32],
    /// `None` for an encoding libsodium refuses (every verification fails).
    point: Option<VerifyingKey>,
}

impl DecodedKey {
    /// Decodes `public_key` (an invalid one makes every verification fail).
    #[must_use]
    pub fn new(public_key: &[u8; 32]) -> Self {
        let point = is_canonical_point(public_key)
            .then(|| VerifyingKey::from_bytes(public_key).ok())
            .flatten();
        Self {
            public_key: *public_key,
            point,
        }
    }

    /// The encoded public key.
    #[must_use]
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// Verifies a detached signature by this key (see [`verify`]).
    #[must_use]
    pub fn verify(&self, msg: &[u8], sig: &[u8; 64]) -> bool {
        self.point
            .as_ref()
            .is_some_and(|vk| vk.verify_strict(msg, &Signature::from_bytes(sig)).is_ok())
    }
}

impl fmt::Debug for DecodedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedKey")
            .field("public_key", &HexBytes(&self.public_key))
            .field("valid", &self.point.is_some())
            .finish()
    }
}

/// True unless `encoding`'s y coordinate (its low 255 bits) is at least the field prime
/// `2^255 − 19` (libsodium `ge25519_is_canonical`; the sign bit is not considered).
#[must_use]
pub fn is_canonical_point(encoding: &[u8; 32]) -> bool {
    // y ≥ p iff the top byte (sign bit masked) is 0x7f, bytes 1..=30 are all 0xff and the
    // lowest byte is ≥ 0xed.
    let top_is_max = encoding[31] & 0x7f == 0x7f;
    let middle_is_max = encoding[1..31].iter().all(|&b| b == 0xff);
    !(top_is_max && middle_is_max && encoding[0] >= 0xed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The group order ℓ, little endian.
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    fn add_le(a: &[u8], b: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let s = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = s as u8;
            carry = s >> 8;
        }
        out
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message).
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let kp = KeyPair::from_seed(&seed);
        assert_eq!(
            hex::encode(kp.public_key),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let sig = kp.sign(b"");
        assert_eq!(
            hex::encode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(verify(&kp.public_key, b"", &sig));
    }

    #[test]
    fn rejects_non_canonical_s() {
        let kp = KeyPair::from_seed(&[3; 32]);
        let sig = kp.sign(b"msg");
        assert!(verify(&kp.public_key, b"msg", &sig));
        // S + ℓ is the same scalar mod ℓ, but libsodium rejects it as non-canonical.
        let mut malleated = sig;
        malleated[32..].copy_from_slice(&add_le(&sig[32..], &ELL));
        assert!(!verify(&kp.public_key, b"msg", &malleated));
    }

    #[test]
    fn rejects_small_order_public_keys() {
        let kp = KeyPair::from_seed(&[4; 32]);
        let sig = kp.sign(b"msg");
        // The identity (y = 1) and the order-2 point (y = −1), canonical and not.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        for pk in [identity, minus_one, [0; 32]] {
            assert!(!verify(&pk, b"msg", &sig));
        }
    }

    #[test]
    fn rejects_small_order_r_even_when_the_equation_holds() {
        use curve25519_dalek::scalar::Scalar;
        use ed25519_dalek::Verifier as _;
        use sha2::{Digest, Sha512};

        let kp = KeyPair::from_seed(&[6; 32]);
        let msg = b"small order R";
        // R = identity (encoded y = 1), s = H(R ‖ A ‖ M)·a: then [s]B = R + [h]A holds, so
        // a verifier without the small-order check accepts it; libsodium does not.
        let mut r = [0u8; 32];
        r[0] = 1;
        let expanded = Sha512::digest(kp.seed());
        let mut a_bytes = [0u8; 32];
        a_bytes.copy_from_slice(&expanded[..32]);
        a_bytes[0] &= 248;
        a_bytes[31] &= 63;
        a_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a_bytes);
        let h: [u8; 64] = Sha512::new()
            .chain_update(r)
            .chain_update(kp.public_key)
            .chain_update(msg)
            .finalize()
            .into();
        let s = Scalar::from_bytes_mod_order_wide(&h) * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&r);
        sig[32..].copy_from_slice(s.as_bytes());

        let vk = VerifyingKey::from_bytes(&kp.public_key).unwrap();
        assert!(
            vk.verify(msg, &Signature::from_bytes(&sig)).is_ok(),
            "forged signature satisfies the cofactorless equation"
        );
        assert!(!verify(&kp.public_key, msg, &sig));
    }

    #[test]
    fn canonical_point_boundary() {
        let mut p_minus_1 = [0xffu8; 32];
        p_minus_1[0] = 0xec;
        p_minus_1[31] = 0x7f;
        assert!(is_canonical_point(&p_minus_1));
        let mut p = p_minus_1;
        p[0] = 0xed;
        assert!(!is_canonical_point(&p));
        // The sign bit does not matter.
        p[31] = 0xff;
        assert!(!is_canonical_point(&p));
        p_minus_1[31] = 0xff;
        assert!(is_canonical_point(&p_minus_1));
    }

    #[test]
    fn secret_key_round_trip_and_mismatch() {
        let kp = KeyPair::from_seed(&[5; 32]);
        assert_eq!(KeyPair::from_secret_key(&kp.secret_key), Ok(kp.clone()));
        let mut bad = kp.secret_key;
        bad[40] ^= 1;
        assert!(matches!(
            KeyPair::from_secret_key(&bad),
            Err(Error::Misuse(_))
        ));
        let dbg = alloc::format!("{kp:?}");
        assert!(!dbg.contains(&hex::encode(&kp.secret_key[..32])));
        assert!(dbg.contains(&hex::encode(kp.public_key)));
    }
}
