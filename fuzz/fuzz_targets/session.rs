//! A whole replication [`Endpoint`] fed arbitrary traffic **after a valid handshake**.
//!
//! The fuzzer's peer is a real secret-stream (deterministic keys and entropy) with its own
//! protomux: it completes the Noise handshake and opens the core's channel with the right
//! capability, then the input drives it. The endpoint is either a reader of a core whose
//! two histories the peer holds (fork 0: 12 blocks; fork 1: the first 5, then 9 others),
//! or a writer of another core with 4 blocks (the peer then plays a hostile reader).
//!
//! Input: one mode byte (bit 0: writer endpoint; bit 1: eager upgrades off; bit 2: small
//! in-flight limit), then steps, each an op byte and its arguments:
//! * `op % 8 == 0`: a channel message, `u8 type ‖ u8 len ‖ payload` (any bytes);
//! * 1: a raw plaintext record (a protomux frame or garbage), `u16 LE len ‖ bytes`;
//! * 2: answer the oldest request of the endpoint honestly from history `u8 & 1`, then,
//!   if `u8 & 0x80`, flip bit `u16 LE` of the encoded answer;
//! * 3: announce history `u8 & 1` (sync, then range `0..length`) with flags from `u8`;
//! * 4: time passes, `u8 × 50 ms` (timers of both sides);
//! * 5: an application call, `u8 kind ‖ u8 a ‖ u8 b` (get, download, update, cancel; a
//!   writer appends);
//! * 6: a request to the endpoint, `u8 flags ‖ u8 a ‖ u8 b ‖ u8 id`;
//! * 7: `u8 kind % 8`: raw transport bytes (`u8 len ‖ bytes`, straight to the endpoint),
//!   the peer closes its channel, opens it again, ends the stream, or (kinds 4..=7) sends
//!   a large raw record built from a few bytes: `u8 len ‖ head ‖ u8 unit_len (% 16) ‖ unit ‖
//!   u16 LE count`, the head then the unit `256 × count` times, up to a whole 16 MiB record
//!   (a batch of millions of tiny entries, say).
//!
//! Checked after every step: no panic; at most `max_inflight` requests in flight; the
//! endpoint's heap stays bounded, and so does its peak during the step (a few times the
//! largest record sent); a reader's log is a prefix of one of the peer's
//! histories (same fork, same tree hash, same blocks): it only grows through verified
//! data; a writer's log changes only through its own appends; everything the endpoint
//! sends is well formed (until the peer itself breaks the framing).
//!
//! `SESSION_TRACE=1 cargo fuzz run -s none session <file>` prints the endpoint's events
//! and final state for one input.
#![no_main]

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::Duration;

use ferrocore::hash;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{
    CoreId, Endpoint, EndpointConfig, Event, RequestId, SessionId, PROTOCOL,
};
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::heap;
use ferrocore_wire::mux::{ChannelId, Mux, MuxConfig, MuxEvent};
use ferrocore_wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent, MAX_MESSAGE_LEN};
use ferrocore_wire::{
    Data, Encode, Handshake, Message, NoData, Range, Request, RequestBlock, RequestUpgrade, Sync,
};

// ----- heap accounting -------------------------------------------------------------------------

// Per thread: a run drives every machine on the fuzzing thread.
#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// What one run may hold beyond its starting point (the input itself is at most a few
/// KiB; mux buffering is bounded by 1 MiB, the peer bitfield by the page budget below).
const HEAP_BOUND: i64 = 16 << 20;

/// What a step may hold at its peak beyond what it began with and [`HEAP_BOUND`], per byte
/// of the largest record the peer sent in it: the peer's plaintext and sealed copies, and
/// the endpoint's opened one. A record of millions of batch entries must not cost more than
/// its own bytes.
const PEAK_PER_RECORD_BYTE: i64 = 4;

// ----- fixtures ---------------------------------------------------------------------------------

const READ_SEED: [u8; 32] = [7; 32];
const WRITE_SEED: [u8; 32] = [9; 32];

