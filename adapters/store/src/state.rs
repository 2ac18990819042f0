//! The store's state inside the driver: the database, the registry of sessions and open
//! cores (`ferrocore-corestore`), and the [`Plugin`] that opens the cores peers ask for,
//! rejects the others and closes idle ones.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, Endpoint, Event};
use ferrocore::storage::{Record, StorageError};
use ferrocore_corestore::auth::{resolve, CoreAuth, GetOptions as AuthOptions};
use ferrocore_corestore::store::{
    FindingPeersToken, SessionId as StoreSession, Store as Registry, StoreEvent,
};
use ferrocore_corestore::PrimaryKey;
use ferrocore_driver::{Error, Plugin, StoreError};
use ferrocore_storage::{CoreStorage, LocalScope, Store};

use crate::options::{CoreRef, GetOptions, Which};

/// The tag of a core's remembered encryption key in the store's per-core records.
const ENCRYPTION_KEY: &[u8] = b"encryption-key";

/// The encryption key the store remembers for core `dk` (given when it was created or
/// first opened with one).
///
/// # Errors
/// Storage failures; a remembered value that is not 32 bytes is `Corrupt`.
pub fn remembered_encryption_key(
    store: &Store,
    dk: &[u8; 32],
) -> Result<Option<[u8; 32]>, StorageError> {
    match store.local(LocalScope::Core(*dk), ENCRYPTION_KEY)? {
        None => Ok(None),
        Some(b) => <[u8; 32]>::try_from(&b[..]).map(Some).map_err(|_| {
            StorageError::corrupt(
                Record::Database,
                "the remembered encryption key is not 32 bytes",
            )
        }),
    }
}

/// Remembers `key` as core `dk`'s encryption key, in the store's database (which holds
/// the cores' secret keys already).
///
/// # Errors
/// Storage failures.
pub fn remember_encryption_key(
    store: &Store,
    dk: &[u8; 32],
    key: &[u8; 32],
) -> Result<(), StorageError> {
    store.put_local(LocalScope::Core(*dk), ENCRYPTION_KEY, key)
}

/// What the store handles and the plugin share (locked only on the driver).
pub(crate) struct State {
    pub store: Store,
    pub primary: PrimaryKey,
    pub registry: Registry,
    /// Cores held with `exclusive`, and by which session.
    pub exclusive: BTreeMap<[u8; 32], StoreSession>,
    /// The discovery key of every core this store added to the endpoint.
    pub ids: BTreeMap<CoreId, [u8; 32]>,
    /// The finding-peers scopes each session has open (each holds one of the endpoint's).
    pub finding: BTreeMap<StoreSession, u32>,
}

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves nothing half-done that a later call could
    // trip over (every change is one map operation), so a poisoned lock is taken as is.
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn core_error(e: impl Into<ferrocore::Error>) -> Error {
    Error::Core(e.into())
}

fn refused(e: ferrocore_corestore::store::StoreError) -> Error {
    match e {
        ferrocore_corestore::store::StoreError::Closed
        | ferrocore_corestore::store::StoreError::UnknownSession(_) => StoreError::Closed.into(),
        _ => StoreError::Misuse("the store session does not hold that core").into(),
    }
}

