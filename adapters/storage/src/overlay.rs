//! What a read-only open beside a live writer stands on (see [`Store::open_read_only`]):
//! the writer's generation counter, and the in-memory files the reader works on.
//!
//! **The generation** (the database path with `-gen` appended: one u64, little-endian) is
//! odd while the writer does anything that can change bytes a reader's snapshot relies on,
//! and even otherwise: it is made odd before, and even after, a durable redb commit (after
//! which redb may reuse the previous durable commit's pages), the punching of holes that
//! follows it, every cut of the write-ahead log (a checkpoint's truncation, a wiped torn
//! record, a rewritten header), an open (recovery replays and cuts files) and a close.
//! What the writer does between those is append: to the log, to the data file, and to redb
//! through non-durable commits, which redb keeps out of the last durable commit's pages
//! and out of the file's header (it publishes them only in the writer's memory). It is
//! written with `pwrite` and never synced: readers on the same machine see it through the
//! page cache, which is all it is for.
//!
//! **The reader** copies the database file, its page checksums and the write-ahead log into
//! memory, reads the data file in place up to the end the last durable commit recorded, and
//! keeps whatever it writes itself (redb's repair of the copy, the log's replay, the blocks
//! it appends) in memory: an [`OverlayFile`]. It never writes to the store's files.
//!
//! [`Store::open_read_only`]: crate::Store::open_read_only

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use std::sync::Arc;

use ferrocore::storage::{Record, StorageError, StorageErrorKind};

use crate::disk::{beside, try_flock, Disk, FileIo};
#[cfg(doc)]
use crate::Durability;
use crate::{guard, Store, StoreOptions};

/// The writer's generation counter (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Generation {
    /// The counter's file; `None` where no reader can look (a reader's own copy, tests).
    file: Option<FileIo>,
    /// The counter and the invalidating operations under way (operations of the commit
    /// thread and of the writer's own thread may overlap).
    state: Mutex<(u64, u32)>,
}

/// An invalidating operation under way: the generation is odd until the last one ends.
#[must_use]
pub(crate) struct Changing<'a>(&'a Generation);

impl Generation {
    /// The counter in `file` (0 if it holds none).
    pub(crate) fn open(file: FileIo) -> io::Result<Self> {
        let mut value = [0u8; 8];
        let at = if file.len()? >= 8 {
            file.read_exact_at(&mut value, 0)?;
            u64::from_le_bytes(value)
        } else {
            0
        };
        Ok(Self {
            file: Some(file),
            state: Mutex::new((at, 0)),
        })
    }

    fn state(&self) -> MutexGuard<'_, (u64, u32)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, value: u64) {
        if let Some(file) = &self.file {
            if file.write_all_at(&value.to_le_bytes(), 0).is_err() {
                // Readers must not keep seeing the old value: an empty counter reads as
                // "changing" (see `read_generation`) until a later write succeeds. (Only
                // if this fails too could a reader miss the change.)
                let _ = file.set_len(0);
            }
        }
    }

    /// Marks an invalidating operation as started; it ends when the guard drops.
    pub(crate) fn changing(&self) -> Changing<'_> {
        let mut state = self.state();
        if state.1 == 0 {
            // Odd: changes under way.
            // (Odd already: left by a writer that died mid-change; a new odd value still
            // tells readers that copied under it apart.)
            state.0 = state.0.wrapping_add(if state.0 % 2 == 0 { 1 } else { 2 });
            self.publish(state.0);
        }
        state.1 += 1;
        Changing(self)
    }
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.1 = state.1.saturating_sub(1);
        if state.1 == 0 {
            // Even: settled.
            state.0 = state.0.wrapping_add(1);
            self.0.publish(state.0);
        }
    }
}

/// The generation in the counter file at `path`: 0 if there is none (no writer of this
/// version opened the store since it was created); odd if the file is shorter than a
/// counter (a writer created it and has not written it yet, or failed to: never settled).
pub(crate) fn read_generation(path: &std::path::Path) -> io::Result<u64> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut value = [0u8; 8];
    match file.read_exact_at(&mut value, 0) {
        Ok(()) => Ok(u64::from_le_bytes(value)),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(u64::MAX),
        Err(e) => Err(e),
    }
}

/// The files of a store a reader copied (the database, its page checksums and its log; not
/// the data file), by path, each taken once by the open.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot(Arc<Mutex<std::collections::HashMap<PathBuf, Vec<u8>>>>);

