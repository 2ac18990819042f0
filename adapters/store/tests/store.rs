//! The store API over a real database and a running node: names, namespaces, keys and
//! discovery keys, sessions and idle closing, exclusive cores, listing, remembered
//! encryption keys, finding peers, and the same store driven from Tokio.

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::hash::discovery_key;
use ferrocore::replication::EndpointConfig;
use ferrocore_blocking::{Blocking, Node};
use ferrocore_corestore::store::StoreConfig;
use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_driver::{Error, StoreError};
use ferrocore_storage::{CoreStorage, Store, StoreOptions};
use ferrocore_store::{endpoint_config, Corestore, CorestoreOptions, GetOptions};

fn open(dir: &Path, idle: Duration) -> (Node<CoreStorage>, Corestore<Blocking>) {
    let node = Node::new(endpoint_config(EndpointConfig::default())).unwrap();
    let store = Store::open(dir.join("db"), StoreOptions::default()).unwrap();
    let mut options = CorestoreOptions::default();
    options.primary_key = Some([3; 32]);
    options.registry = StoreConfig { idle_timeout: idle };
    let corestore = Corestore::open((*node).clone(), store, options).unwrap();
    (node, corestore)
}

fn open_cores(node: &Node<CoreStorage>) -> usize {
    node.with_endpoint(|ep| ep.cores().count()).unwrap()
}

fn refused(e: Error) -> StoreError {
    match e {
        Error::Store(e) => e,
        e => panic!("not a store error: {e}"),
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn names_keys_and_discovery_keys_find_the_same_core() {
    let t = tempfile::tempdir().unwrap();
    let (node, store) = open(t.path(), Duration::from_secs(60));
    let a = store.get(GetOptions::name("a")).unwrap();
    assert!(a.writable);
    assert_eq!(
        a.key,
        PrimaryKey::from_bytes([3; 32]).core_key(&Namespace::ROOT, "a")
    );
    assert_eq!(a.discovery_key, discovery_key(&a.key));
    // The same core, however it is named.
    assert_eq!(store.get(GetOptions::name("a")).unwrap().id, a.id);
    assert_eq!(store.get(GetOptions::key(a.key)).unwrap().id, a.id);
    assert_eq!(
        store
            .get(GetOptions::discovery_key(a.discovery_key))
            .unwrap()
            .id,
        a.id
    );
    assert_eq!(open_cores(&node), 1);
    // Namespaces give other cores; chained namespaces other ones again.
    let ns = store.namespace("app").unwrap();
    let b = ns.get(GetOptions::name("a")).unwrap();
    let c = ns
        .namespace("sub")
        .unwrap()
        .get(GetOptions::name("a"))
        .unwrap();
    assert!(a.key != b.key && b.key != c.key && a.key != c.key);
    assert_eq!(
        c.key,
        PrimaryKey::from_bytes([3; 32]).core_key(&Namespace::ROOT.child("app").child("sub"), "a")
    );
    // What cannot be.
    assert_eq!(
        refused(store.get(GetOptions::name("a").must_create()).unwrap_err()),
        StoreError::NameTaken("a".into())
    );
    assert_eq!(
        refused(store.get(GetOptions::name("nope").if_exists()).unwrap_err()),
        StoreError::NotFound
    );
    assert_eq!(
        refused(store.get(GetOptions::discovery_key([9; 32])).unwrap_err()),
        StoreError::NotHeld([9; 32])
    );
    // A core followed by key is created empty and read-only.
    let r = store.get(GetOptions::key([8; 32])).unwrap();
    assert!(!r.writable);
    assert_eq!(node.info(r.id).unwrap().length, 0);
    // Listing: every core, with its alias; a namespace's names.
    let all = store.list().unwrap();
    assert_eq!(all.len(), 4);
    let named: Vec<_> = all.iter().filter_map(|c| c.alias.clone()).collect();
    assert!(named.contains(&(Namespace::ROOT.0, "a".to_string())));
    assert!(named.contains(&(Namespace::ROOT.child("app").0, "a".to_string())));
    assert_eq!(
        ns.list_namespace().unwrap(),
        vec![("a".to_string(), b.discovery_key)]
    );
}

#[test]
fn idle_cores_close_and_sessions_release_what_they_opened() {
    let t = tempfile::tempdir().unwrap();
    let idle = Duration::from_millis(200);
    let (node, store) = open(t.path(), idle);
    let s1 = store.session().unwrap();
    let a = s1.get(GetOptions::name("a")).unwrap();
    node.append(a.id, vec![Bytes::from_static(b"kept")])
        .unwrap();
    let b = s1.get(GetOptions::name("b")).unwrap();
    // A released core stays open while another reference holds it...
    let s2 = store.session().unwrap();
    s2.get(GetOptions::name("a")).unwrap();
    s1.release(&a).unwrap();
    std::thread::sleep(idle * 3);
    assert_eq!(open_cores(&node), 2);
    // ...and closes once idle for the timeout after its last reference goes.
    s2.close().unwrap();
    wait_for("a to close", || {
        node.with_endpoint(move |ep| ep.find_core(&a.discovery_key).is_none())
            .unwrap()
    });
    assert!(node
        .with_endpoint(move |ep| ep.find_core(&b.discovery_key).is_some())
        .unwrap());
    // Reopening before the deadline keeps it open.
    s1.release(&b).unwrap();
    let again = s1.get(GetOptions::name("b")).unwrap();
    std::thread::sleep(idle * 3);
    assert_eq!(again.id, b.id, "the same open core, not a reopened one");
    // Dropping the session handle closes it; the data stays in the store.
    drop(s1);
    wait_for("every core to close", || open_cores(&node) == 0);
    let a2 = store.get(GetOptions::name("a")).unwrap();
    assert_ne!(a2.id, a.id);
    assert_eq!(
        node.get(a2.id, 0, None).unwrap(),
        Bytes::from_static(b"kept")
    );
}

#[test]
fn an_exclusive_core_has_one_holder_at_a_time() {
    let t = tempfile::tempdir().unwrap();
    let (_node, store) = open(t.path(), Duration::from_secs(60));
    let s1 = store.session().unwrap();
    let s2 = store.session().unwrap();
    s1.get(GetOptions::name("db").exclusive()).unwrap();
    assert_eq!(
        refused(s2.get(GetOptions::name("db").exclusive()).unwrap_err()),
        StoreError::Exclusive
    );
    // A plain get shares it.
    s2.get(GetOptions::name("db")).unwrap();
    s1.close().unwrap();
    s2.get(GetOptions::name("db").exclusive()).unwrap();
}

#[test]
fn an_encryption_key_is_remembered_across_opens() {
    let t = tempfile::tempdir().unwrap();
    let key = {
        let (node, store) = open(t.path(), Duration::from_secs(60));
        let c = store
            .get(GetOptions::name("secret").encryption_key([5; 32]))
            .unwrap();
        node.append(c.id, vec![Bytes::from_static(b"plaintext")])
            .unwrap();
        drop(store);
        drop(node.shutdown());
        c.key
    };
    let (node, store) = open(t.path(), Duration::from_secs(60));
    let c = store.get(GetOptions::key(key)).unwrap();
    assert_eq!(
        node.get(c.id, 0, None).unwrap(),
        Bytes::from_static(b"plaintext")
    );
    // Another key is refused; the right one, given again, is fine.
    assert!(matches!(
        refused(
            store
                .get(GetOptions::key(key).encryption_key([6; 32]))
                .unwrap_err()
        ),
        StoreError::Misuse(_)
    ));
    assert_eq!(
        store
            .get(GetOptions::key(key).encryption_key([5; 32]))
            .unwrap()
            .id,
        c.id
    );
}

#[test]
fn updates_wait_for_peers_only_while_finding_them() {
    let t = tempfile::tempdir().unwrap();
    let (node, store) = open(t.path(), Duration::from_secs(60));
    let c = store.get(GetOptions::key([7; 32])).unwrap();
    // No peer and nobody looking: the update ends at once.
    assert_eq!(node.update(c.id, Some(Duration::from_secs(10))).unwrap(), 0);
    // While finding peers it waits (here: until its own deadline).
    let scope = store.finding_peers().unwrap();
    let started = Instant::now();
    assert!(node.update(c.id, Some(Duration::from_millis(300))).is_err());
    assert!(started.elapsed() >= Duration::from_millis(250));
    // An update waiting when the scope ends, ends.
    let waiting = {
        let node = node.clone();
        std::thread::spawn(move || node.update(c.id, Some(Duration::from_secs(20))))
    };
    std::thread::sleep(Duration::from_millis(200));
    store.finding_peers_done(scope).unwrap();
    assert_eq!(waiting.join().unwrap().unwrap(), 0);
}

#[test]
fn the_same_store_runs_on_tokio() {
    let t = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let node = ferrocore_tokio::Node::new(endpoint_config(EndpointConfig::default())).unwrap();
        let db = Store::open(t.path().join("db"), StoreOptions::default()).unwrap();
        let store: Corestore<ferrocore_futures::Async> =
            Corestore::open((**node).clone(), db, CorestoreOptions::default()).unwrap();
        let c = store.get(GetOptions::name("t")).await.unwrap();
        node.append(c.id, vec![Bytes::from_static(b"tokio")])
            .await
            .unwrap();
        assert_eq!(
            node.get(c.id, 0, None).await.unwrap(),
            Bytes::from_static(b"tokio")
        );
        let ns = store.namespace("x").unwrap();
        assert_ne!(ns.get(GetOptions::name("t")).await.unwrap().key, c.key);
    });
}

