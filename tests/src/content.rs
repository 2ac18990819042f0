//! The deterministic byte streams the interop peers send and check (`tests/js/content.mjs`,
//! which documents the formula and its check values): byte `k` of the stream with base `b`
//! is byte `k mod 4` (little-endian) of `fmix32((k / 4 + b) mod 2^32)`, MurmurHash3's
//! 32-bit finaliser. `peer.mjs` uses base 0 for the Noise initiator and `0x8000_0000` for
//! the responder; `udx-peer.mjs` takes the base as a parameter (default 0).

/// The base of the stream a Noise initiator sends (`content.mjs` `BASE_INITIATOR`).
pub const BASE_INITIATOR: u32 = 0;
/// The base of the stream a Noise responder sends (`content.mjs` `BASE_RESPONDER`).
pub const BASE_RESPONDER: u32 = 0x8000_0000;

/// MurmurHash3's 32-bit finaliser (a bijection on `u32`).
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// Fills `buf` with bytes `[offset, offset + buf.len())` of the stream with base `base`.
pub fn fill(buf: &mut [u8], offset: u64, base: u32) {
    let byte = |k: u64| (fmix32(((k / 4) as u32).wrapping_add(base)) >> (8 * (k % 4))) as u8;
    // leading bytes up to a word boundary, whole words, trailing bytes
    let head = (offset.wrapping_neg() % 4).min(buf.len() as u64) as usize;
    let tail = (buf.len() - head) % 4;
    let tail_at = buf.len() - tail;
    let mut j = (((offset + head as u64) / 4) as u32).wrapping_add(base);
    for w in buf[head..tail_at].chunks_exact_mut(4) {
        w.copy_from_slice(&fmix32(j).to_le_bytes());
        j = j.wrapping_add(1);
    }
    for i in (0..head).chain(tail_at..buf.len()) {
        buf[i] = byte(offset + i as u64);
    }
}

/// Bytes `[offset, offset + len)` of the stream with base `base`.
pub fn bytes(offset: u64, len: usize, base: u32) -> Vec<u8> {
    let mut v = vec![0; len];
    fill(&mut v, offset, base);
    v
}

/// The offset (in the stream) of the first byte of `buf` that differs from the stream with
/// base `base` read from `offset`, or `None` if all match.
pub fn first_mismatch(buf: &[u8], offset: u64, base: u32) -> Option<u64> {
    let expected = bytes(offset, buf.len(), base);
    buf.iter()
        .zip(&expected)
        .position(|(a, b)| a != b)
        .map(|i| offset + i as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn matches_the_check_values_of_content_mjs() {
        assert_eq!(
            hex::encode(bytes(0, 16, BASE_INITIATOR)),
            "00000000b7284e5106c3f43027b4f085"
        );
        assert_eq!(
            hex::encode(bytes(0, 16, BASE_RESPONDER)),
            "a0653c6d6a7a7f8bfdd9ab4e39d2cab7"
        );
        assert_eq!(
            hex::encode(Sha256::digest(bytes(0, 1 << 20, BASE_INITIATOR))),
            "dd079504cf480f66fc8c3f4d7dfd46e449e419038daabe348932a5d45e062103"
        );
        assert_eq!(
            hex::encode(Sha256::digest(bytes(0, 1 << 20, BASE_RESPONDER))),
            "bba5154af823126bd68b151681c01455e187f581196ef426803e1df5f655cb9f"
        );
    }

    #[test]
    fn the_word_wise_fill_is_the_byte_formula() {
        let byte = |k: u64| (fmix32(((k / 4) as u32).wrapping_add(9)) >> (8 * (k % 4))) as u8;
        for offset in 0..9u64 {
            for len in 0..13usize {
                let want: Vec<u8> = (offset..offset + len as u64).map(byte).collect();
                assert_eq!(bytes(offset, len, 9), want, "offset {offset} len {len}");
            }
        }
    }

    #[test]
    fn unaligned_offsets_continue_the_stream() {
        let whole = bytes(0, 100, 7);
        assert_eq!(bytes(13, 50, 7), whole[13..63]);
        assert_eq!(first_mismatch(&whole[13..63], 13, 7), None);
        let mut bad = whole[13..63].to_vec();
        bad[20] ^= 1;
        assert_eq!(first_mismatch(&bad, 13, 7), Some(33));
    }
}
