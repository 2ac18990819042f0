//! NewReno (RFC 5681 / RFC 6582) in packets, as libudx had it before BBR: slow start from
//! 10 packets, congestion avoidance by one packet per window, halving on a loss, back to
//! one packet on an RTO. Pacing follows Linux: twice the window per RTT in slow start,
//! 1.2 times it in congestion avoidance.

use super::{CaState, CcAck, CcContext, CongestionControl, RateSample};

/// Initial congestion window (libudx `cwnd = 10`).
const INITIAL_CWND: u32 = 10;
/// Largest window: libudx's 4 MiB receive window in the smallest packets, doubled.
const MAX_CWND: u32 = 16_384;

/// The NewReno controller.
#[derive(Debug, Clone)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Packets acked towards the next +1 in congestion avoidance.
    acked_in_ca: u32,
}

impl NewReno {
    /// A controller in slow start with libudx's initial window.
    #[must_use]
    pub fn new() -> Self {
        NewReno {
            cwnd: INITIAL_CWND,
            ssthresh: 0xffff,
            acked_in_ca: 0,
        }
    }

    /// The slow-start threshold.
    #[must_use]
    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
}

impl Default for NewReno {
    fn default() -> Self {
        Self::new()
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn pacing_rate(&self, ctx: &CcContext) -> Option<u64> {
        if ctx.srtt_us == 0 {
            return None;
        }
        let gain_pct: u64 = if self.cwnd < self.ssthresh { 200 } else { 120 };
        let window = u64::from(self.cwnd) * u64::from(ctx.mss);
        // Loopback RTTs are tens of microseconds; never divide by less than one.
        let srtt = ctx.srtt_us.max(1);
        Some(window.saturating_mul(gain_pct).saturating_mul(10_000) / srtt)
    }

    fn on_ack(&mut self, ctx: &CcContext, rs: &RateSample) -> CcAck {
        // No growth while repairing a loss RACK found (the window was just halved); after
        // an RTO the window restarts from one packet in slow start, as in TCP.
        if ctx.ca_state == CaState::Recovery || rs.acked_sacked == 0 {
            return CcAck::default();
        }
        // Do not grow a window the sender is not using (RFC 7661 spirit).
        if ctx.app_limited && rs.prior_in_flight < self.cwnd / 2 {
            return CcAck::default();
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(rs.acked_sacked).min(MAX_CWND);
        } else {
            self.acked_in_ca += rs.acked_sacked;
            if self.acked_in_ca >= self.cwnd {
                self.acked_in_ca -= self.cwnd;
                self.cwnd = (self.cwnd + 1).min(MAX_CWND);
            }
        }
        CcAck::default()
    }

    fn on_recovery_start(&mut self, ctx: &CcContext) {
        self.ssthresh = (ctx.inflight.max(self.cwnd) / 2).max(2);
        self.cwnd = self.ssthresh;
        self.acked_in_ca = 0;
    }

    fn on_recovery_end(&mut self, _ctx: &CcContext, _state: CaState) {
        self.cwnd = self.cwnd.max(self.ssthresh.min(MAX_CWND));
    }

    fn on_rto(&mut self, ctx: &CcContext) {
        self.ssthresh = (ctx.inflight.max(self.cwnd) / 2).max(2);
        self.cwnd = 1;
        self.acked_in_ca = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CcContext {
        CcContext {
            srtt_us: 10_000,
            mss: 1000,
            inflight: 10,
            ..CcContext::default()
        }
    }

    fn acked(n: u32) -> RateSample {
        RateSample {
            acked_sacked: n,
            prior_in_flight: 100,
            ..RateSample::default()
        }
    }

    #[test]
    fn slow_start_then_halving_then_linear_growth() {
        let mut cc = NewReno::new();
        cc.on_ack(&ctx(), &acked(10));
        assert_eq!(cc.cwnd(), 20);
        cc.on_recovery_start(&CcContext {
            inflight: 20,
            ..ctx()
        });
        assert_eq!(cc.cwnd(), 10);
        // No growth while recovering.
        cc.on_ack(
            &CcContext {
                ca_state: CaState::Recovery,
                ..ctx()
            },
            &acked(5),
        );
        assert_eq!(cc.cwnd(), 10);
        cc.on_recovery_end(&ctx(), CaState::Recovery);
        cc.on_ack(&ctx(), &acked(9));
        assert_eq!(cc.cwnd(), 10);
        cc.on_ack(&ctx(), &acked(1));
        assert_eq!(cc.cwnd(), 11);
        cc.on_rto(&ctx());
        assert_eq!(cc.cwnd(), 1);
        assert_eq!(cc.ssthresh(), 5);
        // Slow start again while the RTO's losses are repaired.
        cc.on_ack(
            &CcContext {
                ca_state: CaState::Loss,
                ..ctx()
            },
            &acked(2),
        );
        assert_eq!(cc.cwnd(), 3);
    }

    #[test]
    fn pacing_is_twice_the_window_per_rtt_in_slow_start() {
        let cc = NewReno::new();
        assert_eq!(cc.pacing_rate(&CcContext::default()), None);
        // 10 packets * 1000 B per 10 ms = 1 MB/s, doubled.
        assert_eq!(cc.pacing_rate(&ctx()), Some(2_000_000));
    }
}
