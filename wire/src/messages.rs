//! The messages of the `hypercore/alpha` protomux channel (hypercore 11.37.1).
//!
//! | id | message      | id | message     |
//! |----|--------------|----|-------------|
//! | 0  | [`Sync`]     | 5  | [`Want`]    |
//! | 1  | [`Request`]  | 6  | [`Unwant`]  |
//! | 2  | [`Cancel`]   | 7  | [`Bitfield`]|
//! | 3  | [`Data`]     | 8  | [`Range`]   |
//! | 4  | [`NoData`]   | 9  | [`Extension`]|
//!
//! [`Handshake`] is the channel's open payload; [`ReorgHint`] is defined by the reference
//! but not registered on the channel (never sent). Each message encodes to its payload only;
//! the protomux channel id and type prefix belong to [`crate::protomux`].

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::encoding::{
    array_len, buffer_len, uint32_array_len, uint_len, Decode, Encode, Reader, Writer,
};
use crate::{DecodeError, Manifest};

/// A Merkle tree node as carried in proofs: flat-tree `index`, byte `size` of the blocks
/// under it, and its BLAKE2b-256 `hash`.
///
/// Encoding: `uint index ‖ uint size ‖ fixed32 hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Node {
    /// Flat-tree index (block `i` is leaf `2i`).
    pub index: u64,
    /// Total byte length of the blocks under this node.
    pub size: u64,
    /// BLAKE2b-256 node hash.
    pub hash: [u8; 32],
}

impl Node {
    /// The smallest possible encoding (used to bound array allocations).
    pub const MIN_ENCODED_LEN: usize = 1 + 1 + 32;

    /// A node from its parts.
    #[must_use]
    pub const fn new(index: u64, size: u64, hash: [u8; 32]) -> Self {
        Self { index, size, hash }
    }
}

impl Encode for Node {
    fn encoded_len(&self) -> usize {
        uint_len(self.index) + uint_len(self.size) + 32
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.index).uint(self.size).raw(&self.hash);
    }
}

impl Decode for Node {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            index: r.uint()?,
            size: r.uint()?,
            hash: r.fixed()?,
        })
    }
}

/// The `hypercore/alpha` channel open payload: `uint flags (bit0 seeks) ‖ fixed32 capability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake {
    /// The sender supports seek requests (JS always sets it).
    pub seeks: bool,
    /// Replication capability: proves the sender knows the core key (keyed by the Noise
    /// handshake hash and the sender's role).
    pub capability: [u8; 32],
}

/// `sync` (type 0): the sender's view of the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sync {
    /// Sender's fork id.
    pub fork: u64,
    /// Sender's signed length.
    pub length: u64,
    /// The length the sender believes the receiver has (0 if forks differ).
    pub remote_length: u64,
    /// bit0: the sender can serve an upgrade from the receiver's length.
    pub can_upgrade: bool,
    /// bit1: the sender serves requests.
    pub uploading: bool,
    /// bit2: the sender wants data.
    pub downloading: bool,
    /// bit3: the sender has a (non-compat) manifest it can send.
    pub has_manifest: bool,
    /// bit4: the sender accepts unsolicited pushes.
    pub allow_push: bool,
}

/// The `block` or `hash` part of a [`Request`]: which node, and how many levels of
/// uncles the requester is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestBlock {
    /// Block index (for `block`) or flat-tree node index (for `hash`).
    pub index: u64,
    /// Number of tree levels above the node the requester does not have.
    pub nodes: u64,
}

/// The `seek` part of a [`Request`]: find the block containing a byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestSeek {
    /// Byte offset to seek to.
    pub bytes: u64,
    /// Padding bytes per block to subtract from node sizes (8 for encrypted cores).
    pub padding: u64,
}

/// The `upgrade` part of a [`Request`] or the range of a [`DataUpgrade`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestUpgrade {
    /// The requester's length.
    pub start: u64,
    /// How many blocks beyond `start` the requester wants proven.
    pub length: u64,
}

