//! Block encryption, byte-exact with hypercore's default encryption (XSalsa20, no MAC).
//!
//! A stored (and replicated, and hashed) block is `padding ‖ ciphertext`, with an 8-byte
//! [`PADDING`] holding the *blinded fork*:
//!
//! 1. `padding = u64le(fork) XOR XSalsa20(blindingKey, u64le(index) ‖ 00×16)[..8]`;
//! 2. `ciphertext = plaintext XOR XSalsa20(blockKey, u64le(index) ‖ padding ‖ 00×8)`.
//!
//! Decryption reads the padding back from the block, so it needs no fork. Integrity comes
//! from the Merkle tree, not from the cipher.
//!
//! Keys (`deriveKeys`), for a 32-byte encryption key and the core key:
//!
//! | [`KeyMode`] | block key |
//! |-------------|-----------|
//! | `Manifest` (default cores) | `H(ns::DEFAULT_ENCRYPTION ‖ coreKey ‖ encryptionKey)` |
//! | `Compat` | `H_{coreKey}(encryptionKey)` (BLAKE2b keyed with the core key) |
//! | `BlockKey` | the encryption key itself |
//!
//! and `blindingKey = H(blockKey)` in every mode.
//!
//! ```
//! use ferrocore::encryption::{BlockEncryption, KeyMode, PADDING};
//!
//! let enc = BlockEncryption::new(&[1; 32], &[2; 32], KeyMode::Manifest);
//! let stored = enc.encrypt(5, 0, b"hello");
//! assert_eq!(stored.len(), 5 + PADDING);
//! assert_eq!(enc.decrypt(5, &stored).unwrap(), b"hello");
//! // The same plaintext at another index or fork encrypts differently.
//! assert_ne!(enc.encrypt(6, 0, b"hello"), stored);
//! assert_ne!(enc.encrypt(5, 1, b"hello"), stored);
//! ```

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use ferrocore_wire::DecodeError;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::XSalsa20;

use crate::hash::{self, ns, Hash};
use crate::Error;

/// Bytes in front of every encrypted block (the blinded fork).
pub const PADDING: usize = 8;

/// Length of an XSalsa20 nonce.
pub const NONCE_LEN: usize = 24;

/// How the block key is derived from the encryption key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyMode {
    /// A manifest-mode core (the default): `H(ns::DEFAULT_ENCRYPTION ‖ coreKey ‖ key)`.
    Manifest,
    /// A compat core: BLAKE2b of the encryption key, keyed with the core key.
    Compat,
    /// The caller passes the block key itself (`isBlockKey: true`).
    BlockKey,
}

/// The block key for `encryption_key` on the core `core_key` (see [`KeyMode`]).
#[must_use]
pub fn derive_block_key(encryption_key: &[u8; 32], core_key: &[u8; 32], mode: KeyMode) -> Hash {
    match mode {
        KeyMode::Manifest => block_encryption_key(core_key, encryption_key),
        KeyMode::Compat => hash::blake2b256_keyed(core_key, &[encryption_key]),
        KeyMode::BlockKey => *encryption_key,
    }
}

/// The blinding key of a block key: `H(blockKey)`.
#[must_use]
pub fn blinding_key(block_key: &[u8; 32]) -> Hash {
    hash::blake2b256(&[block_key])
}

/// `Hypercore.blockEncryptionKey(key, encryptionKey)`: the manifest-mode block key
/// `H(ns::DEFAULT_ENCRYPTION ‖ coreKey ‖ encryptionKey)`.
#[must_use]
pub fn block_encryption_key(core_key: &[u8; 32], encryption_key: &[u8; 32]) -> Hash {
    hash::blake2b256(&[&ns::DEFAULT_ENCRYPTION, core_key, encryption_key])
}

/// The nonce that blinds the fork of block `index`: `u64le(index) ‖ 00×16`.
#[must_use]
pub fn blinding_nonce(index: u64) -> [u8; NONCE_LEN] {
    nonce(index, &[0; PADDING])
}

