//! The sparse bitfield against a naive model, on random operation sequences whose indexes
//! cross page boundaries near 0, around 2^40 and at the top of the `u64` range; plus the
//! bit layout of the reference's `bitfield` message (`bitfield.json`).

use ferrocore::bitfield::{Bitfield, BITS_PER_PAGE, WORDS_PER_PAGE};
use ferrocore_tests::{files, hex, name, u64_of, Cases, Schema};
use proptest::prelude::*;

/// Size of each densely modelled region (8 pages).
const REGION: u64 = 1 << 18;

/// Where the dense regions start: at 0, just below 2^40 (not page aligned, so the region
/// straddles page 2^25) and at the very top of the index space.
const REGION_STARTS: [u64; 3] = [0, (1 << 40) - 40_000, u64::MAX - (REGION - 1)];

/// A flat bitset over one dense region (offsets relative to the region start), scanned
/// bit by bit except that whole words are stepped over when they cannot match.
#[derive(Clone, Debug)]
struct Dense(Vec<u64>);

impl Dense {
    fn new(bits: u64) -> Self {
        Dense(vec![0; bits.div_ceil(64) as usize])
    }

    fn get(&self, o: u64) -> bool {
        self.0[(o / 64) as usize] >> (o % 64) & 1 == 1
    }

    fn set(&mut self, o: u64, v: bool) {
        let w = &mut self.0[(o / 64) as usize];
        if v {
            *w |= 1 << (o % 64);
        } else {
            *w &= !(1 << (o % 64));
        }
    }

    /// True if bits `o .. o + 64` form one whole word lying within `lo ..= hi`.
    fn whole_word(o: u64, lo: u64, hi: u64) -> bool {
        o % 64 == 0 && o >= lo && hi - o >= 63
    }

    fn fill(&mut self, lo: u64, hi: u64, v: bool) {
        let mut o = lo;
        while o <= hi {
            if Self::whole_word(o, lo, hi) {
                self.0[(o / 64) as usize] = if v { u64::MAX } else { 0 };
                o += 64;
            } else {
                self.set(o, v);
                o += 1;
            }
        }
    }

    fn count(&self, lo: u64, hi: u64) -> u64 {
        let (mut o, mut n) = (lo, 0);
        while o <= hi {
            if Self::whole_word(o, lo, hi) {
                n += u64::from(self.0[(o / 64) as usize].count_ones());
                o += 64;
            } else {
                n += u64::from(self.get(o));
                o += 1;
            }
        }
        n
    }

    fn find(&self, lo: u64, hi: u64, v: bool, forward: bool) -> Option<u64> {
        let miss = if v { 0 } else { u64::MAX };
        if forward {
            let mut o = lo;
            while o <= hi {
                if Self::whole_word(o, lo, hi) && self.0[(o / 64) as usize] == miss {
                    o += 64;
                } else if self.get(o) == v {
                    return Some(o);
                } else {
                    o += 1;
                }
            }
        } else {
            let mut o = hi as i64;
            while o >= lo as i64 {
                let ou = o as u64;
                if ou % 64 == 63
                    && Self::whole_word(ou - 63, lo, hi)
                    && self.0[(ou / 64) as usize] == miss
                {
                    o -= 64;
                } else if self.get(ou) == v {
                    return Some(ou);
                } else {
                    o -= 1;
                }
            }
        }
        None
    }
}

/// One stretch of the index space: dense, or uniform (all set or all unset).
#[derive(Clone, Debug)]
struct Segment {
    start: u64,
    /// Inclusive, so the last segment can end at `u64::MAX`.
    last: u64,
    dense: Option<Dense>,
    uniform: bool,
}

/// The model: dense regions separated by uniform gaps. Operations that write only ever
/// touch a gap as a whole (their endpoints lie in the dense regions), so the gaps stay
/// uniform and the model stays exact.
#[derive(Clone, Debug)]
struct Model {
    segments: Vec<Segment>,
}

