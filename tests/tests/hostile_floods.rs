//! Floods from a hostile peer against a real [`Endpoint`]: unsolicited data, invalid
//! requests, a peer that asks much and reads nothing, announcements, and whole records of
//! batched messages. Each bounds the heap the endpoint holds, measured by a counting
//! allocator ([`ferrocore_tests::heap`]), and checks that the endpoint keeps working or
//! ends the session with a typed error.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::bitfield::BITS_PER_PAGE;
use ferrocore::replication::{Endpoint, EndpointConfig, Event, PeerError, SessionError};
use ferrocore::wire::{
    Bitfield, Cancel, Data, DataBlock, Message, Node, Proof, Range, Request, RequestBlock,
    RequestUpgrade,
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
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
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

/// Random `range` and `bitfield` announcements (huge, overlapping, dropping) do not crash
/// the endpoint, bound what it remembers, and the endpoint keeps working.
#[test]
fn range_and_bitfield_flood_keeps_the_endpoint_working() {
    let values = blocks(6);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
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
