//! Hyperswarm on any futures executor: [`new`] starts [`ferrocore_udp::swarm`]'s swarm
//! (the same code as the other adapters') with the executor's way to spawn a task and
//! its timer. Each kept connection ([`SwarmConnection`]) replicates through
//! [`Node::attach_handshake`](crate::Node::attach_handshake) with its stream and
//! `connection.handshake.handshake`.
//!
//! ```no_run
//! # async fn f(dht: ferrocore_futures::dht::DhtNode) {
//! use ferrocore_futures::swarm::JoinOptions;
//! let key_pair = ferrocore::wire::noise::KeyPair::from_seed([1; 32]);
//! let swarm = ferrocore_futures::swarm::new(dht, key_pair, |t| smol::spawn(t).detach(), smol::Timer::after);
//! swarm.join([7; 32], JoinOptions::default()).await;
//! let connection = swarm.connection().await;
//! # }
//! ```

use std::sync::Arc;

use ferrocore_udp::{BoxFuture, DhtNode};
use ferrocore_wire::noise::KeyPair;

pub use ferrocore_udp::swarm::{ConnId, JoinOptions, Swarm, SwarmConnection, Topic};

use crate::Timer;

/// A swarm with `key_pair` (its DHT server's and connections' key) on `dht`, with JS's
/// default limits: its tasks run by `spawn` (e.g. `|t| smol::spawn(t).detach()`), its
/// timers are `timer`'s. Dropping every handle stops it.
#[must_use]
pub fn new(
    dht: DhtNode,
    key_pair: KeyPair,
    spawn: impl Fn(BoxFuture<()>) + Send + Sync + 'static,
    timer: impl Timer,
) -> Swarm {
    let timer = Arc::new(timer);
    Swarm::with_runtime(
        dht,
        key_pair,
        Arc::new(spawn),
        Arc::new(move |d| timer.sleep(d)),
    )
}
