//! The page- and word-level side of the [`Bitfield`]: lending pages, persistence, and the
//! wire `bitfield` message's words.

use alloc::borrow::Cow;
use alloc::collections::btree_map;
use alloc::vec;
use core::fmt;
use core::iter::Peekable;
use core::ops::Range;

use super::page::Page;
use super::{
    Bitfield, BitfieldError, State, ALL_ONES, MAX_MESSAGE_WORDS, PAGE_COUNT, WORDS_PER_PAGE,
    WORD_SHIFT,
};

impl Bitfield {
    /// The words of page `p`, or `None` if it is all zero.
    ///
    /// Dense and full pages are lent; a sparse page's words are built (4 KiB on the stack,
    /// no allocation): to read a few words, [`Self::read_words`] is cheaper.
    #[must_use]
    pub fn page(&self, p: u64) -> Option<Cow<'_, [u32; WORDS_PER_PAGE]>> {
        match self.pages.get(&p) {
            Some(page) => Some(page.words()),
            None => self.full.containing(p).map(|_| Cow::Borrowed(&ALL_ONES)),
        }
    }

    /// Every page that has a set bit, in ascending page order, as `(page index, words)`
    /// (lent or built as by [`Self::page`]).
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
        if let Ok(whole) = <&[u32; WORDS_PER_PAGE]>::try_from(src) {
            if let Some(value) = uniform(src) {
                return self.fill_pages(p, p + 1, value);
            }
            // A whole page replaces the content, and takes the sparse form if it fits.
            if state == State::Full {
                self.full.remove(p, p + 1);
            }
            match self.pages.entry(p) {
                btree_map::Entry::Occupied(mut o) => o.get_mut().replace(whole),
                btree_map::Entry::Vacant(v) => {
                    v.insert(Page::from_words(whole));
                }
            }
            return;
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
            match self.pages.get(&p) {
                Some(page) => page.read(at, dst),
                None => dst.fill(if self.full.containing(p).is_some() {
                    u32::MAX
                } else {
                    0
                }),
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
    partial: Peekable<btree_map::Iter<'a, u64, Page>>,
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
    type Item = (u64, Cow<'a, [u32; WORDS_PER_PAGE]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.run.is_none() {
            self.run = self.runs.next().map(|(&s, &e)| (s, e));
        }
        let next_partial = self.partial.peek().map(|(&p, _)| p);
        match self.run {
            Some((s, e)) if next_partial.is_none_or(|p| s < p) => {
                self.run = (s + 1 < e).then_some((s + 1, e));
                Some((s, Cow::Borrowed(&ALL_ONES)))
            }
            _ => self.partial.next().map(|(&p, page)| (p, page.words())),
        }
    }
}
