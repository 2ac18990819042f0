//! An entry's value: the UTF-8 of `JSON.stringify({executable, linkname, blob, metadata})`,
//! in exactly that key order, as Hyperdrive 13 stores it under the entry key.
//!
//! * a file: `{executable, linkname: null, blob: <hyperblobs id>, metadata}`;
//! * a symlink: `{executable: false, linkname: <target>, blob: null, metadata}`;
//! * `putEntry` stores whatever the caller gives for the four (defaults `false`, `null`,
//!   `null`, `null`);
//! * `metadata` is any JSON value (`false`, `0`, `""`, arrays, objects with their keys in
//!   JS's order).
//!
//! The blob id is kept as the JSON object it is ([`Entry::blob`]), so a value read back is
//! written again byte for byte whatever key order its writer used; [`Entry::blob_id`]
//! reads it as Hyperblobs' [`BlobId`] (where its blocks and bytes are).
//!
//! ```
//! use ferrocore_hyperblobs::BlobId;
//! use ferrocore_hyperdrive::entry::Entry;
//! use ferrocore_wire::json::Value;
//! let blob = BlobId { block_offset: 0, byte_offset: 0, block_length: 1, byte_length: 11, block_map: false };
//! let e = Entry::file(blob, false, Value::Null);
//! let bytes = e.encode();
//! assert_eq!(bytes, br#"{"executable":false,"linkname":null,"blob":{"blockOffset":0,"byteOffset":0,"blockLength":1,"byteLength":11},"metadata":null}"#);
//! assert_eq!(Entry::decode(&bytes).unwrap(), e);
//! ```

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use ferrocore_hyperblobs::{BlobId, IdError};
use ferrocore_wire::json::{self, JsonError, Value};

/// Why bytes are not an entry value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not JSON.
    #[error("entry is not JSON: {0}")]
    Json(#[from] JsonError),
    /// JSON, but not an object.
    #[error("entry is not a JSON object")]
    NotAnObject,
    /// A field of the wrong type (`executable` not a boolean, `linkname` not a string).
    #[error("entry field {0} has the wrong type")]
    Field(&'static str),
    /// A `blob` that is not a Hyperblobs id.
    #[error("entry field blob: {0}")]
    Blob(#[from] IdError),
}

/// A drive entry's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    /// The file is executable.
    pub executable: bool,
    /// A symlink's target (JS follows it when it is a non-empty string).
    pub linkname: Option<String>,
    /// The hyperblobs id of the contents, as the JSON object stored (see [`Entry::blob_id`]);
    /// `None` for a symlink or a `putEntry` without blob.
    pub blob: Option<Value>,
    /// Any JSON value the writer attached.
    pub metadata: Value,
}

impl Entry {
    /// What `put(path, buf, {executable, metadata})` and a write stream store.
    #[must_use]
    pub fn file(blob: BlobId, executable: bool, metadata: Value) -> Self {
        Entry {
            executable,
            linkname: None,
            blob: Some(blob.to_value()),
            metadata,
        }
    }

    /// What `symlink(path, target, {metadata})` stores.
    #[must_use]
    pub fn symlink(target: &str, metadata: Value) -> Self {
        Entry {
            executable: false,
            linkname: Some(target.into()),
            blob: None,
            metadata,
        }
    }

    /// Whether JS follows this entry as a link (a non-empty `linkname`).
    #[must_use]
    pub fn is_symlink(&self) -> bool {
        self.linkname.as_deref().is_some_and(|l| !l.is_empty())
    }

    /// The blob's id, `None` without blob.
    ///
    /// # Errors
    /// [`EntryError::Blob`] as [`BlobId::from_value`].
    pub fn blob_id(&self) -> Result<Option<BlobId>, EntryError> {
        Ok(self.blob.as_ref().map(BlobId::from_value).transpose()?)
    }

    /// The value as JSON: `{executable, linkname, blob, metadata}` in that order.
    #[must_use]
    pub fn to_json(&self) -> Value {
        Value::Object(vec![
            ("executable".into(), Value::Bool(self.executable)),
            (
                "linkname".into(),
                self.linkname.clone().map_or(Value::Null, Value::String),
            ),
            ("blob".into(), self.blob.clone().unwrap_or(Value::Null)),
            ("metadata".into(), self.metadata.clone()),
        ])
    }

    /// The stored bytes: `JSON.stringify` of [`Entry::to_json`].
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        json::stringify(&self.to_json()).into_bytes()
    }

    /// An entry from its stored bytes. A member left out reads as JS's default (`false`,
    /// `null`); members other than the four are ignored.
    ///
    /// # Errors
    /// [`EntryError`] for bytes that are not JSON, not an object, or hold a field of the
    /// wrong type (a `blob` that is not `null` must be an id [`BlobId::from_value`] reads).
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        let value = json::parse(bytes)?;
        Entry::from_json(value)
    }

    /// An entry from its JSON value (see [`Entry::decode`]).
    ///
    /// # Errors
    /// As [`Entry::decode`].
    pub fn from_json(value: Value) -> Result<Self, EntryError> {
        let Value::Object(members) = value else {
            return Err(EntryError::NotAnObject);
        };
        let mut entry = Entry::default();
        for (key, v) in members {
            match key.as_str() {
                "executable" => {
                    entry.executable = match v {
                        Value::Bool(b) => b,
                        Value::Null => false,
                        _ => return Err(EntryError::Field("executable")),
                    }
                }
                "linkname" => {
                    entry.linkname = match v {
                        Value::String(s) => Some(s),
                        Value::Null => None,
                        _ => return Err(EntryError::Field("linkname")),
                    }
                }
                "blob" if !v.is_null() => {
                    BlobId::from_value(&v)?;
                    entry.blob = Some(v);
                }
                "metadata" => entry.metadata = v,
                _ => {}
            }
        }
        Ok(entry)
    }
}

