//! The iterative query (`lib/query.js`) as a state machine that sends nothing itself: it
//! asks for visits ([`QueryAction::Visit`]) and DOWN_HINTs, and is told of replies
//! ([`Query::on_response`]), failures ([`Query::on_error`]) and first resends
//! ([`Query::on_cycle`]).
//!
//! As JS: at most `concurrency` (10) visits in flight (3 while a query seeded with known
//! nodes waits for its first answers), plus one for each visit that has been resent once
//! (a *slow* one); the 20 closest nodes that replied without error are kept, sorted by XOR
//! distance to the target; a node is visited only while it could still be among them; a
//! node that times out is marked down and each node that told us about it gets a
//! DOWN_HINT; when nothing is pending and nothing (or only slow visits, with 20 replies
//! kept) is in flight, a query seeded with known nodes that got fewer than 5 successes
//! retries from the routing table, and otherwise ends: with [`QueryAction::Done`], or with
//! one [`QueryAction::Commit`] per closest reply when it commits.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::cmp::Ordering;

use ferrocore_wire::dht::{node_id, Ipv4Address, Response};

use super::table::{Table, K};

/// Visits in flight at once by default (`concurrency`).
pub const CONCURRENCY: usize = 10;
/// Addresses a query remembers at most; closer nodes beyond it are ignored (JS has no
/// bound).
pub const MAX_SEEN: usize = 4096;

/// A node to visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryPeer {
    /// Its address.
    pub addr: Ipv4Address,
    /// Its id, when known (bootstrap nodes have none).
    pub id: Option<[u8; 32]>,
}

/// A reply to one of the query's visits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryReply {
    /// The replier.
    pub from: Ipv4Address,
    /// Its verified id, if it sent one.
    pub from_id: Option<[u8; 32]>,
    /// The reply.
    pub response: Response,
}

/// What the query asks of its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryAction {
    /// Send the query's request to this node (resends allowed: the query's `retries`).
    Visit(QueryPeer),
    /// Send a DOWN_HINT about `down` to `to` (the driver applies the per-tick limit).
    DownHint {
        /// The node that told us about `down`.
        to: Ipv4Address,
        /// The node that timed out.
        down: Ipv4Address,
    },
    /// A reply without error, for the application (`map` in JS).
    Reply(QueryReply),
    /// Commit to this closest node (with its token).
    Commit(QueryReply),
    /// The query committed to nobody: `Too few nodes responded`.
    TooFewNodes,
    /// The query is over (after the commits, if any, have been handed out).
    Done,
}

/// How a query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryConfig {
    /// Visits in flight.
    pub concurrency: usize,
    /// Closest replies kept.
    pub k: usize,
    /// Whether to end with commits to the closest nodes.
    pub commit: bool,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            concurrency: CONCURRENCY,
            k: K,
            commit: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Seen {
    Refs(Vec<Ipv4Address>),
    Done,
    Down,
}

/// An iterative query towards `target`.
#[derive(Debug)]
pub struct Query {
    target: [u8; 32],
    our_id: [u8; 32],
    cfg: QueryConfig,
    closest: Vec<(QueryReply, [u8; 32])>,
    seen: BTreeMap<Ipv4Address, Seen>,
    pending: Vec<QueryPeer>,
    visiting: BTreeMap<Ipv4Address, bool>,
    slow: usize,
    slowdown: bool,
    from_table: bool,
    successes: usize,
    errors: usize,
    committing: bool,
    committed: usize,
    actions: VecDeque<QueryAction>,
}

impl Query {
    /// A query for `target` from the node `our_id`, seeded with known `nodes` (closest
    /// first; may be empty).
    #[must_use]
    pub fn new(target: [u8; 32], our_id: [u8; 32], cfg: QueryConfig, nodes: &[QueryPeer]) -> Self {
        let mut q = Self {
            target,
            our_id,
            cfg,
            closest: Vec::new(),
            seen: BTreeMap::new(),
            pending: Vec::new(),
            visiting: BTreeMap::new(),
            slow: 0,
            slowdown: false,
            from_table: false,
            successes: 0,
            errors: 0,
            committing: false,
            committed: 0,
            actions: VecDeque::new(),
        };
        for n in nodes.iter().rev() {
            q.add_pending(*n, None);
        }
        q
    }

    /// Starts the query: nodes from `table` fill it up to `k`, then `bootstrap` nodes if
    /// still short.
    pub fn open(&mut self, table: &Table, bootstrap: &[Ipv4Address]) {
        self.add_from_table(table);
        if self.pending.len() < self.cfg.k {
            for b in bootstrap {
                let id = Some(node_id(b));
                self.add_pending(QueryPeer { addr: *b, id }, None);
            }
        }
        self.read_more(table);
    }

    /// The closest replies so far, nearest first.
    pub fn closest_replies(&self) -> impl Iterator<Item = &QueryReply> {
        self.closest.iter().map(|(r, _)| r)
    }

    /// Whether the query has ended.
    #[must_use]
    pub fn is_committing(&self) -> bool {
        self.committing
    }

    /// Changes the visits in flight (a background query speeds up when the node is idle).
    pub fn set_concurrency(&mut self, concurrency: usize) {
        self.cfg.concurrency = concurrency;
    }

