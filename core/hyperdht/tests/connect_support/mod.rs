//! Helpers shared by the connect tests that read JS's JSON.

use ferrocore_wire::dht::Ipv4Address;
use serde_json::Value;

/// `{host, port}` as JS prints an IPv4 address.
pub fn addr(v: &Value) -> Ipv4Address {
    let host: Vec<u8> = v["host"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    let port = u16::try_from(v["port"].as_u64().unwrap()).unwrap();
    Ipv4Address::new(host.try_into().unwrap(), port)
}
