//! A dht-rpc node ([`ferrocore_hyperdht::rpc::Node`]) as a [`Machine`]: both of its
//! sockets are the one UDP socket it shares with UDX, its randomness (id, first
//! transaction id, token secrets) is drawn from a seed from the OS. All input is
//! handed to the node as its server socket's.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ferrocore_hyperdht::rpc::config::Config;
use ferrocore_hyperdht::rpc::io::Socket;
use ferrocore_hyperdht::rpc::node::{Node, NodeEvent};
use ferrocore_wire::dht::{errors, Ipv4Address};

use crate::machine::{Machine, MachineNode};
use crate::UdxSocket;

/// JS HyperDHT's public bootstrap nodes (`hyperdht/lib/constants.js`), by address.
pub const PUBLIC_BOOTSTRAP: &str = "88.99.3.86:49737,142.93.90.113:49737,138.68.147.8:49737";

/// A bootstrap list given as `host:port,...` (IP addresses), or [`PUBLIC_BOOTSTRAP`]
/// when none is given.
///
/// ```
/// use ferrocore_udp::bootstrap_list;
/// let local = bootstrap_list(Some("127.0.0.1:49737,[::1]:5")).unwrap();
/// assert_eq!(local, ["127.0.0.1:49737".parse().unwrap(), "[::1]:5".parse().unwrap()]);
/// assert_eq!(bootstrap_list(None).unwrap().len(), 3);
/// assert!(bootstrap_list(Some("node1.hyperdht.org:49737")).is_err());
/// ```
///
/// # Errors
/// When an entry is not an IP socket address.
pub fn bootstrap_list(list: Option<&str>) -> Result<Vec<SocketAddr>, std::net::AddrParseError> {
    list.unwrap_or(PUBLIC_BOOTSTRAP)
        .split(',')
        .map(str::parse)
        .collect()
}

/// How an [`RpcMachine`] starts.
#[derive(Clone, Debug, Default)]
pub struct RpcConfig {
    /// The nodes it bootstraps from (IPv4; others are skipped). Empty: it is the first
    /// node of its network and bootstrapped at once.
    pub bootstrap: Vec<SocketAddr>,
    /// A persistent node from the start (as JS's bootstrap nodes): not firewalled, not
    /// ephemeral (it sends its id, so others add it to their tables), its id the hash of
    /// its address ([`RpcConfig::host`] and the bound port).
    pub persistent: bool,
    /// The host others reach this node at (a persistent node's id is derived from it).
    /// Default: the bound address's, `127.0.0.1` when bound to `0.0.0.0`.
    pub host: Option<Ipv4Addr>,
    /// Hand application requests and node events to the application (`RpcEvent::Node`);
    /// when false, requests are answered `UNKNOWN_COMMAND` (as JS does when nobody
    /// listens) and only [`RpcEvent::Bootstrapped`] is reported.
    pub events: bool,
}

/// What an [`RpcMachine`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcEvent {
    /// The node finished bootstrapping (dht-rpc's `ready`).
    Bootstrapped,
    /// A dht-rpc node event (only with [`RpcConfig::events`]).
    Node(NodeEvent),
}

/// A dht-rpc node run on a UDX socket's spare datagrams.
#[derive(Debug)]
pub struct RpcMachine {
    node: Node,
    events: bool,
    bootstrapped: bool,
}

/// `addr` as dht-rpc's IPv4 address (`None` for IPv6).
#[must_use]
pub fn to_ipv4(addr: SocketAddr) -> Option<Ipv4Address> {
    match addr.ip() {
        IpAddr::V4(ip) => Some(Ipv4Address::new(ip.octets(), addr.port())),
        IpAddr::V6(ip) => ip
            .to_ipv4_mapped()
            .map(|ip| Ipv4Address::new(ip.octets(), addr.port())),
    }
}

/// dht-rpc's IPv4 address as a socket address.
#[must_use]
pub fn from_ipv4(addr: Ipv4Address) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(addr.host)), addr.port)
}

impl RpcConfig {
    /// dht-rpc's options for a node bound to `local`.
    #[must_use]
    pub fn to_config(&self, local: SocketAddr) -> Config {
        let host = self.host.unwrap_or(match local.ip() {
            IpAddr::V4(ip) if !ip.is_unspecified() => ip,
            _ => Ipv4Addr::LOCALHOST,
        });
        let mut cfg = if self.persistent && self.bootstrap.is_empty() {
            Config::bootstrapper(host.octets(), local.port())
        } else if self.persistent {
            Config {
                ephemeral: Some(false),
                firewalled: false,
                ..Config::default()
            }
        } else {
            Config::default()
        };
        cfg.bootstrap = self.bootstrap.iter().filter_map(|a| to_ipv4(*a)).collect();
        cfg.host = host.octets();
        cfg.port = local.port();
        cfg
    }
}

