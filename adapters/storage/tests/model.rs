//! The redb store behaves like `MemoryStorage`: random batches, reopen, many cores, durability.

use bytes::Bytes;
use ferrocore::storage::{MemoryStorage, Op, Storage, WriteBatch};
use ferrocore::Node;
use ferrocore_storage::{CoreStorage, Durability, Store, StoreOptions};
use proptest::prelude::*;

/// Node indices span several node pages (64 nodes each).
const NODES: u64 = 200;

/// Block indices read back (runs of tiny blocks reach past a chunk's 256).
const BLOCKS: u64 = 340;

fn op() -> impl Strategy<Value = Op> {
    let idx = 0u64..40;
    let node = 0u64..NODES;
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|h| Op::PutHeader(Bytes::from(h))),
        (node.clone(), any::<u64>(), any::<[u8; 32]>())
            .prop_map(|(i, s, h)| Op::PutNode(Node::new(i, s, h))),
        (node.clone(), node.clone()).prop_map(|(a, b)| Op::DeleteNodes(a..b)),
        Just(Op::DeleteNodes(0..u64::MAX)),
        (idx.clone(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(i, v)| Op::PutBlock(i, Bytes::from(v))),
        (idx.clone(), idx.clone()).prop_map(|(a, b)| Op::DeleteBlocks(a..b)),
        (0u64..4, any::<u8>())
            .prop_map(|(p, b)| Op::PutBitfieldPage(p, Bytes::from(vec![b; 4096]))),
        (0u64..4).prop_map(Op::DeleteBitfieldPage),
        Just(Op::DeleteBlocks(0..u64::MAX)),
    ]
}

/// Consecutive blocks, as an append writes them: a few of up to 20 KiB, or up to 300 tiny
/// ones, so runs fill chunks (256 blocks) and split across them.
fn block_run() -> impl Strategy<Value = Vec<Op>> {
    let blocks = prop_oneof![
        proptest::collection::vec((0usize..20_000, any::<u8>()), 1..12),
        proptest::collection::vec((0usize..8, any::<u8>()), 1..300),
    ];
    (0u64..40, blocks).prop_map(|(start, blocks)| {
        (start..)
            .zip(blocks)
            .map(|(i, (len, fill))| Op::PutBlock(i, Bytes::from(vec![fill; len])))
            .collect()
    })
}

/// Nodes with consecutive indices, as appends write them over time: fills node pages.
fn node_run() -> impl Strategy<Value = Vec<Op>> {
    (0u64..NODES, 1u64..130, any::<u8>()).prop_map(|(start, n, fill)| {
        (start..(start + n).min(NODES))
            .map(|i| Op::PutNode(Node::new(i, u64::from(fill), [fill; 32])))
            .collect()
    })
}

fn batch() -> impl Strategy<Value = WriteBatch> {
    let step = prop_oneof![
        3 => op().prop_map(|o| vec![o]),
        1 => block_run(),
        1 => node_run(),
    ];
    proptest::collection::vec(step, 0..12).prop_map(|steps| {
        let mut b = WriteBatch::new();
        for o in steps.into_iter().flatten() {
            b.push(o);
        }
        b
    })
}

/// Every read of `a` equals the same read of `b`.
fn assert_same(a: &impl Storage, b: &impl Storage) {
    assert_eq!(a.header().unwrap(), b.header().unwrap());
    for i in 0..NODES + 1 {
        assert_eq!(a.node(i).unwrap(), b.node(i).unwrap(), "node {i}");
    }
    for i in 0..BLOCKS {
        assert_eq!(a.block(i).unwrap(), b.block(i).unwrap(), "block {i}");
    }
    assert_eq!(a.bitfield_pages().unwrap(), b.bitfield_pages().unwrap());
    assert_eq!(a.estimate().unwrap(), b.estimate().unwrap());
}

