//! The forwarding table and the relaying of peer handshakes and holepunches
//! (`hyperdht@6.34.0` `lib/router.js`), without I/O.
//!
//! The table maps a target (BLAKE2b-256 of a server's public key) to how the server is
//! reached: the address it announced itself from (a remote server that announced to this
//! node), or this node's own listening server. [`Router::handle_request`] answers
//! [`PEER_HANDSHAKE`](dht_commands::PEER_HANDSHAKE) and
//! [`PEER_HOLEPUNCH`](dht_commands::PEER_HOLEPUNCH) with an [`Outcome`]:
//!
//! * a client's message (`FROM_CLIENT`) is relayed to the server (mode `FROM_RELAY`, the
//!   client's address as `peerAddress`), or to a second relay;
//! * the server's answer (`FROM_SERVER`, a *request* sent back to this node with the
//!   client's transaction id) becomes this node's *reply* to the client (mode `REPLY`).
//!
//! Relaying keeps no state: the transaction id travels with the forwarded request and the
//! client's address in `peerAddress`, exactly as in JS, so a relay outcome is sent as a
//! request that copies the incoming one's tid, command and target, with no token.

use bytes::Bytes;
use core::time::Duration;
use ferrocore_wire::dht::{
    dht_commands, errors, modes, Handshake, Holepunch, Ipv4Address, Request,
};
use ferrocore_wire::encoding::{Decode, Encode};

use super::records_cache::Cache;

/// A target: BLAKE2b-256 of the announcing server's public key.
pub type Target = [u8; 32];

/// How to reach the server announced under a target (JS's forward state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The address the server announced from; `None` for this node's own server.
    pub relay: Option<Ipv4Address>,
    /// The server's encoded [`Peer`](ferrocore_wire::dht::Peer) record (FIND_PEER's answer).
    pub record: Bytes,
    /// Whether the server is this node's own (its handshakes go to [`Outcome::Server`]).
    pub local: bool,
}

/// A reply to send to a request ([`Io::reply_to`](crate::rpc::io::Io::reply_to)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Where to send it: the requester, or the client a relayed answer is for.
    pub to: Ipv4Address,
    /// 0, or an error code ([`errors`]).
    pub error: u64,
    /// The reply's value.
    pub value: Option<Bytes>,
    /// Whether to include a token for `to`.
    pub token: bool,
    /// Whether to include the nodes closest to the request's target.
    pub closer_nodes: bool,
}

impl Reply {
    /// A successful reply to `to`.
    #[must_use]
    pub fn ok(to: Ipv4Address, value: Option<Bytes>, token: bool, closer_nodes: bool) -> Self {
        Self {
            to,
            error: errors::NONE,
            value,
            token,
            closer_nodes,
        }
    }

    /// An error reply to `to` (JS `req.error(code)`: no token, closer nodes).
    #[must_use]
    pub fn error(to: Ipv4Address, code: u64) -> Self {
        Self {
            to,
            error: code,
            value: None,
            token: false,
            closer_nodes: true,
        }
    }

    /// dht-rpc's answer to a command nobody handles: `UNKNOWN_COMMAND`, closer nodes when
    /// the request had a target.
    #[must_use]
    pub fn unknown_command(to: Ipv4Address, has_target: bool) -> Self {
        Self {
            closer_nodes: has_target,
            ..Self::error(to, errors::UNKNOWN_COMMAND)
        }
    }
}

/// A message for this node's own server (the caller runs the server and answers with
/// [`Router::server_handshake_reply`] / [`Router::server_holepunch_reply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRequest {
    /// A Noise handshake for the server.
    Handshake(Handshake),
    /// A holepunch message for the server (always with the client's `peer_address`).
    Holepunch(Holepunch),
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing: JS drops the request silently (malformed, unverifiable, no route).
    Drop,
    /// Send this reply.
    Reply(Reply),
    /// Send the request on to `to`: same tid, command and target, this `value`, no token
    /// (JS `req.relay`).
    Relay {
        /// The next hop.
        to: Ipv4Address,
        /// The rewritten value.
        value: Bytes,
    },
    /// The request is for this node's own server.
    Server(ServerRequest),
    /// A plugin request (`PLUGIN`); JS drops it unless a plugin of that name and version
    /// is registered, which then answers it.
    Plugin(ferrocore_wire::dht::PluginRequest),
}

