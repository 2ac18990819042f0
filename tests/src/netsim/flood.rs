//! A hostile endpoint for the simulator: [`Flooder`] sends random UDX packets (and some
//! that are not UDX) at a victim's streams; [`Node`] puts it beside [`UdxPeer`]s in one
//! simulation; [`flood`] runs a victim with an honest stream and a stream to a flooder,
//! and [`flood_bound`] says what the victim may hold at most.

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::{packet, Config, StreamId};

use super::scenario::{open_pair, problems};
use super::udx::{AsPeer, Outgoing, UdxPeer};
use super::{addr_of, LinkConfig, Loss, Machine, Metered, Sim};
use crate::sim::Rng;

/// A hostile endpoint: every `interval` it sends `burst` random UDX packets (random flags,
/// sequence numbers, acks, SACK blocks, windows and payloads) to the streams `ids` at
/// `target`, and sometimes bytes that are not UDX at all. What it receives it ignores.
pub struct Flooder {
    /// Where it sends.
    pub target: SocketAddr,
    /// The stream ids it addresses (the victim's local ids).
    pub ids: Vec<StreamId>,
    /// Time between bursts.
    pub interval: Duration,
    /// Packets per burst.
    pub burst: usize,
    /// It stops at this time.
    pub until: Duration,
    /// One packet in this many carries DESTROY (0: none, so the streams it hits live on).
    pub destroy_odds: u64,
    /// Packets sent so far.
    pub sent: u64,
    /// Datagrams it received (and ignored).
    pub received: u64,
    rng: Rng,
    next: Duration,
    left: usize,
}

impl Flooder {
    /// A flooder drawing its packets from `seed`, starting at `start`.
    #[must_use]
    pub fn new(seed: u64, target: SocketAddr, ids: Vec<StreamId>, start: Duration) -> Self {
        Self {
            target,
            ids,
            interval: Duration::from_millis(1),
            burst: 8,
            until: Duration::MAX,
            destroy_odds: 200,
            sent: 0,
            received: 0,
            rng: Rng::new(seed),
            next: start,
            left: 0,
        }
    }

    fn packet(&mut self, out: &mut Vec<u8>) {
        let rng = &mut self.rng;
        if rng.chance(1, 20) {
            // Not UDX: random bytes of any length (a probe, an RPC, garbage).
            let mut bytes = vec![0; rng.range(0, 1400) as usize];
            rng.fill(&mut bytes);
            out.extend_from_slice(&bytes);
            return;
        }
        let id = if self.ids.is_empty() || rng.chance(1, 10) {
            rng.next_u64() as u32
        } else {
            self.ids[rng.pick(self.ids.len())]
        };
        let flags = [
            packet::flags::DATA,
            packet::flags::SACK,
            packet::flags::MESSAGE,
            packet::flags::END,
            packet::flags::DESTROY,
            packet::flags::HEARTBEAT,
        ];
        let mut f = 0;
        for flag in flags {
            // DESTROY rarely (or never), else the flood ends at once.
            let odds = if flag == packet::flags::DESTROY {
                self.destroy_odds
            } else {
                3
            };
            if odds > 0 && rng.chance(1, odds) {
                f |= flag;
            }
        }
        let sacks = if f & packet::flags::SACK != 0 {
            rng.range(0, 60) as usize
        } else {
            0
        };
        // Sequence numbers near the start (inside a fresh window) or anywhere.
        let near = |rng: &mut Rng| {
            if rng.chance(1, 2) {
                rng.below(4096) as u32
            } else {
                rng.next_u64() as u32
            }
        };
        let header = packet::Header {
            flags: f,
            data_offset: if rng.chance(1, 20) {
                rng.next_u64() as u8
            } else {
                0
            },
            stream_id: id,
            rwnd: rng.next_u64() as u32,
            seq: near(rng),
            ack: near(rng),
        };
        header.write(out);
        for _ in 0..sacks {
            let start = near(rng);
            let end = start.wrapping_add(rng.below(64) as u32);
            out.extend_from_slice(&start.to_le_bytes());
            out.extend_from_slice(&end.to_le_bytes());
        }
        let mut payload = vec![0; rng.range(0, 1200) as usize];
        rng.fill(&mut payload);
        out.extend_from_slice(&payload);
    }
}

