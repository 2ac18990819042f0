//! The UDX packet against datagrams udx-native (libudx) actually sent and received
//! (`udx/packets.json`, schema [`Schema::UdxPackets`], written by `gen-udx.mjs`).
//!
//! Every datagram decodes to the recorded fields and re-encodes byte for byte through the
//! codec's writers (`write_ack` for acknowledgements, `write_padded` for the rest). Then
//! the conversation of the `acks` scenario is replayed against a ferrocore [`Socket`]:
//! it receives the DATA and HEARTBEAT packets udx-native received, and every
//! acknowledgement it answers with must equal udx-native's answer, byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrocore_tests::{files, hex, name, u64_of, Cases, Schema};
use ferrocore_udx::packet::{self, flags, DatagramKind, Header};
use ferrocore_udx::{Config, Routed, Socket};
use serde_json::Value;

fn packets(v: &Value) -> &Vec<Value> {
    v["udxPackets"].as_array().expect("udxPackets[]")
}

fn is_datagram(p: &Value) -> bool {
    matches!(p["direction"].as_str(), Some("fromUdx" | "toUdx"))
}

fn u32_of(v: &Value) -> u32 {
    u32::try_from(u64_of(v)).expect("a u32")
}

#[test]
fn every_udx_datagram_decodes_and_reencodes() {
    let mut cases = Cases::new("udx packets");
    for (path, v) in files(Schema::UdxPackets) {
        for p in packets(&v).iter().filter(|p| is_datagram(p)) {
            let label = format!("{} {}", name(&path), p["name"]);
            let bytes = hex(&p["hex"]);
            let d = &p["decoded"];
            let pkt = packet::decode(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
            let want = Header {
                flags: u8::try_from(u64_of(&d["flags"])).unwrap(),
                data_offset: u8::try_from(u64_of(&d["dataOffset"])).unwrap(),
                stream_id: u32_of(&d["streamId"]),
                rwnd: u32_of(&d["rwnd"]),
                seq: u32_of(&d["seq"]),
                ack: u32_of(&d["ack"]),
            };
            assert_eq!(pkt.header, want, "{label}");
            let sacks: Vec<(u32, u32)> = d["sacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| (u32_of(&b[0]), u32_of(&b[1])))
                .collect();
            assert_eq!(pkt.sacks.iter().collect::<Vec<_>>(), sacks, "{label}");
            assert_eq!(
                pkt.padding.len() as u64,
                u64_of(&d["paddingLen"]),
                "{label}"
            );
            assert!(
                pkt.padding.iter().all(|&b| b == 0),
                "{label}: padding is zeros"
            );
            assert_eq!(pkt.payload, hex(&d["payload"]), "{label}");
            assert_eq!(packet::classify(&bytes), DatagramKind::Udx, "{label}");
            assert_eq!(packet::stream_id_of(&bytes), Some(want.stream_id));
            let mut again = Vec::new();
            if want.flags & flags::SACK != 0 || (want.flags == 0 && bytes.len() == 20) {
                assert_eq!(packet::write_ack(&want, &sacks, &mut again), sacks.len());
            } else {
                packet::write_padded(&want, want.data_offset, pkt.payload, &mut again);
            }
            assert_eq!(again, bytes, "{label}: re-encoded");
            let mut written = Vec::new();
            pkt.write(&mut written);
            assert_eq!(written, bytes, "{label}: Packet::write");
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn ferrocore_answers_data_and_heartbeats_as_udx_native_does() {
    let mut cases = Cases::new("udx acks replayed against udx-native");
    for (path, v) in files(Schema::UdxPackets) {
        let by_name: BTreeMap<&str, &Value> = packets(&v)
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p))
            .collect();
        let peer = "127.0.0.1:5000".parse().unwrap();
        let mut sockets: BTreeMap<u32, Socket> = BTreeMap::new();
        let mut read: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for answer in packets(&v).iter().filter(|p| p["answers"].is_string()) {
            let label = format!("{} {}", name(&path), answer["name"]);
            let sent = by_name[answer["answers"].as_str().unwrap()];
            let sent_bytes = hex(&sent["hex"]);
            let local = u32_of(&sent["decoded"]["streamId"]);
            let remote = u32_of(&answer["decoded"]["streamId"]);
            let now = Duration::from_millis(1);
            let sock = sockets.entry(local).or_insert_with(|| {
                let mut s = Socket::new(Config::default());
                s.create_stream(local).unwrap();
                s.connect(Duration::ZERO, local, remote, peer).unwrap();
                s
            });
            assert_eq!(
                sock.handle_datagram(now, peer, &sent_bytes),
                Routed::Udx,
                "{label}"
            );
            // JS reads at once, so udx-native advertises its whole window.
            let mut buf = [0u8; 4096];
            loop {
                let n = sock.read(local, &mut buf).unwrap();
                if n == 0 {
                    break;
                }
                read.entry(local).or_default().extend_from_slice(&buf[..n]);
            }
            let mut out = Vec::new();
            let t = sock
                .poll_transmit(now, &mut out, 1)
                .unwrap_or_else(|| panic!("{label}: no answer"));
            assert_eq!(t.dst, peer);
            assert_eq!(out, hex(&answer["hex"]), "{label}: our answer");
            let mut more = Vec::new();
            assert_eq!(sock.poll_transmit(now, &mut more, 1), None, "{label}");
            cases.pass();
        }
        if let Some(note) = by_name.get("acks-read") {
            let text = note["readText"].as_str().unwrap();
            assert!(
                read.values().any(|r| r == text.as_bytes()),
                "ferrocore read what udx-native read"
            );
        }
    }
    cases.report();
}
