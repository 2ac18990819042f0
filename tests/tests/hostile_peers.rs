//! Hand-driven hostile peers against a real [`Endpoint`] (see [`ferrocore_tests::hostile`]):
//! a tampered block or uncle node, a bad signature, a wrong capability, an open for a core
//! the endpoint does not have, an oversize or garbage record, a conflicting writer, slow
//! honest peers, forks on the wire. Each asserts how the endpoint ends the session (the
//! typed [`SessionError`]) or that it shrugs the abuse off and keeps working, and that a
//! reader's log holds only verified data. Floods and their memory bounds are in
//! `hostile_floods.rs`.

use std::time::Duration;

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::replication::{CoreId, EndpointConfig, Event, PeerError, SessionError};
use ferrocore::wire::connection::ConnectionError;
use ferrocore::wire::mux::{ChannelId, CloseReason};
use ferrocore::wire::stream::StreamError;
use ferrocore::wire::{DataBlock, Message, Range, Request, RequestBlock, RequestUpgrade, Sync};
use ferrocore::ProofError;
use ferrocore_tests::hostile::*;
use ferrocore_tests::memory_reader;
use ferrocore_tests::sim::{LinkConfig, Sim};

fn assert_invalid_proof(h: &Harness, core: CoreId) -> ProofError {
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::InvalidProof { core: c, error }))) => {
            assert_eq!(*c, core);
            error.clone()
        }
        other => panic!(
            "expected InvalidProof, got {other:?}; events {:?}",
            h.events
        ),
    }
}

/// A reader whose honest-looking peer serves the upgrade but tampers with block proofs.
fn tampered_block(tamper: impl Fn(&mut DataBlock)) -> ProofError {
    let values = blocks(8);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    let get = h.ep.get(core, 5, None).unwrap();
    h.announce(ch, &writer);
    let mut tampered = 0;
    h.serve(ch, &writer, |req, reply| {
        if let (Some(_), Message::Data(d)) = (req.block, reply) {
            if let Some(b) = d.proof.block.as_mut() {
                tamper(b);
                tampered += 1;
            }
        }
    });
    assert!(tampered > 0, "the reader asked for a block");
    let error = assert_invalid_proof(&h, core);
    // Only verified data: the upgrade (honest) was applied, the tampered block was not.
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 8, "the honest upgrade was applied");
    assert!(!log.has_block(5));
    assert_eq!(log.get(5).unwrap(), None);
    for i in 0..8 {
        if let Some(v) = log.get(i).unwrap() {
            assert_eq!(&v[..], &values[i as usize][..], "block {i} is the writer's");
        }
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::Get { request, result: Ok(_), .. } if *request == get)),
        "the get did not complete with tampered data"
    );
    error
}

// ----- reader side: bad data --------------------------------------------------------------------

#[test]
fn tampered_block_value_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        let mut v = b.value.to_vec();
        v[0] ^= 1;
        b.value = Bytes::from(v);
    });
    assert!(matches!(e, ProofError::ChecksumMismatch(_)), "{e:?}");
}

#[test]
fn wrong_uncle_node_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        assert!(!b.nodes.is_empty(), "the block proof carries uncles");
        b.nodes[0].hash[3] ^= 0x40;
    });
    assert!(matches!(e, ProofError::ChecksumMismatch(_)), "{e:?}");
}

#[test]
fn uncle_node_at_the_wrong_index_closes_with_invalid_proof() {
    let e = tampered_block(|b| {
        assert!(!b.nodes.is_empty(), "the block proof carries uncles");
        b.nodes[0].index += 2;
    });
    assert!(matches!(e, ProofError::UnexpectedNode { .. }), "{e:?}");
}

#[test]
fn upgrade_with_bad_signature_closes_with_invalid_proof() {
    let values = blocks(4);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    let update = h.ep.update(core, None).unwrap();
    h.announce(ch, &writer);
    let mut forged = 0;
    h.serve(ch, &writer, |_, reply| {
        if let Message::Data(d) = reply {
            if let Some(u) = d.proof.upgrade.as_mut() {
                let mut sig = u.signature.as_ref().expect("signed").to_vec();
                sig[10] ^= 0x01;
                u.signature = Some(Bytes::from(sig));
                forged += 1;
            }
        }
    });
    assert_eq!(forged, 1);
    assert_eq!(assert_invalid_proof(&h, core), ProofError::InvalidSignature);
    let log = h.ep.log(core).unwrap();
    assert_eq!((log.length(), log.fork()), (0, 0), "nothing was adopted");
    assert!(log.signature().is_none());
    // The update ends (no peer is left) rather than reporting the forged length.
    assert!(!h.events.iter().any(
        |e| matches!(e, Event::Update { request, result: Ok(l), .. } if *request == update && *l > 0)
    ));
}

