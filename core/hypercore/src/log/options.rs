//! How to open a [`Log`](super::Log).

use crate::keys::KeyPair;
use crate::Manifest;

/// Options of [`Log::open`](super::Log::open). `Default` creates a core if none is stored.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Create a new core when storage holds none (default `true`).
    pub create_if_missing: bool,
    /// Discard whatever the storage holds and create a new core.
    pub overwrite: bool,
    /// The writer's key pair (a new writable core needs it: the core has no RNG).
    pub key_pair: Option<KeyPair>,
    /// Open read-only by core key (a reader); checked against a stored core's key.
    pub key: Option<[u8; 32]>,
    /// The manifest of a new core (default: the key pair's default signer manifest).
    pub manifest: Option<Manifest>,
    /// Compat mode for a new core (key = public key). An existing core keeps its mode.
    pub compat: bool,
    /// Encrypt blocks with this key (not persisted: pass it on every open).
    pub encryption_key: Option<[u8; 32]>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            create_if_missing: true,
            overwrite: false,
            key_pair: None,
            key: None,
            manifest: None,
            compat: false,
            encryption_key: None,
        }
    }
}
