//! A store's read-only open replaying a write-ahead log of arbitrary record payloads
//! (well framed, so they reach the replay): the open and every read after it (primary
//! key, aliases, cores, local slots, a core's records) never panic, whatever the records
//! hold. With the first byte odd, the input is read as catalog operations of arbitrary
//! keys and values, encoded as the store encodes them: that replay must succeed, and the
//! catalog must hold what it says (a local slot put last reads back).
//!
//! The store replayed over is made once per process, in the temporary directory: a core
//! with a header, a block and a node, an alias, a local slot and a primary key.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use bytes::Bytes;
use ferrocore::storage::{Op, Storage, WriteBatch};
use ferrocore::Node;
use ferrocore_storage::fuzzing::{encode_wal_catalog, open_read_only_replaying, CatalogOp};
use ferrocore_storage::{LocalScope, Store, StoreOptions};

const CORE: [u8; 32] = [7; 32];
const NAMESPACE: [u8; 32] = [3; 32];

/// The template stores' directories: this name and the id of the process that made it.
const PREFIX: &str = "ferrocore-fuzz-replay-";

/// Removes the template stores of processes that are gone (where `/proc` tells).
fn remove_stale() {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The template store's database, made on first use.
fn template() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        remove_stale();
        let dir = std::env::temp_dir().join(format!("{PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let path = dir.join("store.db");
        let store = Store::open(&path, StoreOptions::default()).expect("a new store");
        let mut batch = WriteBatch::new();
        batch.push(Op::PutHeader(Bytes::from_static(b"header")));
        batch.push(Op::PutBlock(0, Bytes::from_static(b"block")));
        batch.push(Op::PutNode(Node::new(0, 5, [1; 32])));
        store.core(&CORE).write(batch).expect("a write");
        store
            .insert_alias(&NAMESPACE, b"name", &CORE)
            .expect("an alias");
        store
            .put_local(LocalScope::Core(CORE), b"tag", b"value")
            .expect("a slot");
        store.primary_key_or_insert([9; 32]).expect("a primary key");
        drop(store);
        path
    })
}

/// Reads everything a store user reads; errors are fine, panics are not.
fn read_all(store: &Store) {
    let _ = store.primary_key();
    let _ = store.aliases();
    let _ = store.aliases_in(&NAMESPACE);
    let _ = store.alias(&NAMESPACE, b"name");
    let _ = store.local(LocalScope::Store, b"tag");
    let _ = store.local(LocalScope::Core(CORE), b"tag");
    if let Ok(cores) = store.cores_with_aliases() {
        for c in cores.iter().take(4) {
            let core = store.core(&c.discovery_key);
            let _ = core.header();
            let _ = core.block(0);
            let _ = core.node(0);
            let _ = core.bitfield_pages();
            let _ = core.estimate();
        }
    }
}

/// Reads `n` bytes of `data`, after a u16 length.
fn field<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (len, rest) = data.split_first_chunk::<2>()?;
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (f, rest) = rest.split_at(len);
    *data = rest;
    Some(f)
}

/// Catalog operations of arbitrary keys and values.
fn catalog_ops(mut data: &[u8]) -> Vec<CatalogOp> {
    let mut ops = Vec::new();
    while let Some((&kind, rest)) = data.split_first() {
        data = rest;
        let (Some(key), Some(value)) = (field(&mut data), field(&mut data)) else {
            break;
        };
        let (key, value) = (key.to_vec(), value.to_vec());
        ops.push(match kind % 3 {
            0 => CatalogOp::Insert { key, value },
            1 => CatalogOp::Put { key, value },
            _ => CatalogOp::Delete { key },
        });
    }
    ops
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = template();
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let mut payloads = Vec::new();
        while payloads.len() < 8 {
            let Some(p) = field(&mut rest) else { break };
            payloads.push(p);
        }
        if let Ok(store) = open_read_only_replaying(path, StoreOptions::default(), &payloads) {
            read_all(&store);
        }
        return;
    }
    let ops = catalog_ops(rest);
    let payload = encode_wal_catalog(&ops);
    let store = open_read_only_replaying(path, StoreOptions::default(), &[&payload])
        .expect("valid catalog operations replay");
    read_all(&store);
    // The last put of a well-formed local slot key reads back.
    let last_slot = ops.iter().rev().find_map(|op| match op {
        CatalogOp::Put { key, value } if key.first() == Some(&3) && key.len() <= 256 => {
            Some((key, value))
        }
        _ => None,
    });
    if let Some((key, value)) = last_slot {
        let deleted_after = ops
            .iter()
            .rev()
            .take_while(|op| !matches!(op, CatalogOp::Put { key: k, .. } if k == key))
            .any(|op| matches!(op, CatalogOp::Delete { key: k } if k == key));
        if !deleted_after {
            assert_eq!(
                store
                    .local(LocalScope::Store, &key[1..])
                    .expect("a slot reads"),
                Some(value.clone())
            );
        }
    }
});