#[test]
fn upgrade_with_bad_root_closes_with_invalid_proof() {
    let values = blocks(6);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    h.ep.update(core, None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, reply| {
        if let Message::Data(d) = reply {
            if let Some(u) = d.proof.upgrade.as_mut() {
                let last = u.nodes.last_mut().expect("root nodes");
                last.size += 1;
            }
        }
    });
    assert_eq!(assert_invalid_proof(&h, core), ProofError::InvalidSignature);
    assert_eq!(h.ep.log(core).unwrap().length(), 0);
}

// ----- writer side: capabilities and unknown cores ---------------------------------------------

#[test]
fn wrong_capability_closes_with_bad_capability() {
    let (ep, core, _) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Capability([0x5a; 32]));
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::BadCapability(c)))) => assert_eq!(*c, core),
        other => panic!("expected BadCapability, got {other:?}"),
    }
    assert!(h.ep.peers(core).is_empty());
    assert!(
        !h.take_received()
            .iter()
            .any(|(_, m)| matches!(m, Message::Data(_))),
        "nothing was served"
    );
    assert_eq!(h.ep.sessions().count(), 0);
}

#[test]
fn capability_of_the_other_role_closes_with_bad_capability() {
    let (ep, core, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Ignore);
    let key = *copy.key();
    // The capability the *responder* would send: a reflected open must not pass.
    let c = h.connected.as_ref().unwrap();
    let reflected = hash::capability(&c.handshake_hash, false, &key);
    h.open(&key, reflected);
    match h.closed() {
        Some(Some(SessionError::Peer(PeerError::BadCapability(c)))) => assert_eq!(*c, core),
        other => panic!("expected BadCapability, got {other:?}"),
    }
}

#[test]
fn open_for_an_unknown_core_is_rejected_and_the_session_keeps_working() {
    let (ep, core, copy) = writer_endpoint(4);
    let mut h = Harness::new(ep, OpenPolicy::Ignore);
    // A core the endpoint does not have: rejected, nothing else happens.
    let unknown_key = *writer_log([99; 32], &[]).key();
    let cap = h.capability(&unknown_key);
    let unknown = h.open(&unknown_key, cap);
    assert!(
        h.peer_closed.contains(&(unknown, CloseReason::Rejected)),
        "the open was rejected: {:?}",
        h.peer_closed
    );
    // Also a channel of another protocol and one without an id.
    let other = h.conn.mux().open("other/proto", None, b"").unwrap();
    h.pump();
    assert!(h
        .peer_closed
        .iter()
        .any(|&(c, r)| c == other && r == CloseReason::Rejected));
    assert!(h.closed().is_none(), "the session stays up");
    assert_eq!(h.ep.sessions().count(), 1);

    // The known core still replicates over the same connection.
    let key = *copy.key();
    let cap = h.capability(&key);
    let ch = h.open(&key, cap);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::PeerAdded { core: c, .. } if *c == core)));
    h.send(
        ch,
        &Message::Request(Request {
            id: 1,
            fork: 0,
            block: Some(RequestBlock { index: 2, nodes: 0 }),
            upgrade: Some(RequestUpgrade {
                start: 0,
                length: 4,
            }),
            manifest: true,
            ..Request::default()
        }),
    );
    let data = h
        .take_received()
        .into_iter()
        .find_map(|(c, m)| match m {
            Message::Data(d) if c == ch && d.request == 1 => Some(d),
            _ => None,
        })
        .expect("the writer answered");
    let mut reader = memory_reader(key);
    reader.apply_proof(&data.proof).expect("a valid proof");
    assert_eq!(reader.get(2).unwrap(), copy.get(2).unwrap());
    assert!(h.closed().is_none());
}

// ----- transport abuse ---------------------------------------------------------------------------

