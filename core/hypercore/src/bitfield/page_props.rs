//! A [`Page`] (sparse until it needs more runs, then dense) against a plain [`Dense`] page
//! on random fills, word writes and whole-page replacements, comparing every query:
//! bits, counts, searches both ways for both values, word reads and the page's words.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::dense::Dense;
use super::page::Page;
use super::sparse::{Sparse, MAX_RUNS};
use super::{BITS_PER_PAGE, WORDS_PER_PAGE};

const BITS: u32 = BITS_PER_PAGE as u32;

#[derive(Clone, Debug)]
enum Op {
    Fill(u32, u32, bool),
    Write(usize, Vec<u32>),
    Replace(Vec<(u32, u32)>),
}

/// A bit, most often in a small window so that runs pile up past [`MAX_RUNS`].
fn bit() -> impl Strategy<Value = u32> {
    prop_oneof![3 => 0u32..1500, 1 => 0..BITS, 1 => (BITS - 100)..BITS]
}

fn word() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>(), Just(0x5555_5555)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (bit(), prop_oneof![3 => 1u32..8, 1 => 1..BITS], any::<bool>())
            .prop_map(|(lo, len, v)| Op::Fill(lo, (lo + len).min(BITS), v)),
        2 => (0usize..WORDS_PER_PAGE, prop::collection::vec(word(), 0..40)).prop_map(|(at, w)| {
            let n = w.len().min(WORDS_PER_PAGE - at);
            Op::Write(at, w[..n].to_vec())
        }),
        1 => prop::collection::vec((bit(), 1u32..3000), 0..(2 * MAX_RUNS))
            .prop_map(Op::Replace),
    ]
}

/// The dense page with bits `lo .. hi` of each pair set.
fn dense_of(runs: &[(u32, u32)]) -> Dense {
    let mut d = *Dense::filled(false);
    for &(lo, len) in runs {
        d.fill(lo, (lo + len).min(BITS), true);
    }
    d
}

/// The number of runs of set bits in `words`.
fn runs_in(words: &[u32; WORDS_PER_PAGE]) -> usize {
    let mut n = 0;
    let mut prev = false;
    for b in 0..BITS {
        let v = words[(b >> 5) as usize] >> (b & 31) & 1 == 1;
        n += usize::from(v && !prev);
        prev = v;
    }
    n
}

fn check(page: &Page, d: &Dense, probes: &[u32]) {
    assert_eq!(page.ones(), d.ones, "ones");
    assert_eq!(page.is_empty(), d.ones == 0);
    assert_eq!(page.is_full(), d.ones == BITS);
    let words = page.words();
    assert_eq!(*words, d.words, "words");
    match page {
        // A sparse page is exactly the runs of its words (sorted, apart, few enough).
        Page::Sparse(s) => assert_eq!(Sparse::from_words(&d.words).as_ref(), Some(s)),
        Page::Dense(_) => {}
    }
    if runs_in(&d.words) > MAX_RUNS {
        assert!(page.is_dense(), "too many runs for the sparse form");
    }
    for &p in probes {
        assert_eq!(page.get(p), d.get(p), "get {p}");
        for v in [false, true] {
            assert_eq!(page.find_first(v, p), d.find_first(v, p), "first {v} {p}");
            assert_eq!(page.find_last(v, p), d.find_last(v, p), "last {v} {p}");
        }
        for &q in probes.iter().filter(|&&q| q > p) {
            assert_eq!(page.count(p, q), d.count(p, q), "count {p}..{q}");
        }
        let at = (p >> 5) as usize;
        let n = (WORDS_PER_PAGE - at).min(3 + (p as usize % 50));
        let mut got = [0xdead_beef_u32; 60];
        page.read(at, &mut got[..n]);
        assert_eq!(got[..n], d.words[at..at + n], "read {at}+{n}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_page_matches_the_dense_page(
        ops in prop::collection::vec(op(), 1..120),
        probes in prop::collection::vec(bit(), 1..12),
    ) {
        let mut page = Page::empty();
        let mut d = *Dense::filled(false);
        for op in &ops {
            let mut all = probes.clone();
            all.extend([0, 31, 32, BITS - 33, BITS - 1]);
            match op {
                &Op::Fill(lo, hi, v) => {
                    page.fill(lo, hi, v);
                    d.fill(lo, hi, v);
                    all.extend([lo, hi - 1]);
                    all.extend(Some(hi).filter(|&h| h < BITS));
                }
                Op::Write(at, w) => {
                    page.write(*at, w);
                    d.write(*at, w);
                }
                Op::Replace(runs) => {
                    d = dense_of(runs);
                    page.replace(&d.words);
                    // A whole page takes the sparse form whenever it fits.
                    prop_assert_eq!(page.is_dense(), runs_in(&d.words) > MAX_RUNS);
                }
            }
            all.sort_unstable();
            all.dedup();
            check(&page, &d, &all);
        }
        // Equality is by content, whichever the forms.
        let dense_twin = Page::Dense(alloc::boxed::Box::new(d.clone()));
        prop_assert_eq!(&page, &dense_twin);
        prop_assert_eq!(&Page::from_words(&d.words), &page);
    }
}
