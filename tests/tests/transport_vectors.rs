//! The Noise XX handshake, secretstream and the secret-stream state machine against the
//! JS reference (`@hyperswarm/secret-stream` 6.9.2, `noise-handshake` 4.2.0,
//! `sodium-native` 5.1.0), by schema: every `noise-handshake` file and every `session` file.
//!
//! The recorded streams are replayed through two [`SecretStream`]s built with the recorded
//! seeds and secretstream headers: each side must transmit exactly the recorded bytes
//! (handshake, header record, every sealed record of the recorded plaintexts) and decrypt
//! the other side's recorded bytes to the recorded plaintexts.

use std::time::Duration;

use ferrocore_tests::{files, hex, hex32, name, Cases, Schema};
use ferrocore_wire::noise::{Handshake, KeyPair, Role};
use ferrocore_wire::secretstream::{Pull, Push, ABYTES, TAG_MESSAGE};
use ferrocore_wire::stream::{stream_id, Entropy, SecretStream, StreamConfig, StreamEvent};
use serde_json::Value;

fn hex64(v: &Value) -> [u8; 64] {
    hex(v).try_into().expect("64 bytes")
}

fn header24(v: &Value) -> [u8; 24] {
    hex(v).try_into().expect("24 bytes")
}

#[test]
fn noise_dh_states_messages_and_split() {
    let mut cases = Cases::new("noise-handshake: DH, states, messages, split");
    for (path, v) in files(Schema::NoiseHandshake) {
        let file = name(&path);
        assert_eq!(
            v["protocolName"], "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b",
            "{file}"
        );
        let keys = &v["keys"];
        let kp = |k: &str| KeyPair::from_seed(hex32(&keys[k]["seed"]));
        for k in [
            "initiatorStatic",
            "responderStatic",
            "initiatorEphemeral",
            "responderEphemeral",
        ] {
            assert_eq!(kp(k).public_key, hex32(&keys[k]["publicKey"]), "{file} {k}");
            assert_eq!(kp(k).secret_key, hex64(&keys[k]["secretKey"]), "{file} {k}");
            cases.pass();
        }
        let dh = &v["dh"];
        let pk = |k: &str| kp(k).public_key;
        for (ours, theirs, field) in [
            ("initiatorEphemeral", "responderEphemeral", "ee"),
            (
                "initiatorEphemeral",
                "responderStatic",
                "es_initiator_e_x_responder_s",
            ),
            (
                "responderStatic",
                "initiatorEphemeral",
                "es_responder_s_x_initiator_e",
            ),
            (
                "initiatorStatic",
                "responderEphemeral",
                "se_initiator_s_x_responder_e",
            ),
            (
                "responderEphemeral",
                "initiatorStatic",
                "se_responder_e_x_initiator_s",
            ),
        ] {
            assert_eq!(
                kp(ours).dh(&pk(theirs)).unwrap(),
                hex32(&dh[field]),
                "{file} dh {field}"
            );
            cases.pass();
        }

        let mut i = Handshake::initiator(
            kp("initiatorStatic"),
            hex32(&keys["initiatorEphemeral"]["seed"]),
        );
        let mut r = Handshake::responder(
            kp("responderStatic"),
            hex32(&keys["responderEphemeral"]["seed"]),
        );
        let st = &v["states"];
        let check = |h: &Handshake, state: &Value, what: &str, cases: &mut Cases| {
            assert_eq!(
                h.handshake_hash()[..],
                hex(&state["h"])[..],
                "{file} {what} h"
            );
            assert_eq!(
                h.chaining_key()[..],
                hex(&state["ck"])[..],
                "{file} {what} ck"
            );
            cases.pass();
        };
        check(
            &i,
            &st["afterInitialise"]["initiator"],
            "afterInitialise",
            &mut cases,
        );
        check(
            &r,
            &st["afterInitialise"]["responder"],
            "afterInitialise",
            &mut cases,
        );
        let m1 = i.initial_message().unwrap();
        check(
            &i,
            &st["initiatorAfterSendMsg1"],
            "initiatorAfterSendMsg1",
            &mut cases,
        );
        assert_eq!(m1, hex(&v["messages"]["msg1"]), "{file} msg1");
        let m2 = r.read_message(&m1).unwrap().expect("msg2");
        check(
            &r,
            &st["responderAfterSendMsg2"],
            "responderAfterSendMsg2",
            &mut cases,
        );
        assert_eq!(m2, hex(&v["messages"]["msg2"]), "{file} msg2");
        let m3 = i.read_message(&m2).unwrap().expect("msg3");
        assert_eq!(m3, hex(&v["messages"]["msg3"]), "{file} msg3");
        check(
            &i,
            &st["beforeSplit"]["initiator"],
            "beforeSplit",
            &mut cases,
        );
        assert!(r.read_message(&m3).unwrap().is_none());
        check(
            &r,
            &st["beforeSplit"]["responder"],
            "beforeSplit",
            &mut cases,
        );

        let (a, b) = (i.finish().unwrap(), r.finish().unwrap());
        let res = &v["result"];
        assert_eq!(a.hash[..], hex(&res["handshakeHash"])[..], "{file}");
        assert_eq!(
            b.hash[..],
            hex(&res["handshakeHashResponderView"])[..],
            "{file}"
        );
        assert_eq!(a.tx, hex32(&res["initiatorTx"]), "{file}");
        assert_eq!(a.rx, hex32(&res["initiatorRx"]), "{file}");
        assert_eq!(b.tx, hex32(&res["responderTx"]), "{file}");
        assert_eq!(b.rx, hex32(&res["responderRx"]), "{file}");
        assert_eq!(
            a.remote_public_key,
            hex32(&res["initiatorRemoteStatic"]),
            "{file}"
        );
        assert_eq!(
            b.remote_public_key,
            hex32(&res["responderRemoteStatic"]),
            "{file}"
        );
        let t = &v["secretStream"]["transport"];
        assert_eq!(
            stream_id(&a.hash, Role::Initiator),
            hex32(&t["initiatorStreamId"]),
            "{file}"
        );
        assert_eq!(
            stream_id(&a.hash, Role::Responder),
            hex32(&t["responderStreamId"]),
            "{file}"
        );
        cases.pass();
    }
    cases.report();
}

