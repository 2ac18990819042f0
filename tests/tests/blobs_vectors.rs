//! Conformance of `ferrocore-hyperblobs` with JS hyperblobs 2.12.1 on hypercore 11.37.1
//! (`tests/vectors/drive/blobs.json`, by schema): every step's appends, blocks, ids and
//! their JSON, the core's length, byte length and tree hash after it, every clear's
//! blocks, and every read's bytes, error and stream chunks.
//!
//! The core is modelled in memory: its blocks, which of them are present (clears drop
//! them), the tree roots (for `treeHash`), and hypercore's `seek` as JS walks the tree
//! (with zero-length blocks the block it lands on depends on the tree's shape).

use bytes::Bytes;
use ferrocore::flat_tree;
use ferrocore::hash;
use ferrocore::Node;
use ferrocore_hyperblobs::{
    BlobError, BlobId, BlobWriter, Blobs, Clear, CoreInfo, DedupLoad, Get, Machine, ReadOptions,
    ReadStream, Step, WriteOptions,
};
use ferrocore_tests::{arr, files, hex, hex32, name, str_of, u64_of, Cases, Schema};
use serde_json::Value;

/// mulberry32 bytes, as `tests/vectors/drive/README.md` gives it.
fn prng(seed: u32, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x6d2b_79f5);
            let mut t = state;
            t = (t ^ (t >> 15)).wrapping_mul(t | 1);
            t ^= t.wrapping_add((t ^ (t >> 7)).wrapping_mul(t | 61));
            ((t ^ (t >> 14)) >> 24) as u8
        })
        .collect()
}

fn content(v: &Value) -> Bytes {
    if let Some(s) = v.as_str() {
        return Bytes::from(::hex::decode(s).expect("hex content"));
    }
    if let Some(parts) = v.get("concat") {
        return Bytes::from(
            arr(parts)
                .iter()
                .flat_map(|p| content(p).to_vec())
                .collect::<Vec<_>>(),
        );
    }
    let seed = u32::try_from(u64_of(&v["prng"])).expect("u32 seed");
    Bytes::from(prng(seed, u64_of(&v["length"]) as usize))
}

/// Checks `bytes` against a recorded **bytes** value.
fn check_bytes(got: &[u8], want: &Value, what: &str) {
    assert_eq!(
        got.len() as u64,
        u64_of(&want["byteLength"]),
        "{what}: length"
    );
    assert_eq!(
        hash::blake2b256(&[got]),
        hex32(&want["blake2b"]),
        "{what}: blake2b"
    );
    if let Some(h) = want.get("hex") {
        assert_eq!(got, hex(h), "{what}: hex");
    }
}

fn id_of(v: &Value) -> BlobId {
    BlobId {
        block_offset: u64_of(&v["blockOffset"]),
        block_length: u64_of(&v["blockLength"]),
        byte_offset: u64_of(&v["byteOffset"]),
        byte_length: u64_of(&v["byteLength"]),
        block_map: v.get("blockMap").and_then(Value::as_bool).unwrap_or(false),
    }
}

/// The core as the test keeps it.
#[derive(Default)]
struct Core {
    blocks: Vec<Bytes>,
    present: Vec<bool>,
    /// `prefix[i]`: bytes before block `i`.
    prefix: Vec<u64>,
    /// Full roots with their leaf counts.
    roots: Vec<(Node, u64)>,
}

impl Core {
    fn new() -> Self {
        Core {
            prefix: vec![0],
            ..Core::default()
        }
    }

    fn info(&self) -> CoreInfo {
        CoreInfo {
            length: self.blocks.len() as u64,
            byte_length: *self.prefix.last().unwrap(),
        }
    }

    fn append(&mut self, batch: &[Bytes]) {
        for b in batch {
            let mut node = (hash::leaf(self.blocks.len() as u64, b), 1);
            while let Some(&(top, n)) = self.roots.last() {
                if n != node.1 {
                    break;
                }
                self.roots.pop();
                node = (hash::parent(&top, &node.0), 2 * n);
            }
            self.roots.push(node);
            self.prefix
                .push(self.prefix.last().unwrap() + b.len() as u64);
            self.blocks.push(b.clone());
            self.present.push(true);
        }
    }

    fn tree_hash(&self) -> [u8; 32] {
        let roots: Vec<Node> = self.roots.iter().map(|r| r.0).collect();
        hash::tree_hash(&roots)
    }

    fn block(&self, i: u64) -> Option<Bytes> {
        let i = i as usize;
        self.present[i].then(|| self.blocks[i].clone())
    }

    /// Bytes under flat-tree node `i`.
    fn size(&self, i: u64) -> u64 {
        let (l, r) = flat_tree::spans(i);
        self.prefix[(r / 2 + 1) as usize] - self.prefix[(l / 2) as usize]
    }

