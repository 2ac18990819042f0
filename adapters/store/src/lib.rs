//! A persistent Corestore: many cores in one store (one database), found by name, key or
//! discovery key, all replicated over every connection of one node, with the keys JS
//! `corestore@7` gives the same names under the same primary key.
//!
//! A [`Corestore`] joins three things: the store's database ([`ferrocore_storage::Store`],
//! one set of files for every core), the pure bookkeeping of `ferrocore-corestore`
//! (namespaces, sessions, which cores are open, idle closing, key derivation) and a
//! replication [`Node`] of any adapter (tokio, futures, blocking), into whose driver it
//! installs a [`Plugin`](ferrocore_driver::Plugin): when a peer opens the channel of a core
//! the store holds but has not opened, the plugin opens it and it pairs (JS
//! `ondiscoverykey`); a core the store does not hold is rejected at once, and subscribers
//! see [`Event::CoreRejected`](ferrocore::replication::Event::CoreRejected) naming its
//! discovery key. Cores opened later join every live connection; keys are never sent.
//!
//! Create the node with [`endpoint_config`] (it asks the store about unknown cores).
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use ferrocore::replication::EndpointConfig;
//! use ferrocore_blocking::{Blocking, Node};
//! use ferrocore_storage::{Store, StoreOptions};
//! use ferrocore_store::{endpoint_config, Corestore, CorestoreOptions, GetOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let node = Node::new(endpoint_config(EndpointConfig::default()))?;
//! let db = Store::open(dir.path().join("db"), StoreOptions::default())?;
//! let store: Corestore<Blocking> = Corestore::open((*node).clone(), db, CorestoreOptions::default())?;
//!
//! // A core by name: its key pair derives from the store's primary key, as in JS.
//! let feed = store.get(GetOptions::name("feed"))?;
//! node.append(feed.id, vec![Bytes::from("hello")])?;
//! // Namespaces (JS `store.namespace('app')`) give other cores for the same names.
//! let posts = store.namespace("app")?.get(GetOptions::name("feed"))?;
//! assert_ne!(feed.key, posts.key);
//! // Another peer follows a core by key: it starts empty and read-only.
//! let remote = store.get(GetOptions::key([7; 32]))?;
//! assert!(!remote.writable);
//!
//! // Every open core is offered on each connection; a held core a peer asks for is opened.
//! let addr = node.listen("127.0.0.1:0")?;
//! # let _ = addr;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod drive;
mod options;
mod state;

use std::sync::{Arc, Mutex};

use ferrocore::replication::EndpointConfig;
use ferrocore_corestore::store::{
    FindingPeersToken, SessionId as StoreSession, Store as Registry, StoreConfig,
};
use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_driver::{Adapter, Error, Node, StoreError};
use ferrocore_storage::{CoreStorage, Store};

pub use drive::DriveCores;
pub use options::{CoreEntry, CoreRef, GetOptions, Which};
use state::{lock, Shared, State, StorePlugin};
pub use state::{remember_encryption_key, remembered_encryption_key};

/// How a store's node is configured: `base`, asking the store about cores peers open
/// that it has not opened (instead of rejecting them outright).
#[must_use]
pub fn endpoint_config(base: EndpointConfig) -> EndpointConfig {
    let mut config = base;
    config.ask_unknown_cores = true;
    config
}

/// Options of [`Corestore::open`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CorestoreOptions {
    /// The primary key of a new store (JS `primaryKey` with `unsafe: true`): for interop
    /// and recovery only; by default a new store draws one from the OS. A store that
    /// holds another one fails to open with
    /// [`StoreError::PrimaryKeyMismatch`].
    pub primary_key: Option<[u8; 32]>,
    /// The bookkeeping's settings (idle timeout, ...).
    pub registry: StoreConfig,
}

/// One session of a persistent corestore (the root one from [`open`](Self::open), others
/// from [`session`](Self::session) and [`namespace`](Self::namespace)). Dropping it, or
/// [`close`](Self::close), releases every core it opened; a core no session holds is
/// closed once idle for the registry's timeout (JS: 4 to 6 seconds).
pub struct Corestore<A: Adapter> {
    node: Node<CoreStorage, A>,
    state: Shared,
    session: StoreSession,
}

