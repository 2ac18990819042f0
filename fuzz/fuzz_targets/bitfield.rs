//! Runs the input, read as a sequence of bitfield operations, against the sparse bitfield
//! and a model, asserting that every answer agrees and that memory stays canonical.
//!
//! The model compresses the index space into *cells*: every bit of three page-aligned dense
//! regions (at 0, at 2^40 and at the top of the `u64` range) is a cell of one bit, and each
//! gap between them is one cell. Writes only start and end at region bits or region ends,
//! so a gap is always written whole and stays uniform.
#![no_main]

use ferrocore::bitfield::{Bitfield, BitfieldError, BITS_PER_PAGE, PAGE_COUNT, WORDS_PER_PAGE};

const REGION_PAGES: u64 = 2;
const REGION: u64 = REGION_PAGES * BITS_PER_PAGE;
const STARTS: [u64; 3] = [0, 1 << 40, u64::MAX - (REGION - 1)];

struct Model {
    /// One value per cell: `REGION` bits, a gap cell, `REGION` bits, a gap cell, `REGION` bits.
    cells: Vec<bool>,
}

impl Model {
    fn new() -> Self {
        Model {
            cells: vec![false; 3 * REGION as usize + 2],
        }
    }

    /// First index and length (in bits) of cell `c`.
    fn cell_span(c: usize) -> (u64, u64) {
        let (r, o) = (c as u64 / (REGION + 1), c as u64 % (REGION + 1));
        if o < REGION {
            (STARTS[r as usize] + o, 1)
        } else {
            let start = STARTS[r as usize] + REGION;
            (start, STARTS[r as usize + 1] - start)
        }
    }

    /// The cell holding bit `i`.
    fn cell(i: u64) -> usize {
        let r = STARTS.iter().rposition(|&s| s <= i).unwrap_or(0);
        let o = (i - STARTS[r]).min(REGION);
        (r as u64 * (REGION + 1) + o) as usize
    }

    fn count(&self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        (Self::cell(start)..Self::cell(end))
            .filter(|&c| self.cells[c])
            .map(|c| Self::cell_span(c).1)
            .sum()
    }
}

/// Reads the fuzz input.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from(self.u32()?) << 32 | u64::from(self.u32()?))
    }

    /// A bit inside a region.
    fn point(&mut self) -> Option<u64> {
        let r = usize::from(self.byte()?) % STARTS.len();
        Some(STARTS[r] + u64::from(self.u32()?) % REGION)
    }

    /// A write boundary: a region bit, or a region's end (clamped to `u64::MAX`).
    fn boundary(&mut self) -> Option<u64> {
        if self.byte()? % 5 == 0 {
            let r = usize::from(self.byte()?) % STARTS.len();
            Some(STARTS[r].saturating_add(REGION))
        } else {
            self.point()
        }
    }

    /// A word-aligned start inside a region and a word count that stays inside it.
    fn word_span(&mut self) -> Option<(u64, usize)> {
        let start = self.point()? & !31;
        let room = (REGION - start % REGION) / 32;
        let n = u64::from(self.u32()?) % (2 * WORDS_PER_PAGE as u64 + 8);
        Some((start, n.min(room) as usize))
    }
}

fn words_of(model: &Model, start: u64, n: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|k| {
            (0..32).fold(0u32, |w, b| {
                w | u32::from(model.cells[Model::cell(start + 32 * k + b)]) << b
            })
        })
        .collect()
}

/// Checks allocated and full pages against the model (regions are page aligned, so every
/// page lies wholly in a region or wholly in a gap).
fn check_pages(b: &Bitfield, m: &Model) {
    let (mut partial, mut full) = (0usize, 0u64);
    for &s in &STARTS {
        for k in 0..REGION_PAGES {
            let first = s + k * BITS_PER_PAGE;
            let c = Model::cell(first);
            let ones = m.cells[c..c + BITS_PER_PAGE as usize]
                .iter()
                .filter(|&&x| x)
                .count();
            match ones as u64 {
                0 => assert!(b.page(first / BITS_PER_PAGE).is_none()),
                BITS_PER_PAGE => full += 1,
                _ => partial += 1,
            }
        }
    }
    for r in 0..2 {
        if m.cells[(r + 1) * (REGION as usize + 1) - 1] {
            full += (STARTS[r + 1] - STARTS[r]) / BITS_PER_PAGE - REGION_PAGES;
        }
    }
    assert_eq!(b.allocated_pages(), partial);
    assert_eq!(b.is_empty(), !m.cells.contains(&true));
    assert_eq!(b.full_pages(), full);
    let runs: Vec<_> = b.full_page_runs().collect();
    assert!(runs.windows(2).all(|w| w[0].end < w[1].start), "{runs:?}");
}

