//! Many cores over one connection: opens in one batch, unknown cores asked of the
//! application, the discovery-key index, and updates while finding peers.

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use super::{CoreId, Endpoint, EndpointConfig, Event, SessionId};
use crate::hash;
use crate::keys::KeyPair;
use crate::log::{Log, LogOptions};
use crate::storage::MemoryStorage;
use ferrocore_wire::noise::{KeyPair as NoiseKeyPair, Role};
use ferrocore_wire::protomux::Frame;
use ferrocore_wire::stream::{Entropy, SecretStream, StreamConfig, StreamEvent};

const NOW: Duration = Duration::ZERO;

fn entropy(b: u8) -> Entropy {
    Entropy {
        ephemeral_seed: [b; 32],
        header: [b; 24],
    }
}

/// A log of the core with public key `key` that holds no blocks.
fn reader_log(key: [u8; 32]) -> Log<MemoryStorage> {
    Log::open(
        MemoryStorage::new(),
        LogOptions {
            key: Some(key),
            ..LogOptions::default()
        },
    )
    .unwrap()
}

fn writer_log(seed: u8, blocks: u64) -> Log<MemoryStorage> {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[seed; 32])),
            ..LogOptions::default()
        },
    )
    .unwrap();
    for i in 0..blocks {
        log.append(&i.to_le_bytes()).unwrap();
    }
    log
}

/// An endpoint holding a writer of `blocks` blocks, and the core's key.
fn writer_endpoint(blocks: u64) -> (Endpoint<MemoryStorage>, [u8; 32]) {
    let log = writer_log(3, blocks);
    let key = *log.key();
    let mut ep = Endpoint::new(EndpointConfig::default());
    ep.add_core(log);
    (ep, key)
}

/// An endpoint replicating the cores of keys `key(0) .. key(n)`.
fn store(n: u32) -> Endpoint<MemoryStorage> {
    let mut ep = Endpoint::new(EndpointConfig::default());
    for i in 0..n {
        ep.add_core(reader_log(key(i)));
    }
    ep
}

/// A distinct core key (not a valid signing key; reader logs never verify it unless data
/// arrives).
fn key(i: u32) -> [u8; 32] {
    let mut k = [0xAB; 32];
    k[..4].copy_from_slice(&i.to_le_bytes());
    k
}

/// Two endpoints connected over an in-memory pipe, with their events.
struct Net {
    a: Endpoint<MemoryStorage>,
    b: Endpoint<MemoryStorage>,
    sa: SessionId,
    sb: SessionId,
    a_events: Vec<Event>,
    b_events: Vec<Event>,
}

impl Net {
    fn new(a: Endpoint<MemoryStorage>, b: Endpoint<MemoryStorage>) -> Net {
        let mut net = Net {
            a,
            b,
            sa: SessionId(0),
            sb: SessionId(0),
            a_events: Vec::new(),
            b_events: Vec::new(),
        };
        net.sa = net.a.connect(
            Role::Initiator,
            NoiseKeyPair::from_seed([1; 32]),
            entropy(1),
            NOW,
        );
        net.sb = net.b.connect(
            Role::Responder,
            NoiseKeyPair::from_seed([2; 32]),
            entropy(2),
            NOW,
        );
        net
    }

    /// Moves bytes and drains events until both sides are quiet; `on_b` sees each of
    /// `b`'s events first (to answer it).
    fn run_with(&mut self, mut on_b: impl FnMut(&mut Endpoint<MemoryStorage>, &Event)) {
        loop {
            let mut moved = false;
            while let Some((_, bytes)) = self.a.poll_transmit() {
                self.b.handle_input(self.sb, NOW, &bytes);
                self.a.handle_sent(self.sa, bytes.len());
                moved = true;
            }
            while let Some((_, bytes)) = self.b.poll_transmit() {
                self.a.handle_input(self.sa, NOW, &bytes);
                self.b.handle_sent(self.sb, bytes.len());
                moved = true;
            }
            while let Some(e) = self.a.poll_event() {
                self.a_events.push(e);
                moved = true;
            }
            while let Some(e) = self.b.poll_event() {
                on_b(&mut self.b, &e);
                self.b_events.push(e);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn run(&mut self) {
        self.run_with(|_, _| {});
    }
}

/// The default configuration, asking the application about unknown cores.
fn asking() -> EndpointConfig {
    EndpointConfig {
        ask_unknown_cores: true,
        ..EndpointConfig::default()
    }
}

fn peers_added(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::PeerAdded { .. }))
        .count()
}

fn unknown(events: &[Event]) -> Vec<[u8; 32]> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::UnknownCore { discovery_key, .. } => Some(*discovery_key),
            _ => None,
        })
        .collect()
}