/// The forwarding table and the handshake/holepunch relay (JS `Router`).
#[derive(Debug, Clone)]
pub struct Router {
    forwards: Cache<Target, Forward>,
}

/// `hyperdht`'s default cache size (`maxSize`).
pub const DEFAULT_MAX_SIZE: usize = 65_536;
/// `hyperdht`'s default age limit of forwards and records (`maxAge`, 20 minutes).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(20 * 60);

impl Router {
    /// An empty table created at `now` holding about `max_size` forwards per generation for
    /// `max_age` (JS `forwards: { maxSize, maxAge }`; defaults [`DEFAULT_MAX_SIZE`],
    /// [`DEFAULT_MAX_AGE`]).
    #[must_use]
    pub fn new(now: Duration, max_size: usize, max_age: Duration) -> Self {
        Self {
            forwards: Cache::new(now, max_size, max_age),
        }
    }

    /// The number of forwards held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.forwards.len()
    }

    /// Whether no forward is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.forwards.is_empty()
    }

    /// Records a forward. This node's own server ([`Forward::local`]) is kept until
    /// [`Router::delete`]; a remote one ages out, and never replaces a local one.
    pub fn set(&mut self, now: Duration, target: Target, forward: Forward) {
        if forward.local {
            self.forwards.retain(now, target, forward);
        } else {
            self.forwards.set(now, target, forward);
        }
    }

    /// The forward under `target` without refreshing its age (nor applying due aging).
    #[must_use]
    pub fn peek(&self, target: &Target) -> Option<&Forward> {
        self.forwards.peek(target)
    }

    /// The forward under `target` (refreshing its age).
    pub fn get(&mut self, now: Duration, target: &Target) -> Option<&Forward> {
        self.forwards.get(now, target)
    }

    /// Removes the forward under `target`.
    pub fn delete(&mut self, now: Duration, target: &Target) {
        self.forwards.delete(now, target);
    }

    /// When the age timer next fires ([`Router::handle_timeout`]).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.forwards.poll_timeout()
    }

    /// Ages forwards out (every other call does this first).
    pub fn handle_timeout(&mut self, now: Duration) {
        self.forwards.handle_timeout(now);
    }

    /// Handles a `PEER_HANDSHAKE` or `PEER_HOLEPUNCH` request from `from` (anything else
    /// gets [`Reply::unknown_command`]).
    pub fn handle_request(&mut self, now: Duration, from: Ipv4Address, req: &Request) -> Outcome {
        let Some(value) = &req.value else {
            return match req.command {
                dht_commands::PEER_HANDSHAKE | dht_commands::PEER_HOLEPUNCH => Outcome::Drop,
                _ => Outcome::Reply(Reply::unknown_command(from, req.target.is_some())),
            };
        };
        let state = match &req.target {
            Some(t) => self.get(now, t).map(|f| (f.local, f.relay)),
            None => None,
        };
        let is_server = state.is_some_and(|(local, _)| local);
        let relay = state.and_then(|(_, relay)| relay);
        match req.command {
            dht_commands::PEER_HANDSHAKE => match Handshake::decode_bytes(value) {
                Ok(hs) => on_handshake(from, hs, is_server, relay),
                Err(_) => Outcome::Drop,
            },
            dht_commands::PEER_HOLEPUNCH => match Holepunch::decode_bytes(value) {
                Ok(hp) => on_holepunch(from, hp, is_server, relay),
                Err(_) => Outcome::Drop,
            },
            _ => Outcome::Reply(Reply::unknown_command(from, req.target.is_some())),
        }
    }

    /// What this node sends once its own server answered a [`ServerRequest::Handshake`]
    /// of `mode` with `noise`: the reply to a direct client, or a relay back to the relay
    /// (`from`, or the request's `relay_address` after two relays). `peer_address` and
    /// `relay_address` are the request's.
    #[must_use]
    pub fn server_handshake_reply(from: Ipv4Address, request: &Handshake, noise: Bytes) -> Outcome {
        let back = |to: Ipv4Address| Outcome::Relay {
            to,
            value: Handshake {
                mode: modes::FROM_SERVER,
                noise: noise.clone(),
                peer_address: request.peer_address,
                relay_address: None,
            }
            .to_vec()
            .into(),
        };
        match request.mode {
            modes::FROM_CLIENT => {
                let value = Handshake {
                    mode: modes::REPLY,
                    noise: noise.clone(),
                    peer_address: None,
                    relay_address: None,
                };
                Outcome::Reply(Reply::ok(from, Some(value.to_vec().into()), false, false))
            }
            modes::FROM_RELAY => back(from),
            modes::FROM_SECOND_RELAY => request.relay_address.map_or(Outcome::Drop, back),
            _ => Outcome::Drop,
        }
    }

    /// What this node sends once its own server answered a [`ServerRequest::Holepunch`]
    /// with `payload`: a relay back to the relay (`from`), id 0, the client's
    /// `peer_address` kept.
    #[must_use]
    pub fn server_holepunch_reply(
        from: Ipv4Address,
        request: &Holepunch,
        payload: Bytes,
    ) -> Outcome {
        let value = Holepunch {
            mode: modes::FROM_SERVER,
            id: 0,
            payload,
            peer_address: request.peer_address,
        };
        Outcome::Relay {
            to: from,
            value: value.to_vec().into(),
        }
    }
}

