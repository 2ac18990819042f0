//! Every compact-encoding primitive decoder on arbitrary input: no panic, and every decoded
//! value re-encodes (canonically) to bytes that decode to the same value and are no longer
//! than what was consumed.
#![no_main]

use ferrocore_wire::encoding::{Reader, Writer};
use ferrocore_wire::Node;

/// Encodes with `f` into a buffer of exactly `len` bytes (the length helper's answer).
fn encoded(len: usize, f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let mut w = Writer::new(&mut buf);
    f(&mut w);
    assert_eq!(w.position(), len, "length helper disagrees with the writer");
    buf
}

/// Decodes with `dec` from `data`; if it succeeds, re-encodes with `enc` and checks the
/// canonical form decodes to the same value, exactly, and is not longer than the input used.
fn check<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    dec: impl Fn(&mut Reader<'_>) -> Option<T>,
    enc: impl Fn(&T) -> Vec<u8>,
) {
    check_grows(data, dec, enc, false);
}

/// [`check`], where `may_grow` allows the canonical form to be longer than the input (a
/// `string` with invalid UTF-8 decodes to U+FFFD, 3 bytes per invalid byte).
fn check_grows<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    dec: impl Fn(&mut Reader<'_>) -> Option<T>,
    enc: impl Fn(&T) -> Vec<u8>,
    may_grow: bool,
) {
    let mut r = Reader::new(data);
    let Some(v) = dec(&mut r) else { return };
    let used = r.position();
    let canon = enc(&v);
    assert!(
        may_grow || canon.len() <= used,
        "canonical {canon:?} longer than {used} input bytes"
    );
    let mut r2 = Reader::new(&canon);
    assert_eq!(dec(&mut r2).as_ref(), Some(&v));
    assert!(r2.is_empty());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use ferrocore_wire::encoding::{buffer_len, int_len, uint32_array_len, uint_len};

    check(
        data,
        |r| r.uint().ok(),
        |&v| {
            encoded(uint_len(v), |w| {
                w.uint(v);
            })
        },
    );
    check(
        data,
        |r| r.int().ok(),
        |&v| {
            encoded(int_len(v), |w| {
                w.int(v);
            })
        },
    );
    check(
        data,
        |r| r.u8().ok(),
        |&v| {
            encoded(1, |w| {
                w.u8(v);
            })
        },
    );
    check(
        data,
        |r| r.u16().ok(),
        |&v| {
            encoded(2, |w| {
                w.u16(v);
            })
        },
    );
    check(
        data,
        |r| r.u24().ok(),
        |&v| {
            encoded(3, |w| {
                w.u24(v);
            })
        },
    );
    check(
        data,
        |r| r.u32().ok(),
        |&v| {
            encoded(4, |w| {
                w.u32(v);
            })
        },
    );
    check(
        data,
        |r| r.u64().ok(),
        |&v| {
            encoded(8, |w| {
                w.u64(v);
            })
        },
    );
    check(
        data,
        |r| r.bool().ok(),
        |&v| {
            encoded(1, |w| {
                w.bool(v);
            })
        },
    );
    check(data, |r| r.fixed::<32>().ok(), |v| v.to_vec());
    check(
        data,
        |r| r.buffer().ok().map(<[u8]>::to_vec),
        |v| {
            encoded(buffer_len(v.len()), |w| {
                w.buffer(v);
            })
        },
    );
    check(
        data,
        |r| r.optional_buffer_bytes().ok(),
        |v| {
            let b = v.as_deref();
            encoded(buffer_len(b.map_or(0, <[u8]>::len)), |w| {
                w.optional_buffer(b);
            })
        },
    );
    check_grows(
        data,
        |r| r.string().ok(),
        |v| {
            encoded(buffer_len(v.len()), |w| {
                w.string(v);
            })
        },
        true,
    );
    check(
        data,
        |r| r.uint32_array().ok(),
        |v| {
            encoded(uint32_array_len(v.len()), |w| {
                w.uint32_array(v);
            })
        },
    );
    check(
        data,
        |r| r.array::<Node>(Node::MIN_ENCODED_LEN).ok(),
        |v| {
            let len = ferrocore_wire::encoding::array_len(v);
            encoded(len, |w| {
                w.array(v);
            })
        },
    );
    // frame(uint): the window ends at the frame; the inner value must fit in it.
    check(
        data,
        |r| {
            let mut inner = r.frame().ok()?;
            inner.uint().ok()
        },
        |&v| {
            encoded(1 + uint_len(v), |w| {
                w.uint(uint_len(v) as u64).uint(v);
            })
        },
    );
    // raw: everything that is left.
    let mut r = Reader::new(data);
    assert_eq!(r.rest(), data);
    assert!(r.is_empty());
});
