//! [`Net`]: a DHT of [`Member`] nodes on the simulated network: bootstrap nodes, joins
//! and leaves, and the peak memory of any node.

use std::time::Duration;

use ferrocore_hyperdht::rpc::config::Config;
use ferrocore_hyperdht::rpc::node::Node;
use ferrocore_hyperdht::rpc::table::{K, ROWS};
use ferrocore_wire::dht::{node_id, Ipv4Address};

use super::{Host, NetConfig, Rng, Sim};

/// Nodes of a grown network, besides the bootstrap nodes.
pub const NODES: usize = 1000;
/// Bootstrap nodes of every network.
pub const BOOTSTRAP: usize = 3;
/// How often footprints are sampled.
const SAMPLE: Duration = Duration::from_secs(5);
/// The largest table a node may hold: 256 rows of k.
pub const MAX_TABLE: usize = 256 * K;

/// A node of the simulated DHT.
pub trait Member: Host + Sized {
    /// The host around a started dht-rpc `node` ([`open_node`], [`client_node`]).
    fn wrap(rng: &mut Rng, node: Node) -> Self;
    /// Its dht-rpc node.
    fn node(&self) -> &Node;
    /// Whether it finished bootstrapping.
    fn bootstrapped(&self) -> bool {
        self.node().bootstrapped
    }
    /// What it holds now.
    fn footprint(&self) -> Footprint {
        Footprint::of(self.node())
    }
}

/// A dht-rpc node at `addr` as on a testnet: forced persistent (`ephemeral: false`) and
/// not firewalled, bootstrapping from the `bootstrap` nodes; with none it is the first
/// bootstrap node (`DHT.bootstrapper`). Started: it bootstraps as JS's `_bootstrap` does.
pub fn open_node(
    rng: &mut Rng,
    addr: Ipv4Address,
    now: Duration,
    bootstrap: &[Ipv4Address],
) -> Node {
    let cfg = if bootstrap.is_empty() {
        Config::bootstrapper(addr.host, addr.port)
    } else {
        Config {
            ephemeral: Some(false),
            firewalled: false,
            ..joining(addr, bootstrap)
        }
    };
    started(rng, now, cfg)
}

/// A dht-rpc node at `addr` as an ordinary JS client: JS's defaults (adaptive, starting
/// firewalled and ephemeral), bootstrapping from the `bootstrap` nodes. Started.
pub fn client_node(
    rng: &mut Rng,
    addr: Ipv4Address,
    now: Duration,
    bootstrap: &[Ipv4Address],
) -> Node {
    started(rng, now, joining(addr, bootstrap))
}

/// JS's defaults for a node bound to `addr` bootstrapping from `bootstrap`.
fn joining(addr: Ipv4Address, bootstrap: &[Ipv4Address]) -> Config {
    Config {
        bootstrap: bootstrap.to_vec(),
        host: addr.host,
        port: addr.port,
        ..Config::default()
    }
}

/// A node with `cfg`, its sockets bound on `cfg.port`, started at `now`.
fn started(rng: &mut Rng, now: Duration, cfg: Config) -> Node {
    let port = cfg.port;
    let mut node = Node::with_config(now, cfg, rng.bytes32());
    node.start(now, port);
    node
}

/// The memory a node holds, by the accessors the node offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Nodes in the routing table.
    pub table: usize,
    /// Nodes in its fullest row.
    pub max_row: usize,
    /// Requests awaiting a reply (sent or queued behind the congestion window).
    pub inflight: usize,
    /// Queries running.
    pub queries: usize,
    /// Full-row checks running.
    pub checks: usize,
    /// Records stored (persistent nodes).
    pub records: usize,
}

impl Footprint {
    /// What `node` holds.
    pub fn of(node: &Node) -> Self {
        let t = node.table();
        Self {
            table: t.len(),
            max_row: (0..ROWS).map(|r| t.row(r).len()).max().unwrap_or(0),
            inflight: node.io().inflight(),
            queries: node.queries(),
            checks: t.pending_checks(),
            records: 0,
        }
    }

    /// The larger of each field.
    pub fn max(self, o: Self) -> Self {
        Self {
            table: self.table.max(o.table),
            max_row: self.max_row.max(o.max_row),
            inflight: self.inflight.max(o.inflight),
            queries: self.queries.max(o.queries),
            checks: self.checks.max(o.checks),
            records: self.records.max(o.records),
        }
    }

    /// Asserts the bounds every node keeps whatever the network's size.
    pub fn assert_bounded(&self) {
        println!("peak per-node footprint: {self:?}");
        assert!(self.table <= MAX_TABLE && self.max_row <= K, "{self:?}");
        // A node's own requests: its queries' visits (10 + the slow ones each), its
        // checks, DOWN_HINTs (≤ 50 a tick) and swaps; nothing grows with the network.
        assert!(self.inflight <= 200, "{self:?}");
        assert!(self.checks <= 3, "{self:?}");
    }
}

/// A simulated DHT.
pub struct Net<H> {
    /// The network.
    pub sim: Sim<H>,
    /// The bootstrap nodes' addresses.
    pub boot: Vec<Ipv4Address>,
    /// The largest footprint seen on any node.
    pub peak: Footprint,
    next_sample: Duration,
}