struct Fixture {
    /// The peer's histories of the read core: fork 0 (12 blocks), fork 1 (5 + 9).
    histories: [Log<MemoryStorage>; 2],
    key: [u8; 32],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let writer = || {
            let options = LogOptions {
                key_pair: Some(KeyPair::from_seed(&READ_SEED)),
                ..LogOptions::default()
            };
            let mut log = Log::open(MemoryStorage::new(), options).unwrap();
            let blocks: Vec<Vec<u8>> = (0..12u8).map(|i| vec![i; 1 + usize::from(i) * 7]).collect();
            log.append_batch(&blocks).unwrap();
            log
        };
        let h0 = writer();
        let mut h1 = writer();
        h1.truncate(5, None).unwrap();
        let other: Vec<Vec<u8>> = (0..9u8)
            .map(|i| vec![0xf0 | i; 3 + usize::from(i)])
            .collect();
        h1.append_batch(&other).unwrap();
        assert_eq!((h1.fork(), h1.length()), (1, 14));
        let key = *h0.key();
        Fixture {
            histories: [h0, h1],
            key,
        }
    })
}

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b ^ 0x55; 24],
    }
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// ----- the run ----------------------------------------------------------------------------------

struct Run {
    ep: Endpoint<MemoryStorage>,
    sid: SessionId,
    core: CoreId,
    writer: bool,
    /// The writer's expected (fork, length).
    written: (u64, u64),
    max_inflight: usize,
    now: Duration,
    stream: SecretStream,
    mux: Mux,
    handshake_hash: Option<[u8; 64]>,
    /// The peer's channel for the core, once paired.
    channel: Option<ChannelId>,
    pending: VecDeque<Request>,
    requests: Vec<RequestId>,
    /// The peer broke framing itself (raw records, raw transport bytes): what the endpoint
    /// sends afterwards may no longer fit the peer's view.
    peer_desynced: bool,
    peer_failed: bool,
    closed: bool,
    base_heap: i64,
    /// The largest record the peer sent in the current step.
    largest_record: usize,
    /// The heap held when the current step began.
    step_heap: i64,
}

impl Run {
    fn new(mode: u8) -> Self {
        let f = fixture();
        let writer = mode & 1 == 1;
        let mut config = EndpointConfig::default();
        config.eager_upgrade = mode & 2 == 0;
        config.max_inflight = if mode & 4 == 4 { 2 } else { 16 };
        config.request_timeout = Duration::from_secs(2);
        config.max_remote_bitfield_pages = 8;
        config.max_refused_blocks = 64;
        config.max_invalid_requests = 8;
        // Input waits for the application past 64 KiB of events: floods stall and resume.
        config.max_event_bytes = 64 * 1024;
        let max_inflight = config.max_inflight;
        let mut ep = Endpoint::new(config);
        let (core, written) = if writer {
            let options = LogOptions {
                key_pair: Some(KeyPair::from_seed(&WRITE_SEED)),
                ..LogOptions::default()
            };
            let mut log = Log::open(MemoryStorage::new(), options).unwrap();
            log.append_batch([&b"w0"[..], b"w1", b"w2", b"w3"]).unwrap();
            (ep.add_core(log), (0, 4))
        } else {
            let log = Log::open(
                MemoryStorage::new(),
                LogOptions {
                    key: Some(f.key),
                    ..LogOptions::default()
                },
            )
            .unwrap();
            (ep.add_core(log), (0, 0))
        };
        let now = Duration::ZERO;
        let sid = ep.connect(
            Role::Responder,
            NoiseKeyPair::from_seed([2; 32]),
            entropy(2),
            now,
        );
        let stream = SecretStream::new(
            StreamConfig {
                max_record_len: 1 << 20,
                ..StreamConfig::default()
            },
            Role::Initiator,
            NoiseKeyPair::from_seed([1; 32]),
            entropy(1),
            now,
        );
        let mut mux = Mux::new(MuxConfig::default());
        mux.listen(PROTOCOL);
        let mut run = Run {
            ep,
            sid,
            core,
            writer,
            written,
            max_inflight,
            now,
            stream,
            mux,
            handshake_hash: None,
            channel: None,
            pending: VecDeque::new(),
            requests: Vec::new(),
            peer_desynced: false,
            peer_failed: false,
            closed: false,
            base_heap: 0,
            largest_record: 0,
            step_heap: 0,
        };
        run.pump();
        assert!(run.handshake_hash.is_some(), "handshake");
        assert!(run.channel.is_some(), "channel paired");
        run.base_heap = heap::live_bytes();
        run.begin_step();
        run
    }

