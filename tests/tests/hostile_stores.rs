//! A hostile peer against an endpoint that carries a store: thousands of opens of cores we
//! do not replicate, in one record. Whether such opens are refused at once or asked of an
//! application that does not answer, the endpoint's heap stays bounded (measured by the
//! counting allocator, [`ferrocore_tests::heap`]) and past
//! [`EndpointConfig::max_unknown_opens`] the peer is disconnected with a typed error.

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::replication::{EndpointConfig, Event, PeerError, SessionError, PROTOCOL};
use ferrocore::wire::encoding::Encode;
use ferrocore::wire::protomux::{Batch, ChannelMessage, Frame, Open, CONTROL_OPEN};
use ferrocore_tests::heap;
use ferrocore_tests::hostile::*;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// Opens in one record.
const OPENS: u64 = 5_000;

/// A discovery key no endpoint here replicates.
fn stranger(i: u64) -> [u8; 32] {
    let mut key = [0x77; 32];
    key[..8].copy_from_slice(&i.to_le_bytes());
    hash::discovery_key(&key)
}

/// One batch frame of `n` opens of unknown cores, with the peer's ids from `first` on (the
/// peer's mux is bypassed: its own channel took id 1).
fn opens_record(first: u64, n: u64) -> Vec<u8> {
    let handshake = Harness::handshake([9; 32]);
    let entries = (0..n)
        .map(|i| {
            let open = Frame::Open(Open {
                local_id: first + i,
                protocol: PROTOCOL.into(),
                id: Some(Bytes::copy_from_slice(&stranger(i))),
                handshake: Bytes::copy_from_slice(&handshake),
            })
            .to_vec();
            // A control frame is `00 01 body`; the batch entry carries the body.
            ChannelMessage {
                channel: 0,
                message_type: CONTROL_OPEN,
                payload: Bytes::copy_from_slice(&open[2..]),
            }
        })
        .collect();
    Frame::Batch(Batch { entries }).to_vec()
}

/// Sends `record` from the peer and lets the endpoint handle it as an application that
/// answers `UnknownCore` with `answer` (the endpoint's output is written and dropped: the
/// peer's mux never saw these opens). Returns the sealed input's length and the most heap
/// the thread held above what it held before.
fn deliver(
    h: &mut Harness,
    record: &[u8],
    mut answer: impl FnMut(&mut Harness, &Event),
) -> (usize, i64) {
    h.conn.send_frame(record).expect("send");
    h.deliver_measured(|h, e| {
        answer(h, e);
        true
    })
}

fn asked(h: &Harness) -> usize {
    h.events
        .iter()
        .filter(|e| matches!(e, Event::UnknownCore { .. }))
        .count()
}

/// What the endpoint may hold above twice the record's bytes (the stream holds the sealed
/// input and the opened record): a window of opens and their events, and the allocator's
/// rounding.
const SLACK: i64 = 256 * 1024;

/// What one open waiting for the application may hold at most: its copy in the mux
/// (protocol, discovery key, handshake, queue entry) and its event (about 750 bytes
/// measured).
const PER_WAITING_OPEN: i64 = 1024;

/// Refused at once (the default): thousands of unknown opens cost the record's bytes,
/// and the session lives on.
#[test]
fn thousands_of_unknown_opens_are_refused_in_bounded_memory() {
    let (mut h, _writer, core, _ch) = honest_reader(&blocks(2), EndpointConfig::default());
    let record = opens_record(2, OPENS);
    let (input, peak) = deliver(&mut h, &record, |_, _| {});
    eprintln!("{OPENS} unknown opens: {input}-byte input, peak {peak} bytes of heap");
    assert!(peak < 2 * input as i64 + SLACK, "peak {peak} for {input}");
    assert_eq!(asked(&h), 0, "not asked by default");
    assert_eq!(h.closed(), None, "the session lives on");
    assert_eq!(h.ep.peers(core), [h.sid]);
    assert_eq!(h.ep.unknown_cores(h.sid), 0);
}

