//! The store catalog's keys and sealed values (primary key, aliases, local slots) on
//! arbitrary input.
//!
//! The first byte picks a mode. Decoding an arbitrary key and value never panics, takes
//! heap linear in the input, and the decoders agree with each other (an alias's discovery
//! key is its value's 32-byte payload; a value that opens is the seal of its payload; an
//! alias re-keys to its key). Building an alias or a local slot from the input and sealing
//! it decodes to what was built, and flipping any one bit of the sealed value is caught.
#![no_main]

use ferrocore_storage::fuzzing::{alias_key, alias_of, key_payload, local_key, open_value, seal};
use ferrocore_storage::{Alias, LocalScope, MAX_NAME_LEN, MAX_TAG_LEN};
use ferrocore_tests::heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// Splits `data` at the position its first byte gives (scaled to its length).
fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&at, rest)) => rest.split_at(usize::from(at) * rest.len() / 255),
        None => (&[], &[]),
    }
}

fn decode_arbitrary(data: &[u8]) {
    let (key, value) = split(data);
    heap::reset_peak();
    let before = heap::live_bytes();
    let alias = alias_of(key, value);
    let payload = key_payload(key, value);
    let opened = open_value(key, value);
    // The only copy is an alias's name, a part of the key.
    let taken = heap::peak_bytes() - before;
    assert!(
        taken <= 2 * key.len() as i64 + 256,
        "took {taken} heap bytes"
    );

    match &opened {
        Ok(p) => assert_eq!(
            seal(key, p),
            value,
            "an opened value is the seal of its payload"
        ),
        Err(_) => assert!(payload.is_err() && alias.is_err()),
    }
    assert_eq!(
        payload.as_ref().ok(),
        opened
            .as_ref()
            .ok()
            .and_then(|p| <&[u8; 32]>::try_from(*p).ok()),
    );
    if let Ok(a) = alias {
        assert_eq!(Ok(a.discovery_key), payload);
        match alias_key(&a.namespace, &a.name) {
            Ok(k) => assert_eq!(k, key),
            Err(_) => assert!(a.name.len() > MAX_NAME_LEN),
        }
    }
}

fn flip_is_caught(key: &[u8], sealed: &[u8], bit: usize) {
    let mut bad = sealed.to_vec();
    let bit = bit % (bad.len() * 8);
    bad[bit / 8] ^= 1 << (bit % 8);
    assert!(
        open_value(key, &bad).is_err(),
        "bit {bit} flipped unnoticed"
    );
}

fn build(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bit = usize::from(mode) * 31;
    let Some((keys, rest)) = rest.split_first_chunk::<64>() else {
        return;
    };
    let (namespace, dk) = (take32(&keys[..32]), take32(&keys[32..]));
    if mode % 2 == 0 {
        let name = &rest[..rest.len().min(MAX_NAME_LEN)];
        let key = alias_key(&namespace, name).expect("a name within the limit");
        let value = seal(&key, &dk);
        let expected = Alias {
            namespace,
            name: name.to_vec(),
            discovery_key: dk,
        };
        assert_eq!(
            alias_of(&key, &value).expect("a sealed alias decodes"),
            expected
        );
        flip_is_caught(&key, &value, bit);
    } else {
        let scope = if mode % 4 == 1 {
            LocalScope::Store
        } else {
            LocalScope::Core(namespace)
        };
        let (tag, value) = split(rest);
        let tag = &tag[..tag.len().min(MAX_TAG_LEN)];
        let key = local_key(&scope, tag).expect("a tag within the limit");
        let sealed = seal(&key, value);
        assert_eq!(
            open_value(&key, &sealed).expect("a sealed slot opens"),
            value
        );
        flip_is_caught(&key, &sealed, bit);
    }
}

/// 32 bytes as an array.
fn take32(b: &[u8]) -> [u8; 32] {
    b.try_into().expect("32 bytes")
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&m, rest)) if m % 2 == 0 => decode_arbitrary(rest),
        Some((_, rest)) => build(rest),
        None => {}
    }
});
