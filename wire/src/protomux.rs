//! protomux frames (`protomux@3.12.1`): the multiplexing layer between secret-stream
//! records and channel messages. Each decrypted record is exactly one frame.
//!
//! ```text
//! uint channel ‖ uint type ‖ payload (rest of the frame)
//! channel 0 = control: type 0 batch, 1 open, 2 reject, 3 close
//! open    = uint localId ‖ string protocol ‖ optionalBuffer id ‖ handshake (rest)
//! reject  = uint remoteId   (the opener's local id being refused)
//! close   = uint localId    (the sender's own local id)
//! batch   = uint firstChannel ‖ { uint len ‖ entry[len] }*
//!           entry = uint type ‖ payload; len 0 = channel switch, `uint newChannel` follows;
//!           entries on channel 0 are control frames without their leading 00
//! ```
//!
//! [`Frame`] is the typed frame with an exact [`Encode`] / [`Decode`]. Decoding is
//! shallow: message payloads and batch entries stay raw [`Bytes`] (zero-copy with
//! [`Decode::decode_bytes`]); decode a hypercore payload with
//! [`ChannelMessage::decode_hypercore`] and the entries of a batch with [`Batch::frames`]
//! or lazily with [`BatchEntries`]. Nothing recurses, so nested batches cost no stack.
//!
//! Outgoing batches (protomux's cork / uncork) are built with [`BatchBuilder`].
//!
//! ```
//! use ferrocore_wire::protomux::{BatchBuilder, Frame};
//! use ferrocore_wire::{Decode, Message, Range, Sync};
//!
//! let mut cork = BatchBuilder::new();
//! let sync = Message::from(Sync { length: 5, can_upgrade: true, ..Sync::default() });
//! let range = Message::from(Range { drop: false, start: 0, length: 5 });
//! assert!(cork.push_message(1, &sync).is_none());
//! assert!(cork.push_message(1, &range).is_none());
//! let frame = cork.finish().unwrap();
//! assert_eq!(frame, [0, 0, 1, 5, 0, 1, 0, 5, 0, 4, 8, 0, 0, 5]);
//!
//! let Frame::Batch(batch) = Frame::decode_from(&frame).unwrap() else { panic!() };
//! assert_eq!(batch.entries[1].decode_hypercore().unwrap(), Some(range));
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::encoding::{buffer_len, frame_len, uint_len, Decode, Encode, Raw, Reader, Writer};
use crate::messages::Message;
use crate::DecodeError;

/// Control type of a batch frame.
pub const CONTROL_BATCH: u64 = 0;
/// Control type of an open frame.
pub const CONTROL_OPEN: u64 = 1;
/// Control type of a reject frame.
pub const CONTROL_REJECT: u64 = 2;
/// Control type of a close frame.
pub const CONTROL_CLOSE: u64 = 3;

/// protomux sends a corked batch early once it reaches this many bytes (8 MiB).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// `open` (control type 1): the sender opens its local channel `local_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Open {
    /// The sender's local channel id (≥ 1; protomux rejects 0).
    pub local_id: u64,
    /// Protocol name, e.g. `hypercore/alpha`.
    pub protocol: String,
    /// Optional channel id bytes (the discovery key for hypercore). Empty and absent are
    /// the same on the wire; decoding yields `None` for both.
    pub id: Option<Bytes>,
    /// The channel's handshake payload: the rest of the frame, in the protocol's codec
    /// (empty if the protocol has none).
    pub handshake: Bytes,
}

impl Open {
    /// Decodes the handshake payload with the protocol's codec (e.g.
    /// [`Handshake`](crate::Handshake) for `hypercore/alpha`). Trailing bytes are ignored,
    /// as in the reference.
    pub fn decode_handshake<T: Decode>(&self) -> Result<T, DecodeError> {
        T::decode_bytes(&self.handshake)
    }
}

/// A message on a non-control channel (or a raw batch entry on any channel).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChannelMessage {
    /// The **sender's** local channel id.
    pub channel: u64,
    /// Message type number within the channel's protocol.
    pub message_type: u64,
    /// The encoded message (rest of the frame or batch entry).
    pub payload: Bytes,
}

