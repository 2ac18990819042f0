//! Reconnect backoff (JS `lib/retry-timer.js` over `lib/bulk-timer.js`).
//!
//! Four bulk timers (short, medium, long, extra long), each ticking every 66 % of its delay
//! once its first peer arrives. A peer added to a timer waits for the tick after next, so it
//! is retried between one and two periods later, in a batch with its neighbours.

use alloc::vec::Vec;
use core::time::Duration;

use crate::peer::PeerInfo;
use crate::rng::Rng;
use crate::types::PublicKey;

/// JS `BACKOFF_JITTER`.
const BACKOFF_JITTER_MS: u64 = 500;

/// JS's default backoffs, each with its module-level jitter drawn from `rng`.
pub(crate) fn default_backoffs(rng: &mut Rng) -> [Duration; 4] {
    let j = BACKOFF_JITTER_MS;
    [
        Duration::from_millis(1000 + rng.up_to(j)),
        Duration::from_millis(5000 + rng.up_to(2 * j)),
        Duration::from_millis(15000 + rng.up_to(4 * j)),
        Duration::from_millis(600_000 + rng.up_to(240 * j)),
    ]
}

/// JS `BulkTimer`: an interval that, on each tick, hands on the batch added before the
/// previous tick.
#[derive(Debug)]
struct BulkTimer {
    period: Duration,
    next_tick: Option<Duration>,
    next: Vec<PublicKey>,
    pending: Vec<PublicKey>,
}

impl BulkTimer {
    fn new(time: Duration) -> Self {
        // JS: setInterval(…, Math.floor(time * 0.66)), in whole milliseconds.
        let period_ms = (time.as_millis() as u64 * 66 / 100).max(1);
        BulkTimer {
            period: Duration::from_millis(period_ms),
            next_tick: None,
            next: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn add(&mut self, now: Duration, key: PublicKey) {
        if self.next_tick.is_none() {
            self.next_tick = Some(now + self.period);
        }
        self.pending.push(key);
    }

    fn is_idle(&self) -> bool {
        self.next.is_empty() && self.pending.is_empty()
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if self.is_idle() {
            None
        } else {
            self.next_tick
        }
    }

    /// The next tick if it is due by `now` and would do something.
    fn due(&self, now: Duration) -> Option<Duration> {
        self.next_tick.filter(|t| *t <= now && !self.is_idle())
    }

    /// Runs one tick: the batch added before the previous tick, if any, is handed on.
    fn tick(&mut self) -> Option<Vec<PublicKey>> {
        let fired = (!self.next.is_empty()).then(|| core::mem::take(&mut self.next));
        self.next = core::mem::take(&mut self.pending);
        self.next_tick = self.next_tick.map(|t| t + self.period);
        fired
    }

    /// Idle ticks change nothing: moves an idle timer to its first tick after `now`, in phase.
    fn skip_idle(&mut self, now: Duration) {
        if let Some(tick) = self.next_tick.filter(|t| *t <= now && self.is_idle()) {
            let behind = (now - tick).as_nanos() / self.period.as_nanos();
            self.next_tick = Some(tick + self.period * (behind as u32 + 1));
        }
    }
}

/// JS `RetryTimer`.
#[derive(Debug)]
pub(crate) struct RetryTimer {
    timers: [BulkTimer; 4],
}

const SHORT: usize = 0;
const MEDIUM: usize = 1;
const LONG: usize = 2;
const EXTRA: usize = 3;

impl RetryTimer {
    pub(crate) fn new(backoffs: [Duration; 4], jitter: Duration, rng: &mut Rng) -> Self {
        let jitter_ms = jitter.as_millis() as u64;
        let timers =
            backoffs.map(|b| BulkTimer::new(b + Duration::from_millis(rng.up_to(jitter_ms))));
        RetryTimer { timers }
    }

    /// The four tick periods (short, medium, long, extra long).
    pub(crate) fn periods(&self) -> [Duration; 4] {
        [0, 1, 2, 3].map(|i| self.timers[i].period)
    }

    /// JS `_selectRetryTimer`.
    fn select(peer: &PeerInfo) -> Option<usize> {
        if peer.banned || !peer.reconnecting {
            return None;
        }
        match (peer.attempts, peer.proven) {
            (a, _) if a > 3 => peer.explicit.then_some(EXTRA),
            (0, _) | (1, true) => Some(SHORT),
            (2, true) | (1, false) => Some(MEDIUM),
            _ => Some(LONG),
        }
    }

    /// Schedules a retry; false when the peer is not to be retried.
    pub(crate) fn add(&mut self, now: Duration, peer: &PeerInfo) -> bool {
        match Self::select(peer) {
            Some(i) => {
                self.timers[i].add(now, peer.public_key);
                true
            }
            None => false,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Duration> {
        self.timers.iter().filter_map(BulkTimer::poll_timeout).min()
    }

    /// The batches due by `now`, in the order their ticks fall (JS's timers firing late).
    pub(crate) fn handle_timeout(&mut self, now: Duration) -> Vec<Vec<PublicKey>> {
        let mut out = Vec::new();
        while let Some((_, i)) = (0..self.timers.len())
            .filter_map(|i| self.timers[i].due(now).map(|t| (t, i)))
            .min()
        {
            out.extend(self.timers[i].tick());
        }
        for t in &mut self.timers {
            t.skip_idle(now);
        }
        out
    }

    pub(crate) fn clear(&mut self) {
        for t in &mut self.timers {
            t.next.clear();
            t.pending.clear();
        }
    }
}
