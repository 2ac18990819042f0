//! Batches: corked output, and incoming batches handled one entry at a time.

use super::*;

#[test]
fn corked_frames_leave_as_one_batch_on_the_last_uncork() {
    let (mut a, _) = paired();
    a.open(P, None, b"").unwrap(); // id 2, unpaired
    tx(&mut a);
    a.cork();
    a.cork();
    a.send(ch(1), 0, b"\x03one").unwrap();
    a.send(ch(1), 1, b"\x01").unwrap();
    a.send(ch(2), 0, b"\x03two").unwrap();
    a.close(ch(2)).unwrap();
    a.uncork();
    assert!(tx(&mut a).is_empty(), "still corked once");
    assert!(a.is_corked());
    a.uncork();
    assert_eq!(
        tx(&mut a),
        [vec![
            0, 0, 1, 5, 0, 3, b'o', b'n', b'e', 2, 1, 1, 0, 2, 5, 0, 3, b't', b'w', b'o', 0, 0, 2,
            3, 2
        ]]
    );
    // Nothing corked: nothing sent; a stray uncork is harmless.
    a.cork();
    a.uncork();
    a.uncork();
    assert!(tx(&mut a).is_empty());
    assert!(!a.is_corked());
}

#[test]
fn a_full_batch_leaves_early() {
    let (mut a, mut c) = paired();
    let big = vec![7u8; MAX_BATCH_BYTES / 2 + 1];
    a.cork();
    a.send(ch(1), 0, &big).unwrap();
    a.send(ch(1), 0, &big).unwrap();
    assert!(tx(&mut a).is_empty(), "below the limit when pushed");
    a.send(ch(1), 1, b"x").unwrap();
    let first = tx(&mut a);
    assert_eq!(first.len(), 1);
    assert!(first[0].len() >= MAX_BATCH_BYTES);
    a.uncork();
    let second = tx(&mut a);
    assert_eq!(second, [vec![0, 0, 1, 2, 1, b'x']]);
    for f in first.iter().chain(&second) {
        feed(&mut c, f).unwrap();
    }
    let got = ev(&mut c);
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], message(1, 1, b"x"));
}

#[test]
fn incoming_batches_run_every_entry_in_order_with_control_entries() {
    let (mut a, mut c) = (mux(), mux());
    c.listen(P);
    a.cork();
    let x = a.open(P, None, b"x").unwrap();
    a.send(x, 0, b"to x").unwrap();
    let y = a.open(P, Some(b"y"), b"y").unwrap();
    a.send(y, 1, b"to y").unwrap();
    a.send(x, 2, b"x again").unwrap();
    a.close(x).unwrap();
    a.uncork();
    let frames = pump(&mut a, &mut c);
    assert_eq!(frames.len(), 1);
    assert!(c.is_corked(), "held for the batch's events");
    // c answers y while handling the events: the reject (withdrawn x) and the open leave
    // as one batch once the events are drained.
    let mut seen = Vec::new();
    while let Some(e) = c.poll_event() {
        if let MuxEvent::OpenRequest { remote_id: 2, .. } = e {
            c.open(P, Some(b"y"), b"c").unwrap();
        }
        assert!(c.poll_transmit().is_none(), "replies are held");
        seen.push(e);
    }
    assert_eq!(
        seen,
        [
            request(1, None, b"x"),
            request(2, Some(b"y"), b"y"),
            MuxEvent::OpenWithdrawn {
                protocol: s(P),
                id: None,
                remote_id: 1
            },
            opened(1, Some(b"y"), b"y"),
            message(1, 1, b"to y"),
        ]
    );
    assert!(!c.is_corked());
    let reply = tx(&mut c);
    let mut want = vec![0, 0, 0, 2, 2, 1, 16, 1, 1, 10];
    want.extend_from_slice(P.as_bytes());
    want.extend_from_slice(b"\x01yc");
    assert_eq!(reply, [want]);
    for f in &reply {
        feed(&mut a, f).unwrap();
    }
    assert_eq!(
        ev(&mut a),
        [closed(1, CloseReason::Local), opened(2, Some(b"y"), b"c")]
    );
}

#[test]
fn a_single_entry_batch_does_not_cork_the_receiver() {
    let (_, mut c) = paired();
    feed(&mut c, &[0, 0, 1, 3, 5, b'h', b'i']).unwrap();
    assert!(!c.is_corked());
    c.send(ch(1), 0, b"reply").unwrap();
    assert_eq!(tx(&mut c), [vec![1, 0, b'r', b'e', b'p', b'l', b'y']]);
    assert_eq!(ev(&mut c), [message(1, 5, b"hi")]);
}

#[test]
fn a_multi_entry_batch_without_events_releases_at_once() {
    let (_, mut c) = paired();
    c.send(ch(1), 0, b"").unwrap();
    tx(&mut c);
    // Two entries for an unknown channel and a rejected open: no events.
    let mut f = vec![0, 0, 9, 1, 0, 1, 0];
    f.extend_from_slice(&[0, 0]);
    let open = open_frame(2, "nobody");
    f.push((open.len() - 1) as u8);
    f.extend_from_slice(&open[1..]);
    feed(&mut c, &f).unwrap();
    assert!(!c.is_corked());
    assert_eq!(tx(&mut c), [vec![0, 0, 0, 2, 2, 2]]);
}

