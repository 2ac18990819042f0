//! Hostile peers against the persistent node's records (`hyperdht/lib/persistent.js`,
//! `dht-rpc/lib/io.js`): bad and expired tokens get `INVALID_TOKEN` (with a fresh token),
//! forged, replayed and strangers' announces are dropped unanswered and change nothing,
//! floods of announces and values from one address keep the store within its caps.

mod hostile;

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use ferrocore_hyperdht::rpc::io::{DRAIN_INTERVAL, ROTATE_SECRETS};
use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    announce_signable, dht_commands as cmd, errors, immutable_target, Announce, LookupRawReply,
    Peer, Response,
};
use ferrocore_wire::{Decode, Encode};
use hostile::{addr, request, Victim};

const TOPIC: [u8; 32] = [0x77; 32];

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn one(replies: Vec<Response>) -> Response {
    assert_eq!(replies.len(), 1, "exactly one reply: {replies:?}");
    replies.into_iter().next().unwrap()
}

/// The token the victim hands `from` (in its reply to a LOOKUP).
fn token_for(v: &mut Victim, from: u16) -> [u8; 32] {
    let r = one(v.ask(
        addr(from),
        request(addr(from), 1, cmd::LOOKUP, TOPIC, None, None),
    ));
    r.token.expect("a lookup reply carries a token")
}

/// An ANNOUNCE (or UNANNOUNCE) value for `peer`, signed by `signer` over `target`/`token`.
fn signed(
    ns: &[u8; 32],
    v: &Victim,
    target: &[u8; 32],
    token: &[u8; 32],
    peer: Peer,
    signer: &SigningKey,
) -> Bytes {
    let signable = announce_signable(ns, target, &v.id(), token, &peer, None);
    let a = Announce {
        peer: Some(peer),
        refresh: None,
        signature: Some(signer.sign(&signable).to_bytes()),
        bump: 0,
    };
    Bytes::from(a.to_vec())
}

fn peer_of(k: &SigningKey, relays: u16) -> Peer {
    Peer {
        public_key: k.verifying_key().to_bytes(),
        relay_addresses: (0..relays).map(addr).collect(),
    }
}

/// The records a LOOKUP of `target` returns.
fn lookup(v: &mut Victim, target: [u8; 32]) -> Vec<Peer> {
    let r = one(v.ask(
        addr(200),
        request(addr(200), 9, cmd::LOOKUP, target, None, None),
    ));
    match r.value {
        Some(b) => LookupRawReply::decode_from(&b).unwrap().peers,
        None => Vec::new(),
    }
}

fn announce(
    v: &mut Victim,
    from: u16,
    target: [u8; 32],
    token: [u8; 32],
    value: Bytes,
) -> Vec<Response> {
    let req = request(
        addr(from),
        2,
        cmd::ANNOUNCE,
        target,
        Some(token),
        Some(value),
    );
    v.ask(addr(from), req)
}

#[test]
fn a_token_of_another_address_or_two_rotations_old_is_invalid() {
    let mut v = Victim::new(0);
    let k = key(1);
    let token = token_for(&mut v, 1);

    // another address presenting it: INVALID_TOKEN, with that address's own token
    let value = signed(&NS_ANNOUNCE, &v, &TOPIC, &token, peer_of(&k, 0), &k);
    let r = one(announce(&mut v, 2, TOPIC, token, value.clone()));
    assert_eq!(r.error, errors::INVALID_TOKEN);
    assert!(
        r.token.is_some_and(|t| t != token),
        "a fresh token for the asker"
    );
    assert_eq!(v.sizes().0, 0);

    // one rotation later the token is still accepted (previous secret)...
    let rotation = DRAIN_INTERVAL * ROTATE_SECRETS;
    v.advance(rotation + DRAIN_INTERVAL);
    let r = one(announce(&mut v, 1, TOPIC, token, value.clone()));
    assert_eq!(r.error, errors::NONE, "one rotation old: valid");
    assert_eq!(lookup(&mut v, TOPIC).len(), 1);

    // ...after a second rotation it is not
    v.advance(rotation);
    let r = one(announce(&mut v, 1, TOPIC, token, value));
    assert_eq!(r.error, errors::INVALID_TOKEN, "two rotations old: invalid");
}

