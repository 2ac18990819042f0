//! [`MemSide`]: an in-memory side, a map of paths to files and symlinks that lists in key
//! order as a Hyperdrive does, for testing mirror rules without disk.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;

use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::path;
use ferrocore_wire::json::Value;

use crate::side::{EntryIter, Ignore, MirrorEntry, MirrorSource, MirrorTarget, SideError};

/// One entry of a [`MemSide`].
#[derive(Debug, Clone, PartialEq)]
pub enum MemFile {
    /// A file.
    File {
        /// Its contents.
        data: Vec<u8>,
        /// Its exec bit.
        executable: bool,
        /// Its metadata (`null` when none).
        metadata: Value,
    },
    /// A symlink.
    Link(String),
}

/// An in-memory side. Like a Hyperdrive it lists by key and, by default, supports
/// metadata and `putEntry`; both can be turned off to play a localdrive.
#[derive(Debug, Clone)]
pub struct MemSide {
    /// The entries by normalised path.
    pub files: BTreeMap<String, MemFile>,
    /// JS `supportsMetadata`.
    pub supports_metadata: bool,
    /// Whether the side has JS `putEntry`.
    pub put_entry: bool,
    /// Contents opened for reading so far.
    pub reads: Cell<u64>,
    /// Writes (`put`, `put_entry`, `symlink`, `del`) so far.
    pub writes: u64,
}

impl Default for MemSide {
    fn default() -> Self {
        MemSide {
            files: BTreeMap::new(),
            supports_metadata: true,
            put_entry: true,
            reads: Cell::new(0),
            writes: 0,
        }
    }
}

impl MemSide {
    /// An empty side like a Hyperdrive (metadata and `putEntry` supported).
    #[must_use]
    pub fn drive() -> Self {
        MemSide::default()
    }

    /// An empty side like a localdrive without metadata hooks.
    #[must_use]
    pub fn folder() -> Self {
        MemSide {
            supports_metadata: false,
            put_entry: false,
            ..MemSide::default()
        }
    }

    /// Adds a file (the key is normalised; panics on a bad one).
    pub fn file(&mut self, key: &str, data: &[u8], executable: bool, metadata: Value) {
        let key = path::normalize(key).expect("a file path");
        self.files.insert(
            key,
            MemFile::File {
                data: data.to_vec(),
                executable,
                metadata,
            },
        );
    }

    /// Adds a symlink (the key is normalised; panics on a bad one).
    pub fn link(&mut self, key: &str, target: &str) {
        let key = path::normalize(key).expect("a link path");
        self.files.insert(key, MemFile::Link(target.into()));
    }

    fn to_entry(&self, key: &str, file: &MemFile) -> MirrorEntry {
        match file {
            MemFile::Link(target) => MirrorEntry::symlink(key.into(), target.clone()),
            MemFile::File {
                data,
                executable,
                metadata,
            } => {
                let len = data.len() as u64;
                let mut e = MirrorEntry::local_file(
                    key.into(),
                    len,
                    len.div_ceil(65536),
                    *executable,
                    metadata.clone(),
                );
                if !self.supports_metadata {
                    e.value.metadata = Value::Null;
                }
                e
            }
        }
    }
}

impl MirrorSource for MemSide {
    fn list<'a>(&'a self, folder: &str, ignore: &Ignore) -> Result<EntryIter<'a>, SideError> {
        let folder = path::folder(Some(folder))?;
        let prefix = format!("{folder}/");
        let ignore = ignore.clone();
        Ok(Box::new(
            self.files
                .range(prefix.clone()..)
                .take_while(move |(k, _)| k.starts_with(&prefix))
                .filter(move |(k, _)| !ignore.matches(k))
                .map(|(k, f)| Ok(self.to_entry(k, f))),
        ))
    }

    fn entry(&self, key: &str) -> Result<Option<MirrorEntry>, SideError> {
        let key = path::resolve("/", key)?;
        Ok(self.files.get(&key).map(|f| self.to_entry(&key, f)))
    }

    fn read<'a>(&'a self, entry: &MirrorEntry) -> Result<Box<dyn Read + 'a>, SideError> {
        self.reads.set(self.reads.get() + 1);
        match self.files.get(&entry.key) {
            Some(MemFile::File { data, .. }) => Ok(Box::new(&data[..])),
            _ => Ok(Box::new(&[][..])),
        }
    }

    fn supports_metadata(&self) -> bool {
        self.supports_metadata
    }
}

impl MirrorTarget for MemSide {
    fn put(
        &mut self,
        key: &str,
        data: &mut dyn Read,
        executable: bool,
        metadata: &Value,
    ) -> Result<(), SideError> {
        let mut buf = Vec::new();
        data.read_to_end(&mut buf)?;
        self.writes += 1;
        let metadata = if self.supports_metadata {
            metadata.clone()
        } else {
            Value::Null
        };
        self.file(key, &buf, executable, metadata);
        Ok(())
    }

    fn symlink(&mut self, key: &str, linkname: &str) -> Result<(), SideError> {
        self.writes += 1;
        self.link(key, linkname);
        Ok(())
    }

    fn del(&mut self, key: &str) -> Result<(), SideError> {
        self.writes += 1;
        self.files.remove(&path::normalize(key)?);
        Ok(())
    }

    fn can_put_entry(&self) -> bool {
        self.put_entry
    }

    fn put_entry(&mut self, key: &str, entry: &Entry) -> Result<(), SideError> {
        self.writes += 1;
        let key = path::normalize(key)?;
        match self.files.get_mut(&key) {
            Some(MemFile::File {
                executable,
                metadata,
                ..
            }) => {
                *executable = entry.executable;
                *metadata = entry.metadata.clone();
                Ok(())
            }
            _ => Err(format!("{key}: no file to update").into()),
        }
    }
}
