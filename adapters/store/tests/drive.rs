//! A Hyperdrive's cores in a store ([`Corestore::drive_cores`]): the store's own drive has
//! the drive key and content key JS `new Hyperdrive(store)` gives under the same primary
//! key; a JS reader and a ferrocore reader (whose blobs core follows from the db's
//! manifest once updated) both read it over the store's one connection.

use std::path::Path;
use std::time::Duration;

use ferrocore::replication::EndpointConfig;
use ferrocore_blocking::drive::{Drive, DriveOptions, PutOptions};
use ferrocore_blocking::{Blocking, Node};
use ferrocore_driver::{Error, StoreError};
use ferrocore_storage::{CoreStorage, Store, StoreOptions};
use ferrocore_store::{endpoint_config, Corestore, CorestoreOptions, GetOptions};
use ferrocore_tests::js::JsPeer;
use serde_json::json;

const T: Duration = Duration::from_secs(60);

fn rust_store(dir: &Path, primary: Option<[u8; 32]>) -> (Node<CoreStorage>, Corestore<Blocking>) {
    let node = Node::new(endpoint_config(EndpointConfig::default())).unwrap();
    let store = Store::open(dir.join("db"), StoreOptions::default()).unwrap();
    let mut options = CorestoreOptions::default();
    options.primary_key = primary;
    (
        node.clone(),
        Corestore::open((*node).clone(), store, options).unwrap(),
    )
}

#[test]
fn a_stores_drive_has_js_keys_and_is_read_by_js_and_by_a_ferrocore_clone() {
    let dir = tempfile::tempdir().unwrap();
    let (node, store) = rust_store(dir.path(), Some([7; 32]));
    let cores = store.drive_cores(None).unwrap();
    assert!(cores.db.writable && cores.blobs.writable);
    assert_eq!(
        store.drive_cores(None).unwrap(),
        cores,
        "the same cores again"
    );

    let mut js = JsPeer::spawn("drive-peer.mjs", &["--timeout", "120000"]);
    js.ok(
        json!({"op": "open", "primaryKey": hex::encode([7u8; 32])}),
        T,
    );
    let theirs = js.ok(json!({"op": "drive"}), T);
    assert_eq!(theirs["key"].as_str().unwrap(), hex::encode(cores.db.key));
    assert_eq!(
        theirs["contentKey"].as_str().unwrap(),
        hex::encode(cores.blobs.key)
    );
    js.finish();

    let drive = Drive::open(&node, cores.db.id, cores.blobs.id, DriveOptions::default()).unwrap();
    let data = vec![5u8; 150_000];
    drive
        .put("/docs/a.bin", data.clone().into(), PutOptions::default())
        .unwrap();
    let addr = node.listen("127.0.0.1:0").unwrap();

    // A JS reader: the store opens the blobs core for it on demand.
    let mut js = JsPeer::spawn("drive-peer.mjs", &["--timeout", "120000"]);
    js.ok(json!({"op": "open"}), T);
    js.ok(json!({"op": "connect", "port": addr.port()}), T);
    let key = hex::encode(cores.db.key);
    js.ok(json!({"op": "drive", "key": key, "update": true}), T);
    let got = js.ok(json!({"op": "checksum", "drive": 0}), T);
    assert_eq!(got["bytes"].as_u64(), Some(150_000));
    js.finish();

    // A ferrocore reader: the db by key, updated, then both cores.
    let dir2 = tempfile::tempdir().unwrap();
    let (node2, store2) = rust_store(dir2.path(), None);
    let db = store2.get(GetOptions::key(cores.db.key)).unwrap();
    match store2.drive_cores(Some(cores.db.key)) {
        Err(Error::Store(StoreError::Misuse(_))) => {}
        other => panic!("no manifest yet: {other:?}"),
    }
    node2.connect(addr).unwrap();
    node2.update(db.id, Some(T)).unwrap();
    let theirs = store2.drive_cores(Some(cores.db.key)).unwrap();
    assert_eq!(
        (theirs.db.key, theirs.blobs.key),
        (cores.db.key, cores.blobs.key)
    );
    assert!(!theirs.blobs.writable);
    let options = DriveOptions {
        timeout: Some(T),
        ..DriveOptions::default()
    };
    let clone = Drive::open(&node2, theirs.db.id, theirs.blobs.id, options).unwrap();
    clone.update().unwrap();
    assert_eq!(
        clone.get("/docs/a.bin").unwrap().as_deref(),
        Some(&data[..])
    );
}
