//! libsodium's `crypto_secretstream_xchacha20poly1305`, byte for byte, built on the
//! RustCrypto ChaCha20 and [Poly1305](crate::poly1305) (ours for short messages, see there
//! why), encrypting and decrypting in place or in one pass from one buffer to another
//! ([`Push::seal_from`], [`Pull::open_into`]).
//!
//! One direction of a secret-stream connection is one [`Push`] (the sender) and one
//! [`Pull`] (the receiver) sharing a key and a 24-byte header. A message of `m` bytes
//! becomes `m + 17` bytes: an encrypted tag byte, the ciphertext, a 16-byte MAC.
//!
//! ```
//! use ferrocore_wire::secretstream::{Pull, Push, ABYTES, TAG_MESSAGE};
//!
//! let (key, header) = ([7u8; 32], [9u8; 24]);
//! let (mut push, mut pull) = (Push::new(&key, &header), Pull::new(&key, &header));
//! let mut record = vec![0u8; 5 + ABYTES];
//! record[1..6].copy_from_slice(b"hello");
//! push.seal(&mut record, TAG_MESSAGE);
//! let (tag, plain) = pull.open(&mut record).unwrap();
//! assert_eq!((tag, &*plain), (TAG_MESSAGE, &b"hello"[..]));
//! ```

use crate::poly1305::Mac;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20::{hchacha, ChaCha20};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Bytes a sealed message adds to its plaintext: the tag byte and the MAC.
pub const ABYTES: usize = 1 + MAC_LEN;
/// Length of the header that starts a stream.
pub const HEADER_LEN: usize = 24;
/// Length of the key.
pub const KEY_LEN: usize = 32;
/// Length of the MAC.
pub const MAC_LEN: usize = 16;
/// The ordinary message tag (the only one secret-stream sends).
pub const TAG_MESSAGE: u8 = 0;
/// Tag: the end of a group of messages.
pub const TAG_PUSH: u8 = 1;
/// Tag: rekey after this message.
pub const TAG_REKEY: u8 = 2;
/// Tag: the last message of the stream.
pub const TAG_FINAL: u8 = TAG_PUSH | TAG_REKEY;

/// A message failed authentication (or was shorter than [`ABYTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("secretstream message failed authentication")]
pub struct AuthError;

/// The state both directions share: the subkey and the nonce (counter ‖ inonce).
struct State {
    key: [u8; 32],
    /// `counter (u32 LE) ‖ inonce (8 bytes)`.
    nonce: [u8; 12],
}

impl Drop for State {
    fn drop(&mut self) {
        self.key.zeroize();
        self.nonce.zeroize();
    }
}

impl State {
    fn new(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        let sub = hchacha::<chacha20::cipher::consts::U10>(key.into(), header[..16].into());
        let mut state = Self {
            key: sub.into(),
            nonce: [0; 12],
        };
        state.nonce[4..].copy_from_slice(&header[16..]);
        state.reset_counter();
        state
    }

    fn reset_counter(&mut self) {
        self.nonce[..4].copy_from_slice(&1u32.to_le_bytes());
    }

    /// The cipher for this message, positioned at keystream block 0.
    fn cipher(&self) -> ChaCha20 {
        ChaCha20::new((&self.key).into(), (&self.nonce).into())
    }

    /// Runs the message's cipher over `tag_block` (block 1) and `body` (blocks 2..),
    /// returning the Poly1305 instance keyed by block 0 for a body of `len` bytes.
    fn start(&self, tag_block: &mut [u8; 64], len: usize) -> (ChaCha20, Mac) {
        let mut cipher = self.cipher();
        let mut block0 = [0u8; 64];
        cipher.apply_keystream(&mut block0);
        let mut key = [0u8; 32];
        key.copy_from_slice(&block0[..32]);
        let mac = Mac::new(&key, len);
        key.zeroize();
        block0.zeroize();
        cipher.apply_keystream(tag_block);
        (cipher, mac)
    }

