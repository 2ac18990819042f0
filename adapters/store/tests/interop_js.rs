//! A ferrocore store against the real JS `corestore@7.12.5` (on `hypercore@11.37.1`;
//! `tests/js/corestore-peer.mjs`) over loopback TCP, both directions:
//!
//! | what | test |
//! |---|---|
//! | same primary key and names (and namespaces) give the same keys | `the_same_primary_key_and_names_give_the_same_keys` |
//! | a JS store of 50 named cores (some encrypted, some read sparsely) to ferrocore over one connection | `fifty_js_cores_replicate_to_ferrocore_over_one_connection` |
//! | a ferrocore store of 50 named cores to JS over one connection | `fifty_ferrocore_cores_replicate_to_js_over_one_connection` |
//! | a core held but not open is opened when the peer asks, on both sides | `held_cores_are_opened_on_demand_both_ways` |
//! | a core not held is rejected, and the application told | `unknown_cores_are_rejected_both_ways` |
//! | appends while connected reach the other side live | `appends_reach_the_other_side_live_both_ways` |

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::hash::discovery_key;
use ferrocore::replication::{EndpointConfig, Event};
use ferrocore_blocking::{Blocking, Node};
use ferrocore_storage::{CoreStorage, Store, StoreOptions};
use ferrocore_store::{endpoint_config, CoreRef, Corestore, CorestoreOptions, GetOptions};
use ferrocore_tests::js::{block_value, JsPeer};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);
const SIZE: usize = 1000;

/// A ferrocore store in `dir`, on a blocking node.
fn rust_store(dir: &Path, primary: Option<[u8; 32]>) -> (Node<CoreStorage>, Corestore<Blocking>) {
    let node = Node::new(endpoint_config(EndpointConfig::default())).unwrap();
    let store = Store::open(dir.join("db"), StoreOptions::default()).unwrap();
    let mut options = CorestoreOptions::default();
    options.primary_key = primary;
    let corestore = Corestore::open((*node).clone(), store, options).unwrap();
    (node, corestore)
}

fn js_peer() -> JsPeer {
    JsPeer::spawn("corestore-peer.mjs", &["--timeout", "120000"])
}

/// Sends `cmd` and waits for its reply (panicking on an error reply).
fn ask(js: &mut JsPeer, cmd: Value) -> Value {
    let id = js.send(cmd.clone());
    let reply = js.wait_for(T, |v| v.get("reply").is_some() && v["id"] == id);
    assert!(reply.get("error").is_none(), "{cmd} failed: {reply}");
    reply
}

fn h32(v: &Value) -> [u8; 32] {
    hex::decode(v.as_str().expect("hex"))
        .unwrap()
        .try_into()
        .unwrap()
}

fn ekey(i: usize) -> [u8; 32] {
    [i as u8 ^ 0x5a; 32]
}

fn read(node: &Node<CoreStorage>, core: &CoreRef, index: u64) -> Option<Vec<u8>> {
    let id = core.id;
    node.with_endpoint(move |ep| ep.log(id).unwrap().get(index).unwrap().map(|b| b.to_vec()))
        .unwrap()
}

#[test]
fn the_same_primary_key_and_names_give_the_same_keys() {
    let t = tempfile::tempdir().unwrap();
    let primary = [7u8; 32];
    let mut js = js_peer();
    ask(
        &mut js,
        json!({"op": "open", "primaryKey": hex::encode(primary)}),
    );
    let (node, store) = rust_store(t.path(), Some(primary));
    let cases: [(&[&str], &str); 5] = [
        (&[], "a"),
        (&[], "feed"),
        (&["x"], "b"),
        (&["x", "y"], "ünïcode name"),
        (&["app", "posts", "2026"], "entries"),
    ];
    for (ns, name) in cases {
        let reply = ask(&mut js, json!({"op": "get", "name": name, "namespace": ns}));
        let mut session = store.session().unwrap();
        for n in ns {
            session = session.namespace(n).unwrap();
        }
        let ours = session.get(GetOptions::name(name)).unwrap();
        assert_eq!(ours.key, h32(&reply["key"]), "{ns:?}/{name}");
        assert_eq!(ours.discovery_key, h32(&reply["discoveryKey"]));
        assert!(ours.writable && reply["writable"] == true);
    }
    // A store opened again keeps its primary key; another one is refused.
    drop(store);
    drop(node.shutdown());
    let (node, store) = rust_store(t.path(), None);
    assert_eq!(store.primary_key(), primary);
    drop(store);
    drop(node.shutdown());
    let node = Node::new(endpoint_config(EndpointConfig::default())).unwrap();
    let reopened = Store::open(t.path().join("db"), StoreOptions::default()).unwrap();
    let mut options = CorestoreOptions::default();
    options.primary_key = Some([8; 32]);
    let refused = Corestore::open((*node).clone(), reopened, options).unwrap_err();
    assert!(refused.to_string().contains("primary key"), "{refused}");
}

