//! Three in-memory HyperDHT nodes (client, relay, server) exchanging real datagrams: the
//! handshake goes through the relay's router both ways, or straight to the server.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use ferrocore_wire::dht::rpc::REQUEST_ID;
use ferrocore_wire::dht::{dht_commands, modes, node_id, Announce, Handshake, Ipv4Address, Packet};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::Decode;

use super::*;
use crate::dht::handshake::target;
use crate::dht::server::AbortReason;
use crate::dht::{Answer, RecordContext, RecordHandler};
use crate::rpc::io::{Incoming, Socket};
use crate::rpc::node::Node;

const CLIENT: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 5001);
const RELAY: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 5002);
const SERVER: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 5003);
const LIMIT: Duration = Duration::from_secs(120);

/// FIND_PEER answered from the router's records, ANNOUNCE / UNANNOUNCE of a peer under
/// its own key's hash setting / dropping the route (the part of `lib/persistent.js` these
/// tests need; checking signatures is the real handler's business).
#[derive(Debug)]
struct FindPeer;

impl RecordHandler for FindPeer {
    fn on_request(&mut self, cx: RecordContext<'_>, req: &Incoming) -> Option<Answer> {
        let r = &req.request;
        let t = r.target?;
        match r.command {
            dht_commands::FIND_PEER => {
                let record = cx.router.get(&t).map(|x| x.record.clone());
                Some(Answer::reply(record))
            }
            dht_commands::ANNOUNCE | dht_commands::UNANNOUNCE => {
                let ann = Announce::decode_from(r.value.as_deref()?).ok()?;
                let peer = ann.peer?;
                assert!(ann.signature.is_some());
                if target(&peer.public_key) == t {
                    if r.command == dht_commands::ANNOUNCE {
                        let route = Route {
                            relay: Some(req.from),
                            record: ferrocore_wire::Encode::to_vec(&peer).into(),
                            server: false,
                        };
                        cx.router.set(cx.now, t, route);
                    } else {
                        cx.router.delete(&t);
                    }
                }
                Some(Answer::reply(None))
            }
            _ => None,
        }
    }
}

fn peer_node(addr: Ipv4Address, persistent: bool, bootstrap: &[Ipv4Address]) -> PeerNode {
    let seed = addr.port.to_le_bytes()[0];
    let mut node = Node::new(
        Duration::ZERO,
        node_id(&addr),
        u16::from(seed),
        [[seed; 32]; 2],
    );
    node.bootstrap = bootstrap.to_vec();
    if persistent {
        node.io_mut().ephemeral = false;
        node.io_mut().firewalled = false;
    }
    let mut dht = Dht::new(node);
    dht.set_record_handler(Box::new(FindPeer));
    PeerNode::new(dht, [seed; 32], u32::from(seed) * 100)
}

struct Sim {
    nodes: Vec<(Ipv4Address, PeerNode)>,
    now: Duration,
    /// PEER_HANDSHAKE requests on the wire: (from, to, mode).
    handshakes: Vec<(Ipv4Address, Ipv4Address, u64)>,
    events: Vec<(Ipv4Address, PeerEvent)>,
    /// Datagrams dropped: (from, to) pairs (a firewall).
    blocked: Vec<(Ipv4Address, Ipv4Address)>,
}

impl Sim {
    fn new(nodes: Vec<(Ipv4Address, PeerNode)>) -> Self {
        Self {
            nodes,
            now: Duration::ZERO,
            handshakes: Vec::new(),
            events: Vec::new(),
            blocked: Vec::new(),
        }
    }

    fn node(&mut self, addr: Ipv4Address) -> &mut PeerNode {
        &mut self.nodes.iter_mut().find(|(a, _)| *a == addr).unwrap().1
    }

    fn drain_events(&mut self) {
        for (a, n) in &mut self.nodes {
            while let Some(ev) = n.poll_event() {
                self.events.push((*a, ev));
            }
        }
    }

    /// Delivers datagrams until none is left.
    fn settle(&mut self) {
        loop {
            self.drain_events();
            let mut out = Vec::new();
            for (a, n) in &mut self.nodes {
                while let Some(t) = n.poll_transmit() {
                    out.push((*a, t));
                }
            }
            if out.is_empty() {
                return;
            }
            for (from, t) in out {
                if self.blocked.contains(&(from, t.to)) {
                    continue;
                }
                if let Ok(Packet::Request(r)) = Packet::decode(&t.bytes) {
                    if r.command == dht_commands::PEER_HANDSHAKE && !r.internal {
                        let hs = Handshake::decode_from(r.value.as_deref().unwrap()).unwrap();
                        self.handshakes.push((from, t.to, hs.mode));
                    }
                }
                let socket = if t.bytes[0] == REQUEST_ID {
                    Socket::Server
                } else {
                    Socket::Client
                };
                let now = self.now;
                if let Some((_, n)) = self.nodes.iter_mut().find(|(a, _)| *a == t.to) {
                    n.handle_datagram(now, socket, from, &t.bytes);
                }
            }
        }
    }

