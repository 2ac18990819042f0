//! HyperDHT's router (`lib/router.js`): which targets this node routes PEER_HANDSHAKE and
//! PEER_HOLEPUNCH messages for, and how it forwards them.
//!
//! A [`Route`] says, for a target (BLAKE2b-256 of a peer's public key), through which node
//! the peer can be reached (`relay`: the peer announced itself to this node from there)
//! and whether a local server listens on it. Routes for servers are kept until deleted;
//! the others expire after [`ROUTE_MAX_AGE`], and at most [`MAX_ROUTES`] are kept (the
//! oldest non-server route is dropped first).
//!
//! Forwarding as JS forwards (modes are [`modes`]):
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

use alloc::collections::{BTreeMap, BTreeSet};
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{modes, Handshake, Holepunch, Ipv4Address, Packet, Request};
use ferrocore_wire::{Decode, Encode};

use super::{Dht, DhtEvent};
use crate::rpc::io::{Incoming, Socket, Transmit};

/// Routes kept at most (`maxSize` of JS's forwards cache).
pub const MAX_ROUTES: usize = 65_536;
/// How long a non-server route lives (`maxAge`: 20 minutes).
pub const ROUTE_MAX_AGE: Duration = Duration::from_secs(20 * 60);

/// Where PEER_HANDSHAKE / PEER_HOLEPUNCH messages for a target go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The node relaying to the peer (where its announce came from), if any.
    pub relay: Option<Ipv4Address>,
    /// The peer's record (an encoded [`Peer`](ferrocore_wire::dht::Peer)), served to
    /// lookups and FIND_PEER by a persistent node.
    pub record: Bytes,
    /// Whether a local server listens on the target: its messages are handed out as
    /// [`DhtEvent::PeerHandshake`] / [`DhtEvent::PeerHolepunch`].
    pub server: bool,
}

/// The routes this node knows.
#[derive(Debug, Default)]
pub struct Router {
    routes: BTreeMap<[u8; 32], (Route, Duration)>,
    by_age: BTreeSet<(Duration, [u8; 32])>,
}

impl Router {
    /// An empty router.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `target`'s route at `now` (replacing any).
    pub fn set(&mut self, now: Duration, target: [u8; 32], route: Route) {
        self.delete(&target);
        if !route.server {
            if self.by_age.len() >= MAX_ROUTES {
                if let Some((_, old)) = self.by_age.pop_first() {
                    self.routes.remove(&old);
                }
            }
            self.by_age.insert((now, target));
        }
        self.routes.insert(target, (route, now));
    }

    /// `target`'s route.
    #[must_use]
    pub fn get(&self, target: &[u8; 32]) -> Option<&Route> {
        self.routes.get(target).map(|(r, _)| r)
    }

    /// Removes `target`'s route.
    pub fn delete(&mut self, target: &[u8; 32]) -> Option<Route> {
        let (route, at) = self.routes.remove(target)?;
        self.by_age.remove(&(at, *target));
        Some(route)
    }

    /// Routes known.
    #[must_use]
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether no route is known.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Drops the non-server routes older than [`ROUTE_MAX_AGE`] at `now`.
    pub fn expire(&mut self, now: Duration) {
        while let Some(&(at, t)) = self.by_age.first() {
            if at + ROUTE_MAX_AGE > now {
                break;
            }
            self.by_age.pop_first();
            self.routes.remove(&t);
        }
    }

    /// Forgets every route (`destroy`).
    pub fn clear(&mut self) {
        self.routes.clear();
        self.by_age.clear();
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

fn nonempty(b: &Bytes) -> bool {
    !b.is_empty()
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

    /// Forwards `req`'s value to `to` as a request with `req`'s transaction id (`relay`).
    fn relay(&mut self, req: &Incoming, value: &impl Encode, to: Ipv4Address) {
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
            value: Some(Bytes::from(value.to_vec())),
        });
        self.transmits.push_back(Transmit {
            socket: req.socket,
            to,
            bytes: packet.to_vec(),
        });
    }

    /// A reply to `req` sent to `to`, without token or closer nodes.
    fn reply_plain(&mut self, req: &Incoming, to: Ipv4Address, value: &impl Encode) {
        let value = Some(Bytes::from(value.to_vec()));
        self.node.io_mut().reply_to(req, to, 0, value, false, false);
    }

