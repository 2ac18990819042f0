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
//! The `_with` variants take [`OpOptions`]: the nodes to start from (JS `nodes` /
//! `closestNodes`), an announce's `clear` (unannounce first; the announces wait for those
//! replies) and `bump`, and the operation's own timeout.
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

use ed25519_dalek::{Signer, SigningKey};
use ferrocore_wire::dht::{
    announce_signable, commands, dht_commands as cmd, immutable_target, mutable_signable,
    mutable_target, Announce, Ipv4Address, MutableGetRequest, MutablePutRequest, Peer,
};
use ferrocore_wire::Encode;

pub use super::ops_types::*;
use super::{Dht, DhtError, DhtEvent, RecordContext};
use crate::rpc::io::Outgoing;
use crate::rpc::node::{QueryId, QueryRequest};
use crate::rpc::query::{QueryConfig, QueryReply};
use crate::rpc::table::K;

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
    /// An announce (`announce`), or with `announce` false an unannounce
    /// (`lookupAndUnannounce`); `clear` sends UNANNOUNCEs during the lookup.
    Announce {
        key: SigningKey,
        relays: Vec<Ipv4Address>,
        bump: u64,
        clear: bool,
        announce: bool,
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
    /// Commit and unannounce requests out.
    pending: usize,
    /// Unannounce requests out (announces wait for them, as JS's commit awaits them).
    unannouncing: usize,
    /// Closest replies whose announce waits for the unannounces.
    deferred: Vec<QueryReply>,
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
    fn start(
        &mut self,
        now: Duration,
        kind: Kind,
        req: QueryRequest,
        commit: bool,
        opts: &OpOptions,
    ) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        if self.destroyed {
            let result = Err(DhtError::NodeDestroyed);
            self.events.push_back(DhtEvent::Done { op, result });
            return op;
        }
        self.router.set_now(now);
        let target = req.target;
        self.ops.insert(
            op,
            Op {
                kind,
                target,
                query: None,
                deadline: now + opts.timeout.unwrap_or(self.op_timeout),
                closest: Vec::new(),
                pending: 0,
                unannouncing: 0,
                deferred: Vec::new(),
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
        let q = self.node.query(now, req, cfg, &opts.nodes);
        self.by_query.insert(q, op);
        if let Some(o) = self.ops.get_mut(&op) {
            o.query = Some(q);
        }
        self.process(now);
        op
    }

    /// Looks up the peers announced under `target` (`lookup`).
    pub fn lookup(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        self.lookup_with(now, target, &OpOptions::default())
    }

    /// [`Dht::lookup`] with options (`nodes`, `timeout`).
    pub fn lookup_with(&mut self, now: Duration, target: [u8; 32], opts: &OpOptions) -> OpId {
        let req = query(target, cmd::LOOKUP, None);
        self.start(now, Kind::Lookup, req, false, opts)
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
        self.announce_with(now, target, key, relays, &OpOptions::default())
    }

    /// [`Dht::announce`] with options: with `clear` the lookup first unannounces the key
    /// wherever it is listed (`lookupAndUnannounce`), and the announces go out once those
    /// unannounces are answered; `bump` is sent with each announce.
    pub fn announce_with(
        &mut self,
        now: Duration,
        target: [u8; 32],
        key: &SigningKey,
        relays: Vec<Ipv4Address>,
        opts: &OpOptions,
    ) -> OpId {
        if opts.clear {
            self.unannounce_locally(now, &target, key);
        }
        let kind = Kind::Announce {
            key: key.clone(),
            relays,
            bump: opts.bump,
            clear: opts.clear,
            announce: true,
        };
        self.start(now, kind, query(target, cmd::LOOKUP, None), true, opts)
    }

    /// Removes `key`'s announcement under `target` (`unannounce`): a lookup that sends a
    /// signed UNANNOUNCE to every node listing the key (or listing 20 peers), after
    /// dropping the local record.
    pub fn unannounce(&mut self, now: Duration, target: [u8; 32], key: &SigningKey) -> OpId {
        self.unannounce_with(now, target, key, &OpOptions::default())
    }

    /// [`Dht::unannounce`] with options (`nodes`, `timeout`).
    pub fn unannounce_with(
        &mut self,
        now: Duration,
        target: [u8; 32],
        key: &SigningKey,
        opts: &OpOptions,
    ) -> OpId {
        self.unannounce_locally(now, &target, key);
        let kind = Kind::Announce {
            key: key.clone(),
            relays: Vec::new(),
            bump: 0,
            clear: true,
            announce: false,
        };
        self.start(now, kind, query(target, cmd::LOOKUP, None), true, opts)
    }

    /// A persistent node's own record of `key` under `target` goes first (JS
    /// `this._persistent.unannounce`).
    fn unannounce_locally(&mut self, now: Duration, target: &[u8; 32], key: &SigningKey) {
        let public_key = key.verifying_key().to_bytes();
        if let (Some(id), Some(h)) = (self.id(), self.records.as_deref_mut()) {
            let cx = RecordContext {
                now,
                id,
                router: &mut self.router,
            };
            h.unannounce(cx, target, &public_key);
        }
    }

    /// Finds the nodes `public_key`'s peer announced itself to (`findPeer`: the target is
    /// BLAKE2b-256 of the key).
    pub fn find_peer(&mut self, now: Duration, public_key: &[u8; 32]) -> OpId {
        let target = mutable_target(public_key);
        self.find_peer_with(now, target, &OpOptions::default())
    }

    /// FIND_PEER for `target`, the key's hash already taken (`findPeer(target, { hash:
    /// false })`), with options (`nodes`: e.g. the peer's relays, `timeout`).
    pub fn find_peer_with(&mut self, now: Duration, target: [u8; 32], opts: &OpOptions) -> OpId {
        let req = query(target, cmd::FIND_PEER, None);
        self.start(now, Kind::FindPeer, req, false, opts)
    }

    /// Finds the nodes closest to `target` (a FIND_NODE query).
    pub fn find_node(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        let mut req = query(target, commands::FIND_NODE, None);
        req.internal = true;
        self.start(now, Kind::FindNode, req, false, &OpOptions::default())
    }

    /// Stores `value` on the nodes closest to its hash (`immutablePut`); returns the
    /// operation and the hash.
    pub fn immutable_put(&mut self, now: Duration, value: Bytes) -> (OpId, [u8; 32]) {
        let target = immutable_target(&value);
        let req = query(target, cmd::IMMUTABLE_GET, None);
        (
            self.start(
                now,
                Kind::ImmutablePut(value),
                req,
                true,
                &OpOptions::default(),
            ),
            target,
        )
    }

    /// Fetches the value hashing to `target` (`immutableGet`): ends at the first one.
    pub fn immutable_get(&mut self, now: Duration, target: [u8; 32]) -> OpId {
        let req = query(target, cmd::IMMUTABLE_GET, None);
        self.start(now, Kind::ImmutableGet, req, false, &OpOptions::default())
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
        (
            self.start(now, kind, req, true, &OpOptions::default()),
            signature,
        )
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
        self.start(now, kind, req, false, &OpOptions::default())
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

/// An encoded announce (or unannounce, by namespace `ns`) of `key` for the node `id` that
/// handed out `token`.
fn signed(
    ns: &[u8; 32],
    target: &[u8; 32],
    id: &[u8; 32],
    token: &[u8; 32],
    key: &SigningKey,
    relay_addresses: Vec<Ipv4Address>,
    bump: u64,
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
        bump,
    };
    Bytes::from(ann.to_vec())
}

/// Whether `signature` is `public_key`'s over `message` (libsodium's acceptance rules:
/// [`ferrocore::keys::verify`]).
#[must_use]
pub fn verify(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    ferrocore::keys::verify(public_key, message, signature)
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

#[path = "ops_events.rs"]
mod events;

#[cfg(test)]
#[path = "ops_tests.rs"]
mod ops_tests;
