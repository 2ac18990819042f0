//! What a `get` asks for ([`GetOptions`]) and what it answers ([`CoreRef`]), and a listed
//! core ([`CoreEntry`]).

use ferrocore::keys::KeyPair;
use ferrocore::replication::CoreId;
use ferrocore::Manifest;

/// Which core a [`get`](crate::Corestore::get) opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// The core of this name in the session's namespace: created (its key pair derived
    /// from the primary key, namespace and name, as JS corestore 7 does) if the store has
    /// none.
    Name(String),
    /// The core with this key: created as an empty read-only core if the store has none
    /// (unless `create_if_missing` is off), as JS `store.get(key)` does.
    Key([u8; 32]),
    /// The core with this discovery key: only if the store holds it.
    DiscoveryKey([u8; 32]),
}

/// Options of a [`get`](crate::Corestore::get) (JS `store.get(opts)`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GetOptions {
    /// Which core.
    pub which: Which,
    /// Blocks are encrypted with this key. The store remembers it (in its database, which
    /// already holds the cores' secret keys), so later opens, and opens on a peer's
    /// request, need not pass it again; a key other than the remembered one is refused
    /// ([`StoreError::Misuse`](ferrocore_driver::StoreError::Misuse)).
    pub encryption_key: Option<[u8; 32]>,
    /// The manifest of a new core (default: the key pair's default version-1 manifest).
    pub manifest: Option<Manifest>,
    /// The key pair of a new core (default for a name: derived; for a key: none, read
    /// only). As in JS, a core gotten by `key` = this key pair's public key is a compat
    /// core (hypercore 10 style: the key is the public key); corestore 7 makes no other
    /// compat cores (its `compat` option is always off).
    pub key_pair: Option<KeyPair>,
    /// Only one session at a time may hold the core with `exclusive` (JS `exclusive`,
    /// which Hyperdrive uses for its database core): a second one fails with
    /// [`StoreError::Exclusive`](ferrocore_driver::StoreError::Exclusive).
    pub exclusive: bool,
    /// Create the core if the store has none (default `true`; never for a discovery key).
    pub create_if_missing: bool,
    /// Fail with [`StoreError::NameTaken`](ferrocore_driver::StoreError::NameTaken) if a
    /// core of that name exists (a `get` by name that must create).
    pub must_create: bool,
}

impl GetOptions {
    fn of(which: Which) -> Self {
        Self {
            which,
            encryption_key: None,
            manifest: None,
            key_pair: None,
            exclusive: false,
            create_if_missing: true,
            must_create: false,
        }
    }

    /// The core named `name` in the session's namespace.
    #[must_use]
    pub fn name(name: impl Into<String>) -> Self {
        Self::of(Which::Name(name.into()))
    }

    /// The core with key `key`.
    #[must_use]
    pub fn key(key: [u8; 32]) -> Self {
        Self::of(Which::Key(key))
    }

    /// The held core with discovery key `discovery_key`.
    #[must_use]
    pub fn discovery_key(discovery_key: [u8; 32]) -> Self {
        Self::of(Which::DiscoveryKey(discovery_key))
    }

    /// With an encryption key.
    #[must_use]
    pub fn encryption_key(mut self, key: [u8; 32]) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// Exclusive (see [`GetOptions::exclusive`]).
    #[must_use]
    pub fn exclusive(mut self) -> Self {
        self.exclusive = true;
        self
    }

    /// Fail if the store has no such core.
    #[must_use]
    pub fn if_exists(mut self) -> Self {
        self.create_if_missing = false;
        self
    }

    /// Fail if a core of that name exists.
    #[must_use]
    pub fn must_create(mut self) -> Self {
        self.must_create = true;
        self
    }

    /// With this key pair for a new core.
    #[must_use]
    pub fn key_pair(mut self, key_pair: KeyPair) -> Self {
        self.key_pair = Some(key_pair);
        self
    }

    /// With this manifest for a new core.
    #[must_use]
    pub fn manifest(mut self, manifest: Manifest) -> Self {
        self.manifest = Some(manifest);
        self
    }
}

/// A core a store session opened: use [`id`](Self::id) with the store's
/// [`node`](crate::Corestore::node) to append, read and download; release it with
/// [`Corestore::release`](crate::Corestore::release) (or close the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRef {
    /// The core in the node.
    pub id: CoreId,
    /// The core key.
    pub key: [u8; 32],
    /// The discovery key.
    pub discovery_key: [u8; 32],
    /// True if the store holds the core's secret key.
    pub writable: bool,
}

/// A core of the store, as [`list`](crate::Corestore::list) gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreEntry {
    /// The discovery key.
    pub discovery_key: [u8; 32],
    /// The namespace and name it was created by, if by name.
    pub alias: Option<([u8; 32], String)>,
}
