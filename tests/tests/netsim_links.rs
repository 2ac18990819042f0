//! The simulated network itself (`ferrocore_tests::netsim`), checked with toy endpoints
//! that send scripted datagrams and record what arrives: delays, the bandwidth cap and
//! its drop-tail queue, the path MTU, loss (random and bursty), reordering, duplication,
//! shared bottlenecks and determinism.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_tests::netsim::{addr_of, LinkConfig, Loss, Machine, Sim, IP_UDP_OVERHEAD};

/// Sends scripted datagrams at their times and records what it receives.
#[derive(Default)]
struct Toy {
    /// (send time, destination, bytes), in time order.
    outbox: VecDeque<(Duration, SocketAddr, Vec<u8>)>,
    /// (arrival time, sender, bytes).
    inbox: Vec<(Duration, SocketAddr, Vec<u8>)>,
}

impl Machine for Toy {
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        self.inbox.push((now, from, bytes.to_vec()));
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        if self.outbox.front()?.0 > now {
            return None;
        }
        let (_, dst, bytes) = self.outbox.pop_front()?;
        buf.extend_from_slice(&bytes);
        Some((dst, bytes.len()))
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.outbox.front().map(|(t, _, _)| *t)
    }
    fn handle_timeout(&mut self, _now: Duration) {}
}

/// A datagram of `len` bytes whose first 4 bytes number it.
fn numbered(n: u32, len: usize) -> Vec<u8> {
    let mut v = vec![0xaa; len.max(4)];
    v[..4].copy_from_slice(&n.to_le_bytes());
    v
}

fn number(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes[..4].try_into().unwrap())
}

