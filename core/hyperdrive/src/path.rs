//! Paths as Hyperdrive 13 normalises them (`unix-path-resolve` from `/`, then `'/'`
//! refused), and the Hyperbee keys they are stored under (`"files" 0x00 utf8(path)`).
//!
//! The resolver's rules (module `unix-path-resolve`, as JS hyperdrive 13.3.4 uses it):
//! * `/` and `\` both separate; empty and `.` segments go; `..` pops one segment, and past
//!   the root fails ([`PathError::TooManyDotDots`]);
//! * a path of more than one segment whose first segment ends in `:` is absolute and loses
//!   that segment when it is two UTF-16 units long or `file:` (`C:/x` → `/x`), else its
//!   first three segments (`http://host/a` → `/a`);
//! * nothing else changes: no Unicode normalisation, no percent decoding, spaces kept.
//!
//! ```
//! use ferrocore_hyperdrive::path::{normalize, entry_key, PathError};
//! assert_eq!(normalize("a\\b/../c").unwrap(), "/a/c");
//! assert_eq!(normalize("http://host/a/b").unwrap(), "/a/b");
//! assert_eq!(normalize("a/.."), Err(PathError::Root));
//! assert_eq!(entry_key("/a"), b"files\0/a");
//! ```

use alloc::string::String;
use alloc::vec::Vec;

/// The prefix of every entry's Hyperbee key: the sub-encoder's `files` and its separator.
pub const KEY_PREFIX: &[u8] = b"files\0";

/// Why a path has no entry key (the messages are JS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// It resolves to the root, which names no file.
    #[error("Invalid filename: /")]
    Root,
    /// A `..` above the root.
    #[error("Path cannot be resolved, too many '..'")]
    TooManyDotDots,
    /// Resolving against a base that is itself relative.
    #[error("One of the two paths must be absolute")]
    NotAbsolute,
}

/// A path split as the resolver sees it.
struct Parsed<'a> {
    absolute: bool,
    names: Vec<&'a str>,
}

fn parse(addr: &str) -> Parsed<'_> {
    let names: Vec<&str> = addr.split(['/', '\\']).collect();
    if names.len() > 1 && names[0].ends_with(':') {
        // A drive letter (two UTF-16 units, as JS counts `length`) or `file:` drops one
        // segment; any other scheme drops three (`http:`, ``, `host`).
        let drop = if names[0].encode_utf16().count() == 2 || names[0] == "file:" {
            1
        } else {
            3
        };
        return Parsed {
            absolute: true,
            names: names.into_iter().skip(drop).collect(),
        };
    }
    Parsed {
        absolute: addr.starts_with('/') || addr.starts_with('\\'),
        names,
    }
}

/// Appends `names` to the absolute path `p` (JS `toString`).
fn push_names(mut p: String, names: &[&str]) -> Result<String, PathError> {
    for &name in names {
        match name {
            "" | "." => {}
            ".." => {
                if p.len() == 1 {
                    return Err(PathError::TooManyDotDots);
                }
                let cut = p.rfind('/').unwrap_or(0);
                p.truncate(cut.max(1));
            }
            name => {
                if p.len() > 1 {
                    p.push('/');
                }
                p.push_str(name);
            }
        }
    }
    Ok(p)
}

/// `resolve(a, b)` of two parsed paths.
fn resolve_parsed(a: &Parsed<'_>, b: &Parsed<'_>) -> Result<String, PathError> {
    if b.absolute {
        return push_names(String::from("/"), &b.names);
    }
    if !a.absolute {
        return Err(PathError::NotAbsolute);
    }
    push_names(push_names(String::from("/"), &a.names)?, &b.names)
}

/// `unixPathResolve(base, target)`: `target` resolved against the folder `base` (a symlink's
/// target against the link's own path, as Hyperdrive follows links).
///
/// # Errors
/// [`PathError::NotAbsolute`] when neither is absolute, [`PathError::TooManyDotDots`].
pub fn resolve(base: &str, target: &str) -> Result<String, PathError> {
    // JS folds: the base is resolved on its own first.
    let base = resolve_parsed(&parse(base), &parse(""))?;
    resolve_parsed(&parse(&base), &parse(target))
}

