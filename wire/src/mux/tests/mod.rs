//! Unit tests of the mux rules (spec 3.2 and 3.4), one rule per test.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

use super::*;
use crate::protomux::MAX_BATCH_BYTES;
use crate::DecodeError;

const P: &str = "example/v1";

mod batches;

fn mux() -> Mux {
    Mux::new(MuxConfig::default())
}

fn tx(m: &mut Mux) -> Vec<Vec<u8>> {
    core::iter::from_fn(|| m.poll_transmit()).collect()
}

fn ev(m: &mut Mux) -> Vec<MuxEvent> {
    core::iter::from_fn(|| m.poll_event()).collect()
}

fn feed(m: &mut Mux, frame: &[u8]) -> Result<(), MuxError> {
    m.handle_frame(Bytes::copy_from_slice(frame))
}

/// Moves every queued frame of `from` into `to`; returns them.
fn pump(from: &mut Mux, to: &mut Mux) -> Vec<Vec<u8>> {
    let frames = tx(from);
    for f in &frames {
        feed(to, f).expect("frame from a conforming mux");
    }
    frames
}

fn ch(id: u64) -> ChannelId {
    ChannelId(id)
}

fn s(x: &str) -> String {
    String::from(x)
}

fn b(x: &'static [u8]) -> Bytes {
    Bytes::from_static(x)
}

fn opened(channel: u64, id: Option<&'static [u8]>, handshake: &'static [u8]) -> MuxEvent {
    MuxEvent::Opened {
        channel: ch(channel),
        protocol: s(P),
        id: id.map(b),
        handshake: b(handshake),
    }
}

fn request(remote_id: u64, id: Option<&'static [u8]>, handshake: &'static [u8]) -> MuxEvent {
    MuxEvent::OpenRequest {
        protocol: s(P),
        id: id.map(b),
        handshake: b(handshake),
        remote_id,
    }
}

fn message(channel: u64, message_type: u64, payload: &'static [u8]) -> MuxEvent {
    MuxEvent::Message {
        channel: ch(channel),
        message_type,
        payload: b(payload),
    }
}

fn closed(channel: u64, reason: CloseReason) -> MuxEvent {
    MuxEvent::Closed {
        channel: ch(channel),
        reason,
    }
}

/// A and B with one paired channel each (both id 1), everything drained.
fn paired() -> (Mux, Mux) {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    a.open(P, None, b"a").unwrap();
    pump(&mut a, &mut c);
    assert_eq!(ev(&mut c), [request(1, None, b"a")]);
    c.open(P, None, b"c").unwrap();
    assert_eq!(ev(&mut c), [opened(1, None, b"a")]);
    pump(&mut c, &mut a);
    assert_eq!(ev(&mut a), [opened(1, None, b"c")]);
    (a, c)
}

// ----- frames out ---------------------------------------------------------------------

#[test]
fn open_send_close_frames_are_byte_exact() {
    let mut a = mux();
    let c = a.open(P, Some(b"channel-id-bytes"), b"\x05hello").unwrap();
    assert_eq!(c.get(), 1);
    a.send(c, 1, &[0xfd, 0x2c, 0x01]).unwrap();
    a.close(c).unwrap();
    let mut open = vec![0, 1, 1, 10];
    open.extend_from_slice(P.as_bytes());
    open.push(16);
    open.extend_from_slice(b"channel-id-bytes");
    open.extend_from_slice(b"\x05hello");
    assert_eq!(
        tx(&mut a),
        [open, vec![1, 1, 0xfd, 0x2c, 0x01], vec![0, 3, 1]]
    );
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Local)]);
}

#[test]
fn empty_id_is_no_id() {
    let mut a = mux();
    a.open(P, Some(b""), b"").unwrap();
    let f = tx(&mut a).remove(0);
    assert_eq!(f[f.len() - 1], 0, "empty optionalBuffer, no handshake");
    let mut c = mux();
    c.listen(P);
    feed(&mut c, &f).unwrap();
    assert_eq!(ev(&mut c), [request(1, None, b"")]);
    // An open with `None` pairs with it.
    c.open(P, None, b"").unwrap();
    assert!(c.is_paired(ch(1)));
}