    /// Poly1305 over `ciphertext ‖ pad ‖ le64(0) ‖ le64(64 + len)`, libsodium's way: the
    /// pad is `len mod 16` zero bytes.
    fn finish_mac(mut mac: Mac, ciphertext: &[u8]) -> [u8; MAC_LEN] {
        let whole = ciphertext.len() & !15;
        mac.update_padded(&ciphertext[..whole]);
        let rest = &ciphertext[whole..];
        let mut tail = [0u8; 15 + 15 + 16];
        tail[..rest.len()].copy_from_slice(rest);
        let pad = ciphertext.len() % 16;
        let mut at = rest.len() + pad;
        tail[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
        at += 8;
        tail[at..at + 8].copy_from_slice(&(64 + ciphertext.len() as u64).to_le_bytes());
        at += 8;
        mac.finalize(&tail[..at])
    }

    /// After a message: fold the MAC into the inonce, step the counter, rekey on wrap or
    /// on a rekey tag.
    fn advance(&mut self, mac: &[u8; MAC_LEN], tag: u8) {
        for (n, m) in self.nonce[4..].iter_mut().zip(mac) {
            *n ^= m;
        }
        let counter =
            u32::from_le_bytes([self.nonce[0], self.nonce[1], self.nonce[2], self.nonce[3]])
                .wrapping_add(1);
        self.nonce[..4].copy_from_slice(&counter.to_le_bytes());
        if tag & TAG_REKEY != 0 || counter == 0 {
            self.rekey();
        }
    }

    /// `crypto_secretstream_xchacha20poly1305_rekey`.
    fn rekey(&mut self) {
        let mut next = [0u8; 40];
        next[..32].copy_from_slice(&self.key);
        next[32..].copy_from_slice(&self.nonce[4..]);
        self.cipher().apply_keystream(&mut next);
        self.key.copy_from_slice(&next[..32]);
        self.nonce[4..].copy_from_slice(&next[32..]);
        next.zeroize();
        self.reset_counter();
    }
}

/// The sending half of a secretstream.
pub struct Push {
    state: State,
}

impl core::fmt::Debug for Push {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Push { .. }")
    }
}

impl Push {
    /// A stream under `key` starting with `header` (which the caller drew at random and
    /// sends to the peer first: `init_push`).
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Seals one message in place. `record` is `[tag slot (1)] ‖ plaintext ‖ [MAC slot
    /// (16)]`: the plaintext sits at `record[1..len - 16]`; the first and last 16 bytes'
    /// contents are overwritten. Panics if `record` is shorter than [`ABYTES`] (a caller
    /// bug, not input).
    pub fn seal(&mut self, record: &mut [u8], tag: u8) {
        self.seal_with(record, tag, |cipher, body| cipher.apply_keystream(body));
    }

    /// Seals `plain` into `record`, which must be exactly `plain.len() + ABYTES` bytes:
    /// encrypts in one pass from `plain` into the record (no copy into it first). Panics
    /// if `record` has the wrong length (a caller bug, not input).
    pub fn seal_from(&mut self, plain: &[u8], record: &mut [u8], tag: u8) {
        assert_eq!(
            record.len(),
            plain.len() + ABYTES,
            "room for exactly the record"
        );
        self.seal_with(record, tag, |cipher, body| {
            cipher
                .apply_keystream_b2b(plain, body)
                .expect("lengths checked above");
        });
    }

    /// Seals `record` once `fill` has written the encrypted body into `record[1..len - 16]`.
    fn seal_with(
        &mut self,
        record: &mut [u8],
        tag: u8,
        fill: impl FnOnce(&mut ChaCha20, &mut [u8]),
    ) {
        assert!(
            record.len() >= ABYTES,
            "a record has room for its tag and MAC"
        );
        let body_end = record.len() - MAC_LEN;
        let mut tag_block = [0u8; 64];
        tag_block[0] = tag;
        let (mut cipher, mut mac) = self.state.start(&mut tag_block, record.len() - ABYTES);
        record[0] = tag_block[0];
        mac.update_padded(&tag_block);
        let body = &mut record[1..body_end];
        fill(&mut cipher, body);
        let mac = State::finish_mac(mac, body);
        record[body_end..].copy_from_slice(&mac);
        self.state.advance(&mac, tag);
    }
}

/// The receiving half of a secretstream.
pub struct Pull {
    state: State,
}

impl core::fmt::Debug for Pull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pull { .. }")
    }
}

impl Pull {
    /// A stream under `key` starting with the peer's `header` (`init_pull`).
    #[must_use]
    pub fn new(key: &[u8; KEY_LEN], header: &[u8; HEADER_LEN]) -> Self {
        Self {
            state: State::new(key, header),
        }
    }

