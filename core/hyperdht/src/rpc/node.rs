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
//!
//! A node made with [`Node::with_config`] and started with [`Node::start`] bootstraps as
//! JS's `_bootstrap` (see [Bootstrapping](self#bootstrapping)) and runs JS's tick every
//! [`TICK_INTERVAL`]: sleep detection ([`NodeEvent::Wakeup`]), the adaptive node's stable
//! check ([`NodeEvent::Persistent`] after [`STABLE_TICKS`]
//! ticks when not firewalled with a consistent address), `_pingSome` every 8th tick,
//! refresh queries, and network health ([`NodeEvent::Network`]).
//!
//! # Bootstrapping
//!
//! A FIND_NODE query for our own id (concurrency 2, 10 once few requests are in flight)
//! from the bootstrap nodes. With `quickFirewall`, the first reply is asked to PING_NAT our
//! server port; if that pong arrives before the query ends, the firewall is checked
//! (`_updateNetworkState`): up to 5 of the most recently seen nodes (then the
//! bootstrap nodes) are asked to PING_NAT us; at least 3 of 5 (1 of fewer) pongs from hosts
//! heard on our server socket, reporting our sampled host and our server port, mean we are
//! not firewalled: we then send from the server socket, and our table id becomes the hash
//! of that address. The query runs a second time after a successful check (or for a node
//! forced persistent), then the node is bootstrapped ([`NodeEvent::Ready`]).
//!
//! # Commits
//!
//! A committing query ([`QueryConfig::commit`](super::query::QueryConfig::commit)) ends by committing to its closest replies,
//! in one of three ways ([`CommitMode`]):
//! * [`CommitMode::Events`]: [`NodeEvent::QueryCommit`] per reply, then
//!   [`NodeEvent::QueryDone`] at once; the caller sends and tracks the commits itself;
//! * [`CommitMode::Auto`] (JS `commit: true`): the node sends the query's own command,
//!   target and value with each reply's token (a reply without a token fails that commit);
//! * [`CommitMode::Awaited`] (JS's `commit` function): [`NodeEvent::QueryCommit`] per
//!   reply, each answered with [`Node::commit`] (a request to send, or `None` for a commit
//!   that failed).
//!
//! With `Auto` and `Awaited` the query ends when every commit request has been answered
//! or timed out: [`NodeEvent::QueryCommitFailed`] first when none succeeded, then
//! [`NodeEvent::QueryDone`].

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{commands, Ipv4Address, Response};

use super::config::{random_offset, Config, REFRESH_TICKS, STABLE_TICKS};
use super::health::{NetworkHealth, NetworkState};
use super::io::{Incoming, Io, IoEvent, Outgoing, RequestId, Socket, Transmit};
use super::nat::NatSampler;
use super::query::{Query, QueryReply};
use super::table::Table;

pub use super::config::{DOWN_HINTS_PER_TICK, MAX_PING_DELAY, TICK_INTERVAL};

#[path = "node_access.rs"]
mod access;
#[path = "node_boot.rs"]
mod boot;
#[path = "node_handlers.rs"]
mod handlers;
#[path = "node_queries.rs"]
mod queries;
#[path = "node_tick.rs"]
mod tick;

pub use boot::FIREWALL_PROBES;
use boot::{Boot, FirewallCheck};

/// At most this many DOWN_HINT checks run at once.
pub const MAX_CHECKS: u32 = 10;
/// DELAYED_PING replies waiting at once; more are dropped (JS keeps any number of timers).
pub const MAX_DELAYED_PINGS: usize = 1024;
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

/// How a committing query commits (see the [module docs](self#commits)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommitMode {
    /// [`NodeEvent::QueryCommit`] events, then [`NodeEvent::QueryDone`] at once.
    #[default]
    Events,
    /// The node sends the query's request with each closest reply's token and waits.
    Auto,
    /// [`NodeEvent::QueryCommit`] events answered with [`Node::commit`]; the node waits.
    Awaited,
}

