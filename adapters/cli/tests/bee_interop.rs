//! Hyperbee against JS hyperbee 2.27.3 (`tests/js/bee-peer.mjs`: corestore 7.12.5 on
//! hypercore 11.37.1), live over loopback TCP:
//! - a JS bee of 10,000 keys read by ferrocore: sparse gets and bounded ranges through
//!   replication (the blocking adapter's bee), fetching a small part of the core, then a
//!   full `clone` read with `bee get` / `bee list`;
//! - a ferrocore bee (written with `ferrocore bee`) read by JS (gets, ranges, history) and
//!   extended by JS (the same primary key, so JS holds the key pair), then cloned back and
//!   read by ferrocore;
//! - the same operations written by JS and by ferrocore (the same primary key and name,
//!   so the same core key) give identical blocks, every one compared.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore::{Log, LogOptions};
use ferrocore_blocking::bee::{Bee, BeeOptions, RangeOptions};
use ferrocore_blocking::Node;
use ferrocore_tests::js::JsPeer;
use ferrocore_tests::sim::Rng;
use serde_json::{json, Value};
use support::{create, info, run, run_with_stdin, s, serve, T};

/// The primary key both sides' stores use (so a core named "bee" has one key pair).
const PRIMARY: &str = "2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b";

/// `key(i)` and `value(i)` of `tests/js/bee-data.mjs`.
fn key(i: u64) -> String {
    format!("key-{i:06}")
}

fn value(i: u64) -> String {
    format!("value-{i:06}-{}", "x".repeat((i % 23) as usize))
}

/// A bee peer with a store open (`primary`: its primary key).
fn bee_peer(primary: Option<&str>) -> JsPeer {
    let mut js = JsPeer::spawn("bee-peer.mjs", &["--timeout", "120000"]);
    let mut open = json!({"op": "open"});
    if let Some(p) = primary {
        open["primaryKey"] = json!(p);
    }
    js.ok(open, T);
    js
}

/// `ferrocore bee <cmd> <dir> args…`, which must succeed; its stdout.
fn bee(cmd: &str, dir: &std::path::Path, args: &[&str]) -> String {
    let mut all = vec!["bee", cmd, s(dir)];
    all.extend_from_slice(args);
    run(&all).ok()
}

/// The `key<TAB>value` lines `bee list` prints for these entries.
fn list_lines<'a>(entries: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    entries
        .into_iter()
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect()
}

