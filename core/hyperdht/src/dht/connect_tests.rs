//! The handshake byte flow between a [`Connector`] and a [`Server`], directly and (with the
//! relay's part done by hand: the real one is the `Dht`'s router, tested in
//! `connect_node_tests.rs`) relayed.

use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use ferrocore_wire::dht::{firewall, modes, Handshake, Ipv4Address, RelayInfo};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::stream::stream_id;
use ferrocore_wire::Decode;

use super::*;
use crate::dht::handshake::{HANDSHAKE_CLEAR_WAIT, HANDSHAKE_INITIAL_TIMEOUT};
use crate::dht::server::{AbortReason, Server, ServerConfig, ServerEvent};
use crate::rpc::io::Socket;

const CLIENT: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 4001);
const RELAY: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 4002);
const SERVER: Ipv4Address = Ipv4Address::new([127, 0, 0, 1], 4003);
const T0: Duration = Duration::from_secs(100);

fn server_keys() -> KeyPair {
    KeyPair::from_seed([7; 32])
}

fn client(config: ConnectConfig) -> Connector {
    Connector::new(
        KeyPair::from_seed([8; 32]),
        server_keys().public_key,
        config,
        11,
        [9; 32],
    )
}

fn server(config: ServerConfig) -> Server {
    Server::new(server_keys(), config)
}

/// Client, relay and server wired by hand: `reachable` lists the nodes holding the
/// server's record (found by the query); requests to SERVER go to it directly, requests to
/// RELAY are routed to SERVER and back.
struct Net {
    client: Connector,
    server: Server,
    found: Vec<Ipv4Address>,
    /// Drop everything the server sends.
    server_silent: bool,
    /// Handshakes the server saw: (from, mode).
    wire: Vec<(Ipv4Address, u64)>,
    pings: Vec<Ipv4Address>,
    done: Option<Result<Connection, ConnectError>>,
    queries: usize,
}

impl Net {
    fn new(client: Connector, server: Server, found: &[Ipv4Address]) -> Self {
        Self {
            client,
            server,
            found: found.to_vec(),
            server_silent: false,
            wire: Vec::new(),
            pings: Vec::new(),
            done: None,
            queries: 0,
        }
    }

    /// The server's answer to the client's FROM_CLIENT `value`, as it arrives from
    /// `from` (a relay forwarding it adds the client's address).
    fn serve(&mut self, from: Ipv4Address, value: &[u8]) -> Option<Bytes> {
        let mut hs = Handshake::decode_from(value).unwrap();
        assert_eq!(hs.mode, modes::FROM_CLIENT);
        if from != CLIENT {
            hs.mode = modes::FROM_RELAY;
            hs.peer_address = Some(CLIENT);
        }
        self.wire.push((from, hs.mode));
        let reply = self
            .server
            .handle_peer_handshake(T0, &hs, from, Socket::Server, [5; 32], 22);
        reply.filter(|_| !self.server_silent)
    }

    /// A request to SERVER is answered directly; one to RELAY is relayed to the server
    /// and its answer comes back naming the server's address.
    fn request(&mut self, to: Ipv4Address, value: Bytes) {
        let reply = match to {
            SERVER => self.serve(CLIENT, &value).map(|noise| Handshake {
                mode: modes::REPLY,
                noise,
                ..Handshake::default()
            }),
            RELAY => self.serve(RELAY, &value).map(|noise| Handshake {
                mode: modes::REPLY,
                noise,
                peer_address: Some(SERVER),
                relay_address: None,
            }),
            _ => None,
        };
        match reply {
            Some(hs) => {
                let v = ferrocore_wire::Encode::to_vec(&hs);
                self.client.handle_reply(T0, to, to, CLIENT, Some(&v));
            }
            None => self.client.handle_failure(to),
        }
    }

    fn run(&mut self) {
        while let Some(a) = self.client.poll_action() {
            match a {
                ConnectAction::FindPeer { target, .. } => {
                    assert_eq!(
                        target,
                        crate::dht::handshake::target(&self.client.remote_public_key())
                    );
                    self.queries += 1;
                    for f in self.found.clone() {
                        self.client.handle_peer_found(f);
                    }
                    self.client.handle_query_done();
                }
                ConnectAction::Request { to, target, value } => {
                    assert_eq!(
                        target,
                        crate::dht::handshake::target(&self.client.remote_public_key())
                    );
                    self.request(to, value);
                }
                ConnectAction::Ping { to } => self.pings.push(to),
                ConnectAction::CancelQuery => {}
                ConnectAction::Connected(c) => self.done = Some(Ok(*c)),
                ConnectAction::Failed(e) => self.done = Some(Err(e)),
            }
        }
    }

