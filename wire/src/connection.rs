//! A whole peer connection: [`SecretStream`] below, [`Mux`] above, as one state machine.
//!
//! The layers stay usable alone: a session that already has an encrypted stream (an
//! out-of-band handshake, [`SecretStream::from_handshake`]) builds the connection from it,
//! and one that already has plaintext protomux frames drives a [`Mux`] directly.
//!
//! ```
//! use core::time::Duration;
//! use ferrocore_wire::connection::{Connection, ConnectionEvent};
//! use ferrocore_wire::mux::{MuxConfig, MuxEvent};
//! use ferrocore_wire::noise::{KeyPair, Role};
//! use ferrocore_wire::stream::{Entropy, StreamConfig};
//!
//! let t = Duration::ZERO;
//! let new = |role, seed: u8| {
//!     let entropy = Entropy { ephemeral_seed: [seed + 2; 32], header: [seed; 24] };
//!     Connection::new(role, KeyPair::from_seed([seed; 32]), entropy, StreamConfig::default(), MuxConfig::default(), t)
//! };
//! let (mut a, mut b) = (new(Role::Initiator, 1), new(Role::Responder, 2));
//! b.mux().listen("example/v1");
//! let ch = a.mux().open("example/v1", None, b"").unwrap();
//! a.mux().send(ch, 0, b"hi").unwrap();
//! let mut got = Vec::new();
//! for _ in 0..4 {
//!     while let Some(x) = a.poll_transmit() { b.handle_input(t, &x).unwrap(); }
//!     while let Some(x) = b.poll_transmit() { a.handle_input(t, &x).unwrap(); }
//!     while let Some(ev) = b.poll_event() {
//!         match ev {
//!             ConnectionEvent::Mux(MuxEvent::OpenRequest { protocol, id, .. }) => {
//!                 b.mux().open(&protocol, id.as_deref(), b"").unwrap();
//!             }
//!             ConnectionEvent::Mux(MuxEvent::Message { payload, .. }) => got.push(payload),
//!             _ => {}
//!         }
//!     }
//! }
//! assert_eq!(got, ["hi"]);
//! ```

use core::time::Duration;

use bytes::Bytes;

use crate::mux::{Mux, MuxConfig, MuxError, MuxEvent};
use crate::noise::{KeyPair, Role};
use crate::stream::{
    Blame, Connected, Entropy, SecretStream, StreamConfig, StreamError, StreamEvent,
};

/// Why a connection failed; either layer's error, with its blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The encrypted stream failed.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// The mux failed (a malformed frame or a broken rule).
    #[error(transparent)]
    Mux(#[from] MuxError),
}

impl ConnectionError {
    /// Who caused it.
    #[must_use]
    pub fn blame(&self) -> Blame {
        match self {
            ConnectionError::Stream(e) => e.blame(),
            ConnectionError::Mux(MuxError::ApiMisuse(_)) => Blame::Local,
            ConnectionError::Mux(_) => Blame::Peer,
        }
    }
}

/// What a connection reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The handshake completed (the peer's identity and the handshake hash).
    Connected(Connected),
    /// Something happened on the mux: opens, messages, closes.
    Mux(MuxEvent),
    /// The peer ended its side: every channel has closed.
    RemoteEnded,
    /// The peer's frames failed the mux (a malformed frame or a broken rule, found as its
    /// records were handed to the mux while events were polled): every channel has closed
    /// ([`CloseReason::Failed`](crate::mux::CloseReason::Failed)) and the connection failed
    /// for good; drop the socket. Reported once, after the events before the failure.
    Failed(ConnectionError),
}

/// One peer connection: secret-stream ▸ protomux.
#[derive(Debug)]
pub struct Connection {
    stream: SecretStream,
    mux: Mux,
    /// The stream's `Connected`, reported before any mux event.
    pending_connected: Option<Connected>,
    remote_ended: bool,
    remote_end_reported: bool,
    failed: Option<ConnectionError>,
}

impl Connection {
    /// A connection that runs the in-band Noise handshake as `role`.
    #[must_use]
    pub fn new(
        role: Role,
        key_pair: KeyPair,
        entropy: Entropy,
        stream_config: StreamConfig,
        mux_config: MuxConfig,
        now: Duration,
    ) -> Self {
        Self::from_stream(
            SecretStream::new(stream_config, role, key_pair, entropy, now),
            Mux::new(mux_config),
        )
    }

    /// A connection over an existing stream (e.g. one set up after an out-of-band handshake)
    /// and mux.
    #[must_use]
    pub fn from_stream(stream: SecretStream, mux: Mux) -> Self {
        Self {
            stream,
            mux,
            pending_connected: None,
            remote_ended: false,
            remote_end_reported: false,
            failed: None,
        }
    }

