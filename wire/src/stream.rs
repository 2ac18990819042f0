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

/// How a stream behaves; [`Default`] matches hypercore's `replicate()` streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Send an empty record after this long without sending anything (hypercore: 5 s).
    pub keep_alive: Option<Duration>,
    /// Fail if the handshake has not completed this long after the stream started.
    pub handshake_timeout: Option<Duration>,
    /// Fail if nothing at all arrives for this long once connected (off by default: a
    /// plain secret-stream peer need not send keep-alives).
    pub idle_timeout: Option<Duration>,
    /// The largest record body accepted from the peer (at most [`MAX_RECORD_LEN`], which
    /// is the default and the protocol's own limit). A larger length prefix fails the
    /// stream before its body is buffered.
    pub max_record_len: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            keep_alive: Some(Duration::from_secs(5)),
            handshake_timeout: Some(Duration::from_secs(10)),
            idle_timeout: None,
            max_record_len: MAX_RECORD_LEN,
        }
    }
}

/// The randomness one stream needs, drawn by the caller.
#[derive(Clone)]
pub struct Entropy {
    /// Seed of the ephemeral Noise key pair.
    pub ephemeral_seed: [u8; 32],
    /// This side's secretstream header.
    pub header: [u8; HEADER_LEN],
}

impl core::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Entropy { .. }")
    }
}

/// Who is to blame for a [`StreamError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The peer sent bytes that break the protocol (or were tampered with).
    Peer,
    /// The peer went silent past a deadline.
    Timeout,
    /// The caller used the API wrongly.
    Local,
}

/// Why a stream failed. Once failed, a stream stays failed: every later input is refused
/// with the same error and nothing more is transmitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The Noise handshake failed.
    #[error("handshake failed: {0}")]
    Handshake(#[from] NoiseError),
    /// A length prefix that is wrong for its place (the message says which).
    #[error("malformed stream: {0}")]
    Malformed(&'static str),
    /// A record longer than [`StreamConfig::max_record_len`].
    #[error("record of {len} bytes exceeds the limit of {max}")]
    Oversize {
        /// The announced body length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The peer's header record named the wrong stream id (a different handshake).
    #[error("invalid header received: stream id mismatch")]
    StreamIdMismatch,
    /// A record failed authentication: corrupted or forged bytes.
    #[error("record failed authentication")]
    Decrypt,
    /// The handshake did not complete in time.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// Nothing arrived for [`StreamConfig::idle_timeout`].
    #[error("stream timed out")]
    IdleTimeout,
    /// A plaintext longer than [`MAX_MESSAGE_LEN`] was given to [`SecretStream::send`].
    #[error("message of {0} bytes exceeds the record limit")]
    MessageTooLarge(usize),
    /// [`SecretStream::send`] after [`SecretStream::end`].
    #[error("the stream was ended")]
    Ended,
    /// Bytes arrived after the peer ended its side.
    #[error("bytes after the remote end")]
    DataAfterEnd,
}

impl From<AuthError> for StreamError {
    fn from(_: AuthError) -> Self {
        StreamError::Decrypt
    }
}

impl StreamError {
    /// Who caused it.
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            StreamError::Handshake(NoiseError::Misuse(_))
            | StreamError::MessageTooLarge(_)
            | StreamError::Ended => Blame::Local,
            StreamError::HandshakeTimeout | StreamError::IdleTimeout => Blame::Timeout,
            _ => Blame::Peer,
        }
    }
}

/// What the handshake established, reported once by [`StreamEvent::Connected`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// The peer's static public key (its identity).
    pub remote_public_key: [u8; 32],
    /// This side's static public key.
    pub public_key: [u8; 32],
    /// The handshake hash (64 bytes): the same on both sides, unique to this connection
    /// (hypercore derives its capabilities from it).
    pub handshake_hash: [u8; 64],
    /// This side's role.
    pub role: Role,
}

