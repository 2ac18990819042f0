//! Hand-driven hostile peers against a real [`Endpoint`].
//!
//! The peer is a real [`Connection`] (Noise XX, secret-stream, protomux) that speaks
//! `hypercore/alpha` message by message, so each test can break exactly one rule: a
//! tampered block or uncle node, a bad signature, a wrong capability, an open for a core
//! the endpoint does not have, an oversize record, floods of unsolicited `data`, of
//! invalid requests, of `range`/`bitfield` announcements. Each asserts how the endpoint
//! ends the session (the typed [`SessionError`]) or that it shrugs the abuse off and keeps
//! working, and that a reader's log holds only verified data.
//!
//! A counting global allocator (per thread: each test drives its endpoint on its own
//! thread) measures the heap an endpoint holds after a flood.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::bitfield::BITS_PER_PAGE;
use ferrocore::hash;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, PeerError, SessionError, SessionId, PROTOCOL,
};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::connection::{Connection, ConnectionError, ConnectionEvent};
use ferrocore::wire::mux::{ChannelId, CloseReason, MuxConfig, MuxEvent};
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore::wire::stream::{Connected, Entropy, StreamConfig, StreamError};
use ferrocore::wire::{
    Bitfield, Cancel, Data, DataBlock, Encode, Handshake, Message, NoData, Node, Proof, Range,
    Request, RequestBlock, RequestUpgrade, Sync,
};
use ferrocore::ProofError;
use ferrocore_tests::memory_reader;
use ferrocore_tests::sim::{LinkConfig, Rng, Sim};

// ----- a per-thread heap counter ------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn count(delta: i64) {
    let _ = LIVE.try_with(|c| c.set(c.get() + delta));
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as i64);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as i64));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes this thread allocated and has not freed.
fn live_bytes() -> i64 {
    LIVE.with(Cell::get)
}

// ----- fixtures -------------------------------------------------------------------------------

const WRITER_SEED: [u8; 32] = [7; 32];

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b.wrapping_add(1); 24],
    }
}

/// A writer log of `blocks`, from key-pair seed `seed`.
fn writer_log(seed: [u8; 32], blocks: &[&[u8]]) -> Log<MemoryStorage> {
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

fn blocks(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("block number {i} of the honest writer").into_bytes())
        .collect()
}

fn as_slices(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

/// What the peer does when the endpoint opens a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenPolicy {
    /// Answer with the right capability.
    Honest,
    /// Answer with this capability.
    Capability([u8; 32]),
    /// Do not answer.
    Ignore,
}

/// An endpoint and a hand-driven peer connected to it (the peer is the Noise initiator).
struct Harness {
    ep: Endpoint<MemoryStorage>,
    sid: SessionId,
    now: Duration,
    conn: Connection,
    connected: Option<Connected>,
    policy: OpenPolicy,
    /// The peer's paired channels, by discovery key.
    channels: Vec<([u8; 32], ChannelId)>,
    /// Messages the endpoint sent on the peer's channels.
    received: Vec<(ChannelId, Message)>,
    /// Channels of the peer that closed, and why.
    peer_closed: Vec<(ChannelId, CloseReason)>,
    /// The peer's transport error, if its connection failed.
    peer_error: Option<ConnectionError>,
    events: Vec<Event>,
    /// While set, the endpoint's output is held in the "socket" (neither delivered to the
    /// peer nor reported written): a peer that does not read.
    hold: bool,
    held: Vec<Bytes>,
}

impl Harness {
    fn new(ep: Endpoint<MemoryStorage>, policy: OpenPolicy) -> Self {
        Self::with_stream(ep, policy, StreamConfig::default())
    }

