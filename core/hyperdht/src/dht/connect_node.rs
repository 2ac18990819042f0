//! `dht.createServer().listen(keyPair)` and `dht.connect(publicKey)` on a [`Dht`]: a
//! [`PeerNode`] owns the node, its [`Server`]s and [`Connector`]s, turns their actions
//! into DHT requests and queries and feeds the DHT's events back to them.
//!
//! Drive it as the [`Dht`]: after every `&mut` call drain [`PeerNode::poll_transmit`] and
//! [`PeerNode::poll_event`]; call [`PeerNode::handle_timeout`] at
//! [`PeerNode::poll_timeout`]. UDX stream ids are handed out from a counter
//! ([`PeerNode::new`]); the first packet of a stream whose remote is not known yet goes to
//! [`PeerNode::handle_stream_packet`].
//!
//! Each listening key has an [`Announcer`] keeping its record on the DHT (see
//! `announcer_node.rs` for how it differs from the reference). Not wired: holepunching
//! (see [`connect`](super::connect)).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use ferrocore_wire::dht::{commands, dht_commands, Ipv4Address, Peer};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::Encode;

use super::announcer::{AnnounceRequestId, Announcer};
use super::connect::{ConnectAction, ConnectConfig, Connector};
use super::handshake::{ConnectError, Connection};
use super::node_router::Route;
use super::server::{Server, ServerConfig, ServerEvent};
use super::{Dht, DhtEvent, OpId};
use crate::rpc::io::{Outgoing, RequestId, Transmit};

/// The handle of a [`PeerNode::connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectId(pub u64);

/// What a [`PeerNode`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A client connected to the server listening on `public_key`.
    Connection {
        /// The server's key.
        public_key: [u8; 32],
        /// The connection.
        connection: Box<Connection>,
    },
    /// A server handshake ended without a connection; its stream id is free.
    ServerAborted {
        /// The server's key.
        public_key: [u8; 32],
        /// What happened.
        event: ServerEvent,
    },
    /// A connect succeeded.
    Connected(ConnectId, Box<Connection>),
    /// A connect failed.
    ConnectFailed(ConnectId, ConnectError),
    /// A DHT event that is not about peer connections.
    Dht(Box<DhtEvent>),
}

#[derive(Debug, Clone, Copy)]
enum Pending {
    Handshake(ConnectId, Ipv4Address),
    Ping(ConnectId, Ipv4Address),
    /// An announcer's request (by the server's target).
    Announce([u8; 32], AnnounceRequestId),
    /// A token request of an announcer's update: the index among the closest nodes.
    Token([u8; 32], usize),
}

/// A HyperDHT node with listening servers and outgoing connects.
#[derive(Debug)]
pub struct PeerNode {
    dht: Dht,
    servers: BTreeMap<[u8; 32], Server>,
    announcers: BTreeMap<[u8; 32], Announcer>,
    announce_queries: BTreeMap<OpId, [u8; 32]>,
    token_rounds: BTreeMap<[u8; 32], announcer_node::TokenRound>,
    connects: BTreeMap<ConnectId, Connector>,
    requests: BTreeMap<RequestId, Pending>,
    queries: BTreeMap<OpId, ConnectId>,
    events: VecDeque<PeerEvent>,
    next_connect: u64,
    next_stream_id: u32,
    seed: [u8; 32],
    seeds_drawn: u64,
    /// Local addresses the servers share (`server._localAddresses()`), once known.
    local_addresses: Option<Vec<Ipv4Address>>,
}

impl PeerNode {
    /// Wraps `dht`. `seed` is fresh randomness the Noise ephemeral keys are derived from
    /// (BLAKE2b keyed by it, one per handshake); stream ids are handed out from
    /// `first_stream_id` on.
    #[must_use]
    pub fn new(dht: Dht, seed: [u8; 32], first_stream_id: u32) -> Self {
        Self {
            dht,
            servers: BTreeMap::new(),
            announcers: BTreeMap::new(),
            announce_queries: BTreeMap::new(),
            token_rounds: BTreeMap::new(),
            connects: BTreeMap::new(),
            requests: BTreeMap::new(),
            queries: BTreeMap::new(),
            events: VecDeque::new(),
            next_connect: 0,
            next_stream_id: first_stream_id,
            seed,
            seeds_drawn: 0,
            local_addresses: None,
        }
    }

