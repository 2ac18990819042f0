//! The store's own records beside its cores' (its catalog): the primary key, the alias
//! table (namespace and name → discovery key, JS corestore's `CORE_BY_ALIAS`) and small
//! local slots, per core and per store.
//!
//! They live in one table of their own, [`CATALOG`], under keys that start with a kind byte:
//!
//! ```text
//! 0x00                                  the primary key (32 bytes)
//! 0x01 namespace(32) name               an alias: the core's discovery key (32 bytes)
//! 0x02 discovery key(32) tag            a local slot of one core
//! 0x03 tag                              a local slot of the store
//! ```
//!
//! so one namespace's aliases (and one core's slots) form one contiguous key range, and a
//! lookup is one B-tree descent. Every value is sealed like a core's records (CRC-32C over
//! key and payload, [`record::seal`]); a mismatch or a value of the wrong shape is
//! [`StorageErrorKind::Corrupt`](ferrocore::storage::StorageErrorKind).
//!
//! A change is written as a core's write batch is under [`Durability::Immediate`]: one
//! write-ahead log record (synced, except under [`Durability::Logged`], whose contract it
//! keeps), then committed to the database at once, with whatever batches were pending. So an
//! acknowledged change survives a kill (and, but under `Logged`, a power loss) in every
//! mode, and a reopen replays it. Changes that must not overwrite ([`CatalogOp::Insert`])
//! keep the first value on replay too.

use ferrocore::storage::{Record, StorageError};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::{db_error, guard, record, wal, Durability, Store};

/// The catalog table: kind byte and key → sealed value (see the module docs).
pub(crate) const CATALOG: TableDefinition<&[u8], &[u8]> = TableDefinition::new("catalog");

const PRIMARY_KEY: u8 = 0;
const ALIAS: u8 = 1;
const CORE_LOCAL: u8 = 2;
const STORE_LOCAL: u8 = 3;

/// Longest alias name, in bytes.
pub const MAX_NAME_LEN: usize = 4096;
/// Longest local slot tag, in bytes.
pub const MAX_TAG_LEN: usize = 255;
/// Largest local slot value, in bytes.
pub const MAX_LOCAL_LEN: usize = 64 << 10;

/// One change to the catalog (also a write-ahead log operation; public only for the fuzz
/// targets, through `fuzzing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogOp {
    /// Stores `value` under `key` unless the key holds a value already.
    Insert {
        /// The catalog key.
        key: Vec<u8>,
        /// Its payload (sealed when stored).
        value: Vec<u8>,
    },
    /// Stores `value` under `key`.
    Put {
        /// The catalog key.
        key: Vec<u8>,
        /// Its payload (sealed when stored).
        value: Vec<u8>,
    },
    /// Removes `key`.
    Delete {
        /// The catalog key.
        key: Vec<u8>,
    },
}

/// Applies `ops`, in order, inside write transaction `tx`.
pub(crate) fn apply(tx: &redb::WriteTransaction, ops: &[CatalogOp]) -> Result<(), StorageError> {
    if ops.is_empty() {
        return Ok(());
    }
    let err = |e: redb::Error| db_error(Record::Database, e);
    let mut table = tx.open_table(CATALOG).map_err(|e| err(e.into()))?;
    for op in ops {
        match op {
            CatalogOp::Insert { key, value } => {
                if table.get(&key[..]).map_err(|e| err(e.into()))?.is_none() {
                    table
                        .insert(&key[..], &record::seal(key, value)[..])
                        .map_err(|e| err(e.into()))?;
                }
            }
            CatalogOp::Put { key, value } => {
                table
                    .insert(&key[..], &record::seal(key, value)[..])
                    .map_err(|e| err(e.into()))?;
            }
            CatalogOp::Delete { key } => {
                table.remove(&key[..]).map_err(|e| err(e.into()))?;
            }
        }
    }
    Ok(())
}

/// A core's name in a namespace, as the alias table holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Alias {
    /// The namespace (32 bytes, as JS corestore's namespaces are).
    pub namespace: [u8; 32],
    /// The name within the namespace (any bytes, at most [`MAX_NAME_LEN`]).
    pub name: Vec<u8>,
    /// The discovery key of the core it names.
    pub discovery_key: [u8; 32],
}

/// A core of the store, as [`Store::cores_with_aliases`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCore {
    /// Its discovery key.
    pub discovery_key: [u8; 32],
    /// An alias naming it, if any.
    pub alias: Option<Alias>,
}

