//! BBR v1 as libudx has it (`udx_bbr.c`, after Linux `tcp_bbr.c`).
//!
//! From the delivery-rate samples BBR keeps two estimates: the bottleneck bandwidth
//! (`bw`, the largest delivery rate of the last 10 round trips) and the propagation
//! delay (`min_rtt`, the smallest RTT of the last 10 s). It paces at
//! `pacing_gain × bw` and allows `cwnd_gain × bw × min_rtt` packets in flight; the gains
//! depend on the mode: STARTUP doubles the rate every round trip until the bandwidth
//! stops growing, DRAIN empties the queue STARTUP built, PROBE_BW cycles through eight
//! phases (probe up by a quarter, drain by a quarter, cruise six), and PROBE_RTT holds
//! four packets in flight for 200 ms when `min_rtt` is 10 s old so that it can be
//! measured again. Random loss does not lower the estimates: only the packets lost
//! come off the window, and during the first round of a recovery it conserves packets.
//!
//! As libudx: bandwidth in packets per unit of time, gains as floating point, a 1 ms
//! floor on RTTs (libudx's clock resolution), fixed PROBE_BW starting phase, and the
//! stream's `cwnd = ssthresh` at the end of a fast recovery (`ssthresh` being the
//! estimated BDP from DRAIN on), after which the next acknowledgement restores the window
//! saved when the recovery began (Linux `bbr_ssthresh`; libudx never saves it there).
//! Unlike libudx, time is kept in microseconds.

mod filter;
#[cfg(test)]
mod tests;

use super::{CaState, CcAck, CcContext, CongestionControl, RateSample};
use filter::MaxFilter;

/// Phases of the PROBE_BW gain cycle.
const CYCLE_LEN: usize = 8;
/// Round trips the bandwidth filter spans.
const BW_FILTER_ROUNDS: u64 = CYCLE_LEN as u64 + 2;
/// How long a minimum RTT stays valid.
const MIN_RTT_INTERVAL_US: u64 = 10_000_000;
/// How long PROBE_RTT holds the window down.
const PROBE_RTT_MODE_US: u64 = 200_000;
/// Pace 1% under the estimate, so that the bottleneck queue drains.
const PACING_MARGIN: f64 = 0.99;
/// STARTUP gain, 2/ln 2: the smallest that doubles the delivery rate each round.
const HIGH_GAIN: f64 = 2.88539;
/// DRAIN gain: what STARTUP queued, emptied in one round.
const DRAIN_GAIN: f64 = 1.0 / 2.88539;
/// PROBE_BW window gain.
const CWND_GAIN: f64 = 2.0;
/// PROBE_BW pacing gains.
const PACING_GAINS: [f64; CYCLE_LEN] = [1.25, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// PROBE_BW phase entered from DRAIN or PROBE_RTT, less one (libudx: 3, "should be
/// random").
const PROBE_BW_START_INDEX: usize = 3;
/// Smallest window, and the window of PROBE_RTT.
const CWND_MIN_TARGET: u32 = 4;
/// Growth that means there may be more bandwidth.
const FULL_BW_THRESH: f64 = 1.25;
/// Rounds without such growth after which the pipe is deemed full.
const FULL_BW_COUNT: u32 = 3;
/// Rounds over which ACK aggregation is remembered (two windows of this length).
const EXTRA_ACKED_WIN_RTTS: u32 = 5;
/// Most time's worth of packets at the estimated rate the window grows by for ACK
/// aggregation.
const EXTRA_ACKED_MAX_US: f64 = 100_000.0;
/// Initial window and the BDP before any RTT is known (libudx `cwnd = 10`).
const INITIAL_CWND: u32 = 10;
/// Smallest RTT believed (libudx measures in whole milliseconds).
const RTT_FLOOR_US: u64 = 1000;
/// `ssthresh` before DRAIN sets it (libudx `0xffff`).
const INITIAL_SSTHRESH: u32 = 0xffff;

/// The BBR mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BbrState {
    /// Doubling the sending rate every round trip to find the bandwidth.
    Startup,
    /// Draining the queue STARTUP built.
    Drain,
    /// At the estimated bandwidth, probing for more in a cycle of gains.
    ProbeBw,
    /// Four packets in flight to measure the propagation delay again.
    ProbeRtt,
}

