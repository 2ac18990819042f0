//! Two UDX sockets wired by an in-memory link with a fixed one-way delay, a simulated
//! clock, and a hook that may drop any datagram.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::packet::{self, Header};
use ferrocore_udx::{Config, Event, Socket, StreamId};

/// Which side a datagram came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Decides whether to drop a datagram: `(from, its header, how many datagrams that side
/// sent before)`.
pub type DropFn = Box<dyn FnMut(Side, &Header, u64) -> bool>;

pub struct Pair {
    pub now: Duration,
    pub a: Socket,
    pub b: Socket,
    pub addr_a: SocketAddr,
    pub addr_b: SocketAddr,
    pub delay: Duration,
    /// In flight: (arrival time, order) -> (to, datagram).
    queue: BTreeMap<(Duration, u64), (Side, Vec<u8>)>,
    order: u64,
    pub sent: [u64; 2],
    pub dropped: u64,
    pub drop: DropFn,
    pub events_a: Vec<Event>,
    pub events_b: Vec<Event>,
    /// Largest GSO batch seen, in segments.
    pub max_batch: usize,
    /// Extra random delay per datagram, up to this (reorders them).
    pub jitter: Duration,
    /// State of the seeded generator behind `jitter`.
    pub rng: u64,
    buf: Vec<u8>,
}

/// A seeded xorshift64 step.
pub fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

pub const ID_A: StreamId = 0x1111_1111;
pub const ID_B: StreamId = 0x2222_2222;

impl Pair {
    /// Sockets with one connected stream each (`ID_A` on A, `ID_B` on B).
    pub fn new(config: Config, delay: Duration) -> Self {
        let addr_a: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        let addr_b: SocketAddr = "127.0.0.1:4002".parse().unwrap();
        let mut a = Socket::new(config.clone());
        let mut b = Socket::new(config);
        a.create_stream(ID_A).unwrap();
        b.create_stream(ID_B).unwrap();
        a.connect(Duration::ZERO, ID_A, ID_B, addr_b).unwrap();
        b.connect(Duration::ZERO, ID_B, ID_A, addr_a).unwrap();
        Pair {
            now: Duration::ZERO,
            a,
            b,
            addr_a,
            addr_b,
            delay,
            queue: BTreeMap::new(),
            order: 0,
            sent: [0; 2],
            dropped: 0,
            drop: Box::new(|_, _, _| false),
            events_a: Vec::new(),
            events_b: Vec::new(),
            max_batch: 0,
            jitter: Duration::ZERO,
            rng: 0x9e37_79b9_7f4a_7c15,
            buf: Vec::new(),
        }
    }

    pub fn socket(&mut self, side: Side) -> &mut Socket {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    /// Moves every due datagram of both sockets onto the link and collects events.
    pub fn pump(&mut self) {
        for side in [Side::A, Side::B] {
            loop {
                self.buf.clear();
                let now = self.now;
                let mut buf = std::mem::take(&mut self.buf);
                let t = self.socket(side).poll_transmit(now, &mut buf, 16);
                let Some(t) = t else {
                    self.buf = buf;
                    break;
                };
                assert_eq!(t.len, buf.len());
                assert!(t.segment_size > 0);
                let segs: Vec<Vec<u8>> = buf.chunks(t.segment_size).map(<[u8]>::to_vec).collect();
                self.max_batch = self.max_batch.max(segs.len());
                self.buf = buf;
                for d in segs {
                    let h = Header::read(&d).expect("we only send UDX");
                    let i = side as usize;
                    let n = self.sent[i];
                    self.sent[i] += 1;
                    if (self.drop)(side, &h, n) {
                        self.dropped += 1;
                        continue;
                    }
                    let to = if side == Side::A { Side::B } else { Side::A };
                    self.order += 1;
                    let jitter = if self.jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        let r = xorshift(&mut self.rng);
                        Duration::from_nanos(r % self.jitter.as_nanos() as u64)
                    };
                    self.queue
                        .insert((self.now + self.delay + jitter, self.order), (to, d));
                }
            }
            while let Some(e) = self.socket(side).poll_event() {
                match side {
                    Side::A => self.events_a.push(e),
                    Side::B => self.events_b.push(e),
                }
            }
        }
    }

    /// Advances the clock to the next arrival or deadline and processes it; false when
    /// nothing is pending at all.
    pub fn step(&mut self) -> bool {
        self.pump();
        let next_arrival = self.queue.keys().next().map(|k| k.0);
        let next = [next_arrival, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        while let Some((to, d)) = pop_due(&mut self.queue, self.now) {
            let (from, sock) = match to {
                Side::A => (self.addr_b, &mut self.a),
                Side::B => (self.addr_a, &mut self.b),
            };
            let routed = sock.handle_datagram(self.now, from, &d);
            let _ = routed;
        }
        let now = self.now;
        self.a.handle_timeout(now);
        self.b.handle_timeout(now);
        self.pump();
        true
    }

    /// Injects a raw datagram into a side, as if from its peer.
    pub fn inject(&mut self, to: Side, d: &[u8]) -> ferrocore_udx::Routed {
        let now = self.now;
        let from = match to {
            Side::A => self.addr_b,
            Side::B => self.addr_a,
        };
        let r = self.socket(to).handle_datagram(now, from, d);
        self.pump();
        r
    }

    pub fn take_events(&mut self, side: Side) -> Vec<Event> {
        match side {
            Side::A => std::mem::take(&mut self.events_a),
            Side::B => std::mem::take(&mut self.events_b),
        }
    }
}

/// The first datagram of `queue` due by `now`.
fn pop_due<T>(queue: &mut BTreeMap<(Duration, u64), T>, now: Duration) -> Option<T> {
    let (&k, _) = queue.iter().next()?;
    if k.0 > now {
        return None;
    }
    queue.remove(&k)
}

/// The test pattern byte at stream offset `i`.
pub fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(31) ^ (i >> 13)) as u8
}

