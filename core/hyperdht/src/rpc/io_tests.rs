use super::*;
use ferrocore_wire::dht::{commands, node_id};

const MS: fn(u64) -> Duration = Duration::from_millis;

fn io(tid: u16) -> Io {
    Io::new(Duration::ZERO, Table::new([5; 32]), tid, [[1; 32], [2; 32]])
}

fn peer(n: u8) -> Ipv4Address {
    Ipv4Address::new([10, 0, 0, n], 4000 + u16::from(n))
}

fn ping(to: Ipv4Address) -> Outgoing {
    Outgoing {
        to,
        internal: true,
        command: commands::PING,
        ..Outgoing::default()
    }
}

fn sent_request(t: &Transmit) -> Request {
    match Packet::decode(&t.bytes) {
        Ok(Packet::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn sent_response(t: &Transmit) -> Response {
    match Packet::decode(&t.bytes) {
        Ok(Packet::Response(r)) => r,
        other => panic!("not a response: {other:?}"),
    }
}

fn drain_transmits(io: &mut Io) -> Vec<Transmit> {
    core::iter::from_fn(|| io.poll_transmit()).collect()
}

fn reply_bytes(tid: u16, to: Ipv4Address) -> Vec<u8> {
    Packet::Response(Response {
        tid,
        to,
        ..Response::default()
    })
    .to_vec()
}

#[test]
fn transaction_ids_count_up_from_the_random_start_and_wrap() {
    let mut io = io(0xfffe);
    for _ in 0..3 {
        io.request(Duration::ZERO, ping(peer(1)));
    }
    let tids: Vec<u16> = drain_transmits(&mut io)
        .iter()
        .map(|t| {
            assert_eq!(
                t.socket,
                Socket::Client,
                "firewalled nodes send from the client socket"
            );
            let r = sent_request(t);
            assert_eq!(r.to, peer(1));
            assert_eq!(r.id, None, "ephemeral nodes send no id");
            assert!(r.internal);
            r.tid
        })
        .collect();
    assert_eq!(tids, [0xfffe, 0xffff, 0]);
}

#[test]
fn a_request_is_resent_every_second_three_times_then_times_out() {
    let mut io = io(7);
    let id = io.request(Duration::ZERO, ping(peer(1)));
    let first = drain_transmits(&mut io);
    assert_eq!(first.len(), 1);
    let mut sends = 1;
    let mut now = Duration::ZERO;
    while let Some(t) = io.poll_timeout() {
        if now > MS(10_000) {
            break;
        }
        now = t;
        io.handle_timeout(now);
        for tx in drain_transmits(&mut io) {
            assert_eq!(tx.bytes, first[0].bytes, "a resend is the same datagram");
            sends += 1;
        }
        if let Some(ev) = io.poll_event() {
            assert_eq!(
                ev,
                IoEvent::Timeout {
                    id,
                    to: peer(1),
                    to_id: None
                }
            );
            break;
        }
    }
    assert_eq!(sends, 1 + RETRIES);
    assert_eq!(now, MS(4000));
    assert_eq!(io.inflight(), 0);
}

#[test]
fn a_reply_ends_the_request() {
    let mut io = io(300);
    let id = io.request(Duration::ZERO, ping(peer(2)));
    drain_transmits(&mut io);
    // a reply with another tid is ignored
    io.handle_datagram(MS(10), Socket::Client, peer(2), &reply_bytes(301, peer(9)));
    assert_eq!(io.poll_event(), None);
    io.handle_datagram(MS(40), Socket::Client, peer(2), &reply_bytes(300, peer(9)));
    match io.poll_event() {
        Some(IoEvent::Response {
            id: got,
            from,
            rtt,
            external,
            response,
            ..
        }) => {
            assert_eq!(got, id);
            assert_eq!(from, peer(2));
            assert_eq!(rtt, MS(40));
            assert!(!external);
            assert_eq!(response.to, peer(9));
        }
        other => panic!("{other:?}"),
    }
    io.handle_timeout(MS(5000));
    assert!(
        drain_transmits(&mut io).is_empty(),
        "no resend after a reply"
    );
    assert_eq!(io.poll_event(), None);
}

#[test]
fn the_congestion_window_holds_80_per_slot_and_160_in_all() {
    let mut io = io(0);
    for _ in 0..200 {
        io.request(Duration::ZERO, ping(peer(3)));
    }
    assert_eq!(drain_transmits(&mut io).len(), 80);
    io.handle_timeout(MS(750));
    assert_eq!(drain_transmits(&mut io).len(), 80);
    // the first 80 time out at 1 s and wait: 160 sends in the last four slots
    io.handle_timeout(MS(1000));
    assert!(drain_transmits(&mut io).is_empty());
    io.handle_timeout(MS(1500));
    assert!(drain_transmits(&mut io).is_empty());
    // at 3 s the first slot is forgotten: 80 more go out
    io.handle_timeout(MS(3000));
    assert_eq!(drain_transmits(&mut io).len(), 80);

    let mut w = CongestionWindow::new(2);
    w.send();
    w.send();
    assert!(w.is_full());
    w.recv();
    assert!(!w.is_full());
}

fn request_bytes(tid: u16, token: Option<[u8; 32]>, target: Option<[u8; 32]>) -> Vec<u8> {
    Packet::Request(Request {
        tid,
        to: Ipv4Address::new([1, 1, 1, 1], 49737),
        token,
        internal: true,
        command: commands::FIND_NODE,
        target,
        ..Request::default()
    })
    .to_vec()
}

#[test]
fn tokens_rotate_every_ten_drains_and_bad_ones_are_refused() {
    let mut io = io(0);
    let from = peer(4);
    // a node in the table, returned as a closer node with the error
    let n = peer(8);
    io.table_mut()
        .add(super::super::table::Node::new(node_id(&n), n, 0), 0, true);
    let tok = io.token(&from, 1);
    assert_eq!(tok, ferrocore_wire::dht::token(b"10.0.0.4", &[2; 32]));
    io.handle_datagram(
        MS(1),
        Socket::Server,
        from,
        &request_bytes(9, Some(tok), None),
    );
    let Some(IoEvent::Request(inc)) = io.poll_event() else {
        panic!("a valid token passes");
    };
    assert!(
        inc.external,
        "a firewalled node's server socket is external"
    );
    assert_eq!(inc.request.tid, 9);

    // 10 drains: the newer secret becomes the older one, still accepted
    io.handle_timeout(MS(7500));
    io.handle_datagram(
        MS(7501),
        Socket::Client,
        from,
        &request_bytes(10, Some(tok), None),
    );
    assert!(matches!(io.poll_event(), Some(IoEvent::Request(_))));
    assert_eq!(io.token(&from, 0), tok);
    // 20 drains: gone
    io.handle_timeout(MS(15_000));
    assert!(drain_transmits(&mut io).is_empty());
    io.handle_datagram(
        MS(15_001),
        Socket::Client,
        from,
        &request_bytes(11, Some(tok), Some([0; 32])),
    );
    assert_eq!(io.poll_event(), None);
    let out = drain_transmits(&mut io);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].socket, out[0].to), (Socket::Client, from));
    let res = sent_response(&out[0]);
    assert_eq!(res.tid, 11);
    assert_eq!(res.error, errors::INVALID_TOKEN);
    assert_eq!(res.token, Some(io.token(&from, 1)));
    assert_ne!(res.token, Some(tok));
    assert_eq!(res.closer_nodes, [n]);
    assert_eq!(res.to, from);
}

