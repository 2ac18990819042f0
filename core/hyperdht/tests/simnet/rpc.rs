//! [`RpcHost`]: a dht-rpc [`Node`] in the simulation, with a log of its queries.

use std::collections::BTreeMap;
use std::time::Duration;

use ferrocore_hyperdht::rpc::io::{Socket, Transmit};
use ferrocore_hyperdht::rpc::node::{Node, NodeEvent, QueryId, QueryRequest};
use ferrocore_hyperdht::rpc::query::QueryConfig;
use ferrocore_wire::dht::{commands, errors, Ipv4Address};

use super::net::Member;
use super::{Host, Rng};

/// What a query reported.
#[derive(Debug, Clone, Default)]
pub struct QueryLog {
    /// Its target.
    pub target: [u8; 32],
    /// The ids of the nodes that replied, in order.
    pub replied: Vec<[u8; 32]>,
    /// Whether it ended.
    pub done: bool,
}

impl QueryLog {
    /// The `k` repliers closest to the target (what the query converged on).
    pub fn closest(&self, k: usize) -> Vec<[u8; 32]> {
        let mut v = self.replied.clone();
        v.sort_by_key(|id| super::distance(id, &self.target));
        v.dedup();
        v.truncate(k);
        v
    }
}

/// A dht-rpc node driven by the simulation.
#[derive(Debug)]
pub struct RpcHost {
    /// The node.
    pub node: Node,
    /// Its queries (the bootstrap one included).
    pub queries: BTreeMap<QueryId, QueryLog>,
    /// Nodes that entered / left its table.
    pub added: u64,
    /// See `added`.
    pub removed: u64,
}

impl RpcHost {
    /// Starts a FIND_NODE query for `target`.
    pub fn find_node(&mut self, now: Duration, target: [u8; 32]) -> QueryId {
        let req = QueryRequest {
            target,
            internal: true,
            command: commands::FIND_NODE,
            value: None,
        };
        let q = self.node.query(now, req, QueryConfig::default(), &[]);
        self.queries.entry(q).or_default().target = target;
        self.drain();
        q
    }

    fn drain(&mut self) {
        while let Some(ev) = self.node.poll_event() {
            match ev {
                NodeEvent::Request(req) => {
                    // Nobody listens for application commands here.
                    self.node.reply(&req, errors::UNKNOWN_COMMAND, None, false);
                }
                NodeEvent::QueryReply(q, r) => {
                    if let (Some(log), Some(id)) = (self.queries.get_mut(&q), r.from_id) {
                        log.replied.push(id);
                    }
                }
                NodeEvent::QueryDone(q) => {
                    if let Some(log) = self.queries.get_mut(&q) {
                        log.done = true;
                    }
                }
                NodeEvent::Added(_) => self.added += 1,
                NodeEvent::Removed(_) => self.removed += 1,
                _ => {}
            }
        }
    }
}

impl Host for RpcHost {
    fn handle_datagram(&mut self, now: Duration, socket: Socket, from: Ipv4Address, bytes: &[u8]) {
        self.node.handle_datagram(now, socket, from, bytes);
        self.drain();
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.node.handle_timeout(now);
        self.drain();
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.node.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.node.poll_transmit()
    }
}

impl Member for RpcHost {
    fn wrap(_: &mut Rng, node: Node) -> Self {
        Self {
            node,
            queries: BTreeMap::new(),
            added: 0,
            removed: 0,
        }
    }

    fn node(&self) -> &Node {
        &self.node
    }
}
