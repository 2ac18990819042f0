//! The Noise IK handshake (hyperdht's `lib/noise-wrap.js` over `noise-handshake` 4.2.0 and
//! `noise-curve-ed` 2.1.0) and a secret-stream started from its result
//! (`@hyperswarm/secret-stream` 6.9.2), against the JS reference, by schema: every
//! `noise-ik` file.
//!
//! Both sides are run with the recorded seeds: each must write exactly the recorded
//! messages, read the other's recorded message to the recorded payload, and finish with the
//! recorded keys and hash; a [`SecretStream`] built from that result must transmit exactly
//! the recorded header record and sealed message, and open the other side's.

use std::time::Duration;

use ferrocore_tests::{files, hex, hex32, name, Cases, Schema};
use ferrocore_wire::noise::{
    holepunch_secret, HandshakeResult, IkHandshake, KeyPair, NoiseWrap, IK_PROTOCOL_NAME,
    NS_PEER_HANDSHAKE, NS_PEER_HOLEPUNCH,
};
use ferrocore_wire::stream::{SecretStream, StreamConfig, StreamEvent};
use serde_json::Value;

const T0: Duration = Duration::ZERO;

fn seed_pair(v: &Value) -> KeyPair {
    let kp = KeyPair::from_seed(hex32(&v["seed"]));
    assert_eq!(kp.public_key, hex32(&v["publicKey"]));
    kp
}

/// Checks one side's finished handshake against the recorded `side`.
fn check_result(result: &HandshakeResult, case: &Value, side: &Value, what: &str) {
    assert_eq!(result.tx, hex32(&side["tx"]), "{what} tx");
    assert_eq!(result.rx, hex32(&side["rx"]), "{what} rx");
    assert_eq!(result.hash.to_vec(), hex(&case["hash"]), "{what} hash");
    assert_eq!(
        result.remote_public_key,
        hex32(&side["remotePublicKey"]),
        "{what} remote key"
    );
}

#[test]
fn ik_handshakes_match_noise_handshake() {
    let mut cases = Cases::new("noise-ik: IK messages, payloads, split");
    for (path, v) in files(Schema::NoiseIk) {
        let file = name(&path);
        assert_eq!(
            v["protocolName"].as_str().unwrap().as_bytes(),
            IK_PROTOCOL_NAME
        );
        assert_eq!(hex32(&v["nsPeerHandshake"]), NS_PEER_HANDSHAKE, "{file}");
        assert_eq!(hex32(&v["nsPeerHolepunch"]), NS_PEER_HOLEPUNCH, "{file}");
        for case in v["cases"].as_array().unwrap() {
            let what = format!("{file} {}", case["name"]);
            let prologue = hex(&case["prologue"]);
            let is = seed_pair(&case["initiatorStatic"]);
            let rs = seed_pair(&case["responderStatic"]);
            let ie = hex32(&case["initiatorEphemeral"]["seed"]);
            let re = hex32(&case["responderEphemeral"]["seed"]);
            assert_eq!(
                KeyPair::from_seed(ie).public_key,
                hex32(&case["initiatorEphemeral"]["publicKey"])
            );
            assert_eq!(
                KeyPair::from_seed(re).public_key,
                hex32(&case["responderEphemeral"]["publicKey"])
            );

            let mut ini = IkHandshake::initiator(is.clone(), rs.public_key, &prologue, ie);
            let mut res = IkHandshake::responder(rs.clone(), &prologue, re);
            let after_init = hex(&case["hashAfterInitialise"]);
            assert_eq!(ini.handshake_hash().to_vec(), after_init, "{what}");
            assert_eq!(res.handshake_hash().to_vec(), after_init, "{what}");

            let p1 = hex(&case["initiatorPayload"]);
            let p2 = hex(&case["responderPayload"]);
            let m1 = ini.write_message(&p1).unwrap();
            assert_eq!(m1, hex(&case["message1"]), "{what} message 1");
            assert_eq!(
                ini.handshake_hash().to_vec(),
                hex(&case["hashAfterMessage1"]),
                "{what}"
            );
            assert_eq!(res.read_message(&m1).unwrap(), p1, "{what} payload 1");
            assert_eq!(res.remote_static(), Some(is.public_key));
            let m2 = res.write_message(&p2).unwrap();
            assert_eq!(m2, hex(&case["message2"]), "{what} message 2");
            assert_eq!(ini.read_message(&m2).unwrap(), p2, "{what} payload 2");

            let (ri, rr) = (ini.finish().unwrap(), res.finish().unwrap());
            check_result(&ri, case, &case["initiator"], &what);
            check_result(&rr, case, &case["responder"], &what);
            assert_eq!(
                holepunch_secret(&ri.hash),
                hex32(&case["holepunchSecret"]),
                "{what}"
            );
            cases.pass();

            if prologue == NS_PEER_HANDSHAKE {
                // hyperdht's wrapper gives the same bytes, the holepunch secret and the
                // id the remote's header record must carry.
                let mut a = NoiseWrap::initiator(is.clone(), rs.public_key, ie);
                let mut b = NoiseWrap::responder(rs.clone(), re);
                assert_eq!(a.send(&p1).unwrap(), m1);
                assert_eq!(b.recv(&m1).unwrap(), p1);
                assert_eq!(b.send(&p2).unwrap(), m2);
                assert_eq!(a.recv(&m2).unwrap(), p2);
                for (w, side) in [(a, "initiator"), (b, "responder")] {
                    let r = w.finish().unwrap();
                    check_result(&r.handshake, case, &case[side], &what);
                    assert_eq!(r.holepunch_secret, hex32(&case["holepunchSecret"]));
                    assert_eq!(r.remote_id, hex32(&case[side]["remoteId"]), "{what} {side}");
                }
                cases.pass();
            }
        }
    }
    cases.report();
}

