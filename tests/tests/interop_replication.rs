//! Live replication against the real JS hypercore 11.37.1 (`tests/js/hypercore-peer.mjs`)
//! over loopback TCP, both directions: full download, sparse gets, live tail, a
//! truncate-and-reappend seen across, an encrypted core, compat mode, and two cores over one
//! connection. The default manifest mode runs in every test that does not say compat.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, Endpoint, EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::js::{block_value, JsPeer};
use ferrocore_tests::net::NetDriver;
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);
const SIZE: usize = 1000;

type Driver = NetDriver<MemoryStorage>;

fn key_of(v: &Value, core: usize) -> [u8; 32] {
    let k = hex::decode(v["cores"][core]["key"].as_str().unwrap()).unwrap();
    k.try_into().unwrap()
}

fn reader_log(key: [u8; 32], encryption_key: Option<[u8; 32]>) -> Log<MemoryStorage> {
    Log::open(
        MemoryStorage::new(),
        LogOptions {
            key: Some(key),
            encryption_key,
            ..LogOptions::default()
        },
    )
    .unwrap()
}

fn writer_log(seed: u8, blocks: u64, core: usize) -> Log<MemoryStorage> {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[seed; 32])),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let values: Vec<Vec<u8>> = (0..blocks).map(|i| block_value(core, i, SIZE)).collect();
    if !values.is_empty() {
        log.append_batch(values.iter().map(|v| &v[..])).unwrap();
    }
    log
}

/// A JS peer listening as the Noise responder, and the port.
fn js_listening(args: &[&str]) -> (JsPeer, Value, SocketAddr) {
    ferrocore_tests::js::js_listening(args, T)
}

/// Sends a command to the JS peer and drives `d` until its reply arrives.
fn ask(d: &mut Driver, js: &mut JsPeer, cmd: Value) -> Value {
    let id = js.send(cmd);
    let mut reply = None;
    assert!(d.run_until(T, |_| {
        reply = js.reply(id);
        reply.is_some()
    }));
    reply.unwrap()
}

/// Serves `log` (whose first `blocks` blocks follow the formula of core 0) to a JS reader
/// started with `--download-all` and `extra` arguments, and waits until the reader
/// downloaded and checked every block byte for byte.
fn serve_to_js(
    seed: u8,
    log: Log<MemoryStorage>,
    blocks: u64,
    extra: &[&str],
) -> (Driver, JsPeer, CoreId) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), seed);
    let key = hex::encode(log.key());
    let core = d.endpoint.add_core(log);
    let mut args = ferrocore_tests::js::js_reader_args(&addr, &key);
    args.extend_from_slice(extra);
    let mut js = JsPeer::spawn("hypercore-peer.mjs", &args);
    d.accept(&listener);
    assert!(d.run_until(T, |_| js_downloaded(&mut js, blocks)
        || js.saw(|v| v["event"] == "error")));
    let reply = ask(
        &mut d,
        &mut js,
        json!({"op": "check", "core": 0, "start": 0, "end": blocks}),
    );
    assert_eq!(
        reply["ok"], true,
        "JS has every block, byte for byte: {reply}"
    );
    (d, js, core)
}

/// True once the JS peer reported a download of every block below `n` (core 0).
fn js_downloaded(js: &mut JsPeer, n: u64) -> bool {
    js.poll();
    let got: std::collections::BTreeSet<u64> = js
        .seen
        .iter()
        .filter(|v| v["event"] == "download" && v["core"] == 0)
        .filter_map(|v| v["index"].as_u64())
        .collect();
    (0..n).all(|i| got.contains(&i))
}

fn all_present(d: &Driver, core: CoreId, length: u64) -> bool {
    let log = d.endpoint.log(core).unwrap();
    log.length() == length && log.has(0, length)
}

fn assert_values(d: &Driver, core: CoreId, js_core: usize, range: std::ops::Range<u64>) {
    let log = d.endpoint.log(core).unwrap();
    for i in range {
        assert_eq!(
            log.get(i).unwrap().as_deref(),
            Some(&block_value(js_core, i, SIZE)[..]),
            "block {i}"
        );
    }
}

