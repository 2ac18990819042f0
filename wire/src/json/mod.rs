//! JSON as JS reads and writes it, without std: [`parse`] (`JSON.parse` into a [`Value`]
//! whose objects keep their members in order) and [`stringify()`] (`JSON.stringify`, byte for
//! byte, of a [`Value`] or of any [`JsonView`]).
//!
//! Hyperbee's `json` value encoding and Hyperdrive's entries store `JSON.stringify` of a
//! value; reading one back and writing it again gives the same bytes.
//!
//! ```
//! use ferrocore_wire::json::{parse, stringify};
//! let v = parse(br#"{"b":1.0,"2":[1e21,"\u00e9"],"b":true}"#).unwrap();
//! assert_eq!(stringify(&v), r#"{"2":[1e+21,"é"],"b":true}"#);
//! ```
//!
//! Where JS accepts what this parser refuses (a lone surrogate in a `\u` escape, a number
//! beyond the doubles, nesting deeper than 128, bytes that are not UTF-8), [`parse`] fails
//! with a [`JsonError`] rather than guess.

mod write;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_core::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub use write::{stringify, JsonView, View};

/// A JSON value as JS holds it: numbers are doubles; an object's members are in the order
/// JS holds an object's keys after `JSON.parse`: array-index keys (`"0"`, `"7"`, ...)
/// first in ascending order, then the others in the order they came (a repeated key keeps
/// its first place and its last value). So `parse(stringify(v)) == v`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object's members, in order, each key once.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The member `key` of an object (`None` for a missing key or a value that is no object).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

impl JsonView for Value {
    fn view(&self) -> View<'_, Self> {
        match self {
            Value::Null => View::Null,
            Value::Bool(b) => View::Bool(*b),
            Value::Number(x) => View::Number(*x),
            Value::String(s) => View::String(s),
            Value::Array(items) => View::Array(items),
            Value::Object(members) => {
                View::Object(members.iter().map(|(k, v)| (k.as_str(), v)).collect())
            }
        }
    }
}

/// Why bytes are not a JSON text [`parse`] takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON (or JSON this parser refuses: see the module docs), at `line`:`column`.
    #[error("invalid JSON at line {line} column {column}")]
    Syntax {
        /// The line of the fault (from 1).
        line: usize,
        /// The column of the fault (from 1).
        column: usize,
    },
}

/// `JSON.parse(bytes)`: one JSON value, surrounded by whitespace at most.
///
/// # Errors
/// [`JsonError::Syntax`] for anything else.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    serde_json::from_slice(bytes).map_err(|e| JsonError::Syntax {
        line: e.line(),
        column: e.column(),
    })
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// Objects up to this many keys are searched for a repeated key one by one.
const LINEAR_KEYS: usize = 16;

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Number(i as f64))
    }

    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::Number(u as f64))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Number(x))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members: Vec<(String, Value)> = Vec::new();
        // Where each key is, once there are too many to search (a hostile object of many
        // keys costs n log n, not n²).
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            // JS: a repeated key keeps its first place and takes the last value.
            let at = if members.len() < LINEAR_KEYS {
                members.iter().position(|(k, _)| *k == key)
            } else {
                if index.is_empty() {
                    index = members
                        .iter()
                        .enumerate()
                        .map(|(i, (k, _))| (k.clone(), i))
                        .collect();
                }
                index.get(&key).copied()
            };
            match at {
                Some(i) => members[i].1 = value,
                None => {
                    if members.len() >= LINEAR_KEYS {
                        index.insert(key.clone(), members.len());
                    }
                    members.push((key, value));
                }
            }
        }
        // JS holds array-index keys first, ascending, then the rest in insertion order.
        if members.iter().any(|(k, _)| write::array_index(k).is_some()) {
            let (mut ordered, rest): (Vec<_>, Vec<_>) = members
                .into_iter()
                .partition(|(k, _)| write::array_index(k).is_some());
            ordered.sort_by_key(|(k, _)| write::array_index(k));
            ordered.extend(rest);
            members = ordered;
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    fn round(text: &str) -> String {
        stringify(&parse(text.as_bytes()).unwrap())
    }

    #[test]
    fn parse_then_stringify_is_js() {
        assert_eq!(
            round(" [1, 2.50, -0, 1E3, 9007199254740993] "),
            "[1,2.5,0,1000,9007199254740992]"
        );
        assert_eq!(
            round(r#""\u00e9\n\u2028\/\u0007""#),
            "\"é\\n\u{2028}/\\u0007\""
        );
        assert_eq!(
            round(r#"{"z":0,"y":[],"z":{"a":null}}"#),
            r#"{"z":{"a":null},"y":[]}"#
        );
        assert_eq!(round("true"), "true");
    }

    #[test]
    fn objects_hold_index_keys_first_as_js_does() {
        // What the drive_entry fuzz target found: parse(stringify(v)) must be v.
        let v = parse(br#"{"b":0,"8":1,"a":2,"10":3,"08":4,"2":5}"#).unwrap();
        let Value::Object(members) = &v else {
            panic!("an object")
        };
        let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["2", "8", "10", "b", "a", "08"]);
        assert_eq!(parse(stringify(&v).as_bytes()).unwrap(), v);
    }

    #[test]
    fn repeated_keys_past_the_linear_search_keep_js_order() {
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k3\":\"last\",\"k39\":0,\"new\":1}");
        let v = parse(text.as_bytes()).unwrap();
        let Value::Object(members) = &v else {
            panic!("not an object")
        };
        assert_eq!(members.len(), 41);
        assert_eq!(members[3], ("k3".into(), Value::String("last".into())));
        assert_eq!(members[39], ("k39".into(), Value::Number(0.0)));
        assert_eq!(members[40].0, "new");
        assert_eq!(v.get("k3"), Some(&Value::String("last".into())));
        assert_eq!(v.get("nope"), None);
    }

    #[test]
    fn what_is_not_json_is_an_error() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        for bad in [
            &b"{"[..],
            b"",
            b"1 2",
            b"\"\\ud800\"",
            b"1e400",
            b"\"\xff\"",
            b"{'a':1}",
            b"[1,]",
            deep.as_bytes(),
        ] {
            assert!(
                matches!(parse(bad), Err(JsonError::Syntax { .. })),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
