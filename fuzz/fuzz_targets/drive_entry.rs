//! Hyperdrive's pure format on arbitrary bytes: an entry value (`Entry::decode`), JSON
//! (`json::parse`), a path (`path::normalize`, `resolve`, `folder`), a listing key
//! (`Shallow::on_entry`) and following links (`Follow`). Never a panic; what decodes writes
//! back to what decodes the same, a normalised path normalises to itself, and a followed
//! lookup makes at most `MAX_LOOKUPS` lookups.
#![no_main]

use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::follow::{Follow, MAX_LOOKUPS};
use ferrocore_hyperdrive::list::{Ignore, Shallow};
use ferrocore_hyperdrive::path;
use ferrocore_wire::json;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Entry::decode(data) {
        let bytes = e.encode();
        let again = Entry::decode(&bytes).expect("an encoded entry decodes");
        assert_eq!(again, e);
        assert_eq!(again.encode(), bytes);
        let _ = e.blob_id().expect("a decoded entry's blob is an id");
    }
    if let Ok(v) = json::parse(data) {
        let text = json::stringify(&v);
        assert_eq!(json::parse(text.as_bytes()).expect("stringify parses"), v);
    }
    let mut dir = Shallow::of(None).expect("the root is a folder");
    let _ = dir.on_entry(data);
    let _ = dir.range();
    let Ok(s) = core::str::from_utf8(data) else { return };
    if let Ok(p) = path::normalize(s) {
        assert!(p.starts_with('/') && p.len() > 1 && !p.ends_with('/'), "{p:?}");
        assert!(!p.contains('\\') && !p.contains("//"), "{p:?}");
        assert!(p.split('/').skip(1).all(|n| n != "." && n != ".."), "{p:?}");
        assert_eq!(path::normalize(&p).as_deref(), Ok(p.as_str()));
        assert_eq!(path::key_of(s).expect("normalised"), path::entry_key(&p));
    }
    let (a, b) = s.split_at(s.char_indices().nth(s.chars().count() / 2).map_or(0, |(i, _)| i));
    if let Ok(r) = path::resolve(a, b) {
        assert!(r.starts_with('/'), "{r:?}");
    }
    if let Ok(f) = path::folder(Some(s)) {
        assert!(!f.ends_with('/'));
        let _ = Shallow::new(&f).range();
    }
    // Following `a` through links to `b` and back never makes more than MAX_LOOKUPS lookups.
    let mut follow = Follow::new(a);
    let mut lookups = 0;
    while follow.key().is_ok() {
        lookups += 1;
        assert!(lookups <= MAX_LOOKUPS);
        let to = if lookups % 2 == 1 { b } else { a };
        if !matches!(follow.found("/link", &Entry::symlink(to, Default::default())), Ok(false)) {
            break;
        }
    }
    if let Ok(ig) = Ignore::new(s.split('\n')) {
        let _ = ig.ignores(data);
    }
});