#[test]
fn oversize_record_closes_with_a_transport_error() {
    let values = blocks(3);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.stream.max_record_len = 1 << 16;
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.ep.download(core, 0, Some(3), None).unwrap();
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().contiguous_length(), 3);
    // A record length prefix above the limit (raw bytes after the handshake): refused
    // before anything is buffered.
    let (sid, now) = (h.sid, h.now);
    h.ep.handle_input(sid, now, &[0xff, 0xff, 0x7f]);
    h.pump();
    match h.closed() {
        Some(Some(SessionError::Connection(ConnectionError::Stream(StreamError::Oversize {
            len,
            max,
        })))) => {
            assert_eq!((*len, *max), (0x7f_ffff, 1 << 16));
        }
        other => panic!("expected an oversize error, got {other:?}"),
    }
    assert_eq!(
        h.closed().unwrap().as_ref().unwrap().blame(),
        ferrocore::wire::stream::Blame::Peer
    );
    let log = h.ep.log(core).unwrap();
    assert_eq!(log.length(), 3);
    for (i, v) in values.iter().enumerate() {
        assert_eq!(log.get(i as u64).unwrap().as_deref(), Some(&v[..]));
    }
}

#[test]
fn garbage_record_closes_with_a_decrypt_error() {
    let (ep, core, _) = writer_endpoint(3);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let (sid, now) = (h.sid, h.now);
    let mut rec = vec![40, 0, 0];
    rec.extend([0xab; 40]);
    h.ep.handle_input(sid, now, &rec);
    h.pump();
    assert!(
        matches!(
            h.closed(),
            Some(Some(SessionError::Connection(ConnectionError::Stream(
                StreamError::Decrypt
            ))))
        ),
        "{:?}",
        h.closed()
    );
    assert_eq!(h.ep.log(core).unwrap().length(), 3);
}

// ----- conflicting histories under one key -------------------------------------------------------

/// Two writers with the same key pair each appended different blocks (a fork made without
/// a truncate). A reader that downloaded A's history and then meets B rejects B's proofs
/// and keeps A's data.
#[test]
fn conflicting_writer_under_the_same_key_is_rejected() {
    for seed in 0..4 {
        let mut sim = Sim::new(seed);
        let a = sim.add_node(EndpointConfig::default());
        let b = sim.add_node(EndpointConfig::default());
        let r = sim.add_node(EndpointConfig::default());
        let va: Vec<Vec<u8>> = (0..3).map(|i| format!("A{i}").into_bytes()).collect();
        let vb: Vec<Vec<u8>> = (0..5).map(|i| format!("B{i}").into_bytes()).collect();
        let la = writer_log(WRITER_SEED, &as_slices(&va));
        let lb = writer_log(WRITER_SEED, &as_slices(&vb));
        assert_eq!(la.key(), lb.key());
        let key = *la.key();
        sim.with(a, |e, _| e.add_core(la));
        sim.with(b, |e, _| e.add_core(lb));
        let core = sim.with(r, |e, _| e.add_core(memory_reader(key)));
        let link_a = sim.connect(a, r, LinkConfig::default());
        let d = sim
            .with(r, |e, _| e.download(core, 0, Some(3), None))
            .unwrap();
        assert!(sim.run_until(Duration::from_secs(30), |s| s
            .events(r)
            .iter()
            .any(|(_, e)| matches!(e, Event::Download { request, result: Ok(()), .. } if *request == d))));
        let link_b = sim.connect(b, r, LinkConfig::default());
        let rb = sim.sessions(link_b)[1].expect("r's session with b");
        sim.run_until(Duration::from_secs(30), |s| {
            s.events(r)
                .iter()
                .any(|(_, e)| matches!(e, Event::Closed { session, .. } if *session == rb))
        });
        let closed = sim.events(r).iter().find_map(|(_, e)| match e {
            Event::Closed { session, error } if *session == rb => Some(error.clone()),
            _ => None,
        });
        match closed {
            Some(Some(SessionError::Peer(PeerError::InvalidProof { core: c, .. }))) => {
                assert_eq!(c, core);
            }
            other => panic!("seed {seed}: expected InvalidProof from B, got {other:?}"),
        }
        assert!(sim.is_up(link_a), "A's session is unaffected");
        let log = sim.endpoint(r).log(core).unwrap();
        assert_eq!((log.length(), log.fork()), (3, 0));
        for (i, v) in va.iter().enumerate() {
            assert_eq!(
                log.get(i as u64).unwrap().as_deref(),
                Some(&v[..]),
                "A's block {i}"
            );
        }
    }
}

// ----- honest but slow peers ------------------------------------------------------------------------

