//! Floods from a hostile peer against a real [`Endpoint`]: unsolicited data, invalid
//! requests, a peer that asks much and reads nothing, announcements, and whole records of
//! batched messages. Each bounds the heap the endpoint holds, measured by a counting
//! allocator ([`ferrocore_tests::heap`]), and checks that the endpoint keeps working or
//! ends the session with a typed error.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::bitfield::BITS_PER_PAGE;
use ferrocore::hash;
use ferrocore::replication::{Endpoint, EndpointConfig, Event, PeerError, SessionError, PROTOCOL};
use ferrocore::wire::mux::ChannelId;
use ferrocore::wire::stream::MAX_MESSAGE_LEN;
use ferrocore::wire::{
    Bitfield, Cancel, Data, DataBlock, Message, Node, Proof, Range, Request, RequestBlock,
    RequestUpgrade, Want,
};
use ferrocore_tests::heap::{self, live_bytes};
use ferrocore_tests::hostile::*;
use ferrocore_tests::sim::Rng;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// Unsolicited `data` (request ids never sent) is ignored: no state grows, no session
/// error, and the endpoint keeps replicating with the same peer afterwards.
#[test]
fn unsolicited_data_flood_is_ignored() {
    let values = blocks(4);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    h.pump();
    let mut rng = Rng::new(1);
    // Buffers reach their working size in the first rounds; after that nothing may grow.
    let mut warm = 0;
    let mut after = Vec::new();
    // Before any sync the reader has no request in flight: every id is unsolicited.
    for round in 0..40 {
        if round == 5 {
            warm = live_bytes();
        }
        for _ in 0..500 {
            let index = rng.below(1 << 40);
            let value = vec![round as u8; rng.range(0, 200) as usize];
            let nodes = (0..rng.range(0, 8))
                .map(|k| Node {
                    index: index * 2 + 1 + 2 * k,
                    size: rng.below(1 << 20),
                    hash: rng.bytes32(),
                })
                .collect();
            let proof = Proof {
                fork: rng.below(3),
                block: Some(DataBlock {
                    index,
                    value: value.into(),
                    nodes,
                }),
                ..Proof::default()
            };
            let request = rng.range(1, u32::MAX as u64);
            h.send_quiet(ch, &Message::Data(Data { request, proof }));
        }
        h.pump();
        if round >= 5 {
            after.push(live_bytes() - warm);
        }
    }
    assert!(h.closed().is_none(), "ignored, not fatal: {:?}", h.closed());
    let grown = *after.iter().max().unwrap();
    assert!(
        grown < 64 * 1024,
        "the endpoint grew by {grown} bytes over 17 500 unsolicited data messages: {after:?}"
    );
    assert_eq!(h.ep.log(core).unwrap().length(), 0, "nothing was applied");
    assert_eq!(h.ep.inflight(h.sid, core), 0);

    // Still healthy: an honest exchange works.
    let get = h.ep.get(core, 3, None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == values[3][..]
    )));
}

#[test]
fn too_many_invalid_requests_close_the_session() {
    let (ep, core, copy) = writer_endpoint(3);
    let max = ep.config().max_invalid_requests;
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(copy.key());
    // An upgrade past the writer's length is invalid (answered with noData, reason 2).
    let invalid = |id| {
        Message::Request(Request {
            id,
            fork: 0,
            upgrade: Some(RequestUpgrade {
                start: 0,
                length: 1000,
            }),
            ..Request::default()
        })
    };
    for id in 1..=u64::from(max) {
        h.send(ch, &invalid(id));
        assert!(h.closed().is_none(), "still tolerated after {id}");
    }
    let refused: Vec<u64> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::NoData(n) if n.reason == 2 => Some(n.request),
            _ => None,
        })
        .collect();
    assert_eq!(refused, (1..=u64::from(max)).collect::<Vec<_>>());
    h.send(ch, &invalid(u64::from(max) + 1));
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::TooManyInvalidRequests(c)))) => {
            assert_eq!(*c, core);
        }
        other => panic!("expected TooManyInvalidRequests, got {other:?}"),
    }
    assert_eq!(
        h.ep.log(core).unwrap().length(),
        3,
        "the writer is unharmed"
    );
}

