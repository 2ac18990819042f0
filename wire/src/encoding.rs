//! compact-encoding primitives (`compact-encoding@3.5.2`), byte-exact with the JS reference.
//!
//! The format has no type tags and no framing: a value is the plain concatenation of its
//! fields. The workhorse is `uint`, a variable-length unsigned integer:
//!
//! | value range            | bytes                  |
//! |------------------------|------------------------|
//! | `0 ..= 0xfc`           | the value as one byte  |
//! | `0xfd ..= 0xffff`      | `fd` + u16 LE          |
//! | `0x1_0000 ..= 2^32-1`  | `fe` + u32 LE          |
//! | `2^32 ..= 2^53-1`      | `ff` + u64 LE          |
//!
//! Encoders emit the shortest form; decoders accept non-minimal forms (as JS does) but reject
//! values above 2^53 − 1, which JS peers cannot represent.
//!
//! Decoders accept exactly what the reference accepts:
//!
//! * **trailing bytes** after a value are ignored (`c.decode(codec, buf)` ignores them, and
//!   protomux hands each message a window ending at the end of its frame or batch entry);
//!   trailing *optional* fields are read only while the window has bytes left, so always
//!   decode a message from a reader whose window ends where the message ends;
//!   [`Decode::decode_exact`] is the strict variant;
//! * **`bool`**: only `01` is true, every other byte is false;
//! * **`string`**: invalid UTF-8 becomes U+FFFD, as `b4a.toString` does (not an error);
//! * **`array(T)`** counts above 0x100000 are rejected; `uint32array` has no count limit;
//!   in both, a count the remaining input cannot hold fails before anything is allocated.
//!
//! Encoding is two-pass: [`Encode::encoded_len`] computes the exact size, then
//! [`Encode::encode`] writes into a buffer of exactly that size, once.
//!
//! ```
//! use ferrocore_wire::encoding::{uint_len, Encode, Reader, Writer};
//!
//! let mut buf = [0u8; 3];
//! assert_eq!(uint_len(300), 3);
//! Writer::new(&mut buf).uint(300);
//! assert_eq!(buf, [0xfd, 0x2c, 0x01]);
//! assert_eq!(Reader::new(&buf).uint().unwrap(), 300);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

use crate::DecodeError;

/// The largest integer JS peers can represent exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The largest element count the reference accepts for `array(T)` (0x100000).
pub const MAX_ARRAY_LEN: u64 = 0x10_0000;

/// Number of bytes `uint` uses for `n`.
#[inline]
#[must_use]
pub const fn uint_len(n: u64) -> usize {
    if n <= 0xfc {
        1
    } else if n <= 0xffff {
        3
    } else if n <= 0xffff_ffff {
        5
    } else {
        9
    }
}

/// Number of bytes a `buffer` (`uint` length prefix + bytes) of `len` bytes uses.
#[inline]
#[must_use]
pub const fn buffer_len(len: usize) -> usize {
    uint_len(len as u64) + len
}

/// Zig-zag maps a signed integer onto an unsigned one (0, -1, 1, -2, 2 → 0, 1, 2, 3, 4), as
/// compact-encoding's `int` does before writing a `uint`.
///
/// JS peers accept only results up to 2^53 − 1, i.e. `n` in `-2^52 ..= 2^52 - 1`.
#[inline]
#[must_use]
pub const fn zigzag_encode(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// The inverse of [`zigzag_encode`].
#[inline]
#[must_use]
pub const fn zigzag_decode(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Number of bytes `int` (zig-zag, then `uint`) uses for `n`.
#[inline]
#[must_use]
pub const fn int_len(n: i64) -> usize {
    uint_len(zigzag_encode(n))
}

/// Number of bytes `frame(T)` uses for an inner encoding of `inner` bytes: the `uint` byte
/// length, then the inner bytes.
#[inline]
#[must_use]
pub const fn frame_len(inner: usize) -> usize {
    buffer_len(inner)
}

/// A value with a compact encoding.
///
/// Implementations must write exactly [`encoded_len`](Encode::encoded_len) bytes.
pub trait Encode {
    /// The exact number of bytes [`encode`](Encode::encode) writes.
    fn encoded_len(&self) -> usize;

    /// Writes the encoding. The writer has room for at least `encoded_len()` bytes.
    fn encode(&self, w: &mut Writer<'_>);

    /// Encodes into a new vector of exactly the right size.
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_append(&mut out);
        out
    }

    /// Appends the encoding to `out`, growing it once.
    fn encode_append(&self, out: &mut Vec<u8>) {
        let len = self.encoded_len();
        out.reserve(len);
        let mut w = Writer::append(out);
        self.encode(&mut w);
        debug_assert_eq!(w.position(), len, "encoded_len disagrees with encode");
    }
}

/// A value that can be decoded from compact-encoded bytes.
pub trait Decode: Sized {
    /// Decodes one value from the reader, advancing it.
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// Decodes one value from the start of `buf`. Trailing bytes are ignored, as the JS
    /// reference's `c.decode(codec, buffer)` and protomux message handlers do.
    fn decode_from(buf: &[u8]) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::new(buf))
    }

    /// Like [`decode_from`](Decode::decode_from), but byte strings inside the value (block
    /// values, extension payloads) share `buf`'s allocation instead of being copied.
    fn decode_bytes(buf: &Bytes) -> Result<Self, DecodeError> {
        Self::decode(&mut Reader::from_bytes(buf))
    }

    /// Decodes one value that must span all of `buf` (no trailing bytes).
    fn decode_exact(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        Ok(v)
    }
}