/// The opens of every core of a store of ten thousand leave in one protomux batch frame
/// (control type 0), as JS sends them (it corks the mux until the handshake is done): a
/// stream decrypted by hand sees exactly one record after the handshake, a batch of one
/// open per core.
#[test]
fn the_opens_of_every_core_leave_in_one_batch() {
    const N: u32 = 10_000;
    let mut ep = store(N);
    let sid = ep.connect(
        Role::Initiator,
        NoiseKeyPair::from_seed([1; 32]),
        entropy(1),
        NOW,
    );
    let mut peer = SecretStream::new(
        StreamConfig::default(),
        Role::Responder,
        NoiseKeyPair::from_seed([2; 32]),
        entropy(2),
        NOW,
    );
    let mut records = Vec::new();
    for _ in 0..8 {
        while let Some((_, bytes)) = ep.poll_transmit() {
            peer.handle_input(NOW, &bytes).unwrap();
        }
        while let Some(ev) = peer.poll_event() {
            if let StreamEvent::Message(m) = ev {
                records.push(m);
            }
        }
        while let Some(bytes) = peer.poll_transmit() {
            ep.handle_input(sid, NOW, &bytes);
        }
        while ep.poll_event().is_some() {}
    }
    assert_eq!(records.len(), 1, "one record after the handshake");
    let Ok(Some(Frame::Batch(batch))) = Frame::decode_record(&records[0]) else {
        panic!("the record is a batch frame");
    };
    let mut opened: Vec<[u8; 32]> = Vec::new();
    for frame in batch.frames() {
        let Ok(Frame::Open(open)) = frame else {
            panic!("every entry is an open: {frame:?}");
        };
        assert_eq!(open.protocol, super::PROTOCOL);
        opened.push(open.id.as_deref().unwrap().try_into().unwrap());
    }
    let mut expected: Vec<[u8; 32]> = (0..N).map(|i| hash::discovery_key(&key(i))).collect();
    opened.sort_unstable();
    expected.sort_unstable();
    assert_eq!(opened, expected, "one open per core");
}

/// A store of ten thousand cores, far more than the mux's default `max_channels` (128),
/// pairs every one of them over one session: our own opens are never refused for the
/// count.
#[test]
fn more_cores_than_the_mux_default_all_pair() {
    const N: u32 = 10_000;
    let mut a = Endpoint::new(EndpointConfig::default());
    let mut b = Endpoint::new(EndpointConfig::default());
    assert!(N as usize > a.config().mux.max_channels);
    for i in 0..N {
        a.add_core(reader_log(key(i)));
        b.add_core(reader_log(key(i)));
    }
    let mut net = Net::new(a, b);
    net.run();
    assert_eq!(peers_added(&net.a_events), N as usize);
    assert_eq!(peers_added(&net.b_events), N as usize);
    // A core added while connected pairs too.
    let x = net.a.add_core(reader_log(key(N)));
    let y = net.b.add_core(reader_log(key(N)));
    net.run();
    assert_eq!(net.a.peers(x), [net.sa]);
    assert_eq!(net.b.peers(y), [net.sb]);
}

