//! A simulated disk that can lose power, for the crate's own tests (the `fault-injection`
//! feature; not part of the crate's API).
//!
//! Each file keeps two images: the *durable* one, as of its last completed sync, and the
//! *current* one that reads see, with the operations since that sync (writes, length
//! changes, punched holes) listed in order. A file created since its directory was last
//! synced has no durable directory entry. [`SimDisk::cut_after`] makes the power fail at a
//! chosen operation: that operation never completes (it and every later one fails), and
//! [`SimDisk::power_cut`] then gives the disk as it comes back, from the durable images
//! plus what a [`CutModel`] lets through of the rest. The store reopens from there.
//!
//! The unit of a torn write is a 512-byte sector (of the file's offsets): disks write whole
//! sectors, so a write lands in some of its sectors and not in others, never in part of one.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What survives of the writes no completed sync covered when the power fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutModel {
    /// None of them, except the last write issued, which lands torn: a prefix of its
    /// sectors, or a random subset of them.
    DropUnsynced,
    /// Any of them: each write, length change or punched hole since the file's last sync
    /// landed or not, independently (write-back happens in no particular order), and a
    /// write that landed may have landed in only some of its sectors.
    Reorder,
}

/// Bytes a disk writes atomically.
pub const SECTOR: u64 = 512;

/// A simulated disk. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

/// A file on a [`SimDisk`].
#[derive(Debug)]
pub struct SimFile {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<PathBuf, FileState>,
    /// Operations so far that change something (writes, length changes, holes, syncs,
    /// creations).
    ops: u64,
    /// The operation at which the power fails.
    cut_at: Option<u64>,
    /// The power is off: every operation fails.
    cut: bool,
    /// The operation the power failed in: what it was, and on which file.
    cut_in: Option<(&'static str, PathBuf)>,
    /// Suffixes of the files whose syncs complete without making anything durable (a
    /// broken disk, for showing that the tests notice).
    lying_syncs: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct FileState {
    /// As of the last completed sync.
    durable: Vec<u8>,
    /// The directory entry is durable.
    listed: bool,
    /// What reads see.
    current: Vec<u8>,
    /// Changes since the last completed sync, oldest first, each with its operation number.
    pending: Vec<(u64, Change)>,
}

#[derive(Debug, Clone)]
enum Change {
    Write(u64, Vec<u8>),
    SetLen(u64),
    Punch(u64, u64),
}

fn power_off() -> io::Error {
    io::Error::other("simulated power failure")
}

/// splitmix64.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Change {
    fn apply(&self, image: &mut Vec<u8>) {
        match self {
            Change::Write(at, bytes) => write_into(image, *at, bytes),
            Change::SetLen(len) => image.resize(usize::try_from(*len).unwrap_or(0), 0),
            Change::Punch(at, len) => {
                let start = usize::try_from(*at).unwrap_or(usize::MAX).min(image.len());
                let end = usize::try_from(at.saturating_add(*len))
                    .unwrap_or(usize::MAX)
                    .min(image.len());
                image[start..end].fill(0);
            }
        }
    }
}

fn write_into(image: &mut Vec<u8>, at: u64, bytes: &[u8]) {
    let at = usize::try_from(at).unwrap_or(usize::MAX);
    let end = at + bytes.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[at..end].copy_from_slice(bytes);
}

/// The sector pieces of a write of `len` bytes at `at`: (offset, range in the write).
fn sectors(at: u64, len: usize) -> Vec<(u64, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut pos = at;
    let end = at + len as u64;
    while pos < end {
        let next_sector = (pos / SECTOR + 1) * SECTOR;
        let stop = next_sector.min(end);
        out.push((pos, (pos - at) as usize..(stop - at) as usize));
        pos = stop;
    }
    out
}

/// Lands `change` in `image` torn: a prefix of its sectors, or a random subset.
fn land_torn(change: &Change, image: &mut Vec<u8>, rng: &mut u64) {
    let Change::Write(at, bytes) = change else {
        change.apply(image);
        return;
    };
    let pieces = sectors(*at, bytes.len());
    let prefix = next(rng) % 2 == 0;
    let keep = next(rng) % (pieces.len() as u64 + 1);
    for (i, (offset, range)) in pieces.into_iter().enumerate() {
        let lands = if prefix {
            (i as u64) < keep
        } else {
            next(rng) % 2 == 0
        };
        if lands {
            write_into(image, offset, &bytes[range]);
        }
    }
}

impl State {
    /// Counts an operation (`what`, on `path`); fails it if the power is off, and notes it
    /// if the power goes off now.
    fn operation(&mut self, what: &'static str, path: &Path) -> io::Result<u64> {
        if self.cut {
            return Err(power_off());
        }
        self.ops += 1;
        if self.cut_at == Some(self.ops) {
            self.cut = true;
            self.cut_in = Some((what, path.to_owned()));
        }
        Ok(self.ops)
    }

