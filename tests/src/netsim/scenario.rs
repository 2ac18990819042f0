//! Building blocks of the UDX simulation tests (`tests/tests/udx_sim.rs`): opening checked
//! streams between two peers, judging a finished transfer, random link configurations and
//! random transfers over them, fairness.

use std::time::Duration;

use ferrocore_udx::{CcKind, Config, StreamId};

use super::udx::{AsPeer, Outgoing, StreamApp, UdxPeer};
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

/// A random link: a delay of 1 to 80 ms, up to 20 ms of jitter, no loss, random loss up
/// to 10%, or bursts in time (bad periods of 5 to 200 ms that lose 30% to all packets,
/// good periods of 1 to 5 s: links that lose much, not links that are down; a path dead
/// for six RTOs in a row ends a stream with `Timeout` by design),
/// duplication and reordering up to 5% (or none), half the time a rate cap (300 kB/s to
/// 20 MB/s) with a queue of a quarter to two bandwidth-delay products, a path MTU from
/// 1200 to 1500.
pub fn random_link(rng: &mut Rng) -> LinkConfig {
    let delay = Duration::from_millis(rng.range(1, 80));
    let loss = match rng.below(3) {
        0 => Loss::None,
        1 => Loss::Random(uniform(rng, 0.0, 0.1)),
        _ => Loss::Bursts {
            mean_good: Duration::from_millis(rng.range(1000, 5000)),
            mean_bad: Duration::from_millis(rng.range(5, 200)),
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

/// A two-node simulation (nodes 0 and 1) with `ab` for 0 → 1 and `ba` for 1 → 0.
pub fn two<M: Machine>(seed: u64, a: M, b: M, ab: LinkConfig, ba: LinkConfig) -> Sim<M> {
    let mut sim = Sim::new(seed);
    sim.add_node(a);
    sim.add_node(b);
    sim.connect_asymmetric(0, 1, ab, ba);
    sim
}

/// The default configuration with congestion control `cc`.
pub fn config(cc: CcKind) -> Config {
    Config {
        cc,
        ..Config::default()
    }
}

/// Streams of a random transfer: node 0's id `100 + i` talks to node 1's `200 + i`,
/// with `(bytes 0 → 1, bytes 1 → 0)`.
pub type Streams = Vec<(u64, u64)>;

/// What each stream of `streams` looks like at both ends, for failure messages.
pub fn describe(sim: &Sim<UdxPeer>, streams: &Streams) -> String {
    let mut d = format!(
        "at {:?}; links {:?} / {:?}",
        sim.now(),
        sim.link(0).stats,
        sim.link(1).stats
    );
    for (i, &(x, y)) in streams.iter().enumerate() {
        let i = i as u32;
        for (node, id, expect) in [(0, 100 + i, y), (1, 200 + i, x)] {
            let s = sim.node(node).stream(id);
            d += &format!(
                "\n  node {node} stream {id}: {:?}; remote ended {:?}, finished {:?}, closed {:?}; {:?}",
                problems(s, expect),
                s.remote_ended,
                s.finished,
                s.closed,
                sim.node(node).socket.stats(id)
            );
        }
    }
    d
}

/// How a checked random transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Simulated time until every byte and both ENDs of every stream had arrived.
    pub took: Duration,
    /// Streams whose own END was never acknowledged because the peer, having received
    /// everything, closed its side and the acknowledgement of that END was lost: the
    /// writer retransmits its END to a stream that is gone and closes with
    /// `UdxError::Timeout` (libudx keeps no TIME_WAIT either; see the report).
    pub unacked_ends: u32,
}

/// One random transfer (links, streams, sizes and congestion control drawn from `seed`),
/// checked: every byte arrived once and in order and both ENDs arrived; then every
/// stream closed, without error, except for the one outcome counted in
/// [`Outcome::unacked_ends`]. What went wrong otherwise.
pub fn random_transfer(seed: u64) -> Result<Outcome, String> {
    let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x0dd5);
    let ab = random_link(&mut rng);
    let ba = random_link(&mut rng);
    let streams: Streams = (0..rng.range(1, 3))
        .map(|_| {
            let mut size = || match rng.below(4) {
                0 => 0,
                1 => rng.range(1, 5000),
                _ => rng.range(5000, 600_000),
            };
            (size(), size())
        })
        .collect();
    let cc = [CcKind::NewReno, CcKind::Bbr][rng.pick(2)];
    let what = format!("seed {seed}, {cc:?}, a→b {ab:?}, b→a {ba:?}, streams {streams:?}");
    let (a, b) = (UdxPeer::new(config(cc)), UdxPeer::new(config(cc)));
    let mut sim = two(seed, a, b, ab, ba);
    for (i, &sizes) in streams.iter().enumerate() {
        let i = i as u32;
        open_pair(&mut sim, (0, 100 + i), (1, 200 + i), sizes, true);
    }
    // (node, local id, bytes expected) of every stream end.
    let ends: Vec<(NodeId, StreamId, u64)> = (0..streams.len())
        .flat_map(|i| {
            let (x, y) = streams[i];
            let i = i as u32;
            [(0, 100 + i, y), (1, 200 + i, x)]
        })
        .collect();
    let delivered = |sim: &Sim<UdxPeer>| {
        ends.iter().all(|&(n, id, expect)| {
            let s = sim.node(n).stream(id);
            s.incoming.received == expect && s.remote_ended.is_some()
        })
    };
    if !sim.run_until(Duration::from_secs(600), delivered) {
        return Err(format!(
            "{what}: not delivered: {}",
            describe(&sim, &streams)
        ));
    }
    let took = sim.now();
    if !sim.run_until(took + Duration::from_secs(60), |sim| {
        all_closed(sim, &[0, 1])
    }) {
        return Err(format!(
            "{what}: not closed 60 s after: {}",
            describe(&sim, &streams)
        ));
    }
    let mut unacked_ends = 0;
    for (k, &(n, id, expect)) in ends.iter().enumerate() {
        let s = sim.node(n).stream(id);
        let (pn, pid, _) = ends[k ^ 1];
        let peer = sim.node(pn).stream(pid);
        let clean = |s: &StreamApp| s.finished.is_some() && matches!(s.closed, Some((_, None)));
        let unacked_end = s.finished.is_none()
            && matches!(s.closed, Some((_, Some(ferrocore_udx::UdxError::Timeout))))
            && clean(peer);
        if !problems(s, expect).is_empty() || !(clean(s) || unacked_end) {
            return Err(format!(
                "{what}: node {n} stream {id}: {}",
                describe(&sim, &streams)
            ));
        }
        unacked_ends += u32::from(unacked_end);
    }
    Ok(Outcome { took, unacked_ends })
}
