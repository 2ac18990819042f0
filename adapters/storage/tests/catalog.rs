//! The store's catalog: its primary key, the alias table, local slots, and which cores it
//! holds; kept across a reopen and across a power cut in every durability mode.

use bytes::Bytes;
use ferrocore::storage::{Storage, StorageErrorKind, WriteBatch};
use ferrocore_storage::sim::{CutModel, SimDisk};
use ferrocore_storage::{
    Alias, Durability, LocalScope, PrimaryKeyError, Store, StoreOptions, MAX_NAME_LEN,
};

const MODES: [Durability; 3] = [
    Durability::Immediate,
    Durability::Logged,
    Durability::Eventual,
];

fn options(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        ..StoreOptions::default()
    }
}

/// Writes a header and block 0 to core `dk`.
fn create_core(store: &Store, dk: &[u8; 32]) {
    let mut batch = WriteBatch::new();
    batch
        .put_header(Bytes::copy_from_slice(&dk[..]))
        .put_block(0, Bytes::from_static(b"block"));
    store.core(dk).write(batch).unwrap();
}

/// A new store in a new directory: the directory (deleted when dropped), the path, the store.
fn fresh(mode: Durability) -> (tempfile::TempDir, std::path::PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path, options(mode)).unwrap();
    (dir, path, store)
}

#[test]
fn the_first_primary_key_stays_and_another_is_refused() {
    for mode in MODES {
        let (_dir, path, store) = fresh(mode);
        assert_eq!(store.primary_key().unwrap(), None);
        assert_eq!(store.primary_key_or_insert([1; 32]).unwrap(), [1; 32]);
        assert_eq!(store.primary_key_or_insert([2; 32]).unwrap(), [1; 32]);
        drop(store);
        let store = Store::open(&path, options(mode)).unwrap();
        assert_eq!(store.primary_key().unwrap(), Some([1; 32]), "{mode:?}");
        store.set_primary_key([1; 32]).unwrap();
        assert_eq!(
            store.set_primary_key([3; 32]),
            Err(PrimaryKeyError::Differs)
        );
        assert_eq!(store.primary_key().unwrap(), Some([1; 32]));
    }
    // A store given its key before anything else.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("given"), StoreOptions::default()).unwrap();
    store.set_primary_key([7; 32]).unwrap();
    assert_eq!(store.primary_key_or_insert([8; 32]).unwrap(), [7; 32]);
}

#[test]
fn aliases_are_found_listed_by_namespace_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let (a, b, edge) = ([0xaa; 32], [0xab; 32], [0xff; 32]);
    let mut below_b = [0xaa; 32];
    below_b[31] = 0xff;
    assert_eq!(store.alias(&a, b"x").unwrap(), None);
    assert_eq!(store.insert_alias(&a, b"x", &[1; 32]).unwrap(), None);
    assert_eq!(store.insert_alias(&a, b"", &[2; 32]).unwrap(), None);
    assert_eq!(store.insert_alias(&a, b"x\0", &[3; 32]).unwrap(), None);
    assert_eq!(store.insert_alias(&b, b"x", &[4; 32]).unwrap(), None);
    assert_eq!(store.insert_alias(&edge, b"\xff", &[5; 32]).unwrap(), None);
    assert_eq!(store.insert_alias(&below_b, b"y", &[6; 32]).unwrap(), None);
    // The alias exists: reported, and left as it is.
    assert_eq!(
        store.insert_alias(&a, b"x", &[9; 32]).unwrap(),
        Some([1; 32])
    );
    assert_eq!(store.alias(&a, b"x").unwrap(), Some([1; 32]));
    assert_eq!(store.alias(&a, b"x\0").unwrap(), Some([3; 32]));
    assert_eq!(store.alias(&b, b"y").unwrap(), None);
    let names = |list: Vec<Alias>| -> Vec<(Vec<u8>, u8)> {
        list.into_iter()
            .map(|x| (x.name, x.discovery_key[0]))
            .collect()
    };
    assert_eq!(
        names(store.aliases_in(&a).unwrap()),
        vec![(vec![], 2), (b"x".to_vec(), 1), (b"x\0".to_vec(), 3)]
    );
    assert_eq!(
        names(store.aliases_in(&below_b).unwrap()),
        vec![(b"y".to_vec(), 6)]
    );
    assert_eq!(
        names(store.aliases_in(&b).unwrap()),
        vec![(b"x".to_vec(), 4)]
    );
    assert_eq!(
        names(store.aliases_in(&edge).unwrap()),
        vec![(vec![0xff], 5)]
    );
    assert!(store.aliases_in(&[0; 32]).unwrap().is_empty());
    let all = store.aliases().unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "sorted");
    let long = vec![0; MAX_NAME_LEN + 1];
    assert!(store.insert_alias(&a, &long, &[1; 32]).is_err());
    drop(store);
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    assert_eq!(store.aliases().unwrap(), all);
}

