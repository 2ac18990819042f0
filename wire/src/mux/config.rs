//! Limits of a [`Mux`](super::Mux): how much a peer may make it hold.

/// Bytes charged per buffered item (a pending remote open, or one message buffered for it)
/// on top of its payload, so that floods of empty messages are bounded too.
pub const BUFFER_ENTRY_OVERHEAD: usize = 64;

/// Above this many buffered bytes protomux pauses its stream (32 KiB); see
/// [`Mux::should_pause`](super::Mux::should_pause).
pub const PAUSE_THRESHOLD: usize = 32 * 1024;

/// A [`Mux`](super::Mux) decodes the entries of an incoming batch only while fewer than
/// this many events wait to be polled: what a batch of any size holds in memory at once.
pub const READ_AHEAD: usize = 64;

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
    /// Entries one incoming frame may carry in its batches (nested ones included); more is
    /// [`PeerFault::BatchTooLarge`](super::PeerFault::BatchTooLarge). Entries are handled one
    /// at a time as they are decoded, so this bounds the work one record can ask for, not
    /// memory. Default 2^21 (2,097,152): a 16 MiB record of 2-byte entries holds 8.4
    /// million, while protomux sends a corked batch once it reaches 8 MiB and the busiest
    /// batches replication sends (a corestore opening every core at once, about 90 bytes
    /// an open, or hundreds of small answers per core) hold far fewer.
    pub max_batch_entries: usize,
}

impl Default for MuxConfig {
    fn default() -> Self {
        Self {
            max_channels: 128,
            max_buffered_bytes: 1024 * 1024,
            max_pending_opens: 64,
            max_batch_entries: 1 << 21,
        }
    }
}
