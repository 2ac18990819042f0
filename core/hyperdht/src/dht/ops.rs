//! The client operations of [`Dht`] (`hyperdht@6.34.0` `index.js`), each an iterative
//! dht-rpc query run by [`Node::query`](crate::rpc::node::Node::query):
//!
//! | operation | query | then |
//! |---|---|---|
//! | [`Dht::lookup`] | LOOKUP | [`DhtEvent::Lookup`] per reply with peers |
//! | [`Dht::announce`] | LOOKUP, committing | a signed ANNOUNCE to each closest node |
//! | [`Dht::unannounce`] | LOOKUP, committing | a signed UNANNOUNCE to each node listing us |
//! | [`Dht::find_peer`] | FIND_PEER for `hash(publicKey)` | [`DhtEvent::FindPeer`] per record |
//! | [`Dht::find_node`] | FIND_NODE | the closest nodes |
//! | [`Dht::immutable_put`] | IMMUTABLE_GET, committing | IMMUTABLE_PUT to each closest node |
//! | [`Dht::immutable_get`] | IMMUTABLE_GET | the first value hashing to the target |
//! | [`Dht::mutable_put`] | MUTABLE_GET (seq 0), committing | the signed MUTABLE_PUT |
//! | [`Dht::mutable_get`] | MUTABLE_GET (seq) | the valid record of highest seq |
//!
//! Every operation ends with one [`DhtEvent::Done`]. A committing one succeeds when at
//! least one commit request got a reply (any reply: JS resolves on error replies too, so
//! the per-node error codes, e.g. `SEQ_REUSED`, are in [`CommitReply::error`]); it fails
//! with [`DhtError::TooFewNodes`] when no node could be committed to and with the last
//! commit's error (mostly [`DhtError::RequestTimeout`]) when every commit failed. Replies
//! that do not decode, immutable values that do not hash to the target and mutable
//! records with a bad signature or a seq below the one asked for are ignored, as JS
//! ignores them. An operation still running at its deadline ([`Dht::op_timeout`] after
//! its start) ends with [`DhtError::OperationTimeout`]; on [`Dht::destroy`] with
//! [`DhtError::NodeDestroyed`].

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    announce_signable, commands, dht_commands as cmd, immutable_target, mutable_signable,
    mutable_target, Announce, Ipv4Address, LookupRawReply, MutableGetRequest, MutableGetResponse,
    MutablePutRequest, Peer,
};
use ferrocore_wire::{Decode, Encode};

use super::{Dht, DhtError, DhtEvent, RecordContext};
use crate::rpc::io::Outgoing;
use crate::rpc::node::{QueryId, QueryRequest};
use crate::rpc::query::{QueryConfig, QueryReply};
use crate::rpc::table::K;

/// The handle of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// A node that replied, with its verified id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRef {
    /// Its address.
    pub addr: Ipv4Address,
    /// Its id.
    pub id: [u8; 32],
}

/// Who sent a query reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replier {
    /// The replier.
    pub from: Ipv4Address,
    /// Its id, when it sent a valid one.
    pub from_id: Option<[u8; 32]>,
    /// Our address as the replier saw it.
    pub to: Ipv4Address,
    /// The replier's token for us.
    pub token: Option<[u8; 32]>,
}

/// A LOOKUP reply (`mapLookup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupReply {
    /// Who replied.
    pub replier: Replier,
    /// The peers announced under the target there.
    pub peers: Vec<Peer>,
    /// The target's latest bump there.
    pub bump: u64,
}

/// A FIND_PEER reply naming the peer (`mapFindPeer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindPeerReply {
    /// Who replied (the node the peer announced itself to).
    pub replier: Replier,
    /// The peer's record.
    pub peer: Peer,
}

/// An immutable value found (`mapImmutable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImmutableValue {
    /// The node that had it.
    pub from: Ipv4Address,
    /// The value (its BLAKE2b-256 is the target).
    pub value: Bytes,
}

/// A mutable record found (`mapMutable`), signature checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutableValue {
    /// The node that had it.
    pub from: Ipv4Address,
    /// Its sequence number.
    pub seq: u64,
    /// Its value.
    pub value: Bytes,
    /// Its signature.
    pub signature: [u8; 64],
}

