//! The sparse form of a bitfield page: its set bits as a short sorted list of runs, for
//! pages holding a few stretches of blocks (a writer's last page, a core that holds one
//! block), which would otherwise cost a whole 4 KiB [`Dense`](super::dense::Dense) page.

use alloc::vec::Vec;

use super::BITS_PER_PAGE;

/// The most runs a sparse page holds (512 bytes); one more and the page turns dense.
pub(super) const MAX_RUNS: usize = 128;

/// Bits `start .. end` of a page, all set (`start < end <= BITS_PER_PAGE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Run {
    start: u16,
    end: u16,
}

impl Run {
    /// Bits `lo .. hi` (`lo < hi <= BITS_PER_PAGE`, so both fit in 16 bits).
    fn new(lo: u32, hi: u32) -> Run {
        Run {
            start: lo as u16,
            end: hi as u16,
        }
    }

    /// The first bit.
    pub(super) fn start(self) -> u32 {
        u32::from(self.start)
    }

    /// One past the last bit.
    pub(super) fn end(self) -> u32 {
        u32::from(self.end)
    }
}

/// Sorted, disjoint, non-adjacent runs of set bits (at most [`MAX_RUNS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Sparse {
    runs: Vec<Run>,
}

impl Sparse {
    /// The runs in ascending order.
    pub(super) fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// True if no bit is set.
    pub(super) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// True if every bit of the page is set.
    pub(super) fn is_full(&self) -> bool {
        matches!(self.runs[..], [r] if r.start() == 0 && u64::from(r.end()) == BITS_PER_PAGE)
    }

    /// Number of set bits.
    pub(super) fn ones(&self) -> u32 {
        self.runs.iter().map(|r| r.end() - r.start()).sum()
    }

    /// The index of the first run ending after `bit`.
    fn first_ending_after(&self, bit: u32) -> usize {
        self.runs.partition_point(|r| r.end() <= bit)
    }

    /// The number of runs starting at or before `bit`.
    fn starting_upto(&self, bit: u32) -> usize {
        self.runs.partition_point(|r| r.start() <= bit)
    }

    #[inline]
    pub(super) fn get(&self, bit: u32) -> bool {
        let i = self.first_ending_after(bit);
        self.runs.get(i).is_some_and(|r| r.start() <= bit)
    }

    /// Sets bits `lo .. hi` (`lo < hi <= BITS_PER_PAGE`) to `value`; returns false, changing
    /// nothing, if the result would need more than [`MAX_RUNS`] runs.
    pub(super) fn fill(&mut self, lo: u32, hi: u32, value: bool) -> bool {
        if value {
            // Runs i..j overlap or touch lo..hi: they merge into one.
            let i = self.runs.partition_point(|r| r.end() < lo);
            let j = self.starting_upto(hi);
            if i == j && self.runs.len() >= MAX_RUNS {
                return false;
            }
            if i == j {
                self.runs.insert(i, Run::new(lo, hi));
            } else {
                let start = self.runs[i].start().min(lo);
                let end = self.runs[j - 1].end().max(hi);
                self.runs[i] = Run::new(start, end);
                self.runs.drain(i + 1..j);
            }
        } else {
            // Runs i..j overlap lo..hi: what they hold outside it stays.
            let i = self.first_ending_after(lo);
            let j = self.runs.partition_point(|r| r.start() < hi);
            if i == j {
                return true;
            }
            let (first, last) = (self.runs[i], self.runs[j - 1]);
            let left = (first.start() < lo).then(|| Run::new(first.start(), lo));
            let right = (last.end() > hi).then(|| Run::new(hi, last.end()));
            match (left, right) {
                (Some(l), Some(r)) if i + 1 == j => {
                    if self.runs.len() == MAX_RUNS {
                        return false;
                    }
                    self.runs[i] = l;
                    self.runs.insert(i + 1, r);
                }
                (Some(l), Some(r)) => {
                    self.runs[i] = l;
                    self.runs[i + 1] = r;
                    self.runs.drain(i + 2..j);
                }
                (Some(only), None) | (None, Some(only)) => {
                    self.runs[i] = only;
                    self.runs.drain(i + 1..j);
                }
                (None, None) => {
                    self.runs.drain(i..j);
                }
            }
        }
        true
    }

    /// Copies words `at .. at + dst.len()` into `dst` (`at + dst.len() <= WORDS_PER_PAGE`).
    pub(super) fn read(&self, at: usize, dst: &mut [u32]) {
        dst.fill(0);
        // Bits below 2^15: the casts cannot truncate.
        let lo = (at as u32) << 5;
        let hi = ((at + dst.len()) as u32) << 5;
        if lo == hi {
            return;
        }
        for r in &self.runs[self.first_ending_after(lo)..] {
            if r.start() >= hi {
                break;
            }
            let (a, b) = (r.start().max(lo) - lo, r.end().min(hi) - lo);
            super::dense::for_each_word(a, b, |w, mask| dst[w] |= mask);
        }
    }

