//! A hypercore replicated between two nodes over a TCP connection whose Noise handshake
//! ran before the nodes saw it: hyperdht's IK ([`NoiseWrap`]), its two messages framed
//! `uint24le(length) ‖ message` on the socket, then the socket handed over with the result
//! (the writer with [`Node::add_handshake`], the reader with a ready-made secret-stream,
//! [`Node::add_secret_stream`]).

use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::replication::{EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, NoiseWrap, Role};
use ferrocore::wire::stream::{SecretStream, StreamConfig};
use ferrocore::{Log, LogOptions};
use ferrocore_tokio::Node;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BLOCKS: u64 = 20;
const TIMEOUT: Duration = Duration::from_secs(20);

fn block(i: u64) -> Bytes {
    Bytes::from(format!("block {i} ").repeat(usize::try_from(i).unwrap() * 50 + 1))
}

async fn write_frame(sock: &mut TcpStream, msg: &[u8]) {
    let mut framed = u32::try_from(msg.len()).unwrap().to_le_bytes()[..3].to_vec();
    framed.extend_from_slice(msg);
    sock.write_all(&framed).await.unwrap();
}

async fn read_frame(sock: &mut TcpStream) -> Vec<u8> {
    let mut prefix = [0u8; 4];
    sock.read_exact(&mut prefix[..3]).await.unwrap();
    let mut msg = vec![0; usize::try_from(u32::from_le_bytes(prefix)).unwrap()];
    assert!(msg.len() <= 1024);
    sock.read_exact(&mut msg).await.unwrap();
    msg
}

/// Runs the IK handshake on `sock` as `wrap`'s role with `payload`; returns the peer's.
async fn handshake(sock: &mut TcpStream, wrap: &mut NoiseWrap, payload: &[u8]) -> Vec<u8> {
    if wrap.role() == Role::Initiator {
        write_frame(sock, &wrap.send(payload).unwrap()).await;
        wrap.recv(&read_frame(sock).await).unwrap()
    } else {
        let theirs = wrap.recv(&read_frame(sock).await).unwrap();
        write_frame(sock, &wrap.send(payload).unwrap()).await;
        theirs
    }
}

#[tokio::test]
async fn a_hypercore_replicates_over_a_connection_whose_ik_handshake_ran_first() {
    let writer_key = NoiseKeyPair::from_seed([1; 32]);
    let reader_key = NoiseKeyPair::from_seed([2; 32]);
    let writer = Node::with_key_pair(EndpointConfig::default(), writer_key.clone());
    let reader = Node::with_key_pair(EndpointConfig::default(), reader_key.clone());

    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[7; 32])),
        ..LogOptions::default()
    };
    let log = Log::open(MemoryStorage::new(), options).unwrap();
    let core_key = *log.key();
    let writer_core = writer.add_core(log).await.unwrap();
    writer
        .append(writer_core, (0..BLOCKS).map(block).collect())
        .await
        .unwrap();
    let options = LogOptions {
        key: Some(core_key),
        ..LogOptions::default()
    };
    let reader_core = reader
        .add_core(Log::open(MemoryStorage::new(), options).unwrap())
        .await
        .unwrap();
    let reader_events = reader.events();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut wrap = NoiseWrap::responder(writer_key, [3; 32]);
        let theirs = handshake(&mut sock, &mut wrap, b"server payload").await;
        (sock, wrap.finish().unwrap(), theirs)
    });
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let mut wrap = NoiseWrap::initiator(reader_key.clone(), writer.public_key(), [4; 32]);
    let theirs = handshake(&mut sock, &mut wrap, b"client payload").await;
    assert_eq!(theirs, b"server payload");
    let client = wrap.finish().unwrap();
    let (server_sock, server, server_got) = server.await.unwrap();
    assert_eq!(server_got, b"client payload");
    assert_eq!(server.handshake.remote_public_key, reader_key.public_key);
    assert_eq!(server.holepunch_secret, client.holepunch_secret);

    writer
        .add_handshake(server_sock, server.handshake.clone())
        .await
        .unwrap();
    let stream = SecretStream::from_handshake(
        StreamConfig::default(),
        &client.handshake,
        [5; 24],
        Duration::ZERO,
    );
    reader.add_secret_stream(sock, stream).await.unwrap();

    for i in (0..BLOCKS).rev() {
        let got = reader.get(reader_core, i, Some(TIMEOUT)).await.unwrap();
        assert_eq!(got, block(i), "block {i}");
    }
    // The session is the handshake's: the peer is the writer's static key.
    let connected = tokio::time::timeout(TIMEOUT, async {
        loop {
            if let Ok(Event::Connected {
                remote_public_key, ..
            }) = reader_events.recv().await
            {
                return remote_public_key;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(connected, writer.public_key());
    assert_eq!(reader.info(reader_core).await.unwrap().length, BLOCKS);
}
