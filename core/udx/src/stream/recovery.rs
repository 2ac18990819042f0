//! Acknowledgements, RTT estimation and loss recovery, after libudx `process_packet`,
//! `ack_packet`, `rack_detect_loss`, `udx_rto_timeout` and `udx_tlp_timeout`: RACK-TLP
//! (RFC 8985) finds losses from the send times of what is acknowledged, a tail-loss probe
//! goes out after two RTTs of silence, and the RTO (RFC 6298, at least 1 s, at most 30 s)
//! catches the rest. After an RTO the timer restarts at twice the RTO, as libudx does; a
//! packet that times out a seventh time closes the stream with [`UdxError::Timeout`].

use alloc::collections::VecDeque;

use ferrocore_wire::udx::Packet;

use super::send::PktState;
use super::{Stream, ENDED, ENDING, REMOTE_ENDED};
use crate::cc::CaState;
use crate::rate::Sampler;
use crate::seq;
use crate::{Event, UdxError};

/// RTO timeouts of one packet after which the stream dies (`UDX_MAX_RTO_TIMEOUTS`).
pub(crate) const MAX_RTO_TIMEOUTS: u8 = 6;
const RTO_MIN_US: u64 = 1_000_000;
const RTO_MAX_US: u64 = 30_000_000;
const RTT_MAX_US: u64 = 30_000_000;
const RTT_MIN_WINDOW_US: u64 = 300_000_000;
const TLP_MAX_ACK_DELAY_US: u64 = 2_000;
/// Most SACK blocks looked at per acknowledgement.
const MAX_SACK_BLOCKS: usize = 64;

/// Which timer is armed (libudx keeps one per stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Retransmission timeout.
    Rto,
    /// RACK reordering window.
    RackReo,
    /// Tail-loss probe.
    Tlp,
    /// Zero-window probe.
    Zwp,
    /// Keep-alive heartbeat.
    Keepalive,
}

/// RTT estimates, RACK and TLP state, and the timer.
#[derive(Debug)]
pub(crate) struct Recovery {
    pub srtt_us: u64,
    pub rttvar_us: u64,
    pub rto_us: u64,
    min_rtt: (u64, u64),
    pub ca_state: CaState,
    pub high_seq: u32,
    pub timer: Option<(Timer, u64)>,
    pub next_rto_us: u64,
    rack_rtt_us: u64,
    rack_time_sent: u64,
    rack_next_seq: u32,
    rack_fack: u32,
    reordering_seen: bool,
    pub tlp_in_flight: bool,
    pub tlp_is_retrans: bool,
    pub tlp_permitted: bool,
    pub tlp_end_seq: u32,
    /// The TLP timer fired: the next transmission is a probe (ignores the window).
    pub tlp_due: bool,
}

impl Recovery {
    pub fn new() -> Self {
        Recovery {
            srtt_us: 0,
            rttvar_us: 0,
            rto_us: RTO_MIN_US,
            min_rtt: (u64::MAX, 0),
            ca_state: CaState::Open,
            high_seq: 0,
            timer: None,
            next_rto_us: 0,
            rack_rtt_us: 0,
            rack_time_sent: 0,
            rack_next_seq: 0,
            rack_fack: 0,
            reordering_seen: false,
            tlp_in_flight: false,
            tlp_is_retrans: false,
            tlp_permitted: false,
            tlp_end_seq: 0,
            tlp_due: false,
        }
    }

    pub fn start(&mut self, t: Timer, at: u64) {
        if t == Timer::Rto {
            self.next_rto_us = at;
        }
        self.timer = Some((t, at));
    }

    pub fn stop(&mut self) {
        self.timer = None;
    }

    fn pending(&self) -> Option<Timer> {
        self.timer.map(|(t, _)| t)
    }

    pub fn min_rtt_us(&self) -> u64 {
        self.min_rtt.0
    }

    fn update_min_rtt(&mut self, now: u64, rtt: u64) {
        if rtt <= self.min_rtt.0 || now.saturating_sub(self.min_rtt.1) > RTT_MIN_WINDOW_US {
            self.min_rtt = (rtt, now);
        }
    }

