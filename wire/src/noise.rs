//! The Noise XX handshake of `@hyperswarm/secret-stream` (`noise-handshake` 4.2.0 with
//! `noise-curve-ed` 2.1.0): `Noise_XX_Ed25519_ChaChaPoly_BLAKE2b`, empty prologue, empty
//! payloads.
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

use alloc::vec::Vec;

use blake2b_simd::Params;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Tag};
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

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

/// An Ed25519 key pair in libsodium's layout, used as a Noise static or ephemeral key.
#[derive(Clone)]
pub struct KeyPair {
    /// The compressed Edwards public key.
    pub public_key: [u8; 32],
    /// `seed ‖ public_key`, as libsodium's `crypto_sign_seed_keypair` lays it out.
    pub secret_key: [u8; 64],
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        self.secret_key.zeroize();
    }
}

impl KeyPair {
    /// The key pair of a 32-byte seed (`crypto_sign_seed_keypair`).
    #[must_use]
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut scalar = secret_scalar(&seed);
        let public_key = EdwardsPoint::mul_base_clamped(scalar).compress().to_bytes();
        scalar.zeroize();
        let mut secret_key = [0u8; 64];
        secret_key[..32].copy_from_slice(&seed);
        secret_key[32..].copy_from_slice(&public_key);
        Self {
            public_key,
            secret_key,
        }
    }

    /// The seed half of the secret key.
    #[must_use]
    pub fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&self.secret_key[..32]);
        seed
    }

    /// `DH(self, remote)`: the remote Edwards point times this key's clamped secret scalar
    /// (libsodium `crypto_scalarmult_ed25519_noclamp`), compressed. The remote key must be
    /// a canonical encoding of a point of prime order, and the result not the identity, as
    /// libsodium requires.
    pub fn dh(&self, remote: &[u8; 32]) -> Result<[u8; 32], NoiseError> {
        self.dh_point(&remote_point(remote)?)
    }

    /// `DH(self, remote)` with a remote key [`remote_point`] already checked.
    fn dh_point(&self, point: &EdwardsPoint) -> Result<[u8; 32], NoiseError> {
        let mut scalar = secret_scalar(&self.seed());
        let shared = point.mul_clamped(scalar);
        scalar.zeroize();
        if shared.is_small_order() {
            // Only the identity is both torsion-free and of small order.
            return Err(NoiseError::WeakSharedSecret);
        }
        Ok(shared.compress().to_bytes())
    }
}

/// A remote public key as a point, if it is a canonical encoding of a point of prime order
/// (as libsodium requires of `crypto_scalarmult_ed25519_noclamp`'s input).
fn remote_point(remote: &[u8; 32]) -> Result<EdwardsPoint, NoiseError> {
    if !canonical_y(remote) {
        return Err(NoiseError::InvalidPublicKey);
    }
    let point = CompressedEdwardsY(*remote)
        .decompress()
        .ok_or(NoiseError::InvalidPublicKey)?;
    // (x = 0 with the sign bit set decodes to a point of small order, refused here.)
    if point.is_small_order() || !torsion_free(&point) {
        return Err(NoiseError::InvalidPublicKey);
    }
    Ok(point)
}

/// Whether the y coordinate of an encoded point is below p = 2^255 − 19 (libsodium's
/// `ge25519_is_canonical`), without decoding it.
fn canonical_y(encoded: &[u8; 32]) -> bool {
    // y ≥ p only if its top byte is 0x7f, the 30 below it 0xff and the lowest ≥ 0xed.
    !(encoded[31] & 0x7f == 0x7f && encoded[1..31].iter().all(|&b| b == 0xff) && encoded[0] >= 0xed)
}

/// Whether `[ℓ]P` is the identity, with ℓ the prime group order. The point is public, so
/// this runs in variable time: `[ℓ]P = [ℓ − 1]P + P`, where ℓ − 1 is a canonical scalar
/// and the multiplication is exact on its integer value (torsion components included).
fn torsion_free(point: &EdwardsPoint) -> bool {
    use curve25519_dalek::traits::IsIdentity;
    use curve25519_dalek::Scalar;
    let l_minus_one = -Scalar::ONE;
    let lp = EdwardsPoint::vartime_double_scalar_mul_basepoint(&l_minus_one, point, &Scalar::ZERO)
        + point;
    lp.is_identity()
}

