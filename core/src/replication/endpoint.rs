//! The [`Endpoint`]: cores, sessions, and the scheduling between them.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::connection::{Connection, ConnectionEvent};
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
}

/// One peer connection: transport ▸ mux ▸ one replicator per core.
struct Session {
    conn: Connection,
    connected: Option<Connected>,
    replicators: BTreeMap<ChannelId, Replicator>,
    by_core: BTreeMap<CoreId, ChannelId>,
    /// Output bounding (see [`EndpointConfig::max_unsent`]).
    out: Outbound,
}

/// What a session has produced that its transport has not written yet, and the requests
/// waiting for that to drain.
#[derive(Default)]
struct Outbound {
    /// Bytes handed out by `poll_transmit` and not yet reported by `handle_sent`.
    unsent: usize,
    /// Bytes of answers queued inside the connection since it was last drained.
    pipeline: usize,
    /// Requests not served yet because the output was over budget, oldest first.
    deferred: VecDeque<(ChannelId, Request)>,
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
    cores: Vec<Option<CoreSlot<S>>>,
    sessions: BTreeMap<SessionId, Session>,
    next_session: u64,
    next_request: u64,
    requests: BTreeMap<RequestId, CoreId>,
    events: VecDeque<Event>,
    transmit: VecDeque<(SessionId, Bytes)>,
    now: Duration,
}

