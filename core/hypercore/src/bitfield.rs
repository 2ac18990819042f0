//! A sparse paged bitfield: one bit per block index (`u64`).
//!
//! Used for the local "which blocks are stored" bitfield of a core and for the views of
//! what each peer has. The bit layout is the wire `bitfield` message's: bit `i` lives in
//! 32-bit word `i >> 5` at bit `i & 31` (LSB first), and words are grouped in pages of
//! [`BITS_PER_PAGE`] bits ([`WORDS_PER_PAGE`] words, 4 KiB).
//!
//! # Memory
//!
//! A page is one of three things:
//!
//! * **empty** (all zero): not stored at all;
//! * **partial** (some bits set, some not): a stored page, *sparse* (a sorted list of up to
//!   128 runs of set bits, 4 bytes a run) while it has few runs, else *dense* (a boxed
//!   4 KiB of words with their population count);
//! * **full** (all ones): part of a *run* of full pages, stored as one `start .. end` interval
//!   of page indexes, whatever its length.
//!
//! The representation is canonical (a partial page that fills up joins the runs, one that
//! empties is freed; adjacent runs merge), so memory is at most
//! `4 KiB × partial pages + O(runs)`, and a page holding a few stretches of blocks (a
//! writer's last page, a core holding one block) costs a few bytes, not 4 KiB. A sparse
//! page turns dense when it needs more runs, and sparse again only when it is replaced
//! whole (loaded, or a whole page of a `bitfield` message); the words it lends out (see
//! [`Bitfield::page`]) and stores are the same either way.
//! Setting 2^40 bits with [`Bitfield::set_range`] allocates nothing but a run entry (plus at
//! most the two partial pages at its ends), and clearing any range frees every page it covers.
//!
//! # Index rule
//!
//! Every `u64` is a valid index; nothing panics. Ranges are half-open (`start .. end`), so the
//! single bit `u64::MAX` is reachable through [`Bitfield::get`] / [`Bitfield::set`] and the
//! inclusive searches but never lies inside a range (`count`, `set_range`). Wire and
//! persistence helpers reject what cannot be represented with a [`BitfieldError`].
//!
//! ```
//! use ferrocore::bitfield::Bitfield;
//!
//! let mut b = Bitfield::new();
//! b.set_range(0, 1 << 40, true); // one run, no page allocated
//! assert!(b.set(5, false));
//! assert_eq!(b.first_unset(0), Some(5));
//! assert_eq!(b.count(0, 1 << 40), (1 << 40) - 1);
//! assert_eq!(b.allocated_pages(), 1);
//! b.set_range(0, 1 << 40, false);
//! assert!(b.is_empty());
//! ```

mod dense;
mod page;
#[cfg(test)]
mod page_props;
mod runs;
mod sparse;
mod words;

use alloc::collections::btree_map::{BTreeMap, Entry};
use core::fmt;
use core::ops::Range;

use ferrocore_wire::encoding::MAX_ARRAY_LEN;

use page::Page;
use runs::Runs;
pub use words::Pages;

/// Bits per page (32768).
pub const BITS_PER_PAGE: u64 = 1 << PAGE_SHIFT;
/// `u32` words per page (1024, i.e. 4 KiB).
pub const WORDS_PER_PAGE: usize = 1024;
/// The number of page indexes: pages `0 .. PAGE_COUNT` cover every `u64` bit index.
pub const PAGE_COUNT: u64 = 1 << (64 - PAGE_SHIFT);
/// The most words [`Bitfield::to_message`] produces: the reference's array limit
/// (0x100000 words, 4 MiB, 2^25 blocks).
pub const MAX_MESSAGE_WORDS: usize = MAX_ARRAY_LEN as usize;

const PAGE_SHIFT: u32 = 15;
const PAGE_MASK: u64 = BITS_PER_PAGE - 1;
const LAST_BIT: u32 = PAGE_MASK as u32;
const WORD_SHIFT: u32 = 5;

/// An all-ones page, lent out for pages that are part of a full run.
static ALL_ONES: [u32; WORDS_PER_PAGE] = [u32::MAX; WORDS_PER_PAGE];