/// The Ed25519 secret scalar bytes of a seed: the first half of SHA-512(seed), to be clamped
/// by the multiplication.
fn secret_scalar(seed: &[u8; 32]) -> [u8; 32] {
    let mut digest = Sha512::digest(seed);
    let mut scalar = [0u8; 32];
    scalar.copy_from_slice(&digest[..32]);
    digest.as_mut_slice().zeroize();
    scalar
}

/// A BLAKE2b-512 hashing state.
fn hasher() -> blake2b_simd::State {
    Params::new().hash_length(HASH_LEN).to_state()
}

fn finish(state: &blake2b_simd::State) -> [u8; HASH_LEN] {
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(state.finalize().as_bytes());
    out
}

/// BLAKE2b-512 of the concatenation of `parts`.
fn hash(parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let mut state = hasher();
    for p in parts {
        state.update(p);
    }
    finish(&state)
}

/// HMAC over BLAKE2b-512 (block 128 bytes); every key here is 64 bytes.
fn hmac(key: &[u8; HASH_LEN], parts: &[&[u8]]) -> [u8; HASH_LEN] {
    const BLOCK: usize = 128;
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    let mut inner = hasher();
    inner.update(&ipad);
    for p in parts {
        inner.update(p);
    }
    let out = hash(&[&opad, &finish(&inner)]);
    ipad.zeroize();
    opad.zeroize();
    out
}

/// HKDF with two 64-byte outputs (RFC 5869, empty info).
fn hkdf(chaining_key: &[u8; HASH_LEN], input: &[u8]) -> ([u8; HASH_LEN], [u8; HASH_LEN]) {
    let mut prk = hmac(chaining_key, &[input]);
    let first = hmac(&prk, &[&[1]]);
    let second = hmac(&prk, &[&first, &[2]]);
    prk.zeroize();
    (first, second)
}

/// The 12-byte ChaChaPoly nonce of Noise counter `n`: four zero bytes, then `n` LE.
fn nonce(n: u64) -> chacha20poly1305::Nonce {
    let mut out = [0u8; 12];
    out[4..].copy_from_slice(&n.to_le_bytes());
    out.into()
}

/// Noise's SymmetricState: chaining key, handshake hash and the current cipher key.
struct Symmetric {
    ck: [u8; HASH_LEN],
    h: [u8; HASH_LEN],
    key: Option<[u8; 32]>,
    n: u64,
}

impl Drop for Symmetric {
    fn drop(&mut self) {
        self.ck.zeroize();
        if let Some(k) = self.key.as_mut() {
            k.zeroize();
        }
    }
}

impl Symmetric {
    /// `InitializeSymmetric(PROTOCOL_NAME)` then `MixHash(prologue = "")`.
    fn new() -> Self {
        let mut h = [0u8; HASH_LEN];
        h[..PROTOCOL_NAME.len()].copy_from_slice(PROTOCOL_NAME);
        let ck = h;
        Self {
            ck,
            h: hash(&[&h, b""]),
            key: None,
            n: 0,
        }
    }

    fn mix_hash(&mut self, data: &[u8]) {
        self.h = hash(&[&self.h, data]);
    }

    fn mix_key(&mut self, dh: &[u8; 32]) {
        let (ck, mut temp) = hkdf(&self.ck, dh);
        self.ck = ck;
        let mut key = [0u8; 32];
        key.copy_from_slice(&temp[..32]);
        temp.zeroize();
        self.key = Some(key);
        self.n = 0;
    }

    /// `EncryptAndHash(plaintext)`, appended to `out`.
    fn encrypt_and_hash(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(plaintext);
        if let Some(key) = &self.key {
            let cipher = ChaCha20Poly1305::new(key.into());
            let tag = cipher
                .encrypt_in_place_detached(&nonce(self.n), &self.h, &mut out[start..])
                .expect("handshake fields are far below the AEAD length limit");
            out.extend_from_slice(&tag);
            self.n += 1;
        }
        self.mix_hash(&out[start..]);
    }