/// What the node reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// An application (non-internal) request, to answer with [`Node::reply`].
    Request(Incoming),
    /// The reply to a request made with [`Node::request`] (or [`Node::commit`]).
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
    /// A request made with [`Node::request`] (or [`Node::commit`]) got no reply.
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
    /// A committing query's closest reply: commit to it (see [`CommitMode`]).
    QueryCommit(QueryId, QueryReply),
    /// A committing query ended without any reply to commit to.
    QueryTooFewNodes(QueryId),
    /// Every commit of an `Auto` or `Awaited` query failed.
    QueryCommitFailed(QueryId),
    /// A query ended (after its commits).
    QueryDone(QueryId),
    /// The NAT sampler's idea of our public address changed (`nat-update`): the host
    /// (`None` while unknown) and port (0 while unknown or random).
    NatUpdate {
        /// Our public host.
        host: Option<[u8; 4]>,
        /// Our public port.
        port: u16,
    },
    /// The node finished bootstrapping (`ready`).
    Ready,
    /// The node turned persistent (`persistent`): it sends its id, which is now
    /// [`Node::id`].
    Persistent,
    /// An adaptive node turned ephemeral again after a wakeup (`ephemeral`).
    Ephemeral,
    /// The clock jumped: the machine slept (`wakeup`).
    Wakeup,
    /// The network health changed (`network-update` from `lib/health.js`).
    Network(NetworkState),
}

/// The commit bookkeeping of a query that waits for its commits.
#[derive(Debug, Default)]
struct Commits {
    /// `QueryCommit` events not yet answered with [`Node::commit`].
    unanswered: usize,
    /// Commit requests in flight.
    inflight: usize,
    /// Commit requests answered.
    ok: usize,
    /// Whether the query's visits are over.
    flushed: bool,
}

/// Who started a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The application: its replies and end are reported.
    User,
    /// A background FIND_NODE (refresh, bootstrap): nothing reported.
    Background,
}

#[derive(Debug)]
struct Running {
    query: Query,
    req: QueryRequest,
    retries: u32,
    kind: Kind,
    mode: CommitMode,
    commits: Commits,
}

/// Why the node sent one of its own requests.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// A full row's oldest node, to keep or swap out.
    Swap([u8; 32]),
    /// `_check`: dropped unless heard from since `last_seen`.
    Down { id: [u8; 32], last_seen: u64 },
    /// A commit request of a query.
    Commit(QueryId),
    /// The quick firewall probe of the bootstrap.
    QuickNat,
    /// A PING_NAT of a firewall check.
    Firewall,
}

/// A dht-rpc node without I/O.
#[derive(Debug)]
pub struct Node {
    io: Io,
    cfg: Config,
    tick: u64,
    next_tick: Duration,
    last_tick: Duration,
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
    pub bootstrap: Vec<Ipv4Address>,
    adaptive: bool,
    force_persistent: bool,
    nat: NatSampler,
    none_persistent_samples: Vec<Ipv4Address>,
    stable_ticks: u32,
    refresh_ticks: u32,
    last_host: Option<[u8; 4]>,
    health: NetworkHealth,
    online: bool,
    degraded: bool,
    server_port: u16,
    rng: u64,
    touch: u64,
    boot: Boot,
    firewall: Option<FirewallCheck>,
}

impl Node {
    /// A node at `now` with id `id` (BLAKE2b of its address once known; random before),
    /// first transaction id `tid` and token `secrets` (both random), the default
    /// [`Config`] but not adaptive and without bootstrapping (set [`Node::bootstrapped`]
    /// and [`Node::bootstrap`] by hand); its ticks count from 0.
    #[must_use]
    pub fn new(now: Duration, id: [u8; 32], tid: u16, secrets: [[u8; 32]; 2]) -> Self {
        let cfg = Config {
            adaptive: false,
            ..Config::default()
        };
        let mut n = Self::build(now, cfg, id, tid, secrets, u64::from_le_bytes([7; 8]));
        n.tick = 0;
        n.refresh_ticks = REFRESH_TICKS;
        n.add_config_nodes(now);
        n
    }

    /// A node at `now` with the options `cfg` (JS `new DHT(cfg)`), its randomness (id,
    /// first transaction id, token secrets, tick offsets, refresh picks) drawn from
    /// `seed`, which must be random. Call [`Node::start`] once its sockets are bound.
    #[must_use]
    pub fn with_config(now: Duration, cfg: Config, seed: [u8; 32]) -> Self {
        let h = |tag: &[u8]| -> [u8; 32] {
            let mut p = blake2b_simd::Params::new();
            p.hash_length(32).key(&seed);
            p.hash(tag).as_bytes().try_into().unwrap_or([0; 32])
        };
        let r = h(b"rng");
        let rng = u64::from_le_bytes(r[..8].try_into().unwrap_or([1; 8]));
        let tid = u16::from_le_bytes([r[8], r[9]]);
        let mut n = Self::build(now, cfg, h(b"id"), tid, [h(b"secret0"), h(b"secret1")], rng);
        let (a, b) = (n.next_u32(), n.next_u32());
        n.tick = u64::from(random_offset(100, a));
        n.refresh_ticks = random_offset(REFRESH_TICKS, b);
        n.add_config_nodes(now);
        n
    }

