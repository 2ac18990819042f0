//! The `@hyperswarm/secret-stream` 6.9.2 transport as a sans-IO state machine: bytes from
//! the socket in ([`SecretStream::handle_input`]), bytes for the socket out
//! ([`SecretStream::poll_transmit`]), plaintext messages both ways.
//!
//! On the wire every unit is `uint24 LE length ‖ body`: first the three Noise XX messages
//! ([`noise`](crate::noise)), then one 56-byte header record per side (the sender's stream
//! id ‖ its secretstream header), then records sealed with
//! [`secretstream`](crate::secretstream), one plaintext each. An empty plaintext is a
//! keep-alive. Input may arrive in any chunking, one byte at a time included; a length
//! prefix above the configured bound is refused before anything is buffered.
//!
//! Time is passed in as a [`Duration`] since any fixed origin the caller chooses, and
//! randomness as [`Entropy`]; nothing here reads a clock or an RNG.
//!
//! ```
//! use core::time::Duration;
//! use ferrocore_wire::noise::KeyPair;
//! use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent};
//!
//! let t = Duration::ZERO;
//! let entropy = |b| Entropy { ephemeral_seed: [b; 32], header: [b; 24] };
//! let mut a = SecretStream::initiator(StreamConfig::default(), KeyPair::from_seed([1; 32]), entropy(3), t);
//! let mut b = SecretStream::responder(StreamConfig::default(), KeyPair::from_seed([2; 32]), entropy(4), t);
//! a.send(b"hello").unwrap(); // queued until the handshake completes
//! for _ in 0..3 {
//!     while let Some(bytes) = a.poll_transmit() { b.handle_input(t, &bytes).unwrap(); }
//!     while let Some(bytes) = b.poll_transmit() { a.handle_input(t, &bytes).unwrap(); }
//! }
//! assert!(matches!(b.poll_event(), Some(StreamEvent::Connected(_))));
//! assert_eq!(b.poll_event(), Some(StreamEvent::Message(b"hello"[..].into())));
//! ```

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use core::time::Duration;

use blake2b_simd::Params;
use bytes::{BufMut, Bytes, BytesMut};

use crate::encoding::hex32;
use crate::noise::{Handshake, HandshakeResult, KeyPair, NoiseError, Role};
use crate::secretstream::{AuthError, Pull, Push, ABYTES, HEADER_LEN, TAG_MESSAGE};

mod input;
mod types;

pub use types::{Blame, Connected, Entropy, StreamConfig, StreamError, StreamEvent};

/// `namespace("hyperswarm/secret-stream", 3)[0]`: hashed into the initiator's stream id.
pub const NS_INITIATOR: [u8; 32] =
    hex32("a931a0155b5c09e6d28628236af83c4b8a6af9af60986edeede9dc5d63192bf7");
/// `namespace("hyperswarm/secret-stream", 3)[1]`: hashed into the responder's stream id.
pub const NS_RESPONDER: [u8; 32] =
    hex32("742c9d833d430af4c48a8705e91631eecf295442bbca18996e597097723b1061");

/// Length of a stream id.
pub const STREAM_ID_LEN: usize = 32;
/// Body length of the header record: stream id ‖ secretstream header.
pub const HEADER_RECORD_LEN: usize = STREAM_ID_LEN + HEADER_LEN;
/// The largest body a `uint24` length prefix can describe.
pub const MAX_RECORD_LEN: usize = 0xff_ffff;
/// The largest plaintext one record can carry.
pub const MAX_MESSAGE_LEN: usize = MAX_RECORD_LEN - ABYTES;
/// Bytes of the length prefix.
const PREFIX_LEN: usize = 3;
/// The output buffer is reused once its bytes are written (the bytes handed out share it)
/// unless they were more than this.
const RETAINED_OUTPUT: usize = 1 << 20;

/// The stream id a side of `role` sends: BLAKE2b-256 keyed by the handshake hash.
#[must_use]
pub fn stream_id(handshake_hash: &[u8], role: Role) -> [u8; 32] {
    let ns = match role {
        Role::Initiator => &NS_INITIATOR,
        Role::Responder => &NS_RESPONDER,
    };
    let digest = Params::new().hash_length(32).key(handshake_hash).hash(ns);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_bytes());
    out
}