#[test]
fn nested_batches_are_processed_up_to_a_depth() {
    let (_, mut c) = paired();
    // 00 00 | channel 0 | entry: 00 (batch) 01 (first channel) 02 05 'a'
    feed(&mut c, &[0, 0, 0, 5, 0, 1, 2, 5, b'a']).unwrap();
    assert_eq!(ev(&mut c), [message(1, 5, b"a")]);
    let mut inner = vec![1, 2, 5, b'a'];
    for _ in 0..=MAX_BATCH_DEPTH {
        let mut outer = vec![0, inner.len() as u8 + 1, 0];
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    let mut frame = vec![0, 0];
    frame.extend_from_slice(&inner);
    assert_eq!(
        feed(&mut c, &frame),
        Err(MuxError::PeerMisbehaved(PeerFault::BatchTooDeep))
    );
}

#[test]
fn entries_before_a_bad_one_take_effect() {
    let (_, mut c) = paired();
    // A message, then a truncated entry.
    let err = feed(&mut c, &[0, 0, 1, 2, 0, b'a', 9, 0]).unwrap_err();
    assert!(matches!(err, MuxError::Malformed(_)));
    assert_eq!(
        ev(&mut c),
        [message(1, 0, b"a"), closed(1, CloseReason::Failed)]
    );
}

/// A batch frame for channel 1 of `n` entries, each `type 5` with the one-byte payload `i`
/// (entries `02 05 i`).
fn batch_of(n: usize) -> Vec<u8> {
    let mut f = vec![0, 0, 1];
    for i in 0..n {
        f.extend_from_slice(&[2, 5, i as u8]);
    }
    f
}

/// The event of entry `i` of [`batch_of`].
fn entry(i: usize) -> MuxEvent {
    MuxEvent::Message {
        channel: ch(1),
        message_type: 5,
        payload: Bytes::copy_from_slice(&[i as u8]),
    }
}

#[test]
fn a_huge_batch_is_handled_one_read_ahead_at_a_time() {
    let (_, mut c) = paired();
    const N: usize = 200_000;
    feed(&mut c, &batch_of(N)).unwrap();
    // Entries are decoded only while fewer than READ_AHEAD events wait.
    assert_eq!(c.events.len(), READ_AHEAD);
    assert!(c.is_corked(), "held for the replies to a multi-entry batch");
    let mut seen = 0;
    while let Some(event) = c.poll_event() {
        assert!(c.events.len() < READ_AHEAD, "never more waits");
        assert_eq!(event, entry(seen));
        seen += 1;
    }
    assert_eq!(seen, N);
    assert!(!c.is_corked(), "released once its events ran dry");
    assert!(c.walking.is_empty() && c.inbox.is_empty());
}

#[test]
fn frames_after_a_batch_wait_for_it_in_order() {
    let (_, mut c) = paired();
    feed(&mut c, &batch_of(3 * READ_AHEAD)).unwrap();
    feed(&mut c, &[1, 9, b'z']).unwrap();
    feed(&mut c, &batch_of(2)).unwrap();
    let events = ev(&mut c);
    assert_eq!(events.len(), 3 * READ_AHEAD + 3);
    assert_eq!(events[3 * READ_AHEAD], message(1, 9, b"z"));
    assert_eq!(events[3 * READ_AHEAD + 1], entry(0));
    assert_eq!(events[3 * READ_AHEAD + 2], entry(1));
}

#[test]
fn a_bad_entry_found_while_polling_fails_the_mux_after_the_entries_before_it() {
    let (_, mut c) = paired();
    let good = 2 * READ_AHEAD + 5;
    let mut f = batch_of(good);
    f.extend_from_slice(&[9, 0]); // an entry of 9 bytes, cut off
                                  // The bad entry is past what this call decodes: no error yet.
    assert_eq!(feed(&mut c, &f), Ok(()));
    assert!(c.error().is_none());
    let events = ev(&mut c);
    assert_eq!(events.len(), good + 1);
    assert_eq!(events[good - 1], entry(good - 1));
    assert_eq!(events[good], closed(1, CloseReason::Failed));
    assert!(matches!(c.error(), Some(MuxError::Malformed(_))));
    assert!(c.is_ended());
    // Later frames are ignored.
    assert_eq!(feed(&mut c, &[1, 0]), Ok(()));
    assert!(ev(&mut c).is_empty());
}

#[test]
fn entries_past_the_configured_maximum_fail_the_mux() {
    let (_, mut c) = paired();
    c.config.max_batch_entries = 100;
    feed(&mut c, &batch_of(100)).unwrap();
    assert_eq!(ev(&mut c).len(), 100);
    // Nested batches count against their frame's total.
    let mut inner = batch_of(60);
    inner.drain(..2);
    let mut f = vec![0, 0, 0];
    for _ in 0..2 {
        f.push(inner.len() as u8 + 1);
        f.push(0);
        f.extend_from_slice(&inner);
    }
    feed(&mut c, &f).unwrap();
    // Entry 1 is the first nested batch and 2..=61 its messages; entry 62 the second
    // nested batch, whose 39th message is entry 101: 98 messages, then the failure.
    let events = ev(&mut c);
    assert_eq!(events.len(), 98 + 1);
    assert_eq!(events[97], entry(37));
    assert_eq!(events[98], closed(1, CloseReason::Failed));
    assert_eq!(
        c.error(),
        Some(&MuxError::PeerMisbehaved(PeerFault::BatchTooLarge {
            max: 100
        }))
    );
}
