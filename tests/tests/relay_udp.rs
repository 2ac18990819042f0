//! The lossy relay (`ferrocore_tests::relay`) with plain UDP sockets on loopback: it
//! forwards both ways, its seeded drops are the same run after run, and duplication,
//! reordering and delay show up at the receiver.

use std::collections::BTreeSet;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ferrocore_tests::relay::{Impairment, Relay, RelayConfig};

const MS: Duration = Duration::from_millis(1);

fn socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s
}

/// How long a receiver waits for a datagram that should arrive (generous: loaded CI).
const WAIT: Duration = Duration::from_secs(5);
/// How long a receiver waits to conclude that nothing more arrives.
const QUIET: Duration = Duration::from_millis(300);

/// True if nothing arrives on `s` for [`QUIET`].
fn quiet(s: &UdpSocket) -> bool {
    s.set_read_timeout(Some(QUIET)).unwrap();
    let nothing = s.recv_from(&mut [0u8; 64]).is_err();
    s.set_read_timeout(Some(WAIT)).unwrap();
    nothing
}

/// Sends datagrams `0..n` (a u32 each, then 100 bytes) from `tx` to `to`, in bursts of 50
/// with a pause (the kernel's buffers never overflow), and returns the numbers `rx` got, in
/// arrival order, with the time each one arrived (until `rx` has been quiet for [`QUIET`]).
fn numbered(tx: &UdpSocket, to: SocketAddr, rx: &UdpSocket, n: u32) -> Vec<(u32, Instant)> {
    let got = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            rx.set_read_timeout(Some(QUIET)).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            while let Ok(len) = rx.recv(&mut buf) {
                assert_eq!(len, 104);
                got.push((
                    u32::from_le_bytes(buf[..4].try_into().unwrap()),
                    Instant::now(),
                ));
            }
            got
        });
        for i in 0..n {
            let mut d = [7u8; 104];
            d[..4].copy_from_slice(&i.to_le_bytes());
            tx.send_to(&d, to).unwrap();
            if i % 50 == 49 {
                std::thread::sleep(MS);
            }
        }
        reader.join().unwrap()
    });
    got
}

fn peers(config: RelayConfig) -> (Relay, UdpSocket, UdpSocket) {
    let (a, b) = (socket(), socket());
    let relay = Relay::start(RelayConfig {
        peer_a: Some(a.local_addr().unwrap()),
        peer_b: Some(b.local_addr().unwrap()),
        ..config
    })
    .unwrap();
    (relay, a, b)
}

#[test]
fn forwards_both_ways_and_learns_the_peers() {
    let relay = Relay::start(RelayConfig::default()).unwrap();
    let (a, b, stranger) = (socket(), socket(), socket());
    let mut buf = [0u8; 64];
    // B speaks first: the relay does not know A yet, so this one is dropped
    b.send_to(b"too early", relay.addr_b()).unwrap();
    assert!(quiet(&a));
    a.send_to(b"hello b", relay.addr_a()).unwrap();
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hello b"[..], relay.addr_b()));
    b.send_to(b"hello a", relay.addr_b()).unwrap();
    let (n, from) = a.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hello a"[..], relay.addr_a()));
    // someone else on side A is not peer A
    stranger.send_to(b"intruder", relay.addr_a()).unwrap();
    assert!(quiet(&b));
    let st = relay.stop();
    assert_eq!((st.a_to_b.received, st.a_to_b.forwarded), (2, 1));
    assert_eq!(st.a_to_b.unroutable, 1);
    assert_eq!((st.b_to_a.received, st.b_to_a.forwarded), (2, 1));
    assert_eq!(st.b_to_a.unroutable, 1);
    assert_eq!(st.a_to_b.bytes_forwarded, 7);
}

#[test]
fn seeded_loss_drops_the_same_datagrams_every_run() {
    let run = |seed: u64| {
        let (relay, a, b) = peers(RelayConfig::symmetric(Impairment::lossy(0.3, MS), seed));
        let got = numbered(&a, relay.addr_a(), &b, 3000);
        let st = relay.stop();
        let set: BTreeSet<u32> = got.iter().map(|(i, _)| *i).collect();
        assert_eq!(set.len(), got.len(), "no duplicates without duplication");
        assert_eq!(st.a_to_b.received, 3000);
        assert_eq!(st.a_to_b.lost + st.a_to_b.forwarded, 3000);
        assert_eq!(st.a_to_b.forwarded, got.len() as u64, "{st:?}");
        set
    };
    let first = run(5);
    // 30 % of 3000 = 900, give or take 5 standard deviations (25 each)
    assert!(
        (775..=1025).contains(&(3000 - first.len())),
        "lost {}",
        3000 - first.len()
    );
    assert_eq!(run(5), first);
    assert_ne!(run(6), first);
}

#[test]
fn duplication_reordering_and_delay_reach_the_receiver() {
    // every datagram twice, in order
    let dup = Impairment {
        duplicate: 1.0,
        ..Impairment::default()
    };
    let (relay, a, b) = peers(RelayConfig::symmetric(dup, 1));
    let got: Vec<u32> = numbered(&a, relay.addr_a(), &b, 500)
        .iter()
        .map(|g| g.0)
        .collect();
    let twice: Vec<u32> = (0..500).flat_map(|i| [i, i]).collect();
    assert_eq!(got, twice);
    assert_eq!(relay.stop().a_to_b.duplicated, 500);

    // jitter alone keeps the order; reordering lets later datagrams overtake
    let inversions = |reorder: f64| {
        let imp = Impairment {
            delay: 2 * MS,
            jitter: 3 * MS,
            reorder,
            reorder_delay: 10 * MS,
            ..Impairment::default()
        };
        let (relay, a, b) = peers(RelayConfig::symmetric(imp, 2));
        let got = numbered(&a, relay.addr_a(), &b, 1000);
        let st = relay.stop();
        assert_eq!(got.len(), 1000);
        let late = got.windows(2).filter(|w| w[0].0 > w[1].0).count();
        (late, st.a_to_b.reordered)
    };
    assert_eq!(inversions(0.0), (0, 0));
    let (late, reordered) = inversions(0.1);
    assert!((50..=150).contains(&reordered), "{reordered}");
    assert!(
        late > 0 && late as u64 <= reordered,
        "{late} of {reordered}"
    );

    // 20 ms each way: a round trip takes at least 40 ms
    let (relay, a, b) = peers(RelayConfig::symmetric(Impairment::lossy(0.0, 20 * MS), 3));
    let start = Instant::now();
    a.send_to(b"ping", relay.addr_a()).unwrap();
    let mut buf = [0u8; 16];
    let n = b.recv(&mut buf).unwrap();
    b.send_to(&buf[..n], relay.addr_b()).unwrap();
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    let rtt = start.elapsed();
    assert!(rtt >= 40 * MS && rtt < 2 * WAIT, "{rtt:?}");
}
