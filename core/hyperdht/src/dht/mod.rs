//! HyperDHT (`hyperdht@6.34.0`) on top of [`rpc`](crate::rpc): peer connections.
//!
//! * [`handshake`]: the routing of `PEER_HANDSHAKE` between client, relays and server,
//!   the shared errors and the finished [`Connection`](handshake::Connection);
//! * [`server`]: `listen(keyPair)`'s handshake responder;
//! * [`connect`]: `connect(publicKey)`'s initiator;
//! * [`announcer`]: keeps the server's record on the nodes closest to its target.

pub mod announcer;
pub mod connect;
pub mod handshake;
pub mod server;