    /// libudx `clamp_rtt`: samples inflated by a suspended process are cut down.
    fn clamp_rtt(&self, rtt: u64) -> u64 {
        if self.srtt_us == 0 {
            return rtt.min(RTT_MAX_US);
        }
        let outlier = self.srtt_us + 5 * self.rttvar_us;
        if rtt > outlier && rtt > 5_000_000 {
            return outlier.min(RTT_MAX_US);
        }
        rtt
    }

    /// The smoothed RTT, its variance and the RTO from one sample per acknowledgement:
    /// the most recently sent packet it newly acked (RFC 6298 takes at most one sample per
    /// acknowledgement; libudx takes one per packet, so a late cumulative ack covering old
    /// packets inflated its RTT for a long time).
    fn on_rtt_sample(&mut self, rtt: u64) {
        if self.srtt_us == 0 {
            self.srtt_us = rtt;
            self.rttvar_us = rtt / 2;
        } else {
            let delta = self.srtt_us.abs_diff(rtt);
            self.rttvar_us = (3 * self.rttvar_us + delta) / 4;
            self.srtt_us = (7 * self.srtt_us + rtt) / 8;
        }
        self.tlp_permitted = true;
        self.rto_us = (self.srtt_us + 4 * self.rttvar_us).clamp(RTO_MIN_US, RTO_MAX_US);
    }

    /// RACK reordering window (RFC 8985 6.2.4).
    fn reo_wnd(&self, sacked: u32) -> u64 {
        if !self.reordering_seen && (self.ca_state != CaState::Open || sacked >= 3) {
            return 0;
        }
        let m = if self.min_rtt.0 == u64::MAX {
            0
        } else {
            self.min_rtt.0
        };
        (m / 4).min(self.srtt_us)
    }
}

/// libudx `rack_sent_after`.
fn sent_after(t1: u64, seq1: u32, t2: u64, seq2: u32) -> bool {
    t1 > t2 || (t1 == t2 && seq::lt(seq2, seq1))
}

impl Stream {
    /// The acknowledgement part of any packet (libudx `process_packet` from "Check if
    /// the ack is oob" on).
    pub(super) fn process_ack(&mut self, now: u64, pkt: &Packet<'_>, ev: &mut VecDeque<Event>) {
        let h = &pkt.header;
        let prior = self.snd.remote_acked;
        let ack_advanced = seq::gt(h.ack, prior);
        let data_inflight = prior != self.snd.seq;
        if seq::lt(self.snd.seq, h.ack) || self.is(super::CLOSED) {
            return;
        }
        if seq::le(prior, h.ack)
            && (seq::lt(self.snd.wl1, h.seq)
                || (self.snd.wl1 == h.seq && seq::le(self.snd.wl2, h.ack)))
        {
            if h.rwnd > 0 && self.rec.pending() == Some(Timer::Zwp) {
                self.rec.stop();
            }
            self.snd.send_rwnd = h.rwnd.min(self.snd.max_window);
            self.snd.wl1 = h.seq;
            self.snd.wl2 = h.ack;
        }
        if let Some(s) = self.remote_changing {
            if seq::le(s, h.ack) {
                self.remote_changing = None;
            }
        }
        // RFC 8985 7.4.2: the probe (or what it repaired) is acknowledged.
        if self.rec.tlp_in_flight
            && seq::le(self.rec.tlp_end_seq, h.ack)
            && (!self.rec.tlp_is_retrans || seq::lt(self.rec.tlp_end_seq, h.ack))
        {
            self.rec.tlp_in_flight = false;
        }
        if seq::gt(h.ack, self.rec.high_seq) && self.rec.ca_state != CaState::Open {
            let ctx = self.cc_context(now);
            let state = self.rec.ca_state;
            self.rec.ca_state = CaState::Open;
            self.cc.on_recovery_end(&ctx, state);
        }

        let delivered0 = self.rate.delivered;
        let lost0 = self.rate.lost;
        let mut sampler = Sampler::new(self.snd.inflight);
        let mut p = prior;
        while seq::lt(p, h.ack) {
            if self.ack_packet(now, p, false, &mut sampler) {
                self.rate.delivered = self.rate.delivered.wrapping_add(1);
            }
            p = p.wrapping_add(1);
        }
        if ack_advanced {
            self.snd.release_through(h.ack);
            self.check_writable(ev);
            if self.is(ENDING)
                && !self.is(ENDED)
                && self.snd.end_sent
                && self.snd.remote_acked == self.snd.seq
            {
                self.status |= ENDED;
                ev.push_back(Event::Finished { id: self.id });
                if self.is(REMOTE_ENDED) {
                    self.check_closed(now, ev);
                    return;
                }
                // A final state packet makes sure the peer sees its data acknowledged.
                self.ack_pending = true;
            }
        }
        for (start, end) in pkt.sacks.iter().take(MAX_SACK_BLOCKS) {
            if !self.sack_is_valid(start, end) {
                continue;
            }
            let mut p = start;
            while p != end {
                if self.ack_packet(now, p, true, &mut sampler) {
                    self.rate.delivered = self.rate.delivered.wrapping_add(1);
                }
                p = p.wrapping_add(1);
            }
        }

        if let Some((_, rtt)) = sampler.srtt_sample {
            self.rec.on_rtt_sample(rtt);
        }
        let delivered = self.rate.delivered.wrapping_sub(delivered0);
        let mut arm = ack_advanced && data_inflight;
        if delivered > 0 {
            if self.snd.remote_acked == self.snd.seq {
                arm = false;
                if self.snd.send_rwnd == 0 && self.snd.has_new() {
                    self.rec.start(Timer::Zwp, now + self.rec.rto_us);
                } else if let Some(k) = self.keepalive_us {
                    self.rec.start(Timer::Keepalive, now + k);
                } else {
                    self.rec.stop();
                }
            } else {
                self.rec.next_rto_us = now + self.rec.rto_us;
            }
            if self.rack_detect_loss_and_arm(now) {
                arm = false;
            }
        }
        if arm && !self.schedule_loss_probe(now, true) {
            self.rearm_rto(now, true);
        }
        if data_inflight {
            let lost = self.rate.lost.wrapping_sub(lost0);
            let rs = self
                .rate
                .generate(&sampler, delivered, lost, now, self.rec.min_rtt_us());
            let ctx = self.cc_context(now);
            let res = self.cc.on_ack(&ctx, &rs);
            if res.mark_app_limited {
                self.rate.app_limited = self.rate.delivered.wrapping_add(self.snd.inflight).max(1);
            }
            self.update_pacing(now);
        }
    }