impl Snapshot {
    /// Copies the files of the store whose database is at `path` (an absent one as none).
    pub(crate) fn copy(path: &Path) -> io::Result<Self> {
        let mut files = std::collections::HashMap::new();
        for suffix in ["", "-sums", "-wal"] {
            let file = beside(path, suffix);
            match std::fs::read(&file) {
                Ok(bytes) => {
                    files.insert(file, bytes);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self(Arc::new(Mutex::new(files))))
    }

    fn files(&self) -> MutexGuard<'_, std::collections::HashMap<PathBuf, Vec<u8>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The length of the copy of `path`, `None` if it was not there.
    pub(crate) fn len_of(&self, path: &Path) -> Option<u64> {
        self.files().get(path).map(|b| b.len() as u64)
    }

    /// Puts `bytes` in the snapshot as the copy of `path` (the fuzz targets' logs).
    #[cfg(feature = "fuzzing")]
    pub(crate) fn put(&self, path: PathBuf, bytes: Vec<u8>) {
        self.files().insert(path, bytes);
    }

    /// The copy of `path` (empty if it was not there), taken out of the snapshot.
    pub(crate) fn take(&self, path: &Path) -> Vec<u8> {
        self.files().remove(path).unwrap_or_default()
    }
}

/// A file a reader works on: the first `base_len` bytes of a real file, read in place and
/// never written, then bytes held in memory. (A file copied whole has no base.)
#[derive(Debug)]
pub(crate) struct OverlayFile {
    base: Option<File>,
    state: Mutex<Overlay>,
}

#[derive(Debug)]
struct Overlay {
    base_len: u64,
    tail: Vec<u8>,
}

fn read_only_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "a read-only store does not write below the end of its snapshot",
    )
}

impl OverlayFile {
    /// A copy of `bytes`, held in memory.
    pub(crate) fn copied(bytes: Vec<u8>) -> Self {
        Self {
            base: None,
            state: Mutex::new(Overlay {
                base_len: 0,
                tail: bytes,
            }),
        }
    }

