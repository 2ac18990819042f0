//! The header record: everything of a core's signed state that is not a node, block or
//! bitfield page, compact-encoded with `ferrocore_wire`.
//!
//! ```text
//! u8     version (1)
//! uint   flags       bit0 compat, bit1 manifest, bit2 key pair, bit3 signature
//! fixed32 key
//! [manifest]         if bit1 (the wire manifest codec)
//! [fixed64 secret]   if bit2 (libsodium secret key: seed ‖ public key)
//! uint   fork
//! uint   length
//! uint   contiguous length
//! [buffer signature] if bit3
//! ```
//!
//! An **empty** header record means "no core" (what [`purge`](super::Log::purge) leaves,
//! since the storage contract has no header deletion).

use bytes::Bytes;
use ferrocore_wire::encoding::{
    buffer_len, uint_len, Decode, Encode, Reader, Writer, MAX_SAFE_INTEGER,
};
use ferrocore_wire::DecodeError;

use crate::keys::KeyPair;
use crate::storage::{Record, StorageError};
use crate::Manifest;

const VERSION: u8 = 1;
const COMPAT: u64 = 1;
const MANIFEST: u64 = 2;
const KEY_PAIR: u64 = 4;
const SIGNATURE: u64 = 8;
const KNOWN_FLAGS: u64 = COMPAT | MANIFEST | KEY_PAIR | SIGNATURE;

/// The persisted header of a core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The core key.
    pub key: [u8; 32],
    /// The manifest, once known.
    pub manifest: Option<Manifest>,
    /// The writer's key pair, if this core is writable.
    pub key_pair: Option<KeyPair>,
    /// Compat mode (key = public key, 80-byte signables).
    pub compat: bool,
    /// Fork id.
    pub fork: u64,
    /// Signed length.
    pub length: u64,
    /// Blocks present contiguously from 0 (at most `length`).
    pub contiguous_length: u64,
    /// The signature over `(treeHash, length, fork)`.
    pub signature: Option<Bytes>,
}

/// A header to encode, borrowing its parts from wherever they live (the log encodes one
/// per commit, and cloning a manifest and key pair for each would cost allocations).
#[derive(Debug, Clone, Copy)]
pub(super) struct HeaderRef<'a> {
    pub(super) key: &'a [u8; 32],
    pub(super) manifest: Option<&'a Manifest>,
    pub(super) secret_key: Option<&'a [u8; 64]>,
    pub(super) compat: bool,
    pub(super) fork: u64,
    pub(super) length: u64,
    pub(super) contiguous_length: u64,
    pub(super) signature: Option<&'a [u8]>,
}

impl HeaderRef<'_> {
    fn flags(&self) -> u64 {
        let mut f = 0;
        if self.compat {
            f |= COMPAT;
        }
        if self.manifest.is_some() {
            f |= MANIFEST;
        }
        if self.secret_key.is_some() {
            f |= KEY_PAIR;
        }
        if self.signature.is_some() {
            f |= SIGNATURE;
        }
        f
    }
}

impl Encode for HeaderRef<'_> {
    fn encoded_len(&self) -> usize {
        1 + uint_len(self.flags())
            + 32
            + self.manifest.map_or(0, Encode::encoded_len)
            + if self.secret_key.is_some() { 64 } else { 0 }
            + uint_len(self.fork)
            + uint_len(self.length)
            + uint_len(self.contiguous_length)
            + self.signature.map_or(0, |s| buffer_len(s.len()))
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(VERSION).uint(self.flags()).raw(self.key);
        if let Some(m) = self.manifest {
            w.value(m);
        }
        if let Some(secret) = self.secret_key {
            w.raw(secret);
        }
        w.uint(self.fork)
            .uint(self.length)
            .uint(self.contiguous_length);
        if let Some(sig) = self.signature {
            w.buffer(sig);
        }
    }
}