impl Machine for Flooder {
    fn handle_datagram(&mut self, _now: Duration, _from: SocketAddr, _bytes: &[u8]) {
        self.received += 1;
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        if self.left == 0 {
            if now < self.next || now >= self.until {
                return None;
            }
            self.left = self.burst;
            self.next = now + self.interval;
        }
        self.left -= 1;
        self.sent += 1;
        self.packet(buf);
        Some((self.target, buf.len()))
    }
    fn poll_timeout(&self) -> Option<Duration> {
        (self.next < self.until).then_some(self.next)
    }
    fn handle_timeout(&mut self, _now: Duration) {}
}

/// A [`UdxPeer`] or a [`Flooder`], to put both in one simulation.
pub enum Node {
    /// An honest peer.
    Peer(Box<Metered<UdxPeer>>),
    /// A hostile one.
    Flood(Flooder),
}

impl Node {
    /// The peer.
    ///
    /// # Panics
    /// If this is a flooder.
    #[must_use]
    pub fn peer(&self) -> &UdxPeer {
        match self {
            Node::Peer(p) => p.inner(),
            Node::Flood(_) => panic!("a flooder, not a peer"),
        }
    }

    /// The peer with its heap measured.
    ///
    /// # Panics
    /// If this is a flooder.
    pub fn metered(&mut self) -> &mut Metered<UdxPeer> {
        match self {
            Node::Peer(p) => p,
            Node::Flood(_) => panic!("a flooder, not a peer"),
        }
    }

    fn machine(&mut self) -> &mut dyn Machine {
        match self {
            Node::Peer(p) => p.as_mut(),
            Node::Flood(f) => f,
        }
    }
}

impl Machine for Node {
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        self.machine().handle_datagram(now, from, bytes);
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        self.machine().poll_transmit(now, buf)
    }
    fn poll_timeout(&self) -> Option<Duration> {
        match self {
            Node::Peer(p) => p.poll_timeout(),
            Node::Flood(f) => f.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.machine().handle_timeout(now);
    }
}

impl AsPeer for Node {
    fn peer(&self) -> &UdxPeer {
        Node::peer(self)
    }
    fn call<R>(&mut self, f: impl FnOnce(&mut UdxPeer) -> R) -> R {
        Metered::call(self.metered(), f)
    }
}

/// Bytes a UDX receiver accepts beyond its window (`ferrocore-udx`'s `recv.rs`: a libudx
/// sender keeps one packet in flight whenever the window is open).
pub const RECV_SLACK: usize = 4096;

/// What the victim of [`flood`] writes on its honest stream.
pub const HONEST_TOTAL: u64 = 2_000_000;
/// What the victim of [`flood`] writes on its stream to the flooder.
pub const TO_FLOODER_TOTAL: u64 = 1_000_000;

/// What [`flood`] observed.
pub struct Flooded {
    /// Hostile datagrams sent.
    pub sent: u64,
    /// The victim's peak heap.
    pub peak: i64,
    /// The most bytes either stream of the victim held for its reader, at the end of any
    /// instant.
    pub most_received_held: usize,
    /// The sum over the victim's streams of the most bytes each held for its reader, at
    /// any instant, and the same of the bytes written and not acknowledged.
    pub most_buffered: (usize, usize),
    /// A summary to print.
    pub summary: String,
    /// What went wrong on the honest stream.
    pub honest: Vec<String>,
}

