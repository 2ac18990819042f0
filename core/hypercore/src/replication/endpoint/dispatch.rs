//! Input: a session's connection events, decoded and dispatched (opens, capability checks, channel messages).

use super::*;

/// Connection events decoded and handled together: the blocks of a window's data messages
/// are hashed four at a time (see `inbound`), and a window bounds what one pass holds
/// however much input waits.
const WINDOW: usize = 64;

impl<S: Storage> Endpoint<S> {
    /// Opens our side of a core's channel on a connected session (it pairs with the peer's
    /// open if one waits). The session's channel limit grows with the cores, so the open
    /// is never refused for the count. A mux that ended refuses it (the session's end is
    /// on its way); one that refuses it for another reason closes the session with the
    /// mux's error rather than leave it without the channel.
    pub(super) fn open_channel(&mut self, sid: SessionId, core: CoreId) {
        let limit = self.channel_limit();
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
        let mux = s.conn.mux();
        if mux.config().max_channels < limit {
            mux.set_max_channels(limit);
        }
        let ch = match mux.open(
            PROTOCOL,
            Some(slot.log.discovery_key()),
            &handshake.to_vec(),
        ) {
            Ok(ch) => ch,
            // The peer failed the mux or the stream ended: the session's end is on its
            // way, and its `Closed` says why.
            Err(_) if mux.is_ended() => return,
            Err(e) => {
                // The mux ended (the session is closing, or its peer failed it): report it.
                let error = SessionError::Connection(ConnectionError::Mux(e));
                self.finish_session(sid, Some(error));
                return;
            }
        };
        s.by_core.insert(core, ch);
        s.replicators.insert(
            ch,
            Box::new(Replicator::new(
                core,
                ch,
                self.config.uploading,
                self.config.downloading,
                self.config.max_remote_bitfield_pages,
                self.config.max_refused_blocks,
            )),
        );
    }

    /// Handles a session's connection events, a window at a time, while the application's
    /// events hold less than [`EndpointConfig::max_event_bytes`]; past that the session
    /// stalls (its input waits in the connection) until
    /// [`poll_event`](Endpoint::poll_event) has drained them.
    pub(super) fn process(&mut self, sid: SessionId) {
        loop {
            let events = self.events.bytes() < self.config.max_event_bytes;
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            // A window can surface up to WINDOW more opens that wait for the application:
            // only while the mux has room for them (see `EndpointConfig::ask_unknown_cores`).
            let opens = s.unknown_pending == 0
                || s.unknown_pending + WINDOW <= s.conn.mux().config().max_pending_opens;
            let budget = events && opens;
            s.stalled = !budget;
            if !budget {
                return;
            }
            // One window, decoded together (see `inbound`); handling it may produce more
            // events, hence the loop.
            // A window ends at `Connected`: the mux must listen (and our opens go out)
            // before it sees the peer's first frames, or its opens would be refused.
            let mut window: Vec<ConnectionEvent> = Vec::new();
            while window.len() < WINDOW {
                let Some(ev) = s.conn.poll_event() else { break };
                let connected = matches!(ev, ConnectionEvent::Connected(_));
                window.push(ev);
                if connected {
                    break;
                }
            }
            if window.is_empty() {
                return;
            }
            for item in inbound::decode(window) {
                if !self.process_one(sid, item) {
                    return;
                }
            }
        }
    }

