//! Two sockets over an in-memory link: transfers, loss recovery, END/DESTROY, MESSAGE,
//! windows, and hostile packets.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{check_pattern, is_data, transfer, Pair, Side, ID_A, ID_B};
use ferrocore_udx::packet::{self, flags, Header};
use ferrocore_udx::{Config, Event, Routed, UdxError};

const MS: Duration = Duration::from_millis(1);

#[test]
fn ten_mib_arrive_once_and_in_order() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let total = 10 * 1024 * 1024;
    let (got, took) = transfer(&mut p, total, true, 2_000_000);
    assert_eq!(got.len() as u64, total);
    check_pattern(&got);
    let st = p.a.stats(ID_A).unwrap();
    assert_eq!(st.packets_retransmitted, 0, "nothing was lost");
    assert!(p.max_batch > 1, "data leaves in GSO batches");
    assert!(
        took < Duration::from_secs(30),
        "10 MiB over a 10 ms RTT took {took:?}"
    );
    assert!(p.events_b.contains(&Event::RemoteEnded { id: ID_B }));
    // The MTU was probed up from 1200.
    assert!(st.mtu > 1200, "mtu stayed at {}", st.mtu);
}

#[test]
fn lost_packets_are_recovered_by_sack_and_rack() {
    let mut p = Pair::new(Config::default(), 10 * MS);
    // Drop three data packets in the middle of the first flights, once each.
    let mut dropped = HashSet::new();
    p.drop = Box::new(move |side, h, _| {
        side == Side::A && is_data(h) && [20, 21, 40].contains(&h.seq) && dropped.insert(h.seq)
    });
    let (got, took) = transfer(&mut p, 512 * 1024, false, 200_000);
    check_pattern(&got);
    let st = p.a.stats(ID_A).unwrap();
    assert_eq!(p.dropped, 3);
    assert!(st.packets_retransmitted >= 3);
    assert!(st.fast_recoveries >= 1, "RACK started a recovery");
    assert_eq!(st.rto_timeouts, 0, "SACK/RACK, not the RTO, repaired it");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

#[test]
fn a_lost_tail_is_recovered_by_tlp_or_rto() {
    let mut p = Pair::new(Config::default(), 10 * MS);
    // Drop the last data packet (and its first retransmission).
    let mut drops = 0;
    p.drop = Box::new(move |side, h, _| {
        let last = side == Side::A && is_data(h) && h.seq == 9;
        if last && drops < 2 {
            drops += 1;
            return true;
        }
        false
    });
    let total = 9 * 1152 + 100;
    let (got, _) = transfer(&mut p, total, false, 100_000);
    check_pattern(&got);
    assert_eq!(p.dropped, 2);
}

#[test]
fn everything_lost_for_a_while_is_recovered_by_the_rto() {
    let mut p = Pair::new(Config::default(), 10 * MS);
    // Black hole A→B data between 100 ms and 1.5 s.
    let clock = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    let c2 = clock.clone();
    p.drop = Box::new(move |side, h, _| {
        let t = c2.get();
        side == Side::A && is_data(h) && t > 100 * MS && t < 1500 * MS
    });
    let total = 4 * 1024 * 1024;
    let mut written = 0usize;
    let mut got = 0usize;
    let mut buf = vec![0u8; 65536];
    let data = vec![7u8; 65536];
    for _ in 0..1_000_000 {
        clock.set(p.now);
        while written < total {
            let now = p.now;
            let n = p.a.write(now, ID_A, &data).unwrap();
            written += n;
            if n == 0 {
                break;
            }
        }
        while let Ok(n) = p.b.read(ID_B, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        if got >= total {
            break;
        }
        assert!(p.step());
    }
    assert!(got >= total);
    let st = p.a.stats(ID_A).unwrap();
    assert!(st.rto_timeouts >= 1, "the RTO fired: {st:?}");
    // After the outage the window regrows in slow start: the rest follows within seconds.
    assert!(p.now < Duration::from_secs(8), "took {:?}: {st:?}", p.now);
}

#[test]
fn end_on_both_sides_finishes_and_closes() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let now = p.now;
    p.a.write(now, ID_A, b"hello").unwrap();
    p.a.end(now, ID_A).unwrap();
    assert_eq!(
        p.a.write(now, ID_A, b"more"),
        Err(UdxError::Misuse("write after end"))
    );
    for _ in 0..100 {
        p.step();
    }
    let mut buf = [0u8; 16];
    assert_eq!(p.b.read(ID_B, &mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(p.b.read(ID_B, &mut buf).unwrap(), 0);
    assert!(p.b.is_remote_ended(ID_B));
    let ea = p.take_events(Side::A);
    assert!(ea.contains(&Event::Finished { id: ID_A }), "{ea:?}");
    assert!(!ea.iter().any(|e| matches!(e, Event::Closed { .. })));
    let now = p.now;
    assert_eq!((p.a.open_stream_count(), p.b.open_stream_count()), (1, 1));
    p.b.end(now, ID_B).unwrap();
    // Both closed within a few round trips; the streams then only linger (for seconds)
    // to acknowledge a retransmitted END, which open_stream_count leaves out.
    while p.a.open_stream_count() + p.b.open_stream_count() > 0 {
        assert!(p.step());
    }
    assert!(
        p.now - now < Duration::from_millis(100),
        "{:?}",
        p.now - now
    );
    assert_eq!((p.a.stream_count(), p.b.stream_count()), (1, 1));
    while p.step() {}
    let ea = p.take_events(Side::A);
    let eb = p.take_events(Side::B);
    assert!(ea.contains(&Event::RemoteEnded { id: ID_A }), "{ea:?}");
    assert!(ea.contains(&Event::Closed {
        id: ID_A,
        error: None
    }));
    assert!(eb.contains(&Event::Finished { id: ID_B }));
    assert!(eb.contains(&Event::Closed {
        id: ID_B,
        error: None
    }));
    assert_eq!(p.a.stream_count(), 0);
    assert_eq!(p.b.stream_count(), 0);
    assert_eq!(p.a.poll_timeout(), None);
}

#[test]
fn destroy_resets_the_peer() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let now = p.now;
    p.a.write(now, ID_A, &[1u8; 5000]).unwrap();
    p.step();
    let now = p.now;
    p.a.destroy(now, ID_A).unwrap();
    while p.step() {}
    assert!(p.take_events(Side::A).contains(&Event::Closed {
        id: ID_A,
        error: None
    }));
    assert!(p.take_events(Side::B).contains(&Event::Closed {
        id: ID_B,
        error: Some(UdxError::Destroyed)
    }));
    assert_eq!(p.b.read(ID_B, &mut [0u8; 10]), Err(UdxError::UnknownStream));
    assert!(!p.a.has_stream(ID_A));
    assert!(!p.b.has_stream(ID_B));
}

#[test]
fn messages_arrive_unordered_and_unacked() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let now = p.now;
    p.a.send_message(now, ID_A, b"ping").unwrap();
    let too_big = vec![0u8; 2000];
    assert!(matches!(
        p.a.send_message(now, ID_A, &too_big),
        Err(UdxError::MessageTooLarge { len: 2000, .. })
    ));
    while p.step() {}
    assert!(p.take_events(Side::B).contains(&Event::Message {
        id: ID_B,
        data: b"ping".to_vec()
    }));
    // A message is not acknowledged and not retransmitted.
    assert_eq!(p.sent[1], 0, "B sent nothing back");
}

#[test]
fn a_reader_that_does_not_read_stops_the_sender() {
    let cfg = Config {
        recv_window: 64 * 1024,
        ..Config::default()
    };
    let mut p = Pair::new(cfg, 5 * MS);
    let data = vec![9u8; 256 * 1024];
    let now = p.now;
    let taken = p.a.write(now, ID_A, &data).unwrap();
    assert_eq!(taken, 256 * 1024);
    for _ in 0..2000 {
        if !p.step() {
            break;
        }
        if p.now > Duration::from_secs(20) {
            break;
        }
    }
    let st = p.b.stats(ID_B).unwrap();
    assert!(st.packets_dropped < 64, "the sender kept to the window");
    // B holds at most its window.
    let mut total = 0;
    let mut buf = vec![0u8; 1 << 20];
    total += p.b.read(ID_B, &mut buf).unwrap();
    assert!(
        total <= 64 * 1024 + 4096,
        "held {total}: the window and one packet"
    );
    assert!(total > 32 * 1024, "held only {total}");
    // Reading opens the window again and everything arrives.
    for _ in 0..200_000 {
        total += p.b.read(ID_B, &mut buf).unwrap();
        if total == data.len() {
            break;
        }
        p.step();
    }
    assert_eq!(total, data.len());
}

#[test]
fn send_buffer_is_bounded_and_writable_follows() {
    let cfg = Config {
        send_buffer: 100_000,
        ..Config::default()
    };
    let mut p = Pair::new(cfg, 5 * MS);
    let now = p.now;
    assert_eq!(p.a.write(now, ID_A, &vec![1u8; 300_000]).unwrap(), 100_000);
    assert_eq!(p.a.write(now, ID_A, &[1u8; 10]).unwrap(), 0);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..10_000 {
        let _ = p.b.read(ID_B, &mut buf);
        if p.events_a.contains(&Event::Writable { id: ID_A }) {
            return;
        }
        p.step();
    }
    panic!("no Writable");
}

fn hdr(flags: u8, seq: u32, ack: u32) -> Header {
    Header {
        flags,
        data_offset: 0,
        stream_id: ID_B,
        rwnd: 1 << 22,
        seq,
        ack,
    }
}

#[test]
fn hostile_packets_cannot_grow_memory() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let payload = vec![0xabu8; 1400];
    // Far-future sequence numbers, every one distinct.
    for i in 0..20_000u32 {
        let mut d = Vec::new();
        packet::write_padded(
            &hdr(flags::DATA, 100_000 + i.wrapping_mul(7919), 0),
            0,
            &payload,
            &mut d,
        );
        assert_eq!(p.inject(Side::B, &d), Routed::Udx);
    }
    // Forged acks and SACKs for data never sent.
    for i in 0..1000u32 {
        let mut d = Vec::new();
        let blocks: Vec<(u32, u32)> = (0..50).map(|j| (i * 50 + j, u32::MAX - j)).collect();
        packet::write_ack(&hdr(0, 0, i.wrapping_mul(1_000_003)), &blocks, &mut d);
        p.inject(Side::B, &d);
    }
    let st = p.b.stats(ID_B).unwrap();
    // At most the receive window (4 MiB) of out-of-order data is held.
    assert!(st.packets_dropped > 15_000, "{st:?}");
    // The stream still works.
    let (got, _) = transfer(&mut p, 100_000, false, 100_000);
    check_pattern(&got);
}

