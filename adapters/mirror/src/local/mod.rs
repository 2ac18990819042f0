//! [`LocalDrive`]: a folder on disk seen as a drive, as JS `localdrive@2.2.1` (the
//! version mirror-drive 1.14.2 pairs with hyperdrive 13) sees it. Line numbers below are
//! localdrive's `index.js` and `streams.js`.
//!
//! * **Paths** are drive paths resolved from `/` as JS's `unix-path-resolve` does
//!   (`ferrocore_hyperdrive::path::resolve`), joined under the root (`toPath`, 40-44).
//! * **Entries** (`_entry`, 89-137) come from `lstat`, never following links: a folder, a
//!   missing path or anything neither file nor symlink (a socket, a FIFO) is no entry; a
//!   symlink is `{executable: false, linkname, blob: null, metadata: null}` with its
//!   target's `\` turned into `/` and a target inside the root made a drive path
//!   (`/root/x` → `/x`); a file is `{executable: mode & S_IXUSR, linkname: null, blob:
//!   {byteOffset: 0, blockOffset: 0, blockLength: st.blocks || ceil(size / blksize) * 8,
//!   byteLength: size}, metadata}` with metadata from the hooks, else `null`.
//! * **Listing** (`list`, 219-254) walks the folder depth first in directory order (what
//!   `readdir` returns, as Node's `opendir` does), entering each subfolder where it is met;
//!   a key the `ignore` rule matches is skipped with all below it; folders that cannot be
//!   opened list nothing. Nothing else is ignored: no dotfiles rule, no `.gitignore`.
//! * **Writes** (`FileWriteStream`, `streams.js:7-92`) go to a temporary file beside the
//!   target (`<name>.<n>.localdrive.tmp`, JS's `atomic` option, 313-320) created with mode
//!   0755 or 0644, whose user-exec bit is then forced to match `executable`, and renamed
//!   over the target at the end; parent folders are created first.
//! * **Deletes** (`del`, 166-189) unlink the path (a missing one is fine) and then remove
//!   now-empty parent folders up to, not including, the root (`gcEmptyFolders`, 383-392).
//! * **Symlinks** (`symlink`, 191-212) replace the entry there; a target starting with `/`
//!   is written as the absolute path of that drive path under the root, any other as is.
//!
//! One deviation: JS strips the root from a link target with a bare string prefix test,
//! so under `/tmp/a` a link to `/tmp/ab/x` reads as `/b/x`; here the root must be followed
//! by a separator or end the target.

mod io;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ferrocore_hyperdrive::path::{self, PathError};
use ferrocore_wire::json::Value;

use crate::side::{EntryIter, Ignore, MirrorEntry, MirrorSource, MirrorTarget, SideError};

pub use io::{FileReader, FileWriter};

/// Why a [`LocalDrive`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalError {
    /// A file system call failed.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
    /// A key that is no drive path.
    #[error(transparent)]
    Path(#[from] PathError),
    /// Reading something that is not a file.
    #[error("{0} is not a file")]
    NotAFile(PathBuf),
    /// Symlinks are not supported on this platform.
    #[error("symlinks are not supported on this platform")]
    Unsupported,
}

impl LocalError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> Self {
        LocalError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

/// Where a [`LocalDrive`] keeps file metadata (JS localdrive's `metadata` hooks
/// `{get, put, del}`); a drive with hooks supports metadata.
pub trait MetadataHooks: Send + Sync {
    /// The metadata of `key`, `null` when none.
    fn get(&self, key: &str) -> Value;
    /// Stores the metadata of `key`.
    fn put(&self, key: &str, value: &Value);
    /// Forgets the metadata of `key` (called for keys that may have none).
    fn del(&self, key: &str);
}

/// Metadata hooks over an in-memory map (JS: a `Map` passed as `metadata`).
#[derive(Debug, Default)]
pub struct MemMetadata(pub Mutex<std::collections::BTreeMap<String, Value>>);

impl MetadataHooks for MemMetadata {
    fn get(&self, key: &str) -> Value {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key).cloned().unwrap_or(Value::Null)
    }