/// `request` (type 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Request {
    /// Request id, echoed by the answer (0 is special: a conflict probe).
    pub id: u64,
    /// The fork the requester believes the receiver is on.
    pub fork: u64,
    /// Ask for a block value and its uncles.
    pub block: Option<RequestBlock>,
    /// Ask for a tree node and its uncles.
    pub hash: Option<RequestBlock>,
    /// Ask for the block containing a byte offset.
    pub seek: Option<RequestSeek>,
    /// Ask for a signed upgrade from `start` to `start + length`.
    pub upgrade: Option<RequestUpgrade>,
    /// Ask for the manifest.
    pub manifest: bool,
    /// Priority (0 normal, 1 high, 2 very high); encoded only when non-zero.
    pub priority: u64,
}

/// `cancel` (type 2): cancel an outstanding request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancel {
    /// Id of the request to cancel.
    pub request: u64,
}

/// The `block` section of a proof: the value and its uncles, bottom-up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataBlock {
    /// Block index.
    pub index: u64,
    /// Block bytes as stored (including encryption padding, if any).
    pub value: Bytes,
    /// Uncles, bottom-up (the leaf itself is not included).
    pub nodes: Vec<Node>,
}

/// The `hash` section of a proof: the requested node first, then its uncles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataHash {
    /// Flat-tree index of the requested node.
    pub index: u64,
    /// The node itself, then its uncles, bottom-up.
    pub nodes: Vec<Node>,
}

/// The `seek` section of a proof.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSeek {
    /// The byte offset that was sought.
    pub bytes: u64,
    /// The node containing the offset, then its uncles, bottom-up.
    pub nodes: Vec<Node>,
}

/// The `upgrade` section of a proof.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataUpgrade {
    /// Echo of the request's `start`.
    pub start: u64,
    /// Echo of the request's `length`.
    pub length: u64,
    /// Nodes that build the root set at `start + length`.
    pub nodes: Vec<Node>,
    /// Nodes that carry the receiver on to the sender's full length.
    pub additional_nodes: Vec<Node>,
    /// The sender's signature over its full length (`None` if absent / empty).
    pub signature: Option<Bytes>,
}

/// A proof: what a `data` message carries besides the request id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proof {
    /// The fork of the tree being proven.
    pub fork: u64,
    /// A block value and its uncles.
    pub block: Option<DataBlock>,
    /// A tree node and its uncles.
    pub hash: Option<DataHash>,
    /// The node containing a byte offset and its uncles.
    pub seek: Option<DataSeek>,
    /// A signed upgrade.
    pub upgrade: Option<DataUpgrade>,
    /// The core's manifest.
    pub manifest: Option<Manifest>,
}

/// `data` (type 3): the answer to a request (or an unsolicited push with `request = 0`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data {
    /// Id of the request being answered.
    pub request: u64,
    /// The proof.
    pub proof: Proof,
}

/// `noData` (type 4): a negative answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoData {
    /// Id of the request being answered.
    pub request: u64,
    /// 0 unspecified, 1 not available, 2 invalid request.
    pub reason: u64,
}

/// `want` (type 5): "tell me what you have in this range".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// First block of the range.
    pub start: u64,
    /// Number of blocks.
    pub length: u64,
    /// Only the first available block is wanted.
    pub any: bool,
}

/// `unwant` (type 6): retract a [`Want`]; same layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unwant {
    /// First block of the range.
    pub start: u64,
    /// Number of blocks.
    pub length: u64,
    /// Mirrors [`Want::any`].
    pub any: bool,
}

/// `bitfield` (type 7): availability bitmap for blocks `start ..`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bitfield {
    /// First block described (a multiple of 32).
    pub start: u64,
    /// Bit `j` (word `j >> 5`, bit `j & 31`) describes block `start + j`.
    pub bitfield: Vec<u32>,
}

/// `range` (type 8): availability (or removal) of a contiguous range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// The blocks were dropped rather than added.
    pub drop: bool,
    /// First block.
    pub start: u64,
    /// Number of blocks.
    pub length: u64,
}

/// `reorgHint`: defined by the reference but not registered on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReorgHint {
    /// Old length.
    pub from: u64,
    /// New length.
    pub to: u64,
    /// Length of the common prefix.
    pub ancestors: u64,
}

/// `extension` (type 9): an application message on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extension {
    /// Extension name (empty = same as the previous extension message).
    pub name: String,
    /// Payload: the rest of the frame.
    pub message: Bytes,
}

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

