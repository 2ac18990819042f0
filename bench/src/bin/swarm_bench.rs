//! The ferrocore side of scripts/bench-swarm's lookup latency (issue 27 item 8): two
//! HyperDHT nodes in this process ([`ferrocore_tokio::dht::bind_dht`], one UDP socket
//! each on 127.0.0.1), both bootstrapped into the testnet; the first announces a random
//! topic, the second looks it up `--count` times one after another.
//!
//! ```text
//! swarm-bench lookup --bootstrap HOST:PORT[,HOST:PORT..] [--count 50]
//! swarm-bench join --bootstrap HOST:PORT[,HOST:PORT..] --topic HEX32
//! ```
//!
//! `lookup` prints one JSON row (the shape of tests/js/bench-swarm.mjs `lookup`):
//! `{"impl":"ferrocore","workload":"lookup","lookups","found","p50_ms","p90_ms",
//! "mean_ms","announce_ms"}` ("found": lookups whose replies named the announcer's key),
//! or `{"impl":"ferrocore","workload":"lookup","error":...}` when a step failed.
//!
//! `join` bootstraps one node, makes a [`Swarm`] on it with a random key pair, joins
//! `--topic` as a client only (JS `swarm.join(topic, {server: false, client: true})`) and
//! prints `{"impl":"ferrocore","workload":"swarm-join","bootstrap_ms","join_to_connection_ms"}`
//! at its first connection (or `"error"`), then exits.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrocore_tokio::dht::{bind_dht, DhtNode, RpcConfig};
use ferrocore_tokio::swarm::{JoinOptions, Swarm};
use ferrocore_udp::ferrocore_hyperdht::dht::DhtEvent;

/// How long bootstrapping, the announce or one lookup may take.
const STEP: Duration = Duration::from_secs(30);

fn usage() -> ! {
    eprintln!("usage: swarm-bench lookup --bootstrap HOST:PORT[,..] [--count N]");
    eprintln!("       swarm-bench join --bootstrap HOST:PORT[,..] --topic HEX32");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_default();
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (workload, result) = match command.as_str() {
        "lookup" => {
            let count: usize =
                value("--count").map_or(50, |c| c.parse().unwrap_or_else(|_| usage()));
            if count == 0 {
                usage();
            }
            ("lookup", rt.block_on(lookups(bootstrap, count)))
        }
        "join" => {
            let topic: [u8; 32] = value("--topic")
                .and_then(|t| hex::decode(t).ok())
                .and_then(|t| t.try_into().ok())
                .unwrap_or_else(|| usage());
            ("swarm-join", rt.block_on(join(bootstrap, topic)))
        }
        _ => usage(),
    };
    let row = match result {
        Ok(fields) => fields,
        Err(e) => format!("\"error\":{}", json_string(&e)),
    };
    println!("{{\"impl\":\"ferrocore\",\"workload\":\"{workload}\",{row}}}");
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

async fn join(bootstrap: Vec<SocketAddr>, topic: [u8; 32]) -> Result<String, String> {
    let t0 = Instant::now();
    let dht = node(&bootstrap).await?;
    let bootstrap_ms = ms(t0.elapsed());
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| e.to_string())?;
    let swarm = Swarm::new(dht, ferrocore_wire::noise::KeyPair::from_seed(seed));
    let t = Instant::now();
    let options = JoinOptions {
        server: false,
        client: true,
        limit: None,
    };
    swarm.join(topic, options).await;
    tokio::time::timeout(STEP, swarm.connection())
        .await
        .map_err(|_| "no connection in time".to_string())?;
    Ok(format!(
        "\"bootstrap_ms\":{bootstrap_ms:.2},\"join_to_connection_ms\":{:.2}",
        ms(t.elapsed())
    ))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
