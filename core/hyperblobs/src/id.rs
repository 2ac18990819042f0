//! Blob ids and their JSON form (`JSON.stringify(id)`, what Hyperdrive embeds in entries).

use alloc::string::String;
use core::fmt::Write as _;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Deepest nesting of an unknown JSON value [`BlobId::from_json`] skips.
pub const MAX_JSON_DEPTH: usize = 32;

/// Where a blob lives in its core.
///
/// For a plain blob the range `block_offset .. block_offset + block_length` holds the
/// content, `byte_offset` is the core's byte length when the write started. For a
/// block-map blob (`block_map`) the range holds the **map** blocks and `byte_length` is the
/// map's size, not the content's (JS does the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlobId {
    /// The first block.
    pub block_offset: u64,
    /// How many blocks.
    pub block_length: u64,
    /// The core byte offset of the first block.
    pub byte_offset: u64,
    /// How many bytes.
    pub byte_length: u64,
    /// The blocks are a block map (JS adds `blockMap: true`).
    pub block_map: bool,
}

/// Why a blob id's JSON text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not JSON, or not an object at the top.
    #[error("blob id is not a JSON object (at byte {0})")]
    Syntax(usize),
    /// A required field is absent.
    #[error("blob id lacks `{0}`")]
    Missing(&'static str),
    /// A field of the wrong type, or a number that is not a safe non-negative integer.
    #[error("blob id field `{0}` is not a non-negative safe integer")]
    BadNumber(&'static str),
    /// `blockMap` is not a boolean.
    #[error("blob id field `blockMap` is not a boolean")]
    BadFlag,
    /// Unknown values nested deeper than [`MAX_JSON_DEPTH`].
    #[error("blob id nests deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
}

impl BlobId {
    /// `JSON.stringify(id)` of an id `Hyperblobs.put` or a write stream returned: keys
    /// `blockOffset, byteOffset, blockLength, byteLength`, then `"blockMap":true` for a
    /// block-map blob.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(96);
        let _ = write!(
            s,
            "{{\"blockOffset\":{},\"byteOffset\":{},\"blockLength\":{},\"byteLength\":{}",
            self.block_offset, self.byte_offset, self.block_length, self.byte_length
        );
        if self.block_map {
            s.push_str(",\"blockMap\":true");
        }
        s.push('}');
        s
    }

    /// `JSON.stringify` of an id `HyperBlobsBatch.put` returned (keys `blockOffset,
    /// blockLength, byteOffset, byteLength`; a batch never writes block maps).
    #[must_use]
    pub fn to_batch_json(&self) -> String {
        let mut s = String::with_capacity(96);
        let _ = write!(
            s,
            "{{\"blockOffset\":{},\"blockLength\":{},\"byteOffset\":{},\"byteLength\":{}}}",
            self.block_offset, self.block_length, self.byte_offset, self.byte_length
        );
        s
    }

    /// Parses an id from JSON text: an object with the four numeric fields (any order,
    /// JSON whitespace allowed, a repeated key's last value wins as in `JSON.parse`) and
    /// an optional boolean `blockMap`; other keys are skipped. Numbers must be integers
    /// in `0 ..= 2^53 - 1` written without fraction or exponent (what `JSON.stringify`
    /// writes for them). Work is linear in the input; nothing is allocated.
    ///
    /// # Errors
    /// [`IdError`] for anything else.
    pub fn from_json(text: &[u8]) -> Result<BlobId, IdError> {
        let mut p = Json { s: text, i: 0 };
        let mut fields: [Option<u64>; 4] = [None; 4];
        let mut block_map = false;
        p.ws();
        p.eat(b'{')?;
        p.ws();
        if p.peek() == Some(b'}') {
            p.i += 1;
        } else {
            loop {
                p.ws();
                let key = p.string()?;
                p.ws();
                p.eat(b':')?;
                p.ws();
                match FIELDS.iter().position(|f| f.as_bytes() == key) {
                    Some(k) => fields[k] = Some(p.number(FIELDS[k])?),
                    None if key == b"blockMap" => block_map = p.boolean()?,
                    None => p.skip_value(0)?,
                }
                p.ws();
                match p.next() {
                    Some(b',') => continue,
                    Some(b'}') => break,
                    _ => return Err(IdError::Syntax(p.i)),
                }
            }
        }
        p.ws();
        if p.i != text.len() {
            return Err(IdError::Syntax(p.i));
        }
        let get = |k: usize| fields[k].ok_or(IdError::Missing(FIELDS[k]));
        Ok(BlobId {
            block_offset: get(0)?,
            byte_offset: get(1)?,
            block_length: get(2)?,
            byte_length: get(3)?,
            block_map,
        })
    }
}

const FIELDS: [&str; 4] = ["blockOffset", "byteOffset", "blockLength", "byteLength"];

