//! The dense form of a bitfield page: 1024 little-endian-bit-order `u32` words (4 KiB)
//! and their population count.

use alloc::boxed::Box;

use super::{BITS_PER_PAGE, WORDS_PER_PAGE};

/// Bit `b` of the page lives in word `b >> 5` at bit `b & 31`.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Dense {
    pub(super) words: [u32; WORDS_PER_PAGE],
    /// Number of set bits (kept in sync by every mutation).
    pub(super) ones: u32,
}

impl core::fmt::Debug for Dense {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Dense").field("ones", &self.ones).finish()
    }
}

/// The mask of bits `a .. b` of a word (`a < b <= 32`).
#[inline]
fn word_mask(a: u32, b: u32) -> u32 {
    (u32::MAX >> (32 - (b - a))) << a
}

/// Calls `f(word, mask)` for every word touched by bits `lo .. hi` of a page
/// (`lo < hi <= BITS_PER_PAGE`), with the mask of the bits of that word in the range.
#[inline]
pub(super) fn for_each_word(lo: u32, hi: u32, mut f: impl FnMut(usize, u32)) {
    let first = lo >> 5;
    let last = (hi - 1) >> 5;
    for w in first..=last {
        let a = if w == first { lo & 31 } else { 0 };
        let b = if w == last { ((hi - 1) & 31) + 1 } else { 32 };
        f(w as usize, word_mask(a, b));
    }
}

impl Dense {
    /// A page with every bit equal to `value`.
    pub(super) fn filled(value: bool) -> Box<Self> {
        Box::new(Dense {
            words: [if value { u32::MAX } else { 0 }; WORDS_PER_PAGE],
            ones: if value { BITS_PER_PAGE as u32 } else { 0 },
        })
    }

    #[inline]
    pub(super) fn get(&self, bit: u32) -> bool {
        self.words[(bit >> 5) as usize & (WORDS_PER_PAGE - 1)] & (1 << (bit & 31)) != 0
    }

    /// Sets bits `lo .. hi` (`lo < hi <= BITS_PER_PAGE`) to `value`.
    pub(super) fn fill(&mut self, lo: u32, hi: u32, value: bool) {
        let Dense { words, ones } = self;
        for_each_word(lo, hi, |w, mask| {
            let old = words[w];
            let new = if value { old | mask } else { old & !mask };
            words[w] = new;
            *ones = *ones - old.count_ones() + new.count_ones();
        });
    }

    /// Copies words `at .. at + dst.len()` into `dst` (`at + dst.len() <= WORDS_PER_PAGE`).
    pub(super) fn read(&self, at: usize, dst: &mut [u32]) {
        dst.copy_from_slice(&self.words[at..at + dst.len()]);
    }

    /// Overwrites the words from word `at` on with `src` (`at + src.len() <= WORDS_PER_PAGE`).
    pub(super) fn write(&mut self, at: usize, src: &[u32]) {
        let dst = &mut self.words[at..at + src.len()];
        self.ones = self.ones - popcount(dst) + popcount(src);
        dst.copy_from_slice(src);
    }

    /// Number of set bits in `lo .. hi` (`lo < hi <= BITS_PER_PAGE`).
    pub(super) fn count(&self, lo: u32, hi: u32) -> u32 {
        if lo == 0 && hi == BITS_PER_PAGE as u32 {
            return self.ones;
        }
        let mut n = 0;
        for_each_word(lo, hi, |w, mask| n += (self.words[w] & mask).count_ones());
        n
    }

    /// The first bit at or after `from` equal to `value`.
    pub(super) fn find_first(&self, value: bool, from: u32) -> Option<u32> {
        let flip = if value { 0 } else { u32::MAX };
        let start = (from >> 5) as usize;
        for (w, &word) in self.words.iter().enumerate().skip(start) {
            let mut x = word ^ flip;
            if w == start {
                x &= u32::MAX << (from & 31);
            }
            if x != 0 {
                return Some(((w as u32) << 5) | x.trailing_zeros());
            }
        }
        None
    }

    /// The last bit at or before `upto` equal to `value`.
    pub(super) fn find_last(&self, value: bool, upto: u32) -> Option<u32> {
        let flip = if value { 0 } else { u32::MAX };
        let end = (upto >> 5) as usize;
        for w in (0..=end).rev() {
            let mut x = self.words[w] ^ flip;
            if w == end {
                x &= u32::MAX >> (31 - (upto & 31));
            }
            if x != 0 {
                return Some(((w as u32) << 5) | (31 - x.leading_zeros()));
            }
        }
        None
    }
}

/// The number of set bits in `words`.
pub(super) fn popcount(words: &[u32]) -> u32 {
    words.iter().map(|w| w.count_ones()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_count_and_find() {
        let mut p = Dense::filled(false);
        p.fill(3, 70, true);
        assert_eq!(p.ones, 67);
        assert_eq!(p.count(0, 32768), 67);
        assert_eq!(p.count(30, 40), 10);
        assert_eq!(p.find_first(true, 0), Some(3));
        assert_eq!(p.find_first(false, 3), Some(70));
        assert_eq!(p.find_last(true, 32767), Some(69));
        assert_eq!(p.find_last(false, 69), Some(2));
        assert_eq!(p.find_first(true, 70), None);
        p.fill(0, 32768, true);
        assert_eq!(p.ones, 32768);
        assert_eq!(p.find_first(false, 0), None);
        assert_eq!(p.find_last(false, 32767), None);
    }

    #[test]
    fn write_keeps_the_count() {
        let mut p = Dense::filled(true);
        p.write(1, &[0, 1, u32::MAX]);
        assert_eq!(p.ones, 32768 - 63);
        assert_eq!(p.ones, popcount(&p.words));
    }
}
