//! Bootstrapping (`_bootstrap`), background queries, and the network state check
//! (`_updateNetworkState` with `_checkIfFirewalled`) that lets a node leave the firewalled
//! and ephemeral modes.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{commands, node_id, Ipv4Address};

use super::super::config::{MORE_STABLE_TICKS, REFRESH_TICKS};
use super::super::io::Outgoing;
use super::super::nat::NatSampler;
use super::super::query::{QueryConfig, QueryReply};
use super::{Check, CommitMode, Kind, Node, NodeEvent, QueryId, QueryRequest};

/// Nodes asked to PING_NAT us in a firewall check (before the bootstrap nodes).
pub const FIREWALL_PROBES: usize = 5;

/// Where the bootstrap is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Boot {
    /// Not started.
    Idle,
    /// Round `round` (0 or 1) of the bootstrap query `q`.
    Query {
        round: u8,
        q: QueryId,
        first: bool,
        test_nat: bool,
    },
    /// The network state check after round `round`.
    Check { round: u8 },
    /// Bootstrapped.
    Done,
}

/// Who asked for a network state check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Boot(u8),
    Tick,
}

/// A firewall check under way (`_checkIfFirewalled`): PING_NATs out, hosts heard on the
/// server socket meanwhile.
#[derive(Debug, Clone)]
pub(super) struct FirewallCheck {
    sampler: NatSampler,
    hosts: BTreeSet<[u8; 4]>,
    pongs: Vec<(Ipv4Address, Ipv4Address)>,
    asked: usize,
    missing: usize,
    only_firewall: bool,
    host: [u8; 4],
    port: u16,
    origin: Origin,
}

impl FirewallCheck {
    /// A datagram from `host` arrived on the server socket.
    pub(super) fn heard(&mut self, host: [u8; 4]) {
        if self.hosts.len() < 4096 {
            self.hosts.insert(host);
        }
    }
}

impl Node {
    /// Starts the node once its sockets are bound: `server_port` is the local port of the
    /// server socket. Begins bootstrapping (JS `_bootstrap`); [`NodeEvent::Ready`] when
    /// done. Does nothing the second time.
    pub fn start(&mut self, now: Duration, server_port: u16) {
        if self.boot != Boot::Idle {
            return;
        }
        self.server_port = server_port;
        self.last_tick = now;
        self.boot_round(now, 0);
    }

    /// The local port of the server socket given to [`Node::start`].
    #[must_use]
    pub fn server_port(&self) -> u16 {
        self.server_port
    }

    fn boot_round(&mut self, now: Duration, round: u8) {
        let first =
            round == 0 && self.io.firewalled && self.cfg.quick_firewall && !self.force_persistent;
        let id = *self.table().id();
        // the query may end at once: record the round first
        self.boot = Boot::Query {
            round,
            q: QueryId(self.next_query),
            first,
            test_nat: false,
        };
        self.background_query(now, id);
    }

    /// `_backgroundQuery`: a FIND_NODE for `target` at background concurrency.
    pub(super) fn background_query(&mut self, now: Duration, target: [u8; 32]) -> QueryId {
        self.refresh_ticks = REFRESH_TICKS;
        let req = QueryRequest {
            target,
            internal: true,
            command: commands::FIND_NODE,
            value: None,
        };
        let cfg = QueryConfig {
            concurrency: self.cfg.background_concurrency(),
            ..QueryConfig::default()
        };
        self.start_query(now, req, cfg, CommitMode::Events, Kind::Background, &[])
    }

    /// A reply to a background query's visit.
    pub(super) fn background_reply(&mut self, now: Duration, q: QueryId, m: &QueryReply) {
        // yield to other traffic
        let c = if self.io.inflight() < 3 {
            self.cfg.concurrency
        } else {
            self.cfg.background_concurrency()
        };
        if let Some(r) = self.queries.get_mut(&q) {
            r.query.set_concurrency(c);
        }
        let Boot::Query {
            q: bq,
            ref mut first,
            ..
        } = self.boot
        else {
            return;
        };
        if bq != q || !*first {
            return;
        }
        *first = false;
        // the quick firewall test: the first replier PING_NATs our server port
        let out = self.ping_nat(m.from, m.from_id);
        let rid = self.io.request(now, out);
        self.own.insert(rid, Check::QuickNat);
    }

    fn ping_nat(&self, to: Ipv4Address, to_id: Option<[u8; 32]>) -> Outgoing {
        Outgoing {
            to,
            to_id,
            internal: true,
            command: commands::PING_NAT,
            value: Some(Bytes::copy_from_slice(&self.server_port.to_le_bytes())),
            ..Outgoing::default()
        }
    }

    /// The quick PING_NAT answered (on our server socket, or it would not have come).
    pub(super) fn boot_quick_nat(&mut self, answered: bool) {
        if let Boot::Query {
            ref mut test_nat, ..
        } = self.boot
        {
            if answered {
                *test_nat = true;
            }
        }
    }

    /// A background query ended.
    pub(super) fn background_done(&mut self, now: Duration, q: QueryId) {
        let Boot::Query {
            round,
            q: bq,
            test_nat,
            ..
        } = self.boot
        else {
            return;
        };
        if bq != q {
            return;
        }
        if self.bootstrapped || (!test_nat && !self.force_persistent) {
            self.boot_done();
            return;
        }
        self.boot = Boot::Check { round };
        let only_firewall = !self.force_persistent;
        if let Some(ok) = self.update_network_state(now, only_firewall, Origin::Boot(round)) {
            self.boot_after_check(now, round, ok);
        }
    }

