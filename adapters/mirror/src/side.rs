//! The two sides of a mirror: [`MirrorSource`] (what is read) and [`MirrorTarget`] (what is
//! written), the entries they report ([`MirrorEntry`]) and the `ignore` rule their listings
//! honour ([`Ignore`]).
//!
//! Both traits are blocking and object-safe (`&dyn MirrorSource`, `&mut dyn MirrorTarget`),
//! and every side reports its failures as a boxed error ([`SideError`]), so one mirror can
//! join any two sides: a folder ([`crate::local::LocalDrive`]), a Hyperdrive handle, or the
//! in-memory [`crate::testing::MemSide`].

use std::io::Read;

use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::path;
use ferrocore_wire::json::Value;

/// A side's failure, boxed so that any two sides mix in one mirror.
pub type SideError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A listing: the side's entries under a folder, in the side's own order.
pub type EntryIter<'a> = Box<dyn Iterator<Item = Result<MirrorEntry, SideError>> + 'a>;

/// One entry of a side: its path and its drive value (JS `{ key, value }`), plus the byte
/// length of its contents.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorEntry {
    /// The normalised drive path (`/a/b.txt`).
    pub key: String,
    /// The entry's value as Hyperdrive stores it: `executable`, `linkname` (a symlink's
    /// target, not followed), `blob` (the JSON id of the contents as the side reports it;
    /// `None` for a symlink) and `metadata` (`null` when absent).
    pub value: Entry,
    /// The contents' byte length as mirror-drive's `blobLength` reads it (`blob.byteLength`,
    /// or for a block-mapped blob the length its block map gives); 0 without blob.
    pub size: u64,
}

impl MirrorEntry {
    /// A file entry whose blob is localdrive's synthetic id: `{byteOffset: 0, blockOffset:
    /// 0, blockLength, byteLength: size}` (localdrive `index.js:126-132`).
    #[must_use]
    pub fn local_file(
        key: String,
        size: u64,
        block_length: u64,
        executable: bool,
        metadata: Value,
    ) -> Self {
        // u64 → f64 is exact for every size a file system reports (< 2^53).
        #[allow(clippy::cast_precision_loss)]
        let num = |n: u64| Value::Number(n as f64);
        let blob = Value::Object(vec![
            ("byteOffset".into(), num(0)),
            ("blockOffset".into(), num(0)),
            ("blockLength".into(), num(block_length)),
            ("byteLength".into(), num(size)),
        ]);
        MirrorEntry {
            key,
            value: Entry {
                executable,
                linkname: None,
                blob: Some(blob),
                metadata,
            },
            size,
        }
    }

    /// A symlink entry: `{executable: false, linkname, blob: null, metadata: null}`.
    #[must_use]
    pub fn symlink(key: String, linkname: String) -> Self {
        MirrorEntry {
            key,
            value: Entry {
                executable: false,
                linkname: Some(linkname),
                blob: None,
                metadata: Value::Null,
            },
            size: 0,
        }
    }

    /// Whether mirror-drive treats it as a symlink: a truthy (non-empty) `linkname`.
    #[must_use]
    pub fn is_symlink(&self) -> bool {
        self.value.is_symlink()
    }
}

/// Paths a listing skips, with everything below them: mirror-drive's `ignore` option
/// (`index.js:457-458`: each path resolved from `/`, and a key matches a path it equals or
/// lies below).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    paths: Vec<String>,
}

impl Ignore {
    /// Ignores nothing.
    #[must_use]
    pub fn none() -> Self {
        Ignore::default()
    }

    /// Ignores these paths (resolved from `/` as JS does; a path that does not resolve, such
    /// as `..`, is dropped).
    #[must_use]
    pub fn paths<S: AsRef<str>>(paths: impl IntoIterator<Item = S>) -> Self {
        Ignore {
            paths: paths
                .into_iter()
                .filter_map(|p| path::resolve("/", p.as_ref()).ok())
                .collect(),
        }
    }