/// The reply to one commit request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitReply {
    /// The node committed to.
    pub to: Ipv4Address,
    /// Its reply's error code (0: stored; `SEQ_REUSED`, `SEQ_TOO_LOW`, ...).
    pub error: u64,
}

/// What a successful operation gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutput {
    /// A lookup, unannounce, FIND_PEER or FIND_NODE ended: the closest nodes that replied.
    Closest(Vec<NodeRef>),
    /// An announce or put ended: the closest nodes and the replies to the commits.
    Committed {
        /// The closest nodes that replied.
        closest: Vec<NodeRef>,
        /// The commit requests' replies.
        commits: Vec<CommitReply>,
    },
    /// An immutable get ended: the value, if one was found.
    Immutable(Option<ImmutableValue>),
    /// A mutable get ended: the record, if a valid one was found.
    Mutable(Option<MutableValue>),
}

/// Who waits for a request's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// The owner of the [`Dht`] ([`Dht::request`]).
    App,
    /// An operation's commit.
    Commit(OpId),
    /// An unannounce sent while an unannounce's lookup runs.
    Unannounce(OpId),
}

#[derive(Debug)]
enum Kind {
    Lookup,
    FindPeer,
    FindNode,
    Announce {
        key: SigningKey,
        relays: Vec<Ipv4Address>,
    },
    Unannounce {
        key: SigningKey,
    },
    ImmutablePut(Bytes),
    ImmutableGet,
    MutablePut(Bytes),
    MutableGet {
        public_key: [u8; 32],
        seq: u64,
        latest: bool,
        best: Option<MutableValue>,
    },
}

/// A running operation.
#[derive(Debug)]
pub(super) struct Op {
    kind: Kind,
    target: [u8; 32],
    query: Option<QueryId>,
    pub(super) deadline: Duration,
    closest: Vec<NodeRef>,
    /// Commit (or unannounce) requests out.
    pending: usize,
    commits: Vec<CommitReply>,
    /// A commit that could not be sent or failed.
    failed: Option<DhtError>,
    /// The query has ended (it commits to nobody more).
    query_done: bool,
    too_few: bool,
}

fn distance(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    core::array::from_fn(|i| a[i] ^ b[i])
}

