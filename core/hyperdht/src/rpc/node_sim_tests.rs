//! Nodes with two sockets each on a simulated, lossless network: bootstrapping, NAT
//! sampling, the firewall check, turning persistent, commits.

use super::*;
use crate::rpc::config::{Config, MORE_STABLE_TICKS, STABLE_TICKS};
use crate::rpc::query::QueryConfig;
use alloc::vec::Vec;
use ferrocore_wire::dht::node_id;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// A node in the simulation: its server and client socket addresses, and whether its
/// server socket drops datagrams from hosts it did not send to from it (a firewall).
struct Host {
    node: Node,
    server: Ipv4Address,
    client: Ipv4Address,
    firewall: bool,
    talked_to: Vec<[u8; 4]>,
    events: Vec<NodeEvent>,
    /// Application requests with a token (commits) answered.
    commits: usize,
}

struct Net {
    hosts: Vec<Host>,
    now: Duration,
    /// Server-socket datagrams dropped by firewalls.
    dropped: usize,
}

fn addr(i: u8, port: u16) -> Ipv4Address {
    Ipv4Address::new([10, 1, 0, i], port)
}

impl Net {
    /// `n` persistent open nodes; node 0 is a first bootstrap node (`Config::bootstrapper`),
    /// the others bootstrap from it and are forced persistent.
    fn new(n: u8) -> Self {
        let mut net = Net {
            hosts: Vec::new(),
            now: Duration::ZERO,
            dropped: 0,
        };
        let boot = addr(1, 4000);
        let cfg = Config::bootstrapper(boot.host, boot.port);
        net.add(cfg, 1, false);
        for i in 2..=n {
            let cfg = Config {
                bootstrap: alloc::vec![boot],
                ephemeral: Some(false),
                firewalled: false,
                ..Config::default()
            };
            net.add(cfg, i, false);
        }
        net
    }

    fn add(&mut self, cfg: Config, i: u8, firewall: bool) -> usize {
        let server = addr(i, 4000);
        let mut node = Node::with_config(self.now, cfg, [i; 32]);
        node.start(self.now, server.port);
        self.hosts.push(Host {
            node,
            server,
            client: addr(i, 5000),
            firewall,
            talked_to: Vec::new(),
            events: Vec::new(),
            commits: 0,
        });
        self.settle();
        self.hosts.len() - 1
    }

    /// Delivers every datagram (no latency) until quiet.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            let mut moved = false;
            for i in 0..self.hosts.len() {
                while let Some(t) = self.hosts[i].node.poll_transmit() {
                    moved = true;
                    let from = match t.socket {
                        Socket::Server => self.hosts[i].server,
                        Socket::Client => self.hosts[i].client,
                    };
                    if t.socket == Socket::Server {
                        self.hosts[i].talked_to.push(t.to.host);
                    }
                    let Some((j, socket)) = self.hosts.iter().enumerate().find_map(|(j, h)| {
                        (h.server == t.to)
                            .then_some((j, Socket::Server))
                            .or((h.client == t.to).then_some((j, Socket::Client)))
                    }) else {
                        continue;
                    };
                    let h = &self.hosts[j];
                    if socket == Socket::Server && h.firewall && !h.talked_to.contains(&from.host) {
                        self.dropped += 1;
                        continue;
                    }
                    let now = self.now;
                    self.hosts[j]
                        .node
                        .handle_datagram(now, socket, from, &t.bytes);
                }
                let h = &mut self.hosts[i];
                h.events.extend(core::iter::from_fn(|| h.node.poll_event()));
            }
            if !moved {
                return;
            }
        }
        panic!("the network never settled");
    }

    /// Runs timers until `until`.
    fn run(&mut self, until: Duration) {
        loop {
            let next = self
                .hosts
                .iter()
                .filter_map(|h| h.node.poll_timeout())
                .min()
                .unwrap_or(until);
            if next > until {
                self.now = until;
                return;
            }
            self.now = next;
            let now = self.now;
            for h in &mut self.hosts {
                if h.node.poll_timeout().is_some_and(|t| t <= now) {
                    h.node.handle_timeout(now);
                }
            }
            self.settle();
        }
    }

    fn events(&mut self, i: usize) -> Vec<NodeEvent> {
        core::mem::take(&mut self.hosts[i].events)
    }
}