#[test]
fn fifty_js_cores_replicate_to_ferrocore_over_one_connection() {
    let t = tempfile::tempdir().unwrap();
    let mut js = js_peer();
    ask(&mut js, json!({"op": "open"}));
    let mut cores = Vec::new();
    for i in 0..50usize {
        let mut get = json!({"op": "get", "name": format!("core-{i}")});
        if i % 5 == 0 {
            get["encryptionKey"] = json!(hex::encode(ekey(i)));
        }
        let reply = ask(&mut js, get);
        let handle = reply["core"].as_u64().unwrap();
        ask(
            &mut js,
            json!({"op": "append", "core": handle, "count": 8, "blockSize": SIZE}),
        );
        cores.push((handle as usize, h32(&reply["key"])));
    }
    let port = ask(&mut js, json!({"op": "listen"}))["port"]
        .as_u64()
        .unwrap();

    let (node, store) = rust_store(t.path(), None);
    let mut ours = Vec::new();
    for (i, (_, key)) in cores.iter().enumerate() {
        let mut get = GetOptions::key(*key);
        if i % 5 == 0 {
            get = get.encryption_key(ekey(i));
        }
        ours.push(store.get(get).unwrap());
    }
    node.connect(("127.0.0.1", port as u16)).unwrap();
    for (i, core) in ours.iter().enumerate() {
        if i % 3 == 0 {
            // Sparse: one block only.
            let block = node.get(core.id, 5, Some(T)).unwrap();
            assert_eq!(block.to_vec(), block_value(cores[i].0, 5, SIZE), "core {i}");
        } else {
            node.download(core.id, 0, Some(8)).unwrap().wait().unwrap();
        }
    }
    for (i, core) in ours.iter().enumerate() {
        for index in 0..8u64 {
            let got = read(&node, core, index);
            if i % 3 == 0 && index != 5 {
                assert_eq!(got, None, "core {i} is read sparsely");
            } else {
                assert_eq!(
                    got,
                    Some(block_value(cores[i].0, index, SIZE)),
                    "core {i} block {index}"
                );
            }
        }
    }
    js.poll();
    let connections = js
        .seen
        .iter()
        .filter(|v| v["event"] == "connection")
        .count();
    assert_eq!(connections, 1, "one connection carried every core");
}

