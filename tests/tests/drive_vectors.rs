//! Conformance of Hyperdrive's format (`ferrocore-hyperdrive`) with the pinned JS
//! hyperdrive 13.3.4 (`tests/vectors/drive/drive.json`, see its README), by schema: the
//! keys of every drive (drive key, discovery keys, id, content manifest and key, header
//! block); every path's normalisation, key bytes or error; every stored entry value, read
//! back and rebuilt from the step's inputs; the db core replayed step by step through
//! `MemBee` (block for block, and each touched entry after each step); the `list` and
//! `readdir` reads run through the drive's ranges and peek loop, and the `entry` (followed
//! or not), `exists`, `getBlobsLength` and `diff` reads on the replayed db.

use bytes::Bytes;
use ferrocore_corestore::PrimaryKey;
use ferrocore_hyperbee::testing::MemBee;
use ferrocore_hyperbee::{BeeConfig, Op, RangeOptions};
use ferrocore_hyperdrive::entry::{self, Entry};
use ferrocore_hyperdrive::follow::Follow;
use ferrocore_hyperdrive::keys::{self, DriveKeys};
use ferrocore_hyperdrive::list::{self, Ignore, Shallow, Step};
use ferrocore_hyperdrive::path;
use ferrocore_hyperdrive::BlobId;
use ferrocore_tests::{arr, files, hex, hex32, name, str_of, u64_of, Cases, Schema};
use ferrocore_wire::bee::Metadata;
use ferrocore_wire::json;
use ferrocore_wire::Manifest;
use serde_json::Value;

/// A vector's JSON value as our own (members in the same order).
fn ours(v: &Value) -> json::Value {
    json::parse(&serde_json::to_vec(v).unwrap()).unwrap()
}

/// `JSON.stringify` of a vector's JSON value.
fn js(v: &Value) -> String {
    json::stringify(v)
}

fn check_manifest(m: &Manifest, v: &Value, what: &str) {
    assert_eq!(m.version, u64_of(&v["version"]), "{what}: version");
    assert_eq!(str_of(&v["hash"]), "blake2b", "{what}: hash");
    assert_eq!(Some(m.allow_patch), v["allowPatch"].as_bool(), "{what}");
    assert_eq!(m.quorum, u64_of(&v["quorum"]), "{what}: quorum");
    let signers = arr(&v["signers"]);
    assert_eq!(m.signers.len(), signers.len(), "{what}: signers");
    for (s, j) in m.signers.iter().zip(signers) {
        assert_eq!(str_of(&j["signature"]), "ed25519", "{what}");
        assert_eq!(s.namespace, hex32(&j["namespace"]), "{what}: namespace");
        assert_eq!(s.public_key, hex32(&j["publicKey"]), "{what}: publicKey");
    }
    assert!(
        m.prologue.is_none() && v["prologue"].is_null(),
        "{what}: prologue"
    );
    assert!(
        m.linked.is_none() && v["linked"].is_null(),
        "{what}: linked"
    );
    assert!(
        m.user_data.is_none() && v["userData"].is_null(),
        "{what}: userData"
    );
}

fn drive_keys(v: &Value) -> DriveKeys {
    DriveKeys::from_primary_key(&PrimaryKey::from_bytes(hex32(&v["primaryKey"])))
}

fn drive_config() -> BeeConfig {
    BeeConfig {
        metadata: Some(Metadata::default()),
        ..BeeConfig::default()
    }
}