impl RpcMachine {
    /// A node at `now` bound to `local`, started as `config` says (it begins
    /// bootstrapping at once: dht-rpc's bootstrap, NAT sampling and firewall check).
    ///
    /// # Errors
    /// When the OS random number generator fails.
    pub fn new(now: Duration, local: SocketAddr, config: &RpcConfig) -> io::Result<Self> {
        let mut mine = [0u8; 32];
        getrandom::getrandom(&mut mine).map_err(io::Error::from)?;
        let mut node = Node::with_config(now, config.to_config(local), mine);
        node.start(now, local.port());
        Ok(Self {
            node,
            events: config.events,
            bootstrapped: false,
        })
    }

    /// The node's id while persistent (`None` while ephemeral, as JS's `dht.id`).
    #[must_use]
    pub fn id(&self) -> Option<[u8; 32]> {
        self.node.id()
    }

    /// The id its routing table is built around (the persistent id once it has one).
    #[must_use]
    pub fn table_id(&self) -> [u8; 32] {
        *self.node.table().id()
    }

    /// Whether it has finished bootstrapping.
    #[must_use]
    pub fn is_bootstrapped(&self) -> bool {
        self.bootstrapped
    }

    /// The dht-rpc node.
    #[must_use]
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The dht-rpc node, to send requests, answer them or start queries.
    pub fn node_mut(&mut self) -> &mut Node {
        &mut self.node
    }
}

impl Machine for RpcMachine {
    type Event = RpcEvent;

    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, data: &[u8]) {
        if let Some(from) = to_ipv4(from) {
            self.node.handle_datagram(now, Socket::Server, from, data);
        }
    }

    fn handle_timeout(&mut self, now: Duration) {
        self.node.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Duration> {
        self.node.poll_timeout()
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.node
            .poll_transmit()
            .map(|t| (from_ipv4(t.to), t.bytes))
    }

    fn poll_event(&mut self) -> Option<RpcEvent> {
        while let Some(e) = self.node.poll_event() {
            if e == NodeEvent::Ready {
                self.bootstrapped = true;
                return Some(RpcEvent::Bootstrapped);
            }
            if self.events {
                return Some(RpcEvent::Node(e));
            }
            if let NodeEvent::Request(req) = e {
                self.node.reply(&req, errors::UNKNOWN_COMMAND, None, false);
            }
        }
        None
    }
}

/// A dht-rpc node on a UDX socket: a [`MachineNode`] of an [`RpcMachine`], made by a
/// runtime adapter's `bind_rpc` (which runs its loop).
#[derive(Clone, Debug)]
pub struct RpcNode {
    node: MachineNode<RpcMachine>,
}

impl RpcNode {
    /// A node on `socket` started as `config` says; nothing moves until its loop runs
    /// ([`crate::drive_machine`] on [`machine`](Self::machine), or
    /// [`crate::run_machine_blocking`]).
    ///
    /// # Errors
    /// When the socket has no local address or the OS random number generator fails.
    pub fn new(socket: UdxSocket, config: &RpcConfig) -> io::Result<Self> {
        let local = socket.local_addr()?;
        let machine = RpcMachine::new(socket.shared().now(), local, config)?;
        Ok(Self {
            node: MachineNode::new(socket, machine),
        })
    }

    /// The running machine: run code on the node ([`MachineNode::with`]), take events.
    #[must_use]
    pub fn machine(&self) -> &MachineNode<RpcMachine> {
        &self.node
    }

    /// The node's id while persistent (`None` while ephemeral, as JS's `dht.id`).
    #[must_use]
    pub fn id(&self) -> Option<[u8; 32]> {
        self.node.with(|m, _| m.id())
    }

    /// The id its routing table is built around (the persistent id once it has one).
    #[must_use]
    pub fn table_id(&self) -> [u8; 32] {
        self.node.with(|m, _| m.table_id())
    }

    /// The address its socket is bound to.
    ///
    /// # Errors
    /// As the OS's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.node.socket().local_addr()
    }

    /// The UDX socket the node shares (streams to peers it finds).
    #[must_use]
    pub fn socket(&self) -> &UdxSocket {
        self.node.socket()
    }

    /// Nodes in its routing table.
    #[must_use]
    pub fn table_len(&self) -> usize {
        self.node.with(|m, _| m.node().table().len())
    }

    /// Whether its bootstrap query has ended.
    #[must_use]
    pub fn is_bootstrapped(&self) -> bool {
        self.node.with(|m, _| m.is_bootstrapped())
    }
}
