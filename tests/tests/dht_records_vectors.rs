//! Conformance of the persistent HyperDHT node (`ferrocore_hyperdht::dht::{persistent,
//! router}`) with the pinned JS hyperdht 6.34.0 (`tests/vectors/dht/records.json`): the
//! same scripted requests give the same replies (error, value, token and closer-nodes
//! flags, address), relays and drops, step by step, caches evicting alike.

use std::time::Duration;

use bytes::Bytes;
use ferrocore_hyperdht::dht::persistent::{Config, Persistent};
use ferrocore_hyperdht::dht::router::{Forward, Outcome, Router, ServerRequest};
use ferrocore_tests::{arr, files, hex, hex32, str_of, u64_of, Cases, Schema};
use ferrocore_wire::dht::{dht_commands, Ipv4Address, LookupRawReply, Request};
use ferrocore_wire::Decode;
use serde_json::{json, Value};

fn addr(v: &Value) -> Ipv4Address {
    let host: Vec<u8> = str_of(&v["host"])
        .split('.')
        .map(|o| o.parse().expect("an IPv4 octet"))
        .collect();
    let port = u16::try_from(u64_of(&v["port"])).expect("a port");
    Ipv4Address::new(host.try_into().expect("four octets"), port)
}

fn opt_hex(v: &Value) -> Option<Vec<u8>> {
    (!v.is_null()).then(|| hex(v))
}

fn addr_j(a: &Ipv4Address) -> Value {
    json!({ "host": a.host_string(), "port": a.port })
}

fn hex_j(b: &Option<Bytes>) -> Value {
    b.as_ref()
        .map_or(Value::Null, |b| Value::String(::hex::encode(b)))
}

/// The node of the script: JS's Router and Persistent with the script's cache options.
struct Node {
    router: Router,
    persistent: Persistent,
    id: [u8; 32],
    server_noise: Bytes,
    server_payload: Bytes,
}

impl Node {
    fn new(c: &Value) -> Self {
        let max_size = usize::try_from(u64_of(&c["maxSize"])).unwrap();
        let max_age = Duration::from_millis(u64_of(&c["maxAgeMs"]));
        let config = Config {
            unix_origin_ms: u64_of(&c["nowMs"]),
            ..Config::from_options(Some(max_size), None)
        };
        assert_eq!(config.max_age, max_age);
        Self {
            router: Router::new(Duration::ZERO, max_size, max_age),
            persistent: Persistent::new(config, Duration::ZERO, 1),
            id: hex32(&c["nodeId"]),
            server_noise: hex(&c["serverNoise"]).into(),
            server_payload: hex(&c["serverPayload"]).into(),
        }
    }

    /// HyperDHT's dispatch: handshakes and holepunches to the router, the rest to the
    /// persistent handlers; this node's own server answers with the script's fixed bytes,
    /// and no plugin is registered.
    fn handle(&mut self, now: Duration, from: Ipv4Address, req: &Request) -> Outcome {
        let outcome = match req.command {
            dht_commands::PEER_HANDSHAKE | dht_commands::PEER_HOLEPUNCH => {
                self.router.handle_request(now, from, req)
            }
            _ => {
                let (router, id) = (&mut self.router, &self.id);
                self.persistent.handle_request(now, router, id, from, req)
            }
        };
        match outcome {
            Outcome::Server(ServerRequest::Handshake(hs)) => {
                Router::server_handshake_reply(from, &hs, self.server_noise.clone())
            }
            Outcome::Server(ServerRequest::Holepunch(hp)) => {
                Router::server_holepunch_reply(from, &hp, self.server_payload.clone())
            }
            Outcome::Plugin(_) => Outcome::Drop,
            other => other,
        }
    }
}

/// The outcome as the vector writes it.
fn outcome_j(o: &Outcome) -> Value {
    match o {
        Outcome::Drop => json!({ "kind": "drop" }),
        Outcome::Reply(r) => json!({
            "kind": "reply",
            "to": addr_j(&r.to),
            "error": r.error,
            "value": hex_j(&r.value),
            "token": r.token,
            "closerNodes": r.closer_nodes,
        }),
        Outcome::Relay { to, value } => json!({
            "kind": "relay",
            "to": addr_j(to),
            "value": hex_j(&Some(value.clone())),
        }),
        other => panic!("unresolved outcome {other:?}"),
    }
}

/// A lookup reply with its peers sorted (which records come first is random in both).
fn sorted_lookup(v: &Value) -> Value {
    let Some(bytes) = opt_hex(v) else {
        return Value::Null;
    };
    let mut r = LookupRawReply::decode_from(&bytes).expect("a lookup reply");
    r.peers.sort_by_key(|p| p.public_key);
    Value::String(format!("{r:?}"))
}

#[test]
fn a_persistent_node_answers_the_script_as_js_does() {
    for (path, v) in files(Schema::DhtRecords) {
        let mut node = Node::new(&v["recordsConfig"]);
        let mut cases = Cases::new(format!("dht records {}", path.display()));
        let mut now = Duration::ZERO;
        for step in arr(&v["recordsSteps"]) {
            let name = str_of(&step["name"]);
            if let Some(ms) = step.get("advanceToMs") {
                now = Duration::from_millis(u64_of(ms));
                continue;
            }
            if let Some(l) = step.get("listen") {
                let forward = Forward {
                    relay: None,
                    record: hex(&l["record"]).into(),
                    local: true,
                };
                node.router
                    .set(Duration::ZERO, hex32(&l["target"]), forward);
                continue;
            }
            let target = opt_hex(&step["target"]).map(|t| t.try_into().expect("32 bytes"));
            let token = opt_hex(&step["token"]).map(|t| t.try_into().expect("32 bytes"));
            let req = Request {
                tid: 1,
                to: Ipv4Address::new([9, 9, 9, 9], 49737),
                id: None,
                token,
                internal: false,
                command: u64_of(&step["command"]),
                target,
                value: opt_hex(&step["value"]).map(Bytes::from),
            };
            let mut got = outcome_j(&node.handle(now, addr(&step["from"]), &req));
            let mut want = step["outcome"].clone();
            if req.command == dht_commands::LOOKUP && want["kind"] == "reply" {
                want["value"] = sorted_lookup(&want["value"]);
                got["value"] = sorted_lookup(&got["value"]);
            }
            assert_eq!(got, want, "{}: step {name:?}", path.display());
            cases.pass();
        }
        cases.report();
    }
}