    fn with_stream(
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
    fn capability(&self, key: &[u8; 32]) -> [u8; 32] {
        let c = self.connected.as_ref().expect("connected");
        hash::capability(&c.handshake_hash, true, key)
    }

    fn handshake(capability: [u8; 32]) -> Vec<u8> {
        Handshake {
            seeks: false,
            capability,
        }
        .to_vec()
    }

    /// Shuttles bytes both ways until both sides are quiet; records events.
    fn pump(&mut self) {
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
    fn key_of(&self, dk: &[u8; 32]) -> Option<[u8; 32]> {
        let core = self.ep.find_core(dk)?;
        Some(*self.ep.log(core)?.key())
    }

    /// The peer's channel for the core of `key`.
    fn channel(&self, key: &[u8; 32]) -> ChannelId {
        let dk = hash::discovery_key(key);
        self.channels
            .iter()
            .find(|(d, _)| *d == dk)
            .map(|(_, c)| *c)
            .expect("a channel for the core")
    }

    /// The peer opens a channel for `key` itself.
    fn open(&mut self, key: &[u8; 32], capability: [u8; 32]) -> ChannelId {
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

    fn send(&mut self, ch: ChannelId, m: &Message) {
        self.send_quiet(ch, m);
        self.pump();
    }

    /// Lets the held output through: delivered to the peer, reported written, in order.
    fn release(&mut self) {
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
    fn send_quiet(&mut self, ch: ChannelId, m: &Message) {
        self.conn
            .mux()
            .send(ch, m.message_type() as u64, &m.to_vec())
            .expect("send");
    }

    /// Time passes for both sides.
    fn advance(&mut self, d: Duration) {
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
    fn closed(&self) -> Option<&Option<SessionError>> {
        self.events.iter().find_map(|e| match e {
            Event::Closed { session, error } if *session == self.sid => Some(error),
            _ => None,
        })
    }

    fn take_received(&mut self) -> Vec<(ChannelId, Message)> {
        std::mem::take(&mut self.received)
    }

    /// Requests the endpoint sent, in order.
    fn take_requests(&mut self) -> Vec<Request> {
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
    fn announce(&mut self, ch: ChannelId, log: &Log<MemoryStorage>) {
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
    fn serve(
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
fn answer(log: &Log<MemoryStorage>, req: &Request) -> Message {
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

/// A reader endpoint of the default writer's core and its core id.
fn reader_endpoint(key: [u8; 32], config: EndpointConfig) -> (Endpoint<MemoryStorage>, CoreId) {
    let mut ep = Endpoint::new(config);
    let core = ep.add_core(memory_reader(key));
    (ep, core)
}

fn assert_invalid_proof(h: &Harness, core: CoreId) -> ProofError {
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::InvalidProof { core: c, error }))) => {
            assert_eq!(*c, core);
            error.clone()
        }
        other => panic!(
            "expected InvalidProof, got {other:?}; events {:?}",
            h.events
        ),
    }
}

/// A reader whose honest-looking peer serves the upgrade but tampers with block proofs.
fn tampered_block(tamper: impl Fn(&mut DataBlock)) -> ProofError {
    let values = blocks(8);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    let get = h.ep.get(core, 5, None).unwrap();
    h.announce(ch, &writer);
    let mut tampered = 0;
    h.serve(ch, &writer, |req, reply| {
        if let (Some(_), Message::Data(d)) = (req.block, reply) {
            if let Some(b) = d.proof.block.as_mut() {
                tamper(b);
                tampered += 1;
            }
        }
    });
    assert!(tampered > 0, "the reader asked for a block");
    let error = assert_invalid_proof(&h, core);
    // Only verified data: the upgrade (honest) was applied, the tampered block was not.
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 8, "the honest upgrade was applied");
    assert!(!log.has_block(5));
    assert_eq!(log.get(5).unwrap(), None);
    for i in 0..8 {
        if let Some(v) = log.get(i).unwrap() {
            assert_eq!(&v[..], &values[i as usize][..], "block {i} is the writer's");
        }
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::Get { request, result: Ok(_), .. } if *request == get)),
        "the get did not complete with tampered data"
    );
    error
}

// ----- reader side: bad data --------------------------------------------------------------------

#[test]
fn tampered_block_value_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        let mut v = b.value.to_vec();
        v[0] ^= 1;
        b.value = Bytes::from(v);
    });
    assert!(matches!(e, ProofError::ChecksumMismatch(_)), "{e:?}");
}

#[test]
fn wrong_uncle_node_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        assert!(!b.nodes.is_empty(), "the block proof carries uncles");
        b.nodes[0].hash[3] ^= 0x40;
    });
    assert!(matches!(e, ProofError::ChecksumMismatch(_)), "{e:?}");
}

#[test]
fn uncle_node_at_the_wrong_index_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        assert!(!b.nodes.is_empty(), "the block proof carries uncles");
        b.nodes[0].index += 2;
    });
    assert!(matches!(e, ProofError::UnexpectedNode { .. }), "{e:?}");
}

