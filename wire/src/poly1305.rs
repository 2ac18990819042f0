//! Poly1305 (RFC 8439), the one-time authenticator of [`secretstream`](crate::secretstream).
//!
//! [`Mac`] runs each message through whichever of two implementations is faster at its
//! length: ours ([`Poly1305`]: three limbs of 44, 44 and 42 bits, 128-bit products,
//! constant time) below [`LONG`] bytes, the `poly1305` crate's from there on. On x86-64
//! that crate picks its AVX2 backend at run time, which does four blocks at once but calls
//! its intrinsics out of line (its helpers lack the `avx2` target feature the intrinsics
//! need to be inlined), so each message pays about 1 µs of set-up and finish. Measured on
//! this project's 2-core machine, warm loop, ns per MAC:
//!
//! | bytes | `poly1305` crate | ours |
//! |---|---|---|
//! | 32 | 1,049 | 27 |
//! | 512 | 1,648 | 297 |
//! | 4,160 (a 4 KiB block's message) | 2,863 | 2,327 |
//! | 8,256 | 4,217 | 4,684 |
//! | 65,600 | 23,599 | 36,272 |
//!
//! A live append is four messages, each sealed and opened: eight MACs, most of them over
//! less than 100 bytes.

use zeroize::Zeroize;

/// The MAC's length.
pub const TAG_LEN: usize = 16;

/// Messages of at least this many bytes go to the `poly1305` crate (the table above puts
/// the crossing between 4 and 8 KiB).
pub const LONG: usize = 6 * 1024;

/// A Poly1305 computation, by whichever implementation suits the message's length.
// One lives on the stack for the span of one message: boxing the large variant would
// allocate for every long message instead.
#[allow(clippy::large_enum_variant)]
pub enum Mac {
    /// Ours, for short messages.
    Short(Poly1305),
    /// The `poly1305` crate's, for long ones.
    Long(poly1305::Poly1305),
}

impl core::fmt::Debug for Mac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Short(_) => "Mac::Short(..)",
            Self::Long(_) => "Mac::Long(..)",
        })
    }
}

impl Mac {
    /// Starts a MAC under the one-time `key` for a message of about `len` bytes.
    #[must_use]
    pub fn new(key: &[u8; 32], len: usize) -> Self {
        use poly1305::universal_hash::KeyInit;
        if len < LONG {
            Self::Short(Poly1305::new(key))
        } else {
            Self::Long(poly1305::Poly1305::new(key.into()))
        }
    }

    /// Feeds `data`, zero-padding its last partial block to 16 bytes.
    pub fn update_padded(&mut self, data: &[u8]) {
        use poly1305::universal_hash::UniversalHash;
        match self {
            Self::Short(p) => p.update_padded(data),
            Self::Long(p) => p.update_padded(data),
        }
    }

    /// Feeds the last `data` (unpadded) and returns the tag.
    #[must_use]
    pub fn finalize(self, data: &[u8]) -> [u8; TAG_LEN] {
        match self {
            Self::Short(p) => p.finalize(data),
            Self::Long(p) => p.compute_unpadded(data).into(),
        }
    }
}

const MASK44: u64 = (1 << 44) - 1;
const MASK42: u64 = (1 << 42) - 1;
/// The 2^128 bit of a whole 16-byte block, in the top limb.
const HIBIT: u64 = 1 << 40;

/// A Poly1305 computation under one one-time key.
pub struct Poly1305 {
    /// The clamped `r`, in limbs.
    r: [u64; 3],
    /// `r1 * 20` and `r2 * 20`: the products that wrap past 2^130 (2^130 ≡ 5), pre-scaled.
    s: [u64; 2],
    /// The accumulator, in limbs (partly carried).
    h: [u64; 3],
    /// `s`, the key's second half, added at the end.
    pad: [u64; 2],
}

impl core::fmt::Debug for Poly1305 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Poly1305 { .. }")
    }
}

impl Drop for Poly1305 {
    fn drop(&mut self) {
        self.r.zeroize();
        self.s.zeroize();
        self.h.zeroize();
        self.pad.zeroize();
    }
}