    pub(super) fn on_peer_handshake(&mut self, req: Incoming) {
        let Some(hs) = req
            .request
            .value
            .as_deref()
            .and_then(|v| Handshake::decode_from(v).ok())
        else {
            return;
        };
        let target = req.request.target;
        let route = target.and_then(|t| self.router.get(&t));
        let relay = route.and_then(|r| r.relay);
        if let (Some(target), Some(true)) = (target, route.map(|r| r.server)) {
            if nonempty(&hs.noise) {
                let ev = PeerHandshake {
                    req,
                    target,
                    handshake: hs,
                };
                self.events.push_back(DhtEvent::PeerHandshake(ev));
            }
            return;
        }
        match hs.mode {
            modes::FROM_CLIENT if nonempty(&hs.noise) => match hs.relay_address.or(relay) {
                None => self.node.io_mut().reply(&req, 0, None, false, true),
                Some(to) => {
                    let fwd = Handshake {
                        mode: modes::FROM_RELAY,
                        noise: hs.noise,
                        peer_address: Some(req.from),
                        relay_address: None,
                    };
                    self.relay(&req, &fwd, to);
                }
            },
            modes::FROM_RELAY if nonempty(&hs.noise) => {
                if let Some(to) = relay {
                    let fwd = Handshake {
                        mode: modes::FROM_SECOND_RELAY,
                        noise: hs.noise,
                        peer_address: hs.peer_address,
                        relay_address: Some(req.from),
                    };
                    self.relay(&req, &fwd, to);
                }
            }
            modes::FROM_SERVER if nonempty(&hs.noise) => {
                if let Some(to) = hs.peer_address {
                    let fwd = Handshake {
                        mode: modes::REPLY,
                        noise: hs.noise,
                        peer_address: Some(req.from),
                        relay_address: None,
                    };
                    self.reply_plain(&req, to, &fwd);
                }
            }
            _ => {}
        }
    }

    /// Answers a server's [`PeerHandshake`] with the server's Noise reply `noise` (empty:
    /// no answer), routed back the way the handshake came.
    pub fn reply_peer_handshake(&mut self, ev: &PeerHandshake, noise: Bytes) {
        if noise.is_empty() {
            return;
        }
        let hs = &ev.handshake;
        let mut out = Handshake {
            mode: modes::FROM_SERVER,
            noise,
            peer_address: hs.peer_address,
            relay_address: None,
        };
        match hs.mode {
            modes::FROM_CLIENT => {
                out.mode = modes::REPLY;
                out.peer_address = None;
                self.reply_plain(&ev.req, ev.req.from, &out);
            }
            modes::FROM_RELAY => self.relay(&ev.req, &out, ev.req.from),
            modes::FROM_SECOND_RELAY => {
                if let Some(to) = hs.relay_address {
                    self.relay(&ev.req, &out, to);
                }
            }
            _ => {}
        }
    }

    pub(super) fn on_peer_holepunch(&mut self, req: Incoming) {
        let Some(hp) = req
            .request
            .value
            .as_deref()
            .and_then(|v| Holepunch::decode_from(v).ok())
        else {
            return;
        };
        let target = req.request.target;
        let route = target.and_then(|t| self.router.get(&t));
        let relay = route.and_then(|r| r.relay);
        let server = route.is_some_and(|r| r.server);
        match hp.mode {
            modes::FROM_CLIENT => {
                if let Some(to) = hp.peer_address.or(relay) {
                    let fwd = Holepunch {
                        mode: modes::FROM_RELAY,
                        peer_address: Some(req.from),
                        ..hp
                    };
                    self.relay(&req, &fwd, to);
                }
            }
            modes::FROM_RELAY => {
                if let (true, Some(target), Some(_)) = (server, target, hp.peer_address) {
                    let ev = PeerHolepunch {
                        req,
                        target,
                        holepunch: hp,
                    };
                    self.events.push_back(DhtEvent::PeerHolepunch(ev));
                }
            }
            modes::FROM_SERVER => {
                let to = hp.peer_address.unwrap_or(req.from);
                let fwd = Holepunch {
                    mode: modes::REPLY,
                    peer_address: Some(req.from),
                    ..hp
                };
                self.reply_plain(&req, to, &fwd);
            }
            _ => {}
        }
    }

    /// Answers a server's [`PeerHolepunch`] with the server's sealed holepunch `payload`,
    /// relayed back to the node it came through.
    pub fn reply_peer_holepunch(&mut self, ev: &PeerHolepunch, payload: Bytes) {
        let out = Holepunch {
            mode: modes::FROM_SERVER,
            id: 0,
            payload,
            peer_address: ev.holepunch.peer_address,
        };
        self.relay(&ev.req, &out, ev.req.from);
    }
}
