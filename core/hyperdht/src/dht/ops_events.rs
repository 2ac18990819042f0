//! How operations follow their query's events and their requests' replies.

use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    dht_commands as cmd, immutable_target, mutable_signable, Ipv4Address, LookupRawReply,
    MutableGetResponse, Peer,
};
use ferrocore_wire::Decode;

use super::*;

impl Dht {
    pub(in crate::dht) fn on_query_reply(&mut self, now: Duration, q: QueryId, r: QueryReply) {
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
            Kind::Lookup | Kind::Announce { .. } => {
                let Ok(l) = LookupRawReply::decode_from(value) else {
                    return;
                };
                let reply = LookupReply {
                    replier,
                    peers: l.peers,
                    bump: l.bump,
                };
                if let Kind::Announce {
                    key, clear: true, ..
                } = &o.kind
                {
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
        let value = signed(&NS_UNANNOUNCE, &target, &id, &token, key, Vec::new(), 0);
        let out = commit_request(r.replier.from, id, token, target, cmd::UNANNOUNCE, value);
        let rid = self.node.request(now, out);
        self.requests.insert(rid, Owner::Unannounce(op));
        if let Some(o) = self.ops.get_mut(&op) {
            o.pending += 1;
            o.unannouncing += 1;
        }
    }

    pub(in crate::dht) fn on_query_commit(&mut self, now: Duration, q: QueryId, r: QueryReply) {
        let Some(&op) = self.by_query.get(&q) else {
            return;
        };
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        match o.kind {
            // an unannounce's own commit does nothing but wait for its unannounces
            Kind::Announce {
                announce: false, ..
            } => {
                let to = r.from;
                o.commits.push(CommitReply { to, error: 0 });
            }
            Kind::Announce { .. } if o.unannouncing > 0 => o.deferred.push(r),
            _ => self.send_commit(now, op, r),
        }
    }

    /// Sends `op`'s commit request to the closest node `r` (with its token).
    fn send_commit(&mut self, now: Duration, op: OpId, r: QueryReply) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        let target = o.target;
        let (Some(token), Some(id)) = (r.response.token, r.from_id) else {
            o.failed = Some(DhtError::NoToken);
            return;
        };
        let (command, value) = match &o.kind {
            Kind::Announce {
                key, relays, bump, ..
            } => {
                let v = signed(
                    &NS_ANNOUNCE,
                    &target,
                    &id,
                    &token,
                    key,
                    relays.clone(),
                    *bump,
                );
                (cmd::ANNOUNCE, v)
            }
            Kind::ImmutablePut(v) => (cmd::IMMUTABLE_PUT, v.clone()),
            Kind::MutablePut(v) => (cmd::MUTABLE_PUT, v.clone()),
            _ => return,
        };
        o.pending += 1;
        let out = commit_request(r.from, id, token, target, command, value);
        let rid = self.node.request(now, out);
        self.requests.insert(rid, Owner::Commit(op));
    }

    pub(in crate::dht) fn on_query_too_few(&mut self, q: QueryId) {
        if let Some(o) = self.by_query.get(&q).and_then(|op| self.ops.get_mut(op)) {
            o.too_few = true;
        }
    }

    pub(in crate::dht) fn on_query_done(&mut self, q: QueryId) {
        let Some(op) = self.by_query.remove(&q) else {
            return;
        };
        if let Some(o) = self.ops.get_mut(&op) {
            o.query = None;
            o.query_done = true;
        }
        self.try_finish(op);
    }

    pub(in crate::dht) fn on_op_response(
        &mut self,
        now: Duration,
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
            _ => {
                o.unannouncing = o.unannouncing.saturating_sub(1);
                if o.unannouncing == 0 {
                    for r in core::mem::take(&mut o.deferred) {
                        self.send_commit(now, op, r);
                    }
                }
            }
        }
        self.try_finish(op);
    }

    /// Ends `op` once its query and its requests are over.
    fn try_finish(&mut self, op: OpId) {
        let Some(o) = self.ops.get_mut(&op) else {
            return;
        };
        if !o.query_done || o.pending > 0 || !o.deferred.is_empty() {
            return;
        }
        let closest = core::mem::take(&mut o.closest);
        let result = match &mut o.kind {
            Kind::Lookup | Kind::FindPeer | Kind::FindNode => Ok(OpOutput::Closest(closest)),
            Kind::ImmutableGet => Ok(OpOutput::Immutable(None)),
            Kind::MutableGet { best, .. } => Ok(OpOutput::Mutable(best.take())),
            _ if o.too_few => Err(DhtError::TooFewNodes),
            Kind::Announce {
                announce: false, ..
            } => Ok(OpOutput::Closest(closest)),
            _ if o.commits.is_empty() => Err(o.failed.unwrap_or(DhtError::TooFewNodes)),
            _ => Ok(OpOutput::Committed {
                closest,
                commits: core::mem::take(&mut o.commits),
            }),
        };
        self.finish(op, result);
    }
}
