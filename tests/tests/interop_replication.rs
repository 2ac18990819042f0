//! Live replication against the real JS hypercore 11.37.1 (`tests/js/hypercore-peer.mjs`)
//! over loopback TCP. Each test names its direction (`js_writer_to_ferrocore_reader_…`,
//! `ferrocore_writer_to_js_reader_…`, or `…_both_directions`):
//!
//! | what | JS → ferrocore | ferrocore → JS |
//! |---|---|---|
//! | full download, live tail, truncate + re-append | yes | yes (live blocks byte-compared by JS) |
//! | sparse reads | ferrocore `get`s 3 of 1000 | JS `get`s 3 of 1000 |
//! | several cores on one connection | 2 cores | 3 cores |
//! | encryption, manifest derivation | yes | yes |
//! | encryption, compat derivation | yes | yes |
//! | encryption, block key given directly | yes (decrypted with `ferrocore::encryption`) | yes (encrypted with it) |
//! | compat cores | yes | yes |
//! | seek requests (with hash requests) | — (the endpoint never sends them) | JS `seek`s, ferrocore serves |
//! | hash-only requests (a JS reader following a truncate) | — (never sent by the endpoint) | ferrocore serves |
//!
//! The default manifest mode runs in every test that does not say compat.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use ferrocore::encryption::{BlockEncryption, KeyMode};
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, Endpoint, EndpointConfig, Event};
use ferrocore::storage::MemoryStorage;
use ferrocore_tests::js::{block_value, js_reader_args, js_sparse_reader_args, JsPeer};
use ferrocore_tests::net::NetDriver;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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

/// A writable log of key pair seed `seed` holding the formula blocks `0..blocks` of
/// `core`, opened with `options` (whose `key_pair` is set here).
fn writer_log_with(seed: u8, blocks: u64, core: usize, options: LogOptions) -> Log<MemoryStorage> {
    let mut log = Log::open(
        MemoryStorage::new(),
        LogOptions {
            key_pair: Some(KeyPair::from_seed(&[seed; 32])),
            ..options
        },
    )
    .unwrap();
    let values: Vec<Vec<u8>> = (0..blocks).map(|i| block_value(core, i, SIZE)).collect();
    append_all(&mut log, &values);
    log
}

fn writer_log(seed: u8, blocks: u64, core: usize) -> Log<MemoryStorage> {
    writer_log_with(seed, blocks, core, LogOptions::default())
}

/// A writable compat log (key = public key), encrypted with `encryption_key` if given.
fn compat_writer_log(
    seed: u8,
    blocks: u64,
    encryption_key: Option<[u8; 32]>,
) -> Log<MemoryStorage> {
    let kp = KeyPair::from_seed(&[seed; 32]);
    let options = LogOptions {
        key: Some(kp.public_key),
        compat: true,
        encryption_key,
        ..LogOptions::default()
    };
    writer_log_with(seed, blocks, 0, options)
}

fn append_all(log: &mut Log<MemoryStorage>, values: &[Vec<u8>]) {
    if !values.is_empty() {
        log.append_batch(values.iter().map(|v| &v[..])).unwrap();
    }
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

/// Serves `logs` to one JS reader that connects to our listener and opens them as its
/// cores 0, 1, ... (with `--download-all` if `download_all`, and `extra` arguments).
/// Returns once the connection is accepted.
fn serve(
    seed: u8,
    logs: Vec<Log<MemoryStorage>>,
    download_all: bool,
    extra: &[&str],
) -> (Driver, JsPeer, Vec<CoreId>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let keys: Vec<String> = logs.iter().map(|l| hex::encode(l.key())).collect();
    let keys = keys.join(",");
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), seed);
    let cores = logs.into_iter().map(|l| d.endpoint.add_core(l)).collect();
    let mut args = if download_all {
        js_reader_args(&addr, &keys)
    } else {
        js_sparse_reader_args(&addr, &keys)
    };
    args.extend_from_slice(extra);
    let js = JsPeer::spawn("hypercore-peer.mjs", &args);
    d.accept(&listener);
    (d, js, cores)
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
    let (mut d, mut js, cores) = serve(seed, vec![log], true, extra);
    wait_js_downloaded(&mut d, &mut js, &[blocks]);
    js_check(&mut d, &mut js, 0, 0..blocks, 0);
    (d, js, cores[0])
}

/// The indices of core `core` the JS peer reported as downloaded so far.
fn js_downloads(js: &mut JsPeer, core: usize) -> BTreeSet<u64> {
    js.poll();
    js.seen
        .iter()
        .filter(|v| v["event"] == "download" && v["core"] == core)
        .filter_map(|v| v["index"].as_u64())
        .collect()
}

