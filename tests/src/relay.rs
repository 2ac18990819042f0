//! A seeded, lossy UDP relay for live UDX tests and benchmarks (loopback only).
//!
//! The relay binds two UDP sockets on 127.0.0.1: side A ([`Relay::addr_a`]) faces peer A,
//! side B ([`Relay::addr_b`]) faces peer B. A datagram peer A sends to side A leaves side B
//! for peer B, and the other way round, so each peer "connects" to the relay's side facing
//! it. Each direction has its own [`Shaper`] (its own [`Impairment`] and random stream,
//! derived from one seed), which decides per datagram: loss, duplication, reordering, delay
//! plus jitter, and an optional bandwidth cap with a bounded queue (tail drop). The
//! decisions depend only on the seed and the sequence of datagrams (and, with a bandwidth
//! cap, their arrival times), never on thread scheduling. [`RelayStats`] counts what it did.
//!
//! Peer addresses are given in [`RelayConfig`] or learned: the first datagram arriving on a
//! side fixes that side's peer; datagrams from anyone else are counted and dropped.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What one direction of the relay does to the datagrams crossing it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Probability that a datagram is dropped (0.0 ..= 1.0).
    pub loss: f64,
    /// One-way delay added to every datagram.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per datagram. Jitter alone keeps the
    /// order (a datagram never leaves before the one ahead of it); see `reorder`.
    pub jitter: Duration,
    /// Probability that a datagram is delivered twice (the copy right after the original).
    pub duplicate: f64,
    /// Probability that a datagram is held back by `reorder_delay` extra, letting the
    /// datagrams behind it overtake it.
    pub reorder: f64,
    /// How long a reordered datagram is held back.
    pub reorder_delay: Duration,
    /// Bandwidth cap in bytes per second (None: unlimited): datagrams leave one after
    /// another at this rate, the delay counting from when each one has left.
    pub rate: Option<u64>,
    /// With a bandwidth cap: the most bytes waiting for the link; a datagram that does not
    /// fit is dropped (tail drop). 0 means 256 KiB.
    pub queue_limit: usize,
}

impl Impairment {
    /// A link with this loss probability and one-way delay, nothing else.
    pub fn lossy(loss: f64, delay: Duration) -> Self {
        Impairment {
            loss,
            delay,
            ..Impairment::default()
        }
    }
}

/// SplitMix64: a small, seedable random stream (the relay's only source of randomness).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The stream for `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Why a datagram was not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The random loss.
    Loss,
    /// The bandwidth cap's queue was full.
    QueueFull,
}

/// What a [`Shaper`] decided for one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not forwarded.
    Drop(DropReason),
    /// Forwarded at `at` (time since the relay's origin), and a second copy at `copy` if
    /// duplicated; `reordered` if held back to be overtaken.
    Deliver {
        /// When the datagram leaves the relay.
        at: Duration,
        /// When its duplicate leaves, if duplicated.
        copy: Option<Duration>,
        /// Whether it was held back by the reorder delay.
        reordered: bool,
    },
}

/// The decisions of one direction: sans-IO, a pure function of the seed, the impairment
/// and the (arrival time, length) of each datagram.
#[derive(Clone, Debug)]
pub struct Shaper {
    imp: Impairment,
    rng: SplitMix64,
    link_free_at: Duration,
    last_at: Duration,
}

impl Shaper {
    /// A shaper for `imp` drawing from the random stream `seed`.
    pub fn new(imp: Impairment, seed: u64) -> Self {
        Shaper {
            imp,
            rng: SplitMix64::new(seed),
            link_free_at: Duration::ZERO,
            last_at: Duration::ZERO,
        }
    }

