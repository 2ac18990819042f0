//! The secret-stream state machine under any chunking, hostile bytes and time.

use std::time::Duration;

use ferrocore_wire::noise::{KeyPair, NoiseError};
use ferrocore_wire::stream::{
    Blame, Entropy, SecretStream, StreamConfig, StreamError, StreamEvent,
};
use proptest::prelude::*;

const T0: Duration = Duration::ZERO;

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b.wrapping_add(1); 24],
    }
}

fn pair(config: StreamConfig) -> (SecretStream, SecretStream) {
    (
        SecretStream::initiator(config, KeyPair::from_seed([1; 32]), entropy(3), T0),
        SecretStream::responder(config, KeyPair::from_seed([2; 32]), entropy(4), T0),
    )
}

/// Moves bytes both ways until neither side has anything to send.
fn pump(a: &mut SecretStream, b: &mut SecretStream, now: Duration) {
    loop {
        let mut moved = false;
        while let Some(x) = a.poll_transmit() {
            b.handle_input(now, &x).unwrap();
            moved = true;
        }
        while let Some(x) = b.poll_transmit() {
            a.handle_input(now, &x).unwrap();
            moved = true;
        }
        if !moved {
            return;
        }
    }
}

fn messages(s: &mut SecretStream) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(e) = s.poll_event() {
        if let StreamEvent::Message(m) = e {
            out.push(m.to_vec());
        }
    }
    out
}

fn connected() -> (SecretStream, SecretStream) {
    let (mut a, mut b) = pair(StreamConfig::default());
    pump(&mut a, &mut b, T0);
    assert!(a.is_connected() && b.is_connected());
    messages(&mut a);
    messages(&mut b);
    (a, b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any sequence of messages, cut into any pieces, arrives whole, in order, once.
    #[test]
    fn any_chunking_delivers_every_message_in_order(
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..20),
        cuts in prop::collection::vec(1usize..700, 1..50),
    ) {
        let (mut a, mut b) = pair(StreamConfig::default());
        for m in &msgs {
            a.send(m).unwrap(); // before the handshake: queued
        }
        // Initiator bytes reach the responder cut at arbitrary points.
        let mut cut = cuts.iter().cycle();
        for _ in 0..4 {
            while let Some(x) = a.poll_transmit() {
                let mut rest = &x[..];
                while !rest.is_empty() {
                    let n = (*cut.next().unwrap()).min(rest.len());
                    b.handle_input(T0, &rest[..n]).unwrap();
                    rest = &rest[n..];
                }
            }
            while let Some(x) = b.poll_transmit() {
                a.handle_input(T0, &x).unwrap();
            }
        }
        let want: Vec<Vec<u8>> = msgs.iter().filter(|m| !m.is_empty()).cloned().collect();
        prop_assert_eq!(messages(&mut b), want);
        prop_assert!(b.buffered_input() == 0);
    }

    /// A flipped bit anywhere after the handshake fails the stream with a typed error
    /// blamed on the peer, and it stays failed.
    #[test]
    fn a_flipped_bit_after_the_handshake_is_detected(
        msg in prop::collection::vec(any::<u8>(), 1..500),
        bit in any::<prop::sample::Index>(),
    ) {
        let (mut a, mut b) = connected();
        a.send(&msg).unwrap();
        let mut bytes = a.poll_transmit().unwrap().to_vec();
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        // A length prefix made larger leaves the record incomplete: detected when the
        // stream ends (or when later bytes arrive and fail the MAC).
        let err = match b.handle_input(T0, &bytes) {
            Err(e) => e,
            Ok(()) => {
                prop_assert!(i < 24, "only a length bit can go unnoticed until more arrives");
                b.handle_end().expect_err("ending inside a record is detected")
            }
        };
        prop_assert_eq!(err.blame(), Blame::Peer);
        prop_assert!(b.is_failed());
        prop_assert!(messages(&mut b).is_empty(), "nothing from a tampered record is delivered");
        prop_assert_eq!(b.handle_input(T0, &[0]), Err(err));
        prop_assert!(b.poll_transmit().is_none());
    }

    /// Whole records arriving in one input (decrypted straight from it): a tampered body
    /// or MAC in record `k` delivers exactly the messages before it, then fails for good.
    #[test]
    fn a_tampered_record_among_whole_ones_delivers_exactly_those_before_it(
        msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..12),
        pick in any::<prop::sample::Index>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let (mut a, mut b) = connected();
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for m in &msgs {
            a.send(m).unwrap();
            while let Some(x) = a.poll_transmit() {
                starts.push(bytes.len());
                bytes.extend_from_slice(&x);
            }
        }
        prop_assert_eq!(starts.len(), msgs.len(), "one record per message");
        let k = pick.index(msgs.len());
        let end = starts.get(k + 1).copied().unwrap_or(bytes.len());
        // Any bit past the 3-byte length prefix: tag, body or MAC.
        let i = bit.index((end - starts[k] - 3) * 8) + (starts[k] + 3) * 8;
        bytes[i / 8] ^= 1 << (i % 8);
        let err = b.handle_input(T0, &bytes).expect_err("the tampered record fails");
        prop_assert_eq!(err.blame(), Blame::Peer);
        let want: Vec<Vec<u8>> = msgs[..k].iter().filter(|m| !m.is_empty()).cloned().collect();
        prop_assert_eq!(messages(&mut b), want);
        prop_assert!(b.is_failed());
    }
}

