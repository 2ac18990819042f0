use super::*;
use crate::rpc::query::QueryConfig;
use alloc::vec::Vec;
use ferrocore_wire::dht::{errors, node_id, Packet, Request};
use ferrocore_wire::Encode;

const MS: fn(u64) -> Duration = Duration::from_millis;
const US: Ipv4Address = Ipv4Address::new([9, 9, 9, 9], 49737);

fn node() -> Node {
    Node::new(Duration::ZERO, [0; 32], 100, [[1; 32], [2; 32]])
}

fn peer(n: u16) -> Ipv4Address {
    Ipv4Address::new([10, 0, (n >> 8) as u8, n as u8], 3000 + n)
}

fn req(
    from: Ipv4Address,
    internal: bool,
    command: u64,
    target: Option<[u8; 32]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    Packet::Request(Request {
        tid: 42,
        to: US,
        id: Some(node_id(&from)),
        internal,
        command,
        target,
        value: value.map(Bytes::copy_from_slice),
        ..Request::default()
    })
    .to_vec()
}

fn out(n: &mut Node) -> Vec<(Ipv4Address, Packet)> {
    core::iter::from_fn(|| n.poll_transmit())
        .map(|t| {
            (
                t.to,
                Packet::decode(&t.bytes).expect("we send valid packets"),
            )
        })
        .collect()
}

fn response(p: &Packet) -> &Response {
    match p {
        Packet::Response(r) => r,
        Packet::Request(_) => panic!("expected a response"),
    }
}

fn events(n: &mut Node) -> Vec<NodeEvent> {
    core::iter::from_fn(|| n.poll_event()).collect()
}

#[test]
fn ping_is_answered_and_teaches_us_the_sender() {
    let mut n = node();
    let p = peer(1);
    n.handle_datagram(
        MS(1),
        Socket::Client,
        p,
        &req(p, true, commands::PING, None, None),
    );
    let sent = out(&mut n);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, p);
    let r = response(&sent[0].1);
    assert_eq!((r.tid, r.to, r.error, r.token), (42, p, 0, None));
    assert!(r.closer_nodes.is_empty());
    // the new node's view of us is our first NAT sample
    let nat = NodeEvent::NatUpdate {
        host: Some(US.host),
        port: US.port,
    };
    assert_eq!(events(&mut n), [nat, NodeEvent::Added(node_id(&p))]);
    assert_eq!(n.table().get(&node_id(&p)).and_then(|x| x.to), Some(US));
    // a forged id (not the hash of the sender's address) is not learnt
    let mut n = node();
    let forged = req(peer(2), true, commands::PING, None, None);
    n.handle_datagram(MS(1), Socket::Client, peer(3), &forged);
    assert_eq!(out(&mut n).len(), 1);
    assert!(n.table().is_empty());
}

#[test]
fn find_node_returns_closer_nodes_and_needs_a_target() {
    let mut n = node();
    for i in 1..=5 {
        let p = peer(i);
        n.handle_datagram(
            MS(1),
            Socket::Client,
            p,
            &req(p, true, commands::PING, None, None),
        );
    }
    out(&mut n);
    let asker = peer(50);
    n.handle_datagram(
        MS(2),
        Socket::Client,
        asker,
        &req(asker, true, commands::FIND_NODE, None, None),
    );
    assert!(out(&mut n).is_empty(), "no target, no reply");
    let target = [0x55; 32];
    let find = req(asker, true, commands::FIND_NODE, Some(target), None);
    n.handle_datagram(MS(3), Socket::Client, asker, &find);
    let sent = out(&mut n);
    let r = response(&sent[0].1);
    let want: Vec<Ipv4Address> = n
        .table()
        .closest(&target, 20)
        .iter()
        .map(|x| x.addr)
        .collect();
    assert_eq!(r.closer_nodes, want);
    assert_eq!(r.closer_nodes.len(), 6, "the five pingers and the asker");
    assert_eq!(r.token, None);
}

#[test]
fn ping_nat_answers_on_the_given_port() {
    let mut n = node();
    let p = peer(1);
    let nat = |v: &[u8]| req(p, true, commands::PING_NAT, None, Some(v));
    for bad in [&[][..], &[7], &[0, 0]] {
        n.handle_datagram(MS(1), Socket::Client, p, &nat(bad));
    }
    assert!(out(&mut n).is_empty());
    n.handle_datagram(MS(1), Socket::Client, p, &nat(&[0x39, 0x30]));
    let sent = out(&mut n);
    let moved = Ipv4Address::new(p.host, 12345);
    assert_eq!(sent[0].0, moved);
    assert_eq!(response(&sent[0].1).to, moved);
}

