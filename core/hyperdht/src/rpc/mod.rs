//! dht-rpc (`dht-rpc@6.27.0`) as sans-IO pieces:
//!
//! * [`table`]: the k-bucket routing table (`kademlia-routing-table`) and dht-rpc's
//!   ping-the-oldest-before-evicting rule for full rows;
//! * [`io`]: requests and replies (`lib/io.js`): transaction ids, retries, the congestion
//!   window, tokens with rotating secrets;
//! * [`node`]: the node (`index.js`): learning nodes from traffic, the internal commands;
//! * [`query`]: the iterative query (`lib/query.js`) with optional commit;
//! * [`config`]: the node's options with JS's defaults;
//! * [`nat`]: the NAT sampler (`nat-sampler`) guessing our public address;
//! * [`health`]: network health (`lib/health.js`).

pub mod config;
pub mod health;
pub mod io;
pub mod nat;
pub mod node;
pub mod query;
pub mod table;
