//! A hostile endpoint for the simulator: [`Flooder`] sends random UDX packets (and some
//! that are not UDX) at a victim's streams; [`Node`] puts it beside [`UdxPeer`]s in one
//! simulation.

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::{packet, StreamId};

use super::udx::{AsPeer, UdxPeer};
use super::{Machine, Metered};
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
