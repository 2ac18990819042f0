//! A deterministic network simulator for [`Endpoint`]s (in the spirit of quinn's test
//! `Pair` and str0m's netem): N endpoints, byte-stream links between pairs, a seeded RNG,
//! random chunking, per-link delay, disconnects and reconnects, and a simulated clock.
//!
//! Every byte an endpoint transmits is cut into random chunks (1 byte .. all of it), each
//! delivered after the link's delay (with jitter, but in order: a link is a TCP-like byte
//! stream). Stepping delivers the packets that are due, calls
//! [`Endpoint::handle_timeout`] when [`Endpoint::poll_timeout`] is due, and after every
//! call into an endpoint drains `poll_transmit` and `poll_event` (events are recorded per
//! endpoint). Noise keys and entropy come from the seeded RNG, so the same seed gives the
//! same run: [`Sim::transcript`] hashes every delivered chunk and every event's `Debug`
//! form, to assert exactly that.
//!
//! A session that ends (an error, an orderly close, the peer's end) makes the simulator
//! deliver an end of input to the other side once the bytes in flight have arrived, as a
//! socket would. [`Sim::disconnect`] either closes one side in order (its last bytes still
//! travel) or severs the link (bytes in flight are lost, both sides are closed locally);
//! [`Sim::reconnect`] starts new sessions on both ends.
//!
//! ```
//! use std::time::Duration;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::log::{Log, LogOptions};
//! use ferrocore::replication::{EndpointConfig, Event};
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore_tests::sim::{LinkConfig, Sim};
//!
//! let mut sim = Sim::new(7);
//! let w = sim.add_node(EndpointConfig::default());
//! let r = sim.add_node(EndpointConfig::default());
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[1; 32])), ..LogOptions::default() };
//! let mut log = Log::open(MemoryStorage::new(), options).unwrap();
//! log.append(b"hi").unwrap();
//! let key = *log.key();
//! sim.with(w, |e, _| e.add_core(log));
//! let reader = Log::open(MemoryStorage::new(), LogOptions { key: Some(key), ..LogOptions::default() }).unwrap();
//! let core = sim.with(r, |e, _| e.add_core(reader));
//! sim.connect(w, r, LinkConfig::default());
//! let get = sim.with(r, |e, now| e.get(core, 0, Some(now + Duration::from_secs(5)))).unwrap();
//! sim.run_until(Duration::from_secs(5), |sim| sim.events(r).iter().any(|(_, e)| matches!(e, Event::Get { request, .. } if *request == get)));
//! assert_eq!(sim.endpoint(r).log(core).unwrap().get(0).unwrap().as_deref(), Some(&b"hi"[..]));
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use ferrocore::hash;
use ferrocore::replication::{Endpoint, EndpointConfig, Event, SessionId};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::Entropy;

/// A small, fast, seedable RNG (xoshiro256** seeded through splitmix64). Not for crypto:
/// only to make simulated runs reproducible.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The RNG of `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (0 if `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift; the bias is irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// A uniformly chosen element index of a slice of length `len` (`len > 0`).
    pub fn pick(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut b = [0; 32];
        self.fill(&mut b);
        b
    }

    /// An independent RNG derived from this one.
    pub fn fork(&mut self) -> Rng {
        Rng::new(self.next_u64())
    }
}

/// Names a node (an endpoint) of a [`Sim`].
pub type NodeId = usize;
/// Names a link of a [`Sim`].
pub type LinkId = usize;

/// How a link behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Shortest one-way delay of a chunk.
    pub min_delay: Duration,
    /// Longest one-way delay (jitter never reorders: a link is a byte stream).
    pub max_delay: Duration,
    /// Cut transmitted bytes into random chunks (else each transmit is one chunk).
    pub chunking: bool,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(30),
            chunking: true,
        }
    }
}

