//! Delivery-rate sampling (libudx `udx_rate.c`, after the IETF draft
//! "Delivery Rate Estimation"): every packet remembers how much had been delivered when
//! it was sent; when it is acked, the difference over the elapsed time is a rate sample.

use crate::cc::RateSample;

/// What a packet remembers at transmission.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PacketRate {
    pub first_sent_us: u64,
    pub delivered_us: u64,
    pub delivered: u32,
    pub is_app_limited: bool,
}

/// The stream's delivery counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rate {
    /// Packets delivered (acked or sacked), retransmissions included.
    pub delivered: u32,
    /// Packets deemed lost, retransmissions included.
    pub lost: u32,
    /// App-limited until `delivered` passes this (0: not app-limited).
    pub app_limited: u32,
    first_sent_us: u64,
    delivered_us: u64,
}

/// A sample under construction while one acknowledgement is processed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sampler {
    have: bool,
    prior_delivered: u32,
    prior_us: u64,
    interval_us: u64,
    seq: u32,
    time_sent_us: u64,
    is_app_limited: bool,
    is_retrans: bool,
    /// RTT of the most recently sent packet acked (-1: none).
    pub rtt_us: i64,
    /// In-flight packets before the acknowledgement.
    pub prior_in_flight: u32,
    /// `(time sent, RTT)` of the most recently sent packet newly acked that was never
    /// retransmitted: the acknowledgement's one RTT sample.
    pub srtt_sample: Option<(u64, u64)>,
}

impl Rate {
    /// Initially application-limited, as libudx starts.
    pub fn new() -> Self {
        Rate {
            app_limited: u32::MAX,
            ..Rate::default()
        }
    }

    /// A packet is (re)transmitted at `now_us`; `idle` when nothing was in flight.
    pub fn on_sent(&mut self, now_us: u64, idle: bool) -> PacketRate {
        if idle {
            self.first_sent_us = now_us;
            self.delivered_us = now_us;
        }
        PacketRate {
            first_sent_us: self.first_sent_us,
            delivered_us: self.delivered_us,
            delivered: self.delivered,
            is_app_limited: self.app_limited != 0,
        }
    }

    /// Marks the sender application-limited when it has too little to send
    /// (libudx `udx__rate_check_app_limited`).
    pub fn check_app_limited(
        &mut self,
        little_queued: bool,
        window_open: bool,
        no_lost: bool,
        inflight: u32,
    ) {
        if little_queued && window_open && no_lost {
            self.app_limited = self.delivered.wrapping_add(inflight).max(1);
        }
    }

    /// A packet sent at `time_sent_us` with sequence `seq` was delivered.
    pub fn on_delivered(
        &mut self,
        s: &mut Sampler,
        pr: &PacketRate,
        seq: u32,
        time_sent_us: u64,
        retransmitted: bool,
    ) {
        let newer = time_sent_us > s.time_sent_us
            || (time_sent_us == s.time_sent_us && crate::seq::lt(s.seq, seq));
        if !s.have || newer {
            s.have = true;
            s.prior_delivered = pr.delivered;
            s.prior_us = pr.delivered_us;
            s.is_app_limited = pr.is_app_limited;
            s.is_retrans = retransmitted;
            s.seq = seq;
            s.time_sent_us = time_sent_us;
            self.first_sent_us = time_sent_us;
            s.interval_us = time_sent_us.saturating_sub(pr.first_sent_us);
        }
    }

    /// The sample of one acknowledgement that newly delivered `acked` and lost `lost`.
    pub fn generate(
        &mut self,
        s: &Sampler,
        acked: u32,
        lost: u32,
        now_us: u64,
        min_rtt_us: u64,
    ) -> RateSample {
        if self.app_limited != 0 && crate::seq::gt(self.delivered, self.app_limited) {
            self.app_limited = 0;
        }
        if acked > 0 {
            self.delivered_us = now_us;
        }
        let mut rs = RateSample {
            delivered: -1,
            prior_delivered: s.prior_delivered,
            interval_us: -1,
            acked_sacked: acked,
            losses: lost,
            prior_in_flight: s.prior_in_flight,
            rtt_us: s.rtt_us,
            is_app_limited: s.is_app_limited,
            is_retrans: s.is_retrans,
        };
        if !s.have {
            return rs;
        }
        let snd = s.interval_us;
        let ack = now_us.saturating_sub(s.prior_us);
        let interval = snd.max(ack);
        if interval < min_rtt_us || interval == 0 {
            return rs;
        }
        rs.delivered = i64::from(self.delivered.wrapping_sub(s.prior_delivered));
        rs.interval_us = i64::try_from(interval).unwrap_or(i64::MAX);
        rs
    }
}

impl Sampler {
    /// A fresh sampler for an acknowledgement arriving with `inflight` packets out.
    pub fn new(inflight: u32) -> Self {
        Sampler {
            rtt_us: -1,
            prior_in_flight: inflight,
            ..Sampler::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_acked_after_a_round_trip_is_a_rate() {
        let mut r = Rate::new();
        r.app_limited = 0;
        let sent: alloc::vec::Vec<PacketRate> =
            (0..10).map(|i| r.on_sent(i * 10, i == 0)).collect();
        let mut s = Sampler::new(10);
        for (i, pr) in sent.iter().enumerate() {
            r.delivered += 1;
            r.on_delivered(&mut s, pr, i as u32, i as u64 * 10, false);
        }
        let rs = r.generate(&s, 10, 0, 1090, 1000);
        assert_eq!(rs.delivered, 10);
        assert_eq!(rs.interval_us, 1090);
        assert!(!rs.is_app_limited);
        // Shorter than the minimum RTT: no sample.
        let rs = r.generate(&s, 0, 0, 1090, 5000);
        assert_eq!(rs.delivered, -1);
    }
}
