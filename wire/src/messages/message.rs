//! [`MessageType`] and [`Message`]: the replication messages by type number, and
//! decoding a channel message's payload by its type.

use super::*;

/// The type number of a message on the `hypercore/alpha` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MessageType {
    /// [`Sync`].
    Sync = 0,
    /// [`Request`].
    Request = 1,
    /// [`Cancel`].
    Cancel = 2,
    /// [`Data`].
    Data = 3,
    /// [`NoData`].
    NoData = 4,
    /// [`Want`].
    Want = 5,
    /// [`Unwant`].
    Unwant = 6,
    /// [`Bitfield`].
    Bitfield = 7,
    /// [`Range`].
    Range = 8,
    /// [`Extension`].
    Extension = 9,
}

impl MessageType {
    /// Every message type, in type-number order.
    pub const ALL: [MessageType; 10] = [
        MessageType::Sync,
        MessageType::Request,
        MessageType::Cancel,
        MessageType::Data,
        MessageType::NoData,
        MessageType::Want,
        MessageType::Unwant,
        MessageType::Bitfield,
        MessageType::Range,
        MessageType::Extension,
    ];

    /// The type for a protomux message type number; `None` for numbers ≥ 10, which the
    /// reference ignores (they belong to protocol versions it does not know).
    #[must_use]
    pub fn from_u64(n: u64) -> Option<Self> {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i))
            .copied()
    }

    /// The protomux message type number.
    #[must_use]
    pub const fn as_u64(self) -> u64 {
        self as u64
    }

    /// The reference's name for the message (`"sync"`, `"noData"`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            MessageType::Sync => "sync",
            MessageType::Request => "request",
            MessageType::Cancel => "cancel",
            MessageType::Data => "data",
            MessageType::NoData => "noData",
            MessageType::Want => "want",
            MessageType::Unwant => "unwant",
            MessageType::Bitfield => "bitfield",
            MessageType::Range => "range",
            MessageType::Extension => "extension",
        }
    }
}

/// Any message of the `hypercore/alpha` channel.
///
/// [`Encode`] writes the payload only (no protomux channel or type prefix); the type number
/// is [`Message::message_type`]. Decode with [`Message::decode`] given the type number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
// `Data` is the big variant and also the bulk of the traffic: boxing it would add an
// allocation per block for no saving.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    Sync(Sync),
    Request(Request),
    Cancel(Cancel),
    Data(Data),
    NoData(NoData),
    Want(Want),
    Unwant(Unwant),
    Bitfield(Bitfield),
    Range(Range),
    Extension(Extension),
}

/// Applies `$body` to the message inside any [`Message`] variant.
macro_rules! each_message {
    ($m:expr, $v:ident => $body:expr) => {
        match $m {
            Message::Sync($v) => $body,
            Message::Request($v) => $body,
            Message::Cancel($v) => $body,
            Message::Data($v) => $body,
            Message::NoData($v) => $body,
            Message::Want($v) => $body,
            Message::Unwant($v) => $body,
            Message::Bitfield($v) => $body,
            Message::Range($v) => $body,
            Message::Extension($v) => $body,
        }
    };
}

impl Message {
    /// The protomux message type of this message.
    #[must_use]
    pub const fn message_type(&self) -> MessageType {
        match self {
            Message::Sync(_) => MessageType::Sync,
            Message::Request(_) => MessageType::Request,
            Message::Cancel(_) => MessageType::Cancel,
            Message::Data(_) => MessageType::Data,
            Message::NoData(_) => MessageType::NoData,
            Message::Want(_) => MessageType::Want,
            Message::Unwant(_) => MessageType::Unwant,
            Message::Bitfield(_) => MessageType::Bitfield,
            Message::Range(_) => MessageType::Range,
            Message::Extension(_) => MessageType::Extension,
        }
    }

    /// Decodes the payload of protomux message type `type_id` from `r`, whose window must
    /// end where the message ends (trailing optional fields are read only if bytes remain).
    ///
    /// Returns `Ok(None)` for a type number ≥ 10: the reference ignores message types its
    /// channel did not register, and so should callers. Bytes after the message are
    /// ignored, as in the reference.
    pub fn decode(type_id: u64, r: &mut Reader<'_>) -> Result<Option<Message>, DecodeError> {
        match MessageType::from_u64(type_id) {
            Some(ty) => Self::decode_typed(ty, r).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes a message of a known type from `r` (see [`Message::decode`]).
    pub fn decode_typed(ty: MessageType, r: &mut Reader<'_>) -> Result<Message, DecodeError> {
        Ok(match ty {
            MessageType::Sync => Message::Sync(Sync::decode(r)?),
            MessageType::Request => Message::Request(Request::decode(r)?),
            MessageType::Cancel => Message::Cancel(Cancel::decode(r)?),
            MessageType::Data => Message::Data(Data::decode(r)?),
            MessageType::NoData => Message::NoData(NoData::decode(r)?),
            MessageType::Want => Message::Want(Want::decode(r)?),
            MessageType::Unwant => Message::Unwant(Unwant::decode(r)?),
            MessageType::Bitfield => Message::Bitfield(Bitfield::decode(r)?),
            MessageType::Range => Message::Range(Range::decode(r)?),
            MessageType::Extension => Message::Extension(Extension::decode(r)?),
        })
    }

    /// Decodes a whole message payload (e.g. a protomux frame's payload). Byte strings in
    /// the result share `payload`'s allocation. `Ok(None)` for unknown types ≥ 10.
    pub fn decode_payload(type_id: u64, payload: &Bytes) -> Result<Option<Message>, DecodeError> {
        Self::decode(type_id, &mut Reader::from_bytes(payload))
    }
}

impl Encode for Message {
    fn encoded_len(&self) -> usize {
        each_message!(self, m => m.encoded_len())
    }
    fn encode(&self, w: &mut Writer<'_>) {
        each_message!(self, m => m.encode(w));
    }
}

macro_rules! impl_from_message {
    ($($name:ident),*) => {$(
        impl From<$name> for Message {
            fn from(m: $name) -> Self {
                Message::$name(m)
            }
        }
    )*};
}

impl_from_message!(Sync, Request, Cancel, Data, NoData, Want, Unwant, Bitfield, Range, Extension);
