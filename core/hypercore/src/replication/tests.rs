//! Two endpoints over an in-memory pipe: the basic flows, step by step.

use alloc::vec::Vec;
use core::time::Duration;

use super::{CoreId, Endpoint, EndpointConfig, Event, SessionError, SessionId, TransportError};
use crate::keys::KeyPair;
use crate::log::{Log, LogOptions};
use crate::storage::MemoryStorage;
use ferrocore_wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore_wire::stream::Entropy;

struct Pair {
    w: Endpoint<MemoryStorage>,
    r: Endpoint<MemoryStorage>,
    ws: SessionId,
    rs: SessionId,
    wc: CoreId,
    rc: CoreId,
    r_events: Vec<Event>,
    w_events: Vec<Event>,
}

fn block(i: u64, tag: u8) -> Vec<u8> {
    let mut v = alloc::vec![tag; 16];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v
}

impl Pair {
    fn new(blocks: u64) -> Pair {
        Pair::with_configs(blocks, EndpointConfig::default(), EndpointConfig::default())
    }

    fn with_configs(blocks: u64, wconfig: EndpointConfig, rconfig: EndpointConfig) -> Pair {
        let mut wlog = Log::open(
            MemoryStorage::new(),
            LogOptions {
                key_pair: Some(KeyPair::from_seed(&[3; 32])),
                ..LogOptions::default()
            },
        )
        .unwrap();
        for i in 0..blocks {
            wlog.append(&block(i, 0)).unwrap();
        }
        let rlog = Log::open(
            MemoryStorage::new(),
            LogOptions {
                key: Some(*wlog.key()),
                ..LogOptions::default()
            },
        )
        .unwrap();
        let mut w = Endpoint::new(wconfig);
        let mut r = Endpoint::new(rconfig);
        let wc = w.add_core(wlog);
        let rc = r.add_core(rlog);
        let e = |b: u8| Entropy {
            ephemeral_seed: [b; 32],
            header: [b; 24],
        };
        let ws = w.connect(
            Role::Initiator,
            NoiseKeyPair::from_seed([1; 32]),
            e(1),
            Duration::ZERO,
        );
        let rs = r.connect(
            Role::Responder,
            NoiseKeyPair::from_seed([2; 32]),
            e(2),
            Duration::ZERO,
        );
        Pair {
            w,
            r,
            ws,
            rs,
            wc,
            rc,
            r_events: Vec::new(),
            w_events: Vec::new(),
        }
    }

    /// A pair whose reader downloads every block live (from 0 on, no end), run until
    /// quiet: it holds the writer's `blocks`.
    fn following(blocks: u64) -> Pair {
        let mut p = Pair::new(blocks);
        p.r.download(p.rc, 0, None, None).unwrap();
        p.run();
        p
    }

    /// Delivers what the writer has to send to the reader; true if anything moved.
    fn w_to_r(&mut self) -> bool {
        let mut moved = false;
        while let Some((_, b)) = self.w.poll_transmit() {
            self.r.handle_input(self.rs, Duration::ZERO, &b);
            self.w.handle_sent(self.ws, b.len());
            moved = true;
        }
        moved | self.drain_events()
    }

    /// Delivers what the reader has to send to the writer; true if anything moved.
    fn r_to_w(&mut self) -> bool {
        let mut moved = false;
        while let Some((_, b)) = self.r.poll_transmit() {
            self.w.handle_input(self.ws, Duration::ZERO, &b);
            self.r.handle_sent(self.rs, b.len());
            moved = true;
        }
        moved | self.drain_events()
    }

    fn drain_events(&mut self) -> bool {
        let mut moved = false;
        while let Some(e) = self.r.poll_event() {
            self.r_events.push(e);
            moved = true;
        }
        while let Some(e) = self.w.poll_event() {
            self.w_events.push(e);
            moved = true;
        }
        moved
    }

    /// The `Closed` events of an endpoint's events, by session.
    fn closed(events: &[Event]) -> Vec<(SessionId, Option<SessionError>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Closed { session, error } => Some((*session, error.clone())),
                _ => None,
            })
            .collect()
    }

    fn run(&mut self) {
        loop {
            let moved = self.w_to_r() | self.r_to_w();
            if !moved {
                break;
            }
        }
    }
}