#[test]
fn fifty_ferrocore_cores_replicate_to_js_over_one_connection() {
    let t = tempfile::tempdir().unwrap();
    let (node, store) = rust_store(t.path(), None);
    let mut ours = Vec::new();
    for i in 0..50usize {
        let mut get = GetOptions::name(format!("core-{i}"));
        if i % 5 == 0 {
            get = get.encryption_key(ekey(i));
        }
        let core = store.get(get).unwrap();
        let blocks = (0..8)
            .map(|b| Bytes::from(block_value(i, b, SIZE)))
            .collect();
        assert_eq!(node.append(core.id, blocks).unwrap(), 8);
        ours.push(core);
    }
    let addr = node.listen("127.0.0.1:0").unwrap();

    let mut js = js_peer();
    ask(&mut js, json!({"op": "open"}));
    let mut handles = Vec::new();
    for (i, core) in ours.iter().enumerate() {
        let mut get = json!({"op": "get", "key": hex::encode(core.key), "sparse": i % 3 == 0});
        if i % 5 == 0 {
            get["encryptionKey"] = json!(hex::encode(ekey(i)));
        }
        handles.push(ask(&mut js, get)["core"].as_u64().unwrap());
    }
    ask(&mut js, json!({"op": "connect", "port": addr.port()}));
    for (i, h) in handles.iter().enumerate() {
        if i % 3 == 0 {
            let v = ask(&mut js, json!({"op": "getBlock", "core": h, "index": 2}));
            assert_eq!(h32_vec(&v["value"]), block_value(i, 2, SIZE), "core {i}");
            let info = ask(&mut js, json!({"op": "info", "core": h}));
            assert_eq!(info["contiguousLength"], 0, "core {i} read sparsely");
        } else {
            ask(
                &mut js,
                json!({"op": "download", "core": h, "start": 0, "end": 8}),
            );
            let v = ask(&mut js, json!({"op": "getBlock", "core": h, "index": 7}));
            assert_eq!(h32_vec(&v["value"]), block_value(i, 7, SIZE), "core {i}");
        }
    }
    let connections = js
        .seen
        .iter()
        .filter(|v| v["event"] == "connection")
        .count();
    assert_eq!(connections, 1);
}

fn h32_vec(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex value")).unwrap()
}

#[test]
fn held_cores_are_opened_on_demand_both_ways() {
    let t = tempfile::tempdir().unwrap();
    // A ferrocore store holding two cores, reopened: nothing is open.
    let (a, b) = {
        let (node, store) = rust_store(t.path(), None);
        let a = store.get(GetOptions::name("a")).unwrap();
        let b = store.get(GetOptions::name("b")).unwrap();
        for (i, c) in [a, b].iter().enumerate() {
            let blocks = (0..4)
                .map(|x| Bytes::from(block_value(10 + i, x, SIZE)))
                .collect();
            node.append(c.id, blocks).unwrap();
        }
        drop(node.shutdown());
        (a, b)
    };
    let (node, _store) = rust_store(t.path(), None);
    let events = node.events();
    assert_eq!(node.with_endpoint(|ep| ep.cores().count()).unwrap(), 0);
    let addr = node.listen("127.0.0.1:0").unwrap();
    let mut js = js_peer();
    ask(&mut js, json!({"op": "open"}));
    let h = ask(&mut js, json!({"op": "get", "key": hex::encode(b.key)}))["core"].clone();
    ask(&mut js, json!({"op": "connect", "port": addr.port()}));
    ask(
        &mut js,
        json!({"op": "download", "core": h, "start": 0, "end": 4}),
    );
    let v = ask(&mut js, json!({"op": "getBlock", "core": h, "index": 3}));
    assert_eq!(h32_vec(&v["value"]), block_value(11, 3, SIZE));
    // Only the core asked for was opened.
    let open: Vec<[u8; 32]> = node
        .with_endpoint(|ep| ep.cores().map(|c| *ep.log(c).unwrap().key()).collect())
        .unwrap();
    assert_eq!(open, vec![b.key]);
    assert!(!open.contains(&a.key));
    let (mut asked, mut rejected) = (false, false);
    while let Ok(e) = events.try_recv() {
        asked |= matches!(e, Event::UnknownCore { discovery_key, .. } if discovery_key == b.discovery_key);
        rejected |= matches!(e, Event::CoreRejected { .. });
    }
    assert!(
        asked && !rejected,
        "the store was asked for the core, and opened it"
    );

    // The other way: a JS store holding a core it has not opened.
    let jsdir = t.path().join("js");
    let mut js2 = js_peer();
    ask(&mut js2, json!({"op": "open", "dir": jsdir}));
    let c = ask(&mut js2, json!({"op": "get", "name": "c"}));
    let c_key = h32(&c["key"]);
    ask(
        &mut js2,
        json!({"op": "append", "core": c["core"], "count": 4, "blockSize": SIZE}),
    );
    let c_handle = c["core"].as_u64().unwrap() as usize;
    ask(&mut js2, json!({"op": "close"}));
    let mut js3 = js_peer();
    ask(&mut js3, json!({"op": "open", "dir": jsdir}));
    let port = ask(&mut js3, json!({"op": "listen"}))["port"]
        .as_u64()
        .unwrap();
    let t2 = tempfile::tempdir().unwrap();
    let (node2, store2) = rust_store(t2.path(), None);
    let core = store2.get(GetOptions::key(c_key)).unwrap();
    node2.connect(("127.0.0.1", port as u16)).unwrap();
    node2.download(core.id, 0, Some(4)).unwrap().wait().unwrap();
    assert_eq!(read(&node2, &core, 2), Some(block_value(c_handle, 2, SIZE)));
    js3.wait_for(T, |v| {
        v["event"] == "core-open" && v["discoveryKey"] == hex::encode(discovery_key(&c_key))
    });
}

