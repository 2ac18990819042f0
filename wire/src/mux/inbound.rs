//! Incoming frames: batches, control frames (open, reject, close) and channel messages.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use bytes::Bytes;

use super::table::{Key, PendingOpen, RemoteSlot};
use super::{
    ChannelId, CloseReason, Mux, MuxError, MuxEvent, PeerFault, BUFFER_ENTRY_OVERHEAD,
    MAX_BATCH_DEPTH, READ_AHEAD,
};
use crate::encoding::Reader;
use crate::protomux::{BatchEntries, ChannelMessage, Frame, Open, CONTROL_BATCH};

impl Mux {
    /// Handles one incoming frame (the plaintext of one secret-stream record). Empty frames
    /// are keep-alives and ignored, and so is everything after the mux ended.
    ///
    /// Frames are handled in order, a plain frame at once and a batch one entry at a time:
    /// entries are decoded and handled while fewer than [`READ_AHEAD`] events wait, and the
    /// rest as [`poll_event`](Mux::poll_event) drains them. So a record of millions of tiny
    /// entries costs the memory of the record and of [`READ_AHEAD`] events, never an event
    /// per entry at once. Frames that arrive while a batch is still being walked wait for
    /// it. After a batch with more than one entry the mux stays corked until its events are
    /// drained (see the [module docs](super)).
    ///
    /// An error is fatal: the mux closes every channel ([`CloseReason::Failed`]) and ends,
    /// and [`error`](Mux::error) keeps it; the caller should drop the connection. This call
    /// returns an error found while it runs; one found while events are polled (a bad entry
    /// further into a batch) is reported by [`error`](Mux::error) only.
    pub fn handle_frame(&mut self, frame: Bytes) -> Result<(), MuxError> {
        if self.ended || frame.is_empty() {
            return Ok(());
        }
        self.inbox.push_back(frame);
        self.advance();
        if self.ended {
            if let Some(e) = &self.failure {
                return Err(e.clone());
            }
        }
        if self.events.is_empty() {
            self.release_hold();
        }
        Ok(())
    }

    /// The peer's fault that failed the mux, if one did.
    #[must_use]
    pub fn error(&self) -> Option<&MuxError> {
        self.failure.as_ref()
    }

    /// Handles queued frames, and the entries of the batch being walked while fewer than
    /// [`READ_AHEAD`] events wait.
    pub(super) fn advance(&mut self) {
        while !self.ended {
            let result = if let Some(batch) = self.walking.last_mut() {
                if self.events.len() >= READ_AHEAD {
                    return;
                }
                match batch.next() {
                    None => {
                        self.walking.pop();
                        continue;
                    }
                    Some(Err(e)) => Err(e.into()),
                    Some(Ok(entry)) => {
                        self.walked += 1;
                        if self.walked > self.config.max_batch_entries {
                            Err(PeerFault::BatchTooLarge {
                                max: self.config.max_batch_entries,
                            }
                            .into())
                        } else {
                            let depth = self.walking.len();
                            self.dispatch(entry, depth)
                        }
                    }
                }
            } else if let Some(frame) = self.inbox.pop_front() {
                self.walked = 0;
                self.process_frame(&frame)
            } else {
                return;
            };
            if let Err(e) = result {
                self.failure = Some(e);
                self.shut_down(CloseReason::Failed);
            }
        }
    }

    fn process_frame(&mut self, frame: &Bytes) -> Result<(), MuxError> {
        let mut r = Reader::from_bytes(frame);
        let channel = r.uint()?;
        let message_type = r.uint()?;
        let payload = r.rest_bytes();
        self.dispatch(
            ChannelMessage {
                channel,
                message_type,
                payload,
            },
            0,
        )
    }

    /// Handles a frame (or batch entry) already split into channel, type and payload.
    fn dispatch(&mut self, entry: ChannelMessage, depth: usize) -> Result<(), MuxError> {
        if entry.channel != 0 {
            return self.on_message(entry);
        }
        if entry.message_type == CONTROL_BATCH {
            return self.on_batch(entry.payload, depth + 1);
        }
        match Frame::from_parts(0, entry.message_type, &entry.payload)? {
            Frame::Open(open) => self.on_open(open),
            Frame::Reject { remote_id } => self.on_reject(remote_id),
            Frame::Close { local_id } => {
                self.on_close(local_id);
                Ok(())
            }
            // Unknown control types are ignored, as in protomux.
            _ => Ok(()),
        }
    }

    /// Starts walking a batch: its entries are handled by [`advance`](Self::advance).
    fn on_batch(&mut self, payload: Bytes, depth: usize) -> Result<(), MuxError> {
        if depth > MAX_BATCH_DEPTH {
            return Err(PeerFault::BatchTooDeep.into());
        }
        let entries = BatchEntries::new(payload)?;
        if entries.clone().nth(1).is_some() {
            self.hold_cork();
        }
        self.walking.push(entries);
        Ok(())
    }

