//! A secret-stream started from hyperdht's IK handshake, carried by UDX, against JS
//! (`tests/js/ik-peer.mjs --udx 1`): what hyperdht's connect/server do once the DHT has
//! relayed the two IK messages. The IK messages go over the JS peer's stdin/stdout lines
//! (standing in for the DHT); each side's payload is a hyperdht `noisePayload` carrying its
//! UDX socket's address (`addresses4`), its stream id (`udx {id, seq 0}`) and
//! `secretStream {}`; each side then connects its UDX stream to the ids from the other's
//! payload and starts the secret-stream from the handshake. ferrocore runs [`NoiseWrap`],
//! `ferrocore_wire::dht::NoisePayload`, a `ferrocore-udp` stream on Tokio and
//! [`SecretStream::from_handshake`](ferrocore_wire::stream::SecretStream::from_handshake) (messages both ways, each echoed) or a replication node's
//! `attach_handshake` (a hypercore 11.37.1 core replicated both directions, blocks
//! byte-compared).
//!
//! Needs `node` and `npm ci` in `tests/js` (the README's test command does both).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::echo::{self, check_messages, handle_events, JS_MESSAGE_ARGS};
use ferrocore_tests::js::{block_value, formula_writer, JsPeer};
use ferrocore_tokio::udx::{UdxSocket, UdxStream};
use ferrocore_tokio::Node;
use ferrocore_wire::dht::{Ipv4Address, NoisePayload, SecretStreamInfo, UdxInfo};
use ferrocore_wire::encoding::{Decode, Encode, Reader};
use ferrocore_wire::noise::{KeyPair, NoiseWrap, Role, WrapResult};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

const TIMEOUT: Duration = Duration::from_secs(30);
const RUST_SEED: u8 = 0x31;
const JS_SEED: u8 = 0x42;
/// The JS peer's UDX stream id (ours is drawn at random).
const JS_UDX_ID: u32 = 0x0a0b_0c0d;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An `ik-peer.mjs --udx 1` in `role` with `extra` arguments; returns it with its UDX
/// socket's address.
fn js_peer(role: Role, extra: &[String]) -> (JsPeer, SocketAddr) {
    let mut args: Vec<String> = vec![
        "--role".into(),
        match role {
            Role::Initiator => "initiator",
            Role::Responder => "responder",
        }
        .into(),
        "--seed".into(),
        hex::encode([JS_SEED; 32]),
        "--udx".into(),
        "1".into(),
        "--udx-id".into(),
        JS_UDX_ID.to_string(),
    ];
    if role == Role::Initiator {
        args.extend([
            "--remote-key".into(),
            hex::encode(KeyPair::from_seed([RUST_SEED; 32]).public_key),
        ]);
    }
    args.extend_from_slice(extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut js = JsPeer::spawn("ik-peer.mjs", &args);
    let udx = js.wait_for(TIMEOUT, |v| v["event"] == "udx" || v["event"] == "error");
    assert_eq!(udx["event"], "udx", "{udx}");
    assert_eq!(udx["id"], JS_UDX_ID);
    let port = u16::try_from(udx["port"].as_u64().unwrap()).unwrap();
    (js, SocketAddr::from(([127, 0, 0, 1], port)))
}

/// Our UDX socket and stream, and the payload announcing them (as hyperdht's connect and
/// server build it: firewall, addresses, `udx {id, seq 0}`, `secretStream {}`).
fn udx_side(rt: &Runtime) -> (UdxSocket, UdxStream, NoisePayload) {
    let socket = rt.block_on(UdxSocket::bind("127.0.0.1:0")).unwrap();
    let stream = {
        let _guard = rt.enter();
        socket.create_stream().unwrap()
    };
    let SocketAddr::V4(addr) = socket.local_addr().unwrap() else {
        panic!("bound on IPv4")
    };
    let payload = NoisePayload {
        firewall: 0,
        addresses4: vec![Ipv4Address {
            host: addr.ip().octets(),
            port: addr.port(),
        }],
        udx: Some(UdxInfo {
            id: u64::from(stream.id()),
            ..UdxInfo::default()
        }),
        secret_stream: Some(SecretStreamInfo::default()),
        ..NoisePayload::default()
    };
    (socket, stream, payload)
}

/// IK as `role` over the JS peer's lines, with `payload`; checks the JS payload names the
/// JS UDX stream at `js_addr` and connects `stream` to it. Returns the handshake's result.
fn ik(
    js: &mut JsPeer,
    role: Role,
    payload: &NoisePayload,
    stream: &UdxStream,
    js_addr: SocketAddr,
) -> WrapResult {
    let remote = KeyPair::from_seed([JS_SEED; 32]).public_key;
    let mut wrap = NoiseWrap::new(
        role,
        KeyPair::from_seed([RUST_SEED; 32]),
        (role == Role::Initiator).then_some(remote),
        [0x55; 32],
    )
    .unwrap();
    let recv = |js: &mut JsPeer, wrap: &mut NoiseWrap| {
        let msg = js.wait_for(TIMEOUT, |v| v["event"] == "ik" || v["event"] == "error");
        assert_eq!(msg["event"], "ik", "{msg}");
        wrap.recv(&hex::decode(msg["data"].as_str().unwrap()).unwrap())
            .unwrap()
    };
    let theirs = if role == Role::Initiator {
        js.send(json!({"ik": hex::encode(wrap.send(&payload.to_vec()).unwrap())}));
        recv(js, &mut wrap)
    } else {
        let theirs = recv(js, &mut wrap);
        js.send(json!({"ik": hex::encode(wrap.send(&payload.to_vec()).unwrap())}));
        theirs
    };
    assert_eq!(wrap.remote_public_key(), Some(remote));
    let theirs = NoisePayload::decode(&mut Reader::new(&theirs)).unwrap();
    let udx = theirs.udx.expect("the JS payload has udx");
    assert_eq!((udx.id, udx.seq), (u64::from(JS_UDX_ID), 0));
    assert!(theirs.secret_stream.is_some());
    let a = theirs.addresses4[0];
    let to = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a.host), a.port));
    assert_eq!(to, js_addr);
    stream.connect(u32::try_from(udx.id).unwrap(), to).unwrap();
    wrap.finish().unwrap()
}

