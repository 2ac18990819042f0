//! Hyperswarm without I/O: the peer discovery and connection management of
//! `hyperswarm@4.17.2` as a sans-IO state machine, independent of the DHT implementation.
//!
//! [`Swarm`] decides *what* to do: which topics to announce and look up and when to refresh
//! them, which peers to dial (a shuffled priority queue, at most `maxParallel` at once and
//! `maxPeers` in all), when to retry a failed peer (JS's retry timers), whom to ban, and which
//! of two simultaneous connections to the same peer survives. An adapter owning a HyperDHT
//! node carries its [`Command`]s out and reports back through the `handle_*` methods; the
//! application reads [`Event`]s. Time comes in as a [`core::time::Duration`] since an origin
//! the caller picks, randomness as the `seed` of [`Swarm::new`] (and [`Swarm::reseed`]).
//!
//! After any `&mut` call the caller drains [`Swarm::poll_command`] and [`Swarm::poll_event`]
//! until empty, then sleeps until [`Swarm::poll_timeout`] or the next DHT result.
//!
//! # The adapter loop
//!
//! ```
//! use core::time::Duration;
//! use ferrocore_hyperswarm::{Command, Event, JoinOptions, Peer, Swarm, SwarmConfig};
//!
//! let (ours, theirs, topic) = ([1u8; 32], [2u8; 32], [7u8; 32]);
//! let mut swarm = Swarm::new(ours, SwarmConfig::default(), 0x5eed);
//! let now = Duration::ZERO;
//! swarm.join(now, topic, JoinOptions::default()).unwrap();
//! let flush = swarm.flush(now);
//!
//! // One turn of the loop; a real adapter runs it on every DHT result and timer.
//! while let Some(cmd) = swarm.poll_command() {
//!     match cmd {
//!         // dht.listen(keyPair) … then:
//!         Command::Listen => swarm.handle_listening(now),
//!         // dht.announce(topic, …) streams peers, then completes:
//!         Command::Announce { query, .. } | Command::Lookup { query, .. } => {
//!             let found = [Peer { public_key: theirs, relay_addresses: vec![] }];
//!             swarm.handle_query_peers(now, query, &found);
//!             swarm.handle_query_done(now, query, true);
//!         }
//!         // dht.connect(public_key, …); when the secret stream is open:
//!         Command::Connect { conn, public_key, .. } => {
//!             swarm.handle_connected(now, conn, public_key, true)
//!         }
//!         _ => {}
//!     }
//! }
//! let events: Vec<Event> = core::iter::from_fn(|| swarm.poll_event()).collect();
//! assert!(events.iter().any(|e| matches!(e,
//!     Event::Connection { remote_public_key, is_initiator: true, .. } if *remote_public_key == theirs)));
//! assert!(events.contains(&Event::FlushDone { id: flush, ok: true }));
//! // Sleep until `swarm.poll_timeout()` (the topic refresh in about 10 minutes), then call
//! // `swarm.handle_timeout(now)`. Incoming connections: `swarm.handle_firewall(key, payload)`
//! // from the DHT server's firewall, then `handle_connected(swarm.alloc_conn_id(), key, false)`.
//! ```
//!
//! # What follows JS and what does not
//!
//! Followed: refresh every 10 min + [0, 2] min jitter (eagerly with the jitter alone after
//! a sleep longer than the delay + 30 s), first announce with `clear`, lookup-and-unannounce
//! after the last server session ends, unannounce on leave; peer priorities and attempts,
//! the four retry timers (1 s/5 s/15 s/10 min plus jitter, ticking at 66 %), explicit peers'
//! backoff, the `maxPeers` factor for explicit peers, flush's two stages and its tick
//! accounting, the duplicate tie-break (the connection dialled by the larger key wins unless
//! the older one already carried traffic both ways), firewall bans, relay forcing on
//! holepunch failures, and suspend/resume (see [`Swarm::suspend`] for one deliberate
//! difference). JS 4.17.2's `shouldBan` is always false, so failures alone never
//! ban: a peer failing four times is dropped (not retried) until it is rediscovered.
//! Not modelled: `maxServerConnections` (JS does not enforce it either),
//! the DHT's closest-node seeding (the adapter keeps each topic's last closest nodes).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod connect;
mod discovery;
mod peer;
mod queue;
mod retry;
mod rng;
mod suspend;
mod swarm;
#[cfg(feature = "testing")]
pub mod testing;
mod topics;
mod types;

pub use discovery::{DELAY_GRACE_PERIOD, RANDOM_JITTER, REFRESH_INTERVAL};
pub use peer::{PeerInfo, Priority, MIN_CONNECTION_TIME};
pub use swarm::{Firewall, Swarm, SwarmError};
pub use types::{
    BanReason, CloseReason, Command, ConnId, ErrorCode, Event, FlushId, JoinOptions, Peer,
    PublicKey, QueryId, SessionId, Stats, SwarmConfig, Topic,
};