fn eventual() -> StoreOptions {
    StoreOptions {
        durability: Durability::Eventual,
        ..StoreOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matches_memory_storage_and_survives_reopen(
        batches in proptest::collection::vec(batch(), 1..8),
        durability in prop_oneof![
            Just(Durability::Eventual),
            Just(Durability::Immediate),
            Just(Durability::Logged),
        ],
        // Tiny groups freeze one at almost every write: reads then go through a group being
        // committed in the background.
        group_bytes in prop_oneof![Just(ferrocore_storage::DEFAULT_GROUP_BYTES), 1usize..30_000],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let mut model = MemoryStorage::new();
        {
            let options = StoreOptions { durability, group_bytes, ..StoreOptions::default() };
            let store = Store::open(&path, options).unwrap();
            let mut core = store.core(&[3; 32]);
            // A neighbour core whose records sit on both sides of ours in key order.
            let mut before = store.core(&[2; 32]);
            let mut after = store.core(&[4; 32]);
            let mut neighbour = WriteBatch::new();
            for i in 0..BLOCKS.max(NODES + 1) {
                neighbour.put_block(i, Bytes::from(vec![i as u8; 3])).put_node(Node::new(i, 1, [1; 32]));
            }
            before.write(neighbour.clone()).unwrap();
            after.write(neighbour.clone()).unwrap();
            let mut neighbour_model = MemoryStorage::new();
            neighbour_model.write(neighbour).unwrap();
            for b in batches {
                model.write(b.clone()).unwrap();
                core.write(b).unwrap();
                assert_same(&core, &model);
            }
            assert_same(&before, &neighbour_model);
            assert_same(&after, &neighbour_model);
            store.flush().unwrap();
        }
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        assert_same(&store.core(&[3; 32]), &model);
    }
}

fn append(core: &mut CoreStorage, i: u64) {
    let mut b = WriteBatch::new();
    b.put_block(i, Bytes::from(i.to_le_bytes().to_vec()))
        .put_node(Node::new(2 * i, 8, [i as u8; 32]))
        .put_header(Bytes::from((i + 1).to_le_bytes().to_vec()));
    core.write(b).unwrap();
}

#[test]
fn many_cores_share_one_file_and_stay_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let keys: Vec<[u8; 32]> = (0..50u8).map(|i| [i.wrapping_mul(37); 32]).collect();
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        assert!(store.cores().unwrap().is_empty());
        for k in &keys {
            let mut c = store.core(k);
            for i in 0..5 {
                append(&mut c, i);
            }
        }
        // Clearing everything of one core leaves the others whole.
        let mut victim = store.core(&keys[7]);
        let mut b = WriteBatch::new();
        b.delete_blocks(0..u64::MAX).delete_nodes(0..u64::MAX);
        victim.write(b).unwrap();
        assert_eq!(victim.estimate().unwrap().blocks, 0);
        assert_eq!(victim.block(0).unwrap(), None);
    }
    let mut files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "s.redb",
            "s.redb-data",
            "s.redb-gen",
            "s.redb-sums",
            "s.redb-wal"
        ],
        "one database, its data file, its generation counter, its page checksums and its \
         write-ahead log per store, whatever the number of cores"
    );
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(store.cores().unwrap(), sorted);
    for (n, k) in keys.iter().enumerate() {
        let c = store.core(k);
        let e = c.estimate().unwrap();
        if n == 7 {
            assert_eq!((e.blocks, e.nodes), (0, 0));
            continue;
        }
        assert_eq!((e.blocks, e.block_bytes, e.nodes), (5, 40, 5));
        for i in 0..5 {
            assert_eq!(
                c.block(i).unwrap().unwrap(),
                Bytes::from(i.to_le_bytes().to_vec())
            );
            assert_eq!(
                c.node(2 * i).unwrap(),
                Some(Node::new(2 * i, 8, [i as u8; 32]))
            );
        }
        assert_eq!(
            c.header().unwrap().unwrap(),
            Bytes::from(5u64.to_le_bytes().to_vec())
        );
    }
}

#[test]
fn eventual_writes_are_visible_and_flush_makes_them_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, eventual()).unwrap();
        assert_eq!(store.options().durability, Durability::Eventual);
        let mut c = store.core(&[9; 32]);
        for i in 0..20 {
            append(&mut c, i);
            assert_eq!(c.estimate().unwrap().blocks, i + 1);
        }
        store.flush().unwrap();
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.options().durability, Durability::Immediate);
    let c = store.core(&[9; 32]);
    assert_eq!(c.estimate().unwrap().blocks, 20);
    assert!(c.block(19).unwrap().is_some());
}

#[test]
fn groups_committed_in_the_background_stay_readable_and_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let options = StoreOptions {
        group_bytes: 200,
        ..eventual()
    };
    let mut model = MemoryStorage::new();
    {
        let store = Store::open(&path, options).unwrap();
        let mut c = store.core(&[9; 32]);
        for i in 0..600u64 {
            let mut b = WriteBatch::new();
            b.put_block(i, Bytes::from(vec![i as u8; 100]))
                .put_node(Node::new(2 * i, 8, [i as u8; 32]))
                .put_header(Bytes::from(i.to_le_bytes().to_vec()));
            if i % 97 == 96 {
                // A range delete commits at once, behind the group in flight.
                b.delete_blocks(i - 10..i - 5);
            }
            model.write(b.clone()).unwrap();
            c.write(b).unwrap();
            // The newest block (active group), one a group back (frozen, maybe still
            // committing) and one long committed.
            for j in [i, i.saturating_sub(3), i / 2] {
                assert_eq!(
                    c.block(j).unwrap(),
                    model.block(j).unwrap(),
                    "block {j} after {i}"
                );
                assert_eq!(c.node(2 * j).unwrap(), model.node(2 * j).unwrap());
            }
            assert_eq!(c.header().unwrap(), model.header().unwrap());
        }
        assert_same(&c, &model);
        // Dropped without flush: the closing commit takes the frozen and the active group.
    }
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_same(&store.core(&[9; 32]), &model);
}

