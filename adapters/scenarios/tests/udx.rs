//! UDX streams on every runtime, on loopback: 64 MiB both ways with every byte checked
//! (OS batches and one datagram per system call), END seen by the reader, MESSAGE
//! datagrams, datagrams UDX does not take, and a hypercore replicated over a UDX stream
//! exactly as over TCP (`attach(stream, role)`, Noise XX in band) — on Tokio
//! (`ferrocore-tokio`), smol (`ferrocore-futures` over async-io) and threads
//! (`ferrocore-blocking`).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_udp::{Config, UdxSocket, UdxStream};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, FutureExt};

/// A guard against hangs, never a measurement.
const LIMIT: Duration = Duration::from_secs(120);

/// Bytes each side sends in the bulk tests.
const BULK: usize = 64 << 20;

/// Bytes written or read at a time.
const CHUNK: usize = 256 * 1024;

/// The byte stream `seed`: not periodic within a transfer, so a lost, repeated or
/// misplaced chunk shows.
struct Pattern {
    seed: u8,
    at: usize,
}

impl Pattern {
    fn new(seed: u8) -> Self {
        Self { seed, at: 0 }
    }

    fn byte(&self, i: usize) -> u8 {
        let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(self.seed);
        (x >> 29) as u8
    }

    /// The next chunk of at most `CHUNK` bytes of a `len`-byte stream (empty at the end).
    fn next(&mut self, chunk: &mut Vec<u8>, len: usize) {
        chunk.clear();
        let n = CHUNK.min(len - self.at);
        chunk.extend((self.at..self.at + n).map(|i| self.byte(i)));
        self.at += n;
    }

    /// Checks the next bytes read.
    fn check(&mut self, got: &[u8]) {
        for (k, b) in got.iter().enumerate() {
            assert_eq!(
                *b,
                self.byte(self.at + k),
                "byte {} of {}",
                self.at + k,
                self.seed
            );
        }
        self.at += got.len();
    }
}

/// A stream on each socket, connected to each other.
fn connect(a: &UdxSocket, b: &UdxSocket) -> (UdxStream, UdxStream) {
    let sa = a.create_stream().unwrap();
    let sb = b.create_stream().unwrap();
    a.connect(&sa, sb.id(), b.local_addr().unwrap()).unwrap();
    b.connect(&sb, sa.id(), a.local_addr().unwrap()).unwrap();
    (sa, sb)
}

/// Writes `len` bytes of pattern `seed`, then END.
async fn send_all(mut w: impl AsyncWrite + Unpin, seed: u8, len: usize) {
    let (mut p, mut chunk) = (Pattern::new(seed), Vec::new());
    while p.at < len {
        p.next(&mut chunk, len);
        w.write_all(&chunk).await.unwrap();
    }
    w.close().await.unwrap();
}

/// Reads to end of stream checking pattern `seed`; returns the count.
async fn check_all(mut r: impl AsyncRead + Unpin, seed: u8) -> usize {
    let (mut p, mut buf) = (Pattern::new(seed), vec![0u8; CHUNK]);
    loop {
        match r.read(&mut buf).await.unwrap() {
            0 => return p.at,
            n => p.check(&buf[..n]),
        }
    }
}

/// The bulk test's four tasks for streams `sa` and `sb`, handed to `spawn`.
fn bulk<F: Future<Output = usize> + Send + 'static>(
    sa: UdxStream,
    sb: UdxStream,
    spawn: impl Fn(std::pin::Pin<Box<dyn Future<Output = usize> + Send>>) -> F,
) -> [F; 4] {
    let (ra, wa) = futures_lite::io::split(sa);
    let (rb, wb) = futures_lite::io::split(sb);
    [
        spawn(Box::pin(async move {
            send_all(wa, 1, BULK).await;
            BULK
        })),
        spawn(Box::pin(async move {
            send_all(wb, 2, BULK).await;
            BULK
        })),
        spawn(Box::pin(check_all(rb, 1))),
        spawn(Box::pin(check_all(ra, 2))),
    ]
}

/// Fails the test if `f` takes longer than [`LIMIT`] (on an async-io timer, which runs on
/// any executor).
async fn limited<T>(f: impl Future<Output = T>) -> T {
    f.or(async {
        async_io::Timer::after(LIMIT).await;
        panic!("hung")
    })
    .await
}