    /// `DecryptAndHash(ciphertext)`.
    fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NoiseError> {
        let plain = match &self.key {
            None => ciphertext.to_vec(),
            Some(key) => {
                let split = ciphertext
                    .len()
                    .checked_sub(TAG_LEN)
                    .ok_or(NoiseError::Decrypt)?;
                let mut buf = ciphertext[..split].to_vec();
                let cipher = ChaCha20Poly1305::new(key.into());
                cipher
                    .decrypt_in_place_detached(
                        &nonce(self.n),
                        &self.h,
                        &mut buf,
                        Tag::from_slice(&ciphertext[split..]),
                    )
                    .map_err(|_| NoiseError::Decrypt)?;
                self.n += 1;
                buf
            }
        };
        self.mix_hash(ciphertext);
        Ok(plain)
    }

    /// `Split()`: the two transport keys, in initiator-to-responder order.
    fn split(&self) -> ([u8; 32], [u8; 32]) {
        let (mut t1, mut t2) = hkdf(&self.ck, b"");
        let (mut k1, mut k2) = ([0u8; 32], [0u8; 32]);
        k1.copy_from_slice(&t1[..32]);
        k2.copy_from_slice(&t2[..32]);
        t1.zeroize();
        t2.zeroize();
        (k1, k2)
    }
}

/// Which side of the handshake this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the first message (`core.replicate(true)`).
    Initiator,
    /// Answers it.
    Responder,
}

/// Where a handshake is in the XX pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Initiator: msg1 not written yet.
    Start,
    /// Initiator: waiting for msg2. Responder: waiting for msg1.
    AwaitSecond,
    /// Responder: waiting for msg3.
    AwaitThird,
    /// Complete.
    Done,
    /// Failed; nothing more is accepted.
    Failed,
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

/// One side of a Noise XX handshake, driven message by message.
pub struct Handshake {
    role: Role,
    step: Step,
    sym: Symmetric,
    s: KeyPair,
    e: KeyPair,
    /// The remote static key, once read.
    rs: Option<[u8; 32]>,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The initiator, with its static key pair and the seed of its ephemeral key pair.
    #[must_use]
    pub fn initiator(static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self::new(Role::Initiator, static_key, ephemeral_seed)
    }

    /// The responder, with its static key pair and the seed of its ephemeral key pair.
    #[must_use]
    pub fn responder(static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self::new(Role::Responder, static_key, ephemeral_seed)
    }

    /// A handshake for `role`.
    #[must_use]
    pub fn new(role: Role, static_key: KeyPair, ephemeral_seed: [u8; 32]) -> Self {
        Self {
            role,
            step: match role {
                Role::Initiator => Step::Start,
                Role::Responder => Step::AwaitSecond,
            },
            sym: Symmetric::new(),
            s: static_key,
            e: KeyPair::from_seed(ephemeral_seed),
            rs: None,
        }
    }

