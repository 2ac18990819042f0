//! The file operations the store's files need, and where they go.
//!
//! The data file, the write-ahead log, the page checksums and redb's database file reach
//! the disk only through [`Disk`] and [`FileIo`]: positional reads and writes, length
//! changes, syncs, and the hints (space allocated ahead, holes punched, write-back started).
//! In a normal build each is an enum of one variant over [`std::fs::File`], so the calls
//! compile to the system calls they were. With the `fault-injection` feature (enabled by the
//! crate's own tests only) a second variant puts the files on a simulated disk that can lose
//! power (see [`crate::sim`]).

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use redb::BackendError;

use crate::overlay::OverlayFile;

/// Where a store's files live.
#[derive(Debug, Clone)]
pub(crate) enum Disk {
    /// The operating system's files.
    Os,
    /// A simulated disk (tests only).
    #[cfg(feature = "fault-injection")]
    Sim(crate::sim::SimDisk),
    /// A read-only store's view of the operating system's files, never written: the files
    /// copied into this snapshot, the data file read in place, and writes kept in memory
    /// (see [`crate::overlay`]).
    ReadOnly(crate::overlay::Snapshot),
}

/// How a file is used, for the options it is opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Read and written now and then.
    Plain,
    /// Read all the time (block reads): no access-time updates where the platform allows it.
    Reads,
}

/// An open file of a store.
#[derive(Debug)]
pub(crate) enum FileIo {
    /// A file of the operating system.
    Os(File),
    /// A file on a simulated disk (tests only).
    #[cfg(feature = "fault-injection")]
    Sim(crate::sim::SimFile),
    /// A read-only store's file (see [`Disk::ReadOnly`]).
    Overlay(OverlayFile),
}

/// The path of one of a store's files beside its database: the database's path with
/// `suffix` appended (`-data`, `-wal`).
pub(crate) fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

impl Disk {
    /// Opens `path` for reading and writing, creating it if absent and keeping its bytes.
    /// Also says whether it was created (its directory entry is durable only once the
    /// directory is synced: see [`sync_dir`](Self::sync_dir)).
    pub(crate) fn open(&self, path: &Path, usage: Use) -> io::Result<(FileIo, bool)> {
        match self {
            Disk::Os => {
                let created = !path.exists();
                let file = match usage {
                    Use::Plain => rw_options().open(path)?,
                    Use::Reads => open_for_reads(path)?,
                };
                Ok((FileIo::Os(file), created))
            }
            #[cfg(feature = "fault-injection")]
            Disk::Sim(disk) => disk.open(path).map(|(f, c)| (FileIo::Sim(f), c)),
            Disk::ReadOnly(snapshot) => {
                let file = match usage {
                    Use::Reads => OverlayFile::in_place(File::open(path)?)?,
                    Use::Plain => OverlayFile::copied(snapshot.take(path)),
                };
                Ok((FileIo::Overlay(file), false))
            }
        }
    }

    /// The length of the file at `path`, `None` if there is none.
    pub(crate) fn len_of(&self, path: &Path) -> Option<u64> {
        match self {
            Disk::Os => std::fs::metadata(path).ok().map(|m| m.len()),
            Disk::ReadOnly(snapshot) => snapshot.len_of(path),
            #[cfg(feature = "fault-injection")]
            Disk::Sim(disk) => disk.len_of(path),
        }
    }

    /// Makes the entries of the directory holding `path` durable (files created in it).
    pub(crate) fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        match self {
            Disk::Os => File::open(dir)?.sync_all(),
            #[cfg(feature = "fault-injection")]
            Disk::Sim(disk) => disk.sync_dir(dir),
            Disk::ReadOnly(_) => Ok(()),
        }
    }
}

/// redb's storage: with the operating system's files, redb's own file backend (which also
/// locks the file against a second process).
#[derive(Debug)]
pub(crate) enum DbFile {
    /// redb's backend over a file of the operating system.
    Os(redb::backends::FileBackend),
    /// A file on a simulated disk (tests only; no locks).
    #[cfg(feature = "fault-injection")]
    Sim(crate::sim::SimFile),
    /// A read-only store's copy (no locks; never written).
    Overlay(OverlayFile),
}

impl DbFile {
    /// redb's storage over `file`.
    pub(crate) fn new(file: FileIo) -> io::Result<Self> {
        match file {
            FileIo::Os(f) => Ok(DbFile::Os(
                redb::backends::FileBackend::new(f).map_err(io::Error::other)?,
            )),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => Ok(DbFile::Sim(f)),
            FileIo::Overlay(f) => Ok(DbFile::Overlay(f)),
        }
    }