/// The nonce that encrypts block `index` with padding (blinded fork) `padding`:
/// `u64le(index) ‖ padding ‖ 00×8`.
#[must_use]
pub fn nonce(index: u64, padding: &[u8; PADDING]) -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    n[..8].copy_from_slice(&index.to_le_bytes());
    n[8..16].copy_from_slice(padding);
    n
}

fn xor_keystream(key: &[u8; 32], nonce: &[u8; NONCE_LEN], buf: &mut [u8]) {
    XSalsa20::new(key.into(), nonce.into()).apply_keystream(buf);
}

/// The block and blinding keys of an encrypted core. `Debug` does not print them.
#[derive(Clone, PartialEq, Eq)]
pub struct BlockEncryption {
    block_key: Hash,
    blinding_key: Hash,
}

impl fmt::Debug for BlockEncryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockEncryption { .. }")
    }
}

impl BlockEncryption {
    /// Derives the keys of `encryption_key` for the core `core_key` in `mode`.
    #[must_use]
    pub fn new(encryption_key: &[u8; 32], core_key: &[u8; 32], mode: KeyMode) -> Self {
        Self::from_block_key(&derive_block_key(encryption_key, core_key, mode))
    }

    /// The keys of a block key (its blinding key is `H(block_key)`).
    #[must_use]
    pub fn from_block_key(block_key: &[u8; 32]) -> Self {
        Self {
            block_key: *block_key,
            blinding_key: blinding_key(block_key),
        }
    }

    /// The block key.
    #[must_use]
    pub fn block_key(&self) -> &Hash {
        &self.block_key
    }

    /// The blinding key.
    #[must_use]
    pub fn blinding_key(&self) -> &Hash {
        &self.blinding_key
    }

    /// The padding of block `index` appended at fork `fork`: the blinded fork.
    #[must_use]
    pub fn blinded_fork(&self, index: u64, fork: u64) -> [u8; PADDING] {
        let mut padding = fork.to_le_bytes();
        xor_keystream(&self.blinding_key, &blinding_nonce(index), &mut padding);
        padding
    }

    /// The fork a stored block `index` was encrypted at, read back from its padding (the
    /// inverse of [`blinded_fork`](Self::blinded_fork)).
    #[must_use]
    pub fn unblind_fork(&self, index: u64, padding: &[u8; PADDING]) -> u64 {
        let mut fork = *padding;
        xor_keystream(&self.blinding_key, &blinding_nonce(index), &mut fork);
        u64::from_le_bytes(fork)
    }