    /// Runs until `done` holds or [`LIMIT`] passes.
    fn run(&mut self, done: impl Fn(&Self) -> bool) {
        loop {
            self.settle();
            if done(self) {
                return;
            }
            let next = self
                .nodes
                .iter()
                .filter_map(|(_, n)| n.poll_timeout())
                .min();
            let Some(next) = next.filter(|t| *t <= LIMIT) else {
                return;
            };
            self.now = self.now.max(next);
            let now = self.now;
            for (_, n) in &mut self.nodes {
                if n.poll_timeout().is_some_and(|t| t <= now) {
                    n.handle_timeout(now);
                }
            }
        }
    }

    fn connected(&self) -> Option<&Connection> {
        self.events.iter().find_map(|(_, e)| match e {
            PeerEvent::Connected(_, c) => Some(&**c),
            _ => None,
        })
    }

    fn failed(&self) -> Option<ConnectError> {
        self.events.iter().find_map(|(_, e)| match e {
            PeerEvent::ConnectFailed(_, err) => Some(*err),
            _ => None,
        })
    }

    /// The client's first stream packet (of connection `c`) reaches the server, whose
    /// holepunch window takes it: the server's connection is to the client's stream.
    fn client_stream_packet_reaches_the_server(&mut self, c: &Connection) {
        let now = self.now;
        self.node(SERVER)
            .handle_stream_packet(now, c.remote_stream_id, CLIENT);
        while let Some(e) = self.node(SERVER).poll_event() {
            self.events.push((SERVER, e));
        }
        let s = self.accepted().expect("the server took the stream packet");
        assert_eq!(
            (s.remote_addr, s.remote_stream_id),
            (CLIENT, c.local_stream_id)
        );
    }

    fn accepted(&self) -> Option<&Connection> {
        self.events.iter().find_map(|(_, e)| match e {
            PeerEvent::Connection { connection, .. } => Some(&**connection),
            _ => None,
        })
    }
}

fn keys() -> (KeyPair, KeyPair) {
    (KeyPair::from_seed([1; 32]), KeyPair::from_seed([2; 32]))
}

/// Client (ephemeral), relay (persistent, holding the server's route) and server
/// (ephemeral, listening).
fn relayed(server: ServerConfig) -> Sim {
    let (_, server_keys) = keys();
    let mut sim = Sim::new(vec![
        (CLIENT, peer_node(CLIENT, false, &[RELAY])),
        (RELAY, peer_node(RELAY, true, &[])),
        (SERVER, peer_node(SERVER, false, &[RELAY])),
    ]);
    sim.node(SERVER)
        .listen(Duration::ZERO, server_keys.clone(), server)
        .unwrap();
    let record = ferrocore_wire::Encode::to_vec(&ferrocore_wire::dht::Peer {
        public_key: server_keys.public_key,
        relay_addresses: vec![RELAY],
    });
    // What the server's announce leaves on the relay (`announceSelf` in the reference).
    let route = Route {
        relay: Some(SERVER),
        record: record.into(),
        server: false,
    };
    sim.node(RELAY).dht_mut().router_mut().set(
        Duration::ZERO,
        target(&server_keys.public_key),
        route,
    );
    sim
}

fn open_client() -> ConnectConfig {
    ConnectConfig {
        our_address: Some(CLIENT),
        ..ConnectConfig::default()
    }
}

