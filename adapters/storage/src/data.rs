//! The data file: the bytes of every block of every core, appended back to back.
//!
//! The database holds each chunk's index entry (see [`chunk`](crate::chunk)): where its
//! blocks' bytes start in this file, their lengths and checksums. The file only grows at its
//! end; the database records the end as of each commit ([`DATA_END`](crate::meta::DATA_END)), and
//! opening the store cuts off whatever lies past it (bytes written for a commit that never
//! landed). Bytes no chunk refers to any more (after a truncate, a clear or an overwrite) are
//! listed in the database as holes and given back to the file system (a punched hole) once a
//! durable commit no longer refers to them.
//!
//! Why a file of its own: redb copies every value into its B-tree pages and writes each page
//! again on commit, which cost a batch of 4 KiB blocks more than hashing and signing it. A
//! sequential append costs one copy into the page cache.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferrocore::storage::{Record, StorageError};

use crate::disk::FileIo;
use crate::overlay::Generation;

/// An open data file.
#[derive(Debug)]
pub(crate) struct DataFile {
    file: FileIo,
    /// The end as of the last commit: the next commit's bytes go here. (Commits are
    /// serialized by the store; reads never look at it.)
    end: AtomicU64,
    /// Where the last write-back started by [`start_write_back`](Self::start_write_back)
    /// ended.
    kicked: AtomicU64,
    /// The end of the space allocated ahead.
    reserved: AtomicU64,
    /// The store's generation counter (see [`crate::overlay`]), kept here because every
    /// commit and the log reach it through this file.
    generation: Arc<Generation>,
}

/// Bytes the data file is allocated ahead of its end, at a time.
const RESERVE_BYTES: u64 = 64 << 20;

/// Unsynced bytes past which a commit starts their write-back.
const WRITE_BACK_BYTES: u64 = 4 << 20;

fn io(e: &std::io::Error) -> StorageError {
    StorageError::io(Record::Database, format!("data file: {e}"))
}

impl DataFile {
    /// Takes the data file `file` of a database whose last commit ends its data at `end`:
    /// longer files are cut back to `end`; a shorter one is damage. `generation` is the
    /// store's generation counter.
    pub(crate) fn new(
        file: FileIo,
        end: u64,
        generation: Arc<Generation>,
    ) -> Result<Self, StorageError> {
        let len = file.len().map_err(|e| io(&e))?;
        if len < end {
            return Err(StorageError::corrupt(
                Record::Database,
                format!("data file holds {len} bytes but the database refers to {end}"),
            ));
        }
        // Also gives back space allocated ahead past the end by an earlier run.
        file.set_len(end).map_err(|e| io(&e))?;
        Ok(Self {
            file,
            end: AtomicU64::new(end),
            kicked: AtomicU64::new(end),
            reserved: AtomicU64::new(end),
            generation,
        })
    }

    /// The store's generation counter.
    pub(crate) fn generation(&self) -> &Arc<Generation> {
        &self.generation
    }

    /// Where the next appended byte goes.
    pub(crate) fn end(&self) -> u64 {
        self.end.load(Ordering::Acquire)
    }

    /// Writes `parts` back to back from [`end`](Self::end) on, without moving the end (a
    /// commit that fails after this leaves bytes the next one overwrites); returns the end
    /// after them for [`set_end`](Self::set_end).
    pub(crate) fn write(&self, parts: &[&[u8]]) -> Result<u64, StorageError> {
        let total: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let end = self.end();
        if total == 0 {
            return Ok(end);
        }
        self.reserve(end + total);
        self.file.write_parts_at(parts, end).map_err(|e| io(&e))?;
        Ok(end + total)
    }

    /// Allocates file space ahead of the end, in large steps, so appends find their
    /// blocks allocated (the file keeps its length). Only a hint.
    fn reserve(&self, upto: u64) {
        let have = self.reserved.load(Ordering::Acquire);
        if upto > have {
            let to = upto.div_ceil(RESERVE_BYTES) * RESERVE_BYTES + RESERVE_BYTES;
            self.file.allocate(have, to - have);
            self.reserved.store(to, Ordering::Release);
        }
    }

    /// Records that a commit holding the bytes up to `end` landed.
    pub(crate) fn set_end(&self, end: u64) {
        self.end.store(end, Ordering::Release);
    }

    /// Gives back the space allocated ahead past the end (at close).
    pub(crate) fn trim(&self) {
        let _ = self.file.set_len(self.end());
    }