    fn file(&mut self, path: &Path) -> io::Result<&mut FileState> {
        self.files
            .get_mut(path)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    /// Records `change` to the file at `path` (it lands in the current image), failing if
    /// the power goes off: the change is then in flight, and may land or not.
    fn change(&mut self, path: &Path, change: Change) -> io::Result<()> {
        let what = match change {
            Change::Write(..) => "write",
            Change::SetLen(_) => "set_len",
            Change::Punch(..) => "punch",
        };
        let op = self.operation(what, path)?;
        let file = self.file(path)?;
        change.apply(&mut file.current);
        file.pending.push((op, change));
        if self.cut {
            return Err(power_off());
        }
        Ok(())
    }
}

impl SimDisk {
    /// An empty disk with the power on.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the power fail at the `n`th operation from now (1 = the next one); that
    /// operation does not complete.
    pub fn cut_after(&self, n: u64) {
        let mut state = self.state();
        state.cut_at = Some(state.ops + n.max(1));
    }

    /// Operations so far (writes, length changes, holes, syncs, creations).
    #[must_use]
    pub fn ops(&self) -> u64 {
        self.state().ops
    }

    /// True once the power failed.
    #[must_use]
    pub fn is_cut(&self) -> bool {
        self.state().cut
    }

    /// The operation the power failed in (set by [`cut_after`](Self::cut_after)): what it
    /// was (`write`, `sync`, `set_len`, `punch`, `create`) and on which file (a directory,
    /// for a sync of one).
    #[must_use]
    pub fn cut_in(&self) -> Option<(&'static str, PathBuf)> {
        self.state().cut_in.clone()
    }

    /// From now on, syncs of the files whose path ends with `suffix` report success and
    /// make nothing durable (a disk that lies; for showing that a test notices).
    pub fn lie_on_syncs_of(&self, suffix: &str) {
        self.state().lying_syncs.push(suffix.to_owned());
    }

    /// The disk as it comes back after the power failed (now, if it had not yet): every
    /// file's durable image plus what `model` lets through of the changes since its last
    /// sync (random choices from `seed`); files whose directory entry was never synced are
    /// gone. The old disk stays off.
    #[must_use]
    pub fn power_cut(&self, model: CutModel, seed: u64) -> SimDisk {
        let mut state = self.state();
        state.cut = true;
        let mut rng = seed;
        // The last write issued that no sync covered, on any file.
        let last_write = state
            .files
            .values()
            .flat_map(|f| f.pending.iter())
            .filter(|(_, c)| matches!(c, Change::Write(..)))
            .map(|(op, _)| *op)
            .max();
        let mut files = BTreeMap::new();
        for (path, file) in &state.files {
            if !file.listed {
                continue;
            }
            let mut image = file.durable.clone();
            for (op, change) in &file.pending {
                match model {
                    CutModel::DropUnsynced => {
                        if Some(*op) == last_write {
                            land_torn(change, &mut image, &mut rng);
                        }
                    }
                    CutModel::Reorder => match next(&mut rng) % 4 {
                        0 | 1 => {}
                        2 => change.apply(&mut image),
                        _ => land_torn(change, &mut image, &mut rng),
                    },
                }
            }
            files.insert(
                path.clone(),
                FileState {
                    durable: image.clone(),
                    listed: true,
                    current: image,
                    pending: Vec::new(),
                },
            );
        }
        SimDisk {
            state: Arc::new(Mutex::new(State {
                files,
                ..State::default()
            })),
        }
    }

    /// Opens the file at `path`, creating it if absent; says whether it was created.
    pub(crate) fn open(&self, path: &Path) -> io::Result<(SimFile, bool)> {
        let mut state = self.state();
        let created = !state.files.contains_key(path);
        if created {
            state.operation("create", path)?;
            state.files.insert(path.to_owned(), FileState::default());
            if state.cut {
                return Err(power_off());
            }
        } else if state.cut {
            return Err(power_off());
        }
        let file = SimFile {
            state: Arc::clone(&self.state),
            path: path.to_owned(),
        };
        Ok((file, created))
    }

    /// The current length of the file at `path`.
    #[must_use]
    pub fn len_of(&self, path: &Path) -> Option<u64> {
        self.state().files.get(path).map(|f| f.current.len() as u64)
    }

    /// The current bytes of the file at `path` (for damaging them in tests).
    #[must_use]
    pub fn bytes_of(&self, path: &Path) -> Option<Vec<u8>> {
        self.state().files.get(path).map(|f| f.current.clone())
    }

    /// Makes the entries of the files in `dir` durable.
    pub(crate) fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut state = self.state();
        state.operation("sync", dir)?;
        if state.cut {
            return Err(power_off());
        }
        for (path, file) in &mut state.files {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if parent == dir {
                file.listed = true;
            }
        }
        Ok(())
    }
}

impl SimFile {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The file's current length.
    pub(crate) fn len(&self) -> io::Result<u64> {
        let mut state = self.state();
        if state.cut {
            return Err(power_off());
        }
        Ok(state.file(&self.path)?.current.len() as u64)
    }

