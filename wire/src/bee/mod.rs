//! Hyperbee's protobuf messages (`hyperbee@2.27.3`, `schema.proto`), byte for byte what
//! the JS generator (`protocol-buffers-encodings`) writes:
//!
//! * [`Header`]: block 0 of a bee (`protocol: "hyperbee"`, optional [`Metadata`]);
//! * [`Node`]: every later block, one key, its value (absent for a deletion or a put of
//!   `null`) and the serialised [`YoloIndex`] of the tree nodes the operation rewrote;
//! * [`YoloIndex`]: a list of tree nodes ([`Level`]): key seqs and `(seq, offset)` child
//!   pointers, flattened;
//! * [`Extension`]: the `hyperbee` core extension (cache hints, get and iterator requests).
//!
//! The JS writer's rules: fields in ascending tag order; a defined optional field is
//! written even when it is zero or false; a packed repeated field is omitted when empty.
//! Decoding is ordinary protobuf and hostile-input safe: unknown fields are skipped, a
//! repeated field is accepted packed or unpacked, a missing required field, a truncated
//! value, a varint past 64 bits or a wire type that does not fit the field is a typed
//! [`DecodeError`], and nothing is allocated beyond what the input holds.
//!
//! ```
//! use ferrocore_wire::bee::{Level, Node, YoloIndex};
//!
//! let index = YoloIndex { levels: vec![Level { keys: vec![1], children: vec![] }] };
//! let node = Node { index: index.encode().into(), key: b"a".to_vec().into(), value: Some(b"1".to_vec().into()) };
//! assert_eq!(node.encode(), [0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x01, 0x12, 0x01, b'a', 0x1a, 0x01, b'1']);
//! assert_eq!(Node::decode(&node.encode().into()).unwrap(), node);
//! ```

mod ext;
mod pb;

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::encoding::Reader;
use crate::DecodeError;
use pb::{len_field_len, packed_field_len, take_bytes, take_message, PbReader, PbWriter};

pub use ext::{Extension, ExtensionCache, ExtensionGet, ExtensionIterator};

/// The `protocol` every bee's header names.
pub const PROTOCOL: &str = "hyperbee";

/// Block 0 of a bee: `Header { required string protocol = 1; optional Metadata metadata = 2 }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// `"hyperbee"` for a bee ([`PROTOCOL`]).
    pub protocol: String,
    /// Written when the bee was created with metadata (Hyperdrive writes an empty one).
    pub metadata: Option<Metadata>,
}

/// `Metadata { optional bytes contentFeed = 1; optional bytes userData = 2 }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    /// The key of a companion core (Hyperdrive's blobs core).
    pub content_feed: Option<Bytes>,
    /// Application data.
    pub user_data: Option<Bytes>,
}

/// A node block: `Node { required bytes index = 1; required bytes key = 2; optional bytes value = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    /// The encoded [`YoloIndex`] (decode it with [`YoloIndex::decode`]).
    pub index: Bytes,
    /// The (encoded) key this block writes.
    pub key: Bytes,
    /// The value; absent for a deletion and for a put of `null`.
    pub value: Option<Bytes>,
}

/// The tree nodes one block holds: `YoloIndex { repeated Level levels = 1 }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct YoloIndex {
    /// The nodes; `levels[0]` of block `v - 1` is the root of version `v`.
    pub levels: Vec<Level>,
}

/// One tree node: `Level { repeated uint64 keys = 1 [packed]; repeated uint64 children = 2 [packed] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Level {
    /// The seqs of the blocks holding this node's keys, in key order.
    pub keys: Vec<u64>,
    /// Child pointers flattened as `seq, offset, seq, offset, …` (empty in a leaf).
    pub children: Vec<u64>,
}

impl Metadata {
    fn encoded_len(&self) -> usize {
        self.content_feed
            .as_ref()
            .map_or(0, |b| len_field_len(b.len()))
            + self
                .user_data
                .as_ref()
                .map_or(0, |b| len_field_len(b.len()))
    }

    fn write(&self, w: &mut PbWriter<'_>) {
        if let Some(b) = &self.content_feed {
            w.bytes_field(1, b);
        }
        if let Some(b) = &self.user_data {
            w.bytes_field(2, b);
        }
    }

    fn read(r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut m = Metadata::default();
        let mut pb = PbReader::new(r);
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => m.content_feed = Some(take_bytes(f)?),
                2 => m.user_data = Some(take_bytes(f)?),
                _ => {}
            }
        }
        Ok(m)
    }
}