/// What a stream reports, in order, through [`SecretStream::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// The handshake completed; messages can now flow both ways.
    Connected(Connected),
    /// One plaintext from the peer (keep-alives are not reported).
    Message(Bytes),
    /// The peer ended its side (the socket reported end of input). Nothing more arrives.
    RemoteEnded,
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

    /// Bytes from the socket, in any chunking. Complete units are processed at once; their
    /// results wait in [`poll_event`](Self::poll_event) and
    /// [`poll_transmit`](Self::poll_transmit). An error fails the stream for good: the
    /// caller should drop the connection (the reference destroys the socket, with no
    /// goodbye on the wire).
    pub fn handle_input(&mut self, now: Duration, mut bytes: &[u8]) -> Result<(), StreamError> {
        self.tick(now);
        if let Phase::Failed(e) = self.phase {
            return Err(e);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.ended_remotely {
            return self.fail(StreamError::DataAfterEnd);
        }
        self.last_received = now;
        while !bytes.is_empty() {
            // The complete records at the front of `bytes`, once the stream is open, are
            // decrypted straight from `bytes` into one buffer their messages then share:
            // one allocation per input, and no copy of the ciphertext first.
            let run = self.complete_records(bytes);
            if run > 0 {
                if let Err(e) = self.open_records(&bytes[..run]) {
                    return self.fail(e);
                }
                bytes = &bytes[run..];
                continue;
            }
            // Otherwise take only what completes the current unit, so a bad prefix is
            // refused before its body is buffered and the buffer never holds more than
            // one unit.
            let want = match self.unit_len() {
                Ok(Some(body)) => PREFIX_LEN + body,
                Ok(None) => PREFIX_LEN,
                Err(e) => return self.fail(e),
            };
            let take = want
                .saturating_sub(self.input.len())
                .min(bytes.len())
                .max(1);
            // Room for what arrived, not for what the prefix announces: a 3-byte prefix must
            // not make us hold a 16 MiB buffer. The buffer grows by doubling as the unit
            // arrives (realloc, which for large buffers remaps rather than copies; the
            // capacity past what arrived is never touched, so it costs no memory).
            self.input.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if let Err(e) = self.drain_units() {
                return self.fail(e);
            }
        }
        Ok(())
    }

    /// How many bytes at the front of `bytes` are complete records of an open stream with
    /// valid lengths, when nothing is buffered; 0 otherwise (the unit-by-unit path then
    /// buffers, and refuses a bad prefix with its error).
    fn complete_records(&self, bytes: &[u8]) -> usize {
        if !self.input.is_empty() || !matches!(self.phase, Phase::Open(_)) {
            return 0;
        }
        whole_records(bytes)
            .take_while(|record| self.check_record_len(record.len()).is_ok())
            .map(|record| PREFIX_LEN + record.len())
            .sum()
    }

    /// Opens `run`, whole records found by [`complete_records`](Self::complete_records),
    /// into one buffer of `u24 length ‖ plaintext` per non-empty record, in order (see
    /// [`Queued::Run`]).
    fn open_records(&mut self, run: &[u8]) -> Result<(), StreamError> {
        let Phase::Open(pull) = &mut self.phase else {
            return Err(StreamError::Malformed("records before the stream is open"));
        };
        let total = whole_records(run)
            .map(|r| match r.len().saturating_sub(ABYTES) {
                0 => 0,
                len => PREFIX_LEN + len,
            })
            .sum();
        let mut plain = BytesMut::zeroed(total);
        let mut at = 0;
        let mut result = Ok(());
        for record in whole_records(run) {
            let len = record.len().saturating_sub(ABYTES);
            let opened = if len == 0 {
                // A keep-alive: opened (the pull state advances), nothing queued.
                pull.open_into(record, &mut [])
            } else {
                plain[at..at + PREFIX_LEN].copy_from_slice(&(len as u32).to_le_bytes()[..3]);
                pull.open_into(record, &mut plain[at + PREFIX_LEN..at + PREFIX_LEN + len])
            };
            if let Err(e) = opened {
                // The records before this one still count.
                result = Err(e.into());
                break;
            }
            if len > 0 {
                at += PREFIX_LEN + len;
            }
        }
        plain.truncate(at);
        if at > 0 {
            self.events.push_back(Queued::Run(plain.freeze()));
        }
        result
    }

    /// The body length of the unit at the front of the input, once its prefix is in;
    /// checked against what the current phase allows.
    fn unit_len(&self) -> Result<Option<usize>, StreamError> {
        if self.input.len() < PREFIX_LEN {
            return Ok(None);
        }
        let len = get_u24(&self.input);
        match &self.phase {
            Phase::Handshake(h) => {
                let expected = h.expected_len();
                if expected == Some(len) {
                    Ok(Some(len))
                } else {
                    Err(StreamError::Handshake(NoiseError::BadLength {
                        message: h.expected_message(),
                        len,
                        expected: expected.unwrap_or(0),
                    }))
                }
            }
            Phase::AwaitHeader { .. } => {
                if len == HEADER_RECORD_LEN {
                    Ok(Some(len))
                } else {
                    Err(StreamError::Malformed("invalid header message received"))
                }
            }
            Phase::Open(_) => self.check_record_len(len).map(Some),
            Phase::Failed(e) => Err(*e),
        }
    }

    /// A record body length an open stream accepts: at least a tag and a MAC, at most
    /// the configured maximum.
    fn check_record_len(&self, len: usize) -> Result<usize, StreamError> {
        if len < ABYTES {
            Err(StreamError::Malformed("record shorter than 17 bytes"))
        } else if len > self.config.max_record_len {
            Err(StreamError::Oversize {
                len,
                max: self.config.max_record_len,
            })
        } else {
            Ok(len)
        }
    }

    /// Processes every complete unit in the input.
    fn drain_units(&mut self) -> Result<(), StreamError> {
        while let Some(body_len) = self.unit_len()? {
            if self.input.len() < PREFIX_LEN + body_len {
                return Ok(());
            }
            let mut unit = self.input.split_to(PREFIX_LEN + body_len);
            let _ = unit.split_to(PREFIX_LEN);
            self.handle_unit(unit)?;
        }
        Ok(())
    }

    fn handle_unit(&mut self, mut body: BytesMut) -> Result<(), StreamError> {
        match &mut self.phase {
            Phase::Handshake(h) => {
                let reply = h.read_message(&body)?;
                let result = if h.is_done() { Some(h.finish()?) } else { None };
                if let Some(reply) = reply {
                    self.write_unit(&reply);
                }
                if let Some(result) = result {
                    self.complete(&result);
                }
                Ok(())
            }
            Phase::AwaitHeader {
                pull_key,
                remote_id,
            } => {
                if body[..STREAM_ID_LEN] != remote_id[..] {
                    return Err(StreamError::StreamIdMismatch);
                }
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(&body[STREAM_ID_LEN..]);
                let pull = Box::new(Pull::new(pull_key, &header));
                self.phase = Phase::Open(pull);
                Ok(())
            }
            Phase::Open(pull) => {
                let (_tag, plain) = pull.open(&mut body)?;
                let len = plain.len();
                if len > 0 {
                    let mut body = body.freeze();
                    body.truncate(1 + len);
                    self.events
                        .push_back(Queued::Event(StreamEvent::Message(body.slice(1..))));
                }
                Ok(())
            }
            Phase::Failed(e) => Err(*e),
        }
    }

    /// The handshake is done: set up sending, send the header record and anything queued.
    fn complete(&mut self, result: &HandshakeResult) {
        let remote_role = match result.role {
            Role::Initiator => Role::Responder,
            Role::Responder => Role::Initiator,
        };
        let own_id = stream_id(&result.hash, result.role);
        self.output.reserve(PREFIX_LEN + HEADER_RECORD_LEN);
        put_u24(&mut self.output, HEADER_RECORD_LEN);
        self.output.put_slice(&own_id);
        self.output.put_slice(&self.header);
        self.push = Some(Box::new(Push::new(&result.tx, &self.header)));
        self.phase = Phase::AwaitHeader {
            pull_key: result.rx,
            remote_id: stream_id(&result.hash, remote_role),
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