#[test]
fn upgrade_with_bad_signature_closes_with_invalid_proof() {
    let values = blocks(4);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    let update = h.ep.update(core, None).unwrap();
    h.announce(ch, &writer);
    let mut forged = 0;
    h.serve(ch, &writer, |_, reply| {
        if let Message::Data(d) = reply {
            if let Some(u) = d.proof.upgrade.as_mut() {
                let mut sig = u.signature.as_ref().expect("signed").to_vec();
                sig[10] ^= 0x01;
                u.signature = Some(Bytes::from(sig));
                forged += 1;
            }
        }
    });
    assert_eq!(forged, 1);
    assert_eq!(assert_invalid_proof(&h, core), ProofError::InvalidSignature);
    let log = h.ep.log(core).unwrap();
    assert_eq!((log.length(), log.fork()), (0, 0), "nothing was adopted");
    assert!(log.signature().is_none());
    // The update ends (no peer is left) rather than reporting the forged length.
    assert!(!h.events.iter().any(
        |e| matches!(e, Event::Update { request, result: Ok(l), .. } if *request == update && *l > 0)
    ));
}

#[test]
fn upgrade_with_bad_root_closes_with_invalid_proof() {
    let values = blocks(6);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.ep.update(core, None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, reply| {
        if let Message::Data(d) = reply {
            if let Some(u) = d.proof.upgrade.as_mut() {
                let last = u.nodes.last_mut().expect("root nodes");
                last.size += 1;
            }
        }
    });
    assert_eq!(assert_invalid_proof(&h, core), ProofError::InvalidSignature);
    assert_eq!(h.ep.log(core).unwrap().length(), 0);
}

// ----- writer side: capabilities and unknown cores ---------------------------------------------

fn writer_endpoint(n: usize) -> (Endpoint<MemoryStorage>, CoreId, Log<MemoryStorage>) {
    let values = blocks(n);
    let mut ep = Endpoint::new(EndpointConfig::default());
    let core = ep.add_core(writer_log(WRITER_SEED, &as_slices(&values)));
    // A copy of the same history, to verify what the writer sends.
    let copy = writer_log(WRITER_SEED, &as_slices(&values));
    (ep, core, copy)
}

#[test]
fn wrong_capability_closes_with_bad_capability() {
    let (ep, core, _) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Capability([0x5a; 32]));
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::BadCapability(c)))) => assert_eq!(*c, core),
        other => panic!("expected BadCapability, got {other:?}"),
    }
    assert!(h.ep.peers(core).is_empty());
    assert!(
        !h.take_received()
            .iter()
            .any(|(_, m)| matches!(m, Message::Data(_))),
        "nothing was served"
    );
    assert_eq!(h.ep.sessions().count(), 0);
}

#[test]
fn capability_of_the_other_role_closes_with_bad_capability() {
    let (ep, core, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Ignore);
    let key = *copy.key();
    // The capability the *responder* would send: a reflected open must not pass.
    let c = h.connected.as_ref().unwrap();
    let reflected = hash::capability(&c.handshake_hash, false, &key);
    h.open(&key, reflected);
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::BadCapability(c)))) => assert_eq!(*c, core),
        other => panic!("expected BadCapability, got {other:?}"),
    }
}

#[test]
fn open_for_an_unknown_core_is_rejected_and_the_session_keeps_working() {
    let (ep, core, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Ignore);
    // A core the endpoint does not have: rejected, nothing else happens.
    let unknown_key = *writer_log([99; 32], &[]).key();
    let cap = h.capability(&unknown_key);
    let unknown = h.open(&unknown_key, cap);
    assert!(
        h.peer_closed.contains(&(unknown, CloseReason::Rejected)),
        "the open was rejected: {:?}",
        h.peer_closed
    );
    // Also a channel of another protocol and one without an id.
    let other = h.conn.mux().open("other/proto", None, b"").unwrap();
    h.pump();
    assert!(h
        .peer_closed
        .iter()
        .any(|&(c, r)| c == other && r == CloseReason::Rejected));
    assert!(h.closed().is_none(), "the session stays up");
    assert_eq!(h.ep.sessions().count(), 1);

    // The known core still replicates over the same connection.
    let key = *copy.key();
    let cap = h.capability(&key);
    let ch = h.open(&key, cap);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerAdded { core: c, .. } if *c == core)));
    h.send(
        ch,
        &Message::Request(Request {
            id: 1,
            fork: 0,
            block: Some(RequestBlock { index: 2, nodes: 0 }),
            upgrade: Some(RequestUpgrade {
                start: 0,
                length: 4,
            }),
            manifest: true,
            ..Request::default()
        }),
    );
    let data = h
        .take_received()
        .into_iter()
        .find_map(|(c, m)| match m {
            Message::Data(d) if c == ch && d.request == 1 => Some(d),
            _ => None,
        })
        .expect("the writer answered");
    let mut reader = memory_reader(key);
    reader.apply_proof(&data.proof).expect("a valid proof");
    assert_eq!(reader.get(2).unwrap(), copy.get(2).unwrap());
    assert!(h.closed().is_none());
}

// ----- transport abuse ---------------------------------------------------------------------------

