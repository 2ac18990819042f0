//! The announcement store of a persistent node, with the semantics of `record-cache`
//! (`record-cache@1.2.0`, HyperDHT's `records`): under each target, a set of records keyed
//! by the announcer's public key.
//!
//! Records live in a *fresh* and a *stale* generation. Adding a record puts it in the fresh
//! one (a record already fresh under the same key keeps its old value, as in JS); when the
//! fresh generation holds more than `max_size` records, or when a timer of
//! `ceil(2/3 · max_age)` fires without such a rotation since its last firing, the stale
//! generation is dropped and the fresh one becomes stale. The store therefore never holds
//! more than `2 · max_size + 1` records, however many targets they are spread over (JS has
//! no per-target cap; lookups return a random sample of at most 20).
//!
//! As in [`records_cache`](super::records_cache), the timer is applied lazily from the
//! `now` every call takes.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use super::records_cache::Ager;

/// A 32-byte key: a target or a public key.
pub type Key = [u8; 32];

/// The records under one target, in one generation.
#[derive(Debug, Clone, Default)]
struct RecordSet {
    /// `(public key, record)`, in an order lookups shuffle.
    list: Vec<(Key, Bytes)>,
    /// Where each public key sits in `list`.
    index: BTreeMap<Key, usize>,
}

impl RecordSet {
    fn add(&mut self, key: Key, value: Bytes) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key, self.list.len());
        self.list.push((key, value));
        true
    }

    fn remove(&mut self, key: &Key) -> bool {
        let Some(i) = self.index.remove(key) else {
            return false;
        };
        self.list.swap_remove(i);
        if let Some((moved, _)) = self.list.get(i) {
            self.index.insert(*moved, i);
        }
        true
    }

    fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.list.swap(a, b);
        self.index.insert(self.list[a].0, a);
        self.index.insert(self.list[b].0, b);
    }
}

/// One generation: the record sets by target.
#[derive(Debug, Clone, Default)]
struct RecordStore {
    records: BTreeMap<Key, RecordSet>,
    size: usize,
}

impl RecordStore {
    fn add(&mut self, name: Key, key: Key, value: Bytes) -> bool {
        let added = self.records.entry(name).or_default().add(key, value);
        if added {
            self.size += 1;
        }
        added
    }

    fn remove(&mut self, name: &Key, key: &Key) {
        let Some(set) = self.records.get_mut(name) else {
            return;
        };
        if set.remove(key) {
            self.size -= 1;
            if set.list.is_empty() {
                self.records.remove(name);
            }
        }
    }
}

/// Records by target and public key, bounded in count and age (`record-cache`).
#[derive(Debug, Clone)]
pub struct RecordCache {
    max_size: usize,
    ager: Ager,
    fresh: RecordStore,
    stale: RecordStore,
}

impl RecordCache {
    /// An empty store created at `now`, rotating when more than `max_size` records are
    /// fresh and aging records out after `max_age` (zero: never).
    #[must_use]
    pub fn new(now: Duration, max_size: usize, max_age: Duration) -> Self {
        Self {
            max_size,
            ager: Ager::new(now, max_age),
            fresh: RecordStore::default(),
            stale: RecordStore::default(),
        }
    }