/// With `ask_unknown_cores`, a peer's open of a core we lack is asked of the application;
/// adding the core pairs that very open, and the core replicates.
#[test]
fn an_unknown_core_added_on_request_pairs_and_replicates() {
    let (mut a, wkey) = writer_endpoint(4);
    a.add_core(reader_log(key(7)));
    let config = asking();
    let mut b = Endpoint::new(config);
    let known = b.add_core(reader_log(key(7)));
    let mut net = Net::new(a, b);
    net.run();
    let dk = hash::discovery_key(&wkey);
    assert_eq!(
        unknown(&net.b_events),
        [dk],
        "a core we have is not asked about"
    );
    assert_eq!(net.b.peers(known), [net.sb], "a core we have pairs at once");
    assert_eq!(net.b.unknown_cores(net.sb), 1);
    assert_eq!(
        peers_added(&net.a_events),
        1,
        "the unknown core's open waits"
    );
    // The store finds the core and adds it: the waiting open pairs.
    let core = net.b.add_core(reader_log(wkey));
    assert_eq!(net.b.unknown_cores(net.sb), 0);
    let get = net.b.get(core, 3, None).unwrap();
    net.run();
    assert_eq!(net.b.peers(core), [net.sb]);
    assert_eq!(peers_added(&net.a_events), 2);
    let got = net.b_events.iter().find_map(|e| match e {
        Event::Get {
            request, result, ..
        } if *request == get => Some(result.clone()),
        _ => None,
    });
    assert_eq!(got, Some(Ok(Bytes::copy_from_slice(&3u64.to_le_bytes()))));
}

/// A core refused with `reject_core` (protomux reject) closes the opener's channel; with
/// the default configuration the refusal is immediate and never reaches the application.
#[test]
fn an_unknown_core_is_rejected_on_request_or_at_once() {
    for ask in [true, false] {
        let mut a = Endpoint::new(EndpointConfig::default());
        let core = a.add_core(writer_log(3, 1));
        let dk = *a.log(core).unwrap().discovery_key();
        let config = EndpointConfig {
            ask_unknown_cores: ask,
            ..EndpointConfig::default()
        };
        let mut net = Net::new(a, Endpoint::new(config));
        let mut rejected = false;
        net.run_with(|b, e| {
            if let Event::UnknownCore {
                session,
                discovery_key,
            } = e
            {
                rejected = b.reject_core(*session, discovery_key);
            }
        });
        assert_eq!(rejected, ask, "asked only when configured");
        assert_eq!(unknown(&net.b_events).len(), usize::from(ask));
        assert!(!net.b.reject_core(net.sb, &dk), "answered already");
        assert!(net.a.peers(core).is_empty());
        assert_eq!(net.a.inflight(net.sa, core), 0);
        // The session lives on: a core added later on both sides pairs.
        let x = net.a.add_core(reader_log(key(1)));
        net.b.add_core(reader_log(key(1)));
        net.run();
        assert_eq!(net.a.peers(x), [net.sa], "ask = {ask}");
    }
}

/// Discovery keys find their cores through the index, kept in step with removals (a
/// later core with the same key takes over), and a removed core leaves only its id.
#[test]
fn the_discovery_key_index_follows_adds_and_removes() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let ids: Vec<CoreId> = (0..5).map(|i| ep.add_core(reader_log(key(i)))).collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            ep.find_core(&hash::discovery_key(&key(i as u32))),
            Some(*id)
        );
    }
    let dk2 = hash::discovery_key(&key(2));
    let again = ep.add_core(reader_log(key(2)));
    assert_eq!(ep.find_core(&dk2), Some(ids[2]), "the first one added");
    assert!(ep.remove_core(ids[2]).is_some());
    assert_eq!(ep.find_core(&dk2), Some(again), "the later one takes over");
    assert!(ep.remove_core(again).is_some());
    assert_eq!(ep.find_core(&dk2), None);
    assert!(ep.remove_core(ids[2]).is_none());
    assert_eq!(ep.cores().count(), 4);
    assert_eq!(ep.find_core(&hash::discovery_key(&key(4))), Some(ids[4]));
}

fn update_result(events: &[Event], id: super::RequestId) -> Option<u64> {
    events.iter().find_map(|e| match e {
        Event::Update {
            request,
            result: Ok(length),
            ..
        } if *request == id => Some(*length),
        _ => None,
    })
}