#[test]
fn oversize_record_closes_with_a_transport_error() {
    let values = blocks(3);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.stream.max_record_len = 1 << 16;
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.ep.download(core, 0, Some(3), None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().contiguous_length(), 3);
    // A record length prefix above the limit (raw bytes after the handshake): refused
    // before anything is buffered.
    let (sid, now) = (h.sid, h.now);
    h.ep.handle_input(sid, now, &[0xff, 0xff, 0x7f]);
    h.pump();
    match h.closed() {
        Some(Some(SessionError::Connection(ConnectionError::Stream(StreamError::Oversize {
            len,
            max,
        })))) => {
            assert_eq!((*len, *max), (0x7f_ffff, 1 << 16));
        }
        other => panic!("expected an oversize error, got {other:?}"),
    }
    assert_eq!(
        h.closed().unwrap().as_ref().unwrap().blame(),
        ferrocore::wire::stream::Blame::Peer
    );
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 3);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(log.get(i as u64).unwrap().as_deref(), Some(&v[..]));
    }
}

#[test]
fn garbage_record_closes_with_a_decrypt_error() {
    let (ep, core, _) = writer_endpoint(3);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let (sid, now) = (h.sid, h.now);
    let mut rec = vec![40, 0, 0];
    rec.extend([0xab; 40]);
    h.ep.handle_input(sid, now, &rec);
    h.pump();
    assert!(
        matches!(
            h.closed(),
            Some(Some(SessionError::Connection(ConnectionError::Stream(
                StreamError::Decrypt
            ))))
        ),
        "{:?}",
        h.closed()
    );
    assert_eq!(h.ep.log(core).unwrap().length(), 3);
}

/// Unsolicited `data` (request ids never sent) is ignored: no state grows, no session
/// error, and the endpoint keeps replicating with the same peer afterwards.
#[test]
fn unsolicited_data_flood_is_ignored() {
    let values = blocks(4);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.pump();
    let mut rng = Rng::new(1);
    // Buffers reach their working size in the first rounds; after that nothing may grow.
    let mut warm = 0;
    let mut after = Vec::new();
    // Before any sync the reader has no request in flight: every id is unsolicited.
    for round in 0..40 {
        if round == 5 {
            warm = live_bytes();
        }
        for _ in 0..500 {
            let index = rng.below(1 << 40);
            let value = vec![round as u8; rng.range(0, 200) as usize];
            let nodes = (0..rng.range(0, 8))
                .map(|k| Node {
                    index: index * 2 + 1 + 2 * k,
                    size: rng.below(1 << 20),
                    hash: rng.bytes32(),
                })
                .collect();
            let proof = Proof {
                fork: rng.below(3),
                block: Some(DataBlock {
                    index,
                    value: value.into(),
                    nodes,
                }),
                ..Proof::default()
            };
            let request = rng.range(1, u32::MAX as u64);
            h.send_quiet(ch, &Message::Data(Data { request, proof }));
        }
        h.pump();
        if round >= 5 {
            after.push(live_bytes() - warm);
        }
    }
    assert!(h.closed().is_none(), "ignored, not fatal: {:?}", h.closed());
    let grown = *after.iter().max().unwrap();
    assert!(
        grown < 64 * 1024,
        "the endpoint grew by {grown} bytes over 17 500 unsolicited data messages: {after:?}"
    );
    assert_eq!(h.ep.log(core).unwrap().length(), 0, "nothing was applied");
    assert_eq!(h.ep.inflight(h.sid, core), 0);

    // Still healthy: an honest exchange works.
    let get = h.ep.get(core, 3, None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == values[3][..]
    )));
}

#[test]
fn too_many_invalid_requests_close_the_session() {
    let (ep, core, copy) = writer_endpoint(3);
    let max = ep.config().max_invalid_requests;
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(copy.key());
    // An upgrade past the writer's length is invalid (answered with noData, reason 2).
    let invalid = |id| {
        Message::Request(Request {
            id,
            fork: 0,
            upgrade: Some(RequestUpgrade {
                start: 0,
                length: 1000,
            }),
            ..Request::default()
        })
    };
    for id in 1..=u64::from(max) {
        h.send(ch, &invalid(id));
        assert!(h.closed().is_none(), "still tolerated after {id}");
    }
    let refused: Vec<u64> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::NoData(n) if n.reason == 2 => Some(n.request),
            _ => None,
        })
        .collect();
    assert_eq!(refused, (1..=u64::from(max)).collect::<Vec<_>>());
    h.send(ch, &invalid(u64::from(max) + 1));
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::TooManyInvalidRequests(c)))) => {
            assert_eq!(*c, core);
        }
        other => panic!("expected TooManyInvalidRequests, got {other:?}"),
    }
    assert_eq!(
        h.ep.log(core).unwrap().length(),
        3,
        "the writer is unharmed"
    );
}