#[test]
fn routing_of_a_shared_socket() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    assert_eq!(p.inject(Side::B, &[0]), Routed::Probe);
    assert_eq!(p.inject(Side::B, &[0x03, 1, 2]), Routed::Rpc);
    assert_eq!(p.inject(Side::B, &[0x13, 1, 2]), Routed::Rpc);
    assert_eq!(p.inject(Side::B, &[0x42, 1, 2]), Routed::Ignored);
    let mut d = Vec::new();
    Header {
        stream_id: 77,
        ..hdr(flags::DATA, 0, 0)
    }
    .write(&mut d);
    assert_eq!(p.inject(Side::B, &d), Routed::UnknownStream { id: 77 });
    // Bad data offset.
    let mut d = hdr(flags::DATA, 0, 0).to_bytes().to_vec();
    d[3] = 9;
    assert_eq!(p.inject(Side::B, &d), Routed::Ignored);
}

#[test]
fn heartbeat_forces_an_ack() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let before = p.sent[1];
    let d = hdr(flags::HEARTBEAT, 0, 0).to_bytes();
    p.inject(Side::B, &d);
    assert_eq!(p.sent[1], before + 1);
}

#[test]
fn silence_times_the_stream_out() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    p.drop = Box::new(|side, _, _| side == Side::A);
    let now = p.now;
    p.a.write(now, ID_A, b"into the void").unwrap();
    while p.step() {
        if p.now > Duration::from_secs(120) {
            break;
        }
    }
    let ea = p.take_events(Side::A);
    assert!(
        ea.contains(&Event::Closed {
            id: ID_A,
            error: Some(UdxError::Timeout)
        }),
        "{ea:?}"
    );
    assert!(p.now < Duration::from_secs(60), "timed out at {:?}", p.now);
}