/// Whose local slot: the store's, or one core's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LocalScope {
    /// The store's own slots (the CLI's default core, say).
    Store,
    /// The slots of the core with this discovery key (its encryption key, say).
    Core([u8; 32]),
}

/// [`Store::set_primary_key`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrimaryKeyError {
    /// The store already has another primary key (kept; the given one is not stored).
    Differs,
    /// Reading or writing the store failed.
    Storage(StorageError),
}

impl core::fmt::Display for PrimaryKeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PrimaryKeyError::Differs => f.write_str("the store has another primary key"),
            PrimaryKeyError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PrimaryKeyError {}

impl From<StorageError> for PrimaryKeyError {
    fn from(e: StorageError) -> Self {
        PrimaryKeyError::Storage(e)
    }
}

fn too_long(what: &str, len: usize, max: usize) -> StorageError {
    StorageError::io(
        Record::Database,
        format!("{what} of {len} bytes is longer than {max}"),
    )
}

fn alias_prefix(namespace: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + 64);
    k.push(ALIAS);
    k.extend_from_slice(namespace);
    k
}

pub(crate) fn alias_key(namespace: &[u8; 32], name: &[u8]) -> Result<Vec<u8>, StorageError> {
    if name.len() > MAX_NAME_LEN {
        return Err(too_long("an alias name", name.len(), MAX_NAME_LEN));
    }
    let mut k = alias_prefix(namespace);
    k.extend_from_slice(name);
    Ok(k)
}

pub(crate) fn local_key(scope: &LocalScope, tag: &[u8]) -> Result<Vec<u8>, StorageError> {
    if tag.len() > MAX_TAG_LEN {
        return Err(too_long("a local slot tag", tag.len(), MAX_TAG_LEN));
    }
    let mut k = Vec::with_capacity(33 + tag.len());
    match scope {
        LocalScope::Store => k.push(STORE_LOCAL),
        LocalScope::Core(dk) => {
            k.push(CORE_LOCAL);
            k.extend_from_slice(dk);
        }
    }
    k.extend_from_slice(tag);
    Ok(k)
}

/// A 32-byte payload of the value under `key` (a primary key, a discovery key).
pub(crate) fn key_payload(key: &[u8], value: &[u8]) -> Result<[u8; 32], StorageError> {
    record::open(key, value, Record::Database)?
        .try_into()
        .map_err(|_| StorageError::corrupt(Record::Database, "catalog key value is not 32 bytes"))
}

/// The alias stored under `key` with `value`.
pub(crate) fn alias_of(key: &[u8], value: &[u8]) -> Result<Alias, StorageError> {
    let bad = || StorageError::corrupt(Record::Database, "malformed alias key");
    let rest = key.strip_prefix(&[ALIAS]).ok_or_else(bad)?;
    let (namespace, name) = rest.split_first_chunk::<32>().ok_or_else(bad)?;
    Ok(Alias {
        namespace: *namespace,
        name: name.to_vec(),
        discovery_key: key_payload(key, value)?,
    })
}

/// The 32-byte big-endian successor of `ns` with the alias kind byte, or the first key of
/// the next kind after the last namespace.
fn after_namespace(namespace: &[u8; 32]) -> Vec<u8> {
    let mut k = alias_prefix(namespace);
    for at in (0..k.len()).rev() {
        let (v, carry) = k[at].overflowing_add(1);
        k[at] = v;
        if !carry {
            break;
        }
    }
    k
}

impl Store {
    /// Runs `f` on the catalog as last committed (`None` if it was never written).
    fn with_catalog<T>(
        &self,
        f: impl FnOnce(
            Option<&redb::ReadOnlyTable<&'static [u8], &'static [u8]>>,
        ) -> Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        guard(Record::Database, || {
            let err = |e: redb::Error| db_error(Record::Database, e);
            let tx = self.inner.db().begin_read().map_err(|e| err(e.into()))?;
            match tx.open_table(CATALOG) {
                Ok(table) => f(Some(&table)),
                Err(redb::TableError::TableDoesNotExist(_)) => f(None),
                Err(e) => Err(err(e.into())),
            }
        })
    }