    fn backend(&self) -> &dyn redb::StorageBackend {
        match self {
            DbFile::Os(f) => f,
            #[cfg(feature = "fault-injection")]
            DbFile::Sim(f) => f,
            DbFile::Overlay(f) => f,
        }
    }
}

impl redb::StorageBackend for DbFile {
    fn len(&self) -> io::Result<u64> {
        self.backend().len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        self.backend().read(offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.backend().set_len(len)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.backend().sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.backend().write(offset, data)
    }

    fn close(&self) -> io::Result<()> {
        self.backend().close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.backend().try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.backend().try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.backend().lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.backend().lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.backend().unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.backend().query_lock_range(start, end)
    }
}

/// Read and write, created if absent, bytes kept.
fn rw_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    options
}

/// [`rw_options`] without access-time updates where the platform allows it: every block read
/// would otherwise update the file's atime (the file is modified all the time, so even
/// `relatime` updates it), which was 2% of a serving peer's work. Linux refuses the flag on
/// a file the process does not own; it is then opened without it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_for_reads(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let no_atime = rw_options()
        .custom_flags(rustix::fs::OFlags::NOATIME.bits() as i32)
        .open(path);
    match no_atime {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => rw_options().open(path),
        other => other,
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn open_for_reads(path: &Path) -> io::Result<File> {
    rw_options().open(path)
}

/// How long a writer's open waits for readers copying the store (they hold the generation
/// counter's lock shared for the length of a copy) before it calls the store in use.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl FileIo {
    /// Takes the writer's lock on this file (the generation counter's; see
    /// [`crate::overlay`]) for as long as it stays open: exclusive, waiting up to
    /// [`LOCK_WAIT`] for read-only openers to finish their copy. `WouldBlock` if another
    /// writer holds the store.
    pub(crate) fn lock_writer(&self) -> io::Result<()> {
        match self {
            FileIo::Os(f) => {
                let started = std::time::Instant::now();
                while !try_flock(f, false)? {
                    if started.elapsed() >= LOCK_WAIT {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "the store is in use by another process",
                        ));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                Ok(())
            }
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(_) => Ok(()),
            FileIo::Overlay(_) => Ok(()),
        }
    }

    /// The file's length.
    pub(crate) fn len(&self) -> io::Result<u64> {
        match self {
            FileIo::Os(f) => Ok(f.metadata()?.len()),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.len(),
            FileIo::Overlay(f) => Ok(f.len()),
        }
    }

    /// Fills `buf` from `offset` (`UnexpectedEof` past the end).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            FileIo::Os(f) => f.read_exact_at(buf, offset),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.read_exact_at(buf, offset),
            FileIo::Overlay(f) => f.read_exact_at(buf, offset),
        }
    }

    /// Reads `len` bytes at `offset` into a new buffer (`UnexpectedEof` past the end).
    pub(crate) fn read_vec_at(&self, len: usize, offset: u64) -> io::Result<Vec<u8>> {
        match self {
            FileIo::Os(f) => read_vec_at(f, len, offset),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => {
                let mut buf = vec![0; len];
                f.read_exact_at(&mut buf, offset)?;
                Ok(buf)
            }
            FileIo::Overlay(f) => {
                let mut buf = vec![0; len];
                f.read_exact_at(&mut buf, offset)?;
                Ok(buf)
            }
        }
    }

    /// Writes all of `buf` at `offset`.
    pub(crate) fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        match self {
            FileIo::Os(f) => f.write_all_at(buf, offset),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.write_at(buf, offset),
            FileIo::Overlay(f) => f.write_all_at(buf, offset),
        }
    }

    /// Writes `parts` back to back from `offset` on. Only one thread at a time may call
    /// this on a file (it moves the file position).
    pub(crate) fn write_parts_at(&self, parts: &[&[u8]], offset: u64) -> io::Result<()> {
        match self {
            FileIo::Os(f) => write_parts_at(f, parts, offset),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.write_at(&parts.concat(), offset),
            FileIo::Overlay(f) => f.write_all_at(&parts.concat(), offset),
        }
    }

    /// Cuts or extends (with zeros) the file to `len` bytes.
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        match self {
            FileIo::Os(f) => f.set_len(len),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.set_len(len),
            FileIo::Overlay(f) => f.set_len(len),
        }
    }

    /// `fdatasync`: the file's bytes (and its length) are durable when this returns.
    pub(crate) fn sync_data(&self) -> io::Result<()> {
        match self {
            FileIo::Os(f) => f.sync_data(),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.sync(),
            FileIo::Overlay(_) => Ok(()),
        }
    }

    /// `fsync`: [`sync_data`](Self::sync_data) and the rest of the file's metadata.
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        match self {
            FileIo::Os(f) => f.sync_all(),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.sync(),
            FileIo::Overlay(_) => Ok(()),
        }
    }

    /// Allocates `len` bytes of space at `offset` without changing the length (a hint).
    pub(crate) fn allocate(&self, offset: u64, len: u64) {
        match self {
            FileIo::Os(f) => allocate(f, offset, len),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(_) => {}
            FileIo::Overlay(_) => {}
        }
    }

    /// Gives `offset .. offset + len` back to the file system where it supports that: the
    /// range reads as zeros, the length stays (best effort).
    pub(crate) fn punch_hole(&self, offset: u64, len: u64) {
        match self {
            FileIo::Os(f) => punch_hole(f, offset, len),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(f) => f.punch_hole(offset, len),
            // Bytes below the snapshot's end are never written; holes are only hints.
            FileIo::Overlay(_) => {}
        }
    }

    /// Starts writing `offset .. offset + len` back to disk without waiting (a hint).
    pub(crate) fn start_write_back(&self, offset: u64, len: u64) {
        match self {
            FileIo::Os(f) => start_write_back(f, offset, len),
            #[cfg(feature = "fault-injection")]
            FileIo::Sim(_) => {}
            FileIo::Overlay(_) => {}
        }
    }
}