// ----- pairing --------------------------------------------------------------------------

#[test]
fn remote_open_first_then_local_open_pairs() {
    let (a, c) = paired();
    assert!(a.is_paired(ch(1)) && c.is_paired(ch(1)));
    assert_eq!(a.remote_id(ch(1)), Some(1));
    assert_eq!(c.channel_key(ch(1)), Some((P, None)));
    assert_eq!(c.pending_open_count(), 0);
    assert_eq!(c.buffered_bytes(), 0);
}

#[test]
fn crossing_opens_pair_without_requests() {
    let (mut a, mut c) = (mux(), mux());
    // Neither listens: a waiting local channel claims the open regardless.
    a.open(P, Some(b"k"), b"a").unwrap();
    c.open(P, Some(b"k"), b"c").unwrap();
    let (fa, fc) = (tx(&mut a), tx(&mut c));
    for f in &fa {
        feed(&mut c, f).unwrap();
    }
    for f in &fc {
        feed(&mut a, f).unwrap();
    }
    assert_eq!(ev(&mut a), [opened(1, Some(b"k"), b"c")]);
    assert_eq!(ev(&mut c), [opened(1, Some(b"k"), b"a")]);
    assert!(tx(&mut a).is_empty() && tx(&mut c).is_empty(), "no reject");
}

#[test]
fn messages_before_our_open_are_buffered_then_delivered_in_order() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    let x = a.open(P, None, b"a").unwrap();
    a.send(x, 0, b"one").unwrap();
    a.send(x, 7, b"two").unwrap();
    pump(&mut a, &mut c);
    assert_eq!(ev(&mut c), [request(1, None, b"a")]);
    assert!(c.buffered_bytes() >= 2 * BUFFER_ENTRY_OVERHEAD + 6);
    c.open(P, None, b"c").unwrap();
    assert_eq!(
        ev(&mut c),
        [
            opened(1, None, b"a"),
            message(1, 0, b"one"),
            message(1, 7, b"two")
        ]
    );
    assert_eq!(c.buffered_bytes(), 0);
    // Later messages go straight through.
    a.send(x, 1, b"three").unwrap();
    pump(&mut a, &mut c);
    assert_eq!(ev(&mut c), [message(1, 1, b"three")]);
}

#[test]
fn messages_after_opened_flow_both_ways_with_any_type() {
    let (mut a, mut c) = paired();
    a.send(ch(1), 99, b"unknown type").unwrap();
    c.send(ch(1), 0, b"").unwrap();
    pump(&mut a, &mut c);
    pump(&mut c, &mut a);
    assert_eq!(ev(&mut c), [message(1, 99, b"unknown type")]);
    assert_eq!(ev(&mut a), [message(1, 0, b"")]);
}

#[test]
fn same_key_opens_pair_first_in_first_out() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    for h in [b"1", b"2", b"3"] {
        a.open(P, None, h).unwrap();
    }
    pump(&mut a, &mut c);
    assert_eq!(
        ev(&mut c),
        [
            request(1, None, b"1"),
            request(2, None, b"2"),
            request(3, None, b"3")
        ]
    );
    c.open(P, None, b"x").unwrap();
    c.open(P, None, b"y").unwrap();
    assert_eq!(ev(&mut c), [opened(1, None, b"1"), opened(2, None, b"2")]);
    assert_eq!(c.remote_id(ch(2)), Some(2));
    pump(&mut c, &mut a);
    assert_eq!(ev(&mut a), [opened(1, None, b"x"), opened(2, None, b"y")]);
    assert!(!a.is_paired(ch(3)));
    assert_eq!(c.pending_open_count(), 1);
}