    /// The number of records held, over all targets and both generations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.fresh.size + self.stale.size
    }

    /// Whether no record is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of targets with a record in either generation (an upper bound: a target
    /// in both counts twice).
    #[must_use]
    pub fn targets(&self) -> usize {
        self.fresh.records.len() + self.stale.records.len()
    }

    /// When the age timer next fires, if records age at all.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.ager.poll_timeout()
    }

    /// Applies the timer firings due at `now` (every other call does this first).
    pub fn handle_timeout(&mut self, now: Duration) {
        for _ in 0..self.ager.fire(now) {
            self.stale = core::mem::take(&mut self.fresh);
        }
    }

    /// Adds `value` under target `name` and public key `key` to the fresh generation
    /// (moving it out of the stale one). A record already fresh under `key` keeps its old
    /// value.
    pub fn add(&mut self, now: Duration, name: Key, key: Key, value: Bytes) {
        self.handle_timeout(now);
        self.stale.remove(&name, &key);
        if self.fresh.add(name, key, value) && self.fresh.size > self.max_size {
            self.stale = core::mem::take(&mut self.fresh);
            self.ager.rotated();
        }
    }

    /// Removes the record under `name` and `key` from both generations.
    pub fn remove(&mut self, now: Duration, name: &Key, key: &Key) {
        self.handle_timeout(now);
        self.fresh.remove(name, key);
        self.stale.remove(name, key);
    }

    /// Whether a record under `name` and `key` is held.
    pub fn has(&mut self, now: Duration, name: &Key, key: &Key) -> bool {
        self.handle_timeout(now);
        [&self.fresh, &self.stale].iter().any(|s| {
            s.records
                .get(name)
                .is_some_and(|r| r.index.contains_key(key))
        })
    }

    /// Up to `n` records under `name` (all of them when `n` is 0), drawn uniformly without
    /// replacement from both generations; `random(bound)` returns a number below `bound`.
    pub fn get(
        &mut self,
        now: Duration,
        name: &Key,
        n: usize,
        random: &mut impl FnMut(usize) -> usize,
    ) -> Vec<Bytes> {
        self.handle_timeout(now);
        let mut fresh = self.fresh.records.get_mut(name);
        let mut stale = self.stale.records.get_mut(name);
        let mut a_len = fresh.as_ref().map_or(0, |s| s.list.len());
        let mut b_len = stale.as_ref().map_or(0, |s| s.list.len());
        let len = a_len + b_len;
        let n = if n == 0 || n > len { len } else { n };
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let j = random(a_len + b_len).min(a_len + b_len - 1);
            // Like JS, move the pick past the still-eligible part of its list.
            let (set, j, end) = match (j < a_len, &mut fresh, &mut stale) {
                (true, Some(a), _) => {
                    a_len -= 1;
                    (a, j, a_len)
                }
                (false, _, Some(b)) => {
                    b_len -= 1;
                    (b, j - a_len, b_len)
                }
                _ => break,
            };
            out.push(set.list[j].1.clone());
            set.swap(j, end);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn k(i: u32) -> Key {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&i.to_le_bytes());
        k
    }

    /// A deterministic `random(bound)`.
    fn lcg(seed: u64) -> impl FnMut(usize) -> usize {
        let mut s = seed;
        move |bound| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 33) as usize) % bound
        }
    }

    #[test]
    fn a_sample_draws_distinct_records_from_both_generations() {
        let mut c = RecordCache::new(at(0), 25, Duration::ZERO);
        for i in 0..25 {
            c.add(at(0), k(0), k(i), Bytes::from(vec![i as u8]));
        }
        // The 26th fresh record rotates: 26 stale, then 5 more fresh ones.
        for i in 25..31 {
            c.add(at(0), k(0), k(i), Bytes::from(vec![i as u8]));
        }
        assert_eq!(c.len(), 31);
        let mut rnd = lcg(1);
        let mut got: Vec<u8> = c
            .get(at(0), &k(0), 0, &mut rnd)
            .iter()
            .map(|b| b[0])
            .collect();
        got.sort_unstable();
        assert_eq!(got, (0..31).collect::<Vec<u8>>());
        let some = c.get(at(0), &k(0), 20, &mut rnd);
        assert_eq!(some.len(), 20);
        let mut firsts: Vec<u8> = some.iter().map(|b| b[0]).collect();
        firsts.sort_unstable();
        firsts.dedup();
        assert_eq!(firsts.len(), 20);
        assert!(c.get(at(0), &k(1), 20, &mut rnd).is_empty());
    }

    #[test]
    fn a_fresh_record_keeps_its_value_and_a_stale_one_is_replaced() {
        let mut c = RecordCache::new(at(0), 100, at(3000));
        c.add(at(0), k(0), k(1), Bytes::from_static(b"old"));
        c.add(at(1), k(0), k(1), Bytes::from_static(b"new"));
        assert_eq!(
            c.get(at(1), &k(0), 0, &mut lcg(0)),
            vec![Bytes::from_static(b"old")]
        );
        // After the first firing (2000 ms) the record is stale; adding it again replaces it.
        c.add(at(2500), k(0), k(1), Bytes::from_static(b"new"));
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.get(at(2500), &k(0), 0, &mut lcg(0)),
            vec![Bytes::from_static(b"new")]
        );
    }

    #[test]
    fn records_age_out_between_two_thirds_and_four_thirds_of_max_age() {
        let mut c = RecordCache::new(at(0), 100, at(3000));
        c.add(at(1), k(0), k(1), Bytes::new());
        assert!(c.has(at(3999), &k(0), &k(1)));
        assert!(!c.has(at(4000), &k(0), &k(1)));
        assert!(c.is_empty());
        assert_eq!(c.targets(), 0);
    }

    #[test]
    fn removal_takes_the_record_out_of_both_generations() {
        let mut c = RecordCache::new(at(0), 1, Duration::ZERO);
        c.add(at(0), k(0), k(1), Bytes::new());
        c.add(at(0), k(0), k(2), Bytes::new()); // rotates: both stale
        c.add(at(0), k(0), k(1), Bytes::new()); // k(1) fresh again
        c.remove(at(0), &k(0), &k(1));
        c.remove(at(0), &k(0), &k(2));
        assert!(c.is_empty());
        assert_eq!(c.targets(), 0);
    }

    #[test]
    fn a_flood_of_targets_is_bounded_by_the_size_cap() {
        let mut c = RecordCache::new(at(0), 1000, at(1000));
        for i in 0..50_000 {
            c.add(at(0), k(i), k(i), Bytes::from_static(&[0; 51]));
            assert!(c.len() <= 2 * 1000 + 1);
            assert!(c.targets() <= 2 * 1000 + 1);
        }
    }
}
