//! Test support: a lossless in-memory network of [`Dht`] nodes, and a minimal record
//! handler (storage as `lib/persistent.js` keeps it, without caches or expiry).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;
use std::sync::{Arc, Mutex};

use ed25519_dalek::SigningKey;
use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    announce_signable, dht_commands as cmd, errors, immutable_target, mutable_signable,
    mutable_target, node_id, Announce, Ipv4Address, LookupRawReply, MutableGetRequest,
    MutableGetResponse, MutablePutRequest, Peer,
};
use ferrocore_wire::{Decode, Encode};

use super::ops::verify;
use super::*;
use crate::rpc::node::Node;

/// What the test handler does with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// As a JS persistent node.
    Honest,
    /// Never answers this command.
    Silent(u64),
    /// The JS node's handler ([`Persistent`](super::persistent::Persistent)), store not
    /// shared with the test.
    Js,
    /// Honest, but answers MUTABLE_GET with its record whatever seq was asked for.
    IgnoresSeq,
    /// Answers gets with forged values: immutable values that do not hash to the target,
    /// mutable records of seq 1000 with a bad signature.
    Forger,
}

/// What a test node stores.
#[derive(Debug, Default)]
pub struct Store {
    pub records: BTreeMap<[u8; 32], Vec<Peer>>,
    pub mutables: BTreeMap<[u8; 32], MutableGetResponse>,
    pub immutables: BTreeMap<[u8; 32], Bytes>,
    /// When the last valid ANNOUNCE arrived.
    pub announced_at: Option<Duration>,
}

/// The minimal persistent handler (its store shared with the test).
#[derive(Debug)]
pub struct TestRecords {
    pub behaviour: Behaviour,
    pub store: Arc<Mutex<Store>>,
}

impl TestRecords {
    fn forged(&self, req: &Incoming) -> Option<Answer> {
        let value = match req.request.command {
            cmd::IMMUTABLE_GET => Bytes::from_static(b"not the value"),
            cmd::MUTABLE_GET => Bytes::from(
                MutableGetResponse {
                    seq: 1000,
                    value: Bytes::from_static(b"forged"),
                    signature: [3; 64],
                }
                .to_vec(),
            ),
            _ => return None,
        };
        Some(Answer::reply(Some(value)))
    }
}

fn decode<T: Decode>(v: &Option<Bytes>) -> Option<T> {
    T::decode_from(v.as_deref()?).ok()
}

impl RecordHandler for TestRecords {
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer> {
        let r = &req.request;
        let mut store = self.store.lock().expect("not poisoned");
        let store = &mut *store;
        match self.behaviour {
            Behaviour::Silent(c) if c == r.command => return None,
            Behaviour::Forger => return self.forged(req),
            _ => {}
        }
        let target = r.target?;
        match r.command {
            cmd::LOOKUP => {
                let mut peers = store.records.get(&target).cloned().unwrap_or_default();
                if let Some(route) = cx.router.get(&target) {
                    peers.extend(Peer::decode_from(&route.record).ok());
                }
                let v = (!peers.is_empty()).then(|| LookupRawReply { peers, bump: 0 }.to_vec());
                Some(Answer::reply(v.map(Bytes::from)))
            }
            cmd::FIND_PEER => Some(Answer::reply(
                cx.router.get(&target).map(|x| x.record.clone()),
            )),
            cmd::ANNOUNCE | cmd::UNANNOUNCE => {
                let token = r.token?;
                let ann: Announce = decode(&r.value)?;
                let (peer, sig) = (ann.peer?, ann.signature?);
                let ns = if r.command == cmd::ANNOUNCE {
                    &NS_ANNOUNCE
                } else {
                    &NS_UNANNOUNCE
                };
                let msg =
                    announce_signable(ns, &target, &cx.id, &token, &peer, ann.refresh.as_ref());
                if !verify(&peer.public_key, &msg, &sig) {
                    return None;
                }
                let list = store.records.entry(target).or_default();
                list.retain(|p| p.public_key != peer.public_key);
                let own = mutable_target(&peer.public_key) == target;
                if r.command == cmd::UNANNOUNCE {
                    if own {
                        cx.router.delete(&target);
                    }
                } else if own {
                    let record = Bytes::from(peer.to_vec());
                    let route = Route {
                        relay: Some(req.from),
                        record,
                        server: false,
                    };
                    cx.router.set(cx.now, target, route);
                } else {
                    list.push(peer);
                }
                if r.command == cmd::ANNOUNCE {
                    store.announced_at = Some(cx.now);
                }
                Some(Answer::ack())
            }
            cmd::MUTABLE_PUT => {
                r.token?;
                let p: MutablePutRequest = decode(&r.value)?;
                let msg = mutable_signable(p.seq, &p.value);
                if mutable_target(&p.public_key) != target
                    || !verify(&p.public_key, &msg, &p.signature)
                {
                    return None;
                }
                if let Some(old) = store.mutables.get(&target) {
                    if old.seq == p.seq && old.value != p.value {
                        return Some(Answer::error(errors::SEQ_REUSED));
                    }
                    if p.seq < old.seq {
                        return Some(Answer::error(errors::SEQ_TOO_LOW));
                    }
                }
                let m = MutableGetResponse {
                    seq: p.seq,
                    value: p.value,
                    signature: p.signature,
                };
                store.mutables.insert(target, m);
                Some(Answer::reply(None))
            }
            cmd::MUTABLE_GET => {
                let want: MutableGetRequest = decode(&r.value)?;
                let stale_ok = self.behaviour == Behaviour::IgnoresSeq;
                let v = store
                    .mutables
                    .get(&target)
                    .filter(|m| stale_ok || m.seq >= want.seq);
                Some(Answer::reply(v.map(|m| Bytes::from(m.to_vec()))))
            }
            cmd::IMMUTABLE_PUT => {
                r.token?;
                let v = r.value.clone()?;
                if immutable_target(&v) != target {
                    return None;
                }
                store.immutables.insert(target, v);
                Some(Answer::reply(None))
            }
            cmd::IMMUTABLE_GET => Some(Answer::reply(store.immutables.get(&target).cloned())),
            _ => None,
        }
    }

