//! The connecting side of HyperDHT (`hyperdht@6.34.0` `lib/connect.js`) without I/O.
//!
//! A [`Connector`] looks the server's target up ([`ConnectAction::FindPeer`]: a
//! `FIND_PEER` query whose replies carrying a peer record the caller feeds back), sends its
//! Noise IK message (`PEER_HANDSHAKE`, `FROM_CLIENT`) to each node holding the record (two
//! at a time, three when relay addresses were known beforehand), and takes the first valid
//! server reply. It then decides, as the reference does, where the server's stream is:
//!
//! * the server itself answered (not relayed), or it already sent us a stream packet:
//!   there;
//! * the server is reachable (`OPEN`), or relayed without holepunch relays: its first
//!   public address, else the address the relay saw;
//! * we are reachable ([`ConnectConfig::our_address`]): wait for the server to open the
//!   stream ([`PASSIVE_CONNECT_TIMEOUT`]);
//! * same public host as the server: ping its LAN addresses ([`ConnectAction::Ping`]);
//! * no holepunch relays: [`ConnectError::CannotHolepunch`]; otherwise the reference
//!   holepunches, which is not implemented here: we ping the address the relay saw (after
//!   the LAN addresses, if tried) and connect there when it answers (a server that thought
//!   itself firewalled but is not), else fail with [`ConnectError::HolepunchUnsupported`].
//!
//! A failed (timed out, malformed) `PEER_HANDSHAKE` request only ends that attempt; when
//! every attempt of every try failed the connect fails with `PEER_CONNECTION_FAILED`, or
//! `PEER_NOT_FOUND` when no query reply was tried. As in the reference, all attempts send
//! the same Noise message, and a server reply that fails to decrypt spoils the handshake
//! state (later replies fail too).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use ferrocore_wire::dht::{errors, firewall, Ipv4Address, NoisePayload, SecretStreamInfo, UdxInfo};
use ferrocore_wire::noise::{KeyPair, NoiseWrap};
use ferrocore_wire::{Decode, Encode};

use super::handshake::{
    client_request, is_bogon, is_reserved, match_address, parse_reply, target, udx_id,
    ConnectError, Connection, HandshakeReply, PASSIVE_CONNECT_TIMEOUT,
};

/// Nodes holding the record waiting for a free attempt slot, at most (the reference waits
/// on its semaphore inside the query's iteration instead).
pub const MAX_QUEUED: usize = 256;

/// How a client presents itself.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectConfig {
    /// This node's public address when it is reachable (`dht.remoteAddress()`).
    pub our_address: Option<Ipv4Address>,
    /// This node's local addresses (`Holepuncher.localAddresses`), sent when `lan` is on.
    pub local_addresses: Vec<Ipv4Address>,
    /// `localConnection` (default on in the reference): share local addresses and try the
    /// server's LAN addresses.
    pub lan: bool,
    /// `reusableSocket`.
    pub reusable_socket: bool,
    /// Nodes known to hold the server's record (`relayAddresses`, from a previous
    /// connection or the address itself): tried first, one by one.
    pub relay_addresses: Vec<Ipv4Address>,
}

/// What the caller does for the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectAction {
    /// Run a `FIND_PEER` query for `target` (seeded with `nodes` when not empty) and feed
    /// each reply carrying a peer record to [`Connector::handle_peer_found`], then
    /// [`Connector::handle_query_done`].
    FindPeer {
        /// The server's target.
        target: [u8; 32],
        /// Nodes to start from.
        nodes: Vec<Ipv4Address>,
    },
    /// Stop the running query (a connection was found).
    CancelQuery,
    /// Send a `PEER_HANDSHAKE` request (command, target, value) to `to`; report its reply
    /// with [`Connector::handle_reply`] or its failure with [`Connector::handle_failure`].
    Request {
        /// The node asked.
        to: Ipv4Address,
        /// The server's target.
        target: [u8; 32],
        /// The request's value.
        value: Bytes,
    },
    /// Ping `to` (a LAN address of the server); report with [`Connector::handle_ping`].
    Ping {
        /// The server's LAN address.
        to: Ipv4Address,
    },
    /// Connected: open the UDX stream and the secret stream.
    Connected(Box<Connection>),
    /// Failed for good.
    Failed(ConnectError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Finding,
    /// Handshake done, waiting for the server's stream packet until the deadline.
    Passive(Duration),
    /// Waiting for the ping of `addr` (a LAN address of the server, or the address the
    /// relay saw); on failure, probe `next` if any, else fail with the error.
    Probe(Ipv4Address, ConnectError, Option<Ipv4Address>),
    Done,
}