/// The bulk tests of a runtime whose `both_ways(&Config)` runs one, batched and not.
macro_rules! bulk_tests {
    () => {
        #[test]
        fn sixty_four_mib_each_way_batched() {
            both_ways(&Config::default());
        }

        #[test]
        fn sixty_four_mib_each_way_one_datagram_per_syscall() {
            both_ways(&one_datagram_per_syscall());
        }
    };
}

fn one_datagram_per_syscall() -> Config {
    Config {
        batching: false,
        ..Config::default()
    }
}

/// The writer's core (64 blocks of 16 KiB) and the key a reader opens it with.
fn writer_log() -> (Log<MemoryStorage>, [u8; 32]) {
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let key = *log.key();
    (log, key)
}

fn reader_log(key: [u8; 32]) -> Log<MemoryStorage> {
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    Log::open(MemoryStorage::new(), options).unwrap()
}

fn blocks() -> Vec<Bytes> {
    (0..64u8).map(|i| Bytes::from(vec![i; 16 * 1024])).collect()
}

mod tokio_runtime {
    use ferrocore::replication::EndpointConfig;
    use ferrocore::wire::noise::Role;
    use ferrocore_tokio::udx::UdxSocket;
    use ferrocore_tokio::Node;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn sockets(config: Config) -> (UdxSocket, UdxSocket) {
        sockets_of(config.clone(), config).await
    }

    async fn sockets_of(a: Config, b: Config) -> (UdxSocket, UdxSocket) {
        let a = UdxSocket::bind_with("127.0.0.1:0", a).await.unwrap();
        (a, UdxSocket::bind_with("127.0.0.1:0", b).await.unwrap())
    }

    async fn both_ways(config: Config) {
        both_ways_on(sockets(config).await).await;
    }