/// A peer that asks for much and does not read costs bounded output: answers wait while
/// `max_unsent` bytes are unwritten, are all sent in order once the peer reads, and a peer
/// with more than `max_queued_requests` waiting is disconnected.
#[test]
fn a_peer_that_does_not_read_gets_bounded_output() {
    const BLOCKS: usize = 64;
    let values: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![i as u8; 16 * 1024]).collect();
    let mut config = EndpointConfig::default();
    config.max_unsent = Some(64 * 1024);
    config.max_queued_requests = 100;
    let mut ep = Endpoint::new(config);
    let core = ep.add_core(writer_log(WRITER_SEED, &as_slices(&values)));
    let key = *ep.log(core).unwrap().key();
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.take_received();
    let block = |id: u64, index: u64| {
        Message::Request(Request {
            id,
            fork: 0,
            block: Some(RequestBlock { index, nodes: 0 }),
            ..Request::default()
        })
    };

    // 64 requests for 16 KiB blocks (1 MiB of answers), in one read, by a peer that reads
    // nothing.
    h.hold = true;
    for i in 0..BLOCKS as u64 {
        h.send_quiet(ch, &block(i + 1, i));
    }
    h.pump();
    let unsent = h.ep.unsent(h.sid);
    let waiting = h.ep.deferred_requests(h.sid);
    assert!(unsent >= 64 * 1024, "served up to the budget: {unsent}");
    assert!(
        unsent < 64 * 1024 + 2 * 17 * 1024,
        "at most one answer past the budget: {unsent}"
    );
    assert!(waiting >= BLOCKS - 6, "the rest waits: {waiting}");
    assert_eq!(h.held.iter().map(Bytes::len).sum::<usize>(), unsent);

    // The peer reads: every request is answered, in order, with the right block.
    h.release();
    assert_eq!(h.ep.deferred_requests(h.sid), 0);
    let answers: Vec<(u64, Vec<u8>)> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::Data(d) => Some((d.request, d.proof.block.unwrap().value.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), BLOCKS);
    for (k, (id, value)) in answers.iter().enumerate() {
        assert_eq!(*id, k as u64 + 1);
        assert_eq!(value, &values[k]);
    }
    assert!(h.closed().is_none());

    // A cancelled request that still waits is not answered.
    h.hold = true;
    for i in 0..BLOCKS as u64 {
        h.send_quiet(ch, &block(1000 + i, i));
    }
    h.send(
        ch,
        &Message::Cancel(Cancel {
            request: 1000 + BLOCKS as u64 - 1,
        }),
    );
    h.release();
    let ids: Vec<u64> = h
        .take_received()
        .into_iter()
        .filter_map(|(_, m)| match m {
            Message::Data(d) => Some(d.request),
            _ => None,
        })
        .collect();
    assert_eq!(ids, (1000..1000 + BLOCKS as u64 - 1).collect::<Vec<_>>());

    // More than `max_queued_requests` waiting (a few are answered within the budget
    // first): disconnected with a typed reason.
    h.hold = true;
    for i in 0..120 {
        h.send_quiet(ch, &block(2000 + i, i % BLOCKS as u64));
    }
    h.pump();
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::TooManyRequests(c)))) => assert_eq!(*c, core),
        other => panic!("expected TooManyRequests, got {other:?}"),
    }
}