impl State {
    /// Opens (or finds open) the core `opts` names for `session`.
    pub fn get(
        &mut self,
        ep: &mut Endpoint<CoreStorage>,
        session: StoreSession,
        opts: GetOptions,
    ) -> Result<CoreRef, Error> {
        let ns = self
            .registry
            .namespace_of(session)
            .ok_or(StoreError::Closed)?;
        let mut auth_options = AuthOptions {
            key_pair: opts.key_pair.as_ref(),
            manifest: opts.manifest.as_ref(),
            ..AuthOptions::default()
        };
        let mut stored = None;
        match &opts.which {
            Which::Name(name) => {
                if name.is_empty() {
                    return Err(StoreError::Misuse("a core name cannot be empty").into());
                }
                auth_options.name = Some(name);
                stored = self
                    .store
                    .alias(&ns.0, name.as_bytes())
                    .map_err(core_error)?;
                if stored.is_some() && opts.must_create {
                    return Err(StoreError::NameTaken(name.clone()).into());
                }
            }
            Which::Key(key) => auth_options.key = Some(*key),
            Which::DiscoveryKey(dk) => auth_options.discovery_key = Some(*dk),
        }
        let held = |dk: &[u8; 32]| -> Result<bool, Error> {
            Ok(ep.find_core(dk).is_some() || self.store.has_core(dk).map_err(core_error)?)
        };
        let auth = match stored {
            // A stored core found by its alias: its record holds its keys, and deriving
            // the key pair again (JS does) would cost a scalar multiplication for nothing.
            Some(dk) if held(&dk)? => CoreAuth {
                key_pair: None,
                key: None,
                discovery_key: dk,
                manifest: None,
                compat: false,
            },
            // (An alias whose core is gone: created again, from the derived key pair.)
            _ => resolve(&self.primary, &ns, 1, None, &auth_options)
                .map_err(|_| StoreError::Misuse("nothing names a core"))?,
        };
        let dk = auth.discovery_key;
        let exists = held(&dk)?;
        if !exists {
            match &opts.which {
                Which::DiscoveryKey(dk) => return Err(StoreError::NotHeld(*dk).into()),
                _ if !opts.create_if_missing => return Err(StoreError::NotFound.into()),
                _ => {}
            }
        }
        if opts.exclusive {
            if let Some(holder) = self.exclusive.get(&dk) {
                if *holder != session && self.registry.cores_of(*holder).any(|(d, _)| d == dk) {
                    return Err(StoreError::Exclusive.into());
                }
            }
        }
        let remembered = self.remembered_encryption_key(&dk)?;
        if let (Some(r), Some(given)) = (remembered, opts.encryption_key) {
            if r != given {
                return Err(StoreError::Misuse(
                    "the store remembers another encryption key for this core",
                )
                .into());
            }
        }
        let id = match ep.find_core(&dk) {
            Some(id) => id,
            None => {
                let encryption_key = opts.encryption_key.or(remembered);
                let log_options = LogOptions {
                    create_if_missing: !exists,
                    key_pair: if exists { None } else { auth.key_pair.clone() },
                    key: auth.key,
                    manifest: if exists { None } else { auth.manifest.clone() },
                    compat: auth.compat,
                    encryption_key,
                    ..LogOptions::default()
                };
                let log = Log::open(self.store.core(&dk), log_options).map_err(core_error)?;
                ep.add_core(log)
            }
        };
        if let (Which::Name(name), None) = (&opts.which, stored) {
            self.store
                .insert_alias(&ns.0, name.as_bytes(), &dk)
                .map_err(core_error)?;
        }
        if let (None, Some(k)) = (remembered, opts.encryption_key) {
            remember_encryption_key(&self.store, &dk, &k).map_err(core_error)?;
        }
        self.registry.open_core(session, dk).map_err(refused)?;
        if opts.exclusive {
            self.exclusive.insert(dk, session);
        }
        self.ids.insert(id, dk);
        core_ref(ep, id)
    }

    /// Opens a finding-peers scope for `session` (JS `store.findingPeers()`): until it
    /// ends, updates of the store's cores wait for a peer instead of ending at once.
    pub fn start_finding_peers(
        &mut self,
        ep: &mut Endpoint<CoreStorage>,
        session: StoreSession,
    ) -> Result<FindingPeersToken, Error> {
        let token = self.registry.finding_peers(session).map_err(refused)?;
        ep.start_finding_peers(None).map_err(core_error)?;
        *self.finding.entry(session).or_default() += 1;
        Ok(token)
    }

    /// Ends a finding-peers scope (a second end of one does nothing).
    pub fn stop_finding_peers(&mut self, ep: &mut Endpoint<CoreStorage>, token: FindingPeersToken) {
        let session = token.session();
        if self.registry.finding_peers_done(token) {
            if let Some(n) = self.finding.get_mut(&session) {
                *n -= 1;
                if *n == 0 {
                    self.finding.remove(&session);
                }
                let _ = ep.stop_finding_peers(None);
            }
        }
        self.apply(ep);
    }

