//! dht-rpc datagrams (`ferrocore_wire::dht::Packet`) on arbitrary input.
//!
//! Decoding never panics and takes heap linear in the input; copying and zero-copy decoding
//! agree; a decoded datagram re-encodes to bytes of its announced length that decode to the
//! same value, with the same verified id.
#![no_main]

use bytes::Bytes;
use ferrocore_tests::heap;
use ferrocore_wire::dht::{Ipv4Address, Packet};
use ferrocore_wire::Encode;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let shared_input = Bytes::copy_from_slice(data);
    heap::reset_peak();
    let before = heap::live_bytes();
    let decoded = Packet::decode(data);
    let peak = heap::peak_bytes() - before;
    // Closer nodes take 6 bytes each in memory, as on the wire; a value is copied once.
    assert!(
        peak <= 2 * data.len() as i64 + 256,
        "decoding {} bytes took {peak} bytes of heap",
        data.len()
    );
    assert_eq!(decoded, Packet::decode_bytes(&shared_input));
    let Ok(p) = decoded else { return };
    let enc = p.to_vec();
    assert_eq!(enc.len(), p.encoded_len());
    let again = Packet::decode(&enc).expect("a re-encoded datagram decodes");
    assert_eq!(again, p);
    let from = Ipv4Address::new([127, 0, 0, 1], 49737);
    match (&p, &again) {
        (Packet::Request(a), Packet::Request(b)) => {
            assert_eq!(a.verified_id(&from), b.verified_id(&from));
        }
        (Packet::Response(a), Packet::Response(b)) => {
            assert_eq!(a.verified_id(&from), b.verified_id(&from));
        }
        _ => unreachable!("the type byte survives re-encoding"),
    }
});