#[test]
fn live_download_follows_appends_and_truncation() {
    let mut p = Pair::following(10);
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 10);
    let w = p.w.log_mut(p.wc).unwrap();
    w.append(&block(10, 0)).unwrap();
    p.run();
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 11);
    let w = p.w.log_mut(p.wc).unwrap();
    w.truncate(7, None).unwrap();
    for i in 7..12 {
        w.append(&block(i, 1)).unwrap();
    }
    p.run();
    let log = p.r.log(p.rc).unwrap();
    assert_eq!((log.fork(), log.length()), (1, 12));
    assert_eq!(log.contiguous_length(), 12, "{log:?} {:?}", p.r_events);
    for i in 0..12 {
        let tag = u8::from(i >= 7);
        assert_eq!(log.get(i).unwrap().unwrap(), block(i, tag));
    }
    assert!(p
        .r_events
        .iter()
        .any(|e| matches!(e, Event::Truncate { length, fork: 1, .. } if *length <= 7)));
}

#[test]
fn get_waits_for_the_append() {
    let mut p = Pair::new(2);
    let id = p.r.get(p.rc, 4, None).unwrap();
    p.run();
    assert!(!p.r_events.iter().any(|e| matches!(e, Event::Get { .. })));
    let w = p.w.log_mut(p.wc).unwrap();
    for i in 2..6 {
        w.append(&block(i, 0)).unwrap();
    }
    p.run();
    let got = p.r_events.iter().find_map(|e| match e {
        Event::Get {
            request, result, ..
        } if *request == id => Some(result.clone().unwrap()),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&block(4, 0)[..]));
    // Sparse: only block 4 was fetched.
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 0);
}

#[test]
fn reorg_clears_blocks_past_the_ancestor() {
    let mut p = Pair::following(11);
    let w = p.w.log_mut(p.wc).unwrap();
    w.truncate(7, None).unwrap();
    w.append(&block(7, 1)).unwrap();
    let proof = w
        .proof(&ferrocore_wire::Request {
            id: 1,
            fork: 1,
            upgrade: Some(ferrocore_wire::RequestUpgrade {
                start: 0,
                length: 8,
            }),
            ..Default::default()
        })
        .unwrap();
    let r = p.r.log_mut(p.rc).unwrap();
    let reorg = r.apply_reorg(&proof).unwrap();
    assert_eq!(reorg.ancestors, 0);
    assert!(!r.has_block(0), "{r:?}");
    assert_eq!(r.next_missing(0), 0);
}

/// The writer truncates keeping its fork (legal, if unusual): only its `range { drop }`
/// can tell the reader that the blocks past the cut are gone (the reference sends one on
/// every truncation).
#[test]
fn truncation_is_announced_as_a_dropped_range() {
    // The writer does not download, so it does not take the reader's old length back.
    let wconfig = EndpointConfig {
        downloading: false,
        ..EndpointConfig::default()
    };
    let mut p = Pair::with_configs(10, wconfig, EndpointConfig::default());
    p.run();
    assert_eq!(p.r.log(p.rc).unwrap().length(), 10, "eager upgrade");
    assert!((0..10).all(|i| p.r.remote_has(p.rs, p.rc, i)));
    p.w.log_mut(p.wc).unwrap().truncate(7, Some(0)).unwrap();
    p.run();
    assert_eq!(p.r.remote_length(p.rs, p.rc), Some(7));
    assert!((0..7).all(|i| p.r.remote_has(p.rs, p.rc, i)));
    for i in 7..10 {
        assert!(!p.r.remote_has(p.rs, p.rc, i), "block {i} was dropped");
    }
    // So a block past the cut is not asked of the writer.
    p.r.get(p.rc, 8, None).unwrap();
    p.run();
    assert_eq!(p.r.inflight(p.rs, p.rc), 0);
    assert!(!p.r_events.iter().any(|e| matches!(e, Event::Get { .. })));
}

/// On a truncation to a new fork the reader forgets what the writer announced on the old
/// one (and is told of the cut), and learns again what the writer keeps: blocks below the
/// cut are fetched from it on the new fork.
#[test]
fn a_peer_on_a_new_fork_is_known_by_its_new_announcements() {
    let mut p = Pair::new(10);
    p.run();
    assert_eq!(p.r.log(p.rc).unwrap().length(), 10, "eager upgrade");
    assert!(p.r.remote_has(p.rs, p.rc, 9));
    p.w.log_mut(p.wc).unwrap().truncate(7, None).unwrap();
    p.run();
    let log = p.r.log(p.rc).unwrap();
    assert_eq!(
        (log.fork(), log.length()),
        (1, 7),
        "the reader adopted fork 1"
    );
    for i in 7..10 {
        assert!(!p.r.remote_has(p.rs, p.rc, i), "block {i} was dropped");
    }
    assert!(
        (0..7).all(|i| p.r.remote_has(p.rs, p.rc, i)),
        "the prefix is announced again on the new fork"
    );
    let id = p.r.get(p.rc, 5, None).unwrap();
    p.run();
    let got = p.r_events.iter().find_map(|e| match e {
        Event::Get {
            request, result, ..
        } if *request == id => Some(result.clone().unwrap()),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&block(5, 0)[..]));
}

