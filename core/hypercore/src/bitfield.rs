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
//! * **partial** (some bits set, some not): a boxed 4 KiB page with its population count;
//! * **full** (all ones): part of a *run* of full pages, stored as one `start .. end` interval
//!   of page indexes, whatever its length.
//!
//! The representation is canonical (a partial page that fills up joins the runs, one that
//! empties is freed; adjacent runs merge), so memory is `4 KiB × partial pages + O(runs)`.
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

mod page;
mod runs;

use alloc::boxed::Box;
use alloc::collections::btree_map::{self, BTreeMap, Entry};
use alloc::vec;
use core::fmt;
use core::iter::Peekable;
use core::ops::Range;

use ferrocore_wire::encoding::MAX_ARRAY_LEN;

use page::Page;
use runs::Runs;

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
    pages: BTreeMap<u64, Box<Page>>,
    /// Full pages, as maximal runs; disjoint from `pages`.
    full: Runs,
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<u64, u32> = self.pages.iter().map(|(&p, pg)| (p, pg.ones)).collect();
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

    /// Number of 4 KiB pages allocated (the partial pages; full pages cost no page).
    #[must_use]
    pub fn allocated_pages(&self) -> usize {
        self.pages.len()
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
            if page.ones == 0 || u64::from(page.ones) == BITS_PER_PAGE {
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
                v.insert(Page::filled(full))
            }
        }
    }

    /// Restores the canonical form after page `p` changed: free it if empty, move it to
    /// the runs if full.
    fn normalise(&mut self, p: u64) {
        let Some(ones) = self.pages.get(&p).map(|pg| pg.ones) else {
            return;
        };
        if ones == 0 {
            self.pages.remove(&p);
        } else if u64::from(ones) == BITS_PER_PAGE {
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

    /// The words of page `p`, or `None` if it is all zero.
    #[must_use]
    pub fn page(&self, p: u64) -> Option<&[u32; WORDS_PER_PAGE]> {
        match self.pages.get(&p) {
            Some(page) => Some(&page.words),
            None => self.full.containing(p).map(|_| &ALL_ONES),
        }
    }

    /// Every page that has a set bit, in ascending page order, as `(page index, words)`.
    ///
    /// Pages of full runs are lent as a shared all-ones page (see [`Self::full_page_runs`]
    /// to persist those compactly instead).
    #[must_use]
    pub fn pages(&self) -> Pages<'_> {
        Pages {
            partial: self.pages.iter().peekable(),
            runs: self.full.raw_iter(),
            run: None,
        }
    }

    /// Replaces page `p` with `words` (e.g. loaded from storage).
    ///
    /// # Errors
    /// [`BitfieldError::OutOfRange`] if `p >= PAGE_COUNT`.
    pub fn insert_page(
        &mut self,
        p: u64,
        words: &[u32; WORDS_PER_PAGE],
    ) -> Result<(), BitfieldError> {
        if p >= PAGE_COUNT {
            return Err(BitfieldError::OutOfRange);
        }
        self.write_page_words(p, 0, words);
        Ok(())
    }

    /// Overwrites words `at .. at + src.len()` of page `p`, without allocating when the page
    /// already holds exactly that kind of content.
    fn write_page_words(&mut self, p: u64, at: usize, src: &[u32]) {
        let state = self.state(p);
        if at == 0 && src.len() == WORDS_PER_PAGE && state != State::Partial {
            if let Some(value) = uniform(src) {
                return self.fill_pages(p, p + 1, value);
            }
        }
        match (state, uniform(src)) {
            (State::Empty, Some(false)) | (State::Full, Some(true)) => return,
            _ => {}
        }
        self.page_mut(p).write(at, src);
        self.normalise(p);
    }

    /// Copies the words describing bits `start .. start + 32·out.len()` into `out`
    /// (the payload of a wire `bitfield` message).
    ///
    /// # Errors
    /// [`BitfieldError::Unaligned`] if `start` is not a multiple of 32,
    /// [`BitfieldError::OutOfRange`] if the range passes bit `u64::MAX`.
    pub fn read_words(&self, start: u64, out: &mut [u32]) -> Result<(), BitfieldError> {
        for (p, at, range) in word_chunks(start, out.len())? {
            let Some(dst) = out.get_mut(range) else {
                continue;
            };
            match self.page(p) {
                Some(words) => dst.copy_from_slice(&words[at..at + dst.len()]),
                None => dst.fill(0),
            }
        }
        Ok(())
    }

    /// Replaces bits `start .. start + 32·words.len()` with `words` (what receiving a wire
    /// `bitfield` message does to the remote view: "the bitfield is always the truth").
    ///
    /// Allocates a page only where a partial page results.
    ///
    /// # Errors
    /// As [`Self::read_words`]; on error nothing is changed.
    pub fn write_words(&mut self, start: u64, words: &[u32]) -> Result<(), BitfieldError> {
        for (p, at, range) in word_chunks(start, words.len())? {
            if let Some(src) = words.get(range) {
                self.write_page_words(p, at, src);
            }
        }
        Ok(())
    }

    /// The wire `bitfield` message describing `word_count` words from bit `start`.
    ///
    /// # Errors
    /// As [`Self::read_words`], and [`BitfieldError::TooLarge`] above
    /// [`MAX_MESSAGE_WORDS`] (checked before allocating).
    pub fn to_message(
        &self,
        start: u64,
        word_count: usize,
    ) -> Result<ferrocore_wire::Bitfield, BitfieldError> {
        if word_count > MAX_MESSAGE_WORDS {
            return Err(BitfieldError::TooLarge(word_count));
        }
        check_words(start, word_count)?;
        let mut bitfield = vec![0u32; word_count];
        self.read_words(start, &mut bitfield)?;
        Ok(ferrocore_wire::Bitfield { start, bitfield })
    }

    /// Applies a received wire `bitfield` message (replacing the bits it covers).
    ///
    /// # Errors
    /// As [`Self::write_words`]: an unaligned `start` is refused (the reference ignores
    /// such messages) and so is a range past `u64::MAX`.
    pub fn apply_message(&mut self, msg: &ferrocore_wire::Bitfield) -> Result<(), BitfieldError> {
        self.write_words(msg.start, &msg.bitfield)
    }
}

