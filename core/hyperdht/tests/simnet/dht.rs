//! [`DhtHost`]: a HyperDHT [`Dht`] in the simulation (a persistent node storing records),
//! with a log of its operations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ferrocore_hyperdht::dht::persistent::{self, Persistent};
use ferrocore_hyperdht::dht::{
    Answer, Dht, DhtError, DhtEvent, OpId, RecordContext, RecordHandler,
};
use ferrocore_hyperdht::rpc::io::{Incoming, Socket, Transmit};
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::Ipv4Address;

use super::net::{Footprint, Member};
use super::{Host, Rng};

/// What an operation reported.
#[derive(Debug, Clone, Default)]
pub struct OpLog {
    /// The public keys of the peers its LOOKUP replies listed.
    pub peers: BTreeSet<[u8; 32]>,
    /// How it ended (`None` while running).
    pub done: Option<Result<(), DhtError>>,
}

/// The persistent node's record store ([`Persistent`], the [`Dht`]'s record handler),
/// shared with the [`DhtHost`] so the simulation can see what it holds.
#[derive(Debug, Clone)]
pub struct Store(Arc<Mutex<Persistent>>);

impl Store {
    /// An empty store at `now`.
    pub fn new(now: Duration, seed: u64) -> Self {
        let p = Persistent::new(persistent::Config::default(), now, seed);
        Self(Arc::new(Mutex::new(p)))
    }

    /// Entries held, all stores together.
    pub fn len(&self) -> usize {
        let (r, f, b, m, i) = self.0.lock().expect("not poisoned").sizes();
        r + f + b + m + i
    }
}

impl RecordHandler for Store {
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer> {
        self.0.lock().expect("not poisoned").on_request(cx, req)
    }

    fn unannounce(&mut self, cx: RecordContext<'_>, target: &[u8; 32], public_key: &[u8; 32]) {
        let mut p = self.0.lock().expect("not poisoned");
        RecordHandler::unannounce(&mut *p, cx, target, public_key);
    }

    fn handle_timeout(&mut self, now: Duration) {
        RecordHandler::handle_timeout(&mut *self.0.lock().expect("not poisoned"), now);
    }
}

/// A HyperDHT node driven by the simulation, storing records when persistent.
#[derive(Debug)]
pub struct DhtHost {
    /// The node.
    pub dht: Dht,
    /// Its operations.
    pub ops: BTreeMap<OpId, OpLog>,
    /// Its record store.
    pub store: Store,
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
    fn wrap(rng: &mut Rng, node: Node) -> Self {
        let mut dht = Dht::new(node);
        let store = Store::new(Duration::ZERO, rng.next_u64());
        dht.set_record_handler(Box::new(store.clone()));
        Self {
            dht,
            ops: BTreeMap::new(),
            store,
        }
    }

    fn node(&self) -> &Node {
        self.dht.node()
    }

    fn footprint(&self) -> Footprint {
        Footprint {
            records: self.store.len(),
            ..Footprint::of(self.dht.node())
        }
    }
}