/// A peer that asks for much and does not read costs bounded output: answers wait while
/// `max_unsent` bytes are unwritten, are all sent in order once the peer reads, and a peer
/// with more than `max_queued_requests` waiting is disconnected.
#[test]
fn a_peer_that_does_not_read_gets_bounded_output() {
    const BLOCKS: usize = 64;
    let values: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![i as u8; 16 * 1024]).collect();
    let mut config = EndpointConfig::default();
    config.max_unsent = Some(64 * 1024);
    config.max_queued_requests = 100;
    let mut ep = Endpoint::new(config);
    let core = ep.add_core(writer_log(WRITER_SEED, &as_slices(&values)));
    let key = *ep.log(core).unwrap().key();
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.take_received();
    let block = |id: u64, index: u64| {
        Message::Request(Request {
            id,
            fork: 0,
            block: Some(RequestBlock { index, nodes: 0 }),
            ..Request::default()
        })
    };

    // 64 requests for 16 KiB blocks (1 MiB of answers), in one read, by a peer that reads
    // nothing.
    h.hold = true;
    for i in 0..BLOCKS as u64 {
        h.send_quiet(ch, &block(i + 1, i));
    }
    h.pump();
    let unsent = h.ep.unsent(h.sid);
    let waiting = h.ep.deferred_requests(h.sid);
    assert!(unsent >= 64 * 1024, "served up to the budget: {unsent}");
    assert!(
        unsent < 64 * 1024 + 2 * 17 * 1024,
        "at most one answer past the budget: {unsent}"
    );
    assert!(waiting >= BLOCKS - 6, "the rest waits: {waiting}");
    assert_eq!(h.held.iter().map(Bytes::len).sum::<usize>(), unsent);

    // The peer reads: every request is answered, in order, with the right block.
    h.release();
    assert_eq!(h.ep.deferred_requests(h.sid), 0);
    let answers: Vec<(u64, Vec<u8>)> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::Data(d) => Some((d.request, d.proof.block.unwrap().value.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), BLOCKS);
    for (k, (id, value)) in answers.iter().enumerate() {
        assert_eq!(*id, k as u64 + 1);
        assert_eq!(value, &values[k]);
    }
    assert!(h.closed().is_none());

    // A cancelled request that still waits is not answered.
    h.hold = true;
    for i in 0..BLOCKS as u64 {
        h.send_quiet(ch, &block(1000 + i, i));
    }
    h.send(
        ch,
        &Message::Cancel(Cancel {
            request: 1000 + BLOCKS as u64 - 1,
        }),
    );
    h.release();
    let ids: Vec<u64> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::Data(d) => Some(d.request),
            _ => None,
        })
        .collect();
    assert_eq!(ids, (1000..1000 + BLOCKS as u64 - 1).collect::<Vec<_>>());

    // More than `max_queued_requests` waiting (a few are answered within the budget
    // first): disconnected with a typed reason.
    h.hold = true;
    for i in 0..120 {
        h.send_quiet(ch, &block(2000 + i, i % BLOCKS as u64));
    }
    h.pump();
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::TooManyRequests(c)))) => assert_eq!(*c, core),
        other => panic!("expected TooManyRequests, got {other:?}"),
    }
}

