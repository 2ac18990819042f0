//! One direction of a simulated path: what it does to each datagram handed to it.
//!
//! A datagram entering a link goes through, in this order (each step draws from the
//! simulation's RNG in a fixed order, so a seed fixes the outcome):
//! 1. the path MTU: an IP packet (datagram + [`IP_UDP_OVERHEAD`]) larger than
//!    [`LinkConfig::mtu`] is dropped, as a router would with DF set;
//! 2. loss: independent ([`Loss::Random`]) or bursty, per packet ([`Loss::GilbertElliott`])
//!    or over time ([`Loss::Bursts`]);
//! 3. the bottleneck: with a [`LinkConfig::rate`], the packet waits in a FIFO queue of at
//!    most [`LinkConfig::queue`] bytes (drop-tail) and then takes `size / rate` to serialise;
//! 4. propagation: [`LinkConfig::delay`] plus a uniform jitter in `0..=jitter`; jitter keeps
//!    the order (a packet never overtakes the one before it), as on a real path;
//! 5. reordering: with probability [`LinkConfig::reorder`] a packet is held back by up to
//!    [`LinkConfig::reorder_delay`] more, so later packets overtake it;
//! 6. duplication: with probability [`LinkConfig::duplicate`] a second copy arrives a little
//!    after the first.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sim::Rng;

/// Bytes an IPv4 + UDP header adds to a datagram on the wire: what a path MTU and a
/// bandwidth cap count besides the UDP payload.
pub const IP_UDP_OVERHEAD: usize = 28;

/// How a link loses datagrams.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Nothing is lost.
    None,
    /// Each datagram is lost independently with this probability.
    Random(f64),
    /// The Gilbert–Elliott two-state model: bursts of loss. Before each datagram the link
    /// moves from the good to the bad state with probability `enter_bad` (from bad to good
    /// with `leave_bad`), then loses the datagram with the state's loss probability.
    GilbertElliott {
        /// Probability of moving good → bad.
        enter_bad: f64,
        /// Probability of moving bad → good.
        leave_bad: f64,
        /// Loss probability in the good state.
        loss_good: f64,
        /// Loss probability in the bad state.
        loss_bad: f64,
    },
    /// Good and bad periods in time (a fade, a congested hop): each period lasts a uniform
    /// time in `0..=2 * mean`, whatever the traffic. Unlike [`Loss::GilbertElliott`],
    /// whose state only moves when a packet passes, a sparse sender (one retransmission
    /// per RTO) does not keep meeting the same bad state for seconds.
    Bursts {
        /// Mean length of a good period.
        mean_good: Duration,
        /// Mean length of a bad period.
        mean_bad: Duration,
        /// Loss probability in a good period.
        loss_good: f64,
        /// Loss probability in a bad period.
        loss_bad: f64,
    },
}

impl Loss {
    /// The long-run fraction of datagrams lost.
    #[must_use]
    pub fn mean(&self) -> f64 {
        // The share of time (or packets) in the bad state, from the rates of entering and
        // of leaving it.
        let share = |enter: f64, leave: f64| {
            if enter + leave > 0.0 {
                enter / (enter + leave)
            } else {
                0.0
            }
        };
        let (bad, good_loss, bad_loss) = match *self {
            Loss::None => return 0.0,
            Loss::Random(p) => return p,
            Loss::GilbertElliott {
                enter_bad: e,
                leave_bad: l,
                loss_good: g,
                loss_bad: b,
            } => (share(e, l), g, b),
            Loss::Bursts {
                mean_good: g,
                mean_bad: b,
                loss_good: lg,
                loss_bad: lb,
            } => (share(b.as_secs_f64(), g.as_secs_f64()), lg, lb),
        };
        bad * bad_loss + (1.0 - bad) * good_loss
    }
}

/// How one direction of a path behaves (see the [module docs](self) for the order).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkConfig {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Extra delay, uniform in `0..=jitter`, that keeps the order of packets.
    pub jitter: Duration,
    /// The loss model.
    pub loss: Loss,
    /// Probability that a datagram arrives twice.
    pub duplicate: f64,
    /// Probability that a datagram is held back so that later ones overtake it.
    pub reorder: f64,
    /// The most a reordered datagram is held back (uniform in `1 µs..=reorder_delay`).
    pub reorder_delay: Duration,
    /// Bottleneck bandwidth in bytes per second (IP packet bytes), `None` for unlimited.
    pub rate: Option<u64>,
    /// Bytes the bottleneck queue holds (waiting or being serialised); a packet that
    /// does not fit is dropped (drop-tail). Only with a `rate`.
    pub queue: usize,
    /// Largest IP packet the path carries (datagram + [`IP_UDP_OVERHEAD`]).
    pub mtu: usize,
}

impl Default for LinkConfig {
    /// 10 ms one way, no jitter, no loss, no duplication or reordering, no rate limit,
    /// a 256 KiB queue (used once a rate is set) and a 1500-byte MTU.
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: Loss::None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
            rate: None,
            queue: 256 * 1024,
            mtu: 1500,
        }
    }
}

/// What a link did with the datagrams it was handed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Datagrams handed to the link.
    pub sent: u64,
    /// Datagrams (copies included) scheduled for delivery.
    pub scheduled: u64,
    /// Datagrams dropped for exceeding the MTU.
    pub too_big: u64,
    /// Datagrams lost by the loss model.
    pub lost: u64,
    /// Datagrams dropped because the bottleneck queue was full.
    pub queue_full: u64,
    /// Datagrams that were held back (reordered).
    pub reordered: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// IP packet bytes that went through the bottleneck (or the link, without a rate).
    pub wire_bytes: u64,
}