/// A peer that answers a request after the endpoint timed it out (and sent `cancel`) is
/// honest, merely slow. Its late answer must not be taken for the answer of another
/// request that reused the id: here the late answer is a stale upgrade (from length 0,
/// with additional nodes up to 3). The endpoint never reuses the id of a request it timed
/// out, so the late answer matches nothing and is ignored (before that fix it was taken
/// for a newer request with the same id and closed the session with `InvalidProof`). The
/// JS reference only reuses a cancelled id after a later request's
/// round trip, and drops answers that do not match their request (`_matchingRequest`).
#[test]
fn late_answer_to_a_cancelled_request_does_not_close_an_honest_session() {
    let values = blocks(3);
    let mut writer = writer_log(WRITER_SEED, &as_slices(&values[..1]));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.request_timeout = Duration::from_secs(1);
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    let get = h.ep.get(core, 2, None).unwrap();
    h.announce(ch, &writer);
    let first = h.take_requests();
    assert!(
        matches!(&first[..], [r] if r.upgrade.is_some()),
        "an upgrade request: {first:?}"
    );
    // The peer is slow: the request times out, is cancelled and sent again.
    h.advance(Duration::from_secs(2));
    let again = h.take_requests();
    assert!(
        matches!(&again[..], [r] if r.upgrade.is_some()),
        "{again:?}"
    );
    // The writer appends meanwhile, then answers both, in order.
    writer.append(&values[1]).unwrap();
    writer.append(&values[2]).unwrap();
    let late = answer(&writer, &first[0]);
    let fresh = answer(&writer, &again[0]);
    // The late answer (to the cancelled request) comes first: its id was not reused, so
    // it is ignored (nothing is applied, nobody is blamed).
    h.send(ch, &late);
    assert_eq!(h.closed(), None);
    // The peer announces its new length; the endpoint asks for block 2.
    h.announce(ch, &writer);
    // The answer to the re-sent upgrade request arrives.
    h.send(ch, &fresh);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(
        h.closed(),
        None,
        "an honest peer stays connected: {:?}",
        h.events
    );
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == values[2][..]
    )));
}

/// An application call made when the endpoint has not been told the time for a while
/// (no input, no timer due) must not schedule requests against that stale clock (it once
/// did: with a request timeout shorter than the idle gap, the request was already expired
/// when sent, and the next `handle_timeout` cancelled it at once).
#[test]
fn requests_sent_after_an_idle_gap_are_not_cancelled_at_once() {
    let values = blocks(3);
    let writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let mut config = EndpointConfig::default();
    config.request_timeout = Duration::from_secs(2);
    let (ep, core) = reader_endpoint(key, config);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 3);
    // 4 s pass with nothing due on the endpoint (keep-alives come every 5 s).
    h.now += Duration::from_secs(4);
    assert!(h.ep.poll_timeout().is_none_or(|t| t > h.now));
    h.ep.get(core, 1, None).unwrap();
    h.pump();
    let sent = h.take_requests();
    assert_eq!(sent.len(), 1);
    // Time has not moved; only the endpoint's timers are checked.
    if h.ep.poll_timeout().is_some_and(|t| t <= h.now) {
        h.ep.handle_timeout(h.now);
    }
    h.pump();
    let cancels: Vec<_> = h
        .take_received()
        .into_iter()
        .filter(|(_, m)| matches!(m, Message::Cancel(_)))
        .collect();
    assert!(
        cancels.is_empty(),
        "a request cancelled 0 s after it was sent: {cancels:?}"
    );
}

// ----- truncations and forks on the wire --------------------------------------------------------

/// The messages the endpoint sent, without their channel.
fn messages(received: Vec<(ChannelId, Message)>) -> Vec<Message> {
    received.into_iter().map(|(_, m)| m).collect()
}