/// The handshake result of one recorded side, rebuilt by running the recorded handshake.
fn results(case: &Value) -> (HandshakeResult, HandshakeResult) {
    let prologue = hex(&case["prologue"]);
    let rs = seed_pair(&case["responderStatic"]);
    let mut ini = IkHandshake::initiator(
        seed_pair(&case["initiatorStatic"]),
        rs.public_key,
        &prologue,
        hex32(&case["initiatorEphemeral"]["seed"]),
    );
    let mut res = IkHandshake::responder(rs, &prologue, hex32(&case["responderEphemeral"]["seed"]));
    let m1 = ini.write_message(&hex(&case["initiatorPayload"])).unwrap();
    res.read_message(&m1).unwrap();
    let m2 = res.write_message(&hex(&case["responderPayload"])).unwrap();
    ini.read_message(&m2).unwrap();
    (ini.finish().unwrap(), res.finish().unwrap())
}

#[test]
fn secret_streams_started_from_ik_match_secret_stream() {
    let mut cases = Cases::new("noise-ik: secret-stream header records and first messages");
    for (path, v) in files(Schema::NoiseIk) {
        let file = name(&path);
        for case in v["cases"].as_array().unwrap() {
            let (ri, rr) = results(case);
            let mut streams = Vec::new();
            for (result, side) in [(&ri, "initiator"), (&rr, "responder")] {
                let what = format!("{file} {} {side}", case["name"]);
                let s = &case[side];
                let header: [u8; 24] = hex(&s["secretstreamHeader"]).try_into().unwrap();
                let mut stream =
                    SecretStream::from_handshake(StreamConfig::default(), result, header, T0);
                let first = stream.poll_transmit().expect("the header record, at once");
                assert_eq!(
                    first.to_vec(),
                    hex(&s["headerFrame"]),
                    "{what} header record"
                );
                assert_eq!(&first[3..35], hex32(&s["streamId"]).as_slice());
                match stream.poll_event() {
                    Some(StreamEvent::Connected(c)) => {
                        assert_eq!(c.remote_public_key, hex32(&s["remotePublicKey"]));
                        assert_eq!(c.role, result.role);
                    }
                    other => panic!("{what}: expected Connected, got {other:?}"),
                }
                stream.send(&hex(&s["message"])).unwrap();
                let sealed = stream.poll_transmit().unwrap();
                assert_eq!(sealed.to_vec(), hex(&s["messageFrame"]), "{what} message");
                if hex(&s["message"]).is_empty() {
                    // JS's keep-alive is `write(empty)`: an idle stream started from the
                    // handshake sends exactly that record once the keep-alive is due.
                    let config = StreamConfig::default();
                    let mut idle = SecretStream::from_handshake(config, result, header, T0);
                    idle.poll_transmit().unwrap();
                    let due = idle.poll_timeout().expect("a keep-alive deadline");
                    assert_eq!(due, T0 + config.keep_alive.unwrap());
                    idle.handle_timeout(due).unwrap();
                    let keep_alive = idle.poll_transmit().expect("a keep-alive");
                    assert_eq!(keep_alive.to_vec(), hex(&s["messageFrame"]), "{what}");
                    cases.pass();
                }
                streams.push(stream);
                cases.pass();
            }
            // Each side opens what the other side's JS stream wrote.
            for (stream, from) in streams.iter_mut().zip(["responder", "initiator"]) {
                let what = format!("{file} {} from {from}", case["name"]);
                let s = &case[from];
                stream.handle_input(T0, &hex(&s["headerFrame"])).unwrap();
                stream.handle_input(T0, &hex(&s["messageFrame"])).unwrap();
                let message = hex(&s["message"]);
                if message.is_empty() {
                    // An empty record is a keep-alive (hypercore's streams filter them).
                    assert_eq!(stream.poll_event(), None, "{what}");
                } else {
                    assert_eq!(
                        stream.poll_event(),
                        Some(StreamEvent::Message(message.into())),
                        "{what}"
                    );
                }
                assert!(!stream.is_failed());
                cases.pass();
            }
            // A header record naming the stream id of the wrong side is refused.
            let mut wrong = SecretStream::from_handshake(StreamConfig::default(), &ri, [0; 24], T0);
            assert!(wrong
                .handle_input(T0, &hex(&case["initiator"]["headerFrame"]))
                .is_err());
            assert!(wrong.is_failed());
            cases.pass();
        }
    }
    cases.report();
}