    fn on_open(&mut self, open: Open) -> Result<(), MuxError> {
        let remote_id = open.local_id;
        if remote_id == 0 {
            // The control channel cannot be opened: protomux rejects it.
            self.write_frame(&Frame::Reject { remote_id: 0 });
            return Ok(());
        }
        if !self.remote.claim(remote_id) {
            return Err(PeerFault::InvalidOpen { remote_id }.into());
        }
        let key = Key::new(open.protocol, open.id);
        if let Some(local_id) = self.outgoing.pop(&key) {
            match self.local.channel_mut(local_id) {
                Some(ch) => {
                    ch.remote = Some(remote_id);
                    self.remote
                        .slots
                        .insert(remote_id, RemoteSlot::Paired(local_id));
                    self.events.push_back(MuxEvent::Opened {
                        channel: ChannelId(local_id),
                        protocol: key.protocol,
                        id: key.id,
                        handshake: open.handshake,
                    });
                }
                // We closed that channel before this answer: its id is free now, and the
                // open is ignored (the peer got our close).
                None => self.local.release(local_id),
            }
            return Ok(());
        }
        if !self.listening.contains(&key.protocol) {
            self.write_frame(&Frame::Reject { remote_id });
            return Ok(());
        }
        if self.pending_opens >= self.config.max_pending_opens {
            return Err(PeerFault::TooManyPendingOpens.into());
        }
        if self.channel_slots() >= self.config.max_channels {
            return Err(PeerFault::TooManyChannels.into());
        }
        let id_len = key.id.as_ref().map_or(0, Bytes::len);
        let cost = BUFFER_ENTRY_OVERHEAD + key.protocol.len() + id_len + open.handshake.len();
        self.charge(cost)?;
        // Copies, so that a small open does not keep a large frame alive.
        let key = Key::new(key.protocol, key.id.map(|b| Bytes::copy_from_slice(&b)));
        let handshake = Bytes::copy_from_slice(&open.handshake);
        self.events.push_back(MuxEvent::OpenRequest {
            protocol: key.protocol.clone(),
            id: key.id.clone(),
            handshake: handshake.clone(),
            remote_id,
        });
        self.incoming.push(key.clone(), remote_id);
        self.pending_opens += 1;
        self.remote.slots.insert(
            remote_id,
            RemoteSlot::Pending(Box::new(PendingOpen {
                key,
                handshake,
                messages: VecDeque::new(),
                cost,
            })),
        );
        Ok(())
    }

    /// `reject` names one of our opens the peer refuses.
    fn on_reject(&mut self, local_id: u64) -> Result<(), MuxError> {
        let Some(key) = self.local.awaiting_answer(local_id).cloned() else {
            return Err(PeerFault::InvalidReject { local_id }.into());
        };
        self.outgoing.remove(&key, local_id);
        let was_open = self.local.channel(local_id).is_some();
        self.local.release(local_id);
        if was_open {
            self.events.push_back(MuxEvent::Closed {
                channel: ChannelId(local_id),
                reason: CloseReason::Rejected,
            });
        }
        Ok(())
    }

    /// `close` names the peer's own channel.
    fn on_close(&mut self, remote_id: u64) {
        match self.remote.slots.get(&remote_id) {
            None => {}
            Some(&RemoteSlot::Paired(local_id)) => {
                self.remote.slots.remove(&remote_id);
                self.local.release(local_id);
                self.events.push_back(MuxEvent::Closed {
                    channel: ChannelId(local_id),
                    reason: CloseReason::Remote,
                });
            }
            Some(RemoteSlot::Pending(_)) => {
                let Some(p) = self.take_pending(remote_id) else {
                    return;
                };
                self.incoming.remove(&p.key, remote_id);
                // Tells the peer its id is free again (its open awaits an answer).
                self.write_frame(&Frame::Reject { remote_id });
                self.events.push_back(MuxEvent::OpenWithdrawn {
                    protocol: p.key.protocol,
                    id: p.key.id,
                    remote_id,
                });
            }
        }
    }

    /// A message on the peer's channel `m.channel`.
    fn on_message(&mut self, m: ChannelMessage) -> Result<(), MuxError> {
        match self.remote.slots.get_mut(&m.channel) {
            // Unknown or closed: ignored (could be in flight since a close).
            None => Ok(()),
            Some(&mut RemoteSlot::Paired(local_id)) => {
                self.events.push_back(MuxEvent::Message {
                    channel: ChannelId(local_id),
                    message_type: m.message_type,
                    payload: m.payload,
                });
                Ok(())
            }
            Some(RemoteSlot::Pending(p)) => {
                let cost = BUFFER_ENTRY_OVERHEAD + m.payload.len();
                if self.buffered.saturating_add(cost) > self.config.max_buffered_bytes {
                    return Err(PeerFault::BufferLimitExceeded.into());
                }
                // A copy, so that a small message does not keep a large batch alive.
                p.messages
                    .push_back((m.message_type, Bytes::copy_from_slice(&m.payload)));
                p.cost += cost;
                self.buffered += cost;
                Ok(())
            }
        }
    }

    /// Counts `cost` more buffered bytes, if the limit allows.
    fn charge(&mut self, cost: usize) -> Result<(), MuxError> {
        if self.buffered.saturating_add(cost) > self.config.max_buffered_bytes {
            return Err(PeerFault::BufferLimitExceeded.into());
        }
        self.buffered += cost;
        Ok(())
    }
}