    /// Whether nothing is ignored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Whether the normalised `key` is ignored: it equals an ignored path or lies below one
    /// (JS `path === key || key.startsWith(path + '/')`, so ignoring `/` ignores nothing).
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        self.paths.iter().any(|p| {
            key == p
                || key
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// The side a mirror reads from (JS: the `src` drive's `list`, `entry`,
/// `createReadStream` and `supportsMetadata`).
///
/// Keys are normalised drive paths (`/a/b`); a side never follows symlinks.
pub trait MirrorSource {
    /// Every entry below the normalised `folder` (`/` for all; JS `list(folder,
    /// {ignore})`), recursively, in the order the side lists them (a Hyperdrive: by key; a
    /// folder: directory order, depth first), skipping keys `ignore` matches (and, for a
    /// folder, not descending into ignored directories). A missing folder lists nothing.
    ///
    /// # Errors
    /// The side could not start the listing; later failures are items of the iterator.
    fn list<'a>(&'a self, folder: &str, ignore: &Ignore) -> Result<EntryIter<'a>, SideError>;

    /// The entry at the normalised `key` (JS `entry(key)`, not following links), `None`
    /// when there is none (a folder is no entry).
    ///
    /// # Errors
    /// The side failed to look.
    fn entry(&self, key: &str) -> Result<Option<MirrorEntry>, SideError>;

    /// The contents of `entry`, which this side reported (JS `createReadStream(entry)`);
    /// an entry without blob reads as empty.
    ///
    /// # Errors
    /// The side could not open the contents; read failures come from the reader.
    fn read<'a>(&'a self, entry: &MirrorEntry) -> Result<Box<dyn Read + 'a>, SideError>;

    /// Whether the side keeps metadata (JS `supportsMetadata`: true for a Hyperdrive, true
    /// for a localdrive only with metadata hooks). When either side does not, mirror-drive
    /// ignores metadata in its comparison.
    fn supports_metadata(&self) -> bool;
}

/// The side a mirror writes to (JS: the `dst` drive's `createWriteStream`, `symlink`,
/// `del` and, for a Hyperdrive, `putEntry`).
pub trait MirrorTarget: MirrorSource {
    /// Writes the file `key` from `data` to its end, replacing whatever entry is there
    /// (JS `createWriteStream(key, {executable, metadata})`).
    ///
    /// # Errors
    /// The side failed to write, or `data` failed to read.
    fn put(
        &mut self,
        key: &str,
        data: &mut dyn Read,
        executable: bool,
        metadata: &Value,
    ) -> Result<(), SideError>;

    /// Makes `key` a symlink to `linkname`, replacing whatever entry is there (JS
    /// `symlink(key, linkname)`).
    ///
    /// # Errors
    /// The side failed to write.
    fn symlink(&mut self, key: &str, linkname: &str) -> Result<(), SideError>;

    /// Deletes the entry `key`; a missing entry is no error (JS `del(key)`).
    ///
    /// # Errors
    /// The side failed to delete.
    fn del(&mut self, key: &str) -> Result<(), SideError>;

    /// Whether the side can store an entry value directly (JS: the target has `putEntry`,
    /// as a Hyperdrive does). Such a target gets a change of only `executable` or
    /// `metadata` as [`MirrorTarget::put_entry`], keeping its blob, and mirror-drive counts
    /// no bytes for it. Default: no.
    fn can_put_entry(&self) -> bool {
        false
    }

    /// Stores `entry` as the value of `key` (JS `putEntry(key, entry)`); called only when
    /// [`MirrorTarget::can_put_entry`] is true.
    ///
    /// # Errors
    /// The side failed to write; the default refuses.
    fn put_entry(&mut self, key: &str, entry: &Entry) -> Result<(), SideError> {
        let _ = entry;
        Err(format!("{key}: this side cannot store entries directly").into())
    }
}