impl<S: Storage> core::fmt::Debug for Endpoint<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("cores", &self.cores.iter().flatten().count())
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
            cores: Vec::new(),
            sessions: BTreeMap::new(),
            next_session: 0,
            next_request: 1,
            requests: BTreeMap::new(),
            events: VecDeque::new(),
            transmit: VecDeque::new(),
            now: Duration::ZERO,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &EndpointConfig {
        &self.config
    }

    // ----- cores -------------------------------------------------------------------------

    /// Adds a core to replicate with every session, present and future.
    pub fn add_core(&mut self, log: Log<S>) -> CoreId {
        let id = CoreId(u32::try_from(self.cores.len()).unwrap_or(u32::MAX));
        let seen_length = log.length();
        self.cores.push(Some(CoreSlot {
            log,
            wants: Wants::default(),
            inflight: Claims::default(),
            upgrading: None,
            announce: Vec::new(),
            drops: Vec::new(),
            truncated: None,
            seen_length,
            dirty: true,
        }));
        let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for sid in sids {
            self.open_channel(sid, id);
        }
        id
    }

    /// Stops replicating a core: closes its channels, fails its requests with
    /// [`RequestError::CoreRemoved`] and hands back the log.
    pub fn remove_core(&mut self, core: CoreId) -> Option<Log<S>> {
        let slot = self.cores.get_mut(core.0 as usize)?.take()?;
        for (sid, s) in &mut self.sessions {
            if let Some(ch) = s.by_core.remove(&core) {
                if let Some(r) = s.replicators.remove(&ch) {
                    if r.paired {
                        self.events.push_back(Event::PeerRemoved {
                            session: *sid,
                            core,
                        });
                    }
                }
                let _ = s.conn.mux().close(ch);
            }
        }
        let ids: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, c)| **c == core)
            .map(|(r, _)| *r)
            .collect();
        let mut slot = slot;
        for id in ids {
            self.requests.remove(&id);
            Self::end_request(
                &mut slot,
                core,
                id,
                RequestError::CoreRemoved,
                &mut self.events,
            );
        }
        Some(slot.log)
    }

    /// The log of a core.
    #[must_use]
    pub fn log(&self, core: CoreId) -> Option<&Log<S>> {
        self.slot(core).map(|s| &s.log)
    }

    /// The log of a core, for local writes (append, truncate, clear). Connected peers
    /// learn of the change at the next [`poll_transmit`](Self::poll_transmit) or
    /// [`poll_event`](Self::poll_event).
    pub fn log_mut(&mut self, core: CoreId) -> Option<&mut Log<S>> {
        self.slot_mut(core).map(|s| {
            s.dirty = true;
            &mut s.log
        })
    }

    /// The core with this discovery key.
    #[must_use]
    pub fn find_core(&self, discovery_key: &[u8; 32]) -> Option<CoreId> {
        self.cores.iter().enumerate().find_map(|(i, s)| {
            s.as_ref()
                .filter(|s| s.log.discovery_key() == discovery_key)
                .map(|_| CoreId(i as u32))
        })
    }

    /// The cores, in the order they were added.
    pub fn cores(&self) -> impl Iterator<Item = CoreId> + '_ {
        self.cores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| CoreId(i as u32))
    }

    fn slot(&self, core: CoreId) -> Option<&CoreSlot<S>> {
        self.cores.get(core.0 as usize)?.as_ref()
    }

    fn slot_mut(&mut self, core: CoreId) -> Option<&mut CoreSlot<S>> {
        self.cores.get_mut(core.0 as usize)?.as_mut()
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
            self.config.mux.clone(),
            now,
        );
        self.add_connection(conn)
    }

    /// Starts a session over a stream whose handshake happened elsewhere (see
    /// [`SecretStream::from_handshake`]).
    pub fn add_stream(&mut self, stream: SecretStream) -> SessionId {
        let conn = Connection::from_stream(stream, Mux::new(self.config.mux.clone()));
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
            },
        );
        self.process(sid);
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

    /// The sessions that replicate `core` with a paired channel.
    #[must_use]
    pub fn peers(&self, core: CoreId) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.by_core
                    .get(&core)
                    .and_then(|ch| s.replicators.get(ch))
                    .is_some_and(|r| r.paired)
            })
            .map(|(sid, _)| *sid)
            .collect()
    }

    /// The length a peer announced for a core (its last `sync`).
    #[must_use]
    pub fn remote_length(&self, session: SessionId, core: CoreId) -> Option<u64> {
        let s = self.sessions.get(&session)?;
        let r = s.replicators.get(s.by_core.get(&core)?)?;
        r.remote.as_ref().map(|s| s.length)
    }

    /// Whether we believe the peer has block `index` of a core (announced, not refused).
    #[cfg(test)]
    pub(crate) fn remote_has(&self, session: SessionId, core: CoreId, index: u64) -> bool {
        self.sessions
            .get(&session)
            .and_then(|s| s.replicators.get(s.by_core.get(&core)?))
            .is_some_and(|r| r.has(index))
    }

    /// Requests in flight to a peer for a core.
    #[must_use]
    pub fn inflight(&self, session: SessionId, core: CoreId) -> usize {
        self.sessions
            .get(&session)
            .and_then(|s| s.replicators.get(s.by_core.get(&core)?))
            .map_or(0, |r| r.inflight.len())
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
        s.conn.mux().cork();
        let result = s.conn.handle_input(now, bytes);
        self.process(session);
        match result {
            Err(e) => self.finish_session(session, Some(SessionError::Connection(e))),
            Ok(()) => {
                self.serve_deferred(session);
                self.flush_all();
                if let Some(s) = self.sessions.get_mut(&session) {
                    s.conn.mux().uncork();
                }
            }
        }
        self.observe(now);
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

    /// Requests of this session waiting for its output to drain.
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
        let result = s.conn.handle_end();
        self.process(session);
        match result {
            Err(e) => self.finish_session(session, Some(SessionError::Connection(e))),
            Ok(()) => self.finish_session(session, Some(SessionError::RemoteEnded)),
        }
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

    /// The next event. Drain until `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
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
                .chain(s.replicators.values().filter_map(Replicator::next_deadline))
        });
        let wants = self
            .cores
            .iter()
            .flatten()
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

    // ----- application requests ----------------------------------------------------------

    fn new_request(
        &mut self,
        core: CoreId,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        if self.slot(core).is_none() {
            return Err(Error::Misuse("no such core"));
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(id, core);
        if let (Some(d), Some(slot)) = (deadline, self.slot_mut(core)) {
            slot.wants.set_deadline(id, d);
        }
        Ok(id)
    }

    /// Asks for block `index`: from local storage if present, else from the first peer
    /// that has it. Ends with [`Event::Get`], at the latest at `deadline` (absolute, on the
    /// caller's clock) with [`RequestError::Timeout`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn get(
        &mut self,
        core: CoreId,
        index: u64,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.gets.entry(index).or_default().push(id);
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Downloads blocks `start..end` (`end: None`: from `start` on, following new appends
    /// live, never ending by itself). Ends with [`Event::Download`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn download(
        &mut self,
        core: CoreId,
        start: u64,
        end: Option<u64>,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.downloads.insert(
                id,
                Download {
                    start,
                    cursor: start,
                    span: Span::Range { end },
                },
            );
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Downloads exactly these blocks. Ends with [`Event::Download`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn download_blocks(
        &mut self,
        core: CoreId,
        blocks: &[u64],
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.downloads.insert(
                id,
                Download {
                    start: 0,
                    cursor: 0,
                    span: Span::List(blocks.iter().copied().collect()),
                },
            );
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Learns the newest length from the connected peers: ends with [`Event::Update`] once
    /// an upgrade was applied or every peer that has told its length has nothing newer.
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn update(&mut self, core: CoreId, deadline: Option<Duration>) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.updates.insert(id);
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Cancels a request: it ends with [`RequestError::Cancelled`]. False if it already
    /// ended.
    pub fn cancel(&mut self, request: RequestId) -> bool {
        let Some(core) = self.requests.remove(&request) else {
            return false;
        };
        if let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) {
            Self::end_request(
                slot,
                core,
                request,
                RequestError::Cancelled,
                &mut self.events,
            );
        }
        true
    }

    /// Stops or resumes answering a peer's requests for a core (announced in `sync`).
    pub fn set_uploading(&mut self, session: SessionId, core: CoreId, uploading: bool) {
        if let Some(r) = self.replicator_mut(session, core) {
            r.uploading = uploading;
        }
        if let Some(slot) = self.slot_mut(core) {
            slot.dirty = true;
        }
    }

    /// Stops or resumes downloading a core from a peer (announced in `sync`).
    pub fn set_downloading(&mut self, session: SessionId, core: CoreId, downloading: bool) {
        if let Some(r) = self.replicator_mut(session, core) {
            r.downloading = downloading;
        }
        if let Some(slot) = self.slot_mut(core) {
            slot.dirty = true;
        }
    }

    /// Sends an extension message on a core's channel with a peer.
    ///
    /// # Errors
    /// [`Error::Misuse`] if the session has no channel for the core.
    pub fn send_extension(
        &mut self,
        session: SessionId,
        core: CoreId,
        name: &str,
        message: &[u8],
    ) -> Result<(), Error> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(Error::Misuse("no such session"))?;
        let ch = *s
            .by_core
            .get(&core)
            .ok_or(Error::Misuse("no channel for this core"))?;
        send(
            &mut s.conn,
            ch,
            &Message::Extension(Extension {
                name: String::from(name),
                message: Bytes::copy_from_slice(message),
            }),
        );
        Ok(())
    }

    fn replicator_mut(&mut self, session: SessionId, core: CoreId) -> Option<&mut Replicator> {
        let s = self.sessions.get_mut(&session)?;
        let ch = s.by_core.get(&core)?;
        s.replicators.get_mut(ch)
    }

    // ----- internals: sessions -----------------------------------------------------------

    fn open_channel(&mut self, sid: SessionId, core: CoreId) {
        let (Some(s), Some(Some(slot))) =
            (self.sessions.get_mut(&sid), self.cores.get(core.0 as usize))
        else {
            return;
        };
        let Some(c) = &s.connected else { return };
        if s.by_core.contains_key(&core) {
            return;
        }
        let handshake = Handshake {
            seeks: true,
            capability: hash::capability(
                &c.handshake_hash,
                c.role == Role::Initiator,
                slot.log.key(),
            ),
        };
        let Ok(ch) = s.conn.mux().open(
            PROTOCOL,
            Some(slot.log.discovery_key()),
            &handshake.to_vec(),
        ) else {
            return;
        };
        s.by_core.insert(core, ch);
        s.replicators.insert(
            ch,
            Replicator::new(
                core,
                ch,
                self.config.uploading,
                self.config.downloading,
                self.config.max_remote_bitfield_pages,
                self.config.max_refused_blocks,
            ),
        );
    }

    /// Handles a session's pending connection events.
    fn process(&mut self, sid: SessionId) {
        loop {
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            // Everything the input produced, at once (see `inbound`); handling it may
            // produce more, hence the loop.
            let events: Vec<ConnectionEvent> =
                core::iter::from_fn(|| s.conn.poll_event()).collect();
            if events.is_empty() {
                return;
            }
            for item in inbound::decode(events) {
                if !self.process_one(sid, item) {
                    return;
                }
            }
        }
    }

    /// Handles one inbound event; false once the session is gone.
    fn process_one(&mut self, sid: SessionId, item: Inbound) -> bool {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return false;
        };
        let outcome = match item {
            Inbound::Message {
                channel,
                message,
                leaf,
            } => self.on_channel_message(sid, channel, message, leaf),
            Inbound::Event(ev) => match ev {
                ConnectionEvent::Connected(c) => {
                    self.events.push_back(Event::Connected {
                        session: sid,
                        remote_public_key: c.remote_public_key,
                    });
                    s.connected = Some(c);
                    s.conn.mux().listen(PROTOCOL);
                    let cores: Vec<CoreId> = self.cores().collect();
                    for core in cores {
                        self.open_channel(sid, core);
                    }
                    Ok(())
                }
                ConnectionEvent::Mux(ev) => self.on_mux_event(sid, ev),
                ConnectionEvent::RemoteEnded => {
                    self.finish_session(sid, Some(SessionError::RemoteEnded));
                    return false;
                }
            },
        };
        if let Err(e) = outcome {
            self.finish_session(sid, Some(SessionError::Peer(e)));
            return false;
        }
        true
    }

    /// A decoded message on a channel (`leaf`: its block's hash, for a data message).
    fn on_channel_message(
        &mut self,
        sid: SessionId,
        channel: ChannelId,
        message: Result<Option<Message>, ferrocore_wire::DecodeError>,
        leaf: Option<hash::Hash>,
    ) -> Result<(), PeerError> {
        let Some(core) = self
            .sessions
            .get(&sid)
            .and_then(|s| s.replicators.get(&channel))
            .map(|r| r.core)
        else {
            return Ok(());
        };
        match message {
            Ok(Some(m)) => self.on_message(sid, channel, m, leaf),
            Ok(None) => Ok(()),
            Err(error) => Err(PeerError::Malformed { core, error }),
        }
    }

    fn on_mux_event(&mut self, sid: SessionId, ev: MuxEvent) -> Result<(), PeerError> {
        match ev {
            MuxEvent::OpenRequest { protocol, id, .. } => {
                let core = match (&id, protocol == PROTOCOL) {
                    (Some(dk), true) => <[u8; 32]>::try_from(&dk[..])
                        .ok()
                        .and_then(|dk| self.find_core(&dk)),
                    _ => None,
                };
                match core {
                    Some(core) => self.open_channel(sid, core),
                    None => {
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            s.conn.mux().reject(&protocol, id.as_deref());
                        }
                    }
                }
                Ok(())
            }
            MuxEvent::OpenWithdrawn { .. } => Ok(()),
            MuxEvent::Opened {
                channel, handshake, ..
            } => self.on_opened(sid, channel, &handshake),
            MuxEvent::Closed { channel, .. } => {
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return Ok(());
                };
                s.out.deferred.retain(|(ch, _)| *ch != channel);
                if let Some(r) = s.replicators.remove(&channel) {
                    s.by_core.remove(&r.core);
                    self.drop_replicator(sid, r);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn on_opened(
        &mut self,
        sid: SessionId,
        channel: ChannelId,
        handshake: &Bytes,
    ) -> Result<(), PeerError> {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Ok(());
        };
        let (Some(r), Some(c)) = (s.replicators.get_mut(&channel), &s.connected) else {
            return Ok(());
        };
        let core = r.core;
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return Ok(());
        };
        let remote = Handshake::decode(&mut Reader::from_bytes(handshake))
            .map_err(|error| PeerError::Malformed { core, error })?;
        let expected =
            hash::capability(&c.handshake_hash, c.role == Role::Responder, slot.log.key());
        if remote.capability != expected {
            return Err(PeerError::BadCapability(core));
        }
        r.paired = true;
        slot.dirty = true;
        self.events
            .push_back(Event::PeerAdded { session: sid, core });
        Ok(())
    }

    fn on_message(
        &mut self,
        sid: SessionId,
        ch: ChannelId,
        m: Message,
        leaf: Option<hash::Hash>,
    ) -> Result<(), PeerError> {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Ok(());
        };
        let Session {
            conn,
            replicators,
            out,
            ..
        } = s;
        let Some(r) = replicators.get_mut(&ch) else {
            return Ok(());
        };
        let core = r.core;
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return Ok(());
        };
        match m {
            Message::Sync(sync) => {
                let answer = sync_needs_answer(&sync, slot.log.fork(), slot.log.length());
                let same_fork = sync.fork == slot.log.fork();
                r.on_sync(sync);
                if answer || (!same_fork && r.sent.is_none()) {
                    r.sent = None;
                }
                slot.dirty = true;
            }
            Message::Request(req) => {
                if !out.deferred.is_empty() || out.over(&self.config) {
                    if out.deferred.len() >= self.config.max_queued_requests {
                        return Err(PeerError::TooManyRequests(core));
                    }
                    out.deferred.push_back((ch, req));
                } else {
                    let reply = Self::serve(slot, r, &req, &self.config, &mut self.events, core)?;
                    out.pipeline += send(conn, ch, &reply);
                }
            }
            Message::Cancel(c) => {
                // A request still waiting is dropped (one already answered is not undone).
                if let Some(at) = out
                    .deferred
                    .iter()
                    .position(|(c2, q)| *c2 == ch && q.id == c.request)
                {
                    out.deferred.remove(at);
                }
            }
            Message::Unwant(_) => {}
            Message::Data(d) => {
                Self::on_data(slot, r, sid, d, leaf, &mut self.events)?;
            }
            Message::NoData(n) => {
                if let Some(inf) = r.finish(n.request) {
                    Self::release(slot, sid, inf.asked);
                    // A refusal is about the state that was asked: one for an older fork
                    // or length says nothing of the peer's newer state.
                    let current = r.remote.map(|s| (s.fork, s.length));
                    match inf.asked {
                        // The peer may have the new length but not the block that rode
                        // along: the block is refused, and the upgrade asked again alone.
                        Asked::Block(i) | Asked::Upgrade { block: Some(i) } => {
                            if current.is_some_and(|(f, _)| f == inf.fork) {
                                r.refuse(i);
                            }
                        }
                        Asked::Upgrade { block: None } | Asked::Reorg => {
                            if current == Some((inf.fork, inf.length)) {
                                r.upgrade_refused_at = current;
                            }
                        }
                    }
                    slot.dirty = true;
                }
            }
            Message::Want(w) => Self::answer_want(slot, conn, ch, &w),
            Message::Bitfield(b) => {
                r.on_bitfield(&b);
                slot.dirty = true;
            }
            Message::Range(range) => {
                r.on_range(&range);
                slot.dirty = true;
            }
            Message::Extension(e) => {
                let name = if e.name.is_empty() {
                    r.extension_name.clone().unwrap_or_default()
                } else {
                    r.extension_name = Some(e.name.clone());
                    e.name
                };
                self.events.push_back(Event::Extension {
                    session: sid,
                    core,
                    name,
                    message: e.message,
                });
            }
        }
        Ok(())
    }

    /// Answers waiting requests, oldest first, while the session's output is under budget.
    fn serve_deferred(&mut self, sid: SessionId) {
        loop {
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            if s.out.over(&self.config) {
                return;
            }
            let Some((ch, req)) = s.out.deferred.pop_front() else {
                return;
            };
            let Session {
                conn,
                replicators,
                out,
                ..
            } = s;
            // The channel (or its core) may have closed since.
            let Some(r) = replicators.get_mut(&ch) else {
                continue;
            };
            let core = r.core;
            let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
                continue;
            };
            match Self::serve(slot, r, &req, &self.config, &mut self.events, core) {
                Ok(reply) => out.pipeline += send(conn, ch, &reply),
                Err(e) => {
                    self.finish_session(sid, Some(SessionError::Peer(e)));
                    return;
                }
            }
        }
    }

    fn serve(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        req: &Request,
        config: &EndpointConfig,
        events: &mut VecDeque<Event>,
        core: CoreId,
    ) -> Result<Message, PeerError> {
        let no_data = |reason| {
            Message::NoData(NoData {
                request: req.id,
                reason,
            })
        };
        let log = &slot.log;
        if !r.uploading {
            return Ok(no_data(NOT_AVAILABLE));
        }
        if req.fork != log.fork() {
            if req.manifest && log.manifest().is_some() {
                return Ok(Message::Data(Data {
                    request: req.id,
                    proof: Proof {
                        fork: log.fork(),
                        manifest: log.manifest().cloned(),
                        ..Proof::default()
                    },
                }));
            }
            return Ok(no_data(NOT_AVAILABLE));
        }
        match log.proof(req) {
            Ok(proof) => Ok(Message::Data(Data {
                request: req.id,
                proof,
            })),
            Err(Error::InvalidRequest(_)) => {
                r.invalid_requests += 1;
                if r.invalid_requests > config.max_invalid_requests {
                    return Err(PeerError::TooManyInvalidRequests(core));
                }
                Ok(no_data(INVALID_REQUEST))
            }
            Err(Error::MissingBlock(_) | Error::MissingNode(_)) => Ok(no_data(NOT_AVAILABLE)),
            Err(error) => {
                events.push_back(Event::StorageFailed { core, error });
                Ok(no_data(NOT_AVAILABLE))
            }
        }
    }

    fn on_data(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        sid: SessionId,
        d: Data,
        leaf: Option<hash::Hash>,
        events: &mut VecDeque<Event>,
    ) -> Result<(), PeerError> {
        let core = r.core;
        // Answers to requests we no longer track (cancelled, timed out) or never made are
        // ignored, as in the reference.
        let Some(inf) = r.finish(d.request) else {
            return Ok(());
        };
        Self::release(slot, sid, inf.asked);
        slot.dirty = true;
        let result = match inf.asked {
            Asked::Reorg if d.proof.fork != slot.log.fork() && d.proof.upgrade.is_some() => {
                slot.log.apply_reorg(&d.proof).map(|_| ())
            }
            Asked::Reorg => return Ok(()),
            _ => slot.log.apply_proof_hashed(&d.proof, leaf).map(|_| ()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(Error::Protocol(error)) => Err(PeerError::InvalidProof { core, error }),
            Err(Error::Misuse(m)) => Err(PeerError::InvalidProof {
                core,
                error: ProofError::Invalid(m),
            }),
            Err(error) => {
                events.push_back(Event::StorageFailed { core, error });
                Ok(())
            }
        }
    }

    fn answer_want(slot: &CoreSlot<S>, conn: &mut Connection, ch: ChannelId, w: &Want) {
        let log = &slot.log;
        let length = log.length();
        let end = w.start.saturating_add(w.length).min(length);
        if w.start >= end {
            return;
        }
        if w.any {
            if let Some(i) = log.bitfield().first_set(w.start).filter(|&i| i < end) {
                send(
                    conn,
                    ch,
                    &Message::Range(Range {
                        drop: false,
                        start: i,
                        length: 1,
                    }),
                );
            }
            return;
        }
        let contiguous = log.contiguous_length();
        if end <= contiguous {
            send(
                conn,
                ch,
                &Message::Range(Range {
                    drop: false,
                    start: 0,
                    length: contiguous,
                }),
            );
            return;
        }
        // One bitfield message per 2^21-block segment, at most four per want.
        let mut start = w.start - w.start % 32;
        for _ in 0..4 {
            if start >= end {
                break;
            }
            let seg_end = (start + SEGMENT).min(end);
            let words = usize::try_from((seg_end - start).div_ceil(32)).unwrap_or(0);
            if let Ok(b) = log.bitfield().to_message(start, words) {
                send(conn, ch, &Message::Bitfield(b));
            }
            start = seg_end.next_multiple_of(32);
        }
    }

    /// Forgets what a finished request held in the core's bookkeeping.
    fn release(slot: &mut CoreSlot<S>, sid: SessionId, asked: Asked) {
        match asked {
            Asked::Block(i) => {
                if slot.inflight.owner(i) == Some(sid) {
                    slot.inflight.remove(i);
                }
            }
            Asked::Upgrade { .. } | Asked::Reorg => {
                if slot.upgrading == Some(sid) {
                    slot.upgrading = None;
                }
            }
        }
    }

    fn drop_replicator(&mut self, sid: SessionId, mut r: Replicator) {
        let core = r.core;
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        let ids: Vec<u64> = r.inflight.keys().copied().collect();
        for id in ids {
            if let Some(inf) = r.finish(id) {
                Self::release(slot, sid, inf.asked);
            }
        }
        if slot.upgrading == Some(sid) {
            slot.upgrading = None;
        }
        slot.dirty = true;
        if r.paired {
            self.events
                .push_back(Event::PeerRemoved { session: sid, core });
        }
    }

    /// Removes a session: on an orderly end (ours, or the peer's) its last bytes go out and
    /// the stream half-closes; on a failure nothing more is sent.
    fn finish_session(&mut self, sid: SessionId, error: Option<SessionError>) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if error.as_ref().is_none_or(SessionError::is_orderly) {
            s.conn.end();
            while let Some(bytes) = s.conn.poll_transmit() {
                self.transmit.push_back((sid, bytes));
            }
        }
        let reps: Vec<Replicator> = core::mem::take(&mut s.replicators).into_values().collect();
        for r in reps {
            self.drop_replicator(sid, r);
        }
        self.events.push_back(Event::Closed {
            session: sid,
            error,
        });
    }

    // ----- internals: cores ---------------------------------------------------------------

    fn end_request(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        id: RequestId,
        error: RequestError,
        events: &mut VecDeque<Event>,
    ) {
        slot.wants.clear_deadline(id);
        let mut found = false;
        for (&index, ids) in &mut slot.wants.gets {
            if let Some(p) = ids.iter().position(|r| *r == id) {
                ids.remove(p);
                events.push_back(Event::Get {
                    request: id,
                    core,
                    index,
                    result: Err(error.clone()),
                });
                found = true;
                break;
            }
        }
        slot.wants.gets.retain(|_, ids| !ids.is_empty());
        if found {
            return;
        }
        if slot.wants.downloads.remove(&id).is_some() {
            events.push_back(Event::Download {
                request: id,
                core,
                result: Err(error),
            });
        } else if slot.wants.updates.remove(&id) {
            events.push_back(Event::Update {
                request: id,
                core,
                result: Err(error),
            });
        }
    }

    /// Brings every changed core up to date: log events, finished requests, announcements
    /// to peers, and new requests.
    fn flush_all(&mut self) {
        for c in 0..self.cores.len() {
            self.flush_core(CoreId(c as u32));
        }
    }

    fn flush_core(&mut self, core: CoreId) {
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        let mut upgraded = false;
        while let Some(ev) = slot.log.poll_event() {
            slot.dirty = true;
            match ev {
                LogEvent::Append { length } => {
                    slot.seen_length = length;
                    self.events.push_back(Event::Append {
                        core,
                        length,
                        fork: slot.log.fork(),
                    });
                }
                LogEvent::Upgrade { length, fork } => {
                    upgraded = true;
                    slot.seen_length = length;
                    self.events.push_back(Event::Append { core, length, fork });
                }
                LogEvent::Truncate { length, fork } => {
                    // Blocks past the cut are wanted again.
                    for d in slot.wants.downloads.values_mut() {
                        d.cursor = d.cursor.min(length).max(d.start);
                    }
                    // Peers are told the blocks past the cut are gone (as the reference
                    // does: `range { drop }` from the new length to the old one).
                    let end = slot.seen_length.max(length);
                    slot.truncated = Some(match slot.truncated {
                        Some((s, e)) => (s.min(length), e.max(end)),
                        None => (length, end),
                    });
                    slot.seen_length = length;
                    self.events
                        .push_back(Event::Truncate { core, length, fork });
                }
                LogEvent::Verified { index } => {
                    self.events.push_back(Event::Verified { core, index });
                    slot.announce.push(index);
                }
                LogEvent::Clear { start, end } => slot.drops.push((start, end)),
            }
        }
        if !slot.dirty {
            return;
        }
        slot.dirty = false;
        Self::complete_requests(slot, core, upgraded, &mut self.requests, &mut self.events);

        let contiguous = slot.log.contiguous_length();
        let announce = core::mem::take(&mut slot.announce);
        let drops = core::mem::take(&mut slot.drops);
        let truncated = slot.truncated.take();
        let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for &sid in &sids {
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            let Some(&ch) = s.by_core.get(&core) else {
                continue;
            };
            let Session {
                conn, replicators, ..
            } = s;
            let Some(r) = replicators.get_mut(&ch) else {
                continue;
            };
            if !r.paired {
                continue;
            }
            for &(start, end) in &drops {
                send(
                    conn,
                    ch,
                    &Message::Range(Range {
                        drop: true,
                        start,
                        length: end - start,
                    }),
                );
            }
            // A truncation (or reorg) is announced as the reference does: the dropped
            // blocks as `range { drop }`, then the `sync` with the new fork, then what we
            // hold on it.
            if let Some((start, end)) = truncated {
                if end > start {
                    send(
                        conn,
                        ch,
                        &Message::Range(Range {
                            drop: true,
                            start,
                            length: end - start,
                        }),
                    );
                }
                r.sent_contiguous = r.sent_contiguous.min(start);
            }
            // Our own state changed, or an answer is due (`sent` cleared): a change in the
            // peer's length alone is carried by our next `sync`, not sent by itself.
            let sync = sync_message(&slot.log, r);
            if r.sent
                .is_none_or(|sent| !same_but_remote_length(&sent, &sync))
            {
                send(conn, ch, &Message::Sync(sync));
                r.sent = Some(sync);
            }
            // A peer forgets what we announced on another fork when our `sync` names a
            // new one: announce the contiguous prefix again.
            if r.announced_fork != Some(sync.fork) {
                r.announced_fork = Some(sync.fork);
                r.sent_contiguous = 0;
            }
            if contiguous > r.sent_contiguous {
                send(
                    conn,
                    ch,
                    &Message::Range(Range {
                        drop: false,
                        start: 0,
                        length: contiguous,
                    }),
                );
            }
            r.sent_contiguous = contiguous;
            for &i in announce.iter().filter(|&&i| i >= contiguous) {
                send(
                    conn,
                    ch,
                    &Message::Range(Range {
                        drop: false,
                        start: i,
                        length: 1,
                    }),
                );
            }
        }
        for &sid in &sids {
            self.schedule(sid, core);
        }
        // Updates end once no peer that told its length has anything newer.
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        if !slot.wants.updates.is_empty() && slot.upgrading.is_none() {
            let (fork, length) = (slot.log.fork(), slot.log.length());
            let mut told = 0;
            let mut newer = false;
            for s in self.sessions.values() {
                let Some(r) = s.by_core.get(&core).and_then(|ch| s.replicators.get(ch)) else {
                    continue;
                };
                let Some(rem) = r.remote.filter(|_| r.paired) else {
                    continue;
                };
                told += 1;
                let refused = r.upgrade_refused_at == Some((rem.fork, rem.length));
                if rem.fork == fork && rem.length > length && rem.can_upgrade && !refused {
                    newer = true;
                }
                if rem.fork > fork && !refused && !slot.log.writable() {
                    newer = true;
                }
            }
            if told > 0 && !newer {
                Self::end_updates(slot, core, &mut self.requests, &mut self.events);
            }
        }
    }

    /// Ends the gets, downloads and updates the log now satisfies.
    fn complete_requests(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        upgraded: bool,
        requests: &mut BTreeMap<RequestId, CoreId>,
        events: &mut VecDeque<Event>,
    ) {
        let log = &slot.log;
        let ready: Vec<u64> = slot
            .wants
            .gets
            .keys()
            .copied()
            .filter(|&i| log.has_block(i))
            .collect();
        for index in ready {
            let ids = slot.wants.gets.remove(&index).unwrap_or_default();
            let result = match log.get(index) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(RequestError::Failed(Error::MissingBlock(index))),
                Err(Error::Storage(e)) => Err(RequestError::Storage(e)),
                Err(e) => Err(RequestError::Failed(e)),
            };
            for id in ids {
                requests.remove(&id);
                slot.wants.clear_deadline(id);
                events.push_back(Event::Get {
                    request: id,
                    core,
                    index,
                    result: result.clone(),
                });
            }
        }
        let mut done = Vec::new();
        for (&id, d) in &mut slot.wants.downloads {
            match &mut d.span {
                Span::Range { end } => {
                    d.cursor = log.next_missing(d.cursor);
                    if end.is_some_and(|e| d.cursor >= e && log.length() >= e) {
                        done.push(id);
                    }
                }
                Span::List(set) => {
                    set.retain(|&i| !log.has_block(i));
                    if set.is_empty() {
                        done.push(id);
                    }
                }
            }
        }
        for id in done {
            slot.wants.downloads.remove(&id);
            requests.remove(&id);
            slot.wants.clear_deadline(id);
            events.push_back(Event::Download {
                request: id,
                core,
                result: Ok(()),
            });
        }
        if upgraded {
            Self::end_updates(slot, core, requests, events);
        }
    }

    /// Ends every pending update with the current length.
    fn end_updates(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        requests: &mut BTreeMap<RequestId, CoreId>,
        events: &mut VecDeque<Event>,
    ) {
        let length = slot.log.length();
        for id in core::mem::take(&mut slot.wants.updates) {
            requests.remove(&id);
            slot.wants.clear_deadline(id);
            events.push_back(Event::Update {
                request: id,
                core,
                result: Ok(length),
            });
        }
    }

    /// Sends the requests a peer can take for a core: an upgrade (or reorg) when it is
    /// ahead, then wanted blocks it has, up to the in-flight limit.
    fn schedule(&mut self, sid: SessionId, core: CoreId) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(&ch) = s.by_core.get(&core) else {
            return;
        };
        let Session {
            conn, replicators, ..
        } = s;
        let Some(r) = replicators.get_mut(&ch) else {
            return;
        };
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        let Some(rem) = r.remote.filter(|_| r.paired && r.downloading) else {
            return;
        };
        let deadline = None;
        let ask = (rem.fork, rem.length);
        let refused = r.upgrade_refused_at == Some((rem.fork, rem.length));
        let (fork, length) = (slot.log.fork(), slot.log.length());
        if slot.upgrading.is_none() && !refused && r.inflight.len() < self.config.max_inflight {
            let manifest = slot.log.manifest().is_none() && rem.has_manifest;
            let ahead = rem.fork == fork
                && rem.length > length
                && rem.can_upgrade
                && (self.config.eager_upgrade || slot.wants.wants_past(length));
            let forked = rem.fork > fork && rem.length > 0 && !slot.log.writable();
            if ahead || forked {
                let id = r.allocate_id();
                // Live tail: the newest block rides along with the upgrade (one round trip,
                // as the reference does), when it is wanted and the peer has it.
                let last = rem.length - 1;
                let block = if !forked && r.has(last) && slot.wants.wants(last) {
                    slot.log
                        .missing_nodes(2 * last)
                        .ok()
                        .map(|nodes| RequestBlock { index: last, nodes })
                } else {
                    None
                };
                let (start, asked) = if forked {
                    (0, Asked::Reorg)
                } else {
                    let block = block.as_ref().map(|b| b.index);
                    (length, Asked::Upgrade { block })
                };
                let req = Request {
                    id,
                    fork: rem.fork,
                    block,
                    upgrade: Some(RequestUpgrade {
                        start,
                        length: rem.length - start,
                    }),
                    manifest,
                    ..Request::default()
                };
                send(conn, ch, &Message::Request(req));
                r.inflight.insert(
                    id,
                    Inflight {
                        asked,
                        deadline,
                        fork: ask.0,
                        length: ask.1,
                    },
                );
                slot.upgrading = Some(sid);
            }
        }
        if rem.fork != fork {
            return;
        }
        // Nothing is stored while requests are made: the paths of nearby blocks are
        // walked once.
        let mut missing = MissingNodes::default();
        while r.inflight.len() < self.config.max_inflight {
            let Some(index) = Self::pick(slot, r) else {
                break;
            };
            let nodes = match slot.log.missing_nodes_with(2 * index, &mut missing) {
                Ok(n) => n,
                Err(error) => {
                    self.events.push_back(Event::StorageFailed { core, error });
                    break;
                }
            };
            let id = r.allocate_id();
            let req = Request {
                id,
                fork,
                block: Some(RequestBlock { index, nodes }),
                ..Request::default()
            };
            send(conn, ch, &Message::Request(req));
            r.inflight.insert(
                id,
                Inflight {
                    asked: Asked::Block(index),
                    deadline,
                    fork: ask.0,
                    length: ask.1,
                },
            );
            slot.inflight.insert(index, sid);
        }
        // Ask a peer that is not contiguous what it has where we want blocks.
        if r.inflight.len() < self.config.max_inflight && r.wanted_segments.len() < 64 {
            if let Some(i) = Self::first_wanted(slot, r.remote_contiguous, rem.length) {
                let segment = i / SEGMENT;
                if r.wanted_segments.insert(segment) {
                    send(
                        conn,
                        ch,
                        &Message::Want(Want {
                            start: segment * SEGMENT,
                            length: SEGMENT,
                            any: false,
                        }),
                    );
                }
            }
        }
    }

    /// The next block to request from peer `r`: wanted, missing, not in flight, and
    /// announced by the peer. Gets come first, then downloads in request order.
    fn pick(slot: &CoreSlot<S>, r: &Replicator) -> Option<u64> {
        let log = &slot.log;
        let length = log.length();
        let takes = |i: u64| !log.has_block(i) && !slot.inflight.contains(i) && r.has(i);
        if let Some(&i) = slot
            .wants
            .gets
            .range(..length)
            .map(|(i, _)| i)
            .take(SCAN_LIMIT)
            .find(|&&i| takes(i))
        {
            return Some(i);
        }
        for d in slot.wants.downloads.values() {
            match &d.span {
                Span::List(set) => {
                    if let Some(&i) = set.range(..length).take(SCAN_LIMIT).find(|&&i| takes(i)) {
                        return Some(i);
                    }
                }
                Span::Range { end } => {
                    let end = end.unwrap_or(u64::MAX).min(length);
                    let mut i = log.next_missing(d.cursor);
                    let mut steps = 0;
                    while i < end && steps < SCAN_LIMIT {
                        steps += 1;
                        // Step over the run of in-flight blocks at `i` (a pipelined
                        // window) a bitmap word at a time.
                        let run_end = slot.inflight.run_end(i);
                        let next = if run_end > i {
                            run_end
                        } else if r.has(i) {
                            return Some(i);
                        } else {
                            r.next_available(i + 1)
                        };
                        if next >= end {
                            break;
                        }
                        i = log.next_missing(next);
                    }
                }
            }
        }
        None
    }

    /// The first wanted, missing block at or past `from` and below `limit` (for `want`).
    fn first_wanted(slot: &CoreSlot<S>, from: u64, limit: u64) -> Option<u64> {
        let log = &slot.log;
        let limit = limit.min(log.length());
        if from >= limit {
            return None;
        }
        let gets = slot
            .wants
            .gets
            .range(from..limit)
            .map(|(i, _)| *i)
            .find(|&i| !log.has_block(i));
        let downloads = slot.wants.downloads.values().filter_map(|d| match &d.span {
            Span::Range { end } => {
                let i = log.next_missing(d.cursor.max(from));
                (i < end.unwrap_or(u64::MAX).min(limit)).then_some(i)
            }
            Span::List(set) => set.range(from..limit).copied().find(|&i| !log.has_block(i)),
        });
        gets.into_iter().chain(downloads).min()
    }
}
