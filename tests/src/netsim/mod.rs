//! A deterministic datagram network: N endpoints, one-way links between them with delay,
//! jitter, loss (random or bursty), reordering, duplication, a bandwidth cap with a bounded
//! queue and a path MTU, a seeded RNG and a simulated clock (in the spirit of str0m's
//! `netem` and quinn-proto's test `Pair`).
//!
//! An endpoint is any [`Machine`]: a sans-IO datagram state machine that takes datagrams and
//! time and hands out datagrams and its next deadline (UDX's `Socket` is one, see
//! [`udx`]). The simulator never sleeps: its clock jumps to the next event, the earliest
//! delivery or the earliest deadline of an endpoint. At each instant it delivers what is
//! due (in scheduling order), fires the deadlines that are due, and after every call into
//! an endpoint drains its `poll_transmit` into the links.
//!
//! Links are one-way and may be shared: [`Sim::add_link`] makes a link, [`Sim::route`]
//! sends the datagrams from one node to another over it (several routes through one link
//! share its bottleneck, as flows through one router do); [`Sim::connect`] makes a link
//! each way between two nodes. A datagram with no route is counted and dropped.
//!
//! Determinism: everything random comes from one [`Rng`] seeded by the caller, and the
//! order of every step is fixed, so a seed fixes the run. [`Sim::transcript`] hashes every
//! delivered datagram with its time, sender and receiver, to check exactly that.

pub mod flood;
pub mod link;
pub mod scenario;
pub mod udx;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use link::{LinkConfig, LinkState, LinkStats, Loss, IP_UDP_OVERHEAD};

use crate::sim::Rng;

/// A sans-IO datagram state machine the simulator can drive.
pub trait Machine {
    /// One datagram from `from` arrives at `now`.
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]);
    /// The next datagram to send now: appended to `buf` (which the simulator empties
    /// first), with its destination and length. `None` when nothing is due now.
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)>;
    /// When [`handle_timeout`](Machine::handle_timeout) is next due.
    fn poll_timeout(&self) -> Option<Duration>;
    /// The deadline of [`poll_timeout`](Machine::poll_timeout) (or a later time) is reached.
    fn handle_timeout(&mut self, now: Duration);
}

/// Names a node of a [`Sim`] (its index, in the order added).
pub type NodeId = usize;
/// Names a link of a [`Sim`].
pub type LinkId = usize;

/// The port every simulated node listens on.
pub const PORT: u16 = 49737;

/// The address of node `id`: `10.0.x.y:PORT`.
#[must_use]
pub fn addr_of(id: NodeId) -> SocketAddr {
    let host = id as u32 + 1;
    SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::new(10, (host >> 16) as u8, (host >> 8) as u8, host as u8),
        PORT,
    ))
}

/// A datagram on its way.
#[derive(Debug, PartialEq, Eq)]
struct InFlight {
    at: Duration,
    seq: u64,
    from: NodeId,
    to: NodeId,
    bytes: Vec<u8>,
}

impl Ord for InFlight {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Calls into endpoints at one instant before the simulator declares a livelock (a
/// deadline that stays due after `handle_timeout`).
const LIVELOCK_ROUNDS: u32 = 100_000;
/// Datagrams one endpoint may hand out at one instant before the simulator declares a
/// runaway sender (nothing in `poll_transmit` ever says "not now").
const BURST_LIMIT: usize = 1_000_000;

/// Counters of the whole simulation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Datagrams the endpoints sent.
    pub sent: u64,
    /// Datagrams delivered.
    pub delivered: u64,
    /// Bytes delivered (UDP payload).
    pub delivered_bytes: u64,
    /// Datagrams to an address with no node, or with no route to it.
    pub unroutable: u64,
}

/// The simulator (see the [module docs](self)).
pub struct Sim<M> {
    /// The simulation's RNG (tests may draw from it; that is part of the run).
    pub rng: Rng,
    now: Duration,
    nodes: Vec<M>,
    links: Vec<LinkState>,
    routes: BTreeMap<(NodeId, NodeId), LinkId>,
    queue: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    transcript: Sha256,
    stats: SimStats,
    buf: Vec<u8>,
}

impl<M: Machine> Sim<M> {
    /// An empty network whose randomness all comes from `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut transcript = Sha256::new();
        transcript.update(b"ferrocore-netsim");
        transcript.update(seed.to_le_bytes());
        Self {
            rng: Rng::new(seed),
            now: Duration::ZERO,
            nodes: Vec::new(),
            links: Vec::new(),
            routes: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            transcript,
            stats: SimStats::default(),
            buf: Vec::with_capacity(2048),
        }
    }