    /// The mux: open, send on and close channels here.
    pub fn mux(&mut self) -> &mut Mux {
        &mut self.mux
    }

    /// The encrypted stream (state, buffered bytes, errors).
    #[must_use]
    pub fn stream(&self) -> &SecretStream {
        &self.stream
    }

    /// The error the connection failed with, if it did.
    #[must_use]
    pub fn error(&self) -> Option<&ConnectionError> {
        self.failed.as_ref()
    }

    /// Bytes from the socket, in any chunking. Records are opened at once, and handed to
    /// the mux one at a time as [`poll_event`](Self::poll_event) drains the events of the
    /// ones before (so an input of many records, or one record of a huge batch, never
    /// becomes an event per message at once). An error here is the stream's: it fails the
    /// connection for good (drop the socket), though the records opened before it still
    /// reach the mux, as in the reference. The mux's errors come from `poll_event` as
    /// [`ConnectionEvent::Failed`].
    pub fn handle_input(&mut self, now: Duration, bytes: &[u8]) -> Result<(), ConnectionError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self
            .stream
            .handle_input(now, bytes)
            .map_err(ConnectionError::from);
        self.check(result)
    }

    fn check(&mut self, result: Result<(), ConnectionError>) -> Result<(), ConnectionError> {
        if let Err(e) = &result {
            if e.blame() != Blame::Local {
                self.failed = Some(e.clone());
            }
        }
        result
    }

    /// The socket reported end of input.
    pub fn handle_end(&mut self) -> Result<(), ConnectionError> {
        let result = self.stream.handle_end().map_err(ConnectionError::from);
        self.check(result)
    }

    /// Ends this side: closes every channel (the mux ends) and half-closes the stream once
    /// the last frames are out.
    pub fn end(&mut self) {
        self.flush_mux();
        self.mux.handle_end();
        self.stream.end();
    }

    /// Whether this side ended.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.stream.is_ended()
    }

    /// Whether the peer ended its side.
    #[must_use]
    pub fn is_remote_ended(&self) -> bool {
        self.remote_ended
    }

    /// Sends `frame` as one record after the frames the mux has queued, bypassing the mux:
    /// for frames built elsewhere (a relay, a test's hand-made batch). The mux does not see
    /// it, so a frame that opens or closes channels leaves the peer's view of this mux
    /// out of step with it.
    pub fn send_frame(&mut self, frame: &[u8]) -> Result<(), ConnectionError> {
        self.flush_mux();
        self.stream.send(frame).map_err(ConnectionError::from)
    }

    /// Seals every frame the mux has ready.
    fn flush_mux(&mut self) {
        if self.stream.is_ended() {
            return;
        }
        while let Some(frame) = self.mux.poll_transmit() {
            if self.stream.send(&frame).is_err() {
                break;
            }
        }
    }

    /// Bytes to write to the socket, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.flush_mux();
        self.stream.poll_transmit()
    }

    /// The next event, if any. Records waiting in the stream are handed to the mux here, one
    /// at a time once the mux's events are drained (see [`handle_input`](Self::handle_input)).
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        if let Some(c) = self.pending_connected.take() {
            return Some(ConnectionEvent::Connected(c));
        }
        loop {
            if let Some(ev) = self.mux.poll_event() {
                return Some(ConnectionEvent::Mux(ev));
            }
            if let Some(e) = self.mux.error() {
                if self.failed.is_none() {
                    let e = ConnectionError::Mux(e.clone());
                    self.failed = Some(e.clone());
                    return Some(ConnectionEvent::Failed(e));
                }
            }
            match self.stream.poll_event() {
                // An error fails the mux, reported above once its events are out.
                Some(StreamEvent::Message(frame)) => {
                    let _ = self.mux.handle_frame(frame);
                }
                Some(StreamEvent::Connected(c)) => return Some(ConnectionEvent::Connected(c)),
                Some(StreamEvent::RemoteEnded) => {
                    self.remote_ended = true;
                    self.mux.handle_end();
                }
                None => {
                    let stream_failed = matches!(self.failed, Some(ConnectionError::Stream(_)));
                    if stream_failed && !self.mux.is_ended() {
                        // Everything opened before the stream failed has been handled: the
                        // mux ends now.
                        self.mux.handle_end();
                        continue;
                    }
                    break;
                }
            }
        }
        if self.remote_ended && !self.remote_end_reported {
            self.remote_end_reported = true;
            return Some(ConnectionEvent::RemoteEnded);
        }
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.stream.poll_timeout()
    }

    /// Time passed (keep-alives, handshake and idle timeouts).
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), ConnectionError> {
        let result = self
            .stream
            .handle_timeout(now)
            .map_err(ConnectionError::from);
        self.check(result)
    }
}