#[test]
fn per_core_options_a_compat_core_and_a_given_manifest() {
    use ferrocore::keys::KeyPair;
    use ferrocore::manifest::{default_manifest, manifest_hash};
    let t = tempfile::tempdir().unwrap();
    let (node, store) = open(t.path(), Duration::from_secs(60));
    // JS `get({ key: publicKey, keyPair })`: a compat core, key = public key.
    let kp = KeyPair::from_seed(&[4; 32]);
    let c = store
        .get(GetOptions::key(kp.public_key).key_pair(kp.clone()))
        .unwrap();
    assert_eq!(c.key, kp.public_key);
    assert!(c.writable);
    assert!(node
        .with_endpoint(move |ep| ep.log(c.id).unwrap().compat())
        .unwrap());
    node.append(c.id, vec![Bytes::from_static(b"v10 style")])
        .unwrap();
    // A given manifest names the key; its signer's key pair writes.
    let kp2 = KeyPair::from_seed(&[5; 32]);
    let mut manifest = default_manifest(&kp2.public_key);
    manifest.quorum = 1;
    let key = manifest_hash(&manifest);
    let m = store
        .get(GetOptions::key(key).manifest(manifest).key_pair(kp2))
        .unwrap();
    assert_eq!(m.key, key);
    assert!(m.writable);
    assert!(!node
        .with_endpoint(move |ep| ep.log(m.id).unwrap().compat())
        .unwrap());
    assert_eq!(
        node.append(m.id, vec![Bytes::from_static(b"x")]).unwrap(),
        1
    );
}