/// One endpoint of the simulation with what it reported.
pub struct SimNode {
    /// The endpoint.
    pub endpoint: Endpoint<MemoryStorage>,
    /// Every event it reported, with the simulated time.
    pub events: Vec<(Duration, Event)>,
    noise_seed: [u8; 32],
    /// Live sessions → (link, connection generation, side 0 = initiator / 1 = responder).
    sessions: BTreeMap<SessionId, (LinkId, usize, usize)>,
}

/// One connection over a link (a "socket pair").
#[derive(Debug, Clone)]
struct Conn {
    /// The session of each side (0 = `a`, the initiator; 1 = `b`), while it lives.
    sids: [Option<SessionId>; 2],
    /// The last delivery time scheduled per direction (index = sending side).
    last_at: [Duration; 2],
    /// End of input already scheduled towards side `i`.
    eof_sent: [bool; 2],
}

#[derive(Debug, Clone)]
struct Link {
    nodes: [NodeId; 2],
    config: LinkConfig,
    conns: Vec<Conn>,
    severed: bool,
}

#[derive(Debug)]
struct Packet {
    to: NodeId,
    session: SessionId,
    /// `None`: end of input.
    bytes: Option<Vec<u8>>,
}

/// The simulator (see the [module docs](self)).
pub struct Sim {
    /// The simulation's RNG; tests may draw from it too (it is part of the determinism).
    pub rng: Rng,
    now: Duration,
    nodes: Vec<SimNode>,
    links: Vec<Link>,
    queue: BTreeMap<(Duration, u64), Packet>,
    seq: u64,
    transcript: [u8; 32],
    /// Chunks delivered so far.
    pub delivered_chunks: u64,
    /// Bytes delivered so far.
    pub delivered_bytes: u64,
}

/// A bound on calls at one instant before the simulator declares a livelock (a timer that
/// stays due after `handle_timeout`, or an endless ping-pong at zero delay).
const LIVELOCK_LIMIT: u32 = 200_000;

