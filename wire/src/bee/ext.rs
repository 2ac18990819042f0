//! The `hyperbee` core extension's message (`lib/extension.js`): one of a cache hint
//! (responder → requester: blocks worth downloading), a get request or an iterator request
//! (requester → everyone: please send me what this lookup touches).

use alloc::vec::Vec;
use bytes::Bytes;

use super::pb::{self, len_field_len, packed_field_len, take_bytes, take_message, take_varint};
use super::pb::{varint_len, PbReader, PbWriter};
use crate::encoding::Reader;
use crate::DecodeError;

/// `Extension { optional Cache cache = 1; optional Get get = 2; optional Iterator iterator = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extension {
    /// A responder's hint: blocks the requester should download.
    pub cache: Option<ExtensionCache>,
    /// A single-key lookup request.
    pub get: Option<ExtensionGet>,
    /// A range-iterator request (with the requester's checkpoint).
    pub iterator: Option<ExtensionIterator>,
}

/// `Cache { required uint64 start = 1; required uint64 end = 2; repeated uint64 blocks = 3 [packed] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionCache {
    /// First seq of the hinted range.
    pub start: u64,
    /// End of the hinted range.
    pub end: u64,
    /// Individual seqs.
    pub blocks: Vec<u64>,
}

/// `Get { optional uint64 version = 1; optional bytes key = 2 }` (a decoded absent
/// `version` is 0, as in JS).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionGet {
    /// The version to look the key up at (JS always writes it).
    pub version: Option<u64>,
    /// The encoded key.
    pub key: Option<Bytes>,
}

/// `Iterator { optional uint64 version = 1; optional bytes gte = 2; optional bytes gt = 3;
/// optional bytes lte = 4; optional bytes lt = 5; optional uint64 limit = 6 (0 = none);
/// optional bool reverse = 7; repeated uint64 checkpoint = 8 [packed] }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionIterator {
    /// The version the iteration runs at.
    pub version: Option<u64>,
    /// Lower bound, inclusive.
    pub gte: Option<Bytes>,
    /// Lower bound, exclusive.
    pub gt: Option<Bytes>,
    /// Upper bound, inclusive.
    pub lte: Option<Bytes>,
    /// Upper bound, exclusive.
    pub lt: Option<Bytes>,
    /// Most entries to yield; 0 means no limit.
    pub limit: Option<u64>,
    /// Iterate downwards.
    pub reverse: Option<bool>,
    /// The iterator's stack as `(seq, offset, i)` triples, flattened.
    pub checkpoint: Vec<u64>,
}

fn opt_uint_len(v: Option<u64>) -> usize {
    v.map_or(0, |v| 1 + varint_len(v))
}

fn opt_bytes_len(b: Option<&Bytes>) -> usize {
    b.map_or(0, |b| len_field_len(b.len()))
}

impl ExtensionCache {
    fn encoded_len(&self) -> usize {
        1 + varint_len(self.start) + 1 + varint_len(self.end) + packed_field_len(&self.blocks)
    }

    fn write(&self, w: &mut PbWriter<'_>) {
        w.uint_field(1, self.start)
            .uint_field(2, self.end)
            .packed_field(3, &self.blocks);
    }

    fn read(r: Reader<'_>) -> Result<Self, DecodeError> {
        let (mut start, mut end) = (None, None);
        let mut blocks = Vec::new();
        let mut pb = PbReader::new(r);
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => start = Some(take_varint(f)?),
                2 => end = Some(take_varint(f)?),
                3 => pb::read_repeated(f, &mut blocks)?,
                _ => {}
            }
        }
        Ok(ExtensionCache {
            start: start.ok_or(DecodeError::Invalid("cache without start"))?,
            end: end.ok_or(DecodeError::Invalid("cache without end"))?,
            blocks,
        })
    }
}

impl ExtensionGet {
    fn encoded_len(&self) -> usize {
        opt_uint_len(self.version) + opt_bytes_len(self.key.as_ref())
    }

    fn write(&self, w: &mut PbWriter<'_>) {
        if let Some(v) = self.version {
            w.uint_field(1, v);
        }
        if let Some(k) = &self.key {
            w.bytes_field(2, k);
        }
    }

    fn read(r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut g = ExtensionGet::default();
        let mut pb = PbReader::new(r);
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => g.version = Some(take_varint(f)?),
                2 => g.key = Some(take_bytes(f)?),
                _ => {}
            }
        }
        Ok(g)
    }
}

impl ExtensionIterator {
    fn encoded_len(&self) -> usize {
        opt_uint_len(self.version)
            + opt_bytes_len(self.gte.as_ref())
            + opt_bytes_len(self.gt.as_ref())
            + opt_bytes_len(self.lte.as_ref())
            + opt_bytes_len(self.lt.as_ref())
            + opt_uint_len(self.limit)
            + self.reverse.map_or(0, |_| 2)
            + packed_field_len(&self.checkpoint)
    }

    fn write(&self, w: &mut PbWriter<'_>) {
        if let Some(v) = self.version {
            w.uint_field(1, v);
        }
        for (field, b) in [(2, &self.gte), (3, &self.gt), (4, &self.lte), (5, &self.lt)] {
            if let Some(b) = b {
                w.bytes_field(field, b);
            }
        }
        if let Some(v) = self.limit {
            w.uint_field(6, v);
        }
        if let Some(r) = self.reverse {
            w.uint_field(7, u64::from(r));
        }
        w.packed_field(8, &self.checkpoint);
    }

    fn read(r: Reader<'_>) -> Result<Self, DecodeError> {
        let mut it = ExtensionIterator::default();
        let mut pb = PbReader::new(r);
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => it.version = Some(take_varint(f)?),
                2 => it.gte = Some(take_bytes(f)?),
                3 => it.gt = Some(take_bytes(f)?),
                4 => it.lte = Some(take_bytes(f)?),
                5 => it.lt = Some(take_bytes(f)?),
                6 => it.limit = Some(take_varint(f)?),
                7 => it.reverse = Some(take_varint(f)? != 0),
                8 => pb::read_repeated(f, &mut it.checkpoint)?,
                _ => {}
            }
        }
        Ok(it)
    }
}

impl Extension {
    /// Length of [`Extension::encode`]'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        self.cache
            .as_ref()
            .map_or(0, |c| len_field_len(c.encoded_len()))
            + self
                .get
                .as_ref()
                .map_or(0, |g| len_field_len(g.encoded_len()))
            + self
                .iterator
                .as_ref()
                .map_or(0, |i| len_field_len(i.encoded_len()))
    }

    /// The message's bytes.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut w = PbWriter(&mut out);
        if let Some(c) = &self.cache {
            w.message_header(1, c.encoded_len());
            c.write(&mut w);
        }
        if let Some(g) = &self.get {
            w.message_header(2, g.encoded_len());
            g.write(&mut w);
        }
        if let Some(i) = &self.iterator {
            w.message_header(3, i.encoded_len());
            i.write(&mut w);
        }
        out
    }

    /// Decodes a message (byte strings share `buf`'s allocation).
    pub fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let mut e = Extension::default();
        let mut pb = PbReader::new(Reader::from_bytes(buf));
        while let Some(f) = pb.next_field()? {
            match f.number() {
                1 => e.cache = Some(ExtensionCache::read(take_message(f)?)?),
                2 => e.get = Some(ExtensionGet::read(take_message(f)?)?),
                3 => e.iterator = Some(ExtensionIterator::read(take_message(f)?)?),
                _ => {}
            }
        }
        Ok(e)
    }
}