#[test]
fn data_lost_before_an_end_is_still_delivered() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let mut dropped = false;
    p.drop = Box::new(move |side, h, _| {
        let hit = side == Side::A && is_data(h) && h.seq == 3 && !dropped;
        dropped |= hit;
        hit
    });
    let (got, _) = transfer(&mut p, 5 * 1152 + 10, true, 100_000);
    check_pattern(&got);
    assert_eq!(p.dropped, 1);
    assert!(p.b.is_remote_ended(ID_B));
}

#[test]
fn random_loss_and_reordering_in_both_directions() {
    for seed in 1..=3u64 {
        let mut p = Pair::new(Config::default(), 10 * MS);
        p.jitter = 3 * MS;
        p.rng = seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let mut rng = seed;
        // 2% of every datagram, data and acks alike.
        p.drop = Box::new(move |_, _, _| common::xorshift(&mut rng) % 100 < 2);
        let (got, took) = transfer(&mut p, 1024 * 1024, true, 5_000_000);
        check_pattern(&got);
        let st = p.a.stats(ID_A).unwrap();
        assert!(st.packets_retransmitted > 0, "seed {seed}: {st:?}");
        // NewReno at 2% loss and 20 ms: about MSS/RTT * 1.22/sqrt(p) = 0.6 MB/s.
        assert!(
            took < Duration::from_secs(10),
            "seed {seed}: took {took:?}, {st:?}"
        );
    }
}