#[test]
fn cores_are_listed_with_their_aliases_and_local_slots_are_kept() {
    for mode in MODES {
        let (_dir, path, store) = fresh(mode);
        create_core(&store, &[1; 32]);
        create_core(&store, &[2; 32]);
        // A core with records but no header (a clone that has not started).
        let mut batch = WriteBatch::new();
        batch.put_bitfield_page(0, Bytes::from_static(b"p"));
        store.core(&[3; 32]).write(batch).unwrap();
        assert!(
            store.has_core(&[1; 32]).unwrap(),
            "{mode:?}: pending header"
        );
        assert!(!store.has_core(&[3; 32]).unwrap());
        assert!(!store.has_core(&[4; 32]).unwrap());
        store.insert_alias(&[0; 32], b"two", &[2; 32]).unwrap();
        store.insert_alias(&[9; 32], b"dangling", &[8; 32]).unwrap();
        let enc = LocalScope::Core([1; 32]);
        store.put_local(enc, b"encryption key", &[5; 32]).unwrap();
        store
            .put_local(LocalScope::Store, b"default core", &[1; 32])
            .unwrap();
        store
            .put_local(LocalScope::Core([2; 32]), b"gone", b"x")
            .unwrap();
        store
            .delete_local(LocalScope::Core([2; 32]), b"gone")
            .unwrap();
        drop(store);
        let store = Store::open(&path, options(mode)).unwrap();
        let listed: Vec<_> = (store.cores_with_aliases().unwrap().into_iter())
            .map(|c| (c.discovery_key, c.alias))
            .collect();
        let want_alias = Alias {
            namespace: [0; 32],
            name: b"two".to_vec(),
            discovery_key: [2; 32],
        };
        assert_eq!(
            listed,
            vec![
                ([1; 32], None),
                ([2; 32], Some(want_alias)),
                ([3; 32], None)
            ],
            "{mode:?}"
        );
        assert_eq!(
            store.local(enc, b"encryption key").unwrap(),
            Some(vec![5; 32])
        );
        assert_eq!(store.local(enc, b"other").unwrap(), None);
        assert_eq!(
            store.local(LocalScope::Store, b"default core").unwrap(),
            Some(vec![1; 32])
        );
        assert_eq!(
            store.local(LocalScope::Core([2; 32]), b"gone").unwrap(),
            None
        );
        // Slots of one scope are not another's.
        assert_eq!(
            store
                .local(LocalScope::Core([2; 32]), b"encryption key")
                .unwrap(),
            None
        );
        assert_eq!(
            store.local(LocalScope::Store, b"encryption key").unwrap(),
            None
        );
    }
}

#[test]
fn acknowledged_catalog_changes_survive_a_power_cut() {
    for (round, mode) in MODES.into_iter().cycle().take(30).enumerate() {
        for model in [CutModel::DropUnsynced, CutModel::Reorder] {
            let disk = SimDisk::new();
            let store = Store::open_simulated(&disk, "s/db", options(mode)).unwrap();
            store.primary_key_or_insert([round as u8; 32]).unwrap();
            let n = 1 + round as u8 % 7;
            for i in 0..n {
                create_core(&store, &[i; 32]);
                store.insert_alias(&[1; 32], &[i], &[i; 32]).unwrap();
                store
                    .put_local(LocalScope::Core([i; 32]), b"k", &[i, i])
                    .unwrap();
            }
            if mode == Durability::Logged {
                // Its contract: a power loss keeps only what a sync covered.
                store.flush().unwrap();
            }
            let disk = disk.power_cut(model, round as u64);
            drop(store);
            let store = Store::open_simulated(&disk, "s/db", options(mode)).unwrap();
            assert_eq!(store.primary_key().unwrap(), Some([round as u8; 32]));
            for i in 0..n {
                assert_eq!(
                    store.alias(&[1; 32], &[i]).unwrap(),
                    Some([i; 32]),
                    "{mode:?} {model:?} alias {i}"
                );
                assert_eq!(
                    store.local(LocalScope::Core([i; 32]), b"k").unwrap(),
                    Some(vec![i, i])
                );
            }
        }
    }
}

#[test]
fn a_damaged_catalog_value_is_corrupt_not_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let store = Store::open(&path, StoreOptions::default()).unwrap();
    let marker = [0x5a; 32];
    store.primary_key_or_insert(marker).unwrap();
    drop(store);
    // Flip a bit of the primary key where redb stored it; the store reopens (without page
    // checksums, so the flip reaches the value) and must not return the damaged key.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(32)
        .position(|w| w == marker)
        .expect("the key is in the file");
    bytes[at + 3] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(dir.path().join("db-sums")).unwrap();
    let no_check = StoreOptions {
        verify_on_open: false,
        ..StoreOptions::default()
    };
    let store = Store::open(&path, no_check).unwrap();
    let err = store.primary_key().unwrap_err();
    assert_eq!(err.kind, StorageErrorKind::Corrupt);
}