/// True once the JS peer reported a download of every block below `n` of core `core`.
fn js_downloaded(js: &mut JsPeer, core: usize, n: u64) -> bool {
    let got = js_downloads(js, core);
    (0..n).all(|i| got.contains(&i))
}

/// Drives `d` until the JS peer reported every block below `counts[c]` of each core `c`.
fn wait_js_downloaded(d: &mut Driver, js: &mut JsPeer, counts: &[u64]) {
    let done = |js: &mut JsPeer| (0..counts.len()).all(|c| js_downloaded(js, c, counts[c]));
    d.run_until(T, |_| done(js) || js.saw(|v| v["event"] == "error"));
    assert!(done(js), "JS downloaded {counts:?}: {:?}", js.seen.last());
}

/// Asks the JS peer to compare its blocks `range` of core `core` with the formula blocks
/// of core `as_core`, byte for byte, and asserts that all are present and equal.
fn js_check(
    d: &mut Driver,
    js: &mut JsPeer,
    core: usize,
    range: std::ops::Range<u64>,
    as_core: usize,
) {
    let reply = ask(
        d,
        js,
        json!({"op": "check", "core": core, "start": range.start, "end": range.end, "as": as_core}),
    );
    assert_eq!(
        reply["ok"], true,
        "JS has blocks {range:?} of core {core}, byte for byte: {reply}"
    );
}

/// The requests a `--trace-requests` JS peer sent that match `pred`, each with the data
/// message that answered it (the first one received after it for its id; JS reuses ids).
/// Panics if one was not answered.
fn answered(seen: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<(&Value, &Value)> {
    let mut out = Vec::new();
    for (at, req) in seen.iter().enumerate() {
        if req["event"] != "request-sent" || !pred(req) {
            continue;
        }
        let answer = seen[at..].iter().find(|v| {
            v["event"] == "data-received" && v["core"] == req["core"] && v["request"] == req["id"]
        });
        out.push((
            req,
            answer.unwrap_or_else(|| panic!("request {req} not answered")),
        ));
    }
    out
}

/// Starts a listening JS writer of one core with `blocks` formula blocks (and `extra`
/// arguments), connects a ferrocore reader of it (with `encryption_key`), downloads every
/// block and checks them byte for byte against the formula.
fn download_from_js(
    seed: u8,
    blocks: u64,
    extra: &[&str],
    encryption_key: Option<[u8; 32]>,
) -> (Driver, JsPeer, CoreId) {
    let count = blocks.to_string();
    let mut args = vec!["--writer", "1", "--blocks", &count];
    args.extend_from_slice(extra);
    let (js, ready, addr) = js_listening(&args);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), seed);
    let core = d
        .endpoint
        .add_core(reader_log(key_of(&ready, 0), encryption_key));
    d.connect(addr);
    d.endpoint.download(core, 0, Some(blocks), None).unwrap();
    assert!(d.run_until(T, |d| all_present(d, core, blocks)));
    assert_values(&d, core, 0, 0..blocks);
    (d, js, core)
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
    let (mut d, mut js, core) =
        serve_to_js(0x41, writer_log(0x51, 300, 0), 300, &["--trace-requests"]);

    // Live: our appends reach the JS reader, byte for byte.
    let more: Vec<Vec<u8>> = (300..305).map(|i| block_value(0, i, SIZE)).collect();
    append_all(d.endpoint.log_mut(core).unwrap(), &more);
    wait_js_downloaded(&mut d, &mut js, &[305]);
    js_check(&mut d, &mut js, 0, 300..305, 0);

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

    // To find where its history and ours part, the JS reader asked for tree nodes alone
    // (hash requests without a block), and we answered them.
    let hash_only = answered(&js.seen, |v| !v["hash"].is_null() && v["block"].is_null());
    assert!(!hash_only.is_empty(), "JS sent no hash-only request");
    for (req, answer) in hash_only {
        assert_eq!(
            answer["hash"]["index"], req["hash"]["index"],
            "{req} -> {answer}"
        );
    }
    js.finish();
}

/// A manifest core encrypted with `encryption: {key}`: the block key is
/// BLAKE2b(DEFAULT_ENCRYPTION ‖ core key ‖ key) on both sides.
#[test]
fn encrypted_manifest_core_both_directions() {
    let ekey = [0x5a; 32];
    let ekey_hex = hex::encode(ekey);
    // JS writes, we read.
    let args = ["--encryption-key", &ekey_hex];
    let (_d, js, _) = download_from_js(0x33, 50, &args, Some(ekey));
    js.finish();

    // We write, JS reads.
    let options = LogOptions {
        encryption_key: Some(ekey),
        ..LogOptions::default()
    };
    let log = writer_log_with(0x52, 50, 0, options);
    let (_d, js, _) = serve_to_js(0x42, log, 50, &["--encryption-key", &ekey_hex]);
    js.finish();
}