fn on_handshake(
    from: Ipv4Address,
    hs: Handshake,
    is_server: bool,
    relay: Option<Ipv4Address>,
) -> Outcome {
    if is_server {
        return Outcome::Server(ServerRequest::Handshake(hs));
    }
    let relay_to = |to: Ipv4Address, value: Handshake| Outcome::Relay {
        to,
        value: value.to_vec().into(),
    };
    match hs.mode {
        modes::FROM_CLIENT => match hs.relay_address.or(relay) {
            // No route: answer with closer nodes to help the client route.
            None => Outcome::Reply(Reply::ok(from, None, false, true)),
            Some(to) => relay_to(
                to,
                Handshake {
                    mode: modes::FROM_RELAY,
                    noise: hs.noise,
                    peer_address: Some(from),
                    relay_address: None,
                },
            ),
        },
        modes::FROM_RELAY => match relay {
            None => Outcome::Drop,
            Some(to) => relay_to(
                to,
                Handshake {
                    mode: modes::FROM_SECOND_RELAY,
                    noise: hs.noise,
                    peer_address: hs.peer_address,
                    relay_address: Some(from),
                },
            ),
        },
        modes::FROM_SERVER => match hs.peer_address {
            None => Outcome::Drop,
            Some(client) => {
                let value = Handshake {
                    mode: modes::REPLY,
                    noise: hs.noise,
                    peer_address: Some(from),
                    relay_address: None,
                };
                Outcome::Reply(Reply::ok(client, Some(value.to_vec().into()), false, false))
            }
        },
        _ => Outcome::Drop,
    }
}

fn on_holepunch(
    from: Ipv4Address,
    hp: Holepunch,
    is_server: bool,
    relay: Option<Ipv4Address>,
) -> Outcome {
    match hp.mode {
        modes::FROM_CLIENT => match hp.peer_address.or(relay) {
            None => Outcome::Drop,
            Some(to) => Outcome::Relay {
                to,
                value: Holepunch {
                    mode: modes::FROM_RELAY,
                    peer_address: Some(from),
                    ..hp
                }
                .to_vec()
                .into(),
            },
        },
        modes::FROM_RELAY if is_server && hp.peer_address.is_some() => {
            Outcome::Server(ServerRequest::Holepunch(hp))
        }
        modes::FROM_SERVER => {
            // JS replies to `peerAddress`, or to the sender when there is none.
            let to = hp.peer_address.unwrap_or(from);
            let value = Holepunch {
                mode: modes::REPLY,
                peer_address: Some(from),
                ..hp
            };
            Outcome::Reply(Reply::ok(to, Some(value.to_vec().into()), false, false))
        }
        _ => Outcome::Drop,
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