    /// The value under `key`, checked.
    fn catalog_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.with_catalog(|table| {
            let Some(table) = table else { return Ok(None) };
            let found = table.get(key).map_err(|e| db_error(Record::Database, e))?;
            found
                .map(|v| record::open(key, v.value(), Record::Database).map(<[u8]>::to_vec))
                .transpose()
        })
    }

    /// Decides on changes under the write lock (`decide` sees the committed catalog, which
    /// no other change can alter meanwhile), logs them and commits them at once (see the
    /// module docs); returns what `decide` returned.
    fn change_catalog<T>(
        &self,
        decide: impl FnOnce(&Store) -> Result<(T, Vec<CatalogOp>), StorageError>,
    ) -> Result<T, StorageError> {
        self.check_writable()?;
        let mut pending = self.pending();
        self.check_failed()?;
        let (out, ops) = decide(self)?;
        if ops.is_empty() {
            return Ok(out);
        }
        let sync = self.inner.options.durability != Durability::Logged;
        self.wal().append(&wal::encode_catalog(&ops), sync)?;
        if let Err(e) = self.commit_pending(&mut pending, Durability::Eventual, None, &ops) {
            // The log holds a change the database lacks: refuse writes until a reopen
            // replays it.
            self.inner
                .failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        if self.wal().record_bytes() >= wal::CHECKPOINT_BYTES {
            // The change is logged and committed: a failed checkpoint is retried later.
            let _ = self.checkpoint(&mut pending);
        }
        Ok(out)
    }

    /// The store's primary key, if one was stored.
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or the value is damaged.
    pub fn primary_key(&self) -> Result<Option<[u8; 32]>, StorageError> {
        let key = [PRIMARY_KEY];
        self.catalog_get(&key)?
            .map(|v| {
                v.try_into().map_err(|_| {
                    StorageError::corrupt(Record::Database, "primary key is not 32 bytes")
                })
            })
            .transpose()
    }

    /// The store's primary key; if it has none yet, stores `candidate` (fresh random bytes,
    /// on a store's first open) and returns it. The first key ever stored is kept for good.
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or written.
    pub fn primary_key_or_insert(&self, candidate: [u8; 32]) -> Result<[u8; 32], StorageError> {
        self.change_catalog(|store| match store.primary_key()? {
            Some(key) => Ok((key, Vec::new())),
            None => Ok((candidate, vec![primary_key_op(candidate)])),
        })
    }

    /// Gives a store without a primary key this one (JS corestore's `primaryKey` option, for
    /// interop and recovery); a store that has this key already is left as it is.
    ///
    /// # Errors
    /// [`PrimaryKeyError::Differs`] if the store has another primary key (it is kept), or
    /// [`PrimaryKeyError::Storage`].
    pub fn set_primary_key(&self, key: [u8; 32]) -> Result<(), PrimaryKeyError> {
        let existing = self.primary_key_or_insert(key)?;
        if existing != key {
            return Err(PrimaryKeyError::Differs);
        }
        Ok(())
    }

    /// The discovery key of the core named `name` in `namespace`, if any.
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read, the value is damaged, or the name
    /// is longer than [`MAX_NAME_LEN`].
    pub fn alias(
        &self,
        namespace: &[u8; 32],
        name: &[u8],
    ) -> Result<Option<[u8; 32]>, StorageError> {
        let key = alias_key(namespace, name)?;
        self.with_catalog(|table| {
            let Some(table) = table else { return Ok(None) };
            let found = table
                .get(&key[..])
                .map_err(|e| db_error(Record::Database, e))?;
            found.map(|v| key_payload(&key, v.value())).transpose()
        })
    }

    /// Names the core `discovery_key` `name` in `namespace`, unless that alias exists:
    /// returns `None` when stored, or the discovery key the alias already names (left as it
    /// is, even if it is another).
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or written, or the name is longer
    /// than [`MAX_NAME_LEN`].
    pub fn insert_alias(
        &self,
        namespace: &[u8; 32],
        name: &[u8],
        discovery_key: &[u8; 32],
    ) -> Result<Option<[u8; 32]>, StorageError> {
        let key = alias_key(namespace, name)?;
        self.change_catalog(|store| match store.alias(namespace, name)? {
            Some(existing) => Ok((Some(existing), Vec::new())),
            None => Ok((
                None,
                vec![CatalogOp::Insert {
                    key,
                    value: discovery_key.to_vec(),
                }],
            )),
        })
    }

    /// Every alias, by namespace then name (bytewise).
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or an alias is damaged.
    pub fn aliases(&self) -> Result<Vec<Alias>, StorageError> {
        self.aliases_between(vec![ALIAS], vec![ALIAS + 1])
    }

    /// The aliases of one namespace, by name (bytewise).
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or an alias is damaged.
    pub fn aliases_in(&self, namespace: &[u8; 32]) -> Result<Vec<Alias>, StorageError> {
        self.aliases_between(alias_prefix(namespace), after_namespace(namespace))
    }

    fn aliases_between(&self, lo: Vec<u8>, hi: Vec<u8>) -> Result<Vec<Alias>, StorageError> {
        self.with_catalog(|table| {
            let Some(table) = table else {
                return Ok(Vec::new());
            };
            let err = |e: redb::StorageError| db_error(Record::Database, e);
            let mut out = Vec::new();
            for entry in table.range::<&[u8]>(&lo[..]..&hi[..]).map_err(err)? {
                let (k, v) = entry.map_err(err)?;
                out.push(alias_of(k.value(), v.value())?);
            }
            Ok(out)
        })
    }

    /// True if the core `discovery_key` has a header (it was created or cloned here).
    ///
    /// # Errors
    /// A [`StorageError`] if the header cannot be read.
    pub fn has_core(&self, discovery_key: &[u8; 32]) -> Result<bool, StorageError> {
        use ferrocore::storage::Storage;
        Ok(self.core(discovery_key).header()?.is_some())
    }

    /// Every core with a record (as [`Store::cores`]), ascending, each with an alias naming
    /// it if there is one (the first by namespace and name, if several do).
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read or an alias is damaged.
    pub fn cores_with_aliases(&self) -> Result<Vec<StoredCore>, StorageError> {
        let mut named: std::collections::HashMap<[u8; 32], Alias> =
            std::collections::HashMap::new();
        for alias in self.aliases()? {
            named.entry(alias.discovery_key).or_insert(alias);
        }
        Ok(self
            .cores()?
            .into_iter()
            .map(|dk| StoredCore {
                discovery_key: dk,
                alias: named.remove(&dk),
            })
            .collect())
    }

    /// The value of local slot `tag` of `scope`, if set.
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be read, the value is damaged, or the tag is
    /// longer than [`MAX_TAG_LEN`].
    pub fn local(&self, scope: LocalScope, tag: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.catalog_get(&local_key(&scope, tag)?)
    }

    /// Sets local slot `tag` of `scope` to `value` (at most [`MAX_LOCAL_LEN`] bytes).
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be written, or the tag or value is too long.
    pub fn put_local(
        &self,
        scope: LocalScope,
        tag: &[u8],
        value: &[u8],
    ) -> Result<(), StorageError> {
        if value.len() > MAX_LOCAL_LEN {
            return Err(too_long("a local slot value", value.len(), MAX_LOCAL_LEN));
        }
        let key = local_key(&scope, tag)?;
        let value = value.to_vec();
        self.change_catalog(|_| Ok(((), vec![CatalogOp::Put { key, value }])))
    }

    /// Clears local slot `tag` of `scope`.
    ///
    /// # Errors
    /// A [`StorageError`] if the database cannot be written, or the tag is too long.
    pub fn delete_local(&self, scope: LocalScope, tag: &[u8]) -> Result<(), StorageError> {
        let key = local_key(&scope, tag)?;
        self.change_catalog(|_| Ok(((), vec![CatalogOp::Delete { key }])))
    }
}