impl Model {
    fn new() -> Self {
        let mut segments: Vec<Segment> = Vec::new();
        for &start in &REGION_STARTS {
            if let Some(prev) = segments.last() {
                segments.push(Segment {
                    start: prev.last + 1,
                    last: start - 1,
                    dense: None,
                    uniform: false,
                });
            }
            segments.push(Segment {
                start,
                last: start + (REGION - 1),
                dense: Some(Dense::new(REGION)),
                uniform: false,
            });
        }
        Model { segments }
    }

    /// `(segment, lo, hi)` for every segment meeting bits `first ..= last`, clipped, with
    /// `lo` and `hi` relative to the segment start.
    fn pieces(
        &self,
        first: u64,
        last: u64,
    ) -> impl DoubleEndedIterator<Item = (&Segment, u64, u64)> {
        self.segments
            .iter()
            .filter(move |s| s.start <= last && s.last >= first)
            .map(move |s| (s, first.max(s.start) - s.start, last.min(s.last) - s.start))
    }

    fn get(&self, i: u64) -> bool {
        let (s, o, _) = self
            .pieces(i, i)
            .next()
            .expect("every index is in a segment");
        s.dense.as_ref().map_or(s.uniform, |d| d.get(o))
    }

    /// Sets bits `first ..= last`.
    fn fill(&mut self, first: u64, last: u64, value: bool) {
        for s in &mut self.segments {
            if s.start > last || s.last < first {
                continue;
            }
            let (lo, hi) = (first.max(s.start) - s.start, last.min(s.last) - s.start);
            match &mut s.dense {
                Some(d) => d.fill(lo, hi, value),
                None => {
                    assert!(
                        lo == 0 && hi == s.last - s.start,
                        "model gap written partially"
                    );
                    s.uniform = value;
                }
            }
        }
    }

    /// Set bits in `start .. end`.
    fn count(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        self.count_incl(start, end - 1)
    }

    /// Set bits in `first ..= last`.
    fn count_incl(&self, first: u64, last: u64) -> u64 {
        self.pieces(first, last)
            .map(|(s, lo, hi)| match &s.dense {
                Some(d) => d.count(lo, hi),
                None if s.uniform => hi - lo + 1,
                None => 0,
            })
            .sum()
    }

    fn find_in(s: &Segment, lo: u64, hi: u64, value: bool, forward: bool) -> Option<u64> {
        let found = match &s.dense {
            Some(d) => d.find(lo, hi, value, forward),
            None if s.uniform == value => Some(if forward { lo } else { hi }),
            None => None,
        };
        found.map(|o| s.start + o)
    }

    fn find_first(&self, value: bool, from: u64) -> Option<u64> {
        self.pieces(from, u64::MAX)
            .find_map(|(s, lo, hi)| Self::find_in(s, lo, hi, value, true))
    }

    fn find_last(&self, value: bool, upto: u64) -> Option<u64> {
        self.pieces(0, upto)
            .rev()
            .find_map(|(s, lo, hi)| Self::find_in(s, lo, hi, value, false))
    }

    /// Set bits in page `p`.
    fn page_count(&self, p: u64) -> u64 {
        let first = p * BITS_PER_PAGE;
        self.count_incl(first, first + (BITS_PER_PAGE - 1))
    }