/// Node 0 sends `count` datagrams of `len` bytes to node 1, one every `gap` from t = 0,
/// over a link with `config`; runs until quiet.
fn blast(seed: u64, config: LinkConfig, count: u32, len: usize, gap: Duration) -> Sim<Toy> {
    let mut sim = Sim::new(seed);
    let a = sim.add_node(Toy::default());
    let b = sim.add_node(Toy::default());
    sim.connect(a, b, config);
    sim.with(a, |toy, _| {
        for n in 0..count {
            toy.outbox
                .push_back((gap * n, addr_of(b), numbered(n, len)));
        }
    });
    assert!(sim.run_idle(Duration::from_secs(3600)));
    sim
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn delay_is_exact_and_jitter_keeps_order() {
    let sim = blast(
        1,
        LinkConfig {
            delay: ms(25),
            ..LinkConfig::default()
        },
        10,
        100,
        ms(1),
    );
    let got = &sim.node(1).inbox;
    assert_eq!(got.len(), 10);
    for (n, (at, from, bytes)) in got.iter().enumerate() {
        assert_eq!(*at, ms(25 + n as u64));
        assert_eq!(*from, addr_of(0));
        assert_eq!(number(bytes), n as u32);
    }
    let jittery = LinkConfig {
        delay: ms(25),
        jitter: ms(20),
        ..LinkConfig::default()
    };
    let sim = blast(2, jittery, 2000, 100, Duration::from_micros(100));
    let got = &sim.node(1).inbox;
    assert_eq!(got.len(), 2000);
    assert!(
        got.windows(2).all(|w| number(&w[0].2) < number(&w[1].2)),
        "jitter alone reordered"
    );
    let delays: Vec<Duration> = got
        .iter()
        .map(|(at, _, b)| *at - Duration::from_micros(100) * number(b))
        .collect();
    assert!(delays.iter().all(|d| *d >= ms(25) && *d <= ms(45)));
    assert!(delays.iter().any(|d| *d > ms(35)), "no jitter at all");
}

#[test]
fn the_bandwidth_cap_serialises_and_its_queue_drops_tail() {
    // 1 MB/s and 1000-byte IP packets: one per millisecond, back to back.
    let len = 1000 - IP_UDP_OVERHEAD;
    let capped = LinkConfig {
        delay: ms(5),
        rate: Some(1_000_000),
        queue: 1_000_000,
        ..LinkConfig::default()
    };
    let sim = blast(3, capped, 100, len, Duration::ZERO);
    let got = &sim.node(1).inbox;
    assert_eq!(got.len(), 100);
    for (n, (at, _, _)) in got.iter().enumerate() {
        assert_eq!(*at, ms(5 + 1 + n as u64), "packet {n}");
    }
    // A 10-packet queue: the burst of 100 keeps the first 10.
    let small = LinkConfig {
        queue: 10_000,
        ..capped
    };
    let sim = blast(3, small, 100, len, Duration::ZERO);
    let numbers: Vec<u32> = sim
        .node(1)
        .inbox
        .iter()
        .map(|(_, _, b)| number(b))
        .collect();
    assert_eq!(numbers, (0..10).collect::<Vec<_>>());
    assert_eq!(sim.link(0).stats.queue_full, 90);
    // Paced at the rate, nothing waits and nothing is dropped.
    let sim = blast(3, small, 100, len, ms(1));
    assert_eq!(sim.node(1).inbox.len(), 100);
}

#[test]
fn datagrams_over_the_path_mtu_are_dropped() {
    let mut sim = Sim::new(4);
    let a = sim.add_node(Toy::default());
    let b = sim.add_node(Toy::default());
    sim.connect(
        a,
        b,
        LinkConfig {
            mtu: 1280,
            ..LinkConfig::default()
        },
    );
    let fit = 1280 - IP_UDP_OVERHEAD;
    sim.with(a, |toy, _| {
        for (n, len) in [fit - 1, fit, fit + 1, 1472, 64].into_iter().enumerate() {
            toy.outbox
                .push_back((Duration::ZERO, addr_of(b), numbered(n as u32, len)));
        }
    });
    sim.run_idle(ms(100));
    let numbers: Vec<u32> = sim
        .node(b)
        .inbox
        .iter()
        .map(|(_, _, x)| number(x))
        .collect();
    assert_eq!(numbers, [0, 1, 4]);
    assert_eq!(sim.link(0).stats.too_big, 2);
}

/// Lengths of the runs of consecutive lost datagrams (numbers absent from `got`).
fn loss_bursts(got: &[(Duration, SocketAddr, Vec<u8>)], count: u32) -> Vec<u32> {
    let mut seen = vec![false; count as usize];
    for (_, _, b) in got {
        seen[number(b) as usize] = true;
    }
    let mut bursts = Vec::new();
    let mut run = 0;
    for s in seen {
        if s {
            if run > 0 {
                bursts.push(run);
            }
            run = 0;
        } else {
            run += 1;
        }
    }
    bursts
}

#[test]
fn random_and_bursty_loss_have_their_rates() {
    let count = 40_000;
    let random = LinkConfig {
        loss: Loss::Random(0.1),
        ..LinkConfig::default()
    };
    let sim = blast(5, random, count, 50, Duration::from_micros(10));
    let lost = f64::from(count - sim.node(1).inbox.len() as u32) / f64::from(count);
    assert!((0.09..0.11).contains(&lost), "random loss {lost}");
    let bursts = loss_bursts(&sim.node(1).inbox, count);
    let random_burst = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;

    let ge = Loss::GilbertElliott {
        enter_bad: 0.02,
        leave_bad: 0.2,
        loss_good: 0.0,
        loss_bad: 0.9,
    };
    let mean = ge.mean();
    let sim = blast(
        5,
        LinkConfig {
            loss: ge,
            ..LinkConfig::default()
        },
        count,
        50,
        Duration::from_micros(10),
    );
    let lost = f64::from(count - sim.node(1).inbox.len() as u32) / f64::from(count);
    assert!(
        (mean * 0.8..mean * 1.2).contains(&lost),
        "bursty loss {lost}, model {mean}"
    );
    let bursts = loss_bursts(&sim.node(1).inbox, count);
    let bursty = bursts.iter().sum::<u32>() as f64 / bursts.len() as f64;
    assert!(
        random_burst < 1.3 && bursty > 3.0,
        "mean bursts: random {random_burst}, bursty {bursty}"
    );
}

#[test]
fn reordering_and_duplication_happen_at_their_rates() {
    let count = 20_000;
    let config = LinkConfig {
        reorder: 0.05,
        reorder_delay: ms(3),
        duplicate: 0.03,
        ..LinkConfig::default()
    };
    let sim = blast(6, config, count, 50, Duration::from_micros(200));
    let got: Vec<u32> = sim
        .node(1)
        .inbox
        .iter()
        .map(|(_, _, b)| number(b))
        .collect();
    let extra = got.len() as f64 / f64::from(count) - 1.0;
    assert!((0.025..0.035).contains(&extra), "duplicates {extra}");
    // A datagram is late when a higher number arrived before it.
    let mut highest = 0;
    let late = got
        .iter()
        .filter(|&&n| {
            let l = n < highest;
            highest = highest.max(n);
            l
        })
        .count() as f64;
    assert!(late / f64::from(count) > 0.03, "late {late}");
    let mut unique = got.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        count as usize,
        "reordering lost or made datagrams"
    );
}

