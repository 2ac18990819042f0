//! Conformance of the DHT codecs (`ferrocore_wire::dht`) with the pinned JS dht-rpc 6.27.0
//! and hyperdht 6.34.0 (`tests/vectors/dht/*.json`), by schema: decoding gives the fields JS
//! decodes (or fails where JS drops the bytes), encoding gives JS's bytes, signables and
//! sealed holepunch payloads are byte-identical.

use ed25519_dalek::{Signature, VerifyingKey};
use ferrocore_tests::{arr, files, hex, hex32, name, str_of, u64_of, Cases, Schema};
use ferrocore_wire::dht::{
    self, commands, dht_commands, errors, firewall, holepunch_secret, modes, node_id,
    open_holepunch_payload, rpc, seal_holepunch_payload, signable, token, Announce, Handshake,
    Holepunch, HolepunchPayload, HostDisplay, Ipv4Address, Ipv6Address, LookupRawReply,
    MutableGetRequest, MutableGetResponse, MutablePutRequest, MutableSignable, NoisePayload,
    Packet, Peer, Peers, PluginRequest, Request, Response, SealError,
};
use ferrocore_wire::{Decode, Encode};
use serde_json::{json, Value};

fn h(b: impl AsRef<[u8]>) -> Value {
    Value::String(::hex::encode(b))
}

fn oh<B: AsRef<[u8]>>(b: &Option<B>) -> Value {
    b.as_ref().map_or(Value::Null, h)
}

fn v4(a: &Ipv4Address) -> Value {
    json!({ "host": a.host_string(), "port": a.port })
}

fn v6(a: &Ipv6Address) -> Value {
    json!({ "host": HostDisplay::V6(a.host).to_string(), "port": a.port })
}

fn ov4(a: &Option<Ipv4Address>) -> Value {
    a.as_ref().map_or(Value::Null, v4)
}

fn v4s(a: &[Ipv4Address]) -> Value {
    a.iter().map(v4).collect()
}

/// An address from the vectors' `{ host: "a.b.c.d", port }`.
fn addr_of(v: &Value) -> Ipv4Address {
    let host: Vec<u8> = str_of(&v["host"])
        .split('.')
        .map(|p| p.parse().expect("an octet"))
        .collect();
    Ipv4Address::new(
        host.try_into().expect("4 octets"),
        u64_of(&v["port"]) as u16,
    )
}

// ---------------------------------------------------------------------------------------
// dht-rpc

fn request_json(q: &Request, from: &Ipv4Address) -> Value {
    json!({
        "tid": q.tid, "to": v4(&q.to), "id": oh(&q.verified_id(from)), "token": oh(&q.token),
        "internal": q.internal, "command": q.command, "target": oh(&q.target),
        "value": oh(&q.value),
    })
}

fn response_json(s: &Response, from: &Ipv4Address) -> Value {
    json!({
        "tid": s.tid, "to": v4(&s.to), "id": oh(&s.verified_id(from)), "token": oh(&s.token),
        "closerNodes": v4s(&s.closer_nodes), "error": s.error, "value": oh(&s.value),
    })
}

