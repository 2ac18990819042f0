//! Building blocks of the UDX simulation tests (`tests/tests/udx_sim.rs`): opening checked
//! streams between two peers, judging a finished transfer, random link configurations and
//! fairness.

use std::time::Duration;

use ferrocore_udx::StreamId;

use super::udx::{AsPeer, Outgoing, StreamApp};
use super::{addr_of, LinkConfig, Loss, Machine, NodeId, Sim};
use crate::sim::Rng;

/// The content key of what `node` writes on its stream `id`.
#[must_use]
pub fn key(node: NodeId, id: StreamId) -> u64 {
    ((node as u64) << 32 | u64::from(id)) ^ 0x5eed_0000_0000_0000
}

/// A `u64` from the environment variable `name`, if set and a number.
#[must_use]
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Opens a stream between `a` (local id `ia`) and `b` (`ib`): `a` writes `ab` bytes, `b`
/// writes `ba`, each of its own [`key`]; both end after their bytes if `end`. `b` is
/// opened first, so `a`'s first packets find its stream.
///
/// # Panics
/// If either side refuses the stream.
pub fn open_pair<M: Machine + AsPeer>(
    sim: &mut Sim<M>,
    (a, ia): (NodeId, StreamId),
    (b, ib): (NodeId, StreamId),
    (ab, ba): (u64, u64),
    end: bool,
) {
    let out = |node, id, total| Outgoing {
        key: key(node, id),
        total,
        end,
        ..Outgoing::default()
    };
    sim.with(b, |m, now| {
        m.call(|p| p.open(now, ib, ia, addr_of(a), out(b, ib, ba), key(a, ia)))
    })
    .expect("open b's side");
    sim.with(a, |m, now| {
        m.call(|p| p.open(now, ia, ib, addr_of(b), out(a, ia, ab), key(b, ib)))
    })
    .expect("open a's side");
}

/// Whether a stream's transfer is over: it read `expected` bytes, saw the peer's END and
/// (if it ended) had its own END acknowledged.
#[must_use]
pub fn done(s: &StreamApp, expected: u64) -> bool {
    s.incoming.received == expected
        && s.remote_ended.is_some()
        && (!s.out.end || s.finished.is_some())
}

/// What went wrong with a stream that should have read `expected` bytes, if anything.
#[must_use]
pub fn problems(s: &StreamApp, expected: u64) -> Vec<String> {
    let mut p = s.anomalies.clone();
    if let Some(at) = s.incoming.mismatch {
        p.push(format!("content differs at byte {at}"));
    }
    if s.incoming.received != expected {
        p.push(format!("read {} of {expected} bytes", s.incoming.received));
    }
    if s.out.written != s.out.total {
        p.push(format!("wrote {} of {}", s.out.written, s.out.total));
    }
    p
}

/// Uniform in `lo..hi` (20 random bits).
pub fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * (rng.below(1 << 20) as f64 / f64::from(1 << 20))
}

/// A random link: a delay of 1 to 80 ms, up to 20 ms of jitter, no loss or random loss up
/// to 10% or bursty loss, duplication and reordering up to 5% (or none), half the time a
/// rate cap (300 kB/s to 20 MB/s) with a queue of a quarter to two bandwidth-delay
/// products, a path MTU from 1200 to 1500.
pub fn random_link(rng: &mut Rng) -> LinkConfig {
    let delay = Duration::from_millis(rng.range(1, 80));
    let loss = match rng.below(3) {
        0 => Loss::None,
        1 => Loss::Random(uniform(rng, 0.0, 0.1)),
        _ => Loss::GilbertElliott {
            enter_bad: uniform(rng, 0.002, 0.03),
            leave_bad: uniform(rng, 0.2, 0.6),
            loss_good: uniform(rng, 0.0, 0.01),
            loss_bad: uniform(rng, 0.3, 1.0),
        },
    };
    let rate = rng.chance(1, 2).then(|| rng.range(300_000, 20_000_000));
    let bdp = rate.unwrap_or(0) as f64 * delay.as_secs_f64() * 2.0;
    LinkConfig {
        delay,
        jitter: Duration::from_millis(rng.range(0, 20)),
        loss,
        duplicate: uniform(rng, 0.0, 0.05) * rng.below(2) as f64,
        reorder: uniform(rng, 0.0, 0.05) * rng.below(2) as f64,
        reorder_delay: Duration::from_millis(rng.range(1, 20)),
        rate,
        queue: (bdp * uniform(rng, 0.25, 2.0)) as usize + 16 * 1024,
        mtu: [1200, 1280, 1400, 1472, 1500][rng.pick(5)],
    }
}

/// Jain's fairness index of the shares `x`: 1 when all are equal, `1/n` when one takes all.
#[must_use]
pub fn jain(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let squares: f64 = x.iter().map(|v| v * v).sum();
    if squares == 0.0 {
        return 0.0;
    }
    sum * sum / (x.len() as f64 * squares)
}

/// Every stream of every node in `nodes` reported `Closed`.
pub fn all_closed<M: Machine + AsPeer>(sim: &Sim<M>, nodes: &[NodeId]) -> bool {
    nodes.iter().all(|&n| {
        sim.node(n)
            .peer()
            .streams
            .values()
            .all(|s| s.closed.is_some())
    })
}
