//! Two [`Mux`]es wired back to back, driven by random sequences of open / answer / reject /
//! send / close / cork / uncork on both sides and by random partial deliveries of the
//! frames in flight, checked against a reference model of what each side must observe.
//!
//! Every channel instance gets a unique id (`uid`), sent as its open handshake; every
//! message carries its sender's uid, a per-channel sequence number and its type. The model
//! checks, as events arrive:
//! * an `Opened` names an open, unpaired channel of ours and a peer channel with the same
//!   key; a request answered by `open` pairs with the oldest request of that key (FIFO);
//! * a `Message` arrives only on a paired channel, from its partner, with the next
//!   sequence number (so: in order, exactly once, nothing skipped) and its type;
//! * a `Closed` names an open channel; `Local` only from our `close`, `Remote` only once
//!   the partner closed, `Rejected` only for an unpaired channel the peer refused;
//! * an `OpenRequest` only for a listened protocol; an `OpenWithdrawn` only once the
//!   opener closed.
//!
//! and once everything is delivered (quiescence): pairings are symmetric, every message
//! sent on a pair that is still open was delivered, an open unpaired channel is exactly an
//! unanswered request on the other side, and the mux's counters agree with the model.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use ferrocore_wire::mux::{ChannelId, CloseReason, Mux, MuxConfig, MuxEvent};
use proptest::prelude::*;

/// The matching keys used: protocol and optional id.
const KEYS: [(&str, Option<&[u8]>); 3] = [("p0", None), ("p0", Some(b"x")), ("p1", None)];

/// Side 0 listens to `p0`; side 1 to `p0` and `p1`, so `p1` opens of side 1 are refused.
fn listens(side: usize, protocol: &str) -> bool {
    protocol == "p0" || (side == 1 && protocol == "p1")
}

fn key_index(protocol: &str, id: Option<&Bytes>) -> usize {
    KEYS.iter()
        .position(|&(p, i)| p == protocol && i == id.map(|b| &b[..]))
        .unwrap_or_else(|| panic!("unknown key {protocol} {id:?}"))
}

#[derive(Debug, Clone)]
enum Op {
    /// Opens a channel with key `KEYS[key]`.
    Open {
        side: usize,
        key: usize,
    },
    /// Opens a channel answering an outstanding request (picked by index).
    Answer {
        side: usize,
        pick: usize,
    },
    /// Rejects the oldest request with the key of a picked one.
    Reject {
        side: usize,
        pick: usize,
    },
    /// Sends on a picked open channel.
    Send {
        side: usize,
        pick: usize,
        message_type: u64,
        len: usize,
    },
    /// Closes a picked open channel.
    Close {
        side: usize,
        pick: usize,
    },
    Cork {
        side: usize,
    },
    Uncork {
        side: usize,
    },
    /// Delivers up to `count` frames from `side` to the other.
    Deliver {
        side: usize,
        count: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let side = 0..2usize;
    prop_oneof![
        3 => (side.clone(), 0..KEYS.len()).prop_map(|(side, key)| Op::Open { side, key }),
        3 => (side.clone(), any::<usize>()).prop_map(|(side, pick)| Op::Answer { side, pick }),
        1 => (side.clone(), any::<usize>()).prop_map(|(side, pick)| Op::Reject { side, pick }),
        6 => (side.clone(), any::<usize>(), prop_oneof![0..4u64, 250..300u64], 0..40usize)
            .prop_map(|(side, pick, message_type, len)| Op::Send { side, pick, message_type, len }),
        1 => (side.clone(), any::<usize>()).prop_map(|(side, pick)| Op::Close { side, pick }),
        1 => side.clone().prop_map(|side| Op::Cork { side }),
        1 => side.clone().prop_map(|side| Op::Uncork { side }),
        6 => (side, 0..5usize).prop_map(|(side, count)| Op::Deliver { side, count }),
    ]
}

/// One channel instance.
#[derive(Debug)]
struct Inst {
    side: usize,
    key: usize,
    open: bool,
    partner: Option<u64>,
    sent: u64,
    received: u64,
}

/// An `OpenRequest` not yet answered, rejected or withdrawn.
#[derive(Debug, Clone, Copy)]
struct Request {
    key: usize,
    remote_id: u64,
    uid: u64,
}

struct Side {
    mux: Mux,
    /// Open channels → instance uid.
    chans: BTreeMap<ChannelId, u64>,
    requests: Vec<Request>,
    /// Frames sent and not yet delivered.
    wire: VecDeque<Vec<u8>>,
    corks: usize,
    /// Uids of peer opens this side rejected with `reject`.
    rejected: BTreeSet<u64>,
}

struct World {
    sides: [Side; 2],
    insts: BTreeMap<u64, Inst>,
    next_uid: u64,
}

fn uid_of(handshake: &[u8]) -> u64 {
    u64::from_le_bytes(handshake.try_into().expect("8-byte handshake"))
}

impl World {
    fn new() -> Self {
        let side = |s: usize| {
            let mut mux = Mux::new(MuxConfig::default());
            for (p, _) in KEYS {
                if listens(s, p) {
                    mux.listen(p);
                }
            }
            Side {
                mux,
                chans: BTreeMap::new(),
                requests: Vec::new(),
                wire: VecDeque::new(),
                corks: 0,
                rejected: BTreeSet::new(),
            }
        };
        World {
            sides: [side(0), side(1)],
            insts: BTreeMap::new(),
            next_uid: 1,
        }
    }

