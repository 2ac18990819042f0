//! [`Mirror`]: makes a target side hold what a source side holds, with JS `mirror-drive`'s
//! rules (mirror-drive 1.14.2, `index.js`; line numbers below are that file's).
//!
//! * **Order** (`_mirror`, 206-355): first, with `prune`, every target entry under the
//!   prefixes that the source lacks is removed (254-266); then every source entry under the
//!   prefixes that passes `filter` is compared with the target's and, unless equal,
//!   written (268-345).
//! * **Listing** (`_list`, 357-398): for each prefix, the side's `list(prefix, {ignore})`,
//!   then the entry at the prefix itself when the prefix is not `/` (a file mirrored by
//!   its own path). `filter` applies to the source listing only, never to pruning (255).
//! * **Comparison** (`same`, 408-424): no target entry differs; if either is a symlink,
//!   equal iff the link targets are; else a blob on one side only, or blobs of other
//!   lengths, differ; else the contents decide, and when they are equal but `executable`
//!   or `metadata` differ (metadata only when both sides support it, 438-452) it is a
//!   metadata-only change, which a target with `putEntry` stores without copying (285,
//!   337-343).
//! * **Counting** (270-305, `blobLength` 401-406): `count.files` counts every source entry
//!   compared; `add` adds the source's byte length to `bytesAdded`; `change` adds the
//!   target's to `bytesRemoved` and the source's to `bytesAdded` (0 and 0 for a
//!   metadata-only change on a `putEntry` target); `remove` adds the target's to
//!   `bytesRemoved`. Symlinks have no blob and count 0 bytes.
//! * **`dryRun`** reports the same diffs and counts and writes nothing (264, 307).
//!
//! The mirror is an [`Iterator`] of [`Diff`]s: each is applied (unless `dry_run`) before it
//! is yielded (JS yields first and applies when the next one is asked for), so a consumer
//! that stops early leaves the target consistent with what it saw.

use std::collections::VecDeque;
use std::io::{self, Read};

use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::path;
use ferrocore_wire::json::Value;

use crate::compare::{self, ReadFailure, Verdict};
use crate::side::{EntryIter, Ignore, MirrorEntry, MirrorSource, MirrorTarget};

mod report;
pub use report::{Count, Diff, MirrorError, Op, Summary};

/// A path predicate (mirror-drive's `filter`).
pub type Filter<'a> = Box<dyn Fn(&str) -> bool + 'a>;
/// A metadata comparison (mirror-drive's `metadataEquals`).
pub type MetadataEquals<'a> = Box<dyn Fn(&Value, &Value) -> bool + 'a>;

/// Where the iteration is.
enum Phase<'a> {
    /// Nothing done yet.
    Start,
    /// Pruning below prefix `.0`: the removals still to make (key, byte length).
    Prune(usize, VecDeque<(String, u64)>),
    /// Copying: the prefix being listed and its listing (`None` once exhausted).
    Copy(usize, Option<EntryIter<'a>>),
    /// Finished, or failed.
    Done,
}

/// A mirror from `src` into `dst` (JS `new MirrorDrive(src, dst, opts)`); configure it
/// with the builder methods, then iterate it or call [`Mirror::run`].
pub struct Mirror<'a, S: MirrorSource + ?Sized, T: MirrorTarget + ?Sized> {
    src: &'a S,
    dst: &'a mut T,
    prefixes: Vec<String>,
    prune: bool,
    dry_run: bool,
    include_equals: bool,
    filter: Option<Filter<'a>>,
    ignore: Ignore,
    metadata_equals: Option<MetadataEquals<'a>>,
    summary: Summary,
    phase: Phase<'a>,
}

impl<'a, S: MirrorSource + ?Sized, T: MirrorTarget + ?Sized> Mirror<'a, S, T> {
    /// A mirror with JS's defaults: prefix `/`, `prune` on, `dryRun` off, equal entries not
    /// reported, no filter, nothing ignored.
    pub fn new(src: &'a S, dst: &'a mut T) -> Self {
        Mirror {
            src,
            dst,
            prefixes: vec!["/".into()],
            prune: true,
            dry_run: false,
            include_equals: false,
            filter: None,
            ignore: Ignore::none(),
            metadata_equals: None,
            summary: Summary::default(),
            phase: Phase::Start,
        }
    }

