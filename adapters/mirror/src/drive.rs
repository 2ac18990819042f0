//! A Hyperdrive as a mirror side: [`MirrorSource`] and [`MirrorTarget`] for the blocking
//! adapter's [`Drive`] (JS mirror-drive over a `Hyperdrive`: list by key, read streams,
//! write streams, `symlink`, `del`, and `putEntry` for a change of only `executable` or
//! `metadata`).

use std::io::Read;

use bytes::Bytes;
use ferrocore::storage::Storage;
use ferrocore_blocking::drive::{
    Drive, DriveNode, DriveOp, ListOptions, ReadOptions, WriteStreamOptions,
};
use ferrocore_hyperdrive::drive::ReadStream;
use ferrocore_hyperdrive::entry::Entry;
use ferrocore_wire::json::Value;

use crate::side::{EntryIter, Ignore, MirrorEntry, MirrorSource, MirrorTarget, SideError};

fn mirror_entry(node: DriveNode) -> Result<MirrorEntry, SideError> {
    let size = node
        .entry
        .blob_id()
        .map_err(|e| format!("{}: {e}", node.path))?
        .map_or(0, |id| id.byte_length);
    Ok(MirrorEntry {
        key: node.path,
        value: node.entry,
        size,
    })
}

impl<S: Storage + Send + 'static> MirrorSource for Drive<S> {
    fn list<'a>(&'a self, folder: &str, ignore: &Ignore) -> Result<EntryIter<'a>, SideError> {
        let ignore = ignore.clone();
        let nodes = Drive::list(self, folder, ListOptions::default());
        Ok(Box::new(nodes.filter_map(move |n| match n {
            Ok(n) if ignore.matches(&n.path) => None,
            Ok(n) => Some(mirror_entry(n)),
            Err(e) => Some(Err(e.into())),
        })))
    }

    fn entry(&self, key: &str) -> Result<Option<MirrorEntry>, SideError> {
        Drive::entry(self, key, false)?
            .map(mirror_entry)
            .transpose()
    }

    fn read<'a>(&'a self, entry: &MirrorEntry) -> Result<Box<dyn Read + 'a>, SideError> {
        if entry.value.blob.is_none() {
            return Ok(Box::new(std::io::empty()));
        }
        Ok(Box::new(Chunks {
            stream: self.read_stream(&entry.key, ReadOptions::default()),
            chunk: Bytes::new(),
        }))
    }

    fn supports_metadata(&self) -> bool {
        true
    }
}

impl<S: Storage + Send + 'static> MirrorTarget for Drive<S> {
    fn put(
        &mut self,
        key: &str,
        data: &mut dyn Read,
        executable: bool,
        metadata: &Value,
    ) -> Result<(), SideError> {
        let opts = WriteStreamOptions {
            executable,
            metadata: metadata.clone(),
            dedup: false,
        };
        let mut w = self.writer(key, opts)?;
        // Read straight into the drive's chunks (one blobs block each), no copy between.
        let size = ferrocore_blocking::drive::Writer::<S>::CHUNK;
        loop {
            let mut chunk = vec![0; size];
            let mut n = 0;
            while n < size {
                match data.read(&mut chunk[n..]) {
                    Ok(0) => break,
                    Ok(r) => n += r,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if n == 0 {
                break;
            }
            chunk.truncate(n);
            w.write_bytes(chunk.into())?;
            if n < size {
                break;
            }
        }
        w.finish()?;
        Ok(())
    }

    fn symlink(&mut self, key: &str, linkname: &str) -> Result<(), SideError> {
        Ok(Drive::symlink(self, key, linkname, Value::Null)?)
    }

    fn del(&mut self, key: &str) -> Result<(), SideError> {
        Ok(Drive::del(self, key)?)
    }

    fn can_put_entry(&self) -> bool {
        true
    }

    fn put_entry(&mut self, key: &str, entry: &Entry) -> Result<(), SideError> {
        let op = DriveOp::PutEntry {
            path: key.into(),
            entry: entry.clone(),
        };
        let out = self.batch(vec![op])?;
        match out.results.into_iter().next() {
            Some(Err(e)) => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// A drive's read stream as a [`Read`].
struct Chunks<S: Storage> {
    stream: ferrocore_blocking::drive::Iter<S, ReadStream, Bytes>,
    chunk: Bytes,
}

impl<S: Storage + Send + 'static> Read for Chunks<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.stream.next() {
                Some(Ok(c)) => self.chunk = c,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