/// Random `range` and `bitfield` announcements (huge, overlapping, dropping) do not crash
/// the endpoint, bound what it remembers, and the endpoint keeps working.
#[test]
fn range_and_bitfield_flood_keeps_the_endpoint_working() {
    let values = blocks(6);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    let live = h.ep.download(core, 0, None, None).unwrap();
    let mut rng = Rng::new(2);
    for _ in 0..20 {
        for _ in 0..200 {
            // Any number a JS peer can send (up to 2^53 - 1).
            let start = match rng.below(4) {
                0 => rng.below(1 << 20),
                1 | 2 => rng.below(1 << 53),
                _ => rng.below(64),
            };
            let m = if rng.chance(1, 2) {
                Message::Range(Range {
                    drop: rng.chance(1, 4),
                    start,
                    length: match rng.below(3) {
                        0 => rng.below(100),
                        1 => rng.below(1 << 40),
                        _ => rng.below(1 << 53),
                    },
                })
            } else {
                let cap = if rng.chance(1, 8) { 4096 } else { 64 };
                let words = rng.below(cap) as usize;
                let bitfield = (0..words)
                    .map(|_| match rng.below(3) {
                        0 => 0,
                        1 => u32::MAX,
                        _ => rng.next_u64() as u32,
                    })
                    .collect();
                Message::Bitfield(Bitfield {
                    start: start - start % 32,
                    bitfield,
                })
            };
            h.send_quiet(ch, &m);
        }
        h.pump();
        // Whatever it now believes the peer has, requests to it stay bounded.
        assert!(h.ep.inflight(h.sid, core) <= h.ep.config().max_inflight);
    }
    assert!(h.closed().is_none(), "{:?}", h.closed());
    // Still healthy: the peer serves honestly (and refuses what it does not have).
    h.announce(ch, &writer);
    for _ in 0..10 {
        h.serve(ch, &writer, |_, _| {});
        h.advance(Duration::from_secs(1));
    }
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 6);
    assert_eq!(
        log.contiguous_length(),
        6,
        "every block arrived despite the noise"
    );
    for (i, v) in values.iter().enumerate() {
        assert_eq!(log.get(i as u64).unwrap().as_deref(), Some(&v[..]));
    }
    assert!(h.closed().is_none());
    h.ep.cancel(live);
}

/// `range` announcements of whole, disjoint bitfield pages: each would be stored as one
/// run of full pages. The budget (`max_remote_bitfield_pages`) must bound those runs too
/// (it once counted partial pages only: 100 000 such messages held ~3.4 MB, growing
/// ~34 bytes per message).
#[test]
fn range_flood_of_disjoint_full_pages_keeps_memory_bounded() {
    let writer = writer_log(WRITER_SEED, &as_slices(&blocks(2)));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.pump();
    let mut k = 10u64;
    let mut warm = 0;
    let mut grown = Vec::new();
    for round in 0..4 {
        for _ in 0..8_000 {
            // One whole page, with a gap before the next, far beyond anything real.
            h.send_quiet(
                ch,
                &Message::Range(Range {
                    drop: false,
                    start: k * 2 * BITS_PER_PAGE,
                    length: BITS_PER_PAGE,
                }),
            );
            k += 1;
        }
        h.pump();
        if round == 0 {
            // Buffers reached their working size.
            warm = live_bytes();
        } else {
            grown.push(live_bytes() - warm);
        }
    }
    assert!(h.closed().is_none());
    assert!(h.ep.log(core).unwrap().length() == 0);
    // 24 000 more messages after the first 8 000: what the endpoint holds must not grow
    // with them (its budget is 256 pages of 4 KiB, reached or not; unbounded runs grew by
    // ~34 bytes per message, ~800 KB here).
    let last = *grown.last().unwrap();
    assert!(
        last < 256 * 1024,
        "the endpoint holds {last} more bytes after 24 000 more range messages (per 8 000: {grown:?})"
    );
}

// ----- conflicting histories under one key -------------------------------------------------------

/// Two writers with the same key pair each appended different blocks (a fork made without
/// a truncate). A reader that downloaded A's history and then meets B rejects B's proofs
/// and keeps A's data.
#[test]
fn conflicting_writer_under_the_same_key_is_rejected() {
    for seed in 0..4 {
        let mut sim = Sim::new(seed);
        let a = sim.add_node(EndpointConfig::default());
        let b = sim.add_node(EndpointConfig::default());
        let r = sim.add_node(EndpointConfig::default());
        let va: Vec<Vec<u8>> = (0..3).map(|i| format!("A{i}").into_bytes()).collect();
        let vb: Vec<Vec<u8>> = (0..5).map(|i| format!("B{i}").into_bytes()).collect();
        let la = writer_log(WRITER_SEED, &as_slices(&va));
        let lb = writer_log(WRITER_SEED, &as_slices(&vb));
        assert_eq!(la.key(), lb.key());
        let key = *la.key();
        sim.with(a, |e, _| e.add_core(la));
        sim.with(b, |e, _| e.add_core(lb));
        let core = sim.with(r, |e, _| e.add_core(memory_reader(key)));
        let link_a = sim.connect(a, r, LinkConfig::default());
        let d = sim
            .with(r, |e, _| e.download(core, 0, Some(3), None))
            .unwrap();
        assert!(sim.run_until(Duration::from_secs(30), |s| s
            .events(r)
            .iter()
            .any(|(_, e)| matches!(e, Event::Download { request, result: Ok(()), .. } if *request == d))));
        let link_b = sim.connect(b, r, LinkConfig::default());
        let rb = sim.sessions(link_b)[1].expect("r's session with b");
        sim.run_until(Duration::from_secs(30), |s| {
            s.events(r)
                .iter()
                .any(|(_, e)| matches!(e, Event::Closed { session, .. } if *session == rb))
        });
        let closed = sim.events(r).iter().find_map(|(_, e)| match e {
            Event::Closed { session, error } if *session == rb => Some(error.clone()),
            _ => None,
        });
        match closed {
            Some(Some(SessionError::Peer(PeerError::InvalidProof { core: c, .. }))) => {
                assert_eq!(c, core);
            }
            other => panic!("seed {seed}: expected InvalidProof from B, got {other:?}"),
        }
        assert!(sim.is_up(link_a), "A's session is unaffected");
        let log = sim.endpoint(r).log(core).unwrap();
        assert_eq!((log.length(), log.fork()), (3, 0));
        for (i, v) in va.iter().enumerate() {
            assert_eq!(
                log.get(i as u64).unwrap().as_deref(),
                Some(&v[..]),
                "A's block {i}"
            );
        }
    }
}