#[test]
fn oversize_and_undersize_records_are_refused_from_their_prefix() {
    let config = StreamConfig {
        max_record_len: 1000,
        ..StreamConfig::default()
    };
    let (mut a, mut b) = pair(config);
    pump(&mut a, &mut b, T0);
    // A prefix announcing 1001 bytes fails at once, with 3 bytes buffered at most.
    let err = b.handle_input(T0, &[0xe9, 0x03, 0x00, 0xaa]).unwrap_err();
    assert_eq!(
        err,
        StreamError::Oversize {
            len: 1001,
            max: 1000
        }
    );
    assert!(b.buffered_input() <= 3);

    let (mut a, mut b) = connected();
    assert_eq!(
        b.handle_input(T0, &[16, 0, 0]).unwrap_err(),
        StreamError::Malformed("record shorter than 17 bytes")
    );
    // The largest record the protocol allows is announced, not buffered in advance.
    a.handle_input(T0, &[0xff, 0xff]).unwrap();
    a.handle_input(T0, &[0xff]).unwrap();
    assert!(a.buffered_input() <= 3);
}

#[test]
fn handshake_lengths_and_header_records_are_checked() {
    let (_, mut b) = pair(StreamConfig::default());
    let err = b.handle_input(T0, &[33, 0, 0]).unwrap_err();
    assert_eq!(
        err,
        StreamError::Handshake(NoiseError::BadLength {
            message: 1,
            len: 33,
            expected: 32
        })
    );

    // A header record of the wrong length or with the wrong stream id.
    let (mut a, mut b) = pair(StreamConfig::default());
    let m1 = a.poll_transmit().unwrap();
    b.handle_input(T0, &m1).unwrap();
    let m2 = b.poll_transmit().unwrap();
    a.handle_input(T0, &m2).unwrap();
    let m3_and_header = a.poll_transmit().unwrap();
    assert_eq!(m3_and_header.len(), 3 + 64 + 3 + 56);
    let mut bad = m3_and_header.to_vec();
    bad[3 + 64 + 3 + 5] ^= 1; // inside the stream id
    let mut b2 = b;
    assert_eq!(
        b2.handle_input(T0, &bad).unwrap_err(),
        StreamError::StreamIdMismatch
    );

    let (mut a, mut b) = pair(StreamConfig::default());
    b.handle_input(T0, &a.poll_transmit().unwrap()).unwrap();
    a.handle_input(T0, &b.poll_transmit().unwrap()).unwrap();
    let mut bad = a.poll_transmit().unwrap().to_vec();
    bad[67] = 55; // header length 55
    assert_eq!(
        b.handle_input(T0, &bad).unwrap_err(),
        StreamError::Malformed("invalid header message received")
    );
}

#[test]
fn a_different_key_pair_or_tampered_handshake_fails_typed() {
    let (mut a, mut b) = pair(StreamConfig::default());
    let mut m1 = a.poll_transmit().unwrap().to_vec();
    m1[10] ^= 0x40;
    // A changed ephemeral key is either not a valid point or a different key; the
    // handshake then fails at msg2 (its MAC no longer matches) or at once.
    match b.handle_input(T0, &m1) {
        Err(e) => assert_eq!(e.blame(), Blame::Peer),
        Ok(()) => {
            let m2 = b.poll_transmit().unwrap();
            assert!(a.handle_input(T0, &m2).is_err());
        }
    }
}