/// Writes `total` pattern bytes A→B while B reads; ends A's side after the last byte.
/// Returns what B read and the simulated time it took. Panics after `limit` steps.
pub fn transfer(p: &mut Pair, total: u64, end: bool, limit: usize) -> (Vec<u8>, Duration) {
    let mut written = 0u64;
    let mut got = Vec::with_capacity(total as usize);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut readbuf = vec![0u8; 100 * 1024];
    let mut ended = false;
    let start = p.now;
    for _ in 0..limit {
        while written < total {
            let n = (total - written).min(chunk.len() as u64) as usize;
            for (j, c) in chunk[..n].iter_mut().enumerate() {
                *c = pattern(written + j as u64);
            }
            let now = p.now;
            let took = p.a.write(now, ID_A, &chunk[..n]).unwrap();
            written += took as u64;
            if took < n {
                break;
            }
        }
        if written == total && end && !ended {
            let now = p.now;
            p.a.end(now, ID_A).unwrap();
            ended = true;
        }
        loop {
            let n = p.b.read(ID_B, &mut readbuf).unwrap_or(0);
            if n == 0 {
                break;
            }
            got.extend_from_slice(&readbuf[..n]);
        }
        if got.len() as u64 == total && (!end || p.b.is_remote_ended(ID_B)) {
            return (got, p.now - start);
        }
        if !p.step() {
            panic!("stalled: wrote {written}, read {} of {total}", got.len());
        }
    }
    panic!(
        "no progress within {limit} steps: read {} of {total}",
        got.len()
    );
}

/// Checks `got` against the pattern, byte for byte.
pub fn check_pattern(got: &[u8]) {
    for (i, b) in got.iter().enumerate() {
        assert_eq!(*b, pattern(i as u64), "byte {i} differs");
    }
}

/// A header of a packet `side` sends, for drop decisions.
pub fn is_data(h: &Header) -> bool {
    h.flags & packet::flags::DATA != 0
}

/// Any number of sockets on an in-memory network with a fixed delay; a socket may own
/// several addresses (it receives what is sent to any of them) and sends from one.
pub struct Mesh {
    pub now: Duration,
    pub sockets: Vec<Socket>,
    /// Addresses each socket receives on.
    pub addrs: Vec<Vec<SocketAddr>>,
    /// The address each socket sends from.
    pub from: Vec<SocketAddr>,
    pub delay: Duration,
    queue: BTreeMap<(Duration, u64), (SocketAddr, SocketAddr, Vec<u8>)>,
    order: u64,
    pub events: Vec<Vec<Event>>,
    /// Datagrams delivered to each address.
    pub delivered: BTreeMap<SocketAddr, u64>,
    /// Datagrams longer than this (IP + UDP headers included) are dropped.
    pub path_mtu: usize,
}

impl Mesh {
    pub fn new(n: usize, config: &Config, delay: Duration) -> Self {
        let addr = |i: usize| -> SocketAddr { format!("10.0.0.{}:7000", i + 1).parse().unwrap() };
        Mesh {
            now: Duration::ZERO,
            sockets: (0..n).map(|_| Socket::new(config.clone())).collect(),
            addrs: (0..n).map(|i| vec![addr(i)]).collect(),
            from: (0..n).map(addr).collect(),
            delay,
            queue: BTreeMap::new(),
            order: 0,
            events: vec![Vec::new(); n],
            delivered: BTreeMap::new(),
            path_mtu: usize::MAX,
        }
    }

    fn pump(&mut self) {
        let mut buf = Vec::new();
        for i in 0..self.sockets.len() {
            loop {
                buf.clear();
                let Some(t) = self.sockets[i].poll_transmit(self.now, &mut buf, 8) else {
                    break;
                };
                for seg in buf.chunks(t.segment_size) {
                    if seg.len() + 28 > self.path_mtu {
                        continue;
                    }
                    self.order += 1;
                    self.queue.insert(
                        (self.now + self.delay, self.order),
                        (self.from[i], t.dst, seg.to_vec()),
                    );
                }
            }
            while let Some(e) = self.sockets[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// One step of the clock; false when nothing is pending.
    pub fn step(&mut self) -> bool {
        self.pump();
        let next = self
            .queue
            .keys()
            .next()
            .map(|k| k.0)
            .into_iter()
            .chain(self.sockets.iter().filter_map(Socket::poll_timeout))
            .min();
        let Some(next) = next else { return false };
        self.now = self.now.max(next);
        while let Some((from, to, d)) = pop_due(&mut self.queue, self.now) {
            if let Some(i) = self.addrs.iter().position(|a| a.contains(&to)) {
                *self.delivered.entry(to).or_default() += 1;
                let now = self.now;
                self.sockets[i].handle_datagram(now, from, &d);
            }
        }
        let now = self.now;
        for s in &mut self.sockets {
            s.handle_timeout(now);
        }
        self.pump();
        true
    }

    /// Steps until `done` or `limit` steps; true if `done`.
    pub fn run_until(&mut self, limit: usize, mut done: impl FnMut(&mut Mesh) -> bool) -> bool {
        for _ in 0..limit {
            if done(self) {
                return true;
            }
            if !self.step() {
                return done(self);
            }
        }
        false
    }
}