    /// The verdict for a datagram of `len` bytes arriving at `now`. Draws exactly four
    /// random numbers per datagram, so one datagram's fate never shifts the next one's.
    pub fn decide(&mut self, now: Duration, len: usize) -> Verdict {
        let lose = self.rng.next_f64() < self.imp.loss;
        let dup = self.rng.next_f64() < self.imp.duplicate;
        let reorder = self.rng.next_f64() < self.imp.reorder;
        let jitter = self.imp.jitter.mul_f64(self.rng.next_f64());
        if lose {
            return Verdict::Drop(DropReason::Loss);
        }
        let mut leaves = now;
        if let Some(rate) = self.imp.rate.filter(|r| *r > 0) {
            let limit = match self.imp.queue_limit {
                0 => 256 << 10,
                n => n,
            };
            let start = self.link_free_at.max(now);
            let backlog = (start - now).as_secs_f64() * rate as f64;
            if backlog + len as f64 > limit as f64 {
                return Verdict::Drop(DropReason::QueueFull);
            }
            self.link_free_at = start + Duration::from_secs_f64(len as f64 / rate as f64);
            leaves = self.link_free_at;
        }
        let mut at = leaves + self.imp.delay + jitter;
        if reorder {
            at += self.imp.reorder_delay;
        } else {
            at = at.max(self.last_at);
            self.last_at = at;
        }
        Verdict::Deliver {
            at,
            copy: dup.then_some(at),
            reordered: reorder,
        }
    }
}

/// The relay's setup.
#[derive(Clone, Debug, Default)]
pub struct RelayConfig {
    /// What happens to datagrams from peer A to peer B.
    pub a_to_b: Impairment,
    /// What happens to datagrams from peer B to peer A.
    pub b_to_a: Impairment,
    /// The seed of both directions' random streams.
    pub seed: u64,
    /// Peer A's address (None: the first sender on side A).
    pub peer_a: Option<SocketAddr>,
    /// Peer B's address (None: the first sender on side B).
    pub peer_b: Option<SocketAddr>,
}

impl RelayConfig {
    /// The same impairment both ways (each direction draws its own random stream).
    pub fn symmetric(imp: Impairment, seed: u64) -> Self {
        RelayConfig {
            a_to_b: imp.clone(),
            b_to_a: imp,
            seed,
            ..RelayConfig::default()
        }
    }
}

/// What one direction did, counted in datagrams (and bytes forwarded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Datagrams received from the sending peer.
    pub received: u64,
    /// Datagrams sent to the receiving peer (duplicates included).
    pub forwarded: u64,
    /// Bytes sent to the receiving peer (duplicates included).
    pub bytes_forwarded: u64,
    /// Dropped by the random loss.
    pub lost: u64,
    /// Dropped because the bandwidth cap's queue was full.
    pub queue_dropped: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Held back to be overtaken.
    pub reordered: u64,
    /// Dropped: from an address other than the side's peer, or the other peer unknown yet.
    pub unroutable: u64,
}

/// What the relay did, per direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams from peer A to peer B.
    pub a_to_b: DirectionStats,
    /// Datagrams from peer B to peer A.
    pub b_to_a: DirectionStats,
}

#[derive(Default)]
struct Counters([AtomicU64; 8]);