// ----- codecs of the small messages -------------------------------------------------------

// Section flags shared by `request` and `data` (bit5 `priority` is request-only).
const FLAG_BLOCK: u64 = 1;
const FLAG_HASH: u64 = 2;
const FLAG_SEEK: u64 = 4;
const FLAG_UPGRADE: u64 = 8;
const FLAG_MANIFEST: u64 = 16;

impl Encode for Handshake {
    fn encoded_len(&self) -> usize {
        1 + 32
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(u64::from(self.seeks)).raw(&self.capability);
    }
}

impl Decode for Handshake {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            seeks: flags & 1 != 0,
            capability: r.fixed()?,
        })
    }
}

const SYNC_CAN_UPGRADE: u64 = 1;
const SYNC_UPLOADING: u64 = 2;
const SYNC_DOWNLOADING: u64 = 4;
const SYNC_HAS_MANIFEST: u64 = 8;
const SYNC_ALLOW_PUSH: u64 = 16;

/// `bit` if `on`, else 0.
const fn flag(on: bool, bit: u64) -> u64 {
    if on {
        bit
    } else {
        0
    }
}

impl Sync {
    fn flags(&self) -> u64 {
        flag(self.can_upgrade, SYNC_CAN_UPGRADE)
            | flag(self.uploading, SYNC_UPLOADING)
            | flag(self.downloading, SYNC_DOWNLOADING)
            | flag(self.has_manifest, SYNC_HAS_MANIFEST)
            | flag(self.allow_push, SYNC_ALLOW_PUSH)
    }
}

impl Encode for Sync {
    fn encoded_len(&self) -> usize {
        uint_len(self.flags())
            + uint_len(self.fork)
            + uint_len(self.length)
            + uint_len(self.remote_length)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.flags())
            .uint(self.fork)
            .uint(self.length)
            .uint(self.remote_length);
    }
}

impl Decode for Sync {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        Ok(Self {
            fork: r.uint()?,
            length: r.uint()?,
            remote_length: r.uint()?,
            can_upgrade: flags & SYNC_CAN_UPGRADE != 0,
            uploading: flags & SYNC_UPLOADING != 0,
            downloading: flags & SYNC_DOWNLOADING != 0,
            has_manifest: flags & SYNC_HAS_MANIFEST != 0,
            allow_push: flags & SYNC_ALLOW_PUSH != 0,
        })
    }
}

/// A pair of `uint`s: the body of every request section and of `reorgHint`'s prefix.
fn pair_len(a: u64, b: u64) -> usize {
    uint_len(a) + uint_len(b)
}

fn read_pair(r: &mut Reader<'_>) -> Result<(u64, u64), DecodeError> {
    Ok((r.uint()?, r.uint()?))
}

const REQUEST_PRIORITY: u64 = 32;

impl Request {
    fn flags(&self) -> u64 {
        flag(self.block.is_some(), FLAG_BLOCK)
            | flag(self.hash.is_some(), FLAG_HASH)
            | flag(self.seek.is_some(), FLAG_SEEK)
            | flag(self.upgrade.is_some(), FLAG_UPGRADE)
            | flag(self.manifest, FLAG_MANIFEST)
            | flag(self.priority != 0, REQUEST_PRIORITY)
    }
}

impl Encode for Request {
    fn encoded_len(&self) -> usize {
        let mut n = uint_len(self.flags()) + pair_len(self.id, self.fork);
        if let Some(b) = &self.block {
            n += pair_len(b.index, b.nodes);
        }
        if let Some(h) = &self.hash {
            n += pair_len(h.index, h.nodes);
        }
        if let Some(s) = &self.seek {
            n += pair_len(s.bytes, s.padding);
        }
        if let Some(u) = &self.upgrade {
            n += pair_len(u.start, u.length);
        }
        if self.priority != 0 {
            n += uint_len(self.priority);
        }
        n
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.flags()).uint(self.id).uint(self.fork);
        if let Some(b) = &self.block {
            w.uint(b.index).uint(b.nodes);
        }
        if let Some(h) = &self.hash {
            w.uint(h.index).uint(h.nodes);
        }
        if let Some(s) = &self.seek {
            w.uint(s.bytes).uint(s.padding);
        }
        if let Some(u) = &self.upgrade {
            w.uint(u.start).uint(u.length);
        }
        if self.priority != 0 {
            w.uint(self.priority);
        }
    }
}