    /// Drains both sides' events (checking each) and frames, until nothing moves.
    fn settle(&mut self) -> Vec<(usize, MuxEvent)> {
        let mut all = Vec::new();
        loop {
            let mut moved = false;
            for s in 0..2 {
                while let Some(e) = self.sides[s].mux.poll_event() {
                    self.check_event(s, &e);
                    all.push((s, e));
                    moved = true;
                }
                while let Some(f) = self.sides[s].mux.poll_transmit() {
                    self.sides[s].wire.push_back(f);
                    moved = true;
                }
            }
            if !moved {
                return all;
            }
        }
    }

    fn check_event(&mut self, s: usize, e: &MuxEvent) {
        let other = 1 - s;
        match e {
            MuxEvent::OpenRequest {
                protocol,
                id,
                handshake,
                remote_id,
            } => {
                assert!(listens(s, protocol), "request for unlistened {protocol}");
                let uid = uid_of(handshake);
                let key = key_index(protocol, id.as_ref());
                let opener = &self.insts[&uid];
                assert_eq!((opener.side, opener.key), (other, key), "request's opener");
                assert!(
                    self.sides[s]
                        .requests
                        .iter()
                        .all(|r| r.remote_id != *remote_id),
                    "request id in use"
                );
                self.sides[s].requests.push(Request {
                    key,
                    remote_id: *remote_id,
                    uid,
                });
            }
            MuxEvent::OpenWithdrawn {
                protocol,
                id,
                remote_id,
            } => {
                let reqs = &mut self.sides[s].requests;
                let i = reqs
                    .iter()
                    .position(|r| r.remote_id == *remote_id)
                    .expect("withdrawn request exists");
                let r = reqs.remove(i);
                assert_eq!(r.key, key_index(protocol, id.as_ref()));
                assert!(
                    !self.insts[&r.uid].open,
                    "withdrawn only once the opener closed"
                );
            }
            MuxEvent::Opened {
                channel,
                protocol,
                id,
                handshake,
            } => {
                let uid = self.sides[s].chans[channel];
                let partner = uid_of(handshake);
                let key = key_index(protocol, id.as_ref());
                let me = &self.insts[&uid];
                assert!(
                    me.open && me.partner.is_none(),
                    "Opened on a paired channel"
                );
                assert_eq!(me.key, key, "Opened key");
                let p = &self.insts[&partner];
                assert_eq!((p.side, p.key), (other, key), "partner key");
                self.insts.get_mut(&uid).expect("inst").partner = Some(partner);
            }
            MuxEvent::Message {
                channel,
                message_type,
                payload,
            } => {
                let uid = *self.sides[s]
                    .chans
                    .get(channel)
                    .expect("message on an open channel");
                let me = self.insts.get_mut(&uid).expect("inst");
                let partner = me.partner.expect("message only on a paired channel");
                let word =
                    |i: usize| u64::from_le_bytes(payload[i * 8..i * 8 + 8].try_into().unwrap());
                assert_eq!(word(0), partner, "message from the partner");
                assert_eq!(word(1), me.received, "in order, exactly once");
                assert_eq!(word(2), *message_type, "message type");
                me.received += 1;
            }
            MuxEvent::Closed { channel, reason } => {
                let uid = self.sides[s]
                    .chans
                    .remove(channel)
                    .expect("Closed of an open channel");
                let me = self.insts.get_mut(&uid).expect("inst");
                me.open = false;
                let (partner, key) = (me.partner, me.key);
                match reason {
                    CloseReason::Local => {} // checked by the Close op
                    CloseReason::Remote => {
                        let p = partner.expect("remote close of a paired channel");
                        assert!(!self.insts[&p].open, "partner closed first");
                    }
                    CloseReason::Rejected => {
                        assert!(partner.is_none(), "only unpaired channels are rejected");
                        assert!(
                            !listens(other, KEYS[key].0)
                                || self.sides[other].rejected.contains(&uid),
                            "rejected without reason"
                        );
                    }
                    r => panic!("unexpected close reason {r:?}"),
                }
            }
            e => panic!("unexpected event {e:?}"),
        }
    }