fn first_in(m: &Model, value: bool, from: u64) -> Option<u64> {
    let c0 = Model::cell(from);
    (c0..m.cells.len()).find(|&c| m.cells[c] == value).map(|c| {
        if c == c0 {
            from
        } else {
            Model::cell_span(c).0
        }
    })
}

fn last_in(m: &Model, value: bool, upto: u64) -> Option<u64> {
    let c0 = Model::cell(upto);
    (0..=c0).rev().find(|&c| m.cells[c] == value).map(|c| {
        if c == c0 {
            upto
        } else {
            let (s, len) = Model::cell_span(c);
            s + (len - 1)
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut b = Bitfield::new();
    let mut m = Model::new();
    for _ in 0..64 {
        let Some(op) = input.byte() else { break };
        let ok = (|| -> Option<()> {
            match op % 12 {
                0 | 1 => {
                    let (i, v) = (input.point()?, input.byte()? & 1 == 1);
                    let c = Model::cell(i);
                    assert_eq!(b.set(i, v), m.cells[c] != v);
                    m.cells[c] = v;
                }
                2 | 3 => {
                    let (x, y, v) = (input.boundary()?, input.boundary()?, input.byte()? & 1 == 1);
                    let (s, e) = (x.min(y), x.max(y));
                    b.set_range(s, e, v);
                    if s < e {
                        m.cells[Model::cell(s)..Model::cell(e)].fill(v);
                    }
                }
                4 => {
                    let i = input.point()?;
                    assert_eq!(b.get(i), m.cells[Model::cell(i)]);
                }
                5 => {
                    let (i, v) = (input.point()?, input.byte()? & 1 == 1);
                    assert_eq!(b.find_first(v, i), first_in(&m, v, i));
                }
                6 => {
                    let (i, v) = (input.point()?, input.byte()? & 1 == 1);
                    assert_eq!(b.find_last(v, i), last_in(&m, v, i));
                }
                7 => {
                    let (x, y) = (input.boundary()?, input.boundary()?);
                    assert_eq!(b.count(x.min(y), x.max(y)), m.count(x.min(y), x.max(y)));
                }
                8 => {
                    let (start, n) = input.word_span()?;
                    let fill = input.u32()?;
                    let words: Vec<u32> = (0..n as u32)
                        .map(|k| match fill % 3 {
                            0 => 0,
                            1 => u32::MAX,
                            _ => fill.rotate_left(k),
                        })
                        .collect();
                    b.write_words(start, &words).expect("aligned, in range");
                    for (k, w) in words.iter().enumerate() {
                        for bit in 0..32 {
                            m.cells[Model::cell(start + 32 * k as u64 + bit)] = w >> bit & 1 == 1;
                        }
                    }
                }
                9 => {
                    let (start, n) = input.word_span()?;
                    let msg = b.to_message(start, n).expect("aligned, small");
                    assert_eq!(msg.bitfield, words_of(&m, start, n));
                }
                10 => {
                    // Refused inputs change nothing.
                    let (start, n) = (input.u64()?, usize::from(input.byte()?) + 1);
                    let before = b.clone();
                    let words = vec![u32::MAX; n];
                    let fits = start % 32 == 0 && start.checked_add(32 * n as u64 - 1).is_some();
                    if !fits {
                        let res = b.write_words(start, &words);
                        assert!(matches!(
                            res,
                            Err(BitfieldError::Unaligned(_) | BitfieldError::OutOfRange)
                        ));
                        assert!(b == before);
                    }
                    let p = PAGE_COUNT.saturating_add(start % 1024);
                    assert_eq!(
                        b.insert_page(p, &[u32::MAX; WORDS_PER_PAGE]),
                        Err(BitfieldError::OutOfRange)
                    );
                    assert!(b == before);
                }
                _ => {
                    let i = input.point()?;
                    let p = i / BITS_PER_PAGE;
                    let want = words_of(&m, p * BITS_PER_PAGE, WORDS_PER_PAGE);
                    match b.page(p) {
                        Some(words) => assert_eq!(&words[..], &want[..]),
                        None => assert!(want.iter().all(|&w| w == 0)),
                    }
                }
            }
            Some(())
        })();
        if ok.is_none() {
            break;
        }
    }
    check_pages(&b, &m);
});