    /// Opens one sealed message in place: checks the MAC, decrypts, and returns the tag and
    /// the plaintext (a sub-slice of `record`). On failure nothing is decrypted and the
    /// state does not move, so the stream must be abandoned (the next message cannot be
    /// opened either).
    pub fn open<'a>(&mut self, record: &'a mut [u8]) -> Result<(u8, &'a mut [u8]), AuthError> {
        let (tag, mut cipher) = self.authenticate(record)?;
        let body_end = record.len() - MAC_LEN;
        let body = &mut record[1..body_end];
        cipher.apply_keystream(body);
        Ok((tag, body))
    }

    /// Opens one sealed message from `record` into `plain`, which must be exactly
    /// `record.len() - ABYTES` bytes long: checks the MAC, then decrypts in one pass from
    /// the record to `plain` (no copy of the record first). Returns the tag. On failure
    /// `plain` is untouched and the state does not move, as with [`open`](Self::open).
    /// Panics if `plain` has the wrong length (a caller bug, not input).
    pub fn open_into(&mut self, record: &[u8], plain: &mut [u8]) -> Result<u8, AuthError> {
        assert_eq!(
            plain.len(),
            record.len().saturating_sub(ABYTES),
            "room for exactly the plaintext"
        );
        let (tag, mut cipher) = self.authenticate(record)?;
        let body = &record[1..record.len() - MAC_LEN];
        cipher
            .apply_keystream_b2b(body, plain)
            .expect("lengths checked above");
        Ok(tag)
    }

    /// Checks `record`'s MAC and, if it holds, moves the state past it: the decrypted tag
    /// and the cipher positioned at the body.
    fn authenticate(&mut self, record: &[u8]) -> Result<(u8, ChaCha20), AuthError> {
        if record.len() < ABYTES {
            return Err(AuthError);
        }
        let body_end = record.len() - MAC_LEN;
        let mut tag_block = [0u8; 64];
        tag_block[0] = record[0];
        let (cipher, mut mac) = self.state.start(&mut tag_block, record.len() - ABYTES);
        let tag = tag_block[0];
        tag_block[0] = record[0];
        mac.update_padded(&tag_block);
        let expected = State::finish_mac(mac, &record[1..body_end]);
        if !ct_eq(&expected, &record[body_end..]) {
            return Err(AuthError);
        }
        self.state.advance(&expected, tag);
        Ok((tag, cipher))
    }
}

/// Constant-time equality of two MACs (`subtle`, which keeps the optimiser from adding an
/// early exit).
fn ct_eq(a: &[u8; MAC_LEN], b: &[u8]) -> bool {
    b.len() == MAC_LEN && bool::from(a[..].ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn seal(push: &mut Push, plain: &[u8], tag: u8) -> Vec<u8> {
        let mut record = vec![0u8; plain.len() + ABYTES];
        record[1..=plain.len()].copy_from_slice(plain);
        push.seal(&mut record, tag);
        record
    }

    #[test]
    fn round_trips_every_length_and_tag_and_rekeys() {
        let (key, header) = ([5u8; 32], [6u8; 24]);
        let (mut push, mut pull) = (Push::new(&key, &header), Pull::new(&key, &header));
        let mut pull_into = Pull::new(&key, &header);
        let mut push_from = Push::new(&key, &header);
        let long = crate::poly1305::LONG;
        for len in (0..200usize).chain([long - 1, long, 70_000]) {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let tag = [TAG_MESSAGE, TAG_PUSH, TAG_REKEY, TAG_FINAL][len % 4];
            let mut record = seal(&mut push, &plain, tag);
            if len > 0 {
                assert_ne!(&record[1..=len], &plain[..], "len {len} is encrypted");
            }
            let mut from = vec![0u8; len + ABYTES];
            push_from.seal_from(&plain, &mut from, tag);
            assert_eq!(from, record, "seal_from, len {len}");
            let mut out = vec![0u8; len];
            assert_eq!(pull_into.open_into(&record, &mut out), Ok(tag));
            assert_eq!(out, plain, "open_into, len {len}");
            let (t, p) = pull.open(&mut record).unwrap();
            assert_eq!((t, &*p), (tag, &plain[..]));
        }
    }

    #[test]
    fn any_flipped_bit_fails_and_does_not_advance() {
        let (key, header) = ([1u8; 32], [2u8; 24]);
        let mut push = Push::new(&key, &header);
        let record = seal(&mut push, b"some plaintext of 33 bytes long!!", TAG_MESSAGE);
        for bit in 0..record.len() * 8 {
            let mut pull = Pull::new(&key, &header);
            let mut bad = record.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(pull.open(&mut bad), Err(AuthError), "bit {bit}");
            let mut out = vec![7u8; record.len() - ABYTES];
            assert_eq!(pull.open_into(&bad, &mut out), Err(AuthError), "bit {bit}");
            assert!(
                out.iter().all(|&b| b == 7),
                "a failed open_into writes nothing"
            );
            let mut good = record.clone();
            assert!(
                pull.open(&mut good).is_ok(),
                "the failed open did not advance"
            );
        }
        let mut pull = Pull::new(&key, &header);
        assert_eq!(pull.open(&mut [0u8; 16]), Err(AuthError));
    }

    #[test]
    fn the_counter_wrap_rekeys_like_an_explicit_rekey() {
        let (key, header) = ([3u8; 32], [4u8; 24]);
        let mut a = Push::new(&key, &header);
        let mut b = Pull::new(&key, &header);
        a.state.nonce[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        b.state.nonce[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let before = a.state.key;
        let mut r = seal(&mut a, b"wrap", TAG_MESSAGE);
        assert_ne!(a.state.key, before, "wrapping the counter rekeyed");
        assert_eq!(&a.state.nonce[..4], &1u32.to_le_bytes());
        b.open(&mut r).unwrap();
        let mut r = seal(&mut a, b"after", TAG_MESSAGE);
        assert_eq!(&*b.open(&mut r).unwrap().1, b"after");
    }
}
