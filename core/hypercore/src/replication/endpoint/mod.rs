//! The [`Endpoint`]: cores, sessions, and the scheduling between them.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::connection::{Connection, ConnectionError, ConnectionEvent};
use ferrocore_wire::messages::Handshake;
use ferrocore_wire::mux::{ChannelId, Mux, MuxEvent};
use ferrocore_wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore_wire::stream::{Connected, Entropy, SecretStream};
use ferrocore_wire::{
    Cancel, Data, Decode, Encode, Extension, Message, NoData, Proof, Range, Reader, Request,
    RequestBlock, RequestUpgrade, Sync, Want,
};

use super::claims::Claims;
use super::inbound::{self, Inbound};
use super::replicator::{Asked, Inflight, Replicator, SEGMENT};
use super::requests::{Download, RequestId, Span, Wants};
use super::{
    EndpointConfig, Event, PeerError, RequestError, SessionError, TransportError, PROTOCOL,
};
use crate::log::{Event as LogEvent, Log};
use crate::proof::MissingNodes;
use crate::storage::Storage;
use crate::{hash, Error, ProofError};
use events::EventQueue;
use slots::Slots;

mod announce;
mod api;
mod complete;
mod cores;
mod dispatch;
mod events;
mod schedule;
mod serve;
mod slots;

/// Names a core added to an [`Endpoint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoreId(pub(crate) u32);

impl CoreId {
    /// The index behind the id (cores are numbered from 0 in the order they were added).
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Names one peer connection of an [`Endpoint`] (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl SessionId {
    /// The number behind the id.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }
}

/// `noData` reasons.
const NOT_AVAILABLE: u64 = 1;
const INVALID_REQUEST: u64 = 2;

/// Blocks looked at per scheduling pass and peer before giving up (bounds the CPU a pass
/// costs when a peer has little of what is wanted).
const SCAN_LIMIT: usize = 1024;

struct CoreSlot<S: Storage> {
    log: Log<S>,
    wants: Wants,
    /// Blocks requested, and from whom.
    inflight: Claims,
    /// The session with an upgrade or reorg outstanding.
    upgrading: Option<SessionId>,
    /// Verified blocks to announce (those past the contiguous prefix).
    announce: Vec<u64>,
    /// Cleared ranges to announce.
    drops: Vec<(u64, u64)>,
    /// Blocks dropped by truncations (local or by a reorg) since the last announcement:
    /// from the shortest length truncated to, to the longest length before.
    truncated: Option<(u64, u64)>,
    /// The log's length as of the last log event handled (the length before a truncation).
    seen_length: u64,
    dirty: bool,
    /// Open `finding peers` scopes of this core (see [`Endpoint::start_finding_peers`]).
    finding_peers: u32,
    /// A peer's channel for this core ever paired (JS `_hadPeers`: once it had one, an
    /// update no longer waits for peers while finding them).
    had_peers: bool,
}

/// One peer connection: transport ▸ mux ▸ one replicator per core.
struct Session {
    conn: Connection,
    connected: Option<Connected>,
    /// Boxed: a store's idle channels cost a pointer in the map's nodes, not the whole
    /// replicator (with the nodes' slack).
    replicators: BTreeMap<ChannelId, Box<Replicator>>,
    by_core: BTreeMap<CoreId, ChannelId>,
    /// Output bounding (see [`EndpointConfig::max_unsent`]).
    out: Outbound,
    /// Its input waits in the connection until the application drains its events (see
    /// [`EndpointConfig::max_event_bytes`]).
    stalled: bool,
    /// How the session ends once its waiting input is handled (the stream failed or ended
    /// while input was stalled).
    ending: Option<SessionError>,
    /// The peer's opens of cores we do not replicate that wait for the application
    /// ([`Event::UnknownCore`]), by discovery key (the count of opens, normally 1).
    unknown: BTreeMap<[u8; 32], u32>,
    /// The sum of `unknown`'s counts.
    unknown_pending: usize,
    /// The peer's opens we did not pair at once, so far (see
    /// [`EndpointConfig::max_unknown_opens`]).
    unknown_opens: u64,
}

/// What a session has produced that its transport has not written yet, and the requests
/// waiting for that to drain.
#[derive(Default)]
struct Outbound {
    /// Bytes handed out by `poll_transmit` and not yet reported by `handle_sent`.
    unsent: usize,
    /// Bytes of answers queued inside the connection since it was last drained.
    pipeline: usize,
    /// Requests and wants not answered yet because the output was over budget, oldest
    /// first.
    deferred: VecDeque<(ChannelId, Deferred)>,
}

/// What a peer asked for that waits for its output to drain: both are answered with
/// messages that can be far larger than the ask (a block; a `want` of two million blocks is
/// answered with up to a megabyte of bitfields).
enum Deferred {
    Request(Request),
    Want(Want),
}

impl Outbound {
    fn over(&self, config: &EndpointConfig) -> bool {
        config
            .max_unsent
            .is_some_and(|max| self.unsent.saturating_add(self.pipeline) >= max)
    }
}

/// The replication state machine of one process: its cores and one session per peer
/// connection (see the [module docs](super)).
pub struct Endpoint<S: Storage> {
    config: EndpointConfig,
    /// Slots by [`CoreId`]; a removed core leaves `None` (one pointer) behind. A flush
    /// visits those touched since the last one.
    cores: Slots<CoreSlot<S>>,
    /// The live cores by discovery key (the first added, when several share one).
    by_key: BTreeMap<[u8; 32], CoreId>,
    /// Live cores whose discovery key an earlier core holds in `by_key`.
    shadowed: usize,
    /// Open endpoint-wide `finding peers` scopes (see [`Endpoint::start_finding_peers`]).
    finding_peers: u32,
    sessions: BTreeMap<SessionId, Session>,
    next_session: u64,
    next_request: u64,
    requests: BTreeMap<RequestId, CoreId>,
    events: EventQueue,
    transmit: VecDeque<(SessionId, Bytes)>,
    now: Duration,
}

impl<S: Storage> core::fmt::Debug for Endpoint<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("cores", &self.by_key.len())
            .field("sessions", &self.sessions.len())
            .field("requests", &self.requests.len())
            .finish_non_exhaustive()
    }
}

