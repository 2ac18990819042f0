//! A HyperDHT node ([`ferrocore_hyperdht::dht::connect_node::PeerNode`]: the [`Dht`]
//! with its operations, handshake router, servers and connects) as a [`Machine`], and
//! [`DhtNode`], a handle whose operations are futures.

use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ferrocore_hyperdht::dht::connect_node::{PeerEvent, PeerNode};
use ferrocore_hyperdht::dht::{Dht, DhtError, DhtEvent, OpId, OpOutput};
use ferrocore_hyperdht::rpc::io::Socket;
use ferrocore_hyperdht::rpc::node::Node;

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
}

impl DhtMachine {
    /// A HyperDHT node at `now` bound to `local`, started as `config` says.
    ///
    /// # Errors
    /// When the OS random number generator fails.
    pub fn new(now: Duration, local: SocketAddr, config: &RpcConfig) -> io::Result<Self> {
        let mut seeds = [0u8; 68];
        getrandom::getrandom(&mut seeds).map_err(io::Error::from)?;
        let (node_seed, rest) = seeds.split_at(32);
        let (peer_seed, stream) = rest.split_at(32);
        let mut node = Node::with_config(
            now,
            config.to_config(local),
            node_seed.try_into().unwrap_or([1; 32]),
        );
        node.start(now, local.port());
        let first_stream = u32::from_le_bytes(stream.try_into().unwrap_or([1; 4])) | 1;
        Ok(Self {
            peer: PeerNode::new(
                Dht::new(node),
                peer_seed.try_into().unwrap_or([2; 32]),
                first_stream,
            ),
            ops: HashMap::new(),
            boot_wakers: Vec::new(),
        })
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
        if let Some(from) = to_ipv4(from) {
            self.peer.handle_datagram(now, Socket::Server, from, data);
        }
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
            return Some(ev);
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
    /// ([`crate::drive_machine`] on [`machine`](Self::machine)).
    ///
    /// # Errors
    /// When the socket has no local address or the OS random number generator fails.
    pub fn new(socket: UdxSocket, config: &RpcConfig) -> io::Result<Self> {
        let local = socket.local_addr()?;
        let machine = DhtMachine::new(socket.shared().now(), local, config)?;
        Ok(Self {
            node: MachineNode::new(socket, machine),
        })
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

    /// Finds the nodes `public_key`'s peer announced itself to (`dht.findPeer`).
    ///
    /// # Errors
    /// The operation's [`DhtError`].
    pub async fn find_peer(&self, public_key: [u8; 32]) -> Result<OpResult, DhtError> {
        self.run_op(|d, now| d.find_peer(now, &public_key)).await
    }
}
