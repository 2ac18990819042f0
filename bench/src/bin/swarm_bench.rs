//! The ferrocore side of scripts/bench-swarm's lookup latency (issue 27 item 8): two
//! HyperDHT nodes in this process ([`ferrocore_tokio::dht::bind_dht`], one UDP socket
//! each on 127.0.0.1), both bootstrapped into the testnet; the first announces a random
//! topic, the second looks it up `--count` times one after another.
//!
//! ```text
//! swarm-bench lookup --bootstrap HOST:PORT[,HOST:PORT..] [--count 50]
//! ```
//!
//! Prints one JSON row (the shape of tests/js/bench-swarm.mjs `lookup`):
//! `{"impl":"ferrocore","workload":"lookup","lookups","found","p50_ms","p90_ms",
//! "mean_ms","announce_ms"}` ("found": lookups whose replies named the announcer's key),
//! or `{"impl":"ferrocore","workload":"lookup","error":...}` when a step failed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrocore_tokio::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_udp::ferrocore_hyperdht::dht::DhtEvent;

/// How long bootstrapping, the announce or one lookup may take.
const STEP: Duration = Duration::from_secs(30);

fn usage() -> ! {
    eprintln!("usage: swarm-bench lookup --bootstrap HOST:PORT[,..] [--count N]");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("lookup") {
        usage();
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bootstrap: Vec<SocketAddr> = value("--bootstrap")
        .unwrap_or_else(|| usage())
        .split(',')
        .map(|a| a.parse().unwrap_or_else(|_| usage()))
        .collect();
    let count: usize = value("--count").map_or(50, |c| c.parse().unwrap_or_else(|_| usage()));
    if count == 0 {
        usage();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let row = match rt.block_on(lookups(bootstrap, count)) {
        Ok(fields) => fields,
        Err(e) => format!("\"error\":{}", json_string(&e)),
    };
    println!("{{\"impl\":\"ferrocore\",\"workload\":\"lookup\",{row}}}");
}

fn json_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn node(bootstrap: &[SocketAddr]) -> Result<DhtNode, String> {
    let config = RpcConfig {
        bootstrap: bootstrap.to_vec(),
        ..RpcConfig::default()
    };
    let node = bind_dht("127.0.0.1:0", config)
        .await
        .map_err(|e| format!("bind: {e}"))?;
    tokio::time::timeout(STEP, node.bootstrapped())
        .await
        .map_err(|_| "bootstrapping timed out".to_string())?;
    Ok(node)
}

async fn lookups(bootstrap: Vec<SocketAddr>, count: usize) -> Result<String, String> {
    let (a, b) = tokio::try_join!(node(&bootstrap), node(&bootstrap))?;
    let mut seeds = [0u8; 64];
    getrandom::getrandom(&mut seeds).map_err(|e| e.to_string())?;
    let (topic, seed) = seeds.split_at(32);
    let topic: [u8; 32] = topic.try_into().map_err(|_| "topic")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed.try_into().map_err(|_| "seed")?);
    let ours = key.verifying_key().to_bytes();
    let t0 = Instant::now();
    tokio::time::timeout(STEP, a.announce(topic, &key))
        .await
        .map_err(|_| "the announce timed out".to_string())?
        .map_err(|e| format!("announce: {e:?}"))?;
    let announce_ms = ms(t0.elapsed());
    let mut times = Vec::with_capacity(count);
    let mut found = 0;
    for _ in 0..count {
        let t = Instant::now();
        let r = tokio::time::timeout(STEP, b.lookup(topic))
            .await
            .map_err(|_| "a lookup timed out".to_string())?
            .map_err(|e| format!("lookup: {e:?}"))?;
        times.push(ms(t.elapsed()));
        let hit = r.replies.iter().any(|ev| match ev {
            DhtEvent::Lookup { reply, .. } => reply.peers.iter().any(|p| p.public_key == ours),
            _ => false,
        });
        found += usize::from(hit);
    }
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let rank = ((p / 100.0) * times.len() as f64).ceil() as usize;
        times[rank.clamp(1, times.len()) - 1]
    };
    Ok(format!(
        "\"lookups\":{count},\"found\":{found},\"p50_ms\":{:.2},\"p90_ms\":{:.2},\"mean_ms\":{mean:.2},\"announce_ms\":{announce_ms:.2}",
        pct(50.0),
        pct(90.0)
    ))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