/// compact-encoding's `raw`: bytes written as they are, with no length prefix. Decoding
/// `raw` takes the rest of the window ([`Reader::rest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(pub &'a [u8]);

impl Encode for Raw<'_> {
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(self.0);
    }
}

/// Writes compact-encoded values into a pre-sized buffer, or onto the end of a `Vec`.
///
/// A slice writer ([`Writer::new`]) is sized by [`Encode::encoded_len`]; writing past its
/// end is a bug in an `Encode` implementation and panics. An appending writer
/// ([`Writer::append`]) grows its `Vec` as it writes, so the bytes are written once
/// (not zero-filled first).
#[derive(Debug)]
pub struct Writer<'a> {
    buf: Target<'a>,
    pos: usize,
}

/// Where a [`Writer`] puts its bytes.
#[derive(Debug)]
enum Target<'a> {
    Slice(&'a mut [u8]),
    Append(&'a mut Vec<u8>),
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    #[must_use]
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf: Target::Slice(buf),
            pos: 0,
        }
    }

    /// A writer appending to `out` (its [`position`](Self::position) counts the bytes
    /// this writer appended).
    #[must_use]
    pub fn append(out: &'a mut Vec<u8>) -> Self {
        Self {
            buf: Target::Append(out),
            pos: 0,
        }
    }

    /// Bytes written so far.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Writes raw bytes.
    #[inline]
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        match &mut self.buf {
            Target::Slice(buf) => buf[self.pos..self.pos + bytes.len()].copy_from_slice(bytes),
            Target::Append(out) => out.extend_from_slice(bytes),
        }
        self.pos += bytes.len();
        self
    }

    /// Writes one byte.
    #[inline]
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.raw(&[v])
    }

    /// Writes a fixed-width little-endian `uint16`.
    #[inline]
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }

    /// Writes a fixed-width little-endian `uint24` (the low 24 bits of `v`).
    #[inline]
    pub fn u24(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes()[..3])
    }

    /// Writes a fixed-width little-endian `uint32`.
    #[inline]
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }

    /// Writes a fixed-width little-endian `uint64`.
    #[inline]
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.raw(&v.to_le_bytes())
    }

    /// Writes a variable-length `uint` in its shortest form.
    #[inline]
    pub fn uint(&mut self, v: u64) -> &mut Self {
        if v <= 0xfc {
            self.u8(v as u8)
        } else if v <= 0xffff {
            self.u8(0xfd).u16(v as u16)
        } else if v <= 0xffff_ffff {
            self.u8(0xfe).u32(v as u32)
        } else {
            self.u8(0xff).u64(v)
        }
    }

    /// Writes an `int`: zig-zag, then `uint` (`-1 → 01`, `1 → 02`, `127 → fd fe 00`).
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.uint(zigzag_encode(v))
    }

    /// Writes a `bool` (`01` / `00`).
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u8(u8::from(v))
    }

    /// Writes a `buffer`: `uint` length, then the bytes.
    pub fn buffer(&mut self, bytes: &[u8]) -> &mut Self {
        self.uint(bytes.len() as u64).raw(bytes)
    }

    /// Writes an `optionalBuffer`: `None` (and an empty buffer) is written as `00`.
    pub fn optional_buffer(&mut self, bytes: Option<&[u8]>) -> &mut Self {
        self.buffer(bytes.unwrap_or(&[]))
    }

    /// Writes a `string`: `uint` byte length, then UTF-8 bytes.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.buffer(s.as_bytes())
    }

    /// Writes a `uint32array`: `uint` element count, then each element as u32 LE.
    pub fn uint32_array(&mut self, words: &[u32]) -> &mut Self {
        self.uint(words.len() as u64);
        for w in words {
            self.u32(*w);
        }
        self
    }

    /// Writes an `array(T)`: `uint` count, then each element.
    pub fn array<T: Encode>(&mut self, items: &[T]) -> &mut Self {
        self.uint(items.len() as u64);
        for item in items {
            item.encode(self);
        }
        self
    }

    /// Writes `frame(T)`: the `uint` byte length of `v`'s encoding, then the encoding.
    pub fn frame<T: Encode + ?Sized>(&mut self, v: &T) -> &mut Self {
        self.uint(v.encoded_len() as u64).value(v)
    }

    /// Writes any [`Encode`] value.
    pub fn value<T: Encode + ?Sized>(&mut self, v: &T) -> &mut Self {
        v.encode(self);
        self
    }
}