#[test]
fn forged_announces_are_dropped_unanswered_and_store_nothing() {
    let mut v = Victim::new(0);
    let (owner, stranger) = (key(1), key(2));
    let token = token_for(&mut v, 1);

    // signed by a key other than the record's
    let forged = signed(
        &NS_ANNOUNCE,
        &v,
        &TOPIC,
        &token,
        peer_of(&owner, 0),
        &stranger,
    );
    assert!(
        announce(&mut v, 1, TOPIC, token, forged).is_empty(),
        "JS drops it: no reply"
    );
    // no signature at all
    let unsigned = Announce {
        peer: Some(peer_of(&owner, 0)),
        ..Announce::default()
    };
    assert!(announce(&mut v, 1, TOPIC, token, Bytes::from(unsigned.to_vec())).is_empty());
    // an undecodable value
    assert!(announce(&mut v, 1, TOPIC, token, Bytes::from_static(&[0xff; 9])).is_empty());
    assert!(lookup(&mut v, TOPIC).is_empty());
    assert_eq!(v.sizes().0, 0);

    // the owner's valid announce, replayed on another target: the signature covers it
    let good = signed(&NS_ANNOUNCE, &v, &TOPIC, &token, peer_of(&owner, 0), &owner);
    assert_eq!(
        one(announce(&mut v, 1, TOPIC, token, good.clone())).error,
        errors::NONE
    );
    let other = [0x78; 32];
    assert!(
        announce(&mut v, 1, other, token, good.clone()).is_empty(),
        "replay on another target"
    );
    assert!(lookup(&mut v, other).is_empty());
    // replayed by another address (which has its own token): the signature covers the token
    let token3 = token_for(&mut v, 3);
    assert!(
        announce(&mut v, 3, TOPIC, token3, good).is_empty(),
        "replay with another token"
    );
    assert_eq!(lookup(&mut v, TOPIC).len(), 1);
}

#[test]
fn only_the_owner_can_unannounce() {
    let mut v = Victim::new(0);
    let (owner, stranger) = (key(1), key(2));
    let token = token_for(&mut v, 1);
    let good = signed(&NS_ANNOUNCE, &v, &TOPIC, &token, peer_of(&owner, 0), &owner);
    assert_eq!(
        one(announce(&mut v, 1, TOPIC, token, good)).error,
        errors::NONE
    );

    let unannounce = |v: &mut Victim, from: u16, token, value| {
        let req = request(
            addr(from),
            4,
            cmd::UNANNOUNCE,
            TOPIC,
            Some(token),
            Some(value),
        );
        v.ask(addr(from), req)
    };
    // a stranger signing the owner's record with its own key
    let t2 = token_for(&mut v, 2);
    let forged = signed(
        &NS_UNANNOUNCE,
        &v,
        &TOPIC,
        &t2,
        peer_of(&owner, 0),
        &stranger,
    );
    assert!(
        unannounce(&mut v, 2, t2, forged).is_empty(),
        "dropped unanswered"
    );
    // the owner's announce signature replayed as an unannounce (other namespace)
    let replay = signed(&NS_ANNOUNCE, &v, &TOPIC, &t2, peer_of(&owner, 0), &owner);
    assert!(unannounce(&mut v, 2, t2, replay).is_empty());
    assert_eq!(lookup(&mut v, TOPIC).len(), 1, "still announced");

    // the owner's own unannounce is acknowledged and removes the record
    let real = signed(
        &NS_UNANNOUNCE,
        &v,
        &TOPIC,
        &token,
        peer_of(&owner, 0),
        &owner,
    );
    assert_eq!(one(unannounce(&mut v, 1, token, real)).error, errors::NONE);
    assert!(lookup(&mut v, TOPIC).is_empty());
}

