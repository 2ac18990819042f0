//! The dht-rpc node (`index.js`) around [`Io`]: learns nodes from the traffic, answers the
//! internal commands, and keeps the routing table honest (full rows ping their oldest node,
//! DOWN_HINTs and timeouts check or drop nodes).
//!
//! Internal commands are answered as JS answers them:
//! * `PING`: an empty reply (no token, no closer nodes);
//! * `PING_NAT`: the value's first two bytes are a port; the empty reply goes to the
//!   requester's host on that port (nothing when the value is short or the port is 0);
//! * `FIND_NODE`: the closest nodes to the target (nothing without a target);
//! * `DOWN_HINT`: the value's first six bytes are a node's address; when fewer than 10
//!   checks run and that node is in the table and was not pinged this tick (or has no hint
//!   yet), it is pinged and dropped unless heard from; always an empty reply;
//! * `DELAYED_PING`: the value's first four bytes are a delay in ms; at most
//!   [`MAX_PING_DELAY`] is answered after that delay, a longer one not at all;
//! * any other internal command: `UNKNOWN_COMMAND` (with closer nodes if a target).
//!
//! Iterative queries ([`Node::query`]) send their visits with 5 resends (3 for DOWN_HINT
//! queries), count a visit resent once as slow, send at most [`DOWN_HINTS_PER_TICK`]
//! DOWN_HINTs per tick, and cancel their visits still out when they end.
//!
//! Application requests are handed out as [`NodeEvent::Request`]; the application answers
//! each with [`Node::reply`] (JS answers `UNKNOWN_COMMAND` when nobody listens).

use alloc::collections::{BTreeMap, VecDeque};
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{commands, errors, node_id, Ipv4Address, Response};

use super::io::{Incoming, Io, IoEvent, Outgoing, RequestId, Socket, Transmit};
use super::query::{Query, QueryAction, QueryConfig, QueryPeer, QueryReply};
use super::table::{Added, Node as TableNode, Table};

/// The longest DELAYED_PING delay answered (`maxPingDelay`).
pub const MAX_PING_DELAY: Duration = Duration::from_millis(10_000);
/// One tick of the node's clock (`TICK_INTERVAL`).
pub const TICK_INTERVAL: Duration = Duration::from_millis(5000);
/// At most this many DOWN_HINT checks run at once.
pub const MAX_CHECKS: u32 = 10;
/// DELAYED_PING replies waiting at once; more are dropped (JS keeps any number of timers).
pub const MAX_DELAYED_PINGS: usize = 1024;
/// DOWN_HINTs a node's queries send per tick (`downHintsRateLimit`).
pub const DOWN_HINTS_PER_TICK: u32 = 50;
/// Resends of a query's visits (`retries`; DOWN_HINT queries use 3).
pub const QUERY_RETRIES: u32 = 5;

/// The handle of a query started with [`Node::query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// What a query asks for: the request sent to every node it visits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryRequest {
    /// The key: visits go towards the nodes closest to it.
    pub target: [u8; 32],
    /// Whether `command` is internal.
    pub internal: bool,
    /// The command.
    pub command: u64,
    /// Its argument.
    pub value: Option<Bytes>,
}

/// What the node reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// An application (non-internal) request, to answer with [`Node::reply`].
    Request(Incoming),
    /// The reply to a request made with [`Node::request`].
    Response {
        /// The request.
        id: RequestId,
        /// The replier's address.
        from: Ipv4Address,
        /// The replier's id when it sent a valid one.
        from_id: Option<[u8; 32]>,
        /// The reply.
        response: Response,
    },
    /// A request made with [`Node::request`] got no reply.
    Timeout {
        /// The request.
        id: RequestId,
        /// Where it went.
        to: Ipv4Address,
    },
    /// A node entered the routing table.
    Added([u8; 32]),
    /// A node left the routing table.
    Removed([u8; 32]),
    /// A reply without error to a query's visit.
    QueryReply(QueryId, QueryReply),
    /// A committing query's closest reply: send the commit request to it (with its
    /// token).
    QueryCommit(QueryId, QueryReply),
    /// A committing query ended without any reply to commit to.
    QueryTooFewNodes(QueryId),
    /// A query ended (after its commits were handed out).
    QueryDone(QueryId),
}

