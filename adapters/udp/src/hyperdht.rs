//! A HyperDHT node ([`ferrocore_hyperdht::dht::connect_node::PeerNode`]: the [`Dht`]
//! with its operations, handshake router, servers and connects) as a [`Machine`], and
//! [`DhtNode`], a handle whose operations are futures.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ferrocore_hyperdht::dht::connect::ConnectConfig;
use ferrocore_hyperdht::dht::connect_node::{ConnectId, PeerEvent, PeerNode};
use ferrocore_hyperdht::dht::handshake::{ConnectError, Connection};
use ferrocore_hyperdht::dht::persistent::{Config as PersistentConfig, Persistent};
use ferrocore_hyperdht::dht::server::ServerConfig;
use ferrocore_hyperdht::dht::{Dht, DhtError, DhtEvent, OpId, OpOutput};
use ferrocore_hyperdht::rpc::io::Socket;
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::Ipv4Address;
use ferrocore_wire::noise::KeyPair;

use crate::machine::{Machine, MachineNode};
use crate::rpc::{from_ipv4, to_ipv4, RpcConfig};
use crate::UdxSocket;

/// Operations whose results are kept for handles at once; more fail at once.
pub const MAX_OPS: usize = 1024;

/// Replies an operation keeps for its handle (more are dropped).
const MAX_OP_EVENTS: usize = 4096;

/// What an operation started through a [`DhtNode`] gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// Its replies as they came ([`DhtEvent::Lookup`], [`DhtEvent::FindPeer`]).
    pub replies: Vec<DhtEvent>,
    /// How it ended.
    pub output: OpOutput,
}

impl OpResult {
    /// The peers its LOOKUP replies listed, in arrival order (a peer listed by several
    /// nodes comes once per listing).
    pub fn peers(&self) -> impl Iterator<Item = &ferrocore_wire::dht::Peer> + '_ {
        self.replies.iter().flat_map(|e| match e {
            DhtEvent::Lookup { reply, .. } => reply.peers.as_slice(),
            _ => &[],
        })
    }
}

/// A peer connection set up through the DHT: its UDX stream (created and connected to
/// the remote's) and the handshake, from which the secret-stream starts
/// ([`SecretStream::from_handshake`](ferrocore_wire::stream::SecretStream::from_handshake)
/// with `connection.handshake.handshake`, or a replication node's `add_handshake`).
#[derive(Debug)]
pub struct DhtConnection {
    /// The UDX stream to the remote.
    pub stream: crate::UdxStream,
    /// The handshake's outcome: keys, remote key, addresses, stream ids.
    pub connection: Box<Connection>,
}

/// Connections accepted and not yet taken (more are dropped).
const ACCEPT_QUEUE: usize = 64;

#[derive(Debug, Default)]
struct Dial {
    done: Option<Result<DhtConnection, ConnectError>>,
    waker: Option<Waker>,
}

#[derive(Debug, Default)]
struct Slot {
    replies: Vec<DhtEvent>,
    done: Option<Result<OpOutput, DhtError>>,
    waker: Option<Waker>,
}

/// A HyperDHT node run on a UDX socket's spare datagrams; operations started through a
/// [`DhtNode`] keep their results here until taken.
#[derive(Debug)]
pub struct DhtMachine {
    peer: PeerNode,
    ops: HashMap<OpId, Slot>,
    boot_wakers: Vec<Waker>,
    socket: Option<UdxSocket>,
    dials: HashMap<ConnectId, Dial>,
    accepted: VecDeque<DhtConnection>,
    accept_waker: Option<Waker>,
    /// This host's local addresses with the socket's port, as a client shares them
    /// (`Holepuncher.localAddresses`, not validated).
    local_addresses: Vec<Ipv4Address>,
}

