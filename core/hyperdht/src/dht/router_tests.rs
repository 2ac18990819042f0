use super::*;
use alloc::vec;
use alloc::vec::Vec;

const CLIENT: Ipv4Address = Ipv4Address::new([10, 0, 0, 1], 1111);
const RELAY: Ipv4Address = Ipv4Address::new([10, 0, 0, 2], 2222);
const RELAY2: Ipv4Address = Ipv4Address::new([10, 0, 0, 4], 4444);
const SERVER: Ipv4Address = Ipv4Address::new([10, 0, 0, 3], 3333);
const T: Target = [0x42; 32];
const S: fn(u64) -> Duration = Duration::from_secs;

fn router() -> Router {
    Router::new(Duration::ZERO, DEFAULT_MAX_SIZE, DEFAULT_MAX_AGE)
}

fn remote(relay: Ipv4Address) -> Forward {
    Forward {
        relay: Some(relay),
        record: Bytes::from_static(b"record"),
        local: false,
    }
}

fn local() -> Forward {
    Forward {
        relay: None,
        record: Bytes::from_static(b"mine"),
        local: true,
    }
}

fn req(command: u64, target: Option<Target>, value: Option<Vec<u8>>) -> Request {
    Request {
        tid: 9,
        to: RELAY,
        id: None,
        token: None,
        internal: false,
        command,
        target,
        value: value.map(Bytes::from),
    }
}

fn hs(mode: u64, peer: Option<Ipv4Address>, relay: Option<Ipv4Address>) -> Handshake {
    Handshake {
        mode,
        noise: Bytes::from_static(b"noise"),
        peer_address: peer,
        relay_address: relay,
    }
}

fn hp(mode: u64, peer: Option<Ipv4Address>) -> Holepunch {
    Holepunch {
        mode,
        id: 3,
        payload: Bytes::from_static(b"sealed"),
        peer_address: peer,
    }
}

fn send_hs(r: &mut Router, from: Ipv4Address, h: &Handshake) -> Outcome {
    r.handle_request(
        S(1),
        from,
        &req(dht_commands::PEER_HANDSHAKE, Some(T), Some(h.to_vec())),
    )
}

fn send_hp(r: &mut Router, from: Ipv4Address, h: &Holepunch) -> Outcome {
    r.handle_request(
        S(1),
        from,
        &req(dht_commands::PEER_HOLEPUNCH, Some(T), Some(h.to_vec())),
    )
}

fn relayed_hs(to: Ipv4Address, h: Handshake) -> Outcome {
    Outcome::Relay {
        to,
        value: h.to_vec().into(),
    }
}

#[test]
fn a_client_handshake_without_a_route_gets_closer_nodes() {
    let mut r = router();
    let o = send_hs(&mut r, CLIENT, &hs(modes::FROM_CLIENT, None, None));
    assert_eq!(o, Outcome::Reply(Reply::ok(CLIENT, None, false, true)));
}

#[test]
fn a_client_handshake_is_relayed_to_the_announced_server_with_the_client_address() {
    let mut r = router();
    r.set(S(0), T, remote(SERVER));
    let o = send_hs(&mut r, CLIENT, &hs(modes::FROM_CLIENT, None, None));
    assert_eq!(
        o,
        relayed_hs(SERVER, hs(modes::FROM_RELAY, Some(CLIENT), None))
    );
    // A relay address the client names wins over the table.
    let o = send_hs(
        &mut r,
        CLIENT,
        &hs(modes::FROM_CLIENT, Some(RELAY2), Some(RELAY2)),
    );
    assert_eq!(
        o,
        relayed_hs(RELAY2, hs(modes::FROM_RELAY, Some(CLIENT), None))
    );
}

#[test]
fn a_relayed_handshake_goes_on_to_a_second_relay_only_with_a_route() {
    let mut r = router();
    let h = hs(modes::FROM_RELAY, Some(CLIENT), None);
    assert_eq!(send_hs(&mut r, RELAY, &h), Outcome::Drop);
    r.set(S(0), T, remote(SERVER));
    let o = send_hs(&mut r, RELAY, &h);
    assert_eq!(
        o,
        relayed_hs(
            SERVER,
            hs(modes::FROM_SECOND_RELAY, Some(CLIENT), Some(RELAY))
        )
    );
}