#[derive(Debug)]
struct Running {
    query: Query,
    req: QueryRequest,
    retries: u32,
}

/// Why the node sent one of its own pings.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// A full row's oldest node, to keep or swap out.
    Swap([u8; 32]),
    /// A node hinted to be down: dropped unless heard from since `last_seen`.
    Down { id: [u8; 32], last_seen: u64 },
}

/// A dht-rpc node without I/O.
#[derive(Debug)]
pub struct Node {
    io: Io,
    tick: u64,
    next_tick: Duration,
    /// Whether the node has bootstrapped (full rows challenge their oldest node only then).
    pub bootstrapped: bool,
    checks: u32,
    own: BTreeMap<RequestId, Check>,
    delayed: VecDeque<(Duration, Incoming)>,
    events: VecDeque<NodeEvent>,
    queries: BTreeMap<QueryId, Running>,
    next_query: u64,
    visits: BTreeMap<RequestId, (QueryId, Ipv4Address)>,
    down_hints_sent: u32,
    /// The bootstrap nodes queries start from when the table is short.
    pub bootstrap: alloc::vec::Vec<Ipv4Address>,
}

impl Node {
    /// A node at `now` with id `id` (BLAKE2b of its address once known; random before),
    /// first transaction id `tid` and token `secrets` (both random).
    #[must_use]
    pub fn new(now: Duration, id: [u8; 32], tid: u16, secrets: [[u8; 32]; 2]) -> Self {
        Self {
            io: Io::new(now, Table::new(id), tid, secrets),
            tick: 0,
            next_tick: now + TICK_INTERVAL,
            bootstrapped: false,
            checks: 0,
            own: BTreeMap::new(),
            delayed: VecDeque::new(),
            events: VecDeque::new(),
            queries: BTreeMap::new(),
            next_query: 0,
            visits: BTreeMap::new(),
            down_hints_sent: 0,
            bootstrap: alloc::vec::Vec::new(),
        }
    }

    /// The I/O layer.
    #[must_use]
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// The I/O layer, to change (firewalled, ephemeral).
    pub fn io_mut(&mut self) -> &mut Io {
        &mut self.io
    }

    /// The routing table.
    #[must_use]
    pub fn table(&self) -> &Table {
        self.io.table()
    }

    /// The current tick.
    #[must_use]
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Sends an application request.
    pub fn request(&mut self, now: Duration, out: Outgoing) -> RequestId {
        self.io.request(now, out)
    }

    /// Answers an application request.
    pub fn reply(&mut self, req: &Incoming, error: u64, value: Option<Bytes>, token: bool) {
        self.io.reply(req, error, value, token, true);
    }

    /// Handles a datagram from `from` on `socket`.
    pub fn handle_datagram(
        &mut self,
        now: Duration,
        socket: Socket,
        from: Ipv4Address,
        bytes: &[u8],
    ) {
        self.io.handle_datagram(now, socket, from, bytes);
        self.process(now);
    }