    /// Adds an endpoint; it is reachable at [`addr_of`] its id.
    pub fn add_node(&mut self, machine: M) -> NodeId {
        self.nodes.push(machine);
        self.nodes.len() - 1
    }

    /// Adds a one-way link (no route uses it yet).
    pub fn add_link(&mut self, config: LinkConfig) -> LinkId {
        self.links.push(LinkState::new(config));
        self.links.len() - 1
    }

    /// Datagrams from `from` to `to` go over `link` from now on.
    pub fn route(&mut self, from: NodeId, to: NodeId, link: LinkId) {
        assert!(from < self.nodes.len() && to < self.nodes.len() && link < self.links.len());
        self.routes.insert((from, to), link);
    }

    /// A link each way between `a` and `b`, both with `config`: (a → b, b → a).
    pub fn connect(&mut self, a: NodeId, b: NodeId, config: LinkConfig) -> (LinkId, LinkId) {
        self.connect_asymmetric(a, b, config, config)
    }

    /// A link each way between `a` and `b`: `ab` for a → b, `ba` for b → a.
    pub fn connect_asymmetric(
        &mut self,
        a: NodeId,
        b: NodeId,
        ab: LinkConfig,
        ba: LinkConfig,
    ) -> (LinkId, LinkId) {
        let forward = self.add_link(ab);
        let back = self.add_link(ba);
        self.route(a, b, forward);
        self.route(b, a, back);
        (forward, back)
    }

    /// The simulated time.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.now
    }

    /// A node (read only; call into it through [`with`](Self::with)).
    #[must_use]
    pub fn node(&self, id: NodeId) -> &M {
        &self.nodes[id]
    }

    /// A link's state and counters.
    #[must_use]
    pub fn link(&self, id: LinkId) -> &LinkState {
        &self.links[id]
    }

    /// A link's state, to change its configuration mid-run.
    pub fn link_mut(&mut self, id: LinkId) -> &mut LinkState {
        &mut self.links[id]
    }

    /// The simulation's counters.
    #[must_use]
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Datagrams in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// The hash of every delivery so far (time, sender, receiver, bytes), in order.
    #[must_use]
    pub fn transcript(&self) -> [u8; 32] {
        self.transcript.clone().finalize().into()
    }

    /// Calls into a node at the current time, then sends what it has to send.
    pub fn with<R>(&mut self, id: NodeId, f: impl FnOnce(&mut M, Duration) -> R) -> R {
        let r = f(&mut self.nodes[id], self.now);
        self.flush(id);
        r
    }

    /// Drains a node's `poll_transmit` into the links.
    fn flush(&mut self, id: NodeId) {
        let mut buf = std::mem::take(&mut self.buf);
        for n in 0.. {
            assert!(
                n < BURST_LIMIT,
                "node {id} sent {n} datagrams at {:?} without pause",
                self.now
            );
            buf.clear();
            let Some((dst, len)) = self.nodes[id].poll_transmit(self.now, &mut buf) else {
                break;
            };
            self.send(id, dst, &buf[..len]);
        }
        self.buf = buf;
    }

    fn node_at(&self, addr: SocketAddr) -> Option<NodeId> {
        let SocketAddr::V4(v4) = addr else {
            return None;
        };
        let [_, a, b, c] = v4.ip().octets();
        let host = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        let id = (host as usize).checked_sub(1)?;
        (v4.port() == PORT && id < self.nodes.len() && addr_of(id) == addr).then_some(id)
    }

    fn send(&mut self, from: NodeId, dst: SocketAddr, bytes: &[u8]) {
        self.stats.sent += 1;
        let route = self
            .node_at(dst)
            .and_then(|to| Some((to, *self.routes.get(&(from, to))?)));
        let Some((to, link)) = route else {
            self.stats.unroutable += 1;
            return;
        };
        let arrivals = self.links[link].admit(self.now, bytes.len(), &mut self.rng);
        for at in arrivals {
            self.seq += 1;
            self.queue.push(Reverse(InFlight {
                at,
                seq: self.seq,
                from,
                to,
                bytes: bytes.to_vec(),
            }));
        }
    }

    /// The earliest delivery or endpoint deadline.
    #[must_use]
    pub fn next_event(&self) -> Option<Duration> {
        let delivery = self.queue.peek().map(|Reverse(p)| p.at);
        let deadlines = self.nodes.iter().filter_map(Machine::poll_timeout);
        delivery.into_iter().chain(deadlines).min()
    }

    /// Handles everything due at the current time: deliveries first (in the order they
    /// were scheduled), then the deadlines of the nodes (in id order), again until nothing
    /// is due. Returns whether anything happened.
    pub fn step(&mut self) -> bool {
        let mut any = false;
        for round in 0.. {
            assert!(
                round < LIVELOCK_ROUNDS,
                "livelock at {:?}: {}",
                self.now,
                self.due_now()
            );
            let mut progress = false;
            while self.queue.peek().is_some_and(|Reverse(p)| p.at <= self.now) {
                let Some(Reverse(p)) = self.queue.pop() else {
                    break;
                };
                progress = true;
                self.deliver(p);
            }
            for id in 0..self.nodes.len() {
                if self.nodes[id].poll_timeout().is_some_and(|t| t <= self.now) {
                    progress = true;
                    self.nodes[id].handle_timeout(self.now);
                    self.flush(id);
                }
            }
            if !progress {
                break;
            }
            any = true;
        }
        any
    }

    /// What is due now (for the livelock message).
    fn due_now(&self) -> String {
        let late: Vec<_> = (0..self.nodes.len())
            .filter_map(|id| {
                let t = self.nodes[id].poll_timeout()?;
                (t <= self.now).then(|| format!("node {id} deadline {t:?}"))
            })
            .collect();
        format!(
            "{} deliveries in flight, still due: [{}]",
            self.queue.len(),
            late.join(", ")
        )
    }

    fn deliver(&mut self, p: InFlight) {
        self.stats.delivered += 1;
        self.stats.delivered_bytes += p.bytes.len() as u64;
        self.transcript.update(p.at.as_nanos().to_le_bytes());
        self.transcript.update((p.from as u64).to_le_bytes());
        self.transcript.update((p.to as u64).to_le_bytes());
        self.transcript.update((p.bytes.len() as u64).to_le_bytes());
        self.transcript.update(&p.bytes);
        self.nodes[p.to].handle_datagram(self.now, addr_of(p.from), &p.bytes);
        self.flush(p.to);
    }

    /// Runs every event up to `deadline` in time order, then sets the clock to `deadline`.
    pub fn run_to(&mut self, deadline: Duration) {
        self.run_until(deadline, |_| false);
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_to(self.now + d);
    }

    /// Runs event by event until `done` holds (checked after each instant) or the clock
    /// would pass `deadline` (then it stops at `deadline`). True if `done` held.
    pub fn run_until(&mut self, deadline: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        self.step();
        loop {
            if done(self) {
                return true;
            }
            match self.next_event() {
                Some(t) if t <= deadline => {
                    self.now = self.now.max(t);
                    self.step();
                }
                _ => {
                    self.now = self.now.max(deadline);
                    self.step();
                    return done(self);
                }
            }
        }
    }

    /// Runs until nothing is in flight and no node has a deadline, or until `deadline`.
    /// True if the network went quiet.
    pub fn run_idle(&mut self, deadline: Duration) -> bool {
        self.run_until(deadline, |sim| sim.next_event().is_none())
    }
}