#[test]
fn oversize_and_mismatched_records_are_trimmed_or_refused() {
    let mut v = Victim::new(0);
    let k = key(1);
    let token = token_for(&mut v, 1);
    // 40 relay addresses: stored, but only the first 3 (MAX_RELAY_ADDRESSES)
    let big = signed(&NS_ANNOUNCE, &v, &TOPIC, &token, peer_of(&k, 40), &k);
    assert_eq!(
        one(announce(&mut v, 1, TOPIC, token, big)).error,
        errors::NONE
    );
    let peers = lookup(&mut v, TOPIC);
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].relay_addresses.len(), 3);

    // an immutable value that does not hash to its target is not stored
    let value = Bytes::from(vec![7u8; 900]);
    let wrong = [0x11; 32];
    let req = request(
        addr(1),
        5,
        cmd::IMMUTABLE_PUT,
        wrong,
        Some(token),
        Some(value.clone()),
    );
    assert!(v.ask(addr(1), req).is_empty());
    assert_eq!(v.sizes().4, 0);
    let req = request(
        addr(1),
        6,
        cmd::IMMUTABLE_PUT,
        immutable_target(&value),
        Some(token),
        Some(value),
    );
    assert_eq!(one(v.ask(addr(1), req)).error, errors::NONE);
    assert_eq!(v.sizes().4, 1);
}

#[test]
fn datagram_sized_values_are_stored_as_js_does_but_bounded_by_count() {
    // JS caps nothing but the count: a value is as large as a datagram allows (~64 KiB);
    // the values cache holds `CAP` per generation (xache), two generations
    const CAP: usize = 16;
    let mut v = Victim::new(2 * CAP);
    let token = token_for(&mut v, 1);
    for i in 0..200u8 {
        let value = Bytes::from(vec![i; 60_000]);
        let target = immutable_target(&value);
        let req = request(
            addr(1),
            8,
            cmd::IMMUTABLE_PUT,
            target,
            Some(token),
            Some(value),
        );
        assert_eq!(one(v.ask(addr(1), req)).error, errors::NONE);
        assert!(v.sizes().4 <= 2 * CAP, "{:?}", v.sizes());
    }
    assert!(v.sizes().4 > CAP, "both generations in use");
}

#[test]
fn a_flood_from_one_address_keeps_the_store_within_its_caps() {
    const CAP: usize = 64;
    let mut v = Victim::new(CAP);
    let token = token_for(&mut v, 1);
    let mut acked = 0;
    for i in 0..2_000u32 {
        let k = key((i % 200) as u8 + 1);
        let mut target = [0u8; 32];
        target[..4].copy_from_slice(&i.to_le_bytes());
        let value = signed(&NS_ANNOUNCE, &v, &target, &token, peer_of(&k, 3), &k);
        acked += announce(&mut v, 1, target, token, value).len();
        let blob = Bytes::from(i.to_le_bytes().to_vec());
        let req = request(
            addr(1),
            7,
            cmd::IMMUTABLE_PUT,
            immutable_target(&blob),
            Some(token),
            Some(blob),
        );
        acked += v.ask(addr(1), req).len();
        let (records, refreshes, bumps, mutables, immutables) = v.sizes();
        // two generations (record-cache rotates once the fresh one holds more than
        // `CAP`; xache once it holds `CAP`), values at half the size
        assert!(records <= 2 * CAP + 1, "{:?}", v.sizes());
        assert!(refreshes <= 2 * CAP && bumps <= 2 * CAP, "{:?}", v.sizes());
        assert!(mutables <= CAP && immutables <= CAP, "{:?}", v.sizes());
        assert!(
            v.dht.node().io().inflight() == 0,
            "answering sends no requests"
        );
    }
    assert_eq!(acked, 4_000, "each flood request was answered once");
    // ...and what it evicted is gone, the latest ones are kept
    let mut last = [0u8; 32];
    last[..4].copy_from_slice(&1_999u32.to_le_bytes());
    assert_eq!(lookup(&mut v, last).len(), 1);
    assert!(
        lookup(&mut v, [0; 32]).is_empty(),
        "the first record was evicted"
    );
}