#[test]
fn a_bootstrapper_is_persistent_with_the_hash_of_its_address_at_once() {
    let mut net = Net::new(1);
    let h = &net.hosts[0];
    assert_eq!(h.node.id(), Some(node_id(&h.server)));
    assert!(!h.node.firewalled() && h.node.is_bootstrapped());
    assert_eq!(h.node.remote_address(), Some(h.server));
    let ev = net.events(0);
    assert!(ev.contains(&NodeEvent::Persistent));
    assert_eq!(ev.last(), Some(&NodeEvent::Ready));
}

#[test]
fn forced_persistent_nodes_bootstrap_from_the_first_and_find_each_other() {
    let mut net = Net::new(12);
    net.run(MS(2000));
    for h in &net.hosts {
        assert!(h.node.is_bootstrapped());
        assert_eq!(
            h.node.id(),
            Some(node_id(&h.server)),
            "id = hash(host:port)"
        );
        assert_eq!(h.node.host(), Some(h.server.host));
        assert!(
            h.node.table().len() >= 6,
            "each knows most others: {}",
            h.node.table().len()
        );
    }
}

/// An adaptive node bootstrapping into `net` (its server socket firewalled or not).
fn adaptive(net: &mut Net, firewall: bool) -> usize {
    let cfg = Config {
        bootstrap: alloc::vec![net.hosts[0].server],
        ..Config::default()
    };
    net.add(cfg, 200, firewall)
}

#[test]
fn an_open_adaptive_node_samples_its_nat_passes_the_firewall_check_and_turns_persistent() {
    let mut net = Net::new(10);
    net.run(MS(2000));
    let i = adaptive(&mut net, false);
    net.run(net.now + MS(10_000));
    let (server, client) = (net.hosts[i].server, net.hosts[i].client);
    let ev = net.events(i);
    assert!(ev.contains(&NodeEvent::Ready));
    let n = &net.hosts[i].node;
    assert!(
        n.is_bootstrapped() && !n.firewalled(),
        "the PING_NATs came through"
    );
    // it sent from its client socket first: that was its first sample
    assert!(ev.contains(&NodeEvent::NatUpdate {
        host: Some(client.host),
        port: client.port
    }));
    assert_eq!((n.host(), n.port()), (Some(server.host), server.port));
    assert!(n.ephemeral() && n.id().is_none(), "still ephemeral");
    assert_eq!(
        *n.table().id(),
        node_id(&server),
        "the table moved to its id"
    );
    assert!(n.table().len() >= 8);
    assert!(!ev.contains(&NodeEvent::Persistent));
    // ~20 minutes of ticks later it is stable: persistent with id = hash(host:port)
    let ticks = u64::from(STABLE_TICKS) + 2;
    net.run(net.now + TICK_INTERVAL * ticks as u32);
    let ev = net.events(i);
    assert!(ev.contains(&NodeEvent::Persistent));
    let n = &net.hosts[i].node;
    assert_eq!(n.id(), Some(node_id(&server)));
    assert_eq!(n.remote_address(), Some(server));
    // the others now learn it with its id
    let known = net.hosts[..i]
        .iter()
        .filter(|h| h.node.table().contains(&node_id(&server)))
        .count();
    assert!(known >= 1, "its persistent id spreads");
}

#[test]
fn a_firewalled_adaptive_node_stays_firewalled_and_ephemeral() {
    let mut net = Net::new(10);
    net.run(MS(2000));
    let i = adaptive(&mut net, true);
    net.run(net.now + TICK_INTERVAL * (STABLE_TICKS + MORE_STABLE_TICKS / 2));
    assert!(net.dropped > 0, "the firewall was tested");
    let n = &net.hosts[i].node;
    assert!(n.is_bootstrapped() && n.firewalled() && n.ephemeral());
    assert!(n.remote_address().is_none());
    // it still found the network from its client socket
    assert!(n.table().len() >= 8);
    let ev = net.events(i);
    assert!(!ev.contains(&NodeEvent::Persistent));
}