    pub(super) fn update_pacing(&mut self, now: u64) {
        let ctx = self.cc_context(now);
        if let Some(r) = self.cc.pacing_rate(&ctx) {
            self.pacer.set_rate(r);
        }
    }

    /// libudx `udx_sack_is_valid`.
    fn sack_is_valid(&self, start: u32, end: u32) -> bool {
        !(seq::diff(end, self.snd.seq) > 0
            || seq::diff(start, end) >= 0
            || seq::diff(start, self.snd.seq) >= 0
            || seq::diff(start, self.snd.remote_acked) < 0)
    }

    /// Marks packet `s` acknowledged; true if it newly was (libudx `ack_packet`).
    fn ack_packet(&mut self, now: u64, s: u32, sack: bool, sampler: &mut Sampler) -> bool {
        let Some(pkt) = self.snd.get_mut(s) else {
            return false;
        };
        if pkt.state == PktState::Acked {
            return false;
        }
        let was = pkt.state;
        pkt.state = PktState::Acked;
        let probe = pkt.probe.is_some();
        let time_sent = pkt.time_sent;
        let retransmitted = pkt.retransmitted;
        let prate = pkt.rate;
        if was == PktState::InFlight {
            self.snd.inflight = self.snd.inflight.saturating_sub(1);
        }
        if sack {
            self.snd.sacked += 1;
        }
        self.mtu.on_ack(probe);
        self.rate
            .on_delivered(sampler, &prate, s, time_sent, retransmitted);
        let rtt = self.rec.clamp_rtt(now.saturating_sub(time_sent));
        if !retransmitted {
            self.rec.update_min_rtt(now, rtt);
            if sampler
                .srtt_sample
                .is_none_or(|(sent, _)| time_sent >= sent)
            {
                sampler.srtt_sample = Some((time_sent, rtt));
            }
        }
        let next = s.wrapping_add(1);
        if !retransmitted || rtt >= self.rec.min_rtt_us() {
            self.rec.rack_rtt_us = rtt;
            sampler.rtt_us = i64::try_from(rtt).unwrap_or(i64::MAX);
            if sent_after(
                time_sent,
                next,
                self.rec.rack_time_sent,
                self.rec.rack_next_seq,
            ) {
                self.rec.rack_time_sent = time_sent;
                self.rec.rack_next_seq = next;
            }
        }
        if seq::gt(next, self.rec.rack_fack) {
            self.rec.rack_fack = next;
        } else if seq::lt(next, self.rec.rack_fack) && !retransmitted {
            self.rec.reordering_seen = true;
        }
        true
    }