#[test]
fn delayed_ping_waits_and_refuses_long_delays() {
    let mut n = node();
    let p = peer(1);
    let d = |ms: u32| {
        req(
            p,
            true,
            commands::DELAYED_PING,
            None,
            Some(&ms.to_le_bytes()),
        )
    };
    n.handle_datagram(MS(0), Socket::Client, p, &d(10_001));
    n.handle_datagram(MS(0), Socket::Client, p, &d(300));
    n.handle_datagram(
        MS(0),
        Socket::Client,
        p,
        &req(p, true, commands::DELAYED_PING, None, Some(&[1, 2, 3])),
    );
    assert!(out(&mut n).is_empty());
    assert_eq!(n.poll_timeout(), Some(MS(300)));
    n.handle_timeout(MS(299));
    assert!(out(&mut n).is_empty());
    n.handle_timeout(MS(300));
    assert_eq!(out(&mut n).len(), 1);
    n.handle_timeout(MS(20_000));
    assert!(
        out(&mut n).is_empty(),
        "the over-long delay is never answered"
    );
}

#[test]
fn unknown_internal_commands_are_refused_and_application_ones_handed_up() {
    let mut n = node();
    let p = peer(1);
    n.handle_datagram(
        MS(1),
        Socket::Client,
        p,
        &req(p, true, 77, Some([1; 32]), None),
    );
    let sent = out(&mut n);
    let r = response(&sent[0].1);
    assert_eq!(r.error, errors::UNKNOWN_COMMAND);
    assert_eq!(r.closer_nodes, [p], "closer nodes when there is a target");
    events(&mut n);
    n.handle_datagram(
        MS(1),
        Socket::Client,
        p,
        &req(p, false, 3, None, Some(b"hi")),
    );
    assert!(out(&mut n).is_empty());
    let Some(NodeEvent::Request(inc)) = n.poll_event() else {
        panic!("expected the request");
    };
    assert_eq!(inc.request.value.as_deref(), Some(&b"hi"[..]));
    n.reply(&inc, 0, Some(Bytes::from_static(b"yo")), true);
    let sent = out(&mut n);
    let r = response(&sent[0].1);
    assert_eq!(r.value.as_deref(), Some(&b"yo"[..]));
    assert!(r.token.is_some());
}

/// Lets every request out of `n` time out.
fn time_out_everything(n: &mut Node, from: Duration) -> Duration {
    let mut now = from;
    for _ in 0..100 {
        let Some(t) = n.io().poll_timeout().filter(|_| n.io().inflight() > 0) else {
            break;
        };
        now = t;
        n.handle_timeout(now);
        out(n);
    }
    now
}

#[test]
fn down_hint_pings_the_node_and_drops_it_when_silent() {
    let mut n = node();
    let (a, b) = (peer(1), peer(2));
    n.handle_datagram(
        MS(1),
        Socket::Client,
        a,
        &req(a, true, commands::PING, None, None),
    );
    out(&mut n);
    // tick 1, so the node was not pinged this tick
    n.handle_timeout(MS(5000));
    let hint = req(b, true, commands::DOWN_HINT, None, Some(&a.to_bytes()));
    n.handle_datagram(MS(5001), Socket::Client, b, &hint);
    let sent = out(&mut n);
    assert_eq!(sent.len(), 2, "the reply and the check");
    let check = sent
        .iter()
        .find(|(to, _)| *to == a)
        .expect("a ping to the hinted node");
    assert!(matches!(&check.1, Packet::Request(r) if r.command == commands::PING && r.internal));
    events(&mut n);
    time_out_everything(&mut n, MS(5001));
    assert!(!n.table().contains(&node_id(&a)));
    assert!(events(&mut n).contains(&NodeEvent::Removed(node_id(&a))));
}