    /// Handles one inbound event; false once the session is gone.
    pub(super) fn process_one(&mut self, sid: SessionId, item: Inbound) -> bool {
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
                ConnectionEvent::Failed(e) => {
                    self.finish_session(sid, Some(SessionError::Connection(e)));
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
    pub(super) fn on_channel_message(
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

    pub(super) fn on_mux_event(&mut self, sid: SessionId, ev: MuxEvent) -> Result<(), PeerError> {
        match ev {
            MuxEvent::OpenRequest { protocol, id, .. } => {
                self.on_open_request(sid, &protocol, id.as_deref())
            }
            MuxEvent::OpenWithdrawn { protocol, id, .. } => {
                let dk = discovery_key(&protocol, id.as_deref());
                if let (Some(s), Some(dk)) = (self.sessions.get_mut(&sid), dk) {
                    if let Some(n) = s.unknown.get_mut(&dk) {
                        *n -= 1;
                        s.unknown_pending -= 1;
                        if *n == 0 {
                            s.unknown.remove(&dk);
                        }
                    }
                }
                Ok(())
            }
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
                    self.drop_replicator(sid, *r);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The peer opened a channel we have not: a core we replicate pairs at once; one we do
    /// not is asked of the application or rejected (see
    /// [`EndpointConfig::ask_unknown_cores`]); a duplicate of a channel already open, or an
    /// open that names no discovery key, is rejected. Past
    /// [`EndpointConfig::max_unknown_opens`] such opens, the peer is disconnected.
    fn on_open_request(
        &mut self,
        sid: SessionId,
        protocol: &str,
        id: Option<&[u8]>,
    ) -> Result<(), PeerError> {
        let dk = discovery_key(protocol, id);
        let core = dk.and_then(|dk| self.find_core(&dk));
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Ok(());
        };
        if let Some(core) = core.filter(|c| !s.by_core.contains_key(c)) {
            self.open_channel(sid, core);
            return Ok(());
        }
        s.unknown_opens += 1;
        if s.unknown_opens > self.config.max_unknown_opens {
            return Err(PeerError::TooManyUnknownCores {
                opens: s.unknown_opens,
            });
        }
        match dk {
            Some(dk) if core.is_none() && self.config.ask_unknown_cores => {
                let n = s.unknown.entry(dk).or_insert(0);
                *n += 1;
                s.unknown_pending += 1;
                if *n == 1 {
                    self.events.push_back(Event::UnknownCore {
                        session: sid,
                        discovery_key: dk,
                    });
                }
            }
            _ => {
                s.conn.mux().reject(protocol, id);
            }
        }
        Ok(())
    }

    pub(super) fn on_opened(
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
        slot.had_peers = true;
        slot.dirty = true;
        self.events
            .push_back(Event::PeerAdded { session: sid, core });
        Ok(())
    }

    pub(super) fn on_message(
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
        let queue_limit = queued_requests_limit(&self.config, replicators.len());
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
                let asked = (ch, Deferred::Request(req));
                let limits = (&self.config, queue_limit);
                Self::ask(slot, r, conn, out, asked, limits, &mut self.events)?;
            }
            Message::Cancel(c) => {
                // A request still waiting is dropped (one already answered is not undone).
                if let Some(at) = out.deferred.iter().position(
                    |(c2, d)| matches!(d, Deferred::Request(q) if *c2 == ch && q.id == c.request),
                ) {
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
            Message::Want(w) => {
                let asked = (ch, Deferred::Want(w));
                let limits = (&self.config, queue_limit);
                Self::ask(slot, r, conn, out, asked, limits, &mut self.events)?;
            }
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
                // A copy: a small message must not keep the peer's whole input alive.
                self.events.push_back(Event::Extension {
                    session: sid,
                    core,
                    name,
                    message: Bytes::copy_from_slice(&e.message),
                });
            }
        }
        Ok(())
    }
}

/// The discovery key a replication open names, if it names one.
fn discovery_key(protocol: &str, id: Option<&[u8]>) -> Option<[u8; 32]> {
    id.filter(|_| protocol == PROTOCOL)
        .and_then(|dk| <[u8; 32]>::try_from(dk).ok())
}

/// Requests and wants a session may queue while its output drains: the configured
/// [`EndpointConfig::max_queued_requests`], plus [`QUEUED_PER_CHANNEL`] for each channel
/// beyond the first (a store replicates a thousand cores over one connection, and the peer
/// asks for each).
fn queued_requests_limit(config: &EndpointConfig, channels: usize) -> usize {
    config.max_queued_requests.saturating_add(
        channels
            .saturating_sub(1)
            .saturating_mul(QUEUED_PER_CHANNEL),
    )
}

/// Requests and wants each further channel of a session may add to its queue: JS hypercore
/// keeps at most 512 requests in flight per peer and core.
const QUEUED_PER_CHANNEL: usize = 512;