impl ChannelMessage {
    /// A channel message carrying `payload` encoded with its codec.
    #[must_use]
    pub fn new<T: Encode + ?Sized>(channel: u64, message_type: u64, payload: &T) -> Self {
        Self {
            channel,
            message_type,
            payload: Bytes::from(payload.to_vec()),
        }
    }

    /// A `hypercore/alpha` message on `channel`.
    #[must_use]
    pub fn hypercore(channel: u64, message: &Message) -> Self {
        Self::new(channel, message.message_type().as_u64(), message)
    }

    /// Decodes the payload as a `hypercore/alpha` message (zero-copy). `Ok(None)` for an
    /// unknown message type (≥ 10), which the reference ignores.
    pub fn decode_hypercore(&self) -> Result<Option<Message>, DecodeError> {
        Message::decode_payload(self.message_type, &self.payload)
    }

    /// Decodes the payload with any codec (zero-copy; trailing bytes ignored).
    pub fn decode_payload<T: Decode>(&self) -> Result<T, DecodeError> {
        T::decode_bytes(&self.payload)
    }

    /// Bytes of this entry inside a batch: `uint type ‖ payload`.
    fn entry_len(&self) -> usize {
        uint_len(self.message_type) + self.payload.len()
    }
}

/// A batch (control type 0): several frames sent as one, possibly for different channels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// The entries in order. An entry on channel 0 is a control frame (its
    /// `message_type` is the control type); interpret entries with [`Batch::frames`].
    pub entries: Vec<ChannelMessage>,
}

impl Batch {
    /// Every entry interpreted as a frame: entries on channel 0 decode as control frames
    /// (a nested batch decodes one level, as [`Frame::Batch`]), others are
    /// [`Frame::Message`].
    pub fn frames(&self) -> impl Iterator<Item = Result<Frame, DecodeError>> + '_ {
        self.entries
            .iter()
            .map(|e| Frame::from_parts(e.channel, e.message_type, &e.payload))
    }

    /// Iterates the entries of an encoded batch payload (what follows `00 00`) without
    /// collecting them.
    pub fn entries(payload: &Bytes) -> Result<BatchEntries, DecodeError> {
        BatchEntries::new(payload.clone())
    }
}

impl Encode for Batch {
    /// Size of the batch payload (after `00 00`).
    fn encoded_len(&self) -> usize {
        let mut prev = self.entries.first().map_or(0, |e| e.channel);
        let mut n = uint_len(prev);
        for e in &self.entries {
            if e.channel != prev {
                prev = e.channel;
                n += 1 + uint_len(prev);
            }
            n += frame_len(e.entry_len());
        }
        n
    }

    /// Writes the batch payload (after `00 00`). An empty batch is `00` (first channel 0,
    /// no entries); protomux never sends one.
    fn encode(&self, w: &mut Writer<'_>) {
        let mut prev = self.entries.first().map_or(0, |e| e.channel);
        w.uint(prev);
        for e in &self.entries {
            if e.channel != prev {
                prev = e.channel;
                w.uint(0).uint(prev);
            }
            w.frame(&Entry {
                message_type: e.message_type,
                payload: &Raw(&e.payload),
            });
        }
    }
}

impl Decode for Batch {
    /// Decodes a batch payload (after `00 00`) up to the end of the reader's window.
    ///
    /// Every entry takes at least two input bytes, so the entry vector stays proportional
    /// to the input.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let payload = r.take_bytes(r.remaining())?;
        let entries = BatchEntries::new(payload)?.collect::<Result<Vec<_>, _>>()?;
        Ok(Self { entries })
    }
}

/// Lazy decoder of a batch payload: yields each entry as a [`ChannelMessage`] (channel
/// switches applied), decoding only as far as asked. It owns (a reference count of) the
/// payload, so it can be kept while entries are handled one at a time, which is how the
/// [`Mux`](crate::mux::Mux) walks a batch: a record of millions of tiny entries costs no
/// more memory than its own bytes. Stops after the first error.
#[derive(Debug, Clone)]
pub struct BatchEntries {
    payload: Bytes,
    pos: usize,
    channel: u64,
    failed: bool,
}

