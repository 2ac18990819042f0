//! Which core of a store a command works on ([`CoreSelect`]): the store's default core
//! (named by `ferrocore.json`), a core by name (in a namespace), or any core by key.
//! Opening it with the right encryption key: the one given, else the one the store
//! remembers for it.

use ferrocore::hash;
use ferrocore::log::{Log, LogOptions};
use ferrocore_corestore::Namespace;
use ferrocore_storage::{CoreStorage, Store};

use crate::args::CoreSelect;
use crate::dir::{core_error, CoreDir, MARKER_FILE};
use crate::keys::parse_key;
use crate::Error;

/// A core of the store, picked.
#[derive(Debug, Clone)]
pub(crate) struct Picked {
    /// Its discovery key.
    pub discovery_key: [u8; 32],
    /// Its key, when known before opening it (the default core, a core picked by key).
    pub key: Option<[u8; 32]>,
    /// How the user named it (for messages).
    pub label: String,
    /// It is the store's default core.
    pub default: bool,
}

/// The namespace a chain of names leads to from the root.
pub(crate) fn namespace(path: &[String]) -> Namespace {
    Namespace::from_path(path.iter().map(String::as_str))
}

fn by_name(store: &Store, dir: &CoreDir, ns_path: &[String], name: &str) -> Result<Picked, Error> {
    let ns = namespace(ns_path);
    let dk = store
        .alias(&ns.0, name.as_bytes())
        .map_err(|e| core_error(&dir.path, e.into()))?;
    let label = if ns_path.is_empty() {
        format!("core named {name:?}")
    } else {
        format!("core named {name:?} in namespace {}", ns_path.join("/"))
    };
    match dk {
        Some(discovery_key) => Ok(Picked {
            discovery_key,
            key: None,
            default: discovery_key == hash::discovery_key(&dir.marker.key),
            label,
        }),
        None => Err(Error::Failed(format!(
            "{} has no {label}; create it with `ferrocore create {} --name {name}`{}, or list \
             the store's cores with `ferrocore cores {}`",
            dir.path.display(),
            dir.path.display(),
            ns_path
                .iter()
                .map(|n| format!(" --namespace {n}"))
                .collect::<String>(),
            dir.path.display(),
        ))),
    }
}

/// The core `select` names in the store of `dir`.
pub(crate) fn pick(store: &Store, dir: &CoreDir, select: &CoreSelect) -> Result<Picked, Error> {
    if let Some(name) = &select.name {
        return by_name(store, dir, &select.namespace, name);
    }
    match &select.core {
        None => Ok(Picked {
            discovery_key: hash::discovery_key(&dir.marker.key),
            key: Some(dir.marker.key),
            label: "default core".into(),
            default: true,
        }),
        Some(s) => match parse_key(s) {
            Ok(key) => {
                let discovery_key = hash::discovery_key(&key);
                let held = store
                    .has_core(&discovery_key)
                    .map_err(|e| core_error(&dir.path, e.into()))?;
                if !held {
                    return Err(Error::Failed(format!(
                        "{} holds no core {}; list its cores with `ferrocore cores {}`",
                        dir.path.display(),
                        ferrocore::id::core_id(&key),
                        dir.path.display()
                    )));
                }
                Ok(Picked {
                    discovery_key,
                    key: Some(key),
                    label: format!("core {}", ferrocore::id::core_id(&key)),
                    default: key == dir.marker.key,
                })
            }
            Err(_) => by_name(store, dir, &[], s),
        },
    }
}

impl CoreDir {
    /// The encryption key to open `picked` with: `given` (checked against the one the
    /// store remembers, or for a default core made before keys were remembered, against
    /// the marker's check value), else the remembered one. Without either, an encrypted
    /// core is an error if `required` (commands that read, write or serve blocks).
    pub fn encryption_of(
        &self,
        store: &Store,
        picked: &Picked,
        given: Option<[u8; 32]>,
        required: bool,
    ) -> Result<Option<[u8; 32]>, Error> {
        let remembered = ferrocore_store::remembered_encryption_key(store, &picked.discovery_key)
            .map_err(|e| core_error(&self.path, e.into()))?;
        let d = self.path.display();
        let label = &picked.label;
        match (remembered, given) {
            (Some(r), Some(g)) if r != g => Err(Error::Failed(format!(
                "wrong encryption key for the {label} in {d}: pass the key it was created (or \
                 cloned) with, or none (the store remembers it)"
            ))),
            (Some(r), _) => Ok(Some(r)),
            (None, given) if picked.default => self.encryption(given, required),
            (None, None) => Ok(None),
            (None, Some(_)) => Err(Error::Failed(format!(
                "the {label} in {d} was created (or cloned) without an encryption key: drop \
                 --encryption-key"
            ))),
        }
    }

    /// Opens `picked` (it must exist in the store).
    pub fn open_picked(
        &self,
        store: &Store,
        picked: &Picked,
        encryption_key: Option<[u8; 32]>,
    ) -> Result<Log<CoreStorage>, Error> {
        let options = LogOptions {
            create_if_missing: false,
            key: picked.key,
            encryption_key,
            ..LogOptions::default()
        };
        Log::open(store.core(&picked.discovery_key), options).map_err(|e| match e {
            ferrocore::Error::Misuse("no core in storage") => Error::Failed(format!(
                "{} names the {} but its database does not hold it (was the database \
                 replaced or deleted?)",
                self.path.join(MARKER_FILE).display(),
                picked.label
            )),
            e => core_error(&self.path, e),
        })
    }
}
