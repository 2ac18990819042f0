//! The lossy UDP relay (`ferrocore_tests::relay`) as a process, for benchmarks and manual
//! runs (loopback only).
//!
//!   lossy-relay [--loss P] [--delay-ms D] [--jitter-ms J] [--dup P] [--reorder P]
//!               [--reorder-ms R] [--rate-mbit M] [--queue-kb Q] [--seed S]
//!               [--peer-a PORT] [--peer-b PORT]
//!
//! The impairment applies to each direction (D is one-way: the round trip adds 2 D); peers
//! are 127.0.0.1:PORT (default: learned from the first datagram on each side). Prints
//! `{"a":PORT,"b":PORT}` (the sides peer A and peer B send to), forwards until stdin reaches
//! end of file, then prints the counts as one JSON line and exits.

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_tests::relay::{DirectionStats, Impairment, Relay, RelayConfig};
use serde_json::json;

fn usage(msg: &str) -> ! {
    eprintln!("lossy-relay: {msg}");
    std::process::exit(2)
}

fn main() {
    let mut imp = Impairment::default();
    let mut config = RelayConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = || -> f64 {
            value
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .unwrap_or_else(|| usage(&format!("{flag}: not a number: {value}")))
        };
        let ms = |v: f64| Duration::from_secs_f64(v / 1000.0);
        let peer = |v: f64| Some(SocketAddr::from(([127, 0, 0, 1], v as u16)));
        match flag.as_str() {
            "--loss" => imp.loss = num(),
            "--delay-ms" => imp.delay = ms(num()),
            "--jitter-ms" => imp.jitter = ms(num()),
            "--dup" => imp.duplicate = num(),
            "--reorder" => imp.reorder = num(),
            "--reorder-ms" => imp.reorder_delay = ms(num()),
            "--rate-mbit" => imp.rate = Some((num() * 1e6 / 8.0) as u64),
            "--queue-kb" => imp.queue_limit = (num() * 1024.0) as usize,
            "--seed" => config.seed = num() as u64,
            "--peer-a" => config.peer_a = peer(num()),
            "--peer-b" => config.peer_b = peer(num()),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    let relay = Relay::start(RelayConfig {
        a_to_b: imp.clone(),
        b_to_a: imp,
        ..config
    })
    .unwrap_or_else(|e| usage(&format!("bind: {e}")));
    let ports = json!({"a": relay.addr_a().port(), "b": relay.addr_b().port()});
    println!("{ports}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let st = relay.stop();
    let dir = |d: DirectionStats| {
        json!({
            "received": d.received, "forwarded": d.forwarded, "bytesForwarded": d.bytes_forwarded,
            "lost": d.lost, "queueDropped": d.queue_dropped, "duplicated": d.duplicated,
            "reordered": d.reordered, "unroutable": d.unroutable,
        })
    };
    println!(
        "{}",
        json!({"aToB": dir(st.a_to_b), "bToA": dir(st.b_to_a)})
    );
}