impl BatchEntries {
    /// Starts decoding a batch payload (`uint firstChannel ‖ entries`).
    pub fn new(payload: Bytes) -> Result<Self, DecodeError> {
        let mut r = Reader::from_bytes(&payload);
        let channel = r.uint()?;
        let pos = r.position();
        Ok(Self {
            payload,
            pos,
            channel,
            failed: false,
        })
    }

    /// Bytes of the payload not decoded yet.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.payload.len() - self.pos
    }

    fn next_entry(&mut self) -> Result<Option<ChannelMessage>, DecodeError> {
        let mut r = Reader::from_bytes(&self.payload);
        r.take(self.pos)?;
        while !r.is_empty() {
            let len = r.uint()?;
            if len == 0 {
                self.channel = r.uint()?;
                self.pos = r.position();
                continue;
            }
            let len = usize::try_from(len).map_err(|_| DecodeError::IntegerOutOfRange(len))?;
            let mut entry = r.sub_reader(len)?;
            let message_type = entry.uint()?;
            let payload = entry.rest_bytes();
            self.pos = r.position();
            return Ok(Some(ChannelMessage {
                channel: self.channel,
                message_type,
                payload,
            }));
        }
        self.pos = r.position();
        Ok(None)
    }
}

impl Iterator for BatchEntries {
    type Item = Result<ChannelMessage, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_entry().transpose();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

/// One protomux frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Control type 0: several entries sent as one frame.
    Batch(Batch),
    /// Control type 1: the sender opens a channel.
    Open(Open),
    /// Control type 2: the sender refuses the receiver's open of `remote_id`.
    Reject {
        /// The opener's (the receiver's) local id being refused.
        remote_id: u64,
    },
    /// Control type 3: the sender closed its channel `local_id` (one-sided, no echo).
    Close {
        /// The sender's local id.
        local_id: u64,
    },
    /// A control type ≥ 4: ignored by the reference, kept raw here (`control_type` must be
    /// ≥ 4 for the frame to encode as this variant).
    UnknownControl {
        /// The control type number.
        control_type: u64,
        /// The rest of the frame.
        payload: Bytes,
    },
    /// A message on channel `channel`, which must be ≥ 1 (channel 0 is control).
    Message(ChannelMessage),
}

impl Frame {
    /// A message frame carrying a `hypercore/alpha` message.
    #[must_use]
    pub fn hypercore(channel: u64, message: &Message) -> Self {
        Frame::Message(ChannelMessage::hypercore(channel, message))
    }

    /// Interprets `payload` as the body of a frame (or batch entry) with the given channel
    /// and type: channel 0 is a control frame, anything else a [`Frame::Message`].
    pub fn from_parts(
        channel: u64,
        frame_type: u64,
        payload: &Bytes,
    ) -> Result<Frame, DecodeError> {
        Self::decode_body(channel, frame_type, &mut Reader::from_bytes(payload))
    }

    /// Decodes one secret-stream record's plaintext. An empty record (a keep-alive, which
    /// protomux ignores) is `Ok(None)`.
    pub fn decode_record(record: &Bytes) -> Result<Option<Frame>, DecodeError> {
        if record.is_empty() {
            Ok(None)
        } else {
            Self::decode_bytes(record).map(Some)
        }
    }

    /// The channel this frame is addressed on (0 for control frames).
    #[must_use]
    pub fn channel(&self) -> u64 {
        match self {
            Frame::Message(m) => m.channel,
            _ => 0,
        }
    }

    /// The frame type: the control type for control frames, else the message type.
    #[must_use]
    pub fn frame_type(&self) -> u64 {
        match self {
            Frame::Batch(_) => CONTROL_BATCH,
            Frame::Open(_) => CONTROL_OPEN,
            Frame::Reject { .. } => CONTROL_REJECT,
            Frame::Close { .. } => CONTROL_CLOSE,
            Frame::UnknownControl { control_type, .. } => *control_type,
            Frame::Message(m) => m.message_type,
        }
    }