/// A compat core encrypted with `encryption: {key}`: the block key is BLAKE2b of the key,
/// keyed with the core key. Our reader opens without compat and switches to the compat
/// derivation when it learns the compat manifest.
#[test]
fn encrypted_compat_core_both_directions() {
    let ekey = [0x6b; 32];
    let ekey_hex = hex::encode(ekey);
    // JS writes, we read.
    let args = ["--compat", "--encryption-key", &ekey_hex];
    let (d, js, core) = download_from_js(0x36, 50, &args, Some(ekey));
    assert!(d.endpoint.log(core).unwrap().compat());
    js.finish();

    // We write, JS reads (a JS reader of an encrypted compat core must be opened with
    // `compat: true`: hypercore 11.37.1 fails to re-derive the key when it learns the mode).
    let log = compat_writer_log(0x5c, 50, Some(ekey));
    let args = ["--compat", "--encryption-key", &ekey_hex];
    let (_d, js, _) = serve_to_js(0x46, log, 50, &args);
    js.finish();
}

/// JS's `encryption: {key, block: true}` takes the key as the block key itself.
/// `LogOptions` has no such option (its `encryption_key` is always derived), so this runs
/// ferrocore's derivation (`BlockEncryption::new(key, core key, KeyMode::BlockKey)`) on
/// plain logs: our reader decrypts what a JS writer encrypted, and a JS reader decrypts
/// what we encrypted and appended as stored blocks (padding ‖ ciphertext).
#[test]
fn block_key_encryption_both_directions() {
    let block_key = [0x7d; 32];
    let key_hex = hex::encode(block_key);
    // JS writes, we read the stored blocks and decrypt them.
    let (js, ready, addr) = js_listening(&[
        "--writer",
        "1",
        "--blocks",
        "50",
        "--encryption-key",
        &key_hex,
        "--block-key",
    ]);
    let core_key = key_of(&ready, 0);
    let mut d = Driver::new(Endpoint::new(EndpointConfig::default()), 0x37);
    let core = d.endpoint.add_core(reader_log(core_key, None));
    d.connect(addr);
    d.endpoint.download(core, 0, Some(50), None).unwrap();
    assert!(d.run_until(T, |d| all_present(d, core, 50)));
    let enc = BlockEncryption::new(&block_key, &core_key, KeyMode::BlockKey);
    let derived = BlockEncryption::new(&block_key, &core_key, KeyMode::Manifest);
    let log = d.endpoint.log(core).unwrap();
    for i in 0..50 {
        let stored = log.get(i).unwrap().unwrap();
        let plain = block_value(0, i, SIZE);
        assert_eq!(enc.decrypt(i, &stored).unwrap(), plain, "block {i}");
        // The mode matters: the derived key does not decrypt it.
        assert_ne!(derived.decrypt(i, &stored).unwrap(), plain, "block {i}");
    }
    js.finish();

    // We encrypt with the block key, JS reads with it.
    let mut log = writer_log(0x5d, 0, 0);
    let enc = BlockEncryption::new(&block_key, log.key(), KeyMode::BlockKey);
    let stored: Vec<Vec<u8>> = (0..50)
        .map(|i| enc.encrypt(i, 0, &block_value(0, i, SIZE)))
        .collect();
    append_all(&mut log, &stored);
    let args = ["--encryption-key", &key_hex, "--block-key"];
    let (_d, js, _) = serve_to_js(0x47, log, 50, &args);
    js.finish();
}

#[test]
fn compat_core_from_js() {
    let (d, js, core) = download_from_js(0x34, 40, &["--compat"], None);
    assert!(d.endpoint.log(core).unwrap().compat());
    js.finish();
}

#[test]
fn compat_core_to_js() {
    let log = compat_writer_log(0x53, 40, None);
    let (_d, js, _) = serve_to_js(0x43, log, 40, &["--compat"]);
    js.finish();
}

#[test]
fn ferrocore_writer_to_sparse_js_reader() {
    let (mut d, mut js, _) = serve(0x44, vec![writer_log(0x56, 1000, 0)], false, &[]);
    let wanted = [7u64, 512, 999];
    for &i in &wanted {
        let reply = ask(&mut d, &mut js, json!({"op": "get", "core": 0, "index": i}));
        assert_eq!(
            reply["value"],
            hex::encode(block_value(0, i, SIZE)),
            "block {i}: {reply}"
        );
    }
    // Give a reader that fetched more than it asked for time to show it, then look at
    // what it stores.
    let settle = Instant::now() + Duration::from_millis(500);
    d.run_until(T, |_| Instant::now() >= settle);
    let info = ask(
        &mut d,
        &mut js,
        json!({"op": "info", "core": 0, "hashes": true}),
    );
    assert_eq!(info["length"], 1000, "{info}");
    let hashes = info["hashes"].as_array().expect("hashes");
    let stored: Vec<u64> = (0..1000u64)
        .filter(|&i| !hashes[i as usize].is_null())
        .collect();
    assert_eq!(stored, wanted, "JS stores exactly the blocks it asked for");
    for &i in &wanted {
        let digest = hex::encode(Sha256::digest(block_value(0, i, SIZE)));
        assert_eq!(hashes[i as usize], digest, "block {i}");
    }
    assert_eq!(js_downloads(&mut js, 0), BTreeSet::from(wanted));
    js.finish();
}