    /// RACK loss detection (RFC 8985 6.2.5); returns the reordering timeout to wait for
    /// packets not yet deemed lost (0: none).
    fn rack_detect_loss(&mut self, now: u64) -> u64 {
        let reo = self.rec.reo_wnd(self.snd.sacked);
        let mut timeout = 0u64;
        let mut resending = 0u32;
        let mut probes_lost = 0u32;
        let mut i = 0;
        while i < self.snd.order.len() {
            let (s, tx) = self.snd.order[i];
            i += 1;
            if !self.snd.is_current(s, tx) {
                continue;
            }
            let Some(pkt) = self.snd.get(s) else { continue };
            if pkt.time_sent > self.rec.rack_time_sent {
                break;
            }
            if !sent_after(
                self.rec.rack_time_sent,
                self.rec.rack_next_seq,
                pkt.time_sent,
                s.wrapping_add(1),
            ) {
                continue;
            }
            let deadline = pkt.time_sent + self.rec.rack_rtt_us + reo;
            if deadline <= now {
                if self.mark_lost(s) {
                    probes_lost += 1;
                }
                resending += 1;
            } else {
                timeout = timeout.max(deadline - now);
            }
        }
        self.snd.compact_order();
        if resending > probes_lost && self.rec.ca_state == CaState::Open {
            self.stats.fast_recoveries += 1;
            self.rec.ca_state = CaState::Recovery;
            self.rec.high_seq = self.snd.seq;
            self.rec.tlp_in_flight = false;
            self.rec.tlp_is_retrans = false;
            let ctx = self.cc_context(now);
            self.cc.on_recovery_start(&ctx);
        }
        timeout
    }

    /// Moves an in-flight packet to the retransmission queue; true if it was an MTU
    /// probe (which is then an ordinary packet again).
    fn mark_lost(&mut self, s: u32) -> bool {
        let Some(pkt) = self.snd.get_mut(s) else {
            return false;
        };
        let was_probe = pkt.probe.take().is_some();
        if pkt.state == PktState::InFlight {
            pkt.state = PktState::Lost;
            self.snd.inflight = self.snd.inflight.saturating_sub(1);
        }
        self.rate.lost = self.rate.lost.wrapping_add(1);
        self.snd.lost.push_back(s);
        if was_probe {
            self.mtu.on_probe_lost();
        }
        was_probe
    }

    fn rack_detect_loss_and_arm(&mut self, now: u64) -> bool {
        let timeout = self.rack_detect_loss(now);
        if timeout > 0 {
            self.rec.start(Timer::RackReo, now + timeout);
            return true;
        }
        false
    }

    /// Arms the RTO (from now, or at the saved RTO deadline), or stops the timer when
    /// nothing is outstanding.
    pub(super) fn rearm_rto(&mut self, now: u64, from_now: bool) {
        if self.snd.seq == self.snd.remote_acked {
            self.rec.stop();
            return;
        }
        let rto = if from_now {
            self.rec.rto_us
        } else {
            self.rec.next_rto_us.saturating_sub(now).max(1_000)
        };
        self.rec.start(Timer::Rto, now + rto);
    }

    /// Schedules a tail-loss probe (RFC 8985 7.2); false if none may be.
    pub(super) fn schedule_loss_probe(&mut self, now: u64, advancing_rto: bool) -> bool {
        if self.snd.seq == self.snd.remote_acked
            || self.rec.ca_state != CaState::Open
            || self.snd.sacked > 0
        {
            return false;
        }
        let mut timeout = 1_000_000;
        if self.rec.srtt_us > 0 {
            timeout = 2 * self.rec.srtt_us;
            if self.snd.inflight + self.snd.lost.len() as u32 == 1 {
                timeout += TLP_MAX_ACK_DELAY_US;
            }
        }
        let rto_delta = if advancing_rto {
            self.rec.rto_us
        } else {
            self.rec.next_rto_us.saturating_sub(now).max(1_000)
        };
        self.rec.start(Timer::Tlp, now + timeout.min(rto_delta));
        true
    }