/// The live tail asks for the newest block together with the upgrade. A peer that has the
/// new length but not that block answers `noData` for the whole request: the reader must
/// ask for the upgrade again, alone, rather than take the length as refused.
#[test]
fn no_data_for_an_upgrade_with_a_block_retries_the_upgrade_alone() {
    let mut p = Pair::following(9);
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 9);
    p.w.log_mut(p.wc).unwrap().append(&block(9, 0)).unwrap();
    // The reader learns of length 10 and block 9 and asks for both in one request ...
    assert!(p.w_to_r());
    assert_eq!(p.r.inflight(p.rs, p.rc), 1);
    // ... which reaches the writer after it cleared block 9.
    p.w.log_mut(p.wc).unwrap().clear(9, 10).unwrap();
    p.run();
    let log = p.r.log(p.rc).unwrap();
    assert_eq!(
        log.length(),
        10,
        "the upgrade was asked again without the block"
    );
    assert!(!log.has_block(9));
    assert!(p
        .r_events
        .iter()
        .any(|e| matches!(e, Event::Append { length: 10, .. })));
}

#[test]
fn closed_reports_a_local_close_without_error() {
    let mut p = Pair::new(3);
    p.run();
    p.w.close(p.ws);
    p.drain_events();
    assert_eq!(Pair::closed(&p.w_events), [(p.ws, None)]);
    assert!(p.w.sessions().next().is_none());
    // Whatever it had queued goes out, then its socket shuts down (the stream's end).
    p.w_to_r();
    assert!(Pair::closed(&p.r_events).is_empty());
    p.r.handle_end(p.rs);
    p.drain_events();
    // The reader saw the writer end in order.
    assert_eq!(
        Pair::closed(&p.r_events),
        [(p.rs, Some(SessionError::RemoteEnded))]
    );
}

#[test]
fn closed_reports_the_remote_end() {
    let mut p = Pair::new(3);
    p.run();
    // The socket ends though the peer did not close its session first (e.g. its process
    // exited).
    p.r.handle_end(p.rs);
    p.drain_events();
    assert_eq!(
        Pair::closed(&p.r_events),
        [(p.rs, Some(SessionError::RemoteEnded))]
    );
    assert!(SessionError::RemoteEnded.is_orderly());
    assert_eq!(
        SessionError::RemoteEnded.blame(),
        ferrocore_wire::stream::Blame::Local
    );
    // Our side ended in order (what it had queued goes out, then the socket shuts down):
    // the writer sees the reader's orderly end.
    p.r_to_w();
    p.w.handle_end(p.ws);
    p.drain_events();
    assert_eq!(
        Pair::closed(&p.w_events),
        [(p.ws, Some(SessionError::RemoteEnded))]
    );
    assert!(p.r.sessions().next().is_none() && p.w.sessions().next().is_none());
}