    fn put(&self, key: &str, value: &Value) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(key.into(), value.clone());
    }

    fn del(&self, key: &str) {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.remove(key);
    }
}

/// A folder on disk as a drive (JS `new Localdrive(root, {metadata, atomic: true})`).
pub struct LocalDrive {
    root: PathBuf,
    /// The root with `/` separators, to make link targets inside it drive paths.
    root_str: String,
    metadata: Option<Box<dyn MetadataHooks>>,
    /// Serialises folder creation against empty-folder removal (JS `_lock`).
    lock: Mutex<()>,
}

impl std::fmt::Debug for LocalDrive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDrive")
            .field("root", &self.root)
            .field("supports_metadata", &self.metadata.is_some())
            .finish_non_exhaustive()
    }
}

impl LocalDrive {
    /// The drive of the folder `root` (made absolute against the current directory, as
    /// JS `path.resolve`; it need not exist yet).
    ///
    /// # Errors
    /// [`LocalError::Io`] when the current directory cannot be read.
    pub fn new(root: impl AsRef<Path>) -> Result<Self, LocalError> {
        let root = root.as_ref();
        let root = std::path::absolute(root).map_err(|e| LocalError::io(root, e))?;
        let root_str = root.to_string_lossy().replace('\\', "/");
        let root_str = root_str.trim_end_matches('/').to_string();
        Ok(LocalDrive {
            root,
            root_str,
            metadata: None,
            lock: Mutex::new(()),
        })
    }

    /// Keeps metadata with these hooks (JS `opts.metadata`); the drive then supports
    /// metadata.
    #[must_use]
    pub fn with_metadata(mut self, hooks: Box<dyn MetadataHooks>) -> Self {
        self.metadata = Some(hooks);
        self
    }

    /// The folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the drive keeps metadata (JS `supportsMetadata`).
    #[must_use]
    pub fn supports_metadata(&self) -> bool {
        self.metadata.is_some()
    }

    /// The file of a drive path (JS `toPath`: resolved from `/`, joined under the root).
    ///
    /// # Errors
    /// [`LocalError::Path`] for a key with too many `..`.
    pub fn to_path(&self, key: &str) -> Result<PathBuf, LocalError> {
        let keyname = path::resolve("/", key)?;
        Ok(self.join(&keyname))
    }

    fn join(&self, keyname: &str) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(keyname.split('/').filter(|s| !s.is_empty()));
        p
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry at `key`, not following links (JS `entry(key)`); `None` for a folder, a
    /// missing path, or anything neither file nor symlink.
    ///
    /// # Errors
    /// A bad key, or a symlink whose target cannot be read.
    pub fn entry(&self, key: &str) -> Result<Option<MirrorEntry>, LocalError> {
        let keyname = path::resolve("/", key)?;
        let filename = self.join(&keyname);
        let Ok(st) = fs::symlink_metadata(&filename) else {
            return Ok(None);
        };
        let ft = st.file_type();
        if ft.is_symlink() {
            let link = fs::read_link(&filename).map_err(|e| LocalError::io(&filename, e))?;
            let link = self.link_key(&link.to_string_lossy());
            return Ok(Some(MirrorEntry::symlink(keyname, link)));
        }
        if !ft.is_file() {
            return Ok(None);
        }
        let metadata = match &self.metadata {
            Some(m) => m.get(&keyname),
            None => Value::Null,
        };
        let (executable, blocks) = mode_and_blocks(&st);
        Ok(Some(MirrorEntry::local_file(
            keyname,
            st.len(),
            blocks,
            executable,
            metadata,
        )))
    }