/// The seeds, keys and headers a recorded stream was made with.
struct Recording<'a> {
    static_seeds: [[u8; 32]; 2],
    ephemeral_seeds: [[u8; 32]; 2],
    transport: &'a Value,
    chunks: &'a [Value],
}

fn side(from: &Value) -> usize {
    match from.as_str() {
        Some("initiator") => 0,
        Some("responder") => 1,
        other => panic!("unknown side {other:?}"),
    }
}

/// Replays `rec` through two state machines, feeding each received chunk `split` bytes at
/// a time; returns the number of sealed records checked.
fn replay(file: &str, rec: &Recording<'_>, split: usize) -> usize {
    let t = Duration::ZERO;
    let headers = [
        header24(&rec.transport["initiatorSecretstreamHeader"]),
        header24(&rec.transport["responderSecretstreamHeader"]),
    ];
    let mut streams = [Role::Initiator, Role::Responder].map(|role| {
        let i = usize::from(role == Role::Responder);
        SecretStream::new(
            StreamConfig::default(),
            role,
            KeyPair::from_seed(rec.static_seeds[i]),
            Entropy {
                ephemeral_seed: rec.ephemeral_seeds[i],
                header: headers[i],
            },
            t,
        )
    });
    let mut sent: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut expected: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut records = 0;
    for chunk in rec.chunks {
        let from = side(&chunk["from"]);
        let to = 1 - from;
        let bytes = hex(&chunk["hex"]);
        expected[from].extend_from_slice(&bytes);
        // A chunk without a kind is a record the generator did not decrypt (written as the
        // JS side shut down): the receiver decrypts it, the sender must seal the same bytes.
        let kind = chunk["kind"].as_str().unwrap_or("secretstream-message");
        if kind == "secretstream-message" {
            // The receiving side must report the recorded plaintext (keep-alives: nothing).
            for piece in bytes.chunks(split) {
                streams[to]
                    .handle_input(t, piece)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
            }
            let mut got = None;
            while let Some(ev) = streams[to].poll_event() {
                match ev {
                    StreamEvent::Message(m) => got = Some(m),
                    StreamEvent::Connected(_) => {}
                    StreamEvent::RemoteEnded => panic!("{file}: unexpected end"),
                }
            }
            let plain = match chunk.get("plaintextHex") {
                Some(p) => hex(p),
                None => got.as_deref().unwrap_or_default().to_vec(),
            };
            if plain.is_empty() {
                assert!(got.is_none(), "{file}: a keep-alive is not reported");
            } else {
                assert_eq!(
                    got.as_deref(),
                    Some(&plain[..]),
                    "{file} seq {}",
                    chunk["seq"]
                );
            }
            streams[from].send(&plain).unwrap();
            records += 1;
        } else {
            for piece in bytes.chunks(split) {
                streams[to]
                    .handle_input(t, piece)
                    .unwrap_or_else(|e| panic!("{file}: {e}"));
            }
        }
        while let Some(out) = streams[from].poll_transmit() {
            sent[from].extend_from_slice(&out);
        }
        while let Some(out) = streams[to].poll_transmit() {
            sent[to].extend_from_slice(&out);
        }
    }
    for i in 0..2 {
        assert_eq!(
            hex::encode(&sent[i]),
            hex::encode(&expected[i]),
            "{file}: bytes sent by side {i} (split {split})"
        );
    }
    records
}

