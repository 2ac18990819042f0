//! What a node tells about itself: options, table, address, modes.

use alloc::vec::Vec;

use ferrocore_wire::dht::Ipv4Address;

use super::super::config::Config;
use super::super::io::Io;
use super::super::nat::NatSampler;
use super::super::table::Table;
use super::Node;

impl Node {
    /// The options.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The I/O layer.
    #[must_use]
    pub fn io(&self) -> &Io {
        &self.io
    }

    /// The I/O layer, to change (firewalled, ephemeral).
    pub fn io_mut(&mut self) -> &mut Io {
        &mut self.io
    }

    /// The routing table.
    #[must_use]
    pub fn table(&self) -> &Table {
        self.io.table()
    }

    /// The current tick.
    #[must_use]
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// Our id when persistent (`dht.id`: `null` while ephemeral).
    #[must_use]
    pub fn id(&self) -> Option<[u8; 32]> {
        (!self.io.ephemeral).then(|| *self.table().id())
    }

    /// Whether the node is ephemeral.
    #[must_use]
    pub fn ephemeral(&self) -> bool {
        self.io.ephemeral
    }

    /// Whether the node is firewalled.
    #[must_use]
    pub fn firewalled(&self) -> bool {
        self.io.firewalled
    }

    /// Whether the node is adaptive (may turn persistent once stable).
    #[must_use]
    pub fn adaptive(&self) -> bool {
        self.adaptive
    }

    /// Our public host as sampled (`dht.host`).
    #[must_use]
    pub fn host(&self) -> Option<[u8; 4]> {
        self.nat.host()
    }

    /// Our public port as sampled (`dht.port`; 0 while unknown or random).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.nat.port()
    }

    /// Whether our NAT randomises ports (`dht.randomized`: a host but no port).
    #[must_use]
    pub fn randomized(&self) -> bool {
        self.nat.host().is_some() && self.nat.port() == 0
    }

    /// The NAT sampler.
    #[must_use]
    pub fn nat(&self) -> &NatSampler {
        &self.nat
    }

    /// Our address as others reach us (`remoteAddress()`): known host and port, not
    /// firewalled, and the port is our server socket's.
    #[must_use]
    pub fn remote_address(&self) -> Option<Ipv4Address> {
        let host = self.nat.host()?;
        let port = self.nat.port();
        (port != 0 && !self.io.firewalled && port == self.server_port)
            .then(|| Ipv4Address::new(host, port))
    }

    /// Whether the network is up, and whether degraded (`online`, `degraded`).
    #[must_use]
    pub fn network(&self) -> (bool, bool) {
        (self.online, self.degraded)
    }

    /// The nodes of the table, most recently heard from first (`toArray()`).
    #[must_use]
    pub fn to_array(&self) -> Vec<Ipv4Address> {
        self.by_touch().into_iter().rev().map(|(_, a)| a).collect()
    }

    /// The table's nodes, least recently heard from first (JS's time-ordered `nodes`).
    pub(super) fn by_touch(&self) -> Vec<([u8; 32], Ipv4Address)> {
        let mut v: Vec<_> = self
            .table()
            .iter()
            .map(|n| (n.touched, n.id, n.addr))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id, a)| (id, a)).collect()
    }
}