#[test]
fn several_cores_over_one_connection_ferrocore_to_js() {
    let counts = [60u64, 45, 30];
    let logs = (0..counts.len())
        .map(|c| writer_log(0x57 + c as u8, counts[c], c))
        .collect();
    let (mut d, mut js, cores) = serve(0x48, logs, true, &[]);
    wait_js_downloaded(&mut d, &mut js, &counts);
    for (c, &n) in counts.iter().enumerate() {
        js_check(&mut d, &mut js, c, 0..n, c);
    }
    // One connection: one session here, and on the JS side one peer per core, the same.
    let sessions: Vec<_> = d.endpoint.sessions().collect();
    assert_eq!(sessions.len(), 1, "one connection");
    for &core in &cores {
        assert_eq!(d.endpoint.peers(core), sessions);
    }
    let us = js.wait_for(T, |v| v["event"] == "connected")["remotePublicKey"].clone();
    for c in 0..counts.len() {
        let reply = ask(&mut d, &mut js, json!({"op": "peers", "core": c}));
        let peers = reply["peers"].as_array().expect("peers");
        assert_eq!(peers.len(), 1, "core {c}: {reply}");
        assert_eq!(peers[0]["remotePublicKey"], us, "core {c}");
    }
    js.finish();
}

/// A JS reader's `core.seek(bytes)`: hypercore 11.37.1 sends a request carrying `seek`
/// (and a `hash` request for a node in the range it narrowed the byte to); we serve it
/// from our log. Blocks have varying sizes, so the answer is not a division.
#[test]
fn js_reader_seeks_into_ferrocore_writer() {
    let sizes: Vec<usize> = (0..200).map(|i| 1 + (i * 7919) % 2000).collect();
    let values: Vec<Vec<u8>> = (0..200)
        .map(|i| block_value(0, i as u64, sizes[i]))
        .collect();
    let mut log = writer_log(0x5e, 0, 0);
    append_all(&mut log, &values);
    let total: u64 = sizes.iter().map(|&n| n as u64).sum();
    let (mut d, mut js, _) = serve(0x49, vec![log], false, &["--trace-requests"]);
    let reply = ask(&mut d, &mut js, json!({"op": "update", "core": 0}));
    assert_eq!(reply["length"], 200, "{reply}");

    for bytes in [total / 3, 0, total / 2 + 17, total - 1, 12_345] {
        // The block holding byte `bytes`, and the byte's offset in it.
        let mut index = 0;
        let mut offset = bytes;
        while offset >= sizes[index] as u64 {
            offset -= sizes[index] as u64;
            index += 1;
        }
        let reply = ask(
            &mut d,
            &mut js,
            json!({"op": "seek", "core": 0, "bytes": bytes}),
        );
        assert_eq!(
            (reply["index"].as_u64(), reply["offset"].as_u64()),
            (Some(index as u64), Some(offset)),
            "seek({bytes}): {reply}"
        );
        let reply = ask(
            &mut d,
            &mut js,
            json!({"op": "get", "core": 0, "index": index}),
        );
        assert_eq!(reply["value"], hex::encode(&values[index]), "block {index}");
    }

    // The seeks went over the wire as seek requests, each with a hash request for a node
    // of the range JS narrowed the byte to, and we answered each with that node's proof;
    // where the byte's block is not that node's sibling, with a seek proof as well
    // (hypercore's own generator leaves the seek proof out otherwise).
    let answers = answered(&js.seen, |v| !v["seek"].is_null());
    assert!(!answers.is_empty(), "JS sent no seek request");
    for (req, answer) in &answers {
        assert!(!req["hash"].is_null(), "{req}");
        assert_eq!(answer["hash"]["index"], req["hash"]["index"], "{answer}");
        assert!(
            answer["seek"].is_null() || answer["seek"]["bytes"] == req["seek"]["bytes"],
            "{answer}"
        );
    }
    assert!(
        answers.iter().any(|(_, a)| !a["seek"].is_null()),
        "no seek proof in {answers:?}"
    );
    js.finish();
}

#[test]
fn js_writer_to_ferrocore_reader_two_cores_over_one_connection() {
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
