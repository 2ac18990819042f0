//! HyperDHT's router (`lib/router.js`): which targets this node routes PEER_HANDSHAKE and
//! PEER_HOLEPUNCH messages for, and how it forwards them.
//!
//! A [`Route`] says, for a target (BLAKE2b-256 of a peer's public key), through which node
//! the peer can be reached (`relay`: the peer announced itself to this node from there)
//! and whether a local server listens on it. Routes for servers are kept until deleted;
//! the others age out of the forwarding table ([`router::Router`]) as in JS.
//!
//! The forwarding decisions are [`router::Router::handle_request`]'s (JS's, with modes
//! from [`modes`](ferrocore_wire::dht::modes)); the [`Dht`] carries them out and adds
//! JS's empty-noise rule (an empty buffer decodes as `null`: such a handshake is dropped
//! and never reaches a server):
//! * a handshake for a server target goes to the server ([`DhtEvent::PeerHandshake`]);
//!   its answer ([`Dht::reply_peer_handshake`]) goes back to the client (`FROM_CLIENT`),
//!   to the relay it came through (`FROM_RELAY`) or to the first relay (`FROM_SECOND_RELAY`);
//! * otherwise a client's handshake is relayed to its relay address or the route's relay
//!   (or answered with closer nodes when there is neither), a first relay's is relayed on
//!   to the route's relay, and a server's answer is sent to the client it names;
//! * a client's holepunch is relayed to its peer address or the route's relay, a relay's
//!   goes to the server ([`DhtEvent::PeerHolepunch`], answered with
//!   [`Dht::reply_peer_holepunch`]), a server's answer to the client it names.
//!
//! Malformed or unroutable messages are dropped without a reply.

use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{dht_commands, Handshake, Holepunch, Ipv4Address, Packet, Request};
use ferrocore_wire::{Decode, Encode};

use super::router::{self, Forward, Outcome, ServerRequest, DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE};
use super::{Dht, DhtEvent};
use crate::rpc::io::{Incoming, Socket, Transmit};

/// What a route is registered with: where PEER_HANDSHAKE / PEER_HOLEPUNCH messages for a
/// target go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The node relaying to the peer (where its announce came from), if any.
    pub relay: Option<Ipv4Address>,
    /// The peer's record (an encoded [`Peer`](ferrocore_wire::dht::Peer)), served to
    /// lookups and FIND_PEER by a persistent node.
    pub record: Bytes,
    /// Whether a local server listens on the target: its messages are handed out as
    /// [`DhtEvent::PeerHandshake`] / [`DhtEvent::PeerHolepunch`], and the route is kept
    /// until deleted.
    pub server: bool,
}

/// The routes this node knows: the forwarding table ([`router::Router`], JS's `xache`
/// semantics: [`DEFAULT_MAX_SIZE`] per generation, [`DEFAULT_MAX_AGE`], local servers
/// retained) at the time the [`Dht`] last saw.
#[derive(Debug, Clone)]
pub struct Router {
    table: router::Router,
    now: Duration,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// An empty router at time zero.
    #[must_use]
    pub fn new() -> Self {
        Self {
            table: router::Router::new(Duration::ZERO, DEFAULT_MAX_SIZE, DEFAULT_MAX_AGE),
            now: Duration::ZERO,
        }
    }

    /// Moves the router's clock to `now` (never back).
    pub fn set_now(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }

    /// Sets `target`'s route at `now` (a remote route never replaces a server's).
    pub fn set(&mut self, now: Duration, target: [u8; 32], route: Route) {
        self.set_now(now);
        let forward = Forward {
            relay: route.relay,
            record: route.record,
            local: route.server,
        };
        self.table.set(self.now, target, forward);
    }

    /// `target`'s route, if not yet aged out when the router was last used (looking does
    /// not refresh it; the routing and record handlers' reads do, as JS's cache does).
    #[must_use]
    pub fn get(&self, target: &[u8; 32]) -> Option<&Forward> {
        self.table.peek(target)
    }

    /// Removes `target`'s route.
    pub fn delete(&mut self, target: &[u8; 32]) {
        self.table.delete(self.now, target);
    }