/// Past `max_unknown_opens` the peer is disconnected with a typed error.
#[test]
fn a_peer_past_the_unknown_open_limit_is_disconnected() {
    let mut config = EndpointConfig::default();
    config.max_unknown_opens = 2_000;
    let (mut h, _writer, _core, _ch) = honest_reader(&blocks(2), config);
    let record = opens_record(2, OPENS);
    let (input, peak) = deliver(&mut h, &record, |_, _| {});
    assert!(peak < 2 * input as i64 + SLACK, "peak {peak} for {input}");
    assert_eq!(
        h.closed(),
        Some(&Some(SessionError::Peer(PeerError::TooManyUnknownCores {
            opens: 2_001
        })))
    );
}

/// Asked of an application that does not answer: the opens wait in the mux up to its
/// bound, the session's input waits behind them (no more of the record is decoded), and
/// memory stays bounded. Once the application refuses them, the rest of the record is
/// handled, each open asked in turn.
#[test]
fn unknown_opens_the_application_does_not_answer_stall_the_session() {
    let mut config = EndpointConfig::default();
    config.ask_unknown_cores = true;
    let max_pending = config.mux.max_pending_opens;
    let (mut h, _writer, core, _ch) = honest_reader(&blocks(2), config);
    let record = opens_record(2, OPENS);
    let (input, peak) = deliver(&mut h, &record, |_, _| {});
    let waiting = h.ep.unknown_cores(h.sid);
    eprintln!("unanswered: {waiting} opens wait, peak {peak} bytes for a {input}-byte input");
    let bound = 2 * input as i64 + SLACK + max_pending as i64 * PER_WAITING_OPEN;
    assert!(peak < bound, "peak {peak} for {input}");
    assert!(waiting > 0 && waiting <= max_pending, "{waiting} waiting");
    assert_eq!(asked(&h), waiting, "one event per waiting open");
    assert!(h.ep.is_stalled(h.sid), "the input waits for the answers");
    assert_eq!(h.closed(), None);

    // The application refuses everything it was asked, and what it is asked next.
    let pending: Vec<[u8; 32]> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::UnknownCore { discovery_key, .. } => Some(*discovery_key),
            _ => None,
        })
        .collect();
    for dk in &pending {
        assert!(h.ep.reject_core(h.sid, dk));
    }
    let (_, _) = deliver(&mut h, &[], |h, e| {
        if let Event::UnknownCore {
            session,
            discovery_key,
        } = e
        {
            assert!(h.ep.reject_core(*session, discovery_key));
        }
    });
    assert_eq!(asked(&h), OPENS as usize, "every open was asked once");
    assert_eq!(h.ep.unknown_cores(h.sid), 0);
    assert!(!h.ep.is_stalled(h.sid));
    assert_eq!(h.closed(), None);
    assert_eq!(h.ep.peers(core), [h.sid]);
}

/// What the peer sends on an open that waits for the application is buffered by the mux
/// and delivered once the application adds the core: the endpoint learns the peer's
/// length from the `sync` sent before the pairing, and downloads.
#[test]
fn messages_on_a_waiting_open_arrive_once_the_core_is_added() {
    let mut config = EndpointConfig::default();
    config.ask_unknown_cores = true;
    let (mut h, _writer, _core, _ch) = honest_reader(&blocks(2), config);
    // A second core, which the endpoint does not replicate yet.
    let other = writer_log([8; 32], &as_slices(&blocks(3)));
    let key = *other.key();
    let capability = h.capability(&key);
    let ch = h.open(&key, capability);
    h.announce(ch, &other);
    let dk = hash::discovery_key(&key);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::UnknownCore { discovery_key, .. } if *discovery_key == dk)));
    assert_eq!(h.ep.unknown_cores(h.sid), 1);
    let core = h.ep.add_core(ferrocore_tests::memory_reader(key));
    h.pump();
    assert_eq!(h.ep.peers(core), [h.sid]);
    assert_eq!(
        h.ep.remote_length(h.sid, core),
        Some(3),
        "the early sync arrived"
    );
    let download = h.ep.download(core, 0, Some(3), None).unwrap();
    h.serve(ch, &other, |_, _| {});
    assert!(h.events.iter().any(
        |e| matches!(e, Event::Download { request, result: Ok(()), .. } if *request == download)
    ));
    assert_eq!(h.ep.log(core).unwrap().contiguous_length(), 3);
}