#[test]
fn flows_through_one_bottleneck_share_it() {
    let mut sim = Sim::new(7);
    let a = sim.add_node(Toy::default());
    let b = sim.add_node(Toy::default());
    let c = sim.add_node(Toy::default());
    let link = sim.add_link(LinkConfig {
        rate: Some(1_000_000),
        queue: 1 << 30,
        ..LinkConfig::default()
    });
    sim.route(a, c, link);
    sim.route(b, c, link);
    let len = 1000 - IP_UDP_OVERHEAD;
    for from in [a, b] {
        sim.with(from, |toy, _| {
            for n in 0..500 {
                toy.outbox
                    .push_back((ms(n / 2), addr_of(c), numbered(n as u32, len)));
            }
        });
    }
    // a → b has no route: dropped and counted.
    sim.with(a, |toy, _| {
        toy.outbox.push_back((ms(0), addr_of(b), vec![1]))
    });
    sim.run_idle(ms(10_000));
    let got = &sim.node(c).inbox;
    assert_eq!(got.len(), 1000);
    // 1000 packets of 1000 bytes at 1 MB/s: the last arrives 1 s (+ 10 ms delay) after the first starts.
    assert_eq!(got.last().unwrap().0, ms(1010));
    assert_eq!(sim.stats().unroutable, 1);
    assert!(sim.node(b).inbox.is_empty());
}

fn lossy() -> LinkConfig {
    LinkConfig {
        jitter: ms(4),
        loss: Loss::Random(0.05),
        duplicate: 0.02,
        reorder: 0.02,
        rate: Some(200_000),
        queue: 20_000,
        ..LinkConfig::default()
    }
}

#[test]
fn a_seed_fixes_the_run() {
    let runs: Vec<[u8; 32]> = [11, 11, 12]
        .into_iter()
        .map(|seed| blast(seed, lossy(), 3000, 300, Duration::from_micros(500)).transcript())
        .collect();
    assert_eq!(runs[0], runs[1]);
    assert_ne!(runs[0], runs[2]);
}

#[test]
fn bursts_in_time_have_their_rate_and_do_not_follow_the_traffic() {
    let bursts = Loss::Bursts {
        mean_good: ms(400),
        mean_bad: ms(40),
        loss_good: 0.0,
        loss_bad: 1.0,
    };
    let count = 40_000;
    let config = LinkConfig {
        loss: bursts,
        ..LinkConfig::default()
    };
    // One datagram every 0.5 ms for 20 s: bursts of ~80 datagrams, 1/11 of them lost.
    let sim = blast(8, config, count, 50, Duration::from_micros(500));
    let lost = f64::from(count - sim.node(1).inbox.len() as u32) / f64::from(count);
    let mean = bursts.mean();
    assert!(
        (mean * 0.7..mean * 1.3).contains(&lost),
        "lost {lost}, model {mean}"
    );
    let runs = loss_bursts(&sim.node(1).inbox, count);
    let burst = runs.iter().sum::<u32>() as f64 / runs.len() as f64;
    assert!(
        (40.0..120.0).contains(&burst),
        "mean burst {burst} datagrams"
    );
    // A sparse sender (one datagram a second) meets a bad period as rarely as the time in
    // bad periods says, and never many in a row.
    let sim = blast(9, config, 2000, 50, Duration::from_secs(1));
    let runs = loss_bursts(&sim.node(1).inbox, 2000);
    assert!(runs.iter().all(|&r| r <= 3), "sparse runs of loss {runs:?}");
}
