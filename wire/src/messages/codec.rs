//! Codecs of the small messages (handshake, sync, request, cancel, noData, want, unwant,
//! bitfield, range, reorgHint, extension).

use super::*;

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