impl Sim {
    /// An empty simulation driven by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Rng::new(seed),
            now: Duration::ZERO,
            nodes: Vec::new(),
            links: Vec::new(),
            queue: BTreeMap::new(),
            seq: 0,
            transcript: hash::blake2b256(&[b"ferrocore-sim", &seed.to_le_bytes()]),
            delivered_chunks: 0,
            delivered_bytes: 0,
        }
    }

    /// Adds an endpoint (its Noise identity comes from the RNG).
    pub fn add_node(&mut self, config: EndpointConfig) -> NodeId {
        let noise_seed = self.rng.bytes32();
        self.nodes.push(SimNode {
            endpoint: Endpoint::new(config),
            events: Vec::new(),
            noise_seed,
            sessions: BTreeMap::new(),
        });
        self.nodes.len() - 1
    }

    /// The simulated time.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The number of nodes.
    #[must_use]
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A node's endpoint (read-only; mutate through [`with`](Self::with)).
    #[must_use]
    pub fn endpoint(&self, node: NodeId) -> &Endpoint<MemoryStorage> {
        &self.nodes[node].endpoint
    }

    /// Every event a node reported so far, with its time.
    #[must_use]
    pub fn events(&self, node: NodeId) -> &[(Duration, Event)] {
        &self.nodes[node].events
    }

    /// Calls into a node's endpoint (given the current time), then drains it.
    pub fn with<R>(
        &mut self,
        node: NodeId,
        f: impl FnOnce(&mut Endpoint<MemoryStorage>, Duration) -> R,
    ) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[node].endpoint, now);
        self.drain(node);
        r
    }

    /// The hash of everything that happened so far: every delivered chunk (time, receiver,
    /// bytes) and every event (node, time, `Debug` form).
    #[must_use]
    pub fn transcript(&self) -> [u8; 32] {
        self.transcript
    }

    fn record(&mut self, parts: &[&[u8]]) {
        let mut all: Vec<&[u8]> = Vec::with_capacity(parts.len() + 1);
        all.push(&self.transcript);
        all.extend_from_slice(parts);
        let h = hash::blake2b256(&all);
        self.transcript = h;
    }

    // ----- links ---------------------------------------------------------------------------

    /// Links `a` (Noise initiator) and `b` (responder) and connects them at once.
    pub fn connect(&mut self, a: NodeId, b: NodeId, config: LinkConfig) -> LinkId {
        self.links.push(Link {
            nodes: [a, b],
            config,
            conns: Vec::new(),
            severed: false,
        });
        let id = self.links.len() - 1;
        self.reconnect(id);
        id
    }

    /// The two nodes of a link (initiator first).
    #[must_use]
    pub fn link_nodes(&self, link: LinkId) -> [NodeId; 2] {
        self.links[link].nodes
    }

    /// The number of links.
    #[must_use]
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// The current sessions of a link's connection (initiator's, responder's), while alive.
    #[must_use]
    pub fn sessions(&self, link: LinkId) -> [Option<SessionId>; 2] {
        self.links[link].conns.last().map_or([None; 2], |c| c.sids)
    }

    /// True while both sides of the link's current connection live.
    #[must_use]
    pub fn is_up(&self, link: LinkId) -> bool {
        let l = &self.links[link];
        !l.severed
            && l.conns
                .last()
                .is_some_and(|c| c.sids.iter().all(Option::is_some))
    }

    /// True if either side of the link's current connection still lives.
    #[must_use]
    pub fn is_alive(&self, link: LinkId) -> bool {
        let l = &self.links[link];
        l.conns
            .last()
            .is_some_and(|c| c.sids.iter().any(Option::is_some))
    }

    /// Starts a new connection over a link: new sessions on both ends (fresh entropy).
    /// A connection still alive on the link is severed first.
    pub fn reconnect(&mut self, link: LinkId) {
        if self.is_alive(link) {
            self.disconnect(link, false);
        }
        let [a, b] = self.links[link].nodes;
        let generation = self.links[link].conns.len();
        self.links[link].severed = false;
        self.links[link].conns.push(Conn {
            sids: [None; 2],
            last_at: [self.now; 2],
            eof_sent: [false; 2],
        });
        self.record(&[
            b"connect",
            &(link as u64).to_le_bytes(),
            &(generation as u64).to_le_bytes(),
        ]);
        // The responder first, so that the initiator's first bytes (ready at once) find it.
        for (side, node, role) in [(1, b, Role::Responder), (0, a, Role::Initiator)] {
            let mut entropy = Entropy {
                ephemeral_seed: [0; 32],
                header: [0; 24],
            };
            self.rng.fill(&mut entropy.ephemeral_seed);
            self.rng.fill(&mut entropy.header);
            let seed = self.nodes[node].noise_seed;
            let now = self.now;
            let sid = self.nodes[node].endpoint.connect(
                role,
                NoiseKeyPair::from_seed(seed),
                entropy,
                now,
            );
            self.nodes[node]
                .sessions
                .insert(sid, (link, generation, side));
            self.links[link].conns[generation].sids[side] = Some(sid);
            self.drain(node);
        }
    }

    /// Ends a link's current connection. `graceful`: the initiator side closes in order
    /// (its last bytes and then an end of input still reach the other side, which ends
    /// too); else the link is severed: bytes in flight are lost and both sides are closed
    /// locally (as if both sockets were dropped).
    pub fn disconnect(&mut self, link: LinkId, graceful: bool) {
        let Some(conn) = self.links[link].conns.last().cloned() else {
            return;
        };
        let nodes = self.links[link].nodes;
        self.record(&[
            b"disconnect",
            &(link as u64).to_le_bytes(),
            &[u8::from(graceful)],
        ]);
        if graceful {
            // Close whichever side still lives (the initiator first).
            if let Some((node, sid)) = nodes
                .iter()
                .zip(conn.sids)
                .find_map(|(&n, s)| s.map(|s| (n, s)))
            {
                self.with(node, |e, _| e.close(sid));
            }
            return;
        }
        self.links[link].severed = true;
        for (&node, sid) in nodes.iter().zip(conn.sids) {
            if let Some(sid) = sid {
                // Forget the session first so its last bytes go nowhere.
                self.nodes[node].sessions.remove(&sid);
                self.with(node, |e, _| e.close(sid));
            }
        }
        let g = self.links[link].conns.len() - 1;
        self.links[link].conns[g].sids = [None; 2];
        // Drop what was in flight on it.
        let dead: Vec<(Duration, u64)> = self
            .queue
            .iter()
            .filter(|(_, p)| {
                conn.sids
                    .iter()
                    .enumerate()
                    .any(|(side, s)| *s == Some(p.session) && p.to == nodes[side])
            })
            .map(|(k, _)| *k)
            .collect();
        for k in dead {
            self.queue.remove(&k);
        }
    }

    // ----- draining and routing -------------------------------------------------------------

    /// Drains a node's transmits and events after a call into it.
    fn drain(&mut self, node: NodeId) {
        let mut closed = Vec::new();
        loop {
            let mut progress = false;
            while let Some((sid, bytes)) = self.nodes[node].endpoint.poll_transmit() {
                progress = true;
                self.route(node, sid, &bytes);
                // The simulated socket takes everything at once.
                self.nodes[node].endpoint.handle_sent(sid, bytes.len());
            }
            while let Some(event) = self.nodes[node].endpoint.poll_event() {
                progress = true;
                let text = format!("{event:?}");
                let t = self.now;
                self.record(&[
                    b"event",
                    &(node as u64).to_le_bytes(),
                    &t.as_nanos().to_le_bytes(),
                    text.as_bytes(),
                ]);
                if let Event::Closed { session, .. } = &event {
                    closed.push(*session);
                }
                self.nodes[node].events.push((t, event));
            }
            if !progress {
                break;
            }
        }
        for sid in closed {
            self.on_closed(node, sid);
        }
    }

    /// Schedules a node's bytes for a session on the link's other side.
    fn route(&mut self, node: NodeId, sid: SessionId, bytes: &[u8]) {
        let Some(&(link, generation, side)) = self.nodes[node].sessions.get(&sid) else {
            return; // a severed connection: the bytes go nowhere
        };
        let other = 1 - side;
        let l = &self.links[link];
        let Some(to_sid) = l.conns[generation].sids[other] else {
            return; // the other side is gone
        };
        if l.conns[generation].eof_sent[other] {
            return;
        }
        let to = l.nodes[other];
        let config = l.config;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = if !config.chunking || self.rng.chance(1, 2) {
                rest.len()
            } else {
                self.rng.range(1, rest.len() as u64) as usize
            };
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            let at = self.delivery_time(link, generation, side);
            self.push(at, to, to_sid, Some(chunk.to_vec()));
        }
    }

    fn delivery_time(&mut self, link: LinkId, generation: usize, side: usize) -> Duration {
        let config = self.links[link].config;
        let span = config
            .max_delay
            .saturating_sub(config.min_delay)
            .as_micros() as u64;
        let delay = config.min_delay + Duration::from_micros(self.rng.range(0, span));
        let c = &mut self.links[link].conns[generation];
        let at = (self.now + delay).max(c.last_at[side]);
        c.last_at[side] = at;
        at
    }

    fn push(&mut self, at: Duration, to: NodeId, session: SessionId, bytes: Option<Vec<u8>>) {
        self.seq += 1;
        self.queue
            .insert((at, self.seq), Packet { to, session, bytes });
    }

    /// A node's session ended: the other side gets an end of input after the bytes in
    /// flight.
    fn on_closed(&mut self, node: NodeId, sid: SessionId) {
        let Some((link, generation, side)) = self.nodes[node].sessions.remove(&sid) else {
            return;
        };
        let other = 1 - side;
        self.links[link].conns[generation].sids[side] = None;
        let c = &self.links[link].conns[generation];
        if let (Some(to_sid), false) = (c.sids[other], c.eof_sent[other]) {
            let to = self.links[link].nodes[other];
            self.links[link].conns[generation].eof_sent[other] = true;
            let at = self.delivery_time(link, generation, side);
            self.push(at, to, to_sid, None);
        }
    }

    // ----- time ----------------------------------------------------------------------------

    /// The earliest pending packet or timer.
    #[must_use]
    pub fn next_due(&self) -> Option<Duration> {
        let packet = self.queue.keys().next().map(|(t, _)| *t);
        let timers = self.nodes.iter().filter_map(|n| n.endpoint.poll_timeout());
        packet.into_iter().chain(timers).min()
    }

    /// The earliest pending packet.
    #[must_use]
    pub fn next_packet(&self) -> Option<Duration> {
        self.queue.keys().next().map(|(t, _)| *t)
    }

    /// Packets in flight.
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Delivers every packet and fires every timer due at the current time (repeating
    /// while the calls make more things due now).
    pub fn step(&mut self) {
        let mut rounds = 0u32;
        loop {
            rounds += 1;
            assert!(
                rounds < LIVELOCK_LIMIT,
                "livelock at {:?}: still due after {rounds} rounds",
                self.now
            );
            let mut progress = false;
            while let Some(entry) = self.queue.first_entry() {
                if entry.key().0 > self.now {
                    break;
                }
                let p = entry.remove();
                progress = true;
                self.deliver(p);
            }
            for node in 0..self.nodes.len() {
                if self.nodes[node]
                    .endpoint
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now)
                {
                    progress = true;
                    let now = self.now;
                    self.nodes[node].endpoint.handle_timeout(now);
                    self.drain(node);
                }
            }
            if !progress {
                break;
            }
            let packets_due = self
                .queue
                .keys()
                .next()
                .is_some_and(|(t, _)| *t <= self.now);
            if rounds > 1000 && !packets_due {
                // Only timers remain due: a timer that stays due after handle_timeout is a
                // livelock. Find it and say so.
                for (i, n) in self.nodes.iter().enumerate() {
                    if let Some(t) = n.endpoint.poll_timeout().filter(|t| *t <= self.now) {
                        panic!("node {i}: poll_timeout stays due ({t:?} <= now {:?}) after handle_timeout", self.now);
                    }
                }
            }
        }
    }

    fn deliver(&mut self, p: Packet) {
        let now = self.now;
        if !self.nodes[p.to].sessions.contains_key(&p.session) {
            return;
        }
        match &p.bytes {
            Some(bytes) => {
                self.delivered_chunks += 1;
                self.delivered_bytes += bytes.len() as u64;
                self.record(&[
                    b"chunk",
                    &(p.to as u64).to_le_bytes(),
                    &p.session.get().to_le_bytes(),
                    &now.as_nanos().to_le_bytes(),
                    bytes,
                ]);
                self.nodes[p.to]
                    .endpoint
                    .handle_input(p.session, now, bytes);
            }
            None => {
                self.record(&[
                    b"eof",
                    &(p.to as u64).to_le_bytes(),
                    &p.session.get().to_le_bytes(),
                ]);
                self.nodes[p.to].endpoint.handle_end(p.session);
            }
        }
        self.drain(p.to);
    }

    /// Runs everything due up to `deadline` (packets and timers, in time order), then sets
    /// the clock to `deadline`.
    pub fn advance_to(&mut self, deadline: Duration) {
        self.step();
        while let Some(t) = self.next_due().filter(|t| *t <= deadline) {
            self.now = self.now.max(t);
            self.step();
        }
        self.now = self.now.max(deadline);
        self.step();
    }

    /// Runs for `d` of simulated time.
    pub fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    /// Delivers packets (and the timers due before them) until none is in flight, for at
    /// most `limit` of simulated time. True if the network went quiet.
    pub fn settle(&mut self, limit: Duration) -> bool {
        let end = self.now + limit;
        self.step();
        while let Some(t) = self.next_packet() {
            if t > end {
                self.advance_to(end);
                return self.queue.is_empty();
            }
            self.advance_to(t);
        }
        true
    }

    /// Runs (packets and timers) until `done` holds, checking after every due instant,
    /// for at most `limit` of simulated time. True if `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        self.step();
        loop {
            if done(self) {
                return true;
            }
            match self.next_due() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.step();
                }
                _ => {
                    self.now = end;
                    self.step();
                    return done(self);
                }
            }
        }
    }
}