#[test]
fn js_writer_to_ferrocore_reader_full_live_and_truncate() {
    let (mut js, ready, addr) = js_listening(&["--writer", "1", "--blocks", "300"]);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x31);
    let core = d.endpoint.add_core(reader_log(key_of(&ready, 0), None));
    d.connect(addr);
    let live = d.endpoint.download(core, 0, None, None).unwrap();
    assert!(
        d.run_until(T, |d| all_present(d, core, 300)),
        "full download"
    );
    assert_values(&d, core, 0, 0..300);

    // Live tail: appends reach us as verified blocks.
    js.send(json!({"op": "append", "core": 0, "count": 5}));
    assert!(d.run_until(T, |d| all_present(d, core, 305)), "live tail");
    assert_values(&d, core, 0, 300..305);
    for i in 300..305 {
        assert!(d
            .events
            .iter()
            .any(|e| *e == Event::Verified { core, index: i }));
    }

    // Truncate and re-append different blocks: we adopt the new fork.
    js.send(json!({"op": "truncate", "core": 0, "length": 250}));
    let values: Vec<String> = (0..10)
        .map(|i| hex::encode(block_value(9, i, 700)))
        .collect();
    js.send(json!({"op": "append-values", "core": 0, "values": values}));
    assert!(
        d.run_until(T, |d| {
            let log = d.endpoint.log(core).unwrap();
            log.fork() == 1 && log.length() == 260 && log.has(0, 260)
        }),
        "reorg to the truncated-and-reappended history: {:?}",
        d.endpoint.log(core)
    );
    assert_values(&d, core, 0, 0..250);
    let log = d.endpoint.log(core).unwrap();
    for i in 0..10u64 {
        assert_eq!(log.get(250 + i).unwrap().unwrap(), block_value(9, i, 700));
    }
    assert!(d
        .events
        .iter()
        .any(|e| matches!(e, Event::Truncate { core: c, fork: 1, .. } if *c == core)));
    assert!(d.endpoint.cancel(live));
    js.finish();
}

#[test]
fn js_writer_to_ferrocore_reader_sparse_gets() {
    let (js, ready, addr) = js_listening(&["--writer", "1", "--blocks", "1000"]);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x32);
    let core = d.endpoint.add_core(reader_log(key_of(&ready, 0), None));
    d.connect(addr);
    let wanted = [7u64, 512, 999];
    let ids: Vec<_> = wanted
        .iter()
        .map(|&i| d.endpoint.get(core, i, Some(d.now() + T)).unwrap())
        .collect();
    assert!(d.run_until(T, |d| {
        ids.iter().all(|id| {
            d.events
                .iter()
                .any(|e| matches!(e, Event::Get { request, .. } if request == id))
        })
    }));
    for (id, &i) in ids.iter().zip(&wanted) {
        let value = d.events.iter().find_map(|e| match e {
            Event::Get {
                request, result, ..
            } if request == id => Some(result.clone().unwrap()),
            _ => None,
        });
        assert_eq!(value.as_deref(), Some(&block_value(0, i, SIZE)[..]));
    }
    // Sparse: only what was asked for (and no more) is stored.
    let log = d.endpoint.log(core).unwrap();
    assert_eq!(log.length(), 1000);
    let stored = (0..1000).filter(|&i| log.has_block(i)).count();
    assert_eq!(stored, 3);
    js.finish();
}

#[test]
fn ferrocore_writer_to_js_reader_full_live_and_truncate() {
    let (mut d, mut js, core) = serve_to_js(0x41, writer_log(0x51, 300, 0), 300, &[]);

    // Live: our appends reach the JS reader.
    let more: Vec<Vec<u8>> = (300..305).map(|i| block_value(0, i, SIZE)).collect();
    d.endpoint
        .log_mut(core)
        .unwrap()
        .append_batch(more.iter().map(|v| &v[..]))
        .unwrap();
    assert!(
        d.run_until(T, |_| js_downloaded(&mut js, 305)),
        "live tail to JS"
    );

    // Truncate and re-append: the JS reader follows to the new fork.
    let log = d.endpoint.log_mut(core).unwrap();
    log.truncate(250, None).unwrap();
    let values: Vec<Vec<u8>> = (0..10).map(|i| block_value(9, i, 700)).collect();
    log.append_batch(values.iter().map(|v| &v[..])).unwrap();
    assert!(
        d.run_until(T, |_| {
            js.saw(|v| v["event"] == "truncate" && v["fork"] == 1)
        }),
        "the JS reader adopts the new fork: {:?}",
        js.seen
            .iter()
            .filter(|v| v["event"] != "download")
            .collect::<Vec<_>>()
    );
    let reply = ask(&mut d, &mut js, json!({"op": "info", "core": 0}));
    assert_eq!(
        (reply["length"].as_u64(), reply["fork"].as_u64()),
        (Some(260), Some(1)),
        "{reply}"
    );
    let reply = ask(
        &mut d,
        &mut js,
        json!({"op": "get", "core": 0, "index": 255}),
    );
    assert_eq!(reply["value"], hex::encode(block_value(9, 5, 700)));
    js.finish();
}