// ----- honest but slow peers ------------------------------------------------------------------------

/// A peer that answers a request after the endpoint timed it out (and sent `cancel`) is
/// honest, merely slow. Its late answer must not be taken for the answer of another
/// request that reused the id: here the late answer is a stale upgrade (from length 0,
/// with additional nodes up to 3). The endpoint never reuses the id of a request it timed
/// out, so the late answer matches nothing and is ignored (before that fix it was taken
/// for a newer request with the same id and closed the session with `InvalidProof`). The
/// JS reference only reuses a cancelled id after a later request's
/// round trip, and drops answers that do not match their request (`_matchingRequest`).
#[test]
fn late_answer_to_a_cancelled_request_does_not_close_an_honest_session() {
    let values = blocks(3);
    let mut writer = writer_log(WRITER_SEED, &as_slices(&values[..1]));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.request_timeout = Duration::from_secs(1);
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    let get = h.ep.get(core, 2, None).unwrap();
    h.announce(ch, &writer);
    let first = h.take_requests();
    assert!(
        matches!(&first[..], [r] if r.upgrade.is_some()),
        "an upgrade request: {first:?}"
    );
    // The peer is slow: the request times out, is cancelled and sent again.
    h.advance(Duration::from_secs(2));
    let again = h.take_requests();
    assert!(
        matches!(&again[..], [r] if r.upgrade.is_some()),
        "{again:?}"
    );
    // The writer appends meanwhile, then answers both, in order.
    writer.append(&values[1]).unwrap();
    writer.append(&values[2]).unwrap();
    let late = answer(&writer, &first[0]);
    let fresh = answer(&writer, &again[0]);
    // The late answer (to the cancelled request) comes first: its id was not reused, so
    // it is ignored (nothing is applied, nobody is blamed).
    h.send(ch, &late);
    assert_eq!(h.closed(), None);
    // The peer announces its new length; the endpoint asks for block 2.
    h.announce(ch, &writer);
    // The answer to the re-sent upgrade request arrives.
    h.send(ch, &fresh);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(
        h.closed(),
        None,
        "an honest peer stays connected: {:?}",
        h.events
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == values[2][..]
    )));
}

/// An application call made when the endpoint has not been told the time for a while
/// (no input, no timer due) must not schedule requests against that stale clock (it once
/// did: with a request timeout shorter than the idle gap, the request was already expired
/// when sent, and the next `handle_timeout` cancelled it at once).
#[test]
fn requests_sent_after_an_idle_gap_are_not_cancelled_at_once() {
    let values = blocks(3);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.request_timeout = Duration::from_secs(2);
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 3);
    // 4 s pass with nothing due on the endpoint (keep-alives come every 5 s).
    h.now += Duration::from_secs(4);
    assert!(h.ep.poll_timeout().is_none_or(|t| t > h.now));
    h.ep.get(core, 1, None).unwrap();
    h.pump();
    let sent = h.take_requests();
    assert_eq!(sent.len(), 1);
    // Time has not moved; only the endpoint's timers are checked.
    if h.ep.poll_timeout().is_some_and(|t| t <= h.now) {
        h.ep.handle_timeout(h.now);
    }
    h.pump();
    let cancels: Vec<_> = h
        .take_received()
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Cancel(_)))
        .collect();
    assert!(
        cancels.is_empty(),
        "a request cancelled 0 s after it was sent: {cancels:?}"
    );
}

// ----- truncations and forks on the wire --------------------------------------------------------

/// The messages the endpoint sent, without their channel.
fn messages(received: Vec<(ChannelId, Message)>) -> Vec<Message> {
    received.into_iter().map(|(_, m)| m).collect()
}