#[test]
fn opens_of_unlistened_protocols_are_rejected_at_once() {
    let (mut a, mut c) = (mux(), mux());
    c.listen("other");
    let x = a.open("nobody/listens", None, b"").unwrap();
    a.send(x, 0, b"lost").unwrap();
    pump(&mut a, &mut c);
    assert!(ev(&mut c).is_empty());
    assert_eq!(tx(&mut c), [vec![0, 2, 1]]);
    feed(&mut a, &[0, 2, 1]).unwrap();
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Rejected)]);
    assert!(!a.is_open(x));
    // The rejected id is free again.
    assert_eq!(a.open(P, None, b"").unwrap().get(), 1);
    // unlisten takes effect for later opens.
    c.listen(P);
    c.unlisten(P);
    pump(&mut a, &mut c);
    assert_eq!(tx(&mut c), [vec![0, 2, 1]]);
}

#[test]
fn reject_refuses_the_oldest_pending_open() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    let x = a.open(P, None, b"1").unwrap();
    a.open(P, None, b"2").unwrap();
    a.send(x, 0, b"buffered").unwrap();
    pump(&mut a, &mut c);
    ev(&mut c);
    assert!(c.reject(P, None));
    assert!(!c.reject(P, Some(b"other")));
    assert_eq!(tx(&mut c), [vec![0, 2, 1]]);
    assert_eq!(c.pending_open_count(), 1);
    assert!(
        c.buffered_bytes() < 2 * BUFFER_ENTRY_OVERHEAD,
        "buffer dropped"
    );
    // Messages for the rejected open are now ignored; the second one still pairs.
    feed(&mut c, &[1, 0, b'z']).unwrap();
    c.open(P, None, b"").unwrap();
    assert_eq!(ev(&mut c), [opened(1, None, b"2")]);
    assert_eq!(c.remote_id(ch(1)), Some(2));
    feed(&mut a, &[0, 2, 1]).unwrap();
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Rejected)]);
    assert!(!c.reject(P, None));
}

// ----- closing and ids -----------------------------------------------------------------

#[test]
fn close_is_one_sided_and_not_echoed() {
    let (mut a, mut c) = paired();
    a.close(ch(1)).unwrap();
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Local)]);
    assert_eq!(pump(&mut a, &mut c), [vec![0, 3, 1]]);
    assert_eq!(ev(&mut c), [closed(1, CloseReason::Remote)]);
    assert!(tx(&mut c).is_empty(), "no close back");
    assert_eq!(
        c.close(ch(1)),
        Err(MuxError::ApiMisuse(Misuse::ChannelNotOpen(ch(1))))
    );
    assert_eq!(
        c.send(ch(1), 0, b""),
        Err(MuxError::ApiMisuse(Misuse::ChannelNotOpen(ch(1))))
    );
    // Late messages for the closed channel are ignored, as is a repeated close.
    feed(&mut c, &[1, 0]).unwrap();
    feed(&mut c, &[0, 3, 1]).unwrap();
    feed(&mut c, &[0, 3, 0]).unwrap();
    assert!(ev(&mut c).is_empty());
}

#[test]
fn closes_crossing_on_the_wire() {
    let (mut a, mut c) = paired();
    a.close(ch(1)).unwrap();
    c.close(ch(1)).unwrap();
    pump(&mut a, &mut c);
    pump(&mut c, &mut a);
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Local)]);
    assert_eq!(ev(&mut c), [closed(1, CloseReason::Local)]);
    assert_eq!(a.channel_count() + c.channel_count(), 0);
    // Both ids are free on both sides: a new pairing reuses id 1 everywhere.
    c.open(P, None, b"again").unwrap();
    a.listen(P);
    pump(&mut c, &mut a);
    assert_eq!(ev(&mut a), [request(1, None, b"again")]);
}

#[test]
fn freed_ids_are_reused_last_in_first_out() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    for _ in 0..3 {
        a.open(P, None, b"").unwrap();
    }
    pump(&mut a, &mut c);
    for _ in 0..3 {
        c.open(P, None, b"").unwrap();
    }
    pump(&mut c, &mut a);
    a.close(ch(1)).unwrap();
    a.close(ch(3)).unwrap();
    let ids: Vec<u64> = (0..3)
        .map(|_| a.open(P, None, b"").unwrap().get())
        .collect();
    assert_eq!(ids, [3, 1, 4]);
}

