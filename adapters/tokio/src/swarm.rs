//! Hyperswarm over Tokio: [`Swarm`] runs `ferrocore-hyperswarm`'s state machine on a
//! [`DhtNode`] — its lookups, announces and connects as DHT operations, its timers on
//! Tokio's — and hands out each kept connection ([`SwarmConnection`]), ready for
//! [`Node::add_dht_connection`](crate::Node::add_dht_connection) as JS's
//! `swarm.on('connection', c => store.replicate(c))`. The application reports each such
//! connection's end with [`Swarm::closed`](ferrocore_udp::swarm::Swarm::closed) (JS's swarm sees its `'close'` event): the swarm
//! then reconnects or retries the peer as JS does. The swarm's code is
//! [`ferrocore_udp::swarm`]'s, shared with the other adapters; this module adds Tokio's
//! tasks and timer.
//!
//! ```no_run
//! # async fn f(dht: ferrocore_tokio::dht::DhtNode) -> std::io::Result<()> {
//! use ferrocore_tokio::swarm::{JoinOptions, Swarm};
//! let swarm = Swarm::new(dht, ferrocore::wire::noise::KeyPair::from_seed([1; 32]));
//! swarm.join([7; 32], JoinOptions::default()).await;
//! let connection = swarm.connection().await;
//! # Ok(()) }
//! ```

use std::ops::Deref;
use std::sync::Arc;

use ferrocore_udp::swarm::Spawn;
use ferrocore_udp::DhtNode;
use ferrocore_wire::noise::KeyPair;

pub use ferrocore_udp::swarm::{ConnId, JoinOptions, SwarmConnection, Topic};

/// A Hyperswarm on a HyperDHT node, its tasks on Tokio (every method of
/// [`ferrocore_udp::swarm::Swarm`]). Dropping every handle stops it.
#[derive(Clone, Debug)]
pub struct Swarm(ferrocore_udp::swarm::Swarm);

impl Swarm {
    /// A swarm with `key_pair` (its DHT server's and connections' key) on `dht`, with
    /// JS's default limits.
    ///
    /// # Panics
    /// Outside a Tokio runtime.
    #[must_use]
    pub fn new(dht: DhtNode, key_pair: KeyPair) -> Self {
        let handle = tokio::runtime::Handle::current();
        let spawn: Spawn = Arc::new(move |task| {
            handle.spawn(task);
        });
        Self(ferrocore_udp::swarm::Swarm::with_runtime(
            dht,
            key_pair,
            spawn,
            crate::dht::sleep(),
        ))
    }
}

impl Deref for Swarm {
    type Target = ferrocore_udp::swarm::Swarm;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
