//! Corestore 7 (JS `corestore@7.12.5`) without I/O: how a store's primary key, namespaces
//! and names become core keys ([`keys`]), exactly as JS derives them, what a `get` resolves
//! to ([`auth`]), and what a store tracks in memory: sessions, open cores, their idle close
//! and `findingPeers` ([`store`]).
//!
//! A store holds many cores under one primary key. A core created by name has a key pair
//! derived from the primary key, the namespace and the name, and its key is the hash of the
//! default version-1 manifest naming that signer; a JS store and a ferrocore store with the
//! same primary key give the same names the same keys.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod auth;
pub mod keys;
pub mod store;

pub use auth::{resolve, AuthError, CoreAuth, GetOptions};
pub use keys::{Namespace, PrimaryKey};
pub use store::{Store, StoreConfig, StoreEvent};
