//! Key and value encodings: the [`Codec`] trait and JS hyperbee's `binary`, `utf-8` and
//! `json` ([`Binary`], [`Utf8`], [`Json`]), plus [`Hex`]; [`Encoding`] picks one at run
//! time and converts to and from text and JSON (what a command line needs).
//!
//! ```
//! use ferrocore_driver::bee::codec::{Codec, Json, Utf8};
//!
//! assert_eq!(Utf8.encode(&"héllo".to_owned()).unwrap(), "héllo".as_bytes());
//! let v = serde_json::json!({"a": [1, 2]});
//! assert_eq!(Json.encode(&v).unwrap(), r#"{"a":[1,2]}"#.as_bytes()); // JSON.stringify's bytes
//! assert_eq!(Json.decode(br#"{"a":[1,2]}"#).unwrap(), v);
//! ```

use std::str::FromStr;

use bytes::Bytes;
use serde_json::Value;

/// Why bytes or text do not fit an encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{encoding}: {reason}")]
pub struct CodecError {
    /// The encoding's name.
    pub encoding: &'static str,
    /// What was wrong.
    pub reason: String,
}

impl CodecError {
    fn new(encoding: &'static str, reason: impl ToString) -> Self {
        CodecError {
            encoding,
            reason: reason.to_string(),
        }
    }
}

/// A key or value encoding: a type to and from the bytes a bee stores.
pub trait Codec {
    /// The decoded type.
    type Item;
    /// The stored bytes of `item`.
    ///
    /// # Errors
    /// When `item` has no encoding.
    fn encode(&self, item: &Self::Item) -> Result<Bytes, CodecError>;
    /// The item stored as `bytes`.
    ///
    /// # Errors
    /// When `bytes` are not an encoding of an item.
    fn decode(&self, bytes: &[u8]) -> Result<Self::Item, CodecError>;
}

/// Bytes as they are (JS `binary`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Binary;

impl Codec for Binary {
    type Item = Bytes;
    fn encode(&self, item: &Bytes) -> Result<Bytes, CodecError> {
        Ok(item.clone())
    }
    fn decode(&self, bytes: &[u8]) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(bytes))
    }
}

/// UTF-8 text (JS `utf-8`); decoding bytes that are not UTF-8 fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8;

impl Codec for Utf8 {
    type Item = String;
    fn encode(&self, item: &String) -> Result<Bytes, CodecError> {
        Ok(Bytes::copy_from_slice(item.as_bytes()))
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|e| CodecError::new("utf-8", e))
    }
}

/// JSON (JS `json`: `JSON.stringify`'s UTF-8 bytes, no spaces, numbers and key order as
/// JS writes them; see [`ferrocore_wire::json::stringify`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl Codec for Json {
    type Item = Value;
    fn encode(&self, item: &Value) -> Result<Bytes, CodecError> {
        Ok(Bytes::from(ferrocore_wire::json::stringify(item)))
    }
    fn decode(&self, bytes: &[u8]) -> Result<Value, CodecError> {
        serde_json::from_slice(bytes).map_err(|e| CodecError::new("json", e))
    }
}

/// Bytes written as lowercase hex text (either case read).
#[derive(Debug, Clone, Copy, Default)]
pub struct Hex;

impl Codec for Hex {
    type Item = String;
    fn encode(&self, item: &String) -> Result<Bytes, CodecError> {
        hex::decode(item)
            .map(Bytes::from)
            .map_err(|e| CodecError::new("hex", e))
    }
    fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
        Ok(hex::encode(bytes))
    }
}

/// An encoding picked at run time (`"binary"`, `"utf-8"` (or `"utf8"`), `"json"`,
/// `"hex"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// [`Binary`]: text is taken as its UTF-8 bytes; bytes shown as text where UTF-8,
    /// replacement characters elsewhere.
    Binary,
    /// [`Utf8`].
    #[default]
    Utf8,
    /// [`Json`]: text is parsed as JSON.
    Json,
    /// [`Hex`].
    Hex,
}