#[test]
fn a_relayed_handshake_connects_client_and_server() {
    let (client_keys, server_keys) = keys();
    let mut sim = relayed(ServerConfig {
        our_address: Some(SERVER),
        ..ServerConfig::default()
    });
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys.clone(),
        server_keys.public_key,
        open_client(),
    );
    sim.run(|s| s.connected().is_some() && s.accepted().is_some());
    assert_eq!(
        sim.handshakes,
        vec![
            (CLIENT, RELAY, modes::FROM_CLIENT),
            (RELAY, SERVER, modes::FROM_RELAY),
            (SERVER, RELAY, modes::FROM_SERVER),
        ]
    );
    let c = sim.connected().unwrap().clone();
    let s = sim.accepted().unwrap().clone();
    assert_eq!((c.remote_addr, s.remote_addr), (SERVER, CLIENT));
    assert_eq!(
        (c.socket, s.socket),
        (None, None),
        "relayed: the DHT's own socket"
    );
    assert_eq!(
        (c.remote_public_key, s.remote_public_key),
        (server_keys.public_key, client_keys.public_key)
    );
    assert_eq!(
        (c.local_stream_id, c.remote_stream_id),
        (s.remote_stream_id, s.local_stream_id)
    );
    let (ch, sh) = (&c.handshake.handshake, &s.handshake.handshake);
    assert_eq!((ch.tx, ch.hash), (sh.rx, sh.hash));
    assert!(
        sim.now < Duration::from_secs(1),
        "no timeout on the way: {:?}",
        sim.now
    );
}

#[test]
fn a_reachable_server_is_asked_directly() {
    let (client_keys, server_keys) = keys();
    let mut sim = Sim::new(vec![
        (CLIENT, peer_node(CLIENT, false, &[SERVER])),
        (SERVER, peer_node(SERVER, true, &[])),
    ]);
    sim.node(SERVER)
        .listen(Duration::ZERO, server_keys.clone(), ServerConfig::default())
        .unwrap();
    assert_eq!(
        sim.node(SERVER)
            .listen(Duration::ZERO, server_keys.clone(), ServerConfig::default()),
        Err(ConnectError::KeyPairAlreadyUsed)
    );
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys,
        server_keys.public_key,
        ConnectConfig::default(),
    );
    sim.run(|s| s.connected().is_some() && s.accepted().is_some());
    assert_eq!(sim.handshakes, vec![(CLIENT, SERVER, modes::FROM_CLIENT)]);
    assert_eq!(sim.connected().unwrap().remote_addr, SERVER);
    assert_eq!(sim.accepted().unwrap().remote_addr, CLIENT);
    // Asked directly: the stream goes over the socket the request came in on.
    assert_eq!(sim.accepted().unwrap().socket, Some(Socket::Server));
}

#[test]
fn a_vetoed_client_fails_after_the_request_timeouts() {
    let (client_keys, server_keys) = keys();
    let mut sim = relayed(ServerConfig::default());
    let server = sim
        .node(SERVER)
        .server_mut(&server_keys.public_key)
        .unwrap();
    server.set_firewall(Box::new(|_, _, _| true));
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys,
        server_keys.public_key,
        open_client(),
    );
    sim.run(|s| s.failed().is_some());
    assert_eq!(sim.failed(), Some(ConnectError::PeerConnectionFailed));
    assert!(sim.accepted().is_none());
    // dht-rpc's 1 s timeout with 3 resends (JS: the same request 4 times).
    let tries = sim
        .handshakes
        .iter()
        .filter(|h| h.2 == modes::FROM_CLIENT)
        .count();
    assert_eq!(tries, 4);
    assert!(sim.now >= Duration::from_secs(4), "{:?}", sim.now);
}

#[test]
fn an_unknown_key_is_peer_not_found() {
    let (client_keys, _) = keys();
    let mut sim = relayed(ServerConfig::default());
    let nobody = KeyPair::from_seed([9; 32]).public_key;
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys,
        nobody,
        ConnectConfig::default(),
    );
    sim.run(|s| s.failed().is_some());
    assert_eq!(sim.failed(), Some(ConnectError::PeerNotFound));
    assert!(sim.handshakes.is_empty());
}

/// [`relayed`] with a firewalled server offering RELAY for holepunching.
fn punchable() -> Sim {
    let (_, server_keys) = keys();
    let mut sim = relayed(ServerConfig::default());
    let relays = vec![ferrocore_wire::dht::RelayInfo {
        relay_address: RELAY,
        peer_address: SERVER,
    }];
    let server = sim
        .node(SERVER)
        .server_mut(&server_keys.public_key)
        .unwrap();
    server.set_relays(relays, vec![RELAY]);
    sim
}

