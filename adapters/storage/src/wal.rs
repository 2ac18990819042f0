//! The write-ahead log behind [`Durability::Immediate`](crate::Durability::Immediate).
//!
//! A durable redb commit writes and syncs every B-tree page the batch touched (about a dozen
//! scattered pages for one append), which costs several times one `fdatasync`. So a durable
//! write batch is first appended to this file as one checksummed record and synced (one
//! sequential write, one `fdatasync`), then committed to redb without a sync. Every
//! [`CHECKPOINT_BYTES`] of log, on [`Store::flush`](crate::Store::flush) and when the store
//! closes, a durable redb commit records the sequence number of the last record it contains
//! and the log is emptied. Opening a store replays the records newer than that number.
//!
//! File layout (integers little-endian):
//!
//! ```text
//! file header   magic "fcwal\0\0\x01" (8 bytes), store id u64, crc u32 of both,
//!               zeros to 32 bytes
//! record        len u32, seq u64, payload crc u32, header crc u32, payload (len bytes),
//!               zeros up to a multiple of 32 bytes
//! zeros         to the end of the file
//! ```
//!
//! The file is grown ahead of the records, [`EXTEND_BYTES`] of zeros at a time (written and
//! synced), so a record is written over allocated space and its `fdatasync` writes its data
//! only (appending to a file makes every sync update its size as well: about 40% more time
//! here). Records start at multiples of 32 bytes, so a record header never straddles a page
//! or sector and a write cut short leaves it whole or zero.
//!
//! The store id ties the log to its database: a log left beside a database that was deleted
//! and created anew belongs to another store and is discarded. Records are read strictly:
//! an all-zero header ends the log; a record cut short by the end of the file, or one whose
//! payload fails its checksum while only zeros follow it, is a write a crash interrupted
//! (never acknowledged) and is dropped; any other damage is a
//! [`StorageErrorKind::Corrupt`](ferrocore::storage::StorageErrorKind) error, never a
//! silent loss.

use bytes::Bytes;
use ferrocore::storage::{Op, Record, StorageError, WriteBatch};
use ferrocore::Node;

use crate::disk::FileIo;
use crate::record::{u32_at, u64_at};

/// Bytes of log after which a write triggers a checkpoint.
pub(crate) const CHECKPOINT_BYTES: u64 = 32 << 20;

/// Bytes of zeros the file grows by when the next record does not fit.
pub(crate) const EXTEND_BYTES: u64 = 4 << 20;

const MAGIC: [u8; 8] = *b"fcwal\0\0\x01";
const FILE_HEAD: u64 = 32;
const REC_HEAD: usize = 20;
/// Records start at multiples of this.
const ALIGN: u64 = 32;

/// Bytes a record with a payload of `len` takes, padding included.
fn padded(len: u64) -> u64 {
    (REC_HEAD as u64 + len).div_ceil(ALIGN) * ALIGN
}

/// An open write-ahead log.
#[derive(Debug)]
pub(crate) struct Wal {
    file: FileIo,
    /// Bytes of the file that hold the header and whole records.
    len: u64,
    /// Bytes of the file (records, then zeros).
    size: u64,
    /// The sequence number of the last record appended or replayed.
    seq: u64,
}

fn io(what: &str, e: &std::io::Error) -> StorageError {
    StorageError::io(Record::Database, format!("write-ahead log: {what}: {e}"))
}

fn corrupt(what: String) -> StorageError {
    StorageError::corrupt(Record::Database, format!("write-ahead log: {what}"))
}

