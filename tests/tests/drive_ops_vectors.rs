//! The drive's operations (`ferrocore_hyperdrive::drive`, driven by
//! `ferrocore_hyperdrive::testing::MemDrive`) replayed end to end against the pinned JS
//! hyperdrive 13.3.4 (`tests/vectors/drive/drive.json`, see its README): every step of
//! every case through the machines (puts, write streams, symlinks, `putEntry`, deletes,
//! batches, truncates, clears), with the db blocks, the version, the blobs core's length
//! and byte length, the touched entries and `has` of every blobs block after each step,
//! and both cores' tree hashes at the end; then every read (entry, exists, get and read
//! streams with their ranges and chunks, has, list, readdir, diff, getBlobsLength) on
//! the drive the steps built.

use bytes::Bytes;
use ferrocore::hash;
use ferrocore::Node as TreeNode;
use ferrocore_hyperblobs::{BlobError, ReadOptions};
use ferrocore_hyperdrive::drive::{DriveOp, GetOptions, ListOptions, Node, WriteStreamOptions};
use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::list::Ignore;
use ferrocore_hyperdrive::testing::MemDrive;
use ferrocore_hyperdrive::{DriveConfig, DriveError};
use ferrocore_tests::{arr, files, hex, hex32, name, str_of, u64_of, Cases, Schema};
use ferrocore_wire::json;
use serde_json::Value;

/// mulberry32 bytes, as `tests/vectors/drive/README.md` gives it.
fn prng(seed: u32, len: usize) -> impl Iterator<Item = u8> {
    let mut state = seed;
    (0..len).map(move |_| {
        state = state.wrapping_add(0x6d2b_79f5);
        let mut t = state;
        t = (t ^ (t >> 15)).wrapping_mul(t | 1);
        t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
        ((t ^ (t >> 14)) >> 24) as u8
    })
}

/// A **content** description's bytes.
fn content_bytes(v: &Value, out: &mut Vec<u8>) {
    if let Some(s) = v.as_str() {
        out.extend(::hex::decode(s).expect("hex content"));
    } else if let Some(parts) = v.get("concat") {
        arr(parts).iter().for_each(|p| content_bytes(p, out));
    } else {
        let seed = u32::try_from(u64_of(&v["prng"])).expect("u32 seed");
        out.extend(prng(seed, u64_of(&v["length"]) as usize));
    }
}

fn content(v: &Value) -> Bytes {
    let mut out = Vec::new();
    content_bytes(v, &mut out);
    out.into()
}

/// hypercore's `treeHash()` of a core holding `blocks`.
fn tree_hash(blocks: &[Bytes]) -> [u8; 32] {
    let mut roots: Vec<(TreeNode, u64)> = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let mut node = (hash::leaf(i as u64, b), 1);
        while roots.last().is_some_and(|r| r.1 == node.1) {
            let (left, n) = roots.pop().unwrap();
            node = (hash::parent(&left, &node.0), 2 * n);
        }
        roots.push(node);
    }
    let roots: Vec<TreeNode> = roots.into_iter().map(|r| r.0).collect();
    hash::tree_hash(&roots)
}

fn ours(v: &Value) -> json::Value {
    json::parse(&serde_json::to_vec(v).unwrap()).unwrap()
}

fn js(v: &Value) -> String {
    json::stringify(v)
}

/// JS's message for an error.
fn message(e: &DriveError) -> String {
    match e {
        DriveError::Blob(BlobError::StartPastEnd) => {
            "Cannot read properties of undefined (reading 'index')".into()
        }
        DriveError::Blob(BlobError::MapNotAvailable) => {
            "Cannot read properties of null (reading 'blocks')".into()
        }
        DriveError::Blob(BlobError::EmptyBlockMap) => {
            "Cannot read properties of null (reading 'length')".into()
        }
        DriveError::NoBlob => "Cannot read properties of null (reading 'blockMap')".into(),
        other => other.to_string(),
    }
}

/// A vector's op as a drive op.
fn drive_op(s: &Value) -> DriveOp {
    let path = str_of(&s["path"]).to_owned();
    let metadata = ours(&s["opts"]["metadata"]);
    match str_of(&s["op"]) {
        "put" => DriveOp::Put {
            path,
            content: content(&s["content"]),
            executable: s["opts"]["executable"].as_bool().unwrap_or(false),
            metadata,
        },
        "symlink" => DriveOp::Symlink {
            path,
            target: str_of(&s["target"]).into(),
            metadata,
        },
        "putEntry" => DriveOp::PutEntry {
            path,
            entry: Entry::from_json(ours(&s["value"])).unwrap(),
        },
        "del" => DriveOp::Del { path },
        op => panic!("no drive op {op}"),
    }
}