/// Where a stream is.
enum Phase {
    /// Running the Noise handshake.
    Handshake(Box<Handshake>),
    /// Connected and sending; waiting for the peer's header record.
    AwaitHeader {
        pull_key: [u8; 32],
        remote_id: [u8; 32],
    },
    /// Both directions set up.
    Open(Box<Pull>),
    /// Failed for good.
    Failed(StreamError),
}

/// What waits in [`SecretStream::poll_event`]: an event, or a run of messages opened from
/// one input, each as `u24 length ‖ plaintext` in one buffer. A run costs 3 bytes per
/// message (less than the record's own 20 bytes of framing and tag), not a queue entry per
/// message, so an input of many tiny records is held in no more memory than its own bytes.
enum Queued {
    Event(StreamEvent),
    Run(Bytes),
}

/// One secret-stream connection, either side.
pub struct SecretStream {
    config: StreamConfig,
    phase: Phase,
    /// The sealing half, once the handshake is done.
    push: Option<Box<Push>>,
    /// This side's secretstream header, sent in its header record.
    header: [u8; HEADER_LEN],
    /// Bytes received and not yet consumed (at most one unit's worth past what is parsed).
    input: BytesMut,
    /// Bytes to transmit.
    output: BytesMut,
    /// Plaintexts given to [`send`](Self::send) before the handshake completed.
    queued: VecDeque<Bytes>,
    events: VecDeque<Queued>,
    /// The latest time the caller told us.
    now: Duration,
    started: Duration,
    last_sent: Duration,
    last_received: Duration,
    ended_locally: bool,
    ended_remotely: bool,
}

impl core::fmt::Debug for SecretStream {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let phase = match &self.phase {
            Phase::Handshake(h) => {
                return f
                    .debug_struct("SecretStream")
                    .field("handshake", h)
                    .finish_non_exhaustive()
            }
            Phase::AwaitHeader { .. } => "awaiting header",
            Phase::Open(_) => "open",
            Phase::Failed(_) => "failed",
        };
        f.debug_struct("SecretStream")
            .field("phase", &phase)
            .field("buffered_input", &self.input.len())
            .field("pending_output", &self.output.len())
            .finish_non_exhaustive()
    }
}

impl SecretStream {
    /// The initiating side of an in-band handshake (`new SecretStream(true, socket)`). Its
    /// first message is ready for [`poll_transmit`](Self::poll_transmit) at once.
    #[must_use]
    pub fn initiator(
        config: StreamConfig,
        key_pair: KeyPair,
        entropy: Entropy,
        now: Duration,
    ) -> Self {
        Self::new(config, Role::Initiator, key_pair, entropy, now)
    }

    /// The responding side of an in-band handshake.
    #[must_use]
    pub fn responder(
        config: StreamConfig,
        key_pair: KeyPair,
        entropy: Entropy,
        now: Duration,
    ) -> Self {
        Self::new(config, Role::Responder, key_pair, entropy, now)
    }

    /// Either side of an in-band handshake.
    #[must_use]
    pub fn new(
        config: StreamConfig,
        role: Role,
        key_pair: KeyPair,
        entropy: Entropy,
        now: Duration,
    ) -> Self {
        let mut handshake = Box::new(Handshake::new(role, key_pair, entropy.ephemeral_seed));
        let first = match role {
            Role::Initiator => Some(
                handshake
                    .initial_message()
                    .expect("a fresh initiator writes its first message"),
            ),
            Role::Responder => None,
        };
        let mut stream = Self::empty(config, Phase::Handshake(handshake), entropy.header, now);
        if let Some(msg1) = first {
            stream.write_unit(&msg1);
        }
        stream
    }

    /// A stream whose handshake happened elsewhere (hyperdht runs Noise during connection
    /// set-up and hands over its result): it starts at the header records.
    #[must_use]
    pub fn from_handshake(
        config: StreamConfig,
        result: &HandshakeResult,
        header: [u8; HEADER_LEN],
        now: Duration,
    ) -> Self {
        let mut stream = Self::empty(config, Phase::Failed(StreamError::Ended), header, now);
        stream.complete(result); // sets the phase
        stream
    }