/// A writer that truncates tells its peers as the reference does: the dropped blocks as
/// `range { drop }`, then its `sync` with the new fork (`canUpgrade` false: the peer is on
/// another fork), then the blocks it keeps.
#[test]
fn truncation_is_announced_as_a_dropped_range_then_the_new_fork() {
    let (ep, core, _) = writer_endpoint(10);
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let key = *h.ep.log(core).unwrap().key();
    let ch = h.channel(&key);
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 0,
            length: 0,
            remote_length: 10,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: false,
            allow_push: false,
        }),
    );
    let before = messages(h.take_received());
    assert!(
        before.contains(&Message::Range(Range {
            drop: false,
            start: 0,
            length: 10
        })),
        "{before:?}"
    );
    h.ep.log_mut(core).unwrap().truncate(7, None).unwrap();
    h.pump();
    let after = messages(h.take_received());
    match &after[..] {
        [Message::Range(dropped), Message::Sync(sync), Message::Range(kept)] => {
            assert_eq!(
                *dropped,
                Range {
                    drop: true,
                    start: 7,
                    length: 3
                }
            );
            assert_eq!((sync.fork, sync.length), (1, 7));
            assert_eq!(
                sync.remote_length, 0,
                "the peer's length is on another fork"
            );
            assert!(!sync.can_upgrade, "the peer must reorg, not upgrade");
            assert_eq!(
                *kept,
                Range {
                    drop: false,
                    start: 0,
                    length: 7
                }
            );
        }
        other => panic!("after a truncation: {other:?}"),
    }
    // Once the peer is on the new fork it may upgrade from us again.
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 1,
            length: 7,
            remote_length: 7,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: false,
            allow_push: false,
        }),
    );
    h.ep.log_mut(core).unwrap().append(b"new").unwrap();
    h.pump();
    let syncs: Vec<Sync> = messages(h.take_received())
        .into_iter()
        .filter_map(|m| match m {
            Message::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert!(
        syncs
            .last()
            .is_some_and(|s| s.can_upgrade && (s.fork, s.length) == (1, 8)),
        "{syncs:?}"
    );
}

/// Requests for blocks sent by the endpoint, by index.
fn block_requests(received: &[Message]) -> Vec<u64> {
    received
        .iter()
        .filter_map(|m| match m {
            Message::Request(r) => r.block.map(|b| b.index),
            _ => None,
        })
        .collect()
}

/// A peer that moved to another fork is known only by what it announces on it: what it
/// said it had on the old fork (here it sends no `range { drop }`) is forgotten, and the
/// endpoint asks (`want`) before requesting blocks from it.
#[test]
fn a_peer_on_a_new_fork_is_asked_what_it_has() {
    let values = blocks(10);
    let mut writer = writer_log(WRITER_SEED, &as_slices(&values));
    let key = *writer.key();
    let (ep, core) = reader_endpoint(key, EndpointConfig::default());
    let mut h = Harness::new(ep, OpenPolicy::Honest);
    let ch = h.channel(&key);
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 10, "eager upgrade");
    // The peer rewrites blocks 7.. on fork 1 and says only its new sync.
    writer.truncate(7, None).unwrap();
    let new: Vec<Vec<u8>> = (7..10)
        .map(|i| format!("fork 1 block {i}").into_bytes())
        .collect();
    writer.append_batch(as_slices(&new)).unwrap();
    h.send(
        ch,
        &Message::Sync(Sync {
            fork: 1,
            length: 10,
            remote_length: 0,
            can_upgrade: false,
            uploading: true,
            downloading: true,
            has_manifest: true,
            allow_push: false,
        }),
    );
    h.serve(ch, &writer, |_, _| {});
    let log = h.ep.log(core).unwrap();
    assert_eq!((log.fork(), log.length()), (1, 10), "the reader reorged");
    let get = h.ep.get(core, 8, None).unwrap();
    h.pump();
    let sent = messages(h.take_received());
    assert!(block_requests(&sent).is_empty(), "{sent:?}");
    assert!(
        sent.iter()
            .any(|m| matches!(m, Message::Want(w) if w.start <= 8 && 8 < w.start + w.length)),
        "{sent:?}"
    );
    // The peer answers the want: now block 8 is requested and arrives.
    h.send(
        ch,
        &Message::Range(Range {
            drop: false,
            start: 0,
            length: 10,
        }),
    );
    h.serve(ch, &writer, |_, _| {});
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Get { request, result: Ok(v), .. } if *request == get && v[..] == new[1][..]
    )));
    assert_eq!(h.closed(), None);
}

/// `range { drop }` from a peer withdraws what it announced: those blocks are not requested
/// from it.
#[test]
fn dropped_ranges_are_not_requested() {
    let values = blocks(10);
    let (mut h, writer, core, ch) = honest_reader(&values, EndpointConfig::default());
    h.announce(ch, &writer);
    h.serve(ch, &writer, |_, _| {});
    assert_eq!(h.ep.log(core).unwrap().length(), 10, "eager upgrade");
    h.send(
        ch,
        &Message::Range(Range {
            drop: true,
            start: 5,
            length: 5,
        }),
    );
    h.ep.get(core, 7, None).unwrap();
    h.ep.get(core, 3, None).unwrap();
    h.pump();
    let sent = messages(h.take_received());
    assert_eq!(block_requests(&sent), [3], "{sent:?}");
}