/// Takes a `flock` on `file` (shared or exclusive) without waiting: false if another open
/// file holds a conflicting one. Released when the file is closed.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn try_flock(file: &File, shared: bool) -> io::Result<bool> {
    use rustix::fs::FlockOperation;
    let op = if shared {
        FlockOperation::NonBlockingLockShared
    } else {
        FlockOperation::NonBlockingLockExclusive
    };
    match rustix::fs::flock(file, op) {
        Ok(()) => Ok(true),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Elsewhere no lock is taken: readers then always take the writer for live (see
/// [`crate::overlay`]).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn try_flock(_file: &File, shared: bool) -> io::Result<bool> {
    Ok(!shared)
}

/// Reads `len` bytes at `offset` into a new buffer (not zeroed first: the read fills it).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_vec_at(file: &File, len: usize, offset: u64) -> io::Result<Vec<u8>> {
    use rustix::buffer::spare_capacity;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = offset + buf.len() as u64;
        match rustix::io::pread(file, spare_capacity(&mut buf), at) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The spare capacity may exceed `len`; what was read past it is not wanted.
    buf.truncate(len);
    Ok(buf)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn read_vec_at(file: &File, len: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Vectored writes of up to 1024 slices at a time (the usual `IOV_MAX`) from `offset` on.
fn write_parts_at(file: &File, parts: &[&[u8]], offset: u64) -> io::Result<()> {
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    for group in parts.chunks(1024) {
        let mut slices: Vec<IoSlice<'_>> = group.iter().map(|p| IoSlice::new(p)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            let n = match f.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            IoSlice::advance_slices(&mut rest, n);
        }
    }
    Ok(())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn punch_hole(file: &File, offset: u64, len: u64) {
    use rustix::fs::{fallocate, FallocateFlags};
    if len > 0 {
        let _ = fallocate(
            file,
            FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
            offset,
            len,
        );
    }
}

/// `POSIX_FADV_DONTNEED` on a range of dirty pages starts their write-back on Linux
/// (`WB_SYNC_NONE`: no waiting) and drops none of them, as they are not clean yet.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn start_write_back(file: &File, offset: u64, len: u64) {
    use rustix::fs::{fadvise, Advice};
    let _ = fadvise(
        file,
        offset,
        std::num::NonZeroU64::new(len),
        Advice::DontNeed,
    );
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn allocate(file: &File, offset: u64, len: u64) {
    use rustix::fs::{fallocate, FallocateFlags};
    let _ = fallocate(file, FallocateFlags::KEEP_SIZE, offset, len);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn allocate(_file: &File, _offset: u64, _len: u64) {}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn start_write_back(_file: &File, _offset: u64, _len: u64) {}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn punch_hole(_file: &File, _offset: u64, _len: u64) {}