impl Header {
    /// A plain bee's header: `{protocol: "hyperbee"}` (`0a 08 6879706572626565`).
    #[must_use]
    pub fn hyperbee(metadata: Option<Metadata>) -> Self {
        Header {
            protocol: String::from(PROTOCOL),
            metadata,
        }
    }

    /// Length of [`Header::encode`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        len_field_len(self.protocol.len())
            + self
                .metadata
                .as_ref()
                .map_or(0, |m| len_field_len(m.encoded_len()))
    }

    /// The header's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut w = PbWriter(&mut out);
        w.bytes_field(1, self.protocol.as_bytes());
        if let Some(m) = &self.metadata {
            w.message_header(2, m.encoded_len());
            m.write(&mut w);
        }
        out
    }

    /// Decodes a header; `protocol` is required and must be UTF-8.
    pub fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let mut protocol = None;
        let mut metadata = None;
        let mut pb = PbReader::new(Reader::from_bytes(buf));
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => {
                    let b = take_bytes(f)?;
                    let s = core::str::from_utf8(&b).map_err(|_| DecodeError::InvalidUtf8)?;
                    protocol = Some(String::from(s));
                }
                2 => metadata = Some(Metadata::read(take_message(f)?)?),
                _ => {}
            }
        }
        let protocol = protocol.ok_or(DecodeError::Invalid("header without protocol"))?;
        Ok(Header { protocol, metadata })
    }

    /// True for a bee's header ([`PROTOCOL`]), as `Hyperbee.isHyperbee` checks.
    #[must_use]
    pub fn is_hyperbee(&self) -> bool {
        self.protocol == PROTOCOL
    }
}

impl Node {
    /// Length of [`Node::encode`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        len_field_len(self.index.len())
            + len_field_len(self.key.len())
            + self.value.as_ref().map_or(0, |v| len_field_len(v.len()))
    }

    /// The block's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        Self::encode_parts(&self.index, &self.key, self.value.as_deref(), &mut out);
        out
    }

    /// Appends the bytes of a node block made of these parts (no copies into a [`Node`]).
    pub fn encode_parts(index: &[u8], key: &[u8], value: Option<&[u8]>, out: &mut Vec<u8>) {
        let mut w = PbWriter(out);
        w.bytes_field(1, index).bytes_field(2, key);
        if let Some(v) = value {
            w.bytes_field(3, v);
        }
    }

    /// Decodes a node block (`index` and `key` are required); the byte strings share
    /// `buf`'s allocation.
    pub fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let (mut index, mut key, mut value) = (None, None, None);
        let mut pb = PbReader::new(Reader::from_bytes(buf));
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => index = Some(take_bytes(f)?),
                2 => key = Some(take_bytes(f)?),
                3 => value = Some(take_bytes(f)?),
                _ => {}
            }
        }
        Ok(Node {
            index: index.ok_or(DecodeError::Invalid("node without index"))?,
            key: key.ok_or(DecodeError::Invalid("node without key"))?,
            value,
        })
    }
}

impl Level {
    fn encoded_len(&self) -> usize {
        packed_field_len(&self.keys) + packed_field_len(&self.children)
    }

    fn write(&self, w: &mut PbWriter<'_>) {
        w.packed_field(1, &self.keys)
            .packed_field(2, &self.children);
    }

    fn read(r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut l = Level::default();
        let mut pb = PbReader::new(r);
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => pb::read_repeated(f, &mut l.keys)?,
                2 => pb::read_repeated(f, &mut l.children)?,
                _ => {}
            }
        }
        Ok(l)
    }
}

impl YoloIndex {
    /// Length of [`YoloIndex::encode`]'s output (0 for no levels).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.levels
            .iter()
            .map(|l| len_field_len(l.encoded_len()))
            .sum()
    }

    /// The index's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut w = PbWriter(&mut out);
        for l in &self.levels {
            w.message_header(1, l.encoded_len());
            l.write(&mut w);
        }
        out
    }

    /// Decodes an index. A level costs at least two input bytes, so at most
    /// `buf.len() / 2` levels are allocated.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut levels = Vec::new();
        let mut pb = PbReader::new(Reader::new(buf));
        while let Some(f) = pb.next_field()? {
            if f.number() == 1 {
                levels.push(Level::read(take_message(f)?)?);
            }
        }
        Ok(YoloIndex { levels })
    }
}

#[cfg(test)]
mod tests;