#[test]
fn rpc_datagrams_match_js() {
    let mut cases = Cases::new("dht-rpc datagrams");
    for (path, v) in files(Schema::DhtRpc) {
        let file = name(&path);
        for (list, is_request) in [(&v["requests"], true), (&v["responses"], false)] {
            for c in arr(list) {
                let what = format!("{file}: {}", str_of(&c["name"]));
                let bytes = hex(&c["hex"]);
                let from = addr_of(&c["from"]);
                let decoded = Packet::decode(&bytes);
                let mut want = c["decoded"].clone();
                match (&decoded, is_request) {
                    (Ok(Packet::Request(q)), true) => {
                        assert_eq!(request_json(q, &from), want, "{what}");
                    }
                    (Ok(Packet::Response(s)), false) => {
                        // JS reads a closer-nodes flag with no nodes as [], no flag as null.
                        if want["closerNodes"].is_null() {
                            want["closerNodes"] = json!([]);
                        }
                        assert_eq!(response_json(s, &from), want, "{what}");
                    }
                    _ => assert!(want.is_null(), "{what}: JS decodes it, we got {decoded:?}"),
                }
                if c["encode"] == json!(true) {
                    let p = decoded.unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(p.to_vec(), bytes, "{what}: encoding");
                    assert_eq!(p.encoded_len(), bytes.len(), "{what}");
                }
                cases.pass();
            }
        }
        for c in arr(&v["nodeIds"]) {
            assert_eq!(node_id(&addr_of(c)), hex32(&c["id"]), "{file}: {c}");
            cases.pass();
        }
        for c in arr(&v["tokens"]) {
            let t = token(str_of(&c["host"]).as_bytes(), &hex32(&c["secret"]));
            assert_eq!(t, hex32(&c["token"]), "{file}: {c}");
            let a = addr_of(&json!({ "host": c["host"], "port": 1 }));
            assert_eq!(token(a.host_string().as_bytes(), &hex32(&c["secret"])), t);
            cases.pass();
        }
        let k = &v["rpcConstants"];
        assert_eq!(u64_of(&k["requestId"]), u64::from(rpc::REQUEST_ID));
        assert_eq!(u64_of(&k["responseId"]), u64::from(rpc::RESPONSE_ID));
        let cmds = [
            ("PING", commands::PING),
            ("PING_NAT", commands::PING_NAT),
            ("FIND_NODE", commands::FIND_NODE),
            ("DOWN_HINT", commands::DOWN_HINT),
            ("DELAYED_PING", commands::DELAYED_PING),
        ];
        check_table(&k["commands"], &cmds, &file);
        let errs = [
            ("UNKNOWN_COMMAND", errors::UNKNOWN_COMMAND),
            ("INVALID_TOKEN", errors::INVALID_TOKEN),
        ];
        check_table(&k["errors"], &errs, &file);
    }
    cases.report();
}

/// Asserts a JSON object of named numbers is exactly `table`.
fn check_table(obj: &Value, table: &[(&str, u64)], what: &str) {
    let o = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what}: expected an object"));
    assert_eq!(o.len(), table.len(), "{what}: {obj}");
    for (k, n) in table {
        assert_eq!(u64_of(&o[*k]), *n, "{what}: {k}");
    }
}

// ---------------------------------------------------------------------------------------
// hyperdht messages

fn handshake_json(m: &Handshake) -> Value {
    json!({ "mode": m.mode, "noise": h(&m.noise), "peerAddress": ov4(&m.peer_address),
            "relayAddress": ov4(&m.relay_address) })
}

fn holepunch_json(m: &Holepunch) -> Value {
    json!({ "mode": m.mode, "id": m.id, "payload": h(&m.payload),
            "peerAddress": ov4(&m.peer_address) })
}

fn noise_payload_json(m: &NoisePayload) -> Value {
    json!({
        "version": m.version, "error": m.error, "firewall": m.firewall,
        "holepunch": m.holepunch.as_ref().map(|hp| json!({
            "id": hp.id,
            "relays": hp.relays.iter().map(|r| json!({
                "relayAddress": v4(&r.relay_address), "peerAddress": v4(&r.peer_address),
            })).collect::<Vec<_>>(),
        })),
        "addresses4": v4s(&m.addresses4),
        "addresses6": m.addresses6.iter().map(v6).collect::<Vec<_>>(),
        "udx": m.udx.map(|u| json!({ "version": u.version, "reusableSocket": u.reusable_socket,
                                     "id": u.id, "seq": u.seq })),
        "secretStream": m.secret_stream.map(|s| json!({ "version": s.version })),
        "relayThrough": m.relay_through.map(|r| json!({ "version": r.version,
            "publicKey": h(r.public_key), "token": h(r.token) })),
        "relayAddresses": m.relay_addresses.as_deref().map(v4s),
    })
}

fn holepunch_payload_json(m: &HolepunchPayload) -> Value {
    json!({
        "error": m.error, "firewall": m.firewall, "round": m.round,
        "connected": m.connected, "punching": m.punching,
        "addresses": m.addresses.as_deref().map(v4s),
        "remoteAddress": ov4(&m.remote_address),
        "token": oh(&m.token), "remoteToken": oh(&m.remote_token),
    })
}