    fn boot_after_check(&mut self, now: Duration, round: u8, ok: bool) {
        if ok && round == 0 {
            self.boot_round(now, 1);
        } else {
            self.boot_done();
        }
    }

    fn boot_done(&mut self) {
        self.boot = Boot::Done;
        if self.bootstrapped {
            return;
        }
        self.bootstrapped = true;
        self.events.push_back(NodeEvent::Ready);
    }

    /// Whether the node has finished bootstrapping.
    #[must_use]
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped
    }

    /// The stable check of an adaptive node's tick.
    pub(super) fn stable_check(&mut self, now: Duration) {
        // the outcome only matters for its side effects here
        let _ = self.update_network_state(now, false, Origin::Tick);
    }

    /// `_updateNetworkState`: `Some(outcome)` when decided at once, `None` while a
    /// firewall check runs (its outcome continues the bootstrap, if it asked).
    fn update_network_state(
        &mut self,
        now: Duration,
        only_firewall: bool,
        origin: Origin,
    ) -> Option<bool> {
        if !self.io.ephemeral || (only_firewall && !self.io.firewalled) {
            return Some(false);
        }
        let (host, port) = (self.nat.host(), self.nat.port());
        if !only_firewall {
            self.stable_ticks = MORE_STABLE_TICKS;
            self.last_host = host;
        }
        let Some(host) = host.filter(|_| port != 0) else {
            return Some(false);
        };
        if !self.io.firewalled {
            return Some(self.network_state_ok(now, only_firewall, host, port, None));
        }
        if self.firewall.is_some() {
            // one check at a time (JS may run two; the second learns nothing new)
            return Some(false);
        }
        let mut nodes: Vec<(Ipv4Address, [u8; 32])> = self
            .by_touch()
            .into_iter()
            .rev()
            .take(FIREWALL_PROBES)
            .map(|(id, a)| (a, id))
            .collect();
        if nodes.len() < FIREWALL_PROBES {
            nodes.extend(self.bootstrap.iter().map(|a| (*a, node_id(a))));
        }
        if nodes.is_empty() {
            return Some(false);
        }
        self.firewall = Some(FirewallCheck {
            sampler: NatSampler::new(),
            hosts: BTreeSet::new(),
            pongs: Vec::new(),
            asked: nodes.len(),
            missing: nodes.len(),
            only_firewall,
            host,
            port,
            origin,
        });
        for (a, id) in nodes {
            let out = self.ping_nat(a, Some(id));
            let rid = self.io.request(now, out);
            self.own.insert(rid, Check::Firewall);
        }
        None
    }

    /// One PING_NAT of the firewall check ended (`Some` reply or a timeout).
    pub(super) fn firewall_reply(&mut self, now: Duration, reply: Option<QueryReply>) {
        let Some(f) = self.firewall.as_mut() else {
            return;
        };
        if let Some(r) = reply {
            f.pongs.push((r.from, r.response.to));
        }
        f.missing -= 1;
        if f.missing > 0 {
            return;
        }
        let Some(mut f) = self.firewall.take() else {
            return;
        };
        let mut count = 0;
        for (from, to) in &f.pongs {
            if f.hosts.contains(&from.host) {
                count += 1;
                f.sampler.add(to.host, to.port);
            }
        }
        let needed = if f.asked >= FIREWALL_PROBES { 3 } else { 1 };
        let firewalled = count < needed
            || f.sampler.host().is_none()
            || self.nat.host() != f.sampler.host()
            || f.sampler.port() == 0
            || f.sampler.port() != self.server_port;
        let ok = !firewalled
            && self.network_state_ok(now, f.only_firewall, f.host, f.port, Some(f.sampler));
        if let Origin::Boot(round) = f.origin {
            if self.boot == (Boot::Check { round }) {
                self.boot_after_check(now, round, ok);
            }
        }
    }

    /// The end of `_updateNetworkState` once not firewalled: our address `host:port` as
    /// sampled when the check began, `sampler` the firewall check's (`None`: our own).
    fn network_state_ok(
        &mut self,
        now: Duration,
        only_firewall: bool,
        host: [u8; 4],
        port: u16,
        sampler: Option<NatSampler>,
    ) -> bool {
        self.io.firewalled = false;
        if !self.io.ephemeral || Some(host) != self.nat.host() || port != self.nat.port() {
            return false;
        }
        let s = sampler.as_ref().unwrap_or(&self.nat);
        if s.host() != Some(host) || s.port() == 0 {
            return false;
        }
        let id = node_id(&Ipv4Address::new(host, s.port()));
        if !only_firewall {
            self.io.ephemeral = false;
        }
        if let Some(s) = sampler {
            self.none_persistent_samples.clear();
            let prev = (self.nat.host(), self.nat.port());
            self.nat = s;
            if prev != (self.nat.host(), self.nat.port()) {
                self.events.push_back(NodeEvent::NatUpdate {
                    host: self.nat.host(),
                    port: self.nat.port(),
                });
            }
        }
        if *self.table().id() != id {
            let dropped = self.io.table_mut().set_id(id);
            for d in dropped {
                self.events.push_back(NodeEvent::Removed(d));
            }
            // we need to refresh since our id changed
            if self.bootstrapped {
                self.refresh(now);
            }
        }
        if !self.io.ephemeral {
            self.events.push_back(NodeEvent::Persistent);
        }
        true
    }
}