impl<H: Member> Net<H> {
    /// [`BOOTSTRAP`] bootstrap nodes: the first knows nobody, the others bootstrap from it.
    pub fn new(seed: u64, cfg: NetConfig) -> Self {
        let mut sim = Sim::new(seed, cfg);
        let first = sim.add(|rng, a, now| {
            let node = open_node(rng, a, now, &[]);
            H::wrap(rng, node)
        });
        let mut net = Self {
            boot: vec![sim.addr(first)],
            sim,
            peak: Footprint::default(),
            next_sample: Duration::ZERO,
        };
        for _ in 1..BOOTSTRAP {
            let b0 = net.boot[0];
            let i = net.sim.add(|rng, a, now| {
                let node = open_node(rng, a, now, &[b0]);
                H::wrap(rng, node)
            });
            net.boot.push(net.sim.addr(i));
            net.run(Duration::from_secs(2));
        }
        net
    }

    /// [`NODES`] nodes joining one every 20 ms after the bootstrap nodes, then 30 s to
    /// settle; every table holds at least k nodes.
    pub fn grown(seed: u64, cfg: NetConfig) -> Self {
        let mut net = Self::new(seed, cfg);
        net.grow(NODES, Duration::from_millis(20));
        net.run(Duration::from_secs(30));
        let (n, mean, min, max) = net.table_sizes();
        println!(
            "{n} nodes bootstrapped at {:?}; table sizes mean {mean:.1}, min {min}, max {max}",
            net.sim.now()
        );
        assert!(min >= K, "every table holds at least k nodes");
        for i in net.sim.live() {
            let id = net.sim.host(i).and_then(|h| h.node().id());
            assert_eq!(
                id,
                Some(node_id(&net.sim.addr(i))),
                "node {i} is persistent"
            );
        }
        net
    }

    /// The `leaving` nodes leave, one every 600 ms, each replaced by a new node joining;
    /// then 30 s to settle.
    pub fn churn(&mut self, leaving: &[usize]) {
        for &i in leaving {
            self.sim.kill(i);
            self.join();
            self.run(Duration::from_millis(600));
        }
        self.run(Duration::from_secs(30));
    }

    /// Adds a node that bootstraps from the bootstrap nodes.
    pub fn join(&mut self) -> usize {
        let boot = self.boot.clone();
        self.sim.add(|rng, a, now| {
            let node = open_node(rng, a, now, &boot);
            H::wrap(rng, node)
        })
    }

    /// Adds a JS-default client node ([`client_node`]) behind a firewall.
    pub fn join_client(&mut self) -> usize {
        let boot = self.boot.clone();
        self.sim.add_firewalled(|rng, a, now| {
            let node = client_node(rng, a, now, &boot);
            H::wrap(rng, node)
        })
    }

    /// Adds `n` nodes, one every `gap`, then waits for all to finish bootstrapping.
    pub fn grow(&mut self, n: usize, gap: Duration) {
        let mut joined = Vec::new();
        for _ in 0..n {
            joined.push(self.join());
            self.run(gap);
        }
        let ok = self.run_until(Duration::from_secs(120), |s| {
            joined
                .iter()
                .all(|&i| s.host(i).is_none_or(H::bootstrapped))
        });
        assert!(ok, "every node bootstraps within two minutes");
    }

    /// Runs for `d`, recording footprints every five simulated seconds.
    pub fn run(&mut self, d: Duration) {
        let end = self.sim.now() + d;
        while self.sim.now() < end {
            self.sim.run_until(end.min(self.next_sample));
            if self.sim.now() < self.next_sample {
                continue;
            }
            self.next_sample += SAMPLE;
            for i in self.sim.live() {
                if let Some(h) = self.sim.host(i) {
                    self.peak = self.peak.max(h.footprint());
                }
            }
        }
    }

    /// Runs a second at a time until `done` holds or `limit` passed; whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim<H>) -> bool) -> bool {
        let end = self.sim.now() + limit;
        while !done(&self.sim) {
            if self.sim.now() >= end {
                return false;
            }
            self.run(Duration::from_secs(1));
        }
        true
    }

    /// The ids of the live persistent nodes (those in the DHT).
    pub fn live_ids(&self) -> Vec<[u8; 32]> {
        self.sim
            .live()
            .into_iter()
            .filter_map(|i| self.sim.host(i)?.node().id())
            .collect()
    }

    /// Live nodes other than the bootstrap nodes.
    pub fn ordinary(&self) -> Vec<usize> {
        self.sim.live().into_iter().skip(BOOTSTRAP).collect()
    }

    /// The table sizes of the live nodes: (count, mean, min, max).
    pub fn table_sizes(&self) -> (usize, f64, usize, usize) {
        let t: Vec<usize> = self
            .sim
            .live()
            .into_iter()
            .filter_map(|i| self.sim.host(i).map(|h| h.node().table().len()))
            .collect();
        let mean = t.iter().sum::<usize>() as f64 / t.len().max(1) as f64;
        let min = t.iter().copied().min().unwrap_or(0);
        let max = t.iter().copied().max().unwrap_or(0);
        (t.len(), mean, min, max)
    }
}
