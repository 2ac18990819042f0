//! dht-rpc datagrams (`dht-rpc@6.27.0` `lib/io.js`): one request or one reply per UDP
//! datagram.
//!
//! ```text
//! request  03 ‖ flags ‖ tid:u16 ‖ to:ipv4 ‖ [id:32] ‖ [token:32] ‖ command:uint
//!             ‖ [target:32] ‖ [value:buffer]
//!          flags: 1 id, 2 token, 4 internal, 8 target, 16 value
//! reply    13 ‖ flags ‖ tid:u16 ‖ to:ipv4 ‖ [id:32] ‖ [token:32] ‖ [closerNodes:ipv4[]]
//!             ‖ [error:uint] ‖ [value:buffer]
//!          flags: 1 id, 2 token, 4 closer nodes, 8 error, 16 value
//! ```
//!
//! The first byte is `type << 4 | version` (version 3). `to` is the address the datagram was
//! sent to, as the sender saw it (how a node learns its public address). `flags` is written
//! as one byte but read as a `uint`, and its unknown bits are ignored; bytes after the value
//! are ignored. A node's id is BLAKE2b-256 of its 6-byte address ([`node_id`]); an id in a
//! datagram only counts when it is the id of the address the datagram came from
//! ([`Request::verified_id`]).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use super::{
    bit, blake2b_256, buffer_opt_len, fixed_len, get_buffer, get_fixed, put_buffer, put_fixed,
    HostDisplay, Ipv4Address,
};
use crate::encoding::{array_len, uint_len, Decode, Encode, Reader, Writer};
use crate::DecodeError;

/// dht-rpc's protocol version, the low nibble of a datagram's first byte.
pub const VERSION: u8 = 0b11;
/// The first byte of a request.
pub const REQUEST_ID: u8 = VERSION;
/// The first byte of a reply.
pub const RESPONSE_ID: u8 = (0b0001 << 4) | VERSION;

const FLAG_ID: u64 = 1;
const FLAG_TOKEN: u64 = 2;
const FLAG_INTERNAL: u64 = 4;
const FLAG_CLOSER_NODES: u64 = 4;
const FLAG_ERROR: u64 = 8;
const FLAG_TARGET: u64 = 8;
const FLAG_VALUE: u64 = 16;

/// A node's id: BLAKE2b-256 of its 6-byte address (`dht-rpc/lib/peer.js` `id`).
#[must_use]
pub fn node_id(addr: &Ipv4Address) -> [u8; 32] {
    blake2b_256(None, &[&addr.to_bytes()])
}

/// A dht-rpc token: BLAKE2b-256 of the requester's host string (dotted decimal, e.g.
/// `b"1.2.3.4"`), keyed with a node secret (`IO.token`). hyperdht's holepunch tokens
/// (`lib/secure-payload.js`) use the same function with their own secret.
#[must_use]
pub fn token(host: &[u8], secret: &[u8; 32]) -> [u8; 32] {
    blake2b_256(Some(secret), &[host])
}

impl Ipv4Address {
    /// The host as a dotted-decimal string (what [`token`] hashes).
    #[must_use]
    pub fn host_string(&self) -> String {
        use core::fmt::Write;
        let mut s = String::with_capacity(15);
        // Writing into a String cannot fail.
        let _ = write!(s, "{}", HostDisplay::V4(self.host));
        s
    }
}

/// The fields requests and replies share: `flags ‖ tid ‖ to ‖ [id] ‖ [token]`.
struct Header {
    flags: u64,
    tid: u16,
    to: Ipv4Address,
    id: Option<[u8; 32]>,
    token: Option<[u8; 32]>,
}

impl Header {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            flags,
            tid: r.u16()?,
            to: Ipv4Address::decode(r)?,
            id: get_fixed(r, flags & FLAG_ID != 0)?,
            token: get_fixed(r, flags & FLAG_TOKEN != 0)?,
        })
    }

    fn has(&self, flag: u64) -> bool {
        self.flags & flag != 0
    }
}

/// The size of the shared fields: type byte, flags byte, tid, `to`, id and token.
fn header_len(id: &Option<[u8; 32]>, token: &Option<[u8; 32]>) -> usize {
    1 + 1 + 2 + Ipv4Address::LEN + fixed_len(id) + fixed_len(token)
}

