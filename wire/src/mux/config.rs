//! Limits of a [`Mux`](super::Mux): how much a peer may make it hold.

/// Bytes charged per buffered item (a pending remote open, or one message buffered for it)
/// on top of its payload, so that floods of empty messages are bounded too.
pub const BUFFER_ENTRY_OVERHEAD: usize = 64;

/// Above this many buffered bytes protomux pauses its stream (32 KiB); see
/// [`Mux::should_pause`](super::Mux::should_pause).
pub const PAUSE_THRESHOLD: usize = 32 * 1024;

/// Batches nested deeper than this are refused ([`PeerFault::BatchTooDeep`]); protomux
/// itself never nests them.
///
/// [`PeerFault::BatchTooDeep`]: super::PeerFault::BatchTooDeep
pub const MAX_BATCH_DEPTH: usize = 4;

/// Limits of a [`Mux`](super::Mux). Exceeding one is an error: the application's
/// ([`Misuse`](super::Misuse)) for its own opens, the peer's
/// ([`PeerFault`](super::PeerFault)) for what it sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuxConfig {
    /// Channels at once: local channel ids in use (open channels, and closed ones whose
    /// id the peer has not released yet by answering or rejecting their open) plus remote
    /// opens still waiting for the application. Default 128.
    pub max_channels: usize,
    /// Bytes held for the peer: the pending remote opens (protocol, id, handshake) plus the
    /// messages buffered for them until they pair, each item charged
    /// [`BUFFER_ENTRY_OVERHEAD`] more. Default 1 MiB.
    pub max_buffered_bytes: usize,
    /// Remote opens waiting for the application to [`open`](super::Mux::open) or
    /// [`reject`](super::Mux::reject) them. Default 64. An application that replicates many
    /// cores over one connection should raise it: JS opens one channel per core at once.
    pub max_pending_opens: usize,
}

impl Default for MuxConfig {
    fn default() -> Self {
        Self {
            max_channels: 128,
            max_buffered_bytes: 1024 * 1024,
            max_pending_opens: 64,
        }
    }
}
