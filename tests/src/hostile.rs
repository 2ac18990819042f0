//! A hand-driven hostile peer against a real [`Endpoint`], for the hostile-peer tests.
//!
//! The peer is a real [`Connection`] (Noise XX, secret-stream, protomux) that speaks
//! `hypercore/alpha` message by message, so each test can break exactly one rule.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, SessionError, SessionId, PROTOCOL,
};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::connection::{Connection, ConnectionError, ConnectionEvent};
use ferrocore::wire::mux::{ChannelId, CloseReason, MuxConfig, MuxEvent};
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::{Connected, Entropy, StreamConfig};
use ferrocore::wire::{Data, Encode, Handshake, Message, NoData, Range, Request, Sync};

use crate::{heap, memory_reader};

/// The key-pair seed of the honest writer most tests use.
pub const WRITER_SEED: [u8; 32] = [7; 32];

/// Fixed Noise entropy for a test side (`b` tells the sides apart).
pub fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b.wrapping_add(1); 24],
    }
}

/// A writer log of `blocks`, from key-pair seed `seed`.
pub fn writer_log(seed: [u8; 32], blocks: &[&[u8]]) -> Log<MemoryStorage> {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&seed)),
        ..LogOptions::default()
    };
    let mut log = Log::open(MemoryStorage::new(), options).expect("writer log");
    if !blocks.is_empty() {
        log.append_batch(blocks).expect("append");
    }
    log
}

/// `n` distinct blocks of an honest writer.
pub fn blocks(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("block number {i} of the honest writer").into_bytes())
        .collect()
}

/// The blocks as slices, for `append_batch`.
pub fn as_slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

/// What the peer does when the endpoint opens a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenPolicy {
    /// Answer with the right capability.
    Honest,
    /// Answer with this capability.
    Capability([u8; 32]),
    /// Do not answer.
    Ignore,
}

/// An endpoint and a hand-driven peer connected to it (the peer is the Noise initiator).
pub struct Harness {
    pub ep: Endpoint<MemoryStorage>,
    pub sid: SessionId,
    pub now: Duration,
    pub conn: Connection,
    pub connected: Option<Connected>,
    pub policy: OpenPolicy,
    /// The peer's paired channels, by discovery key.
    pub channels: Vec<([u8; 32], ChannelId)>,
    /// Messages the endpoint sent on the peer's channels.
    pub received: Vec<(ChannelId, Message)>,
    /// Channels of the peer that closed, and why.
    pub peer_closed: Vec<(ChannelId, CloseReason)>,
    /// The peer's transport error, if its connection failed.
    pub peer_error: Option<ConnectionError>,
    pub events: Vec<Event>,
    /// While set, the endpoint's output is held in the "socket" (neither delivered to the
    /// peer nor reported written): a peer that does not read.
    pub hold: bool,
    pub held: Vec<Bytes>,
}

impl Harness {
    /// Connects a peer following `policy` to `ep` and completes the handshake.
    pub fn new(ep: Endpoint<MemoryStorage>, policy: OpenPolicy) -> Self {
        Self::with_stream(ep, policy, StreamConfig::default())
    }

    /// As [`new`](Self::new), with the peer's stream settings.
    pub fn with_stream(
        mut ep: Endpoint<MemoryStorage>,
        policy: OpenPolicy,
        stream: StreamConfig,
    ) -> Self {
        let now = Duration::ZERO;
        let sid = ep.connect(
            Role::Responder,
            NoiseKeyPair::from_seed([2; 32]),
            entropy(20),
            now,
        );
        let mut conn = Connection::new(
            Role::Initiator,
            NoiseKeyPair::from_seed([1; 32]),
            entropy(10),
            stream,
            MuxConfig::default(),
            now,
        );
        conn.mux().listen(PROTOCOL);
        let mut h = Self {
            ep,
            sid,
            now,
            conn,
            connected: None,
            policy,
            channels: Vec::new(),
            received: Vec::new(),
            peer_closed: Vec::new(),
            peer_error: None,
            events: Vec::new(),
            hold: false,
            held: Vec::new(),
        };
        h.pump();
        assert!(h.connected.is_some(), "handshake completed");
        h
    }

    /// The capability the peer (initiator) must send for `key`.
    pub fn capability(&self, key: &[u8; 32]) -> [u8; 32] {
        let c = self.connected.as_ref().expect("connected");
        hash::capability(&c.handshake_hash, true, key)
    }

    /// The encoded channel handshake carrying `capability`.
    pub fn handshake(capability: [u8; 32]) -> Vec<u8> {
        Handshake {
            seeks: false,
            capability,
        }
        .to_vec()
    }