#[test]
fn unknown_cores_are_rejected_both_ways() {
    let t = tempfile::tempdir().unwrap();
    let (node, store) = rust_store(t.path(), None);
    let events = node.events();
    let addr = node.listen("127.0.0.1:0").unwrap();
    let mut js = js_peer();
    ask(&mut js, json!({"op": "open"}));
    // JS follows a core ferrocore does not hold.
    let unknown = [0x42u8; 32];
    ask(&mut js, json!({"op": "get", "key": hex::encode(unknown)}));
    // ferrocore follows one JS does not hold.
    let other = store.get(GetOptions::key([0x24; 32])).unwrap();
    let port = ask(&mut js, json!({"op": "listen"}))["port"]
        .as_u64()
        .unwrap();
    ask(&mut js, json!({"op": "connect", "port": addr.port()}));
    let dk = discovery_key(&unknown);
    let until = Instant::now() + T;
    loop {
        match events.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Event::CoreRejected { discovery_key, .. }) if discovery_key == dk => break,
            Ok(_) => {}
            Err(e) => panic!("no CoreRejected event: {e}"),
        }
    }
    // ferrocore opened nothing for it.
    assert_eq!(node.with_endpoint(|ep| ep.cores().count()).unwrap(), 1);
    node.connect(("127.0.0.1", port as u16)).unwrap();
    js.wait_for(T, |v| {
        v["event"] == "reject" && v["discoveryKey"] == hex::encode(other.discovery_key)
    });
}

#[test]
fn appends_reach_the_other_side_live_both_ways() {
    let t = tempfile::tempdir().unwrap();
    let mut js = js_peer();
    ask(&mut js, json!({"op": "open"}));
    let w = ask(&mut js, json!({"op": "get", "name": "live"}));
    let port = ask(&mut js, json!({"op": "listen"}))["port"]
        .as_u64()
        .unwrap();
    let (node, store) = rust_store(t.path(), None);
    let ours = store.get(GetOptions::name("ours")).unwrap();
    let theirs = store.get(GetOptions::key(h32(&w["key"]))).unwrap();
    let js_reader = ask(
        &mut js,
        json!({"op": "get", "key": hex::encode(ours.key), "sparse": false}),
    )["core"]
        .clone();
    node.connect(("127.0.0.1", port as u16)).unwrap();
    // JS appends after the connection is up; ferrocore waits for the block.
    let wait = {
        let node = node.clone();
        let id = theirs.id;
        std::thread::spawn(move || node.get(id, 4, Some(T)))
    };
    ask(
        &mut js,
        json!({"op": "append", "core": w["core"], "values": ["alive", "and", "well", "still", "here"], "encoding": "utf8"}),
    );
    assert_eq!(&wait.join().unwrap().unwrap()[..], b"here");
    // ferrocore appends; the JS reader (downloading everything, live) gets it.
    node.append(ours.id, vec![Bytes::from_static(b"from rust")])
        .unwrap();
    js.wait_for(T, |v| {
        v["event"] == "download" && v["core"] == js_reader && v["index"] == 0
    });
    let v = ask(
        &mut js,
        json!({"op": "getBlock", "core": js_reader, "index": 0, "encoding": "utf8"}),
    );
    assert_eq!(v["value"], "from rust");
}
