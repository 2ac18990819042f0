//! A deterministic simulated network for the DHT tests.
//!
//! [`Sim`] owns a simulated clock and a set of hosts (anything implementing [`Host`]: a
//! sans-IO node with `handle_*`/`poll_*`). Datagrams a host sends are delivered after a
//! per-link delay (a seeded function of the two hosts, plus a little seeded jitter) and may
//! be lost with a configured probability; a host's timers fire at its `poll_timeout`.
//! Everything random comes from one seeded [`Rng`] and every tie in the event queue is
//! broken by insertion order, so the same seed gives the same run.
//!
//! Each host has two sockets, as dht-rpc nodes do: a *server* address (its advertised one,
//! whose BLAKE2b is its node id) and a *client* address on the same host.

#![allow(dead_code)]

pub mod dht;
pub mod net;
pub mod rpc;

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use ferrocore_hyperdht::rpc::io::{Socket, Transmit};
use ferrocore_wire::dht::Ipv4Address;

/// The server port every simulated host uses (HyperDHT's default).
pub const SERVER_PORT: u16 = 49737;
/// The client port every simulated host uses.
pub const CLIENT_PORT: u16 = 50001;

/// A small seeded generator (splitmix64): deterministic, good enough for a simulation.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `ppm` per million.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.below(1_000_000) < u64::from(ppm)
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for c in b.chunks_mut(8) {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        b
    }

    /// A random `u16`.
    pub fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }

    /// `k` distinct items of `items`, in random order (fewer if there are fewer).
    pub fn pick<T: Copy>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut v = items.to_vec();
        let k = k.min(v.len());
        for i in 0..k {
            let j = i + self.below((v.len() - i) as u64) as usize;
            v.swap(i, j);
        }
        v.truncate(k);
        v
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of a test: `SIM_SEED` from the environment, else `default`. Printed, so a
/// failing run can be repeated.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    println!("{test}: seed {seed} (rerun with SIM_SEED={seed})");
    seed
}

/// A sans-IO node the simulation can drive.
pub trait Host {
    /// A datagram from `from` arrived on `socket`.
    fn handle_datagram(&mut self, now: Duration, socket: Socket, from: Ipv4Address, bytes: &[u8]);
    /// Timers due at `now`.
    fn handle_timeout(&mut self, now: Duration);
    /// The next time [`Host::handle_timeout`] has work.
    fn poll_timeout(&self) -> Option<Duration>;
    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<Transmit>;
}

/// The simulated network's behaviour.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The shortest one-way link delay.
    pub min_delay: Duration,
    /// The longest one-way link delay (before jitter).
    pub max_delay: Duration,
    /// Up to this much is added to each datagram's delay.
    pub jitter: Duration,
    /// Datagrams lost, per million.
    pub loss_ppm: u32,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(80),
            jitter: Duration::from_millis(4),
            loss_ppm: 0,
        }
    }
}

/// What the network did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams handed to a live host.
    pub delivered: u64,
    /// Datagrams lost on the way.
    pub lost: u64,
    /// Datagrams to an address nobody (alive) listens on.
    pub unreachable: u64,
    /// Datagrams a host's firewall dropped (unsolicited).
    pub filtered: u64,
    /// Timer wake-ups run.
    pub wakes: u64,
}

enum Ev {
    Deliver {
        to: Ipv4Address,
        from: Ipv4Address,
        bytes: Vec<u8>,
    },
    Wake(usize),
}