/// A victim socket with two streams: stream 1 exchanges [`HONEST_TOTAL`] bytes each way
/// with an honest peer; stream 2 writes [`TO_FLOODER_TOTAL`] bytes to a hostile peer, which
/// floods the victim for 5 s with random UDX packets (and non-UDX datagrams) at the stream
/// ids `targets` and at random ids. The victim's heap is measured (with
/// [`crate::heap::Counting`] as the global allocator; else it reads 0).
pub fn flood(seed: u64, targets: Vec<u32>, cfg: &Config) -> Flooded {
    let mut sim: Sim<Node> = Sim::new(seed);
    let victim = sim.add_node(Node::Peer(Box::new(Metered::new(UdxPeer::new(
        cfg.clone(),
    )))));
    let honest = sim.add_node(Node::Peer(Box::new(Metered::new(UdxPeer::new(
        cfg.clone(),
    )))));
    let mut flooder = Flooder::new(seed, addr_of(victim), targets, Duration::from_millis(200));
    flooder.until = Duration::from_secs(5);
    flooder.destroy_odds = 0;
    let flooder = sim.add_node(Node::Flood(flooder));
    let fast = LinkConfig {
        rate: Some(20_000_000),
        queue: 256 * 1024,
        ..LinkConfig::default()
    };
    sim.connect(
        victim,
        honest,
        LinkConfig {
            loss: Loss::Random(0.01),
            ..fast
        },
    );
    sim.connect(flooder, victim, fast);
    open_pair(
        &mut sim,
        (victim, 1),
        (honest, 11),
        (HONEST_TOTAL, HONEST_TOTAL),
        true,
    );
    sim.with(victim, |n, now| {
        let out = Outgoing {
            key: 7,
            total: TO_FLOODER_TOTAL,
            ..Outgoing::default()
        };
        n.call(|p| p.open(now, 2, 99, addr_of(flooder), out, 0))
    })
    .expect("open the stream to the flooder");
    sim.with(victim, |n, _| n.call(|p| p.keep_messages = false));
    // The most each stream held to read and to send, at any instant of the run.
    let mut most = [(0, 0); 2];
    sim.run_until(Duration::from_secs(8), |sim| {
        let socket = &sim.node(victim).peer().socket;
        for (id, (received, sent)) in [1, 2].into_iter().zip(&mut most) {
            if let Some(s) = socket.stats(id) {
                *received = s.recv_buffered.max(*received);
                *sent = s.send_buffered.max(*sent);
            }
        }
        false
    });
    let most_received_held = most[0].0.max(most[1].0);
    let most_buffered = (most[0].0 + most[1].0, most[0].1 + most[1].1);
    let Node::Flood(f) = sim.node(flooder) else {
        unreachable!()
    };
    let sent = f.sent;
    let Node::Peer(v) = sim.node(victim) else {
        unreachable!()
    };
    let s = v.inner().stream(1);
    let summary = format!(
        "victim heap peak {} bytes, {} now; buffers at most {most:?} (to read, to send); \
         routed {:?}; honest stream closed {:?}",
        v.peak(),
        v.held(),
        v.inner().routed,
        s.closed
    );
    Flooded {
        sent,
        peak: v.peak(),
        most_received_held,
        most_buffered,
        summary,
        honest: problems(s, HONEST_TOTAL),
    }
}

/// What the victim of [`flood`] may hold at most, from its configuration and what it
/// writes, whatever the flooder sends:
/// - for its reader a stream keeps out-of-order packets (each allocated to its size) only
///   while everything it holds fits the receive window (and the slack), and the packet the
///   reader waits for whenever the unread bytes fit it (`ferrocore-udx` never drops a
///   packet it acknowledged): at most one window of packets, and a ring of unread bytes
///   that holds at most two windows and so allocates less than four (rings grow by
///   doubling and never shrink);
/// - to send, a stream keeps a ring of what its application wrote and the peer has not
///   acknowledged: `send_buffer` bounds what is not sent yet, but what is in flight is
///   bounded only by the window the peer advertises, and a hostile peer advertises what
///   it likes, so the bound is what the victim writes, and the ring allocates less than
///   twice that;
/// - 1 MiB for the rest: a record of about 100 bytes per packet sent and not acknowledged
///   (a few hundred kB for 3 MB of packets of 1,150 bytes or more), stream state, and the
///   application's own bookkeeping.
pub fn flood_bound(cfg: &Config) -> i64 {
    let window = cfg.recv_window as usize + RECV_SLACK;
    let received = 2 * (window + 4 * window);
    let sent = 2 * (HONEST_TOTAL + TO_FLOODER_TOTAL) as usize;
    (received + sent + 1024 * 1024) as i64
}