    /// This side's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The current handshake hash (for tests against the reference's intermediate states).
    #[must_use]
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.sym.h
    }

    /// The current chaining key (for tests against the reference's intermediate states).
    #[must_use]
    pub fn chaining_key(&self) -> &[u8; HASH_LEN] {
        &self.sym.ck
    }

    /// Whether the handshake has completed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// The exact length of the next message this side must read, or `None` when it reads
    /// nothing now (the initiator before writing, or a finished or failed handshake).
    #[must_use]
    pub fn expected_len(&self) -> Option<usize> {
        match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => Some(PUBLIC_KEY_LEN),
            (Role::Initiator, Step::AwaitSecond) => Some(2 * PUBLIC_KEY_LEN + 2 * TAG_LEN),
            (Role::Responder, Step::AwaitThird) => Some(PUBLIC_KEY_LEN + 2 * TAG_LEN),
            _ => None,
        }
    }

    /// Which message of the pattern (1, 2 or 3) this side reads next (0 when none).
    #[must_use]
    pub fn expected_message(&self) -> u8 {
        match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => 1,
            (Role::Initiator, Step::AwaitSecond) => 2,
            (Role::Responder, Step::AwaitThird) => 3,
            _ => 0,
        }
    }

    /// The initiator's first message (`e`, 32 bytes). Only once, only for the initiator.
    pub fn initial_message(&mut self) -> Result<Vec<u8>, NoiseError> {
        if self.role != Role::Initiator || self.step != Step::Start {
            return Err(NoiseError::Misuse(
                "initial_message is the initiator's first step",
            ));
        }
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::AwaitSecond;
        Ok(out)
    }

    /// Reads the peer's next message; returns the reply to send, if the pattern has one.
    /// Any error leaves the handshake failed for good.
    pub fn read_message(&mut self, message: &[u8]) -> Result<Option<Vec<u8>>, NoiseError> {
        let result = match (self.role, self.step) {
            (Role::Responder, Step::AwaitSecond) => self.responder_read_first(message).map(Some),
            (Role::Initiator, Step::AwaitSecond) => self.initiator_read_second(message).map(Some),
            (Role::Responder, Step::AwaitThird) => {
                self.responder_read_third(message).map(|()| None)
            }
            (_, Step::Start) => Err(NoiseError::Misuse("the initiator writes first")),
            _ => Err(NoiseError::Misuse("the handshake is over")),
        };
        if let Err(e) = &result {
            if !matches!(e, NoiseError::Misuse(_)) {
                self.step = Step::Failed;
            }
        }
        result
    }

    /// The transport keys, once complete.
    pub fn finish(&self) -> Result<HandshakeResult, NoiseError> {
        if self.step != Step::Done {
            return Err(NoiseError::Misuse("the handshake is not complete"));
        }
        let (k1, k2) = self.sym.split();
        let (tx, rx) = match self.role {
            Role::Initiator => (k1, k2),
            Role::Responder => (k2, k1),
        };
        Ok(HandshakeResult {
            tx,
            rx,
            hash: self.sym.h,
            remote_public_key: self.rs.unwrap_or([0; 32]),
            public_key: self.s.public_key,
            role: self.role,
        })
    }

    fn expect_len(message: &[u8], which: u8, expected: usize) -> Result<(), NoiseError> {
        if message.len() == expected {
            Ok(())
        } else {
            Err(NoiseError::BadLength {
                message: which,
                len: message.len(),
                expected,
            })
        }
    }

    /// Responder: `<- e`, then writes `-> e, ee, s, es`.
    fn responder_read_first(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        Self::expect_len(message, 1, PUBLIC_KEY_LEN)?;
        let re = key32(message);
        self.sym.mix_hash(&re);
        self.sym.decrypt_and_hash(b"")?;
        // The remote ephemeral key is checked once and used for two DHs.
        let re = remote_point(&re)?;

        let mut out = Vec::with_capacity(96);
        out.extend_from_slice(&self.e.public_key);
        self.sym.mix_hash(&self.e.public_key);
        let ee = self.e.dh_point(&re)?;
        self.sym.mix_key(&ee);
        let s = self.s.public_key;
        self.sym.encrypt_and_hash(&s, &mut out);
        let es = self.s.dh_point(&re)?;
        self.sym.mix_key(&es);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::AwaitThird;
        Ok(out)
    }

    /// Initiator: `<- e, ee, s, es`, then writes `-> s, se` and completes.
    fn initiator_read_second(&mut self, message: &[u8]) -> Result<Vec<u8>, NoiseError> {
        Self::expect_len(message, 2, PUBLIC_KEY_LEN + PUBLIC_KEY_LEN + 2 * TAG_LEN)?;
        let re_bytes = key32(&message[..32]);
        self.sym.mix_hash(&re_bytes);
        let re = remote_point(&re_bytes)?;
        let ee = self.e.dh_point(&re)?;
        self.sym.mix_key(&ee);
        let rs = key32(&self.sym.decrypt_and_hash(&message[32..80])?);
        let es = self.e.dh(&rs)?;
        self.sym.mix_key(&es);
        self.sym.decrypt_and_hash(&message[80..])?;
        self.rs = Some(rs);

        let mut out = Vec::with_capacity(64);
        let s = self.s.public_key;
        self.sym.encrypt_and_hash(&s, &mut out);
        let se = self.s.dh_point(&re)?;
        self.sym.mix_key(&se);
        self.sym.encrypt_and_hash(b"", &mut out);
        self.step = Step::Done;
        Ok(out)
    }

    /// Responder: `<- s, se`, and completes.
    fn responder_read_third(&mut self, message: &[u8]) -> Result<(), NoiseError> {
        Self::expect_len(message, 3, PUBLIC_KEY_LEN + 2 * TAG_LEN)?;
        let rs = key32(&self.sym.decrypt_and_hash(&message[..48])?);
        let se = self.e.dh(&rs)?;
        self.sym.mix_key(&se);
        self.sym.decrypt_and_hash(&message[48..])?;
        self.rs = Some(rs);
        self.step = Step::Done;
        Ok(())
    }
}