/// The BBR controller.
#[derive(Debug, Clone)]
pub struct Bbr {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes per second (`None`: not computed yet, derived from the initial window).
    pacing_rate: Option<u64>,
    state: BbrState,
    started: bool,
    /// Window saved on entering PROBE_RTT, restored after it and after a recovery.
    prior_cwnd: u32,
    /// Round trips counted so far.
    rtt_count: u64,
    /// Delivered count that ends the current round trip.
    next_rtt_delivered: u32,
    prev_ca_state: CaState,
    use_packet_conservation: bool,
    probe_rtt_done_us: Option<u64>,
    probe_rtt_round_done: bool,
    /// `u64::MAX` before a sample.
    min_rtt_us: u64,
    min_rtt_stamp_us: u64,
    /// Packets per microsecond.
    bw: MaxFilter,
    has_seen_rtt: bool,
    round_start: bool,
    idle_restart: bool,
    full_bw_reached: bool,
    full_bw: f64,
    full_bw_count: u32,
    cycle_stamp_us: u64,
    cycle_index: usize,
    pacing_gain: f64,
    cwnd_gain: f64,
    /// When the last packet was delivered (libudx `delivered_ts`).
    delivered_us: u64,
    ack_epoch_start_us: u64,
    ack_epoch_acked: u32,
    extra_acked_win_rtts: u32,
    extra_acked_win_index: usize,
    extra_acked: [u32; 2],
}

impl Default for Bbr {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes per second for `bw` packets per microsecond of `mss` bytes at `gain`.
fn bw_to_pacing_rate(mss: u32, bw: f64, gain: f64) -> u64 {
    let rate = bw * 1_000_000.0 * f64::from(mss) * gain * PACING_MARGIN;
    // `as` saturates; NaN becomes 0.
    (rate as u64).max(1)
}

/// STARTUP's pacing before a bandwidth sample: the window per smoothed RTT (1 ms before
/// one is known), at the high gain.
fn initial_pacing_rate(cwnd: u32, ctx: &CcContext) -> u64 {
    let srtt = if ctx.srtt_us > 0 {
        ctx.srtt_us.max(RTT_FLOOR_US)
    } else {
        RTT_FLOOR_US
    };
    bw_to_pacing_rate(ctx.mss, f64::from(cwnd) / srtt as f64, HIGH_GAIN)
}

/// libudx's ordering of the recovery states (`UDX_CA_RECOVERY` and above).
fn in_recovery(s: CaState) -> bool {
    s != CaState::Open
}

impl Bbr {
    /// A controller in STARTUP with libudx's initial window.
    #[must_use]
    pub fn new() -> Self {
        Bbr {
            cwnd: INITIAL_CWND,
            ssthresh: INITIAL_SSTHRESH,
            pacing_rate: None,
            state: BbrState::Startup,
            started: false,
            prior_cwnd: 0,
            rtt_count: 0,
            next_rtt_delivered: 0,
            prev_ca_state: CaState::Open,
            use_packet_conservation: false,
            probe_rtt_done_us: None,
            probe_rtt_round_done: false,
            min_rtt_us: u64::MAX,
            min_rtt_stamp_us: 0,
            bw: MaxFilter::default(),
            has_seen_rtt: false,
            round_start: false,
            idle_restart: false,
            full_bw_reached: false,
            full_bw: 0.0,
            full_bw_count: 0,
            cycle_stamp_us: 0,
            cycle_index: 0,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            delivered_us: 0,
            ack_epoch_start_us: 0,
            ack_epoch_acked: 0,
            extra_acked_win_rtts: 0,
            extra_acked_win_index: 0,
            extra_acked: [0; 2],
        }
    }

    /// The current mode.
    #[must_use]
    pub fn state(&self) -> BbrState {
        self.state
    }

    /// The estimated bottleneck bandwidth in packets per second.
    #[must_use]
    pub fn bandwidth(&self) -> f64 {
        self.bw.get() * 1_000_000.0
    }

    /// The estimated propagation delay in microseconds (`None` before a sample).
    #[must_use]
    pub fn min_rtt_us(&self) -> Option<u64> {
        (self.min_rtt_us != u64::MAX).then_some(self.min_rtt_us)
    }

    /// The current pacing gain.
    #[must_use]
    pub fn pacing_gain(&self) -> f64 {
        self.pacing_gain
    }

    /// The current window gain.
    #[must_use]
    pub fn cwnd_gain(&self) -> f64 {
        self.cwnd_gain
    }

    /// Whether STARTUP found the bandwidth (the pipe is full).
    #[must_use]
    pub fn full_bw_reached(&self) -> bool {
        self.full_bw_reached
    }

