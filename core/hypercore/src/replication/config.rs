//! Tunables of an [`Endpoint`](super::Endpoint).

use core::time::Duration;

use ferrocore_wire::mux::MuxConfig;
use ferrocore_wire::stream::StreamConfig;

/// How an [`Endpoint`](super::Endpoint) behaves towards its peers. The defaults follow the
/// JS reference where it has a number and are conservative bounds elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// Secret-stream settings (keep-alive, handshake and idle timeouts, record size).
    /// `max_record_len` stays at the protocol's 16 MiB by default because replication can
    /// need all of it: JS accepts blocks of up to 15 MiB (`MAX_SUGGESTED_BLOCK_SIZE`) and
    /// sends corked batches of up to 8 MiB plus one entry. A session holds at most one record
    /// as it arrives, so lower it where blocks are known to be small.
    pub stream: StreamConfig,
    /// Protomux bounds (channels, pending opens, buffered bytes). An endpoint opens one
    /// channel per core on every session, so it raises a session's `max_channels` to its
    /// number of cores plus `max_channels` plus `max_pending_opens` as cores are added:
    /// here `max_channels` is the headroom beyond the cores (channels whose close the peer
    /// has not answered yet), and our own opens are never refused for the count. The
    /// peer's opens that wait for the application are bounded by `max_pending_opens`
    /// (default here 1024) and `max_buffered_bytes` (each is charged about 150 bytes, and
    /// costs under 1 KiB of heap with its event).
    pub mux: MuxConfig,
    /// Ask the application about the peer's opens of cores we do not replicate, as JS
    /// corestore does (`ondiscoverykey`): each becomes [`Event::UnknownCore`](super::Event)
    /// and waits in the mux (with what the peer sends on it) until the application adds
    /// the core ([`Endpoint::add_core`](super::Endpoint), which pairs it) or refuses it
    /// ([`Endpoint::reject_core`](super::Endpoint)). While the waiting opens leave no room
    /// for another window of input under `mux.max_pending_opens`, the session's input
    /// waits too (it stays in the session, undecoded, as a stalled session's does; see
    /// [`max_event_bytes`](Self::max_event_bytes)). Off by default: such opens are
    /// rejected at once.
    pub ask_unknown_cores: bool,
    /// The peer's opens a session refuses or asks about (cores we do not replicate,
    /// duplicates of a channel already open) before the peer is disconnected
    /// ([`PeerError::TooManyUnknownCores`](super::PeerError)). JS corestore opens one
    /// channel for every core it has open and has no such limit; each open costs the peer
    /// about 90 bytes and us a 3-byte reject, so this bounds the work of a peer that churns
    /// opens, not memory. Default 2^20 (1,048,576): forty times a store of tens of
    /// thousands of cores, whose opens all go unanswered here only if we share none.
    pub max_unknown_opens: u64,
    /// Requests in flight per peer and core (JS: 48 on TCP, up to 512 on UDX by round-trip
    /// time). Answers arrive in batches of a socket read, and a window of only a few
    /// batches leaves each peer idle while the other works: 48 moved 85 MB/s of 4 KiB
    /// blocks over loopback TCP, 512 moved 130–150 (`replicate-bench tcp`).
    pub max_inflight: usize,
    /// A request unanswered this long is cancelled and retried elsewhere.
    pub request_timeout: Duration,
    /// Invalid requests a peer may send before it is disconnected (JS: 64).
    pub max_invalid_requests: u32,
    /// Pages (4 KiB each) of a peer's availability bitfield kept per core; `bitfield`
    /// messages beyond are ignored, so a peer cannot grow our memory without bound.
    pub max_remote_bitfield_pages: usize,
    /// Blocks a peer answered `noData` for that are remembered (not asked again) per core.
    pub max_refused_blocks: usize,
    /// Bytes of a session's output that may be unwritten (handed out by `poll_transmit`
    /// and not yet reported by `Endpoint::handle_sent`, or queued inside the session)
    /// before answers to the peer's requests and wants wait: the bound on what a peer that asks a
    /// lot and reads slowly costs. `None` serves at once, for transports that never
    /// report writes (then a peer's requests are bounded only by what it sends).
    pub max_unsent: Option<usize>,
    /// Requests and wants of a session that may wait for its output to drain (a `want` is
    /// answered with bitfields of up to a megabyte, so it waits like a request); a peer with
    /// more outstanding is disconnected
    /// ([`PeerError::TooManyRequests`](super::PeerError)).
    /// This is for a session's first channel; each further one adds 512 (JS hypercore keeps
    /// at most 512 requests in flight per peer and core).
    pub max_queued_requests: usize,
    /// Upgrade to a peer's longer length as soon as it is announced (JS `eagerUpgrade`,
    /// on by default); when off, only `update` and wants past the length upgrade.
    pub eager_upgrade: bool,
    /// Upload to peers by default (answer their requests).
    pub uploading: bool,
    /// Bytes of events the endpoint queues for the application (each event's size, plus
    /// the payload of an extension message) before it stops handling a session's input:
    /// the input waits in the session until [`Endpoint::poll_event`](super::Endpoint)
    /// has drained the queue, then is handled on. So a peer cannot make the queue grow
    /// with what it sends (a record of millions of extension messages); a window of input
    /// (64 messages) can pass the mark before it is checked again. Default 1 MiB.
    pub max_event_bytes: usize,
    /// Download from peers by default (advertised in `sync`; JS closes channels to peers
    /// that are not downloading when it is idle itself).
    pub downloading: bool,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            stream: StreamConfig::default(),
            mux: MuxConfig {
                max_pending_opens: 1024,
                ..MuxConfig::default()
            },
            ask_unknown_cores: false,
            max_unknown_opens: 1 << 20,
            max_inflight: 512,
            request_timeout: Duration::from_secs(20),
            max_invalid_requests: 64,
            max_remote_bitfield_pages: 256,
            max_refused_blocks: 4096,
            max_unsent: Some(1 << 20),
            max_queued_requests: 4096,
            eager_upgrade: true,
            uploading: true,
            downloading: true,
            max_event_bytes: 1 << 20,
        }
    }
}