#[test]
fn unpaired_close_keeps_the_id_until_the_peer_answers() {
    let mut a = mux();
    a.open(P, None, b"").unwrap();
    a.close(ch(1)).unwrap();
    assert_eq!(
        a.open(P, Some(b"x"), b"").unwrap().get(),
        2,
        "id 1 reserved"
    );
    tx(&mut a);
    ev(&mut a);
    // The peer's answer to the closed open frees id 1 and pairs nothing.
    let mut answer = vec![0, 1, 1, 10];
    answer.extend_from_slice(P.as_bytes());
    answer.extend_from_slice(&[0]);
    feed(&mut a, &answer).unwrap();
    assert!(ev(&mut a).is_empty());
    assert!(tx(&mut a).is_empty());
    assert_eq!(a.open(P, None, b"").unwrap().get(), 1);
    // Messages on the peer's channel (which it believes open) are ignored.
    feed(&mut a, &[1, 0, 1]).unwrap();
    assert!(ev(&mut a)
        .iter()
        .all(|e| !matches!(e, MuxEvent::Message { .. })));
    // A reject also frees an id whose channel was closed, without a second event.
    let mut a = mux();
    a.open(P, None, b"").unwrap();
    a.close(ch(1)).unwrap();
    ev(&mut a);
    feed(&mut a, &[0, 2, 1]).unwrap();
    assert!(ev(&mut a).is_empty());
    assert_eq!(a.open(P, None, b"").unwrap().get(), 1);
}

#[test]
fn remote_close_withdraws_a_pending_open_and_releases_the_peers_id() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    let x = a.open(P, Some(b"k"), b"").unwrap();
    a.send(x, 0, b"m").unwrap();
    a.close(x).unwrap();
    pump(&mut a, &mut c);
    assert_eq!(
        ev(&mut c),
        [
            request(1, Some(b"k"), b""),
            MuxEvent::OpenWithdrawn {
                protocol: s(P),
                id: Some(b(b"k")),
                remote_id: 1
            }
        ]
    );
    assert_eq!((c.pending_open_count(), c.buffered_bytes()), (0, 0));
    assert!(!c.reject(P, Some(b"k")));
    assert_eq!(pump(&mut c, &mut a), [vec![0, 2, 1]]);
    ev(&mut a);
    assert_eq!(a.open(P, None, b"").unwrap().get(), 1, "id released");
    // The peer may reuse the slot.
    pump(&mut a, &mut c);
    assert_eq!(ev(&mut c), [request(1, None, b"")]);
}

// ----- peer rule violations -------------------------------------------------------------

fn open_frame(local_id: u8, protocol: &str) -> Vec<u8> {
    let mut f = vec![0, 1, local_id, protocol.len() as u8];
    f.extend_from_slice(protocol.as_bytes());
    f.push(0);
    f
}

#[test]
fn remote_ids_must_grow_by_one_or_reuse_a_free_slot() {
    let mut c = mux();
    c.listen(P);
    feed(&mut c, &open_frame(1, P)).unwrap();
    feed(&mut c, &open_frame(2, P)).unwrap();
    // Free slot 1 (peer closes its pending open), then reuse it.
    feed(&mut c, &[0, 3, 1]).unwrap();
    feed(&mut c, &open_frame(1, P)).unwrap();
    feed(&mut c, &open_frame(3, P)).unwrap();
    assert_eq!(c.pending_open_count(), 3);
    // Skipping an id is invalid, and fatal.
    let mut d = mux();
    assert_eq!(
        feed(&mut d, &open_frame(2, P)),
        Err(MuxError::PeerMisbehaved(PeerFault::InvalidOpen {
            remote_id: 2
        }))
    );
    assert!(d.is_ended());
    // Opening a slot in use is invalid too.
    assert_eq!(
        feed(&mut c, &open_frame(2, P)),
        Err(MuxError::PeerMisbehaved(PeerFault::InvalidOpen {
            remote_id: 2
        }))
    );
}

