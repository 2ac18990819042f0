//! Congestion control behind a trait.
//!
//! The stream does loss detection (RACK-TLP, RTO), delivery-rate sampling and pacing; a
//! [`CongestionControl`] only decides the congestion window (in packets, as libudx
//! counts) and the pacing rate. It is told about every acknowledgement that acked or
//! sacked something (with a [`RateSample`], which a BBR port needs), about the start and
//! the end of a loss recovery, about RTO expiries and about a transmission starting from
//! an idle connection. [`CcContext`] carries what libudx's controllers read from the
//! stream (in-flight packets, delivered count, RTT estimates, payload size, recovery
//! state).

mod bbr;
mod newreno;

pub use bbr::{Bbr, BbrState};
pub use newreno::NewReno;

/// The stream's loss-recovery state (libudx `UDX_CA_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CaState {
    /// No loss outstanding.
    #[default]
    Open,
    /// RACK found a loss; recovering until everything sent before it is acked.
    Recovery,
    /// The RTO fired; recovering until everything sent before it is acked.
    Loss,
}

/// What the stream knows when it calls the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CcContext {
    /// The current time, in microseconds since the caller's origin.
    pub now_us: u64,
    /// Packets in flight (sent, neither acked nor deemed lost).
    pub inflight: u32,
    /// Packets delivered so far (acked or sacked, retransmissions included).
    pub delivered: u32,
    /// Smoothed RTT in microseconds (0 before the first sample).
    pub srtt_us: u64,
    /// Minimum RTT seen in the last 300 s, in microseconds (`u64::MAX` before a sample).
    pub min_rtt_us: u64,
    /// Bytes of payload one packet carries at the current MTU.
    pub mss: u32,
    /// Loss-recovery state.
    pub ca_state: CaState,
    /// Whether the sender is application-limited (nothing more to send).
    pub app_limited: bool,
}

/// A delivery-rate sample, generated per acknowledgement (libudx `udx_rate_sample_t`,
/// the IETF delivery-rate-estimation draft).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateSample {
    /// Packets delivered over `interval_us`, or -1 when there is no valid sample.
    pub delivered: i64,
    /// The stream's delivered count when the sampled packet was sent (BBR counts its
    /// round trips with it).
    pub prior_delivered: u32,
    /// The sample's interval in microseconds, or -1 when there is no valid sample.
    pub interval_us: i64,
    /// Packets newly acked or sacked by this acknowledgement.
    pub acked_sacked: u32,
    /// Packets newly deemed lost while processing it.
    pub losses: u32,
    /// Packets in flight before it was processed.
    pub prior_in_flight: u32,
    /// RTT of the most recently sent packet it acked, in microseconds (-1: none).
    pub rtt_us: i64,
    /// Whether the sample was taken while application-limited.
    pub is_app_limited: bool,
    /// Whether the packet the sample is based on was retransmitted.
    pub is_retrans: bool,
}

/// What the controller asks of the stream after an acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CcAck {
    /// Mark the stream application-limited until what is in flight now is delivered
    /// (BBR does so on entering PROBE_RTT).
    pub mark_app_limited: bool,
}

/// A congestion controller. All quantities in packets unless named otherwise.
pub trait CongestionControl: core::fmt::Debug + Send {
    /// The congestion window: most packets in flight.
    fn cwnd(&self) -> u32;
    /// The pacing rate in bytes per second, or `None` to keep the stream's current one.
    fn pacing_rate(&self, ctx: &CcContext) -> Option<u64>;
    /// Data is sent while nothing was in flight.
    fn on_transmit_start(&mut self, _ctx: &CcContext) {}
    /// An acknowledgement acked or sacked packets (or carried a rate sample).
    fn on_ack(&mut self, ctx: &CcContext, rs: &RateSample) -> CcAck;
    /// RACK detected a loss and the stream entered [`CaState::Recovery`].
    fn on_recovery_start(&mut self, ctx: &CcContext);
    /// Everything sent before the loss was acked: the recovery is over.
    fn on_recovery_end(&mut self, ctx: &CcContext, state: CaState);
    /// The retransmission timer fired.
    fn on_rto(&mut self, ctx: &CcContext);
}

/// A new controller of the given kind.
pub(crate) fn new_cc(kind: crate::CcKind) -> alloc::boxed::Box<dyn CongestionControl> {
    match kind {
        crate::CcKind::NewReno => alloc::boxed::Box::new(NewReno::new()),
        crate::CcKind::Bbr => alloc::boxed::Box::new(Bbr::new()),
    }
}
