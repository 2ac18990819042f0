use super::*;
use alloc::vec;
use alloc::vec::Vec;
use ferrocore::keys::KeyPair;
use ferrocore_wire::dht::LookupRawReply;

const NODE_ID: [u8; 32] = [0x11; 32];
const TOKEN: [u8; 32] = [0x22; 32];
const US: Ipv4Address = Ipv4Address::new([9, 9, 9, 9], 49737);
pub(super) const ALICE: Ipv4Address = Ipv4Address::new([10, 0, 0, 1], 4001);
pub(super) const MALLORY: Ipv4Address = Ipv4Address::new([10, 0, 0, 66], 6666);
pub(super) const H: fn(u64) -> Duration = |h| Duration::from_secs(h * 3600);
pub(super) const S: fn(u64) -> Duration = Duration::from_secs;

pub(super) fn kp(n: u8) -> KeyPair {
    KeyPair::from_seed(&[n; 32])
}

pub(super) fn node() -> (Persistent, Router) {
    (
        Persistent::new(Config::default(), Duration::ZERO, 7),
        Router::new(Duration::ZERO, DEFAULT_MAX_SIZE, DEFAULT_MAX_AGE),
    )
}

pub(super) fn request(
    command: u64,
    target: Option<Target>,
    token: bool,
    value: Option<Vec<u8>>,
) -> Request {
    Request {
        tid: 1,
        to: US,
        id: None,
        token: token.then_some(TOKEN),
        internal: false,
        command,
        target,
        value: value.map(Bytes::from),
    }
}

fn peer_of(k: &KeyPair, relays: usize) -> Peer {
    Peer {
        public_key: k.public_key,
        relay_addresses: (0..relays)
            .map(|i| Ipv4Address::new([1, 1, 1, i as u8], 1000))
            .collect(),
    }
}

/// An announce (or, with `NS_UNANNOUNCE`, unannounce) of `peer` signed by `signer`.
fn signed(
    ns: &[u8; 32],
    signer: &KeyPair,
    t: &Target,
    peer: Peer,
    refresh: Option<[u8; 32]>,
    bump: u64,
) -> Vec<u8> {
    let signable = announce_signable(ns, t, &NODE_ID, &TOKEN, &peer, refresh.as_ref());
    Announce {
        signature: Some(signer.sign(&signable)),
        peer: Some(peer),
        refresh,
        bump,
    }
    .to_vec()
}

/// An unannounce of `owner`'s record under [`TOPIC`] signed by `signer`.
fn unannounce_of(owner: &KeyPair, signer: &KeyPair) -> Vec<u8> {
    signed(&NS_UNANNOUNCE, signer, &TOPIC, peer_of(owner, 1), None, 0)
}

pub(super) fn handle(
    p: &mut Persistent,
    r: &mut Router,
    now: Duration,
    from: Ipv4Address,
    req: &Request,
) -> Outcome {
    p.handle_request(now, r, &NODE_ID, from, req)
}

fn send_announce(
    p: &mut Persistent,
    r: &mut Router,
    now: Duration,
    from: Ipv4Address,
    t: Target,
    v: Vec<u8>,
) -> Outcome {
    handle(
        p,
        r,
        now,
        from,
        &request(cmd::ANNOUNCE, Some(t), true, Some(v)),
    )
}

fn announce(p: &mut Persistent, r: &mut Router, now: Duration, t: &Target, k: &KeyPair) -> Outcome {
    let v = signed(&NS_ANNOUNCE, k, t, peer_of(k, 1), None, 0);
    handle(
        p,
        r,
        now,
        ALICE,
        &request(cmd::ANNOUNCE, Some(*t), true, Some(v)),
    )
}