    /// Routes known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no route is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Ages routes out as due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.set_now(now);
        self.table.handle_timeout(self.now);
    }

    /// The forwarding table itself (what [`Persistent`](super::persistent::Persistent)
    /// works on), and the router's time.
    pub fn table_mut(&mut self) -> (&mut router::Router, Duration) {
        (&mut self.table, self.now)
    }

    /// Forgets every route (`destroy`).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

/// A PEER_HANDSHAKE for a local server, to answer with [`Dht::reply_peer_handshake`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHandshake {
    /// The request it came in (to answer).
    pub req: Incoming,
    /// The server's target.
    pub target: [u8; 32],
    /// The message (its `noise` is not empty).
    pub handshake: Handshake,
}

/// A PEER_HOLEPUNCH relayed to a local server, to answer with
/// [`Dht::reply_peer_holepunch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHolepunch {
    /// The request it came in (to answer).
    pub req: Incoming,
    /// The server's target.
    pub target: [u8; 32],
    /// The message (`mode` is `FROM_RELAY`, `peer_address` is set).
    pub holepunch: Holepunch,
}

impl Dht {
    /// The router.
    #[must_use]
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The router, to register (or drop) a server's target or a relayed peer.
    pub fn router_mut(&mut self) -> &mut Router {
        &mut self.router
    }

    /// Forwards `req` with `value` to `to` as a request with `req`'s transaction id
    /// (`relay`).
    fn relay(&mut self, req: &Incoming, value: Bytes, to: Ipv4Address) {
        let io = self.node.io();
        let id = (!io.ephemeral && req.socket == Socket::Server).then(|| *io.table().id());
        let packet = Packet::Request(Request {
            tid: req.request.tid,
            to,
            id,
            token: None,
            internal: req.request.internal,
            command: req.request.command,
            target: req.request.target,
            value: Some(value),
        });
        self.transmits.push_back(Transmit {
            socket: req.socket,
            to,
            bytes: packet.to_vec(),
        });
    }

    /// Carries out what the forwarding table decided for `req`.
    fn execute(&mut self, req: Incoming, outcome: Outcome) {
        match outcome {
            Outcome::Drop | Outcome::Plugin(_) => {}
            Outcome::Reply(r) => {
                let io = self.node.io_mut();
                io.reply_to(&req, r.to, r.error, r.value, r.token, r.closer_nodes);
            }
            Outcome::Relay { to, value } => self.relay(&req, value, to),
            Outcome::Server(s) => {
                let Some(target) = req.request.target else {
                    return;
                };
                self.events.push_back(match s {
                    ServerRequest::Handshake(handshake) => DhtEvent::PeerHandshake(PeerHandshake {
                        req,
                        target,
                        handshake,
                    }),
                    ServerRequest::Holepunch(holepunch) => DhtEvent::PeerHolepunch(PeerHolepunch {
                        req,
                        target,
                        holepunch,
                    }),
                });
            }
        }
    }

    /// `onpeerhandshake` / `onpeerholepunch`: routes `req` through the forwarding table.
    pub(super) fn on_peer_message(&mut self, req: Incoming) {
        // JS decodes an empty buffer as null: a handshake without noise goes nowhere
        // (and never reaches a server)
        if req.request.command == dht_commands::PEER_HANDSHAKE {
            let hs = req.request.value.as_deref().map(Handshake::decode_from);
            if !matches!(hs, Some(Ok(ref h)) if !h.noise.is_empty()) {
                return;
            }
        }
        let (table, now) = self.router.table_mut();
        let outcome = table.handle_request(now, req.from, &req.request);
        self.execute(req, outcome);
    }

    /// Answers a server's [`PeerHandshake`] with the server's Noise reply `noise` (empty:
    /// no answer), routed back the way the handshake came.
    pub fn reply_peer_handshake(&mut self, ev: &PeerHandshake, noise: Bytes) {
        if noise.is_empty() {
            return;
        }
        let o = router::Router::server_handshake_reply(ev.req.from, &ev.handshake, noise);
        self.execute(ev.req.clone(), o);
    }

    /// Answers a server's [`PeerHolepunch`] with the server's sealed holepunch `payload`,
    /// relayed back to the node it came through.
    pub fn reply_peer_holepunch(&mut self, ev: &PeerHolepunch, payload: Bytes) {
        let o = router::Router::server_holepunch_reply(ev.req.from, &ev.holepunch, payload);
        self.execute(ev.req.clone(), o);
    }
}
