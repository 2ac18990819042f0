//! Sub-bees (`bee.sub(prefix, {sep})`): a view whose keys are stored as
//! `prefix ‖ sep ‖ key`, and whose ranges default to exactly its own keys (JS's
//! `prefixEncoding` and `encRange`).

use alloc::vec::Vec;
use bytes::Bytes;

use crate::RangeOptions;

/// Key bounds (encoded keys), as ranges and diffs take them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Keys above this.
    pub gt: Option<Bytes>,
    /// Keys at or above this.
    pub gte: Option<Bytes>,
    /// Keys below this.
    pub lt: Option<Bytes>,
    /// Keys at or below this.
    pub lte: Option<Bytes>,
}

/// The separator JS uses by default (`0x00`).
pub const SEP: &[u8] = &[0];

/// A sub's key prefix (its parents' prefixes, its name and the separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sub {
    prefix: Bytes,
    /// The separator sub-subs use by default (the root bee's, as in JS).
    sep: Bytes,
}

impl Sub {
    /// `bee.sub(name, {sep})` of a root bee whose separator is `bee_sep` (JS: `0x00`).
    #[must_use]
    pub fn new(name: &[u8], sep: Option<&[u8]>, bee_sep: &[u8]) -> Self {
        Sub::nested(&[], name, sep, bee_sep)
    }

    fn nested(parent: &[u8], name: &[u8], sep: Option<&[u8]>, bee_sep: &[u8]) -> Self {
        let sep = sep.unwrap_or(bee_sep);
        let mut prefix = Vec::with_capacity(parent.len() + name.len() + sep.len());
        prefix.extend_from_slice(parent);
        prefix.extend_from_slice(name);
        prefix.extend_from_slice(sep);
        Sub {
            prefix: prefix.into(),
            sep: Bytes::copy_from_slice(bee_sep),
        }
    }

    /// `sub.sub(name, {sep})`.
    #[must_use]
    pub fn sub(&self, name: &[u8], sep: Option<&[u8]>) -> Self {
        Sub::nested(&self.prefix, name, sep, &self.sep)
    }

    /// The whole prefix (ends with the separator).
    #[must_use]
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// The stored key of `key` in this sub.
    #[must_use]
    pub fn key(&self, key: &[u8]) -> Bytes {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(key);
        k.into()
    }

    /// The sub's own key of a stored key (JS slices the prefix off without checking).
    #[must_use]
    pub fn strip<'a>(&self, stored: &'a [u8]) -> &'a [u8] {
        stored.get(self.prefix.len()..).unwrap_or(&[])
    }

    /// `encRange` for a sub: the bounds prefixed; a missing lower bound becomes
    /// `> prefix ‖ 0x00` and a missing upper one `< prefix` with its last byte bumped.
    #[must_use]
    pub fn range(&self, r: &KeyRange) -> KeyRange {
        let enc = |b: &Option<Bytes>| b.as_deref().map(|k| self.key(k));
        let mut out = KeyRange {
            gt: enc(&r.gt),
            gte: enc(&r.gte),
            lt: enc(&r.lt),
            lte: enc(&r.lte),
        };
        if out.gt.is_none() && out.gte.is_none() {
            out.gt = Some(self.key(SEP));
        }
        if out.lt.is_none() && out.lte.is_none() {
            let mut k = self.prefix.to_vec();
            if let Some(last) = k.last_mut() {
                *last = last.wrapping_add(1);
            }
            out.lt = Some(k.into());
        }
        out
    }

    /// [`Sub::range`] applied to a range iterator's options (direction, limit and
    /// checkpoint kept).
    #[must_use]
    pub fn range_options(&self, o: &RangeOptions) -> RangeOptions {
        let r = self.range(&KeyRange::from(o));
        RangeOptions {
            gt: r.gt,
            gte: r.gte,
            lt: r.lt,
            lte: r.lte,
            ..o.clone()
        }
    }
}

impl From<&RangeOptions> for KeyRange {
    fn from(o: &RangeOptions) -> Self {
        KeyRange {
            gt: o.gt.clone(),
            gte: o.gte.clone(),
            lt: o.lt.clone(),
            lte: o.lte.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &[u8]) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(s))
    }

    #[test]
    fn default_range_is_exactly_the_sub() {
        let s = Sub::new(b"a", None, SEP);
        assert_eq!(s.prefix(), b"a\0");
        assert_eq!(s.key(b"k").as_ref(), b"a\0k");
        assert_eq!(s.strip(b"a\0k"), b"k");
        let r = s.range(&KeyRange::default());
        // the empty sub-key is excluded, as JS's `encRange` has it
        assert_eq!(r.gt, b(b"a\0\0"));
        assert_eq!(r.lt, b(b"a\x01"));
        assert_eq!((r.gte, r.lte), (None, None));
    }

    #[test]
    fn given_bounds_are_prefixed_and_keep_the_other_default() {
        let s = Sub::new(b"a", None, SEP);
        let r = s.range(&KeyRange {
            gte: b(b"m"),
            ..KeyRange::default()
        });
        assert_eq!((r.gt, r.gte, r.lt), (None, b(b"a\0m"), b(b"a\x01")));
        let r = s.range(&KeyRange {
            lte: b(b""),
            ..KeyRange::default()
        });
        assert_eq!((r.gt, r.lte, r.lt), (b(b"a\0\0"), b(b"a\0"), None));
    }

    #[test]
    fn nested_and_custom_separators() {
        // a custom separator applies to this level; nested subs default to the bee's
        let s = Sub::new(b"a", Some(b"/"), SEP).sub(b"b", None);
        assert_eq!(s.prefix(), b"a/b\0");
        assert_eq!(s.range(&KeyRange::default()).lt, b(b"a/b\x01"));
        // the bump wraps as a Uint8Array element does
        let s = Sub::new(b"x", Some(&[0xff]), SEP);
        assert_eq!(s.range(&KeyRange::default()).lt, b(b"x\x00"));
    }
}
