//! A two-generation cache with a size cap and an age limit, with the semantics of `xache`
//! (`xache@1.3.0`, the `Cache` HyperDHT stores forwards, bumps, refreshes, mutable and
//! immutable records in).
//!
//! Entries live in a *latest* and an *oldest* generation. Setting a key puts it in the
//! latest one; when the latest generation reaches `max_size` entries, or when a timer of
//! `ceil(2/3 · max_age)` fires without such a rotation since its last firing, the oldest
//! generation is dropped and the latest becomes the oldest. Reading a key from the oldest
//! generation moves it back to the latest. An entry thus lives between `2/3` and `4/3` of
//! `max_age` after its last use, and the cache never holds more than `2 · max_size` entries
//! (plus the *retained* ones, which are never dropped and which [`Cache::set`] cannot
//! overwrite).
//!
//! There is no timer here: every call takes `now` and first applies the rotations the
//! timer would have made since the previous call, which gives the same answers as JS's
//! `setInterval` (see [`Cache::poll_timeout`] to release memory without traffic).

use alloc::collections::BTreeMap;
use core::time::Duration;

/// A size- and age-bounded two-generation map (`xache`).
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    max_size: usize,
    ager: Ager,
    latest: BTreeMap<K, V>,
    oldest: BTreeMap<K, V>,
    retained: BTreeMap<K, V>,
}

/// `ceil(2/3 · max_age)` in whole milliseconds, as JS computes its timer period; `None`
/// for a zero `max_age` (no timer).
fn gc_tick(max_age: Duration) -> Option<Duration> {
    let ms = max_age.as_millis();
    if ms == 0 {
        return None;
    }
    let tick = (2 * ms).div_ceil(3);
    Some(Duration::from_millis(
        u64::try_from(tick).unwrap_or(u64::MAX),
    ))
}

/// The age timer of a two-generation store (`_gcAuto` in `xache` and `record-cache`):
/// every `ceil(2/3 · max_age)` it rotates the generations, unless a size rotation happened
/// since its previous firing.
#[derive(Debug, Clone)]
pub(crate) struct Ager {
    tick: Option<Duration>,
    next_tick: Duration,
    /// Whether a rotation happened since the last firing.
    gced: bool,
}

impl Ager {
    /// A timer started at `now` (none for a zero `max_age`).
    pub(crate) fn new(now: Duration, max_age: Duration) -> Self {
        let tick = gc_tick(max_age);
        Self {
            tick,
            next_tick: now + tick.unwrap_or(Duration::ZERO),
            gced: false,
        }
    }

    /// When the timer next fires.
    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        self.tick.map(|_| self.next_tick)
    }

    /// Notes a rotation made because of size.
    pub(crate) fn rotated(&mut self) {
        self.gced = true;
    }

    /// Fires the timer for every period ended by `now`; how many rotations that makes
    /// (capped at 3: three rotations empty both generations, more change nothing).
    pub(crate) fn fire(&mut self, now: Duration) -> u32 {
        let Some(tick) = self.tick else { return 0 };
        if now < self.next_tick {
            return 0;
        }
        let due = (now - self.next_tick).as_nanos() / tick.as_nanos().max(1) + 1;
        let fired = u32::try_from(due.min(3)).unwrap_or(3);
        let rotations = fired - u32::from(self.gced);
        self.gced = false;
        let step = tick.saturating_mul(u32::try_from(due).unwrap_or(u32::MAX));
        self.next_tick = self.next_tick.saturating_add(step);
        if self.next_tick <= now {
            // `due` did not fit in a u32: restart the period from `now`.
            self.next_tick = now + tick;
        }
        rotations
    }
}

impl<K: Ord + Clone, V> Cache<K, V> {
    /// An empty cache created at `now`, holding about `max_size` entries per generation,
    /// aging them out after `max_age` (zero: never).
    #[must_use]
    pub fn new(now: Duration, max_size: usize, max_age: Duration) -> Self {
        Self {
            max_size,
            ager: Ager::new(now, max_age),
            latest: BTreeMap::new(),
            oldest: BTreeMap::new(),
            retained: BTreeMap::new(),
        }
    }

    /// The number of entries in both generations and the retained set.
    #[must_use]
    pub fn len(&self) -> usize {
        self.latest.len() + self.oldest.len() + self.retained.len()
    }