#[test]
fn open_of_the_control_channel_is_rejected() {
    let mut c = mux();
    c.listen(P);
    feed(&mut c, &open_frame(0, P)).unwrap();
    assert_eq!(tx(&mut c), [vec![0, 2, 0]]);
    assert!(ev(&mut c).is_empty());
    // Slot 1 is still the next one.
    feed(&mut c, &open_frame(1, P)).unwrap();
    assert_eq!(c.pending_open_count(), 1);
}

#[test]
fn reject_must_name_an_unanswered_open() {
    let (mut a, _c) = paired();
    assert_eq!(
        feed(&mut a, &[0, 2, 1]),
        Err(MuxError::PeerMisbehaved(PeerFault::InvalidReject {
            local_id: 1
        }))
    );
    assert_eq!(ev(&mut a), [closed(1, CloseReason::Failed)]);
    for id in [0u8, 5] {
        let mut a = mux();
        assert_eq!(
            feed(&mut a, &[0, 2, id]),
            Err(MuxError::PeerMisbehaved(PeerFault::InvalidReject {
                local_id: u64::from(id)
            }))
        );
    }
}

#[test]
fn malformed_frames_are_typed_errors_and_fatal() {
    for bad in [
        &[1][..],
        &[0, 0],
        &[0, 1, 1, 5, b'a'],
        &[0, 2],
        &[0, 0, 1, 9, 0],
        &[0xff],
    ] {
        let (mut a, _) = paired();
        assert!(
            matches!(feed(&mut a, bad), Err(MuxError::Malformed(_))),
            "{bad:?}"
        );
        assert_eq!(ev(&mut a), [closed(1, CloseReason::Failed)]);
        assert_eq!(
            a.open(P, None, b""),
            Err(MuxError::ApiMisuse(Misuse::Ended))
        );
        // Later frames are ignored.
        assert_eq!(feed(&mut a, &[0, 2, 1]), Ok(()));
    }
    let mut a = mux();
    assert_eq!(
        feed(&mut a, &[1]),
        Err(MuxError::Malformed(DecodeError::UnexpectedEnd {
            offset: 1,
            needed: 1
        }))
    );
}

#[test]
fn keepalives_unknown_control_types_and_unknown_channels_are_ignored() {
    let mut c = mux();
    feed(&mut c, &[]).unwrap();
    feed(&mut c, &[0, 4, 1, 2, 3]).unwrap();
    feed(&mut c, &[0, 0x7f]).unwrap();
    feed(&mut c, &[9, 0, 1, 2]).unwrap();
    assert!(ev(&mut c).is_empty() && tx(&mut c).is_empty());
    assert!(!c.is_ended());
}

// ----- bounds ---------------------------------------------------------------------------

#[test]
fn pending_opens_are_bounded() {
    let mut c = Mux::new(MuxConfig {
        max_pending_opens: 2,
        ..MuxConfig::default()
    });
    c.listen(P);
    feed(&mut c, &open_frame(1, P)).unwrap();
    feed(&mut c, &open_frame(2, P)).unwrap();
    assert_eq!(
        feed(&mut c, &open_frame(3, P)),
        Err(MuxError::PeerMisbehaved(PeerFault::TooManyPendingOpens))
    );
}

