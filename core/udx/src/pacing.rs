//! Pacing: a token bucket refilled at the pacing rate (libudx refills a 1 ms bucket; this
//! one refills by the microsecond and allows a burst of 1 ms worth of bytes, at least a
//! few full packets so that batches for GSO stay whole).

/// Smallest burst allowed, in bytes (enough for a GSO batch of full packets).
const MIN_BURST: i64 = 16 * 1500;

/// The token bucket.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    /// Bytes per second.
    rate: u64,
    /// Bytes that may be sent now (may go negative by one packet).
    tokens: i64,
    /// When `tokens` was last refilled, in microseconds.
    last_us: u64,
}

impl Pacer {
    /// A full bucket at `rate` bytes per second, as of `now_us`.
    pub fn new(rate: u64, now_us: u64) -> Self {
        let mut p = Pacer {
            rate: rate.max(1),
            tokens: 0,
            last_us: now_us,
        };
        p.tokens = p.burst();
        p
    }

    fn burst(&self) -> i64 {
        let per_ms = i64::try_from(self.rate / 1000).unwrap_or(i64::MAX);
        per_ms.max(MIN_BURST)
    }

    /// The rate in bytes per second.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Changes the rate (the bucket keeps its tokens, capped at the new burst).
    pub fn set_rate(&mut self, rate: u64) {
        self.rate = rate.max(1);
        self.tokens = self.tokens.min(self.burst());
    }

    fn refill(&mut self, now_us: u64) {
        if now_us > self.last_us {
            let elapsed = now_us - self.last_us;
            let add = u128::from(elapsed) * u128::from(self.rate) / 1_000_000;
            let add = i64::try_from(add).unwrap_or(i64::MAX);
            self.tokens = self.tokens.saturating_add(add).min(self.burst());
            // Keep the remainder: advance the clock only by what the added tokens cost.
            self.last_us = if add >= self.burst() {
                now_us
            } else {
                let used = u128::try_from(add).unwrap_or(0) * 1_000_000 / u128::from(self.rate);
                self.last_us + u64::try_from(used).unwrap_or(elapsed)
            };
        }
    }

    /// Whether a packet may go out now.
    pub fn may_send(&mut self, now_us: u64) -> bool {
        self.refill(now_us);
        self.tokens > 0
    }

    /// Takes `bytes` from the bucket.
    pub fn consume(&mut self, bytes: usize) {
        let b = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.tokens = self.tokens.saturating_sub(b);
    }

    /// When the bucket will allow the next packet (after `may_send` said no).
    pub fn next_send_us(&self) -> u64 {
        if self.tokens > 0 {
            return self.last_us;
        }
        let missing = u128::try_from(1 - self.tokens).unwrap_or(1);
        let wait = (missing * 1_000_000).div_ceil(u128::from(self.rate));
        self.last_us + u64::try_from(wait).unwrap_or(u64::MAX / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills_at_the_rate() {
        // 1 MB/s: 1000 bytes per ms; the burst is the 24000-byte minimum.
        let mut p = Pacer::new(1_000_000, 0);
        let mut sent = 0;
        while p.may_send(0) {
            p.consume(1000);
            sent += 1000;
        }
        assert_eq!(sent, 24_000);
        // The bucket is exactly empty: one byte of credit (1 us) lets the next one out.
        let next = p.next_send_us();
        assert_eq!(next, 1);
        assert!(!p.may_send(next - 1));
        assert!(p.may_send(next));
        p.consume(1000);
        // 999 bytes of debt: 1 ms later it is paid and one byte is available.
        assert_eq!(p.next_send_us(), 1001);
        // A long idle time refills only up to the burst.
        let mut p = Pacer::new(1_000_000, 0);
        p.consume(24_000);
        assert!(p.may_send(10_000_000));
        p.consume(24_000);
        assert!(!p.may_send(10_000_000));
    }
}