    /// hypercore 11's `seek(bytes)` (`ByteSeeker._seek`), every node present.
    fn seek(&self, mut bytes: u64) -> Option<(u64, u64)> {
        if bytes == 0 {
            return Some((0, 0));
        }
        for root in flat_tree::full_roots(self.blocks.len() as u64) {
            let size = self.size(root);
            if bytes == size {
                return Some(((flat_tree::right_span(root) + 2) / 2, 0));
            }
            if bytes > size {
                bytes -= size;
                continue;
            }
            let mut ite = root;
            while let Some((l, r)) = flat_tree::children(ite) {
                let size = self.size(l);
                if size == bytes {
                    return Some(((flat_tree::right_span(l) + 2) / 2, 0));
                }
                if size > bytes {
                    ite = l;
                } else {
                    bytes -= size;
                    ite = r;
                }
            }
            return Some((ite / 2, bytes));
        }
        None
    }

    /// Drives a machine to its end, answering from this core.
    fn drive<M: Machine>(
        &self,
        m: &mut M,
        chunks: &mut Vec<Bytes>,
    ) -> Result<M::Output, BlobError> {
        loop {
            match m.poll()? {
                Step::NeedBlock(seq) => m.handle_block(seq, self.block(seq))?,
                Step::NeedSeek(byte) => m.handle_seek(byte, self.seek(byte))?,
                Step::Chunk(c) => chunks.push(c),
                Step::Done(out) => return Ok(out),
            }
        }
    }
}

/// The JS error message a machine's error stands for.
fn js_message(e: &BlobError) -> &'static str {
    match e {
        BlobError::EmptyBlockMap => "Cannot read properties of null (reading 'length')",
        BlobError::StartPastEnd => "Cannot read properties of undefined (reading 'index')",
        BlobError::MapNotAvailable => "Cannot read properties of null (reading 'blocks')",
        other => panic!("no JS message for {other:?}"),
    }
}

fn write_options(o: &Value) -> WriteOptions {
    WriteOptions {
        block_map: o.get("blockMap").and_then(Value::as_bool).unwrap_or(false),
        dedup: o.get("dedup").and_then(Value::as_bool).unwrap_or(false),
        block_size: o.get("blockSize").map(|v| u64_of(v) as usize),
    }
}

fn read_options(o: &Value) -> ReadOptions {
    ReadOptions {
        start: o.get("start").map(u64_of),
        end: o.get("end").map(|v| v.as_i64().expect("integer end")),
        length: o.get("length").map(u64_of),
    }
}

/// Appends a step's appends and checks the recorded `after` fields.
fn apply(core: &mut Core, appends: &[Vec<Bytes>], s: &Value, what: &str) {
    let mut lengths = Vec::new();
    let mut blocks = Vec::new();
    for a in appends {
        core.append(a);
        lengths.push(core.blocks.len() as u64);
        blocks.extend(a.iter().cloned());
    }
    let want: Vec<u64> = arr(&s["appends"]).iter().map(u64_of).collect();
    assert_eq!(lengths, want, "{what}: appends");
    if !s["blocks"].is_null() {
        let recorded = arr(&s["blocks"]);
        assert_eq!(blocks.len(), recorded.len(), "{what}: blocks");
        for (i, (b, w)) in blocks.iter().zip(recorded).enumerate() {
            check_bytes(b, w, &format!("{what}: block {i}"));
        }
    }
    let info = core.info();
    assert_eq!(info.length, u64_of(&s["length"]), "{what}: length");
    assert_eq!(
        info.byte_length,
        u64_of(&s["byteLength"]),
        "{what}: byteLength"
    );
    assert_eq!(core.tree_hash(), hex32(&s["treeHash"]), "{what}: treeHash");
}

fn check_id(id: &BlobId, s: &Value, what: &str) {
    assert_eq!(*id, id_of(&s["id"]), "{what}: id");
    let json = str_of(&s["idJson"]);
    assert_eq!(id.to_json(), json, "{what}: idJson");
    assert_eq!(
        BlobId::from_json(json.as_bytes()).as_ref(),
        Ok(id),
        "{what}: parse"
    );
}

/// JS `HyperBlobsBatch.get` before `flush` (README: it concatenates too many blocks).
fn js_batch_get(core_len: u64, buffered: &[Bytes], id: &BlobId) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for i in (id.block_offset - core_len)..(id.block_offset + id.block_length) {
        out.extend_from_slice(buffered.get(i as usize)?);
    }
    Some(out)
}

