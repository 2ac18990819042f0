//! A deterministic simulation of ≥ 1,000 dht-rpc nodes (issue 27, item 6): bootstrapping
//! (with firewalled JS-default clients among them), lookups converging on the true closest
//! nodes, a leaving node forgotten, churn, and bounded memory per node.
//! Every test prints its seed; `SIM_SEED=<n>` reruns one with another.

mod simnet;

use std::time::Duration;

use simnet::rpc::RpcHost;
use simnet::{closest, hits, NetConfig, Sim};

use ferrocore_hyperdht::rpc::io::{Socket, Transmit};
use ferrocore_hyperdht::rpc::table::K;
use ferrocore_wire::dht::{node_id, Ipv4Address};

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

type Net = simnet::net::Net<RpcHost>;

/// Every live node looks up a random target (one starting every `gap`); returns the
/// fraction of the true k closest live nodes the queries found, and the worst query's
/// count.
fn lookups(net: &mut Net, gap: Duration) -> (f64, usize) {
    let mut started = Vec::new();
    for i in net.sim.live() {
        let target = net.sim.rng.bytes32();
        if let Some(q) = net.sim.with(i, |h, now| h.find_node(now, target)) {
            started.push((i, q));
        }
        net.run(gap);
    }
    let ok = net.run_until(SECS(120), |s| {
        started
            .iter()
            .all(|(i, q)| s.host(*i).is_none_or(|h| h.queries[q].done))
    });
    assert!(ok, "every lookup ends within two minutes");
    let ids = net.live_ids();
    let (mut found, mut total, mut worst) = (0, 0, K);
    for (i, q) in started {
        let Some(h) = net.sim.host(i) else { continue };
        let log = &h.queries[&q];
        let want = closest(&ids, &log.target, K);
        let n = hits(&log.closest(K), &want);
        found += n;
        total += want.len();
        worst = worst.min(n);
    }
    (found as f64 / total as f64, worst)
}

#[test]
fn a_thousand_nodes_bootstrap_and_lookups_converge() {
    let seed = simnet::seed("bootstrap_and_lookups", 27_001);
    let started = std::time::Instant::now();
    let mut net = Net::grown(seed, NetConfig::default());
    // a hundred JS-default clients behind firewalls join too: they bootstrap, find out they
    // are firewalled, stay ephemeral and never enter a routing table
    let clients: Vec<usize> = (0..100)
        .map(|_| {
            let i = net.join_client();
            net.run(MS(50));
            i
        })
        .collect();
    let ok = net.run_until(SECS(120), |s| {
        clients
            .iter()
            .all(|&i| s.host(i).is_some_and(|h| h.node.bootstrapped))
    });
    assert!(ok, "every client bootstraps within two minutes");
    let mut client_ids = Vec::new();
    for &i in &clients {
        let n = &net.sim.host(i).expect("clients stay").node;
        assert!(
            n.ephemeral() && n.firewalled() && n.id().is_none(),
            "client {i}"
        );
        client_ids.push(*n.table().id());
        client_ids.push(node_id(&net.sim.addr(i)));
    }
    for i in net.sim.live() {
        let t = net.sim.host(i).expect("live").node.table();
        assert!(
            client_ids.iter().all(|c| !t.contains(c)),
            "a client in {i}'s table"
        );
    }
    assert!(
        net.sim.stats.filtered > 0,
        "the firewalls dropped the PING_NAT probes"
    );
    let (ratio, worst) = lookups(&mut net, MS(10));
    println!(
        "lookups from every node and client: {:.2}% of the true {K} closest found, worst {worst}/{K}",
        ratio * 100.0
    );
    println!("network: {:?}; wall {:?}", net.sim.stats, started.elapsed());
    assert!(ratio >= 0.95, "hit ratio {ratio}");
    assert!(worst >= 14, "worst lookup found {worst}/{K}");
    net.peak.assert_bounded();
}

#[test]
fn lookups_converge_through_ten_percent_churn() {
    let seed = simnet::seed("churn", 27_003);
    let started = std::time::Instant::now();
    let cfg = NetConfig {
        loss_ppm: 10_000, // 1% loss
        ..NetConfig::default()
    };
    let mut net = Net::grown(seed, cfg);
    // 10% of the nodes (never a bootstrap node) leave and as many new ones join, spread
    // over a minute.
    let candidates: Vec<usize> = net.ordinary();
    let leaving = net.sim.rng.pick(&candidates, 100);
    net.churn(&leaving);
    let (ratio, worst) = lookups(&mut net, MS(10));
    println!(
        "after 10% churn: {:.2}% of the true {K} closest found, worst {worst}/{K}",
        ratio * 100.0
    );
    println!("network: {:?}; wall {:?}", net.sim.stats, started.elapsed());
    assert!(ratio >= 0.95, "hit ratio {ratio}");
    net.peak.assert_bounded();
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let seed = simnet::seed("same_seed", 27_000);
    let run = |seed| {
        let cfg = NetConfig {
            loss_ppm: 20_000,
            ..NetConfig::default()
        };
        let mut net = Net::new(seed, cfg);
        net.grow(150, MS(20));
        let (ratio, _) = lookups(&mut net, MS(10));
        let tables: Vec<Vec<[u8; 32]>> = net
            .sim
            .live()
            .into_iter()
            .filter_map(|i| net.sim.host(i))
            .map(|h| h.node.table().iter().map(|n| n.id).collect())
            .collect();
        (net.sim.stats.clone(), net.sim.now(), ratio, tables)
    };
    let a = run(seed);
    assert_eq!(a, run(seed), "a second run with the same seed differs");
    assert_ne!(a.0, run(seed + 1).0, "another seed, another run");
}