    /// Makes the written bytes durable, those of a commit not landed yet up to `through`
    /// included (its end, which [`set_end`](Self::set_end) records only once it lands).
    ///
    /// Everything up to `through` is then clean in the page cache, so no later
    /// [`start_write_back`](Self::start_write_back) covers it: its `POSIX_FADV_DONTNEED`
    /// would drop those pages, and a peer serving them would read them back from disk.
    pub(crate) fn sync(&self, through: u64) -> Result<(), StorageError> {
        self.file.sync_data().map_err(|e| io(&e))?;
        self.kicked.fetch_max(through, Ordering::AcqRel);
        Ok(())
    }

    /// Asks the kernel to start writing the committed bytes not yet on their way to disk,
    /// once there are [`WRITE_BACK_BYTES`] of them, without waiting: the next
    /// [`sync`](Self::sync) then waits for less, and the writing happens on another core
    /// while the caller goes on. Only a hint; it never fails. Returns the range it kicked.
    pub(crate) fn start_write_back(&self) -> Option<core::ops::Range<u64>> {
        let (from, to) = (self.kicked.load(Ordering::Acquire), self.end());
        if to.saturating_sub(from) >= WRITE_BACK_BYTES {
            self.file.start_write_back(from, to - from);
            self.kicked.store(to, Ordering::Release);
            return Some(from..to);
        }
        None
    }

    /// Reads `len` bytes at `offset` (block `record`'s bytes; a short file is damage).
    pub(crate) fn read(
        &self,
        offset: u64,
        len: usize,
        record: Record,
    ) -> Result<Vec<u8>, StorageError> {
        self.file.read_vec_at(len, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                StorageError::corrupt(record, "block lies past the end of the data file")
            } else {
                StorageError::io(record, format!("data file: {e}"))
            }
        })
    }

    /// Gives the bytes of `hole` back to the file system where it supports that (the file
    /// keeps its length; the range reads as zeros). Best effort: space only.
    pub(crate) fn punch(&self, offset: u64, len: u64) {
        self.file.punch_hole(offset, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Disk, Use};
    use std::path::Path;

    /// The data file at `path` of a database whose data ends at `end`.
    fn open(path: &Path, end: u64) -> Result<DataFile, StorageError> {
        DataFile::new(
            Disk::Os.open(path, Use::Reads).unwrap().0,
            end,
            Arc::default(),
        )
    }

    #[test]
    fn appends_read_back_and_uncommitted_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-data");
        let d = open(&path, 0).unwrap();
        let end = d.write(&[b"hello ", b"", b"world"]).unwrap();
        assert_eq!(end, 11);
        d.set_end(end);
        // Written but never committed: overwritten by the next write.
        assert_eq!(d.write(&[b"junk"]).unwrap(), 15);
        assert_eq!(d.write(&[b"!"]).unwrap(), 12);
        d.set_end(12);
        assert_eq!(d.read(6, 6, Record::Block(1)).unwrap(), b"world!");
        assert!(d.read(10, 10, Record::Block(1)).is_err());
        d.punch(0, 6);
        assert_eq!(d.read(6, 6, Record::Block(1)).unwrap(), b"world!");
        drop(d);
        // Reopened at an earlier commit: cut back; at a later one than the file holds: damage.
        let d = open(&path, 11).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 11);
        assert_eq!(d.end(), 11);
        drop(d);
        assert!(open(&path, 12).is_err());
    }

    /// A durable commit's bytes are synced before the commit lands; the write-back kick
    /// after it must not cover them (its `POSIX_FADV_DONTNEED` drops clean pages, which a
    /// serving peer would then read back from disk). Unsynced bytes past the threshold are
    /// kicked once.
    #[test]
    fn synced_bytes_are_not_kicked_again() {
        let dir = tempfile::tempdir().unwrap();
        let d = open(&dir.path().join("x-data"), 0).unwrap();
        let big = vec![7u8; WRITE_BACK_BYTES as usize];
        let end = d.write(&[&big]).unwrap();
        d.sync(end).unwrap();
        d.set_end(end);
        assert_eq!(d.start_write_back(), None, "synced bytes are not kicked");
        let later = d.write(&[&big]).unwrap();
        d.set_end(later);
        assert_eq!(d.start_write_back(), Some(end..later), "unsynced bytes are");
        assert_eq!(d.start_write_back(), None, "once");
        // A sync that lands behind an earlier kick does not move it back.
        d.sync(end).unwrap();
        assert_eq!(d.kicked.load(Ordering::Acquire), later);
    }
}
