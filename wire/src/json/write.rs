//! JSON text exactly as JS `JSON.stringify` writes a value (what JS hyperbee's `json`
//! encoding stores): numbers as `Number.prototype.toString` writes them (`1` for `1.0`,
//! `1e+21`, `1e-7`, integers beyond 2^53 rounded to the nearest double), an object's
//! array-index keys first in ascending order and its other keys in the order the value
//! gives them, strings escaped as JS escapes them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One JSON value as the writer sees it: what a [`JsonView`] shows of itself.
#[derive(Debug)]
pub enum View<'a, V> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as the double JS holds.
    Number(f64),
    /// A string.
    String(&'a str),
    /// An array's items, in order.
    Array(&'a [V]),
    /// An object's members in insertion order (the writer puts array-index keys first, as
    /// JS enumerates them).
    Object(Vec<(&'a str, &'a V)>),
}

/// A JSON value type the writer can walk ([`super::Value`], and `serde_json::Value`, whose
/// objects keep their insertion order only with serde_json's `preserve_order` feature).
pub trait JsonView: Sized {
    /// This value, one level deep.
    fn view(&self) -> View<'_, Self>;
}

/// `JSON.stringify(value)`.
#[must_use]
pub fn stringify<V: JsonView>(value: &V) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value<V: JsonView>(value: &V, out: &mut String) {
    match value.view() {
        View::Null => out.push_str("null"),
        View::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        View::Number(x) => write_double(x, out),
        View::String(s) => write_string(s, out),
        View::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        View::Object(members) => write_object(&members, out),
    }
}

/// JS orders an object's own keys: array indices (canonical integers below 2^32 − 1)
/// ascending, then the others in the order they were first added.
fn write_object<V: JsonView>(members: &[(&str, &V)], out: &mut String) {
    let mut indices: Vec<(u32, &str, &V)> = members
        .iter()
        .filter_map(|&(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    indices.sort_by_key(|(i, _, _)| *i);
    let rest = members
        .iter()
        .copied()
        .filter(|(k, _)| array_index(k).is_none());
    out.push('{');
    let pairs = indices.into_iter().map(|(_, k, v)| (k, v)).chain(rest);
    for (n, (k, v)) in pairs.enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_string(k, out);
        out.push(':');
        write_value(v, out);
    }
    out.push('}');
}

/// The key as an array index: digits without a leading zero (but "0"), below 2^32 − 1.
pub(crate) fn array_index(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    if !canonical {
        return None;
    }
    let i: u64 = key.parse().ok()?;
    u32::try_from(i).ok().filter(|&i| i < u32::MAX)
}

/// JS's `QuoteJSONString`: `"` and `\` escaped, `\b \t \n \f \r`, other control
/// characters as `\u00xx` (lowercase); everything else as it is.
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `Number.prototype.toString()` of `x` (ECMA-262 Number::toString, radix 10), `null`
/// where JSON has no number (NaN, infinities).
pub(crate) fn write_double(x: f64, out: &mut String) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    if x == 0.0 {
        out.push('0');
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    // The shortest digits that read back as x, and where the point goes: x = 0.d × 10^n.
    let sci = alloc::format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(core::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(core::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        let (first, more) = digits.split_at(1);
        out.push_str(first);
        if !more.is_empty() {
            out.push('.');
            out.push_str(more);
        }
        let _ = write!(out, "e{}{}", if n > 0 { '+' } else { '-' }, (n - 1).abs());
    }
}

/// `serde_json`'s value (objects in insertion order with its `preserve_order` feature, which
/// the workspace turns on). Integers are rounded to the nearest double, as JS holds them.
impl JsonView for serde_json::Value {
    fn view(&self) -> View<'_, Self> {
        use serde_json::Value as J;
        match self {
            J::Null => View::Null,
            J::Bool(b) => View::Bool(*b),
            J::Number(n) => View::Number(number_as_double(n)),
            J::String(s) => View::String(s),
            J::Array(items) => View::Array(items),
            J::Object(map) => View::Object(map.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        }
    }
}

/// The double JS holds for a serde_json number (serde_json keeps integers exactly).
fn number_as_double(n: &serde_json::Number) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> String {
        let mut s = String::new();
        write_double(x, &mut s);
        s
    }

    #[test]
    fn numbers_as_js_writes_them() {
        for (x, js) in [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "null"),
            (123.456, "123.456"),
        ] {
            assert_eq!(num(x), js, "{x:e}");
        }
    }

    #[test]
    fn objects_order_index_keys_first_and_keep_insertion_order() {
        let text = r#"{"b":1,"10":0,"2":0,"a":[1.0,"\u0001"],"01":0,"b":2}"#;
        let expected = r#"{"2":0,"10":0,"b":2,"a":[1,"\u0001"],"01":0}"#;
        // serde_json's value (insertion order with `preserve_order`, which the
        // dev-dependency turns on), and our own.
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(stringify(&v), expected);
        assert_eq!(
            stringify(&super::super::parse(text.as_bytes()).unwrap()),
            expected
        );
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        assert_eq!(array_index("4294967295"), None);
    }
}