impl DhtMachine {
    /// A HyperDHT node at `now` bound to `local`, started as `config` says.
    ///
    /// # Errors
    /// When the OS random number generator fails.
    pub fn new(now: Duration, local: SocketAddr, config: &RpcConfig) -> io::Result<Self> {
        let mut seeds = [0u8; 76];
        getrandom::getrandom(&mut seeds).map_err(io::Error::from)?;
        let (node_seed, rest) = seeds.split_at(32);
        let (peer_seed, rest) = rest.split_at(32);
        let (stream, records_seed) = rest.split_at(4);
        let mut node = Node::with_config(
            now,
            config.to_config(local),
            node_seed.try_into().unwrap_or([1; 32]),
        );
        node.start(now, local.port());
        let first_stream = u32::from_le_bytes(stream.try_into().unwrap_or([1; 4])) | 1;
        // The persistent node's record store (JS `lib/persistent.js`): it answers once
        // the node is persistent (announces, lookups, mutable/immutable values).
        let mut dht = Dht::new(node);
        dht.set_record_handler(Box::new(Persistent::new(
            PersistentConfig::default(),
            now,
            u64::from_le_bytes(records_seed.try_into().unwrap_or([3; 8])),
        )));
        Ok(Self {
            peer: PeerNode::new(dht, peer_seed.try_into().unwrap_or([2; 32]), first_stream),
            ops: HashMap::new(),
            boot_wakers: Vec::new(),
            socket: None,
            dials: HashMap::new(),
            accepted: VecDeque::new(),
            accept_waker: None,
            local_addresses: Vec::new(),
        })
    }

    /// The UDX socket connections' streams are made on (without one, connections are
    /// reported as events instead).
    pub fn set_socket(&mut self, socket: UdxSocket) {
        self.socket = Some(socket);
    }

    /// Sets this host's local addresses (with the socket's port): connects send them and
    /// pick the server's LAN address by them (JS `localConnection`, on by default), and
    /// servers share the `validated` ones (`dht.validateLocalAddresses`; `None`: not
    /// known yet).
    pub fn set_local_addresses(
        &mut self,
        addresses: Vec<Ipv4Address>,
        validated: Option<Vec<Ipv4Address>>,
    ) {
        self.local_addresses = addresses;
        if let Some(v) = validated {
            self.peer.set_local_addresses(v);
        }
    }

    /// Starts a connect to `remote` with `key_pair`; its outcome comes from
    /// [`poll_connect`](Self::poll_connect).
    pub fn connect(&mut self, now: Duration, key_pair: KeyPair, remote: [u8; 32]) -> ConnectId {
        let config = ConnectConfig {
            our_address: self.peer.dht().node().remote_address(),
            local_addresses: self.local_addresses.clone(),
            lan: true,
            ..ConnectConfig::default()
        };
        let id = self.peer.connect(now, key_pair, remote, config);
        self.dials.entry(id).or_default();
        id
    }