    fn unannounce(&mut self, cx: RecordContext<'_>, target: &[u8; 32], public_key: &[u8; 32]) {
        let mut store = self.store.lock().expect("not poisoned");
        if mutable_target(public_key) == *target {
            cx.router.delete(target);
        }
        if let Some(l) = store.records.get_mut(target) {
            l.retain(|p| p.public_key != *public_key);
        }
    }
}

pub fn addr(n: usize) -> Ipv4Address {
    Ipv4Address::new([10, 1, (n >> 8) as u8, n as u8], 4000 + n as u16)
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// A lossless network of persistent, open nodes bootstrapped from node 0.
pub struct Net {
    pub addrs: Vec<Ipv4Address>,
    pub nodes: Vec<Dht>,
    pub events: Vec<Vec<DhtEvent>>,
    pub now: Duration,
    /// Addresses whose datagrams are lost.
    pub dead: BTreeSet<Ipv4Address>,
    /// Each node's store.
    pub stores: Vec<Arc<Mutex<Store>>>,
}

impl Net {
    /// `n` nodes, node `i` with record handler `behaviour(i)`, bootstrapped.
    pub fn new(n: usize, behaviour: impl Fn(usize) -> Behaviour) -> Self {
        let addrs: Vec<Ipv4Address> = (0..n).map(addr).collect();
        let stores: Vec<Arc<Mutex<Store>>> = (0..n).map(|_| Arc::default()).collect();
        let nodes = addrs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let mut x = Node::new(Duration::ZERO, node_id(a), a.port, [[i as u8; 32], [7; 32]]);
                x.io_mut().ephemeral = false;
                x.io_mut().firewalled = false;
                x.bootstrapped = true;
                x.bootstrap = alloc::vec![addrs[0]];
                let mut d = Dht::new(x);
                let store = stores[i].clone();
                let behaviour = behaviour(i);
                if behaviour == Behaviour::Js {
                    let config = super::persistent::Config::default();
                    let p = super::persistent::Persistent::new(config, Duration::ZERO, i as u64);
                    d.set_record_handler(Box::new(p));
                } else {
                    d.set_record_handler(Box::new(TestRecords { behaviour, store }));
                }
                d
            })
            .collect();
        let mut net = Self {
            events: (0..n).map(|_| Vec::new()).collect(),
            addrs,
            nodes,
            now: Duration::ZERO,
            dead: BTreeSet::new(),
            stores,
        };
        for i in 0..n {
            let op = net.nodes[i].find_node(net.now, node_id(&net.addrs[i]));
            net.wait(i, op).expect("bootstrap query");
        }
        net
    }

    /// Delivers datagrams until none is left.
    pub fn deliver(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    moved = true;
                    if self.dead.contains(&t.to) || self.dead.contains(&self.addrs[i]) {
                        continue;
                    }
                    if let Some(j) = self.addrs.iter().position(|a| *a == t.to) {
                        let (from, now) = (self.addrs[i], self.now);
                        self.nodes[j].handle_datagram(now, Socket::Server, from, &t.bytes);
                    }
                }
                self.events[i].extend(core::iter::from_fn(|| self.nodes[i].poll_event()));
            }
            if !moved {
                return;
            }
        }
        panic!("the network never went quiet");
    }

    /// Moves the clock to the next timer and runs it.
    pub fn step(&mut self) {
        let next = self.nodes.iter().filter_map(Dht::poll_timeout).min();
        if let Some(t) = next {
            self.now = self.now.max(t);
        }
        for n in &mut self.nodes {
            n.handle_timeout(self.now);
        }
        self.deliver();
    }

    /// Runs until node `i` reports `op` done (at most 10 simulated minutes).
    pub fn wait(&mut self, i: usize, op: OpId) -> Result<OpOutput, DhtError> {
        let limit = self.now + Duration::from_secs(600);
        loop {
            self.deliver();
            if let Some(r) = self.done(i, op) {
                return r;
            }
            assert!(self.now < limit, "operation {op:?} never ended");
            self.step();
        }
    }

    /// `op`'s result, if it has ended.
    pub fn done(&self, i: usize, op: OpId) -> Option<Result<OpOutput, DhtError>> {
        self.events[i].iter().find_map(|e| match e {
            DhtEvent::Done { op: o, result } if *o == op => Some(result.clone()),
            _ => None,
        })
    }

    /// The lookup replies node `i` got for `op`.
    pub fn lookups(&self, i: usize, op: OpId) -> Vec<LookupReply> {
        self.events[i]
            .iter()
            .filter_map(|e| match e {
                DhtEvent::Lookup { op: o, reply } if *o == op => Some(reply.clone()),
                _ => None,
            })
            .collect()
    }
}
