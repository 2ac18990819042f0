//! Every hyperdht message decoder (`ferrocore_wire::dht`) on arbitrary input, and opening
//! sealed holepunch payloads.
//!
//! The first byte picks the codec (0..=12; 13 and above open a sealed payload, whose key is
//! the next 32 bytes). Decoding never panics and takes heap linear in the input; a decoded
//! value re-encodes to bytes of its announced length that decode to the same value. A
//! payload that opens seals again (under the box's own nonce) into a box that opens to it.
#![no_main]

use ferrocore_tests::heap;
use ferrocore_wire::dht::{
    open_holepunch_payload, seal_holepunch_payload, Announce, Handshake, Holepunch,
    HolepunchPayload, LookupRawReply, MutableGetRequest, MutableGetResponse, MutablePutRequest,
    MutableSignable, NoisePayload, Peer, Peers, PluginRequest,
};
use ferrocore_wire::{Decode, Encode};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// Heap a decode of `len` input bytes may take: a peer record (33 bytes on the wire) holds
/// 56 bytes in memory, and invalid UTF-8 in a plugin name triples as U+FFFD.
fn heap_bound(len: usize) -> i64 {
    4 * len as i64 + 256
}

fn stable<T: Encode + Decode + PartialEq + std::fmt::Debug>(payload: &[u8]) {
    heap::reset_peak();
    let before = heap::live_bytes();
    let decoded = T::decode_from(payload);
    let peak = heap::peak_bytes() - before;
    assert!(
        peak <= heap_bound(payload.len()),
        "decoding {} bytes took {peak} bytes of heap",
        payload.len()
    );
    if let Ok(v) = decoded {
        let enc = v.to_vec();
        assert_eq!(enc.len(), v.encoded_len());
        assert_eq!(
            T::decode_exact(&enc).expect("a re-encoded value decodes"),
            v
        );
    }
}

fn open(data: &[u8]) {
    let Some((key, sealed)) = data.split_first_chunk::<32>() else {
        return;
    };
    heap::reset_peak();
    let before = heap::live_bytes();
    let opened = open_holepunch_payload(key, sealed);
    let peak = heap::peak_bytes() - before;
    assert!(
        peak <= heap_bound(sealed.len()),
        "opening took {peak} bytes"
    );
    if let Ok(p) = opened {
        let nonce: [u8; 24] = sealed[..24].try_into().expect("an opened box has a nonce");
        let resealed = seal_holepunch_payload(key, &nonce, &p);
        assert_eq!(open_holepunch_payload(key, &resealed), Ok(p));
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    match selector {
        0 => stable::<Handshake>(payload),
        1 => stable::<Holepunch>(payload),
        2 => stable::<NoisePayload>(payload),
        3 => stable::<HolepunchPayload>(payload),
        4 => stable::<Peer>(payload),
        5 => stable::<Peers>(payload),
        6 => stable::<Announce>(payload),
        7 => stable::<LookupRawReply>(payload),
        8 => stable::<MutableSignable>(payload),
        9 => stable::<MutablePutRequest>(payload),
        10 => stable::<MutableGetResponse>(payload),
        11 => stable::<MutableGetRequest>(payload),
        12 => stable::<PluginRequest>(payload),
        _ => open(payload),
    }
});