#[test]
fn a_server_answer_becomes_the_reply_to_the_client() {
    let mut r = router();
    assert_eq!(
        send_hs(&mut r, SERVER, &hs(modes::FROM_SERVER, None, None)),
        Outcome::Drop
    );
    let o = send_hs(&mut r, SERVER, &hs(modes::FROM_SERVER, Some(CLIENT), None));
    let value = hs(modes::REPLY, Some(SERVER), None).to_vec().into();
    assert_eq!(
        o,
        Outcome::Reply(Reply::ok(CLIENT, Some(value), false, false))
    );
    for mode in [modes::REPLY, 5, 1000] {
        assert_eq!(
            send_hs(&mut r, SERVER, &hs(mode, Some(CLIENT), None)),
            Outcome::Drop
        );
    }
}

#[test]
fn handshakes_for_a_local_server_go_to_it_and_its_answer_is_routed_by_mode() {
    let mut r = router();
    r.set(S(0), T, local());
    let direct = hs(modes::FROM_CLIENT, None, None);
    assert_eq!(
        send_hs(&mut r, CLIENT, &direct),
        Outcome::Server(ServerRequest::Handshake(direct.clone()))
    );
    let answer = Bytes::from_static(b"answer");
    let reply_value = Handshake {
        noise: answer.clone(),
        ..hs(modes::REPLY, None, None)
    };
    assert_eq!(
        Router::server_handshake_reply(CLIENT, &direct, answer.clone()),
        Outcome::Reply(Reply::ok(
            CLIENT,
            Some(reply_value.to_vec().into()),
            false,
            false
        ))
    );
    let via_relay = hs(modes::FROM_RELAY, Some(CLIENT), None);
    let back = Handshake {
        noise: answer.clone(),
        ..hs(modes::FROM_SERVER, Some(CLIENT), None)
    };
    assert_eq!(
        Router::server_handshake_reply(RELAY, &via_relay, answer.clone()),
        relayed_hs(RELAY, back.clone())
    );
    let via_two = hs(modes::FROM_SECOND_RELAY, Some(CLIENT), Some(RELAY2));
    assert_eq!(
        Router::server_handshake_reply(RELAY, &via_two, answer.clone()),
        relayed_hs(RELAY2, back)
    );
    let no_relay = hs(modes::FROM_SECOND_RELAY, Some(CLIENT), None);
    assert_eq!(
        Router::server_handshake_reply(RELAY, &no_relay, answer.clone()),
        Outcome::Drop
    );
    assert_eq!(
        Router::server_handshake_reply(RELAY, &hs(modes::REPLY, None, None), answer),
        Outcome::Drop
    );
}

#[test]
fn a_full_relayed_handshake_round_trip_reaches_the_client_with_the_server_address() {
    // The relay knows the server's announce; the server's own node has it as local.
    let (mut relay, mut server) = (router(), router());
    relay.set(S(0), T, remote(SERVER));
    server.set(S(0), T, local());
    let Outcome::Relay { to, value } =
        send_hs(&mut relay, CLIENT, &hs(modes::FROM_CLIENT, None, None))
    else {
        panic!("not relayed")
    };
    assert_eq!(to, SERVER);
    let o = server.handle_request(
        S(1),
        RELAY,
        &req(dht_commands::PEER_HANDSHAKE, Some(T), Some(value.to_vec())),
    );
    let Outcome::Server(ServerRequest::Handshake(got)) = o else {
        panic!("not for the server: {o:?}")
    };
    assert_eq!(got.peer_address, Some(CLIENT));
    let Outcome::Relay { to, value } =
        Router::server_handshake_reply(RELAY, &got, Bytes::from_static(b"resp"))
    else {
        panic!("not relayed back")
    };
    assert_eq!(to, RELAY);
    let o = relay.handle_request(
        S(1),
        SERVER,
        &req(dht_commands::PEER_HANDSHAKE, Some(T), Some(value.to_vec())),
    );
    let Outcome::Reply(rep) = o else {
        panic!("no reply: {o:?}")
    };
    assert_eq!(rep.to, CLIENT);
    let got = Handshake::decode_from(&rep.value.unwrap()).unwrap();
    assert_eq!(
        got,
        Handshake {
            noise: Bytes::from_static(b"resp"),
            ..hs(modes::REPLY, Some(SERVER), None)
        }
    );
}