/// Why a word-level operation was refused. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BitfieldError {
    /// Word ranges must start at a multiple of 32 (the reference ignores unaligned
    /// `bitfield` messages).
    #[error("bitfield start {0} is not a multiple of 32")]
    Unaligned(u64),
    /// The range would reach past bit `u64::MAX` (or the page index is `>= PAGE_COUNT`).
    #[error("bitfield range out of the u64 index space")]
    OutOfRange,
    /// More words were asked for than one message may carry ([`MAX_MESSAGE_WORDS`]).
    #[error("{0} words exceed the bitfield message limit")]
    TooLarge(usize),
}

/// What a page holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Empty,
    Partial,
    Full,
}

/// A sparse bitfield over all `u64` indexes (see the [module docs](self)).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Bitfield {
    /// Partial pages only (0 < ones < BITS_PER_PAGE).
    pages: BTreeMap<u64, Page>,
    /// Full pages, as maximal runs; disjoint from `pages`.
    full: Runs,
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<u64, u32> = self.pages.iter().map(|(&p, pg)| (p, pg.ones())).collect();
        f.debug_struct("Bitfield")
            .field("partial_page_ones", &counts)
            .field(
                "full_page_runs",
                &self.full.iter().collect::<alloc::vec::Vec<_>>(),
            )
            .finish()
    }
}

/// Splits a bit index into its page and the bit within the page.
#[inline]
fn split(i: u64) -> (u64, u32) {
    (i >> PAGE_SHIFT, (i & PAGE_MASK) as u32)
}

/// The bit index of bit `bit` of page `p`.
#[inline]
fn join(p: u64, bit: u32) -> u64 {
    (p << PAGE_SHIFT) | u64::from(bit)
}