/// Writes the shared fields.
fn put_header(
    w: &mut Writer<'_>,
    type_id: u8,
    flags: u64,
    tid: u16,
    to: &Ipv4Address,
    id: &Option<[u8; 32]>,
    token: &Option<[u8; 32]>,
) {
    // Every flag fits in one byte, as the reference writes it.
    w.u8(type_id).u8(flags as u8).u16(tid).value(to);
    put_fixed(w, id);
    put_fixed(w, token);
}

/// `id` when it is the id of `from`.
fn verified(id: Option<[u8; 32]>, from: &Ipv4Address) -> Option<[u8; 32]> {
    id.filter(|id| *id == node_id(from))
}

/// A dht-rpc request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Transaction id; the reply carries it back.
    pub tid: u16,
    /// The address the request was sent to, as the sender saw it.
    pub to: Ipv4Address,
    /// The sender's node id (only persistent, non-firewalled nodes send it).
    pub id: Option<[u8; 32]>,
    /// A token the receiver handed out earlier (proves the sender's address).
    pub token: Option<[u8; 32]>,
    /// Whether `command` is a dht-rpc internal command ([`commands`](super::commands))
    /// rather than an application's ([`dht_commands`](super::dht_commands)).
    pub internal: bool,
    /// The command.
    pub command: u64,
    /// The key the request is about.
    pub target: Option<[u8; 32]>,
    /// The command's argument (an empty value is distinct from none).
    pub value: Option<Bytes>,
}

impl Request {
    /// The sender's id when it is the id of `from`, the address the datagram came from
    /// (dht-rpc ignores any other).
    #[must_use]
    pub fn verified_id(&self, from: &Ipv4Address) -> Option<[u8; 32]> {
        verified(self.id, from)
    }

    /// Decodes the body of a request: everything after its first byte.
    pub fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let h = Header::decode(r)?;
        Ok(Self {
            internal: h.has(FLAG_INTERNAL),
            command: r.uint()?,
            target: get_fixed(r, h.has(FLAG_TARGET))?,
            value: get_buffer(r, h.has(FLAG_VALUE))?,
            tid: h.tid,
            to: h.to,
            id: h.id,
            token: h.token,
        })
    }
}

impl Encode for Request {
    fn encoded_len(&self) -> usize {
        header_len(&self.id, &self.token)
            + uint_len(self.command)
            + fixed_len(&self.target)
            + buffer_opt_len(&self.value)
    }

    fn encode(&self, w: &mut Writer<'_>) {
        let flags = bit(self.id.is_some(), FLAG_ID)
            | bit(self.token.is_some(), FLAG_TOKEN)
            | bit(self.internal, FLAG_INTERNAL)
            | bit(self.target.is_some(), FLAG_TARGET)
            | bit(self.value.is_some(), FLAG_VALUE);
        put_header(
            w,
            REQUEST_ID,
            flags,
            self.tid,
            &self.to,
            &self.id,
            &self.token,
        );
        w.uint(self.command);
        put_fixed(w, &self.target);
        put_buffer(w, &self.value);
    }
}

/// A dht-rpc reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// The transaction id of the request answered.
    pub tid: u16,
    /// The requester's address, as the replying node saw it.
    pub to: Ipv4Address,
    /// The replying node's id (only persistent nodes send it).
    pub id: Option<[u8; 32]>,
    /// A token for the requester's address, to be sent back in a later request.
    pub token: Option<[u8; 32]>,
    /// Nodes closer to the request's target. The reference writes the field only when
    /// there are some, and reads a present but empty list as an empty one.
    pub closer_nodes: Vec<Ipv4Address>,
    /// An error code (0 is none; see [`errors`](super::errors)).
    pub error: u64,
    /// The reply's value (an empty value is distinct from none).
    pub value: Option<Bytes>,
}

impl Response {
    /// The replier's id when it is the id of `from`, the address the datagram came from.
    #[must_use]
    pub fn verified_id(&self, from: &Ipv4Address) -> Option<[u8; 32]> {
        verified(self.id, from)
    }

    /// Decodes the body of a reply: everything after its first byte.
    pub fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let h = Header::decode(r)?;
        let closer_nodes = if h.has(FLAG_CLOSER_NODES) {
            r.array(Ipv4Address::LEN)?
        } else {
            Vec::new()
        };
        Ok(Self {
            closer_nodes,
            error: if h.has(FLAG_ERROR) { r.uint()? } else { 0 },
            value: get_buffer(r, h.has(FLAG_VALUE))?,
            tid: h.tid,
            to: h.to,
            id: h.id,
            token: h.token,
        })
    }
}