/// A [`Machine`] whose heap is measured: every call into it counts what the heap of this
/// thread grew or shrank by during the call, so [`held`](Metered::held) is what the machine
/// holds (since it was wrapped) and [`peak`](Metered::peak) the most it held. Needs
/// [`crate::heap::Counting`] as the test binary's global allocator (else both stay 0).
/// Exact as long as the machine does not hand allocations out or take them in (a datagram
/// buffer it fills is the simulator's, reserved before).
pub struct Metered<M> {
    inner: M,
    held: i64,
    peak: i64,
}

impl<M> Metered<M> {
    /// Wraps `inner`; what it held before is not counted.
    pub fn new(inner: M) -> Self {
        Self {
            inner,
            held: 0,
            peak: 0,
        }
    }

    /// The machine.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// Calls into the machine, counting its heap.
    pub fn call<R>(&mut self, f: impl FnOnce(&mut M) -> R) -> R {
        let before = crate::heap::live_bytes();
        let r = f(&mut self.inner);
        self.held += crate::heap::live_bytes() - before;
        self.peak = self.peak.max(self.held);
        r
    }

    /// Heap bytes the machine holds now (net of what it freed).
    pub fn held(&self) -> i64 {
        self.held
    }

    /// The most it held at once.
    pub fn peak(&self) -> i64 {
        self.peak
    }
}

impl<M: Machine> Machine for Metered<M> {
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        self.call(|m| m.handle_datagram(now, from, bytes));
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        self.call(|m| m.poll_transmit(now, buf))
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.inner.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.call(|m| m.handle_timeout(now));
    }
}
