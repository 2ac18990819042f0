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

// Section flags shared by `request` and `data` (bit5 `priority` is request-only).
const FLAG_BLOCK: u64 = 1;
const FLAG_HASH: u64 = 2;
const FLAG_SEEK: u64 = 4;
const FLAG_UPGRADE: u64 = 8;
const FLAG_MANIFEST: u64 = 16;

/// `bit` if `on`, else 0.
const fn flag(on: bool, bit: u64) -> u64 {
    if on {
        bit
    } else {
        0
    }
}

mod codec;
mod message;
mod proof_codec;

pub use message::{Message, MessageType};

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