    fn server_connection(&mut self) -> Connection {
        match self.server.poll_event() {
            Some(ServerEvent::Connection(c)) => *c,
            other => panic!("server reported {other:?}"),
        }
    }
}

/// A firewalled server offering RELAY for holepunching.
fn punchable(config: ServerConfig) -> Server {
    let mut srv = server(config);
    srv.set_relays(
        vec![RelayInfo {
            relay_address: RELAY,
            peer_address: SERVER,
        }],
        vec![RELAY],
    );
    srv
}

fn open_client() -> ConnectConfig {
    ConnectConfig {
        our_address: Some(CLIENT),
        ..ConnectConfig::default()
    }
}

fn check_pair(c: &Connection, s: &Connection) {
    assert!(c.is_initiator && !s.is_initiator);
    assert_eq!(c.remote_public_key, server_keys().public_key);
    assert_eq!(s.remote_public_key, KeyPair::from_seed([8; 32]).public_key);
    assert_eq!((c.local_stream_id, c.remote_stream_id), (11, 22));
    assert_eq!((s.local_stream_id, s.remote_stream_id), (22, 11));
    let (ch, sh) = (&c.handshake.handshake, &s.handshake.handshake);
    assert_eq!((ch.tx, ch.rx, ch.hash), (sh.rx, sh.tx, sh.hash));
    assert_eq!(c.handshake.remote_id, stream_id(&sh.hash, sh.role));
    assert_eq!(c.handshake.holepunch_secret, s.handshake.holepunch_secret);
}

#[test]
fn direct_handshake_connects_both_sides() {
    let mut net = Net::new(
        client(ConnectConfig::default()),
        server(ServerConfig::default()),
        &[SERVER],
    );
    assert_eq!(
        net.server.target(),
        crate::dht::handshake::target(&net.client.remote_public_key())
    );
    net.run();
    let c = net.done.clone().unwrap().unwrap();
    assert_eq!(
        c.remote_addr, SERVER,
        "not relayed: the node asked is the server"
    );
    let s = net.server_connection();
    assert_eq!(
        s.remote_addr, CLIENT,
        "asked directly: the server connects to the sender"
    );
    check_pair(&c, &s);
    assert_eq!(net.wire, vec![(CLIENT, modes::FROM_CLIENT)]);
}

#[test]
fn relayed_handshake_goes_through_the_relay_both_ways() {
    let cfg = ServerConfig {
        our_address: Some(SERVER),
        ..ServerConfig::default()
    };
    let mut net = Net::new(client(open_client()), server(cfg), &[RELAY]);
    net.run();
    assert_eq!(net.wire, vec![(RELAY, modes::FROM_RELAY)]);
    let c = net.done.clone().unwrap().unwrap();
    // Server OPEN: the client goes to its first public address, else the relay's view.
    assert_eq!(c.remote_addr, SERVER);
    let s = net.server_connection();
    assert_eq!(
        s.remote_addr, CLIENT,
        "client OPEN: the server connects to it at once"
    );
    check_pair(&c, &s);
    assert_eq!(c.remote_payload.firewall, firewall::OPEN);
    assert_eq!(s.remote_payload.addresses4, vec![CLIENT]);
}

#[test]
fn a_reachable_server_waits_for_the_clients_first_packet() {
    let cfg = ServerConfig {
        our_address: Some(Ipv4Address::new([1, 2, 3, 4], 4003)),
        ..ServerConfig::default()
    };
    let mut net = Net::new(client(ConnectConfig::default()), server(cfg), &[RELAY]);
    net.run();
    let c = net.done.clone().unwrap().unwrap();
    assert_eq!(c.remote_addr, Ipv4Address::new([1, 2, 3, 4], 4003));
    assert_eq!(net.server.poll_event(), None);
    assert!(net.server.stream_id_used(22));
    assert!(!net.server.handle_stream_packet(T0, 99, CLIENT));
    assert!(net.server.handle_stream_packet(T0, 22, CLIENT));
    assert_eq!(net.server_connection().remote_addr, CLIENT);
}