/// Queues `message` on `channel` (encoded straight into the frame); returns its encoded
/// length.
fn send(conn: &mut Connection, channel: ChannelId, message: &Message) -> usize {
    // Fails only for a channel that is gone, whose messages no longer matter.
    let _ = conn
        .mux()
        .send_encoded(channel, message.message_type() as u64, message);
    message.encoded_len()
}

fn sync_message<S: Storage>(log: &Log<S>, r: &Replicator) -> Sync {
    Sync {
        fork: log.fork(),
        length: log.length(),
        remote_length: match &r.remote {
            Some(s) if s.fork == log.fork() => s.length,
            _ => 0,
        },
        // As the reference: a peer on another fork cannot upgrade from us (it reorgs).
        can_upgrade: r.remote.is_none_or(|s| s.fork == log.fork()),
        uploading: r.uploading,
        downloading: r.downloading,
        has_manifest: log.manifest().is_some() && !log.compat(),
        allow_push: false,
    }
}

/// Whether a peer's `sync` is answered with ours (as the reference does): on our fork,
/// when the peer's view of our length is out of date, or its own length is below ours
/// (it then learns that we heard its length, which a JS reader waits for before it asks
/// us for an upgrade). A peer that merely caught up with us is not answered.
pub(super) fn sync_needs_answer(theirs: &Sync, fork: u64, length: u64) -> bool {
    theirs.fork == fork && (theirs.remote_length != length || theirs.length < length)
}

/// True when two of our `sync`s differ at most in what they say of the peer's length.
pub(super) fn same_but_remote_length(a: &Sync, b: &Sync) -> bool {
    Sync {
        remote_length: b.remote_length,
        ..*a
    } == *b
}

