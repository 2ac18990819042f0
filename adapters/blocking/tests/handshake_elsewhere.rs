//! A hypercore replicated between two blocking nodes over a TCP connection whose Noise IK
//! handshake ([`NoiseWrap`]) ran on the socket before the nodes saw it: the writer (IK
//! initiator here) hands over a ready-made secret-stream ([`Node::add_secret_stream`]),
//! the reader (IK responder) the handshake's result ([`Node::add_handshake`]).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, NoiseWrap};
use ferrocore::wire::stream::{SecretStream, StreamConfig};
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::Node;

const TIMEOUT: Duration = Duration::from_secs(20);

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut framed = u32::try_from(msg.len()).unwrap().to_le_bytes()[..3].to_vec();
    framed.extend_from_slice(msg);
    framed
}

fn read_frame(sock: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    sock.read_exact(&mut prefix[..3]).unwrap();
    let mut msg = vec![0; usize::try_from(u32::from_le_bytes(prefix)).unwrap()];
    sock.read_exact(&mut msg).unwrap();
    msg
}

#[test]
fn a_hypercore_replicates_over_a_connection_whose_ik_handshake_ran_first() {
    let writer_key = NoiseKeyPair::from_seed([1; 32]);
    let reader_key = NoiseKeyPair::from_seed([2; 32]);
    let writer = Node::with_key_pair(EndpointConfig::default(), writer_key.clone()).unwrap();
    let reader = Node::with_key_pair(EndpointConfig::default(), reader_key.clone()).unwrap();
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let core_key = *log.key();
    let writer_core = writer.add_core(log).unwrap();
    let blocks: Vec<Bytes> = (0..10u8).map(|i| Bytes::from(vec![i; 1000])).collect();
    writer.append(writer_core, blocks.clone()).unwrap();
    let options = LogOptions {
        key: Some(core_key),
        ..LogOptions::default()
    };
    let reader_core = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader_public = reader_key.public_key;
    let server = thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut wrap = NoiseWrap::responder(reader_key, [3; 32]);
        assert_eq!(wrap.recv(&read_frame(&mut sock)).unwrap(), b"hello");
        sock.write_all(&frame(&wrap.send(b"").unwrap())).unwrap();
        (sock, wrap.finish().unwrap())
    });
    let mut sock = TcpStream::connect(addr).unwrap();
    let mut wrap = NoiseWrap::initiator(writer_key, reader_public, [4; 32]);
    sock.write_all(&frame(&wrap.send(b"hello").unwrap()))
        .unwrap();
    assert!(wrap.recv(&read_frame(&mut sock)).unwrap().is_empty());
    let client = wrap.finish().unwrap();
    let (server_sock, server) = server.join().unwrap();

    let stream = SecretStream::from_handshake(
        StreamConfig::default(),
        &client.handshake,
        [5; 24],
        Duration::ZERO,
    );
    writer.add_secret_stream(sock, stream).unwrap();
    reader.add_handshake(server_sock, server.handshake).unwrap();
    for (i, want) in blocks.iter().enumerate() {
        let got = reader
            .get(reader_core, u64::try_from(i).unwrap(), Some(TIMEOUT))
            .unwrap();
        assert_eq!(&got, want, "block {i}");
    }
}