    fn empty(config: StreamConfig, phase: Phase, header: [u8; HEADER_LEN], now: Duration) -> Self {
        Self {
            config,
            phase,
            push: None,
            header,
            input: BytesMut::new(),
            output: BytesMut::new(),
            queued: VecDeque::new(),
            events: VecDeque::new(),
            now,
            started: now,
            last_sent: now,
            last_received: now,
            ended_locally: false,
            ended_remotely: false,
        }
    }

    /// Whether the handshake has completed (messages are sealed and sent at once).
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.push.is_some() && !self.is_failed()
    }

    /// Whether the stream failed.
    #[must_use]
    pub fn is_failed(&self) -> bool {
        matches!(self.phase, Phase::Failed(_))
    }

    /// The error the stream failed with, if it did.
    #[must_use]
    pub fn error(&self) -> Option<StreamError> {
        match self.phase {
            Phase::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// Whether this side ended (after its last bytes are transmitted the socket should be
    /// shut down for writing).
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.ended_locally
    }

    /// Whether the peer ended its side.
    #[must_use]
    pub fn is_remote_ended(&self) -> bool {
        self.ended_remotely
    }

    /// Bytes received but not yet a whole unit.
    #[must_use]
    pub fn buffered_input(&self) -> usize {
        self.input.len()
    }

    /// Bytes waiting for [`poll_transmit`](Self::poll_transmit).
    #[must_use]
    pub fn pending_output(&self) -> usize {
        self.output.len()
    }

    /// The handshake is done: set up sending, send the header record and anything queued.
    fn complete(&mut self, result: &HandshakeResult) {
        let own_id = stream_id(&result.hash, result.role);
        self.output.reserve(PREFIX_LEN + HEADER_RECORD_LEN);
        put_u24(&mut self.output, HEADER_RECORD_LEN);
        self.output.put_slice(&own_id);
        self.output.put_slice(&self.header);
        self.push = Some(Box::new(Push::new(&result.tx, &self.header)));
        self.phase = Phase::AwaitHeader {
            pull_key: result.rx,
            remote_id: stream_id(&result.hash, result.role.other()),
        };
        self.events
            .push_back(Queued::Event(StreamEvent::Connected(Connected {
                remote_public_key: result.remote_public_key,
                public_key: result.public_key,
                handshake_hash: result.hash,
                role: result.role,
            })));
        while let Some(plain) = self.queued.pop_front() {
            self.seal(&plain);
        }
        self.last_sent = self.now;
    }

    /// Sends one plaintext (at most [`MAX_MESSAGE_LEN`] bytes) as one record: sealed in
    /// place into the output buffer at once, or queued until the handshake completes.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), StreamError> {
        if let Phase::Failed(e) = self.phase {
            return Err(e);
        }
        if self.ended_locally {
            return Err(StreamError::Ended);
        }
        if plaintext.len() > MAX_MESSAGE_LEN {
            return Err(StreamError::MessageTooLarge(plaintext.len()));
        }
        if self.push.is_some() {
            self.seal(plaintext);
        } else {
            self.queued.push_back(Bytes::copy_from_slice(plaintext));
        }
        Ok(())
    }

    /// Appends `uint24 ‖ sealed(plaintext)` to the output.
    fn seal(&mut self, plaintext: &[u8]) {
        let Some(push) = self.push.as_mut() else {
            return;
        };
        let record_len = plaintext.len() + ABYTES;
        self.output.reserve(PREFIX_LEN + record_len);
        put_u24(&mut self.output, record_len);
        let start = self.output.len();
        self.output.put_bytes(0, record_len);
        push.seal_from(plaintext, &mut self.output[start..], TAG_MESSAGE);
        self.last_sent = self.now;
    }

    fn write_unit(&mut self, body: &[u8]) {
        self.output.reserve(PREFIX_LEN + body.len());
        put_u24(&mut self.output, body.len());
        self.output.put_slice(body);
        self.last_sent = self.now;
    }

    /// Ends this side: nothing more can be sent; once [`poll_transmit`](Self::poll_transmit)
    /// is drained the caller shuts the socket down for writing (secret-stream sends no
    /// goodbye record).
    pub fn end(&mut self) {
        self.ended_locally = true;
        self.queued.clear();
    }

    /// The socket reported end of input. Ending inside a unit (a cut-off record, or a length
    /// prefix that was tampered with to announce more than was sent) fails the stream.
    pub fn handle_end(&mut self) -> Result<(), StreamError> {
        if let Phase::Failed(e) = self.phase {
            return Err(e);
        }
        if !self.input.is_empty() {
            return self.fail(StreamError::Malformed("stream ended inside a record"));
        }
        if !self.ended_remotely {
            self.ended_remotely = true;
            self.events
                .push_back(Queued::Event(StreamEvent::RemoteEnded));
        }
        Ok(())
    }

    /// Bytes to write to the socket, if any (everything pending, in one buffer).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.output.is_empty() || self.is_failed() {
            return None;
        }
        let out = self.output.split().freeze();
        if out.len() > RETAINED_OUTPUT {
            // Not kept for reuse: an idle stream would otherwise hold its largest write.
            self.output = BytesMut::new();
        }
        Some(out)
    }

    /// The next event, if any. Messages opened from one input come out one at a time, each
    /// a slice of the input's one plaintext buffer.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        loop {
            match self.events.pop_front()? {
                Queued::Event(event) => return Some(event),
                Queued::Run(mut run) => {
                    if run.len() <= PREFIX_LEN {
                        continue;
                    }
                    let len = get_u24(&run).min(run.len() - PREFIX_LEN);
                    let message = run.split_to(PREFIX_LEN + len).slice(PREFIX_LEN..);
                    if !run.is_empty() {
                        self.events.push_front(Queued::Run(run));
                    }
                    return Some(StreamEvent::Message(message));
                }
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.is_failed() {
            return None;
        }
        let mut next: Option<Duration> = None;
        let mut consider = |t: Option<Duration>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        if self.push.is_none() {
            consider(self.config.handshake_timeout.map(|d| self.started + d));
        } else {
            if !self.ended_locally {
                consider(self.config.keep_alive.map(|d| self.last_sent + d));
            }
            if !self.ended_remotely {
                consider(self.config.idle_timeout.map(|d| self.last_received + d));
            }
        }
        next
    }

    /// Time passed: fails a late handshake or a silent peer, sends a due keep-alive.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), StreamError> {
        self.tick(now);
        if let Phase::Failed(e) = self.phase {
            return Err(e);
        }
        if self.push.is_none() {
            if self
                .config
                .handshake_timeout
                .is_some_and(|d| now >= self.started + d)
            {
                return self.fail(StreamError::HandshakeTimeout);
            }
            return Ok(());
        }
        if !self.ended_remotely
            && self
                .config
                .idle_timeout
                .is_some_and(|d| now >= self.last_received + d)
        {
            return self.fail(StreamError::IdleTimeout);
        }
        if !self.ended_locally
            && self
                .config
                .keep_alive
                .is_some_and(|d| now >= self.last_sent + d)
        {
            self.seal(&[]);
        }
        Ok(())
    }

    fn tick(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }

    fn fail<T>(&mut self, e: StreamError) -> Result<T, StreamError> {
        self.phase = Phase::Failed(e);
        self.output.clear();
        self.queued.clear();
        Err(e)
    }
}

/// The little-endian 24-bit length at the front of `prefix` (at least 3 bytes).
/// The records whose prefix and body are whole at the front of `bytes` (each without its
/// prefix), in order, up to the first one cut off. Their lengths are not checked.
fn whole_records(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    core::iter::from_fn(move || {
        let len = get_u24(bytes.get(at..at + PREFIX_LEN)?);
        let record = bytes.get(at + PREFIX_LEN..at + PREFIX_LEN + len)?;
        at += PREFIX_LEN + len;
        Some(record)
    })
}

fn get_u24(prefix: &[u8]) -> usize {
    usize::from(prefix[0]) | usize::from(prefix[1]) << 8 | usize::from(prefix[2]) << 16
}

fn put_u24(out: &mut BytesMut, len: usize) {
    debug_assert!(len <= MAX_RECORD_LEN);
    out.put_slice(&(len as u32).to_le_bytes()[..3]);
}
