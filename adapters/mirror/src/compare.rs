//! mirror-drive's entry comparison (`same`, `maybeEquals`, `metadataEquals` in
//! mirror-drive 1.14.2 `index.js:408-452`), and the JS value rules it leans on: truthiness
//! and `same-data`'s deep equality.

use std::io::{self, Read};

use ferrocore_wire::json::Value;

use crate::side::MirrorEntry;

/// How a source entry compares with the target's (JS `SAME`, `DIFF`, `DIFF_META`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing to do.
    Same,
    /// Write the entry again.
    Diff,
    /// Same contents, other `executable` or `metadata`.
    DiffMeta,
}

/// A metadata comparison.
pub(crate) type MetaEq<'a> = dyn Fn(&Value, &Value) -> bool + 'a;

/// JS truthiness of a JSON value (`null`, `false`, `0`, `NaN` and `""` are falsy).
#[must_use]
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `same-data@1`'s deep equality: arrays element by element, objects by their members
/// whatever their order, everything else by `===`.
#[must_use]
pub fn same_data(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_data(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            let (a, b) = (sorted(a), sorted(b));
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.0 == y.0 && same_data(&x.1, &y.1))
        }
        // `===`: NaN is never equal, 0 equals -0.
        (Value::Number(x), Value::Number(y)) => x == y,
        _ => a == b,
    }
}

/// An object's members by key, as `same-data` sorts them.
fn sorted(members: &[(String, Value)]) -> Vec<&(String, Value)> {
    let mut v: Vec<&(String, Value)> = members.iter().collect();
    v.sort_by(|x, y| js_cmp(&x.0, &y.0));
    v
}

/// JS `<` on strings: by UTF-16 code units.
fn js_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// mirror-drive's `metadataEquals` (`index.js:438-452`): equal when either side does not
/// support metadata, by the custom predicate when given, else when both are falsy or both
/// truthy and `same-data` equal.
pub(crate) fn metadata_equals(
    supported: bool,
    custom: Option<&MetaEq<'_>>,
    src: &Value,
    dst: &Value,
) -> bool {
    if !supported {
        return true;
    }
    if let Some(eq) = custom {
        return eq(src, dst);
    }
    let none = !truthy(src) && !truthy(dst);
    none || (truthy(src) && truthy(dst) && same_data(src, dst))
}

/// mirror-drive's `maybeEquals` (`index.js:426-436`): both without blob, or both with one
/// of the same byte length (for a block-mapped blob JS answers "maybe" without the length;
/// [`MirrorEntry::size`] is the resolved length, and unequal lengths make the contents
/// differ anyway, so the outcome is the same).
pub(crate) fn maybe_equals(src: &MirrorEntry, dst: &MirrorEntry) -> bool {
    match (&src.value.blob, &dst.value.blob) {
        (None, None) => true,
        (Some(_), Some(_)) => src.size == dst.size,
        _ => false,
    }
}

/// Which side a read failure came from.
#[derive(Debug)]
pub(crate) enum ReadFailure {
    Source(io::Error),
    Target(io::Error),
}

/// `binary-stream-equals`: whether two readers yield the same bytes.
pub(crate) fn content_equals(a: &mut dyn Read, b: &mut dyn Read) -> Result<bool, ReadFailure> {
    const CHUNK: usize = 64 * 1024;
    let mut x = vec![0u8; CHUNK];
    let mut y = vec![0u8; CHUNK];
    loop {
        let n = fill(a, &mut x).map_err(ReadFailure::Source)?;
        let m = fill(b, &mut y).map_err(ReadFailure::Target)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n < CHUNK {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the reader ends; the bytes read.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrocore_wire::json::parse;

    fn v(s: &str) -> Value {
        parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn truthiness_is_js() {
        for f in ["null", "false", "0", "-0", "\"\""] {
            assert!(!truthy(&v(f)), "{f}");
        }
        for t in ["true", "1", "\"0\"", "[]", "{}"] {
            assert!(truthy(&v(t)), "{t}");
        }
    }

    #[test]
    fn same_data_ignores_member_order() {
        assert!(same_data(
            &v(r#"{"a":1,"b":[1,{"c":2}]}"#),
            &v(r#"{"b":[1,{"c":2}],"a":1}"#)
        ));
        assert!(!same_data(&v(r#"{"a":1}"#), &v(r#"{"a":1,"b":1}"#)));
        assert!(!same_data(&v("[1,2]"), &v("[2,1]")));
        assert!(!same_data(&v("1"), &v("\"1\"")));
        assert!(same_data(&v("0"), &v("-0")));
    }

    #[test]
    fn metadata_rules() {
        // Both falsy: equal, even of other types (JS `!src && !dst`).
        assert!(metadata_equals(true, None, &v("null"), &v("0")));
        assert!(metadata_equals(true, None, &v("false"), &v("\"\"")));
        assert!(!metadata_equals(true, None, &v("null"), &v("{}")));
        assert!(metadata_equals(true, None, &v("{}"), &v("{}")));
        // A side without metadata: always equal.
        assert!(metadata_equals(false, None, &v("1"), &v("2")));
        let any = |_: &Value, _: &Value| true;
        assert!(metadata_equals(true, Some(&any), &v("1"), &v("2")));
    }

    #[test]
    fn contents_compare_across_chunks() {
        let a = vec![7u8; 200_000];
        let mut b = a.clone();
        assert!(content_equals(&mut &a[..], &mut &b[..]).unwrap());
        b[150_000] = 8;
        assert!(!content_equals(&mut &a[..], &mut &b[..]).unwrap());
        assert!(!content_equals(&mut &a[..], &mut &a[..65536]).unwrap());
        assert!(content_equals(&mut &[][..], &mut &[][..]).unwrap());
    }
}
