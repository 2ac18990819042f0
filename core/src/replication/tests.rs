//! Two endpoints over an in-memory pipe: the basic flows, step by step.

use alloc::vec::Vec;
use core::time::Duration;

use super::{CoreId, Endpoint, EndpointConfig, Event, SessionId};
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
}

fn block(i: u64, tag: u8) -> Vec<u8> {
    let mut v = alloc::vec![tag; 16];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v
}

impl Pair {
    fn new(blocks: u64) -> Pair {
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
        let mut w = Endpoint::new(EndpointConfig::default());
        let mut r = Endpoint::new(EndpointConfig::default());
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
        }
    }

    fn run(&mut self) {
        let now = Duration::ZERO;
        loop {
            let mut moved = false;
            while let Some((_, b)) = self.w.poll_transmit() {
                self.r.handle_input(self.rs, now, &b);
                moved = true;
            }
            while let Some((_, b)) = self.r.poll_transmit() {
                self.w.handle_input(self.ws, now, &b);
                moved = true;
            }
            while let Some(e) = self.r.poll_event() {
                self.r_events.push(e);
                moved = true;
            }
            while self.w.poll_event().is_some() {
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }
}

#[test]
fn live_download_follows_appends_and_truncation() {
    let mut p = Pair::new(10);
    p.r.download(p.rc, 0, None, None).unwrap();
    p.run();
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
    let mut p = Pair::new(11);
    p.r.download(p.rc, 0, None, None).unwrap();
    p.run();
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