/// The secret-stream from `wrap` over `stream`: sends [`RUST_MESSAGES`], echoes every
/// message that is not an echo, runs until the peer ended and everything is flushed.
/// Returns the messages received.
async fn converse(mut udx: UdxStream, wrap: WrapResult) -> Vec<Vec<u8>> {
    let start = Instant::now();
    let mut stream = echo::start(&wrap.handshake, start.elapsed());
    let (mut received, mut buf) = (Vec::new(), vec![0u8; 65536]);
    let (mut shut, mut eof) = (false, false);
    loop {
        while let Some(out) = stream.poll_transmit() {
            udx.write_all(&out).await.unwrap();
        }
        if stream.is_ended() && !shut {
            udx.shutdown().await.unwrap();
            shut = true;
        }
        if shut && stream.is_remote_ended() {
            return received;
        }
        assert!(start.elapsed() < TIMEOUT, "timed out; got {received:?}");
        let tick = Duration::from_millis(20);
        if eof {
            tokio::time::sleep(tick).await;
        } else if let Ok(n) = tokio::time::timeout(tick, udx.read(&mut buf)).await {
            match n.unwrap() {
                0 => {
                    eof = true;
                    stream.handle_end().unwrap();
                }
                n => stream.handle_input(start.elapsed(), &buf[..n]).unwrap(),
            }
        }
        let remote = wrap.handshake.remote_public_key;
        handle_events(&mut stream, start.elapsed(), remote, &mut received);
    }
}