    /// Opens a channel with `key` on side `s`; if requests of that key wait, the oldest
    /// one must pair.
    fn open(&mut self, s: usize, key: usize) {
        let uid = self.next_uid;
        self.next_uid += 1;
        let expected = self.sides[s].requests.iter().position(|r| r.key == key);
        let expected = expected.map(|i| self.sides[s].requests.remove(i));
        let (p, id) = KEYS[key];
        let c = self.sides[s]
            .mux
            .open(p, id, &uid.to_le_bytes())
            .expect("open");
        assert!(!self.sides[s].chans.contains_key(&c), "fresh channel id");
        self.sides[s].chans.insert(c, uid);
        self.insts.insert(
            uid,
            Inst {
                side: s,
                key,
                open: true,
                partner: None,
                sent: 0,
                received: 0,
            },
        );
        self.settle();
        assert_eq!(
            self.insts[&uid].partner,
            expected.map(|r| r.uid),
            "open pairs with the oldest request of its key"
        );
    }

    fn pick_channel(&self, s: usize, pick: usize) -> Option<ChannelId> {
        let chans = &self.sides[s].chans;
        (!chans.is_empty()).then(|| *chans.keys().nth(pick % chans.len()).expect("in range"))
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Open { side, key } => self.open(side, key),
            Op::Answer { side, pick } => {
                let reqs = &self.sides[side].requests;
                if !reqs.is_empty() {
                    let key = reqs[pick % reqs.len()].key;
                    self.open(side, key);
                }
            }
            Op::Reject { side, pick } => {
                let reqs = &self.sides[side].requests;
                if reqs.is_empty() {
                    return;
                }
                let key = reqs[pick % reqs.len()].key;
                let oldest = reqs.iter().position(|r| r.key == key).expect("one exists");
                let r = self.sides[side].requests.remove(oldest);
                self.sides[side].rejected.insert(r.uid);
                let (p, id) = KEYS[key];
                assert!(
                    self.sides[side].mux.reject(p, id),
                    "reject finds the request"
                );
                self.settle();
            }
            Op::Send {
                side,
                pick,
                message_type,
                len,
            } => {
                let Some(c) = self.pick_channel(side, pick) else {
                    return;
                };
                let uid = self.sides[side].chans[&c];
                let inst = self.insts.get_mut(&uid).expect("inst");
                let mut payload = Vec::with_capacity(24 + len);
                payload.extend_from_slice(&uid.to_le_bytes());
                payload.extend_from_slice(&inst.sent.to_le_bytes());
                payload.extend_from_slice(&message_type.to_le_bytes());
                payload.resize(24 + len, 0xab);
                inst.sent += 1;
                self.sides[side]
                    .mux
                    .send(c, message_type, &payload)
                    .expect("send on an open channel");
                self.settle();
            }
            Op::Close { side, pick } => {
                let Some(c) = self.pick_channel(side, pick) else {
                    return;
                };
                self.sides[side]
                    .mux
                    .close(c)
                    .expect("close an open channel");
                let events = self.settle();
                assert!(
                    events.contains(&(
                        side,
                        MuxEvent::Closed {
                            channel: c,
                            reason: CloseReason::Local
                        }
                    )),
                    "close reports Closed(Local)"
                );
                assert!(self.sides[side].mux.send(c, 0, b"").is_err());
            }
            Op::Cork { side } => {
                self.sides[side].corks += 1;
                self.sides[side].mux.cork();
            }
            Op::Uncork { side } => {
                // An uncork without a cork must be harmless.
                self.sides[side].corks = self.sides[side].corks.saturating_sub(1);
                self.sides[side].mux.uncork();
                self.settle();
            }
            Op::Deliver { side, count } => {
                for _ in 0..count {
                    let Some(f) = self.sides[side].wire.pop_front() else {
                        break;
                    };
                    self.sides[1 - side]
                        .mux
                        .handle_frame(Bytes::from(f))
                        .expect("frames of a conforming mux are accepted");
                    self.settle();
                }
            }
        }
        for s in &self.sides {
            assert_eq!(s.mux.is_corked(), s.corks > 0, "cork state");
        }
    }