#[test]
fn a_firewalled_pair_with_holepunch_relays_is_the_holepunch_gap() {
    let (client_keys, server_keys) = keys();
    let mut sim = punchable();
    // The server's firewall drops what the client sends it directly: the client's ping of
    // the address the relay saw goes unanswered.
    sim.blocked.push((CLIENT, SERVER));
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys,
        server_keys.public_key,
        ConnectConfig::default(),
    );
    sim.run(|s| s.failed().is_some());
    assert_eq!(sim.failed(), Some(ConnectError::HolepunchUnsupported));
    sim.run(|s| {
        s.events
            .iter()
            .any(|(_, e)| matches!(e, PeerEvent::ServerAborted { .. }))
    });
    let aborted = sim.events.iter().find_map(|(_, e)| match e {
        PeerEvent::ServerAborted {
            event: ServerEvent::Aborted { reason, .. },
            ..
        } => Some(*reason),
        _ => None,
    });
    assert_eq!(aborted, Some(AbortReason::HolepunchUnsupported));
    assert!(sim.now >= Duration::from_secs(10));
}

#[test]
fn a_server_wrongly_thinking_itself_firewalled_is_reached_at_the_address_the_relay_saw() {
    // The gap above without the firewall (a JS server whose firewall check had not ended
    // when it answered): the client's ping of the relay-seen address is answered, so it
    // opens the stream there and the server's holepunch window takes its first packet.
    let (client_keys, server_keys) = keys();
    let mut sim = punchable();
    sim.node(CLIENT).connect(
        Duration::ZERO,
        client_keys,
        server_keys.public_key,
        ConnectConfig::default(),
    );
    sim.run(|s| s.connected().is_some() || s.failed().is_some());
    let c = sim.connected().expect("connected after the ping").clone();
    assert_eq!(c.remote_addr, SERVER);
    assert!(c.remote_payload.holepunch.is_some());
    sim.client_stream_packet_reaches_the_server(&c);
}

#[test]
fn a_firewalled_pair_on_one_host_connects_through_the_shared_local_address() {
    // The holepunch gap above, but the server shares its local address (as JS's
    // `_localAddresses()`): a same-host client pings it and opens the stream there, and
    // the server, in its holepunch window, takes the client's first stream packet.
    let (client_keys, server_keys) = keys();
    let mut sim = punchable();
    sim.node(SERVER).set_local_addresses(vec![SERVER]);
    let lan = ConnectConfig {
        lan: true,
        local_addresses: vec![CLIENT],
        ..ConnectConfig::default()
    };
    sim.node(CLIENT)
        .connect(Duration::ZERO, client_keys, server_keys.public_key, lan);
    sim.run(|s| s.connected().is_some() || s.failed().is_some());
    let c = sim
        .connected()
        .expect("connected through the LAN ping")
        .clone();
    assert_eq!(c.remote_addr, SERVER);
    assert_eq!(c.remote_payload.addresses4, vec![SERVER]);
    assert!(c.remote_payload.holepunch.is_some());
    assert!(sim.accepted().is_none());
    sim.client_stream_packet_reaches_the_server(&c);
}

#[test]
fn the_server_announces_itself_on_the_relay_and_is_found_there() {
    let (client_keys, server_keys) = keys();
    let mut sim = Sim::new(vec![
        (CLIENT, peer_node(CLIENT, false, &[RELAY])),
        (RELAY, peer_node(RELAY, true, &[])),
        (SERVER, peer_node(SERVER, false, &[RELAY])),
    ]);
    let open = ServerConfig {
        our_address: Some(SERVER),
        ..ServerConfig::default()
    };
    sim.node(SERVER)
        .listen(Duration::ZERO, server_keys.clone(), open)
        .unwrap();
    let t = target(&server_keys.public_key);
    sim.run(|s| {
        let relay = &s.nodes[1].1;
        relay.dht().router().get(&t).is_some()
    });
    let route = sim.node(RELAY).dht().router().get(&t).cloned().unwrap();
    assert_eq!(
        route.relay,
        Some(SERVER),
        "the relay learnt the server's address"
    );
    let now = sim.now;
    sim.node(CLIENT)
        .connect(now, client_keys, server_keys.public_key, open_client());
    sim.run(|s| s.connected().is_some() && s.accepted().is_some());
    assert_eq!(sim.connected().unwrap().remote_addr, SERVER);
    // The server's payload named the relay it is announced on.
    let relays = &sim.connected().unwrap().remote_payload.relay_addresses;
    assert_eq!(relays.as_deref(), Some(&[SERVER, RELAY][..]));
    // Closing unannounces.
    let now = sim.now;
    sim.node(SERVER).unlisten(now, &server_keys.public_key);
    sim.run(|s| s.nodes[1].1.dht().router().get(&t).is_none());
    assert!(sim.node(RELAY).dht().router().get(&t).is_none());
}
