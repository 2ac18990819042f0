//! z-base-32 and key strings on arbitrary input: decoding never panics; what
//! [`z32_decode`] accepts is canonical (encoding the bytes gives the string back); what
//! [`decode_key`] accepts is a key whose id decodes to it again, and [`normalize`] agrees.
#![no_main]

use ferrocore::id::{core_id, decode_key, normalize, z32_decode, z32_encode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bytes) = z32_decode(s) {
        assert_eq!(z32_encode(&bytes), s, "accepted z-base-32 is canonical");
    }
    let key = decode_key(s);
    assert_eq!(normalize(s).ok(), key.as_ref().ok().map(core_id));
    if let Ok(key) = key {
        assert_eq!(decode_key(&core_id(&key)), Ok(key));
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(decode_key(&hex), Ok(key));
    }
});
