//! Shared by the hostile-node tests: a victim HyperDHT node (persistent, open, with the
//! JS-equivalent record store shared with the test to measure it) talked to directly by
//! attackers that write raw datagrams.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrocore_hyperdht::dht::persistent::{Config, Persistent};
use ferrocore_hyperdht::dht::{Answer, Dht, DhtEvent, RecordContext, RecordHandler};
use ferrocore_hyperdht::rpc::io::{Incoming, Socket};
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_wire::dht::{node_id, Ipv4Address, Packet, Request, Response};
use ferrocore_wire::Encode;

/// The victim's address.
pub const VICTIM: Ipv4Address = Ipv4Address {
    host: [10, 9, 0, 1],
    port: 4000,
};

/// An attacker's (or honest peer's) address.
pub fn addr(n: u16) -> Ipv4Address {
    Ipv4Address::new([10, 9, 1, (n % 250) as u8], 5000 + n)
}

/// The record store, shared with the test.
#[derive(Debug, Clone)]
pub struct Shared(pub Arc<Mutex<Persistent>>);

impl RecordHandler for Shared {
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer> {
        self.0.lock().unwrap().on_request(cx, req)
    }

    fn unannounce(&mut self, cx: RecordContext<'_>, target: &[u8; 32], public_key: &[u8; 32]) {
        RecordHandler::unannounce(&mut *self.0.lock().unwrap(), cx, target, public_key);
    }

    fn handle_timeout(&mut self, now: Duration) {
        RecordHandler::handle_timeout(&mut *self.0.lock().unwrap(), now);
    }
}

/// The victim and what it sent.
pub struct Victim {
    pub dht: Dht,
    pub store: Shared,
    pub now: Duration,
    pub events: Vec<DhtEvent>,
}

impl Victim {
    /// A persistent open node whose store holds at most `max_size` entries per cache.
    pub fn new(max_size: usize) -> Self {
        let mut node = Node::new(Duration::ZERO, node_id(&VICTIM), 1, [[3; 32], [4; 32]]);
        node.io_mut().ephemeral = false;
        node.io_mut().firewalled = false;
        node.bootstrapped = true;
        let mut dht = Dht::new(node);
        let config = Config::from_options(Some(max_size), None);
        let store = Shared(Arc::new(Mutex::new(Persistent::new(
            config,
            Duration::ZERO,
            1,
        ))));
        dht.set_record_handler(Box::new(store.clone()));
        Self {
            dht,
            store,
            now: Duration::ZERO,
            events: Vec::new(),
        }
    }

    /// The victim's id.
    pub fn id(&self) -> [u8; 32] {
        node_id(&VICTIM)
    }

    /// Delivers `bytes` from `from`; returns what the victim sent back to `from` (the rest
    /// of what it sent is returned as well, addressed).
    pub fn feed(&mut self, from: Ipv4Address, bytes: &[u8]) -> Vec<(Ipv4Address, Packet)> {
        self.dht
            .handle_datagram(self.now, Socket::Server, from, bytes);
        self.drain()
    }

    /// Drains transmits (decoded: the victim never sends an undecodable datagram) and
    /// events.
    pub fn drain(&mut self) -> Vec<(Ipv4Address, Packet)> {
        let mut out = Vec::new();
        while let Some(t) = self.dht.poll_transmit() {
            out.push((t.to, Packet::decode(&t.bytes).expect("decodable datagram")));
        }
        while let Some(ev) = self.dht.poll_event() {
            self.events.push(ev);
        }
        out
    }

    /// Sends a request from `from` and returns the replies to it.
    pub fn ask(&mut self, from: Ipv4Address, req: Request) -> Vec<Response> {
        let tid = req.tid;
        self.feed(from, &Packet::Request(req).to_vec())
            .into_iter()
            .filter_map(|(to, p)| match p {
                Packet::Response(r) if to == from && r.tid == tid => Some(r),
                _ => None,
            })
            .collect()
    }

    /// Lets `d` pass, running timers every 100 ms.
    pub fn advance(&mut self, d: Duration) -> Vec<(Ipv4Address, Packet)> {
        let end = self.now + d;
        let mut out = Vec::new();
        while self.now < end {
            self.now = (self.now + Duration::from_millis(100)).min(end);
            self.dht.handle_timeout(self.now);
            out.extend(self.drain());
        }
        out
    }

    /// Entries in the store: `(records, refreshes, bumps, mutables, immutables)`.
    pub fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        self.store.0.lock().unwrap().sizes()
    }
}

/// A HyperDHT request from `from` (id verified) to the victim.
pub fn request(
    from: Ipv4Address,
    tid: u16,
    command: u64,
    target: [u8; 32],
    token: Option<[u8; 32]>,
    value: Option<Bytes>,
) -> Request {
    Request {
        tid,
        to: VICTIM,
        id: Some(node_id(&from)),
        token,
        internal: false,
        command,
        target: Some(target),
        value,
    }
}