impl Counters {
    fn add(&self, i: usize, n: u64) {
        self.0[i].fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> DirectionStats {
        let v = |i: usize| self.0[i].load(Ordering::Relaxed);
        DirectionStats {
            received: v(0),
            forwarded: v(1),
            bytes_forwarded: v(2),
            lost: v(3),
            queue_dropped: v(4),
            duplicated: v(5),
            reordered: v(6),
            unroutable: v(7),
        }
    }
}

const RECEIVED: usize = 0;
const FORWARDED: usize = 1;
const BYTES: usize = 2;
const LOST: usize = 3;
const QUEUE_DROPPED: usize = 4;
const DUPLICATED: usize = 5;
const REORDERED: usize = 6;
const UNROUTABLE: usize = 7;

type PeerSlot = Arc<Mutex<Option<SocketAddr>>>;

/// One direction: receives on `from_side`, sends from `to_side`.
struct Direction {
    from_side: UdpSocket,
    to_side: UdpSocket,
    sender: PeerSlot,
    receiver: PeerSlot,
    shaper: Shaper,
    counters: Arc<Counters>,
}

/// A running relay: two threads (one per direction), stopped when dropped.
pub struct Relay {
    addr_a: SocketAddr,
    addr_b: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: [Arc<Counters>; 2],
}

impl Relay {
    /// Binds both sides on 127.0.0.1 (ephemeral ports) and starts forwarding.
    pub fn start(config: RelayConfig) -> io::Result<Relay> {
        let side_a = UdpSocket::bind("127.0.0.1:0")?;
        let side_b = UdpSocket::bind("127.0.0.1:0")?;
        let (addr_a, addr_b) = (side_a.local_addr()?, side_b.local_addr()?);
        let peer_a: PeerSlot = Arc::new(Mutex::new(config.peer_a));
        let peer_b: PeerSlot = Arc::new(Mutex::new(config.peer_b));
        let counters = [Arc::new(Counters::default()), Arc::new(Counters::default())];
        let stop = Arc::new(AtomicBool::new(false));
        let origin = Instant::now();
        let mut rng = SplitMix64::new(config.seed);
        let directions = [
            Direction {
                from_side: side_a.try_clone()?,
                to_side: side_b.try_clone()?,
                sender: peer_a.clone(),
                receiver: peer_b.clone(),
                shaper: Shaper::new(config.a_to_b, rng.next_u64()),
                counters: counters[0].clone(),
            },
            Direction {
                from_side: side_b,
                to_side: side_a,
                sender: peer_b,
                receiver: peer_a,
                shaper: Shaper::new(config.b_to_a, rng.next_u64()),
                counters: counters[1].clone(),
            },
        ];
        let threads = directions
            .into_iter()
            .map(|d| {
                let stop = stop.clone();
                std::thread::spawn(move || d.run(origin, &stop))
            })
            .collect();
        Ok(Relay {
            addr_a,
            addr_b,
            stop,
            threads,
            counters,
        })
    }

    /// The side peer A sends to (and receives from).
    pub fn addr_a(&self) -> SocketAddr {
        self.addr_a
    }

    /// The side peer B sends to (and receives from).
    pub fn addr_b(&self) -> SocketAddr {
        self.addr_b
    }

    /// What the relay did so far.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            a_to_b: self.counters[0].get(),
            b_to_a: self.counters[1].get(),
        }
    }

    /// Stops forwarding (datagrams still held are dropped) and returns the final counts.
    pub fn stop(mut self) -> RelayStats {
        self.halt();
        self.stats()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.halt();
    }
}

/// The longest a relay thread blocks before looking at its stop flag again.
const TICK: Duration = Duration::from_millis(20);