impl Decode for Request {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        let (id, fork) = read_pair(r)?;
        let section = |r: &mut Reader<'_>, bit: u64| -> Result<Option<(u64, u64)>, DecodeError> {
            if flags & bit != 0 {
                read_pair(r).map(Some)
            } else {
                Ok(None)
            }
        };
        let block = section(r, FLAG_BLOCK)?.map(|(index, nodes)| RequestBlock { index, nodes });
        let hash = section(r, FLAG_HASH)?.map(|(index, nodes)| RequestBlock { index, nodes });
        let seek = section(r, FLAG_SEEK)?.map(|(bytes, padding)| RequestSeek { bytes, padding });
        let upgrade =
            section(r, FLAG_UPGRADE)?.map(|(start, length)| RequestUpgrade { start, length });
        let priority = if flags & REQUEST_PRIORITY != 0 {
            r.uint()?
        } else {
            0
        };
        Ok(Self {
            id,
            fork,
            block,
            hash,
            seek,
            upgrade,
            manifest: flags & FLAG_MANIFEST != 0,
            priority,
        })
    }
}

impl Encode for Cancel {
    fn encoded_len(&self) -> usize {
        uint_len(self.request)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.request);
    }
}

impl Decode for Cancel {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { request: r.uint()? })
    }
}

/// Reads a trailing optional flags `uint`: absent (window exhausted) means 0.
fn trailing_flags(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
    if r.is_empty() {
        Ok(0)
    } else {
        r.uint()
    }
}

const NO_DATA_REASON: u64 = 1;

impl Encode for NoData {
    fn encoded_len(&self) -> usize {
        uint_len(self.request)
            + 1
            + if self.reason != 0 {
                uint_len(self.reason)
            } else {
                0
            }
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.request);
        if self.reason != 0 {
            w.uint(NO_DATA_REASON).uint(self.reason);
        } else {
            w.uint(0);
        }
    }
}

impl Decode for NoData {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let request = r.uint()?;
        let flags = trailing_flags(r)?;
        let reason = if flags & NO_DATA_REASON != 0 {
            r.uint()?
        } else {
            0
        };
        Ok(Self { request, reason })
    }
}

/// `want` and `unwant` share one layout: `uint start ‖ uint length ‖ [uint flags]`, with
/// the flags (bit0 `any`) omitted when zero and read only if bytes remain.
macro_rules! want_codec {
    ($($name:ident),*) => {$(
        impl Encode for $name {
            fn encoded_len(&self) -> usize {
                pair_len(self.start, self.length) + usize::from(self.any)
            }
            fn encode(&self, w: &mut Writer<'_>) {
                w.uint(self.start).uint(self.length);
                if self.any {
                    w.uint(1);
                }
            }
        }

        impl Decode for $name {
            fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let (start, length) = read_pair(r)?;
                let flags = trailing_flags(r)?;
                Ok(Self { start, length, any: flags & 1 != 0 })
            }
        }
    )*};
}

want_codec!(Want, Unwant);

impl Encode for Bitfield {
    fn encoded_len(&self) -> usize {
        uint_len(self.start) + uint32_array_len(self.bitfield.len())
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.start).uint32_array(&self.bitfield);
    }
}

impl Decode for Bitfield {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            start: r.uint()?,
            bitfield: r.uint32_array()?,
        })
    }
}

const RANGE_DROP: u64 = 1;
const RANGE_ONE: u64 = 2;

impl Range {
    fn flags(&self) -> u64 {
        flag(self.drop, RANGE_DROP) | flag(self.length == 1, RANGE_ONE)
    }
}

impl Encode for Range {
    fn encoded_len(&self) -> usize {
        1 + uint_len(self.start)
            + if self.length == 1 {
                0
            } else {
                uint_len(self.length)
            }
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.flags()).uint(self.start);
        if self.length != 1 {
            w.uint(self.length);
        }
    }
}

impl Decode for Range {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        let start = r.uint()?;
        let length = if flags & RANGE_ONE != 0 { 1 } else { r.uint()? };
        Ok(Self {
            drop: flags & RANGE_DROP != 0,
            start,
            length,
        })
    }
}