impl Header {
    /// This header, borrowed for encoding.
    fn borrowed(&self) -> HeaderRef<'_> {
        HeaderRef {
            key: &self.key,
            manifest: self.manifest.as_ref(),
            secret_key: self.key_pair.as_ref().map(|kp| &kp.secret_key),
            compat: self.compat,
            fork: self.fork,
            length: self.length,
            contiguous_length: self.contiguous_length,
            signature: self.signature.as_deref(),
        }
    }

    /// Decodes a stored header; any malformation is [`StorageError`] `Corrupt(Header)`.
    ///
    /// # Errors
    /// When the bytes do not decode or violate an invariant (`contiguous ≤ length`,
    /// lengths ≤ 2^53 − 1, a key pair whose halves match).
    pub fn decode_record(bytes: &[u8]) -> Result<Header, StorageError> {
        let corrupt = |m: &str| StorageError::corrupt(Record::Header, m);
        let h = Header::decode_exact(bytes).map_err(|_| corrupt("header does not decode"))?;
        if h.length > MAX_SAFE_INTEGER || h.contiguous_length > h.length {
            return Err(corrupt("header lengths out of range"));
        }
        Ok(h)
    }
}

impl Encode for Header {
    fn encoded_len(&self) -> usize {
        self.borrowed().encoded_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        self.borrowed().encode(w);
    }
}

impl Decode for Header {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let invalid = DecodeError::Invalid("header");
        if r.u8()? != VERSION {
            return Err(invalid);
        }
        let flags = r.uint()?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(invalid);
        }
        let key = r.fixed()?;
        let manifest = if flags & MANIFEST != 0 {
            Some(Manifest::decode(r)?)
        } else {
            None
        };
        let key_pair = if flags & KEY_PAIR != 0 {
            Some(
                KeyPair::from_secret_key(&r.fixed()?)
                    .map_err(|_| DecodeError::Invalid("header key pair"))?,
            )
        } else {
            None
        };
        let fork = r.uint()?;
        let length = r.uint()?;
        let contiguous_length = r.uint()?;
        let signature = if flags & SIGNATURE != 0 {
            Some(Bytes::copy_from_slice(r.buffer()?))
        } else {
            None
        };
        Ok(Header {
            key,
            manifest,
            key_pair,
            compat: flags & COMPAT != 0,
            fork,
            length,
            contiguous_length,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::default_manifest;
    use crate::storage::StorageErrorKind;

    fn sample(all: bool) -> Header {
        let kp = KeyPair::from_seed(&[4; 32]);
        Header {
            key: [9; 32],
            manifest: all.then(|| default_manifest(&kp.public_key)),
            key_pair: all.then_some(kp),
            compat: all,
            fork: 3,
            length: 1 << 40,
            contiguous_length: 17,
            signature: all.then(|| Bytes::from_static(&[5; 68])),
        }
    }

    #[test]
    fn round_trips_and_rejects_every_truncation_and_bad_flag() {
        for all in [false, true] {
            let h = sample(all);
            let bytes = h.to_vec();
            assert_eq!(bytes.len(), h.encoded_len());
            assert_eq!(Header::decode_record(&bytes).unwrap(), h);
            for cut in 0..bytes.len() {
                let e = Header::decode_record(&bytes[..cut]).unwrap_err();
                assert_eq!(
                    (e.kind, e.record),
                    (StorageErrorKind::Corrupt, Record::Header)
                );
            }
            let mut flags = bytes.clone();
            flags[1] |= 0x10;
            assert!(Header::decode_record(&flags).is_err());
        }
        // A key pair whose public half does not match its seed, or contiguous > length.
        let mut h = sample(true);
        h.key_pair.as_mut().unwrap().secret_key[40] ^= 1;
        assert!(Header::decode_record(&h.to_vec()).is_err());
        let mut h = sample(false);
        h.contiguous_length = h.length + 1;
        assert!(Header::decode_record(&h.to_vec()).is_err());
    }
}
