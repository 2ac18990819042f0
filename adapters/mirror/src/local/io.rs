//! Reading and writing a [`LocalDrive`]'s files as streams (localdrive `streams.js`).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrocore_hyperdrive::path;
use ferrocore_wire::json::Value;

use super::{LocalDrive, LocalError};
use crate::compare::truthy;

/// A file's contents, or a range of them (JS `createReadStream(key, {start, length})`).
/// Reads in whatever chunks the caller asks for; JS reads 64 KiB at a time.
#[derive(Debug)]
pub struct FileReader {
    inner: io::Take<File>,
    /// The file.
    pub(crate) path: PathBuf,
}

impl FileReader {
    /// Bytes left to read.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.inner.limit()
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A file being written (JS `createWriteStream(key, {executable, metadata})`): bytes go to
/// a temporary file beside the target, which [`FileWriter::finish`] renames over it.
/// Dropped unfinished, the temporary file is removed and the target left as it was.
#[derive(Debug)]
pub struct FileWriter<'a> {
    drive: &'a LocalDrive,
    keyname: String,
    filename: PathBuf,
    /// The temporary file.
    pub(crate) tmp: PathBuf,
    file: Option<File>,
    metadata: Value,
}

impl Write for FileWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl FileWriter<'_> {
    /// Stores the metadata (a falsy one is deleted, `streams.js:68-75`) and moves the file
    /// into place.
    ///
    /// # Errors
    /// [`LocalError::Io`] when the file cannot be closed or renamed.
    pub fn finish(mut self) -> Result<(), LocalError> {
        if let Some(hooks) = &self.drive.metadata {
            if truthy(&self.metadata) {
                hooks.put(&self.keyname, &self.metadata);
            } else {
                hooks.del(&self.keyname);
            }
        }
        if let Some(file) = self.file.take() {
            drop(file);
        }
        fs::rename(&self.tmp, &self.filename).map_err(|e| LocalError::io(&self.filename, e))?;
        self.tmp = PathBuf::new();
        Ok(())
    }
}

impl Drop for FileWriter<'_> {
    fn drop(&mut self) {
        self.file.take();
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Tells the temporary files of one process apart (JS counts per drive).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalDrive {
    /// Reads the file at `key` from byte `start`, `length` bytes or to its end (JS
    /// `createReadStream(key, {start, length})`); a range past the end is cut short. The
    /// path is opened as a file, so a symlink is followed here.
    ///
    /// # Errors
    /// A bad key, a file that cannot be opened, or [`LocalError::NotAFile`].
    pub fn read(
        &self,
        key: &str,
        start: u64,
        length: Option<u64>,
    ) -> Result<FileReader, LocalError> {
        let filename = self.to_path(key)?;
        let io_err = |e| LocalError::io(&filename, e);
        let mut file = File::open(&filename).map_err(io_err)?;
        let st = file.metadata().map_err(io_err)?;
        if !st.is_file() {
            return Err(LocalError::NotAFile(filename));
        }
        let start = start.min(st.len());
        let missing = length.unwrap_or(u64::MAX).min(st.len() - start);
        file.seek(SeekFrom::Start(start)).map_err(io_err)?;
        Ok(FileReader {
            inner: file.take(missing),
            path: filename,
        })
    }

    /// Starts writing the file `key` (JS `createWriteStream`): creates its parent folders
    /// and a temporary file beside it with mode 0755 or 0644 (less the umask) whose
    /// user-exec bit is then set to `executable`.
    ///
    /// # Errors
    /// A bad key (the root names no file), or a folder or file that cannot be created.
    pub fn writer(
        &self,
        key: &str,
        executable: bool,
        metadata: Value,
    ) -> Result<FileWriter<'_>, LocalError> {
        let keyname = path::normalize(key)?;
        let filename = self.join(&keyname);
        let (tmp, file) = {
            let _guard = self.lock();
            if let Some(parent) = filename.parent() {
                fs::create_dir_all(parent).map_err(|e| LocalError::io(parent, e))?;
            }
            create_tmp(&filename, executable)?
        };
        set_executable(&file, &tmp, executable)?;
        Ok(FileWriter {
            drive: self,
            keyname,
            filename,
            tmp,
            file: Some(file),
            metadata,
        })
    }
}

/// Creates `<filename>.<n>.localdrive.tmp` for the first free `n`.
fn create_tmp(filename: &std::path::Path, executable: bool) -> Result<(PathBuf, File), LocalError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    loop {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut name = filename.as_os_str().to_owned();
        name.push(format!(".{n}.localdrive.tmp"));
        let tmp = PathBuf::from(name);
        match opts.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(LocalError::io(&tmp, e)),
        }
    }
}

/// Sets the mode again when the umask left the user-exec bit other than `executable`
/// (`streams.js:49-52`).
#[cfg(unix)]
fn set_executable(file: &File, tmp: &std::path::Path, executable: bool) -> Result<(), LocalError> {
    use std::os::unix::fs::PermissionsExt;
    let st = file.metadata().map_err(|e| LocalError::io(tmp, e))?;
    if (st.permissions().mode() & 0o100 != 0) != executable {
        let mode = if executable { 0o755 } else { 0o644 };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| LocalError::io(tmp, e))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_: &File, _: &std::path::Path, _: bool) -> Result<(), LocalError> {
    Ok(())
}
