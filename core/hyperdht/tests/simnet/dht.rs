//! [`DhtHost`]: a HyperDHT [`Dht`] in the simulation (a persistent node storing records),
//! with a log of its operations.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ferrocore_hyperdht::dht::{Dht, DhtError, DhtEvent, OpId};
use ferrocore_hyperdht::rpc::io::{Socket, Transmit};
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::{node_id, Ipv4Address};

use super::net::{open_node, Footprint, Member};
use super::{Host, Rng};

/// What an operation reported.
#[derive(Debug, Clone, Default)]
pub struct OpLog {
    /// The public keys of the peers its LOOKUP replies listed.
    pub peers: BTreeSet<[u8; 32]>,
    /// How it ended (`None` while running).
    pub done: Option<Result<(), DhtError>>,
}

/// A persistent, unfirewalled HyperDHT node (as on a testnet) that bootstraps with a
/// FIND_NODE for its own id.
#[derive(Debug)]
pub struct DhtHost {
    /// The node.
    pub dht: Dht,
    /// Its operations (the bootstrap one included).
    pub ops: BTreeMap<OpId, OpLog>,
    join: Option<OpId>,
}

impl DhtHost {
    /// Looks up the peers announced under `topic`.
    pub fn lookup(&mut self, now: Duration, topic: [u8; 32]) -> OpId {
        let op = self.dht.lookup(now, topic);
        self.ops.entry(op).or_default();
        self.drain();
        op
    }

    /// Announces `key` under `topic`.
    pub fn announce(&mut self, now: Duration, topic: [u8; 32], key: &SigningKey) -> OpId {
        let op = self.dht.announce(now, topic, key, Vec::new());
        self.ops.entry(op).or_default();
        self.drain();
        op
    }

    /// Whether operation `op` ended.
    pub fn done(&self, op: OpId) -> bool {
        self.ops.get(&op).is_some_and(|o| o.done.is_some())
    }

    fn drain(&mut self) {
        while let Some(ev) = self.dht.poll_event() {
            match ev {
                DhtEvent::Lookup { op, reply } => {
                    if let Some(log) = self.ops.get_mut(&op) {
                        log.peers.extend(reply.peers.iter().map(|p| p.public_key));
                    }
                }
                DhtEvent::Done { op, result } => {
                    if let Some(log) = self.ops.get_mut(&op) {
                        log.done = Some(result.map(|_| ()));
                    }
                    if self.join == Some(op) {
                        self.dht.node_mut().bootstrapped = true;
                    }
                }
                _ => {}
            }
        }
    }
}

impl Host for DhtHost {
    fn handle_datagram(&mut self, now: Duration, socket: Socket, from: Ipv4Address, bytes: &[u8]) {
        self.dht.handle_datagram(now, socket, from, bytes);
        self.drain();
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.dht.handle_timeout(now);
        self.drain();
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.dht.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.dht.poll_transmit()
    }
}

impl Member for DhtHost {
    fn start(rng: &mut Rng, addr: Ipv4Address, now: Duration, bootstrap: &[Ipv4Address]) -> Self {
        let dht = Dht::new(open_node(rng, addr, now, bootstrap));
        let mut h = Self {
            dht,
            ops: BTreeMap::new(),
            join: None,
        };
        if !bootstrap.is_empty() {
            let id = node_id(&addr);
            let op = h.dht.find_node(now, id);
            h.ops.entry(op).or_default();
            h.join = Some(op);
            h.drain();
        }
        h
    }

    fn node(&self) -> &Node {
        self.dht.node()
    }

    fn footprint(&self) -> Footprint {
        Footprint::of(self.dht.node())
    }
}