pub(super) fn reply(o: Outcome) -> Reply {
    match o {
        Outcome::Reply(r) => r,
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn lookup(p: &mut Persistent, r: &mut Router, now: Duration, t: &Target) -> Option<LookupRawReply> {
    let rep = reply(handle(
        p,
        r,
        now,
        ALICE,
        &request(cmd::LOOKUP, Some(*t), false, None),
    ));
    assert!(rep.token && rep.closer_nodes && rep.error == 0);
    rep.value.map(|v| LookupRawReply::decode_from(&v).unwrap())
}

const TOPIC: Target = [0x77; 32];

pub(super) fn all_dropped(p: &mut Persistent, r: &mut Router, cases: &[Request]) {
    for (i, req) in cases.iter().enumerate() {
        assert_eq!(handle(p, r, S(0), MALLORY, req), Outcome::Drop, "case {i}");
    }
}

#[test]
fn the_configuration_follows_js_default_cache_opts() {
    let c = Config::default();
    assert_eq!(c.max_size, 65_536);
    assert_eq!(c.max_age, Duration::from_secs(1200));
    assert_eq!(c.values_max_size, 32_768);
    assert_eq!(c.values_max_age, H(48));
    let c = Config::from_options(Some(101), Some(S(30)));
    assert_eq!((c.max_size, c.values_max_size), (101, 50));
    assert_eq!((c.max_age, c.values_max_age), (S(30), S(30)));
    assert_eq!(
        Config::from_options(Some(0), Some(Duration::ZERO)),
        Config::default()
    );
}

#[test]
fn an_announce_is_stored_and_looked_up_with_js_reply_flags() {
    let (mut p, mut r) = node();
    let k = kp(1);
    let rep = reply(announce(&mut p, &mut r, S(0), &TOPIC, &k));
    assert_eq!(rep, Reply::ok(ALICE, None, false, false));
    let got = lookup(&mut p, &mut r, S(1), &TOPIC).unwrap();
    assert_eq!(got.peers, vec![peer_of(&k, 1)]);
    assert_eq!(got.bump, 0);
    assert_eq!(lookup(&mut p, &mut r, S(1), &[0; 32]), None);
    assert!(r.is_empty());
}

#[test]
fn announces_without_token_target_value_or_signature_are_dropped() {
    let (mut p, mut r) = node();
    let k = kp(1);
    let good = signed(&NS_ANNOUNCE, &k, &TOPIC, peer_of(&k, 1), None, 0);
    let mut unsigned = Announce::decode_from(&good).unwrap();
    unsigned.signature = None;
    let cases = [
        request(cmd::ANNOUNCE, Some(TOPIC), false, Some(good.clone())),
        request(cmd::ANNOUNCE, None, true, Some(good.clone())),
        request(cmd::ANNOUNCE, Some(TOPIC), true, None),
        request(cmd::ANNOUNCE, Some(TOPIC), true, Some(vec![1, 0, 0])),
        request(cmd::ANNOUNCE, Some(TOPIC), true, Some(unsigned.to_vec())),
        // Neither a peer nor a refresh.
        request(cmd::ANNOUNCE, Some(TOPIC), true, Some(vec![0])),
    ];
    all_dropped(&mut p, &mut r, &cases);
    assert_eq!(p.sizes().0, 0);
}

#[test]
fn forged_announce_signatures_are_dropped() {
    let (mut p, mut r) = node();
    let (victim, mallory) = (kp(1), kp(2));
    let t = TOPIC;
    // Signed by another key, over another target, node id or token, or the other namespace.
    let other_node = announce_signable(
        &NS_ANNOUNCE,
        &t,
        &[0; 32],
        &TOKEN,
        &peer_of(&victim, 1),
        None,
    );
    let forged = [
        signed(&NS_ANNOUNCE, &mallory, &t, peer_of(&victim, 1), None, 0),
        signed(
            &NS_ANNOUNCE,
            &victim,
            &[1; 32],
            peer_of(&victim, 1),
            None,
            0,
        ),
        signed(&NS_UNANNOUNCE, &victim, &t, peer_of(&victim, 1), None, 0),
        Announce {
            peer: Some(peer_of(&victim, 1)),
            refresh: None,
            signature: Some(victim.sign(&other_node)),
            bump: 0,
        }
        .to_vec(),
    ];
    let cases: Vec<_> = forged
        .into_iter()
        .map(|v| request(cmd::ANNOUNCE, Some(t), true, Some(v)))
        .collect();
    all_dropped(&mut p, &mut r, &cases);
    // A signed record whose relay list was tampered with afterwards.
    let mut tampered = Announce::decode_from(&signed(
        &NS_ANNOUNCE,
        &victim,
        &t,
        peer_of(&victim, 1),
        None,
        0,
    ))
    .unwrap();
    tampered.peer.as_mut().unwrap().relay_addresses[0] = MALLORY;
    let req = request(cmd::ANNOUNCE, Some(t), true, Some(tampered.to_vec()));
    assert_eq!(handle(&mut p, &mut r, S(0), MALLORY, &req), Outcome::Drop);
    assert_eq!(lookup(&mut p, &mut r, S(0), &t), None);
}

#[test]
fn relay_addresses_are_cut_to_three_after_the_signature_check() {
    let (mut p, mut r) = node();
    let k = kp(1);
    let v = signed(&NS_ANNOUNCE, &k, &TOPIC, peer_of(&k, 5), None, 0);
    reply(send_announce(&mut p, &mut r, S(0), ALICE, TOPIC, v));
    let got = lookup(&mut p, &mut r, S(0), &TOPIC).unwrap();
    assert_eq!(got.peers, vec![peer_of(&k, 3)]);
    assert_eq!(
        stored_record(&peer_of(&k, 5)),
        Bytes::from(peer_of(&k, 3).to_vec())
    );
}

fn find_peer(p: &mut Persistent, r: &mut Router, t: Target) -> Reply {
    reply(handle(
        p,
        r,
        S(1),
        MALLORY,
        &request(cmd::FIND_PEER, Some(t), false, None),
    ))
}

/// A node that took `kp(n)`'s announce under its own key's target.
fn own_key_announced(n: u8) -> (Persistent, Router, KeyPair, Target) {
    let (mut p, mut r) = node();
    let k = kp(n);
    let own = mutable_target(&k.public_key);
    reply(announce(&mut p, &mut r, S(0), &own, &k));
    (p, r, k, own)
}

#[test]
fn announcing_ones_own_key_sets_the_forward_that_find_peer_and_lookup_answer_with() {
    let (mut p, mut r, k, own) = own_key_announced(3);
    assert_eq!(
        p.sizes().0,
        0,
        "an own-key announce is a forward, not a record"
    );
    let fwd = r.get(S(0), &own).unwrap().clone();
    assert_eq!(fwd.relay, Some(ALICE));
    assert!(!fwd.local);
    let rep = find_peer(&mut p, &mut r, own);
    assert_eq!(
        rep,
        Reply::ok(MALLORY, Some(fwd.record.clone()), true, true)
    );
    assert_eq!(
        lookup(&mut p, &mut r, S(1), &own).unwrap().peers,
        vec![peer_of(&k, 1)]
    );
    let rep = find_peer(&mut p, &mut r, TOPIC);
    assert_eq!(rep.value, None);
}

#[test]
fn only_the_key_owner_can_unannounce_its_record() {
    let (mut p, mut r) = node();
    let (victim, mallory) = (kp(1), kp(2));
    reply(announce(&mut p, &mut r, S(0), &TOPIC, &victim));
    reply(announce(&mut p, &mut r, S(0), &TOPIC, &mallory));
    // Mallory signs an unannounce of the victim's record with her own key: dropped.
    let v = unannounce_of(&victim, &mallory);
    let req = request(cmd::UNANNOUNCE, Some(TOPIC), true, Some(v));
    assert_eq!(handle(&mut p, &mut r, S(1), MALLORY, &req), Outcome::Drop);
    // An announce signature does not work as an unannounce.
    let v = signed(&NS_ANNOUNCE, &victim, &TOPIC, peer_of(&victim, 1), None, 0);
    let req = request(cmd::UNANNOUNCE, Some(TOPIC), true, Some(v));
    assert_eq!(handle(&mut p, &mut r, S(1), MALLORY, &req), Outcome::Drop);
    // Without a token.
    let v = unannounce_of(&victim, &victim);
    let req = request(cmd::UNANNOUNCE, Some(TOPIC), false, Some(v.clone()));
    assert_eq!(handle(&mut p, &mut r, S(1), MALLORY, &req), Outcome::Drop);
    // Mallory's own unannounce removes only her record.
    let own = unannounce_of(&mallory, &mallory);
    let req = request(cmd::UNANNOUNCE, Some(TOPIC), true, Some(own));
    assert_eq!(
        reply(handle(&mut p, &mut r, S(1), MALLORY, &req)),
        Reply::ok(MALLORY, None, false, false)
    );
    assert_eq!(
        lookup(&mut p, &mut r, S(1), &TOPIC).unwrap().peers,
        vec![peer_of(&victim, 1)]
    );
    // The owner's signed unannounce works.
    let req = request(cmd::UNANNOUNCE, Some(TOPIC), true, Some(v));
    reply(handle(&mut p, &mut r, S(2), ALICE, &req));
    assert_eq!(lookup(&mut p, &mut r, S(2), &TOPIC), None);
}

#[test]
fn unannouncing_ones_own_key_removes_the_forward() {
    let (mut p, mut r, k, own) = own_key_announced(4);
    let v = signed(&NS_UNANNOUNCE, &k, &own, peer_of(&k, 1), None, 0);
    reply(handle(
        &mut p,
        &mut r,
        S(1),
        ALICE,
        &request(cmd::UNANNOUNCE, Some(own), true, Some(v)),
    ));
    assert!(r.get(S(1), &own).is_none());
}

#[test]
fn a_refresh_token_reannounces_once_then_needs_the_next_preimage() {
    let (mut p, mut r) = node();
    let k = kp(5);
    let s0 = [0xa0; 32];
    let s1 = mutable_target(&s0);
    let s2 = mutable_target(&s1);
    let v = signed(&NS_ANNOUNCE, &k, &TOPIC, peer_of(&k, 1), Some(s2), 0);
    reply(send_announce(&mut p, &mut r, S(0), ALICE, TOPIC, v));
    p.records.remove(S(0), &TOPIC, &k.public_key);
    let refresh = |s: [u8; 32]| {
        let v = Announce {
            refresh: Some(s),
            ..Announce::default()
        }
        .to_vec();
        // The target is not checked: the refresh entry knows its own.
        request(cmd::ANNOUNCE, Some([0; 32]), true, Some(v))
    };
    assert_eq!(
        reply(handle(&mut p, &mut r, S(1), ALICE, &refresh(s1))),
        Reply::ok(ALICE, None, false, false)
    );
    assert_eq!(
        lookup(&mut p, &mut r, S(1), &TOPIC).unwrap().peers,
        vec![peer_of(&k, 1)]
    );
    assert_eq!(
        handle(&mut p, &mut r, S(2), ALICE, &refresh(s1)),
        Outcome::Drop,
        "s1 is spent"
    );
    assert_eq!(
        handle(&mut p, &mut r, S(2), ALICE, &refresh(s2)),
        Outcome::Drop,
        "s2 is public"
    );
    reply(handle(&mut p, &mut r, S(2), ALICE, &refresh(s0)));
    let mut no_token = refresh(mutable_target(&s0));
    no_token.token = None;
    assert_eq!(
        handle(&mut p, &mut r, S(3), ALICE, &no_token),
        Outcome::Drop
    );
}

#[test]
fn a_refresh_of_an_own_key_announce_moves_the_forward_to_the_refresher() {
    let (mut p, mut r) = node();
    let k = kp(6);
    let own = mutable_target(&k.public_key);
    let s0 = [0xb0; 32];
    let v = signed(
        &NS_ANNOUNCE,
        &k,
        &own,
        peer_of(&k, 1),
        Some(mutable_target(&s0)),
        0,
    );
    reply(send_announce(&mut p, &mut r, S(0), ALICE, own, v));
    let v = Announce {
        refresh: Some(s0),
        ..Announce::default()
    }
    .to_vec();
    reply(send_announce(&mut p, &mut r, S(1), MALLORY, own, v));
    assert_eq!(r.get(S(1), &own).unwrap().relay, Some(MALLORY));
}

#[test]
fn bumps_rise_only_and_only_up_to_a_minute_past_the_wall_clock() {
    let config = Config {
        unix_origin_ms: 1_700_000_000_000,
        ..Config::default()
    };
    let mut p = Persistent::new(config, Duration::ZERO, 1);
    let mut r = Router::new(Duration::ZERO, 100, DEFAULT_MAX_AGE);
    let wall = 1_700_000_000_000 + 5_000; // at S(5)
    let mut send = |k: u8, bump: u64| {
        let k = kp(k);
        let v = signed(&NS_ANNOUNCE, &k, &TOPIC, peer_of(&k, 0), None, bump);
        reply(send_announce(&mut p, &mut r, S(5), ALICE, TOPIC, v));
        let rep = reply(handle(
            &mut p,
            &mut r,
            S(5),
            ALICE,
            &request(cmd::LOOKUP, Some(TOPIC), false, None),
        ));
        LookupRawReply::decode_from(&rep.value.unwrap())
            .unwrap()
            .bump
    };
    assert_eq!(send(1, wall), wall);
    assert_eq!(send(2, wall - 1), wall, "lower bump ignored");
    assert_eq!(send(3, wall + 60_001), wall, "too far ahead");
    assert_eq!(send(4, wall + 60_000), wall + 60_000);
}

#[test]
fn a_lookup_returns_at_most_twenty_distinct_records_and_the_forward_fills_a_gap() {
    let (mut p, mut r) = node();
    for i in 0..30 {
        reply(announce(&mut p, &mut r, S(0), &TOPIC, &kp(100 + i)));
    }
    let got = lookup(&mut p, &mut r, S(0), &TOPIC).unwrap();
    assert_eq!(got.peers.len(), MAX_LOOKUP_RECORDS);
    let mut keys: Vec<_> = got.peers.iter().map(|p| p.public_key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), MAX_LOOKUP_RECORDS);
    // A forward under the same target is added when there is room.
    let fwd = Forward {
        relay: None,
        record: Bytes::from(peer_of(&kp(9), 0).to_vec()),
        local: true,
    };
    r.set(S(0), TOPIC, fwd);
    assert!(!lookup(&mut p, &mut r, S(0), &TOPIC)
        .unwrap()
        .peers
        .contains(&peer_of(&kp(9), 0)));
    let small = [0x78; 32];
    reply(announce(&mut p, &mut r, S(0), &small, &kp(1)));
    r.set(
        S(0),
        small,
        Forward {
            relay: None,
            record: Bytes::from(peer_of(&kp(9), 0).to_vec()),
            local: true,
        },
    );
    assert_eq!(lookup(&mut p, &mut r, S(0), &small).unwrap().peers.len(), 2);
}

#[test]
fn records_age_out_after_two_to_four_thirds_of_max_age() {
    let (mut p, mut r) = node();
    reply(announce(&mut p, &mut r, S(0), &TOPIC, &kp(1)));
    // The timer fires every 800 s; a lookup does not refresh a record.
    assert!(lookup(&mut p, &mut r, S(1599), &TOPIC).is_some());
    assert!(lookup(&mut p, &mut r, S(1600), &TOPIC).is_none());
    assert_eq!(p.sizes().0, 0);
}

#[test]
fn a_flood_of_announces_stays_within_the_caps() {
    let mut p = Persistent::new(Config::from_options(Some(64), None), Duration::ZERO, 3);
    let mut r = Router::new(Duration::ZERO, 64, DEFAULT_MAX_AGE);
    let k = kp(1);
    let s0 = [1; 32];
    for i in 0u32..600 {
        let mut t = [0u8; 32];
        t[..4].copy_from_slice(&i.to_le_bytes());
        let v = signed(&NS_ANNOUNCE, &k, &t, peer_of(&k, 3), Some(s0), i.into());
        reply(send_announce(&mut p, &mut r, S(0), ALICE, t, v));
        let (records, refreshes, bumps, _, _) = p.sizes();
        assert!(records <= 2 * 64 + 1 && refreshes <= 2 * 64 && bumps <= 2 * 64);
    }
    for i in 0u8..200 {
        let k = kp(i);
        reply(announce(
            &mut p,
            &mut r,
            S(0),
            &mutable_target(&k.public_key),
            &k,
        ));
        assert!(r.len() <= 2 * 64);
    }
}

#[test]
fn other_commands_get_unknown_command_and_targetless_ones_are_dropped() {
    let (mut p, mut r) = node();
    for c in [cmd::PEER_HANDSHAKE, cmd::PEER_HOLEPUNCH, 11, 1000] {
        let rep = reply(handle(
            &mut p,
            &mut r,
            S(0),
            ALICE,
            &request(c, Some(TOPIC), true, Some(vec![0])),
        ));
        assert_eq!(rep, Reply::unknown_command(ALICE, true));
        assert_eq!(
            (rep.error, rep.token, rep.closer_nodes),
            (errors::UNKNOWN_COMMAND, false, true)
        );
        let rep = reply(handle(
            &mut p,
            &mut r,
            S(0),
            ALICE,
            &request(c, None, true, Some(vec![0])),
        ));
        assert!(!rep.closer_nodes);
    }
    let targetless: Vec<_> = (cmd::FIND_PEER..=cmd::IMMUTABLE_GET)
        .map(|c| request(c, None, true, Some(vec![0])))
        .collect();
    all_dropped(&mut p, &mut r, &targetless);
}

#[test]
fn plugin_requests_are_decoded_for_the_caller() {
    let (mut p, mut r) = node();
    let plug = PluginRequest {
        plugin: "x".into(),
        version: 1,
        command: 2,
        value: Some(Bytes::from_static(b"v")),
    };
    let req = request(cmd::PLUGIN, None, false, Some(plug.to_vec()));
    assert_eq!(
        handle(&mut p, &mut r, S(0), ALICE, &req),
        Outcome::Plugin(plug)
    );
    let bad = [
        request(cmd::PLUGIN, None, false, Some(vec![5, b'x'])),
        request(cmd::PLUGIN, None, false, None),
    ];
    all_dropped(&mut p, &mut r, &bad);
}

#[test]
fn poll_timeout_reports_the_earliest_store_timer() {
    let p = Persistent::new(Config::default(), S(10), 0);
    assert_eq!(p.poll_timeout(), Some(S(10 + 800)));
}
