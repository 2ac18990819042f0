//! Entry points to the decoders of bytes from disk, for the fuzz targets in `fuzz/` (the
//! `fuzzing` feature; not part of the crate's API): the catalog's keys and sealed values,
//! write-ahead log record payloads (a core's write batch, or catalog changes), and a
//! read-only open that replays a log of given payloads.

use ferrocore::storage::{Record, StorageError, WriteBatch};

pub use crate::catalog::CatalogOp;
use crate::{catalog, record, wal, Alias, LocalScope, Store, StoreOptions};

/// The core, write batch and catalog operations of a log record payload (what a reopen's
/// replay decodes).
///
/// # Errors
/// `Corrupt` if the payload is malformed.
pub fn decode_wal_payload(
    payload: &[u8],
) -> Result<([u8; 32], WriteBatch, Vec<CatalogOp>), StorageError> {
    wal::decode(payload)
}

/// One core's write batch as a log record payload.
#[must_use]
pub fn encode_wal_batch(core: &[u8; 32], batch: &WriteBatch) -> Vec<u8> {
    wal::encode(core, batch)
}

/// Catalog operations as a log record payload.
#[must_use]
pub fn encode_wal_catalog(ops: &[CatalogOp]) -> Vec<u8> {
    wal::encode_catalog(ops)
}

/// A stored value: the checksum of key and payload, then the payload.
#[must_use]
pub fn seal(key: &[u8], payload: &[u8]) -> Vec<u8> {
    record::seal(key, payload)
}

/// The payload of the catalog value `value` stored under `key`, checked (a local slot's
/// value).
///
/// # Errors
/// `Corrupt` if the value is too short or fails its checksum.
pub fn open_value<'v>(key: &[u8], value: &'v [u8]) -> Result<&'v [u8], StorageError> {
    record::open(key, value, Record::Database)
}

/// The 32-byte payload of the catalog value under `key` (a primary key, an alias's
/// discovery key).
///
/// # Errors
/// `Corrupt` if the value fails its checksum or its payload is not 32 bytes.
pub fn key_payload(key: &[u8], value: &[u8]) -> Result<[u8; 32], StorageError> {
    catalog::key_payload(key, value)
}

/// The alias stored under catalog key `key` with `value`.
///
/// # Errors
/// `Corrupt` if the key is not an alias key or the value is damaged.
pub fn alias_of(key: &[u8], value: &[u8]) -> Result<Alias, StorageError> {
    catalog::alias_of(key, value)
}

/// The catalog key of the alias `name` in `namespace`.
///
/// # Errors
/// If the name is longer than [`crate::MAX_NAME_LEN`].
pub fn alias_key(namespace: &[u8; 32], name: &[u8]) -> Result<Vec<u8>, StorageError> {
    catalog::alias_key(namespace, name)
}

/// The catalog key of local slot `tag` of `scope`.
///
/// # Errors
/// If the tag is longer than [`crate::MAX_TAG_LEN`].
pub fn local_key(scope: &LocalScope, tag: &[u8]) -> Result<Vec<u8>, StorageError> {
    catalog::local_key(scope, tag)
}

/// Opens the store whose database is at `path` read-only ([`Store::open_read_only`], on
/// a copy taken now), its write-ahead log replaced by one whose records hold `payloads`,
/// well framed, numbered after any record the database holds: so the open replays them
/// (their decoding and their application to the database and the data file, in memory).
/// The store must have been closed (its log's header gives the store id).
///
/// # Errors
/// As [`Store::open_read_only`]: `Corrupt` if a payload is malformed or cannot be applied.
pub fn open_read_only_replaying(
    path: &std::path::Path,
    options: StoreOptions,
    payloads: &[&[u8]],
) -> Result<Store, StorageError> {
    let io = |e: std::io::Error| StorageError::io(Record::Database, e.to_string());
    let snapshot = crate::overlay::Snapshot::copy(path).map_err(io)?;
    let wal_path = crate::disk::beside(path, "-wal");
    let old = snapshot.take(&wal_path);
    let id = old
        .get(8..16)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let mut log = wal::file_header(id).to_vec();
    // Far above any sequence number a store reaches, so every record is newer.
    let first = 1 << 62;
    for (seq, payload) in (first..).zip(payloads) {
        let len = u32::try_from(payload.len())
            .map_err(|_| io(std::io::ErrorKind::InvalidInput.into()))?;
        log.extend_from_slice(&wal::record(len, seq, seq - 1, payload));
    }
    snapshot.put(wal_path, log);
    let disk = crate::disk::Disk::ReadOnly(snapshot);
    crate::guard(Record::Database, || Store::open_on(&disk, path, options))
}
