//! Serving a peer (requests, wants), applying its data, and ending sessions.

use super::*;

impl<S: Storage> Endpoint<S> {
    /// Answers waiting requests and wants, oldest first, while the session's output is under
    /// budget.
    pub(super) fn serve_deferred(&mut self, sid: SessionId) {
        loop {
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            if s.out.over(&self.config) {
                return;
            }
            let Some((ch, asked)) = s.out.deferred.pop_front() else {
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
            let Some(Some(slot)) = self.cores.get_mut(r.core.0 as usize) else {
                continue;
            };
            match Self::answer(slot, r, conn, ch, &asked, &self.config, &mut self.events) {
                Ok(sent) => out.pipeline += sent,
                Err(e) => {
                    self.finish_session(sid, Some(SessionError::Peer(e)));
                    return;
                }
            }
        }
    }

    /// Answers what a peer asked for at once, or queues it while the session's output is
    /// over budget (or older asks still wait, so answers keep their order); a peer with
    /// more than `limits.1` waiting (see `queued_requests_limit`) is disconnected.
    pub(super) fn ask(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        conn: &mut Connection,
        out: &mut Outbound,
        (ch, asked): (ChannelId, Deferred),
        (config, limit): (&EndpointConfig, usize),
        events: &mut EventQueue,
    ) -> Result<(), PeerError> {
        if !out.deferred.is_empty() || out.over(config) {
            if out.deferred.len() >= limit {
                return Err(PeerError::TooManyRequests(r.core));
            }
            out.deferred.push_back((ch, asked));
        } else {
            out.pipeline += Self::answer(slot, r, conn, ch, &asked, config, events)?;
        }
        Ok(())
    }

    /// Answers a request (with data or noData) or a want (with what we have of its
    /// range); returns the bytes queued.
    fn answer(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        conn: &mut Connection,
        ch: ChannelId,
        asked: &Deferred,
        config: &EndpointConfig,
        events: &mut EventQueue,
    ) -> Result<usize, PeerError> {
        Ok(match asked {
            Deferred::Request(req) => {
                let core = r.core;
                send(conn, ch, &Self::serve(slot, r, req, config, events, core)?)
            }
            Deferred::Want(w) => Self::answer_want(slot, conn, ch, w),
        })
    }

    pub(super) fn serve(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        req: &Request,
        config: &EndpointConfig,
        events: &mut EventQueue,
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

    pub(super) fn on_data(
        slot: &mut CoreSlot<S>,
        r: &mut Replicator,
        sid: SessionId,
        d: Data,
        leaf: Option<hash::Hash>,
        events: &mut EventQueue,
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

    /// Answers a `want` with what we have of its range (a range message, or bitfields);
    /// returns the bytes queued.
    fn answer_want(slot: &CoreSlot<S>, conn: &mut Connection, ch: ChannelId, w: &Want) -> usize {
        let log = &slot.log;
        let length = log.length();
        let end = w.start.saturating_add(w.length).min(length);
        if w.start >= end {
            return 0;
        }
        if w.any {
            let Some(i) = log.bitfield().first_set(w.start).filter(|&i| i < end) else {
                return 0;
            };
            let range = Range {
                drop: false,
                start: i,
                length: 1,
            };
            return send(conn, ch, &Message::Range(range));
        }
        let contiguous = log.contiguous_length();
        if end <= contiguous {
            let range = Range {
                drop: false,
                start: 0,
                length: contiguous,
            };
            return send(conn, ch, &Message::Range(range));
        }
        // One bitfield message per 2^21-block segment, at most four per want.
        let mut start = w.start - w.start % 32;
        let mut sent = 0;
        for _ in 0..4 {
            if start >= end {
                break;
            }
            let seg_end = (start + SEGMENT).min(end);
            let words = usize::try_from((seg_end - start).div_ceil(32)).unwrap_or(0);
            if let Ok(b) = log.bitfield().to_message(start, words) {
                sent += send(conn, ch, &Message::Bitfield(b));
            }
            start = seg_end.next_multiple_of(32);
        }
        sent
    }

    /// Forgets what a finished request held in the core's bookkeeping.
    pub(super) fn release(slot: &mut CoreSlot<S>, sid: SessionId, asked: Asked) {
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

    pub(super) fn drop_replicator(&mut self, sid: SessionId, mut r: Replicator) {
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
    pub(super) fn finish_session(&mut self, sid: SessionId, error: Option<SessionError>) {
        let Some(mut s) = self.sessions.remove(&sid) else {
            return;
        };
        if error.as_ref().is_none_or(SessionError::is_orderly) {
            s.conn.end();
            while let Some(bytes) = s.conn.poll_transmit() {
                self.transmit.push_back((sid, bytes));
            }
        }
        let reps: Vec<Box<Replicator>> =
            core::mem::take(&mut s.replicators).into_values().collect();
        for r in reps {
            self.drop_replicator(sid, *r);
        }
        // Updates waiting for this session to bring a peer look again.
        for slot in self.cores.iter_mut().flatten() {
            slot.dirty |= !slot.wants.updates.is_empty();
        }
        self.events.push_back(Event::Closed {
            session: sid,
            error,
        });
    }
}