#[test]
fn channels_are_bounded_for_both_sides() {
    let config = MuxConfig {
        max_channels: 2,
        ..MuxConfig::default()
    };
    let mut a = Mux::new(config.clone());
    a.listen(P);
    a.open(P, Some(b"mine"), b"").unwrap();
    feed(&mut a, &open_frame(1, P)).unwrap();
    assert_eq!(
        a.open(P, Some(b"more"), b""),
        Err(MuxError::ApiMisuse(Misuse::TooManyChannels))
    );
    // Answering the pending open does not take another slot.
    a.open(P, None, b"").unwrap();
    assert_eq!(a.channel_count(), 2);
    assert_eq!(
        feed(&mut a, &open_frame(2, P)),
        Err(MuxError::PeerMisbehaved(PeerFault::TooManyChannels))
    );
    // A closed unanswered open still holds its id.
    let mut a = Mux::new(config);
    a.open(P, Some(b"1"), b"").unwrap();
    a.open(P, Some(b"2"), b"").unwrap();
    a.close(ch(2)).unwrap();
    assert_eq!(
        a.open(P, Some(b"3"), b""),
        Err(MuxError::ApiMisuse(Misuse::TooManyChannels))
    );
}

#[test]
fn buffered_bytes_are_bounded() {
    // Room for the open, a 50-byte message and one empty message, not two.
    let max = 4 * BUFFER_ENTRY_OVERHEAD + P.len() + 50 - 1;
    let mut c = Mux::new(MuxConfig {
        max_buffered_bytes: max,
        ..MuxConfig::default()
    });
    c.listen(P);
    feed(&mut c, &open_frame(1, P)).unwrap();
    let open_cost = BUFFER_ENTRY_OVERHEAD + P.len();
    assert_eq!(c.buffered_bytes(), open_cost);
    let mut frame = vec![1, 0];
    frame.extend_from_slice(&[7; 50]);
    feed(&mut c, &frame).unwrap();
    assert_eq!(c.buffered_bytes(), open_cost + BUFFER_ENTRY_OVERHEAD + 50);
    // Empty messages cost the overhead: they cannot flood the buffer either.
    feed(&mut c, &[1, 0]).unwrap();
    assert_eq!(
        feed(&mut c, &[1, 0]),
        Err(MuxError::PeerMisbehaved(PeerFault::BufferLimitExceeded))
    );
    assert_eq!(c.buffered_bytes(), 0, "failed mux holds nothing");
    // A large handshake counts as well.
    let mut c = Mux::new(MuxConfig {
        max_buffered_bytes: 100,
        ..MuxConfig::default()
    });
    c.listen(P);
    let mut big = open_frame(1, P);
    big.extend_from_slice(&[0; 40]);
    assert_eq!(
        feed(&mut c, &big),
        Err(MuxError::PeerMisbehaved(PeerFault::BufferLimitExceeded))
    );
}

#[test]
fn should_pause_above_32_kib() {
    let mut c = mux();
    c.listen(P);
    feed(&mut c, &open_frame(1, P)).unwrap();
    assert!(!c.should_pause());
    let mut frame = vec![1, 0];
    frame.extend_from_slice(&[0; PAUSE_THRESHOLD]);
    feed(&mut c, &frame).unwrap();
    assert!(c.should_pause());
    c.open(P, None, b"").unwrap();
    assert!(!c.should_pause());
}

// ----- end ------------------------------------------------------------------------------

#[test]
fn end_closes_every_channel() {
    let (mut a, _) = paired();
    a.listen(P);
    a.open(P, Some(b"unpaired"), b"").unwrap();
    feed(&mut a, &open_frame(2, P)).unwrap();
    ev(&mut a);
    a.handle_end();
    assert_eq!(
        ev(&mut a),
        [closed(1, CloseReason::Ended), closed(2, CloseReason::Ended)]
    );
    assert_eq!((a.channel_count(), a.pending_open_count()), (0, 0));
    assert!(a.is_ended() && !a.is_open(ch(1)));
    assert_eq!(
        a.open(P, None, b""),
        Err(MuxError::ApiMisuse(Misuse::Ended))
    );
    assert!(!a.reject(P, None));
    assert_eq!(feed(&mut a, &open_frame(3, P)), Ok(()));
    a.handle_end();
    assert!(ev(&mut a).is_empty());
}

// ----- batches out ----------------------------------------------------------------------

// ----- batches in -----------------------------------------------------------------------
