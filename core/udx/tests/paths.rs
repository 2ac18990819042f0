//! Paths that change: a smaller path MTU, a peer that moves (`change_remote`), and a
//! relay in the middle (`relay_to`).

mod common;

use std::time::Duration;

use common::Mesh;
use ferrocore_udx::{Config, Event, StreamId};

const MS: Duration = Duration::from_millis(1);

/// Sends `n` pattern bytes from `(si, sid)` and reads them at `(ri, rid)`; returns them.
fn send_and_read(
    m: &mut Mesh,
    (si, sid): (usize, StreamId),
    (ri, rid): (usize, StreamId),
    n: usize,
) -> Vec<u8> {
    let data: Vec<u8> = (0..n as u64).map(common::pattern).collect();
    let mut written = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let ok = m.run_until(1_000_000, |m| {
        let now = m.now;
        if written < n {
            written += m.sockets[si].write(now, sid, &data[written..]).unwrap();
        }
        while let Ok(k) = m.sockets[ri].read(rid, &mut buf) {
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
        got.len() == n
    });
    assert!(ok, "read {} of {n}", got.len());
    common::check_pattern(&got);
    got
}

fn connected_pair(m: &mut Mesh, a: StreamId, b: StreamId) {
    let now = m.now;
    let (addr0, addr1) = (m.addrs[0][0], m.addrs[1][0]);
    m.sockets[0].create_stream(a).unwrap();
    m.sockets[1].create_stream(b).unwrap();
    m.sockets[0].connect(now, a, b, addr1).unwrap();
    m.sockets[1].connect(now, b, a, addr0).unwrap();
}

#[test]
fn the_mtu_settles_below_a_smaller_path_mtu() {
    let mut m = Mesh::new(2, &Config::default(), 5 * MS);
    m.path_mtu = 1300;
    connected_pair(&mut m, 1, 2);
    send_and_read(&mut m, (0, 1), (1, 2), 2 * 1024 * 1024);
    let st = m.sockets[0].stats(1).unwrap();
    assert!(st.mtu <= 1300 && st.mtu >= 1300 - 32, "mtu {}", st.mtu);
    // Lost probes are not congestion: no recovery started for them.
    assert_eq!(st.fast_recoveries, 0, "{st:?}");
}

#[test]
fn the_mtu_climbs_to_the_maximum_on_a_clean_path() {
    let mut m = Mesh::new(2, &Config::default(), 5 * MS);
    connected_pair(&mut m, 1, 2);
    // One 32-byte step per round trip: ten steps up to 1500.
    send_and_read(&mut m, (0, 1), (1, 2), 32 * 1024 * 1024);
    assert_eq!(m.sockets[0].stats(1).unwrap().mtu, 1500);
    // No probing when disabled.
    let cfg = Config {
        mtu_probing: false,
        ..Config::default()
    };
    let mut m = Mesh::new(2, &cfg, 5 * MS);
    connected_pair(&mut m, 1, 2);
    send_and_read(&mut m, (0, 1), (1, 2), 512 * 1024);
    assert_eq!(m.sockets[0].stats(1).unwrap().mtu, 1200);
}

#[test]
fn a_peer_that_moves_is_followed_by_change_remote() {
    let mut m = Mesh::new(2, &Config::default(), 5 * MS);
    connected_pair(&mut m, 1, 2);
    send_and_read(&mut m, (0, 1), (1, 2), 300_000);
    // Socket 1 moves to a new address (a NAT rebinding, or a direct path after a relay).
    let moved: std::net::SocketAddr = "10.0.9.9:7100".parse().unwrap();
    m.addrs[1].push(moved);
    m.from[1] = moved;
    let now = m.now;
    m.sockets[1].write(now, 2, b"from the new address").unwrap();
    let ok = m.run_until(10_000, |m| {
        m.events[0].contains(&Event::RemoteChanged { id: 1, from: moved })
    });
    assert!(ok, "A saw the new address: {:?}", m.events[0]);
    let now = m.now;
    let data = vec![1u8; 100_000];
    m.sockets[0].write(now, 1, &data).unwrap();
    m.step();
    m.sockets[0].change_remote(now, 1, 2, moved).unwrap();
    assert!(
        m.sockets[0].is_remote_changing(1),
        "packets to the old address in flight"
    );
    let before = m.delivered.get(&moved).copied().unwrap_or(0);
    let mut sink = vec![0u8; 200_000];
    m.run_until(10_000, |m| {
        while m.sockets[1].read(2, &mut sink).unwrap() > 0 {}
        !m.sockets[0].is_remote_changing(1)
    });
    send_and_read(&mut m, (0, 1), (1, 2), 300_000);
    let after = m.delivered.get(&moved).copied().unwrap_or(0);
    assert!(after > before + 100, "A now sends to the new address");
}

#[test]
fn a_relay_forwards_both_ways_and_dies_with_its_peer() {
    // 0 = A, 1 = B, 2 = the relay with streams 10 (towards A) and 20 (towards B).
    let mut m = Mesh::new(3, &Config::default(), 2 * MS);
    let (a, b, r) = (m.addrs[0][0], m.addrs[1][0], m.addrs[2][0]);
    let now = m.now;
    m.sockets[0].create_stream(1).unwrap();
    m.sockets[1].create_stream(2).unwrap();
    m.sockets[0].connect(now, 1, 10, r).unwrap();
    m.sockets[1].connect(now, 2, 20, r).unwrap();
    let relay = &mut m.sockets[2];
    relay.create_stream(10).unwrap();
    relay.create_stream(20).unwrap();
    relay.connect(now, 10, 1, a).unwrap();
    relay.connect(now, 20, 2, b).unwrap();
    relay.relay_to(10, 20).unwrap();
    relay.relay_to(20, 10).unwrap();
    assert!(relay.relay_to(10, 20).is_err(), "already relayed");
    // A's packets to (relay, 10) reach B's stream 2 and the other way round.
    send_and_read(&mut m, (0, 1), (1, 2), 500_000);
    send_and_read(&mut m, (1, 2), (0, 1), 200_000);
    // B destroys: the DESTROY is relayed to A, and the relay's streams close.
    let now = m.now;
    m.sockets[1].destroy(now, 2).unwrap();
    while m.step() {}
    assert!(m.events[0].contains(&Event::Closed {
        id: 1,
        error: Some(ferrocore_udx::UdxError::Destroyed)
    }));
    assert_eq!(m.sockets[2].stream_count(), 0, "{:?}", m.events[2]);
}