    /// Shuttles bytes both ways until both sides are quiet; records events.
    pub fn pump(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some((sid, bytes)) = self.ep.poll_transmit() {
                moved = true;
                if self.hold && sid == self.sid {
                    self.held.push(bytes);
                    continue;
                }
                self.ep.handle_sent(sid, bytes.len());
                if sid == self.sid && self.peer_error.is_none() {
                    if let Err(e) = self.conn.handle_input(self.now, &bytes) {
                        self.peer_error = Some(e);
                    }
                }
            }
            while let Some(e) = self.ep.poll_event() {
                moved = true;
                self.events.push(e);
            }
            while let Some(ev) = self.conn.poll_event() {
                moved = true;
                self.on_peer_event(ev);
            }
            while let Some(bytes) = self.conn.poll_transmit() {
                moved = true;
                self.ep.handle_input(self.sid, self.now, &bytes);
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// Hands everything the peer queued to the endpoint as one input, then drains the
    /// endpoint as an application would: its output is written and dropped; each event
    /// goes to `on_event` (which may answer it on the endpoint) and is kept in
    /// [`events`](Self::events) if that returns true. Returns the input's length and the
    /// most heap the thread held meanwhile above what it held before (the input's own bytes
    /// are allocated before); meaningful with [`heap::Counting`](crate::heap::Counting) as
    /// the global allocator.
    pub fn deliver_measured(
        &mut self,
        mut on_event: impl FnMut(&mut Harness, &Event) -> bool,
    ) -> (usize, i64) {
        let mut input = Vec::new();
        while let Some(bytes) = self.conn.poll_transmit() {
            input.extend_from_slice(&bytes);
        }
        let base = heap::live_bytes();
        heap::reset_peak();
        self.ep.handle_input(self.sid, self.now, &input);
        loop {
            let mut moved = false;
            while let Some((sid, bytes)) = self.ep.poll_transmit() {
                moved = true;
                self.ep.handle_sent(sid, bytes.len());
            }
            while let Some(e) = self.ep.poll_event() {
                moved = true;
                if on_event(self, &e) {
                    self.events.push(e);
                }
            }
            if !moved {
                break;
            }
        }
        (input.len(), heap::peak_bytes() - base)
    }

    fn on_peer_event(&mut self, ev: ConnectionEvent) {
        match ev {
            ConnectionEvent::Connected(c) => self.connected = Some(c),
            ConnectionEvent::Mux(MuxEvent::OpenRequest { protocol, id, .. }) => {
                let dk: [u8; 32] = id
                    .as_deref()
                    .and_then(|d| d.try_into().ok())
                    .expect("a core id");
                let key = self.key_of(&dk);
                let capability = match (self.policy, key) {
                    (OpenPolicy::Ignore, _) => return,
                    (OpenPolicy::Honest, Some(key)) => self.capability(&key),
                    (OpenPolicy::Honest, None) => [0; 32],
                    (OpenPolicy::Capability(c), _) => c,
                };
                let ch = self
                    .conn
                    .mux()
                    .open(&protocol, id.as_deref(), &Self::handshake(capability))
                    .expect("open");
                self.channels.push((dk, ch));
            }
            ConnectionEvent::Mux(MuxEvent::Message {
                channel,
                message_type,
                payload,
            }) => {
                if let Ok(Some(m)) = Message::decode_payload(message_type, &payload) {
                    self.received.push((channel, m));
                }
            }
            ConnectionEvent::Mux(MuxEvent::Closed { channel, reason }) => {
                self.peer_closed.push((channel, reason));
            }
            _ => {}
        }
    }

    /// The key of a discovery key among the endpoint's cores.
    pub fn key_of(&self, dk: &[u8; 32]) -> Option<[u8; 32]> {
        let core = self.ep.find_core(dk)?;
        Some(*self.ep.log(core)?.key())
    }

    /// The peer's channel for the core of `key`.
    pub fn channel(&self, key: &[u8; 32]) -> ChannelId {
        let dk = hash::discovery_key(key);
        self.channels
            .iter()
            .find(|(d, _)| *d == dk)
            .map(|(_, c)| *c)
            .expect("a channel for the core")
    }

    /// The peer opens a channel for `key` itself.
    pub fn open(&mut self, key: &[u8; 32], capability: [u8; 32]) -> ChannelId {
        let dk = hash::discovery_key(key);
        let ch = self
            .conn
            .mux()
            .open(PROTOCOL, Some(&dk), &Self::handshake(capability))
            .expect("open");
        self.channels.push((dk, ch));
        self.pump();
        ch
    }

    pub fn send(&mut self, ch: ChannelId, m: &Message) {
        self.send_quiet(ch, m);
        self.pump();
    }

    /// Lets the held output through: delivered to the peer, reported written, in order.
    pub fn release(&mut self) {
        self.hold = false;
        for bytes in std::mem::take(&mut self.held) {
            self.ep.handle_sent(self.sid, bytes.len());
            if let Err(e) = self.conn.handle_input(self.now, &bytes) {
                self.peer_error = Some(e);
            }
            self.pump();
        }
        self.pump();
    }

    /// Queues a message without pumping (for floods).
    pub fn send_quiet(&mut self, ch: ChannelId, m: &Message) {
        self.conn
            .mux()
            .send(ch, m.message_type() as u64, &m.to_vec())
            .expect("send");
    }

    /// Time passes for both sides.
    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        if self.ep.poll_timeout().is_some_and(|t| t <= self.now) {
            self.ep.handle_timeout(self.now);
        }
        if self.peer_error.is_none() {
            if let Err(e) = self.conn.handle_timeout(self.now) {
                self.peer_error = Some(e);
            }
        }
        self.pump();
    }

    /// The endpoint's `Closed` for the session, if it came.
    pub fn closed(&self) -> Option<&Option<SessionError>> {
        self.events.iter().find_map(|e| match e {
            Event::Closed { session, error } if *session == self.sid => Some(error),
            _ => None,
        })
    }

    pub fn take_received(&mut self) -> Vec<(ChannelId, Message)> {
        std::mem::take(&mut self.received)
    }

    /// Requests the endpoint sent, in order.
    pub fn take_requests(&mut self) -> Vec<Request> {
        self.take_received()
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::Request(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    /// Announces `log` like an honest writer: sync (uploading, downloading) and the
    /// contiguous range.
    pub fn announce(&mut self, ch: ChannelId, log: &Log<MemoryStorage>) {
        self.send_quiet(
            ch,
            &Message::Sync(Sync {
                fork: log.fork(),
                length: log.length(),
                remote_length: 0,
                can_upgrade: true,
                uploading: true,
                downloading: true,
                has_manifest: true,
                allow_push: false,
            }),
        );
        self.send(
            ch,
            &Message::Range(Range {
                drop: false,
                start: 0,
                length: log.length(),
            }),
        );
    }

    /// Answers every request the endpoint sent from `log`, passing each answer through
    /// `tamper` first. Returns how many requests were answered.
    pub fn serve(
        &mut self,
        ch: ChannelId,
        log: &Log<MemoryStorage>,
        mut tamper: impl FnMut(&Request, &mut Message),
    ) -> usize {
        let mut n = 0;
        for _ in 0..64 {
            let reqs = self.take_requests();
            if reqs.is_empty() {
                break;
            }
            for req in reqs {
                n += 1;
                let mut reply = answer(log, &req);
                tamper(&req, &mut reply);
                self.send_quiet(ch, &reply);
            }
            self.pump();
        }
        n
    }
}

/// An honest answer to `req` from `log`.
pub fn answer(log: &Log<MemoryStorage>, req: &Request) -> Message {
    if req.fork != log.fork() {
        return Message::NoData(NoData {
            request: req.id,
            reason: 1,
        });
    }
    match log.proof(req) {
        Ok(proof) => Message::Data(Data {
            request: req.id,
            proof,
        }),
        Err(_) => Message::NoData(NoData {
            request: req.id,
            reason: 2,
        }),
    }
}

/// A reader endpoint (with `config`) of the core the default writer makes of `values`,
/// connected to an honest peer holding that core: the harness, the writer's log, the
/// reader's core and the peer's channel for it.
pub fn honest_reader(
    values: &[Vec<u8>],
    config: EndpointConfig,
) -> (Harness, Log<MemoryStorage>, CoreId, ChannelId) {
    let writer = writer_log(WRITER_SEED, &as_slices(values));
    let (ep, core) = reader_endpoint(*writer.key(), config);
    let h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(writer.key());
    (h, writer, core, ch)
}

/// A reader endpoint of the default writer's core and its core id.
pub fn reader_endpoint(key: [u8; 32], config: EndpointConfig) -> (Endpoint<MemoryStorage>, CoreId) {
    let mut ep = Endpoint::new(config);
    let core = ep.add_core(memory_reader(key));
    (ep, core)
}

/// An endpoint holding a writer of `n` blocks, its core id, and a copy of the same history
/// (to verify what the writer sends).
pub fn writer_endpoint(n: usize) -> (Endpoint<MemoryStorage>, CoreId, Log<MemoryStorage>) {
    let values = blocks(n);
    let mut ep = Endpoint::new(EndpointConfig::default());
    let core = ep.add_core(writer_log(WRITER_SEED, &as_slices(&values)));
    // A copy of the same history, to verify what the writer sends.
    let copy = writer_log(WRITER_SEED, &as_slices(&values));
    (ep, core, copy)
}