#[test]
fn secret_stream_replays_every_recorded_stream_byte_for_byte() {
    let mut cases = Cases::new("secret-stream: recorded streams replayed");
    for (path, v) in files(Schema::NoiseHandshake) {
        let keys = &v["keys"];
        let seed = |k: &str| hex32(&keys[k]["seed"]);
        let ss = &v["secretStream"];
        let mut chunks: Vec<Value> = ss["framedMessages"]
            .as_array()
            .expect("framedMessages")
            .iter()
            .map(|m| {
                serde_json::json!({"from": m["from"], "hex": m["hex"], "kind": "noise-handshake"})
            })
            .collect();
        chunks.extend(
            ss["firstTransportChunks"]
                .as_array()
                .expect("chunks")
                .iter()
                .cloned(),
        );
        let rec = Recording {
            static_seeds: [seed("initiatorStatic"), seed("responderStatic")],
            ephemeral_seeds: [seed("initiatorEphemeral"), seed("responderEphemeral")],
            transport: &ss["transport"],
            chunks: &chunks,
        };
        for split in [1, 7, usize::MAX] {
            assert!(replay(&name(&path), &rec, split) > 0);
            cases.pass();
        }
    }
    for (path, v) in files(Schema::Session) {
        let rec = Recording {
            static_seeds: [
                hex32(&v["noiseStatic"]["initiatorSeed"]),
                hex32(&v["noiseStatic"]["responderSeed"]),
            ],
            ephemeral_seeds: [
                hex32(&v["noiseEphemeral"]["initiatorSeed"]),
                hex32(&v["noiseEphemeral"]["responderSeed"]),
            ],
            transport: &v["transport"],
            chunks: v["rawChunks"].as_array().expect("rawChunks"),
        };
        for split in [1, 5, usize::MAX] {
            let n = replay(&name(&path), &rec, split);
            assert!(n > 5, "{}: {n} records", name(&path));
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn secretstream_pull_decrypts_every_recorded_record_and_push_reseals_it() {
    let mut cases = Cases::new("secretstream: recorded records, push and pull");
    for (path, v) in files(Schema::Session) {
        let file = name(&path);
        let t = &v["transport"];
        for (who, key, header) in [
            ("initiator", "initiatorTxKey", "initiatorSecretstreamHeader"),
            ("responder", "responderTxKey", "responderSecretstreamHeader"),
        ] {
            let (k, h) = (hex32(&t[key]), header24(&t[header]));
            let (mut push, mut pull) = (Push::new(&k, &h), Pull::new(&k, &h));
            for c in v["rawChunks"].as_array().unwrap() {
                if c["from"] != who || c["kind"] != "secretstream-message" {
                    continue;
                }
                let raw = hex(&c["hex"]);
                let plain = hex(&c["plaintextHex"]);
                let mut record = raw[3..].to_vec();
                let (tag, got) = pull
                    .open(&mut record)
                    .unwrap_or_else(|_| panic!("{file} seq {}", c["seq"]));
                assert_eq!((tag, &*got), (TAG_MESSAGE, &plain[..]), "{file}");
                let mut mine = vec![0u8; plain.len() + ABYTES];
                mine[1..=plain.len()].copy_from_slice(&plain);
                push.seal(&mut mine, TAG_MESSAGE);
                assert_eq!(mine, raw[3..], "{file} seq {}", c["seq"]);
                cases.pass();
            }
        }
    }
    cases.report();
}

#[test]
fn stream_id_namespaces_match_the_constants() {
    let mut cases = Cases::new("constants: secret-stream namespaces");
    for (path, v) in files(Schema::Constants) {
        let ns = &v["secretStreamNamespace"];
        assert_eq!(
            ferrocore_wire::stream::NS_INITIATOR,
            hex32(&ns["NS_INITIATOR"]),
            "{}",
            name(&path)
        );
        assert_eq!(
            ferrocore_wire::stream::NS_RESPONDER,
            hex32(&ns["NS_RESPONDER"]),
            "{}",
            name(&path)
        );
        cases.pass();
    }
    cases.report();
}