/// `getBlobsLength`: the blobs core's length the entries need, the largest
/// `blockOffset + blockLength` of their blobs (0 without any); what `truncate` cuts the
/// blobs core to.
///
/// # Errors
/// [`EntryError::Blob`] for an entry whose blob is no id.
pub fn blobs_length<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<u64, EntryError> {
    let mut length = 0;
    for e in entries {
        if let Some(id) = e.blob_id()? {
            length = length.max(id.block_end());
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_links_encode_in_js_key_order() {
        let span = BlobId {
            block_offset: 19,
            byte_offset: 201_162,
            block_length: 1,
            byte_length: 8,
            block_map: true,
        };
        let meta = json::parse(br#"{"b":1,"1":[1e21,-0.5]}"#).unwrap();
        let e = Entry::file(span, true, meta);
        assert_eq!(
            core::str::from_utf8(&e.encode()).unwrap(),
            r#"{"executable":true,"linkname":null,"blob":{"blockOffset":19,"byteOffset":201162,"blockLength":1,"byteLength":8,"blockMap":true},"metadata":{"1":[1e+21,-0.5],"b":1}}"#
        );
        assert_eq!(e.blob_id().unwrap(), Some(span));
        let link = Entry::symlink("../x", Value::String("m".into()));
        assert!(link.is_symlink() && !Entry::symlink("", Value::Null).is_symlink());
        assert_eq!(
            link.encode(),
            br#"{"executable":false,"linkname":"../x","blob":null,"metadata":"m"}"#
        );
        assert_eq!(Entry::decode(&link.encode()).unwrap(), link);
    }

    #[test]
    fn a_blob_in_another_key_order_is_written_back_as_it_was() {
        let text = br#"{"executable":false,"linkname":null,"blob":{"blockOffset":1,"blockLength":2,"byteOffset":3,"byteLength":4},"metadata":null}"#;
        let e = Entry::decode(text).unwrap();
        assert_eq!(e.encode(), text);
        let span = e.blob_id().unwrap().unwrap();
        assert_eq!(
            (span.block_offset, span.block_length, span.byte_offset),
            (1, 2, 3)
        );
        assert_eq!(span.block_end(), 3);
        let link = Entry::symlink("/x", Value::Null);
        assert_eq!(blobs_length([&e, &link]), Ok(3));
        assert_eq!(blobs_length([&link]), Ok(0));
    }

    #[test]
    fn missing_members_read_as_js_defaults() {
        let e = Entry::decode(br#"{"metadata":{"x":1},"other":2}"#).unwrap();
        assert!(!e.executable && e.linkname.is_none() && e.blob.is_none());
        assert_eq!(e.metadata, json::parse(br#"{"x":1}"#).unwrap());
    }

    #[test]
    fn hostile_values_are_typed_errors() {
        for (bad, err) in [
            (&b"[1]"[..], EntryError::NotAnObject),
            (b"null", EntryError::NotAnObject),
            (br#"{"executable":1}"#, EntryError::Field("executable")),
            (br#"{"linkname":[]}"#, EntryError::Field("linkname")),
            (br#"{"blob":7}"#, EntryError::Blob(IdError::NotAnObject)),
            (br#"{"blob":{"blockOffset":0,"byteOffset":0,"blockLength":1}}"#, EntryError::Blob(IdError::Missing("byteLength"))),
            (br#"{"blob":{"blockOffset":-1,"byteOffset":0,"blockLength":1,"byteLength":1}}"#, EntryError::Blob(IdError::BadNumber("blockOffset"))),
            (br#"{"blob":{"blockOffset":0.5,"byteOffset":0,"blockLength":1,"byteLength":1}}"#, EntryError::Blob(IdError::BadNumber("blockOffset"))),
            (br#"{"blob":{"blockOffset":9007199254740992,"byteOffset":0,"blockLength":1,"byteLength":1}}"#, EntryError::Blob(IdError::BadNumber("blockOffset"))),
            (br#"{"blob":{"blockOffset":0,"byteOffset":0,"blockLength":1,"byteLength":1,"blockMap":1}}"#, EntryError::Blob(IdError::BadFlag)),
        ] {
            assert_eq!(Entry::decode(bad), Err(err), "{}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(Entry::decode(b"{"), Err(EntryError::Json(_))));
    }
}