    /// The first call sets the clocks libudx sets when the stream is created.
    fn start(&mut self, now: u64) {
        if !self.started {
            self.started = true;
            self.min_rtt_stamp_us = now;
            self.ack_epoch_start_us = now;
        }
    }

    fn max_bw(&self) -> f64 {
        self.bw.get()
    }

    fn extra_acked(&self) -> u32 {
        self.extra_acked[0].max(self.extra_acked[1])
    }

    fn init_pacing_rate_from_rtt(&mut self, ctx: &CcContext) {
        self.has_seen_rtt = ctx.srtt_us > 0;
        self.pacing_rate = Some(initial_pacing_rate(self.cwnd, ctx));
    }

    fn set_pacing_rate(&mut self, ctx: &CcContext, bw: f64, gain: f64) {
        let rate = bw_to_pacing_rate(ctx.mss, bw, gain);
        if self.pacing_rate.is_none() || (!self.has_seen_rtt && ctx.srtt_us > 0) {
            self.init_pacing_rate_from_rtt(ctx);
        }
        if self.full_bw_reached || self.pacing_rate.is_none_or(|r| rate > r) {
            self.pacing_rate = Some(rate);
        }
    }

    fn save_cwnd(&mut self) {
        if !in_recovery(self.prev_ca_state) && self.state != BbrState::ProbeRtt {
            self.prior_cwnd = self.cwnd;
        } else {
            self.prior_cwnd = self.prior_cwnd.max(self.cwnd);
        }
    }

    /// Packets in flight that `gain` times the estimated BDP allows.
    fn bdp(&self, bw: f64, gain: f64) -> u32 {
        if self.min_rtt_us == u64::MAX {
            return INITIAL_CWND;
        }
        (bw * self.min_rtt_us as f64 * gain) as u32
    }

    /// Extra window for ACK aggregation: the most packets recently acked beyond what
    /// the estimated rate predicts, at most 100 ms worth.
    fn ack_aggregation_cwnd(&self) -> u32 {
        if !self.full_bw_reached {
            return 0;
        }
        let max = (self.max_bw() * EXTRA_ACKED_MAX_US) as u32;
        self.extra_acked().min(max)
    }

    /// The window after losses and recovery transitions; true while packet
    /// conservation decides it alone.
    fn cwnd_to_recover_or_restore(&mut self, ctx: &CcContext, rs: &RateSample) -> (u32, bool) {
        let acked = rs.acked_sacked;
        let prev = self.prev_ca_state;
        let state = ctx.ca_state;
        let mut cwnd = self.cwnd;
        if rs.losses > 0 {
            cwnd = cwnd.saturating_sub(rs.losses).max(1);
        }
        if state == CaState::Recovery && prev != CaState::Recovery {
            self.use_packet_conservation = true;
            self.next_rtt_delivered = ctx.delivered;
            cwnd = ctx.inflight.saturating_add(acked);
        } else if in_recovery(prev) && state == CaState::Open {
            cwnd = cwnd.max(self.prior_cwnd);
            self.use_packet_conservation = false;
        }
        self.prev_ca_state = state;
        if self.use_packet_conservation {
            return (cwnd.max(ctx.inflight.saturating_add(acked)), true);
        }
        (cwnd, false)
    }

    fn set_cwnd(&mut self, ctx: &CcContext, rs: &RateSample, bw: f64, gain: f64) {
        let acked = rs.acked_sacked;
        if acked > 0 {
            let (mut cwnd, conserving) = self.cwnd_to_recover_or_restore(ctx, rs);
            if !conserving {
                let target = self
                    .bdp(bw, gain)
                    .saturating_add(self.ack_aggregation_cwnd());
                if self.full_bw_reached {
                    cwnd = cwnd.saturating_add(acked).min(target);
                } else if cwnd < target || ctx.delivered < INITIAL_CWND {
                    cwnd = cwnd.saturating_add(acked);
                }
                cwnd = cwnd.max(CWND_MIN_TARGET);
            }
            self.cwnd = cwnd;
        }
        if self.state == BbrState::ProbeRtt {
            self.cwnd = self.cwnd.min(CWND_MIN_TARGET);
        }
    }

    fn is_next_cycle_phase(&self, ctx: &CcContext, rs: &RateSample) -> bool {
        let full_length = self.delivered_us.saturating_sub(self.cycle_stamp_us) > self.min_rtt_us;
        if self.pacing_gain == 1.0 {
            return full_length;
        }
        let bw = self.max_bw();
        if self.pacing_gain > 1.0 {
            // Probe until the extra queue is built (or a loss says there is no room).
            return full_length && (rs.losses > 0 || ctx.inflight > self.bdp(bw, self.pacing_gain));
        }
        // Drain until what probing queued is gone.
        full_length || ctx.inflight <= self.bdp(bw, 1.0)
    }