#[test]
fn a_waiting_server_gives_up_after_the_initial_timeout() {
    let cfg = ServerConfig {
        our_address: Some(SERVER),
        ..ServerConfig::default()
    };
    let mut net = Net::new(client(ConnectConfig::default()), server(cfg), &[RELAY]);
    net.run();
    assert_eq!(
        net.server.poll_timeout(),
        Some(T0 + Duration::from_secs(10))
    );
    net.server.handle_timeout(T0 + Duration::from_millis(9_999));
    assert_eq!(net.server.poll_event(), None);
    net.server.handle_timeout(T0 + Duration::from_secs(10));
    assert_eq!(
        net.server.poll_event(),
        Some(ServerEvent::Aborted {
            local_stream_id: 22,
            reason: AbortReason::Timeout
        })
    );
    assert!(!net.server.handle_stream_packet(T0, 22, CLIENT));
    // Then forgotten after the clear wait.
    assert_eq!(net.server.handshakes(), 1);
    net.server.handle_timeout(T0 + Duration::from_secs(20));
    assert_eq!(net.server.handshakes(), 0);
}

#[test]
fn a_reachable_client_waits_for_the_server_then_times_out() {
    // Server firewalled with a holepunch relay, client OPEN: the server should connect.
    let srv = punchable(ServerConfig::default());
    let mut net = Net::new(client(open_client()), srv, &[RELAY]);
    net.run();
    assert!(net.done.is_none());
    assert_eq!(
        net.client.poll_timeout(),
        Some(T0 + PASSIVE_CONNECT_TIMEOUT)
    );
    net.client.handle_timeout(T0 + PASSIVE_CONNECT_TIMEOUT);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::HolepunchAborted)));
    // The server itself connected to the (open) client right away.
    let s = net.server_connection();
    assert_eq!(s.remote_addr, CLIENT);
    assert_eq!(s.remote_payload.firewall, firewall::OPEN);
}

#[test]
fn a_reachable_client_connects_on_the_servers_packet() {
    let srv = punchable(ServerConfig::default());
    let mut net = Net::new(client(open_client()), srv, &[RELAY]);
    net.run();
    assert!(net.done.is_none());
    net.client.handle_stream_packet(SERVER);
    net.run();
    assert_eq!(net.done.clone().unwrap().unwrap().remote_addr, SERVER);
}

#[test]
fn firewalled_peers_without_relays_cannot_holepunch() {
    // Relayed, the server firewalled without holepunch relays: the reference connects to
    // the address the relay saw (`relayed && !remoteHolepunchable`).
    let mut net = Net::new(
        client(ConnectConfig::default()),
        server(ServerConfig::default()),
        &[RELAY],
    );
    net.run();
    assert_eq!(net.done.clone().unwrap().unwrap().remote_addr, SERVER);
}

#[test]
fn holepunchable_firewalled_peers_are_an_explicit_gap() {
    let srv = punchable(ServerConfig::default());
    let mut net = Net::new(client(ConnectConfig::default()), srv, &[RELAY]);
    net.run();
    // First a ping of the address the relay saw; unanswered, the holepunch gap.
    assert_eq!(net.pings, vec![SERVER]);
    assert!(net.done.is_none());
    net.client.handle_ping(SERVER, false);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::HolepunchUnsupported)));
    net.server.handle_timeout(T0 + HANDSHAKE_INITIAL_TIMEOUT);
    assert_eq!(
        net.server.poll_event(),
        Some(ServerEvent::Aborted {
            local_stream_id: 22,
            reason: AbortReason::HolepunchUnsupported
        })
    );
}

/// The server's LAN address in [`lan_net`].
const LAN: Ipv4Address = Ipv4Address::new([192, 168, 1, 5], 4003);

/// Firewalled peers on one host: a punchable server sharing [`LAN`], a client with
/// `lan` on and its own address on that subnet; the handshake is done.
fn lan_net() -> Net {
    let srv = punchable(ServerConfig {
        local_addresses: vec![LAN],
        ..ServerConfig::default()
    });
    let cfg = ConnectConfig {
        lan: true,
        local_addresses: vec![Ipv4Address::new([192, 168, 1, 9], 4001)],
        ..ConnectConfig::default()
    };
    let mut net = Net::new(client(cfg), srv, &[RELAY]);
    net.run();
    net
}

