//! Checksums of the database file's pages, kept by the store, so that damage at rest is an
//! error without reading the whole file at every open.
//!
//! redb checksums its B-tree pages, but checks them only when it verifies the whole file
//! (after an unclean shutdown, or on request): a normal read trusts the page. A page damaged
//! at rest can then read as a missing record, or make redb panic, even while unwinding,
//! which aborts the process. Verifying the whole file at every open (what
//! [`StoreOptions::verify_on_open`](crate::StoreOptions::verify_on_open) used to cost) reads
//! all of it: about 0.3 s for a log of a million blocks.
//!
//! Instead, every byte of the database file goes through [`CheckedDb`], which keeps a
//! CRC-32C of every 4 KiB block of the file as redb writes it, and checks a block against
//! it whenever redb reads it, before redb sees a byte: damage is a
//! [`PageDamage`] error (which the store reports as `Corrupt`), never a page redb parses.
//! When the store closes cleanly, the database synced and closed, the checksums are written
//! to the `-sums` file beside it (with the file's length and their own checksum) while the
//! database's lock is still held. The next open loads them (a read of 1/1024 of the
//! database's size), checks them against the database's first block and length, and empties
//! the `-sums` file (synced) before redb writes anything, so that a crash later can never
//! leave checksums describing a file that changed. Without valid checksums (the first
//! open, after a crash, after a session with `verify_on_open` off) the open verifies the
//! whole file as before (redb's own check, or its repair after an unclean shutdown, which
//! reads every page) and then computes them with one sequential read.

use std::io;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use redb::{BackendError, StorageBackend};

use crate::disk::{DbFile, FileIo};
use crate::record::{u32_at, u64_at};

/// Bytes one checksum covers.
pub(crate) const BLOCK: u64 = 4096;

/// The `-sums` file's magic, version 1.
const MAGIC: [u8; 8] = *b"fcsums\0\x01";

/// Bytes of the `-sums` file before the checksums: magic, block size u32, database length
/// u64, block count u64.
const HEAD: usize = 28;

/// A block of the database file failed its checksum.
#[derive(Debug)]
pub(crate) struct PageDamage {
    /// Where the block starts in the file.
    pub(crate) offset: u64,
}

impl std::fmt::Display for PageDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "database page at byte {} fails its checksum (damaged at rest)",
            self.offset
        )
    }
}

impl std::error::Error for PageDamage {}

/// True if `e` reports [`PageDamage`].
pub(crate) fn is_damage(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<PageDamage>())
}

/// The checksum of a block of zeros (a file grown by `set_len`, or read past its end).
fn zero_block_sum() -> u32 {
    crc32c::crc32c(&[0u8; BLOCK as usize])
}

/// The checksum of a block whose bytes are `bytes` (fewer than [`BLOCK`] at the end of the
/// file: the rest counts as zeros).
fn block_sum(bytes: &[u8]) -> u32 {
    let sum = crc32c::crc32c(bytes);
    let rest = BLOCK as usize - bytes.len();
    if rest == 0 {
        return sum;
    }
    crc32c::crc32c_append(sum, &vec![0u8; rest])
}

/// The blocks a file of `len` bytes spans.
fn blocks(len: u64) -> usize {
    usize::try_from(len.div_ceil(BLOCK)).unwrap_or(usize::MAX)
}

/// The checksums, shared by the store and the [`CheckedDb`] redb owns.
#[derive(Debug)]
pub(crate) struct PageSums {
    /// One per block of the database file, `None` until known (then nothing is checked).
    table: Mutex<Option<Vec<u32>>>,
    /// The `-sums` file.
    file: FileIo,
    /// A block failed its checksum.
    damaged: AtomicBool,
    /// An operation on the database file failed: the checksums may not match it any more.
    failed: AtomicBool,
    /// The store is closing cleanly: write the checksums when redb closes the file.
    save: AtomicBool,
    /// The checksums came from the `-sums` file (the open verified nothing more).
    #[cfg(any(test, feature = "fault-injection"))]
    loaded: bool,
}

impl PageSums {
    /// The checksums kept in `file` if they are valid and belong to `db` as it is now, or
    /// `None`. Either way, empties `file` (synced) if it held anything: from here on the
    /// database changes, and only a clean close writes checksums again.
    pub(crate) fn load(file: FileIo, db: &DbFile, trust: bool) -> io::Result<Self> {
        let table = if trust { read_valid(&file, db)? } else { None };
        if file.len()? > 0 {
            file.set_len(0)?;
            file.sync_data()?;
        }
        Ok(Self {
            #[cfg(any(test, feature = "fault-injection"))]
            loaded: table.is_some(),
            table: Mutex::new(table),
            file,
            damaged: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            save: AtomicBool::new(false),
        })
    }