    fn advance_cycle_phase(&mut self) {
        self.cycle_index = (self.cycle_index + 1) % CYCLE_LEN;
        self.cycle_stamp_us = self.delivered_us;
    }

    fn reset_probe_bw_mode(&mut self) {
        self.state = BbrState::ProbeBw;
        self.cycle_index = PROBE_BW_START_INDEX;
        self.advance_cycle_phase();
    }

    fn reset_mode(&mut self) {
        if self.full_bw_reached {
            self.reset_probe_bw_mode();
        } else {
            self.state = BbrState::Startup;
        }
    }

    fn update_bw(&mut self, ctx: &CcContext, rs: &RateSample) {
        self.round_start = false;
        if rs.delivered < 0 || rs.interval_us <= 0 {
            return;
        }
        // A packet sent after the round began was delivered: the round is over.
        if crate::seq::diff(rs.prior_delivered, self.next_rtt_delivered) >= 0 {
            self.next_rtt_delivered = ctx.delivered;
            self.rtt_count += 1;
            self.round_start = true;
            self.use_packet_conservation = false;
        }
        let bw = rs.delivered as f64 / rs.interval_us as f64;
        if !rs.is_app_limited || bw >= self.max_bw() {
            self.bw.apply(BW_FILTER_ROUNDS, self.rtt_count, bw);
        }
    }

    fn update_ack_aggregation(&mut self, rs: &RateSample) {
        if rs.acked_sacked == 0 || rs.delivered < 0 || rs.interval_us <= 0 {
            return;
        }
        if self.round_start {
            self.extra_acked_win_rtts = (self.extra_acked_win_rtts + 1).min(0xff);
            if self.extra_acked_win_rtts >= EXTRA_ACKED_WIN_RTTS {
                self.extra_acked_win_rtts = 0;
                self.extra_acked_win_index ^= 1;
                self.extra_acked[self.extra_acked_win_index] = 0;
            }
        }
        let epoch_us = self.delivered_us.saturating_sub(self.ack_epoch_start_us);
        let mut expected = (self.max_bw() * epoch_us as f64) as u32;
        // A new epoch when acks come no faster than the rate predicts (or would overflow).
        if self.ack_epoch_acked <= expected
            || self.ack_epoch_acked.checked_add(rs.acked_sacked).is_none()
        {
            self.ack_epoch_acked = 0;
            self.ack_epoch_start_us = self.delivered_us;
            expected = 0;
        }
        self.ack_epoch_acked += rs.acked_sacked;
        let extra = (self.ack_epoch_acked - expected).min(self.cwnd);
        let slot = &mut self.extra_acked[self.extra_acked_win_index];
        *slot = (*slot).max(extra);
    }

    /// STARTUP filled the pipe when three rounds in a row brought less than 25% more
    /// bandwidth.
    fn check_full_bw_reached(&mut self, rs: &RateSample) {
        if self.full_bw_reached || !self.round_start || rs.is_app_limited {
            return;
        }
        if self.max_bw() >= self.full_bw * FULL_BW_THRESH {
            self.full_bw = self.max_bw();
            self.full_bw_count = 0;
            return;
        }
        self.full_bw_count += 1;
        self.full_bw_reached = self.full_bw_count >= FULL_BW_COUNT;
    }

    fn check_drain(&mut self, ctx: &CcContext) {
        if self.state == BbrState::Startup && self.full_bw_reached {
            self.state = BbrState::Drain;
            self.ssthresh = self.bdp(self.max_bw(), 1.0);
        }
        if self.state == BbrState::Drain && ctx.inflight <= self.bdp(self.max_bw(), 1.0) {
            self.reset_probe_bw_mode();
        }
    }

    fn check_probe_rtt_done(&mut self, now: u64) {
        if self.probe_rtt_done_us.is_none_or(|t| now <= t) {
            return;
        }
        self.min_rtt_stamp_us = now;
        self.cwnd = self.cwnd.max(self.prior_cwnd);
        self.reset_mode();
    }

