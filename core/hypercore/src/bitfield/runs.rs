//! Runs of all-ones pages, kept as disjoint, non-adjacent half-open intervals of page
//! indexes, so a range of 2^40 set bits costs one map entry instead of 2^25 pages.

use alloc::collections::btree_map::{self, BTreeMap};

/// A set of page indexes stored as maximal runs `start -> end` (`start .. end`).
#[derive(Clone, Default, PartialEq, Eq)]
pub(super) struct Runs {
    map: BTreeMap<u64, u64>,
}

impl Runs {
    /// The run containing page `p`, if any.
    pub(super) fn containing(&self, p: u64) -> Option<(u64, u64)> {
        self.map
            .range(..=p)
            .next_back()
            .filter(|&(_, &e)| e > p)
            .map(|(&s, &e)| (s, e))
    }

    /// The first run starting after page `p`.
    pub(super) fn next_after(&self, p: u64) -> Option<(u64, u64)> {
        let from = p.checked_add(1)?;
        self.map.range(from..).next().map(|(&s, &e)| (s, e))
    }

    /// The last run ending at or before page `p` (that is, lying wholly below `p`).
    pub(super) fn prev_before(&self, p: u64) -> Option<(u64, u64)> {
        self.map
            .range(..p)
            .next_back()
            .filter(|&(_, &e)| e <= p)
            .map(|(&s, &e)| (s, e))
    }

    /// Runs overlapping pages `p0 ..= p1`, in ascending order.
    pub(super) fn overlapping(&self, p0: u64, p1: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let first = self.containing(p0).filter(|&(s, _)| s < p0);
        first
            .into_iter()
            .chain(self.map.range(p0..=p1).map(|(&s, &e)| (s, e)))
    }

    /// All runs in ascending order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(&s, &e)| (s, e))
    }

    /// All runs in ascending order, as the map's own iterator.
    pub(super) fn raw_iter(&self) -> btree_map::Iter<'_, u64, u64> {
        self.map.iter()
    }

    /// Number of runs.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Total number of pages in all runs.
    pub(super) fn pages(&self) -> u64 {
        self.map
            .values()
            .zip(self.map.keys())
            .map(|(e, s)| e - s)
            .sum()
    }

    /// Adds pages `p0 .. p1` (`p0 < p1`), merging with overlapping or adjacent runs.
    pub(super) fn insert(&mut self, p0: u64, p1: u64) {
        let (mut start, mut end) = (p0, p1);
        if let Some((&s, &e)) = self.map.range(..=p0).next_back() {
            if e >= p0 {
                start = s;
                end = end.max(e);
                self.map.remove(&s);
            }
        }
        while let Some((&s, &e)) = self.map.range(p0..=end).next() {
            end = end.max(e);
            self.map.remove(&s);
        }
        self.map.insert(start, end);
    }

    /// Removes pages `p0 .. p1` (`p0 < p1`), splitting runs that straddle the edges.
    pub(super) fn remove(&mut self, p0: u64, p1: u64) {
        if let Some((&s, &e)) = self.map.range(..p0).next_back() {
            if e > p0 {
                self.map.insert(s, p0);
                if e > p1 {
                    self.map.insert(p1, e);
                }
            }
        }
        while let Some((&s, &e)) = self.map.range(p0..p1).next() {
            self.map.remove(&s);
            if e > p1 {
                self.map.insert(p1, e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn runs(r: &Runs) -> Vec<(u64, u64)> {
        r.iter().collect()
    }

    #[test]
    fn insert_merges_and_remove_splits() {
        let mut r = Runs::default();
        r.insert(10, 20);
        r.insert(30, 40);
        r.insert(20, 25);
        assert_eq!(runs(&r), [(10, 25), (30, 40)]);
        r.insert(24, 31);
        assert_eq!(runs(&r), [(10, 40)]);
        r.insert(5, 50);
        assert_eq!(runs(&r), [(5, 50)]);
        r.remove(10, 12);
        assert_eq!(runs(&r), [(5, 10), (12, 50)]);
        r.remove(0, 11);
        assert_eq!(runs(&r), [(12, 50)]);
        r.remove(49, 60);
        assert_eq!(runs(&r), [(12, 49)]);
        assert_eq!(r.pages(), 37);
        assert_eq!(r.containing(12), Some((12, 49)));
        assert_eq!(r.containing(49), None);
        assert_eq!(r.prev_before(49), Some((12, 49)));
        assert_eq!(r.prev_before(48), None);
        assert_eq!(r.next_after(11), Some((12, 49)));
        assert_eq!(r.next_after(12), None);
    }
}
