//! Errors of the [`Mux`](super::Mux), split by blame.

use super::ChannelId;
use crate::DecodeError;

/// Why a [`Mux`](super::Mux) call failed.
///
/// [`Malformed`](MuxError::Malformed) and [`PeerMisbehaved`](MuxError::PeerMisbehaved) come
/// from the peer's frames and are fatal, as in protomux (which destroys the stream): the mux
/// closes every channel ([`CloseReason::Failed`]), ignores later frames and keeps the error
/// in [`Mux::error`](super::Mux::error). [`handle_frame`](super::Mux::handle_frame) returns
/// one found while it runs; one found later, in a batch entry decoded while events are
/// polled, is only in [`Mux::error`](super::Mux::error). [`ApiMisuse`](MuxError::ApiMisuse) is the caller's mistake and changes
/// nothing.
///
/// [`CloseReason::Failed`]: super::CloseReason::Failed
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MuxError {
    /// The peer sent bytes that do not decode as a protomux frame.
    #[error("malformed protomux frame: {0}")]
    Malformed(#[from] DecodeError),
    /// The peer broke a protomux rule or a configured limit.
    #[error("peer misbehaved: {0}")]
    PeerMisbehaved(#[from] PeerFault),
    /// The application asked for something impossible.
    #[error("mux misuse: {0}")]
    ApiMisuse(#[from] Misuse),
}

/// A rule or limit the peer broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerFault {
    /// An `open` whose id is neither one past the highest remote id seen nor a free slot
    /// (protomux: "Invalid open message").
    #[error("invalid open of remote channel {remote_id}")]
    InvalidOpen {
        /// The id the peer tried to open.
        remote_id: u64,
    },
    /// A `reject` of a local id that has no unanswered open (protomux: "Invalid reject
    /// message").
    #[error("invalid reject of local channel {local_id}")]
    InvalidReject {
        /// The local id the peer named.
        local_id: u64,
    },
    /// A remote open would exceed [`MuxConfig::max_channels`](super::MuxConfig).
    #[error("too many channels")]
    TooManyChannels,
    /// A remote open would exceed [`MuxConfig::max_pending_opens`](super::MuxConfig).
    #[error("too many unanswered opens")]
    TooManyPendingOpens,
    /// A pending open or a message for one would exceed
    /// [`MuxConfig::max_buffered_bytes`](super::MuxConfig).
    #[error("buffered bytes limit exceeded")]
    BufferLimitExceeded,
    /// Batches nested deeper than [`MAX_BATCH_DEPTH`](super::MAX_BATCH_DEPTH).
    #[error("batches nested too deep")]
    BatchTooDeep,
    /// One frame's batches held more than
    /// [`MuxConfig::max_batch_entries`](super::MuxConfig) entries.
    #[error("batch of more than {max} entries")]
    BatchTooLarge {
        /// The limit.
        max: usize,
    },
}

/// A mistake of the application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// The channel is closed, or was never opened (also when the peer closed it and the
    /// [`Closed`](super::MuxEvent::Closed) event is still queued).
    #[error("channel {} is not open", .0.get())]
    ChannelNotOpen(ChannelId),
    /// Opening one more channel would exceed [`MuxConfig::max_channels`](super::MuxConfig).
    #[error("too many channels")]
    TooManyChannels,
    /// The stream ended ([`Mux::handle_end`](super::Mux::handle_end)) or failed.
    #[error("the mux has ended")]
    Ended,
}
