//! The HyperDHT node (`hyperdht@6.34.0` `index.js`) without I/O: [`Dht`] wraps the dht-rpc
//! [`Node`] and adds
//!
//! * dispatch of the HyperDHT commands it receives: PEER_HANDSHAKE and PEER_HOLEPUNCH go
//!   through the [`Router`] (relayed on, or handed to a local server
//!   as [`DhtEvent::PeerHandshake`] / [`DhtEvent::PeerHolepunch`]); the record commands
//!   (FIND_PEER to PLUGIN) go to the [`RecordHandler`] of a persistent node; everything
//!   else, and everything on a node without handler or while ephemeral, is answered
//!   `UNKNOWN_COMMAND` as a JS node answers;
//! * the client operations ([`ops`]): lookups, announces, unannounces, FIND_PEER, mutable
//!   and immutable puts and gets, closest-node lookups; each has an [`OpId`], reports its
//!   results as events and ends with one [`DhtEvent::Done`] carrying a typed
//!   [`DhtError`] on failure.
//!
//! Peer connections (`listen` / `connect`) are [`server`], [`connect`] and [`announcer`],
//! sharing [`handshake`].
//!
//! Driving it is dht-rpc's: feed datagrams ([`Dht::handle_datagram`]) and timers
//! ([`Dht::handle_timeout`] at [`Dht::poll_timeout`]), then drain [`Dht::poll_transmit`]
//! and [`Dht::poll_event`] after every `&mut` call.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{dht_commands as cmd, errors as codes, Ipv4Address};

use crate::rpc::io::{Incoming, Outgoing, RequestId, Socket, Transmit};
use crate::rpc::node::{Node, NodeEvent, QueryId};
use crate::rpc::query::QueryReply;

pub mod announcer;
pub mod connect;
pub mod connect_node;
pub mod errors;
pub mod handshake;
mod node_persistent;
pub mod node_router;
pub mod ops;
mod ops_types;
pub mod persistent;
pub mod records;
pub mod records_cache;
pub mod router;
pub mod server;

pub use errors::DhtError;
pub use node_router::{PeerHandshake, PeerHolepunch, Route, Router};
pub use ops::{
    CommitReply, FindPeerReply, ImmutableValue, LookupReply, MutableValue, NodeRef, OpId, OpOutput,
};

/// How long an operation may run by default before it ends with
/// [`DhtError::OperationTimeout`].
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(60);

/// How a [`RecordHandler`] answers a request (`req.reply` / `req.error` in JS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The error code (0: none; [`errors`](ferrocore_wire::dht::errors)).
    pub error: u64,
    /// The reply's value.
    pub value: Option<Bytes>,
    /// Whether to hand the requester a token.
    pub token: bool,
    /// Whether to add the nodes closest to the request's target.
    pub closer_nodes: bool,
}

impl Answer {
    /// `req.reply(value)`: a token and closer nodes.
    #[must_use]
    pub fn reply(value: Option<Bytes>) -> Self {
        Self {
            error: 0,
            value,
            token: true,
            closer_nodes: true,
        }
    }

    /// `req.reply(null, { token: false, closerNodes: false })`: a bare acknowledgement.
    #[must_use]
    pub fn ack() -> Self {
        Self {
            error: 0,
            value: None,
            token: false,
            closer_nodes: false,
        }
    }

    /// `req.error(code)`: no token, closer nodes.
    #[must_use]
    pub fn error(code: u64) -> Self {
        Self {
            error: code,
            value: None,
            token: false,
            closer_nodes: true,
        }
    }
}

/// What a [`RecordHandler`] may use while handling a request.
#[derive(Debug)]
pub struct RecordContext<'a> {
    /// The time now.
    pub now: Duration,
    /// This node's id (it is persistent when the handler is called).
    pub id: [u8; 32],
    /// The router: announces of a peer under its own key become routes (`announceSelf`).
    pub router: &'a mut Router,
}

/// The persistent node's record storage and request handlers (`lib/persistent.js`),
/// plugged into a [`Dht`] with [`Dht::set_record_handler`];
/// [`Persistent`](persistent::Persistent) is the JS one.
pub trait RecordHandler: Send + core::fmt::Debug {
    /// Handles a FIND_PEER, LOOKUP, ANNOUNCE, UNANNOUNCE, MUTABLE_PUT, MUTABLE_GET,
    /// IMMUTABLE_PUT, IMMUTABLE_GET or PLUGIN request; `None` leaves it unanswered.
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer>;