#[test]
fn persistent_nodes_send_their_id_from_the_server_socket_only() {
    let mut io = io(0);
    io.ephemeral = false;
    io.request(Duration::ZERO, ping(peer(1)));
    io.firewalled = false;
    io.request(Duration::ZERO, ping(peer(1)));
    let out = drain_transmits(&mut io);
    assert_eq!(out[0].socket, Socket::Client);
    assert_eq!(sent_request(&out[0]).id, None);
    assert_eq!(out[1].socket, Socket::Server);
    assert_eq!(sent_request(&out[1]).id, Some([5; 32]));
}

#[test]
fn junk_and_port_zero_are_dropped() {
    let mut io = io(0);
    for junk in [
        &[][..],
        &[3],
        &[3, 0],
        &[0x13, 0xff, 0xff],
        &[0x23, 0, 0, 0],
    ] {
        io.handle_datagram(MS(1), Socket::Server, peer(1), junk);
    }
    let ok = request_bytes(1, None, None);
    io.handle_datagram(
        MS(1),
        Socket::Server,
        Ipv4Address::new([1, 2, 3, 4], 0),
        &ok,
    );
    assert_eq!(io.poll_event(), None);
    assert!(drain_transmits(&mut io).is_empty());
    io.handle_datagram(MS(1), Socket::Server, peer(1), &ok);
    assert!(matches!(io.poll_event(), Some(IoEvent::Request(_))));
}

#[test]
fn a_query_visit_reports_its_first_resend_and_uses_its_own_retries() {
    let mut io = io(0);
    let id = io.request(
        Duration::ZERO,
        Outgoing {
            retries: Some(5),
            report_cycle: true,
            ..ping(peer(6))
        },
    );
    let mut sends = drain_transmits(&mut io).len();
    let mut cycles = 0;
    let mut timed_out = None;
    for s in 1..=10u64 {
        io.handle_timeout(MS(s * 1000));
        sends += drain_transmits(&mut io).len();
        for ev in core::iter::from_fn(|| io.poll_event()) {
            match ev {
                IoEvent::Cycle { id: c } => {
                    assert_eq!(c, id);
                    assert_eq!(s, 1, "reported on the first resend only");
                    cycles += 1;
                }
                IoEvent::Timeout { id: t, .. } if t == id => timed_out = Some(s),
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!((sends, cycles, timed_out), (6, 1, Some(6)));
}
