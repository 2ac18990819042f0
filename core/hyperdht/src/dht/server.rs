//! The listening side of HyperDHT (`hyperdht@6.34.0` `lib/server.js`) without I/O: it
//! answers the `PEER_HANDSHAKE` requests routed to its key's target as the Noise IK
//! responder, vets the client (the firewall hook), hands out a UDX stream id in its
//! payload and reports a [`Connection`] once the client's address is known.
//!
//! Where the reference decides how the stream comes up, this server does the same:
//!
//! * the client is reachable (its payload says `OPEN`) or asked us directly: connect to
//!   it at once;
//! * we are reachable ([`ServerConfig::our_address`]): wait up to
//!   [`HANDSHAKE_INITIAL_TIMEOUT`] for the client's first UDX packet
//!   ([`Server::handle_stream_packet`]);
//! * neither: the reference starts holepunching (same-LAN prepunch or a `Holepuncher`);
//!   this server offers the holepunch in its payload as the reference does (unless
//!   [`ServerConfig::offer_holepunch`] is off: then the client comes straight to the
//!   address the relay saw) but does not punch. As the reference's raw stream does, it still takes the client's first UDX
//!   packet as the connection (a client on our LAN or host reaches one of the
//!   [`ServerConfig::local_addresses`] we shared); without one the handshake is given up
//!   after [`HANDSHAKE_INITIAL_TIMEOUT`] ([`ServerEvent::Aborted`] with
//!   [`AbortReason::HolepunchUnsupported`]).
//!
//! Identical handshake messages (retransmissions) get the same reply while the handshake
//! is remembered ([`ServerConfig::clear_wait`] after it finished).

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use ferrocore_wire::dht::{
    errors, firewall, Handshake, HolepunchInfo, Ipv4Address, NoisePayload, RelayInfo,
    SecretStreamInfo, UdxInfo,
};
use ferrocore_wire::noise::{KeyPair, NoiseWrap};
use ferrocore_wire::{Decode, Encode};

use crate::rpc::io::Socket;

use super::handshake::{
    target, udx_id, Connection, HANDSHAKE_CLEAR_WAIT, HANDSHAKE_INITIAL_TIMEOUT,
};

/// Handshakes remembered at once; new ones are dropped unanswered while this many are
/// (the reference keeps any number for [`HANDSHAKE_CLEAR_WAIT`]: anyone knowing the public
/// key can open one).
pub const MAX_HANDSHAKES: usize = 4096;

/// The firewall hook (`opts.firewall(remotePublicKey, payload, clientAddress)`): `true`
/// rejects the client.
pub type Firewall = Box<dyn FnMut(&[u8; 32], &NoisePayload, &Ipv4Address) -> bool + Send>;

/// How a server presents itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// This node's public address when it is reachable (`dht.remoteAddress()`: known and
    /// not firewalled); decides the `firewall` we advertise.
    pub our_address: Option<Ipv4Address>,
    /// This node's local addresses (`Holepuncher.localAddresses`), shared unless
    /// `share_local_address` is off.
    pub local_addresses: Vec<Ipv4Address>,
    /// `shareLocalAddress` (default on).
    pub share_local_address: bool,
    /// Whether a server that is not reachable offers holepunching (its holepunch id and
    /// the announcer's relays) as the reference always does (default on). A node that
    /// cannot punch turns it off: a client then opens the stream to our shared or
    /// relay-seen address at once (JS `connect.js`: relayed and not holepunchable)
    /// instead of asking the relays to punch and failing.
    pub offer_holepunch: bool,
    /// `reusableSocket`: advertise that the stream reuses the DHT socket.
    pub reusable_socket: bool,
    /// How long finished handshakes are remembered (`handshakeClearWait`).
    pub clear_wait: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            our_address: None,
            local_addresses: Vec::new(),
            share_local_address: true,
            offer_holepunch: true,
            reusable_socket: false,
            clear_wait: HANDSHAKE_CLEAR_WAIT,
        }
    }
}

/// Why a handshake ended without a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// The client did not open the stream in time.
    Timeout,
    /// Neither side is reachable: the reference would holepunch.
    HolepunchUnsupported,
    /// The server closed.
    Closed,
}

