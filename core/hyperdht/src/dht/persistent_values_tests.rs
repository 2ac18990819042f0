//! Mutable and immutable records (`MUTABLE_PUT/GET`, `IMMUTABLE_PUT/GET`).

use super::tests::{all_dropped, handle, kp, node, reply, request, ALICE, H, MALLORY, S};
use super::*;
use alloc::vec;
use ferrocore::keys::KeyPair;
use ferrocore_wire::dht::MutableGetRequest;

fn mutable_put(k: &KeyPair, seq: u64, value: &[u8]) -> Request {
    let v = MutablePutRequest {
        public_key: k.public_key,
        seq,
        value: Bytes::copy_from_slice(value),
        signature: k.sign(&mutable_signable(seq, value)),
    };
    request(
        cmd::MUTABLE_PUT,
        Some(mutable_target(&k.public_key)),
        true,
        Some(v.to_vec()),
    )
}

fn mutable_get(
    p: &mut Persistent,
    r: &mut Router,
    now: Duration,
    k: &KeyPair,
    seq: u64,
) -> Option<MutableGetResponse> {
    let req = request(
        cmd::MUTABLE_GET,
        Some(mutable_target(&k.public_key)),
        false,
        Some(MutableGetRequest { seq }.to_vec()),
    );
    let rep = reply(handle(p, r, now, ALICE, &req));
    assert!(rep.token && rep.closer_nodes);
    rep.value
        .map(|v| MutableGetResponse::decode_exact(&v).unwrap())
}

fn put(p: &mut Persistent, r: &mut Router, k: &KeyPair, seq: u64, value: &[u8]) -> Reply {
    reply(handle(p, r, S(0), ALICE, &mutable_put(k, seq, value)))
}

#[test]
fn mutable_records_follow_the_sequence_rules_with_js_error_codes() {
    let (mut p, mut r) = node();
    let k = kp(8);
    let ok = Reply::ok(ALICE, None, true, true);
    assert_eq!(put(&mut p, &mut r, &k, 5, b"five"), ok);
    let got = mutable_get(&mut p, &mut r, S(0), &k, 0).unwrap();
    assert_eq!((got.seq, &got.value[..]), (5, &b"five"[..]));
    assert_eq!(got.signature, k.sign(&mutable_signable(5, b"five")));
    assert_eq!(mutable_get(&mut p, &mut r, S(0), &k, 5).unwrap().seq, 5);
    assert_eq!(
        mutable_get(&mut p, &mut r, S(0), &k, 6),
        None,
        "older than asked"
    );
    // The same put again is fine; the same seq with another value is not.
    assert_eq!(put(&mut p, &mut r, &k, 5, b"five"), ok);
    let e = put(&mut p, &mut r, &k, 5, b"FIVE");
    assert_eq!(e, Reply::error(ALICE, errors::SEQ_REUSED));
    assert_eq!((e.error, e.token, e.closer_nodes), (16, false, true));
    let e = put(&mut p, &mut r, &k, 4, b"four");
    assert_eq!(e.error, 17);
    assert_eq!(
        &mutable_get(&mut p, &mut r, S(0), &k, 0).unwrap().value[..],
        b"five"
    );
    assert_eq!(put(&mut p, &mut r, &k, 6, b"six"), ok);
    assert_eq!(mutable_get(&mut p, &mut r, S(0), &k, 0).unwrap().seq, 6);
    assert_eq!(mutable_get(&mut p, &mut r, S(0), &kp(9), 0), None);
}

#[test]
fn bad_mutable_puts_and_gets_are_dropped() {
    let (mut p, mut r) = node();
    let (k, mallory) = (kp(8), kp(2));
    let mut forged = mutable_put(&k, 1, b"v");
    let mut req = MutablePutRequest::decode_from(forged.value.as_ref().unwrap()).unwrap();
    req.signature = mallory.sign(&mutable_signable(1, b"v"));
    forged.value = Some(req.to_vec().into());
    let mut wrong_target = mutable_put(&k, 1, b"v");
    wrong_target.target = Some(mutable_target(&mallory.public_key));
    let mut no_token = mutable_put(&k, 1, b"v");
    no_token.token = None;
    let mut truncated = mutable_put(&k, 1, b"v");
    truncated.value = truncated.value.map(|v| v.slice(..v.len() - 1));
    let t = Some(mutable_target(&k.public_key));
    let cases = [
        forged,
        wrong_target,
        no_token,
        truncated,
        request(cmd::MUTABLE_PUT, t, true, None),
        request(cmd::MUTABLE_GET, t, false, None),
        request(cmd::MUTABLE_GET, t, false, Some(vec![])),
        request(cmd::MUTABLE_GET, t, false, Some(vec![0xfd, 1])),
    ];
    all_dropped(&mut p, &mut r, &cases);
    assert_eq!(p.sizes().3, 0);
}

#[test]
fn immutable_values_are_stored_under_their_hash_only() {
    let (mut p, mut r) = node();
    let value = vec![0x5a; 60_000]; // about the largest a datagram carries; JS sets no cap
    let t = immutable_target(&value);
    let get = |p: &mut Persistent, r: &mut Router, now| {
        reply(handle(
            p,
            r,
            now,
            ALICE,
            &request(cmd::IMMUTABLE_GET, Some(t), false, None),
        ))
    };
    assert_eq!(
        get(&mut p, &mut r, S(0)),
        Reply::ok(ALICE, None, true, true)
    );
    let bad = [
        request(cmd::IMMUTABLE_PUT, Some([0; 32]), true, Some(value.clone())),
        request(cmd::IMMUTABLE_PUT, Some(t), false, Some(value.clone())),
        request(cmd::IMMUTABLE_PUT, Some(t), true, None),
        request(cmd::IMMUTABLE_GET, None, false, None),
    ];
    all_dropped(&mut p, &mut r, &bad);
    let put = request(cmd::IMMUTABLE_PUT, Some(t), true, Some(value.clone()));
    assert_eq!(
        reply(handle(&mut p, &mut r, S(0), ALICE, &put)),
        Reply::ok(ALICE, None, true, true)
    );
    assert_eq!(get(&mut p, &mut r, S(1)).value.as_deref(), Some(&value[..]));
    // The 48-hour age: the timer fires every 32 h (32, 64, 96, 128 h); an entry dies at
    // the second firing after its last get.
    assert!(get(&mut p, &mut r, H(63)).value.is_some(), "a get keeps it");
    assert!(get(&mut p, &mut r, H(95)).value.is_some());
    assert!(get(&mut p, &mut r, H(128)).value.is_none());
}

#[test]
fn a_flood_of_values_stays_within_the_caps() {
    let mut p = Persistent::new(Config::from_options(Some(64), None), Duration::ZERO, 3);
    let mut r = Router::new(Duration::ZERO, 64, DEFAULT_MAX_AGE);
    for i in 0u32..1000 {
        let v = i.to_le_bytes().to_vec();
        let put = request(
            cmd::IMMUTABLE_PUT,
            Some(immutable_target(&v)),
            true,
            Some(v),
        );
        reply(handle(&mut p, &mut r, S(0), MALLORY, &put));
        assert!(p.sizes().4 <= 64);
    }
    for i in 0u8..100 {
        reply(handle(
            &mut p,
            &mut r,
            S(0),
            MALLORY,
            &mutable_put(&kp(i), 1, b"x"),
        ));
        assert!(p.sizes().3 <= 64);
    }
}