impl Direction {
    fn run(mut self, origin: Instant, stop: &AtomicBool) {
        let mut held: BinaryHeap<Reverse<(Duration, u64, Vec<u8>)>> = BinaryHeap::new();
        let mut order = 0u64;
        let mut buf = vec![0u8; 65536];
        while !stop.load(Ordering::Relaxed) {
            let now = origin.elapsed();
            while held.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                let Reverse((_, _, data)) = held.pop().expect("peeked");
                self.forward(&data);
            }
            let wait = held
                .peek()
                .map_or(TICK, |Reverse((at, _, _))| at.saturating_sub(now).min(TICK))
                .max(Duration::from_micros(50));
            if self.from_side.set_read_timeout(Some(wait)).is_err() {
                return;
            }
            let (n, from) = match self.from_side.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue
                }
                // e.g. ICMP port unreachable from an earlier send: keep going
                Err(_) => continue,
            };
            self.counters.add(RECEIVED, 1);
            let known = *self.sender.lock().expect("peer slot").get_or_insert(from);
            if known != from {
                self.counters.add(UNROUTABLE, 1);
                continue;
            }
            match self.shaper.decide(origin.elapsed(), n) {
                Verdict::Drop(DropReason::Loss) => self.counters.add(LOST, 1),
                Verdict::Drop(DropReason::QueueFull) => self.counters.add(QUEUE_DROPPED, 1),
                Verdict::Deliver {
                    at,
                    copy,
                    reordered,
                } => {
                    if reordered {
                        self.counters.add(REORDERED, 1);
                    }
                    // ties leave in arrival order, a copy right after its original
                    held.push(Reverse((at, order, buf[..n].to_vec())));
                    if let Some(c) = copy {
                        self.counters.add(DUPLICATED, 1);
                        held.push(Reverse((c, order + 1, buf[..n].to_vec())));
                    }
                    order += 2;
                }
            }
        }
    }

    fn forward(&self, data: &[u8]) {
        let to = *self.receiver.lock().expect("peer slot");
        match to {
            Some(to) if self.to_side.send_to(data, to).is_ok() => {
                self.counters.add(FORWARDED, 1);
                self.counters.add(BYTES, data.len() as u64);
            }
            _ => self.counters.add(UNROUTABLE, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn run(imp: &Impairment, seed: u64, n: usize) -> Vec<Verdict> {
        let mut s = Shaper::new(imp.clone(), seed);
        (0..n).map(|i| s.decide(MS * i as u32, 1200)).collect()
    }

    fn messy() -> Impairment {
        Impairment {
            loss: 0.1,
            delay: 10 * MS,
            jitter: 5 * MS,
            duplicate: 0.05,
            reorder: 0.05,
            reorder_delay: 3 * MS,
            ..Impairment::default()
        }
    }

    #[test]
    fn decisions_are_a_function_of_the_seed() {
        let a = run(&messy(), 42, 10_000);
        assert_eq!(a, run(&messy(), 42, 10_000));
        assert_ne!(a, run(&messy(), 43, 10_000));
    }

    fn count(v: &[Verdict], f: impl Fn(&Verdict) -> bool) -> usize {
        v.iter().filter(|x| f(x)).count()
    }

    #[test]
    fn rates_are_within_tolerance_over_100k_datagrams() {
        for (loss, dup) in [(0.01, 0.0), (0.2, 0.05)] {
            let imp = Impairment {
                loss,
                duplicate: dup,
                ..Impairment::default()
            };
            let v = run(&imp, 7, 100_000);
            let lost = count(&v, |x| *x == Verdict::Drop(DropReason::Loss)) as f64;
            let dups = count(&v, |x| matches!(x, Verdict::Deliver { copy: Some(_), .. })) as f64;
            // 5 standard deviations of a binomial count
            let tol = |p: f64, n: f64| 5.0 * (n * p * (1.0 - p)).sqrt() + 1.0;
            assert!(
                (lost - 1e5 * loss).abs() < tol(loss, 1e5),
                "loss {loss}: {lost}"
            );
            let kept = 1e5 - lost;
            assert!(
                (dups - kept * dup).abs() < tol(dup, kept),
                "dup {dup}: {dups}"
            );
        }
    }

    #[test]
    fn jitter_keeps_the_order_and_reordering_breaks_it() {
        let times = |imp: &Impairment| -> Vec<Duration> {
            run(imp, 9, 5_000)
                .into_iter()
                .filter_map(|v| match v {
                    Verdict::Deliver { at, .. } => Some(at),
                    Verdict::Drop(_) => None,
                })
                .collect()
        };
        let mut imp = Impairment {
            delay: 10 * MS,
            jitter: 30 * MS,
            ..Impairment::default()
        };
        let t = times(&imp);
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
        assert!(t.iter().all(|at| *at >= 10 * MS));
        imp.reorder = 0.1;
        imp.reorder_delay = 5 * MS;
        let t = times(&imp);
        let inversions = t.windows(2).filter(|w| w[0] > w[1]).count();
        assert!((300..700).contains(&inversions), "{inversions}");
    }

    #[test]
    fn a_bandwidth_cap_paces_and_tail_drops() {
        let mut s = Shaper::new(
            Impairment {
                rate: Some(1_000_000),
                queue_limit: 10_000,
                delay: 5 * MS,
                ..Impairment::default()
            },
            1,
        );
        // 20 datagrams of 1000 bytes at once: 1 ms each on the link, 10 fit the queue
        let v: Vec<Verdict> = (0..20).map(|_| s.decide(Duration::ZERO, 1000)).collect();
        for (k, x) in v.iter().enumerate().take(10) {
            let at = MS * (k as u32 + 1) + 5 * MS;
            assert_eq!(
                *x,
                Verdict::Deliver {
                    at,
                    copy: None,
                    reordered: false
                }
            );
        }
        assert!(v[10..]
            .iter()
            .all(|x| *x == Verdict::Drop(DropReason::QueueFull)));
        // once the link has drained, datagrams pass again
        assert!(matches!(s.decide(20 * MS, 1000), Verdict::Deliver { .. }));
    }
}