impl FromStr for Encoding {
    type Err = CodecError;
    fn from_str(s: &str) -> Result<Self, CodecError> {
        Ok(match s {
            "binary" => Encoding::Binary,
            "utf-8" | "utf8" => Encoding::Utf8,
            "json" => Encoding::Json,
            "hex" => Encoding::Hex,
            other => {
                return Err(CodecError::new(
                    "encoding",
                    format!("unknown encoding {other:?} (binary, utf-8, json or hex)"),
                ))
            }
        })
    }
}

impl Encoding {
    /// The encoding's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Binary => "binary",
            Encoding::Utf8 => "utf-8",
            Encoding::Json => "json",
            Encoding::Hex => "hex",
        }
    }

    /// The stored bytes of `text` (a JSON document for [`Encoding::Json`]).
    ///
    /// # Errors
    /// Text that is not JSON, or not hex.
    pub fn from_text(self, text: &str) -> Result<Bytes, CodecError> {
        match self {
            Encoding::Binary | Encoding::Utf8 => Ok(Bytes::copy_from_slice(text.as_bytes())),
            Encoding::Json => {
                Json.encode(&serde_json::from_str(text).map_err(|e| CodecError::new("json", e))?)
            }
            Encoding::Hex => Hex.encode(&text.to_owned()),
        }
    }

    /// `bytes` as text.
    ///
    /// # Errors
    /// Bytes that are not UTF-8 ([`Encoding::Utf8`]) or not JSON.
    pub fn to_text(self, bytes: &[u8]) -> Result<String, CodecError> {
        match self {
            Encoding::Binary => Ok(String::from_utf8_lossy(bytes).into_owned()),
            Encoding::Utf8 => Utf8.decode(bytes),
            Encoding::Json => Json.decode(bytes).map(|v| v.to_string()),
            Encoding::Hex => Hex.decode(bytes),
        }
    }

    /// The stored bytes of a JSON value: any value for [`Encoding::Json`], a string
    /// otherwise.
    ///
    /// # Errors
    /// A value that is not a string (except for JSON), or a string that is not hex.
    pub fn from_json(self, value: &Value) -> Result<Bytes, CodecError> {
        match (self, value) {
            (Encoding::Json, v) => Json.encode(v),
            (_, Value::String(s)) => self.from_text(s),
            (e, v) => Err(CodecError::new(
                e.name(),
                format!("expected a string, not {v}"),
            )),
        }
    }

    /// `bytes` as a JSON value: the decoded value for [`Encoding::Json`], a string
    /// otherwise.
    ///
    /// # Errors
    /// As [`to_text`](Self::to_text).
    pub fn to_json(self, bytes: &[u8]) -> Result<Value, CodecError> {
        match self {
            Encoding::Json => Json.decode(bytes),
            e => e.to_text(bytes).map(Value::String),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_and_refuse_what_does_not_fit() {
        for (e, text, stored) in [
            (Encoding::Utf8, "hé", "hé".as_bytes().to_vec()),
            (Encoding::Hex, "00ff", vec![0, 255]),
            (Encoding::Json, "{ \"a\" : 1 }", br#"{"a":1}"#.to_vec()),
            (Encoding::Binary, "x", b"x".to_vec()),
        ] {
            let b = e.from_text(text).unwrap();
            assert_eq!(b.as_ref(), &stored[..], "{e:?}");
            let back = e.from_text(&e.to_text(&b).unwrap()).unwrap();
            assert_eq!(back, b);
            assert_eq!(e.from_json(&e.to_json(&b).unwrap()).unwrap(), b);
        }
        assert!(Encoding::Utf8.to_text(&[0xff]).is_err());
        assert!(Encoding::Hex.from_text("0g").is_err());
        assert!(Encoding::Json.from_text("{").is_err());
        assert!(Encoding::Utf8.from_json(&serde_json::json!(1)).is_err());
        assert_eq!("utf8".parse::<Encoding>().unwrap(), Encoding::Utf8);
        assert!("latin1".parse::<Encoding>().is_err());
    }
}