    async fn both_ways_on((a, b): (UdxSocket, UdxSocket)) {
        let (sa, sb) = connect(&a, &b);
        let spawn = |f| {
            let task = tokio::spawn(f);
            async move { task.await.unwrap() }
        };
        for task in bulk(sa, sb, spawn) {
            assert_eq!(limited(task).await, BULK);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_mib_each_way_batched() {
        both_ways(Config::default()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sixty_four_mib_each_way_one_datagram_per_syscall() {
        both_ways(one_datagram_per_syscall()).await;
    }

    /// GSO sends reach a socket that reads one datagram per call, and GRO reads take
    /// plain sends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batched_and_a_plain_socket_talk() {
        let (a, b) = sockets_of(Config::default(), one_datagram_per_syscall()).await;
        assert!(a.is_batched() && !b.is_batched());
        both_ways_on((a, b)).await;
    }

    /// The loop ends and the UDP socket closes once every handle is dropped: its port can
    /// be bound again.
    #[tokio::test]
    async fn dropping_every_handle_closes_the_socket() {
        let a = UdxSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = a.local_addr().unwrap();
        let b = a.clone();
        let stream = a.create_stream().unwrap();
        drop((a, stream));
        assert!(UdxSocket::bind(addr).await.is_err(), "a handle is left");
        drop(b);
        limited(async {
            while UdxSocket::bind(addr).await.is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }

    /// Through Tokio's `AsyncRead + AsyncWrite` (`shutdown` is END).
    #[tokio::test]
    async fn the_reader_sees_end_after_the_data_and_messages_arrive() {
        let (a, b) = sockets(Config::default()).await;
        let (mut sa, mut sb) = (a.create_stream().unwrap(), b.create_stream().unwrap());
        a.connect(&sa, sb.id(), b.local_addr().unwrap()).unwrap();
        b.connect(&sb, sa.id(), a.local_addr().unwrap()).unwrap();
        sa.send_message(b"an unreliable hello").unwrap();
        assert_eq!(
            limited(sb.recv_message()).await.unwrap(),
            b"an unreliable hello"
        );

        sa.write_all(b"last words").await.unwrap();
        sa.shutdown().await.unwrap();
        let mut got = Vec::new();
        limited(sb.read_to_end(&mut got)).await.unwrap();
        assert_eq!(got, b"last words");
        // Writing after END fails; the other direction still works until b ends too.
        assert!(sa.write_all(b"more").await.is_err());
        sb.write_all(b"reply").await.unwrap();
        sb.shutdown().await.unwrap();
        let mut reply = Vec::new();
        limited(sa.read_to_end(&mut reply)).await.unwrap();
        assert_eq!(reply, b"reply");
    }

    #[tokio::test]
    async fn datagrams_udx_does_not_take_are_handed_out_and_raw_ones_sent() {
        let socket = UdxSocket::bind("127.0.0.1:0").await.unwrap();
        let raw = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (to, from) = (socket.local_addr().unwrap(), raw.local_addr().unwrap());
        // A dht-rpc request (0x03 ...), a holepunch probe, a UDX packet for no stream.
        let mut udx = vec![0xff, 1, 1, 0];
        udx.extend_from_slice(&[0x2a, 0, 0, 0]);
        udx.extend_from_slice(&[0; 12]);
        for d in [&[0x03, 1, 2, 3][..], &[0], &udx] {
            raw.send_to(d, to).await.unwrap();
            let got = limited(socket.recv_datagram()).await;
            assert_eq!((got.from, &got.data[..]), (from, d));
        }

        socket.send_datagram(from, b"\x13reply");
        let mut buf = [0u8; 64];
        let (n, src) = limited(raw.recv_from(&mut buf)).await.unwrap();
        assert_eq!((&buf[..n], src), (&b"\x13reply"[..], to));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_hypercore_replicates_over_a_udx_stream_as_over_tcp() {
        let (log, key) = writer_log();
        let writer = Node::new(EndpointConfig::default()).unwrap();
        let core = writer.add_core(log).await.unwrap();
        writer.append(core, blocks()).await.unwrap();
        let reader = Node::new(EndpointConfig::default()).unwrap();
        let rcore = reader.add_core(reader_log(key)).await.unwrap();

        let (a, b) = sockets(Config::default()).await;
        let (sa, sb) = (a.create_stream().unwrap(), b.create_stream().unwrap());
        a.connect(&sa, sb.id(), b.local_addr().unwrap()).unwrap();
        b.connect(&sb, sa.id(), a.local_addr().unwrap()).unwrap();
        writer.add_udx_stream(sb, Role::Responder).await.unwrap();
        reader.add_udx_stream(sa, Role::Initiator).await.unwrap();
        for (i, block) in blocks().into_iter().enumerate() {
            let got = limited(reader.get(rcore, i as u64, None)).await.unwrap();
            assert_eq!(got, block, "block {i}");
        }
    }
}

mod smol_runtime {
    use ferrocore::replication::EndpointConfig;
    use ferrocore::wire::noise::Role;
    use ferrocore_futures::Node;

    use super::*;

    fn bind(config: Config) -> ferrocore_futures::udx::UdxSocket {
        let addr = "127.0.0.1:0".parse().unwrap();
        let (socket, driver) =
            ferrocore_futures::udx::UdxSocket::bind_with(addr, smol::Timer::after, config).unwrap();
        smol::spawn(driver).detach();
        socket
    }

    fn both_ways(config: &Config) {
        smol::block_on(async {
            let (a, b) = (bind(config.clone()), bind(config.clone()));
            let (sa, sb) = connect(&a, &b);
            for task in bulk(sa, sb, smol::spawn) {
                assert_eq!(limited(task).await, BULK);
            }
        });
    }

    bulk_tests!();

    #[test]
    fn the_reader_sees_end_after_the_data_and_messages_arrive() {
        smol::block_on(async {
            let (a, b) = (bind(Config::default()), bind(Config::default()));
            let (mut sa, mut sb) = connect(&a, &b);
            sa.send_message(b"an unreliable hello").unwrap();
            assert_eq!(
                limited(sb.recv_message()).await.unwrap(),
                b"an unreliable hello"
            );
            sa.write_all(b"last words").await.unwrap();
            sa.close().await.unwrap();
            let mut got = Vec::new();
            limited(sb.read_to_end(&mut got)).await.unwrap();
            assert_eq!(got, b"last words");
        });
    }

    #[test]
    fn a_hypercore_replicates_over_a_udx_stream_as_over_tcp() {
        smol::block_on(async {
            let (log, key) = writer_log();
            let (writer, driver) =
                Node::new(EndpointConfig::default(), smol::Timer::after).unwrap();
            smol::spawn(driver).detach();
            let core = writer.add_core(log).await.unwrap();
            writer.append(core, blocks()).await.unwrap();
            let (reader, driver) =
                Node::new(EndpointConfig::default(), smol::Timer::after).unwrap();
            smol::spawn(driver).detach();
            let rcore = reader.add_core(reader_log(key)).await.unwrap();

            let (a, b) = (bind(Config::default()), bind(Config::default()));
            let (sa, sb) = connect(&a, &b);
            smol::spawn(writer.attach(sb, Role::Responder).await.unwrap()).detach();
            smol::spawn(reader.attach(sa, Role::Initiator).await.unwrap()).detach();
            for (i, block) in blocks().into_iter().enumerate() {
                let got = limited(reader.get(rcore, i as u64, None)).await.unwrap();
                assert_eq!(got, block, "block {i}");
            }
        });
    }
}

mod blocking_runtime {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::thread;

    use ferrocore::replication::EndpointConfig;
    use ferrocore::wire::noise::Role;
    use ferrocore_blocking::udx::UdxSocket;
    use ferrocore_blocking::Node;

    use super::{
        blocks, connect, one_datagram_per_syscall, reader_log, writer_log, Config, Pattern,
        UdxStream, BULK, CHUNK, LIMIT,
    };

    fn sockets(config: &Config) -> (UdxSocket, UdxSocket) {
        let a = UdxSocket::bind_with("127.0.0.1:0", config.clone()).unwrap();
        (
            a,
            UdxSocket::bind_with("127.0.0.1:0", config.clone()).unwrap(),
        )
    }

    /// Through std `Read + Write` on `&UdxStream`, a thread each.
    fn both_ways(config: &Config) {
        let (a, b) = sockets(config);
        let (sa, sb) = connect(&a, &b);
        let (sa, sb) = (Arc::new(sa), Arc::new(sb));
        let send = |s: Arc<UdxStream>, seed| {
            thread::spawn(move || {
                let (mut p, mut chunk) = (Pattern::new(seed), Vec::new());
                while p.at < BULK {
                    p.next(&mut chunk, BULK);
                    (&*s).write_all(&chunk).unwrap();
                }
                s.end().unwrap();
                p.at
            })
        };
        let check = |s: Arc<UdxStream>, seed| {
            thread::spawn(move || {
                let (mut p, mut buf) = (Pattern::new(seed), vec![0u8; CHUNK]);
                while let n @ 1.. = (&*s).read(&mut buf).unwrap() {
                    p.check(&buf[..n]);
                }
                p.at
            })
        };
        let threads = [
            send(sa.clone(), 1),
            send(sb.clone(), 2),
            check(sb, 1),
            check(sa, 2),
        ];
        for t in threads {
            assert_eq!(t.join().unwrap(), BULK);
        }
    }

    bulk_tests!();

    #[test]
    fn the_reader_sees_end_after_the_data_and_messages_arrive() {
        let (a, b) = sockets(&Config::default());
        let (mut sa, mut sb) = connect(&a, &b);
        sa.send_message(b"an unreliable hello").unwrap();
        assert_eq!(sb.recv_message_blocking().unwrap(), b"an unreliable hello");
        sa.write_all(b"last words").unwrap();
        sa.end().unwrap();
        let mut got = Vec::new();
        sb.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"last words");
        assert!(sa.write_all(b"more").is_err());
    }

    #[test]
    fn a_destroyed_stream_ends_the_peer_s_reads_with_an_error() {
        let (a, b) = sockets(&Config::default());
        let (sa, mut sb) = connect(&a, &b);
        (&sa).write_all(b"partial").unwrap();
        let mut first = [0u8; 7];
        sb.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"partial");
        drop(sa); // not ended: DESTROY
        let mut rest = Vec::new();
        let r = sb.read_to_end(&mut rest);
        assert!(rest.is_empty());
        assert!(r.is_err(), "a reset is not an orderly end: {r:?}");
    }

    #[test]
    fn a_hypercore_replicates_over_a_udx_stream_as_over_tcp() {
        let (log, key) = writer_log();
        let writer = Node::new(EndpointConfig::default()).unwrap();
        let core = writer.add_core(log).unwrap();
        writer.append(core, blocks()).unwrap();
        let reader = Node::new(EndpointConfig::default()).unwrap();
        let rcore = reader.add_core(reader_log(key)).unwrap();

        let (a, b) = sockets(&Config::default());
        let (sa, sb) = connect(&a, &b);
        writer.add_udx_stream(sb, Role::Responder).unwrap();
        reader.add_udx_stream(sa, Role::Initiator).unwrap();
        for (i, block) in blocks().into_iter().enumerate() {
            let got = reader.get(rcore, i as u64, Some(LIMIT)).unwrap();
            assert_eq!(got, block, "block {i}");
        }
    }
}