    /// True if the checksums were loaded (or computed): every read is checked.
    pub(crate) fn known(&self) -> bool {
        self.table().is_some()
    }

    /// True if the checksums came from the `-sums` file a clean close wrote.
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn loaded(&self) -> bool {
        self.loaded
    }

    /// Computes the checksums of `db` as it is now (one sequential read) and checks every
    /// read from here on. The database must be idle.
    pub(crate) fn compute(&self, db: &DbFile) -> io::Result<()> {
        let len = db.len()?;
        let mut table = Vec::with_capacity(blocks(len));
        let mut buf = vec![0u8; 256 * BLOCK as usize];
        let mut at = 0;
        while at < len {
            let n = usize::try_from((len - at).min(buf.len() as u64)).unwrap_or(buf.len());
            db.read(at, &mut buf[..n])?;
            table.extend(buf[..n].chunks(BLOCK as usize).map(block_sum));
            at += n as u64;
        }
        *self.table() = Some(table);
        Ok(())
    }

    /// Asks for the checksums to be written when redb closes the file (a clean close).
    pub(crate) fn save_on_close(&self) {
        self.save.store(true, Ordering::Release);
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Option<Vec<u32>>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the checksums of `db` (synced first) to the `-sums` file, if they are sure to
    /// describe it.
    fn write(&self, db: &DbFile) -> io::Result<()> {
        if !self.save.load(Ordering::Acquire)
            || self.damaged.load(Ordering::Acquire)
            || self.failed.load(Ordering::Acquire)
        {
            return Ok(());
        }
        let table = self.table();
        let Some(table) = table.as_ref() else {
            return Ok(());
        };
        db.sync_data()?;
        let len = db.len()?;
        if blocks(len) != table.len() {
            return Ok(());
        }
        let mut out = Vec::with_capacity(HEAD + 4 * table.len() + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(BLOCK as u32).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(table.len() as u64).to_le_bytes());
        for sum in table {
            out.extend_from_slice(&sum.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        self.file.write_all_at(&out, 0)?;
        self.file.set_len(out.len() as u64)?;
        self.file.sync_data()
    }
}

/// The checksums in `file`, if it holds valid ones for `db` as it is now: the right length,
/// and its first block (redb's header, rewritten by every commit) matching.
fn read_valid(file: &FileIo, db: &DbFile) -> io::Result<Option<Vec<u32>>> {
    let size = file.len()?;
    let db_len = db.len()?;
    // The checksums of a file of `db_len` bytes take exactly this much: nothing bigger is
    // read (or allocated).
    let want = HEAD as u64 + 4 * db_len.div_ceil(BLOCK) + 4;
    if size != want || db_len == 0 {
        return Ok(None);
    }
    let bytes = file.read_vec_at(usize::try_from(size).unwrap_or(usize::MAX), 0)?;
    let body = bytes.len() - 4;
    if bytes[..8] != MAGIC
        || u32_at(&bytes, 8) != BLOCK as u32
        || u64_at(&bytes, 12) != db_len
        || u64_at(&bytes, 20) != db_len.div_ceil(BLOCK)
        || u32_at(&bytes, body) != crc32c::crc32c(&bytes[..body])
    {
        return Ok(None);
    }
    let table: Vec<u32> = bytes[HEAD..body]
        .chunks_exact(4)
        .map(|c| u32_at(c, 0))
        .collect();
    let mut first = vec![0u8; usize::try_from(db_len.min(BLOCK)).unwrap_or(0)];
    db.read(0, &mut first)?;
    Ok((block_sum(&first) == table[0]).then_some(table))
}

/// redb's storage, checked against the [`PageSums`] (see the module docs).
#[derive(Debug)]
pub(crate) struct CheckedDb {
    inner: Arc<DbFile>,
    sums: Arc<PageSums>,
}

impl CheckedDb {
    pub(crate) fn new(inner: Arc<DbFile>, sums: Arc<PageSums>) -> Self {
        Self { inner, sums }
    }

    /// Notes a failed operation on the file.
    fn note<T>(&self, result: io::Result<T>) -> io::Result<T> {
        if result.is_err() {
            self.sums.failed.store(true, Ordering::Release);
        }
        result
    }

    fn damage(&self, block: usize) -> io::Error {
        self.sums.damaged.store(true, Ordering::Release);
        io::Error::new(
            io::ErrorKind::InvalidData,
            PageDamage {
                offset: block as u64 * BLOCK,
            },
        )
    }

    /// Block `b`'s bytes as the file holds them (zeros past its end), checked against its
    /// checksum if `check`.
    fn read_block(&self, b: usize, len: u64, check: Option<&[u32]>) -> io::Result<Vec<u8>> {
        let start = b as u64 * BLOCK;
        let mut block = vec![0u8; BLOCK as usize];
        let n = usize::try_from(len.saturating_sub(start).min(BLOCK)).unwrap_or(0);
        self.inner.read(start, &mut block[..n])?;
        if let Some(table) = check {
            if table.get(b) != Some(&block_sum(&block[..n])) {
                return Err(self.damage(b));
            }
        }
        Ok(block)
    }
}

impl StorageBackend for CheckedDb {
    fn len(&self) -> io::Result<u64> {
        self.note(self.inner.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        if !self.sums.known() {
            return self.note(self.inner.read(offset, out));
        }
        let end = offset + out.len() as u64;
        if offset % BLOCK == 0 && (end % BLOCK == 0 || end == self.note(self.inner.len())?) {
            // Whole blocks (the usual case: redb reads whole pages), read before taking the
            // lock (redb never reads a page while it writes it).
            self.note(self.inner.read(offset, out))?;
            let table = self.sums.table();
            let table = table.as_deref().unwrap_or_default();
            let first = (offset / BLOCK) as usize;
            for (i, chunk) in out.chunks(BLOCK as usize).enumerate() {
                if table.get(first + i) != Some(&block_sum(chunk)) {
                    return Err(self.damage(first + i));
                }
            }
            return Ok(());
        }
        // Part of a block (redb's header): the blocks around it, checked.
        let table = self.sums.table();
        let table = table.as_deref().unwrap_or_default();
        let len = self.note(self.inner.len())?;
        let mut at = offset;
        let mut filled = 0;
        while filled < out.len() {
            let b = (at / BLOCK) as usize;
            let block = self.note(self.read_block(b, len, Some(table)))?;
            let from = (at % BLOCK) as usize;
            let n = (BLOCK as usize - from).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&block[from..from + n]);
            filled += n;
            at += n as u64;
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut table = self.sums.table();
        self.note(self.inner.set_len(len))?;
        if let Some(table) = table.as_mut() {
            let kept = blocks(len);
            table.resize(kept, zero_block_sum());
            if len % BLOCK != 0 {
                // The last block lost its tail: it reads as zeros now.
                let block = self.note(self.read_block(kept - 1, len, None))?;
                table[kept - 1] = block_sum(&block);
            }
        }
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        self.note(self.inner.sync_data())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut table = self.sums.table();
        let Some(table) = table.as_mut() else {
            drop(table);
            return self.note(self.inner.write(offset, data));
        };
        let end = offset + data.len() as u64;
        // The file's length matters only to a write that covers part of a block.
        let len = if offset % BLOCK == 0 && end % BLOCK == 0 {
            0
        } else {
            self.note(self.inner.len())?
        };
        // The checksums of the blocks the write touches, as they will be: blocks it covers
        // whole from its bytes, the others (redb's header) from the file's, checked first,
        // with the write's bytes over them.
        let first = (offset / BLOCK) as usize;
        let mut sums = Vec::with_capacity(blocks(end) - first);
        for b in first..blocks(end) {
            let start = b as u64 * BLOCK;
            let (from, to) = (start.max(offset), (start + BLOCK).min(end));
            let covered = &data[(from - offset) as usize..(to - offset) as usize];
            if from == start && (to == start + BLOCK || to >= len) {
                sums.push(block_sum(covered));
            } else {
                let known = (b < table.len()).then_some(&table[..]);
                let mut block = self.note(self.read_block(b, len, known))?;
                let at = (from - start) as usize;
                block[at..at + covered.len()].copy_from_slice(covered);
                let kept =
                    usize::try_from(len.max(to).saturating_sub(start).min(BLOCK)).unwrap_or(0);
                sums.push(block_sum(&block[..kept]));
            }
        }
        self.note(self.inner.write(offset, data))?;
        if table.len() < first {
            // Written past the end: the file reads as zeros up to the write.
            table.resize(first, zero_block_sum());
        }
        for (i, sum) in sums.into_iter().enumerate() {
            match table.get_mut(first + i) {
                Some(slot) => *slot = sum,
                None => table.push(sum),
            }
        }
        Ok(())
    }

    fn close(&self) -> io::Result<()> {
        // redb calls this once, after its last write and sync, with the file still locked.
        let saved = self.sums.write(&self.inner);
        let closed = self.inner.close();
        saved.and(closed)
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Disk, Use};

    /// splitmix64.
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 31)
    }

    /// A checked database file at `dir/db` with its checksums (loaded from `dir/db-sums`
    /// if valid, else computed).
    fn open(dir: &std::path::Path) -> (Arc<DbFile>, Arc<PageSums>, CheckedDb) {
        let db =
            Arc::new(DbFile::new(Disk::Os.open(&dir.join("db"), Use::Plain).unwrap().0).unwrap());
        let file = Disk::Os.open(&dir.join("db-sums"), Use::Plain).unwrap().0;
        let sums = Arc::new(PageSums::load(file, &db, true).unwrap());
        if !sums.known() {
            sums.compute(&db).unwrap();
        }
        let checked = CheckedDb::new(Arc::clone(&db), Arc::clone(&sums));
        (db, sums, checked)
    }

    #[test]
    fn checksums_follow_every_write_and_catch_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (db, sums, checked) = open(dir.path());
        let mut mirror: Vec<u8> = Vec::new();
        let mut rng = 7u64;
        for _ in 0..300 {
            let len = mirror.len() as u64;
            match next(&mut rng) % 5 {
                // Writes anywhere, whole blocks or not, past the end too.
                0..=2 => {
                    let at = next(&mut rng) % (len + 3 * BLOCK);
                    let n = (next(&mut rng) % (3 * BLOCK)) as usize;
                    let bytes: Vec<u8> = (0..n).map(|_| next(&mut rng) as u8).collect();
                    checked.write(at, &bytes).unwrap();
                    let at = at as usize;
                    if mirror.len() < at + n {
                        mirror.resize(at + n, 0);
                    }
                    mirror[at..at + n].copy_from_slice(&bytes);
                }
                3 => {
                    let to = next(&mut rng) % (len + 2 * BLOCK + 1);
                    checked.set_len(to).unwrap();
                    mirror.resize(to as usize, 0);
                }
                _ => {
                    let at = next(&mut rng) % (len + 1);
                    let n = next(&mut rng) % (len - at + 1);
                    let mut out = vec![0u8; n as usize];
                    checked.read(at, &mut out).unwrap();
                    assert_eq!(out, mirror[at as usize..(at + n) as usize]);
                }
            }
        }
        // What was kept matches the file read afresh.
        let kept = sums.table().clone().unwrap();
        sums.compute(&db).unwrap();
        assert_eq!(Some(kept), *sums.table());
        // A byte changed behind the checks' back fails the read of its block, and only it.
        let len = mirror.len() as u64;
        assert!(len > 2 * BLOCK, "the file grew");
        let at = len / 2;
        db.write(at, &[mirror[at as usize] ^ 1]).unwrap();
        let start = at / BLOCK * BLOCK;
        let mut page = vec![0u8; BLOCK as usize];
        let e = checked.read(start, &mut page).unwrap_err();
        assert!(is_damage(&e), "{e}");
        let mut other = vec![0u8; BLOCK as usize];
        let elsewhere = if start == 0 { BLOCK } else { 0 };
        checked.read(elsewhere, &mut other).unwrap();
        assert!(sums.damaged.load(Ordering::Acquire));
    }

    #[test]
    fn a_clean_close_keeps_the_checksums_for_the_next_open_only() {
        let dir = tempfile::tempdir().unwrap();
        let (_, sums, checked) = open(dir.path());
        checked.write(0, &[5u8; 3 * BLOCK as usize]).unwrap();
        checked.write(10, b"header").unwrap();
        sums.save_on_close();
        checked.close().unwrap();
        drop((checked, sums));
        let (db, sums, checked) = open(dir.path());
        assert!(sums.loaded(), "written at the close");
        assert_eq!(
            std::fs::metadata(dir.path().join("db-sums")).unwrap().len(),
            0,
            "emptied at open"
        );
        let mut out = [0u8; 6];
        checked.read(10, &mut out).unwrap();
        assert_eq!(&out, b"header");
        // Closed without `save_on_close` (a failed or unclean close): nothing kept.
        checked.close().unwrap();
        drop((checked, sums));
        let (_, sums, _) = open(dir.path());
        assert!(!sums.loaded());
        drop(db);
        // Checksums that do not fit the file (its first block changed) are not used.
        let (_, sums, checked) = open(dir.path());
        sums.save_on_close();
        checked.close().unwrap();
        drop((checked, sums));
        let mut bytes = std::fs::read(dir.path().join("db")).unwrap();
        bytes[0] ^= 1;
        std::fs::write(dir.path().join("db"), &bytes).unwrap();
        let (_, sums, _) = open(dir.path());
        assert!(!sums.loaded());
    }
}