fn peer_json(p: &Peer) -> Value {
    json!({ "publicKey": h(p.public_key), "relayAddresses": v4s(&p.relay_addresses) })
}

fn announce_json(m: &Announce) -> Value {
    json!({ "peer": m.peer.as_ref().map(peer_json), "refresh": oh(&m.refresh),
            "signature": oh(&m.signature), "bump": m.bump })
}

fn lookup_json(m: &LookupRawReply) -> Value {
    json!({ "peers": m.peers.iter().map(peer_json).collect::<Vec<_>>(), "bump": m.bump })
}

fn mutable_signable_json(m: &MutableSignable) -> Value {
    json!({ "seq": m.seq, "value": h(&m.value) })
}

fn mutable_put_json(m: &MutablePutRequest) -> Value {
    json!({ "publicKey": h(m.public_key), "seq": m.seq, "value": h(&m.value),
            "signature": h(m.signature) })
}

fn mutable_get_json(m: &MutableGetResponse) -> Value {
    json!({ "seq": m.seq, "value": h(&m.value), "signature": h(m.signature) })
}

fn plugin_json(m: &PluginRequest) -> Value {
    json!({ "plugin": m.plugin, "version": m.version, "command": m.command,
            "value": oh(&m.value) })
}

/// Checks one `dhtMessages` case against codec `T`, shown as JSON by `show`.
fn check_message<T: Decode + Encode + std::fmt::Debug>(
    c: &Value,
    what: &str,
    show: fn(&T) -> Value,
) {
    let bytes = hex(&c["hex"]);
    let decoded = T::decode_from(&bytes);
    if c["value"].is_null() {
        assert!(
            c["error"].is_string(),
            "{what}: a case without a value has an error"
        );
        assert!(
            decoded.is_err(),
            "{what}: JS rejects it ({}), we decoded {decoded:?}",
            c["error"]
        );
        return;
    }
    let v = decoded.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(show(&v), c["value"], "{what}: fields");
    let again = T::decode_exact(&v.to_vec()).unwrap_or_else(|e| panic!("{what}: re-encoded: {e}"));
    assert_eq!(show(&again), c["value"], "{what}: re-encoded");
    if c["encode"] == json!(true) {
        assert_eq!(v.to_vec(), bytes, "{what}: encoding");
    }
}

#[test]
fn hyperdht_messages_match_js() {
    let mut cases = Cases::new("hyperdht messages");
    let mut types = std::collections::BTreeSet::new();
    for (path, v) in files(Schema::DhtMessages) {
        let file = name(&path);
        for c in arr(&v["dhtMessages"]) {
            let ty = str_of(&c["type"]);
            let what = format!("{file}: {ty} {}", str_of(&c["name"]));
            match ty {
                "handshake" => check_message(c, &what, handshake_json),
                "holepunch" => check_message(c, &what, holepunch_json),
                "noisePayload" => check_message(c, &what, noise_payload_json),
                "holepunchPayload" => check_message(c, &what, holepunch_payload_json),
                "peer" => check_message(c, &what, peer_json),
                "peers" => check_message(c, &what, |p: &Peers| p.0.iter().map(peer_json).collect()),
                "announce" => check_message(c, &what, announce_json),
                "lookupRawReply" => check_message(c, &what, lookup_json),
                "mutableSignable" => check_message(c, &what, mutable_signable_json),
                "mutablePutRequest" => check_message(c, &what, mutable_put_json),
                "mutableGetResponse" => check_message(c, &what, mutable_get_json),
                "mutableGetRequest" => {
                    check_message(c, &what, |m: &MutableGetRequest| json!(m.seq))
                }
                "pluginRequest" => check_message(c, &what, plugin_json),
                other => panic!("{what}: unknown message type {other}"),
            }
            types.insert(ty.to_owned());
            cases.pass();
        }
        check_constants(&v["dhtConstants"], &file);
    }
    assert_eq!(types.len(), 13, "every hyperdht codec has cases: {types:?}");
    cases.report();
}