#[allow(clippy::too_many_lines)]
fn run_steps(
    c: &Value,
    blobs: &Blobs,
    core: &mut Core,
    label: &str,
    cases: &mut Cases,
) -> Vec<Option<BlobId>> {
    let mut ids: Vec<Option<BlobId>> = Vec::new();
    for (k, s) in arr(&c["steps"]).iter().enumerate() {
        let what = format!("{label} step {k}");
        let id = match str_of(&s["op"]) {
            "put" => {
                let opts = write_options(&s["opts"]);
                let table = s["opts"].get("blob").map(|b| {
                    let old = ids[u64_of(&b["step"]) as usize].expect("blob step has an id");
                    assert_eq!(old, id_of(&b["id"]), "{what}: blob option");
                    let mut load = DedupLoad::new(&old, core.info()).unwrap();
                    core.drive(&mut load, &mut Vec::new()).unwrap()
                });
                let put = blobs.put(
                    &content(&s["content"]),
                    &opts,
                    core.info().length,
                    core.info().byte_length,
                    table,
                );
                apply(core, &put.appends, s, &what);
                check_id(&put.id, s, &what);
                Some(put.id)
            }
            "writeStream" => {
                let opts = write_options(&s["opts"]);
                let info = core.info();
                let mut w = BlobWriter::new(&opts, info.length, info.byte_length, None);
                let mut appends = Vec::new();
                for chunk in arr(&s["chunks"]) {
                    w.write(content(chunk));
                    appends.extend(std::iter::from_fn(|| w.poll_append()));
                }
                let id = w.end();
                appends.extend(std::iter::from_fn(|| w.poll_append()));
                apply(core, &appends, s, &what);
                check_id(&id, s, &what);
                Some(id)
            }
            "batch" => {
                let info = core.info();
                let mut batch = blobs.batch(info.length, info.byte_length);
                let puts: Vec<Bytes> = arr(&s["puts"]).iter().map(content).collect();
                let mut batch_ids = Vec::new();
                for (j, p) in puts.iter().enumerate() {
                    let id = batch.put(p);
                    let want = &arr(&s["ids"])[j];
                    assert_eq!(id, id_of(want), "{what}: batch id {j}");
                    assert_eq!(id.to_batch_json(), serde_json::to_string(want).unwrap());
                    batch_ids.push(id);
                }
                // The gets ran after every put. Ours return the blobs; JS's read too many
                // blocks (modelled here from the blocks the flush appends).
                let appended = batch.clone().flush();
                for (j, (id, p)) in batch_ids.iter().zip(&puts).enumerate() {
                    assert_eq!(batch.get(id).as_deref(), Some(&p[..]), "{what}: get {j}");
                    let js = js_batch_get(info.length, &appended, id);
                    match &arr(&s["getsBeforeFlush"])[j] {
                        Value::Null => assert_eq!(js, None, "{what}: JS get {j}"),
                        w => check_bytes(&js.unwrap(), w, &format!("{what}: JS get {j}")),
                    }
                }
                apply(core, &[batch.flush()], s, &what);
                None
            }
            "clear" => {
                let id = ids[u64_of(&s["step"]) as usize].expect("cleared step has an id");
                let mut clear = Clear::new(&id, core.info()).unwrap();
                for (a, b) in core.drive(&mut clear, &mut Vec::new()).unwrap() {
                    core.present[a as usize..b as usize].fill(false);
                }
                let has: String = core
                    .present
                    .iter()
                    .map(|p| if *p { '1' } else { '0' })
                    .collect();
                assert_eq!(has, str_of(&s["has"]), "{what}: has");
                None
            }
            op => panic!("{what}: unknown op {op}"),
        };
        ids.push(id);
        cases.pass();
    }
    ids
}

#[test]
fn content_generator_matches_the_readme() {
    assert_eq!(
        ::hex::encode(prng(1002, 16)),
        "6f886a657f9a582fe116d56b02d25059"
    );
}

#[test]
fn blobs_match_js() {
    let mut cases = Cases::new("hyperblobs steps and reads");
    for (path, v) in files(Schema::DriveBlobs) {
        let file = name(&path);
        for c in arr(&v["blobCases"]) {
            let label = format!("{file}: {}", str_of(&c["name"]));
            let blobs = Blobs::new(c["blockSize"].as_u64().map(|b| b as usize));
            let mut core = Core::new();
            let ids = run_steps(c, &blobs, &mut core, &label, &mut cases);
            for (k, r) in arr(&c["reads"]).iter().enumerate() {
                let what = format!("{label} read {k} (step {}, {})", r["step"], r["opts"]);
                let id = ids[u64_of(&r["step"]) as usize].expect("read step has an id");
                let opts = read_options(&r["opts"]);
                let got = Get::new(&id, &opts, core.info())
                    .and_then(|mut g| core.drive(&mut g, &mut Vec::new()));
                match (&got, r.get("error")) {
                    (Err(e), Some(msg)) => assert_eq!(js_message(e), str_of(msg), "{what}"),
                    (Ok(None), None) => assert!(r["expect"].is_null(), "{what}: null"),
                    (Ok(Some(bytes)), None) => check_bytes(bytes, &r["expect"], &what),
                    _ => panic!("{what}: got {got:?}, JS {r}"),
                }
                if let Some(want) = r.get("chunks") {
                    let mut chunks = Vec::new();
                    let mut stream = ReadStream::new(&id, &opts, core.info()).unwrap();
                    assert_eq!(
                        core.drive(&mut stream, &mut chunks),
                        Ok(true),
                        "{what}: stream"
                    );
                    let lens: Vec<u64> = chunks.iter().map(|c| c.len() as u64).collect();
                    let want: Vec<u64> = arr(want).iter().map(u64_of).collect();
                    assert_eq!(lens, want, "{what}: chunks");
                    assert_eq!(
                        Ok(Some(Bytes::from(chunks.concat()))),
                        got,
                        "{what}: stream = get"
                    );
                }
                cases.pass();
            }
        }
    }
    cases.report();
}