    /// After a (re)transmission: make sure an RTO is armed, and a TLP after new data.
    pub(super) fn arm_timers(&mut self, now: u64, arm_tlp: bool) {
        if matches!(
            self.rec.pending(),
            None | Some(Timer::Zwp | Timer::Keepalive)
        ) {
            self.rec.start(Timer::Rto, now + self.rec.rto_us);
        }
        if arm_tlp && self.rec.ca_state == CaState::Open && self.snd.sacked == 0 {
            self.schedule_loss_probe(now, false);
        }
    }

    /// The stream's deadline.
    pub fn timer_deadline(&self) -> Option<u64> {
        self.rec.timer.map(|(_, at)| at)
    }

    /// Runs the timer if it is due.
    pub fn handle_timer(&mut self, now: u64, ev: &mut VecDeque<Event>) {
        let Some((t, at)) = self.rec.timer else {
            return;
        };
        if at > now || self.is(super::CLOSED) {
            return;
        }
        self.rec.timer = None;
        match t {
            Timer::Rto => self.on_rto(now, ev),
            Timer::RackReo => {
                self.rack_detect_loss(now);
                if self.rec.pending() != Some(Timer::Rto) {
                    self.rearm_rto(now, false);
                }
            }
            Timer::Tlp => self.on_tlp(now),
            Timer::Zwp => {
                self.heartbeat_pending = true;
                self.rec.start(Timer::Zwp, now + 2 * self.rec.rto_us);
            }
            Timer::Keepalive => {
                self.heartbeat_pending = true;
                if let Some(k) = self.keepalive_us {
                    self.rec.start(Timer::Keepalive, now + k);
                }
            }
        }
    }

    fn on_tlp(&mut self, now: u64) {
        if self.snd.remote_acked == self.snd.seq {
            return;
        }
        if self.rec.tlp_in_flight || !self.rec.tlp_permitted {
            self.rearm_rto(now, false);
            return;
        }
        if !self.snd.has_new() {
            let last = self.snd.seq.wrapping_sub(1);
            if !self
                .snd
                .get(last)
                .is_some_and(|p| p.state == PktState::InFlight)
            {
                self.rearm_rto(now, false);
                return;
            }
        }
        // `output` sends the probe: new data if there is some, else the last packet.
        self.rec.tlp_due = true;
        self.rearm_rto(now, true);
    }

    /// The retransmission timer fired (libudx `udx_rto_timeout`).
    fn on_rto(&mut self, now: u64, ev: &mut VecDeque<Event>) {
        if self.snd.remote_acked == self.snd.seq {
            return;
        }
        self.rec.high_seq = self.snd.seq;
        self.stats.rto_timeouts += 1;
        self.rec.ca_state = CaState::Loss;
        self.rec.tlp_in_flight = false;
        self.rec.tlp_is_retrans = false;
        self.rec.tlp_due = false;
        self.rec.start(Timer::Rto, now + 2 * self.rec.rto_us);
        self.snd.lost.clear();
        let reo = self.rec.reo_wnd(self.snd.sacked);
        let first = self.snd.remote_acked;
        for i in 0..self.snd.pkts.len() {
            let s = first.wrapping_add(i as u32);
            let pkt = &self.snd.pkts[i];
            match pkt.state {
                PktState::Acked => continue,
                PktState::Lost => {
                    self.snd.lost.push_back(s);
                    continue;
                }
                PktState::InFlight => {}
            }
            let expired = pkt.time_sent + self.rec.rack_rtt_us + reo < now;
            if s != first && !expired {
                continue;
            }
            if pkt.rto_timeouts >= MAX_RTO_TIMEOUTS {
                self.close(Some(UdxError::Timeout), ev);
                return;
            }
            self.snd.pkts[i].rto_timeouts += 1;
            self.mark_lost(s);
        }
        let ctx = self.cc_context(now);
        self.cc.on_rto(&ctx);
        self.update_pacing(now);
    }
}
