//! What point reads keep between reads of the same commit: its read transaction and the
//! records decoded from it.

use std::sync::Arc;

use crate::{chunk, node_page, record, ReadTable};

/// The read side of the last commit: its read transaction and the records decoded from it.
/// A commit empties both (before it starts and after it lands, under this lock), so a
/// cached record is never older than the committed state.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    pub(crate) table: Option<ReadTable>,
    /// Decoded records (see [`ReadCache`]).
    pub(crate) cache: ReadCache,
}

/// Records decoded by earlier reads of the last commit: serving blocks in order reads the
/// same block chunk and the same few node pages again and again, and decoding and
/// checksumming them each time was a third of a serving peer's work.
#[derive(Debug, Default)]
pub(crate) struct ReadCache {
    /// Node pages by (core, page number), boxed (a page is about 2.6 KiB, and the map moves
    /// its values when it grows). (foldhash: SipHash on these keys was 3% of a serving
    /// peer's work.)
    pub(crate) pages: std::collections::HashMap<
        record::MapKey,
        Box<node_page::NodePage>,
        foldhash::fast::RandomState,
    >,
    /// Block chunks, most recently used last.
    pub(crate) chunks: Vec<([u8; 32], Arc<chunk::Parsed>)>,
    /// Data-file bytes read ahead of a block (where they start, and the bytes), from the
    /// blocks after it in its chunk: see [`ReadCache::ahead_of`].
    pub(crate) ahead: Option<(u64, bytes::Bytes)>,
    /// Where the last block read ended in the data file: a read that starts there is
    /// sequential.
    pub(crate) last_end: Option<u64>,
}

impl ReadCache {
    /// Node pages kept (about 2.6 KiB each).
    const PAGES: usize = 1024;
    /// Block chunks kept (up to 2 KiB of table each).
    const CHUNKS: usize = 16;
    /// Bytes a sequential block read reads ahead, at most.
    pub(crate) const AHEAD: u64 = 64 << 10;

    /// The bytes at `offset .. offset + len` of the data file, if the last read ahead
    /// holds them.
    pub(crate) fn ahead_of(&self, offset: u64, len: usize) -> Option<bytes::Bytes> {
        let (at, bytes) = self.ahead.as_ref()?;
        let start = usize::try_from(offset.checked_sub(*at)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= bytes.len()).then(|| bytes.slice(start..end))
    }

    /// The cached node page `page` of `core`.
    pub(crate) fn page(&self, core: &[u8; 32], page: u64) -> Option<&node_page::NodePage> {
        self.pages
            .get(&record::MapKey::page(core, page))
            .map(|p| &**p)
    }

    /// Keeps a decoded node page.
    pub(crate) fn keep_page(&mut self, core: &[u8; 32], page: u64, p: node_page::NodePage) {
        if self.pages.len() >= Self::PAGES {
            self.pages.clear();
        }
        self.pages
            .insert(record::MapKey::page(core, page), Box::new(p));
    }

    /// The cached chunk of `core` holding block `index`, and the block's position in it.
    pub(crate) fn chunk(
        &mut self,
        core: &[u8; 32],
        index: u64,
    ) -> Option<(Arc<chunk::Parsed>, usize)> {
        let (at, j) = self
            .chunks
            .iter()
            .enumerate()
            .rev()
            .find_map(|(at, (c, p))| {
                (c == core)
                    .then(|| p.position(index))
                    .flatten()
                    .map(|j| (at, j))
            })?;
        let hit = self.chunks.remove(at);
        let parsed = Arc::clone(&hit.1);
        self.chunks.push(hit);
        Some((parsed, j))
    }