/// `{seq, key, value}` as JS prints it.
fn node_json(n: &Node) -> String {
    format!(
        r#"{{"seq":{},"key":{},"value":{}}}"#,
        n.seq,
        js(&Value::String(n.path.clone())),
        json::stringify(&n.entry.to_json())
    )
}

/// Runs one step; `Err` is JS's message when the op threw.
fn step(d: &mut MemDrive, s: &Value) -> Result<(), String> {
    let err = |e: DriveError| message(&e);
    match str_of(&s["op"]) {
        "batch" => {
            let ops = arr(&s["ops"]).iter().map(drive_op).collect();
            let mut w = d.drive.write(ops);
            let out = d.run(&mut w).map_err(err)?;
            for (o, r) in arr(&s["ops"]).iter().zip(&out.results) {
                assert!(r.is_ok() || !o["error"].is_null(), "batch op {o}: {r:?}");
            }
        }
        "writeStream" => {
            let o = &s["opts"];
            let opts = WriteStreamOptions {
                executable: o["executable"].as_bool().unwrap_or(false),
                metadata: ours(&o["metadata"]),
                dedup: o["dedup"].as_bool().unwrap_or(false),
            };
            let mut w = d.drive.write_stream(str_of(&s["path"]), opts);
            for c in arr(&s["chunks"]) {
                w.write(content(c));
                assert_eq!(d.run(&mut w).map_err(err)?, None, "open stream");
            }
            w.end();
            let id = d.run(&mut w).map_err(err)?;
            assert!(id.is_some(), "an ended stream has an id");
        }
        "truncate" => {
            let blobs = s["opts"]["blobs"].as_u64();
            let mut t = d.drive.truncate(u64_of(&s["length"]), blobs);
            let to = d.run(&mut t).map_err(err)?;
            d.apply_truncate(to);
        }
        "clear" => {
            let mut c = d.drive.clear(str_of(&s["path"]));
            let ranges = d.run(&mut c).map_err(err)?;
            d.apply_clear(&ranges);
        }
        "clearAll" => {
            let all: Vec<_> = d.drive.clear_all().into_iter().collect();
            d.apply_clear(&all);
        }
        _ => {
            let mut w = d.drive.write(vec![drive_op(s)]);
            let out = d.run(&mut w).map_err(err)?;
            if let Some(Err(e)) = out.results.first() {
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}

/// Replays a case's steps, requiring JS's cores and entries after each.
fn replay(c: &Value, cases: &mut Cases) -> MemDrive {
    let case = str_of(&c["name"]);
    let mut d = MemDrive::new(DriveConfig::default());
    for (i, s) in arr(&c["steps"]).iter().enumerate() {
        let what = format!("{case} step {i} ({})", str_of(&s["op"]));
        let before = d.db.len();
        let r = step(&mut d, s);
        assert_eq!(
            r.as_ref().err().map(String::as_str),
            s["error"].as_str(),
            "{what}"
        );
        let appended: Vec<String> = d.db[before.min(d.db.len())..]
            .iter()
            .map(::hex::encode)
            .collect();
        let expected: Vec<&str> = arr(&s["dbBlocks"]).iter().map(str_of).collect();
        assert_eq!(appended, expected, "{what}: db blocks");
        assert_eq!(d.drive.version(), u64_of(&s["version"]), "{what}: version");
        let blobs = d.drive.blobs_core();
        assert_eq!(
            blobs.length,
            u64_of(&s["blobsLength"]),
            "{what}: blobs length"
        );
        assert_eq!(d.blobs.len() as u64, blobs.length, "{what}");
        assert_eq!(blobs.byte_length, u64_of(&s["blobsByteLength"]), "{what}");
        if let Some(has) = s["blobsHas"].as_str() {
            let ours: String = (0..blobs.length)
                .map(|i| if d.cleared.contains(&i) { '0' } else { '1' })
                .collect();
            assert_eq!(ours, has, "{what}: blobs has");
        }
        for e in arr(&s["entries"]) {
            let mut l = d.drive.view().entry(str_of(&e["key"]), false);
            let got = d.run(&mut l).unwrap();
            let expect = &e["entry"];
            assert_eq!(
                got.as_ref().map_or("null".into(), node_json),
                js(expect),
                "{what}: {}",
                e["key"]
            );
        }
        cases.pass();
    }
    assert_eq!(tree_hash(&d.db), hex32(&c["dbTreeHash"]), "{case}: db tree");
    if let Some(h) = c["blobsTreeHash"].as_str() {
        assert_eq!(
            tree_hash(&d.blobs),
            hex32(&Value::from(h)),
            "{case}: blobs tree"
        );
    }
    d
}

fn range_of(o: &Value) -> ReadOptions {
    ReadOptions {
        start: o["start"].as_u64(),
        end: o["end"].as_i64(),
        length: o["length"].as_u64(),
    }
}

/// Checks bytes against a recorded **bytes** value.
fn check_bytes(got: &[u8], want: &Value, what: &str) {
    assert_eq!(got.len() as u64, u64_of(&want["byteLength"]), "{what}");
    assert_eq!(hash::blake2b256(&[got]), hex32(&want["blake2b"]), "{what}");
    if let Some(h) = want.get("hex") {
        assert_eq!(got, hex(h), "{what}: hex");
    }
}

/// A read's result as JSON text (bytes results are checked here and printed as `"ok"`).
fn read(d: &mut MemDrive, r: &Value) -> Result<String, DriveError> {
    let view = d.drive.checkout(r["version"].as_u64().unwrap_or(0));
    let path = r["path"].as_str().unwrap_or_default();
    let folder = r["folder"].as_str();
    let opts = &r["opts"];
    Ok(match str_of(&r["op"]) {
        "entry" => {
            let follow = r["follow"] == Value::Bool(true);
            let found = d.run(&mut view.entry(path, follow))?;
            found.as_ref().map_or("null".into(), node_json)
        }
        "exists" => d.run(&mut view.exists(path))?.to_string(),
        "has" => d.run(&mut view.has(path))?.to_string(),
        "get" => {
            let o = GetOptions {
                follow: opts["follow"] == Value::Bool(true),
                range: range_of(opts),
            };
            match d.run(&mut view.get(path, o))? {
                None => "null".into(),
                Some(bytes) => {
                    check_bytes(&bytes, &r["expect"], &r.to_string());
                    "ok".into()
                }
            }
        }
        "readStream" => {
            let chunks = d.collect(&mut view.read_stream(path, range_of(opts)))?;
            let lens: Vec<u64> = chunks.iter().map(|c| c.len() as u64).collect();
            let want: Vec<u64> = arr(&r["expect"]["chunks"]).iter().map(u64_of).collect();
            assert_eq!(lens, want, "{r}: chunks");
            check_bytes(&chunks.concat(), &r["expect"], &r.to_string());
            "ok".into()
        }
        "list" => {
            let ignore = match &opts["ignore"] {
                Value::Null => None,
                Value::String(one) => Some(Ignore::new([one.as_str()])?),
                many => Some(Ignore::new(arr(many).iter().map(str_of))?),
            };
            let o = ListOptions {
                recursive: opts["recursive"] != Value::Bool(false),
                ignore,
            };
            let nodes = d.collect(&mut view.list(folder, o))?;
            let items: Vec<String> = nodes.iter().map(node_json).collect();
            format!("[{}]", items.join(","))
        }
        "readdir" => {
            let names = d.collect(&mut view.readdir(folder))?;
            let names: Vec<Value> = names.into_iter().map(Value::String).collect();
            js(&Value::Array(names))
        }
        "diff" => {
            let to = d.drive.checkout(u64_of(&r["to"]));
            let pairs = d.collect(&mut to.diff(u64_of(&r["from"]), folder))?;
            let side = |n: &Option<Node>| n.as_ref().map_or("null".into(), node_json);
            let items: Vec<String> = pairs
                .iter()
                .map(|p| format!(r#"{{"left":{},"right":{}}}"#, side(&p.left), side(&p.right)))
                .collect();
            format!("[{}]", items.join(","))
        }
        "getBlobsLength" => {
            let mut l = d.drive.blobs_length(u64_of(&r["version"]));
            d.run(&mut l)?.to_string()
        }
        op => panic!("unknown read {op}"),
    })
}

#[test]
fn drive_ops_replay_js() {
    let mut steps = Cases::new("drive ops steps replayed");
    let mut reads = Cases::new("drive ops reads");
    let (mut want_steps, mut want_reads) = (0, 0);
    for (p, v) in files(Schema::DriveOps) {
        let file = name(&p);
        for c in arr(&v["driveCases"]) {
            want_steps += arr(&c["steps"]).len();
            want_reads += arr(&c["reads"]).len();
            let mut d = replay(c, &mut steps);
            for r in arr(&c["reads"]) {
                let what = format!("{file}: {} {r}", str_of(&c["name"]));
                match read(&mut d, r) {
                    Ok(got) => {
                        assert!(r["error"].is_null(), "{what}: JS threw");
                        let expect = &r["expect"];
                        let bytes = matches!(str_of(&r["op"]), "get" | "readStream");
                        if bytes && !expect.is_null() {
                            assert_eq!(got, "ok", "{what}");
                        } else {
                            assert_eq!(got, js(expect), "{what}");
                        }
                    }
                    Err(e) => assert_eq!(Some(message(&e).as_str()), r["error"].as_str(), "{what}"),
                }
                reads.pass();
            }
        }
    }
    assert_eq!((steps.count(), reads.count()), (want_steps, want_reads));
    assert!(want_reads > 1000, "the vectors hold the reads");
    steps.report();
    reads.report();
}