/// `Some(v)` if every word is all-`v`.
fn uniform(words: &[u32]) -> Option<bool> {
    if words.iter().all(|&w| w == 0) {
        Some(false)
    } else if words.iter().all(|&w| w == u32::MAX) {
        Some(true)
    } else {
        None
    }
}

/// Checks that `len` words from bit `start` are aligned and within the `u64` index space.
fn check_words(start: u64, len: usize) -> Result<(), BitfieldError> {
    if start % 32 != 0 {
        return Err(BitfieldError::Unaligned(start));
    }
    if len > 0 {
        let bits = u64::try_from(len)
            .ok()
            .and_then(|l| l.checked_mul(32))
            .ok_or(BitfieldError::OutOfRange)?;
        start
            .checked_add(bits - 1)
            .ok_or(BitfieldError::OutOfRange)?;
    }
    Ok(())
}

/// Splits `len` words from bit `start` into per-page pieces
/// `(page, first word in page, range in the word slice)`, after validating the range.
fn word_chunks(
    start: u64,
    len: usize,
) -> Result<impl Iterator<Item = (u64, usize, Range<usize>)>, BitfieldError> {
    check_words(start, len)?;
    let first_word = start >> WORD_SHIFT;
    let mut done = 0usize;
    Ok(core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        // `done < len` words fit in the index space (checked above).
        let w = first_word + done as u64;
        let at = (w % WORDS_PER_PAGE as u64) as usize;
        let n = (WORDS_PER_PAGE - at).min(len - done);
        let item = (w / WORDS_PER_PAGE as u64, at, done..done + n);
        done += n;
        Some(item)
    }))
}

/// Iterator over the pages in use (see [`Bitfield::pages`]).
pub struct Pages<'a> {
    partial: Peekable<btree_map::Iter<'a, u64, Box<Page>>>,
    runs: btree_map::Iter<'a, u64, u64>,
    /// The rest of the run being walked.
    run: Option<(u64, u64)>,
}

impl fmt::Debug for Pages<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("run", &self.run)
            .finish_non_exhaustive()
    }
}

impl<'a> Iterator for Pages<'a> {
    type Item = (u64, &'a [u32; WORDS_PER_PAGE]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.run.is_none() {
            self.run = self.runs.next().map(|(&s, &e)| (s, e));
        }
        let next_partial = self.partial.peek().map(|(&p, _)| p);
        match self.run {
            Some((s, e)) if next_partial.is_none_or(|p| s < p) => {
                self.run = (s + 1 < e).then_some((s + 1, e));
                Some((s, &ALL_ONES))
            }
            _ => self.partial.next().map(|(&p, page)| (p, &page.words)),
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
        let got: alloc::vec::Vec<(u64, u32)> =
            b.pages().map(|(p, w)| (p, page::popcount(w))).collect();
        assert_eq!(got, [(0, 1), (1, 32768), (2, 32768), (3, 1)]);
        let runs: alloc::vec::Vec<_> = b.full_page_runs().collect();
        assert_eq!(runs, alloc::vec![1..3]);
    }
}
