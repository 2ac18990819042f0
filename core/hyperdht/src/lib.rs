//! HyperDHT without I/O. [`rpc`] is the dht-rpc layer (`dht-rpc@6.27.0`): the Kademlia
//! routing table, request/reply I/O with retries, congestion window and tokens, and the
//! iterative query, as sans-IO state machines (time and randomness passed in).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod dht;
pub mod rpc;
