//! The [`Announcer`] of each listening key on a [`PeerNode`]'s [`Dht`](crate::dht::Dht).
//!
//! One difference from the reference: the DHT's `find_peer` operation reports the closest
//! nodes (address and id) but not the tokens their replies carried, so the closest
//! [`ANNOUNCE_TO`] nodes are each asked once more (a `FIND_PEER` request) for a token
//! before the announcer commits to them: one extra round trip per update, the same
//! announces.

use alloc::vec::Vec;
use core::time::Duration;

use ferrocore_wire::dht::{dht_commands, Ipv4Address};

use super::{PeerNode, Pending};
use crate::dht::announcer::{
    AnnounceAction, AnnounceRequestId, Announcer, ClosestReply, ANNOUNCE_TO,
};
use crate::dht::ops::{NodeRef, OpOutput};
use crate::dht::DhtError;
use crate::rpc::io::Outgoing;
use crate::rpc::query::QueryReply;

/// An update's token round: the closest nodes asked, the replies so far.
#[derive(Debug, Default)]
pub(super) struct TokenRound {
    asked: Vec<NodeRef>,
    closest: Vec<Ipv4Address>,
    replies: Vec<(usize, ClosestReply)>,
    outstanding: usize,
}

impl PeerNode {
    /// Carries out the announcer of `target`'s actions.
    pub(super) fn pump_announcer(&mut self, now: Duration, target: [u8; 32]) {
        loop {
            let Some(a) = self.announcers.get_mut(&target) else {
                return;
            };
            let Some(action) = a.poll_action() else {
                if a.is_finished() {
                    self.announcers.remove(&target);
                }
                return;
            };
            match action {
                AnnounceAction::Query { .. } => {
                    let key = a.public_key();
                    let op = self.dht.find_peer(now, &key);
                    self.announce_queries.insert(op, target);
                }
                AnnounceAction::Request {
                    id,
                    to,
                    token,
                    command,
                    target: t,
                    value,
                } => {
                    let out = Outgoing {
                        to,
                        token,
                        command,
                        target: Some(t),
                        value,
                        ..Outgoing::default()
                    };
                    let rid = self.dht.request(now, out);
                    self.requests.insert(rid, Pending::Announce(target, id));
                }
                AnnounceAction::Ping { id, to } => {
                    self.ping(now, to, Pending::Announce(target, id));
                }
                AnnounceAction::Relays {
                    relays,
                    relay_addresses,
                } => {
                    if let Some(s) = self.servers.get_mut(&target) {
                        s.set_relays(relays, relay_addresses);
                    }
                }
            }
        }
    }

    /// The announcer's query ended: ask its closest nodes for tokens.
    pub(super) fn announce_query_done(
        &mut self,
        now: Duration,
        target: [u8; 32],
        result: Result<OpOutput, DhtError>,
    ) {
        let nodes = match result {
            Ok(OpOutput::Closest(nodes)) => nodes,
            _ => Vec::new(),
        };
        let mut round = TokenRound {
            closest: nodes.iter().map(|n| n.addr).collect(),
            ..TokenRound::default()
        };
        for (i, n) in nodes.iter().take(ANNOUNCE_TO).enumerate() {
            let out = Outgoing {
                to: n.addr,
                command: dht_commands::FIND_PEER,
                target: Some(target),
                ..Outgoing::default()
            };
            let rid = self.dht.request(now, out);
            self.requests.insert(rid, Pending::Token(target, i));
            round.asked.push(*n);
            round.outstanding += 1;
        }
        self.token_rounds.insert(target, round);
        self.token_round_step(now, target);
    }

    /// A token request of `target`'s round was answered (`Some`) or not.
    pub(super) fn announce_token(
        &mut self,
        now: Duration,
        target: [u8; 32],
        i: usize,
        reply: Option<&QueryReply>,
    ) {
        let Some(round) = self.token_rounds.get_mut(&target) else {
            return;
        };
        round.outstanding = round.outstanding.saturating_sub(1);
        if let (Some(r), Some(node)) = (reply, round.asked.get(i)) {
            if let (Some(token), 0) = (r.response.token, r.response.error) {
                let reply = ClosestReply {
                    from: r.from,
                    id: r.from_id.unwrap_or(node.id),
                    token,
                    to: r.response.to,
                };
                round.replies.push((i, reply));
            }
        }
        self.token_round_step(now, target);
    }

    fn token_round_step(&mut self, now: Duration, target: [u8; 32]) {
        if self
            .token_rounds
            .get(&target)
            .is_some_and(|r| r.outstanding > 0)
        {
            return;
        }
        let Some(mut round) = self.token_rounds.remove(&target) else {
            return;
        };
        round.replies.sort_by_key(|(i, _)| *i);
        let replies: Vec<ClosestReply> = round.replies.into_iter().map(|(_, r)| r).collect();
        if let Some(a) = self.announcers.get_mut(&target) {
            a.handle_query_done(now, &replies, round.closest);
        }
        self.pump_announcer(now, target);
    }

    /// A reply to (`Some`) or the timeout of one of `target`'s announcer requests.
    pub(super) fn announce_response(
        &mut self,
        now: Duration,
        target: [u8; 32],
        id: AnnounceRequestId,
        reply: Option<&QueryReply>,
    ) {
        if let Some(a) = self.announcers.get_mut(&target) {
            match reply {
                Some(r) => {
                    let res = &r.response;
                    let has_value = res.value.is_some();
                    a.handle_response(now, id, r.from_id, res.token, res.error, has_value);
                }
                None => a.handle_failure(now, id),
            }
        }
        self.pump_announcer(now, target);
    }

    /// Starts `key`'s announcer (from [`PeerNode::listen`]).
    pub(super) fn start_announcer(&mut self, now: Duration, target: [u8; 32], mut a: Announcer) {
        a.start(now);
        self.announcers.insert(target, a);
        self.pump_announcer(now, target);
    }

    /// Stops `target`'s announcer: it unannounces, then goes.
    pub(super) fn stop_announcer(&mut self, now: Duration, target: [u8; 32]) {
        self.token_rounds.remove(&target);
        if let Some(a) = self.announcers.get_mut(&target) {
            a.stop();
        }
        self.pump_announcer(now, target);
    }

    /// Runs the announcers' timers.
    pub(super) fn announcers_timeout(&mut self, now: Duration) {
        let targets: Vec<[u8; 32]> = self.announcers.keys().copied().collect();
        for t in targets {
            if let Some(a) = self.announcers.get_mut(&t) {
                a.handle_timeout(now);
            }
            self.pump_announcer(now, t);
        }
    }
}