impl<S: Storage> Endpoint<S> {
    /// An endpoint with no cores and no sessions.
    #[must_use]
    pub fn new(config: EndpointConfig) -> Self {
        Self {
            config,
            cores: Slots::new(),
            by_key: BTreeMap::new(),
            shadowed: 0,
            finding_peers: 0,
            sessions: BTreeMap::new(),
            next_session: 0,
            next_request: 1,
            requests: BTreeMap::new(),
            events: EventQueue::default(),
            transmit: VecDeque::new(),
            now: Duration::ZERO,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    // ----- sessions ----------------------------------------------------------------------

    /// Starts a session over a new byte stream (e.g. a TCP connection) that runs the Noise
    /// XX handshake in band as `role`. Its first bytes are ready at once for an initiator.
    pub fn connect(
        &mut self,
        role: Role,
        key_pair: NoiseKeyPair,
        entropy: Entropy,
        now: Duration,
    ) -> SessionId {
        self.now = now;
        let conn = Connection::new(
            role,
            key_pair,
            entropy,
            self.config.stream,
            self.mux_config(),
            now,
        );
        self.add_connection(conn)
    }

    /// Starts a session over a stream whose handshake happened elsewhere (see
    /// [`SecretStream::from_handshake`]).
    pub fn add_stream(&mut self, stream: SecretStream) -> SessionId {
        let conn = Connection::from_stream(stream, Mux::new(self.mux_config()));
        self.add_connection(conn)
    }

    fn add_connection(&mut self, conn: Connection) -> SessionId {
        let sid = SessionId(self.next_session);
        self.next_session += 1;
        self.sessions.insert(
            sid,
            Session {
                conn,
                connected: None,
                replicators: BTreeMap::new(),
                by_core: BTreeMap::new(),
                out: Outbound::default(),
                stalled: false,
                ending: None,
                unknown: BTreeMap::new(),
                unknown_pending: 0,
                unknown_opens: 0,
            },
        );
        // Corked: a stream connected already opens every core's channel in one batch.
        self.ingest(sid, None);
        sid
    }

    /// The live sessions.
    pub fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    /// The peer's static public key, once the handshake is done.
    #[must_use]
    pub fn remote_public_key(&self, session: SessionId) -> Option<[u8; 32]> {
        self.sessions
            .get(&session)?
            .connected
            .as_ref()
            .map(|c| c.remote_public_key)
    }

    /// Ends a session in order: its last bytes (and a half-close) are queued, then
    /// [`Event::Closed`] with no error follows.
    pub fn close(&mut self, session: SessionId) {
        self.finish_session(session, None);
    }

    /// The session's socket failed (a read or write error, a reset): the session closes at
    /// once, with nothing more to send, its requests to the peer are asked of other peers,
    /// and [`Event::Closed`] follows with [`SessionError::Transport`]. Does nothing for a
    /// session that already closed.
    pub fn abort(&mut self, session: SessionId, error: TransportError) {
        self.finish_session(session, Some(SessionError::Transport(error)));
    }

    /// Bytes from a session's socket, in any chunking.
    pub fn handle_input(&mut self, session: SessionId, now: Duration, bytes: &[u8]) {
        self.observe(now);
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let result = s.conn.handle_input(now, bytes);
        self.ingest(session, result.err().map(SessionError::Connection));
        self.observe(now);
    }

    /// Handles a session's waiting input, as far as the application keeps up with the
    /// events, with its replies corked into one batch; then ends the session with
    /// `ending` (or an earlier one) if all its input was handled.
    fn ingest(&mut self, sid: SessionId, ending: Option<SessionError>) {
        self.ingest_then(sid, ending, true);
    }

    /// [`ingest`](Self::ingest), announcing the cores' changes in the same batch if
    /// `flush` (which looks at every core: answers to a peer's opens, one core at a time,
    /// leave that to the next poll).
    fn ingest_then(&mut self, sid: SessionId, ending: Option<SessionError>, flush: bool) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if s.ending.is_none() {
            s.ending = ending;
        }
        s.conn.mux().cork();
        self.process(sid);
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if !s.stalled {
            if let Some(e) = s.ending.take() {
                self.finish_session(sid, Some(e));
                return;
            }
        }
        self.serve_deferred(sid);
        if flush {
            self.flush_all();
        }
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.conn.mux().uncork();
        }
    }