impl<A: Adapter> std::fmt::Debug for Corestore<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corestore")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl<A: Adapter> Corestore<A> {
    /// The store in `store`, replicated by `node` (which should be made with
    /// [`endpoint_config`] and hold no cores of its own): reads the primary key, or
    /// makes one (drawn from the OS, or `options.primary_key`) for a new store.
    ///
    /// # Errors
    /// [`Error::Core`] if storage fails; [`StoreError::PrimaryKeyMismatch`] if the store
    /// holds another primary key than `options.primary_key`; [`Error::Random`].
    pub fn open(
        node: Node<CoreStorage, A>,
        store: Store,
        options: CorestoreOptions,
    ) -> Result<Self, Error> {
        let fresh = match options.primary_key {
            Some(k) => k,
            None => ferrocore_driver::random::<32>()?,
        };
        let held = store
            .primary_key_or_insert(fresh)
            .map_err(|e| Error::Core(e.into()))?;
        if options.primary_key.is_some_and(|k| k != held) {
            return Err(StoreError::PrimaryKeyMismatch.into());
        }
        let registry = Registry::new(options.registry);
        let session = StoreSession::ROOT;
        let state = Arc::new(Mutex::new(State {
            store,
            primary: PrimaryKey::from_bytes(held),
            registry,
            exclusive: Default::default(),
            ids: Default::default(),
            finding: Default::default(),
        }));
        node.set_plugin(StorePlugin(state.clone()));
        Ok(Self {
            node,
            state,
            session,
        })
    }

    /// The replication node: use a [`CoreRef::id`] with it to append, read, download
    /// and follow a core, and attach connections to it (every open core is replicated
    /// over each).
    #[must_use]
    pub fn node(&self) -> &Node<CoreStorage, A> {
        &self.node
    }

    /// The namespace this session's names live in.
    #[must_use]
    pub fn namespace_key(&self) -> Option<Namespace> {
        lock(&self.state).registry.namespace_of(self.session)
    }

    /// Opens a core (JS `store.get(opts)`): by name in this session's namespace
    /// (created if missing, its key pair derived from the primary key), by key (created
    /// empty and read-only if missing), or by discovery key (only if held). Each call
    /// adds a reference this session holds until [`release`](Self::release) or
    /// [`close`](Self::close).
    ///
    /// # Errors
    /// [`StoreError`] (through [`Error::Store`]), [`Error::Core`] (storage, a key that
    /// does not match the stored core), [`Error::Shutdown`].
    pub fn get(&self, options: GetOptions) -> A::Out<CoreRef> {
        let state = self.state.clone();
        let session = self.session;
        self.node
            .try_with_endpoint_at(move |ep, _| lock(&state).get(ep, session, options))
    }

    /// Drops one reference this session holds on `core` (the core closes once no
    /// session holds it and it stayed idle).
    pub fn release(&self, core: &CoreRef) -> A::Out<()> {
        let state = self.state.clone();
        let (session, dk) = (self.session, core.discovery_key);
        self.node.with_endpoint_at(move |ep, now| {
            let mut state = lock(&state);
            let _ = state.registry.release_core(session, dk, now);
            state.apply(ep);
        })
    }

    /// A new session on the same store and namespace (JS `store.session()`).
    ///
    /// # Errors
    /// [`StoreError::Closed`] if this session was closed.
    pub fn session(&self) -> Result<Self, Error> {
        let session = lock(&self.state)
            .registry
            .session(self.session)
            .map_err(|_| StoreError::Closed)?;
        Ok(Self {
            node: self.node.clone(),
            state: self.state.clone(),
            session,
        })
    }

    /// A new session in the namespace `name` inside this one (JS
    /// `store.namespace(name)`; namespaces chain).
    ///
    /// # Errors
    /// [`StoreError::Closed`] if this session was closed.
    pub fn namespace(&self, name: &str) -> Result<Self, Error> {
        let session = lock(&self.state)
            .registry
            .namespace(self.session, name)
            .map_err(|_| StoreError::Closed)?;
        Ok(Self {
            node: self.node.clone(),
            state: self.state.clone(),
            session,
        })
    }

    /// Starts finding peers (JS `store.findingPeers()`): until [`finding_peers_done`](Self::finding_peers_done)
    /// (or this session's close), an `update` of a core that never had a peer waits for
    /// one instead of ending at once. Call it before connecting to the peers you look for,
    /// and end it once they were tried.
    pub fn finding_peers(&self) -> A::Out<FindingPeers> {
        let state = self.state.clone();
        let session = self.session;
        self.node.try_with_endpoint_at(move |ep, _| {
            let token = lock(&state).start_finding_peers(ep, session)?;
            Ok(FindingPeers { token })
        })
    }

    /// Ends a finding-peers scope: updates waiting only because of it end.
    pub fn finding_peers_done(&self, scope: FindingPeers) -> A::Out<()> {
        let state = self.state.clone();
        self.node
            .with_endpoint_at(move |ep, _| lock(&state).stop_finding_peers(ep, scope.token))
    }

    /// The store's primary key (secret: it signs for every named core).
    #[must_use]
    pub fn primary_key(&self) -> [u8; 32] {
        *lock(&self.state).primary.as_bytes()
    }

    /// Every core the store holds, with the alias it was created by if any, in
    /// discovery key order.
    ///
    /// # Errors
    /// [`Error::Core`] if storage fails.
    pub fn list(&self) -> Result<Vec<CoreEntry>, Error> {
        let state = lock(&self.state);
        let store = &state.store;
        Ok(store
            .cores_with_aliases()
            .map_err(|e| Error::Core(e.into()))?
            .into_iter()
            .map(|c| CoreEntry {
                discovery_key: c.discovery_key,
                alias: c
                    .alias
                    .map(|a| (a.namespace, String::from_utf8_lossy(&a.name).into_owned())),
            })
            .collect())
    }

    /// The cores created by name in this session's namespace: `(name, discovery key)`.
    ///
    /// # Errors
    /// [`Error::Core`] if storage fails.
    pub fn list_namespace(&self) -> Result<Vec<(String, [u8; 32])>, Error> {
        let state = lock(&self.state);
        let ns = state
            .registry
            .namespace_of(self.session)
            .ok_or(StoreError::Closed)?;
        Ok(state
            .store
            .aliases_in(&ns.0)
            .map_err(|e| Error::Core(e.into()))?
            .into_iter()
            .map(|a| {
                (
                    String::from_utf8_lossy(&a.name).into_owned(),
                    a.discovery_key,
                )
            })
            .collect())
    }

    /// Closes this session: releases every core it opened.
    pub fn close(&self) -> A::Out<()> {
        close_session(&self.node, &self.state, self.session)
    }
}

impl<A: Adapter> Drop for Corestore<A> {
    fn drop(&mut self) {
        drop(close_session(&self.node, &self.state, self.session));
    }
}

/// A finding-peers scope from [`Corestore::finding_peers`]; end it with
/// [`Corestore::finding_peers_done`].
#[derive(Debug)]
#[must_use = "end the scope with Corestore::finding_peers_done"]
pub struct FindingPeers {
    token: FindingPeersToken,
}

/// Closes a store session inside the driver: the root closes the whole store (every core
/// it opened closes at once), another session releases what it opened.
fn close_session<A: Adapter>(
    node: &Node<CoreStorage, A>,
    state: &Shared,
    session: StoreSession,
) -> A::Out<()> {
    let state = state.clone();
    node.with_endpoint_at(move |ep, now| {
        let mut state = lock(&state);
        if session == StoreSession::ROOT {
            drop(state.registry.close());
            for id in std::mem::take(&mut state.ids).into_keys() {
                drop(ep.remove_core(id));
            }
        } else {
            let _ = state.registry.close_session(session, now);
        }
        state.apply(ep);
    })
}
