//! The UDX packet decoder on arbitrary datagrams: no panic; a decoded packet writes back to
//! exactly the datagram; its SACK blocks lie within the datagram; the router agrees.
#![no_main]

use ferrocore_wire::udx::{self, DatagramKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let kind = udx::classify(data);
    match udx::decode(data) {
        Ok(p) => {
            assert_eq!(kind, DatagramKind::Udx);
            assert_eq!(udx::stream_id_of(data), Some(p.header.stream_id));
            let mut out = Vec::new();
            p.write(&mut out);
            assert_eq!(out, data);
            assert!(p.sacks.len() * udx::SACK_BLOCK_LEN <= data.len() - udx::HEADER_LEN);
            assert_eq!(p.sacks.iter().count(), p.sacks.len());
            assert_eq!(udx::Header::read(data).ok(), Some(p.header));
        }
        Err(_) => {
            if data.len() >= udx::HEADER_LEN && kind == DatagramKind::Udx {
                // Only a data offset past the end fails a well-formed header.
                assert!(usize::from(data[3]) > data.len() - udx::HEADER_LEN);
            }
        }
    }
});
