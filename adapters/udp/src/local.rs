//! This host's local addresses as HyperDHT shares them (`hyperdht@6.34.0`
//! `lib/holepuncher.js` `localAddresses` and `index.js` `validateLocalAddresses`): a
//! server puts them in its handshake payload (`addresses4`), so a client on the same
//! host or LAN reaches it directly, and a client sends its own and picks the server's
//! address on its subnet.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use ferrocore_wire::dht::Ipv4Address;

/// How long a local address's self-sent datagram may take before it is given up
/// (`validateLocalAddresses`' timer).
pub const VALIDATE_TIMEOUT: Duration = Duration::from_millis(500);

/// The local addresses of a socket bound to `bound` (`Holepuncher.localAddresses`): the
/// socket's own when bound to `127.0.0.1`, else every non-loopback IPv4 interface address
/// with the socket's port, else `127.0.0.1` with it.
#[must_use]
pub fn local_addresses(bound: SocketAddr) -> Vec<Ipv4Address> {
    let port = bound.port();
    let loopback = Ipv4Address::new(Ipv4Addr::LOCALHOST.octets(), port);
    if bound.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST) {
        return vec![loopback];
    }
    let mut out: Vec<Ipv4Address> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback())
        .filter_map(|i| match i.ip() {
            IpAddr::V4(ip) => Some(Ipv4Address::new(ip.octets(), port)),
            IpAddr::V6(_) => None,
        })
        .collect();
    if out.is_empty() {
        out.push(loopback);
    }
    out
}

/// The addresses of `addresses` whose host can be bound and receives a datagram it sends
/// itself within [`VALIDATE_TIMEOUT`] (`dht.validateLocalAddresses`); blocks up to that
/// long per host that does not.
#[must_use]
pub fn validate_local_addresses(addresses: &[Ipv4Address]) -> Vec<Ipv4Address> {
    let hosts: BTreeSet<[u8; 4]> = addresses.iter().map(|a| a.host).collect();
    let valid: BTreeSet<[u8; 4]> = hosts.into_iter().filter(|h| sends_to_itself(*h)).collect();
    addresses
        .iter()
        .filter(|a| valid.contains(&a.host))
        .copied()
        .collect()
}

fn sends_to_itself(host: [u8; 4]) -> bool {
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::from(host), 0)) else {
        return false;
    };
    let Ok(me) = sock.local_addr() else {
        return false;
    };
    if sock.set_read_timeout(Some(VALIDATE_TIMEOUT)).is_err() || sock.send_to(&[0], me).is_err() {
        return false;
    }
    let mut buf = [0u8; 1];
    matches!(sock.recv_from(&mut buf), Ok((_, from)) if from == me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_socket_shares_its_own_address() {
        let bound: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        assert_eq!(
            local_addresses(bound),
            vec![Ipv4Address::new([127, 0, 0, 1], 4321)]
        );
    }

    #[test]
    fn a_wildcard_socket_shares_interface_addresses_with_its_port() {
        let bound: SocketAddr = "0.0.0.0:4322".parse().unwrap();
        let addrs = local_addresses(bound);
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.port == 4322));
        // loopback only when the host has no other IPv4 interface
        let loopback = addrs.iter().any(|a| a.host[0] == 127);
        assert!(!loopback || addrs.len() == 1, "{addrs:?}");
    }

    #[test]
    fn validation_keeps_bindable_hosts_and_drops_foreign_ones() {
        let here = Ipv4Address::new([127, 0, 0, 1], 9);
        // TEST-NET-3: not an address of this host, cannot be bound
        let foreign = Ipv4Address::new([203, 0, 113, 77], 9);
        assert_eq!(validate_local_addresses(&[foreign, here]), vec![here]);
    }
}