    fn key(&self) -> [u8; 32] {
        *self.ep.log(self.core).unwrap().key()
    }

    fn capability(&self) -> [u8; 32] {
        hash::capability(&self.handshake_hash.unwrap(), true, &self.key())
    }

    fn open_channel(&mut self) {
        let dk = hash::discovery_key(&self.key());
        let hs = Handshake {
            seeks: false,
            capability: self.capability(),
        };
        if let Ok(ch) = self.mux.open(PROTOCOL, Some(&dk), &hs.to_vec()) {
            self.channel = Some(ch);
        }
    }

    /// Moves bytes both ways until both sides are quiet.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some((sid, bytes)) = self.ep.poll_transmit() {
                moved = true;
                self.ep.handle_sent(sid, bytes.len());
                if sid != self.sid || self.peer_failed {
                    continue;
                }
                if self.stream.handle_input(self.now, &bytes).is_err() {
                    assert!(self.peer_desynced, "the endpoint sent a bad record");
                    self.peer_failed = true;
                }
                self.route();
            }
            while let Some(e) = self.ep.poll_event() {
                moved = true;
                if std::env::var_os("SESSION_TRACE").is_some() {
                    eprintln!("{:?} {e:?}", self.now);
                }
                if let Event::Closed { session, .. } = e {
                    if session == self.sid {
                        self.closed = true;
                    }
                }
            }
            while let Some(ev) = self.mux.poll_event() {
                moved = true;
                self.on_mux_event(ev);
            }
            while let Some(frame) = self.mux.poll_transmit() {
                let _ = self.stream.send(&frame);
            }
            while let Some(bytes) = self.stream.poll_transmit() {
                moved = true;
                self.ep.handle_input(self.sid, self.now, &bytes);
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    fn route(&mut self) {
        while let Some(ev) = self.stream.poll_event() {
            match ev {
                StreamEvent::Connected(c) => self.handshake_hash = Some(c.handshake_hash),
                StreamEvent::Message(frame) => {
                    if self.mux.handle_frame(frame).is_err() {
                        assert!(self.peer_desynced, "the endpoint sent a bad frame");
                        self.peer_failed = true;
                    }
                }
                StreamEvent::RemoteEnded => self.mux.handle_end(),
            }
        }
    }

    fn on_mux_event(&mut self, ev: MuxEvent) {
        match ev {
            MuxEvent::OpenRequest { .. } => {
                if self.channel.is_none() {
                    self.open_channel();
                }
            }
            MuxEvent::Message {
                message_type,
                payload,
                ..
            } => match Message::decode_payload(message_type, &payload) {
                Ok(Some(Message::Request(r))) => {
                    if self.pending.len() < 4096 {
                        self.pending.push_back(r);
                    }
                }
                Ok(_) => {}
                Err(e) => assert!(
                    self.peer_desynced,
                    "the endpoint sent a malformed message: {e}"
                ),
            },
            MuxEvent::Closed { channel, .. } => {
                if self.channel == Some(channel) {
                    self.channel = None;
                }
            }
            _ => {}
        }
    }

    /// Starts measuring a step's peak heap.
    fn begin_step(&mut self) {
        self.largest_record = 0;
        self.step_heap = heap::live_bytes();
        heap::reset_peak();
    }

    /// Sends `bytes` as one raw record (after what the peer's mux has queued).
    fn send_record(&mut self, bytes: &[u8]) {
        self.peer_desynced = true;
        self.largest_record = self.largest_record.max(bytes.len());
        while let Some(frame) = self.mux.poll_transmit() {
            let _ = self.stream.send(&frame);
        }
        let _ = self.stream.send(bytes);
    }

    fn send(&mut self, message_type: u64, payload: &[u8]) {
        if let Some(ch) = self.channel {
            let _ = self.mux.send(ch, message_type, payload);
        }
    }

    fn check(&self) {
        let log = self.ep.log(self.core).expect("the core stays");
        assert!(self.ep.inflight(self.sid, self.core) <= self.max_inflight);
        let held = heap::live_bytes() - self.base_heap;
        assert!(held < HEAP_BOUND, "the run holds {held} more heap bytes");
        let peak = heap::peak_bytes() - self.step_heap;
        let bound = HEAP_BOUND + PEAK_PER_RECORD_BYTE * self.largest_record as i64;
        assert!(
            peak < bound,
            "the run held {peak} more heap bytes at its peak (bound {bound})"
        );
        if self.writer {
            assert_eq!(
                (log.fork(), log.length()),
                self.written,
                "the writer's log changed"
            );
            return;
        }
        if log.length() == 0 {
            return;
        }
        // A prefix of one of the peer's histories: only verified data was stored.
        let f = fixture();
        let h = f
            .histories
            .iter()
            .find(|h| h.fork() == log.fork())
            .unwrap_or_else(|| {
                panic!("the reader is on fork {}, which no history has", log.fork())
            });
        assert!(log.length() <= h.length());
        assert_eq!(
            log.tree_hash(log.length()).unwrap(),
            h.tree_hash(log.length()).unwrap(),
            "the reader's tree is the history's"
        );
        for i in 0..log.length() {
            if log.has_block(i) {
                assert_eq!(log.get(i).unwrap(), h.get(i).unwrap(), "block {i}");
            }
        }
    }

    fn step(&mut self, op: u8, input: &mut Input<'_>) {
        let f = fixture();
        match op % 8 {
            0 => {
                let ty = u64::from(input.u8());
                let len = usize::from(input.u8());
                let payload = input.take(len).to_vec();
                self.send(ty, &payload);
            }
            1 => {
                let len = usize::from(input.u16());
                let bytes = input.take(len).to_vec();
                self.send_record(&bytes);
            }
            2 => {
                let k = usize::from(input.u8() & 1);
                let flip = input.u8();
                let bit = usize::from(input.u16());
                let Some(req) = self.pending.pop_front() else {
                    return;
                };
                let h = &f.histories[k];
                let reply = if req.fork != h.fork() {
                    Message::NoData(NoData {
                        request: req.id,
                        reason: 1,
                    })
                } else {
                    match h.proof(&req) {
                        Ok(proof) => Message::Data(Data {
                            request: req.id,
                            proof,
                        }),
                        Err(_) => Message::NoData(NoData {
                            request: req.id,
                            reason: 2,
                        }),
                    }
                };
                let mut bytes = reply.to_vec();
                if flip & 0x80 != 0 && !bytes.is_empty() {
                    let bit = bit % (bytes.len() * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                }
                self.send(reply.message_type() as u64, &bytes);
            }
            3 => {
                let flags = input.u8();
                let h = &f.histories[usize::from(flags & 1)];
                let sync = Sync {
                    fork: h.fork(),
                    length: if flags & 0x40 != 0 {
                        h.length() / 2
                    } else {
                        h.length()
                    },
                    remote_length: 0,
                    can_upgrade: flags & 2 == 0,
                    uploading: flags & 4 == 0,
                    downloading: flags & 8 == 0,
                    has_manifest: flags & 16 == 0,
                    allow_push: false,
                };
                self.send(0, &sync.to_vec());
                if flags & 0x20 == 0 {
                    let range = Range {
                        drop: false,
                        start: 0,
                        length: sync.length,
                    };
                    self.send(8, &range.to_vec());
                }
            }
            4 => {
                self.now += Duration::from_millis(u64::from(input.u8()) * 50);
                if self.ep.poll_timeout().is_some_and(|t| t <= self.now) {
                    self.ep.handle_timeout(self.now);
                }
                if !self.peer_failed && self.stream.handle_timeout(self.now).is_err() {
                    self.peer_failed = true;
                }
            }
            5 => {
                let (kind, a, b) = (input.u8(), u64::from(input.u8()), u64::from(input.u8()));
                let deadline = Some(self.now + Duration::from_millis(b * 100));
                let core = self.core;
                if self.writer {
                    if kind % 2 == 0 {
                        let log = self.ep.log_mut(core).unwrap();
                        log.append(&[kind, a as u8]).unwrap();
                        self.written = (log.fork(), log.length());
                    }
                    return;
                }
                let id = match kind % 5 {
                    0 => self.ep.get(core, a % 20, deadline),
                    1 => self
                        .ep
                        .download(core, a % 16, Some(a % 16 + b % 8 + 1), deadline),
                    2 => self.ep.download(core, a % 16, None, None),
                    3 => self.ep.update(core, deadline),
                    _ => {
                        if !self.requests.is_empty() {
                            let i = usize::from(a as u8) % self.requests.len();
                            self.ep.cancel(self.requests[i]);
                        }
                        return;
                    }
                };
                self.requests.push(id.expect("a known core"));
            }
            6 => {
                let (flags, a, b, id) = (input.u8(), input.u8(), input.u8(), input.u8());
                let req = Request {
                    id: u64::from(id),
                    fork: u64::from(flags >> 6),
                    block: (flags & 1 != 0).then_some(RequestBlock {
                        index: u64::from(a),
                        nodes: u64::from(b % 8),
                    }),
                    hash: (flags & 2 != 0).then_some(RequestBlock {
                        index: u64::from(a),
                        nodes: u64::from(b % 8),
                    }),
                    upgrade: (flags & 4 != 0).then_some(RequestUpgrade {
                        start: u64::from(b),
                        length: u64::from(a),
                    }),
                    manifest: flags & 8 != 0,
                    ..Request::default()
                };
                self.send(1, &req.to_vec());
            }
            _ => match input.u8() % 8 {
                0 => {
                    let len = usize::from(input.u8());
                    let bytes = input.take(len).to_vec();
                    self.peer_desynced = true;
                    self.ep.handle_input(self.sid, self.now, &bytes);
                }
                1 => {
                    if let Some(ch) = self.channel.take() {
                        let _ = self.mux.close(ch);
                    }
                }
                2 => {
                    if self.channel.is_none() && !self.mux.is_ended() {
                        self.open_channel();
                    }
                }
                3 => {
                    self.mux.handle_end();
                    for frame in self.mux.poll_transmit().into_iter() {
                        let _ = self.stream.send(&frame);
                    }
                    self.stream.end();
                }
                _ => {
                    // A large record from a few input bytes: `u8 len ‖ head ‖ u8 unit_len ‖
                    // unit ‖ u16 LE count`, the head then the unit 256 × count times (at
                    // most a record's worth): a batch of millions of tiny entries, say.
                    let head_len = usize::from(input.u8());
                    let mut record = input.take(head_len).to_vec();
                    let unit_len = usize::from(input.u8() % 16);
                    let unit = input.take(unit_len).to_vec();
                    let count = usize::from(input.u16()) * 256;
                    if !unit.is_empty() {
                        let room = (MAX_MESSAGE_LEN - record.len()) / unit.len();
                        record.reserve(unit.len() * count.min(room));
                        for _ in 0..count.min(room) {
                            record.extend_from_slice(&unit);
                        }
                    }
                    self.send_record(&record);
                }
            },
        }
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mode = input.u8();
    let mut run = Run::new(mode);
    run.check();
    while !input.is_empty() && !run.closed {
        let op = input.u8();
        run.begin_step();
        run.step(op, &mut input);
        run.pump();
        run.check();
    }
    // Bytes decrypted into nothing, a request id never answered: whatever happened, time
    // running on must keep the endpoint sound.
    for _ in 0..4 {
        run.begin_step();
        run.now += Duration::from_secs(3);
        if run.ep.poll_timeout().is_some_and(|t| t <= run.now) {
            run.ep.handle_timeout(run.now);
        }
        run.pump();
        run.check();
    }
    if std::env::var_os("SESSION_TRACE").is_some() {
        let log = run.ep.log(run.core).unwrap();
        eprintln!(
            "end: fork {} length {} contiguous {} closed {}",
            log.fork(),
            log.length(),
            log.contiguous_length(),
            run.closed
        );
    }
});