#[test]
fn keepalive_sends_heartbeats_while_idle() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    let now = p.now;
    p.a.set_keepalive(now, ID_A, Some(Duration::from_secs(5)))
        .unwrap();
    let start = p.sent;
    while p.now < Duration::from_secs(21) {
        assert!(p.step());
    }
    // A sent a heartbeat every 5 s (the last step reached the fifth) and B answered
    // each that arrived.
    assert_eq!(p.now, Duration::from_secs(25));
    assert_eq!(p.sent[0] - start[0], 5);
    assert_eq!(p.sent[1] - start[1], 4);
    assert!(p.step());
    assert_eq!(p.sent[1] - start[1], 5);
    let now = p.now;
    p.a.set_keepalive(now, ID_A, None).unwrap();
    assert_eq!(p.a.poll_timeout(), None);
}

#[test]
fn the_last_closer_lingers_to_answer_a_resent_end() {
    let mut p = Pair::new(Config::default(), 5 * MS);
    // Lose A's acknowledgement of B's END once: B must resend it and still close cleanly.
    let mut lost = false;
    p.drop = Box::new(move |side, h, _| {
        let hit = side == Side::A && h.flags == 0 && h.ack == 1 && !lost;
        lost |= hit;
        hit
    });
    let now = p.now;
    p.a.write(now, ID_A, b"bye").unwrap();
    p.a.end(now, ID_A).unwrap();
    for _ in 0..50 {
        p.step();
    }
    let now = p.now;
    p.b.end(now, ID_B).unwrap();
    while p.step() {
        assert!(p.now < Duration::from_secs(60));
    }
    assert_eq!(p.dropped, 1);
    assert!(p.events_a.contains(&Event::Closed {
        id: ID_A,
        error: None
    }));
    assert!(
        p.events_b.contains(&Event::Closed {
            id: ID_B,
            error: None
        }),
        "{:?}",
        p.events_b
    );
    // The lingering stream is gone after its time, and its id can be reused at once.
    assert!(!p.a.has_stream(ID_A));
    p.a.create_stream(ID_A).unwrap();
}