struct Item {
    at: Duration,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

struct Slot<H> {
    server: Ipv4Address,
    client: Ipv4Address,
    host: Option<H>,
    wake: Option<Duration>,
    /// Behind a firewall: the (local socket is the server one, remote address) pairs it
    /// sent to, the only ones it hears from.
    firewall: Option<BTreeSet<(bool, Ipv4Address)>>,
}

/// The simulation: a clock, hosts and the datagrams between them.
pub struct Sim<H> {
    now: Duration,
    seed: u64,
    /// The simulation's randomness (also for the tests' own choices).
    pub rng: Rng,
    cfg: NetConfig,
    slots: Vec<Slot<H>>,
    by_addr: BTreeMap<Ipv4Address, (usize, Socket)>,
    queue: BinaryHeap<Reverse<Item>>,
    seq: u64,
    /// Counters.
    pub stats: NetStats,
}

/// The server address of host number `i`.
pub fn server_addr(i: usize) -> Ipv4Address {
    let i = i + 1;
    Ipv4Address::new([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], SERVER_PORT)
}

impl<H: Host> Sim<H> {
    /// An empty network at time zero.
    pub fn new(seed: u64, cfg: NetConfig) -> Self {
        Self {
            now: Duration::ZERO,
            seed,
            rng: Rng::new(seed),
            cfg,
            slots: Vec::new(),
            by_addr: BTreeMap::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            stats: NetStats::default(),
        }
    }

    /// The simulated time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Adds a host made by `make(rng, server address, now)`; returns its index.
    pub fn add(&mut self, make: impl FnOnce(&mut Rng, Ipv4Address, Duration) -> H) -> usize {
        self.add_with(make, false)
    }

    /// Adds a host behind a firewall (a NAT that keeps its ports): it hears only from
    /// addresses it sent to from the socket the datagram arrives on.
    pub fn add_firewalled(
        &mut self,
        make: impl FnOnce(&mut Rng, Ipv4Address, Duration) -> H,
    ) -> usize {
        self.add_with(make, true)
    }

    fn add_with(
        &mut self,
        make: impl FnOnce(&mut Rng, Ipv4Address, Duration) -> H,
        firewalled: bool,
    ) -> usize {
        let i = self.slots.len();
        let server = server_addr(i);
        let client = Ipv4Address::new(server.host, CLIENT_PORT);
        let host = make(&mut self.rng, server, self.now);
        self.by_addr.insert(server, (i, Socket::Server));
        self.by_addr.insert(client, (i, Socket::Client));
        self.slots.push(Slot {
            server,
            client,
            host: Some(host),
            wake: None,
            firewall: firewalled.then(BTreeSet::new),
        });
        self.flush(i, false);
        i
    }

    /// Host `i` leaves: it drops off the network without a word (as a crashed node does).
    pub fn kill(&mut self, i: usize) {
        self.slots[i].host = None;
        self.slots[i].wake = None;
    }

    /// Whether host `i` is alive.
    pub fn alive(&self, i: usize) -> bool {
        self.slots[i].host.is_some()
    }

    /// The live hosts' indices.
    pub fn live(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| self.alive(i)).collect()
    }

    /// Hosts ever added.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Host `i`'s server address.
    pub fn addr(&self, i: usize) -> Ipv4Address {
        self.slots[i].server
    }

    /// Host `i`, if alive.
    pub fn host(&self, i: usize) -> Option<&H> {
        self.slots[i].host.as_ref()
    }

