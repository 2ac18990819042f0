//! Input: a session's connection events, decoded and dispatched (opens, capability checks, channel messages).

use super::*;

/// Connection events decoded and handled together: the blocks of a window's data messages
/// are hashed four at a time (see `inbound`), and a window bounds what one pass holds
/// however much input waits.
const WINDOW: usize = 64;

impl<S: Storage> Endpoint<S> {
    pub(super) fn open_channel(&mut self, sid: SessionId, core: CoreId) {
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

    /// Handles a session's connection events, a window at a time, while the application's
    /// events hold less than [`EndpointConfig::max_event_bytes`]; past that the session
    /// stalls (its input waits in the connection) until
    /// [`poll_event`](Endpoint::poll_event) has drained them.
    pub(super) fn process(&mut self, sid: SessionId) {
        loop {
            let budget = self.events.bytes() < self.config.max_event_bytes;
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            s.stalled = !budget;
            if !budget {
                return;
            }
            // One window, decoded together (see `inbound`); handling it may produce more
            // events, hence the loop.
            let window: Vec<ConnectionEvent> = core::iter::from_fn(|| s.conn.poll_event())
                .take(WINDOW)
                .collect();
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
                Self::ask(slot, r, conn, out, asked, &self.config, &mut self.events)?;
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
                Self::ask(slot, r, conn, out, asked, &self.config, &mut self.events)?;
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