    /// This node unannounces `public_key` under `target` itself: drop the local record
    /// (and the route when `target` is the key's hash).
    fn unannounce(&mut self, cx: RecordContext<'_>, target: &[u8; 32], public_key: &[u8; 32]) {
        let _ = (cx, target, public_key);
    }

    /// Ages stored records out as due at `now` (called from [`Dht::handle_timeout`]).
    fn handle_timeout(&mut self, now: Duration) {
        let _ = now;
    }
}

/// What the node reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtEvent {
    /// A LOOKUP reply of a [`Dht::lookup`], [`Dht::announce`] or [`Dht::unannounce`].
    Lookup {
        /// The operation.
        op: OpId,
        /// The reply.
        reply: LookupReply,
    },
    /// A FIND_PEER reply naming the peer, of a [`Dht::find_peer`].
    FindPeer {
        /// The operation.
        op: OpId,
        /// The reply.
        reply: FindPeerReply,
    },
    /// An operation ended (its last event).
    Done {
        /// The operation.
        op: OpId,
        /// What it gave, or why it failed.
        result: Result<OpOutput, DhtError>,
    },
    /// A PEER_HANDSHAKE for a local server's target.
    PeerHandshake(PeerHandshake),
    /// A PEER_HOLEPUNCH for a local server's target.
    PeerHolepunch(PeerHolepunch),
    /// The reply to a request made with [`Dht::request`].
    Response {
        /// The request.
        id: RequestId,
        /// The reply and who sent it.
        reply: QueryReply,
    },
    /// A request made with [`Dht::request`] (the first field; sent to the second) got no
    /// reply.
    RequestTimeout(RequestId, Ipv4Address),
    /// A node entered (`true`) or left (`false`) the routing table.
    Table([u8; 32], bool),
    /// A change of the dht-rpc node's state, passed on as it came: [`NodeEvent::NatUpdate`],
    /// [`NodeEvent::Ready`], [`NodeEvent::Persistent`] (the record handler answers from
    /// now on), [`NodeEvent::Ephemeral`], [`NodeEvent::Wakeup`] or [`NodeEvent::Network`].
    Rpc(NodeEvent),
}

/// A HyperDHT node without I/O.
#[derive(Debug)]
pub struct Dht {
    node: Node,
    router: Router,
    records: Option<Box<dyn RecordHandler>>,
    events: VecDeque<DhtEvent>,
    transmits: VecDeque<Transmit>,
    ops: BTreeMap<OpId, ops::Op>,
    by_query: BTreeMap<QueryId, OpId>,
    requests: BTreeMap<RequestId, ops::Owner>,
    next_op: u64,
    destroyed: bool,
    /// How long operations started from now on may run ([`DEFAULT_OP_TIMEOUT`]).
    pub op_timeout: Duration,
}

impl Dht {
    /// A HyperDHT node around the dht-rpc `node`.
    #[must_use]
    pub fn new(node: Node) -> Self {
        Self {
            node,
            router: Router::new(),
            records: None,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            ops: BTreeMap::new(),
            by_query: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_op: 0,
            destroyed: false,
            op_timeout: DEFAULT_OP_TIMEOUT,
        }
    }

