//! Corestore 7 (JS `corestore@7.12.5`) without I/O: how a store's primary key, namespaces
//! and names become core keys ([`keys`]), exactly as JS derives them.
//!
//! A store holds many cores under one primary key. A core created by name has a key pair
//! derived from the primary key, the namespace and the name, and its key is the hash of the
//! default version-1 manifest naming that signer; a JS store and a ferrocore store with the
//! same primary key give the same names the same keys.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod auth;
pub mod keys;

pub use auth::{resolve, AuthError, CoreAuth, GetOptions};
pub use keys::{Namespace, PrimaryKey};