    fn decode_body(
        channel: u64,
        frame_type: u64,
        r: &mut Reader<'_>,
    ) -> Result<Frame, DecodeError> {
        if channel != 0 {
            return Ok(Frame::Message(ChannelMessage {
                channel,
                message_type: frame_type,
                payload: r.rest_bytes(),
            }));
        }
        Ok(match frame_type {
            CONTROL_BATCH => Frame::Batch(Batch::decode(r)?),
            CONTROL_OPEN => Frame::Open(Open {
                local_id: r.uint()?,
                protocol: r.string()?,
                id: r.optional_buffer_bytes()?,
                handshake: r.rest_bytes(),
            }),
            CONTROL_REJECT => Frame::Reject {
                remote_id: r.uint()?,
            },
            CONTROL_CLOSE => Frame::Close {
                local_id: r.uint()?,
            },
            control_type => Frame::UnknownControl {
                control_type,
                payload: r.rest_bytes(),
            },
        })
    }

    /// Size of everything after `uint channel ‖ uint type`.
    fn body_len(&self) -> usize {
        match self {
            Frame::Batch(b) => b.encoded_len(),
            Frame::Open(o) => {
                uint_len(o.local_id)
                    + buffer_len(o.protocol.len())
                    + buffer_len(o.id.as_ref().map_or(0, Bytes::len))
                    + o.handshake.len()
            }
            Frame::Reject { remote_id: id } | Frame::Close { local_id: id } => uint_len(*id),
            Frame::UnknownControl { payload, .. } => payload.len(),
            Frame::Message(m) => m.payload.len(),
        }
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match self {
            Frame::Batch(b) => {
                b.encode(w);
            }
            Frame::Open(o) => {
                w.uint(o.local_id)
                    .string(&o.protocol)
                    .optional_buffer(o.id.as_deref())
                    .raw(&o.handshake);
            }
            Frame::Reject { remote_id: id } | Frame::Close { local_id: id } => {
                w.uint(*id);
            }
            Frame::UnknownControl { payload, .. }
            | Frame::Message(ChannelMessage { payload, .. }) => {
                w.raw(payload);
            }
        }
    }
}

impl Encode for Frame {
    fn encoded_len(&self) -> usize {
        uint_len(self.channel()) + uint_len(self.frame_type()) + self.body_len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.channel()).uint(self.frame_type());
        self.encode_body(w);
    }
}

impl Decode for Frame {
    /// Decodes a frame spanning the rest of the reader's window.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let channel = r.uint()?;
        let frame_type = r.uint()?;
        Self::decode_body(channel, frame_type, r)
    }
}

/// `uint type ‖ payload`: a batch entry (without its length prefix), or a frame without
/// its channel.
struct Entry<'a, T: ?Sized> {
    message_type: u64,
    payload: &'a T,
}

impl<T: Encode + ?Sized> Encode for Entry<'_, T> {
    fn encoded_len(&self) -> usize {
        uint_len(self.message_type) + self.payload.encoded_len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.message_type).value(self.payload);
    }
}

/// A frame's body as an [`Encode`] value (everything after `uint channel ‖ uint type`).
struct Body<'a>(&'a Frame);

impl Encode for Body<'_> {
    fn encoded_len(&self) -> usize {
        self.0.body_len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        self.0.encode_body(w);
    }
}

/// Encodes a message frame `uint channel ‖ uint type ‖ payload` in one pass, without
/// building a [`Frame`].
#[must_use]
pub fn message_frame<T: Encode + ?Sized>(channel: u64, message_type: u64, payload: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_message_frame(channel, message_type, payload, &mut out);
    out
}