    /// `(partial pages, full pages)`: what the bitfield should hold.
    fn page_census(&self) -> (usize, u64) {
        let (mut partial, mut full) = (0usize, 0u64);
        for s in &self.segments {
            match &s.dense {
                Some(_) => {
                    for p in (s.start / BITS_PER_PAGE)..=(s.last / BITS_PER_PAGE) {
                        match self.page_count(p) {
                            0 => {}
                            BITS_PER_PAGE => full += 1,
                            _ => partial += 1,
                        }
                    }
                }
                // Pages wholly inside a set gap (its edge pages are the regions' pages).
                None if s.uniform => {
                    let first_page = s.start.div_ceil(BITS_PER_PAGE);
                    let end_page = (s.last + 1) / BITS_PER_PAGE;
                    full += end_page.saturating_sub(first_page);
                }
                None => {}
            }
        }
        (partial, full)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set(u64, bool),
    SetRange(u64, u64, bool),
    Get(u64),
    FirstSet(u64),
    FirstUnset(u64),
    LastSet(u64),
    LastUnset(u64),
    Count(u64, u64),
    WriteWords(u64, Vec<u32>),
    ReadWords(u64, usize),
}

/// An index inside one of the dense regions, biased towards page and word edges.
fn dense_index() -> impl Strategy<Value = u64> {
    let offset = prop_oneof![
        0..REGION,
        (1..REGION / BITS_PER_PAGE, -40i64..40)
            .prop_map(|(p, d)| { (p * BITS_PER_PAGE).saturating_add_signed(d).min(REGION - 1) }),
    ];
    (0..REGION_STARTS.len(), offset).prop_map(|(r, o)| REGION_STARTS[r] + o)
}

/// A range end point: any dense index, or a region's end (= the next gap's start).
fn range_point() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => dense_index(),
        1 => (0..REGION_STARTS.len()).prop_map(|r| REGION_STARTS[r].saturating_add(REGION)),
    ]
}

/// Any index, including the gaps (queries only).
fn any_index() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => dense_index(),
        1 => any::<u64>(),
        1 => Just(u64::MAX),
    ]
}

/// A word-aligned start and word count that stay within one dense region.
fn word_span() -> impl Strategy<Value = (u64, usize)> {
    let words_per_region = (REGION / 32) as usize;
    (
        0..REGION_STARTS.len(),
        0..words_per_region,
        0usize..2 * WORDS_PER_PAGE + 40,
    )
        .prop_map(move |(r, w, n)| {
            let n = n.min(words_per_region - w);
            // Region starts are multiples of 32.
            (REGION_STARTS[r] + 32 * w as u64, n)
        })
}

fn words(n: usize) -> impl Strategy<Value = Vec<u32>> {
    prop_oneof![
        Just(vec![0; n]),
        Just(vec![u32::MAX; n]),
        prop::collection::vec(prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()], n),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (dense_index(), any::<bool>()).prop_map(|(i, v)| Op::Set(i, v)),
        3 => (range_point(), range_point(), any::<bool>())
            .prop_map(|(a, b, v)| Op::SetRange(a.min(b), a.max(b), v)),
        2 => any_index().prop_map(Op::Get),
        2 => any_index().prop_map(Op::FirstSet),
        2 => any_index().prop_map(Op::FirstUnset),
        2 => any_index().prop_map(Op::LastSet),
        2 => any_index().prop_map(Op::LastUnset),
        2 => (any_index(), any_index()).prop_map(|(a, b)| Op::Count(a.min(b), a.max(b))),
        1 => word_span().prop_flat_map(|(s, n)| words(n).prop_map(move |w| Op::WriteWords(s, w))),
        1 => word_span().prop_map(|(s, n)| Op::ReadWords(s, n)),
    ]
}

/// Checks the canonical, proportional memory use after every operation.
fn check_memory(b: &Bitfield, m: &Model) {
    let (partial, full) = m.page_census();
    assert_eq!(b.allocated_pages(), partial, "allocated pages");
    assert!(b.dense_pages() <= partial, "dense pages are partial pages");
    assert_eq!(b.full_pages(), full, "full pages");
    assert_eq!(b.is_empty(), partial == 0 && full == 0);
    let runs: Vec<_> = b.full_page_runs().collect();
    for pair in runs.windows(2) {
        assert!(pair[0].end < pair[1].start, "runs not merged: {runs:?}");
    }
}