/// JS's bound on forgetting a silent node in a table of `len` nodes: every 8th tick
/// (`_pingSome`) pings at least 2 of the least recently seen nodes and a ping that times
/// out (4 sends a second apart) removes the node; a node answering moves to the back. So
/// within `ceil(len / 2)` rounds (plus the round under way) the silent node is pinged.
fn forget_bound(len: usize) -> Duration {
    let rounds = len.div_ceil(2) as u64 + 1;
    TICK * 8 * rounds as u32 + SECS(5)
}

const TICK: Duration = Duration::from_secs(5);

#[test]
fn a_node_that_leaves_is_forgotten_by_every_table() {
    let seed = simnet::seed("leave", 27_002);
    let started = std::time::Instant::now();
    let mut net = Net::grown(seed, NetConfig::default());
    net.run(SECS(30));
    let candidates: Vec<usize> = net.ordinary();
    let gone = net.sim.rng.pick(&candidates, 1)[0];
    let id = node_id(&net.sim.addr(gone));
    // who knows the leaving node, and the bound for each of them
    let mut holders: Vec<(usize, Duration)> = net
        .sim
        .live()
        .into_iter()
        .filter_map(|i| {
            let t = net.sim.host(i)?.node.table();
            t.contains(&id).then(|| (i, forget_bound(t.len())))
        })
        .collect();
    assert!(holders.len() >= K, "{} tables know the node", holders.len());
    let known_by = holders.len();
    let left = net.sim.now();
    net.sim.kill(gone);
    let limit = holders.iter().map(|h| h.1).max().unwrap_or_default();
    let mut forgotten: Vec<Duration> = Vec::new();
    while !holders.is_empty() && net.sim.now() - left <= limit {
        net.run(SECS(10));
        let now = net.sim.now() - left;
        holders.retain(|&(i, bound)| {
            let Some(h) = net.sim.host(i) else {
                return false;
            };
            if h.node.table().contains(&id) {
                assert!(
                    now <= bound + SECS(10),
                    "node {i} still knows it after {now:?}"
                );
                return true;
            }
            forgotten.push(now);
            false
        });
    }
    forgotten.sort();
    println!(
        "a node known by {known_by} tables was forgotten by all within {:?} (median {:?}, JS bound up to {limit:?}); wall {:?}",
        forgotten.last(),
        forgotten.get(forgotten.len() / 2),
        started.elapsed()
    );
    assert!(
        holders.is_empty(),
        "{} tables still know the node",
        holders.len()
    );
    // nobody learns it again
    let back = net
        .sim
        .live()
        .into_iter()
        .filter(|&i| {
            net.sim
                .host(i)
                .is_some_and(|h| h.node.table().contains(&id))
        })
        .count();
    assert_eq!(back, 0);
    net.peak.assert_bounded();
}

/// A host that sends `n` datagrams to `to` at the start and records what it receives.
struct Probe {
    out: Vec<Transmit>,
    got: Vec<(Duration, Ipv4Address, Vec<u8>)>,
}

impl simnet::Host for Probe {
    fn handle_datagram(&mut self, now: Duration, _: Socket, from: Ipv4Address, bytes: &[u8]) {
        self.got.push((now, from, bytes.to_vec()));
    }
    fn handle_timeout(&mut self, _: Duration) {}
    fn poll_timeout(&self) -> Option<Duration> {
        None
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop()
    }
}

#[test]
fn the_simulated_network_delays_loses_and_drops_as_configured() {
    let seed = simnet::seed("network", 27_004);
    let cfg = NetConfig {
        loss_ppm: 100_000,
        ..NetConfig::default()
    };
    let (lo, hi) = (cfg.min_delay, cfg.max_delay + cfg.jitter);
    let mut sim: Sim<Probe> = Sim::new(seed, cfg);
    let idle = |_: &mut simnet::Rng, _, _| Probe {
        out: Vec::new(),
        got: Vec::new(),
    };
    let (a, b, gone) = (sim.add(idle), sim.add(idle), sim.add(idle));
    let to = |i: usize, n: u8| Transmit {
        socket: Socket::Server,
        to: simnet::server_addr(i),
        bytes: vec![n],
    };
    let burst: Vec<Transmit> = (0..200).map(|n| to(b, n)).chain([to(gone, 0)]).collect();
    sim.kill(gone);
    let sender = sim.add(|_, _, _| Probe {
        out: burst,
        got: Vec::new(),
    });
    sim.run_for(SECS(1));
    let got = &sim.host(b).expect("alive").got;
    assert!(got
        .iter()
        .all(|(t, from, _)| *t >= lo && *t <= hi && *from == sim.addr(sender)));
    // one link, one base delay: arrivals spread over the jitter only
    let first = got.iter().map(|g| g.0).min().expect("some arrive");
    let last = got.iter().map(|g| g.0).max().expect("some arrive");
    assert!(last - first <= NetConfig::default().jitter);
    // 10% loss of 201 sends: 200 to b minus the lost, 1 to a dead host
    let lost = sim.stats.lost;
    assert!((5..=40).contains(&lost), "{lost} lost");
    assert_eq!(sim.stats.sent, 201);
    // the datagram to the dead host is lost or unreachable, never delivered
    assert_eq!(sim.stats.delivered + lost + sim.stats.unreachable, 201);
    assert!(sim.stats.unreachable <= 1);
    assert_eq!(got.len() as u64, sim.stats.delivered);
    assert!(sim.host(a).expect("alive").got.is_empty());
}