    fn build(
        now: Duration,
        cfg: Config,
        id: [u8; 32],
        tid: u16,
        secrets: [[u8; 32]; 2],
        rng: u64,
    ) -> Self {
        let mut io = Io::new(now, Table::new(id), tid, secrets);
        io.firewalled = cfg.firewalled;
        io.set_max_window(cfg.max_window);
        let adaptive = cfg.is_adaptive();
        let mut n = Self {
            io,
            tick: 0,
            next_tick: now + TICK_INTERVAL,
            last_tick: now,
            bootstrapped: false,
            checks: 0,
            own: BTreeMap::new(),
            delayed: VecDeque::new(),
            events: VecDeque::new(),
            queries: BTreeMap::new(),
            next_query: 0,
            visits: BTreeMap::new(),
            down_hints_sent: 0,
            bootstrap: cfg.bootstrap.clone(),
            adaptive,
            force_persistent: cfg.ephemeral == Some(false),
            nat: NatSampler::new(),
            none_persistent_samples: Vec::new(),
            stable_ticks: if adaptive { STABLE_TICKS } else { 0 },
            refresh_ticks: REFRESH_TICKS,
            last_host: None,
            health: NetworkHealth::new(),
            online: true,
            degraded: false,
            server_port: cfg.port,
            rng: rng | 1,
            touch: 0,
            boot: Boot::Idle,
            firewall: None,
            cfg,
        };
        if let Some(a) = n.cfg.public_address {
            n.nat.add(a.host, a.port);
        }
        n
    }

    /// Adds the configured `nodes` (last first, as JS), at the node's first tick.
    fn add_config_nodes(&mut self, now: Duration) {
        let nodes = self.cfg.nodes.clone();
        for a in nodes.iter().rev() {
            self.add_node(now, *a);
        }
    }

    /// xorshift64 over the seed: picks for refreshes and tick offsets.
    fn next_u32(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        (x >> 32) as u32
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
        if socket == Socket::Server {
            if let Some(f) = self.firewall.as_mut() {
                f.heard(from.host);
            }
        }
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
        if self.next_tick <= now {
            self.next_tick = now + TICK_INTERVAL;
            self.on_tick(now);
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
                    let reply = QueryReply {
                        from,
                        from_id,
                        response,
                    };
                    if let Some((q, to)) = self.visits.remove(&id) {
                        if let Some(r) = self.queries.get_mut(&q) {
                            r.query.on_response(self.io.table(), to, reply);
                        }
                        self.pump(now, q);
                        continue;
                    }
                    self.on_own(now, id, Ok(reply));
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
                    self.on_own(now, id, Err(to));
                }
            }
        }
    }

    /// A reply (`Ok`) to or the timeout (`Err`, where it went) of a request that was not a
    /// query visit.
    fn on_own(&mut self, now: Duration, id: RequestId, res: Result<QueryReply, Ipv4Address>) {
        let Some(check) = self.own.remove(&id) else {
            self.events.push_back(match res {
                Ok(r) => NodeEvent::Response {
                    id,
                    from: r.from,
                    from_id: r.from_id,
                    response: r.response,
                },
                Err(to) => NodeEvent::Timeout { id, to },
            });
            return;
        };
        match check {
            Check::Commit(q) => {
                // the caller sees its commit requests' outcomes too
                self.events.push_back(match &res {
                    Ok(r) => NodeEvent::Response {
                        id,
                        from: r.from,
                        from_id: r.from_id,
                        response: r.response.clone(),
                    },
                    Err(to) => NodeEvent::Timeout { id, to: *to },
                });
                self.commit_ended(now, q, true, res.is_ok());
            }
            Check::QuickNat => self.boot_quick_nat(res.is_ok()),
            Check::Firewall => self.firewall_reply(now, res.ok()),
            other => self.on_check(other, res.is_ok()),
        }
    }

    fn emit_network(&mut self, state: NetworkState) {
        let (online, degraded) = match state {
            NetworkState::Online => (true, false),
            NetworkState::Degraded => (true, true),
            NetworkState::Offline => (false, false),
        };
        if (self.online, self.degraded) == (online, degraded) {
            return;
        }
        self.online = online;
        self.degraded = degraded;
        self.events.push_back(NodeEvent::Network(state));
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

#[cfg(test)]
#[path = "node_sim_tests.rs"]
mod sim_tests;

#[cfg(test)]
#[path = "node_tick_tests.rs"]
mod tick_tests;