#[test]
fn a_full_row_swaps_out_a_silent_oldest_node() {
    let mut n = node();
    n.bootstrapped = true;
    // addresses whose ids fall in row 0 of our all-zero id
    let row0: Vec<Ipv4Address> = (1..2000)
        .map(peer)
        .filter(|a| n.table().row_of(&node_id(a)) == 0)
        .take(21)
        .collect();
    for a in &row0[..20] {
        n.handle_datagram(
            MS(1),
            Socket::Client,
            *a,
            &req(*a, true, commands::PING, None, None),
        );
    }
    out(&mut n);
    events(&mut n);
    assert_eq!(n.table().len(), 20);
    n.handle_timeout(MS(5000));
    let new = row0[20];
    n.handle_datagram(
        MS(5001),
        Socket::Client,
        new,
        &req(new, true, commands::PING, None, None),
    );
    let sent = out(&mut n);
    let (old, _) = sent
        .iter()
        .find(|(_, p)| matches!(p, Packet::Request(_)))
        .expect("a ping to the oldest");
    assert!(!n.table().contains(&node_id(&new)));
    time_out_everything(&mut n, MS(5001));
    assert!(n.table().contains(&node_id(&new)));
    assert!(!n.table().contains(&node_id(old)));
    let ev = events(&mut n);
    assert!(ev.contains(&NodeEvent::Removed(node_id(old))));
    assert!(ev.contains(&NodeEvent::Added(node_id(&new))));
    assert_eq!(n.table().len(), 20);
}

/// Persistent, open nodes on a lossless simulated network, all bootstrapped from node 0.
fn network(n: u16) -> (Vec<Ipv4Address>, Vec<Node>) {
    let addrs: Vec<Ipv4Address> = (1..=n).map(peer).collect();
    let nodes = addrs
        .iter()
        .map(|a| {
            let mut x = Node::new(
                Duration::ZERO,
                node_id(a),
                a.port,
                [[a.host[3]; 32], [9; 32]],
            );
            x.io_mut().ephemeral = false;
            x.io_mut().firewalled = false;
            x.bootstrapped = true;
            x.bootstrap = alloc::vec![addrs[0]];
            x
        })
        .collect();
    (addrs, nodes)
}

/// Delivers datagrams until the network is quiet; returns the events of every node.
fn deliver(addrs: &[Ipv4Address], nodes: &mut [Node], now: Duration) -> Vec<Vec<NodeEvent>> {
    let mut evs: Vec<Vec<NodeEvent>> = nodes.iter().map(|_| Vec::new()).collect();
    for _ in 0..10_000 {
        let mut moved = false;
        for i in 0..nodes.len() {
            while let Some(t) = nodes[i].poll_transmit() {
                moved = true;
                if let Some(j) = addrs.iter().position(|a| *a == t.to) {
                    nodes[j].handle_datagram(now, Socket::Server, addrs[i], &t.bytes);
                }
            }
            evs[i].extend(core::iter::from_fn(|| nodes[i].poll_event()));
        }
        if !moved {
            break;
        }
    }
    evs
}

#[test]
fn queries_walk_a_simulated_network_to_the_closest_nodes() {
    let (addrs, mut nodes) = network(60);
    // every node looks itself up once, as bootstrapping does
    for (i, a) in addrs.iter().enumerate() {
        let req = QueryRequest {
            target: node_id(a),
            internal: true,
            command: commands::FIND_NODE,
            value: None,
        };
        nodes[i].query(MS(0), req, QueryConfig::default(), &[]);
        deliver(&addrs, &mut nodes, MS(0));
    }
    assert!(nodes.iter().all(|n| n.table().len() >= 20));
    let target = [0x3c; 32];
    let req = QueryRequest {
        target,
        internal: true,
        command: commands::FIND_NODE,
        value: None,
    };
    let q = nodes[37].query(MS(1), req, QueryConfig::default(), &[]);
    let evs = deliver(&addrs, &mut nodes, MS(1));
    assert_eq!(evs[37].last(), Some(&NodeEvent::QueryDone(q)));
    let replied: Vec<[u8; 32]> = evs[37]
        .iter()
        .filter_map(|e| match e {
            NodeEvent::QueryReply(_, r) => r.from_id,
            _ => None,
        })
        .collect();
    let mut want: Vec<[u8; 32]> = addrs.iter().map(node_id).collect();
    want.sort_by_key(|id| core::array::from_fn::<u8, 32, _>(|i| id[i] ^ target[i]));
    for id in &want[..10] {
        assert!(replied.contains(id), "a closest node was not visited");
    }
    assert_eq!(nodes[37].queries(), 0);
    assert_eq!(nodes[37].io().inflight(), 0);
}