fn run(ops: &[Op]) {
    let mut b = Bitfield::new();
    let mut m = Model::new();
    for op in ops {
        match op {
            &Op::Set(i, v) => {
                let changed = m.get(i) != v;
                m.fill(i, i, v);
                assert_eq!(b.set(i, v), changed, "{op:?}");
            }
            &Op::SetRange(s, e, v) => {
                if s < e {
                    m.fill(s, e - 1, v);
                }
                b.set_range(s, e, v);
            }
            &Op::Get(i) => assert_eq!(b.get(i), m.get(i), "{op:?}"),
            &Op::FirstSet(i) => assert_eq!(b.first_set(i), m.find_first(true, i), "{op:?}"),
            &Op::FirstUnset(i) => assert_eq!(b.first_unset(i), m.find_first(false, i), "{op:?}"),
            &Op::LastSet(i) => assert_eq!(b.last_set(i), m.find_last(true, i), "{op:?}"),
            &Op::LastUnset(i) => assert_eq!(b.last_unset(i), m.find_last(false, i), "{op:?}"),
            &Op::Count(s, e) => assert_eq!(b.count(s, e), m.count(s, e), "{op:?}"),
            Op::WriteWords(s, w) => {
                for (k, word) in w.iter().enumerate() {
                    for bit in 0..32 {
                        let i = s + 32 * k as u64 + bit;
                        m.fill(i, i, word >> bit & 1 == 1);
                    }
                }
                b.write_words(*s, w).expect("aligned, in range");
            }
            &Op::ReadWords(s, n) => {
                let mut got = vec![0xdead_beef; n];
                b.read_words(s, &mut got).expect("aligned, in range");
                assert_eq!(got, model_words(&m, s, n), "{op:?}");
            }
        }
        check_memory(&b, &m);
    }
    // Every page the model says is in use is exposed with the model's words.
    for &s in &REGION_STARTS {
        for p in (s / BITS_PER_PAGE)..=((s + (REGION - 1)) / BITS_PER_PAGE) {
            let in_use = m.page_count(p) > 0;
            match b.page(p) {
                None => assert!(!in_use, "page {p} missing"),
                Some(words) => {
                    assert!(in_use, "page {p} listed but empty");
                    let want = model_words(&m, p * BITS_PER_PAGE, WORDS_PER_PAGE);
                    assert_eq!(&words[..], &want[..], "page {p}");
                }
            }
        }
    }
}