    /// Encrypts block `index` at fork `fork`: returns `padding ‖ ciphertext`
    /// (`plaintext.len() + PADDING` bytes), the bytes that are stored, hashed and sent.
    #[must_use]
    pub fn encrypt(&self, index: u64, fork: u64, plaintext: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; PADDING + plaintext.len()];
        out[PADDING..].copy_from_slice(plaintext);
        self.seal(index, fork, &mut out);
        out
    }

    /// Like [`encrypt`](Self::encrypt), writing into `out`, which must be exactly
    /// `plaintext.len() + PADDING` bytes long.
    ///
    /// # Errors
    /// [`Error::Misuse`] if `out` has the wrong length.
    pub fn encrypt_into(
        &self,
        index: u64,
        fork: u64,
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<(), Error> {
        let dst = out
            .get_mut(PADDING..)
            .filter(|d| d.len() == plaintext.len())
            .ok_or(Error::Misuse(
                "output buffer must be plaintext length + PADDING",
            ))?;
        dst.copy_from_slice(plaintext);
        self.seal(index, fork, out);
        Ok(())
    }

    /// Encrypts in place, as the reference does: `block[PADDING..]` holds the plaintext and
    /// becomes the ciphertext; `block[..PADDING]` is overwritten with the padding.
    ///
    /// # Errors
    /// [`Error::Misuse`] if `block` is shorter than [`PADDING`].
    pub fn encrypt_in_place(&self, index: u64, fork: u64, block: &mut [u8]) -> Result<(), Error> {
        if block.len() < PADDING {
            return Err(Error::Misuse("block buffer shorter than PADDING"));
        }
        self.seal(index, fork, block);
        Ok(())
    }

    /// `block.len() >= PADDING`: writes the padding and encrypts the rest.
    fn seal(&self, index: u64, fork: u64, block: &mut [u8]) {
        let (head, body) = block.split_at_mut(PADDING);
        let padding = self.blinded_fork(index, fork);
        head.copy_from_slice(&padding);
        xor_keystream(&self.block_key, &nonce(index, &padding), body);
    }

    /// Decrypts the stored block `index` (`padding ‖ ciphertext`) into a new vector.
    ///
    /// # Errors
    /// [`Error::Decode`] if `stored` is shorter than [`PADDING`].
    pub fn decrypt(&self, index: u64, stored: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = stored.to_vec();
        self.decrypt_in_place(index, &mut out)?;
        out.drain(..PADDING);
        Ok(out)
    }

    /// Decrypts in place: `stored[PADDING..]` becomes the plaintext (the padding is left as
    /// it is).
    ///
    /// # Errors
    /// [`Error::Decode`] if `stored` is shorter than [`PADDING`].
    pub fn decrypt_in_place(&self, index: u64, stored: &mut [u8]) -> Result<(), Error> {
        if stored.len() < PADDING {
            return Err(Error::Decode(DecodeError::UnexpectedEnd {
                offset: 0,
                needed: PADDING - stored.len(),
            }));
        }
        let (head, body) = stored.split_at_mut(PADDING);
        let mut padding = [0u8; PADDING];
        padding.copy_from_slice(head);
        xor_keystream(&self.block_key, &nonce(index, &padding), body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_differ_and_blinding_is_hash_of_block_key() {
        let (ek, ck) = ([1; 32], [2; 32]);
        let m = BlockEncryption::new(&ek, &ck, KeyMode::Manifest);
        let c = BlockEncryption::new(&ek, &ck, KeyMode::Compat);
        let b = BlockEncryption::new(&ek, &ck, KeyMode::BlockKey);
        assert_ne!(m.block_key(), c.block_key());
        assert_eq!(b.block_key(), &ek);
        for e in [&m, &c, &b] {
            assert_eq!(e.blinding_key(), &hash::blake2b256(&[e.block_key()]));
        }
        assert_eq!(alloc::format!("{m:?}"), "BlockEncryption { .. }");
    }

    #[test]
    fn in_place_variants_agree() {
        let e = BlockEncryption::from_block_key(&[9; 32]);
        let plain = b"some block";
        let expected = e.encrypt(3, 7, plain);
        let mut out = vec![0u8; plain.len() + PADDING];
        e.encrypt_into(3, 7, plain, &mut out).unwrap();
        assert_eq!(out, expected);
        let mut buf = vec![0xaa; PADDING];
        buf.extend_from_slice(plain);
        e.encrypt_in_place(3, 7, &mut buf).unwrap();
        assert_eq!(buf, expected);
        e.decrypt_in_place(3, &mut buf).unwrap();
        assert_eq!(&buf[PADDING..], plain);
        assert_eq!(&buf[..PADDING], &e.blinded_fork(3, 7));
        assert_eq!(e.unblind_fork(3, &e.blinded_fork(3, 7)), 7);
    }

    #[test]
    fn bad_lengths() {
        let e = BlockEncryption::from_block_key(&[9; 32]);
        assert!(matches!(
            e.encrypt_into(0, 0, b"abc", &mut [0u8; 10]),
            Err(Error::Misuse(_))
        ));
        assert!(matches!(
            e.encrypt_into(0, 0, b"abc", &mut [0u8; 4]),
            Err(Error::Misuse(_))
        ));
        assert!(matches!(
            e.encrypt_in_place(0, 0, &mut [0u8; 7]),
            Err(Error::Misuse(_))
        ));
        assert!(matches!(e.decrypt(0, &[1, 2, 3]), Err(Error::Decode(_))));
        assert_eq!(e.decrypt(0, &e.encrypt(0, 0, b"")).unwrap(), b"");
    }
}
