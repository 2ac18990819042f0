//! Blob ids and their JSON form (`JSON.stringify(id)`, what Hyperdrive embeds in entries).

use alloc::string::String;
use core::fmt::Write as _;

use ferrocore_wire::json::{self, JsonError, Value};

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

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

/// Why a blob id's JSON was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// Not JSON.
    #[error("blob id: {0}")]
    Json(#[from] JsonError),
    /// JSON, but not an object.
    #[error("blob id is not a JSON object")]
    NotAnObject,
    /// A required field is absent.
    #[error("blob id lacks `{0}`")]
    Missing(&'static str),
    /// A field of the wrong type, or a number that is not a safe non-negative integer.
    #[error("blob id field `{0}` is not a non-negative safe integer")]
    BadNumber(&'static str),
    /// `blockMap` is not a boolean.
    #[error("blob id field `blockMap` is not a boolean")]
    BadFlag,
}

impl BlobId {
    /// `JSON.stringify(id)` of an id `Hyperblobs.put` or a write stream returned: keys
    /// `blockOffset, byteOffset, blockLength, byteLength`, then `"blockMap":true` for a
    /// block-map blob.
    #[must_use]
    pub fn to_json(&self) -> String {
        json::stringify(&self.to_value())
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

    /// Parses an id from JSON text (`JSON.parse`, then [`from_value`](Self::from_value)).
    ///
    /// # Errors
    /// [`IdError::Json`] for text that is not JSON; as [`from_value`](Self::from_value).
    pub fn from_json(text: &[u8]) -> Result<BlobId, IdError> {
        Self::from_value(&json::parse(text)?)
    }

    /// The id in a parsed JSON value (a drive entry's `blob`): an object with the four
    /// numeric fields in any order and an optional boolean `blockMap` (`null` is false);
    /// other members are ignored. Each number must be an integer in
    /// `0 ..= `[`MAX_SAFE_INTEGER`].
    ///
    /// # Errors
    /// [`IdError::NotAnObject`], [`IdError::Missing`], [`IdError::BadNumber`],
    /// [`IdError::BadFlag`].
    pub fn from_value(v: &Value) -> Result<BlobId, IdError> {
        let Value::Object(_) = v else {
            return Err(IdError::NotAnObject);
        };
        let num = |field: &'static str| match v.get(field) {
            None => Err(IdError::Missing(field)),
            Some(Value::Number(x)) => safe_integer(*x).ok_or(IdError::BadNumber(field)),
            Some(_) => Err(IdError::BadNumber(field)),
        };
        let block_map = match v.get("blockMap") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(IdError::BadFlag),
        };
        Ok(BlobId {
            block_offset: num("blockOffset")?,
            byte_offset: num("byteOffset")?,
            block_length: num("blockLength")?,
            byte_length: num("byteLength")?,
            block_map,
        })
    }

    /// The id as a JSON value in the write stream's key order (what
    /// [`to_json`](Self::to_json) writes).
    #[must_use]
    pub fn to_value(&self) -> Value {
        #[allow(clippy::cast_precision_loss)]
        let num = |x: u64| Value::Number(x as f64);
        let mut members = alloc::vec![
            ("blockOffset".into(), num(self.block_offset)),
            ("byteOffset".into(), num(self.byte_offset)),
            ("blockLength".into(), num(self.block_length)),
            ("byteLength".into(), num(self.byte_length)),
        ];
        if self.block_map {
            members.push(("blockMap".into(), Value::Bool(true)));
        }
        Value::Object(members)
    }

    /// One past the id's last block (`blockOffset + blockLength`; what Hyperdrive's
    /// `getBlobsLength` takes the largest of).
    #[must_use]
    pub fn block_end(&self) -> u64 {
        self.block_offset.saturating_add(self.block_length)
    }
}

/// `x` as an integer in `0 ..= MAX_SAFE_INTEGER`, if it is one.
fn safe_integer(x: f64) -> Option<u64> {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = x as u64; // saturates; NaN is 0
    #[allow(clippy::cast_precision_loss)]
    let exact = n as f64 == x;
    (n <= MAX_SAFE_INTEGER && exact).then_some(n)
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
            (b"[]", IdError::NotAnObject),
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
                br#"{"blockOffset":0,"byteOffset":"1","blockLength":0,"byteLength":0}"#,
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
        assert!(matches!(BlobId::from_json(b""), Err(IdError::Json(_))));
        assert!(matches!(
            BlobId::from_json(br#"{"blockOffset":01}"#),
            Err(IdError::Json(_))
        ));
        let max =
            br#"{"blockOffset":9007199254740991,"byteOffset":0,"blockLength":0,"byteLength":0}"#;
        assert_eq!(
            BlobId::from_json(max).unwrap().block_offset,
            MAX_SAFE_INTEGER
        );
    }
}