impl Wal {
    /// Takes the log `file` of the store `id` whose database holds every record up to
    /// `applied`; returns it with the payloads of the newer records, in order.
    pub(crate) fn open(
        file: FileIo,
        id: u64,
        applied: u64,
    ) -> Result<(Self, Vec<Vec<u8>>), StorageError> {
        let size = file.len().map_err(|e| io("stat", &e))?;
        let mut wal = Self {
            file,
            len: FILE_HEAD,
            size,
            seq: applied,
        };
        let mut head = [0u8; FILE_HEAD as usize];
        if size < FILE_HEAD {
            // New, or its creation was cut short: nothing was ever logged in it.
            wal.write_header(id)?;
            return Ok((wal, Vec::new()));
        }
        wal.file
            .read_exact_at(&mut head, 0)
            .map_err(|e| io("read", &e))?;
        if head[..8] != MAGIC
            || u32_at(&head, 16) != crc32c::crc32c(&head[..16])
            || head[20..].iter().any(|&b| b != 0)
        {
            return Err(corrupt("file header is damaged".into()));
        }
        if u64_at(&head, 8) != id {
            // Left by a database that no longer exists.
            wal.write_header(id)?;
            return Ok((wal, Vec::new()));
        }
        let records = wal.read_records(size, applied)?;
        Ok((wal, records))
    }

    fn write_header(&mut self, id: u64) -> Result<(), StorageError> {
        let mut head = [0u8; FILE_HEAD as usize];
        head[..8].copy_from_slice(&MAGIC);
        head[8..16].copy_from_slice(&id.to_le_bytes());
        let crc = crc32c::crc32c(&head[..16]);
        head[16..20].copy_from_slice(&crc.to_le_bytes());
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all_at(&head, 0))
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io("write header", &e))?;
        self.len = FILE_HEAD;
        self.size = FILE_HEAD;
        Ok(())
    }

    /// Reads the records of a file of `size` bytes, keeping the payloads of those after
    /// `applied`; drops a torn last record.
    fn read_records(&mut self, size: u64, applied: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::new();
        let mut at = FILE_HEAD;
        let mut last_seq = None;
        while let Some(head) = self.head_at(at, size)? {
            if u32_at(&head, 16) != crc32c::crc32c(&head[..16]) {
                return Err(corrupt(format!("record header at byte {at} is damaged")));
            }
            let len = u64::from(u32_at(&head, 0));
            let seq = u64_at(&head, 4);
            let end = at + padded(len);
            if end > size {
                // Cut short by a crash: zeros over what is left of it.
                self.wipe(at, size)?;
                break;
            }
            if last_seq.is_some_and(|l| seq != l + 1) {
                return Err(corrupt(format!("record at byte {at} is out of sequence")));
            }
            // `len` fits in the file, so this allocation is bounded by what is on disk.
            let mut payload = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
            self.file
                .read_exact_at(&mut payload, at + REC_HEAD as u64)
                .map_err(|e| io("read", &e))?;
            if crc32c::crc32c(&payload) != u32_at(&head, 12) {
                if self.head_at(end, size)?.is_none() {
                    // The last write, interrupted: zeros over it, so a shorter record
                    // written in its place is not followed by its remains.
                    self.wipe(at, end)?;
                    break;
                }
                return Err(corrupt(format!("record at byte {at} is damaged")));
            }
            last_seq = Some(seq);
            if seq > applied {
                out.push(payload);
                self.seq = seq;
            }
            at = end;
        }
        self.len = at;
        Ok(out)
    }

    /// The record header at `at`, or `None` at the end of the log (too few bytes left, or
    /// all zeros).
    fn head_at(&self, at: u64, size: u64) -> Result<Option<[u8; REC_HEAD]>, StorageError> {
        if size.saturating_sub(at) < REC_HEAD as u64 {
            return Ok(None);
        }
        let mut head = [0u8; REC_HEAD];
        self.file
            .read_exact_at(&mut head, at)
            .map_err(|e| io("read", &e))?;
        Ok(head.iter().any(|&b| b != 0).then_some(head))
    }

    /// Writes synced zeros over `from..to`.
    fn wipe(&mut self, from: u64, to: u64) -> Result<(), StorageError> {
        let zeros = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
        self.file
            .write_all_at(&zeros, from)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io("wipe a torn record", &e))
    }

    /// Grows the file with synced zeros until `need` bytes fit.
    fn reserve(&mut self, need: u64) -> Result<(), StorageError> {
        if need <= self.size {
            return Ok(());
        }
        let target = need.div_ceil(EXTEND_BYTES) * EXTEND_BYTES;
        let zeros = vec![0u8; 1 << 20];
        let mut at = self.size;
        while at < target {
            let n = (target - at).min(zeros.len() as u64);
            self.file
                .write_all_at(&zeros[..n as usize], at)
                .map_err(|e| io("grow", &e))?;
            at += n;
        }
        self.file.sync_all().map_err(|e| io("grow", &e))?;
        self.size = target;
        Ok(())
    }

    /// The sequence number of the last record appended or replayed.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Bytes of records in the log.
    pub(crate) fn record_bytes(&self) -> u64 {
        self.len - FILE_HEAD
    }

    /// Appends one record and syncs it; on failure the log is as before.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<(), StorageError> {
        let len = u32::try_from(payload.len())
            .map_err(|_| StorageError::io(Record::Database, "write batch over 4 GiB"))?;
        let seq = self.seq + 1;
        let total = padded(u64::from(len));
        self.reserve(self.len + total)?;
        let mut rec = Vec::with_capacity(total as usize);
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&seq.to_le_bytes());
        rec.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        let crc = crc32c::crc32c(&rec);
        rec.extend_from_slice(&crc.to_le_bytes());
        rec.extend_from_slice(payload);
        rec.resize(total as usize, 0);
        let written = self
            .file
            .write_all_at(&rec, self.len)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Best effort: the next append must not follow a partial record. Zeros over it
            // (a failed write may have left any prefix of it).
            let _ = self.file.write_all_at(&vec![0u8; rec.len()], self.len);
            return Err(io("append", &e));
        }
        self.len += rec.len() as u64;
        self.seq = seq;
        Ok(())
    }

    /// Empties the log once the database holds every record durably.
    /// (Zeros from the next append on are written anew: a truncated file holds no stale
    /// record, nor the remains of a torn one, for a later read to stumble on.)
    pub(crate) fn reset(&mut self) -> Result<(), StorageError> {
        if self.size == FILE_HEAD {
            return Ok(());
        }
        self.file
            .set_len(FILE_HEAD)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io("truncate", &e))?;
        self.len = FILE_HEAD;
        self.size = FILE_HEAD;
        Ok(())
    }
}