    /// A link target as an entry's `linkname` (`index.js:111-118`).
    fn link_key(&self, link: &str) -> String {
        let link = link.replace('\\', "/");
        match link.strip_prefix(self.root_str.as_str()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                if rest.is_empty() {
                    "/".into()
                } else {
                    rest.into()
                }
            }
            _ => link,
        }
    }

    /// Whether there is an entry at `key` (JS `exists`).
    ///
    /// # Errors
    /// As [`LocalDrive::entry`].
    pub fn exists(&self, key: &str) -> Result<bool, LocalError> {
        Ok(self.entry(key)?.is_some())
    }

    /// Every entry below `folder`, recursively, in directory order (JS `list(folder,
    /// {ignore})`); see the module notes.
    ///
    /// # Errors
    /// [`LocalError::Path`] for a bad folder; file system failures are items.
    pub fn list(&self, folder: &str, ignore: &Ignore) -> Result<List<'_>, LocalError> {
        let keyname = path::resolve("/", folder)?;
        let mut stack = Vec::new();
        if let Ok(dir) = fs::read_dir(self.join(&keyname)) {
            stack.push((keyname, dir));
        }
        Ok(List {
            drive: self,
            ignore: ignore.clone(),
            stack,
        })
    }

    /// The whole contents of the file at `key`, `None` when there is no file there (a
    /// symlink reads as `None`, as in JS `get`).
    ///
    /// # Errors
    /// A bad key or a failed read.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, LocalError> {
        let Some(entry) = self.entry(key)? else {
            return Ok(None);
        };
        if entry.value.blob.is_none() {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut r = self.read(&entry.key, 0, None)?;
        std::io::Read::read_to_end(&mut r, &mut out).map_err(|e| LocalError::io(&r.path, e))?;
        Ok(Some(out))
    }

    /// Writes `data` as the file `key` (JS `put(key, buffer, {executable, metadata})`).
    ///
    /// # Errors
    /// As [`LocalDrive::writer`] and [`FileWriter::finish`].
    pub fn put(
        &self,
        key: &str,
        data: &[u8],
        executable: bool,
        metadata: &Value,
    ) -> Result<(), LocalError> {
        let mut w = self.writer(key, executable, metadata.clone())?;
        std::io::Write::write_all(&mut w, data).map_err(|e| LocalError::io(&w.tmp, e))?;
        w.finish()
    }

    /// Deletes the file or symlink `key` (a missing one is fine), then the parent folders
    /// it leaves empty, up to the root, and its metadata (JS `del`).
    ///
    /// # Errors
    /// A bad key, or a path that cannot be unlinked (such as a folder).
    pub fn del(&self, key: &str) -> Result<(), LocalError> {
        let keyname = path::resolve("/", key)?;
        let filename = self.join(&keyname);
        match fs::remove_file(&filename) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(LocalError::io(&filename, e)),
        }
        if let Some(dir) = filename.parent().filter(|d| d.starts_with(&self.root)) {
            let _guard = self.lock();
            let mut dir = dir;
            while dir != self.root && fs::remove_dir(dir).is_ok() {
                let Some(up) = dir.parent() else { break };
                dir = up;
            }
        }
        if let Some(m) = &self.metadata {
            m.del(&keyname);
        }
        Ok(())
    }

    /// Makes `key` a symlink to `linkname`, replacing the entry there (JS `symlink`): a
    /// `linkname` starting with `/` points at that drive path under the root, any other is
    /// written as given (relative to the link's folder).
    ///
    /// # Errors
    /// A bad key, a failed write, or [`LocalError::Unsupported`] off Unix.
    pub fn symlink(&self, key: &str, linkname: &str) -> Result<(), LocalError> {
        if self.entry(key)?.is_some() {
            self.del(key)?;
        }
        let pointer = self.to_path(key)?;
        let target = if linkname.starts_with('/') {
            self.to_path(linkname)?
        } else {
            PathBuf::from(linkname.replace('/', std::path::MAIN_SEPARATOR_STR))
        };
        let _guard = self.lock();
        if let Some(parent) = pointer.parent() {
            fs::create_dir_all(parent).map_err(|e| LocalError::io(parent, e))?;
        }
        make_symlink(&target, &pointer)
    }
}

#[cfg(unix)]
fn make_symlink(target: &Path, pointer: &Path) -> Result<(), LocalError> {
    std::os::unix::fs::symlink(target, pointer).map_err(|e| LocalError::io(pointer, e))
}