    /// Fills `buf` from `offset` of the current image.
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut state = self.state();
        if state.cut {
            return Err(power_off());
        }
        let image = &state.file(&self.path)?.current;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = start
            .checked_add(buf.len())
            .and_then(|end| image.get(start..end))
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// Writes `buf` at `offset`.
    pub(crate) fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.state()
            .change(&self.path, Change::Write(offset, buf.to_vec()))
    }

    /// Cuts or extends the file.
    pub(crate) fn set_len(&self, len: u64) -> io::Result<()> {
        self.state().change(&self.path, Change::SetLen(len))
    }

    /// Zeros over `offset .. offset + len`, the length kept.
    pub(crate) fn punch_hole(&self, offset: u64, len: u64) {
        let _ = self.state().change(&self.path, Change::Punch(offset, len));
    }

    /// Makes the current image durable (unless the disk lies about this file's syncs).
    pub(crate) fn sync(&self) -> io::Result<()> {
        let mut state = self.state();
        state.operation("sync", &self.path)?;
        if state.cut {
            return Err(power_off());
        }
        let lies = state.lying_syncs.iter().any(|s| {
            self.path
                .as_os_str()
                .to_string_lossy()
                .ends_with(s.as_str())
        });
        let file = state.file(&self.path)?;
        if !lies {
            file.durable = file.current.clone();
            file.pending.clear();
        }
        Ok(())
    }
}

impl redb::StorageBackend for SimFile {
    fn len(&self) -> Result<u64, io::Error> {
        SimFile::len(self)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.read_exact_at(out, offset)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        SimFile::set_len(self, len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.sync()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.write_at(data, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(disk: &SimDisk, name: &str) -> SimFile {
        disk.open(Path::new(name)).unwrap().0
    }

    #[test]
    fn synced_bytes_survive_and_unsynced_ones_do_not() {
        let disk = SimDisk::new();
        let f = file(&disk, "d/a");
        disk.sync_dir(Path::new("d")).unwrap();
        f.write_at(&[1; 1000], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[2; 100], 1000).unwrap();
        f.write_at(&[3; 10], 0).unwrap();
        let mut buf = [0; 12];
        f.read_exact_at(&mut buf, 995).unwrap();
        assert_eq!(buf, [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2]);
        // Created after the directory was synced: its entry is not durable.
        drop(file(&disk, "d/b"));
        // DropUnsynced: the durable image, plus a torn part of the last write (sectors of
        // the file: bytes 0..10 are one piece).
        for seed in 0..20 {
            let after = disk.power_cut(CutModel::DropUnsynced, seed);
            let bytes = after.bytes_of(Path::new("d/a")).unwrap();
            assert_eq!(bytes.len(), 1000, "the write past the end was dropped");
            assert!(bytes[10..].iter().all(|&b| b == 1));
            assert!(bytes[..10] == [1; 10] || bytes[..10] == [3; 10]);
        }
        // A file never listed in its directory is gone.
        assert!(disk
            .power_cut(CutModel::Reorder, 1)
            .len_of(Path::new("d/b"))
            .is_none());
    }

    #[test]
    fn a_cut_fails_its_operation_and_every_later_one() {
        let disk = SimDisk::new();
        let f = file(&disk, "a");
        disk.cut_after(2);
        f.write_at(b"x", 0).unwrap();
        assert!(f.sync().is_err(), "the sync at the cut never completes");
        assert!(f.write_at(b"y", 1).is_err());
        assert!(f.len().is_err());
        assert!(disk.is_cut());
    }

    #[test]
    fn torn_writes_land_in_whole_sectors() {
        let disk = SimDisk::new();
        let f = file(&disk, "a");
        disk.sync_dir(Path::new(".")).unwrap();
        f.write_at(&[0; 4096], 0).unwrap();
        f.sync().unwrap();
        f.write_at(&[9; 2000], 100).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let after = disk.power_cut(CutModel::Reorder, seed);
            let bytes = after.bytes_of(Path::new("a")).unwrap();
            // Pieces: 100..512, 512..1024, 1024..1536, 1536..2048, 2048..2100.
            let pieces = [100..512, 512..1024, 1024..1536, 1536..2048, 2048..2100];
            let landed: Vec<bool> = pieces
                .iter()
                .map(|r| {
                    let all9 = bytes[r.clone()].iter().all(|&b| b == 9);
                    assert!(all9 || bytes[r.clone()].iter().all(|&b| b == 0));
                    all9
                })
                .collect();
            seen.insert(landed);
        }
        assert!(seen.len() > 4, "writes land whole, torn or not at all");
    }
}