fn check_constants(k: &Value, file: &str) {
    let cmds = [
        ("PEER_HANDSHAKE", dht_commands::PEER_HANDSHAKE),
        ("PEER_HOLEPUNCH", dht_commands::PEER_HOLEPUNCH),
        ("FIND_PEER", dht_commands::FIND_PEER),
        ("LOOKUP", dht_commands::LOOKUP),
        ("ANNOUNCE", dht_commands::ANNOUNCE),
        ("UNANNOUNCE", dht_commands::UNANNOUNCE),
        ("MUTABLE_PUT", dht_commands::MUTABLE_PUT),
        ("MUTABLE_GET", dht_commands::MUTABLE_GET),
        ("IMMUTABLE_PUT", dht_commands::IMMUTABLE_PUT),
        ("IMMUTABLE_GET", dht_commands::IMMUTABLE_GET),
        ("PLUGIN", dht_commands::PLUGIN),
    ];
    check_table(&k["commands"], &cmds, file);
    let fw = [
        ("UNKNOWN", firewall::UNKNOWN),
        ("OPEN", firewall::OPEN),
        ("CONSISTENT", firewall::CONSISTENT),
        ("RANDOM", firewall::RANDOM),
    ];
    check_table(&k["firewall"], &fw, file);
    let errs = [
        ("NONE", errors::NONE),
        ("ABORTED", errors::ABORTED),
        ("VERSION_MISMATCH", errors::VERSION_MISMATCH),
        ("TRY_LATER", errors::TRY_LATER),
        ("SEQ_REUSED", errors::SEQ_REUSED),
        ("SEQ_TOO_LOW", errors::SEQ_TOO_LOW),
    ];
    check_table(&k["errors"], &errs, file);
    let m = [
        ("FROM_CLIENT", modes::FROM_CLIENT),
        ("FROM_SERVER", modes::FROM_SERVER),
        ("FROM_RELAY", modes::FROM_RELAY),
        ("FROM_SECOND_RELAY", modes::FROM_SECOND_RELAY),
        ("REPLY", modes::REPLY),
    ];
    check_table(&k["modes"], &m, file);
    check_namespaces(&k["namespaces"], file);
}

fn check_namespaces(ns: &Value, file: &str) {
    let table = [
        ("ANNOUNCE", signable::NS_ANNOUNCE, dht_commands::ANNOUNCE),
        (
            "UNANNOUNCE",
            signable::NS_UNANNOUNCE,
            dht_commands::UNANNOUNCE,
        ),
        (
            "MUTABLE_PUT",
            signable::NS_MUTABLE_PUT,
            dht_commands::MUTABLE_PUT,
        ),
        (
            "PEER_HANDSHAKE",
            signable::NS_PEER_HANDSHAKE,
            dht_commands::PEER_HANDSHAKE,
        ),
        (
            "PEER_HOLEPUNCH",
            signable::NS_PEER_HOLEPUNCH,
            dht_commands::PEER_HOLEPUNCH,
        ),
        ("PLUGIN", signable::NS_PLUGIN, dht_commands::PLUGIN),
    ];
    assert_eq!(ns.as_object().map(|o| o.len()), Some(table.len()), "{file}");
    for (k, constant, id) in table {
        assert_eq!(hex32(&ns[k]), constant, "{file}: NS {k}");
        assert_eq!(signable::namespace(id as u8), constant, "{file}: NS {k}");
    }
}

// ---------------------------------------------------------------------------------------
// sealed holepunch payloads

#[test]
fn sealed_holepunch_payloads_match_js() {
    let mut cases = Cases::new("hyperdht sealed holepunch payloads");
    for (path, v) in files(Schema::DhtPayloads) {
        let file = name(&path);
        for c in arr(&v["handshakes"]) {
            let hash: [u8; 64] = hex(&c["handshakeHash"]).try_into().expect("64 bytes");
            assert_eq!(
                holepunch_secret(&hash),
                hex32(&c["holepunchSecret"]),
                "{file}"
            );
            cases.pass();
        }
        for c in arr(&v["sealed"]) {
            let secret = hex32(&c["holepunchSecret"]);
            let sealed = hex(&c["sealed"]);
            let opened =
                open_holepunch_payload(&secret, &sealed).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(holepunch_payload_json(&opened), c["payload"], "{file}");
            assert_eq!(opened.to_vec(), hex(&c["plain"]), "{file}: plaintext");
            let nonce: [u8; 24] = hex(&c["nonce"]).try_into().expect("24 bytes");
            assert_eq!(
                seal_holepunch_payload(&secret, &nonce, &opened),
                sealed,
                "{file}"
            );
            cases.pass();
        }
        for c in arr(&v["unsealable"]) {
            let r = open_holepunch_payload(&hex32(&c["holepunchSecret"]), &hex(&c["sealed"]));
            let why = match &r {
                Err(SealError::TooShort(_)) => "tooShort",
                Err(SealError::Unauthenticated) => "unauthenticated",
                Err(SealError::Decode(_)) => "malformed",
                other => panic!("{file}: {} opened: {other:?}", str_of(&c["name"])),
            };
            assert_eq!(why, str_of(&c["reason"]), "{file}: {}", str_of(&c["name"]));
            cases.pass();
        }
    }
    cases.report();
}