fn le64(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

/// A 128-bit little-endian number (as two words) in 44/44/40-bit limbs.
fn limbs(lo: u64, hi: u64) -> [u64; 3] {
    [lo & MASK44, ((lo >> 44) | (hi << 20)) & MASK44, hi >> 24]
}

impl Poly1305 {
    /// Starts a MAC under the 32-byte one-time `key` (`r ‖ s`).
    #[must_use]
    pub fn new(key: &[u8; 32]) -> Self {
        let r = limbs(
            le64(&key[0..8]) & 0x0fff_fffc_0fff_ffff,
            le64(&key[8..16]) & 0x0fff_fffc_0fff_fffc,
        );
        Self {
            r,
            s: [r[1] * 20, r[2] * 20],
            h: [0; 3],
            pad: [le64(&key[16..24]), le64(&key[24..32])],
        }
    }

    /// `h = (h + block) * r mod 2^130 - 5`; `hibit` is the 2^128 bit (0 for the last,
    /// 0x01-padded partial block).
    #[inline]
    fn block(&mut self, block: &[u8], hibit: u64) {
        let m = limbs(le64(&block[0..8]), le64(&block[8..16]));
        let h0 = u128::from(self.h[0] + m[0]);
        let h1 = u128::from(self.h[1] + m[1]);
        let h2 = u128::from(self.h[2] + (m[2] | hibit));
        let (r0, r1, r2) = (
            u128::from(self.r[0]),
            u128::from(self.r[1]),
            u128::from(self.r[2]),
        );
        let (s1, s2) = (u128::from(self.s[0]), u128::from(self.s[1]));
        let d0 = h0 * r0 + h1 * s2 + h2 * s1;
        let d1 = h0 * r1 + h1 * r0 + h2 * s2 + (d0 >> 44);
        let d2 = h0 * r2 + h1 * r1 + h2 * r0 + (d1 >> 44);
        // The limbs stay below 2^45 between blocks: carried once, the top wrapping by 5.
        let carry = (d2 >> 42) as u64;
        let g0 = (d0 as u64 & MASK44) + carry * 5;
        self.h = [
            g0 & MASK44,
            (d1 as u64 & MASK44) + (g0 >> 44),
            d2 as u64 & MASK42,
        ];
    }

    /// Feeds `data`'s whole blocks; the partial last block (if any) is zero-padded, or
    /// with `last` ends in a 0x01 byte instead and counts without the 2^128 bit.
    fn feed(&mut self, data: &[u8], last: bool) {
        let mut blocks = data.chunks_exact(16);
        for block in &mut blocks {
            self.block(block, HIBIT);
        }
        let rest = blocks.remainder();
        if !rest.is_empty() {
            let mut block = [0u8; 16];
            block[..rest.len()].copy_from_slice(rest);
            if last {
                block[rest.len()] = 1;
            }
            self.block(&block, if last { 0 } else { HIBIT });
        }
    }

    /// Feeds `data`, zero-padding its last partial block to 16 bytes (as the AEAD
    /// constructions pad).
    pub fn update_padded(&mut self, data: &[u8]) {
        self.feed(data, false);
    }

    /// Feeds the last `data` (a partial last block ends with the 0x01 byte, not zeros)
    /// and returns the tag.
    #[must_use]
    pub fn finalize(mut self, data: &[u8]) -> [u8; TAG_LEN] {
        self.feed(data, true);
        // Carry fully: h < 2^130 + a little, each limb within its width.
        let [mut h0, mut h1, mut h2] = self.h;
        for _ in 0..2 {
            h1 += h0 >> 44;
            h0 &= MASK44;
            h2 += h1 >> 44;
            h1 &= MASK44;
            h0 += (h2 >> 42) * 5;
            h2 &= MASK42;
        }
        h1 += h0 >> 44;
        h0 &= MASK44;
        // h - p = h + 5 - 2^130: taken when it does not go below zero (constant time).
        let g0 = h0 + 5;
        let g1 = h1 + (g0 >> 44);
        let g2 = (h2 + (g1 >> 44)).wrapping_sub(1 << 42);
        let take_g = (g2 >> 63).wrapping_sub(1);
        h0 = (h0 & !take_g) | (g0 & MASK44 & take_g);
        h1 = (h1 & !take_g) | (g1 & MASK44 & take_g);
        h2 = (h2 & !take_g) | (g2 & MASK42 & take_g);
        // + s, mod 2^128.
        let s = limbs(self.pad[0], self.pad[1]);
        h0 += s[0];
        h1 += s[1] + (h0 >> 44);
        h2 += s[2] + (h1 >> 44);
        let (h0, h1) = (h0 & MASK44, h1 & MASK44);
        let lo = h0 | (h1 << 44);
        let hi = (h1 >> 20) | (h2 << 24);
        let mut tag = [0u8; TAG_LEN];
        tag[..8].copy_from_slice(&lo.to_le_bytes());
        tag[8..].copy_from_slice(&hi.to_le_bytes());
        tag
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use poly1305::universal_hash::{KeyInit, UniversalHash};
    use proptest::prelude::*;

    fn mac(key: &[u8; 32], padded: &[u8], last: &[u8]) -> [u8; 16] {
        let mut p = Poly1305::new(key);
        p.update_padded(padded);
        p.finalize(last)
    }

    fn reference(key: &[u8; 32], padded: &[u8], last: &[u8]) -> [u8; 16] {
        let mut p = poly1305::Poly1305::new(poly1305::Key::from_slice(key));
        p.update_padded(padded);
        p.compute_unpadded(last).into()
    }

    fn hex32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// RFC 8439, 2.5.2.
    #[test]
    fn rfc8439_example() {
        let key = hex32("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
        let tag = mac(&key, &[], b"Cryptographic Forum Research Group");
        assert_eq!(hex::encode(tag), "a8061dc1305136c6c22b8baf0c0127a9");
    }

    /// RFC 8439, A.3, vectors #5 to #9: the ones that reach the edges of the reduction
    /// (h wrapping past 2^130 - 5, the final addition of s wrapping past 2^128).
    #[test]
    fn rfc8439_edge_vectors() {
        let key = |r0: u8, s: u8| {
            let mut k = [0u8; 32];
            k[0] = r0;
            k[16..].fill(s);
            k
        };
        let bytes = |parts: &[(u8, usize)]| -> Vec<u8> {
            parts
                .iter()
                .flat_map(|&(b, n)| core::iter::repeat_n(b, n))
                .collect()
        };
        let cases: [([u8; 32], Vec<u8>, Vec<u8>); 5] = [
            (key(2, 0), bytes(&[(0xff, 16)]), bytes(&[(3, 1), (0, 15)])),
            (
                key(2, 0xff),
                bytes(&[(2, 1), (0, 15)]),
                bytes(&[(3, 1), (0, 15)]),
            ),
            (
                key(1, 0),
                bytes(&[(0xff, 16), (0xf0, 1), (0xff, 15), (0x11, 1), (0, 15)]),
                bytes(&[(5, 1), (0, 15)]),
            ),
            (
                key(1, 0),
                bytes(&[(0xff, 16), (0xfb, 1), (0xfe, 15), (1, 16)]),
                bytes(&[(0, 16)]),
            ),
            (
                key(2, 0),
                bytes(&[(0xfd, 1), (0xff, 15)]),
                bytes(&[(0xfa, 1), (0xff, 15)]),
            ),
        ];
        for (i, (key, message, tag)) in cases.iter().enumerate() {
            assert_eq!(&mac(key, &[], message)[..], &tag[..], "vector #{}", i + 5);
            assert_eq!(reference(key, &[], message), mac(key, &[], message));
        }
    }

    #[test]
    fn extreme_keys_and_messages_match_the_reference() {
        let keys = [[0u8; 32], [0xff; 32], {
            let mut k = [0xff; 32];
            k[16..].fill(0);
            k
        }];
        for key in &keys {
            for len in 0..100 {
                for fill in [0u8, 0xff] {
                    let m = alloc::vec![fill; len];
                    let split = len / 32 * 16;
                    assert_eq!(
                        mac(key, &m[..split], &m[split..]),
                        reference(key, &m[..split], &m[split..]),
                        "len {len} fill {fill:#x}"
                    );
                }
            }
        }
    }

    #[test]
    fn both_sides_of_the_threshold_agree() {
        let key = [0x5au8; 32];
        for len in [LONG - 17, LONG - 1, LONG, LONG + 15, 3 * LONG] {
            let m: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let split = (len / 2) & !15;
            let mut a = Mac::new(&key, len);
            assert_eq!(matches!(a, Mac::Long(_)), len >= LONG);
            a.update_padded(&m[..split]);
            assert_eq!(
                a.finalize(&m[split..]),
                reference(&key, &m[..split], &m[split..])
            );
            assert_eq!(
                mac(&key, &m[..split], &m[split..]),
                reference(&key, &m[..split], &m[split..])
            );
        }
    }

    proptest! {
        #[test]
        fn matches_the_poly1305_crate(
            key in proptest::array::uniform32(any::<u8>()),
            padded in proptest::collection::vec(any::<u8>(), 0..300),
            last in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            prop_assert_eq!(mac(&key, &padded, &last), reference(&key, &padded, &last));
        }
    }
}