impl Bitfield {
    /// An empty bitfield (every bit unset); allocates nothing.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// True if no bit is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty() && self.full.len() == 0
    }

    /// Unsets every bit and frees every page.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Number of partial pages stored, sparse or dense (full pages cost no page).
    #[must_use]
    pub fn allocated_pages(&self) -> usize {
        self.pages.len()
    }

    /// Number of partial pages stored in the dense form (4 KiB each); the others hold a
    /// few runs each.
    #[must_use]
    pub fn dense_pages(&self) -> usize {
        self.pages.values().filter(|p| p.is_dense()).count()
    }

    /// Number of all-ones pages (held as runs, not allocated).
    #[must_use]
    pub fn full_pages(&self) -> u64 {
        self.full.pages()
    }

    /// The runs of all-ones pages, as half-open page-index ranges in ascending order.
    pub fn full_page_runs(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.full.iter().map(|(s, e)| s..e)
    }

    fn state(&self, p: u64) -> State {
        if self.pages.contains_key(&p) {
            State::Partial
        } else if self.full.containing(p).is_some() {
            State::Full
        } else {
            State::Empty
        }
    }

    /// The bit at index `i`.
    #[must_use]
    pub fn get(&self, i: u64) -> bool {
        let (p, bit) = split(i);
        match self.pages.get(&p) {
            Some(page) => page.get(bit),
            None => self.full.containing(p).is_some(),
        }
    }

    /// Sets bit `i` to `value`; returns true if it changed.
    pub fn set(&mut self, i: u64, value: bool) -> bool {
        let (p, bit) = split(i);
        // Fast path: one lookup when the page is already stored.
        if let Some(page) = self.pages.get_mut(&p) {
            if page.get(bit) == value {
                return false;
            }
            page.fill(bit, bit + 1, value);
            if page.is_empty() || page.is_full() {
                self.normalise(p);
            }
            return true;
        }
        if self.full.containing(p).is_some() == value {
            return false;
        }
        self.fill_page(p, bit, bit + 1, value);
        true
    }

    /// Sets every bit in `start .. end` to `value` (nothing if `start >= end`).
    ///
    /// Works a word at a time in the (at most two) partially covered pages and a page run at
    /// a time in between: the cost is `O(log n)` plus the pages it frees, whatever the length.
    pub fn set_range(&mut self, start: u64, end: u64, value: bool) {
        if start >= end {
            return;
        }
        let (first, lo) = split(start);
        let (last, hi) = split(end - 1);
        let hi = hi + 1;
        if first == last {
            self.fill_page(first, lo, hi, value);
            return;
        }
        let mut whole_start = first;
        if lo != 0 {
            self.fill_page(first, lo, BITS_PER_PAGE as u32, value);
            whole_start = first + 1;
        }
        let mut whole_end = last + 1;
        if u64::from(hi) != BITS_PER_PAGE {
            self.fill_page(last, 0, hi, value);
            whole_end = last;
        }
        if whole_start < whole_end {
            self.fill_pages(whole_start, whole_end, value);
        }
    }

    /// Sets bits `lo .. hi` of page `p` (`lo < hi <= BITS_PER_PAGE`).
    fn fill_page(&mut self, p: u64, lo: u32, hi: u32, value: bool) {
        if lo == 0 && u64::from(hi) == BITS_PER_PAGE {
            return self.fill_pages(p, p + 1, value);
        }
        match self.state(p) {
            State::Empty if !value => return,
            State::Full if value => return,
            _ => {}
        }
        self.page_mut(p).fill(lo, hi, value);
        self.normalise(p);
    }

    /// Sets every bit of pages `p0 .. p1` (`p0 < p1 <= PAGE_COUNT`).
    fn fill_pages(&mut self, p0: u64, p1: u64, value: bool) {
        while let Some(p) = self.pages.range(p0..p1).next().map(|(&p, _)| p) {
            self.pages.remove(&p);
        }
        if value {
            self.full.insert(p0, p1);
        } else {
            self.full.remove(p0, p1);
        }
    }

    /// The page `p` as a stored page, materialising an empty or full one.
    fn page_mut(&mut self, p: u64) -> &mut Page {
        match self.pages.entry(p) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let full = self.full.containing(p).is_some();
                if full {
                    self.full.remove(p, p + 1);
                }
                v.insert(if full { Page::full() } else { Page::empty() })
            }
        }
    }

    /// Restores the canonical form after page `p` changed: free it if empty, move it to
    /// the runs if full.
    fn normalise(&mut self, p: u64) {
        let Some((empty, full)) = self.pages.get(&p).map(|pg| (pg.is_empty(), pg.is_full())) else {
            return;
        };
        if empty {
            self.pages.remove(&p);
        } else if full {
            self.pages.remove(&p);
            self.full.insert(p, p + 1);
        }
    }

    /// Number of set bits in `start .. end` (0 if `start >= end`).
    #[must_use]
    pub fn count(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let last = end - 1;
        let (p0, lo) = split(start);
        let (p1, hi) = split(last);
        let mut n: u64 = 0;
        for (&p, page) in self.pages.range(p0..=p1) {
            let a = if p == p0 { lo } else { 0 };
            let b = if p == p1 { hi } else { LAST_BIT };
            n += u64::from(page.count(a, b + 1));
        }
        for (s, e) in self.full.overlapping(p0, p1) {
            let first_bit = join(s, 0).max(start);
            let last_bit = join(e - 1, LAST_BIT).min(last);
            n += last_bit - first_bit + 1;
        }
        n
    }

    /// The first set bit at or after `from`.
    #[must_use]
    pub fn first_set(&self, from: u64) -> Option<u64> {
        self.find_first(true, from)
    }

    /// The first unset bit at or after `from` (`None` only if every bit from `from` to
    /// `u64::MAX` is set).
    #[must_use]
    pub fn first_unset(&self, from: u64) -> Option<u64> {
        self.find_first(false, from)
    }

    /// The last set bit at or before `upto` (`last_set(u64::MAX)` is the highest set bit).
    #[must_use]
    pub fn last_set(&self, upto: u64) -> Option<u64> {
        self.find_last(true, upto)
    }

    /// The last unset bit at or before `upto`.
    #[must_use]
    pub fn last_unset(&self, upto: u64) -> Option<u64> {
        self.find_last(false, upto)
    }

    /// The first bit at or after `from` equal to `value`.
    ///
    /// Skips empty pages and full runs without looking at them: `O(log n)` map lookups plus
    /// a word scan of at most two pages.
    #[must_use]
    pub fn find_first(&self, value: bool, from: u64) -> Option<u64> {
        self.find(value, from, true)
    }

    /// The last bit at or before `upto` equal to `value` (the mirror of [`Self::find_first`]).
    #[must_use]
    pub fn find_last(&self, value: bool, upto: u64) -> Option<u64> {
        self.find(value, upto, false)
    }

    /// The nearest bit equal to `value` from `at` (inclusive) onwards, in either direction.
    fn find(&self, value: bool, at: u64, forward: bool) -> Option<u64> {
        let (mut p, mut bit) = split(at);
        loop {
            match self.state(p) {
                State::Partial => {
                    let page = self.pages.get(&p)?;
                    let found = if forward {
                        page.find_first(value, bit)
                    } else {
                        page.find_last(value, bit)
                    };
                    if let Some(b) = found {
                        return Some(join(p, b));
                    }
                }
                State::Full if value => return Some(join(p, bit)),
                State::Empty if !value => return Some(join(p, bit)),
                State::Full => {
                    // Skip the whole run; the page beyond it is not full.
                    let (start, end) = self.full.containing(p)?;
                    p = if forward { end - 1 } else { start };
                }
                State::Empty => {}
            }
            // The next candidate page: for set bits the nearest non-empty page; for unset
            // bits the neighbour (partial or empty, so the search ends there).
            p = match (value, forward) {
                (true, true) => self.next_non_empty(p)?,
                (true, false) => self.prev_non_empty(p)?,
                (false, true) => p.checked_add(1).filter(|&q| q < PAGE_COUNT)?,
                (false, false) => p.checked_sub(1)?,
            };
            bit = if forward { 0 } else { LAST_BIT };
        }
    }

    /// The first page after `p` that is partial or full.
    fn next_non_empty(&self, p: u64) -> Option<u64> {
        let partial = self
            .pages
            .range(p.checked_add(1)?..)
            .next()
            .map(|(&q, _)| q);
        let full = self.full.next_after(p).map(|(s, _)| s);
        match (partial, full) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The last page before `p` that is partial or full.
    fn prev_non_empty(&self, p: u64) -> Option<u64> {
        let partial = self.pages.range(..p).next_back().map(|(&q, _)| q);
        let full = self.full.prev_before(p).map(|(_, e)| e - 1);
        match (partial, full) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes() {
        let mut b = Bitfield::new();
        assert!(b.set(u64::MAX, true));
        assert!(b.get(u64::MAX));
        assert_eq!(b.first_set(0), Some(u64::MAX));
        assert_eq!(b.last_set(u64::MAX), Some(u64::MAX));
        assert_eq!(b.first_unset(u64::MAX), None);
        assert_eq!(b.count(0, u64::MAX), 0);
        b.set_range(0, u64::MAX, true);
        assert_eq!(b.count(0, u64::MAX), u64::MAX);
        assert_eq!(b.first_unset(0), None);
        assert_eq!(b.allocated_pages(), 0);
        assert_eq!(b.full_pages(), PAGE_COUNT);
        assert!(b.set(1 << 50, false));
        assert_eq!(b.first_unset(0), Some(1 << 50));
        assert_eq!(b.last_unset(u64::MAX), Some(1 << 50));
        assert_eq!(b.last_set((1 << 50) + 1), Some((1 << 50) + 1));
        assert_eq!(b.write_words(u64::MAX - 31, &[0]), Ok(()));
        assert_eq!(
            b.write_words(u64::MAX - 31, &[0, 0]),
            Err(BitfieldError::OutOfRange)
        );
        assert_eq!(b.write_words(3, &[0]), Err(BitfieldError::Unaligned(3)));
        assert_eq!(b.first_unset(u64::MAX - 31), Some(u64::MAX - 31));
        b.set_range(0, u64::MAX, false);
        assert_eq!(b.first_set(0), None);
        assert!(b.is_empty());
    }

    #[test]
    fn pages_iterate_in_order() {
        let mut b = Bitfield::new();
        b.set(3 * BITS_PER_PAGE + 7, true);
        b.set_range(BITS_PER_PAGE, 3 * BITS_PER_PAGE, true);
        b.set(10, true);
        let got: alloc::vec::Vec<(u64, u32)> = b
            .pages()
            .map(|(p, w)| (p, dense::popcount(&w[..])))
            .collect();
        assert_eq!(got, [(0, 1), (1, 32768), (2, 32768), (3, 1)]);
        let runs: alloc::vec::Vec<_> = b.full_page_runs().collect();
        assert_eq!(runs, alloc::vec![1..3]);
    }
}