// ---------------------------------------------------------------------------------------
// signables

fn verify(public_key: &[u8; 32], msg: &[u8], sig: &Value) -> bool {
    let sig: [u8; 64] = hex(sig).try_into().expect("64 bytes");
    VerifyingKey::from_bytes(public_key)
        .and_then(|k| k.verify_strict(msg, &Signature::from_bytes(&sig)))
        .is_ok()
}

#[test]
fn signables_match_js() {
    let mut cases = Cases::new("hyperdht signables");
    for (path, v) in files(Schema::DhtSignables) {
        let file = name(&path);
        check_namespaces(&v["dhtNamespaces"], &file);
        for c in arr(&v["announceSignables"]) {
            let kind = str_of(&c["kind"]);
            let peer = Peer::decode_exact(&hex(&c["peer"])).expect("a peer record");
            let refresh = (!c["refresh"].is_null()).then(|| hex32(&c["refresh"]));
            let args = (hex32(&c["target"]), hex32(&c["nodeId"]), hex32(&c["token"]));
            let ns = match kind {
                "announce" => signable::NS_ANNOUNCE,
                "unannounce" => signable::NS_UNANNOUNCE,
                other => panic!("{file}: unknown kind {other}"),
            };
            let signable =
                dht::announce_signable(&ns, &args.0, &args.1, &args.2, &peer, refresh.as_ref());
            assert_eq!(signable.to_vec(), hex(&c["signable"]), "{file}: {kind}");
            let pk = hex32(&c["publicKey"]);
            assert!(
                verify(&pk, &signable, &c["signature"]),
                "{file}: JS signature"
            );
            let mut other = signable;
            other[40] ^= 1;
            assert!(!verify(&pk, &other, &c["signature"]));
            let ann = Announce::decode_from(&hex(&c["announce"])).expect("an announce");
            assert_eq!(ann.peer.as_ref(), Some(&peer));
            assert_eq!(ann.refresh, refresh);
            assert_eq!(ann.signature.map(h), Some(c["signature"].clone()));
            assert_eq!(ann.to_vec(), hex(&c["announce"]), "{file}: announce bytes");
            cases.pass();
        }
        for c in arr(&v["mutableSignables"]) {
            let value = hex(&c["value"]);
            let seq = u64_of(&c["seq"]);
            let signable = dht::mutable_signable(seq, &value);
            assert_eq!(signable.to_vec(), hex(&c["signable"]), "{file}: seq {seq}");
            let pk = hex32(&c["publicKey"]);
            assert!(
                verify(&pk, &signable, &c["signature"]),
                "{file}: JS signature"
            );
            assert_eq!(dht::mutable_target(&pk), hex32(&c["target"]));
            let put = MutablePutRequest::decode_exact(&hex(&c["putRequest"])).expect("a put");
            assert_eq!(
                (put.public_key, put.seq, &put.value[..]),
                (pk, seq, &value[..])
            );
            assert_eq!(h(put.signature), c["signature"]);
            assert_eq!(put.to_vec(), hex(&c["putRequest"]));
            cases.pass();
        }
        for c in arr(&v["immutableTargets"]) {
            assert_eq!(
                dht::immutable_target(&hex(&c["value"])),
                hex32(&c["target"])
            );
            cases.pass();
        }
    }
    cases.report();
}