#[test]
fn keys_match_js() {
    let mut cases = Cases::new("drive keys");
    for (p, v) in files(Schema::DriveOps) {
        let file = name(&p);
        assert_eq!(
            keys::blobs_namespace(),
            hex32(&v["blobsNamespace"]),
            "{file}"
        );
        for d in arr(&v["drives"]) {
            let k = drive_keys(d);
            let what = format!("{file}: drive of {}", str_of(&d["primaryKey"]));
            assert_eq!(k.key, hex32(&d["key"]), "{what}: key");
            assert_eq!(k.key, hex32(&d["getDriveKey"]), "{what}: getDriveKey");
            assert_eq!(k.discovery_key, hex32(&d["discoveryKey"]), "{what}");
            assert_eq!(k.id(), str_of(&d["id"]), "{what}: id");
            assert_eq!(k.content_key, hex32(&d["contentKey"]), "{what}");
            let derived = keys::content_key(&k.db_manifest, &k.key);
            assert_eq!(derived, Some(hex32(&d["getContentKey"])), "{what}");
            assert_eq!(k.content_discovery_key, hex32(&d["contentDiscoveryKey"]));
            check_manifest(&k.db_manifest, &d["dbManifest"], &what);
            check_manifest(&k.content_manifest, &d["contentManifest"], &what);
            assert_eq!(keys::header_block(), hex(&d["header"]), "{what}: header");
            assert_eq!(
                MemBee::with_config(drive_config()).bee.header(),
                hex(&d["header"])
            );
            assert_eq!(u64_of(&d["dbLength"]), 0, "{what}");
            cases.pass();
        }
        for c in arr(&v["driveCases"]) {
            let k = drive_keys(c);
            assert_eq!(k.key, hex32(&c["key"]), "{file}: {}", str_of(&c["name"]));
            assert_eq!(k.content_key, hex32(&c["contentKey"]), "{file}");
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn paths_match_js() {
    let mut cases = Cases::new("drive paths");
    for (p, v) in files(Schema::DriveOps) {
        let file = name(&p);
        for c in arr(&v["paths"]) {
            let input = str_of(&c["input"]);
            match path::normalize(input) {
                Ok(key) => {
                    assert_eq!(key, str_of(&c["key"]), "{file}: {input:?}");
                    assert_eq!(
                        path::entry_key(&key),
                        hex(&c["keyBytes"]),
                        "{file}: {input:?}"
                    );
                    assert_eq!(path::key_of(input).unwrap(), hex(&c["keyBytes"]));
                    assert!(c["error"].is_null(), "{file}: {input:?} should fail");
                }
                Err(e) => {
                    assert_eq!(e.to_string(), str_of(&c["error"]), "{file}: {input:?}");
                    assert!(c["key"].is_null() && c["keyBytes"].is_null(), "{file}");
                }
            }
            cases.pass();
        }
    }
    cases.report();
}

/// The steps of every case, a batch's ops after it, with the case's name.
fn all_steps(v: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for c in arr(&v["driveCases"]) {
        for (i, s) in arr(&c["steps"]).iter().enumerate() {
            out.push((format!("{} step {i}", str_of(&c["name"])), s));
        }
    }
    out
}

/// `metadata` of an op's options (`null` when not given).
fn metadata(s: &Value) -> json::Value {
    ours(&s["opts"]["metadata"])
}

/// The entry a single-path op stores, built from its inputs (`blob`: the id the blobs core
/// gave, for a put or a write stream).
fn entry_of(s: &Value, blob: Option<json::Value>) -> Entry {
    match str_of(&s["op"]) {
        "put" | "writeStream" => Entry {
            executable: s["opts"]["executable"].as_bool().unwrap_or(false),
            linkname: None,
            blob,
            metadata: metadata(s),
        },
        "symlink" => Entry::symlink(str_of(&s["target"]), metadata(s)),
        // `putEntry(path, {executable = false, linkname = null, blob = null, metadata = null})`
        "putEntry" => Entry::from_json(ours(&s["value"])).unwrap(),
        op => panic!("no entry for {op}"),
    }
}

#[test]
fn stored_entries_match_js() {
    let mut cases = Cases::new("drive entry values");
    for (p, v) in files(Schema::DriveOps) {
        let file = name(&p);
        for (what, s) in all_steps(&v) {
            let op = str_of(&s["op"]);
            // A path JS refuses fails with JS's message before anything reaches the db.
            if let (Some(err), Some(input)) = (s["error"].as_str(), s["path"].as_str()) {
                if matches!(op, "put" | "del") {
                    assert_eq!(
                        path::normalize(input).unwrap_err().to_string(),
                        err,
                        "{what}"
                    );
                    cases.pass();
                }
            }
            let single = matches!(op, "put" | "writeStream" | "symlink" | "putEntry");
            for e in arr(&s["entries"]) {
                let key = str_of(&e["key"]);
                assert_eq!(path::entry_key(key), hex(&e["keyBytes"]), "{file}: {what}");
                if single {
                    let input = str_of(&s["path"]);
                    assert_eq!(path::normalize(input).unwrap(), key, "{file}: {what}");
                }
                if e["value"].is_null() {
                    assert!(e["entry"].is_null(), "{file}: {what}");
                    continue;
                }
                let bytes = hex(&e["value"]);
                let entry = Entry::decode(&bytes).unwrap();
                assert_eq!(entry.encode(), bytes, "{file}: {what}: {key} re-encoded");
                let recorded = &e["entry"]["value"];
                assert_eq!(
                    json::stringify(&entry.to_json()),
                    js(recorded),
                    "{file}: {what}"
                );
                assert_eq!(
                    js(recorded).as_bytes(),
                    bytes,
                    "{file}: {what}: stored as JSON"
                );
                if let Some(span) = entry.blob_id().unwrap() {
                    let blob = &recorded["blob"];
                    assert_eq!(span.block_offset, u64_of(&blob["blockOffset"]));
                    assert_eq!(span.byte_length, u64_of(&blob["byteLength"]));
                    assert_eq!(span.block_map, blob["blockMap"] == Value::Bool(true));
                }
                if single {
                    // Rebuilt from the op's inputs and the blob id the blobs core gave.
                    let blob = (!recorded["blob"].is_null()).then(|| ours(&recorded["blob"]));
                    assert_eq!(entry_of(s, blob).encode(), bytes, "{file}: {what}: built");
                }
                cases.pass();
            }
        }
    }
    cases.report();
}

/// The byte length of a vector's **content** (hex, `{prng, length}` or `{concat: [...]}`).
fn content_len(c: &Value) -> u64 {
    if let Some(h) = c.as_str() {
        return h.len() as u64 / 2;
    }
    if let Some(parts) = c.get("concat") {
        return arr(parts).iter().map(content_len).sum();
    }
    u64_of(&c["length"])
}

/// What a blobs `put` of `len` bytes returns when the blobs core holds `blocks` blocks of
/// `bytes` bytes: 64 KiB blocks (a batch's puts; their ids are not recorded).
fn put_blob(len: u64, blocks: &mut u64, bytes: &mut u64) -> json::Value {
    let span = BlobId {
        block_offset: *blocks,
        byte_offset: *bytes,
        block_length: len.div_ceil(65536),
        byte_length: len,
        block_map: false,
    };
    *blocks += span.block_length;
    *bytes += len;
    span.to_value()
}

/// The bee op of a single-path op (`None` where JS writes nothing to the db: a path it
/// refuses). `blob`: the id of a put's blob (asked only for a put).
fn bee_op(s: &Value, blob: impl FnOnce() -> Option<json::Value>) -> Option<Op> {
    let key = Bytes::from(path::key_of(str_of(&s["path"])).ok()?);
    Some(match str_of(&s["op"]) {
        "del" => Op::del(key),
        "put" | "writeStream" => Op::put(key, Some(entry_of(s, blob()).encode().into())),
        _ => Op::put(key, Some(entry_of(s, None).encode().into())),
    })
}

/// The recorded blob id of the entry a step stored at `path`.
fn recorded_blob(s: &Value) -> Option<json::Value> {
    let blob = &arr(&s["entries"])[0]["entry"]["value"]["blob"];
    (!blob.is_null()).then(|| ours(blob))
}

/// Replays a case's steps on a `MemBee`, requiring JS's db blocks after each step and the
/// entries the step touched; returns the db at the end.
fn replay(c: &Value, cases: &mut Cases) -> MemBee {
    let case = str_of(&c["name"]);
    let mut bee = MemBee::with_config(drive_config());
    let (mut blocks, mut bytes) = (0, 0);
    for (i, s) in arr(&c["steps"]).iter().enumerate() {
        let before = bee.blocks.len();
        let ops: Vec<Op> = match str_of(&s["op"]) {
            "batch" => arr(&s["ops"])
                .iter()
                .filter_map(|o| {
                    bee_op(o, || {
                        Some(put_blob(
                            content_len(&o["content"]),
                            &mut blocks,
                            &mut bytes,
                        ))
                    })
                })
                .collect(),
            "clear" | "clearAll" => vec![],
            "truncate" => {
                if s["error"].is_null() {
                    let length = u64_of(&s["length"]);
                    bee.blocks.truncate(usize::try_from(length).unwrap());
                    bee.bee.set_length(length);
                }
                vec![]
            }
            _ if !s["error"].is_null() => vec![],
            _ => bee_op(s, || recorded_blob(s)).into_iter().collect(),
        };
        if !ops.is_empty() {
            bee.batch(ops).unwrap();
        }
        let what = format!("{case} step {i} ({})", str_of(&s["op"]));
        let appended: Vec<String> = bee.blocks[before.min(bee.blocks.len())..]
            .iter()
            .map(::hex::encode)
            .collect();
        let expected: Vec<&str> = arr(&s["dbBlocks"]).iter().map(str_of).collect();
        assert_eq!(appended, expected, "{what}: db blocks");
        assert_eq!(bee.bee.version(), u64_of(&s["version"]), "{what}: version");
        if str_of(&s["op"]) == "batch" {
            assert_eq!(blocks, u64_of(&s["blobsLength"]), "{what}: batch blob ids");
        }
        (blocks, bytes) = (u64_of(&s["blobsLength"]), u64_of(&s["blobsByteLength"]));
        for e in arr(&s["entries"]) {
            let got = bee.get(&hex(&e["keyBytes"])).unwrap();
            let seq = got.as_ref().map(|g| g.seq);
            assert_eq!(seq, e["entry"]["seq"].as_u64(), "{what}: {}", e["key"]);
            let value = got.and_then(|g| g.value).map(|v| ::hex::encode(&v));
            assert_eq!(
                value.as_deref(),
                e["value"].as_str(),
                "{what}: {}",
                e["key"]
            );
        }
        cases.pass();
    }
    bee
}

/// The `{seq, key, value}` JS gives for an entry, as JSON text.
fn node_json(e: &ferrocore_hyperbee::Entry) -> String {
    let key = std::str::from_utf8(path::path_of_key(&e.key).unwrap()).unwrap();
    let value = Entry::decode(e.value.as_deref().unwrap())
        .unwrap()
        .to_json();
    format!(
        r#"{{"seq":{},"key":{},"value":{}}}"#,
        e.seq,
        js(&Value::String(key.into())),
        json::stringify(&value)
    )
}

/// `list` / `readdir` at `version`: the entries (as JSON text) or names.
fn listing(bee: &mut MemBee, r: &Value) -> Result<Vec<String>, String> {
    let folder = r["folder"].as_str();
    let version = Some(u64_of(&r["version"]));
    let opts = &r["opts"];
    let ignore = match &opts["ignore"] {
        Value::Null => None,
        Value::String(one) => Some(Ignore::new([one.as_str()])),
        many => Some(Ignore::new(arr(many).iter().map(str_of))),
    }
    .transpose()
    .map_err(|e| e.to_string())?;
    let ignored = |e: &ferrocore_hyperbee::Entry| {
        ignore
            .as_ref()
            .is_some_and(|i| i.ignores(path::path_of_key(&e.key).unwrap()))
    };
    let readdir = str_of(&r["op"]) == "readdir";
    if !readdir && opts["recursive"] != Value::Bool(false) {
        let range = list::list_range_of(folder).map_err(|e| e.to_string())?;
        let o = RangeOptions {
            gt: range.gt,
            lt: range.lt,
            ..RangeOptions::default()
        };
        let all = bee.range(o, version).unwrap();
        return Ok(all.iter().filter(|e| !ignored(e)).map(node_json).collect());
    }
    let mut dir = Shallow::of(folder).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    loop {
        let range = dir.range();
        let o = RangeOptions {
            gt: range.gt,
            lt: range.lt,
            limit: Some(1),
            ..RangeOptions::default()
        };
        let Some(e) = bee.range(o, version).unwrap().pop() else {
            return Ok(out);
        };
        if let Step::Yield(child) = dir.on_entry(&e.key).unwrap() {
            if ignored(&e) {
                continue;
            }
            out.push(if readdir {
                String::from_utf8(child).unwrap()
            } else {
                node_json(&e)
            });
        }
    }
}

/// `entry(path, {follow})` at `version`.
fn entry_at(
    bee: &mut MemBee,
    name: &str,
    follow: bool,
    version: Option<u64>,
) -> Result<Option<ferrocore_hyperbee::Entry>, String> {
    if !follow {
        let key = path::key_of(name).map_err(|e| e.to_string())?;
        return Ok(bee.get_at(&key, version).unwrap());
    }
    let mut f = Follow::new(name);
    loop {
        let key = f.key().map_err(|e| e.to_string())?;
        let Some(node) = bee.get_at(&key, version).unwrap() else {
            return Ok(None);
        };
        let entry = Entry::decode(node.value.as_deref().unwrap()).unwrap();
        let at = std::str::from_utf8(path::path_of_key(&node.key).unwrap()).unwrap();
        if f.found(at, &entry).map_err(|e| e.to_string())? {
            return Ok(Some(node));
        }
    }
}

/// `entry`, `exists` and `getBlobsLength` at the read's version, as JSON text.
fn lookup(bee: &mut MemBee, r: &Value) -> Result<String, String> {
    let version = u64_of(&r["version"]);
    match str_of(&r["op"]) {
        "getBlobsLength" => {
            // `0` is the latest version (JS tests the argument for truth).
            let at = Some(if version == 0 {
                bee.bee.version()
            } else {
                version
            });
            let all = bee.range(RangeOptions::default(), at).unwrap();
            let entries: Vec<Entry> = all
                .iter()
                .map(|e| Entry::decode(e.value.as_deref().unwrap()).unwrap())
                .collect();
            Ok(entry::blobs_length(&entries).unwrap().to_string())
        }
        op => {
            let follow = r["follow"] == Value::Bool(true);
            let found = entry_at(bee, str_of(&r["path"]), follow, Some(version))?;
            Ok(match (op, found) {
                ("exists", found) => found.is_some().to_string(),
                (_, Some(node)) => node_json(&node),
                (_, None) => "null".into(),
            })
        }
    }
}

/// `drive.checkout(to).diff(from, folder)`: `{left, right}` pairs as JSON text.
fn diff(bee: &mut MemBee, r: &Value) -> Vec<String> {
    let range = list::list_range_of(r["folder"].as_str()).unwrap();
    let (to, from) = (u64_of(&r["to"]), u64_of(&r["from"]));
    let side = |e: &Option<ferrocore_hyperbee::Entry>| e.as_ref().map_or("null".into(), node_json);
    let pairs = bee.diff(to, from, range).unwrap();
    pairs
        .iter()
        .map(|d| format!(r#"{{"left":{},"right":{}}}"#, side(&d.left), side(&d.right)))
        .collect()
}

#[test]
fn db_replays_and_listings_match_js() {
    let mut steps = Cases::new("drive db blocks replayed");
    let mut reads = Cases::new("drive list and readdir");
    let mut lookups = Cases::new("drive entry, exists and getBlobsLength");
    let mut diffs = Cases::new("drive diffs");
    for (p, v) in files(Schema::DriveOps) {
        let file = name(&p);
        for c in arr(&v["driveCases"]) {
            let mut bee = replay(c, &mut steps);
            for r in arr(&c["reads"]) {
                let what = format!("{file}: {} {}", str_of(&c["name"]), r);
                if matches!(str_of(&r["op"]), "entry" | "exists" | "getBlobsLength") {
                    match lookup(&mut bee, r) {
                        Ok(got) => assert_eq!(got, js(&r["expect"]), "{what}"),
                        Err(e) => assert_eq!(Some(e.as_str()), r["error"].as_str(), "{what}"),
                    }
                    lookups.pass();
                }
                if str_of(&r["op"]) == "diff" {
                    let expected: Vec<String> = arr(&r["expect"]).iter().map(js).collect();
                    assert_eq!(diff(&mut bee, r), expected, "{what}");
                    diffs.pass();
                }
                if !matches!(str_of(&r["op"]), "list" | "readdir") {
                    continue;
                }
                let expected: Vec<String> = if r["expect"].is_null() {
                    vec![]
                } else {
                    arr(&r["expect"])
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| js(x), String::from))
                        .collect()
                };
                match listing(&mut bee, r) {
                    Ok(got) => {
                        assert!(r["error"].is_null(), "{what}: JS threw");
                        assert_eq!(got, expected, "{what}");
                    }
                    Err(e) => assert_eq!(Some(e.as_str()), r["error"].as_str(), "{what}"),
                }
                reads.pass();
            }
        }
    }
    steps.report();
    reads.report();
    lookups.report();
    diffs.report();
}