/// As JS: an update with no peer (and no session that could bring one) ends at once,
/// unless a `finding peers` scope is open: then it waits for a peer, or for the last scope
/// to close.
#[test]
fn updates_wait_only_while_finding_peers() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let core = ep.add_core(reader_log(key(0)));
    let mut events = Vec::new();
    let at_once = ep.update(core, None).unwrap();
    events.extend(core::iter::from_fn(|| ep.poll_event()));
    assert_eq!(
        update_result(&events, at_once),
        Some(0),
        "no peers: at once"
    );

    ep.start_finding_peers(None).unwrap();
    ep.start_finding_peers(Some(core)).unwrap();
    assert_eq!(ep.finding_peers(core), 2);
    let waiting = ep.update(core, None).unwrap();
    events.extend(core::iter::from_fn(|| ep.poll_event()));
    assert_eq!(
        update_result(&events, waiting),
        None,
        "finding peers: waits"
    );
    ep.stop_finding_peers(Some(core)).unwrap();
    events.extend(core::iter::from_fn(|| ep.poll_event()));
    assert_eq!(
        update_result(&events, waiting),
        None,
        "one scope still open"
    );
    ep.stop_finding_peers(None).unwrap();
    events.extend(core::iter::from_fn(|| ep.poll_event()));
    assert_eq!(
        update_result(&events, waiting),
        Some(0),
        "the last scope closed"
    );
    assert!(ep.stop_finding_peers(None).is_err(), "no scope open");
}

/// While finding peers, an update waits for the peer that connects, and ends with the
/// length it brings.
#[test]
fn an_update_while_finding_peers_gets_the_peer_that_connects() {
    let (writer, wkey) = writer_endpoint(5);
    let mut reader = Endpoint::new(EndpointConfig::default());
    let core = reader.add_core(reader_log(wkey));
    reader.start_finding_peers(Some(core)).unwrap();
    let update = reader.update(core, None).unwrap();
    assert!(reader.poll_event().is_none());
    let mut net = Net::new(writer, reader);
    net.run();
    assert_eq!(update_result(&net.b_events, update), Some(5));
    net.b.stop_finding_peers(Some(core)).unwrap();
}

/// As JS (`_hadPeers`): once a core had a peer, an update no longer waits while finding
/// peers; with the peer gone, it ends at once.
#[test]
fn a_core_that_had_peers_does_not_wait_while_finding_more() {
    let (writer, wkey) = writer_endpoint(2);
    let mut reader = Endpoint::new(EndpointConfig::default());
    let core = reader.add_core(reader_log(wkey));
    let mut net = Net::new(writer, reader);
    net.run();
    assert_eq!(net.b.peers(core), [net.sb]);
    net.b.close(net.sb);
    net.run();
    assert!(net.b.peers(core).is_empty());
    net.b.start_finding_peers(None).unwrap();
    let update = net.b.update(core, None).unwrap();
    net.run();
    assert_eq!(update_result(&net.b_events, update), Some(2));
}

/// An endpoint with no core at all is asked about every core of a store that connects to
/// it, more at once than the mux's default `max_channels`: its channel limit leaves room
/// for the peer's opens that wait (up to `max_pending_opens`).
#[test]
fn an_empty_endpoint_is_asked_about_every_core_of_a_store() {
    const N: u32 = 300;
    let a = store(N);
    let config = asking();
    assert!(N as usize > config.mux.max_channels);
    let mut net = Net::new(a, Endpoint::new(config));
    net.run();
    assert_eq!(unknown(&net.b_events).len(), N as usize);
    assert_eq!(net.b.unknown_cores(net.sb), N as usize);
    assert!(!net.b.is_stalled(net.sb));
    assert!(net.b.sessions().any(|s| s == net.sb), "the session lives");
    // The store opens half of them, refuses the rest.
    for i in 0..N {
        let dk = hash::discovery_key(&key(i));
        if i % 2 == 0 {
            net.b.add_core(reader_log(key(i)));
        } else {
            assert!(net.b.reject_core(net.sb, &dk));
        }
    }
    net.run();
    assert_eq!(net.b.unknown_cores(net.sb), 0);
    assert_eq!(peers_added(&net.a_events), N as usize / 2);
    assert_eq!(peers_added(&net.b_events), N as usize / 2);
}