    /// The transport wrote `bytes` more bytes of this session's output (those handed out
    /// by [`poll_transmit`](Self::poll_transmit)). With [`EndpointConfig::max_unsent`] set,
    /// answers to the peer's requests wait while more than that is unwritten, so a peer
    /// that asks for much and reads slowly costs bounded memory: call this as writes
    /// complete, or serving stops once the budget is used up.
    pub fn handle_sent(&mut self, session: SessionId, bytes: usize) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        s.out.unsent = s.out.unsent.saturating_sub(bytes);
        if !s.out.deferred.is_empty() {
            self.serve_deferred(session);
        }
    }

    /// Bytes of this session's output handed out by [`poll_transmit`](Self::poll_transmit)
    /// and not yet reported written by [`handle_sent`](Self::handle_sent).
    #[must_use]
    pub fn unsent(&self, session: SessionId) -> usize {
        self.sessions.get(&session).map_or(0, |s| s.out.unsent)
    }

    /// Requests and wants of this session waiting for its output to drain.
    #[must_use]
    pub fn deferred_requests(&self, session: SessionId) -> usize {
        self.sessions
            .get(&session)
            .map_or(0, |s| s.out.deferred.len())
    }

    /// The session's socket reported end of input. At a record boundary that is the
    /// peer's orderly end: the session ends in order too (its last bytes are queued) with
    /// [`SessionError::RemoteEnded`]; inside a record it fails with
    /// [`SessionError::Connection`]. A socket *error* is reported with
    /// [`abort`](Self::abort) instead.
    pub fn handle_end(&mut self, session: SessionId) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let ending = match s.conn.handle_end() {
            Err(e) => SessionError::Connection(e),
            Ok(()) => SessionError::RemoteEnded,
        };
        self.ingest(session, Some(ending));
    }

    /// Bytes to write to a session's socket. Drain until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SessionId, Bytes)> {
        self.flush_all();
        if let Some(t) = self.transmit.pop_front() {
            return Some(t);
        }
        for (sid, s) in &mut self.sessions {
            if let Some(bytes) = s.conn.poll_transmit() {
                // The connection hands out all it holds at once.
                s.out.unsent = s.out.unsent.saturating_add(bytes.len());
                s.out.pipeline = 0;
                return Some((*sid, bytes));
            }
        }
        None
    }

    /// The next event. Drain until `None`. Once the queue is empty, input of sessions that
    /// waited for the application to keep up (see [`EndpointConfig::max_event_bytes`]) is
    /// handled here, which can queue output: after `poll_event` returns `None`, drain
    /// [`poll_transmit`](Self::poll_transmit) again, until both return `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        // Queued events first: what a flush adds goes behind them anyway, and a flush
        // looks at every core (a store's ten thousand PeerAdded would cost 10^8 looks).
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        self.flush_all();
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        // The application kept up: input that waited for it is handled now.
        let stalled: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.stalled)
            .map(|(sid, _)| *sid)
            .collect();
        for sid in stalled {
            self.ingest(sid, None);
        }
        self.flush_all();
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called (keep-alives,
    /// handshake and idle timeouts, request and application deadlines).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let sessions = self.sessions.values().flat_map(|s| {
            s.conn
                .poll_timeout()
                .into_iter()
                .chain(s.replicators.values().filter_map(|r| r.next_deadline()))
        });
        // Only cores that had a deadline at their last flush or changed since can have one.
        let wants = self
            .cores
            .deadline_candidates()
            .filter_map(|c| c.wants.next_deadline());
        sessions.chain(wants).min()
    }

    /// Time passed: transport timers, request timeouts (cancelled and retried elsewhere),
    /// application deadlines.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.observe(now);
        let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for sid in sids {
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            if let Err(e) = s.conn.handle_timeout(now) {
                self.finish_session(sid, Some(SessionError::Connection(e)));
                continue;
            }
            let Session {
                conn, replicators, ..
            } = s;
            for r in replicators.values_mut() {
                let expired: Vec<u64> = r
                    .inflight
                    .iter()
                    .filter(|(_, i)| i.deadline.is_some_and(|d| d <= now))
                    .map(|(id, _)| *id)
                    .collect();
                if expired.is_empty() {
                    continue;
                }
                let Some(Some(slot)) = self.cores.get_mut(r.core.0 as usize) else {
                    continue;
                };
                for id in expired {
                    if let Some(inf) = r.abandon(id) {
                        Self::release(slot, sid, inf.asked);
                        send(conn, r.channel, &Message::Cancel(Cancel { request: id }));
                    }
                }
                slot.dirty = true;
            }
            self.process(sid);
        }
        for c in 0..self.cores.len() {
            let Some(slot) = self.cores[c].as_mut() else {
                continue;
            };
            for id in slot.wants.due(now) {
                self.requests.remove(&id);
                Self::end_request(
                    slot,
                    CoreId(c as u32),
                    id,
                    RequestError::Timeout,
                    &mut self.events,
                );
            }
        }
        self.flush_all();
        self.observe(now);
    }

    /// Takes the time and arms the deadlines of requests sent since the last observation.
    fn observe(&mut self, now: Duration) {
        self.now = now;
        let deadline = now + self.config.request_timeout;
        for s in self.sessions.values_mut() {
            for r in s.replicators.values_mut() {
                r.arm(deadline);
            }
        }
    }
}