    /// Sets the local addresses every server shares from its next handshake on (JS reads
    /// `server._localAddresses()`, the validated interface addresses, per handshake);
    /// they replace the ones given in [`ServerConfig::local_addresses`].
    pub fn set_local_addresses(&mut self, addresses: Vec<Ipv4Address>) {
        self.local_addresses = Some(addresses);
    }

    /// The DHT node.
    #[must_use]
    pub fn dht(&self) -> &Dht {
        &self.dht
    }

    /// The DHT node, to run other operations on (their events come out of
    /// [`PeerNode::poll_event`] as [`PeerEvent::Dht`]).
    pub fn dht_mut(&mut self) -> &mut Dht {
        &mut self.dht
    }

    /// The server listening on `public_key`.
    pub fn server_mut(&mut self, public_key: &[u8; 32]) -> Option<&mut Server> {
        self.servers.get_mut(&super::handshake::target(public_key))
    }

    fn draw_seed(&mut self) -> [u8; 32] {
        self.seeds_drawn += 1;
        let digest = blake2b_simd::Params::new()
            .hash_length(32)
            .key(&self.seed)
            .hash(&self.seeds_drawn.to_le_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_bytes());
        out
    }

    fn draw_stream_id(&mut self) -> u32 {
        let id = self.next_stream_id;
        self.next_stream_id = self.next_stream_id.wrapping_add(1);
        id
    }

    /// Listens on `key_pair` (`server.listen`): PEER_HANDSHAKEs for its target are
    /// answered from now on, and its record is announced (and kept announced) on the
    /// nodes closest to the target.
    pub fn listen(
        &mut self,
        now: Duration,
        key_pair: KeyPair,
        config: ServerConfig,
    ) -> Result<(), ConnectError> {
        let announcer = Announcer::new(key_pair.clone(), config.our_address);
        let server = Server::new(key_pair, config);
        let target = server.target();
        if self.servers.contains_key(&target) {
            return Err(ConnectError::KeyPairAlreadyUsed);
        }
        let record = Peer {
            public_key: server.public_key(),
            relay_addresses: Vec::new(),
        };
        let route = Route {
            relay: None,
            record: Bytes::from(record.to_vec()),
            server: true,
        };
        self.dht.router_mut().set(now, target, route);
        self.servers.insert(target, server);
        self.start_announcer(now, target, announcer);
        Ok(())
    }

    /// Stops listening on `public_key` (`server.close`); its record is unannounced.
    pub fn unlisten(&mut self, now: Duration, public_key: &[u8; 32]) {
        let target = super::handshake::target(public_key);
        self.stop_announcer(now, target);
        if let Some(mut s) = self.servers.remove(&target) {
            self.dht.router_mut().delete(&target);
            s.close();
            self.drain_server(&mut s);
        }
    }

    /// Connects to `remote_public_key` with `key_pair` (`dht.connect`).
    pub fn connect(
        &mut self,
        now: Duration,
        key_pair: KeyPair,
        remote_public_key: [u8; 32],
        config: ConnectConfig,
    ) -> ConnectId {
        let id = ConnectId(self.next_connect);
        self.next_connect += 1;
        let (stream, seed) = (self.draw_stream_id(), self.draw_seed());
        let c = Connector::new(key_pair, remote_public_key, config, stream, seed);
        self.connects.insert(id, c);
        self.pump(now, id);
        id
    }

    /// Gives a connect up (its outstanding requests are forgotten).
    pub fn abort(&mut self, id: ConnectId) {
        self.finish_connect(id);
    }

