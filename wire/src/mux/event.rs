//! What a [`Mux`](super::Mux) reports to the application.

use alloc::string::String;
use bytes::Bytes;

/// A local channel: our local id, as sent in our frames.
///
/// Ids are reused (last freed, first reused, as in protomux) once a channel is closed and
/// the peer has released the id, so forget an id when its [`MuxEvent::Closed`] arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub(super) u64);

impl ChannelId {
    /// The local id (≥ 1).
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

impl From<ChannelId> for u64 {
    fn from(id: ChannelId) -> u64 {
        id.0
    }
}

/// Why a channel closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The application called [`Mux::close`](super::Mux::close).
    Local,
    /// The peer closed its side (a `close` frame).
    Remote,
    /// The peer refused our open (a `reject` frame).
    Rejected,
    /// The stream ended ([`Mux::handle_end`](super::Mux::handle_end)).
    Ended,
    /// The peer sent a malformed frame or broke a rule, which is fatal to the whole mux.
    Failed,
}

/// Something the application must know about; drain with
/// [`Mux::poll_event`](super::Mux::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MuxEvent {
    /// The peer opened a channel of a [listened](super::Mux::listen) protocol and no local
    /// channel was waiting for it. It stays pending until the application answers with
    /// [`open`](super::Mux::open) (same protocol and id: they pair) or
    /// [`reject`](super::Mux::reject).
    OpenRequest {
        /// Protocol name.
        protocol: String,
        /// Channel id bytes (`None` for none or empty).
        id: Option<Bytes>,
        /// The peer's handshake payload (in the protocol's codec).
        handshake: Bytes,
        /// The peer's local id for the channel (distinguishes requests with one key).
        remote_id: u64,
    },
    /// The peer closed a channel it had opened before the application answered it: the
    /// request is gone (the mux told the peer with a `reject`, releasing its id).
    OpenWithdrawn {
        /// Protocol name.
        protocol: String,
        /// Channel id bytes.
        id: Option<Bytes>,
        /// The peer's local id of the withdrawn open.
        remote_id: u64,
    },
    /// A local channel is fully open: both sides sent `open`. Messages the peer sent
    /// before follow at once, in order.
    Opened {
        /// The local channel.
        channel: ChannelId,
        /// Protocol name.
        protocol: String,
        /// Channel id bytes.
        id: Option<Bytes>,
        /// The **peer's** handshake payload.
        handshake: Bytes,
    },
    /// A message on a fully open channel. Every message type is delivered: the mux
    /// registers none, so ignoring types the protocol does not know (as protomux does
    /// with types past its registered ones) is the application's job.
    Message {
        /// The local channel.
        channel: ChannelId,
        /// Message type number.
        message_type: u64,
        /// The encoded message.
        payload: Bytes,
    },
    /// A local channel closed; its id may be reused by the next open.
    Closed {
        /// The local channel.
        channel: ChannelId,
        /// Why.
        reason: CloseReason,
    },
}