#[test]
fn a_store_is_locked_against_a_second_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let _a = Store::open(&path, StoreOptions::default()).unwrap();
    let e = Store::open(&path, StoreOptions::default()).unwrap_err();
    assert_eq!(e.kind, ferrocore::storage::StorageErrorKind::Io);
}

#[test]
fn empty_batches_and_unknown_cores_read_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.redb"), StoreOptions::default()).unwrap();
    let mut c = store.core(&[1; 32]);
    c.write(WriteBatch::new()).unwrap();
    assert_eq!(c.header().unwrap(), None);
    assert_eq!(c.estimate().unwrap(), Default::default());
    assert!(store.cores().unwrap().is_empty());
    assert_eq!(c.discovery_key(), &[1; 32]);
}

#[test]
fn the_write_ahead_log_is_checkpointed_and_belongs_to_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let wal = dir.path().join("s.redb-wal");
    let block = |i: u64| Bytes::from(vec![(i % 251) as u8; 64 * 1024]);
    {
        let store = Store::open(&path, StoreOptions::default()).unwrap();
        let mut core = store.core(&[4; 32]);
        // 40 MiB of durable writes: past one checkpoint (32 MiB of log).
        for b in 0..40u64 {
            let mut batch = WriteBatch::new();
            for i in b * 16..(b + 1) * 16 {
                batch.put_block(i, block(i));
            }
            core.write(batch).unwrap();
        }
        let logged = std::fs::metadata(&wal).unwrap().len();
        assert!(
            logged < 16 << 20,
            "the log was emptied at the checkpoint ({logged} bytes)"
        );
    }
    // Closed cleanly: the log is empty and the database holds everything.
    assert!(std::fs::metadata(&wal).unwrap().len() < 64);
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let core = store.core(&[4; 32]);
    for i in (0..640).step_by(7) {
        assert_eq!(core.block(i).unwrap(), Some(block(i)), "block {i}");
    }
    assert_eq!(core.estimate().unwrap().blocks, 640);
    // The store's last handle (a store is one writer's, until it closes).
    drop((core, store));

    // A log left beside a deleted database is not replayed into its successor.
    std::fs::remove_file(&path).unwrap();
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert!(store.cores().unwrap().is_empty());
}

/// Bytes of the data file the file system holds (holes punched are not counted).
#[cfg(target_os = "linux")]
fn allocated(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().blocks() * 512
}

#[cfg(target_os = "linux")]
#[test]
fn cleared_blocks_give_their_space_back_and_their_neighbours_stay_whole() {
    for durability in [Durability::Immediate, Durability::Eventual] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let data = dir.path().join("s.redb-data");
        let block = |i: u64| Bytes::from(vec![(i % 251) as u8 + 1; 16 * 1024]);
        let options = StoreOptions {
            durability,
            ..StoreOptions::default()
        };
        {
            let store = Store::open(&path, options).unwrap();
            let mut core = store.core(&[5; 32]);
            // 8 MiB in batches of 32 blocks (several group commits): chunks of 32 that the
            // clear below cuts.
            for b in 0..16u64 {
                let mut batch = WriteBatch::new();
                for i in b * 32..(b + 1) * 32 {
                    batch.put_block(i, block(i));
                }
                core.write(batch).unwrap();
            }
            store.flush().unwrap();
            let before = allocated(&data);
            let mut clear = WriteBatch::new();
            clear.delete_blocks(10..500);
            core.write(clear).unwrap();
            // Holes are punched once a durable commit no longer refers to the bytes:
            // at once with `Immediate`, at the next flush with `Eventual`.
            store.flush().unwrap();
            let after = allocated(&data);
            let freed = before.saturating_sub(after);
            assert!(
                freed >= 480 * 16 * 1024,
                "{durability:?}: {freed} of {} bytes given back",
                490 * 16 * 1024
            );
            assert_eq!(core.estimate().unwrap().blocks, 512 - 490);
        }
        let store = Store::open(&path, options).unwrap();
        let core = store.core(&[5; 32]);
        for i in 0..512 {
            let want = (!(10..500).contains(&i)).then(|| block(i));
            assert_eq!(core.block(i).unwrap(), want, "{durability:?}: block {i}");
        }
    }
}