    /// Runs `f` on live host `i` at the current time, then sends what it queued.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut H, Duration) -> R) -> Option<R> {
        let now = self.now;
        let r = f(self.slots[i].host.as_mut()?, now);
        self.flush(i, false);
        Some(r)
    }

    /// Runs the network until `until` (the clock ends there).
    pub fn run_until(&mut self, until: Duration) {
        while let Some(Reverse(item)) = self.queue.peek() {
            if item.at > until {
                break;
            }
            let Some(Reverse(item)) = self.queue.pop() else {
                break;
            };
            self.now = item.at;
            match item.ev {
                Ev::Deliver { to, from, bytes } => {
                    let Some(&(i, socket)) = self.by_addr.get(&to) else {
                        self.stats.unreachable += 1;
                        continue;
                    };
                    let slot = &mut self.slots[i];
                    if slot
                        .firewall
                        .as_ref()
                        .is_some_and(|f| !f.contains(&(socket == Socket::Server, from)))
                    {
                        self.stats.filtered += 1;
                        continue;
                    }
                    let Some(h) = slot.host.as_mut() else {
                        self.stats.unreachable += 1;
                        continue;
                    };
                    self.stats.delivered += 1;
                    h.handle_datagram(self.now, socket, from, &bytes);
                    self.flush(i, false);
                }
                Ev::Wake(i) => {
                    if self.slots[i].wake != Some(item.at) {
                        continue; // superseded
                    }
                    self.slots[i].wake = None;
                    let Some(h) = self.slots[i].host.as_mut() else {
                        continue;
                    };
                    self.stats.wakes += 1;
                    h.handle_timeout(self.now);
                    self.flush(i, true);
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs the network for `d` more.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs the network in `step`s until `done` holds or `limit` passed; returns whether
    /// `done` held.
    pub fn run_until_true(
        &mut self,
        step: Duration,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = self.now + limit;
        while !done(self) {
            if self.now >= end {
                return false;
            }
            self.run_for(step);
        }
        true
    }

    fn push(&mut self, at: Duration, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Item {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// The one-way delay of the link between two hosts: fixed per pair, from the seed.
    fn link_delay(&self, a: Ipv4Address, b: Ipv4Address) -> Duration {
        let (a, b) = (u32::from_be_bytes(a.host), u32::from_be_bytes(b.host));
        let (lo, hi) = (a.min(b), a.max(b));
        let h = mix(self.seed ^ mix((u64::from(lo) << 32) | u64::from(hi)));
        let span = self
            .cfg
            .max_delay
            .saturating_sub(self.cfg.min_delay)
            .as_micros() as u64;
        self.cfg.min_delay + Duration::from_micros(h % (span + 1))
    }

    /// Sends what host `i` queued and schedules its next timer.
    fn flush(&mut self, i: usize, woke: bool) {
        let mut out = Vec::new();
        let timeout = {
            let Some(h) = self.slots[i].host.as_mut() else {
                return;
            };
            while let Some(t) = h.poll_transmit() {
                out.push(t);
            }
            h.poll_timeout()
        };
        let (server, client) = (self.slots[i].server, self.slots[i].client);
        for t in out {
            self.stats.sent += 1;
            if let Some(f) = self.slots[i].firewall.as_mut() {
                f.insert((t.socket == Socket::Server, t.to));
            }
            if self.rng.chance_ppm(self.cfg.loss_ppm) {
                self.stats.lost += 1;
                continue;
            }
            let from = match t.socket {
                Socket::Server => server,
                Socket::Client => client,
            };
            let jitter = self.cfg.jitter.as_micros() as u64;
            let jitter = Duration::from_micros(self.rng.below(jitter + 1));
            let at = self.now + self.link_delay(from, t.to) + jitter;
            self.push(
                at,
                Ev::Deliver {
                    to: t.to,
                    from,
                    bytes: t.bytes,
                },
            );
        }
        if let Some(t) = timeout {
            // A timer still due right after it ran would spin: push it a little later.
            let floor = if woke {
                self.now + Duration::from_millis(1)
            } else {
                self.now
            };
            let t = t.max(floor);
            if self.slots[i].wake.is_none_or(|w| t < w) {
                self.slots[i].wake = Some(t);
                self.push(t, Ev::Wake(i));
            }
        }
    }
}

/// XOR distance between two ids, comparable as bytes.
pub fn distance(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    core::array::from_fn(|i| a[i] ^ b[i])
}

/// The `k` ids of `ids` closest to `target`, closest first.
pub fn closest(ids: &[[u8; 32]], target: &[u8; 32], k: usize) -> Vec<[u8; 32]> {
    let mut v: Vec<([u8; 32], [u8; 32])> =
        ids.iter().map(|id| (distance(id, target), *id)).collect();
    if v.len() > k {
        v.select_nth_unstable(k);
        v.truncate(k);
    }
    v.sort_unstable();
    v.into_iter().map(|(_, id)| id).collect()
}

/// How many of `got` are in `want`.
pub fn hits(got: &[[u8; 32]], want: &[[u8; 32]]) -> usize {
    got.iter().filter(|g| want.contains(g)).count()
}
