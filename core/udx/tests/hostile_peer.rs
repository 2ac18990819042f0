//! A peer that advertises the largest window and acknowledges nothing cumulatively (it
//! SACKs everything but the first packet) cannot make a sender hold more than
//! `max_send_window` plus its send buffer.

use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::packet::{self, Header};
use ferrocore_udx::{Config, Socket};

const LOCAL: u32 = 1;
const REMOTE: u32 = 2;

#[test]
fn a_peer_advertising_4_gib_and_never_acking_cannot_grow_the_sender() {
    let cfg = Config {
        max_send_window: 1 << 20,
        send_buffer: 256 * 1024,
        ..Config::default()
    };
    let bound = cfg.max_send_window as usize + cfg.send_buffer;
    let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut s = Socket::new(cfg);
    s.create_stream(LOCAL).unwrap();
    s.connect(Duration::ZERO, LOCAL, REMOTE, peer).unwrap();

    let chunk = vec![7u8; 64 * 1024];
    let (mut highest, mut peak, mut written) = (0u32, 0usize, 0usize);
    let mut buf = Vec::new();
    for step in 0..20_000u64 {
        let now = Duration::from_micros(step * 200);
        while let Ok(n) = s.write(now, LOCAL, &chunk) {
            if n == 0 {
                break;
            }
            written += n;
        }
        buf.clear();
        while let Some(t) = s.poll_transmit(now, &mut buf, 64) {
            let start = buf.len() - t.len;
            for d in buf[start..].chunks(t.segment_size) {
                if let Ok(p) = packet::decode(d) {
                    if p.header.has(packet::flags::DATA) {
                        highest = highest.max(p.header.seq);
                    }
                }
            }
        }
        while s.poll_event().is_some() {}
        if highest > 0 {
            // ack 0 (nothing cumulatively), SACK 1..=highest, a 4 GiB window.
            let h = Header {
                flags: 0,
                data_offset: 0,
                stream_id: LOCAL,
                rwnd: u32::MAX,
                seq: 0,
                ack: 0,
            };
            let mut d = Vec::new();
            packet::write_ack(&h, &[(1, highest + 1)], &mut d);
            let _ = s.handle_datagram(now, peer, &d);
        }
        if let Some(deadline) = s.poll_timeout() {
            if deadline <= now {
                s.handle_timeout(now);
            }
        }
        match s.stats(LOCAL) {
            Some(st) => peak = peak.max(st.send_buffered),
            None => break,
        }
    }
    // The window filled, and the application could write no more.
    assert!(
        written >= 1 << 20,
        "the application wrote only {written} bytes"
    );
    assert_eq!(
        s.write(Duration::from_secs(10), LOCAL, &chunk).unwrap_or(0),
        0
    );
    assert!(highest > 100, "the sender sent {highest} packets");
    assert!(
        peak <= bound,
        "the sender held {peak} bytes, more than max_send_window + send_buffer = {bound}"
    );
}