    /// The runs of the page whose words are `words`, or `None` if there are more than
    /// [`MAX_RUNS`].
    pub(super) fn from_words(words: &[u32]) -> Option<Sparse> {
        let mut runs: Vec<Run> = Vec::new();
        let mut open: Option<u32> = None;
        for (w, &word) in words.iter().enumerate() {
            let base = (w as u32) << 5;
            let mut bit = 0u32;
            while bit < 32 {
                let rest = word >> bit;
                match open {
                    None if rest == 0 => break,
                    None => {
                        bit += rest.trailing_zeros();
                        open = Some(base + bit);
                    }
                    Some(start) => {
                        let ones = rest.trailing_ones();
                        bit += ones;
                        if bit < 32 {
                            if runs.len() == MAX_RUNS {
                                return None;
                            }
                            runs.push(Run::new(start, base + bit));
                            open = None;
                        }
                    }
                }
            }
        }
        if let Some(start) = open {
            if runs.len() == MAX_RUNS {
                return None;
            }
            runs.push(Run::new(start, (words.len() as u32) << 5));
        }
        runs.shrink_to_fit();
        Some(Sparse { runs })
    }

    /// Number of set bits in `lo .. hi` (`lo < hi <= BITS_PER_PAGE`).
    pub(super) fn count(&self, lo: u32, hi: u32) -> u32 {
        self.runs[self.first_ending_after(lo)..]
            .iter()
            .take_while(|r| r.start() < hi)
            .map(|r| r.end().min(hi) - r.start().max(lo))
            .sum()
    }

    /// The first bit at or after `from` equal to `value`.
    pub(super) fn find_first(&self, value: bool, from: u32) -> Option<u32> {
        let r = self.runs.get(self.first_ending_after(from));
        if value {
            return r.map(|r| r.start().max(from));
        }
        match r {
            // Runs do not touch, so the bit after one is unset (if in the page).
            Some(r) if r.start() <= from => Some(r.end()).filter(|&e| u64::from(e) < BITS_PER_PAGE),
            _ => Some(from),
        }
    }

    /// The last bit at or before `upto` equal to `value`.
    pub(super) fn find_last(&self, value: bool, upto: u32) -> Option<u32> {
        let i = self.starting_upto(upto);
        let r = i.checked_sub(1).map(|i| self.runs[i]);
        if value {
            return r.map(|r| (r.end() - 1).min(upto));
        }
        match r {
            Some(r) if r.end() > upto => r.start().checked_sub(1),
            _ => Some(upto),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(s: &Sparse) -> Vec<(u32, u32)> {
        s.runs().iter().map(|r| (r.start(), r.end())).collect()
    }

    #[test]
    fn fill_merges_and_splits() {
        let mut s = Sparse::default();
        assert!(s.fill(10, 20, true));
        assert!(s.fill(30, 40, true));
        assert!(s.fill(20, 25, true));
        assert_eq!(runs(&s), [(10, 25), (30, 40)]);
        assert!(s.fill(25, 30, true));
        assert_eq!(runs(&s), [(10, 40)]);
        assert!(s.fill(12, 14, false));
        assert_eq!(runs(&s), [(10, 12), (14, 40)]);
        assert!(s.fill(0, 11, false));
        assert_eq!(runs(&s), [(11, 12), (14, 40)]);
        assert!(s.fill(0, 12, false));
        assert_eq!(runs(&s), [(14, 40)]);
        assert_eq!(s.ones(), 26);
        assert_eq!(s.count(0, 20), 6);
        assert_eq!(s.find_first(true, 0), Some(14));
        assert_eq!(s.find_first(false, 14), Some(40));
        assert_eq!(s.find_last(true, 100), Some(39));
        assert_eq!(s.find_last(false, 39), Some(13));
        assert!(s.get(14) && !s.get(13) && !s.get(40));
        assert!(s.fill(0, 32768, true));
        assert!(s.is_full());
        assert_eq!(s.find_first(false, 5), None);
        assert_eq!(s.find_last(false, 5), None);
    }

    #[test]
    fn words_round_trip_and_the_run_limit() {
        let mut s = Sparse::default();
        for i in 0..MAX_RUNS as u32 {
            assert!(s.fill(i * 4, i * 4 + 3, true));
        }
        assert!(!s.fill(1000, 1001, true), "one run too many");
        assert!(!s.fill(1, 2, false), "a split too many");
        assert_eq!(s.runs().len(), MAX_RUNS, "nothing changed");
        assert!(s.fill(0, 3, false), "removing a run is fine");
        let mut words = [0u32; 1024];
        s.read(0, &mut words);
        assert_eq!(Sparse::from_words(&words).as_ref(), Some(&s));
        words[500] = 0x5555_5555;
        assert_eq!(Sparse::from_words(&words), None);
        let mut w = [0u32; 2];
        s.read(1, &mut w);
        assert_eq!(w, [words[1], words[2]]);
    }
}