/// `want`s from a peer that reads nothing wait like requests: a `want` is answered with
/// bitfields that can be a megabyte for a few bytes asked, so unanswered ones would let a
/// peer grow our output without bound. All are answered once the peer reads; past
/// `max_queued_requests` waiting, the peer is disconnected.
#[test]
fn wants_from_a_peer_that_does_not_read_wait_for_its_output() {
    let mut config = EndpointConfig::default();
    config.max_unsent = Some(256);
    config.max_queued_requests = 100;
    let mut ep = Endpoint::new(config);
    let values = blocks(3000);
    let mut log = writer_log(WRITER_SEED, &as_slices(&values));
    // A hole at the start: wants are answered with bitfields, not one contiguous range.
    log.clear(0, 1).unwrap();
    let core = ep.add_core(log);
    let key = *ep.log(core).unwrap().key();
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.take_received();
    let want = Message::Want(Want {
        start: 0,
        length: 3000,
        any: false,
    });

    h.hold = true;
    for _ in 0..90 {
        h.send_quiet(ch, &want);
    }
    h.pump();
    let unsent = h.ep.unsent(h.sid);
    assert!(
        unsent < 256 + 512,
        "answered up to the budget, one answer past it at most: {unsent}"
    );
    assert!(h.ep.deferred_requests(h.sid) >= 80, "the rest waits");
    h.release();
    assert_eq!(h.ep.deferred_requests(h.sid), 0);
    let bitfields = h
        .take_received()
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Bitfield(b) if b.start == 0 && b.bitfield[0] == !1))
        .count();
    assert_eq!(bitfields, 90, "every want answered once the peer read");

    h.hold = true;
    for _ in 0..200 {
        h.send_quiet(ch, &want);
    }
    h.pump();
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::TooManyRequests(c)))) => assert_eq!(*c, core),
        other => panic!("expected TooManyRequests, got {other:?}"),
    }
}

/// Random `range` and `bitfield` announcements (huge, overlapping, dropping) do not crash
/// the endpoint, bound what it remembers, and the endpoint keeps working.
#[test]
fn range_and_bitfield_flood_keeps_the_endpoint_working() {
    let values = blocks(6);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    let live = h.ep.download(core, 0, None, None).unwrap();
    let mut rng = Rng::new(2);
    for _ in 0..20 {
        for _ in 0..200 {
            // Any number a JS peer can send (up to 2^53 - 1).
            let start = match rng.below(4) {
                0 => rng.below(1 << 20),
                1 | 2 => rng.below(1 << 53),
                _ => rng.below(64),
            };
            let m = if rng.chance(1, 2) {
                Message::Range(Range {
                    drop: rng.chance(1, 4),
                    start,
                    length: match rng.below(3) {
                        0 => rng.below(100),
                        1 => rng.below(1 << 40),
                        _ => rng.below(1 << 53),
                    },
                })
            } else {
                let cap = if rng.chance(1, 8) { 4096 } else { 64 };
                let words = rng.below(cap) as usize;
                let bitfield = (0..words)
                    .map(|_| match rng.below(3) {
                        0 => 0,
                        1 => u32::MAX,
                        _ => rng.next_u64() as u32,
                    })
                    .collect();
                Message::Bitfield(Bitfield {
                    start: start - start % 32,
                    bitfield,
                })
            };
            h.send_quiet(ch, &m);
        }
        h.pump();
        // Whatever it now believes the peer has, requests to it stay bounded.
        assert!(h.ep.inflight(h.sid, core) <= h.ep.config().max_inflight);
    }
    assert!(h.closed().is_none(), "{:?}", h.closed());
    // Still healthy: the peer serves honestly (and refuses what it does not have).
    h.announce(ch, &writer);
    for _ in 0..10 {
        h.serve(ch, &writer, |_, _| {});
        h.advance(Duration::from_secs(1));
    }
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 6);
    assert_eq!(
        log.contiguous_length(),
        6,
        "every block arrived despite the noise"
    );
    for (i, v) in values.iter().enumerate() {
        assert_eq!(log.get(i as u64).unwrap().as_deref(), Some(&v[..]));
    }
    assert!(h.closed().is_none());
    h.ep.cancel(live);
}