    /// The dht-rpc node.
    #[must_use]
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The dht-rpc node, to change (bootstrap list, firewalled, ephemeral).
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }

    /// This node's id when it is persistent (`dht.id`: `None` while ephemeral).
    #[must_use]
    pub fn id(&self) -> Option<[u8; 32]> {
        self.node.id()
    }

    /// Plugs in the persistent node's record handler (it answers only while the node is
    /// not ephemeral).
    pub fn set_record_handler(&mut self, handler: Box<dyn RecordHandler>) {
        self.records = Some(handler);
    }

    /// The record handler, if any.
    pub fn record_handler_mut(&mut self) -> Option<&mut (dyn RecordHandler + 'static)> {
        self.records.as_deref_mut()
    }

    /// Whether [`Dht::destroy`] was called.
    #[must_use]
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Sends a request of the owner's (e.g. a PEER_HANDSHAKE to a relay); its reply comes
    /// back as [`DhtEvent::Response`] or [`DhtEvent::RequestTimeout`].
    pub fn request(&mut self, now: Duration, out: Outgoing) -> RequestId {
        let id = self.node.request(now, out);
        self.requests.insert(id, ops::Owner::App);
        id
    }

    /// Handles a datagram from `from` that arrived on `socket`.
    pub fn handle_datagram(
        &mut self,
        now: Duration,
        socket: Socket,
        from: Ipv4Address,
        bytes: &[u8],
    ) {
        if self.destroyed {
            return;
        }
        self.router.set_now(now);
        self.node.handle_datagram(now, socket, from, bytes);
        self.process(now);
    }

    /// The next time [`Dht::handle_timeout`] has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.destroyed {
            return None;
        }
        let ops = self.ops.values().map(|o| o.deadline).min();
        [self.node.poll_timeout(), ops].into_iter().flatten().min()
    }

    /// Runs what is due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.destroyed {
            return;
        }
        self.node.handle_timeout(now);
        self.router.handle_timeout(now);
        if let Some(h) = self.records.as_deref_mut() {
            h.handle_timeout(now);
        }
        self.process(now);
        self.expire_ops(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.destroyed {
            while self.node.poll_transmit().is_some() {}
            return None;
        }
        self.transmits
            .pop_front()
            .or_else(|| self.node.poll_transmit())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DhtEvent> {
        self.events.pop_front()
    }

    /// Ends every operation with [`DhtError::NodeDestroyed`], forgets the routes and
    /// stops the node: nothing more is received, sent or timed.
    pub fn destroy(&mut self) {
        if self.destroyed {
            return;
        }
        self.destroyed = true;
        let ops: alloc::vec::Vec<OpId> = self.ops.keys().copied().collect();
        for op in ops {
            self.finish(op, Err(DhtError::NodeDestroyed));
        }
        self.router.clear();
        self.requests.clear();
        self.transmits.clear();
    }

    fn process(&mut self, now: Duration) {
        while let Some(ev) = self.node.poll_event() {
            match ev {
                NodeEvent::Request(req) => self.on_request(now, req),
                NodeEvent::Added(id) => self.events.push_back(DhtEvent::Table(id, true)),
                NodeEvent::Removed(id) => self.events.push_back(DhtEvent::Table(id, false)),
                NodeEvent::Response {
                    id,
                    from,
                    from_id,
                    response,
                } => match self.requests.remove(&id) {
                    Some(ops::Owner::App) => {
                        let reply = QueryReply {
                            from,
                            from_id,
                            response,
                        };
                        self.events.push_back(DhtEvent::Response { id, reply });
                    }
                    Some(owner) => self.on_op_response(now, owner, from, Ok(response.error)),
                    None => {}
                },
                NodeEvent::Timeout { id, to } => match self.requests.remove(&id) {
                    Some(ops::Owner::App) => {
                        self.events.push_back(DhtEvent::RequestTimeout(id, to));
                    }
                    Some(owner) => {
                        self.on_op_response(now, owner, to, Err(DhtError::RequestTimeout));
                    }
                    None => {}
                },
                NodeEvent::QueryReply(q, r) => self.on_query_reply(now, q, r),
                NodeEvent::QueryCommit(q, r) => self.on_query_commit(now, q, r),
                NodeEvent::QueryTooFewNodes(q) => self.on_query_too_few(q),
                NodeEvent::QueryDone(q) => self.on_query_done(q),
                // our queries commit by events: their commit requests are ours
                NodeEvent::QueryCommitFailed(_) => {}
                ev @ (NodeEvent::NatUpdate { .. }
                | NodeEvent::Ready
                | NodeEvent::Persistent
                | NodeEvent::Ephemeral
                | NodeEvent::Wakeup
                | NodeEvent::Network(_)) => self.events.push_back(DhtEvent::Rpc(ev)),
            }
        }
    }

    /// `onrequest`: routes the HyperDHT commands; what nobody handles is refused.
    fn on_request(&mut self, now: Duration, req: Incoming) {
        match req.request.command {
            cmd::PEER_HANDSHAKE | cmd::PEER_HOLEPUNCH => return self.on_peer_message(req),
            _ => {}
        }
        let record_cmd = (cmd::FIND_PEER..=cmd::PLUGIN).contains(&req.request.command);
        if let (true, Some(id), Some(h)) = (record_cmd, self.id(), self.records.as_deref_mut()) {
            let cx = RecordContext {
                now,
                id,
                router: &mut self.router,
            };
            if let Some(a) = h.on_request(cx, &req) {
                let io = self.node.io_mut();
                io.reply(&req, a.error, a.value, a.token, a.closer_nodes);
            }
            return;
        }
        self.node
            .io_mut()
            .reply(&req, codes::UNKNOWN_COMMAND, None, false, true);
    }
}

#[cfg(test)]
mod node_testnet;
#[cfg(test)]
#[path = "node_tests.rs"]
mod node_tests;