// ------------------------------------------------------------------ batch encoding

const PUT_HEADER: u8 = 0;
const PUT_NODE: u8 = 1;
const DELETE_NODES: u8 = 2;
const PUT_BLOCK: u8 = 3;
const DELETE_BLOCKS: u8 = 4;
const PUT_PAGE: u8 = 5;
const DELETE_PAGE: u8 = 6;

/// One core's write batch as a record payload: the core, then each operation.
pub(crate) fn encode(core: &[u8; 32], batch: &WriteBatch) -> Vec<u8> {
    let bytes: usize = batch
        .ops()
        .iter()
        .map(|op| match op {
            Op::PutHeader(b) | Op::PutBlock(_, b) | Op::PutBitfieldPage(_, b) => b.len() + 13,
            _ => 49,
        })
        .sum();
    let mut out = Vec::with_capacity(32 + bytes);
    out.extend_from_slice(core);
    let bytes_op = |out: &mut Vec<u8>, tag: u8, index: u64, b: &Bytes| {
        out.push(tag);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(b);
    };
    let range_op = |out: &mut Vec<u8>, tag: u8, a: u64, b: u64| {
        out.push(tag);
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    };
    for op in batch.ops() {
        match op {
            Op::PutHeader(b) => bytes_op(&mut out, PUT_HEADER, 0, b),
            Op::PutNode(n) => {
                out.push(PUT_NODE);
                out.extend_from_slice(&n.index.to_le_bytes());
                out.extend_from_slice(&n.size.to_le_bytes());
                out.extend_from_slice(&n.hash);
            }
            Op::DeleteNodes(r) => range_op(&mut out, DELETE_NODES, r.start, r.end),
            Op::PutBlock(i, b) => bytes_op(&mut out, PUT_BLOCK, *i, b),
            Op::DeleteBlocks(r) => range_op(&mut out, DELETE_BLOCKS, r.start, r.end),
            Op::PutBitfieldPage(p, b) => bytes_op(&mut out, PUT_PAGE, *p, b),
            Op::DeleteBitfieldPage(p) => range_op(&mut out, DELETE_PAGE, *p, 0),
        }
    }
    out
}