#[test]
fn same_host_peers_try_the_lan_address() {
    let lan = LAN;
    let mut net = lan_net();
    assert_eq!(net.pings, vec![lan]);
    assert!(net.done.is_none());
    net.client.handle_ping(lan, true);
    net.run();
    assert_eq!(net.done.clone().unwrap().unwrap().remote_addr, lan);
    // A failed ping with holepunch relays on offer: the relay-seen address next, then the
    // holepunch gap.
    let mut net = lan_net();
    net.client.handle_ping(lan, false);
    net.run();
    assert_eq!(net.pings, vec![lan, SERVER]);
    assert!(net.done.is_none());
    net.client.handle_ping(SERVER, true);
    net.run();
    assert_eq!(net.done.clone().unwrap().unwrap().remote_addr, SERVER);
    let mut net = lan_net();
    net.client.handle_ping(lan, false);
    net.client.handle_ping(SERVER, false);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::HolepunchUnsupported)));
}

#[test]
fn a_wrong_server_key_gets_no_answer() {
    let other = Connector::new(
        KeyPair::from_seed([8; 32]),
        KeyPair::from_seed([1; 32]).public_key,
        ConnectConfig::default(),
        11,
        [9; 32],
    );
    let mut net = Net::new(other, server(ServerConfig::default()), &[SERVER, RELAY]);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::PeerConnectionFailed)));
    assert_eq!(net.server.poll_event(), None);
    // Wrong target too: the query for another key found these nodes, the server refused.
    assert_eq!(net.wire.len(), 2, "both reached the server");
}

#[test]
fn the_firewall_hook_vetoes_clients() {
    let mut srv = server(ServerConfig::default());
    let banned = KeyPair::from_seed([8; 32]).public_key;
    srv.set_firewall(alloc::boxed::Box::new(move |key, payload, addr| {
        assert_eq!(*addr, CLIENT);
        assert!(payload.udx.is_some());
        *key == banned
    }));
    let mut net = Net::new(client(ConnectConfig::default()), srv, &[SERVER]);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::PeerConnectionFailed)));
    assert_eq!(net.server.poll_event(), None);
    let mut srv = server(ServerConfig::default());
    srv.set_firewall(alloc::boxed::Box::new(|_, _, _| false));
    let mut net = Net::new(client(ConnectConfig::default()), srv, &[SERVER]);
    net.run();
    assert!(net.done.unwrap().is_ok());
}

#[test]
fn nobody_holding_the_record_is_peer_not_found() {
    let mut net = Net::new(
        client(ConnectConfig::default()),
        server(ServerConfig::default()),
        &[],
    );
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::PeerNotFound)));
    assert_eq!(net.queries, 1);
}

#[test]
fn silent_nodes_are_peer_connection_failed_after_every_try() {
    let unknown = Ipv4Address::new([127, 0, 0, 1], 5000);
    let cfg = ConnectConfig {
        relay_addresses: vec![unknown],
        ..ConnectConfig::default()
    };
    let mut net = Net::new(client(cfg), server(ServerConfig::default()), &[RELAY]);
    net.server_silent = true;
    net.run();
    // Known relay addresses: tried first, then two queries (the first seeded with them).
    assert_eq!(net.queries, 2);
    assert_eq!(net.done, Some(Err(ConnectError::PeerConnectionFailed)));
    assert_eq!(net.client.asked(), &[unknown, RELAY, RELAY]);
}

#[test]
fn retransmissions_get_the_same_reply_and_one_connection() {
    let mut srv = server(ServerConfig::default());
    let mut c = client(ConnectConfig::default());
    let Some(ConnectAction::FindPeer { .. }) = c.poll_action() else {
        panic!()
    };
    c.handle_peer_found(SERVER);
    let Some(ConnectAction::Request { value, .. }) = c.poll_action() else {
        panic!()
    };
    let hs = Handshake::decode_from(&value).unwrap();
    let a = srv.handle_peer_handshake(T0, &hs, CLIENT, Socket::Server, [5; 32], 22);
    let b = srv.handle_peer_handshake(T0, &hs, CLIENT, Socket::Server, [6; 32], 23);
    assert!(a.is_some());
    assert_eq!(a, b);
    assert!(matches!(srv.poll_event(), Some(ServerEvent::Connection(_))));
    assert_eq!(srv.poll_event(), None);
    assert!(!srv.stream_id_used(23));
    // Garbage is refused without an answer.
    let mut junk = hs.clone();
    junk.noise = Bytes::from_static(&[1; 96]);
    assert_eq!(
        srv.handle_peer_handshake(T0, &junk, CLIENT, Socket::Server, [5; 32], 24),
        None
    );
    srv.close();
    assert_eq!(
        srv.handle_peer_handshake(T0, &hs, CLIENT, Socket::Server, [5; 32], 25),
        None
    );
}

