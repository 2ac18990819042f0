//! dht-rpc (`dht-rpc@6.27.0`) as sans-IO pieces:
//!
//! * [`table`]: the k-bucket routing table (`kademlia-routing-table`) and dht-rpc's
//!   ping-the-oldest-before-evicting rule for full rows;
//! * [`io`]: requests and replies (`lib/io.js`): transaction ids, retries, the congestion
//!   window, tokens with rotating secrets;
//! * [`node`]: the node (`index.js`): learning nodes from traffic, the internal commands;
//! * [`query`]: the iterative query (`lib/query.js`) with optional commit.

pub mod io;
pub mod node;
pub mod query;
pub mod table;