#[test]
fn encrypted_core_both_directions() {
    let ekey = [0x5a; 32];
    let ekey_hex = hex::encode(ekey);
    // JS writes, we read.
    let (js, ready, addr) = js_listening(&[
        "--writer",
        "1",
        "--blocks",
        "50",
        "--encryption-key",
        &ekey_hex,
    ]);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x33);
    let core = d
        .endpoint
        .add_core(reader_log(key_of(&ready, 0), Some(ekey)));
    d.connect(addr);
    d.endpoint.download(core, 0, Some(50), None).unwrap();
    assert!(d.run_until(T, |d| all_present(d, core, 50)));
    assert_values(&d, core, 0, 0..50);
    js.finish();

    // We write, JS reads.
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[0x52; 32])),
            encryption_key: Some(ekey),
            ..LogOptions::default()
        },
    )
    .unwrap();
    let values: Vec<Vec<u8>> = (0..50).map(|i| block_value(0, i, SIZE)).collect();
    log.append_batch(values.iter().map(|v| &v[..])).unwrap();
    let (_d, js, _) = serve_to_js(0x42, log, 50, &["--encryption-key", &ekey_hex]);
    js.finish();
}

#[test]
fn compat_core_from_js() {
    let (js, ready, addr) = js_listening(&["--writer", "1", "--blocks", "40", "--compat"]);
    assert_eq!(ready["cores"][0]["compat"], true);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x34);
    let core = d.endpoint.add_core(reader_log(key_of(&ready, 0), None));
    d.connect(addr);
    d.endpoint.download(core, 0, Some(40), None).unwrap();
    assert!(d.run_until(T, |d| all_present(d, core, 40)));
    assert_values(&d, core, 0, 0..40);
    assert!(d.endpoint.log(core).unwrap().compat());
    js.finish();
}

#[test]
fn compat_core_to_js() {
    let kp = KeyPair::from_seed(&[0x53; 32]);
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(kp.clone()),
            key: Some(kp.public_key),
            compat: true,
            ..LogOptions::default()
        },
    )
    .unwrap();
    let values: Vec<Vec<u8>> = (0..40).map(|i| block_value(0, i, SIZE)).collect();
    log.append_batch(values.iter().map(|v| &v[..])).unwrap();
    let (_d, js, _) = serve_to_js(0x43, log, 40, &["--compat"]);
    js.finish();
}

#[test]
fn two_cores_over_one_connection() {
    // JS writes two cores; we read both over one connection.
    let (js, ready, addr) = js_listening(&["--writer", "2", "--blocks", "60"]);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x35);
    let a = d.endpoint.add_core(reader_log(key_of(&ready, 0), None));
    let b = d.endpoint.add_core(reader_log(key_of(&ready, 1), None));
    d.connect(addr);
    d.endpoint.download(a, 0, Some(60), None).unwrap();
    d.endpoint.download(b, 0, Some(60), None).unwrap();
    assert!(d.run_until(T, |d| all_present(d, a, 60) && all_present(d, b, 60)));
    assert_values(&d, a, 0, 0..60);
    assert_values(&d, b, 1, 0..60);
    let sessions: Vec<_> = d.endpoint.sessions().collect();
    assert_eq!(sessions.len(), 1, "one connection");
    assert_eq!(d.endpoint.peers(a), sessions);
    assert_eq!(d.endpoint.peers(b), sessions);
    js.finish();
}