/// What the server reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client is connected: open the UDX stream and the secret stream.
    Connection(Box<Connection>),
    /// A handshake that reserved `local_stream_id` ended without a connection; the id is
    /// free again.
    Aborted {
        /// The stream id handed out in our payload.
        local_stream_id: u32,
        /// Why.
        reason: AbortReason,
    },
}

#[derive(Debug)]
enum SlotState {
    /// Waiting for the client's first stream packet.
    Passive(Box<Connection>),
    /// Neither side reachable; waiting out the holepunch window for the client's first
    /// stream packet (it may reach one of our local addresses).
    Holepunch(Box<Connection>),
    /// Connected, failed or aborted: only remembered.
    Done,
}

#[derive(Debug)]
struct Slot {
    /// Our Noise reply (`None`: the handshake was refused; requests get no answer).
    reply: Option<Bytes>,
    state: SlotState,
    /// When the slot is dropped (set once the handshake finished).
    clear_at: Option<Duration>,
    /// When a waiting handshake is given up.
    abort_at: Option<Duration>,
}

/// One listening key: the server half of HyperDHT connections.
pub struct Server {
    key_pair: KeyPair,
    target: [u8; 32],
    config: ServerConfig,
    firewall: Option<Firewall>,
    /// Handshakes by their Noise message (`_connects`); the key is also the holepunch id's
    /// owner in the reference (`_holepunches`), here the slot's index in `order`.
    slots: BTreeMap<Bytes, Slot>,
    /// Holepunch ids (`_holepunches` indices) of live slots.
    ids: Vec<Option<Bytes>>,
    relays: Vec<RelayInfo>,
    relay_addresses: Vec<Ipv4Address>,
    events: VecDeque<ServerEvent>,
    closed: bool,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("public_key", &self.key_pair.public_key)
            .field("handshakes", &self.slots.len())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server for `key_pair`; its records live under [`target`]`(public key)`.
    #[must_use]
    pub fn new(key_pair: KeyPair, config: ServerConfig) -> Self {
        Self {
            target: target(&key_pair.public_key),
            key_pair,
            config,
            firewall: None,
            slots: BTreeMap::new(),
            ids: Vec::new(),
            relays: Vec::new(),
            relay_addresses: Vec::new(),
            events: VecDeque::new(),
            closed: false,
        }
    }

    /// Installs the firewall hook.
    pub fn set_firewall(&mut self, firewall: Firewall) {
        self.firewall = Some(firewall);
    }

