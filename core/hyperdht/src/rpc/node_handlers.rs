//! The node's handling of requests and of what it learns from traffic: internal commands,
//! `_addNodeFromNetwork` with NAT sampling, `_addNode`, checks of suspect nodes.

use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{commands, errors, node_id, Ipv4Address};

use super::super::io::Incoming;
use super::super::table::{Added, Node as TableNode, OLD_NODE};
use super::{ping_to, Check, Node, NodeEvent, MAX_CHECKS, MAX_DELAYED_PINGS};

impl Node {
    /// Adds a node at `addr` to the table (JS `addNode({ host, port })`), with no view of
    /// our address.
    pub fn add_node(&mut self, now: Duration, addr: Ipv4Address) {
        let node = TableNode::new(node_id(&addr), addr, self.tick);
        self.add_table_node(now, node);
    }

    /// Marks `id` as the most recently heard from (JS's `nodes.add`).
    pub(super) fn touch(&mut self, id: &[u8; 32]) {
        self.touch += 1;
        let t = self.touch;
        if let Some(n) = self.io.table_mut().get_mut(id) {
            n.touched = t;
        }
    }

    /// `_natAdd`: a sample of our address; [`NodeEvent::NatUpdate`] when it changes what
    /// the sampler concludes.
    pub(super) fn nat_add(&mut self, to: Ipv4Address) {
        let prev = (self.nat.host(), self.nat.port());
        self.nat.add(to.host, to.port);
        let now = (self.nat.host(), self.nat.port());
        if prev != now {
            self.events.push_back(NodeEvent::NatUpdate {
                host: now.0,
                port: now.1,
            });
        }
    }

    /// `_addNode`: a new node (not ours, not known) enters the table; its view of our
    /// address is sampled once it is in.
    fn add_table_node(&mut self, now: Duration, mut node: TableNode) {
        let id = node.id;
        if self.table().contains(&id) || id == *self.table().id() {
            return;
        }
        let tick = self.tick;
        node.sampled = 0;
        let to = node.to;
        match self.io.table_mut().add(node, tick, self.bootstrapped) {
            Added::Inserted => {
                self.touch(&id);
                if let Some(to) = to {
                    if let Some(n) = self.io.table_mut().get_mut(&id) {
                        n.sampled = tick;
                    }
                    self.nat_add(to);
                }
                self.events.push_back(NodeEvent::Added(id));
            }
            Added::Full(Some(ping)) => {
                let rid = self.io.request(now, ping_to(ping.addr));
                self.own.insert(rid, Check::Swap(ping.id));
            }
            Added::Replaced | Added::Ours | Added::Full(None) => {}
        }
    }

    /// `_sampleBootstrapMaybe`: a reply without an id (a bootstrap node, most likely)
    /// samples our address, from at most as many distinct addresses as there are
    /// bootstrap nodes (at least one).
    fn sample_bootstrap_maybe(&mut self, from: Ipv4Address, to: Ipv4Address) {
        if self.none_persistent_samples.len() >= self.bootstrap.len().max(1) {
            return;
        }
        if self.none_persistent_samples.contains(&from) {
            return;
        }
        self.none_persistent_samples.push(from);
        self.nat_add(to);
    }

    /// `_addNodeFromNetwork`: a message from `from` (id verified by the I/O layer) that saw
    /// us at `to`; `sample` when it came on the socket we send from.
    pub(super) fn add_from_network(
        &mut self,
        now: Duration,
        sample: bool,
        from: Ipv4Address,
        from_id: Option<[u8; 32]>,
        to: Ipv4Address,
    ) {
        let Some(id) = from_id else {
            self.sample_bootstrap_maybe(from, to);
            return;
        };
        let tick = self.tick;
        if let Some(n) = self.io.table_mut().get_mut(&id) {
            let resample = sample && (n.sampled == 0 || tick - n.sampled >= OLD_NODE);
            if resample {
                n.to = Some(to);
                n.sampled = tick;
            }
            n.pinged = tick;
            n.seen = tick;
            self.touch(&id);
            if resample {
                self.nat_add(to);
            }
            return;
        }
        let mut node = TableNode::new(id, from, tick);
        node.to = Some(to);
        self.add_table_node(now, node);
    }

    pub(super) fn on_check(&mut self, check: Check, responded: bool) {
        match check {
            Check::Swap(old) => {
                let tick = self.tick;
                let new = self.io.table().pending_swap_new(&old);
                if self.io.table_mut().ping_result(&old, responded, tick) {
                    self.events.push_back(NodeEvent::Removed(old));
                    if let Some(new) = new.filter(|n| self.table().contains(n)) {
                        self.touch(&new);
                        let to = self.table().get(&new).and_then(|n| n.to);
                        if let (Some(to), Some(n)) = (to, self.io.table_mut().get_mut(&new)) {
                            n.sampled = tick;
                            self.nat_add(to);
                        }
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
            Check::Commit(_) | Check::QuickNat | Check::Firewall => {}
        }
    }

    pub(super) fn remove(&mut self, id: &[u8; 32]) {
        if self.io.table_mut().remove(id).is_some() {
            self.events.push_back(NodeEvent::Removed(*id));
        }
    }

    pub(super) fn on_request(&mut self, now: Duration, req: Incoming) {
        if req.from_id.is_some() {
            self.add_from_network(now, !req.external, req.from, req.from_id, req.request.to);
        }
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
                if delay > self.cfg.max_ping_delay || self.delayed.len() >= MAX_DELAYED_PINGS {
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
                    let id = node_id(&addr);
                    let tick = self.tick;
                    let hinted = self.io.table_mut().get_mut(&id).is_some_and(|n| {
                        let go = n.pinged < tick || n.down_hints == 0;
                        if go {
                            n.down_hints += 1;
                        }
                        go
                    });
                    if hinted {
                        self.check(now, &id);
                    }
                }
                self.io.reply(&req, 0, None, false, false);
            }
            _ => self
                .io
                .reply(&req, errors::UNKNOWN_COMMAND, None, false, true),
        }
    }

    /// `_check`: pings a table node; it is dropped when the ping fails or when it was not
    /// heard from since (its `seen` tick did not move).
    pub(super) fn check(&mut self, now: Duration, id: &[u8; 32]) {
        let tick = self.tick;
        let Some(n) = self.io.table_mut().get_mut(id) else {
            return;
        };
        n.pinged = tick;
        let (addr, last_seen) = (n.addr, n.seen);
        self.checks += 1;
        let rid = self.io.request(now, ping_to(addr));
        self.own.insert(rid, Check::Down { id: *id, last_seen });
    }

    /// A PING request of `size` zero bytes (JS `ping(addr, { size })`; 0 for none).
    pub fn ping(&mut self, now: Duration, to: Ipv4Address, size: usize) -> super::RequestId {
        let mut out = ping_to(to);
        if size > 0 {
            out.value = Some(Bytes::from(alloc::vec![0u8; size.min(65_536)]));
        }
        self.io.request(now, out)
    }
}