    /// Keeps a parsed chunk.
    pub(crate) fn keep_chunk(&mut self, core: &[u8; 32], p: Arc<chunk::Parsed>) {
        if self.chunks.len() >= Self::CHUNKS {
            self.chunks.remove(0);
        }
        self.chunks.push((*core, p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{disk, Store, StoreOptions};
    use bytes::Bytes;
    use ferrocore::storage::{Storage, WriteBatch};
    use std::path::Path;

    /// Blocks of 1000 to 1099 bytes, each filled with its index.
    fn run_block(i: u64) -> Bytes {
        Bytes::from(vec![i as u8; 1000 + i as usize])
    }

    /// A store (writes durable at once) holding blocks `0..n` in one chunk, and its path.
    fn store_with_run(dir: &Path, n: u64) -> (Store, std::path::PathBuf) {
        let path = dir.join("db");
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let mut batch = WriteBatch::new();
        for i in 0..n {
            batch.put_block(i, run_block(i));
        }
        store.core(&[5; 32]).write(batch).unwrap();
        (store, path)
    }

    #[test]
    fn blocks_read_in_order_come_from_one_read_ahead_and_a_commit_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_run(dir.path(), 100);
        let mut core = store.core(&[5; 32]);
        assert_eq!(core.block(0).unwrap(), Some(run_block(0)));
        assert!(
            store.reader().cache.ahead.is_none(),
            "a first read reads one block"
        );
        assert_eq!(core.block(1).unwrap(), Some(run_block(1)));
        let (at, run) = store.reader().cache.ahead.clone().expect("read ahead");
        assert!(run.len() as u64 <= ReadCache::AHEAD && run.len() > 40_000);
        for i in 2..100 {
            assert_eq!(core.block(i).unwrap(), Some(run_block(i)), "block {i}");
        }
        // Out of order: still right.
        for i in [7, 3, 99, 50, 51, 0] {
            assert_eq!(core.block(i).unwrap(), Some(run_block(i)), "block {i}");
        }
        // Read ahead again, then overwrite a block it holds: the commit forgets it.
        assert_eq!(core.block(60).unwrap(), Some(run_block(60)));
        assert_eq!(core.block(61).unwrap(), Some(run_block(61)));
        assert_ne!(store.reader().cache.ahead.as_ref().map(|a| a.0), Some(at));
        let mut batch = WriteBatch::new();
        batch.put_block(62, Bytes::from_static(b"new"));
        core.write(batch).unwrap();
        assert!(store.reader().cache.ahead.is_none());
        assert_eq!(
            core.block(62).unwrap().as_deref(),
            Some(&b"new"[..]),
            "not the bytes read ahead"
        );
    }

    #[test]
    fn reading_thousands_of_cores_keeps_a_bounded_cache() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            durability: crate::Durability::Eventual,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path().join("db"), options).unwrap();
        let n = 3000u32;
        let core = |i: u32| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.to_be_bytes());
            k
        };
        for i in 0..n {
            let mut batch = WriteBatch::new();
            batch
                .put_node(ferrocore::Node::new(0, 1, [1; 32]))
                .put_block(0, Bytes::from_static(b"b"));
            store.core(&core(i)).write(batch).unwrap();
        }
        store.flush().unwrap();
        for i in 0..n {
            let c = store.core(&core(i));
            assert!(c.node(0).unwrap().is_some());
            assert!(c.node(2).unwrap().is_none());
            assert_eq!(c.block(0).unwrap().as_deref(), Some(&b"b"[..]));
            let reader = store.reader();
            assert!(reader.cache.pages.len() <= ReadCache::PAGES);
            assert!(reader.cache.chunks.len() <= ReadCache::CHUNKS);
        }
    }

    #[test]
    fn damage_within_a_read_ahead_is_the_damaged_blocks_error_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (store, path) = store_with_run(dir.path(), 40);
        let data = disk::beside(&path, "-data");
        let start = |i: u64| (0..i).map(|j| 1000 + j).sum::<u64>();
        // A flipped byte in block 5, and (behind the open store's back) the file cut
        // inside block 30.
        let mut bytes = std::fs::read(&data).unwrap();
        bytes[start(5) as usize + 9] ^= 0x40;
        bytes.truncate(start(30) as usize + 10);
        std::fs::write(&data, &bytes).unwrap();
        let core = store.core(&[5; 32]);
        for round in 0..2 {
            for i in 0..40 {
                let read = core.block(i);
                if i == 5 || i >= 30 {
                    let err = read.expect_err("damaged block read as data");
                    assert_eq!(
                        err.kind,
                        ferrocore::storage::StorageErrorKind::Corrupt,
                        "round {round}, block {i}"
                    );
                } else {
                    assert_eq!(
                        read.unwrap(),
                        Some(run_block(i)),
                        "round {round}, block {i}"
                    );
                }
            }
        }
    }
}
