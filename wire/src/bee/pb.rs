//! The protobuf primitives the Hyperbee messages use, written the way the JS generator
//! (`protocol-buffers-encodings`) writes them: plain LEB128 varints, length-prefixed byte
//! strings, packed repeated varints whose tag and length are written only when the packed
//! payload is not empty.
//!
//! Reading is ordinary protobuf: a field's wire type says how to skip it, unknown fields
//! are skipped, a repeated varint field is accepted packed or not, and every length is
//! checked against the bytes left before anything is allocated.

use alloc::vec::Vec;
use bytes::Bytes;

use crate::encoding::Reader;
use crate::DecodeError;

/// Wire type 0: a varint.
pub(crate) const VARINT: u8 = 0;
/// Wire type 2: a length-delimited value (bytes, string, message, packed repeated).
pub(crate) const LEN: u8 = 2;

/// Bytes a varint of `v` takes.
#[must_use]
pub(crate) const fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Bytes a length-delimited field (tag, length, payload) of `len` payload bytes takes.
#[must_use]
pub(crate) const fn len_field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// Bytes a packed repeated varint field takes: nothing when the list is empty.
#[must_use]
pub(crate) fn packed_field_len(values: &[u64]) -> usize {
    match packed_payload_len(values) {
        0 => 0,
        n => len_field_len(n),
    }
}

fn packed_payload_len(values: &[u64]) -> usize {
    values.iter().map(|&v| varint_len(v)).sum()
}

/// Appends protobuf fields to a buffer.
pub(crate) struct PbWriter<'a>(pub(crate) &'a mut Vec<u8>);

impl PbWriter<'_> {
    /// A raw varint.
    pub(crate) fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }

    fn tag(&mut self, field: u8, wire: u8) -> &mut Self {
        self.0.push((field << 3) | wire);
        self
    }

    /// A varint field.
    pub(crate) fn uint_field(&mut self, field: u8, v: u64) -> &mut Self {
        self.tag(field, VARINT).varint(v)
    }

    /// A bytes (or string, or embedded message) field.
    pub(crate) fn bytes_field(&mut self, field: u8, b: &[u8]) -> &mut Self {
        self.tag(field, LEN).varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }

    /// The header of an embedded message field of `len` bytes; the caller writes the body.
    pub(crate) fn message_header(&mut self, field: u8, len: usize) -> &mut Self {
        self.tag(field, LEN).varint(len as u64)
    }

    /// A packed repeated varint field, omitted entirely when its payload would be empty.
    pub(crate) fn packed_field(&mut self, field: u8, values: &[u64]) -> &mut Self {
        let n = packed_payload_len(values);
        if n > 0 {
            self.tag(field, LEN).varint(n as u64);
            for &v in values {
                self.varint(v);
            }
        }
        self
    }
}

/// One field read from a message: its number and its value.
pub(crate) enum Field<'a> {
    /// A varint field.
    Varint(u8, u64),
    /// A length-delimited field, as a window over its payload.
    Len(u8, Reader<'a>),
}

/// Reads the fields of one message window, skipping unknown wire types 1 and 5 (fixed) and
/// rejecting groups (3, 4) and reserved types.
pub(crate) struct PbReader<'a> {
    r: Reader<'a>,
}

impl<'a> PbReader<'a> {
    /// A reader over a whole message.
    pub(crate) fn new(r: Reader<'a>) -> Self {
        Self { r }
    }

    /// Reads a varint: at most 10 bytes, and no bits past 64.
    pub(crate) fn read_varint(r: &mut Reader<'_>) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = r.u8()?;
            let part = u64::from(b & 0x7f);
            if i == 9 && part > 1 {
                return Err(DecodeError::Invalid("varint overflows 64 bits"));
            }
            v |= part << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid("varint longer than 10 bytes"))
    }

    /// The next field whose wire type is varint or length-delimited, or `None` at the end
    /// of the window. Fixed-width fields are skipped (no known field uses them).
    pub(crate) fn next_field(&mut self) -> Result<Option<Field<'a>>, DecodeError> {
        loop {
            if self.r.is_empty() {
                return Ok(None);
            }
            let key = Self::read_varint(&mut self.r)?;
            let wire = (key & 7) as u8;
            let number = key >> 3;
            // Fields above 255 are never ours: keep reading them as unknown (number 0).
            let number = u8::try_from(number).unwrap_or(0);
            match wire {
                0 => return Ok(Some(Field::Varint(number, Self::read_varint(&mut self.r)?))),
                1 => {
                    self.r.take(8)?;
                }
                2 => {
                    let len = Self::read_varint(&mut self.r)?;
                    let len =
                        usize::try_from(len).map_err(|_| DecodeError::IntegerOutOfRange(len))?;
                    return Ok(Some(Field::Len(number, self.r.sub_reader(len)?)));
                }
                5 => {
                    self.r.take(4)?;
                }
                _ => return Err(DecodeError::Invalid("unsupported protobuf wire type")),
            }
        }
    }
}

/// Reads the rest of a packed window as varints, appending to `out` (which grows at most
/// one entry per input byte).
pub(crate) fn read_packed(mut r: Reader<'_>, out: &mut Vec<u64>) -> Result<(), DecodeError> {
    out.reserve(r.remaining().min(1 << 16));
    while !r.is_empty() {
        out.push(PbReader::read_varint(&mut r)?);
    }
    Ok(())
}

/// A repeated varint field, packed (length-delimited) or not (one varint).
pub(crate) fn read_repeated(field: Field<'_>, out: &mut Vec<u64>) -> Result<(), DecodeError> {
    match field {
        Field::Varint(_, v) => {
            out.push(v);
            Ok(())
        }
        Field::Len(_, r) => read_packed(r, out),
    }
}

/// A bytes field's payload (zero-copy when the message was read from [`Bytes`]).
pub(crate) fn take_bytes(field: Field<'_>) -> Result<Bytes, DecodeError> {
    match field {
        Field::Len(_, mut r) => Ok(r.rest_bytes()),
        Field::Varint(..) => Err(DecodeError::Invalid("expected a length-delimited field")),
    }
}

/// A varint field's value.
pub(crate) fn take_varint(field: Field<'_>) -> Result<u64, DecodeError> {
    match field {
        Field::Varint(_, v) => Ok(v),
        Field::Len(..) => Err(DecodeError::Invalid("expected a varint field")),
    }
}

/// An embedded message field's window.
pub(crate) fn take_message(field: Field<'_>) -> Result<Reader<'_>, DecodeError> {
    match field {
        Field::Len(_, r) => Ok(r),
        Field::Varint(..) => Err(DecodeError::Invalid("expected an embedded message")),
    }
}

impl Field<'_> {
    /// The field number.
    pub(crate) fn number(&self) -> u8 {
        match self {
            Field::Varint(n, _) | Field::Len(n, _) => *n,
        }
    }
}
