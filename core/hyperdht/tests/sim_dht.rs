//! A deterministic simulation of ≥ 1,000 HyperDHT nodes (issue 27, item 6): announced
//! topics are found by every node, and 10% churn loses none of them. Every test prints its
//! seed; `SIM_SEED=<n>` reruns one with another.

mod simnet;

use std::collections::BTreeMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ferrocore_hyperdht::dht::OpId;

use simnet::dht::DhtHost;
use simnet::NetConfig;

type Net = simnet::net::Net<DhtHost>;

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// Topics announced, each by its own node.
const TOPICS: usize = 20;

/// A topic and the key of the node announcing it.
struct Topic {
    topic: [u8; 32],
    key: SigningKey,
    by: usize,
}

/// `TOPICS` random ordinary nodes each announce a topic of their own; waits until every
/// announce committed.
fn announce(net: &mut Net) -> Vec<Topic> {
    let by = net.sim.rng.pick(&net.ordinary(), TOPICS);
    let mut topics = Vec::new();
    let mut ops = Vec::new();
    for by in by {
        let t = Topic {
            topic: net.sim.rng.bytes32(),
            key: SigningKey::from_bytes(&net.sim.rng.bytes32()),
            by,
        };
        let op = net.sim.with(by, |h, now| h.announce(now, t.topic, &t.key));
        ops.push((by, op.expect("announcers are alive")));
        topics.push(t);
        net.run(MS(100));
    }
    let ok = net.run_until(SECS(120), |s| {
        ops.iter()
            .all(|&(i, op)| s.host(i).is_some_and(|h| h.done(op)))
    });
    assert!(ok, "every announce ends within two minutes");
    for &(i, op) in &ops {
        let r = net.sim.host(i).and_then(|h| h.ops[&op].done);
        assert!(matches!(r, Some(Ok(()))), "announce by {i}: {r:?}");
    }
    topics
}

/// Every live node looks up one of the topics (round robin, one starting every `gap`);
/// returns how many found the topic's announcer, out of how many lookups.
fn lookups(net: &mut Net, topics: &[Topic], gap: Duration) -> (usize, usize) {
    let mut started: BTreeMap<usize, (OpId, usize)> = BTreeMap::new();
    for (n, i) in net.sim.live().into_iter().enumerate() {
        let t = n % topics.len();
        let topic = topics[t].topic;
        if let Some(op) = net.sim.with(i, |h, now| h.lookup(now, topic)) {
            started.insert(i, (op, t));
        }
        net.run(gap);
    }
    let ok = net.run_until(SECS(120), |s| {
        started
            .iter()
            .all(|(&i, &(op, _))| s.host(i).is_none_or(|h| h.done(op)))
    });
    assert!(ok, "every lookup ends within two minutes");
    let mut found = 0;
    for (&i, &(op, t)) in &started {
        let Some(h) = net.sim.host(i) else { continue };
        let want = topics[t].key.verifying_key().to_bytes();
        if h.ops[&op].peers.contains(&want) {
            found += 1;
        }
    }
    (found, started.len())
}

#[test]
fn announced_topics_are_found_by_every_node_through_ten_percent_churn() {
    let seed = simnet::seed("dht_topics", 27_005);
    let started = std::time::Instant::now();
    let mut net = Net::grown(seed, NetConfig::default());
    let topics = announce(&mut net);
    let (found, total) = lookups(&mut net, &topics, MS(10));
    println!("{TOPICS} topics announced; {found}/{total} lookups found their topic's announcer");
    assert_eq!(found, total, "every node finds the topic it looks up");

    // 10% of the nodes leave (never an announcer or a bootstrap node) and as many join
    let announcers: Vec<usize> = topics.iter().map(|t| t.by).collect();
    let candidates: Vec<usize> = net
        .ordinary()
        .into_iter()
        .filter(|i| !announcers.contains(i))
        .collect();
    let leaving = net.sim.rng.pick(&candidates, 100);
    net.churn(&leaving);
    let (found, total) = lookups(&mut net, &topics, MS(10));
    println!(
        "after 10% churn: {found}/{total} lookups found their topic's announcer; network {:?}; wall {:?}",
        net.sim.stats,
        started.elapsed()
    );
    assert_eq!(found, total, "churn loses no announced topic");
    net.peak.assert_bounded();
    // a node stores a topic's record (and its refresh/bump entries) only when it is among
    // the topic's closest nodes: never more than a few per topic
    assert!(
        net.peak.records >= 1 && net.peak.records <= 3 * TOPICS,
        "{:?}",
        net.peak
    );
}