#[test]
fn abort_closes_at_once_and_asks_other_peers() {
    let mut p = Pair::new(6);
    p.run();
    // A second writer session for the same reader: the reader's requests go to it after
    // the first session is aborted.
    let e = |b: u8| Entropy {
        ephemeral_seed: [b; 32],
        header: [b; 24],
    };
    let mut w2 = Endpoint::new(EndpointConfig::default());
    let mut wlog2 = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[3; 32])),
            ..LogOptions::default()
        },
    )
    .unwrap();
    for i in 0..6 {
        wlog2.append(&block(i, 0)).unwrap();
    }
    w2.add_core(wlog2);
    let w2s = w2.connect(
        Role::Initiator,
        NoiseKeyPair::from_seed([5; 32]),
        e(5),
        Duration::ZERO,
    );
    let r2s = p.r.connect(
        Role::Responder,
        NoiseKeyPair::from_seed([6; 32]),
        e(6),
        Duration::ZERO,
    );
    let shuttle = |p: &mut Pair, w2: &mut Endpoint<MemoryStorage>, to_w2: bool| {
        let mut moved = false;
        while let Some((_, b)) = w2.poll_transmit() {
            p.r.handle_input(r2s, Duration::ZERO, &b);
            w2.handle_sent(w2s, b.len());
            moved = true;
        }
        if to_w2 {
            while let Some((sid, b)) = p.r.poll_transmit() {
                if sid == r2s {
                    w2.handle_input(w2s, Duration::ZERO, &b);
                } else {
                    p.w.handle_input(p.ws, Duration::ZERO, &b);
                }
                p.r.handle_sent(sid, b.len());
                moved = true;
            }
        }
        while w2.poll_event().is_some() {
            moved = true;
        }
        moved | p.drain_events()
    };
    while shuttle(&mut p, &mut w2, true) {}
    assert_eq!(p.r.peers(p.rc).len(), 2);
    // Ask for a block; hold the reader's requests back so they stay in flight.
    let id = p.r.get(p.rc, 4, None).unwrap();
    while let Some((sid, b)) = p.r.poll_transmit() {
        p.r.handle_sent(sid, b.len());
    }
    let asked = if p.r.inflight(p.rs, p.rc) == 1 {
        p.rs
    } else {
        r2s
    };
    assert_eq!(p.r.inflight(asked, p.rc), 1);
    p.r.abort(asked, TransportError::Reset);
    // At once: closed with the error, nothing more for it, the request asked elsewhere.
    assert!(p.r.sessions().all(|s| s != asked));
    let other = if asked == p.rs { r2s } else { p.rs };
    let mut closed = Vec::new();
    while let Some(e) = p.r.poll_event() {
        closed.push(e);
    }
    assert_eq!(
        Pair::closed(&closed),
        [(asked, Some(SessionError::Transport(TransportError::Reset)))]
    );
    assert_eq!(p.r.inflight(other, p.rc), 1, "re-asked of the other peer");
    let mut sent_to = Vec::new();
    while let Some((sid, b)) = p.r.poll_transmit() {
        sent_to.push(sid);
        if sid == r2s {
            w2.handle_input(w2s, Duration::ZERO, &b);
        } else {
            p.w.handle_input(p.ws, Duration::ZERO, &b);
        }
        p.r.handle_sent(sid, b.len());
    }
    assert!(
        !sent_to.contains(&asked),
        "no output for the aborted session"
    );
    p.r_events.extend(closed);
    while shuttle(&mut p, &mut w2, true) | p.w_to_r() {}
    let got = p.r_events.iter().find_map(|e| match e {
        Event::Get {
            request, result, ..
        } if *request == id => Some(result.clone().unwrap()),
        _ => None,
    });
    assert_eq!(got.as_deref(), Some(&block(4, 0)[..]));
    assert_eq!(
        SessionError::Transport(TransportError::TimedOut).blame(),
        ferrocore_wire::stream::Blame::Timeout
    );
}

/// A live append takes four messages, as with the reference: the writer's `range` and
/// `sync`, the reader's request, the writer's data, the reader's `sync` and `range`. The
/// writer does not answer a reader that only caught up with it (its next `sync` carries
/// the reader's new length).
#[test]
fn a_live_append_is_four_messages() {
    let mut p = Pair::following(5);
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 5);
    p.w.log_mut(p.wc).unwrap().append(&block(5, 0)).unwrap();
    assert!(p.w_to_r(), "the writer announces the append");
    assert!(p.r_to_w(), "the reader asks for it");
    assert!(p.w_to_r(), "the writer answers");
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 6);
    assert!(p.r_to_w(), "the reader tells its new length");
    assert!(p.w.poll_transmit().is_none(), "the writer stays quiet");
    assert!(!p.r_to_w());
    // The next append still reaches the reader, and its `sync` names the reader's length.
    p.w.log_mut(p.wc).unwrap().append(&block(6, 0)).unwrap();
    p.run();
    assert_eq!(p.r.log(p.rc).unwrap().contiguous_length(), 7);
}

#[test]
fn a_sync_is_answered_when_the_peer_is_behind_or_out_of_date() {
    use super::endpoint::{same_but_remote_length, sync_needs_answer};
    use ferrocore_wire::Sync;
    let theirs = |fork, length, remote_length| Sync {
        fork,
        length,
        remote_length,
        ..Sync::default()
    };
    // We are at fork 0, length 10.
    assert!(!sync_needs_answer(&theirs(0, 10, 10), 0, 10), "caught up");
    assert!(!sync_needs_answer(&theirs(0, 12, 10), 0, 10), "ahead of us");
    assert!(sync_needs_answer(&theirs(0, 7, 10), 0, 10), "behind us");
    assert!(
        sync_needs_answer(&theirs(0, 10, 9), 0, 10),
        "an old view of us"
    );
    assert!(!sync_needs_answer(&theirs(1, 3, 0), 0, 10), "another fork");
    let ours = theirs(0, 10, 7);
    assert!(same_but_remote_length(&ours, &theirs(0, 10, 9)));
    assert!(!same_but_remote_length(&ours, &theirs(0, 11, 7)));
    assert!(!same_but_remote_length(
        &ours,
        &Sync {
            uploading: true,
            ..ours
        }
    ));
}