/// Messages both ways with ferrocore in `role`; checks both sides' views.
fn messages(role: Role) {
    let rt = runtime();
    let js_role = match role {
        Role::Initiator => Role::Responder,
        Role::Responder => Role::Initiator,
    };
    let (mut js, js_addr) = js_peer(js_role, &JS_MESSAGE_ARGS.map(String::from));
    let (_socket, stream, payload) = udx_side(&rt);
    let wrap = ik(&mut js, role, &payload, &stream, js_addr);
    assert_eq!(wrap.handshake.role, role);
    let hash = hex::encode(wrap.handshake.hash);
    let secret = hex::encode(wrap.holepunch_secret);
    let received = rt.block_on(converse(stream, wrap));

    let hs = js.wait_for(TIMEOUT, |v| v["event"] == "handshake");
    assert_eq!(hs["hash"], hash);
    assert_eq!(hs["holepunchSecret"], secret);
    assert_eq!(hs["remotePayload"], hex::encode(payload.to_vec()));
    // JS read our stream id and address from it, as hyperdht's connect/server do
    let fields = &hs["remotePayloadFields"];
    assert_eq!(fields["udx"]["id"], payload.udx.as_ref().unwrap().id);
    assert_eq!(fields["udx"]["seq"], 0);
    assert_eq!(fields["addresses4"][0]["port"], payload.addresses4[0].port);
    assert_eq!(fields["secretStream"]["version"], 1);
    check_messages(&mut js, TIMEOUT, &received);
}

#[test]
fn ferrocore_initiator_js_responder_messages_over_udx() {
    messages(Role::Initiator);
}

#[test]
fn js_initiator_ferrocore_responder_messages_over_udx() {
    messages(Role::Responder);
}

/// Formula blocks of core 0 (`tests/js/blocks.mjs`), 1000 bytes each.
const BLOCKS: u64 = 500;

#[test]
fn js_hypercore_writer_to_ferrocore_reader_over_ik_and_udx() {
    let rt = runtime();
    let (mut js, js_addr) = js_peer(
        Role::Responder,
        &["--hypercore-writer".into(), BLOCKS.to_string()],
    );
    let core_event = js.wait_for(TIMEOUT, |v| v["event"] == "core");
    let key: [u8; 32] = hex::decode(core_event["key"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let (_socket, stream, payload) = udx_side(&rt);
    let wrap = ik(&mut js, Role::Initiator, &payload, &stream, js_addr);
    let blocks = rt.block_on(async move {
        let node = Node::with_key_pair(
            EndpointConfig::default(),
            KeyPair::from_seed([RUST_SEED; 32]),
        );
        let options = LogOptions {
            key: Some(key),
            ..LogOptions::default()
        };
        let core = node
            .add_core(Log::open(MemoryStorage::new(), options).unwrap())
            .await
            .unwrap();
        let connection = node
            .attach_handshake(stream.into_inner(), wrap.handshake)
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut blocks = Vec::new();
        for i in 0..BLOCKS {
            blocks.push(node.get(core, i, Some(TIMEOUT)).await.unwrap());
        }
        blocks
    });
    for (i, block) in (0..BLOCKS).zip(&blocks) {
        assert_eq!(block[..], block_value(0, i, 1000), "block {i}");
    }
    assert!(js.saw(|v| v["event"] == "handshake"));
    assert!(!js.saw(|v| v["event"] == "error"), "{:?}", js.seen);
}

#[test]
fn ferrocore_hypercore_writer_to_js_reader_over_ik_and_udx() {
    let rt = runtime();
    let writer = formula_writer(BLOCKS);
    let args = [
        "--hypercore-reader".into(),
        hex::encode(writer.key()),
        "--blocks".into(),
        BLOCKS.to_string(),
    ];
    let (mut js, js_addr) = js_peer(Role::Initiator, &args);
    let (_socket, stream, payload) = udx_side(&rt);
    let wrap = ik(&mut js, Role::Responder, &payload, &stream, js_addr);
    let node = rt.block_on(async move {
        let node = Node::with_key_pair(
            EndpointConfig::default(),
            KeyPair::from_seed([RUST_SEED; 32]),
        );
        node.add_core(writer).await.unwrap();
        let connection = node
            .attach_handshake(stream.into_inner(), wrap.handshake)
            .await
            .unwrap();
        tokio::spawn(connection);
        node
    });
    let verified = js.wait_for(TIMEOUT, |v| {
        v["event"] == "verified" || v["event"] == "error"
    });
    assert_eq!(verified["event"], "verified", "{:?}", js.seen);
    assert_eq!(verified["length"], BLOCKS);
    // the JS reader ends the stream after verifying: the session closes in order
    let end = js.wait_for(TIMEOUT, |v| v["event"] == "end" || v["event"] == "error");
    assert_eq!(end["event"], "end", "{:?}", js.seen);
    drop(node);
}