    /// The first packet of our UDX stream `local_stream_id` came from `from`: a server or
    /// connect waiting for the remote to open the stream gets its address.
    pub fn handle_stream_packet(&mut self, now: Duration, local_stream_id: u32, from: Ipv4Address) {
        let mut servers = core::mem::take(&mut self.servers);
        for s in servers.values_mut() {
            if s.handle_stream_packet(now, local_stream_id, from) {
                self.drain_server(s);
                break;
            }
        }
        self.servers = servers;
        let ids: Vec<ConnectId> = self.connects.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.connects.get_mut(&id) {
                if c.local_stream_id() == local_stream_id {
                    c.handle_stream_packet(from);
                    self.pump(now, id);
                }
            }
        }
    }

    /// Handles a datagram (see [`Dht::handle_datagram`]).
    pub fn handle_datagram(
        &mut self,
        now: Duration,
        socket: crate::rpc::io::Socket,
        from: Ipv4Address,
        bytes: &[u8],
    ) {
        self.dht.handle_datagram(now, socket, from, bytes);
        self.process(now);
    }

    /// The next time [`PeerNode::handle_timeout`] has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let servers = self.servers.values().filter_map(Server::poll_timeout);
        let connects = self.connects.values().filter_map(Connector::poll_timeout);
        let announcers = self.announcers.values().filter_map(Announcer::poll_timeout);
        servers
            .chain(connects)
            .chain(announcers)
            .chain(self.dht.poll_timeout())
            .min()
    }

    /// Runs what is due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.dht.handle_timeout(now);
        let mut servers = core::mem::take(&mut self.servers);
        for s in servers.values_mut() {
            s.handle_timeout(now);
            self.drain_server(s);
        }
        self.servers = servers;
        self.announcers_timeout(now);
        let ids: Vec<ConnectId> = self.connects.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.connects.get_mut(&id) {
                c.handle_timeout(now);
            }
            self.pump(now, id);
        }
        self.process(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.dht.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PeerEvent> {
        self.events.pop_front()
    }

    fn drain_server(&mut self, s: &mut Server) {
        let public_key = s.public_key();
        while let Some(ev) = s.poll_event() {
            self.events.push_back(match ev {
                ServerEvent::Connection(connection) => PeerEvent::Connection {
                    public_key,
                    connection,
                },
                event => PeerEvent::ServerAborted { public_key, event },
            });
        }
    }

    /// Carries out connect `id`'s actions.
    fn pump(&mut self, now: Duration, id: ConnectId) {
        loop {
            let Some(action) = self.connects.get_mut(&id).and_then(Connector::poll_action) else {
                return;
            };
            match action {
                ConnectAction::FindPeer { .. } => {
                    let key = self.connects[&id].remote_public_key();
                    let op = self.dht.find_peer(now, &key);
                    self.queries.insert(op, id);
                }
                ConnectAction::CancelQuery => self.queries.retain(|_, c| *c != id),
                ConnectAction::Request { to, target, value } => {
                    let out = Outgoing {
                        to,
                        command: dht_commands::PEER_HANDSHAKE,
                        target: Some(target),
                        value: Some(value),
                        ..Outgoing::default()
                    };
                    let rid = self.dht.request(now, out);
                    self.requests.insert(rid, Pending::Handshake(id, to));
                }
                ConnectAction::Ping { to } => self.ping(now, to, Pending::Ping(id, to)),
                ConnectAction::Connected(c) => {
                    self.finish_connect(id);
                    self.events.push_back(PeerEvent::Connected(id, c));
                }
                ConnectAction::Failed(e) => {
                    self.finish_connect(id);
                    self.events.push_back(PeerEvent::ConnectFailed(id, e));
                }
            }
        }
    }

    /// Sends an internal PING to `to` for `pending`.
    fn ping(&mut self, now: Duration, to: Ipv4Address, pending: Pending) {
        let out = Outgoing {
            to,
            internal: true,
            command: commands::PING,
            ..Outgoing::default()
        };
        let rid = self.dht.request(now, out);
        self.requests.insert(rid, pending);
    }

    fn finish_connect(&mut self, id: ConnectId) {
        self.connects.remove(&id);
        self.queries.retain(|_, c| *c != id);
        self.requests.retain(|_, p| match p {
            Pending::Handshake(c, _) | Pending::Ping(c, _) => *c != id,
            Pending::Announce(..) | Pending::Token(..) => true,
        });
    }

    fn with_connect(&mut self, now: Duration, id: ConnectId, f: impl FnOnce(&mut Connector)) {
        if let Some(c) = self.connects.get_mut(&id) {
            f(c);
            self.pump(now, id);
        }
    }

    fn process(&mut self, now: Duration) {
        while let Some(ev) = self.dht.poll_event() {
            match ev {
                DhtEvent::PeerHandshake(ev) => {
                    let Some(mut s) = self.servers.remove(&ev.target) else {
                        continue;
                    };
                    // JS `_addHandshake` reads `dht.remoteAddress()` per handshake: a node
                    // found reachable after `listen` advertises itself OPEN from then on
                    // (a snapshot taken at `listen` before NAT sampling ended would offer
                    // holepunching, which JS clients then try and fail). An address the
                    // caller configured stays while the node has none.
                    if let Some(ours) = self.dht.node().remote_address() {
                        s.config_mut().our_address = Some(ours);
                    }
                    if let Some(local) = &self.local_addresses {
                        s.config_mut().local_addresses.clone_from(local);
                    }
                    let (seed, stream) = (self.draw_seed(), self.draw_stream_id());
                    let reply = s.handle_peer_handshake(
                        now,
                        &ev.handshake,
                        ev.req.from,
                        ev.req.socket,
                        seed,
                        stream,
                    );
                    if !s.stream_id_used(stream) {
                        self.next_stream_id = stream;
                    }
                    self.drain_server(&mut s);
                    self.servers.insert(ev.target, s);
                    if let Some(noise) = reply {
                        self.dht.reply_peer_handshake(&ev, noise);
                    }
                }
                // Holepunching is not implemented: unanswered, as a server that never
                // opened a holepunch session answers none (`_onpeerholepunch`).
                DhtEvent::PeerHolepunch(_) => {}
                DhtEvent::FindPeer { op, .. } if self.announce_queries.contains_key(&op) => {}
                DhtEvent::Done { op, result } if self.announce_queries.contains_key(&op) => {
                    if let Some(target) = self.announce_queries.remove(&op) {
                        self.announce_query_done(now, target, result);
                    }
                }
                DhtEvent::FindPeer { op, reply } => match self.queries.get(&op) {
                    Some(&id) => {
                        self.with_connect(now, id, |c| c.handle_peer_found(reply.replier.from))
                    }
                    None => self
                        .events
                        .push_back(PeerEvent::Dht(Box::new(DhtEvent::FindPeer { op, reply }))),
                },
                DhtEvent::Done { op, result } => match self.queries.remove(&op) {
                    Some(id) => self.with_connect(now, id, Connector::handle_query_done),
                    None => self
                        .events
                        .push_back(PeerEvent::Dht(Box::new(DhtEvent::Done { op, result }))),
                },
                DhtEvent::Response { id, reply } => match self.requests.remove(&id) {
                    Some(Pending::Handshake(c, to)) => {
                        let r = &reply.response;
                        let (client, value) = (r.to, r.value.as_deref());
                        self.with_connect(now, c, |k| {
                            k.handle_reply(now, to, reply.from, client, value)
                        });
                    }
                    Some(Pending::Ping(c, to)) => {
                        self.with_connect(now, c, |k| k.handle_ping(to, true))
                    }
                    Some(Pending::Announce(t, a)) => {
                        self.announce_response(now, t, a, Some(&reply))
                    }
                    Some(Pending::Token(t, i)) => self.announce_token(now, t, i, Some(&reply)),
                    None => self
                        .events
                        .push_back(PeerEvent::Dht(Box::new(DhtEvent::Response { id, reply }))),
                },
                DhtEvent::RequestTimeout(id, addr) => match self.requests.remove(&id) {
                    Some(Pending::Handshake(c, to)) => {
                        self.with_connect(now, c, |k| k.handle_failure(to))
                    }
                    Some(Pending::Ping(c, to)) => {
                        self.with_connect(now, c, |k| k.handle_ping(to, false))
                    }
                    Some(Pending::Announce(t, a)) => self.announce_response(now, t, a, None),
                    Some(Pending::Token(t, i)) => self.announce_token(now, t, i, None),
                    None => self
                        .events
                        .push_back(PeerEvent::Dht(Box::new(DhtEvent::RequestTimeout(id, addr)))),
                },
                other => self.events.push_back(PeerEvent::Dht(Box::new(other))),
            }
        }
    }
}

#[path = "announcer_node.rs"]
mod announcer_node;

#[cfg(test)]
#[path = "connect_node_tests.rs"]
mod tests;
