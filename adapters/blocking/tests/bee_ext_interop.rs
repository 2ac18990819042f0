//! The `hyperbee` extension against JS hyperbee 2.27.3 (`tests/js/bee-peer.mjs`: corestore
//! 7.12.5 on hypercore 11.37.1), live over loopback TCP:
//! - a JS reader of a ferrocore bee sends `Get{version, key}` when its `get` waits (the
//!   bytes our requester builds), and each request gets one `Cache` reply from our
//!   responder (counted on the JS side);
//! - a ferrocore reader of a JS bee sends its `Get`, receives JS's `Cache` replies, which
//!   name blocks our responder names for the same request, and holds them.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{core_key, default_manifest};
use ferrocore::replication::{CoreId, EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore::wire::bee::Extension;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::bee::{Bee, BeeOptions, Op, RangeOptions};
use ferrocore_blocking::{Events, Node};
use ferrocore_hyperbee::ext::{self, Responder};
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_tests::js::JsPeer;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);
const KEYS: u64 = 3000;

/// `key(i)` and `value(i)` of `tests/js/bee-data.mjs`.
fn key(i: u64) -> String {
    format!("key-{i:06}")
}

fn value(i: u64) -> String {
    format!("value-{i:06}-{}", "x".repeat((i % 23) as usize))
}

fn bee_peer() -> JsPeer {
    let mut js = JsPeer::spawn("bee-peer.mjs", &["--timeout", "120000"]);
    js.ok(json!({"op": "open"}), T);
    js
}

/// The `hyperbee` messages a node receives until none came for `quiet`.
fn messages(events: &Events, quiet: Duration) -> Vec<Extension> {
    let mut out = Vec::new();
    while let Ok(e) = events.recv_timeout(quiet) {
        if let Event::Extension { name, message, .. } = e {
            if name == ext::NAME {
                out.push(ext::decode_message(&message).expect("a hyperbee message"));
            }
        }
    }
    out
}

/// Our responder's blocks for `request` over a bee of `blocks`.
fn our_answer(request: &Extension, blocks: &[Bytes]) -> Vec<u64> {
    let length = blocks.len() as u64;
    Responder::for_message(request, length)
        .into_iter()
        .flat_map(|r| r.run(|s| blocks.get(s as usize).cloned()))
        .flat_map(|c| c.blocks)
        .collect()
}

#[test]
fn a_js_reader_of_a_ferrocore_bee_gets_our_cache_replies() {
    let mut model = MemBee::new();
    let order: Vec<u64> = (1..=KEYS).map(|i| (i * 7919) % KEYS + 1).collect();
    for chunk in order.chunks(100) {
        let ops = chunk
            .iter()
            .map(|&i| Op::put(key(i), Some(Bytes::from(value(i)))));
        model.batch(ops.collect()).unwrap();
    }
    let blocks = model.blocks;
    let length = blocks.len() as u64;
    let key_pair = KeyPair::from_seed(&[31; 32]);
    let core_key = core_key(&default_manifest(&key_pair.public_key), false).unwrap();
    let options = LogOptions {
        key_pair: Some(key_pair),
        key: Some(core_key),
        ..LogOptions::default()
    };
    let mut log = Log::open(MemoryStorage::new(), options).unwrap();
    log.append_bytes(blocks.clone()).unwrap();
    let writer = Node::new(EndpointConfig::default()).unwrap();
    let core = writer.add_core(log).unwrap();
    let _bee = Bee::open(&writer, core, BeeOptions::default()).unwrap();
    let events = writer.events();
    let addr = writer.listen("127.0.0.1:0").unwrap();

    let mut js = bee_peer();
    js.ok(json!({"op": "connect", "port": addr.port()}), T);
    let b = json!({"op": "bee", "key": hex::encode(core_key), "update": true});
    assert_eq!(js.ok(b, T)["length"].as_u64(), Some(length));
    let info = |js: &mut JsPeer| js.ok(json!({"op": "info", "bee": 0}), T);
    let rx0 = info(&mut js)["extensionRx"].as_u64().unwrap();
    let asked: Vec<u64> = vec![1234, 7, 2999, 1500, 42];
    for &i in &asked {
        let got = js.ok(json!({"op": "get", "bee": 0, "key": key(i)}), T);
        assert_eq!(got["value"].as_str(), Some(value(i).as_str()), "{got}");
    }
    let requests = messages(&events, Duration::from_millis(500));
    let after = info(&mut js);
    let rx = after["extensionRx"].as_u64().unwrap() - rx0;
    eprintln!(
        "JS reader: {} gets, {} Get requests, {rx} Cache replies received, {} blocks downloaded of {length}",
        asked.len(),
        requests.len(),
        after["downloaded"]
    );
    // The first get waited (the bee was empty): its request is the bytes we would send.
    assert_eq!(
        requests.first(),
        Some(&ext::get_request(length, &Bytes::from(key(asked[0]))))
    );
    for r in &requests {
        let g = r.get.as_ref().expect("JS sends get requests");
        assert_eq!(g.version, Some(length));
        assert!(asked
            .iter()
            .any(|&i| g.key.as_deref() == Some(key(i).as_bytes())));
        // A path is far below 128 blocks: one reply each.
        let ours = our_answer(r, &blocks);
        assert!(!ours.is_empty() && ours.len() < ext::FLUSH_BATCH);
    }
    assert_eq!(rx, requests.len() as u64, "one Cache reply per request");

    // A range that waits sends its iterator snapshot; we answer it.
    let range = json!({"op": "range", "bee": 0, "gte": key(2000), "limit": 300});
    let got = js.ok(range, T);
    assert_eq!(got["entries"].as_array().unwrap().len(), 300);
    let requests = messages(&events, Duration::from_millis(500));
    let rx2 = info(&mut js)["extensionRx"].as_u64().unwrap() - rx0 - rx;
    eprintln!(
        "JS range: {} iterator requests, {rx2} Cache replies",
        requests.len()
    );
    assert!(!requests.is_empty());
    for r in &requests {
        let it = r.iterator.as_ref().expect("JS sends iterator requests");
        assert_eq!(it.version, Some(length));
        assert_eq!(it.gte.as_deref(), Some(key(2000).as_bytes()));
        assert!(!our_answer(r, &blocks).is_empty());
    }
    assert!(rx2 >= requests.len() as u64);
    js.ok(json!({"op": "close"}), T);
}

