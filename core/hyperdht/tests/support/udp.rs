//! A tiny blocking UDP driver for tests (std only, loopback): a node's two sockets
//! (server and client) as `std::net::UdpSocket`s, a clock, and a loop that feeds a sans-IO
//! dht-rpc node.

#![allow(dead_code)]

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ferrocore_hyperdht::dht::{Dht, DhtEvent};
use ferrocore_hyperdht::rpc::io::{Socket, Transmit};
use ferrocore_hyperdht::rpc::node::{Node, NodeEvent};
use ferrocore_wire::dht::Ipv4Address;

/// A sans-IO machine [`UdpPair::step`] drives: a dht-rpc [`Node`] or a HyperDHT [`Dht`].
pub trait Machine {
    /// What it reports.
    type Event;
    /// `poll_transmit`.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// `poll_event`.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// `handle_datagram`.
    fn handle_datagram(&mut self, now: Duration, socket: Socket, from: Ipv4Address, b: &[u8]);
    /// `poll_timeout`.
    fn poll_timeout(&self) -> Option<Duration>;
    /// `handle_timeout`.
    fn handle_timeout(&mut self, now: Duration);
}

macro_rules! machine {
    ($t:ty, $e:ty) => {
        impl Machine for $t {
            type Event = $e;
            fn poll_transmit(&mut self) -> Option<Transmit> {
                <$t>::poll_transmit(self)
            }
            fn poll_event(&mut self) -> Option<$e> {
                <$t>::poll_event(self)
            }
            fn handle_datagram(&mut self, now: Duration, s: Socket, from: Ipv4Address, b: &[u8]) {
                <$t>::handle_datagram(self, now, s, from, b)
            }
            fn poll_timeout(&self) -> Option<Duration> {
                <$t>::poll_timeout(self)
            }
            fn handle_timeout(&mut self, now: Duration) {
                <$t>::handle_timeout(self, now)
            }
        }
    };
}
machine!(Node, NodeEvent);
machine!(Dht, DhtEvent);

/// A node's server and client sockets on loopback, non-blocking, and the clock origin.
pub struct UdpPair {
    /// The server socket (the node's advertised port).
    pub server: UdpSocket,
    /// The client socket.
    pub client: UdpSocket,
    origin: Instant,
}

/// An `Ipv4Address` from a socket address (IPv4 only).
pub fn ipv4(a: SocketAddr) -> Ipv4Address {
    match a {
        SocketAddr::V4(v4) => Ipv4Address::new(v4.ip().octets(), v4.port()),
        SocketAddr::V6(_) => panic!("IPv4 only"),
    }
}

impl UdpPair {
    /// Binds both sockets on 127.0.0.1 (the server one on `server_port`, 0 for any).
    pub fn bind(server_port: u16) -> Self {
        let server = UdpSocket::bind(("127.0.0.1", server_port)).expect("bind server socket");
        let client = UdpSocket::bind(("127.0.0.1", 0)).expect("bind client socket");
        server.set_nonblocking(true).expect("non-blocking");
        client.set_nonblocking(true).expect("non-blocking");
        UdpPair {
            server,
            client,
            origin: Instant::now(),
        }
    }

    /// The server socket's address.
    pub fn server_addr(&self) -> Ipv4Address {
        ipv4(self.server.local_addr().expect("bound"))
    }

    /// The client socket's address.
    pub fn client_addr(&self) -> Ipv4Address {
        ipv4(self.client.local_addr().expect("bound"))
    }

    /// Time since the pair was bound: the node's clock.
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Sends a datagram from the socket it names (errors are dropped, as UDP does).
    pub fn send(&self, t: &Transmit) {
        let to = SocketAddr::from((t.to.host, t.to.port));
        let sock = match t.socket {
            Socket::Server => &self.server,
            Socket::Client => &self.client,
        };
        let _ = sock.send_to(&t.bytes, to);
    }

    /// A datagram waiting on either socket.
    pub fn recv(&self) -> Option<(Socket, Ipv4Address, Vec<u8>)> {
        let mut buf = [0u8; 2048];
        for (socket, s) in [
            (Socket::Server, &self.server),
            (Socket::Client, &self.client),
        ] {
            match s.recv_from(&mut buf) {
                Ok((n, from)) => return Some((socket, ipv4(from), buf[..n].to_vec())),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // ICMP errors (port unreachable) surface here on Linux: skip them
                Err(_) => return self.recv(),
            }
        }
        None
    }

    /// Drives `node` for `span`: sends what it has, feeds it datagrams, fires its timers;
    /// returns its events.
    pub fn step<M: Machine>(&self, node: &mut M, span: Duration) -> Vec<M::Event> {
        let until = Instant::now() + span;
        let mut events = Vec::new();
        loop {
            while let Some(t) = node.poll_transmit() {
                self.send(&t);
            }
            events.extend(std::iter::from_fn(|| node.poll_event()));
            let mut idle = true;
            while let Some((socket, from, bytes)) = self.recv() {
                idle = false;
                node.handle_datagram(self.now(), socket, from, &bytes);
                while let Some(t) = node.poll_transmit() {
                    self.send(&t);
                }
            }
            if node.poll_timeout().is_some_and(|t| t <= self.now()) {
                idle = false;
                node.handle_timeout(self.now());
            }
            events.extend(std::iter::from_fn(|| node.poll_event()));
            if Instant::now() >= until {
                return events;
            }
            if idle {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}