    /// `file` read in place, as long as it is now.
    pub(crate) fn in_place(file: File) -> io::Result<Self> {
        let base_len = file.metadata()?.len();
        Ok(Self {
            base: Some(file),
            state: Mutex::new(Overlay {
                base_len,
                tail: Vec::new(),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, Overlay> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn len(&self) -> u64 {
        let s = self.state();
        s.base_len + s.tail.len() as u64
    }

    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let s = self.state();
        let end = offset
            .checked_add(buf.len() as u64)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        if end > s.base_len + s.tail.len() as u64 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let in_base = usize::try_from(s.base_len.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if in_base > 0 {
            let base = self.base.as_ref().ok_or(io::ErrorKind::UnexpectedEof)?;
            base.read_exact_at(&mut buf[..in_base], offset)?;
        }
        let rest = &mut buf[in_base..];
        if rest.is_empty() {
            return Ok(());
        }
        // The rest lies wholly in the tail (it starts at or past the base's end).
        let from = usize::try_from((offset + in_base as u64).saturating_sub(s.base_len))
            .map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        rest.copy_from_slice(&s.tail[from..from + rest.len()]);
        Ok(())
    }

    pub(crate) fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut s = self.state();
        let from = offset.checked_sub(s.base_len).ok_or_else(read_only_error)?;
        let from = usize::try_from(from).map_err(|_| read_only_error())?;
        let end = from + buf.len();
        if s.tail.len() < end {
            s.tail.resize(end, 0);
        }
        s.tail[from..end].copy_from_slice(buf);
        Ok(())
    }

    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.state();
        if len < s.base_len {
            // Cut below the snapshot's end: those bytes are not read again.
            s.base_len = len;
            s.tail.clear();
        } else {
            let tail = usize::try_from(len - s.base_len).map_err(|_| read_only_error())?;
            s.tail.resize(tail, 0);
        }
        Ok(())
    }
}

impl redb::StorageBackend for OverlayFile {
    fn len(&self) -> io::Result<u64> {
        Ok(OverlayFile::len(self))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.read_exact_at(out, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        OverlayFile::set_len(self, len)
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_all_at(data, offset)
    }
}

/// Attempts a read-only open makes before it gives up on a writer that keeps changing the
/// store (each waits a little longer, up to 20 ms).
const ATTEMPTS: u32 = 300;

impl Store {
    /// Opens the store at `path` read-only, beside a writer that may hold it (another
    /// process, or this one), or with none: a snapshot of the store as of the open, holding
    /// every write batch the writer had acknowledged before the open began (under
    /// [`Durability::Immediate`] and [`Durability::Logged`]; under
    /// [`Durability::Eventual`], as of its last durable group commit or flush). The store's
    /// files are never written: the database file, its page checksums and its write-ahead
    /// log are copied into memory (memory about the size of the database file, which holds
    /// the records but not the blocks' bytes), the log's records replayed there, and blocks
    /// are read from the data file in place. Writes to it fail.
    ///
    /// The copy is consistent: the writer makes its generation counter (a small file beside
    /// the store) odd while it does anything that could change what a snapshot relies on
    /// (a durable commit, which lets redb reuse the previous one's pages; cutting its log;
    /// punching holes; opening and closing) and even after; the open copies only under an
    /// even value that is the same before and after the copy (plain reads of the files),
    /// and tries again otherwise. With no writer (the counter's lock is free) it copies
    /// holding that lock shared, so no writer starts meanwhile (a writer's open waits up to
    /// two seconds for it). The open then runs on the copy, the lock released.
    ///
    /// A block the writer deleted after the open (a truncate or clear, then the durable
    /// commit that gives its bytes back) may read as zeros from the data file: that read is
    /// an `Io` error saying the store changed, never data, and a new read-only open sees the
    /// deletion.
    ///
    /// # Errors
    /// [`StorageError`] about [`Record::Database`]: `Io` if the files cannot be read or the
    /// writer kept changing the store through every attempt; `Corrupt` for damage that
    /// every attempt found.
    pub fn open_read_only(
        path: impl AsRef<std::path::Path>,
        options: StoreOptions,
    ) -> Result<Self, StorageError> {
        let path = path.as_ref();
        let gen_path = beside(path, "-gen");
        let io =
            |what: &str, e: io::Error| StorageError::io(Record::Database, format!("{what}: {e}"));
        if !path.exists() {
            return Err(io("open the database", io::ErrorKind::NotFound.into()));
        }
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(u64::from(attempt.min(20))));
            }
            // No writer holds the counter's lock: hold it shared while copying.
            let lock = match File::open(&gen_path) {
                Ok(f) => try_flock(&f, true)
                    .map_err(|e| io("lock the generation counter", e))?
                    .then_some(f),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io("open the generation counter", e)),
            };
            let before = read_generation(&gen_path).map_err(|e| io("read the generation", e))?;
            let alone = lock.is_some();
            if !alone && before % 2 == 1 {
                continue;
            }
            let snapshot = Snapshot::copy(path).map_err(|e| io("copy the store", e))?;
            let after = read_generation(&gen_path).map_err(|e| io("read the generation", e))?;
            // The copy is made: a writer may start (its open cuts files, which the
            // generation then tells).
            drop(lock);
            if !alone && after != before {
                continue;
            }
            let opened = guard(Record::Database, || {
                Self::open_on(&Disk::ReadOnly(snapshot), path, options)
            });
            match opened {
                Ok(mut store) => {
                    let inner = Arc::get_mut(&mut store.inner).expect("a new store has one handle");
                    inner.read_only = Some((gen_path, before));
                    return Ok(store);
                }
                // With no writer the files held still: the error is the store's.
                Err(e) if alone => return Err(e),
                // A copy can catch the log in the middle of an append (a torn last record,
                // which the generation does not cover): another attempt reads it whole.
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            StorageError::io(
                Record::Database,
                "the writer kept changing the store through every read-only attempt",
            )
        }))
    }

    /// `e`, or, for a store opened read-only whose writer has changed the store since (so a
    /// block's bytes may have been given back), an `Io` error saying so.
    pub(crate) fn stale_or(&self, e: StorageError) -> StorageError {
        let Some((gen_path, at)) = &self.inner.read_only else {
            return e;
        };
        if e.kind == StorageErrorKind::Corrupt
            && read_generation(gen_path).map_or(true, |now| now != *at)
        {
            return StorageError::io(
                e.record,
                "the store changed since it was opened read-only (its writer may have deleted \
                 this block); open it again",
            );
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_reads_its_base_in_place_and_keeps_writes_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let o = OverlayFile::in_place(File::open(&path).unwrap()).unwrap();
        o.set_len(6).unwrap();
        o.write_all_at(b"abc", 7).unwrap();
        assert_eq!(o.len(), 10);
        let mut buf = [0u8; 10];
        o.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"012345\0abc");
        let mut inside = [0u8; 3];
        o.read_exact_at(&mut inside, 1).unwrap();
        assert_eq!(&inside, b"123", "wholly in the base");
        assert!(o.write_all_at(b"x", 2).is_err(), "never below the base");
        assert!(o.read_exact_at(&mut buf, 1).is_err(), "past the end");
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
        let c = OverlayFile::copied(b"xyz".to_vec());
        c.write_all_at(b"Q", 1).unwrap();
        let mut buf = [0u8; 3];
        c.read_exact_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"xQz");
    }

    #[test]
    fn the_generation_is_odd_while_changes_overlap_and_even_after() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, [2, 0, 0]).unwrap();
        assert_eq!(read_generation(&short).unwrap() % 2, 1, "never settled");
        assert_eq!(read_generation(&dir.path().join("none")).unwrap(), 0);
        let path = dir.path().join("g");
        let file = crate::disk::Disk::Os
            .open(&path, crate::disk::Use::Plain)
            .unwrap()
            .0;
        let g = Generation::open(file).unwrap();
        assert_eq!(
            read_generation(&path).unwrap() % 2,
            1,
            "created, not written yet"
        );
        let a = g.changing();
        assert_eq!(read_generation(&path).unwrap(), 1);
        let b = g.changing();
        drop(a);
        assert_eq!(read_generation(&path).unwrap(), 1, "one still under way");
        drop(b);
        assert_eq!(read_generation(&path).unwrap(), 2);
        drop(g.changing());
        assert_eq!(read_generation(&path).unwrap(), 4);
    }
}