/// `Hyperdrive.normalizePath(name)`: the path every operation stores and looks up.
///
/// # Errors
/// [`PathError::Root`] for the root, [`PathError::TooManyDotDots`].
pub fn normalize(name: &str) -> Result<String, PathError> {
    let path = resolve("/", name)?;
    if path == "/" {
        return Err(PathError::Root);
    }
    Ok(path)
}

/// A folder as listings take it (JS `std(folder || '/', true)`): normalised, and the root
/// as the empty string (so `folder + "/"` is the prefix of its entries). `None` and `""` are
/// the root.
///
/// # Errors
/// [`PathError::TooManyDotDots`].
pub fn folder(name: Option<&str>) -> Result<String, PathError> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or("/");
    let mut path = resolve("/", name)?;
    if path.ends_with('/') {
        path.pop();
    }
    Ok(path)
}

/// The Hyperbee key of the normalised `path`: `"files" 0x00 utf8(path)`.
#[must_use]
pub fn entry_key(path: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(KEY_PREFIX.len() + path.len());
    key.extend_from_slice(KEY_PREFIX);
    key.extend_from_slice(path.as_bytes());
    key
}

/// [`normalize`] then [`entry_key`].
///
/// # Errors
/// As [`normalize`].
pub fn key_of(name: &str) -> Result<Vec<u8>, PathError> {
    normalize(name).map(|p| entry_key(&p))
}

/// The path of an entry's Hyperbee key (the bytes after [`KEY_PREFIX`]), `None` for a key
/// outside the drive's files.
#[must_use]
pub fn path_of_key(key: &[u8]) -> Option<&[u8]> {
    key.strip_prefix(KEY_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_resolve_as_js() {
        assert_eq!(normalize("a//./b/").unwrap(), "/a/b");
        assert_eq!(normalize("/a/b/..").unwrap(), "/a");
        assert_eq!(normalize("..").unwrap_err(), PathError::TooManyDotDots);
        assert_eq!(normalize("a/../..").unwrap_err(), PathError::TooManyDotDots);
        assert_eq!(normalize("").unwrap_err(), PathError::Root);
        assert_eq!(normalize("é/e\u{301}").unwrap(), "/é/e\u{301}");
    }

    #[test]
    fn schemes_drop_one_or_three_segments() {
        assert_eq!(normalize("C:/x").unwrap(), "/x");
        assert_eq!(normalize("é:/x").unwrap(), "/x");
        // 🐱 is two UTF-16 units: `🐱:` is three, a scheme.
        assert_eq!(normalize("🐱:/a/b/c").unwrap(), "/c");
        assert_eq!(normalize("file:/x").unwrap(), "/x");
        assert_eq!(normalize(":/a/b/c").unwrap(), "/c");
        assert_eq!(normalize("C:").unwrap(), "/C:");
        assert_eq!(normalize("ab:/c").unwrap_err(), PathError::Root);
    }

    #[test]
    fn links_resolve_against_their_own_path() {
        assert_eq!(resolve("/a/link", "b/c.txt").unwrap(), "/a/link/b/c.txt");
        assert_eq!(
            resolve("/a/b/up3", "../../../hello.txt").unwrap(),
            "/hello.txt"
        );
        assert_eq!(resolve("/a", "/x/../y").unwrap(), "/y");
        assert_eq!(resolve("a", "b").unwrap_err(), PathError::NotAbsolute);
        assert_eq!(resolve("a", "/b").unwrap_err(), PathError::NotAbsolute);
        assert_eq!(
            resolve("/a", "../..").unwrap_err(),
            PathError::TooManyDotDots
        );
    }

    #[test]
    fn folders_keep_the_root_as_empty() {
        assert_eq!(folder(None).unwrap(), "");
        assert_eq!(folder(Some("")).unwrap(), "");
        assert_eq!(folder(Some("/")).unwrap(), "");
        assert_eq!(folder(Some("a/b/")).unwrap(), "/a/b");
        assert_eq!(folder(Some("..")).unwrap_err(), PathError::TooManyDotDots);
    }

    #[test]
    fn keys_carry_the_files_prefix() {
        assert_eq!(key_of("x/y").unwrap(), b"files\0/x/y");
        assert_eq!(path_of_key(b"files\0/x"), Some(&b"/x"[..]));
        assert_eq!(path_of_key(b"other\0/x"), None);
        assert_eq!(key_of("/").unwrap_err(), PathError::Root);
    }
}
