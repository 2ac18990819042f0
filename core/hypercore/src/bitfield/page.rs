//! One stored (partial) page of a bitfield, in one of two forms with the same content
//! semantics: [`Sparse`] (a few runs, a few bytes) until it needs more than
//! [`MAX_RUNS`](super::sparse::MAX_RUNS) runs, then [`Dense`] (the 4 KiB of words).
//!
//! A page turns dense when a change needs more runs, and sparse again only when it is
//! replaced whole ([`Page::from_words`]); it is freed when it empties or fills (see the
//! bitfield's canonical form), so a dense page's mutations stay word operations.

use alloc::borrow::Cow;
use alloc::boxed::Box;

use super::dense::Dense;
use super::sparse::Sparse;
use super::{BITS_PER_PAGE, WORDS_PER_PAGE};

/// A stored page.
#[derive(Clone, Debug)]
pub(super) enum Page {
    /// At most `MAX_RUNS` runs of set bits.
    Sparse(Sparse),
    /// The words, boxed.
    Dense(Box<Dense>),
}

impl PartialEq for Page {
    /// Equal content, whichever the forms.
    fn eq(&self, other: &Page) -> bool {
        match (self, other) {
            (Page::Sparse(a), Page::Sparse(b)) => a == b,
            (Page::Dense(a), Page::Dense(b)) => a.words == b.words,
            _ => self.ones() == other.ones() && *self.words() == *other.words(),
        }
    }
}

impl Eq for Page {}

impl Page {
    /// An empty page (sparse; allocates nothing).
    pub(super) fn empty() -> Page {
        Page::Sparse(Sparse::default())
    }

    /// A full page (one run).
    pub(super) fn full() -> Page {
        let mut s = Sparse::default();
        s.fill(0, BITS_PER_PAGE as u32, true);
        Page::Sparse(s)
    }

    /// The page holding `words`, sparse if it has few runs.
    pub(super) fn from_words(words: &[u32; WORDS_PER_PAGE]) -> Page {
        let mut page = Page::empty();
        page.replace(words);
        page
    }

    /// Replaces the whole content with `words`: sparse if it has few runs, else dense
    /// (reusing this page's words if it is dense already).
    pub(super) fn replace(&mut self, words: &[u32; WORDS_PER_PAGE]) {
        match (Sparse::from_words(words), &mut *self) {
            (Some(s), _) => *self = Page::Sparse(s),
            (None, Page::Dense(d)) => d.write(0, words),
            (None, Page::Sparse(_)) => {
                let mut d = Dense::filled(false);
                d.write(0, words);
                *self = Page::Dense(d);
            }
        }
    }

    /// Number of set bits.
    pub(super) fn ones(&self) -> u32 {
        match self {
            Page::Sparse(s) => s.ones(),
            Page::Dense(d) => d.ones,
        }
    }