impl Encode for Response {
    fn encoded_len(&self) -> usize {
        let nodes = if self.closer_nodes.is_empty() {
            0
        } else {
            array_len(&self.closer_nodes)
        };
        let error = if self.error > 0 {
            uint_len(self.error)
        } else {
            0
        };
        header_len(&self.id, &self.token) + nodes + error + buffer_opt_len(&self.value)
    }

    fn encode(&self, w: &mut Writer<'_>) {
        let flags = bit(self.id.is_some(), FLAG_ID)
            | bit(self.token.is_some(), FLAG_TOKEN)
            | bit(!self.closer_nodes.is_empty(), FLAG_CLOSER_NODES)
            | bit(self.error > 0, FLAG_ERROR)
            | bit(self.value.is_some(), FLAG_VALUE);
        put_header(
            w,
            RESPONSE_ID,
            flags,
            self.tid,
            &self.to,
            &self.id,
            &self.token,
        );
        if !self.closer_nodes.is_empty() {
            w.array(&self.closer_nodes);
        }
        if self.error > 0 {
            w.uint(self.error);
        }
        put_buffer(w, &self.value);
    }
}

/// One dht-rpc datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// A request (`0x03`).
    Request(Request),
    /// A reply (`0x13`).
    Response(Response),
}

/// Why a datagram is not a dht-rpc message (dht-rpc drops such datagrams silently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// Fewer than 2 bytes.
    #[error("datagram of {0} byte(s) is too short")]
    TooShort(usize),
    /// A first byte other than `0x03` (request) or `0x13` (reply).
    #[error("unknown datagram type byte {0:#04x}")]
    UnknownType(u8),
    /// The body is malformed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl Packet {
    /// Decodes a datagram. Trailing bytes are ignored, as in the reference.
    pub fn decode(datagram: &[u8]) -> Result<Self, PacketError> {
        Self::decode_reader(&mut Reader::new(datagram))
    }

    /// Like [`Packet::decode`], with byte strings sharing `datagram`'s allocation.
    pub fn decode_bytes(datagram: &Bytes) -> Result<Self, PacketError> {
        Self::decode_reader(&mut Reader::from_bytes(datagram))
    }

    fn decode_reader(r: &mut Reader<'_>) -> Result<Self, PacketError> {
        if r.remaining() < 2 {
            return Err(PacketError::TooShort(r.remaining()));
        }
        match r.u8()? {
            REQUEST_ID => Ok(Packet::Request(Request::decode_body(r)?)),
            RESPONSE_ID => Ok(Packet::Response(Response::decode_body(r)?)),
            b => Err(PacketError::UnknownType(b)),
        }
    }
}

impl Encode for Packet {
    fn encoded_len(&self) -> usize {
        match self {
            Packet::Request(q) => q.encoded_len(),
            Packet::Response(s) => s.encoded_len(),
        }
    }
    fn encode(&self, w: &mut Writer<'_>) {
        match self {
            Packet::Request(q) => q.encode(w),
            Packet::Response(s) => s.encode(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trips() {
        let q = Request {
            tid: 0xbeef,
            to: Ipv4Address::new([1, 2, 3, 4], 5),
            id: Some([7; 32]),
            token: None,
            internal: true,
            command: super::super::commands::FIND_NODE,
            target: Some([9; 32]),
            value: Some(Bytes::new()),
        };
        let b = q.to_vec();
        assert_eq!(b.len(), q.encoded_len());
        assert_eq!(&b[..2], &[REQUEST_ID, 1 | 4 | 8 | 16]);
        assert_eq!(Packet::decode(&b), Ok(Packet::Request(q)));
    }

    #[test]
    fn short_and_unknown_datagrams_are_rejected() {
        assert_eq!(Packet::decode(&[3]), Err(PacketError::TooShort(1)));
        assert_eq!(
            Packet::decode(&[0x23, 0]),
            Err(PacketError::UnknownType(0x23))
        );
        assert!(matches!(
            Packet::decode(&[0x13, 0]),
            Err(PacketError::Decode(_))
        ));
    }
}