/// The blocks `Cache` replies name, in order.
fn cached_blocks(replies: &[Extension]) -> Vec<u64> {
    let cache = |m: &Extension| m.cache.clone().expect("JS answers with cache");
    replies.iter().flat_map(|m| cache(m).blocks).collect()
}

/// Waits (10 s at most) until `node` holds every block of `blocks`.
fn wait_held(node: &Node<MemoryStorage>, core: CoreId, blocks: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let want = blocks.to_vec();
        let missing = node
            .with_endpoint(move |ep| {
                let log = ep.log(core).unwrap();
                want.into_iter().filter(|&b| !log.has_block(b)).count()
            })
            .unwrap();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} named blocks never arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn clone_node(key_hex: &str) -> (Node<MemoryStorage>, CoreId) {
    let key: [u8; 32] = hex::decode(key_hex).unwrap().try_into().unwrap();
    let node = Node::new(EndpointConfig::default()).unwrap();
    let empty = LogOptions {
        key: Some(key),
        ..LogOptions::default()
    };
    let core = node.add_core(Log::open(MemoryStorage::new(), empty).unwrap());
    (node, core.unwrap())
}

#[test]
fn a_ferrocore_reader_of_a_js_bee_gets_js_cache_replies_and_downloads_them() {
    let mut js = bee_peer();
    let key_hex = js.ok(json!({"op": "bee"}), T)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let fill =
        json!({"op": "fill", "bee": 0, "count": KEYS, "order": "shuffle", "seed": 5, "batch": 500});
    let length = js.ok(fill, T)["length"].as_u64().unwrap();
    let all = js.ok(json!({"op": "blocks", "bee": 0}), T);
    let blocks: Vec<Bytes> = all["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h: &Value| Bytes::from(hex::decode(h.as_str().unwrap()).unwrap()))
        .collect();
    assert_eq!(blocks.len() as u64, length);
    let port = js.ok(json!({"op": "listen"}), T)["port"].as_u64().unwrap();

    let (reader, core) = clone_node(&key_hex);
    let events = reader.events();
    reader
        .connect(format!("127.0.0.1:{port}").as_str())
        .unwrap();
    let options = BeeOptions {
        timeout: Some(Duration::from_secs(20)),
        ..BeeOptions::default()
    };
    let bee = Bee::open(&reader, core, options).unwrap();
    assert_eq!(bee.update().unwrap(), length);
    let k = key(1234);
    let got = bee.get(k.clone()).unwrap().unwrap();
    assert_eq!(got.value.as_deref(), Some(value(1234).as_bytes()));

    let replies = messages(&events, Duration::from_millis(800));
    let named = cached_blocks(&replies);
    let ours = our_answer(&ext::get_request(length, &Bytes::from(k)), &blocks);
    eprintln!(
        "ferrocore reader: {} Cache replies from JS naming {} blocks; our responder names {}",
        replies.len(),
        named.len(),
        ours.len()
    );
    assert!(!named.is_empty(), "JS answered our get request");
    assert!(named.contains(&(length - 1)), "the root: {named:?}");
    // JS names what its lookup touched, in order: what ours names (a JS responder whose
    // key cache holds a key would leave its block out; this one's does not).
    assert_eq!(named, ours);
    wait_held(&reader, core, &named);

    // A range that waits sends its iterator snapshot; JS answers it.
    let range = bee.range(RangeOptions {
        gte: Some(key(2000).into()),
        limit: Some(300),
        ..RangeOptions::default()
    });
    assert_eq!(range.count(), 300);
    let replies = messages(&events, Duration::from_millis(800));
    let named = cached_blocks(&replies);
    eprintln!(
        "ferrocore range: {} Cache replies from JS naming {} blocks",
        replies.len(),
        named.len()
    );
    assert!(!named.is_empty() && named.iter().all(|&b| b > 0 && b < length));
    // Downloaded, those the range did not read too.
    wait_held(&reader, core, &named);
    js.ok(json!({"op": "close"}), T);
}