    /// The commits handed out when the query ended (0 before, or without commit).
    #[must_use]
    pub fn committed_to(&self) -> usize {
        self.committed
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<QueryAction> {
        self.actions.pop_front()
    }

    fn cmp(&self, a: &[u8; 32], b: &[u8; 32]) -> Ordering {
        let t = &self.target;
        (0..32)
            .map(|i| (t[i] ^ a[i]).cmp(&(t[i] ^ b[i])))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }

    fn is_closer(&self, id: Option<&[u8; 32]>) -> bool {
        match (self.closest.last(), id) {
            (_, _) if self.closest.len() < self.cfg.k => true,
            (Some((_, last)), Some(id)) => self.cmp(id, last).is_lt(),
            _ => false,
        }
    }

    fn add_from_table(&mut self, table: &Table) {
        if self.pending.len() >= self.cfg.k {
            return;
        }
        self.from_table = true;
        let want = self.cfg.k - self.pending.len();
        let nodes: Vec<QueryPeer> = table
            .closest(&self.target, want)
            .iter()
            .map(|n| QueryPeer {
                addr: n.addr,
                id: Some(n.id),
            })
            .collect();
        for n in nodes {
            self.add_pending(n, None);
        }
    }

    fn add_pending(&mut self, node: QueryPeer, by: Option<Ipv4Address>) -> bool {
        let closer = self.is_closer(node.id.as_ref());
        match self.seen.get_mut(&node.addr) {
            Some(Seen::Done) => return closer,
            Some(Seen::Down) => {
                if let Some(by) = by {
                    self.actions.push_back(QueryAction::DownHint {
                        to: by,
                        down: node.addr,
                    });
                }
                return closer;
            }
            Some(Seen::Refs(refs)) => {
                if let Some(by) = by {
                    if refs.len() < self.cfg.k {
                        refs.push(by);
                    }
                }
                return closer;
            }
            None => {}
        }
        if !closer || self.seen.len() >= MAX_SEEN {
            return false;
        }
        self.seen
            .insert(node.addr, Seen::Refs(by.into_iter().collect()));
        self.pending.push(node);
        true
    }

    fn read_more(&mut self, table: &Table) {
        if self.committing {
            return;
        }
        let concurrency = if self.slowdown {
            3
        } else {
            self.cfg.concurrency
        } + self.slow;
        while self.visiting.len() < concurrency {
            let Some(next) = self.pending.pop() else {
                break;
            };
            if next.id.is_some() && !self.is_closer(next.id.as_ref()) {
                continue;
            }
            self.visiting.insert(next.addr, false);
            self.actions.push_back(QueryAction::Visit(next));
        }
        if !self.from_table && self.successes == 0 && self.errors == 0 {
            self.slowdown = true;
        }
        if !self.pending.is_empty() {
            return;
        }
        let inflight = self.visiting.len();
        if inflight == 0 || (self.slow == inflight && self.closest.len() >= self.cfg.k) {
            if !self.from_table && self.successes * 4 < self.cfg.k {
                self.add_from_table(table);
                self.read_more(table);
                return;
            }
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.committing {
            return;
        }
        self.committing = true;
        if self.cfg.commit {
            if self.closest.is_empty() {
                self.actions.push_back(QueryAction::TooFewNodes);
            }
            self.committed = self.closest.len();
            for (r, _) in &self.closest {
                self.actions.push_back(QueryAction::Commit(r.clone()));
            }
        }
        self.actions.push_back(QueryAction::Done);
    }

    /// Ends a visit; false when `to` was not being visited.
    fn dec(&mut self, to: &Ipv4Address) -> bool {
        match self.visiting.remove(to) {
            Some(cycled) => {
                if cycled {
                    self.slow -= 1;
                }
                true
            }
            None => false,
        }
    }

    /// The visited node `to` replied (`from_id` verified by the I/O layer).
    pub fn on_response(&mut self, table: &Table, to: Ipv4Address, reply: QueryReply) {
        if !self.dec(&to) {
            return;
        }
        self.seen.insert(to, Seen::Done);
        if self.committing {
            return;
        }
        let ok = reply.response.error == 0;
        if ok {
            self.successes += 1;
            if let Some(id) = reply.from_id.filter(|id| self.is_closer(Some(id))) {
                self.push_closest(reply.clone(), id);
            }
        } else {
            self.errors += 1;
        }
        for addr in &reply.response.closer_nodes {
            let id = node_id(addr);
            if id == self.our_id {
                continue;
            }
            let peer = QueryPeer {
                addr: *addr,
                id: Some(id),
            };
            if !self.add_pending(peer, Some(reply.from)) {
                break;
            }
        }
        if !self.from_table && self.successes + self.errors >= self.cfg.concurrency {
            self.slowdown = false;
        }
        if ok {
            self.actions.push_back(QueryAction::Reply(reply));
        }
        self.read_more(table);
    }

    fn push_closest(&mut self, reply: QueryReply, id: [u8; 32]) {
        match self.closest.binary_search_by(|(_, x)| self.cmp(x, &id)) {
            Ok(_) => {}
            Err(i) => self.closest.insert(i, (reply, id)),
        }
        self.closest.truncate(self.cfg.k);
    }

    /// A visit to `to` failed: timed out (`timeout`) or was cancelled.
    pub fn on_error(&mut self, table: &Table, to: Ipv4Address, timeout: bool) {
        if !self.dec(&to) {
            return;
        }
        if timeout {
            if let Some(Seen::Refs(refs)) = self.seen.insert(to, Seen::Down) {
                for by in refs {
                    self.actions
                        .push_back(QueryAction::DownHint { to: by, down: to });
                }
            }
        }
        self.errors += 1;
        self.read_more(table);
    }

    /// The visit to `to` was resent for the first time: it counts as slow and another
    /// visit may start.
    pub fn on_cycle(&mut self, table: &Table, to: Ipv4Address) {
        if let Some(c) = self.visiting.get_mut(&to) {
            if !*c {
                *c = true;
                self.slow += 1;
                self.read_more(table);
            }
        }
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