/// A connect to one server key.
pub struct Connector {
    remote_public_key: [u8; 32],
    target: [u8; 32],
    config: ConnectConfig,
    local_stream_id: u32,
    wrap: NoiseWrap,
    request: Bytes,
    phase: Phase,
    /// Relay addresses still to try one by one (`connectThroughNodes`).
    preconnect: VecDeque<Ipv4Address>,
    preconnect_busy: bool,
    /// Nodes found by the query, waiting for a free slot.
    queue: VecDeque<Ipv4Address>,
    /// Requests in flight.
    inflight: Vec<Ipv4Address>,
    /// Nodes asked (`remoteRelayAddresses`).
    asked: Vec<Ipv4Address>,
    parallel: usize,
    tries_left: u32,
    query_running: bool,
    attempts: u32,
    /// The server's stream packet that arrived before its reply (`serverSocket`).
    early_packet: Option<Ipv4Address>,
    pending: Option<(Connection, Ipv4Address)>,
    actions: VecDeque<ConnectAction>,
}

impl core::fmt::Debug for Connector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connector")
            .field("remote_public_key", &self.remote_public_key)
            .field("phase", &self.phase)
            .field("inflight", &self.inflight.len())
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Starts connecting to `remote_public_key` with `key_pair`; `local_stream_id` is the
    /// UDX stream id this side offers, `ephemeral_seed` fresh randomness for the Noise key.
    #[must_use]
    pub fn new(
        key_pair: KeyPair,
        remote_public_key: [u8; 32],
        config: ConnectConfig,
        local_stream_id: u32,
        ephemeral_seed: [u8; 32],
    ) -> Self {
        let mut wrap = NoiseWrap::initiator(key_pair, remote_public_key, ephemeral_seed);
        let payload = client_payload(&config, local_stream_id);
        // The payload is far below the Noise limit and the key was given: cannot fail but
        // for an invalid server key, which makes every request fail.
        let request = wrap
            .send(&payload.to_vec())
            .map(Bytes::from)
            .unwrap_or_default();
        let preconnect: VecDeque<_> = config.relay_addresses.iter().copied().collect();
        let mut c = Self {
            target: target(&remote_public_key),
            remote_public_key,
            local_stream_id,
            wrap,
            request,
            phase: Phase::Finding,
            parallel: if preconnect.is_empty() { 2 } else { 3 },
            tries_left: if preconnect.is_empty() { 1 } else { 2 },
            preconnect,
            preconnect_busy: false,
            queue: VecDeque::new(),
            inflight: Vec::new(),
            asked: Vec::new(),
            query_running: false,
            attempts: 0,
            early_packet: None,
            pending: None,
            actions: VecDeque::new(),
            config,
        };
        if c.request.is_empty() {
            c.finish_err(ConnectError::PeerConnectionFailed);
            return c;
        }
        c.start_query();
        c.pump();
        c
    }

    /// The server's key.
    #[must_use]
    pub fn remote_public_key(&self) -> [u8; 32] {
        self.remote_public_key
    }

    /// The UDX stream id this side offered.
    #[must_use]
    pub fn local_stream_id(&self) -> u32 {
        self.local_stream_id
    }

    /// The nodes asked so far (`remoteRelayAddresses`), to cache for a later connect.
    #[must_use]
    pub fn asked(&self) -> &[Ipv4Address] {
        &self.asked
    }

    fn start_query(&mut self) {
        self.tries_left -= 1;
        self.query_running = true;
        let nodes = if self.tries_left > 0 {
            self.config.relay_addresses.clone()
        } else {
            Vec::new()
        };
        self.actions.push_back(ConnectAction::FindPeer {
            target: self.target,
            nodes,
        });
    }

    fn send(&mut self, to: Ipv4Address) {
        self.inflight.push(to);
        self.asked.push(to);
        self.actions.push_back(ConnectAction::Request {
            to,
            target: self.target,
            value: client_request(self.request.clone()),
        });
    }

    /// Sends what the free slots allow, and ends the connect when nothing is left.
    fn pump(&mut self) {
        if self.phase != Phase::Finding {
            return;
        }
        if !self.preconnect_busy {
            if let Some(to) = self.preconnect.pop_front() {
                self.preconnect_busy = true;
                self.send(to);
            }
        }
        while self.inflight.len() < self.parallel {
            let Some(to) = self.queue.pop_front() else {
                break;
            };
            self.attempts += 1;
            self.send(to);
        }
        let idle = self.inflight.is_empty() && self.queue.is_empty() && self.preconnect.is_empty();
        if idle && !self.query_running {
            if self.tries_left > 0 {
                self.start_query();
            } else if self.attempts > 0 {
                self.finish_err(ConnectError::PeerConnectionFailed);
            } else {
                self.finish_err(ConnectError::PeerNotFound);
            }
        }
    }

    /// A query reply from `from` carried the server's peer record.
    pub fn handle_peer_found(&mut self, from: Ipv4Address) {
        if self.phase != Phase::Finding || !self.query_running {
            return;
        }
        // Nodes already tried up front are skipped (`isRelayAddress`); the queue is bounded.
        if self.config.relay_addresses.contains(&from)
            || self.queue.contains(&from)
            || self.queue.len() >= MAX_QUEUED
        {
            return;
        }
        self.queue.push_back(from);
        self.pump();
    }

    /// The query ended.
    pub fn handle_query_done(&mut self) {
        self.query_running = false;
        self.pump();
    }

    fn settle(&mut self, to: Ipv4Address) -> bool {
        let Some(i) = self.inflight.iter().position(|a| *a == to) else {
            return false;
        };
        self.inflight.swap_remove(i);
        if self.preconnect_busy && self.config.relay_addresses.contains(&to) {
            self.preconnect_busy = false;
        }
        true
    }

    /// The request to `to` failed (timed out or was refused).
    pub fn handle_failure(&mut self, to: Ipv4Address) {
        if self.settle(to) {
            self.pump();
        }
    }

    /// The reply to the request sent to `to`: it came from `from`, and names `client` (our
    /// address as that node saw it, the reply's `to`) and carries `value`.
    pub fn handle_reply(
        &mut self,
        now: Duration,
        to: Ipv4Address,
        from: Ipv4Address,
        client: Ipv4Address,
        value: Option<&[u8]>,
    ) {
        if !self.settle(to) {
            return;
        }
        if self.phase != Phase::Finding {
            return;
        }
        match parse_reply(to, from, value) {
            Some(reply) => self.on_server_reply(now, to, client, reply),
            None => self.pump(),
        }
    }

    fn on_server_reply(
        &mut self,
        now: Duration,
        relay: Ipv4Address,
        client: Ipv4Address,
        reply: HandshakeReply,
    ) {
        let Ok(payload) = self.wrap.recv(&reply.noise) else {
            return self.pump();
        };
        let Ok(payload) = NoisePayload::decode_from(&payload) else {
            return self.pump();
        };
        if !payload.is_supported() {
            return self.finish_err(ConnectError::ServerIncompatible);
        }
        if payload.error != errors::NONE {
            return self.finish_err(ConnectError::ServerError);
        }
        let (Some(remote_stream_id), Ok(handshake)) = (udx_id(&payload), self.wrap.finish()) else {
            return self.finish_err(ConnectError::ServerError);
        };
        if self.query_running {
            self.query_running = false;
            self.actions.push_back(ConnectAction::CancelQuery);
        }
        let remote_holepunchable = payload
            .holepunch
            .as_ref()
            .is_some_and(|h| !h.relays.is_empty());
        let conn = Connection {
            remote_public_key: self.remote_public_key,
            remote_addr: reply.server_address,
            remote_stream_id,
            local_stream_id: self.local_stream_id,
            is_initiator: true,
            handshake,
            remote_payload: payload,
            socket: None,
        };
        if let Some(addr) = self.early_packet {
            return self.finish(conn, addr);
        }
        if !reply.relayed {
            return self.finish(conn, relay);
        }
        let p = &conn.remote_payload;
        if p.firewall == firewall::OPEN || (reply.server_address != relay && !remote_holepunchable)
        {
            let addr = p
                .addresses4
                .iter()
                .find(|a| !is_bogon(a.host))
                .copied()
                .unwrap_or(reply.server_address);
            return self.finish(conn, addr);
        }
        let fallback = if remote_holepunchable {
            ConnectError::HolepunchUnsupported
        } else {
            ConnectError::CannotHolepunch
        };
        if self.config.our_address.is_some() {
            // The server connects to us: wait for its first stream packet.
            self.pending = Some((conn, reply.server_address));
            self.phase = Phase::Passive(now + PASSIVE_CONNECT_TIMEOUT);
            return;
        }
        if self.config.lan && client.host == reply.server_address.host {
            let lan: Vec<Ipv4Address> = p
                .addresses4
                .iter()
                .filter(|a| !is_reserved(a.host))
                .copied()
                .collect();
            if let Some(first) = lan.first().copied() {
                let addr = match_address(&self.config.local_addresses, &lan).unwrap_or(first);
                self.pending = Some((conn, addr));
                let (err, next) = if remote_holepunchable {
                    (fallback, Some(reply.server_address))
                } else {
                    (ConnectError::HolepunchAborted, None)
                };
                self.phase = Phase::Probe(addr, err, next.filter(|n| *n != addr));
                self.actions.push_back(ConnectAction::Ping { to: addr });
                return;
            }
        }
        if remote_holepunchable {
            // Where the reference would holepunch (not implemented here), first ping the
            // address the relay saw: a server that answers it is reachable there (it thought
            // itself firewalled, e.g. before its firewall check ended) and its holepunch
            // window takes our first stream packet.
            let addr = reply.server_address;
            self.pending = Some((conn, addr));
            self.phase = Phase::Probe(addr, fallback, None);
            self.actions.push_back(ConnectAction::Ping { to: addr });
            return;
        }
        self.finish_err(fallback);
    }

    /// The ping of a server address ([`ConnectAction::Ping`]) was answered (`ok`) or not.
    pub fn handle_ping(&mut self, to: Ipv4Address, ok: bool) {
        let Phase::Probe(addr, err, next) = self.phase.clone() else {
            return;
        };
        if addr != to {
            return;
        }
        match (ok, next) {
            (true, _) => match self.pending.take() {
                Some((conn, _)) => self.finish(conn, addr),
                None => self.finish_err(err),
            },
            (false, Some(next)) => {
                self.phase = Phase::Probe(next, err, None);
                self.actions.push_back(ConnectAction::Ping { to: next });
            }
            (false, None) => {
                self.pending = None;
                self.finish_err(err);
            }
        }
    }

    /// A UDX packet for our stream came from `from` (the raw stream's firewall hook): the
    /// server opened the stream to us.
    pub fn handle_stream_packet(&mut self, from: Ipv4Address) {
        match self.phase {
            Phase::Finding => self.early_packet = Some(from),
            Phase::Passive(_) | Phase::Probe(..) => {
                if let Some((conn, _)) = self.pending.take() {
                    self.finish(conn, from);
                }
            }
            Phase::Done => {}
        }
    }

    /// When [`Connector::handle_timeout`] next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Passive(at) => Some(at),
            _ => None,
        }
    }

    /// Advances time: gives the passive wait up when it ran out (`HOLEPUNCH_ABORTED`).
    pub fn handle_timeout(&mut self, now: Duration) {
        if matches!(self.phase, Phase::Passive(at) if now >= at) {
            self.pending = None;
            self.finish_err(ConnectError::HolepunchAborted);
        }
    }

    /// Gives up (the caller destroyed the socket).
    pub fn abort(&mut self) {
        if self.phase != Phase::Done {
            if self.query_running {
                self.actions.push_back(ConnectAction::CancelQuery);
            }
            self.phase = Phase::Done;
        }
    }

    /// Whether the connect ended (connected, failed or aborted).
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    fn finish(&mut self, mut conn: Connection, addr: Ipv4Address) {
        conn.remote_addr = addr;
        self.phase = Phase::Done;
        self.actions
            .push_back(ConnectAction::Connected(Box::new(conn)));
    }

    fn finish_err(&mut self, err: ConnectError) {
        self.phase = Phase::Done;
        if self.query_running {
            self.query_running = false;
            self.actions.push_back(ConnectAction::CancelQuery);
        }
        self.actions.push_back(ConnectAction::Failed(err));
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<ConnectAction> {
        self.actions.pop_front()
    }
}

/// The client's handshake payload (`connectThroughNode`'s `handshake.send({...})`).
fn client_payload(config: &ConnectConfig, local_stream_id: u32) -> NoisePayload {
    let mut addresses4: Vec<Ipv4Address> = config.our_address.into_iter().collect();
    if config.lan {
        addresses4.extend_from_slice(&config.local_addresses);
    }
    NoisePayload {
        firewall: if config.our_address.is_some() {
            firewall::OPEN
        } else {
            firewall::UNKNOWN
        },
        addresses4,
        udx: Some(UdxInfo {
            reusable_socket: config.reusable_socket,
            id: local_stream_id.into(),
            ..UdxInfo::default()
        }),
        secret_stream: Some(SecretStreamInfo::default()),
        ..NoisePayload::default()
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