#[cfg(not(unix))]
fn make_symlink(_target: &Path, _pointer: &Path) -> Result<(), LocalError> {
    Err(LocalError::Unsupported)
}

/// The user-exec bit and localdrive's `blockLength` (`st.blocks || ceil(size / blksize) *
/// 8`).
#[cfg(unix)]
fn mode_and_blocks(st: &fs::Metadata) -> (bool, u64) {
    use std::os::unix::fs::MetadataExt;
    let blocks = match st.blocks() {
        0 => st.len().div_ceil(st.blksize().max(1)) * 8,
        b => b,
    };
    (st.mode() & 0o100 != 0, blocks)
}

#[cfg(not(unix))]
fn mode_and_blocks(st: &fs::Metadata) -> (bool, u64) {
    (false, st.len().div_ceil(4096) * 8)
}

/// [`LocalDrive::list`]'s iterator.
pub struct List<'a> {
    drive: &'a LocalDrive,
    ignore: Ignore,
    /// The folders being walked: their keys and their open listings, innermost last.
    stack: Vec<(String, fs::ReadDir)>,
}

impl Iterator for List<'_> {
    type Item = Result<MirrorEntry, LocalError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (keyname, dir) = self.stack.last_mut()?;
            let dirent = match dir.next() {
                None => {
                    self.stack.pop();
                    continue;
                }
                Some(Err(e)) => return Some(Err(LocalError::io(&self.drive.join(keyname), e))),
                Some(Ok(d)) => d,
            };
            // JS keys a name by resolving it against its folder, so a name holding `\`
            // makes a key whose lookup finds nothing; a name that is no UTF-8 likewise
            // (Node replaces its bad bytes).
            let Some(name) = dirent.file_name().to_str().map(String::from) else {
                continue;
            };
            let Ok(key) = path::resolve(keyname, &name) else {
                continue;
            };
            if self.ignore.matches(&key) {
                continue;
            }
            if dirent.file_type().is_ok_and(|t| t.is_dir()) {
                if let Ok(sub) = fs::read_dir(self.drive.join(&key)) {
                    self.stack.push((key, sub));
                }
                continue;
            }
            match self.drive.entry(&key) {
                Ok(Some(entry)) => return Some(Ok(entry)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl MirrorSource for LocalDrive {
    fn list<'a>(&'a self, folder: &str, ignore: &Ignore) -> Result<EntryIter<'a>, SideError> {
        let list = LocalDrive::list(self, folder, ignore)?;
        Ok(Box::new(list.map(|r| r.map_err(SideError::from))))
    }

    fn entry(&self, key: &str) -> Result<Option<MirrorEntry>, SideError> {
        Ok(LocalDrive::entry(self, key)?)
    }

    fn read<'a>(&'a self, entry: &MirrorEntry) -> Result<Box<dyn std::io::Read + 'a>, SideError> {
        Ok(Box::new(LocalDrive::read(self, &entry.key, 0, None)?))
    }

    fn supports_metadata(&self) -> bool {
        LocalDrive::supports_metadata(self)
    }
}

impl MirrorTarget for LocalDrive {
    fn put(
        &mut self,
        key: &str,
        data: &mut dyn std::io::Read,
        executable: bool,
        metadata: &Value,
    ) -> Result<(), SideError> {
        let mut w = self.writer(key, executable, metadata.clone())?;
        // Large chunks: `io::copy`'s 8 KiB would cost many more write calls.
        let mut buf = vec![0u8; 128 * 1024];
        loop {
            match data.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => std::io::Write::write_all(&mut w, &buf[..n])?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(w.finish()?)
    }

    fn symlink(&mut self, key: &str, linkname: &str) -> Result<(), SideError> {
        Ok(LocalDrive::symlink(self, key, linkname)?)
    }

    fn del(&mut self, key: &str) -> Result<(), SideError> {
        Ok(LocalDrive::del(self, key)?)
    }
}