    /// Mirrors only below these paths (JS `prefix`, a string or an array), each resolved
    /// from `/`; a file at a prefix's own path is mirrored too.
    #[must_use]
    pub fn prefixes<I: IntoIterator<Item = P>, P: Into<String>>(mut self, prefixes: I) -> Self {
        self.prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether target entries absent from the source are deleted (JS `prune`, default
    /// true).
    #[must_use]
    pub fn prune(mut self, prune: bool) -> Self {
        self.prune = prune;
        self
    }

    /// Reports the diffs and counts without changing the target (JS `dryRun`).
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Also yields [`Op::Equal`] diffs (JS `includeEquals`).
    #[must_use]
    pub fn include_equals(mut self, include: bool) -> Self {
        self.include_equals = include;
        self
    }

    /// Mirrors only the source entries whose path passes (JS `filter`; pruning ignores it,
    /// as in JS).
    #[must_use]
    pub fn filter(mut self, filter: impl Fn(&str) -> bool + 'a) -> Self {
        self.filter = Some(Box::new(filter));
        self
    }

    /// Paths both listings skip, with everything below them (JS `ignore`).
    #[must_use]
    pub fn ignore(mut self, ignore: Ignore) -> Self {
        self.ignore = ignore;
        self
    }

    /// Compares metadata with this instead of JS's default rule (JS `metadataEquals`);
    /// still only when both sides support metadata.
    #[must_use]
    pub fn metadata_equals(mut self, eq: impl Fn(&Value, &Value) -> bool + 'a) -> Self {
        self.metadata_equals = Some(Box::new(eq));
        self
    }

    /// The counts so far (JS `count`, `bytesAdded`, `bytesRemoved`).
    #[must_use]
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Runs the mirror to its end (JS `await mirror.done()`).
    ///
    /// # Errors
    /// The first failure.
    pub fn run(mut self) -> Result<Summary, MirrorError> {
        for diff in &mut self {
            diff?;
        }
        Ok(self.summary)
    }

    /// The normalised prefix `i` (JS resolves it in the sides' `list`).
    fn prefix(&self, i: usize) -> Result<String, MirrorError> {
        let raw = &self.prefixes[i];
        path::resolve("/", raw).map_err(|error| MirrorError::Prefix {
            prefix: raw.clone(),
            error,
        })
    }

    /// The removals `prune` makes below prefix `i`: target entries the source lacks
    /// (`index.js:254-266`, with `_list(dst, src, null)`). Each prefix is listed after the
    /// previous one's removals are made, as JS lists while it deletes, so overlapping
    /// prefixes remove an entry once.
    fn prune_list(&self, i: usize) -> Result<VecDeque<(String, u64)>, MirrorError> {
        let mut out = VecDeque::new();
        let prefix = self.prefix(i)?;
        let list = self
            .dst
            .list(&prefix, &self.ignore)
            .map_err(|e| MirrorError::target(&prefix, e))?;
        for entry in list {
            let entry = entry.map_err(|e| MirrorError::target(&prefix, e))?;
            let src = self
                .src
                .entry(&entry.key)
                .map_err(|e| MirrorError::source(&entry.key, e))?;
            if src.is_none() {
                out.push_back((entry.key, entry.size));
            }
        }
        if prefix != "/" {
            let dst = self
                .dst
                .entry(&prefix)
                .map_err(|e| MirrorError::target(&prefix, e))?;
            let src = self
                .src
                .entry(&prefix)
                .map_err(|e| MirrorError::source(&prefix, e))?;
            if let (Some(dst), None) = (dst, src) {
                out.push_back((prefix, dst.size));
            }
        }
        Ok(out)
    }

    fn passes(&self, key: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f(key))
    }

    /// The next source entry to compare, with the target's, or `None` at the end.
    fn next_pair(&mut self) -> Result<Option<(MirrorEntry, Option<MirrorEntry>)>, MirrorError> {
        loop {
            let Phase::Copy(i, list) = &mut self.phase else {
                return Ok(None);
            };
            let i = *i;
            if let Some(it) = list {
                match it.next() {
                    Some(entry) => {
                        let prefix = &self.prefixes[i];
                        let entry = entry.map_err(|e| MirrorError::source(prefix, e))?;
                        if !self.passes(&entry.key) {
                            continue;
                        }
                        let dst = self
                            .dst
                            .entry(&entry.key)
                            .map_err(|e| MirrorError::target(&entry.key, e))?;
                        return Ok(Some((entry, dst)));
                    }
                    None => {
                        *list = None;
                        // The entry at the prefix's own path (`index.js:389-396`).
                        let prefix = self.prefix(i)?;
                        if prefix != "/" && self.passes(&prefix) {
                            let src = self
                                .src
                                .entry(&prefix)
                                .map_err(|e| MirrorError::source(&prefix, e))?;
                            if let Some(src) = src {
                                let dst = self
                                    .dst
                                    .entry(&prefix)
                                    .map_err(|e| MirrorError::target(&prefix, e))?;
                                return Ok(Some((src, dst)));
                            }
                        }
                    }
                }
            } else {
                if i + 1 >= self.prefixes.len() {
                    self.phase = Phase::Done;
                    return Ok(None);
                }
                self.start_copy(i + 1)?;
            }
        }
    }

    fn start_copy(&mut self, i: usize) -> Result<(), MirrorError> {
        let prefix = self.prefix(i)?;
        let src: &'a S = self.src;
        let list = src
            .list(&prefix, &self.ignore)
            .map_err(|e| MirrorError::source(&prefix, e))?;
        self.phase = Phase::Copy(i, Some(list));
        Ok(())
    }

    /// mirror-drive's `same` (`index.js:408-424`). When `executable` or `metadata` differ
    /// and the target cannot take a metadata-only change, the contents cannot change the
    /// outcome, so they are not read.
    fn same(&self, src: &MirrorEntry, dst: Option<&MirrorEntry>) -> Result<Verdict, MirrorError> {
        let Some(dst) = dst else {
            return Ok(Verdict::Diff);
        };
        if src.is_symlink() || dst.is_symlink() {
            return Ok(if src.value.linkname == dst.value.linkname {
                Verdict::Same
            } else {
                Verdict::Diff
            });
        }
        if !compare::maybe_equals(src, dst) {
            return Ok(Verdict::Diff);
        }
        let supported = self.src.supports_metadata() && self.dst.supports_metadata();
        let meta_same = src.value.executable == dst.value.executable
            && compare::metadata_equals(
                supported,
                self.metadata_equals.as_deref(),
                &src.value.metadata,
                &dst.value.metadata,
            );
        if !meta_same && !self.dst.can_put_entry() {
            return Ok(Verdict::Diff);
        }
        let key = &src.key;
        let mut a = self
            .src
            .read(src)
            .map_err(|e| MirrorError::source(key, e))?;
        let mut b = self
            .dst
            .read(dst)
            .map_err(|e| MirrorError::target(key, e))?;
        let eq = compare::content_equals(&mut a, &mut b).map_err(|f| match f {
            ReadFailure::Source(e) => MirrorError::source(key, e),
            ReadFailure::Target(e) => MirrorError::target(key, e),
        })?;
        Ok(match (eq, meta_same) {
            (true, true) => Verdict::Same,
            (true, false) => Verdict::DiffMeta,
            (false, _) => Verdict::Diff,
        })
    }

    /// Compares one source entry with the target's, counts it, and applies it
    /// (`index.js:268-345`); `None` for an equal entry not reported.
    fn step(
        &mut self,
        src: MirrorEntry,
        dst: Option<MirrorEntry>,
    ) -> Result<Option<Diff>, MirrorError> {
        self.summary.count.files += 1;
        let same = self.same(&src, dst.as_ref())?;
        let key = src.key.clone();
        if same == Verdict::Same {
            return Ok(self.include_equals.then_some(Diff {
                op: Op::Equal,
                key,
                bytes_added: 0,
                bytes_removed: 0,
            }));
        }
        let only_metadata = same == Verdict::DiffMeta && self.dst.can_put_entry();
        let diff = match &dst {
            Some(d) => {
                let (removed, added) = if only_metadata {
                    (0, 0)
                } else {
                    (d.size, src.size)
                };
                self.summary.count.change += 1;
                Diff {
                    op: Op::Change,
                    key,
                    bytes_added: added,
                    bytes_removed: removed,
                }
            }
            None => {
                self.summary.count.add += 1;
                Diff {
                    op: Op::Add,
                    key,
                    bytes_added: src.size,
                    bytes_removed: 0,
                }
            }
        };
        self.summary.bytes_added += diff.bytes_added;
        self.summary.bytes_removed += diff.bytes_removed;
        if !self.dry_run {
            self.apply(&src, dst.as_ref(), only_metadata)?;
        }
        Ok(Some(diff))
    }

    /// Writes one source entry into the target (`index.js:324-344`).
    fn apply(
        &mut self,
        src: &MirrorEntry,
        dst: Option<&MirrorEntry>,
        only_metadata: bool,
    ) -> Result<(), MirrorError> {
        let key = src.key.as_str();
        if let Some(link) = src.value.linkname.as_deref().filter(|l| !l.is_empty()) {
            return self
                .dst
                .symlink(key, link)
                .map_err(|e| MirrorError::target(key, e));
        }
        if only_metadata {
            let entry = Entry {
                executable: src.value.executable,
                linkname: src.value.linkname.clone(),
                blob: dst.and_then(|d| d.value.blob.clone()),
                metadata: src.value.metadata.clone(),
            };
            return self
                .dst
                .put_entry(key, &entry)
                .map_err(|e| MirrorError::target(key, e));
        }
        let reader = self
            .src
            .read(src)
            .map_err(|e| MirrorError::source(key, e))?;
        let mut reader = Tracked {
            inner: reader,
            failed: None,
        };
        let written = self
            .dst
            .put(key, &mut reader, src.value.executable, &src.value.metadata);
        match (written, reader.failed) {
            (_, Some(e)) => Err(MirrorError::source(key, e)),
            (Err(e), None) => Err(MirrorError::target(key, e)),
            (Ok(()), None) => Ok(()),
        }
    }

    fn advance(&mut self) -> Result<Option<Diff>, MirrorError> {
        loop {
            match &mut self.phase {
                Phase::Start => {
                    if self.prefixes.is_empty() {
                        self.phase = Phase::Done;
                    } else if self.prune {
                        self.phase = Phase::Prune(0, self.prune_list(0)?);
                    } else {
                        self.start_copy(0)?;
                    }
                }
                Phase::Prune(i, queue) => {
                    let Some((key, size)) = queue.pop_front() else {
                        let next = *i + 1;
                        if next < self.prefixes.len() {
                            self.phase = Phase::Prune(next, self.prune_list(next)?);
                        } else {
                            self.start_copy(0)?;
                        }
                        continue;
                    };
                    self.summary.count.remove += 1;
                    self.summary.bytes_removed += size;
                    if !self.dry_run {
                        self.dst
                            .del(&key)
                            .map_err(|e| MirrorError::target(&key, e))?;
                    }
                    return Ok(Some(Diff {
                        op: Op::Remove,
                        key,
                        bytes_added: 0,
                        bytes_removed: size,
                    }));
                }
                Phase::Copy(..) => {
                    let Some((src, dst)) = self.next_pair()? else {
                        return Ok(None);
                    };
                    if let Some(diff) = self.step(src, dst)? {
                        return Ok(Some(diff));
                    }
                }
                Phase::Done => return Ok(None),
            }
        }
    }
}

impl<S: MirrorSource + ?Sized, T: MirrorTarget + ?Sized> Iterator for Mirror<'_, S, T> {
    type Item = Result<Diff, MirrorError>;

    /// The next diff, applied; after an error the mirror ends.
    fn next(&mut self) -> Option<Self::Item> {
        match self.advance() {
            Ok(d) => d.map(Ok),
            Err(e) => {
                self.phase = Phase::Done;
                Some(Err(e))
            }
        }
    }
}

/// A source reader that remembers its failure, so that a copy that fails is blamed on
/// the side that failed.
struct Tracked<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The original (with whatever error it carries) is kept for the blame; the
        // target sees a copy.
        self.inner.read(buf).map_err(|e| {
            let copy = io::Error::new(e.kind(), e.to_string());
            self.failed = Some(e);
            copy
        })
    }
}