impl Dht {
    fn start(&mut self, now: Duration, kind: Kind, req: QueryRequest, commit: bool) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        if self.destroyed {
            let result = Err(DhtError::NodeDestroyed);
            self.events.push_back(DhtEvent::Done { op, result });
            return op;
        }
        let target = req.target;
        self.ops.insert(
            op,
            Op {
                kind,
                target,
                query: None,
                deadline: now + self.op_timeout,
                closest: Vec::new(),
                pending: 0,
                commits: Vec::new(),
                failed: None,
                query_done: false,
                too_few: false,
            },
        );
        let cfg = QueryConfig {
            commit,
            ..QueryConfig::default()
        };
        let q = self.node.query(now, req, cfg, &[]);
        self.by_query.insert(q, op);
        if let Some(o) = self.ops.get_mut(&op) {
            o.query = Some(q);
        }
        self.process(now);
        op
    }

    /// Looks up the peers announced under `target` (`lookup`).
    pub fn lookup(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        self.start(now, Kind::Lookup, query(target, cmd::LOOKUP, None), false)
    }

    /// Announces `key`'s public key under `target`, reachable through `relays`
    /// (`announce`; at most 3 are stored by a JS node): a lookup whose closest nodes get a
    /// signed ANNOUNCE.
    pub fn announce(
        &mut self,
        now: Duration,
        target: [u8; 32],
        key: &SigningKey,
        relays: Vec<Ipv4Address>,
    ) -> OpId {
        let kind = Kind::Announce {
            key: key.clone(),
            relays,
        };
        self.start(now, kind, query(target, cmd::LOOKUP, None), true)
    }

    /// Removes `key`'s announcement under `target` (`unannounce`): a lookup that sends a
    /// signed UNANNOUNCE to every node listing the key (or listing 20 peers), after
    /// dropping the local record.
    pub fn unannounce(&mut self, now: Duration, target: [u8; 32], key: &SigningKey) -> OpId {
        let public_key = key.verifying_key().to_bytes();
        if let (Some(id), Some(h)) = (self.id(), self.records.as_deref_mut()) {
            let cx = RecordContext {
                now,
                id,
                router: &mut self.router,
            };
            h.unannounce(cx, &target, &public_key);
        }
        let kind = Kind::Unannounce { key: key.clone() };
        self.start(now, kind, query(target, cmd::LOOKUP, None), true)
    }

    /// Finds the nodes `public_key`'s peer announced itself to (`findPeer`: the target is
    /// BLAKE2b-256 of the key).
    pub fn find_peer(&mut self, now: Duration, public_key: &[u8; 32]) -> OpId {
        let target = mutable_target(public_key);
        self.start(
            now,
            Kind::FindPeer,
            query(target, cmd::FIND_PEER, None),
            false,
        )
    }

    /// Finds the nodes closest to `target` (a FIND_NODE query).
    pub fn find_node(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        let mut req = query(target, commands::FIND_NODE, None);
        req.internal = true;
        self.start(now, Kind::FindNode, req, false)
    }

    /// Stores `value` on the nodes closest to its hash (`immutablePut`); returns the
    /// operation and the hash.
    pub fn immutable_put(&mut self, now: Duration, value: Bytes) -> (OpId, [u8; 32]) {
        let target = immutable_target(&value);
        let req = query(target, cmd::IMMUTABLE_GET, None);
        (
            self.start(now, Kind::ImmutablePut(value), req, true),
            target,
        )
    }

    /// Fetches the value hashing to `target` (`immutableGet`): ends at the first one.
    pub fn immutable_get(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        let req = query(target, cmd::IMMUTABLE_GET, None);
        self.start(now, Kind::ImmutableGet, req, false)
    }

    /// Stores `value` signed by `key` with sequence number `seq` (`mutablePut`); returns
    /// the operation and the signature.
    pub fn mutable_put(
        &mut self,
        now: Duration,
        key: &SigningKey,
        seq: u64,
        value: Bytes,
    ) -> (OpId, [u8; 64]) {
        let public_key = key.verifying_key().to_bytes();
        let signature = key.sign(&mutable_signable(seq, &value)).to_bytes();
        let put = MutablePutRequest {
            public_key,
            seq,
            value,
            signature,
        };
        let get = MutableGetRequest { seq: 0 }.to_vec();
        let req = query(mutable_target(&public_key), cmd::MUTABLE_GET, Some(get));
        let kind = Kind::MutablePut(Bytes::from(put.to_vec()));
        (self.start(now, kind, req, true), signature)
    }

    /// Fetches `public_key`'s record of sequence number at least `seq` (`mutableGet`):
    /// with `latest` the valid record of highest seq once the query ends, otherwise the
    /// first valid one.
    pub fn mutable_get(
        &mut self,
        now: Duration,
        public_key: &[u8; 32],
        seq: u64,
        latest: bool,
    ) -> OpId {
        let get = MutableGetRequest { seq }.to_vec();
        let req = query(mutable_target(public_key), cmd::MUTABLE_GET, Some(get));
        let kind = Kind::MutableGet {
            public_key: *public_key,
            seq,
            latest,
            best: None,
        };
        self.start(now, kind, req, false)
    }

    /// Ends `op` with `result` (its query, if still running, is left to end unheard).
    pub(super) fn finish(&mut self, op: OpId, result: Result<OpOutput, DhtError>) {
        if let Some(o) = self.ops.remove(&op) {
            if let Some(q) = o.query {
                self.by_query.remove(&q);
            }
            self.requests
                .retain(|_, w| !matches!(w, Owner::Commit(x) | Owner::Unannounce(x) if *x == op));
            self.events.push_back(DhtEvent::Done { op, result });
        }
    }

    pub(super) fn expire_ops(&mut self, now: Duration) {
        let late: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, o)| o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for op in late {
            self.finish(op, Err(DhtError::OperationTimeout));
        }
    }

    pub(super) fn on_query_reply(&mut self, now: Duration, q: QueryId, r: QueryReply) {
        let Some(&op) = self.by_query.get(&q) else {
            return;
        };
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        if let Some(id) = r.from_id {
            push_closest(&mut o.closest, &o.target, NodeRef { addr: r.from, id });
        }
        let res = &r.response;
        let replier = Replier {
            from: r.from,
            from_id: r.from_id,
            to: res.to,
            token: res.token,
        };
        let Some(value) = res.value.as_deref() else {
            return;
        };
        match &mut o.kind {
            Kind::Lookup | Kind::Announce { .. } | Kind::Unannounce { .. } => {
                let Ok(l) = LookupRawReply::decode_from(value) else {
                    return;
                };
                let reply = LookupReply {
                    replier,
                    peers: l.peers,
                    bump: l.bump,
                };
                if let Kind::Unannounce { key } = &o.kind {
                    let key = key.clone();
                    self.maybe_unannounce(now, op, &reply, &key);
                }
                self.events.push_back(DhtEvent::Lookup { op, reply });
            }
            Kind::FindPeer => {
                if let Ok(peer) = Peer::decode_from(value) {
                    let reply = FindPeerReply { replier, peer };
                    self.events.push_back(DhtEvent::FindPeer { op, reply });
                }
            }
            Kind::ImmutableGet => {
                if immutable_target(value) == o.target {
                    let v = ImmutableValue {
                        from: r.from,
                        value: Bytes::copy_from_slice(value),
                    };
                    self.finish(op, Ok(OpOutput::Immutable(Some(v))));
                }
            }
            Kind::MutableGet {
                public_key,
                seq,
                latest,
                best,
            } => {
                let Ok(m) = MutableGetResponse::decode_from(value) else {
                    return;
                };
                if best.as_ref().is_some_and(|b| m.seq <= b.seq)
                    || m.seq < *seq
                    || !verify(public_key, &mutable_signable(m.seq, &m.value), &m.signature)
                {
                    return;
                }
                let v = MutableValue {
                    from: r.from,
                    seq: m.seq,
                    value: m.value,
                    signature: m.signature,
                };
                if *latest {
                    *best = Some(v);
                } else {
                    self.finish(op, Ok(OpOutput::Mutable(Some(v))));
                }
            }
            Kind::FindNode | Kind::ImmutablePut(_) | Kind::MutablePut(_) => {}
        }
    }

    /// `lookupAndUnannounce`'s map: a node listing our key (or a full list) with a token
    /// and an id gets a signed UNANNOUNCE.
    fn maybe_unannounce(&mut self, now: Duration, op: OpId, r: &LookupReply, key: &SigningKey) {
        let (Some(token), Some(id)) = (r.replier.token, r.replier.from_id) else {
            return;
        };
        let public_key = key.verifying_key().to_bytes();
        let listed = r.peers.len() >= 20 || r.peers.iter().any(|p| p.public_key == public_key);
        let Some(target) = self.ops.get(&op).map(|o| o.target).filter(|_| listed) else {
            return;
        };
        let value = signed_announce(&NS_UNANNOUNCE, &target, &id, &token, key, Vec::new());
        let out = commit_request(r.replier.from, id, token, target, cmd::UNANNOUNCE, value);
        let rid = self.node.request(now, out);
        self.requests.insert(rid, Owner::Unannounce(op));
        if let Some(o) = self.ops.get_mut(&op) {
            o.pending += 1;
        }
    }

    pub(super) fn on_query_commit(&mut self, now: Duration, q: QueryId, r: QueryReply) {
        let Some(&op) = self.by_query.get(&q) else {
            return;
        };
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        let target = o.target;
        let (Some(token), Some(id)) = (r.response.token, r.from_id) else {
            o.failed = Some(DhtError::NoToken);
            return;
        };
        let (command, value) = match &o.kind {
            Kind::Announce { key, relays } => {
                let v = signed_announce(&NS_ANNOUNCE, &target, &id, &token, key, relays.clone());
                (cmd::ANNOUNCE, v)
            }
            Kind::ImmutablePut(v) => (cmd::IMMUTABLE_PUT, v.clone()),
            Kind::MutablePut(v) => (cmd::MUTABLE_PUT, v.clone()),
            // unannounce's own commit does nothing but wait for its unannounces
            Kind::Unannounce { .. } => {
                o.commits.push(CommitReply {
                    to: r.from,
                    error: 0,
                });
                return;
            }
            _ => return,
        };
        o.pending += 1;
        let rid = self.node.request(
            now,
            commit_request(r.from, id, token, target, command, value),
        );
        self.requests.insert(rid, Owner::Commit(op));
    }

    pub(super) fn on_query_too_few(&mut self, q: QueryId) {
        if let Some(o) = self.by_query.get(&q).and_then(|op| self.ops.get_mut(op)) {
            o.too_few = true;
        }
    }

    pub(super) fn on_query_done(&mut self, q: QueryId) {
        let Some(op) = self.by_query.remove(&q) else {
            return;
        };
        if let Some(o) = self.ops.get_mut(&op) {
            o.query = None;
            o.query_done = true;
        }
        self.try_finish(op);
    }

    pub(super) fn on_op_response(
        &mut self,
        owner: Owner,
        from: Ipv4Address,
        reply: Result<u64, DhtError>,
    ) {
        let (Owner::Commit(op) | Owner::Unannounce(op)) = owner else {
            return;
        };
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        o.pending = o.pending.saturating_sub(1);
        match (owner, reply) {
            (Owner::Commit(_), Ok(error)) => o.commits.push(CommitReply { to: from, error }),
            (Owner::Commit(_), Err(e)) => o.failed = Some(e),
            _ => {}
        }
        self.try_finish(op);
    }

    /// Ends `op` once its query and its requests are over.
    fn try_finish(&mut self, op: OpId) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        if !o.query_done || o.pending > 0 {
            return;
        }
        let closest = core::mem::take(&mut o.closest);
        let result = match &mut o.kind {
            Kind::Lookup | Kind::FindPeer | Kind::FindNode => Ok(OpOutput::Closest(closest)),
            Kind::ImmutableGet => Ok(OpOutput::Immutable(None)),
            Kind::MutableGet { best, .. } => Ok(OpOutput::Mutable(best.take())),
            _ if o.too_few => Err(DhtError::TooFewNodes),
            Kind::Unannounce { .. } => Ok(OpOutput::Closest(closest)),
            _ if o.commits.is_empty() => Err(o.failed.unwrap_or(DhtError::TooFewNodes)),
            _ => Ok(OpOutput::Committed {
                closest,
                commits: core::mem::take(&mut o.commits),
            }),
        };
        self.finish(op, result);
    }
}