    fn remembered_encryption_key(&self, dk: &[u8; 32]) -> Result<Option<[u8; 32]>, Error> {
        remembered_encryption_key(&self.store, dk).map_err(core_error)
    }

    /// Runs the registry's decisions: closes the cores that stayed idle, and lets the
    /// updates of a session that stopped finding peers end.
    pub fn apply(&mut self, ep: &mut Endpoint<CoreStorage>) {
        while let Some(event) = self.registry.poll_event() {
            match event {
                StoreEvent::CloseIdle { discovery_key } => {
                    if let Some(id) = ep.find_core(&discovery_key) {
                        self.ids.remove(&id);
                        drop(ep.remove_core(id));
                    }
                    self.exclusive.remove(&discovery_key);
                }
                StoreEvent::FindingPeersDone { session } => {
                    // The session closed with scopes open (an explicit `done` already
                    // ended its own).
                    for _ in 0..self.finding.remove(&session).unwrap_or(0) {
                        let _ = ep.stop_finding_peers(None);
                    }
                }
            }
        }
    }

    /// A peer opened the channel of a core we do not replicate: open it if the store
    /// holds it (JS `ondiscoverykey` / `hasCore`), else refuse it at once.
    fn on_unknown(
        &mut self,
        ep: &mut Endpoint<CoreStorage>,
        session: ferrocore::replication::SessionId,
        dk: [u8; 32],
    ) {
        if ep.find_core(&dk).is_some() {
            return;
        }
        if matches!(self.store.has_core(&dk), Ok(true)) {
            let options = LogOptions {
                create_if_missing: false,
                encryption_key: self.remembered_encryption_key(&dk).ok().flatten(),
                ..LogOptions::default()
            };
            if let Ok(log) = Log::open(self.store.core(&dk), options) {
                let id = ep.add_core(log);
                self.ids.insert(id, dk);
                return;
            }
        }
        ep.reject_core(session, &dk);
    }

    /// A channel of `core` paired or closed: channels hold a core open like sessions do.
    fn on_peer(
        &mut self,
        ep: &mut Endpoint<CoreStorage>,
        core: CoreId,
        added: bool,
        now: Duration,
    ) {
        let Some(&dk) = self.ids.get(&core) else {
            return;
        };
        if added {
            let _ = self.registry.handle_peer_opened(dk);
        } else {
            let _ = self.registry.handle_peer_closed(dk, now);
        }
        self.apply(ep);
    }
}

/// The state of core `id` as a [`CoreRef`].
pub(crate) fn core_ref(ep: &Endpoint<CoreStorage>, id: CoreId) -> Result<CoreRef, Error> {
    let log = ep.log(id).ok_or(Error::NoSuchCore)?;
    Ok(CoreRef {
        id,
        key: *log.key(),
        discovery_key: *log.discovery_key(),
        writable: log.writable(),
    })
}

/// The store's [`Plugin`].
pub(crate) struct StorePlugin(pub Shared);

impl Plugin<CoreStorage> for StorePlugin {
    fn on_event(&mut self, ep: &mut Endpoint<CoreStorage>, event: &Event, now: Duration) {
        let mut state = lock(&self.0);
        match event {
            Event::UnknownCore {
                session,
                discovery_key,
            } => state.on_unknown(ep, *session, *discovery_key),
            Event::PeerAdded { core, .. } => state.on_peer(ep, *core, true, now),
            Event::PeerRemoved { core, .. } => state.on_peer(ep, *core, false, now),
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        lock(&self.0).registry.poll_timeout()
    }

    fn handle_timeout(&mut self, ep: &mut Endpoint<CoreStorage>, now: Duration) {
        let mut state = lock(&self.0);
        state.registry.handle_timeout(now);
        state.apply(ep);
    }
}