/// `range` announcements of whole, disjoint bitfield pages: each would be stored as one
/// run of full pages. The budget (`max_remote_bitfield_pages`) must bound those runs too
/// (it once counted partial pages only: 100 000 such messages held ~3.4 MB, growing
/// ~34 bytes per message).
#[test]
fn range_flood_of_disjoint_full_pages_keeps_memory_bounded() {
    let writer = writer_log(WRITER_SEED, &as_slices(&blocks(2)));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.pump();
    let mut k = 10u64;
    let mut warm = 0;
    let mut grown = Vec::new();
    for round in 0..4 {
        for _ in 0..8_000 {
            // One whole page, with a gap before the next, far beyond anything real.
            h.send_quiet(
                ch,
                &Message::Range(Range {
                    drop: false,
                    start: k * 2 * BITS_PER_PAGE,
                    length: BITS_PER_PAGE,
                }),
            );
            k += 1;
        }
        h.pump();
        if round == 0 {
            // Buffers reached their working size.
            warm = live_bytes();
        } else {
            grown.push(live_bytes() - warm);
        }
    }
    assert!(h.closed().is_none());
    assert!(h.ep.log(core).unwrap().length() == 0);
    // 24 000 more messages after the first 8 000: what the endpoint holds must not grow
    // with them (its budget is 256 pages of 4 KiB, reached or not; unbounded runs grew by
    // ~34 bytes per message, ~800 KB here).
    let last = *grown.last().unwrap();
    assert!(
        last < 256 * 1024,
        "the endpoint holds {last} more bytes after 24 000 more range messages (per 8 000: {grown:?})"
    );
}

// ----- whole records of batched messages -----------------------------------------------------

/// A protomux batch frame: `entries` on the peer's channel `channel`, each already encoded
/// as `uint len ‖ uint type ‖ payload`.
fn batch_frame(channel: ChannelId, entries: impl IntoIterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut frame = vec![0, 0];
    frame.extend_from_slice(&uint(channel.get()));
    for entry in entries {
        frame.extend_from_slice(&entry);
    }
    frame
}

/// The compact encoding of `n`.
fn uint(n: u64) -> Vec<u8> {
    let mut out = vec![0; ferrocore::wire::encoding::uint_len(n)];
    ferrocore::wire::encoding::Writer::new(&mut out).uint(n);
    out
}

/// A batch entry of type `message_type` with `payload`.
fn entry(message_type: u64, payload: &[u8]) -> Vec<u8> {
    let mut body = uint(message_type);
    body.extend_from_slice(payload);
    let mut e = uint(body.len() as u64);
    e.extend_from_slice(&body);
    e
}

/// [`Harness::deliver_measured`], keeping the events `keep` accepts.
fn deliver_measured(h: &mut Harness, mut keep: impl FnMut(&Event) -> bool) -> (usize, i64) {
    h.deliver_measured(|_, e| keep(e))
}

/// The review's attack: a peer that knows only the discovery key opens the core's channel
/// with a wrong capability and sends, in one 16 MiB record, a batch of 8.4 million empty
/// messages on it. The session ends with `BadCapability` at the open, and handling it
/// costs the record's own bytes, not an event per entry (it once took 2.6 GB).
#[test]
fn a_record_of_millions_of_messages_behind_a_wrong_capability_costs_its_own_bytes() {
    let (ep, core, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Ignore);
    let dk = hash::discovery_key(copy.key());
    let ch = h
        .conn
        .mux()
        .open(PROTOCOL, Some(&dk), &Harness::handshake([0x5a; 32]))
        .unwrap();
    let mut frame = batch_frame(ch, []);
    frame.resize(MAX_MESSAGE_LEN - (MAX_MESSAGE_LEN - frame.len()) % 2, 0);
    for pair in frame[3..].chunks_exact_mut(2) {
        pair.copy_from_slice(&[1, 0]); // len 1: type 0 (sync), empty
    }
    h.conn.send_frame(&frame).unwrap();
    let (input, peak) = deliver_measured(&mut h, |_| true);
    assert!(input > 16_000_000, "one record of {input} bytes");
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::BadCapability(c)))) => assert_eq!(*c, core),
        other => panic!("expected BadCapability, got {other:?}"),
    }
    assert!(
        peak < input as i64 + (1 << 20),
        "handling a {input}-byte record took {peak} bytes of heap at its peak"
    );
}