    /// Whether the cache holds nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When the age timer next fires, if entries age at all.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.ager.poll_timeout()
    }

    /// Applies the timer firings due at `now` (every other call does this first).
    pub fn handle_timeout(&mut self, now: Duration) {
        for _ in 0..self.ager.fire(now) {
            self.oldest = core::mem::take(&mut self.latest);
        }
    }

    /// Stores `v` under `k` in the latest generation, unless `k` is retained (then nothing
    /// changes).
    pub fn set(&mut self, now: Duration, k: K, v: V) {
        self.handle_timeout(now);
        if self.retained.contains_key(&k) {
            return;
        }
        self.oldest.remove(&k);
        self.latest.insert(k, v);
        if self.latest.len() >= self.max_size {
            self.oldest = core::mem::take(&mut self.latest);
            self.ager.rotated();
        }
    }

    /// Stores `v` under `k` for good: it never ages out and only [`Cache::delete`] removes it.
    pub fn retain(&mut self, now: Duration, k: K, v: V) {
        self.handle_timeout(now);
        if self.latest.remove(&k).is_none() {
            self.oldest.remove(&k);
        }
        self.retained.insert(k, v);
    }

    /// Removes `k` wherever it is; whether it was there.
    pub fn delete(&mut self, now: Duration, k: &K) -> bool {
        self.handle_timeout(now);
        self.latest.remove(k).is_some()
            || self.oldest.remove(k).is_some()
            || self.retained.remove(k).is_some()
    }

    /// Whether `k` is held (does not refresh it).
    pub fn has(&mut self, now: Duration, k: &K) -> bool {
        self.handle_timeout(now);
        self.latest.contains_key(k) || self.oldest.contains_key(k) || self.retained.contains_key(k)
    }

    /// The value under `k` without using it: no aging applied, no move to the latest
    /// generation.
    #[must_use]
    pub fn peek(&self, k: &K) -> Option<&V> {
        (self.latest.get(k))
            .or_else(|| self.oldest.get(k))
            .or_else(|| self.retained.get(k))
    }

    /// The value under `k`, moving it to the latest generation when it was in the oldest.
    pub fn get(&mut self, now: Duration, k: &K) -> Option<&V> {
        self.handle_timeout(now);
        if let Some(v) = self.oldest.remove(k) {
            // JS moves it without checking the size cap; the next `set` rotates.
            self.latest.insert(k.clone(), v);
        }
        self.latest.get(k).or_else(|| self.retained.get(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn the_timer_period_is_two_thirds_of_max_age_rounded_up() {
        assert_eq!(gc_tick(20 * MIN), Some(at(800_000)));
        assert_eq!(gc_tick(at(1000)), Some(at(667)));
        assert_eq!(gc_tick(Duration::ZERO), None);
    }

    #[test]
    fn an_unused_entry_survives_one_firing_and_dies_at_the_second() {
        let mut c = Cache::new(at(0), 100, at(3000));
        c.set(at(0), 1u8, "a");
        assert_eq!(c.poll_timeout(), Some(at(2000)));
        assert!(c.has(at(2000), &1));
        assert!(c.has(at(3999), &1));
        assert!(!c.has(at(4000), &1));
    }

    #[test]
    fn reading_an_entry_keeps_it_alive() {
        let mut c = Cache::new(at(0), 100, at(3000));
        c.set(at(0), 1u8, "a");
        for t in (1000..20_000).step_by(1000) {
            assert_eq!(c.get(at(t), &1), Some(&"a"), "at {t}");
        }
    }

    #[test]
    fn a_size_rotation_skips_the_next_timer_firing() {
        let mut c = Cache::new(at(0), 2, at(3000));
        c.set(at(0), 1u8, ());
        c.set(at(1999), 2u8, ()); // latest reaches 2: rotation
        assert_eq!(c.len(), 2);
        // The firing at 2000 is skipped because of that rotation (else it would drop the
        // entries now in the oldest generation); the one at 4000 drops them.
        assert!(c.has(at(3999), &1));
        assert!(!c.has(at(4000), &1));
    }

    #[test]
    fn the_size_cap_bounds_memory_under_a_flood() {
        let mut c = Cache::new(at(0), 64, Duration::ZERO);
        for i in 0u32..10_000 {
            c.set(at(0), i, i);
            assert!(c.len() <= 2 * 64);
        }
        assert!(c.has(at(0), &9_999));
        assert!(!c.has(at(0), &0));
    }

    #[test]
    fn retained_entries_neither_age_nor_get_overwritten() {
        let mut c = Cache::new(at(0), 2, at(3000));
        c.retain(at(0), 7u8, "mine");
        c.set(at(1), 7u8, "theirs");
        for i in 0u8..6 {
            c.set(at(1), i, "x");
        }
        assert_eq!(c.get(at(1_000_000), &7), Some(&"mine"));
        assert!(c.delete(at(1_000_000), &7));
        assert_eq!(c.get(at(1_000_000), &7), None);
    }

    #[test]
    fn a_long_silence_empties_the_cache_and_keeps_the_timer_phase() {
        let mut c = Cache::new(at(0), 100, at(3000));
        c.set(at(0), 1u8, ());
        c.handle_timeout(at(1_000_000_000));
        assert!(c.is_empty());
        assert_eq!(c.poll_timeout(), Some(at(1_000_002_000)));
    }
}
