//! What `list` and `readdir` ask the Hyperbee for, as pure functions: the key range of a
//! recursive listing, the peek-loop of a shallow one, and the `ignore` option.
//!
//! * `list(folder)` (recursive) reads the range `{gt: folder + "/", lt: folder + "0"}` of
//!   the entry keys (`'0'` is `'/' + 1`): exactly the keys under the folder.
//! * `readdir(folder)` and `list(folder, {recursive: false})` repeat a `peek` (the first
//!   entry of a range): from `{gt: folder + "/"}`, then after a child `name` from
//!   `folder/name` (a file: what sorts after it, its own children included) or from
//!   `folder/name0` (a folder: past all its keys). As in JS this steps over a sibling whose
//!   name is the folder's plus `0` (`/a0` beside `/a/…`), and a name that is a file and a
//!   folder at once is listed once.
//!
//! ```
//! use ferrocore_hyperdrive::list::{Shallow, Step};
//! let mut dir = Shallow::new("");
//! assert_eq!(dir.range().gt.as_deref(), Some(&b"files\0/"[..]));
//! assert_eq!(dir.on_entry(b"files\0/a/b").unwrap(), Step::Yield(b"a".to_vec()));
//! assert_eq!(dir.range().gt.as_deref(), Some(&b"files\0/a0"[..]));
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_hyperbee::sub::KeyRange;

use crate::path::{self, PathError, KEY_PREFIX};

fn key(parts: &[&[u8]]) -> Bytes {
    let mut k = Vec::with_capacity(KEY_PREFIX.len() + parts.iter().map(|p| p.len()).sum::<usize>());
    k.extend_from_slice(KEY_PREFIX);
    for p in parts {
        k.extend_from_slice(p);
    }
    k.into()
}

/// `prefixRange(folder, prev)` in the bee's keys: `{gt: folder + prev, lt: folder + "0"}`.
fn prefix_range(folder: &[u8], prev: &[u8]) -> KeyRange {
    KeyRange {
        gt: Some(key(&[folder, prev])),
        lt: Some(key(&[folder, b"0"])),
        ..KeyRange::default()
    }
}

/// The range a recursive `list(folder)` reads: every entry under `folder` (a folder as
/// [`path::folder`] gives it: `""` for the root).
#[must_use]
pub fn list_range(folder: &str) -> KeyRange {
    prefix_range(folder.as_bytes(), b"/")
}

/// [`path::folder`] then [`list_range`]: `list(name)` (`None`: no folder passed).
///
/// # Errors
/// As [`path::folder`].
pub fn list_range_of(name: Option<&str>) -> Result<KeyRange, PathError> {
    path::folder(name).map(|f| list_range(&f))
}

/// A peeked key that is not under the listed folder (a bee that does not honour ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("key outside the listed folder")]
pub struct OutsideFolder;

/// What to do with a peeked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new child: its name (the bytes between the folder's `/` and the next `/`).
    Yield(Vec<u8>),
    /// The same name as the last child (a file that is also a folder): peek again.
    Skip,
}

/// The peek loop of `readdir(folder)` / `list(folder, {recursive: false})`: ask
/// [`Shallow::range`], peek its first entry, hand that entry's key to
/// [`Shallow::on_entry`]; an empty range ends the listing.
#[derive(Debug, Clone)]
pub struct Shallow {
    folder: String,
    prev: Vec<u8>,
    prev_name: Option<Vec<u8>>,
}

impl Shallow {
    /// The loop over `folder` as [`path::folder`] gives it (`""` for the root).
    #[must_use]
    pub fn new(folder: &str) -> Self {
        Shallow {
            folder: folder.into(),
            prev: b"/".to_vec(),
            prev_name: None,
        }
    }

    /// [`path::folder`] then [`Shallow::new`]: `readdir(name)` (`None`: no folder passed).
    ///
    /// # Errors
    /// As [`path::folder`].
    pub fn of(name: Option<&str>) -> Result<Self, PathError> {
        path::folder(name).map(|f| Shallow::new(&f))
    }

    /// The range of the next peek.
    #[must_use]
    pub fn range(&self) -> KeyRange {
        prefix_range(self.folder.as_bytes(), &self.prev)
    }