/// The encoded size of an `array(T)`.
#[must_use]
pub fn array_len<T: Encode>(items: &[T]) -> usize {
    uint_len(items.len() as u64) + items.iter().map(Encode::encoded_len).sum::<usize>()
}

/// The encoded size of a `uint32array`.
#[must_use]
pub const fn uint32_array_len(words: usize) -> usize {
    uint_len(words as u64) + 4 * words
}

/// Reads compact-encoded values from a byte window, never past its end.
///
/// Every read checks bounds and returns [`DecodeError::UnexpectedEnd`] instead of panicking.
/// A reader built with [`Reader::from_bytes`] hands out byte strings as [`Bytes`] slices of
/// the original allocation (zero-copy).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    backing: Option<&'a Bytes>,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; byte strings are copied out.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            backing: None,
        }
    }

    /// A reader over `buf`; byte strings share its allocation.
    #[must_use]
    pub fn from_bytes(buf: &'a Bytes) -> Self {
        Self {
            buf: buf.as_ref(),
            pos: 0,
            backing: Some(buf),
        }
    }

    /// A reader over the window `self[pos .. pos + len]` that shares this reader's backing.
    /// Used to give a nested codec a window that ends where its value ends.
    pub fn sub_reader(&mut self, len: usize) -> Result<Reader<'a>, DecodeError> {
        let start = self.pos;
        self.take(len)?;
        Ok(Reader {
            buf: &self.buf[..start + len],
            pos: start,
            backing: self.backing,
        })
    }

    /// Current offset from the start of the window.
    #[must_use]
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left in the window.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when the window is exhausted (trailing optional fields are then absent).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless the window is exhausted.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                offset: self.pos,
                needed: n - self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes the next `n` bytes as [`Bytes`] (zero-copy when the reader has a backing).
    pub fn take_bytes(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        let s = self.take(n)?;
        Ok(match self.backing {
            Some(b) => b.slice_ref(s),
            None => Bytes::copy_from_slice(s),
        })
    }

    /// Takes everything up to the end of the window (`raw`).
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Takes everything up to the end of the window as [`Bytes`] (`raw`).
    pub fn rest_bytes(&mut self) -> Bytes {
        let n = self.remaining();
        // Cannot fail: n is exactly what remains.
        self.take_bytes(n).unwrap_or_default()
    }

    /// Reads `N` bytes into an array (`fixed32`, `fixed64`, ...).
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads a fixed-width little-endian `uint16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.fixed()?))
    }

    /// Reads a fixed-width little-endian `uint24`.
    pub fn u24(&mut self) -> Result<u32, DecodeError> {
        let b: [u8; 3] = self.fixed()?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    /// Reads a fixed-width little-endian `uint32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    /// Reads a fixed-width little-endian `uint64`; values above 2^53 − 1 are rejected.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        safe(u64::from_le_bytes(self.fixed()?))
    }

    /// Reads a variable-length `uint`. Non-minimal forms are accepted; values above
    /// 2^53 − 1 are rejected.
    pub fn uint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let r = match self.u8()? {
            0xfd => self.u16().map(u64::from),
            0xfe => self.u32().map(u64::from),
            0xff => self.u64(),
            b => Ok(u64::from(b)),
        };
        if let Err(DecodeError::UnexpectedEnd { needed, .. }) = r {
            return Err(DecodeError::UnexpectedEnd {
                offset: start,
                needed,
            });
        }
        r
    }

    /// Reads a `uint` that must fit in a `usize` (lengths, counts).
    pub fn uint_usize(&mut self) -> Result<usize, DecodeError> {
        let v = self.uint()?;
        usize::try_from(v).map_err(|_| DecodeError::IntegerOutOfRange(v))
    }

    /// Reads a `uint` that must fit in a `u32`.
    pub fn uint_u32(&mut self) -> Result<u32, DecodeError> {
        let v = self.uint()?;
        u32::try_from(v).map_err(|_| DecodeError::IntegerOutOfRange(v))
    }

    /// Reads an `int` (zig-zag `uint`).
    pub fn int(&mut self) -> Result<i64, DecodeError> {
        self.uint().map(zigzag_decode)
    }

    /// Reads a `bool`: only `01` is true, any other byte is false (as in JS).
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.u8()? == 1)
    }

    /// Reads a `buffer` (`uint` length + bytes), borrowing from the input.
    pub fn buffer(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.length_prefix()?;
        self.take(len)
    }

    /// Reads a `buffer` as [`Bytes`] (zero-copy when the reader has a backing).
    pub fn buffer_bytes(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.length_prefix()?;
        self.take_bytes(len)
    }

    /// Reads an `optionalBuffer`: a length of 0 is `None`.
    pub fn optional_buffer_bytes(&mut self) -> Result<Option<Bytes>, DecodeError> {
        let b = self.buffer_bytes()?;
        Ok(if b.is_empty() { None } else { Some(b) })
    }

    /// Reads a `string` (`uint` byte length + UTF-8).
    ///
    /// Like the reference (`b4a.toString(buf, 'utf-8')`), invalid UTF-8 is not an error:
    /// each maximal invalid subsequence becomes U+FFFD. Use [`Reader::str_strict`] to
    /// reject it instead.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let b = self.buffer()?;
        Ok(String::from_utf8_lossy(b).into_owned())
    }

    /// Reads a `string` that must be valid UTF-8, borrowing from the input.
    pub fn str_strict(&mut self) -> Result<&'a str, DecodeError> {
        let b = self.buffer()?;
        core::str::from_utf8(b).map_err(|_| DecodeError::InvalidUtf8)
    }

    /// Reads the `uint` length prefix of a `frame(T)` and returns a reader over exactly that
    /// window, advancing this reader past it. Decode the inner value from the returned
    /// reader; bytes it leaves unread are skipped, as in the reference.
    pub fn frame(&mut self) -> Result<Reader<'a>, DecodeError> {
        let len = self.length_prefix()?;
        self.sub_reader(len)
    }

    /// Reads a `uint32array`.
    ///
    /// Unlike `array(T)`, the reference puts no limit on the element count; the count is
    /// only checked against the remaining input (4 bytes per element).
    pub fn uint32_array(&mut self) -> Result<Vec<u32>, DecodeError> {
        let count = self.bounded_count(4, u64::MAX)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(self.u32()?);
        }
        Ok(out)
    }

    /// Reads an `array(T)` of values that each take at least `min_item_len` bytes.
    ///
    /// The count is checked against the reference's limit (0x100000) and the allocation is
    /// capped by what the remaining input could possibly hold.
    pub fn array<T: Decode>(&mut self, min_item_len: usize) -> Result<Vec<T>, DecodeError> {
        let count = self.array_count(min_item_len)?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(T::decode(self)?);
        }
        Ok(out)
    }

    /// Reads an `array(...)` element count: rejects counts above 0x100000 and counts the
    /// remaining input cannot hold at `min_item_len` bytes per element.
    pub fn array_count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        self.bounded_count(min_item_len, MAX_ARRAY_LEN)
    }

    fn bounded_count(&mut self, min_item_len: usize, max: u64) -> Result<usize, DecodeError> {
        let start = self.pos;
        let count = self.uint()?;
        if count > max {
            return Err(DecodeError::ArrayTooLarge(count));
        }
        // Cannot truncate on 64-bit targets; on smaller ones a count above usize::MAX can
        // never fit in the input anyway.
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        let need = count.saturating_mul(min_item_len.max(1));
        if min_item_len > 0 && need > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                offset: start,
                needed: need - self.remaining(),
            });
        }
        Ok(count)
    }

    fn length_prefix(&mut self) -> Result<usize, DecodeError> {
        let start = self.pos;
        let len = self.uint()?;
        if len > self.remaining() as u64 {
            return Err(DecodeError::UnexpectedEnd {
                offset: start,
                needed: usize::try_from(len - self.remaining() as u64).unwrap_or(usize::MAX),
            });
        }
        Ok(len as usize)
    }
}

fn safe(v: u64) -> Result<u64, DecodeError> {
    if v > MAX_SAFE_INTEGER {
        Err(DecodeError::IntegerTooLarge(v))
    } else {
        Ok(v)
    }
}

/// Decodes 64 lowercase hex digits into 32 bytes, at compile time: protocol constants are
/// written as the reference prints them. A malformed literal fails the build.
#[must_use]
pub const fn hex32(s: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let b = s.as_bytes();
    assert!(b.len() == 64, "not 64 hex digits");
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(b[2 * i]) << 4) | nibble(b[2 * i + 1]);
        i += 1;
    }
    out
}