    /// True if no bit is set.
    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        match self {
            Page::Sparse(s) => s.is_empty(),
            Page::Dense(d) => d.ones == 0,
        }
    }

    /// True if every bit is set.
    #[inline]
    pub(super) fn is_full(&self) -> bool {
        match self {
            Page::Sparse(s) => s.is_full(),
            Page::Dense(d) => u64::from(d.ones) == BITS_PER_PAGE,
        }
    }

    /// True for the dense form.
    pub(super) fn is_dense(&self) -> bool {
        matches!(self, Page::Dense(_))
    }

    #[inline]
    pub(super) fn get(&self, bit: u32) -> bool {
        match self {
            Page::Sparse(s) => s.get(bit),
            Page::Dense(d) => d.get(bit),
        }
    }

    /// The dense form of a sparse page.
    fn densify(s: &Sparse) -> Box<Dense> {
        let mut d = Dense::filled(false);
        for r in s.runs() {
            d.fill(r.start(), r.end(), true);
        }
        d
    }

    /// Sets bits `lo .. hi` (`lo < hi <= BITS_PER_PAGE`) to `value`.
    pub(super) fn fill(&mut self, lo: u32, hi: u32, value: bool) {
        match self {
            Page::Sparse(s) => {
                if !s.fill(lo, hi, value) {
                    let mut d = Self::densify(s);
                    d.fill(lo, hi, value);
                    *self = Page::Dense(d);
                }
            }
            Page::Dense(d) => d.fill(lo, hi, value),
        }
    }

    /// Overwrites the words from word `at` on with `src` (`at + src.len() <= WORDS_PER_PAGE`).
    pub(super) fn write(&mut self, at: usize, src: &[u32]) {
        match self {
            Page::Sparse(s) => {
                let mut staged = s.clone();
                let lo = (at as u32) << 5;
                let hi = ((at + src.len()) as u32) << 5;
                let fits = lo == hi
                    || (staged.fill(lo, hi, false)
                        && Sparse::from_words(src).is_some_and(|runs| {
                            runs.runs()
                                .iter()
                                .all(|r| staged.fill(lo + r.start(), lo + r.end(), true))
                        }));
                if fits {
                    *s = staged;
                } else {
                    let mut d = Self::densify(s);
                    d.write(at, src);
                    *self = Page::Dense(d);
                }
            }
            Page::Dense(d) => d.write(at, src),
        }
    }

    /// Copies words `at .. at + dst.len()` into `dst` (`at + dst.len() <= WORDS_PER_PAGE`).
    pub(super) fn read(&self, at: usize, dst: &mut [u32]) {
        match self {
            Page::Sparse(s) => s.read(at, dst),
            Page::Dense(d) => d.read(at, dst),
        }
    }

    /// The page's words: lent when dense, built when sparse.
    pub(super) fn words(&self) -> Cow<'_, [u32; WORDS_PER_PAGE]> {
        match self {
            Page::Sparse(s) => {
                let mut words = [0u32; WORDS_PER_PAGE];
                s.read(0, &mut words);
                Cow::Owned(words)
            }
            Page::Dense(d) => Cow::Borrowed(&d.words),
        }
    }

    /// Number of set bits in `lo .. hi` (`lo < hi <= BITS_PER_PAGE`).
    pub(super) fn count(&self, lo: u32, hi: u32) -> u32 {
        match self {
            Page::Sparse(s) => s.count(lo, hi),
            Page::Dense(d) => d.count(lo, hi),
        }
    }

    /// The first bit at or after `from` equal to `value`.
    pub(super) fn find_first(&self, value: bool, from: u32) -> Option<u32> {
        match self {
            Page::Sparse(s) => s.find_first(value, from),
            Page::Dense(d) => d.find_first(value, from),
        }
    }

    /// The last bit at or before `upto` equal to `value`.
    pub(super) fn find_last(&self, value: bool, upto: u32) -> Option<u32> {
        match self {
            Page::Sparse(s) => s.find_last(value, upto),
            Page::Dense(d) => d.find_last(value, upto),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_page_turns_dense_with_the_same_content() {
        let mut p = Page::empty();
        for i in 0..208u32 {
            p.fill(i * 2, i * 2 + 1, true);
        }
        assert!(p.is_dense());
        assert_eq!(p.ones(), 208);
        let mut q = Page::empty();
        for i in 0..100u32 {
            q.fill(i * 2, i * 2 + 1, true);
        }
        assert!(!q.is_dense());
        q.write(6, &[0x5555_5555; 7]);
        assert!(q.is_dense(), "108 more runs");
        assert_eq!(p, q);
        let back = Page::from_words(&p.words());
        assert!(back.is_dense());
        assert_eq!(back, p);
        let mut r = Page::full();
        assert!(r.is_full() && !r.is_dense());
        r.write(1, &[0]);
        assert_eq!(r.ones(), 32768 - 32);
        assert!(!r.is_dense());
        assert_eq!(r, Page::from_words(&r.words()));
    }
}