/// The first 32 bytes of `bytes` (callers check the length).
fn key32(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&bytes[..32]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Handshake, Handshake) {
        (
            Handshake::initiator(KeyPair::from_seed([1; 32]), [3; 32]),
            Handshake::responder(KeyPair::from_seed([2; 32]), [4; 32]),
        )
    }

    #[test]
    fn every_flipped_bit_of_msg2_and_msg3_fails_the_handshake() {
        let (mut a, mut b) = pair();
        let m1 = a.initial_message().unwrap();
        let m2 = b.read_message(&m1).unwrap().unwrap();
        for bit in 0..m2.len() * 8 {
            let (mut a2, _) = pair();
            a2.initial_message().unwrap();
            let mut bad = m2.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(a2.read_message(&bad).is_err(), "bit {bit} of msg2");
            assert!(
                a2.read_message(&m2).is_err(),
                "a failed handshake stays failed"
            );
        }
        let m3 = a.read_message(&m2).unwrap().unwrap();
        for bit in 0..m3.len() * 8 {
            let (mut a3, mut b3) = pair();
            b3.read_message(&a3.initial_message().unwrap()).unwrap();
            let mut bad = m3.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(b3.read_message(&bad).is_err(), "bit {bit} of msg3");
        }
        assert!(b.read_message(&m3).unwrap().is_none());
        assert!(b.finish().is_ok());
    }

    #[test]
    fn small_order_and_non_canonical_keys_are_refused() {
        let kp = KeyPair::from_seed([9; 32]);
        // The identity point, and a point of order 2 (y = -1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(kp.dh(&identity), Err(NoiseError::InvalidPublicKey));
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert_eq!(kp.dh(&minus_one), Err(NoiseError::InvalidPublicKey));
        // y = p + 1 is a non-canonical encoding of y = 1.
        let mut non_canonical = [0xffu8; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        assert_eq!(kp.dh(&non_canonical), Err(NoiseError::InvalidPublicKey));
        let other = KeyPair::from_seed([8; 32]);
        assert_eq!(kp.dh(&other.public_key), other.dh(&kp.public_key));
    }

    #[test]
    fn the_variable_time_subgroup_check_agrees_with_the_constant_time_one() {
        use curve25519_dalek::constants::EIGHT_TORSION;
        for seed in 0..16u8 {
            let p = CompressedEdwardsY(KeyPair::from_seed([seed; 32]).public_key)
                .decompress()
                .unwrap();
            assert!(torsion_free(&p) && p.is_torsion_free());
            for t in &EIGHT_TORSION[1..] {
                let q = p + t;
                assert!(!torsion_free(&q) && !q.is_torsion_free());
                assert_eq!(
                    remote_point(&q.compress().to_bytes()).err(),
                    Some(NoiseError::InvalidPublicKey)
                );
            }
        }
        assert!(canonical_y(
            &[0xff; 31]
                .iter()
                .copied()
                .chain([0x7e])
                .collect::<Vec<_>>()
                .try_into()
                .unwrap()
        ));
        let mut p = [0xffu8; 32];
        p[31] = 0x7f;
        p[0] = 0xec;
        assert!(canonical_y(&p), "p - 1");
        p[0] = 0xed;
        assert!(!canonical_y(&p), "p");
        p[31] = 0xff;
        assert!(!canonical_y(&p), "p with the sign bit");
    }

    #[test]
    fn wrong_lengths_and_order_are_typed() {
        let (mut a, mut b) = pair();
        assert!(matches!(b.initial_message(), Err(NoiseError::Misuse(_))));
        assert!(matches!(
            a.read_message(&[0; 96]),
            Err(NoiseError::Misuse(_))
        ));
        assert!(matches!(
            b.read_message(&[0; 31]),
            Err(NoiseError::BadLength {
                message: 1,
                len: 31,
                expected: 32
            })
        ));
        assert!(a.finish().is_err());
    }
}