    /// Updates the minimum RTT and runs PROBE_RTT; true while in PROBE_RTT (the stream
    /// is then marked application-limited).
    fn update_min_rtt(&mut self, ctx: &CcContext, rs: &RateSample) -> bool {
        let now = ctx.now_us;
        let expired = now > self.min_rtt_stamp_us.saturating_add(MIN_RTT_INTERVAL_US);
        if let Ok(rtt) = u64::try_from(rs.rtt_us) {
            if rtt < self.min_rtt_us || expired {
                self.min_rtt_us = rtt.max(RTT_FLOOR_US);
                self.min_rtt_stamp_us = now;
            }
        }
        if expired && !self.idle_restart && self.state != BbrState::ProbeRtt {
            self.state = BbrState::ProbeRtt;
            self.save_cwnd();
            self.probe_rtt_done_us = None;
        }
        let probing = self.state == BbrState::ProbeRtt;
        if probing {
            if self.probe_rtt_done_us.is_none() && ctx.inflight <= CWND_MIN_TARGET {
                self.probe_rtt_done_us = Some(now.saturating_add(PROBE_RTT_MODE_US));
                self.probe_rtt_round_done = false;
                self.next_rtt_delivered = ctx.delivered;
            } else if self.probe_rtt_done_us.is_some() {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done {
                    self.check_probe_rtt_done(now);
                }
            }
        }
        if rs.delivered > 0 {
            self.idle_restart = false;
        }
        probing
    }

    fn update_gains(&mut self) {
        (self.pacing_gain, self.cwnd_gain) = match self.state {
            BbrState::Startup => (HIGH_GAIN, HIGH_GAIN),
            BbrState::Drain => (DRAIN_GAIN, HIGH_GAIN),
            BbrState::ProbeBw => (PACING_GAINS[self.cycle_index], CWND_GAIN),
            BbrState::ProbeRtt => (1.0, 1.0),
        };
    }
}

impl CongestionControl for Bbr {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn pacing_rate(&self, ctx: &CcContext) -> Option<u64> {
        Some(
            self.pacing_rate
                .unwrap_or_else(|| initial_pacing_rate(self.cwnd, ctx)),
        )
    }

    fn on_transmit_start(&mut self, ctx: &CcContext) {
        self.start(ctx.now_us);
        if !ctx.app_limited {
            return;
        }
        // Restarting from idle: pace at the estimate, leave PROBE_RTT if it is done.
        self.idle_restart = true;
        self.ack_epoch_start_us = ctx.now_us;
        self.ack_epoch_acked = 0;
        match self.state {
            BbrState::ProbeBw => self.set_pacing_rate(ctx, self.max_bw(), 1.0),
            BbrState::ProbeRtt => self.check_probe_rtt_done(ctx.now_us),
            BbrState::Startup | BbrState::Drain => {}
        }
    }

    fn on_ack(&mut self, ctx: &CcContext, rs: &RateSample) -> CcAck {
        self.start(ctx.now_us);
        if rs.acked_sacked > 0 {
            self.delivered_us = ctx.now_us;
        }
        self.update_bw(ctx, rs);
        self.update_ack_aggregation(rs);
        if self.state == BbrState::ProbeBw && self.is_next_cycle_phase(ctx, rs) {
            self.advance_cycle_phase();
        }
        self.check_full_bw_reached(rs);
        self.check_drain(ctx);
        let probing_rtt = self.update_min_rtt(ctx, rs);
        self.update_gains();
        let bw = self.max_bw();
        self.set_pacing_rate(ctx, bw, self.pacing_gain);
        self.set_cwnd(ctx, rs, bw, self.cwnd_gain);
        CcAck {
            mark_app_limited: probing_rtt,
        }
    }

    fn on_recovery_start(&mut self, _ctx: &CcContext) {
        // Linux's `bbr_ssthresh` (libudx has it but never calls it): the window to restore
        // when the recovery ends. Without it every recovery ended at `ssthresh` (one BDP
        // as estimated when STARTUP ended) and a window saved long before, and with a
        // recovery every few RTTs at 1% loss the window stayed near one BDP.
        self.save_cwnd();
    }

    fn on_recovery_end(&mut self, _ctx: &CcContext, state: CaState) {
        // libudx's stream does this for any controller; BBR restores its window on the
        // next acknowledgement.
        if state == CaState::Recovery {
            self.cwnd = self.ssthresh;
        }
    }

    fn on_rto(&mut self, _ctx: &CcContext) {
        // A dummy loss sample (libudx `bbr_on_rto`): the window is restored when the
        // stream is open again, and STARTUP's growth check starts over.
        self.prev_ca_state = CaState::Loss;
        self.full_bw = 0.0;
        self.round_start = true;
    }
}