#[test]
fn a_slept_machine_wakes_up_ephemeral_again() {
    let mut net = Net::new(6);
    net.run(MS(2000));
    let i = adaptive(&mut net, false);
    net.run(net.now + TICK_INTERVAL * (STABLE_TICKS + 2));
    assert!(!net.hosts[i].node.ephemeral());
    // its timers fire 40 s late
    let late = net.now + MS(40_000);
    let tick = net.hosts[i].node.tick();
    net.hosts[i].node.handle_timeout(late);
    let n = &net.hosts[i].node;
    assert!(n.ephemeral(), "an adaptive node turns ephemeral on wakeup");
    // 2 × OLD_NODE later, two ticks short of a multiple of 8
    assert!(n.tick() >= tick + 720 && n.tick() % 8 == 6);
    let ev: Vec<NodeEvent> = core::iter::from_fn(|| net.hosts[i].node.poll_event()).collect();
    assert!(ev.contains(&NodeEvent::Ephemeral) && ev.contains(&NodeEvent::Wakeup));
}

#[test]
fn auto_and_awaited_commits_end_the_query_after_the_commit_replies() {
    let mut net = Net::new(8);
    net.run(MS(2000));
    let req = QueryRequest {
        target: [0x77; 32],
        internal: false,
        command: 9,
        value: Some(Bytes::from_static(b"v")),
    };
    let cfg = QueryConfig {
        commit: true,
        ..QueryConfig::default()
    };
    // nobody answers command 9 yet: JS replies UNKNOWN_COMMAND on its own; here the owner
    // answers each request it is handed, with a token
    let q = net.hosts[3]
        .node
        .query_with(net.now, req.clone(), cfg.clone(), CommitMode::Auto, &[]);
    for _ in 0..20 {
        answer_all(&mut net, 3);
        net.settle();
    }
    let ev = net.events(3);
    let commits = commit_requests(&net);
    assert!(
        commits >= 7,
        "a commit (with a token) reached each closest node: {commits}"
    );
    assert_eq!(ev.last(), Some(&NodeEvent::QueryDone(q)));
    assert!(!ev.contains(&NodeEvent::QueryCommitFailed(q)));
    // awaited: the query waits for the owner's answers
    let q = net.hosts[3]
        .node
        .query_with(net.now, req, cfg, CommitMode::Awaited, &[]);
    for _ in 0..20 {
        answer_all(&mut net, 3);
        net.settle();
    }
    let ev = net.events(3);
    let asked: Vec<QueryReply> = ev
        .iter()
        .filter_map(|e| match e {
            NodeEvent::QueryCommit(x, r) if *x == q => Some(r.clone()),
            _ => None,
        })
        .collect();
    assert!(asked.len() >= 7);
    assert!(
        !ev.contains(&NodeEvent::QueryDone(q)),
        "waits for the answers"
    );
    let now = net.now;
    for _ in &asked[1..] {
        assert!(net.hosts[3].node.commit(now, q, None).is_none());
    }
    let first = Outgoing {
        to: asked[0].from,
        command: 10,
        ..Outgoing::default()
    };
    assert!(net.hosts[3].node.commit(now, q, Some(first)).is_some());
    assert!(
        net.hosts[3].node.commit(now, q, None).is_none(),
        "all answered"
    );
    for _ in 0..5 {
        answer_all(&mut net, 3);
        net.settle();
    }
    let ev = net.events(3);
    assert_eq!(ev.last(), Some(&NodeEvent::QueryDone(q)));
    assert!(
        !ev.contains(&NodeEvent::QueryCommitFailed(q)),
        "one commit succeeded"
    );
}

/// Every application request waiting at any node but `except` is answered with a token.
fn answer_all(net: &mut Net, except: usize) {
    for (j, h) in net.hosts.iter_mut().enumerate() {
        if j == except {
            continue;
        }
        let evs = core::mem::take(&mut h.events);
        for e in evs {
            match e {
                NodeEvent::Request(inc) => {
                    if inc.request.token.is_some() && inc.request.command == 9 {
                        h.commits += 1;
                    }
                    h.node.reply(&inc, 0, None, true);
                }
                other => h.events.push(other),
            }
        }
    }
}

/// Requests that came with a token (commits), as marked by `answer_all`.
fn commit_requests(net: &Net) -> usize {
    net.hosts.iter().map(|h| h.commits).sum()
}