fn primary_key_op(key: [u8; 32]) -> CatalogOp {
    CatalogOp::Insert {
        key: vec![PRIMARY_KEY],
        value: key.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_ranges_hold_exactly_their_aliases() {
        let ns = [0xff; 32];
        let hi = after_namespace(&ns);
        assert_eq!(
            hi,
            vec![ALIAS + 1; 1]
                .into_iter()
                .chain([0; 32])
                .collect::<Vec<_>>()
        );
        let mut ns2 = [0u8; 32];
        ns2[31] = 0xff;
        let hi2 = after_namespace(&ns2);
        assert!(alias_key(&ns2, b"\xff\xff").unwrap() < hi2);
        let mut next = [0u8; 32];
        next[30] = 1;
        assert_eq!(alias_prefix(&next), hi2);
        assert!(alias_key(&ns2, &[0; MAX_NAME_LEN + 1]).is_err());
        assert!(local_key(&LocalScope::Store, &[0; MAX_TAG_LEN + 1]).is_err());
    }

    #[test]
    fn damaged_alias_values_and_keys_are_corrupt() {
        let key = alias_key(&[3; 32], b"n").unwrap();
        let good = record::seal(&key, &[9; 32]);
        assert_eq!(alias_of(&key, &good).unwrap().discovery_key, [9; 32]);
        let mut bad = good.clone();
        bad[7] ^= 1;
        assert!(alias_of(&key, &bad).is_err());
        let short = record::seal(&key, &[9; 31]);
        assert!(alias_of(&key, &short).is_err());
        assert!(alias_of(&key[..20], &record::seal(&key[..20], &[9; 32])).is_err());
    }
}
