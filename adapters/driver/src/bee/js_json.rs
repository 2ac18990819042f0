//! JSON text exactly as JS `JSON.stringify` writes a value (what JS hyperbee's `json`
//! encoding stores): numbers as `Number.prototype.toString` writes them (`1` for `1.0`,
//! `1e+21`, `1e-7`, integers beyond 2^53 rounded to the nearest double), an object's
//! array-index keys first in ascending order and its other keys in insertion order (the
//! order `serde_json` keeps with its `preserve_order` feature, which this workspace turns
//! on), strings escaped as JS escapes them.

use core::fmt::Write;

use serde_json::{Map, Number, Value};

/// `JSON.stringify(value)`.
#[must_use]
pub fn stringify(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map, out),
    }
}

/// JS orders an object's own keys: array indices (canonical integers below 2^32 − 1)
/// ascending, then the others in the order they were first added.
fn write_object(map: &Map<String, Value>, out: &mut String) {
    let mut indices: Vec<(u32, &String, &Value)> = map
        .iter()
        .filter_map(|(k, v)| array_index(k).map(|i| (i, k, v)))
        .collect();
    indices.sort_by_key(|(i, _, _)| *i);
    let rest = map.iter().filter(|(k, _)| array_index(k).is_none());
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
fn array_index(key: &str) -> Option<u32> {
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

/// A number as JS holds it (a double) and writes it.
fn write_number(n: &Number, out: &mut String) {
    // serde_json keeps integers exactly; JS rounds them to the nearest double.
    #[allow(clippy::cast_precision_loss)]
    let x = if let Some(i) = n.as_i64() {
        i as f64
    } else if let Some(u) = n.as_u64() {
        u as f64
    } else {
        n.as_f64().unwrap_or(f64::NAN)
    };
    write_double(x, out);
}

/// `Number.prototype.toString()` of `x` (ECMA-262 Number::toString, radix 10), `null`
/// where JSON has no number (NaN, infinities).
fn write_double(x: f64, out: &mut String) {
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
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
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
        let v: Value =
            serde_json::from_str(r#"{"b":1,"10":0,"2":0,"a":[1.0,"\u0001"],"01":0,"b":2}"#)
                .unwrap();
        assert_eq!(
            stringify(&v),
            r#"{"2":0,"10":0,"b":2,"a":[1,"\u0001"],"01":0}"#
        );
        assert_eq!(array_index("4294967294"), Some(4_294_967_294));
        assert_eq!(array_index("4294967295"), None);
    }
}