#[test]
fn holepunches_are_relayed_as_js_does() {
    let mut r = router();
    // From a client: to the address it names, else the route, else nowhere.
    assert_eq!(
        send_hp(&mut r, CLIENT, &hp(modes::FROM_CLIENT, None)),
        Outcome::Drop
    );
    let named = send_hp(&mut r, CLIENT, &hp(modes::FROM_CLIENT, Some(RELAY2)));
    let fwd = Outcome::Relay {
        to: RELAY2,
        value: hp(modes::FROM_RELAY, Some(CLIENT)).to_vec().into(),
    };
    assert_eq!(named, fwd);
    r.set(S(0), T, remote(SERVER));
    let routed = send_hp(&mut r, CLIENT, &hp(modes::FROM_CLIENT, None));
    let fwd = Outcome::Relay {
        to: SERVER,
        value: hp(modes::FROM_RELAY, Some(CLIENT)).to_vec().into(),
    };
    assert_eq!(routed, fwd);
    // From a relay: only a local server takes it.
    assert_eq!(
        send_hp(&mut r, RELAY, &hp(modes::FROM_RELAY, Some(CLIENT))),
        Outcome::Drop
    );
    // From the server: the reply goes to the client, or back to the sender without one.
    let o = send_hp(&mut r, SERVER, &hp(modes::FROM_SERVER, Some(CLIENT)));
    let value = hp(modes::REPLY, Some(SERVER)).to_vec().into();
    assert_eq!(
        o,
        Outcome::Reply(Reply::ok(CLIENT, Some(value), false, false))
    );
    let o = send_hp(&mut r, SERVER, &hp(modes::FROM_SERVER, None));
    let Outcome::Reply(rep) = o else { panic!() };
    assert_eq!(rep.to, SERVER);
    assert_eq!(
        send_hp(&mut r, SERVER, &hp(modes::REPLY, Some(CLIENT))),
        Outcome::Drop
    );
}

#[test]
fn a_local_server_takes_relayed_holepunches_with_a_client_address() {
    let mut r = router();
    r.set(S(0), T, local());
    assert_eq!(
        send_hp(&mut r, RELAY, &hp(modes::FROM_RELAY, None)),
        Outcome::Drop
    );
    let h = hp(modes::FROM_RELAY, Some(CLIENT));
    assert_eq!(
        send_hp(&mut r, RELAY, &h),
        Outcome::Server(ServerRequest::Holepunch(h.clone()))
    );
    let o = Router::server_holepunch_reply(RELAY, &h, Bytes::from_static(b"mine"));
    let value = Holepunch {
        id: 0,
        payload: Bytes::from_static(b"mine"),
        ..hp(modes::FROM_SERVER, Some(CLIENT))
    };
    assert_eq!(
        o,
        Outcome::Relay {
            to: RELAY,
            value: value.to_vec().into()
        }
    );
}

#[test]
fn malformed_or_valueless_messages_are_dropped() {
    let mut r = router();
    r.set(S(0), T, remote(SERVER));
    for c in [dht_commands::PEER_HANDSHAKE, dht_commands::PEER_HOLEPUNCH] {
        assert_eq!(
            r.handle_request(S(1), CLIENT, &req(c, Some(T), None)),
            Outcome::Drop
        );
        assert_eq!(
            r.handle_request(S(1), CLIENT, &req(c, Some(T), Some(vec![1, 0, 5]))),
            Outcome::Drop
        );
        assert_eq!(
            r.handle_request(S(1), CLIENT, &req(c, Some(T), Some(Vec::new()))),
            Outcome::Drop
        );
    }
    // Without a target there is no route.
    let h = hs(modes::FROM_CLIENT, None, None);
    let o = r.handle_request(
        S(1),
        CLIENT,
        &req(dht_commands::PEER_HANDSHAKE, None, Some(h.to_vec())),
    );
    assert_eq!(o, Outcome::Reply(Reply::ok(CLIENT, None, false, true)));
    let o = r.handle_request(S(1), CLIENT, &req(dht_commands::LOOKUP, Some(T), None));
    assert_eq!(o, Outcome::Reply(Reply::unknown_command(CLIENT, true)));
}

#[test]
fn a_local_server_is_never_replaced_or_aged_out_but_remote_forwards_are() {
    let mut r = Router::new(Duration::ZERO, 4, Duration::from_secs(60));
    r.set(S(0), T, local());
    r.set(S(0), T, remote(SERVER));
    assert_eq!(r.get(S(0), &T), Some(&local()));
    let other = [1; 32];
    r.set(S(0), other, remote(SERVER));
    // 60 s max age: the timer fires every 40 s; untouched, the remote forward is gone at 80 s.
    assert!(r.get(S(79), &other).is_some());
    assert!(r.get(S(79 + 80), &other).is_none());
    assert_eq!(r.get(S(10_000), &T), Some(&local()));
    for i in 0u8..100 {
        r.set(S(10_000), [i; 32], remote(SERVER));
        assert!(r.len() <= 2 * 4 + 1);
    }
    r.delete(S(10_000), &T);
    assert!(r.get(S(10_000), &T).is_none());
}
