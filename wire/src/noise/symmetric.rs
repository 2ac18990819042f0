//! Noise's SymmetricState over BLAKE2b-512 (hash, HMAC, HKDF) and ChaChaPoly.

use alloc::vec::Vec;

use blake2b_simd::Params;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Tag};
use zeroize::Zeroize;

use super::{NoiseError, HASH_LEN, TAG_LEN};

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
pub(super) struct Symmetric {
    pub(super) ck: [u8; HASH_LEN],
    pub(super) h: [u8; HASH_LEN],
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
    /// `InitializeSymmetric(protocol)` then `MixHash(prologue)`. Every protocol name here
    /// is shorter than a hash, so it is padded rather than hashed.
    pub(super) fn new(protocol: &[u8], prologue: &[u8]) -> Self {
        debug_assert!(protocol.len() <= HASH_LEN);
        let mut h = [0u8; HASH_LEN];
        h[..protocol.len()].copy_from_slice(protocol);
        let ck = h;
        Self {
            ck,
            h: hash(&[&h, prologue]),
            key: None,
            n: 0,
        }
    }

    pub(super) fn mix_hash(&mut self, data: &[u8]) {
        self.h = hash(&[&self.h, data]);
    }

    pub(super) fn mix_key(&mut self, dh: &[u8; 32]) {
        let (ck, mut temp) = hkdf(&self.ck, dh);
        self.ck = ck;
        let mut key = [0u8; 32];
        key.copy_from_slice(&temp[..32]);
        temp.zeroize();
        self.key = Some(key);
        self.n = 0;
    }

    /// `EncryptAndHash(plaintext)`, appended to `out`.
    pub(super) fn encrypt_and_hash(&mut self, plaintext: &[u8], out: &mut Vec<u8>) {
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
    pub(super) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, NoiseError> {
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

    /// What a completed handshake in this state gives the side of `role`: `Split()`'s
    /// keys in that side's order, the handshake hash and the two static keys.
    pub(super) fn result(
        &self,
        role: super::Role,
        public_key: [u8; 32],
        remote_public_key: [u8; 32],
    ) -> super::HandshakeResult {
        let (k1, k2) = self.split();
        let (tx, rx) = match role {
            super::Role::Initiator => (k1, k2),
            super::Role::Responder => (k2, k1),
        };
        super::HandshakeResult {
            tx,
            rx,
            hash: self.h,
            remote_public_key,
            public_key,
            role,
        }
    }

    /// `Split()`: the two transport keys, in initiator-to-responder order.
    pub(super) fn split(&self) -> ([u8; 32], [u8; 32]) {
        let (mut t1, mut t2) = hkdf(&self.ck, b"");
        let (mut k1, mut k2) = ([0u8; 32], [0u8; 32]);
        k1.copy_from_slice(&t1[..32]);
        k2.copy_from_slice(&t2[..32]);
        t1.zeroize();
        t2.zeroize();
        (k1, k2)
    }
}