#[test]
fn keep_alives_are_sent_when_idle_and_never_reported() {
    let (mut a, mut b) = connected();
    let ka = StreamConfig::default().keep_alive.unwrap();
    assert_eq!(a.poll_timeout(), Some(ka));
    a.handle_timeout(ka - Duration::from_millis(1)).unwrap();
    assert!(a.poll_transmit().is_none(), "not due yet");
    a.handle_timeout(ka).unwrap();
    let keep_alive = a.poll_transmit().expect("a keep-alive");
    assert_eq!(keep_alive.len(), 3 + 17);
    assert_eq!(a.poll_timeout(), Some(ka * 2));
    b.handle_input(ka, &keep_alive).unwrap();
    assert!(b.poll_event().is_none());
    // Sending resets the keep-alive clock.
    a.handle_input(ka + Duration::from_secs(1), &[]).unwrap();
    a.send(b"x").unwrap();
    assert_eq!(a.poll_timeout(), Some(ka + Duration::from_secs(1) + ka));
}

#[test]
fn handshake_and_idle_timeouts_fail_the_stream() {
    let (mut a, _b) = pair(StreamConfig::default());
    let deadline = a.poll_timeout().expect("handshake deadline");
    assert_eq!(deadline, Duration::from_secs(10));
    a.handle_timeout(deadline - Duration::from_millis(1))
        .unwrap();
    assert_eq!(
        a.handle_timeout(deadline),
        Err(StreamError::HandshakeTimeout)
    );
    assert_eq!(StreamError::HandshakeTimeout.blame(), Blame::Timeout);
    assert!(a.poll_timeout().is_none());

    let config = StreamConfig {
        idle_timeout: Some(Duration::from_secs(20)),
        keep_alive: None,
        ..StreamConfig::default()
    };
    let (mut a, mut b) = pair(config);
    pump(&mut a, &mut b, T0);
    assert_eq!(a.poll_timeout(), Some(Duration::from_secs(20)));
    b.send(b"alive").unwrap();
    a.handle_input(Duration::from_secs(15), &b.poll_transmit().unwrap())
        .unwrap();
    assert_eq!(a.poll_timeout(), Some(Duration::from_secs(35)));
    assert_eq!(
        a.handle_timeout(Duration::from_secs(35)),
        Err(StreamError::IdleTimeout)
    );
}

#[test]
fn ending_and_remote_end() {
    let (mut a, mut b) = connected();
    a.send(b"last").unwrap();
    a.end();
    assert_eq!(a.send(b"more"), Err(StreamError::Ended));
    assert_eq!(StreamError::Ended.blame(), Blame::Local);
    b.handle_input(T0, &a.poll_transmit().unwrap()).unwrap();
    b.handle_end().unwrap();
    assert_eq!(
        b.poll_event(),
        Some(StreamEvent::Message(b"last"[..].into()))
    );
    assert_eq!(b.poll_event(), Some(StreamEvent::RemoteEnded));
    assert_eq!(b.handle_input(T0, &[1]), Err(StreamError::DataAfterEnd));
}

#[test]
fn an_out_of_band_handshake_starts_at_the_header_records() {
    use ferrocore_wire::noise::Handshake;
    let mut i = Handshake::initiator(KeyPair::from_seed([1; 32]), [3; 32]);
    let mut r = Handshake::responder(KeyPair::from_seed([2; 32]), [4; 32]);
    let m2 = r
        .read_message(&i.initial_message().unwrap())
        .unwrap()
        .unwrap();
    r.read_message(&i.read_message(&m2).unwrap().unwrap())
        .unwrap();
    let mut a =
        SecretStream::from_handshake(StreamConfig::default(), &i.finish().unwrap(), [7; 24], T0);
    let mut b =
        SecretStream::from_handshake(StreamConfig::default(), &r.finish().unwrap(), [8; 24], T0);
    a.send(b"over hyperdht").unwrap();
    pump(&mut a, &mut b, T0);
    assert_eq!(messages(&mut b), vec![b"over hyperdht".to_vec()]);
}
