//! `entry(name, {follow: true})` as a loop the caller drives: look up [`Follow::key`], hand
//! the entry found to [`Follow::found`]; a symlink's target is resolved against the link's
//! own path (`unixPathResolve(link, target)`) and looked up in turn, at most
//! [`MAX_LOOKUPS`] times ([`FollowError::Recursive`] past that).
//!
//! ```
//! use ferrocore_hyperdrive::entry::Entry;
//! use ferrocore_hyperdrive::follow::Follow;
//! use ferrocore_wire::json::Value;
//! let mut f = Follow::new("a/b/up3");
//! assert_eq!(f.key().unwrap(), b"files\0/a/b/up3");
//! let link = Entry::symlink("../../../hello.txt", Value::Null);
//! assert!(!f.found("/a/b/up3", &link).unwrap()); // a link: look again
//! assert_eq!(f.key().unwrap(), b"files\0/hello.txt");
//! assert!(f.found("/hello.txt", &Entry::default()).unwrap()); // the answer
//! ```

use alloc::string::String;
use alloc::vec::Vec;

use crate::entry::Entry;
use crate::path::{self, PathError};

/// The most lookups one `entry(name, {follow: true})` makes (JS: 16).
pub const MAX_LOOKUPS: usize = 16;

/// Why a followed lookup fails (the messages are JS's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// The name, or a link's resolved target, is no path (see [`PathError`]).
    #[error(transparent)]
    Path(#[from] PathError),
    /// Still a link after [`MAX_LOOKUPS`] lookups.
    #[error("Recursive symlink")]
    Recursive,
}

/// One followed lookup.
#[derive(Debug, Clone)]
pub struct Follow {
    name: String,
    lookups: usize,
}

impl Follow {
    /// Follows `name` (as the caller wrote it).
    #[must_use]
    pub fn new(name: &str) -> Self {
        Follow {
            name: name.into(),
            lookups: 0,
        }
    }

    /// The entry key to look up next (the name normalised).
    ///
    /// # Errors
    /// [`FollowError::Recursive`] after [`MAX_LOOKUPS`] lookups; [`FollowError::Path`] for
    /// a name that is no path (`/`, too many `..`).
    pub fn key(&mut self) -> Result<Vec<u8>, FollowError> {
        if self.lookups == MAX_LOOKUPS {
            return Err(FollowError::Recursive);
        }
        self.lookups += 1;
        Ok(path::key_of(&self.name)?)
    }

    /// The entry the lookup found at `path` (its normalised path): `true` when it is the
    /// answer (not a link), `false` when its target is to be looked up next. A lookup that
    /// found nothing is the answer too (`null`), without a call.
    ///
    /// # Errors
    /// [`FollowError::Path`] when the target resolves above the root.
    pub fn found(&mut self, path: &str, entry: &Entry) -> Result<bool, FollowError> {
        match entry.linkname.as_deref() {
            Some(target) if entry.is_symlink() => {
                self.name = path::resolve(path, target)?;
                Ok(false)
            }
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use ferrocore_wire::json::Value;

    #[test]
    fn a_loop_gives_up_after_sixteen_lookups() {
        let mut f = Follow::new("/loop1");
        let links = [("/loop1", "/loop2"), ("/loop2", "/loop1")];
        for i in 0..MAX_LOOKUPS {
            let (at, to) = links[i % 2];
            assert_eq!(f.key().unwrap(), path::entry_key(at));
            assert!(!f.found(at, &Entry::symlink(to, Value::Null)).unwrap());
        }
        assert_eq!(f.key(), Err(FollowError::Recursive));
        assert_eq!(FollowError::Recursive.to_string(), "Recursive symlink");
    }

    #[test]
    fn targets_resolve_from_the_link_and_may_fail() {
        let mut f = Follow::new("/a/link");
        f.key().unwrap();
        assert!(!f
            .found("/a/link", &Entry::symlink("b/c.txt", Value::Null))
            .unwrap());
        assert_eq!(f.key().unwrap(), b"files\0/a/link/b/c.txt");
        let up = Entry::symlink("../../..", Value::Null);
        assert_eq!(f.found("/a", &up), Err(PathError::TooManyDotDots.into()));
        let root = Entry::symlink("..", Value::Null);
        assert!(!f.found("/a", &root).unwrap());
        assert_eq!(f.key(), Err(FollowError::Path(PathError::Root)));
        // An empty linkname is no link (JS tests it for truth).
        assert!(f.found("/a", &Entry::symlink("", Value::Null)).unwrap());
        assert_eq!(Follow::new("/").key(), Err(PathError::Root.into()));
    }
}
