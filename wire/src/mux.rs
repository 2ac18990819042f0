//! The protomux state machine (`protomux@3.12.1`), sans-IO: channels, their pairing,
//! buffering, closing and batching, over the frame codecs of [`protomux`](crate::protomux).
//!
//! One [`Mux`] serves one connection. Feed it every decrypted record with
//! [`handle_frame`](Mux::handle_frame) (and [`handle_end`](Mux::handle_end) once the stream
//! ends); drive it with [`listen`](Mux::listen), [`open`](Mux::open),
//! [`send`](Mux::send), [`close`](Mux::close), [`cork`](Mux::cork) /
//! [`uncork`](Mux::uncork). After every call, drain [`poll_event`](Mux::poll_event) and
//! [`poll_transmit`](Mux::poll_transmit) until both return `None`, handling each event
//! before polling the next; every transmitted frame is one record of the secret stream.
//! `poll_event` itself may release frames (see *Batches* below), so poll transmits again
//! after events run dry.
//!
//! ```
//! use bytes::Bytes;
//! use ferrocore_wire::mux::{Mux, MuxConfig, MuxEvent};
//!
//! let (mut a, mut b) = (Mux::new(MuxConfig::default()), Mux::new(MuxConfig::default()));
//! b.listen("example/v1");
//! let ch = a.open("example/v1", None, b"hi").unwrap();
//! a.send(ch, 0, b"early").unwrap();
//! while let Some(frame) = a.poll_transmit() {
//!     b.handle_frame(Bytes::from(frame)).unwrap();
//! }
//! let Some(MuxEvent::OpenRequest { protocol, id, .. }) = b.poll_event() else { panic!() };
//! let theirs = b.open(&protocol, id.as_deref(), b"hello").unwrap();
//! // Pairing delivers what arrived before it, in order.
//! assert!(matches!(b.poll_event(), Some(MuxEvent::Opened { channel, .. }) if channel == theirs));
//! assert!(matches!(b.poll_event(), Some(MuxEvent::Message { payload, .. }) if payload == "early"));
//! ```
//!
//! # Channels (spec 3.2)
//!
//! Both sides send `open`; a channel is fully open ([`MuxEvent::Opened`]) once a side has
//! sent its own and received the peer's with the same key (protocol + optional id bytes;
//! several channels with one key pair first-in, first-out). A remote open with no local
//! channel waiting becomes a [`MuxEvent::OpenRequest`] if the protocol is
//! [listened](Mux::listen) to, else it is rejected at once (a `reject` frame), as protomux
//! does when no pair handler claims it. Messages may be sent right after `open`; the
//! receiver buffers those for an open it has not paired yet and delivers them after
//! [`MuxEvent::Opened`]. Local ids start at 1, freed ids are reused last-in first-out, and
//! an id is freed when its channel closes if the peer had paired it, else once the peer's
//! open or reject for it arrives. A remote open must use the id one past the highest seen
//! or a free one ([`PeerFault::InvalidOpen`] otherwise); an open of id 0 is answered with
//! `reject 0`. `close` is one-sided (never echoed); messages for unknown or closed remote
//! channels and unknown control types are ignored. The mux registers no message types:
//! every type is delivered and the application ignores those it does not know.
//!
//! # Batches (spec 3.4)
//!
//! While [corked](Mux::cork), every outgoing frame joins one batch frame, sent on the last
//! [`uncork`](Mux::uncork) or early once it reaches
//! [`MAX_BATCH_BYTES`](crate::protomux::MAX_BATCH_BYTES). An incoming batch has all its
//! entries processed in order (nested batches up to [`MAX_BATCH_DEPTH`], at most
//! [`MuxConfig::max_batch_entries`] in one frame), one at a time: entries are decoded only
//! while fewer than [`READ_AHEAD`] events wait, the rest as [`poll_event`](Mux::poll_event)
//! drains them, so a 16 MiB record of millions of tiny entries never becomes millions of
//! events at once. As protomux corks itself until the handlers of a batch with more than
//! one entry have run, the mux stays corked after such a batch until the application has
//! handled its events: the batch is released when `poll_event` finds no more events, so
//! replies made while handling them leave as one batch.
//!
//! # Bounds and deviations
//!
//! The peer cannot make the mux hold more than [`MuxConfig`] allows: pending opens and the
//! messages buffered for them are copied out of their frames and counted
//! ([`Mux::buffered_bytes`]), and a frame's batch entries wait in the frame until they are
//! handled. Where protomux pauses the stream above 32 KiB buffered, the
//! mux reports [`should_pause`](Mux::should_pause) and fails past the configured limit.
//! Two deliberate departures from protomux, both invisible to a conforming JS peer: a
//! `close` of an open the application has not answered withdraws it
//! ([`MuxEvent::OpenWithdrawn`]) and is answered with a `reject`, which releases the
//! peer's id (protomux keeps such an open pending forever); and any malformed frame or
//! broken rule fails the whole mux at once (protomux destroys the stream, but runs the
//! entries of a batch before the bad one: so does the mux).