/// The `n` words from bit `start` according to the model.
fn model_words(m: &Model, start: u64, n: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|k| {
            (0..32).fold(0u32, |w, bit| {
                w | u32::from(m.get(start + 32 * k + bit)) << bit
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(&ops);
    }

    /// Pages copied out with `pages()` and inserted into a fresh bitfield rebuild it.
    #[test]
    fn pages_round_trip(ops in prop::collection::vec(
        (0u64..4 * BITS_PER_PAGE, 0u64..3 * BITS_PER_PAGE, any::<bool>()), 1..12)
    ) {
        let mut b = Bitfield::new();
        for &(s, len, v) in &ops {
            b.set_range(s, s + len, v);
        }
        let mut copy = Bitfield::new();
        let mut last = None;
        for (p, words) in b.pages() {
            prop_assert!(last < Some(p), "pages out of order");
            last = Some(p);
            prop_assert!(words.iter().any(|&w| w != 0), "empty page listed");
            copy.insert_page(p, &words).expect("valid page index");
        }
        prop_assert_eq!(&copy, &b);
        // A few ranges make a few runs a page: no page needs the 4 KiB form.
        prop_assert_eq!(b.dense_pages(), 0);
        prop_assert_eq!(copy.dense_pages(), 0);
        let msg = b.to_message(0, 7 * WORDS_PER_PAGE).expect("small, aligned");
        let mut via_wire = Bitfield::new();
        via_wire.apply_message(&msg).expect("aligned");
        prop_assert_eq!(&via_wire, &b);
    }
}

#[test]
fn set_range_of_2_pow_40_is_cheap_and_exact() {
    let mut b = Bitfield::new();
    let (s, e) = (12_345, (1u64 << 40) + 678);
    b.set_range(s, e, true);
    assert_eq!(b.allocated_pages(), 2);
    assert_eq!(b.count(0, u64::MAX), e - s);
    assert_eq!(b.first_set(0), Some(s));
    assert_eq!(b.first_unset(s), Some(e));
    assert_eq!(b.last_set(u64::MAX), Some(e - 1));
    assert_eq!(b.last_unset(e - 1), Some(s - 1));
    b.set(1 << 39, false);
    assert_eq!(b.first_unset(s), Some(1 << 39));
    assert_eq!(b.full_page_runs().count(), 2);
    assert_eq!(b.allocated_pages(), 3);
    b.set(1 << 39, true);
    assert_eq!(b.full_page_runs().count(), 1);
    assert_eq!(b.allocated_pages(), 2);
    b.set_range(0, u64::MAX, false);
    assert!(b.is_empty());
}

/// A page with a few runs costs no 4 KiB page; one with many turns dense, lends and stores
/// the same words either way, and takes the sparse form again when replaced whole.
#[test]
fn few_runs_stay_sparse_and_many_turn_dense() {
    let mut b = Bitfield::new();
    b.set(0, true);
    b.set_range(100, 5000, true);
    assert_eq!((b.allocated_pages(), b.dense_pages()), (1, 0));
    let sparse_words = *b.page(0).expect("in use");
    assert_eq!(b.count(0, BITS_PER_PAGE), 4901);
    b.write_words(BITS_PER_PAGE / 2, &[0x5555_5555; 64])
        .expect("aligned");
    assert_eq!((b.allocated_pages(), b.dense_pages()), (1, 1));
    assert_eq!(b.count(0, BITS_PER_PAGE), 4901 + 64 * 16);
    b.set_range(BITS_PER_PAGE / 2, BITS_PER_PAGE, false);
    assert_eq!(
        *b.page(0).expect("in use"),
        sparse_words,
        "same words, dense"
    );
    assert_eq!(b.dense_pages(), 1, "a dense page stays dense while partial");
    b.insert_page(0, &sparse_words).expect("in range");
    assert_eq!(b.dense_pages(), 0, "replaced whole: sparse again");
    b.set_range(0, BITS_PER_PAGE, false);
    assert!(b.is_empty());
}

#[test]
fn unaligned_and_out_of_range_words_are_refused() {
    use ferrocore::bitfield::{BitfieldError, MAX_MESSAGE_WORDS};
    let mut b = Bitfield::new();
    let msg = ferrocore::wire::Bitfield {
        start: 33,
        bitfield: vec![1],
    };
    assert_eq!(b.apply_message(&msg), Err(BitfieldError::Unaligned(33)));
    assert_eq!(
        b.write_words(u64::MAX - 63, &[1, 2, 3]),
        Err(BitfieldError::OutOfRange)
    );
    assert!(b.is_empty(), "refused writes change nothing");
    assert_eq!(
        b.to_message(0, MAX_MESSAGE_WORDS + 1),
        Err(BitfieldError::TooLarge(MAX_MESSAGE_WORDS + 1))
    );
    assert_eq!(
        b.insert_page(u64::MAX, &[0; WORDS_PER_PAGE]),
        Err(BitfieldError::OutOfRange)
    );
}

/// `bitfield.json` → `bitfieldMessage`: the reference's bit numbering.
#[test]
fn bitfield_message_vector_layout() {
    let mut cases = Cases::new("bitfield message layout");
    for (path, v) in files(Schema::BitfieldMessages) {
        let msg = &v["bitfieldMessage"];
        let start = u64_of(&msg["start"]);
        let set_bits: Vec<u64> = msg["setBits"]
            .as_array()
            .expect("setBits array")
            .iter()
            .map(u64_of)
            .collect();
        let words: Vec<u32> = msg["words"]
            .as_array()
            .expect("words array")
            .iter()
            .map(|w| u32::try_from(u64_of(w)).expect("u32 word"))
            .collect();
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(bytes, hex(&msg["bytes"]), "{}", name(&path));

        let mut b = Bitfield::new();
        for &i in &set_bits {
            assert!(b.set(start + i, true));
        }
        let out = b.to_message(start, words.len()).expect("aligned");
        assert_eq!(out.start, start);
        assert_eq!(out.bitfield, words, "{}", name(&path));

        let mut received = Bitfield::new();
        received
            .apply_message(&ferrocore::wire::Bitfield {
                start,
                bitfield: words.clone(),
            })
            .expect("aligned");
        assert_eq!(received, b, "{}", name(&path));
        assert_eq!(received.count(0, u64::MAX), set_bits.len() as u64);
        cases.pass();
    }
    cases.report();
}