    /// The outcome of connect `id` once known (then forgotten).
    pub fn poll_connect(
        &mut self,
        id: ConnectId,
        cx: &mut Context<'_>,
    ) -> Poll<Result<DhtConnection, ConnectError>> {
        let Some(dial) = self.dials.get_mut(&id) else {
            return Poll::Ready(Err(ConnectError::PeerConnectionFailed));
        };
        match dial.done.take() {
            Some(r) => {
                self.dials.remove(&id);
                Poll::Ready(r)
            }
            None => {
                dial.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Listens on `key_pair` (`server.listen`; announcing it is the caller's:
    /// [`DhtNode::announce`] under the hash of its public key).
    ///
    /// # Errors
    /// [`ConnectError::KeyPairAlreadyUsed`] when already listening on it.
    pub fn listen(&mut self, now: Duration, key_pair: KeyPair) -> Result<(), ConnectError> {
        let config = ServerConfig {
            our_address: self.peer.dht().node().remote_address(),
            // holepunching is not implemented: clients that cannot reach us directly
            // fail either way, those that can do so at once
            offer_holepunch: false,
            ..ServerConfig::default()
        };
        self.peer.listen(now, key_pair, config)
    }

    /// The next connection a server accepted.
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<DhtConnection> {
        match self.accepted.pop_front() {
            Some(c) => Poll::Ready(c),
            None => {
                self.accept_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The UDX stream of `connection`, connected to the remote's.
    fn open(&self, connection: Box<Connection>) -> io::Result<DhtConnection> {
        let socket = self
            .socket
            .as_ref()
            .ok_or_else(|| io::Error::other("no UDX socket"))?;
        let stream = socket.create_stream_with_id(connection.local_stream_id)?;
        stream.connect(
            connection.remote_stream_id,
            from_ipv4(connection.remote_addr),
        )?;
        Ok(DhtConnection { stream, connection })
    }

    /// Takes a connection event: `None` when it was handled here.
    fn on_connection(&mut self, ev: PeerEvent) -> Option<PeerEvent> {
        match ev {
            PeerEvent::Connected(id, c) if self.dials.contains_key(&id) => {
                let r = self.open(c).map_err(|_| ConnectError::PeerConnectionFailed);
                self.finish_dial(id, r);
                None
            }
            PeerEvent::ConnectFailed(id, e) if self.dials.contains_key(&id) => {
                self.finish_dial(id, Err(e));
                None
            }
            PeerEvent::Connection { connection, .. } if self.socket.is_some() => {
                if let Ok(c) = self.open(connection) {
                    if self.accepted.len() < ACCEPT_QUEUE {
                        self.accepted.push_back(c);
                        if let Some(w) = self.accept_waker.take() {
                            w.wake();
                        }
                    }
                }
                None
            }
            ev => Some(ev),
        }
    }

    fn finish_dial(&mut self, id: ConnectId, r: Result<DhtConnection, ConnectError>) {
        if let Some(dial) = self.dials.get_mut(&id) {
            dial.done = Some(r);
            if let Some(w) = dial.waker.take() {
                w.wake();
            }
        }
    }

    /// The node with its servers and connects.
    #[must_use]
    pub fn peer(&self) -> &PeerNode {
        &self.peer
    }

    /// The node with its servers and connects, to start things on.
    pub fn peer_mut(&mut self) -> &mut PeerNode {
        &mut self.peer
    }

    /// Keeps the results of `op` for [`poll_op`](Self::poll_op) (at most [`MAX_OPS`]
    /// at once: `false` when full).
    pub fn track(&mut self, op: OpId) -> bool {
        if self.ops.len() >= MAX_OPS {
            return false;
        }
        self.ops.entry(op).or_default();
        true
    }

    /// The result of a tracked `op` once it has ended (then forgotten).
    pub fn poll_op(&mut self, op: OpId, cx: &mut Context<'_>) -> Poll<Result<OpResult, DhtError>> {
        let Some(slot) = self.ops.get_mut(&op) else {
            return Poll::Ready(Err(DhtError::NodeDestroyed));
        };
        if slot.done.is_none() {
            slot.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let slot = self.ops.remove(&op).unwrap_or_default();
        Poll::Ready(
            slot.done
                .unwrap_or(Err(DhtError::NodeDestroyed))
                .map(|output| OpResult {
                    replies: slot.replies,
                    output,
                }),
        )
    }

    /// Ready once the node has bootstrapped.
    pub fn poll_bootstrapped(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.peer.dht().node().is_bootstrapped() {
            return Poll::Ready(());
        }
        if !self.boot_wakers.iter().any(|w| w.will_wake(cx.waker())) {
            self.boot_wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Files an event of a tracked operation; `false` if it is not one.
    fn file(&mut self, ev: &DhtEvent) -> bool {
        let op = match ev {
            DhtEvent::Lookup { op, .. } | DhtEvent::FindPeer { op, .. } => *op,
            DhtEvent::Done { op, .. } => *op,
            _ => return false,
        };
        let Some(slot) = self.ops.get_mut(&op) else {
            return false;
        };
        match ev {
            DhtEvent::Done { result, .. } => {
                slot.done = Some(result.clone());
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
            _ if slot.replies.len() < MAX_OP_EVENTS => slot.replies.push(ev.clone()),
            _ => {}
        }
        true
    }
}

impl Machine for DhtMachine {
    type Event = PeerEvent;

    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, data: &[u8]) {
        let Some(from) = to_ipv4(from) else {
            return;
        };
        // A UDX packet for a stream this socket does not have yet: the remote of a
        // connect or server waiting for it (a firewalled peer opens the stream to us).
        if let Ok(header) = ferrocore_wire::udx::Header::read(data) {
            self.peer.handle_stream_packet(now, header.stream_id, from);
            return;
        }
        self.peer.handle_datagram(now, Socket::Server, from, data);
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.peer.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.peer.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.peer
            .poll_transmit()
            .map(|t| (from_ipv4(t.to), t.bytes))
    }

    fn poll_event(&mut self) -> Option<PeerEvent> {
        if !self.boot_wakers.is_empty() && self.peer.dht().node().is_bootstrapped() {
            for w in self.boot_wakers.drain(..) {
                w.wake();
            }
        }
        while let Some(ev) = self.peer.poll_event() {
            if let PeerEvent::Dht(d) = &ev {
                if self.file(d) {
                    continue;
                }
            }
            if let Some(ev) = self.on_connection(ev) {
                return Some(ev);
            }
        }
        None
    }
}

/// A HyperDHT node on a UDX socket: its operations as futures. Made by a runtime
/// adapter's `bind_dht` (which runs its loop).
#[derive(Clone, Debug)]
pub struct DhtNode {
    node: MachineNode<DhtMachine>,
}

impl DhtNode {
    /// A node on `socket` started as `config` says; nothing moves until its loop runs
    /// ([`crate::drive_machine`] on [`machine`](Self::machine)). This host's local
    /// addresses are validated on a thread of their own (up to
    /// [`VALIDATE_TIMEOUT`](crate::VALIDATE_TIMEOUT) per address that fails) and shared by
    /// its servers once they are.
    ///
    /// # Errors
    /// When the socket has no local address or the OS random number generator fails.
    pub fn new(socket: UdxSocket, config: &RpcConfig) -> io::Result<Self> {
        let local = socket.local_addr()?;
        let mut machine = DhtMachine::new(socket.shared().now(), local, config)?;
        machine.set_socket(socket.clone());
        let addresses = crate::local_addresses(local);
        machine.set_local_addresses(addresses.clone(), None);
        let node = Self {
            node: MachineNode::new(socket, machine),
        };
        let handle = node.clone();
        std::thread::Builder::new()
            .name("dht-local-addresses".into())
            .spawn(move || {
                let valid = crate::validate_local_addresses(&addresses);
                handle
                    .node
                    .with(|m, _| m.set_local_addresses(addresses, Some(valid)));
            })?;
        Ok(node)
    }

    /// The running machine: run code on the node, take its other events (connections).
    #[must_use]
    pub fn machine(&self) -> &MachineNode<DhtMachine> {
        &self.node
    }

    /// The address its socket is bound to.
    ///
    /// # Errors
    /// As the OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.node.socket().local_addr()
    }

    /// The node's id while persistent.
    #[must_use]
    pub fn id(&self) -> Option<[u8; 32]> {
        self.node.with(|m, _| m.peer.dht().id())
    }

    /// Nodes in its routing table.
    #[must_use]
    pub fn table_len(&self) -> usize {
        self.node.with(|m, _| m.peer.dht().node().table().len())
    }

    /// Whether the node has bootstrapped.
    #[must_use]
    pub fn is_bootstrapped(&self) -> bool {
        self.node.with(|m, _| m.peer.dht().node().is_bootstrapped())
    }

    /// The id its routing table is built around (the persistent id once it has one).
    #[must_use]
    pub fn table_id(&self) -> [u8; 32] {
        self.node.with(|m, _| *m.peer.dht().node().table().id())
    }

    /// Waits until the node has bootstrapped.
    pub async fn bootstrapped(&self) {
        poll_fn(|cx| self.node.with(|m, _| m.poll_bootstrapped(cx))).await;
    }

    /// Starts an operation with `start` and waits for its end.
    ///
    /// # Errors
    /// The operation's [`DhtError`] (JS's codes).
    pub async fn run_op(
        &self,
        start: impl FnOnce(&mut Dht, Duration) -> OpId,
    ) -> Result<OpResult, DhtError> {
        let op = self.node.with(|m, now| {
            let op = start(m.peer.dht_mut(), now);
            m.track(op).then_some(op)
        });
        let Some(op) = op else {
            return Err(DhtError::OperationTimeout);
        };
        poll_fn(|cx| self.node.with(|m, _| m.poll_op(op, cx))).await
    }

    /// Looks up the peers announced under `topic` (`dht.lookup`).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn lookup(&self, topic: [u8; 32]) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.lookup(now, topic)).await
    }

    /// Announces `key`'s public key under `topic` (`dht.announce`, no relays).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn announce(
        &self,
        topic: [u8; 32],
        key: &ed25519_dalek::SigningKey,
    ) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.announce(now, topic, key, Vec::new()))
            .await
    }

    /// Connects to the peer listening on `remote` with `key_pair` (`dht.connect`): the
    /// UDX stream and handshake of the connection.
    ///
    /// # Errors
    /// JS's connect errors ([`ConnectError::code`]).
    pub async fn connect(
        &self,
        key_pair: KeyPair,
        remote: [u8; 32],
    ) -> Result<DhtConnection, ConnectError> {
        let id = self.node.with(|m, now| m.connect(now, key_pair, remote));
        poll_fn(|cx| self.node.with(|m, _| m.poll_connect(id, cx))).await
    }

    /// Listens on `key_pair` and announces it (under the hash of its public key, as
    /// `server.listen` does, with no relays) so that others find it; accepted
    /// connections come from [`accept`](Self::accept).
    ///
    /// # Errors
    /// [`DhtError::KeypairAlreadyUsed`] when already listening on it; the announce's
    /// error.
    pub async fn listen(&self, key_pair: KeyPair) -> Result<OpResult, DhtError> {
        let public_key = key_pair.public_key;
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&key_pair.secret_key[..32]);
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        self.node
            .with(|m, now| m.listen(now, key_pair))
            .map_err(|_| DhtError::KeypairAlreadyUsed)?;
        let target = ferrocore_wire::dht::mutable_target(&public_key);
        self.announce(target, &signing).await
    }

    /// Listens on `key_pair` without waiting: the server's announcer keeps its record
    /// (under the hash of the public key) on the closest nodes and refreshes it as JS's
    /// does; [`DhtNode::relay_addresses`] says when its first update ended.
    ///
    /// # Errors
    /// [`DhtError::KeypairAlreadyUsed`] when already listening on it.
    pub fn serve(&self, key_pair: KeyPair) -> Result<(), DhtError> {
        self.node
            .with(|m, now| m.listen(now, key_pair))
            .map_err(|_| DhtError::KeypairAlreadyUsed)
    }

    /// The relay addresses of the server listening on `public_key` (JS
    /// `server.relayAddresses`): our own address when reachable, then the nodes that took
    /// its record in the announcer's last update; empty before the first update ended,
    /// `None` when not listening on it.
    #[must_use]
    pub fn relay_addresses(&self, public_key: &[u8; 32]) -> Option<Vec<Ipv4Address>> {
        self.node.with(|m, _| {
            m.peer_mut()
                .server_mut(public_key)
                .map(|s| s.relay_addresses().to_vec())
        })
    }

    /// Announces `key`'s public key under `topic` with `relays` as the addresses to reach
    /// it through (JS `dht.announce(topic, keyPair, relayAddresses)`, as a swarm server
    /// announces its topics with its server's relay addresses).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn announce_with_relays(
        &self,
        topic: [u8; 32],
        key: &ed25519_dalek::SigningKey,
        relays: Vec<Ipv4Address>,
    ) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.announce(now, topic, key, relays))
            .await
    }

    /// Removes `key`'s announcement under `topic` (`dht.unannounce`).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn unannounce(
        &self,
        topic: [u8; 32],
        key: &ed25519_dalek::SigningKey,
    ) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.unannounce(now, topic, key)).await
    }

    /// The next connection a server of this node accepted.
    pub async fn accept(&self) -> DhtConnection {
        poll_fn(|cx| self.node.with(|m, _| m.poll_accept(cx))).await
    }

    /// Finds the nodes `public_key`'s peer announced itself to (`dht.findPeer`).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn find_peer(&self, public_key: [u8; 32]) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.find_peer(now, &public_key)).await
    }
}
