//! A simulated network for goodput tests: UDX sockets on two sides of a bottleneck of
//! fixed bandwidth, one-way delay, drop-tail buffer and seeded random loss, on a
//! simulated clock. Every datagram from the left side goes through one pipe, every
//! datagram from the right through another; bytes on the link count the IP and UDP
//! headers (28 bytes) as well.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::{Config, Socket, StreamId};

/// IPv4 + UDP header bytes per datagram on the wire.
const IP_UDP: u64 = 28;

/// One direction of the bottleneck.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Bytes per second.
    pub rate: u64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Most bytes queued before the link drops arrivals.
    pub buffer: u64,
    /// Random loss in parts per million.
    pub loss_ppm: u64,
    /// When the link has sent everything queued.
    free_at: Duration,
    pub dropped_random: u64,
    pub dropped_full: u64,
    pub carried: u64,
}

impl Pipe {
    pub fn new(rate: u64, delay: Duration, buffer: u64, loss_ppm: u64) -> Self {
        Pipe {
            rate,
            delay,
            buffer,
            loss_ppm,
            free_at: Duration::ZERO,
            dropped_random: 0,
            dropped_full: 0,
            carried: 0,
        }
    }

    fn serialise(&self, bytes: u64) -> Duration {
        Duration::from_nanos(bytes * 1_000_000_000 / self.rate)
    }

    /// When a datagram of `len` bytes handed over at `now` arrives, or `None` if lost.
    fn carry(&mut self, now: Duration, len: usize, rng: &mut Rng) -> Option<Duration> {
        if rng.below(1_000_000) < self.loss_ppm {
            self.dropped_random += 1;
            return None;
        }
        let bytes = len as u64 + IP_UDP;
        let backlog = self.free_at.saturating_sub(now);
        let queued = backlog.as_nanos() as u64 * self.rate / 1_000_000_000;
        if queued + bytes > self.buffer {
            self.dropped_full += 1;
            return None;
        }
        self.free_at = self.free_at.max(now) + self.serialise(bytes);
        self.carried += bytes;
        Some(self.free_at + self.delay)
    }
}

/// xorshift64*, seeded.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A socket on one side of the bottleneck.
pub struct Node {
    pub addr: SocketAddr,
    pub sock: Socket,
    pub left: bool,
}

/// A bulk transfer from one node's stream to another's.
pub struct Flow {
    pub from: usize,
    pub to: usize,
    pub send_id: StreamId,
    pub recv_id: StreamId,
    /// Bytes the receiver read.
    pub read: u64,
    /// When the sender starts writing.
    pub start: Duration,
}

pub struct Net {
    pub now: Duration,
    pub nodes: Vec<Node>,
    /// Left to right, right to left.
    pub pipes: [Pipe; 2],
    pub flows: Vec<Flow>,
    /// In flight: (arrival, order) -> (to node, from address, datagram).
    queue: BTreeMap<(Duration, u64), (usize, SocketAddr, Vec<u8>)>,
    order: u64,
    rng: Rng,
    buf: Vec<u8>,
    chunk: Vec<u8>,
}

impl Net {
    /// A network whose two directions are `forward` (left to right) and `back`.
    pub fn new(forward: Pipe, back: Pipe, seed: u64) -> Self {
        Net {
            now: Duration::ZERO,
            nodes: Vec::new(),
            pipes: [forward, back],
            flows: Vec::new(),
            queue: BTreeMap::new(),
            order: 0,
            rng: Rng(seed | 1),
            buf: vec![0; 256 * 1024],
            chunk: vec![0x5a; 64 * 1024],
        }
    }

    /// A bulk transfer from a new left node to a new right node, starting at `start`.
    pub fn add_flow(&mut self, config: &Config, start: Duration) -> usize {
        let n = self.nodes.len() as u16;
        let a: SocketAddr = format!("10.0.0.1:{}", 5000 + n).parse().unwrap();
        let b: SocketAddr = format!("10.0.0.2:{}", 5001 + n).parse().unwrap();
        let (ida, idb) = (1000 + u32::from(n), 2000 + u32::from(n));
        let mut sa = Socket::new(config.clone());
        let mut sb = Socket::new(config.clone());
        sa.create_stream(ida).unwrap();
        sb.create_stream(idb).unwrap();
        sa.connect(self.now, ida, idb, b).unwrap();
        sb.connect(self.now, idb, ida, a).unwrap();
        self.nodes.push(Node {
            addr: a,
            sock: sa,
            left: true,
        });
        self.nodes.push(Node {
            addr: b,
            sock: sb,
            left: false,
        });
        self.flows.push(Flow {
            from: self.nodes.len() - 2,
            to: self.nodes.len() - 1,
            send_id: ida,
            recv_id: idb,
            read: 0,
            start,
        });
        self.flows.len() - 1
    }

    /// Senders fill their buffers; receivers read everything.
    fn apps(&mut self) {
        let now = self.now;
        for f in &mut self.flows {
            if now >= f.start {
                let s = &mut self.nodes[f.from].sock;
                while s.write(now, f.send_id, &self.chunk).unwrap() == self.chunk.len() {}
            }
            let r = &mut self.nodes[f.to].sock;
            loop {
                let n = r.read(f.recv_id, &mut self.buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                f.read += n as u64;
            }
        }
    }

    /// Moves every due datagram onto the links; drops the events (the apps poll).
    fn pump(&mut self) {
        let mut out = Vec::new();
        for i in 0..self.nodes.len() {
            loop {
                out.clear();
                let now = self.now;
                let Some(t) = self.nodes[i].sock.poll_transmit(now, &mut out, 16) else {
                    break;
                };
                let to = self.nodes.iter().position(|n| n.addr == t.dst).unwrap();
                let pipe = &mut self.pipes[usize::from(!self.nodes[i].left)];
                for d in out.chunks(t.segment_size) {
                    if let Some(at) = pipe.carry(now, d.len(), &mut self.rng) {
                        self.order += 1;
                        let from = self.nodes[i].addr;
                        self.queue.insert((at, self.order), (to, from, d.to_vec()));
                    }
                }
            }
            while self.nodes[i].sock.poll_event().is_some() {}
        }
    }

    /// Runs the network until `until` (simulated).
    pub fn run(&mut self, until: Duration) {
        while self.now < until {
            self.apps();
            self.pump();
            let arrival = self.queue.keys().next().map(|k| k.0);
            let timers = self.nodes.iter().filter_map(|n| n.sock.poll_timeout());
            let starts = self.flows.iter().map(|f| f.start).filter(|s| *s > self.now);
            let next = arrival.into_iter().chain(timers).chain(starts).min();
            self.now = next.map_or(until, |n| n.min(until)).max(self.now);
            while let Some(e) = self.queue.first_entry() {
                if e.key().0 > self.now {
                    break;
                }
                let (to, from, d) = e.remove();
                let now = self.now;
                let _ = self.nodes[to].sock.handle_datagram(now, from, &d);
            }
            let now = self.now;
            for n in &mut self.nodes {
                n.sock.handle_timeout(now);
            }
        }
    }
}