    /// Uncorks everything and delivers every frame in flight, both ways.
    fn quiesce(&mut self) {
        for s in 0..2 {
            while self.sides[s].corks > 0 {
                self.apply(&Op::Uncork { side: s });
            }
        }
        while self.sides.iter().any(|s| !s.wire.is_empty()) {
            for s in 0..2 {
                self.apply(&Op::Deliver {
                    side: s,
                    count: usize::MAX,
                });
            }
        }
    }

    fn check_quiescent(&self) {
        for (uid, x) in self.insts.iter().filter(|(_, x)| x.open) {
            let other = 1 - x.side;
            match x.partner {
                Some(p) => {
                    let p = &self.insts[&p];
                    assert!(p.open, "open channel {uid} paired with a closed one");
                    assert_eq!(p.partner, Some(*uid), "pairing is symmetric");
                    assert_eq!(x.received, p.sent, "every message delivered");
                }
                None => {
                    let waiting = self.sides[other].requests.iter().filter(|r| r.uid == *uid);
                    assert_eq!(
                        waiting.count(),
                        1,
                        "unpaired {uid} is a request on the other side"
                    );
                }
            }
        }
        for (s, side) in self.sides.iter().enumerate() {
            for r in &side.requests {
                let x = &self.insts[&r.uid];
                assert!(
                    x.open && x.partner.is_none() && x.side == 1 - s,
                    "request {r:?}"
                );
            }
            assert_eq!(side.mux.pending_open_count(), side.requests.len());
            assert_eq!(side.mux.channel_count(), side.chans.len());
            assert_eq!(side.mux.buffered_bytes() == 0, side.requests.is_empty());
            for (c, uid) in &side.chans {
                assert!(side.mux.is_open(*c));
                assert_eq!(side.mux.is_paired(*c), self.insts[uid].partner.is_some());
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn two_muxes_agree_with_the_model(ops in proptest::collection::vec(op(), 1..120)) {
        let mut w = World::new();
        for op in &ops {
            w.apply(op);
        }
        w.quiesce();
        w.check_quiescent();
        // Ending both streams closes every channel that is still open.
        for s in 0..2 {
            w.sides[s].mux.handle_end();
            let mut open: Vec<ChannelId> = w.sides[s].chans.keys().copied().collect();
            let mut closed = Vec::new();
            while let Some(e) = w.sides[s].mux.poll_event() {
                match e {
                    MuxEvent::Closed { channel, reason: CloseReason::Ended } => closed.push(channel),
                    e => panic!("unexpected {e:?} at end"),
                }
            }
            open.sort();
            prop_assert_eq!(closed, open);
            prop_assert_eq!(w.sides[s].mux.pending_open_count(), 0);
        }
    }
}