/// The core and write batch of a record payload.
pub(crate) fn decode(payload: &[u8]) -> Result<([u8; 32], WriteBatch), StorageError> {
    let bad = || corrupt("malformed record payload".into());
    let mut r = Reader(payload);
    let core: [u8; 32] = r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    let mut batch = WriteBatch::new();
    while !r.0.is_empty() {
        let tag = r.take(1).ok_or_else(bad)?[0];
        let a = r.u64().ok_or_else(bad)?;
        let op = match tag {
            PUT_HEADER | PUT_BLOCK | PUT_PAGE => {
                let len = r.take(4).ok_or_else(bad)?;
                let len = u32_at(len, 0) as usize;
                let b = Bytes::copy_from_slice(r.take(len).ok_or_else(bad)?);
                match tag {
                    PUT_HEADER => Op::PutHeader(b),
                    PUT_BLOCK => Op::PutBlock(a, b),
                    _ => Op::PutBitfieldPage(a, b),
                }
            }
            PUT_NODE => {
                let size = r.u64().ok_or_else(bad)?;
                let hash: [u8; 32] = r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
                Op::PutNode(Node::new(a, size, hash))
            }
            DELETE_NODES | DELETE_BLOCKS | DELETE_PAGE => {
                let b = r.u64().ok_or_else(bad)?;
                match tag {
                    DELETE_NODES => Op::DeleteNodes(a..b),
                    DELETE_BLOCKS => Op::DeleteBlocks(a..b),
                    _ => Op::DeleteBitfieldPage(a),
                }
            }
            _ => return Err(bad()),
        };
        batch.push(op);
    }
    Ok((core, batch))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64_at(b, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Disk, Use};
    use std::path::Path;

    /// Opens the log at `path` (see [`Wal::open`]).
    fn open(path: &Path, id: u64, applied: u64) -> Result<(Wal, Vec<Vec<u8>>), StorageError> {
        Wal::open(Disk::Os.open(path, Use::Plain).unwrap().0, id, applied)
    }

    fn sample_batch() -> WriteBatch {
        let mut b = WriteBatch::new();
        b.push(Op::PutHeader(Bytes::from_static(b"head")));
        b.push(Op::PutNode(Node::new(4, 9, [3; 32])));
        b.push(Op::DeleteNodes(2..7));
        b.push(Op::PutBlock(5, Bytes::from_static(b"block")));
        b.push(Op::DeleteBlocks(1..u64::MAX));
        b.push(Op::PutBitfieldPage(2, Bytes::from(vec![1; 4096])));
        b.push(Op::DeleteBitfieldPage(8));
        b
    }

    #[test]
    fn batches_round_trip_and_malformed_payloads_are_errors() {
        let b = sample_batch();
        let p = encode(&[9; 32], &b);
        let (core, back) = decode(&p).unwrap();
        assert_eq!(core, [9; 32]);
        assert_eq!(back.ops(), b.ops());
        for cut in 0..p.len() {
            if cut == 32 {
                continue; // a core with no operations is a valid (empty) batch
            }
            let ok = decode(&p[..cut]).is_ok_and(|(_, b)| b.ops().len() < 7);
            // Cutting at an operation boundary decodes the operations before it.
            let boundary = decode(&p[..cut]).is_ok();
            assert!(!boundary || ok, "cut at {cut}");
        }
        let mut bad = p.clone();
        bad[32] = 99;
        assert!(decode(&bad).is_err());
    }

    /// The file's bytes up to the end of its records.
    fn records_end(path: &Path) -> usize {
        let (w, _) = open(path, 7, 0).unwrap();
        w.len as usize
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let (mut w, r) = open(&path, 7, 0).unwrap();
        assert!(r.is_empty());
        for i in 0..5u8 {
            w.append(&[i + 1; 100]).unwrap();
        }
        assert_eq!(w.seq(), 5);
        assert_eq!(w.size, EXTEND_BYTES, "grown ahead of the records");
        drop(w);
        let (w, r) = open(&path, 7, 2).unwrap();
        assert_eq!(r, vec![vec![3; 100], vec![4; 100], vec![5; 100]]);
        assert_eq!(w.seq(), 5);
        drop(w);
        let clean = std::fs::read(&path).unwrap();
        let end = records_end(&path);
        let last = end - padded(100) as usize;
        // A crash interrupted the last write: a prefix of it made it to the file (the rest
        // reads as zeros; writes land in whole pages or sectors, so never part of the
        // 32-byte-aligned header), or the file ends inside it. The records before it remain.
        for cut in (last..last + REC_HEAD + 100).step_by(7) {
            if cut > last && cut < last + REC_HEAD {
                continue;
            }
            let mut torn = clean.clone();
            torn[cut..].iter_mut().for_each(|b| *b = 0);
            std::fs::write(&path, &torn).unwrap();
            let (_, r) = open(&path, 7, 0).unwrap();
            assert_eq!(r.len(), 4, "zeros from {cut}");
            std::fs::write(&path, &clean[..cut]).unwrap();
            let (mut w, r) = open(&path, 7, 0).unwrap();
            assert_eq!(r.len(), 4, "file cut at {cut}");
            // The next append lands where the torn record began.
            w.append(&[9; 10]).unwrap();
            drop(w);
            let (_, r) = open(&path, 7, 0).unwrap();
            assert_eq!(r.len(), 5);
            assert_eq!(r[4], vec![9; 10]);
        }
        // Another store's log is discarded; reset empties it.
        let (mut w, r) = open(&path, 8, 0).unwrap();
        assert!(r.is_empty());
        w.append(b"x").unwrap();
        w.reset().unwrap();
        assert_eq!(w.record_bytes(), 0);
        drop(w);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_HEAD);
        assert!(open(&path, 8, 0).unwrap().1.is_empty());
    }

    #[test]
    fn damage_before_the_last_record_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let (mut w, _) = open(&path, 7, 0).unwrap();
        for i in 0..3u8 {
            w.append(&[i + 1; 50]).unwrap();
        }
        drop(w);
        let clean = std::fs::read(&path).unwrap();
        let end = records_end(&path);
        let last = end - padded(50) as usize;
        for at in 0..end + 64 {
            let mut bad = clean.clone();
            bad[at] ^= 0x04;
            std::fs::write(&path, &bad).unwrap();
            match open(&path, 7, 0) {
                Err(e) => assert_eq!(e.kind, ferrocore::storage::StorageErrorKind::Corrupt),
                Ok((_, r)) => {
                    // Only damage to the last record's payload (an interrupted write) or
                    // to a record's padding (never read) opens, the latter with every record.
                    let payload = last + REC_HEAD..last + REC_HEAD + 50;
                    let in_record = (at - FILE_HEAD as usize) % padded(50) as usize;
                    let padding = at < end && in_record >= REC_HEAD + 50;
                    let past_next_head = at >= end + REC_HEAD;
                    assert!(
                        payload.contains(&at) && r.len() == 2
                            || (padding || past_next_head) && r.len() == 3,
                        "flip at {at} gave {} records",
                        r.len()
                    );
                }
            }
        }
    }
}
