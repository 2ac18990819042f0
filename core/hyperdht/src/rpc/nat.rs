//! The NAT sampler (`nat-sampler`, as dht-rpc uses it): guesses our public address from
//! the addresses other nodes report they saw us at.
//!
//! Each sample counts twice: as `host:port` and as `host` alone. Only the last 16 samples
//! (32 entries) are kept, and a repeat is only recognised among the last four entries of
//! its kind. Once a `host:port` has been seen at least *threshold* times it is our address;
//! failing that, a `host` seen that often is our host with port 0 (a consistent host
//! behind a port-randomising NAT); otherwise the address is unknown. The threshold is the
//! number of samples minus 0, 1, 2 or 3 (for fewer than 4, 8, 12 or more samples).

use alloc::vec::Vec;

/// Window entries kept (two per sample).
const WINDOW: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    host: [u8; 4],
    port: u16,
    hits: u32,
}

/// The NAT sampler.
///
/// As in JS, a repeated address bumps the *same* entry, which then sits in several window
/// slots; entries live in an arena the slots point into (compacted when it grows).
#[derive(Debug, Clone, Default)]
pub struct NatSampler {
    host: Option<[u8; 4]>,
    port: u16,
    size: u32,
    threshold: u32,
    top: usize,
    arena: Vec<Entry>,
    slots: Vec<usize>,
    a: Option<usize>,
    b: Option<usize>,
}

impl NatSampler {
    /// An empty sampler: no host, port 0.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Our public host, when the samples agree on one.
    #[must_use]
    pub fn host(&self) -> Option<[u8; 4]> {
        self.host
    }

    /// Our public port: 0 while unknown or when it varies.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Samples counted (counting stops at 16, when the window is full).
    #[must_use]
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Adds a sample: a node saw us at `host:port`. Returns the hits of that address.
    pub fn add(&mut self, host: [u8; 4], port: u16) -> u32 {
        self.compact();
        let a = self.bump(host, port, 2);
        let b = self.bump(host, 0, 1);
        if self.slots.len() < WINDOW {
            self.size += 1;
            let off = match self.size {
                0..=3 => 0,
                4..=7 => 1,
                8..=11 => 2,
                _ => 3,
            };
            self.threshold = self.size - off;
            self.slots.push(a);
            self.slots.push(b);
            self.top += 2;
        } else {
            if self.top == WINDOW {
                self.top = 0;
            }
            for e in [a, b] {
                let old = self.slots[self.top];
                self.slots[self.top] = e;
                self.top += 1;
                self.arena[old].hits -= 1;
            }
        }
        let hits = |i: Option<usize>| i.map_or(0, |i| self.arena[i].hits);
        if self.a.is_none() || hits(self.a) < self.arena[a].hits {
            self.a = Some(a);
        }
        if self.b.is_none() || hits(self.b) < self.arena[b].hits {
            self.b = Some(b);
        }
        let (ea, eb) = (
            self.arena[self.a.unwrap_or(a)],
            self.arena[self.b.unwrap_or(b)],
        );
        if ea.hits >= self.threshold {
            self.host = Some(ea.host);
            self.port = ea.port;
        } else if eb.hits >= self.threshold {
            self.host = Some(eb.host);
            self.port = 0;
        } else {
            self.host = None;
            self.port = 0;
        }
        self.arena[a].hits
    }

    /// Looks for `host:port` among the last four entries of its kind (`inc` back from the
    /// top): found, it gains a hit; otherwise a new entry with one hit.
    fn bump(&mut self, host: [u8; 4], port: u16, inc: usize) -> usize {
        for i in 0..4 {
            let j = self.top.wrapping_sub(inc + 2 * i) & (WINDOW - 1);
            let Some(&e) = self.slots.get(j) else {
                break;
            };
            let s = &mut self.arena[e];
            if s.port == port && s.host == host {
                s.hits += 1;
                return e;
            }
        }
        self.arena.push(Entry {
            host,
            port,
            hits: 1,
        });
        self.arena.len() - 1
    }

    /// Drops arena entries no slot (nor the current best) points at.
    fn compact(&mut self) {
        if self.arena.len() < 4 * WINDOW {
            return;
        }
        let mut map = alloc::vec![usize::MAX; self.arena.len()];
        let mut arena = Vec::with_capacity(WINDOW + 2);
        let mut keep = |i: usize, arena: &mut Vec<Entry>| {
            if map[i] == usize::MAX {
                map[i] = arena.len();
                arena.push(self.arena[i]);
            }
            map[i]
        };
        for s in self.slots.iter_mut() {
            *s = keep(*s, &mut arena);
        }
        self.a = self.a.map(|i| keep(i, &mut arena));
        self.b = self.b.map(|i| keep(i, &mut arena));
        self.arena = arena;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(samples: &[([u8; 4], u16)]) -> (Option<[u8; 4]>, u16, u32) {
        let mut s = NatSampler::new();
        for (h, p) in samples {
            s.add(*h, *p);
        }
        (s.host(), s.port(), s.size())
    }

    fn repeat(h: [u8; 4], p: u16, n: usize) -> impl Iterator<Item = ([u8; 4], u16)> {
        core::iter::repeat_n((h, p), n)
    }

    const A: [u8; 4] = [1, 1, 1, 1];
    const B: [u8; 4] = [2, 2, 2, 2];

    #[test]
    fn one_sample_is_believed_and_agreeing_samples_win() {
        assert_eq!(run(&[(A, 10)]), (Some(A), 10, 1));
        // 3 of 4 agree: the threshold for 4 samples is 3
        assert_eq!(run(&[(A, 10), (A, 10), (B, 10), (A, 10)]), (Some(A), 10, 4));
        // two hosts, one each: nobody reaches the threshold of 2
        assert_eq!(run(&[(A, 10), (B, 11)]), (None, 0, 2));
    }

    #[test]
    fn a_consistent_host_with_varying_ports_is_a_randomising_nat() {
        assert_eq!(run(&[(A, 10), (A, 11)]), (Some(A), 0, 2));
        let alternating: alloc::vec::Vec<_> = (0..20).map(|i| (A, 1 + (i % 2))).collect();
        assert_eq!(run(&alternating), (Some(A), 0, 16));
    }

    #[test]
    fn only_the_last_sixteen_samples_count() {
        // 16 samples of a new address push the old one out entirely
        let mut v: alloc::vec::Vec<_> = repeat(A, 7, 20).chain(repeat(B, 8, 16)).collect();
        assert_eq!(run(&v), (Some(B), 8, 16));
        // 12 of 16 is below the threshold of 13 for a full window
        v.truncate(32);
        assert_eq!(run(&v), (None, 0, 16));
    }
}