/// The same flood from a peer with the right capability, of messages of a type the protocol
/// does not define (ignored, as JS does): every entry is handled, in the memory of the
/// record, and the session keeps working.
#[test]
fn a_record_of_millions_of_unknown_messages_is_handled_in_its_own_bytes() {
    let (ep, _, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(copy.key());
    h.take_received();
    let frame = batch_frame(ch, (0..2_000_000).map(|_| entry(100, &[])));
    h.conn.send_frame(&frame).unwrap();
    let (input, peak) = deliver_measured(&mut h, |_| true);
    assert!(h.closed().is_none(), "ignored, not fatal: {:?}", h.closed());
    assert!(
        peak < input as i64 + (1 << 20),
        "handling a {input}-byte record took {peak} bytes of heap at its peak"
    );
    // Still serving.
    h.send(
        ch,
        &Message::Request(Request {
            id: 7,
            fork: 0,
            block: Some(RequestBlock { index: 1, nodes: 0 }),
            ..Request::default()
        }),
    );
    assert!(h
        .take_received()
        .iter()
        .any(|(_, m)| matches!(m, Message::Data(d) if d.request == 7)));
}

/// A record of a million extension messages: each is an event for the application, and
/// the endpoint hands the peer's input on only as the application drains them
/// (`max_event_bytes`), so the events never pile up. All arrive, in order.
#[test]
fn an_extension_flood_waits_for_the_application_and_every_message_arrives() {
    const N: u32 = 1_000_000;
    let (ep, core, copy) = writer_endpoint(4);
    let max_event_bytes = ep.config().max_event_bytes as i64;
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(copy.key());
    // Each: type 9, name "" (same as before: none), message = the index, 4 bytes.
    let frame = batch_frame(
        ch,
        (0..N).map(|i| {
            let mut payload = vec![0];
            payload.extend_from_slice(&i.to_le_bytes());
            entry(9, &payload)
        }),
    );
    h.conn.send_frame(&frame).unwrap();
    let mut next = 0u32;
    let (input, peak) = deliver_measured(&mut h, |e| match e {
        Event::Extension {
            core: c, message, ..
        } => {
            assert_eq!(*c, core);
            assert_eq!(message[..], next.to_le_bytes(), "in order");
            next += 1;
            false
        }
        _ => true,
    });
    assert_eq!(next, N, "every extension message reached the application");
    assert!(h.closed().is_none(), "{:?}", h.closed());
    assert!(
        peak < input as i64 + 2 * max_event_bytes + (1 << 20),
        "a {input}-byte record of extensions took {peak} bytes of heap at its peak"
    );
}

/// Many small records, each a batch of a few messages, in one input: handled record by
/// record in about the input's own bytes (not a queued event per record or per entry).
#[test]
fn many_small_records_of_batches_cost_no_more_than_their_bytes() {
    let (ep, _, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(copy.key());
    let frame = batch_frame(ch, (0..32).map(|_| entry(100, &[])));
    for _ in 0..20_000 {
        h.conn.send_frame(&frame).unwrap();
    }
    let (input, peak) = deliver_measured(&mut h, |_| true);
    assert!(input > 1_700_000);
    assert!(h.closed().is_none(), "{:?}", h.closed());
    assert!(
        peak < input as i64 + (1 << 20),
        "{input} bytes of small records took {peak} bytes of heap at their peak"
    );
}

/// A record prefix announcing the largest record, then a trickle of its body: the endpoint
/// holds what arrived, not what was announced (3 bytes must not cost 16 MiB).
#[test]
fn an_announced_record_costs_what_arrived() {
    let (ep, _, _) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let base = live_bytes();
    heap::reset_peak();
    let (sid, now) = (h.sid, h.now);
    h.ep.handle_input(sid, now, &[0xff, 0xff, 0xff]);
    for _ in 0..100 {
        h.ep.handle_input(sid, now, &[0xab; 100]);
    }
    let peak = heap::peak_bytes() - base;
    assert!(h.closed().is_none());
    assert!(
        peak < 64 * 1024,
        "10 KB of a record announced as 16 MiB took {peak} bytes of heap"
    );
}
