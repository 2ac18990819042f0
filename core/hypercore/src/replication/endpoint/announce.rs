//! Log events turned into announcements (ranges, drops, syncs) and request completions.

use super::*;

impl<S: Storage> Endpoint<S> {
    pub(super) fn end_request(
        slot: &mut CoreSlot<S>,
        core: CoreId,
        id: RequestId,
        error: RequestError,
        events: &mut EventQueue,
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
    /// Only cores touched since the last flush can have changed (see [`super::slots`]).
    pub(super) fn flush_all(&mut self) {
        loop {
            let touched = self.cores.take_touched();
            if touched.is_empty() {
                return;
            }
            for c in touched {
                self.flush_core(CoreId(c));
                let has = matches!(self.cores.get(c as usize),
                    Some(Some(slot)) if slot.wants.next_deadline().is_some());
                self.cores.set_has_deadline(c, has);
            }
        }
    }

    pub(super) fn flush_core(&mut self, core: CoreId) {
        let Some(Some(slot)) = self.cores.get_mut_flushing(core.0 as usize) else {
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
                send_drop(conn, ch, start, end);
            }
            // A truncation (or reorg) is announced as the reference does: the dropped
            // blocks as `range { drop }`, then the `sync` with the new fork, then what we
            // hold on it.
            if let Some((start, end)) = truncated {
                if end > start {
                    send_drop(conn, ch, start, end);
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
        // Updates end once no peer that told its length has anything newer; with no such
        // peer, once no session could still bring one (handshaking, or with the core's
        // channel open and the peer's length untold) and no `finding peers` scope holds
        // them (JS: an upgrade request with no peers resolves at once unless the core
        // never had a peer and is finding peers).
        let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) else {
            return;
        };
        if !slot.wants.updates.is_empty() && slot.upgrading.is_none() {
            let (fork, length) = (slot.log.fork(), slot.log.length());
            let mut told = 0;
            let mut waiting = 0;
            let mut newer = false;
            for s in self.sessions.values() {
                if s.connected.is_none() {
                    waiting += 1;
                    continue;
                }
                let Some(r) = s.by_core.get(&core).and_then(|ch| s.replicators.get(ch)) else {
                    continue;
                };
                let Some(rem) = r.remote.filter(|_| r.paired) else {
                    waiting += 1;
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
            let finding = !slot.had_peers && (slot.finding_peers > 0 || self.finding_peers > 0);
            if !newer && (told > 0 || (waiting == 0 && !finding)) {
                Self::end_updates(slot, core, &mut self.requests, &mut self.events);
            }
        }
    }
}

/// Tells the peer we no longer hold blocks `start..end` (`range { drop }`).
fn send_drop(conn: &mut Connection, ch: ChannelId, start: u64, end: u64) {
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
