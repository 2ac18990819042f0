//! A UDX socket with one connected stream, fed arbitrary datagrams, clock steps and
//! application calls: no panic, every transmit is well formed, and the stream never holds
//! more than its bounds (receive window + slack, send buffer) whatever the peer sends.
#![no_main]

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::packet::{self, flags, Header};
use ferrocore_udx::{Config, Socket};
use libfuzzer_sys::fuzz_target;

const LOCAL: u32 = 7;
const REMOTE: u32 = 9;
const WINDOW: u32 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let cfg = Config {
        recv_window: WINDOW,
        send_buffer: 32 * 1024,
        ..Config::default()
    };
    let peer: SocketAddr = "10.0.0.2:9".parse().unwrap();
    let other: SocketAddr = "10.0.0.3:9".parse().unwrap();
    let mut s = Socket::new(cfg);
    s.create_stream(LOCAL).unwrap();
    s.connect(Duration::ZERO, LOCAL, REMOTE, peer).unwrap();
    let mut now = Duration::ZERO;
    let mut buf = Vec::new();
    let mut read = vec![0u8; 4096];
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 8 {
            // A raw datagram of the next `len` bytes.
            0 => {
                let len = usize::from(rest.first().copied().unwrap_or(0))
                    .min(rest.len().saturating_sub(1));
                let d = rest.get(1..1 + len).unwrap_or(&[]);
                rest = rest.get(1 + len..).unwrap_or(&[]);
                let _ = s.handle_datagram(now, peer, d);
            }
            // A well-formed packet for our stream with fuzzed fields.
            1 | 2 => {
                let Some((h, tail)) = rest.split_first_chunk::<14>() else {
                    break;
                };
                rest = tail;
                let u = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
                let header = Header {
                    flags: h[0] & 0x3f,
                    data_offset: 0,
                    stream_id: LOCAL,
                    rwnd: u(2),
                    seq: u(6) % 4096,
                    ack: u(10) % 4096,
                };
                let mut d = Vec::new();
                if header.flags & flags::SACK != 0 {
                    let blocks: Vec<(u32, u32)> = (0..u32::from(h[1] % 8))
                        .map(|i| (i * 3, i * 3 + u32::from(h[1]) % 5))
                        .collect();
                    packet::write_ack(&header, &blocks, &mut d);
                } else {
                    let payload = vec![h[1]; usize::from(h[1]) * 5];
                    packet::write_padded(&header, 0, &payload, &mut d);
                }
                let from = if op % 8 == 2 { other } else { peer };
                let _ = s.handle_datagram(now, from, &d);
            }
            3 => now += Duration::from_millis(u64::from(rest.first().copied().unwrap_or(1)) * 7),
            4 => {
                let _ = s.write(now, LOCAL, &[0x5a; 3000]);
            }
            5 => {
                let _ = s.read(LOCAL, &mut read);
            }
            6 => {
                let _ = match rest.first().copied().unwrap_or(0) % 4 {
                    0 => s.end(now, LOCAL),
                    1 => s.send_message(now, LOCAL, b"m"),
                    2 => s.destroy(now, LOCAL),
                    _ => s.change_remote(now, LOCAL, REMOTE, other),
                };
            }
            _ => {
                if s.poll_timeout().is_some_and(|t| t <= now) {
                    s.handle_timeout(now);
                }
            }
        }
        loop {
            buf.clear();
            let Some(t) = s.poll_transmit(now, &mut buf, 8) else {
                break;
            };
            assert_eq!(t.len, buf.len());
            for seg in buf.chunks(t.segment_size) {
                let p = packet::decode(seg).expect("we send valid UDX");
                assert!(seg.len() <= 1500 - 28);
                assert!(
                    p.header.stream_id == REMOTE
                        || p.header.flags == 0
                        || p.header.flags & flags::SACK != 0
                );
            }
        }
        while s.poll_event().is_some() {}
        if let Some(st) = s.stats(LOCAL) {
            // Unread bytes and packets held ahead each fit the window (plus a packet).
            assert!(st.recv_buffered <= 2 * (WINDOW as usize + 4096), "{st:?}");
            // Beyond the 32 KiB not yet sent, only bytes of packets that went out are held.
            assert!(
                st.send_buffered <= 32 * 1024 + st.packets_sent as usize * 1500,
                "{st:?}"
            );
        }
    }
});