#[test]
fn bad_replies_only_end_their_attempt() {
    let mut c = client(ConnectConfig::default());
    let _ = c.poll_action();
    c.handle_peer_found(RELAY);
    c.handle_peer_found(SERVER);
    c.handle_query_done();
    let reqs: Vec<_> = core::iter::from_fn(|| c.poll_action()).collect();
    assert_eq!(reqs.len(), 2);
    // A reply from another address than the node asked, then a malformed one.
    let bogus = Handshake {
        mode: modes::REPLY,
        noise: Bytes::from_static(b"x"),
        ..Handshake::default()
    };
    c.handle_reply(
        T0,
        RELAY,
        SERVER,
        CLIENT,
        Some(&ferrocore_wire::Encode::to_vec(&bogus)),
    );
    assert_eq!(c.poll_action(), None);
    c.handle_reply(T0, SERVER, SERVER, CLIENT, Some(&[0xff, 0xff]));
    assert_eq!(
        c.poll_action(),
        Some(ConnectAction::Failed(ConnectError::PeerConnectionFailed))
    );
}

/// A xorshift stream for garbage inputs.
fn garbage(state: &mut u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_from_peers_is_refused_without_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15;
    let mut srv = server(ServerConfig::default());
    for i in 0..400 {
        let len = i % 200;
        let noise = Bytes::from(garbage(&mut state, len));
        let hs = Handshake {
            mode: (i % 6) as u64,
            noise,
            ..Handshake::default()
        };
        assert_eq!(
            srv.handle_peer_handshake(T0, &hs, CLIENT, Socket::Server, [5; 32], 1),
            None
        );
        let mut c = client(ConnectConfig::default());
        let _ = c.poll_action();
        c.handle_peer_found(RELAY);
        let _ = c.poll_action();
        let v = garbage(&mut state, len);
        c.handle_reply(T0, RELAY, RELAY, CLIENT, Some(&v));
        // A REPLY wrapping garbage noise: the attempt fails, nothing else.
        let wrapped = Handshake {
            mode: modes::REPLY,
            noise: Bytes::from(v),
            ..Handshake::default()
        };
        c.handle_reply(
            T0,
            RELAY,
            RELAY,
            CLIENT,
            Some(&ferrocore_wire::Encode::to_vec(&wrapped)),
        );
        while let Some(a) = c.poll_action() {
            assert!(!matches!(a, ConnectAction::Connected(_)));
        }
    }
    assert!(srv.poll_event().is_none());
    assert!(srv.handshakes() <= crate::dht::server::MAX_HANDSHAKES);
}

#[test]
fn handshakes_remembered_are_capped() {
    use crate::dht::server::MAX_HANDSHAKES;
    let mut srv = server(ServerConfig::default());
    for i in 0..MAX_HANDSHAKES + 10 {
        let mut noise = [0u8; 96];
        noise[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let hs = Handshake {
            noise: Bytes::copy_from_slice(&noise),
            ..Handshake::default()
        };
        let _ = srv.handle_peer_handshake(T0, &hs, CLIENT, Socket::Server, [5; 32], 1);
    }
    assert_eq!(srv.handshakes(), MAX_HANDSHAKES);
    // A genuine client is turned away while full, and served once they are cleared.
    let mut net = Net::new(client(ConnectConfig::default()), srv, &[SERVER]);
    net.run();
    assert_eq!(net.done, Some(Err(ConnectError::PeerConnectionFailed)));
    net.server.handle_timeout(T0 + HANDSHAKE_CLEAR_WAIT);
    assert_eq!(net.server.handshakes(), 0);
}

#[path = "connect_lan_tests.rs"]
mod lan;
