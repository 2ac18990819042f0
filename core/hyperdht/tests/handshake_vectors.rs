//! The PEER_HANDSHAKE exchange against JS (`tests/vectors/dht/handshake.json`, written by
//! `tests/vectors/gen/gen-dht-handshake.mjs` from hyperdht's own NoiseWrap and messages):
//! a [`Connector`] with a case's inputs sends JS's request byte for byte and finishes the
//! handshake with JS's reply; a [`Server`] fed JS's first message answers JS's second one
//! byte for byte.

use std::time::Duration;

use ferrocore_hyperdht::dht::connect::{ConnectAction, ConnectConfig, Connector};
use ferrocore_hyperdht::dht::server::{Server, ServerConfig};
use ferrocore_wire::dht::{modes, Handshake, Ipv4Address, RelayInfo};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::Encode;
use serde_json::Value;

const RELAY: Ipv4Address = Ipv4Address::new([7, 7, 7, 7], 7);
const CLIENT: Ipv4Address = Ipv4Address::new([3, 3, 3, 3], 3);

fn hex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn addr(v: &Value) -> Ipv4Address {
    let host: Vec<u8> = v["host"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
    Ipv4Address::new(host.try_into().unwrap(), port)
}

fn addrs(v: &Value) -> Vec<Ipv4Address> {
    v.as_array().unwrap().iter().map(addr).collect()
}

fn opt_addr(v: &Value) -> Option<Ipv4Address> {
    (!v.is_null()).then(|| addr(v))
}

fn seed(v: &Value) -> [u8; 32] {
    [u8::try_from(v.as_u64().unwrap()).unwrap(); 32]
}

fn stream_id(v: &Value) -> u32 {
    u32::try_from(v.as_u64().unwrap()).unwrap()
}

fn cases() -> Vec<Value> {
    let text = include_str!("../../../tests/vectors/dht/handshake.json");
    let v: Value = serde_json::from_str(text).unwrap();
    v["peerHandshakes"].as_array().unwrap().clone()
}

#[test]
fn the_client_sends_the_request_js_sends_and_takes_its_reply() {
    let mut checked = 0;
    for case in cases() {
        let (c, name) = (&case["client"], &case["name"]);
        if c["udx"] == false {
            continue; // a payload this client never writes; the server side is checked below
        }
        let config = ConnectConfig {
            our_address: opt_addr(&c["ourAddress"]),
            local_addresses: addrs(&c["localAddresses"]),
            lan: c["lan"].as_bool().unwrap(),
            reusable_socket: c["reusableSocket"].as_bool().unwrap(),
            relay_addresses: Vec::new(),
        };
        let server_key: [u8; 32] = hex(&case["serverPublicKey"]).try_into().unwrap();
        let key = KeyPair::from_seed(seed(&c["static"]));
        assert_eq!(key.public_key.to_vec(), hex(&case["clientPublicKey"]));
        let stream = stream_id(&c["streamId"]);
        let mut client = Connector::new(key, server_key, config, stream, seed(&c["ephemeral"]));
        assert!(matches!(
            client.poll_action(),
            Some(ConnectAction::FindPeer { .. })
        ));
        client.handle_peer_found(RELAY);
        let Some(ConnectAction::Request { value, .. }) = client.poll_action() else {
            panic!("{name}: no request");
        };
        assert_eq!(
            hex::encode(&value),
            case["request"].as_str().unwrap(),
            "{name}"
        );
        // JS's reply, as the server sent it straight back (not relayed): connected there.
        let reply = Handshake {
            mode: modes::REPLY,
            noise: hex(&case["message2"]).into(),
            ..Handshake::default()
        };
        client.handle_reply(Duration::ZERO, RELAY, RELAY, CLIENT, Some(&reply.to_vec()));
        assert_eq!(client.poll_action(), Some(ConnectAction::CancelQuery));
        let Some(ConnectAction::Connected(conn)) = client.poll_action() else {
            panic!("{name}: not connected");
        };
        assert_eq!(
            conn.handshake.handshake.hash.to_vec(),
            hex(&case["handshakeHash"])
        );
        assert_eq!(
            conn.handshake.holepunch_secret.to_vec(),
            hex(&case["holepunchSecret"])
        );
        assert_eq!(
            conn.remote_stream_id,
            stream_id(&case["server"]["streamId"])
        );
        assert_eq!(conn.remote_addr, RELAY);
        checked += 1;
    }
    assert!(checked >= 2);
}

#[test]
fn the_server_answers_what_js_answers() {
    for case in cases() {
        let (s, name) = (&case["server"], &case["name"]);
        let config = ServerConfig {
            our_address: opt_addr(&s["ourAddress"]),
            local_addresses: addrs(&s["localAddresses"]),
            share_local_address: s["shareLocalAddress"].as_bool().unwrap(),
            reusable_socket: s["reusableSocket"].as_bool().unwrap(),
            ..ServerConfig::default()
        };
        let key = KeyPair::from_seed(seed(&s["static"]));
        assert_eq!(key.public_key.to_vec(), hex(&case["serverPublicKey"]));
        let mut server = Server::new(key, config);
        let relays = s["relays"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| RelayInfo {
                relay_address: addr(&r["relayAddress"]),
                peer_address: addr(&r["peerAddress"]),
            })
            .collect();
        server.set_relays(relays, addrs(&s["relayAddresses"]));
        let hs = Handshake {
            mode: modes::FROM_CLIENT,
            noise: hex(&case["message1"]).into(),
            ..Handshake::default()
        };
        let stream = stream_id(&s["streamId"]);
        let ephemeral = seed(&s["ephemeral"]);
        let reply = server.handle_peer_handshake(Duration::ZERO, &hs, CLIENT, ephemeral, stream);
        let reply = reply.unwrap_or_else(|| panic!("{name}: no reply"));
        assert_eq!(
            hex::encode(&reply),
            case["message2"].as_str().unwrap(),
            "{name}"
        );
        // Accepted handshakes keep the stream id (asked directly: connected at once).
        let accepted = case["serverError"] == 0;
        let kept = server.stream_id_used(stream) || server.poll_event().is_some();
        assert_eq!(kept, accepted, "{name}");
    }
}