fn query(target: [u8; 32], command: u64, value: Option<Vec<u8>>) -> QueryRequest {
    QueryRequest {
        target,
        internal: false,
        command,
        value: value.map(Bytes::from),
    }
}

fn commit_request(
    to: Ipv4Address,
    id: [u8; 32],
    token: [u8; 32],
    target: [u8; 32],
    command: u64,
    value: Bytes,
) -> Outgoing {
    Outgoing {
        to,
        to_id: Some(id),
        token: Some(token),
        command,
        target: Some(target),
        value: Some(value),
        ..Outgoing::default()
    }
}

/// An encoded announce (or unannounce) of `key` for the node `id` that handed out `token`.
fn signed_announce(
    ns: &[u8; 32],
    target: &[u8; 32],
    id: &[u8; 32],
    token: &[u8; 32],
    key: &SigningKey,
    relay_addresses: Vec<Ipv4Address>,
) -> Bytes {
    let peer = Peer {
        public_key: key.verifying_key().to_bytes(),
        relay_addresses,
    };
    let signable = announce_signable(ns, target, id, token, &peer, None);
    let ann = Announce {
        peer: Some(peer),
        refresh: None,
        signature: Some(key.sign(&signable).to_bytes()),
        bump: 0,
    };
    Bytes::from(ann.to_vec())
}

/// Whether `signature` is `public_key`'s over `message` (libsodium's strict rules).
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(public_key).is_ok_and(|k| {
        k.verify_strict(message, &Signature::from_bytes(signature))
            .is_ok()
    })
}

/// Keeps the [`K`] nodes closest to `target`, closest first.
fn push_closest(list: &mut Vec<NodeRef>, target: &[u8; 32], n: NodeRef) {
    if list.iter().any(|x| x.id == n.id) {
        return;
    }
    let d = distance(&n.id, target);
    let at = list.partition_point(|x| distance(&x.id, target) < d);
    if at < K {
        list.insert(at, n);
        list.truncate(K);
    }
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod ops_tests;
