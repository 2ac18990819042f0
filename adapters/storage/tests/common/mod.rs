//! Shared by the storage tests that reopen a log: checking it through a reader that knows
//! nothing but the key.

use ferrocore::log::{Applied, Log, LogOptions};
use ferrocore::storage::{MemoryStorage, Storage};
use ferrocore::wire::{Request, RequestBlock, RequestUpgrade};
use ferrocore::Error;

/// A fresh reader that knows only `key` applies `log`'s signed upgrade (signature and
/// manifest) and the proof of each block in `which` (Merkle paths), and must then hold the
/// writer's roots, signature and byte length and read `expected(i)` for each block. Typed
/// errors (a damaged node, say) are returned; wrong data panics.
#[allow(dead_code)]
pub fn verify_through_reader<S: Storage>(
    log: &Log<S>,
    key: [u8; 32],
    which: impl IntoIterator<Item = u64>,
    expected: impl Fn(u64) -> Vec<u8>,
) -> Result<(), Error> {
    let length = log.length();
    let options = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let mut reader = Log::open(MemoryStorage::new(), options)?;
    if length == 0 {
        return Ok(());
    }
    let upgrade = log.proof(&Request {
        fork: log.fork(),
        upgrade: Some(RequestUpgrade { start: 0, length }),
        manifest: true,
        ..Request::default()
    })?;
    assert_eq!(
        reader.apply_proof(&upgrade)?,
        Applied::Stored {
            block: None,
            upgrade: Some(length)
        },
        "the signed upgrade to {length} verifies"
    );
    assert_eq!(reader.roots(), log.roots());
    assert_eq!(reader.signature(), log.signature());
    assert_eq!(reader.byte_length(), log.byte_length());
    for i in which {
        let proof = log.proof(&Request {
            fork: log.fork(),
            block: Some(RequestBlock {
                index: i,
                nodes: reader.missing_nodes(2 * i)?,
            }),
            ..Request::default()
        })?;
        assert_eq!(
            reader.apply_proof(&proof)?,
            Applied::Stored {
                block: Some(i),
                upgrade: None
            },
            "block {i} of {length} verifies"
        );
        assert_eq!(
            reader.get(i)?.as_deref(),
            Some(&expected(i)[..]),
            "proved block {i}"
        );
    }
    Ok(())
}

/// A new, empty store named `name` in a new directory (deleted when dropped).
#[allow(dead_code)]
pub fn new_store(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let options = ferrocore_storage::StoreOptions::default();
    drop(ferrocore_storage::Store::open(&path, options).unwrap());
    (dir, path)
}
