//! # ferrocore
//!
//! A Rust implementation of [Hypercore](https://github.com/holepunchto/hypercore) 11, the
//! secure, sparse, live-replicated append-only log, wire-compatible with the JavaScript
//! peers and built as sans-IO state machines.
//!
//! This crate holds everything that is pure computation over a core:
//!
//! * [`flat_tree`]: in-order ("bin") numbering of Merkle tree nodes;
//! * [`hash`]: BLAKE2b leaf / parent / root-set hashing, namespaces, discovery keys and
//!   replication capabilities;
//! * [`keys`]: Ed25519 key pairs from a seed, signing and verification;
//! * [`manifest`]: manifest hashing, core keys (manifest and compat mode);
//! * [`signature`]: signables, the multisig container, single-signer and quorum
//!   verification, prologues;
//! * [`encryption`]: block encryption (XSalsa20 with a blinded fork);
//! * [`id`]: z-base-32 core ids;
//! * [`proof`]: **pure** proof generation from a node source and **pure** proof
//!   verification returning the verified batch;
//! * [`bitfield`]: a sparse paged bitfield;
//! * [`storage`]: the storage contract and an in-memory backend;
//! * [`log`]: a core's local API (append, read, truncate, clear, snapshots, proofs) over
//!   a storage.
//!
//! `#![no_std]` with `alloc`; no clock, no RNG, no I/O.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod bitfield;
pub mod encryption;
mod error;
pub mod flat_tree;
pub mod hash;
pub mod id;
pub mod keys;
pub mod log;
pub mod manifest;
pub mod proof;
pub mod replication;
pub mod signature;
pub mod storage;

pub use error::{Error, ProofError};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
pub use ferrocore_wire as wire;
pub use ferrocore_wire::{Manifest, Node, Proof};
pub use log::{Log, LogOptions};