    /// Takes the key (the bee's, with [`KEY_PREFIX`]) of the entry the last peek found.
    ///
    /// # Errors
    /// [`OutsideFolder`] for a key not under the folder.
    pub fn on_entry(&mut self, key: &[u8]) -> Result<Step, OutsideFolder> {
        let suffix = path::path_of_key(key)
            .and_then(|p| p.strip_prefix(self.folder.as_bytes()))
            .and_then(|p| p.strip_prefix(b"/"))
            .ok_or(OutsideFolder)?;
        let (name, is_folder) = match suffix.iter().position(|&b| b == b'/') {
            Some(i) => (&suffix[..i], true),
            None => (suffix, false),
        };
        self.prev.clear();
        self.prev.push(b'/');
        self.prev.extend_from_slice(name);
        if is_folder {
            self.prev.push(b'0');
        }
        if self.prev_name.as_deref() == Some(name) {
            return Ok(Step::Skip);
        }
        self.prev_name = Some(name.to_vec());
        Ok(Step::Yield(name.to_vec()))
    }
}

/// The `ignore` option of `list` as paths (JS turns a string or an array into a
/// function): each path resolved from `/`, and a key ignored when it is one of them or
/// lies under one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    paths: Vec<String>,
}

impl Ignore {
    /// The ignore list of `paths` (resolved as `unixPathResolve('/', path)`: the root is
    /// allowed, and then ignores nothing).
    ///
    /// # Errors
    /// [`PathError::TooManyDotDots`].
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<Self, PathError> {
        let paths = paths
            .into_iter()
            .map(|p| path::resolve("/", p))
            .collect::<Result<_, _>>()?;
        Ok(Ignore { paths })
    }

    /// Whether the entry at `path` (its normalised path, without [`KEY_PREFIX`]) is left
    /// out.
    #[must_use]
    pub fn ignores(&self, path: &[u8]) -> bool {
        self.paths.iter().any(|p| {
            let p = p.as_bytes();
            path == p || (path.starts_with(p) && path.get(p.len()) == Some(&b'/'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// Runs the peek loop over a sorted set of keys, as a bee would answer the peeks.
    fn readdir(keys: &BTreeSet<Vec<u8>>, folder: &str) -> Vec<Vec<u8>> {
        let mut dir = Shallow::new(folder);
        let mut out = Vec::new();
        loop {
            let r = dir.range();
            let (gt, lt) = (r.gt.unwrap(), r.lt.unwrap());
            let next = keys
                .iter()
                .find(|k| k.as_slice() > gt.as_ref() && k.as_slice() < lt.as_ref());
            let Some(k) = next else { return out };
            if let Step::Yield(name) = dir.on_entry(k).unwrap() {
                out.push(name);
            }
        }
    }

    fn keys(paths: &[&str]) -> BTreeSet<Vec<u8>> {
        paths.iter().map(|p| path::entry_key(p)).collect()
    }

    #[test]
    fn shallow_listing_steps_over_folders_and_their_zero_sibling() {
        let k = keys(&["/a/b/c", "/a/d", "/a0", "/a-b", "/x", "/x/y", "/z"]);
        let names: Vec<Vec<u8>> = readdir(&k, "");
        assert_eq!(names, [&b"a-b"[..], b"a", b"x", b"z"].map(<[u8]>::to_vec));
        assert_eq!(readdir(&k, "/a"), [&b"b"[..], b"d"].map(<[u8]>::to_vec));
        assert!(readdir(&k, "/nothing").is_empty());
    }

    #[test]
    fn ranges_bound_the_folder() {
        let r = list_range_of(Some("a/")).unwrap();
        assert_eq!(r.gt.as_deref(), Some(&b"files\0/a/"[..]));
        assert_eq!(r.lt.as_deref(), Some(&b"files\0/a0"[..]));
        assert!(r.gte.is_none() && r.lte.is_none());
        let root = list_range_of(None).unwrap();
        assert_eq!(root.gt.as_deref(), Some(&b"files\0/"[..]));
        assert_eq!(root.lt.as_deref(), Some(&b"files\x000"[..]));
        let mut dir = Shallow::of(Some("a/")).unwrap();
        assert_eq!(dir.on_entry(b"files\0/b/c"), Err(OutsideFolder));
        assert_eq!(dir.on_entry(b"files\0/a"), Err(OutsideFolder));
        assert!(Shallow::of(Some("..")).is_err());
    }

    #[test]
    fn ignore_matches_a_path_and_what_lies_under_it() {
        let ig = Ignore::new(["a", "./x/../b/"]).unwrap();
        assert!(ig.ignores(b"/a") && ig.ignores(b"/a/c") && ig.ignores(b"/b/c"));
        assert!(!ig.ignores(b"/a0") && !ig.ignores(b"/a-b") && !ig.ignores(b"/ab"));
        assert!(!Ignore::new(["/"]).unwrap().ignores(b"/a"));
        assert_eq!(Ignore::new([".."]), Err(PathError::TooManyDotDots));
    }
}