/// A writer that truncates tells its peers as the reference does: the dropped blocks as
/// `range { drop }`, then its `sync` with the new fork (`canUpgrade` false: the peer is on
/// another fork), then the blocks it keeps.
#[test]
fn truncation_is_announced_as_a_dropped_range_then_the_new_fork() {
    let (ep, core, _) = writer_endpoint(10);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let key = *h.ep.log(core).unwrap().key();
    let ch = h.channel(&key);
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 0,
            length: 0,
            remote_length: 10,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: false,
            allow_push: false,
        }),
    );
    let before = messages(h.take_received());
    assert!(
        before.contains(&Message::Range(Range {
            drop: false,
            start: 0,
            length: 10
        })),
        "{before:?}"
    );
    h.ep.log_mut(core).unwrap().truncate(7, None).unwrap();
    h.pump();
    let after = messages(h.take_received());
    match &after[..] {
        [Message::Range(dropped), Message::Sync(sync), Message::Range(kept)] => {
            assert_eq!(
                *dropped,
                Range {
                    drop: true,
                    start: 7,
                    length: 3
                }
            );
            assert_eq!((sync.fork, sync.length), (1, 7));
            assert_eq!(
                sync.remote_length, 0,
                "the peer's length is on another fork"
            );
            assert!(!sync.can_upgrade, "the peer must reorg, not upgrade");
            assert_eq!(
                *kept,
                Range {
                    drop: false,
                    start: 0,
                    length: 7
                }
            );
        }
        other => panic!("after a truncation: {other:?}"),
    }
    // Once the peer is on the new fork it may upgrade from us again.
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 1,
            length: 7,
            remote_length: 7,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: false,
            allow_push: false,
        }),
    );
    h.ep.log_mut(core).unwrap().append(b"new").unwrap();
    h.pump();
    let syncs: Vec<Sync> = messages(h.take_received())
        .into_iter()
        .filter_map(|m| match m {
            Message::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        syncs
            .last()
            .is_some_and(|s| s.can_upgrade && (s.fork, s.length) == (1, 8)),
        "{syncs:?}"
    );
}

/// Requests for blocks sent by the endpoint, by index.
fn block_requests(received: &[Message]) -> Vec<u64> {
    received
        .iter()
        .filter_map(|m| match m {
            Message::Request(r) => r.block.map(|b| b.index),
            _ => None,
        })
        .collect()
}

/// A peer that moved to another fork is known only by what it announces on it: what it
/// said it had on the old fork (here it sends no `range { drop }`) is forgotten, and the
/// endpoint asks (`want`) before requesting blocks from it.
#[test]
fn a_peer_on_a_new_fork_is_asked_what_it_has() {
    let values = blocks(10);
    let mut writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 10, "eager upgrade");
    // The peer rewrites blocks 7.. on fork 1 and says only its new sync.
    writer.truncate(7, None).unwrap();
    let new: Vec<Vec<u8>> = (7..10)
        .map(|i| format!("fork 1 block {i}").into_bytes())
        .collect();
    writer.append_batch(as_slices(&new)).unwrap();
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 1,
            length: 10,
            remote_length: 0,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: true,
            allow_push: false,
        }),
    );
    h.serve(ch, &writer, |_, _| {});
    let log = h.ep.log(core).unwrap();
    assert_eq!((log.fork(), log.length()), (1, 10), "the reader reorged");
    let get = h.ep.get(core, 8, None).unwrap();
    h.pump();
    let sent = messages(h.take_received());
    assert!(block_requests(&sent).is_empty(), "{sent:?}");
    assert!(
        sent.iter()
            .any(|m| matches!(m, Message::Want(w) if w.start <= 8 && 8 < w.start + w.length)),
        "{sent:?}"
    );
    // The peer answers the want: now block 8 is requested and arrives.
    h.send(
        ch,
        &Message::Range(Range {
            drop: false,
            start: 0,
            length: 10,
        }),
    );
    h.serve(ch, &writer, |_, _| {});
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == new[1][..]
    )));
    assert_eq!(h.closed(), None);
}

/// `range { drop }` from a peer withdraws what it announced: those blocks are not requested
/// from it.
#[test]
fn dropped_ranges_are_not_requested() {
    let values = blocks(10);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 10, "eager upgrade");
    h.send(
        ch,
        &Message::Range(Range {
            drop: true,
            start: 5,
            length: 5,
        }),
    );
    h.ep.get(core, 7, None).unwrap();
    h.ep.get(core, 3, None).unwrap();
    h.pump();
    let sent = messages(h.take_received());
    assert_eq!(block_requests(&sent), [3], "{sent:?}");
}