mod config;
mod error;
mod event;
mod inbound;
mod table;
#[cfg(test)]
mod tests;

use alloc::collections::{BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

pub use config::{MuxConfig, BUFFER_ENTRY_OVERHEAD, MAX_BATCH_DEPTH, PAUSE_THRESHOLD, READ_AHEAD};
pub use error::{Misuse, MuxError, PeerFault};
pub use event::{ChannelId, CloseReason, MuxEvent};

use crate::encoding::{Encode, Raw};
use crate::protomux::{message_frame, BatchBuilder, BatchEntries, Frame, Open};
use table::{Key, LocalChannel, LocalIds, PendingOpen, Queues, RemoteIds, RemoteSlot};

/// The protomux state machine of one connection (see the [module docs](self)).
#[derive(Debug)]
pub struct Mux {
    config: MuxConfig,
    local: LocalIds,
    remote: RemoteIds,
    /// Our opens not yet answered by the peer, per key.
    outgoing: Queues,
    /// The peer's opens not yet answered by the application, per key.
    incoming: Queues,
    pending_opens: usize,
    buffered: usize,
    listening: BTreeSet<String>,
    corked: usize,
    batch: BatchBuilder,
    /// The mux corked itself for an incoming multi-entry batch (see the module docs).
    batch_hold: bool,
    ended: bool,
    /// Frames received and not handled yet (while a batch before them is walked).
    inbox: VecDeque<Bytes>,
    /// The batch being handled one entry at a time, and the batches nested in it.
    walking: Vec<BatchEntries>,
    /// Entries of the current frame's batches handled so far.
    walked: usize,
    /// The peer's fault that failed the mux.
    failure: Option<MuxError>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<MuxEvent>,
}

impl Default for Mux {
    fn default() -> Self {
        Self::new(MuxConfig::default())
    }
}

impl Mux {
    /// A mux with no channels.
    #[must_use]
    pub fn new(config: MuxConfig) -> Self {
        Self {
            config,
            local: LocalIds::default(),
            remote: RemoteIds::default(),
            outgoing: Queues::default(),
            incoming: Queues::default(),
            pending_opens: 0,
            buffered: 0,
            listening: BTreeSet::new(),
            corked: 0,
            batch: BatchBuilder::new(),
            batch_hold: false,
            ended: false,
            inbox: VecDeque::new(),
            walking: Vec::new(),
            walked: 0,
            failure: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The limits this mux enforces.
    #[must_use]
    pub fn config(&self) -> &MuxConfig {
        &self.config
    }

    /// Changes [`MuxConfig::max_channels`] for later opens: an application whose channels
    /// grow with its data (one per core of a store) raises it as it goes. Channels already
    /// open stay open, whatever the new limit.
    pub fn set_max_channels(&mut self, max: usize) {
        self.config.max_channels = max;
    }

    /// Remote opens of `protocol` (any id) with no local channel waiting are surfaced as
    /// [`MuxEvent::OpenRequest`] and kept pending until the application calls
    /// [`open`](Mux::open) with the same protocol and id (which pairs) or
    /// [`reject`](Mux::reject). Opens of protocols nobody listens to are rejected at once.
    pub fn listen(&mut self, protocol: &str) {
        self.listening.insert(String::from(protocol));
    }

    /// Stops surfacing new opens of `protocol`: later ones are rejected at once. Opens
    /// already pending stay so until answered.
    pub fn unlisten(&mut self, protocol: &str) {
        self.listening.remove(protocol);
    }

    /// Opens a local channel: sends `open` with the next local id (the last freed one, else
    /// a new one) and returns it. `handshake` is the already-encoded handshake payload
    /// (empty for none). If a remote open with this protocol and id is pending, the oldest
    /// one pairs with the channel and [`MuxEvent::Opened`] follows, then the messages
    /// buffered for it. Messages may be sent right away either way.
    pub fn open(
        &mut self,
        protocol: &str,
        id: Option<&[u8]>,
        handshake: &[u8],
    ) -> Result<ChannelId, MuxError> {
        if self.ended {
            return Err(Misuse::Ended.into());
        }
        let key = Key::new(String::from(protocol), id.map(Bytes::copy_from_slice));
        if !self.incoming.contains(&key) && self.channel_slots() >= self.config.max_channels {
            return Err(Misuse::TooManyChannels.into());
        }
        let pairing = self.incoming.pop(&key).and_then(|remote_id| {
            let pending = self.take_pending(remote_id)?;
            Some((remote_id, pending))
        });
        let local_id = self.local.allocate(LocalChannel {
            key: key.clone(),
            remote: pairing.as_ref().map(|(remote_id, _)| *remote_id),
        });
        self.write_frame(&Frame::Open(Open {
            local_id,
            protocol: key.protocol.clone(),
            id: key.id.clone(),
            handshake: Bytes::copy_from_slice(handshake),
        }));
        let channel = ChannelId(local_id);
        match pairing {
            None => self.outgoing.push(key, local_id),
            Some((remote_id, pending)) => {
                self.remote
                    .slots
                    .insert(remote_id, RemoteSlot::Paired(local_id));
                self.events.push_back(MuxEvent::Opened {
                    channel,
                    protocol: key.protocol,
                    id: key.id,
                    handshake: pending.handshake,
                });
                for (message_type, payload) in pending.messages {
                    self.events.push_back(MuxEvent::Message {
                        channel,
                        message_type,
                        payload,
                    });
                }
            }
        }
        Ok(channel)
    }

    /// Rejects the oldest pending remote open with this protocol and id (a `reject`
    /// frame), dropping what was buffered for it. False if there is none.
    pub fn reject(&mut self, protocol: &str, id: Option<&[u8]>) -> bool {
        let key = Key::new(String::from(protocol), id.map(Bytes::copy_from_slice));
        let Some(remote_id) = self.incoming.pop(&key) else {
            return false;
        };
        self.take_pending(remote_id);
        self.write_frame(&Frame::Reject { remote_id });
        true
    }

    /// Sends a message of type `message_type` on `channel`; `payload` is the encoded
    /// message. Allowed as soon as the channel is opened, paired or not.
    pub fn send(
        &mut self,
        channel: ChannelId,
        message_type: u64,
        payload: &[u8],
    ) -> Result<(), MuxError> {
        self.send_encoded(channel, message_type, &Raw(payload))
    }

    /// Sends a value that encodes itself as the payload of a message of type
    /// `message_type` (e.g. a replication [`Message`](crate::Message)): encoded straight
    /// into the outgoing frame, with no intermediate buffer.
    pub fn send_encoded<T: Encode + ?Sized>(
        &mut self,
        channel: ChannelId,
        message_type: u64,
        payload: &T,
    ) -> Result<(), MuxError> {
        if self.local.channel(channel.0).is_none() {
            return Err(Misuse::ChannelNotOpen(channel).into());
        }
        if self.corked > 0 {
            let full = self.batch.push(channel.0, message_type, payload);
            self.transmit.extend(full);
        } else {
            let frame = message_frame(channel.0, message_type, payload);
            self.transmit.push_back(frame);
        }
        Ok(())
    }

    /// Closes `channel`: sends `close` (the peer does not answer it) and queues
    /// [`MuxEvent::Closed`] with [`CloseReason::Local`]. The id is freed at once if the
    /// channel was paired, else once the peer answers its open.
    pub fn close(&mut self, channel: ChannelId) -> Result<(), MuxError> {
        let Some(ch) = self.local.channel(channel.0) else {
            return Err(Misuse::ChannelNotOpen(channel).into());
        };
        match ch.remote {
            Some(remote_id) => {
                self.remote.slots.remove(&remote_id);
                self.local.release(channel.0);
            }
            None => self.local.await_ack(channel.0),
        }
        self.events.push_back(MuxEvent::Closed {
            channel,
            reason: CloseReason::Local,
        });
        self.write_frame(&Frame::Close {
            local_id: channel.0,
        });
        Ok(())
    }

    /// Starts (or nests) a batch: until the matching [`uncork`](Mux::uncork), every
    /// outgoing frame is collected into one batch frame.
    pub fn cork(&mut self) {
        self.corked += 1;
    }

    /// Ends one [`cork`](Mux::cork); the last one queues the batch (if anything was
    /// collected). An uncork without a cork does nothing.
    pub fn uncork(&mut self) {
        if self.corked == 0 {
            return;
        }
        self.corked -= 1;
        if self.corked == 0 {
            self.transmit.extend(self.batch.take());
        }
    }

    /// True while corked (by the application, or by the mux after an incoming batch).
    #[must_use]
    pub fn is_corked(&self) -> bool {
        self.corked > 0
    }

    /// The stream ended or closed: every channel closes ([`CloseReason::Ended`]), pending
    /// opens are dropped, and later frames are ignored. Frames already queued stay
    /// queued.
    pub fn handle_end(&mut self) {
        self.shut_down(CloseReason::Ended);
    }

    /// The next frame to send, in order. Each is one record of the secret stream.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The next event. Incoming frames and batch entries waiting to be handled are handled
    /// here as the events before them are drained (see [`handle_frame`](Mux::handle_frame)),
    /// which can fail the mux ([`error`](Mux::error)). Once there is no event, a batch the
    /// mux held corked since an incoming multi-entry batch is released: poll transmits
    /// afterwards.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MuxEvent> {
        if self.events.is_empty() {
            self.advance();
        }
        let event = self.events.pop_front();
        if event.is_none() {
            self.release_hold();
        }
        event
    }

    /// True if `channel` is open (paired or not).
    #[must_use]
    pub fn is_open(&self, channel: ChannelId) -> bool {
        self.local.channel(channel.0).is_some()
    }

    /// True if `channel` is fully open (the peer's open paired with it).
    #[must_use]
    pub fn is_paired(&self, channel: ChannelId) -> bool {
        self.remote_id(channel).is_some()
    }

    /// The peer's local id for `channel`, once paired.
    #[must_use]
    pub fn remote_id(&self, channel: ChannelId) -> Option<u64> {
        self.local.channel(channel.0).and_then(|c| c.remote)
    }

    /// Protocol and id bytes of an open channel.
    #[must_use]
    pub fn channel_key(&self, channel: ChannelId) -> Option<(&str, Option<&Bytes>)> {
        let c = self.local.channel(channel.0)?;
        Some((&c.key.protocol, c.key.id.as_ref()))
    }

    /// Open local channels (paired or not).
    #[must_use]
    pub fn channel_count(&self) -> usize {
        self.local.live()
    }

    /// Remote opens waiting for the application.
    #[must_use]
    pub fn pending_open_count(&self) -> usize {
        self.pending_opens
    }

    /// Bytes held for pending remote opens and their buffered messages (bounded by
    /// [`MuxConfig::max_buffered_bytes`]).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// True when more than [`PAUSE_THRESHOLD`] bytes are buffered, where protomux pauses
    /// its stream: a caller may stop reading until the application answers its pending
    /// opens.
    #[must_use]
    pub fn should_pause(&self) -> bool {
        self.buffered > PAUSE_THRESHOLD
    }

    /// True once the stream ended ([`handle_end`](Mux::handle_end)) or the peer's frames
    /// failed the mux.
    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Channel slots in use, counted against [`MuxConfig::max_channels`].
    fn channel_slots(&self) -> usize {
        self.local.reserved() + self.pending_opens
    }

    /// Sends a control frame (into the batch while corked).
    fn write_frame(&mut self, frame: &Frame) {
        if self.corked > 0 {
            let full = self.batch.push_frame(frame);
            self.transmit.extend(full);
        } else {
            self.transmit.push_back(frame.to_vec());
        }
    }

    /// Takes a pending remote open out of its slot, freeing the slot and its bytes (the
    /// caller removes it from `incoming`).
    fn take_pending(&mut self, remote_id: u64) -> Option<PendingOpen> {
        match self.remote.slots.remove(&remote_id) {
            Some(RemoteSlot::Pending(p)) => {
                self.pending_opens -= 1;
                self.buffered -= p.cost;
                Some(*p)
            }
            Some(other) => {
                self.remote.slots.insert(remote_id, other);
                None
            }
            None => None,
        }
    }

    /// Corks until the application has drained the events of an incoming batch.
    fn hold_cork(&mut self) {
        if !self.batch_hold {
            self.batch_hold = true;
            self.cork();
        }
    }

    fn release_hold(&mut self) {
        if self.batch_hold {
            self.batch_hold = false;
            self.uncork();
        }
    }

    /// Closes every channel and forgets everything the peer asked for.
    fn shut_down(&mut self, reason: CloseReason) {
        if self.ended {
            return;
        }
        self.ended = true;
        let live: Vec<u64> = self.local.live_ids().collect();
        for id in live {
            self.events.push_back(MuxEvent::Closed {
                channel: ChannelId(id),
                reason,
            });
        }
        self.local = LocalIds::default();
        self.remote = RemoteIds::default();
        self.outgoing = Queues::default();
        self.incoming = Queues::default();
        self.pending_opens = 0;
        self.buffered = 0;
        self.inbox.clear();
        self.walking.clear();
        self.release_hold();
    }
}
