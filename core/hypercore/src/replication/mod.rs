//! Replication: one [`Endpoint`] owns the cores this process replicates and one session per
//! peer connection (secret-stream ▸ protomux ▸ one replicator per core).
//!
//! Everything is a sans-IO state machine: the caller feeds socket bytes with
//! [`Endpoint::handle_input`], writes what [`Endpoint::poll_transmit`] gives, reports time
//! with [`Endpoint::handle_timeout`] at [`Endpoint::poll_timeout`], and reads
//! [`Endpoint::poll_event`]. After any `&mut` call, drain `poll_transmit` and `poll_event`
//! until they return `None`, then wait for input or the deadline.
//!
//! Two transport reports complete the loop. [`Endpoint::handle_sent`] says how many of the
//! bytes handed out were written: answers to a peer's requests wait while more than
//! [`EndpointConfig::max_unsent`] (1 MiB by default) is unwritten, which bounds what a peer
//! that asks much and reads slowly costs (a transport that never reports writes sets it to
//! `None`). [`Endpoint::handle_end`] reports the peer's orderly end of stream and
//! [`Endpoint::abort`] a socket error.
//!
//! One endpoint carries a whole store over each connection: every core added with
//! [`Endpoint::add_core`] gets a channel on every session (all opened in one protomux batch
//! when a session connects), and a peer's open of a core we do not replicate is refused at
//! once, or, with [`EndpointConfig::ask_unknown_cores`], reported as
//! [`Event::UnknownCore`] and held until the application adds the core (which pairs it) or
//! refuses it with [`Endpoint::reject_core`], as JS corestore's `ondiscoverykey` does. A
//! peer's unknown opens are bounded: those waiting by the mux's `max_pending_opens` (the
//! session's input waits behind them, see [`Endpoint::is_stalled`]), all of them by
//! [`EndpointConfig::max_unknown_opens`].
//!
//! The application asks for data with commands that return a [`RequestId`]:
//! [`get`](Endpoint::get) (one block), [`download`](Endpoint::download) (a range, or live
//! to the end), [`download_blocks`](Endpoint::download_blocks) (a list) and
//! [`update`](Endpoint::update) (the newest length, waiting for peers only while one could
//! still come: see [`Endpoint::start_finding_peers`]); each ends with one [`Event`]. Local
//! writes go through [`Endpoint::log_mut`]; connected readers learn of them at the next
//! poll.
//!
//! ```
//! use core::time::Duration;
//! use ferrocore::keys::KeyPair;
//! use ferrocore::log::{Log, LogOptions};
//! use ferrocore::replication::{Endpoint, EndpointConfig, Event};
//! use ferrocore::storage::MemoryStorage;
//! use ferrocore::wire::noise::{KeyPair as NoiseKeyPair, Role};
//! use ferrocore::wire::stream::Entropy;
//!
//! // A writer with two blocks and an empty reader of the same core.
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[7; 32])), ..LogOptions::default() };
//! let mut writer_log = Log::open(MemoryStorage::new(), options).unwrap();
//! writer_log.append_batch([&b"hello"[..], b"world"]).unwrap();
//! let key = *writer_log.key();
//! let reader_log = Log::open(
//!     MemoryStorage::new(),
//!     LogOptions { key: Some(key), ..LogOptions::default() },
//! )
//! .unwrap();
//!
//! let mut writer = Endpoint::new(EndpointConfig::default());
//! let mut reader = Endpoint::new(EndpointConfig::default());
//! writer.add_core(writer_log);
//! let core = reader.add_core(reader_log);
//! let entropy = |b: u8| Entropy { ephemeral_seed: [b; 32], header: [b; 24] };
//! let now = Duration::ZERO;
//! let w = writer.connect(Role::Initiator, NoiseKeyPair::from_seed([1; 32]), entropy(1), now);
//! let r = reader.connect(Role::Responder, NoiseKeyPair::from_seed([2; 32]), entropy(2), now);
//! let get = reader.get(core, 1, None).unwrap();
//!
//! // Shuttle bytes until both sides are quiet.
//! let mut value = None;
//! loop {
//!     let mut moved = false;
//!     while let Some((_, bytes)) = writer.poll_transmit() {
//!         reader.handle_input(r, now, &bytes);
//!         writer.handle_sent(w, bytes.len()); // written: more answers may follow
//!         moved = true;
//!     }
//!     while let Some((_, bytes)) = reader.poll_transmit() {
//!         writer.handle_input(w, now, &bytes);
//!         reader.handle_sent(r, bytes.len());
//!         moved = true;
//!     }
//!     while let Some(event) = reader.poll_event() {
//!         if let Event::Get { request, result, .. } = event {
//!             assert_eq!(request, get);
//!             value = Some(result.unwrap());
//!         }
//!     }
//!     while writer.poll_event().is_some() {}
//!     if !moved { break; }
//! }
//! assert_eq!(value.as_deref(), Some(&b"world"[..]));
//! assert_eq!(reader.log(core).unwrap().length(), 2);
//! ```

mod claims;
mod config;
mod endpoint;
mod error;
mod event;
mod inbound;
mod replicator;
mod requests;

pub use config::EndpointConfig;
pub use endpoint::{CoreId, Endpoint, SessionId};
pub use error::{PeerError, RequestError, SessionError, TransportError};
pub use event::Event;
pub use requests::RequestId;

/// The protomux protocol name of hypercore replication channels.
pub const PROTOCOL: &str = "hypercore/alpha";

#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;
