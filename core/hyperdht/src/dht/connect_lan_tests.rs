//! A server that is not reachable: its holepunch window takes the client's first stream
//! packet (a client that reached a shared local address), and a server that cannot punch
//! offers no holepunch ([`ServerConfig::offer_holepunch`]).

use super::*;

#[test]
fn the_holepunch_window_takes_the_clients_stream_packet() {
    let mut net = lan_net();
    net.client.handle_ping(LAN, true);
    net.run();
    let c = net.done.clone().unwrap().unwrap();
    assert!(net.server.stream_id_used(22));
    assert!(!net.server.handle_stream_packet(T0, 99, CLIENT));
    assert!(net.server.handle_stream_packet(T0, 22, CLIENT));
    let s = net.server_connection();
    assert_eq!(s.remote_addr, CLIENT);
    check_pair(&c, &s);
    // Connected: the window's end aborts nothing, a late packet finds nothing waiting.
    net.server.handle_timeout(T0 + HANDSHAKE_INITIAL_TIMEOUT);
    assert_eq!(net.server.poll_event(), None);
    assert!(!net.server.handle_stream_packet(T0, 22, CLIENT));
}

#[test]
fn a_server_that_cannot_punch_offers_no_holepunch_and_is_reached_directly() {
    let srv = punchable(ServerConfig {
        offer_holepunch: false,
        ..ServerConfig::default()
    });
    let mut net = Net::new(client(ConnectConfig::default()), srv, &[RELAY]);
    net.run();
    // Relayed and not holepunchable: the client goes to the address the relay saw.
    let c = net.done.clone().unwrap().unwrap();
    assert_eq!(c.remote_addr, SERVER);
    assert_eq!(c.remote_payload.holepunch, None);
    assert_eq!(c.remote_payload.firewall, firewall::UNKNOWN);
    assert!(net.server.handle_stream_packet(T0, 22, CLIENT));
    check_pair(&c, &net.server_connection());
}
