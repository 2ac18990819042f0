//! Hyperswarm on threads: [`Swarm`] runs [`ferrocore_udp::swarm`]'s swarm (the same code
//! as the other adapters') with its task and each DHT operation on a thread of its own,
//! and its timers on async-io's. Its methods block; each kept connection
//! ([`SwarmConnection`]) goes to [`Node::add_dht_connection`](crate::Node::add_dht_connection)
//! as JS's `swarm.on('connection', c => store.replicate(c))`.
//!
//! ```no_run
//! # fn f(dht: ferrocore_blocking::dht::DhtNode, node: ferrocore_blocking::Node<ferrocore::storage::MemoryStorage>) -> Result<(), Box<dyn std::error::Error>> {
//! use ferrocore_blocking::swarm::{JoinOptions, Swarm};
//! let swarm = Swarm::new(dht, ferrocore::wire::noise::KeyPair::from_seed([1; 32]));
//! swarm.join([7; 32], JoinOptions::default());
//! while let Some(c) = swarm.connection() {
//!     node.add_dht_connection(c.connection)?;
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::thread;

use ferrocore_udp::swarm::Spawn;
use ferrocore_udp::{BoxFuture, DhtNode, Sleep};
use ferrocore_wire::noise::KeyPair;
use futures_lite::future::block_on;

pub use ferrocore_udp::swarm::{ConnId, JoinOptions, SwarmConnection, Topic};

/// Threads running a Hyperswarm (JS's default limits) on a HyperDHT node; it stops
/// once the last clone of this handle is dropped.
#[derive(Clone, Debug)]
pub struct Swarm(ferrocore_udp::swarm::Swarm);

impl Swarm {
    /// Starts the swarm on `dht`; `key_pair` is its DHT server's and its connections'.
    #[must_use]
    pub fn new(dht: DhtNode, key_pair: KeyPair) -> Self {
        let spawn: Spawn = Arc::new(|task: BoxFuture<()>| {
            // A task that cannot get a thread is dropped: the swarm sees its query or
            // connect never end, as with a lost reply, and its deadlines go on.
            let _ = thread::Builder::new()
                .name("ferrocore-swarm".into())
                .spawn(move || block_on(task));
        });
        let sleep: Sleep = Arc::new(|d| {
            Box::pin(async move {
                async_io::Timer::after(d).await;
            }) as BoxFuture<()>
        });
        Self(ferrocore_udp::swarm::Swarm::with_runtime(
            dht, key_pair, spawn, sleep,
        ))
    }

    /// Joins `topic` (JS `swarm.join(topic, {server, client})`).
    pub fn join(&self, topic: Topic, options: JoinOptions) {
        block_on(self.0.join(topic, options));
    }

    /// Leaves `topic` (JS `swarm.leave`).
    pub fn leave(&self, topic: Topic) {
        block_on(self.0.leave(topic));
    }

    /// Blocks until every topic has been announced and every peer found so far tried
    /// (JS `swarm.flush()`); false if the swarm stopped.
    #[must_use]
    pub fn flush(&self) -> bool {
        block_on(self.0.flush())
    }

    /// Reports that connection `id` ended (JS's `'close'` of a swarm connection): the
    /// swarm forgets it and retries a peer still wanted with JS's backoff.
    pub fn closed(&self, id: ConnId) {
        self.0.closed(id);
    }

    /// Blocks until the swarm keeps its next connection; `None` once it stopped.
    #[must_use]
    pub fn connection(&self) -> Option<SwarmConnection> {
        self.0.next_connection_blocking()
    }
}