/// True with probability `p` (53 random bits against `p`, the same on every platform).
pub(crate) fn chance(rng: &mut Rng, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    unit < p
}

/// A uniform duration in `lo..=hi` (nanosecond steps).
fn between(rng: &mut Rng, lo: Duration, hi: Duration) -> Duration {
    let lo_ns = lo.as_nanos() as u64;
    let hi_ns = hi.as_nanos() as u64;
    Duration::from_nanos(rng.range(lo_ns, hi_ns))
}

/// The state of one link: its bottleneck queue, loss state and counters.
#[derive(Debug, Clone)]
pub struct LinkState {
    /// The configuration; tests may change it mid-run (it applies to later datagrams).
    pub config: LinkConfig,
    /// The counters.
    pub stats: LinkStats,
    /// Gilbert–Elliott or burst state: in the bad state.
    bad: bool,
    /// [`Loss::Bursts`]: when the current period ends (`None` before the first packet).
    period_end: Option<Duration>,
    /// When the bottleneck finishes serialising what it holds.
    busy_until: Duration,
    /// Packets in the bottleneck: (time its serialisation ends, wire bytes).
    backlog: VecDeque<(Duration, usize)>,
    backlog_bytes: usize,
    /// The latest in-order delivery time scheduled (jitter never reorders).
    last_delivery: Duration,
}

impl LinkState {
    /// A fresh link.
    #[must_use]
    pub fn new(config: LinkConfig) -> Self {
        Self {
            config,
            stats: LinkStats::default(),
            bad: false,
            period_end: None,
            busy_until: Duration::ZERO,
            backlog: VecDeque::new(),
            backlog_bytes: 0,
            last_delivery: Duration::ZERO,
        }
    }

    /// Bytes waiting in (or being serialised by) the bottleneck at `now`.
    #[must_use]
    pub fn queued_bytes(&mut self, now: Duration) -> usize {
        while let Some(&(done, bytes)) = self.backlog.front() {
            if done > now {
                break;
            }
            self.backlog.pop_front();
            self.backlog_bytes -= bytes;
        }
        self.backlog_bytes
    }

    fn lost(&mut self, now: Duration, rng: &mut Rng) -> bool {
        match self.config.loss {
            Loss::None => false,
            Loss::Random(p) => chance(rng, p),
            Loss::GilbertElliott {
                enter_bad,
                leave_bad,
                loss_good,
                loss_bad,
            } => {
                let flip = if self.bad { leave_bad } else { enter_bad };
                if chance(rng, flip) {
                    self.bad = !self.bad;
                }
                chance(rng, if self.bad { loss_bad } else { loss_good })
            }
            Loss::Bursts {
                mean_good,
                mean_bad,
                loss_good,
                loss_bad,
            } => {
                let floor = Duration::from_micros(1);
                let mut end = match self.period_end {
                    Some(end) => end,
                    None => now + between(rng, floor, 2 * mean_good.max(floor)),
                };
                while end <= now {
                    self.bad = !self.bad;
                    let mean = if self.bad { mean_bad } else { mean_good };
                    end += between(rng, floor, 2 * mean.max(floor));
                }
                self.period_end = Some(end);
                chance(rng, if self.bad { loss_bad } else { loss_good })
            }
        }
    }

    /// A datagram of `len` bytes enters the link at `now`: the times it arrives (none if
    /// dropped, two if duplicated).
    pub fn admit(&mut self, now: Duration, len: usize, rng: &mut Rng) -> Vec<Duration> {
        self.stats.sent += 1;
        let wire = len + IP_UDP_OVERHEAD;
        if wire > self.config.mtu {
            self.stats.too_big += 1;
            return Vec::new();
        }
        if self.lost(now, rng) {
            self.stats.lost += 1;
            return Vec::new();
        }
        let serialised = match self.config.rate {
            Some(rate) => {
                if self.queued_bytes(now) + wire > self.config.queue {
                    self.stats.queue_full += 1;
                    return Vec::new();
                }
                let start = self.busy_until.max(now);
                let nanos = (wire as u128 * 1_000_000_000).div_ceil(u128::from(rate.max(1)));
                let done = start + Duration::from_nanos(nanos as u64);
                self.busy_until = done;
                self.backlog.push_back((done, wire));
                self.backlog_bytes += wire;
                done
            }
            None => now,
        };
        self.stats.wire_bytes += wire as u64;
        let jitter = between(rng, Duration::ZERO, self.config.jitter);
        let mut at = (serialised + self.config.delay + jitter).max(self.last_delivery);
        self.last_delivery = at;
        if chance(rng, self.config.reorder) {
            self.stats.reordered += 1;
            let hold = self.config.reorder_delay.max(Duration::from_micros(1));
            at += between(rng, Duration::from_micros(1), hold);
        }
        let mut out = vec![at];
        if chance(rng, self.config.duplicate) {
            self.stats.duplicated += 1;
            let spread = self.config.jitter.max(Duration::from_millis(1));
            out.push(at + between(rng, Duration::ZERO, spread));
        }
        self.stats.scheduled += out.len() as u64;
        out
    }
}