    /// The next time [`Node::handle_timeout`] has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let d = self.delayed.iter().map(|(t, _)| *t).min();
        [self.io.poll_timeout(), Some(self.next_tick), d]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs what is due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        while self.next_tick <= now {
            self.next_tick += TICK_INTERVAL;
            self.tick += 1;
            self.down_hints_sent = 0;
        }
        let mut i = 0;
        while i < self.delayed.len() {
            if self.delayed[i].0 <= now {
                if let Some((_, req)) = self.delayed.remove(i) {
                    self.io.reply(&req, 0, None, false, false);
                }
            } else {
                i += 1;
            }
        }
        self.io.handle_timeout(now);
        self.process(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.io.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    fn process(&mut self, now: Duration) {
        while let Some(ev) = self.io.poll_event() {
            match ev {
                IoEvent::Request(req) => self.on_request(now, req),
                IoEvent::Response {
                    id,
                    from,
                    from_id,
                    external,
                    response,
                    ..
                } => {
                    self.add_from_network(now, !external, from, from_id, response.to);
                    if let Some((q, to)) = self.visits.remove(&id) {
                        let reply = QueryReply {
                            from,
                            from_id,
                            response,
                        };
                        if let Some(r) = self.queries.get_mut(&q) {
                            r.query.on_response(self.io.table(), to, reply);
                        }
                        self.pump(now, q);
                        continue;
                    }
                    match self.own.remove(&id) {
                        Some(check) => self.on_check(check, true),
                        None => self.events.push_back(NodeEvent::Response {
                            id,
                            from,
                            from_id,
                            response,
                        }),
                    }
                }
                IoEvent::Cycle { id } => {
                    if let Some(&(q, to)) = self.visits.get(&id) {
                        if let Some(r) = self.queries.get_mut(&q) {
                            r.query.on_cycle(self.io.table(), to);
                        }
                        self.pump(now, q);
                    }
                }
                IoEvent::Timeout { id, to, to_id } => {
                    if let Some(to_id) = to_id {
                        self.remove(&to_id);
                    }
                    if let Some((q, to)) = self.visits.remove(&id) {
                        if let Some(r) = self.queries.get_mut(&q) {
                            r.query.on_error(self.io.table(), to, true);
                        }
                        self.pump(now, q);
                        continue;
                    }
                    match self.own.remove(&id) {
                        Some(check) => self.on_check(check, false),
                        None => self.events.push_back(NodeEvent::Timeout { id, to }),
                    }
                }
            }
        }
    }

    /// Starts an iterative query for `req` seeded with `nodes` (closest first; the table
    /// and [`Node::bootstrap`] fill in).
    pub fn query(
        &mut self,
        now: Duration,
        req: QueryRequest,
        cfg: QueryConfig,
        nodes: &[QueryPeer],
    ) -> QueryId {
        let id = QueryId(self.next_query);
        self.next_query += 1;
        let mut query = Query::new(req.target, *self.table().id(), cfg, nodes);
        query.open(self.io.table(), &self.bootstrap);
        let retries = if req.internal && req.command == commands::DOWN_HINT {
            3
        } else {
            QUERY_RETRIES
        };
        self.queries.insert(
            id,
            Running {
                query,
                req,
                retries,
            },
        );
        self.pump(now, id);
        id
    }

    /// Queries running.
    #[must_use]
    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Carries out what query `q` asks for.
    fn pump(&mut self, now: Duration, q: QueryId) {
        while let Some(r) = self.queries.get_mut(&q) {
            let Some(action) = r.query.poll_action() else {
                return;
            };
            match action {
                QueryAction::Visit(p) => {
                    let out = Outgoing {
                        to: p.addr,
                        to_id: p.id,
                        token: None,
                        internal: r.req.internal,
                        command: r.req.command,
                        target: Some(r.req.target),
                        value: r.req.value.clone(),
                        retries: Some(r.retries),
                        report_cycle: true,
                    };
                    let rid = self.io.request(now, out);
                    self.visits.insert(rid, (q, p.addr));
                }
                QueryAction::DownHint { to, down } => {
                    if self.down_hints_sent < DOWN_HINTS_PER_TICK {
                        self.down_hints_sent += 1;
                        let mut out = ping_to(to);
                        out.command = commands::DOWN_HINT;
                        out.value = Some(Bytes::copy_from_slice(&down.to_bytes()));
                        self.io.request(now, out);
                    }
                }
                QueryAction::Reply(m) => self.events.push_back(NodeEvent::QueryReply(q, m)),
                QueryAction::Commit(m) => self.events.push_back(NodeEvent::QueryCommit(q, m)),
                QueryAction::TooFewNodes => self.events.push_back(NodeEvent::QueryTooFewNodes(q)),
                QueryAction::Done => {
                    // As JS destroys the query's session: visits still out are cancelled.
                    self.queries.remove(&q);
                    let io = &mut self.io;
                    self.visits.retain(|rid, (v, _)| {
                        let keep = *v != q;
                        if !keep {
                            io.cancel(*rid);
                        }
                        keep
                    });
                    self.events.push_back(NodeEvent::QueryDone(q));
                }
            }
        }
    }

    fn on_check(&mut self, check: Check, responded: bool) {
        match check {
            Check::Swap(old) => {
                let tick = self.tick;
                let new = self.io.table().pending_swap_new(&old);
                if self.io.table_mut().ping_result(&old, responded, tick) {
                    self.events.push_back(NodeEvent::Removed(old));
                    if let Some(new) = new.filter(|n| self.table().contains(n)) {
                        self.events.push_back(NodeEvent::Added(new));
                    }
                }
            }
            Check::Down { id, last_seen } => {
                self.checks = self.checks.saturating_sub(1);
                let stale = self.table().get(&id).is_some_and(|n| n.seen <= last_seen);
                if !responded || stale {
                    self.remove(&id);
                }
            }
        }
    }

    fn remove(&mut self, id: &[u8; 32]) {
        if self.io.table_mut().remove(id).is_some() {
            self.events.push_back(NodeEvent::Removed(*id));
        }
    }

    /// `_addNodeFromNetwork`: a message from `from` with a verified id adds or refreshes it.
    fn add_from_network(
        &mut self,
        now: Duration,
        sample: bool,
        from: Ipv4Address,
        from_id: Option<[u8; 32]>,
        to: Ipv4Address,
    ) {
        let Some(id) = from_id else {
            return;
        };
        let tick = self.tick;
        if let Some(n) = self.io.table_mut().get_mut(&id) {
            if sample && (n.sampled == 0 || tick - n.sampled >= super::table::OLD_NODE) {
                n.to = Some(to);
                n.sampled = tick;
            }
            n.pinged = tick;
            n.seen = tick;
            return;
        }
        let mut node = TableNode::new(id, from, tick);
        node.to = Some(to);
        node.sampled = tick;
        match self.io.table_mut().add(node, tick, self.bootstrapped) {
            Added::Inserted => self.events.push_back(NodeEvent::Added(id)),
            Added::Full(Some(ping)) => {
                let rid = self.io.request(now, ping_to(ping.addr));
                self.own.insert(rid, Check::Swap(ping.id));
            }
            Added::Replaced | Added::Ours | Added::Full(None) => {}
        }
    }

    fn on_request(&mut self, now: Duration, req: Incoming) {
        self.add_from_network(now, !req.external, req.from, req.from_id, req.request.to);
        if !req.request.internal {
            self.events.push_back(NodeEvent::Request(req));
            return;
        }
        let value = req.request.value.as_deref().unwrap_or(&[]);
        let has_value = req.request.value.is_some();
        match req.request.command {
            commands::PING => self.io.reply(&req, 0, None, false, false),
            commands::DELAYED_PING => {
                if !has_value || value.len() < 4 {
                    return;
                }
                let ms = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                let delay = Duration::from_millis(u64::from(ms));
                if delay > MAX_PING_DELAY || self.delayed.len() >= MAX_DELAYED_PINGS {
                    return;
                }
                self.delayed.push_back((now + delay, req));
            }
            commands::PING_NAT => {
                if value.len() < 2 {
                    return;
                }
                let port = u16::from_le_bytes([value[0], value[1]]);
                if port == 0 {
                    return;
                }
                let to = Ipv4Address::new(req.from.host, port);
                self.io.reply_to(&req, to, 0, None, false, false);
            }
            commands::FIND_NODE => {
                if req.request.target.is_some() {
                    self.io.reply(&req, 0, None, false, true);
                }
            }
            commands::DOWN_HINT => {
                if value.len() < 6 {
                    return;
                }
                if self.checks < MAX_CHECKS {
                    let addr = Ipv4Address::new(
                        [value[0], value[1], value[2], value[3]],
                        u16::from_le_bytes([value[4], value[5]]),
                    );
                    self.down_hint(now, &node_id(&addr));
                }
                self.io.reply(&req, 0, None, false, false);
            }
            _ => self
                .io
                .reply(&req, errors::UNKNOWN_COMMAND, None, false, true),
        }
    }

    /// `_check` after a DOWN_HINT about `id`.
    fn down_hint(&mut self, now: Duration, id: &[u8; 32]) {
        let tick = self.tick;
        let Some(n) = self.io.table_mut().get_mut(id) else {
            return;
        };
        if !(n.pinged < tick || n.down_hints == 0) {
            return;
        }
        n.down_hints += 1;
        n.pinged = tick;
        let (addr, last_seen) = (n.addr, n.seen);
        self.checks += 1;
        let rid = self.io.request(now, ping_to(addr));
        self.own.insert(rid, Check::Down { id: *id, last_seen });
    }
}

/// An internal PING to `addr` whose timeout names no node (`{ id: null, ... }` in JS).
fn ping_to(addr: Ipv4Address) -> Outgoing {
    Outgoing {
        to: addr,
        internal: true,
        command: commands::PING,
        ..Outgoing::default()
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