impl Encode for ReorgHint {
    fn encoded_len(&self) -> usize {
        pair_len(self.from, self.to) + uint_len(self.ancestors)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.from).uint(self.to).uint(self.ancestors);
    }
}

impl Decode for ReorgHint {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let (from, to) = read_pair(r)?;
        Ok(Self {
            from,
            to,
            ancestors: r.uint()?,
        })
    }
}

impl Encode for Extension {
    fn encoded_len(&self) -> usize {
        buffer_len(self.name.len()) + self.message.len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.string(&self.name).raw(&self.message);
    }
}

impl Decode for Extension {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: r.string()?,
            message: r.rest_bytes(),
        })
    }
}

// ----- codecs for the proof-carrying messages -------------------------------------------

impl Proof {
    fn flags(&self) -> u64 {
        flag(self.block.is_some(), FLAG_BLOCK)
            | flag(self.hash.is_some(), FLAG_HASH)
            | flag(self.seek.is_some(), FLAG_SEEK)
            | flag(self.upgrade.is_some(), FLAG_UPGRADE)
            | flag(self.manifest.is_some(), FLAG_MANIFEST)
    }

    /// Encoded size of the sections after `flags ‖ request` (fork included).
    fn body_len(&self) -> usize {
        let mut n = uint_len(self.fork);
        if let Some(b) = &self.block {
            n += uint_len(b.index) + buffer_len(b.value.len()) + array_len(&b.nodes);
        }
        if let Some(h) = &self.hash {
            n += uint_len(h.index) + array_len(&h.nodes);
        }
        if let Some(s) = &self.seek {
            n += uint_len(s.bytes) + array_len(&s.nodes);
        }
        if let Some(u) = &self.upgrade {
            n += uint_len(u.start)
                + uint_len(u.length)
                + array_len(&u.nodes)
                + array_len(&u.additional_nodes)
                + buffer_len(u.signature.as_ref().map_or(0, Bytes::len));
        }
        if let Some(m) = &self.manifest {
            n += m.encoded_len();
        }
        n
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        w.uint(self.fork);
        if let Some(b) = &self.block {
            w.uint(b.index).buffer(&b.value).array(&b.nodes);
        }
        if let Some(h) = &self.hash {
            w.uint(h.index).array(&h.nodes);
        }
        if let Some(s) = &self.seek {
            w.uint(s.bytes).array(&s.nodes);
        }
        if let Some(u) = &self.upgrade {
            w.uint(u.start)
                .uint(u.length)
                .array(&u.nodes)
                .array(&u.additional_nodes)
                .optional_buffer(u.signature.as_deref());
        }
        if let Some(m) = &self.manifest {
            m.encode(w);
        }
    }

    fn decode_body(flags: u64, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let fork = r.uint()?;
        let block = if flags & FLAG_BLOCK != 0 {
            Some(DataBlock {
                index: r.uint()?,
                value: r.buffer_bytes()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let hash = if flags & FLAG_HASH != 0 {
            Some(DataHash {
                index: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let seek = if flags & FLAG_SEEK != 0 {
            Some(DataSeek {
                bytes: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
            })
        } else {
            None
        };
        let upgrade = if flags & FLAG_UPGRADE != 0 {
            Some(DataUpgrade {
                start: r.uint()?,
                length: r.uint()?,
                nodes: r.array(Node::MIN_ENCODED_LEN)?,
                additional_nodes: r.array(Node::MIN_ENCODED_LEN)?,
                signature: r.optional_buffer_bytes()?,
            })
        } else {
            None
        };
        let manifest = if flags & FLAG_MANIFEST != 0 {
            Some(Manifest::decode(r)?)
        } else {
            None
        };
        Ok(Self {
            fork,
            block,
            hash,
            seek,
            upgrade,
            manifest,
        })
    }
}

impl Encode for Data {
    fn encoded_len(&self) -> usize {
        uint_len(self.proof.flags()) + uint_len(self.request) + self.proof.body_len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.proof.flags()).uint(self.request);
        self.proof.encode_body(w);
    }
}

impl Decode for Data {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.uint()?;
        let request = r.uint()?;
        let proof = Proof::decode_body(flags, r)?;
        Ok(Self { request, proof })
    }
}
