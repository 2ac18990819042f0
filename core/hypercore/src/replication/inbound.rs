//! A window of a session's events (at most 64, see the endpoint's `process`), with its
//! channel messages decoded up front so that the blocks of all its data messages are hashed
//! together, four at a time in SIMD lanes. Hashing received blocks one by one was the
//! largest single cost of a downloading peer.

use alloc::vec::Vec;
use bytes::Bytes;

use ferrocore_wire::connection::ConnectionEvent;
use ferrocore_wire::mux::{ChannelId, MuxEvent};
use ferrocore_wire::{DecodeError, Message};

use crate::hash::{self, Hash};

/// One event of a window. (Messages stay inline: boxing each would cost an allocation per
/// message, and at most a window of them lives at once.)
#[allow(clippy::large_enum_variant)]
pub(super) enum Inbound {
    /// Anything but a channel message.
    Event(ConnectionEvent),
    /// A channel message, decoded (`Ok(None)`: a type the protocol does not define).
    Message {
        /// The channel it came on.
        channel: ChannelId,
        /// The decoded message.
        message: Result<Option<Message>, DecodeError>,
        /// For a data message with a block: the block's leaf hash.
        leaf: Option<Hash>,
    },
}

/// Decodes the channel messages among `events` and hashes the blocks they carry.
pub(super) fn decode(events: Vec<ConnectionEvent>) -> Vec<Inbound> {
    let mut out: Vec<Inbound> = events
        .into_iter()
        .map(|ev| match ev {
            ConnectionEvent::Mux(MuxEvent::Message {
                channel,
                message_type,
                payload,
            }) => Inbound::Message {
                channel,
                message: Message::decode_payload(message_type, &payload),
                leaf: None,
            },
            other => Inbound::Event(other),
        })
        .collect();
    // Positions and block values (`Bytes` clones share the payload).
    let (positions, values): (Vec<usize>, Vec<Bytes>) = out
        .iter()
        .enumerate()
        .filter_map(|(at, item)| match item {
            Inbound::Message {
                message: Ok(Some(Message::Data(d))),
                ..
            } => d.proof.block.as_ref().map(|b| (at, b.value.clone())),
            _ => None,
        })
        .unzip();
    for (at, h) in positions.into_iter().zip(hash::leaf_hashes(&values)) {
        if let Some(Inbound::Message { leaf, .. }) = out.get_mut(at) {
            *leaf = Some(h);
        }
    }
    out
}
