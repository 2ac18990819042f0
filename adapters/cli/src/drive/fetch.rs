//! A drive's clone (`ferrocore clone DIR KEY` when KEY is a drive): once the db core is
//! downloaded, [`clone_blobs`] sees that it is a drive (block 0 is a hyperbee header with
//! metadata, as JS hyperdrive writes it; a plain Hyperbee writes none), opens the blobs
//! core in the store (its key from the db's manifest) and fetches it whole, or with
//! `--paths` only the blobs of those files and folders.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::CoreId;
use ferrocore::wire::bee::Header;
use ferrocore::Manifest;
use ferrocore_blocking::drive::{Drive, DriveOptions};
use ferrocore_hyperdrive::keys::content_core;
use ferrocore_storage::Store;

use super::open::drive_error;
use crate::dir::core_error;
use crate::net::CliNode;
use crate::Error;

/// The db core's block 0 (if held) and manifest.
fn first_block(node: &CliNode, db: CoreId) -> Result<(Option<Bytes>, Option<Manifest>), Error> {
    node.with_endpoint(move |ep| {
        ep.log(db).map_or((None, None), |log| {
            (log.get(0).ok().flatten(), log.manifest().cloned())
        })
    })
    .map_err(|e| Error::Failed(format!("the clone failed: {e}")))
}

/// True if `block` is the header JS hyperdrive writes (a hyperbee header with metadata).
fn is_drive_header(block: &Bytes) -> bool {
    Header::decode(block).is_ok_and(|h| h.is_hyperbee() && h.metadata.is_some())
}

/// The blobs core of the drive whose db core `db` (key `key`) was just cloned, added to
/// `node` from `store` (created there if new); `None` if the core is not a drive.
///
/// # Errors
/// `--paths` on a core that is not a drive (usage); storage failures.
pub(crate) fn clone_blobs(
    node: &CliNode,
    store: &Store,
    dir: &Path,
    db: CoreId,
    key: &[u8; 32],
    sparse: bool,
) -> Result<Option<CoreId>, Error> {
    let (block, manifest) = first_block(node, db)?;
    let content = match (&block, &manifest) {
        (Some(b), Some(m)) if is_drive_header(b) => content_core(m, key),
        _ => None,
    };
    let Some((content_manifest, content_key)) = content else {
        if sparse {
            return Err(Error::Usage(format!(
                "--paths is for drives, and core {} is not one (its block 0 is not a \
                 hyperdrive's hyperbee header)",
                ferrocore::id::core_id(key)
            )));
        }
        return Ok(None);
    };
    let options = LogOptions {
        key: Some(content_key),
        manifest: Some(content_manifest),
        ..LogOptions::default()
    };
    let log = Log::open(store.core(&hash::discovery_key(&content_key)), options)
        .map_err(|e| core_error(dir, e))?;
    node.add_core(log)
        .map(Some)
        .map_err(|e| Error::Failed(format!("the clone failed: {e}")))
}

/// Downloads the blobs of `paths` (files, or folders: every file under them) into the
/// blobs core; answers how many blobs blocks they have.
pub(crate) fn download_paths(
    node: &CliNode,
    dir: &Path,
    (db, blobs): (CoreId, CoreId),
    paths: &[String],
    timeout: Option<Duration>,
) -> Result<u64, Error> {
    let options = DriveOptions {
        timeout,
        fetch: true,
        ..DriveOptions::default()
    };
    let drive = Drive::open(node, db, blobs, options).map_err(|e| drive_error(dir, e))?;
    let mut blocks = 0;
    for p in paths {
        blocks += drive.download(p).map_err(|e| drive_error(dir, e))?;
    }
    Ok(blocks)
}