/// JS range entries as (key, value) pairs.
fn pairs(reply: &Value) -> Vec<(String, String)> {
    reply["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_js_bee_of_10000_keys_is_read_sparsely_then_cloned_by_ferrocore() {
    const N: u64 = 10_000;
    let mut js = bee_peer(None);
    let b = js.ok(json!({"op": "bee"}), T);
    let key_hex = b["key"].as_str().unwrap().to_owned();
    let filled = js.ok(
        json!({"op": "fill", "bee": 0, "count": N, "order": "shuffle", "seed": 9, "batch": 500}),
        T,
    );
    let length = filled["length"].as_u64().unwrap();
    assert_eq!(length, N + 1, "a header, then one block per put");
    let port = js.ok(json!({"op": "listen"}), T)["port"].as_u64().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let model: BTreeMap<String, String> = (1..=N).map(|i| (key(i), value(i))).collect();

    // Sparse: the blocking bee on an empty copy of the core, fetching what reads need.
    let reader = Node::new(EndpointConfig::default()).unwrap();
    let key_bytes: [u8; 32] = hex::decode(&key_hex).unwrap().try_into().unwrap();
    let log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key: Some(key_bytes),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let core = reader.add_core(log).unwrap();
    reader.connect(addr.as_str()).unwrap();
    let options = BeeOptions {
        timeout: Some(Duration::from_secs(20)),
        ..BeeOptions::default()
    };
    let clone = Bee::open(&reader, core, options).unwrap();
    assert_eq!(clone.update().unwrap(), length);
    let mut rng = Rng::new(0xbee5);
    for _ in 0..40 {
        let i = 1 + rng.below(N);
        let e = clone.get(key(i)).unwrap().expect("present");
        assert_eq!(e.value.unwrap(), value(i).as_bytes(), "get {}", key(i));
    }
    assert_eq!(clone.get("key-999999").unwrap(), None);
    assert_eq!(clone.get("aaa").unwrap(), None);
    let mut ranged = 0;
    for _ in 0..6 {
        let lo = 1 + rng.below(N - 100);
        let hi = lo + 1 + rng.below(60);
        let reverse = rng.below(2) == 1;
        let limit = (rng.below(2) == 0).then(|| 1 + rng.below(20));
        let o = RangeOptions {
            gt: Some(key(lo).into()),
            lte: Some(key(hi).into()),
            reverse,
            limit,
            ..RangeOptions::default()
        };
        let got: Vec<(String, String)> = clone
            .range(o)
            .map(|e| {
                let e = e.unwrap();
                let k = String::from_utf8(e.key.to_vec()).unwrap();
                (k, String::from_utf8(e.value.unwrap().to_vec()).unwrap())
            })
            .collect();
        let mut want: Vec<(String, String)> = model
            .range(key(lo + 1)..=key(hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if reverse {
            want.reverse();
        }
        if let Some(l) = limit {
            want.truncate(l as usize);
        }
        assert_eq!(
            got, want,
            "range ({lo}, {hi}] reverse {reverse} limit {limit:?}"
        );
        ranged += got.len();
    }
    let fetched = clone.stats().fetched;
    eprintln!("sparse read of the JS bee: 40 gets and {ranged} range entries fetched {fetched} of {length} blocks");
    assert!(
        fetched < length / 10,
        "fetched {fetched} of {length} blocks"
    );
    reader.shutdown().unwrap();

    // A full clone, read with the command line.
    let t = tempfile::tempdir().unwrap();
    let r = t.path().join("r");
    run(&["clone", s(&r), &key_hex, "--connect", &addr]).ok();
    assert_eq!(info(&r, &[])["length"], length);
    for i in [1, 2, 4_321, N] {
        assert_eq!(bee("get", &r, &[&key(i)]), value(i));
    }
    let bounded = bee("list", &r, &["--gte", &key(5_000), "--lt", &key(5_050)]);
    assert_eq!(bounded, list_lines(model.range(key(5_000)..key(5_050))));
    let reversed = bee(
        "list",
        &r,
        &["--lte", &key(77), "--reverse", "--limit", "5"],
    );
    let want: Vec<_> = model.range(..=key(77)).rev().take(5).collect();
    assert_eq!(reversed, list_lines(want));
    let all = bee("list", &r, &[]);
    assert_eq!(all.lines().count() as u64, N);
    assert_eq!(all, list_lines(&model));
    js.finish();
}

#[test]
fn a_ferrocore_bee_is_read_and_extended_by_js_and_read_back() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let key_hex = create(&w, &["--primary-key", PRIMARY, "--name", "bee"]);
    let mut model = BTreeMap::new();
    let mut lines = String::new();
    for i in 1..=300 {
        lines.push_str(&format!("{{\"put\":[\"{}\",\"{}\"]}}\n", key(i), value(i)));
        model.insert(key(i), value(i));
    }
    run_with_stdin(&["bee", "batch", s(&w)], Some(lines.as_bytes())).ok();
    for i in (10..=300).step_by(10) {
        bee("del", &w, &[&key(i)]);
        model.remove(&key(i));
    }
    bee("put", &w, &["greeting", "hello from ferrocore"]);
    model.insert("greeting".into(), "hello from ferrocore".into());
    let length = info(&w, &[])["length"].as_u64().unwrap();
    assert_eq!(length, 1 + 300 + 30 + 1);
    let (server, served_key, addr) = serve(&w, &[]);
    assert_eq!(served_key, key_hex);

    // JS holds the same key pair (same primary key and name): a writable, empty core that
    // learns the length from ferrocore first.
    let mut js = bee_peer(Some(PRIMARY));
    let port = addr.rsplit(':').next().unwrap();
    js.ok(
        json!({"op": "connect", "port": port.parse::<u16>().unwrap()}),
        T,
    );
    let b = js.ok(json!({"op": "bee", "update": true}), T);
    assert_eq!(b["key"], key_hex.as_str());
    assert_eq!(b["writable"], true);
    assert_eq!(b["length"], length);
    let got = js.ok(json!({"op": "get", "bee": 0, "key": "greeting"}), T);
    assert_eq!(got["value"], "hello from ferrocore");
    assert_eq!(got["seq"], length - 1);
    assert_eq!(
        js.ok(json!({"op": "get", "bee": 0, "key": key(20)}), T)["value"],
        Value::Null
    );
    assert_eq!(
        js.ok(json!({"op": "get", "bee": 0, "key": key(21)}), T)["value"],
        value(21)
    );
    let range = js.ok(
        json!({"op": "range", "bee": 0, "gte": key(95), "lt": key(112)}),
        T,
    );
    let want: Vec<(String, String)> = model
        .range(key(95)..key(112))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(pairs(&range), want);
    // So far JS read sparsely, helped by `serve`'s answers to its extension requests.
    let js_info = js.ok(json!({"op": "info", "bee": 0}), T);
    let downloaded = js_info["downloaded"].as_u64().unwrap();
    let answers = js_info["extensionRx"].as_u64().unwrap();
    assert!(
        answers > 0,
        "serve answered none of JS's extension requests"
    );
    eprintln!(
        "JS: 3 gets and a range of the ferrocore bee fetched {downloaded} of {length} blocks \
         ({answers} extension answers)"
    );
    assert!(
        downloaded < length / 4,
        "JS fetched {downloaded} of {length} blocks"
    );
    let history = js.ok(json!({"op": "history", "bee": 0, "gte": -31}), T);
    let h = history["entries"].as_array().unwrap();
    assert_eq!(h.len(), 31);
    for (n, e) in h[..30].iter().enumerate() {
        assert_eq!(e["type"], "del");
        assert_eq!(e["key"], key(10 * (n as u64 + 1)));
        assert_eq!(e["seq"], 301 + n as u64);
    }
    assert_eq!(h[30]["type"], "put");
    assert_eq!(h[30]["key"], "greeting");
    // All of it, as ferrocore lists it.
    let all = js.ok(json!({"op": "range", "bee": 0}), T);
    assert_eq!(pairs(&all), model.clone().into_iter().collect::<Vec<_>>());

    // JS extends the bee: puts, a delete, a batch.
    js.ok(
        json!({"op": "put", "bee": 0, "key": "from-js", "value": "hello from JS"}),
        T,
    );
    js.ok(json!({"op": "del", "bee": 0, "key": key(1)}), T);
    let ops = json!([{"put": [key(500), "batched by JS"]}, {"del": key(2)}, {"put": [key(3), "changed by JS"]}]);
    let ext = js.ok(json!({"op": "batch", "bee": 0, "ops": ops}), T);
    model.insert("from-js".into(), "hello from JS".into());
    model.remove(&key(1));
    model.insert(key(500), "batched by JS".into());
    model.remove(&key(2));
    model.insert(key(3), "changed by JS".into());
    let js_length = ext["length"].as_u64().unwrap();
    assert_eq!(js_length, length + 5);
    // JS fetches the rest of ferrocore's blocks (so it can serve the whole bee) before
    // ferrocore stops serving.
    js.ok(json!({"op": "blocks", "bee": 0, "end": length}), T);
    assert_eq!(server.terminate().code(), Some(0));

    // Back to ferrocore: JS serves, ferrocore clones into a fresh store and reads.
    let jsport = js.ok(json!({"op": "listen"}), T)["port"].as_u64().unwrap();
    let jsaddr = format!("127.0.0.1:{jsport}");
    let r = t.path().join("r");
    run(&["clone", s(&r), &key_hex, "--connect", &jsaddr]).ok();
    assert_eq!(info(&r, &[])["length"], js_length);
    assert_eq!(bee("get", &r, &["from-js"]), "hello from JS");
    assert_eq!(bee("get", &r, &[&key(3)]), "changed by JS");
    run(&["bee", "get", s(&r), &key(1)]).fails(3, "");
    assert_eq!(bee("list", &r, &[]), list_lines(&model));
    // And into the writer's own store, which then writes on after JS's blocks.
    run(&["clone", s(&w), &key_hex, "--connect", &jsaddr]).ok();
    assert_eq!(info(&w, &[])["length"], js_length);
    bee("put", &w, &["after-js", "ferrocore again"]);
    model.insert("after-js".into(), "ferrocore again".into());
    assert_eq!(bee("list", &w, &[]), list_lines(&model));
    js.finish();
}

/// One operation of the shared sequence.
enum Step {
    Put(String, String),
    Del(String),
    Batch(Vec<(String, Option<String>)>),
}

fn steps(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let k = |rng: &mut Rng| format!("k{:02}", rng.below(40));
    let v = |rng: &mut Rng| format!("v{}", rng.below(1_000_000));
    (0..n)
        .map(|_| match rng.below(10) {
            0..=5 => Step::Put(k(&mut rng), v(&mut rng)),
            6..=7 => Step::Del(k(&mut rng)),
            _ => Step::Batch(
                (0..1 + rng.below(8))
                    .map(|_| {
                        let key = k(&mut rng);
                        if rng.below(3) == 0 {
                            (key, None)
                        } else {
                            (key, Some(v(&mut rng)))
                        }
                    })
                    .collect(),
            ),
        })
        .collect()
}

#[test]
fn the_same_operations_written_by_js_and_by_ferrocore_give_identical_blocks() {
    let plan = steps(0x5a3e, 90);
    let mut js = bee_peer(Some(PRIMARY));
    let key_hex = js.ok(json!({"op": "bee"}), T)["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("d");
    assert_eq!(
        create(&d, &["--primary-key", PRIMARY, "--name", "bee"]),
        key_hex
    );
    for step in &plan {
        match step {
            Step::Put(k, v) => {
                js.ok(json!({"op": "put", "bee": 0, "key": k, "value": v}), T);
                bee("put", &d, &[k, v]);
            }
            Step::Del(k) => {
                js.ok(json!({"op": "del", "bee": 0, "key": k}), T);
                bee("del", &d, &[k]);
            }
            Step::Batch(ops) => {
                let (mut js_ops, mut lines) = (Vec::new(), String::new());
                for (k, v) in ops {
                    let op = match v {
                        Some(v) => json!({"put": [k, v]}),
                        None => json!({"del": k}),
                    };
                    lines.push_str(&format!("{op}\n"));
                    js_ops.push(op);
                }
                js.ok(json!({"op": "batch", "bee": 0, "ops": js_ops}), T);
                run_with_stdin(&["bee", "batch", s(&d)], Some(lines.as_bytes())).ok();
            }
        }
    }
    let js_blocks: Vec<String> = js.ok(json!({"op": "blocks", "bee": 0}), T)["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    let length = info(&d, &[])["length"].as_u64().unwrap();
    assert_eq!(js_blocks.len() as u64, length, "the same number of blocks");
    assert!(length > 60, "the plan wrote {length} blocks");
    for (i, want) in js_blocks.iter().enumerate() {
        let got = run(&["get", s(&d), &i.to_string()]);
        assert_eq!(&hex::encode(Bytes::from(got.stdout)), want, "block {i}");
    }
    js.finish();
}