    /// The listening public key.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.key_pair.public_key
    }

    /// The target `PEER_HANDSHAKE` requests for this server carry.
    #[must_use]
    pub fn target(&self) -> [u8; 32] {
        self.target
    }

    /// Updates what the server advertises (its address may be learnt late).
    pub fn config_mut(&mut self) -> &mut ServerConfig {
        &mut self.config
    }

    /// Sets the relays the announcer stored our record on (offered for holepunching) and
    /// the addresses published as `relayAddresses`.
    pub fn set_relays(&mut self, relays: Vec<RelayInfo>, relay_addresses: Vec<Ipv4Address>) {
        self.relays = relays;
        self.relay_addresses = relay_addresses;
    }

    /// The relay addresses published in our payload (`relayAddresses`).
    #[must_use]
    pub fn relay_addresses(&self) -> &[Ipv4Address] {
        &self.relay_addresses
    }

    /// Handshakes remembered.
    #[must_use]
    pub fn handshakes(&self) -> usize {
        self.slots.len()
    }

    /// Handles a `PEER_HANDSHAKE` for our target (`_onpeerhandshake`): `handshake` came
    /// from `from` (the client, or the node relaying it) on `socket`. `ephemeral_seed` is fresh
    /// randomness for our Noise key, `local_stream_id` the UDX stream id to offer (kept
    /// only when the client is accepted: see [`Server::stream_id_used`]). Returns our
    /// Noise reply, to send back the way the handshake came
    /// ([`Dht::reply_peer_handshake`](super::Dht::reply_peer_handshake)), or `None` to
    /// leave it unanswered.
    pub fn handle_peer_handshake(
        &mut self,
        now: Duration,
        handshake: &Handshake,
        from: Ipv4Address,
        socket: Socket,
        ephemeral_seed: [u8; 32],
        local_stream_id: u32,
    ) -> Option<Bytes> {
        let noise = &handshake.noise;
        if self.closed || noise.is_empty() {
            return None;
        }
        if !self.slots.contains_key(noise) {
            if self.slots.len() >= MAX_HANDSHAKES {
                return None;
            }
            let client = handshake.peer_address.unwrap_or(from);
            // Straight from the client (not relayed): the stream uses the socket it came on.
            let direct = handshake.peer_address.is_none().then_some(socket);
            let slot =
                self.new_handshake(now, noise, client, direct, ephemeral_seed, local_stream_id);
            self.slots.insert(noise.clone(), slot);
        }
        self.slots.get(noise).and_then(|s| s.reply.clone())
    }

    /// Whether the last [`Server::handle_peer_handshake`] kept `local_stream_id` (a
    /// handshake waiting for, or connected to, that stream).
    #[must_use]
    pub fn stream_id_used(&self, local_stream_id: u32) -> bool {
        self.slots.values().any(|s| match &s.state {
            SlotState::Passive(c) | SlotState::Holepunch(c) => c.local_stream_id == local_stream_id,
            SlotState::Done => false,
        })
    }

    fn refused(&self, now: Duration) -> Slot {
        Slot {
            reply: None,
            state: SlotState::Done,
            clear_at: Some(now + self.config.clear_wait),
            abort_at: None,
        }
    }

    fn new_handshake(
        &mut self,
        now: Duration,
        noise: &Bytes,
        client: Ipv4Address,
        direct: Option<Socket>,
        seed: [u8; 32],
        local_stream_id: u32,
    ) -> Slot {
        let mut wrap = NoiseWrap::responder(self.key_pair.clone(), seed);
        let Ok(remote) = wrap.recv(noise).map(|p| NoisePayload::decode_from(&p)) else {
            return self.refused(now);
        };
        let Ok(remote) = remote else {
            return self.refused(now);
        };
        let Some(remote_key) = wrap.remote_public_key() else {
            return self.refused(now);
        };
        if let Some(fw) = self.firewall.as_mut() {
            if fw(&remote_key, &remote, &client) {
                return self.refused(now);
            }
        }
        let remote_stream = udx_id(&remote);
        let error = if !remote.is_supported() {
            errors::VERSION_MISMATCH
        } else if remote_stream.is_some() {
            errors::NONE
        } else {
            errors::ABORTED
        };
        let hp_id = self.free_id(noise);
        let reply = self.payload(error, hp_id, local_stream_id);
        let Ok(reply) = wrap.send(&reply.to_vec()) else {
            return self.refused(now);
        };
        let (Ok(result), Some(remote_stream_id), true) =
            (wrap.finish(), remote_stream, error == errors::NONE)
        else {
            let mut slot = self.refused(now);
            slot.reply = Some(Bytes::from(reply));
            return slot;
        };
        let conn = Connection {
            remote_public_key: remote_key,
            remote_addr: client,
            remote_stream_id,
            local_stream_id,
            is_initiator: false,
            handshake: result,
            remote_payload: remote.clone(),
            socket: direct,
        };
        let reply = Some(Bytes::from(reply));
        if remote.firewall == firewall::OPEN || direct.is_some() {
            self.events
                .push_back(ServerEvent::Connection(Box::new(conn)));
            return Slot {
                reply,
                state: SlotState::Done,
                clear_at: Some(now + self.config.clear_wait),
                abort_at: None,
            };
        }
        // The reference would pair through a blind relay here when either side asks
        // (`relayThrough`), and prepunch on a shared LAN; neither is implemented.
        let state = if self.config.our_address.is_some() {
            SlotState::Passive(Box::new(conn))
        } else {
            SlotState::Holepunch(Box::new(conn))
        };
        Slot {
            reply,
            state,
            clear_at: None,
            abort_at: Some(now + HANDSHAKE_INITIAL_TIMEOUT),
        }
    }

    /// A free holepunch id (`_holepunches.indexOf(null)`), claimed for `noise`.
    fn free_id(&mut self, noise: &Bytes) -> u64 {
        let i = match self.ids.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.ids.push(None);
                self.ids.len() - 1
            }
        };
        self.ids[i] = Some(noise.clone());
        i as u64
    }

    /// Our handshake payload (the reference's `handshake.send({...})`).
    fn payload(&self, error: u64, hp_id: u64, local_stream_id: u32) -> NoisePayload {
        let c = &self.config;
        let mut addresses4: Vec<Ipv4Address> = c.our_address.into_iter().collect();
        if c.share_local_address {
            addresses4.extend_from_slice(&c.local_addresses);
        }
        NoisePayload {
            error,
            firewall: if c.our_address.is_some() {
                firewall::OPEN
            } else {
                firewall::UNKNOWN
            },
            holepunch: (c.our_address.is_none() && c.offer_holepunch).then(|| HolepunchInfo {
                id: hp_id,
                relays: self.relays.clone(),
            }),
            addresses4,
            udx: Some(UdxInfo {
                reusable_socket: c.reusable_socket,
                id: if error == errors::NONE {
                    local_stream_id.into()
                } else {
                    0
                },
                ..UdxInfo::default()
            }),
            secret_stream: Some(SecretStreamInfo::default()),
            relay_addresses: (!self.relay_addresses.is_empty())
                .then(|| self.relay_addresses.clone()),
            ..NoisePayload::default()
        }
    }

    /// The first UDX packet on `local_stream_id` came from `from` (the stream's firewall
    /// hook): a waiting handshake (passive, or in the holepunch window) becomes a
    /// [`ServerEvent::Connection`] to that address. Returns whether a handshake was
    /// waiting for it.
    pub fn handle_stream_packet(
        &mut self,
        now: Duration,
        local_stream_id: u32,
        from: Ipv4Address,
    ) -> bool {
        let clear_at = now + self.config.clear_wait;
        for slot in self.slots.values_mut() {
            if matches!(&slot.state, SlotState::Passive(c) | SlotState::Holepunch(c)
                if c.local_stream_id == local_stream_id)
            {
                if let SlotState::Passive(mut conn) | SlotState::Holepunch(mut conn) =
                    core::mem::replace(&mut slot.state, SlotState::Done)
                {
                    conn.remote_addr = from;
                    self.events.push_back(ServerEvent::Connection(conn));
                }
                slot.abort_at = None;
                slot.clear_at = Some(clear_at);
                return true;
            }
        }
        false
    }

    /// When [`Server::handle_timeout`] next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.slots
            .values()
            .filter_map(|s| s.abort_at.or(s.clear_at))
            .min()
    }

    /// Gives up waiting handshakes and forgets finished ones whose time came.
    pub fn handle_timeout(&mut self, now: Duration) {
        let clear_wait = self.config.clear_wait;
        for slot in self.slots.values_mut() {
            if slot.abort_at.is_some_and(|t| t <= now) {
                slot.abort_at = None;
                slot.clear_at = Some(now + clear_wait);
                let reason = match &slot.state {
                    SlotState::Holepunch(_) => AbortReason::HolepunchUnsupported,
                    _ => AbortReason::Timeout,
                };
                Self::abort(&mut self.events, slot, reason);
            }
        }
        let expired: Vec<Bytes> = self
            .slots
            .iter()
            .filter(|(_, s)| s.clear_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.slots.remove(&k);
            self.release_id(&k);
        }
    }

    fn release_id(&mut self, noise: &Bytes) {
        if let Some(i) = self.ids.iter().position(|n| n.as_ref() == Some(noise)) {
            self.ids[i] = None;
        }
        while self.ids.last().is_some_and(Option::is_none) {
            self.ids.pop();
        }
    }

    fn abort(events: &mut VecDeque<ServerEvent>, slot: &mut Slot, reason: AbortReason) {
        let id = match core::mem::replace(&mut slot.state, SlotState::Done) {
            SlotState::Passive(c) | SlotState::Holepunch(c) => c.local_stream_id,
            SlotState::Done => return,
        };
        events.push_back(ServerEvent::Aborted {
            local_stream_id: id,
            reason,
        });
    }

    /// Stops serving: waiting handshakes are aborted, later requests dropped.
    pub fn close(&mut self) {
        self.closed = true;
        for slot in self.slots.values_mut() {
            Self::abort(&mut self.events, slot, AbortReason::Closed);
        }
        self.slots.clear();
        self.ids.clear();
    }

    /// Whether [`Server::close`] was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }
}