/// Appends a message frame to `out` (see [`message_frame`]).
pub fn encode_message_frame<T: Encode + ?Sized>(
    channel: u64,
    message_type: u64,
    payload: &T,
    out: &mut Vec<u8>,
) {
    struct WithChannel<'a, T: ?Sized>(u64, Entry<'a, T>);
    impl<T: Encode + ?Sized> Encode for WithChannel<'_, T> {
        fn encoded_len(&self) -> usize {
            uint_len(self.0) + self.1.encoded_len()
        }
        fn encode(&self, w: &mut Writer<'_>) {
            w.uint(self.0).value(&self.1);
        }
    }
    WithChannel(
        channel,
        Entry {
            message_type,
            payload,
        },
    )
    .encode_append(out);
}

/// Encodes a `hypercore/alpha` message as a frame on `channel`.
#[must_use]
pub fn hypercore_frame(channel: u64, message: &Message) -> Vec<u8> {
    message_frame(channel, message.message_type().as_u64(), message)
}

/// Builds one batch frame from many entries, like protomux's cork / uncork.
///
/// Push entries while "corked", then [`finish`](BatchBuilder::finish) (uncork) to get the
/// frame. Entries are encoded as they are pushed, straight into the frame buffer. As in
/// protomux, once the pending frame has reached [`MAX_BATCH_BYTES`], the next push first
/// returns the pending frame (send it) and starts a new batch.
#[derive(Debug, Clone, Default)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    channel: u64,
    entries: usize,
}

impl BatchBuilder {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries pushed since the last flush.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries
    }

    /// True if no entry is pending.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Size in bytes of the pending batch frame.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Pushes a message of type `message_type` on the sender's channel `channel` (0 for a
    /// control frame, whose type is then the control type). Returns a full batch frame to
    /// send first if the pending one had reached [`MAX_BATCH_BYTES`].
    #[must_use = "a returned frame must be sent"]
    pub fn push<T: Encode + ?Sized>(
        &mut self,
        channel: u64,
        message_type: u64,
        payload: &T,
    ) -> Option<Vec<u8>> {
        let flushed = if self.buf.len() >= MAX_BATCH_BYTES {
            self.take()
        } else {
            None
        };
        if self.entries == 0 {
            self.buf.extend_from_slice(&[0, CONTROL_BATCH as u8]);
            encode_uint(&mut self.buf, channel);
            self.channel = channel;
        } else if self.channel != channel {
            self.buf.push(0);
            encode_uint(&mut self.buf, channel);
            self.channel = channel;
        }
        let entry = Entry {
            message_type,
            payload,
        };
        encode_uint(&mut self.buf, entry.encoded_len() as u64);
        entry.encode_append(&mut self.buf);
        self.entries += 1;
        flushed
    }

    /// Pushes a `hypercore/alpha` message on `channel` (see [`push`](BatchBuilder::push)).
    #[must_use = "a returned frame must be sent"]
    pub fn push_message(&mut self, channel: u64, message: &Message) -> Option<Vec<u8>> {
        self.push(channel, message.message_type().as_u64(), message)
    }

    /// Pushes any frame: a message on its channel, a control frame on channel 0 (see
    /// [`push`](BatchBuilder::push)).
    #[must_use = "a returned frame must be sent"]
    pub fn push_frame(&mut self, frame: &Frame) -> Option<Vec<u8>> {
        self.push(frame.channel(), frame.frame_type(), &Body(frame))
    }

    /// Takes the pending batch frame (uncork) and leaves the builder empty; `None` if
    /// nothing was pushed (protomux sends nothing then).
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if self.entries == 0 {
            return None;
        }
        self.entries = 0;
        Some(core::mem::take(&mut self.buf))
    }

    /// Finishes the batch (uncork): the frame, or `None` if nothing was pushed.
    #[must_use]
    pub fn finish(mut self) -> Option<Vec<u8>> {
        self.take()
    }
}

fn encode_uint(out: &mut Vec<u8>, v: u64) {
    struct Uint(u64);
    impl Encode for Uint {
        fn encoded_len(&self) -> usize {
            uint_len(self.0)
        }
        fn encode(&self, w: &mut Writer<'_>) {
            w.uint(self.0);
        }
    }
    Uint(v).encode_append(out);
}