/// A minimal JSON scanner over bytes.
struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Json<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek();
        self.i += usize::from(c.is_some());
        c
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), IdError> {
        if self.next() == Some(c) {
            Ok(())
        } else {
            Err(IdError::Syntax(self.i))
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), IdError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else {
            Err(IdError::Syntax(self.i))
        }
    }

    /// A string's raw bytes between the quotes (escapes left as written: a key spelled
    /// with escapes is an unknown key, which is skipped).
    fn string(&mut self) -> Result<&'a [u8], IdError> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match self.next() {
                Some(b'"') => return Ok(&self.s[start..self.i - 1]),
                Some(b'\\') => {
                    if self.next().is_none() {
                        return Err(IdError::Syntax(self.i));
                    }
                }
                Some(c) if c >= 0x20 => {}
                _ => return Err(IdError::Syntax(self.i)),
            }
        }
    }

    fn number(&mut self, field: &'static str) -> Result<u64, IdError> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(c @ b'0'..=b'9') = self.peek() {
            self.i += 1;
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
                .filter(|v| *v <= MAX_SAFE_INTEGER)
                .ok_or(IdError::BadNumber(field))?;
        }
        let digits = self.i - start;
        let leading_zero = digits > 1 && self.s[start] == b'0';
        if digits == 0 || leading_zero || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return Err(IdError::BadNumber(field));
        }
        Ok(v)
    }

    fn boolean(&mut self) -> Result<bool, IdError> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(IdError::BadFlag),
        }
    }

    /// Skips any JSON value (numbers loosely: their characters).
    fn skip_value(&mut self, depth: usize) -> Result<(), IdError> {
        if depth >= MAX_JSON_DEPTH {
            return Err(IdError::TooDeep);
        }
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(open @ (b'{' | b'[')) => {
                self.i += 1;
                let close = if open == b'{' { b'}' } else { b']' };
                self.ws();
                if self.peek() == Some(close) {
                    self.i += 1;
                    return Ok(());
                }
                loop {
                    self.ws();
                    if open == b'{' {
                        self.string()?;
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                    }
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(c) if c == close => return Ok(()),
                        _ => return Err(IdError::Syntax(self.i)),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.i += 1;
                }
                if self.i == start {
                    return Err(IdError::Syntax(start));
                }
                Ok(())
            }
            _ => Err(IdError::Syntax(self.i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_in_js_key_order() {
        let id = BlobId {
            block_offset: 6,
            block_length: 1,
            byte_offset: 70013,
            byte_length: 8,
            block_map: true,
        };
        let text = id.to_json();
        assert_eq!(
            text,
            r#"{"blockOffset":6,"byteOffset":70013,"blockLength":1,"byteLength":8,"blockMap":true}"#
        );
        assert_eq!(BlobId::from_json(text.as_bytes()), Ok(id));
        let plain = BlobId {
            block_map: false,
            ..id
        };
        assert_eq!(BlobId::from_json(plain.to_json().as_bytes()), Ok(plain));
        assert_eq!(
            plain.to_batch_json(),
            r#"{"blockOffset":6,"blockLength":1,"byteOffset":70013,"byteLength":8}"#
        );
    }

    #[test]
    fn parsing_accepts_any_order_whitespace_and_unknown_keys() {
        let t = br#" { "byteLength" : 3, "x": [1, {"a": null}, "s\"}"], "blockLength":1,
            "byteOffset":0, "blockOffset": 0, "blockMap": false, "blockOffset": 9 } "#;
        let id = BlobId::from_json(t).unwrap();
        assert_eq!(
            (id.block_offset, id.byte_length, id.block_map),
            (9, 3, false)
        );
    }

    #[test]
    fn malformed_ids_are_typed_errors() {
        let bad: &[(&[u8], IdError)] = &[
            (b"", IdError::Syntax(0)),
            (b"[]", IdError::Syntax(1)),
            (br#"{"blockOffset":1}"#, IdError::Missing("byteOffset")),
            (
                br#"{"blockOffset":-1,"byteOffset":0,"blockLength":0,"byteLength":0}"#,
                IdError::BadNumber("blockOffset"),
            ),
            (
                br#"{"blockOffset":1.5,"byteOffset":0,"blockLength":0,"byteLength":0}"#,
                IdError::BadNumber("blockOffset"),
            ),
            (
                br#"{"blockOffset":9007199254740992,"byteOffset":0,"blockLength":0,"byteLength":0}"#,
                IdError::BadNumber("blockOffset"),
            ),
            (
                br#"{"blockOffset":0,"byteOffset":01,"blockLength":0,"byteLength":0}"#,
                IdError::BadNumber("byteOffset"),
            ),
            (
                br#"{"blockOffset":0,"byteOffset":0,"blockLength":0,"byteLength":0,"blockMap":1}"#,
                IdError::BadFlag,
            ),
        ];
        for (text, err) in bad {
            assert_eq!(BlobId::from_json(text).as_ref(), Err(err), "{text:?}");
        }
        let deep = [b'['; 100];
        let mut t = alloc::vec::Vec::from(&br#"{"x":"#[..]);
        t.extend_from_slice(&deep);
        assert_eq!(BlobId::from_json(&t), Err(IdError::TooDeep));
        let max =
            br#"{"blockOffset":9007199254740991,"byteOffset":0,"blockLength":0,"byteLength":0}"#;
        assert_eq!(
            BlobId::from_json(max).unwrap().block_offset,
            MAX_SAFE_INTEGER
        );
    }
}
