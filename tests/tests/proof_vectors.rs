//! Proof generation and verification against the reference's vectors
//! (`Schema::Proofs`, `Schema::Truncate`, writer data from `Schema::Tree`).
//!
//! For every proof vector: the writer (tree nodes, blocks and the signature of the state at
//! `writerLength`, in compat or manifest mode) generates the proof for the vector's request,
//! which must equal the reference's structured proof and encode to the same `data` message.
//! Then a fresh reader replays `readerSetup` and applies the (possibly tampered) message; its
//! outcome must match `verification` field by field.

use std::collections::BTreeMap;

use bytes::Bytes;
use ferrocore::hash::tree_hash;
use ferrocore::manifest::{default_manifest, manifest_hash};
use ferrocore::proof::{generate, SenderState, Verdict};
use ferrocore::{flat_tree, ProofError};
use ferrocore_tests::{files, hex, hex32, name, u64_of, Cases, ProofReader, Schema};
use ferrocore_wire::{
    Data, DataBlock, DataHash, DataSeek, DataUpgrade, Decode, Encode, Manifest, Node, Prologue,
    Proof, Request, RequestBlock, RequestSeek, RequestUpgrade, Signer,
};
use serde_json::Value;

// ----- JSON → wire types ----------------------------------------------------------------

fn node_of(v: &Value) -> Node {
    Node::new(u64_of(&v["index"]), u64_of(&v["size"]), hex32(&v["hash"]))
}

fn nodes_of(v: &Value) -> Vec<Node> {
    v.as_array()
        .expect("node list")
        .iter()
        .map(node_of)
        .collect()
}

fn opt<T>(v: &Value, f: impl FnOnce(&Value) -> T) -> Option<T> {
    (!v.is_null()).then(|| f(v))
}

fn manifest_of(v: &Value) -> Manifest {
    assert_eq!(v["hash"], "blake2b");
    Manifest {
        version: u64_of(&v["version"]),
        hash: Default::default(),
        allow_patch: v["allowPatch"].as_bool().expect("allowPatch"),
        quorum: u64_of(&v["quorum"]),
        signers: v["signers"]
            .as_array()
            .expect("signers")
            .iter()
            .map(|s| {
                assert_eq!(s["signature"], "ed25519");
                Signer {
                    signature: Default::default(),
                    namespace: hex32(&s["namespace"]),
                    public_key: hex32(&s["publicKey"]),
                }
            })
            .collect(),
        prologue: opt(&v["prologue"], |p| Prologue {
            hash: hex32(&p["hash"]),
            length: u64_of(&p["length"]),
        }),
        linked: opt(&v["linked"], |l| {
            l.as_array().expect("linked").iter().map(hex32).collect()
        }),
        user_data: opt(&v["userData"], |u| hex(u).into()),
    }
}

fn proof_of(v: &Value) -> Proof {
    Proof {
        fork: u64_of(&v["fork"]),
        block: opt(&v["block"], |b| DataBlock {
            index: u64_of(&b["index"]),
            value: hex(&b["value"]).into(),
            nodes: nodes_of(&b["nodes"]),
        }),
        hash: opt(&v["hash"], |h| DataHash {
            index: u64_of(&h["index"]),
            nodes: nodes_of(&h["nodes"]),
        }),
        seek: opt(&v["seek"], |s| DataSeek {
            bytes: u64_of(&s["bytes"]),
            nodes: nodes_of(&s["nodes"]),
        }),
        upgrade: opt(&v["upgrade"], |u| DataUpgrade {
            start: u64_of(&u["start"]),
            length: u64_of(&u["length"]),
            nodes: nodes_of(&u["nodes"]),
            additional_nodes: nodes_of(&u["additionalNodes"]),
            signature: opt(&u["signature"], |s| hex(s).into()),
        }),
        manifest: opt(&v["manifest"], manifest_of),
    }
}

fn request_of(v: &Value) -> Request {
    let indexed = |b: &Value| RequestBlock {
        index: u64_of(&b["index"]),
        nodes: u64_of(&b["nodes"]),
    };
    let get = |k: &str| v.get(k).filter(|x| !x.is_null());
    Request {
        id: 1,
        fork: 0,
        block: get("block").map(indexed),
        hash: get("hash").map(indexed),
        seek: get("seek").map(|s| RequestSeek {
            bytes: u64_of(&s["bytes"]),
            padding: u64_of(&s["padding"]),
        }),
        upgrade: get("upgrade").map(|u| RequestUpgrade {
            start: u64_of(&u["start"]),
            length: u64_of(&u["length"]),
        }),
        manifest: get("manifest").and_then(Value::as_bool).unwrap_or(false),
        priority: 0,
    }
}

fn encode_data(proof: &Proof) -> Vec<u8> {
    Data {
        request: 1,
        proof: proof.clone(),
    }
    .to_vec()
}

fn decode_data(bytes: &[u8]) -> Proof {
    Data::decode_exact(bytes)
        .expect("vector data message decodes")
        .proof
}

// ----- the writer ---------------------------------------------------------------------------

/// The 37-block core of a `Schema::Tree` file, in both modes.
struct TreeCore {
    public_key: [u8; 32],
    compat_key: [u8; 32],
    manifest_key: [u8; 32],
    manifest: Manifest,
    blocks: Vec<Bytes>,
    nodes: Vec<Node>,
    states: Vec<Value>,
}

impl TreeCore {
    fn load(v: &Value) -> Self {
        let public_key = hex32(&v["publicKey"]);
        let manifest = Manifest::decode_exact(&hex(&v["manifestEncoded"])).expect("manifest");
        let manifest_key = hex32(&v["manifestKey"]);
        assert_eq!(manifest_hash(&manifest), manifest_key);
        assert_eq!(manifest, manifest_of(&v["manifest"]));
        Self {
            public_key,
            compat_key: hex32(&v["compatKey"]),
            manifest_key,
            manifest,
            blocks: v["blocks"]
                .as_array()
                .expect("blocks")
                .iter()
                .map(|b| hex(&b["value"]).into())
                .collect(),
            nodes: nodes_of(&v["nodes"]),
            states: v["states"].as_array().expect("states").clone(),
        }
    }

    /// The writer's nodes at `length` (every node of the 37-block tree that exists then).
    fn nodes_at(&self, length: u64) -> Vec<Node> {
        self.nodes
            .iter()
            .filter(|n| flat_tree::exists_at(n.index, length))
            .copied()
            .collect()
    }

    fn signature(&self, length: u64, mode: &str) -> Bytes {
        let state = self
            .states
            .iter()
            .find(|s| u64_of(&s["length"]) == length)
            .unwrap_or_else(|| panic!("tree.json has no state at length {length}"));
        let part = if mode == "compat" {
            "compat"
        } else {
            "manifest"
        };
        hex(&state[part]["signature"]).into()
    }

    /// Key and manifest of the core in `mode`. A compat core stores the default signer
    /// manifest of its key (it is never sent).
    fn mode(&self, mode: &str) -> ([u8; 32], Manifest) {
        match mode {
            "compat" => (self.compat_key, default_manifest(&self.public_key)),
            "modern" => (self.manifest_key, self.manifest.clone()),
            other => panic!("unknown coreMode {other}"),
        }
    }

    /// Generates the writer's answer to `request` at `length` in `mode`.
    fn answer(&self, mode: &str, length: u64, request: &Request) -> Proof {
        let (key, manifest) = self.mode(mode);
        let state = SenderState {
            key: &key,
            manifest: Some(&manifest),
            fork: 0,
            length,
            signature: Some(self.signature(length, mode)),
        };
        let value = request.block.map(|b| self.blocks[b.index as usize].clone());
        generate(&state, self.nodes_at(length).as_slice(), request, value)
            .unwrap_or_else(|e| panic!("generate {request:?} at {length}: {e}"))
    }
}

fn tree_for(key: &[u8; 32]) -> TreeCore {
    files(Schema::Tree)
        .iter()
        .map(|(_, v)| TreeCore::load(v))
        .find(|t| t.compat_key == *key || t.manifest_key == *key)
        .expect("a tree file for the proof's key")
}

// ----- the reader ---------------------------------------------------------------------------

/// A receiver that applies verified batches and keeps the verified blocks.
struct Reader {
    state: ProofReader,
    blocks: BTreeMap<u64, Bytes>,
}

impl std::ops::Deref for Reader {
    type Target = ProofReader;
    fn deref(&self) -> &ProofReader {
        &self.state
    }
}

/// The reference's outcome: `Ok(true)` accepted, `Ok(false)` ignored, `Err(code)` thrown.
type Outcome = Result<bool, &'static str>;

/// The `hypercore-errors` code the reference throws for each rejection.
fn js_code(e: &ProofError) -> &'static str {
    match e {
        ProofError::InvalidSignature | ProofError::ManifestMismatch => "INVALID_SIGNATURE",
        ProofError::ChecksumMismatch(_) => "INVALID_CHECKSUM",
        ProofError::Prologue | ProofError::PrologueHash => "INVALID_PROOF",
        _ => "INVALID_OPERATION",
    }
}

impl Reader {
    fn new(key: [u8; 32], manifest: Manifest, fork: u64) -> Self {
        Self {
            state: ProofReader::new(key, Some(manifest), fork),
            blocks: BTreeMap::new(),
        }
    }

    fn apply(&mut self, proof: &Proof) -> Outcome {
        let batch = match self.state.verify(proof) {
            Ok(Verdict::Accepted(batch)) => batch,
            Ok(Verdict::Ignored { fork }) => {
                assert_ne!(fork, self.fork);
                return Ok(false);
            }
            Err(ferrocore::proof::VerifyError::Proof(e)) => return Err(js_code(&e)),
            Err(e) => panic!("reader state or storage: {e}"),
        };
        self.state.apply(&batch);
        if let Some(b) = batch.block {
            self.blocks.insert(b.index, b.value);
        }
        Ok(true)
    }

    /// What the replicator would put in `nodes` for a block/hash request.
    fn missing(&self, request: &Request) -> Option<u64> {
        let index = match (request.block, request.hash) {
            (Some(b), _) => 2 * b.index,
            (None, Some(h)) => h.index,
            (None, None) => return None,
        };
        Some(self.state.missing(index))
    }

    fn requested_nodes(request: &Request) -> Option<u64> {
        request.block.or(request.hash).map(|b| b.nodes)
    }
}

// ----- tests --------------------------------------------------------------------------------

#[test]
fn proofs_match_the_reference() {
    let mut cases = Cases::new("proof vectors: generation, encoding, verification");
    for (path, file) in files(Schema::Proofs) {
        let vectors = file["proofs"].as_array().expect("proofs");
        let by_name = |n: &str| {
            vectors
                .iter()
                .find(|p| p["name"] == n)
                .unwrap_or_else(|| panic!("no proof vector named {n}"))
        };
        for v in vectors {
            let label = format!("{} {}", name(&path), v["name"].as_str().unwrap_or("?"));
            let key = hex32(&v["key"]);
            let tree = tree_for(&key);
            let mode = v["coreMode"].as_str().expect("coreMode");
            let (mode_key, manifest) = tree.mode(mode);
            assert_eq!(mode_key, key, "{label}: key");
            assert_eq!(
                u64_of(&v["writerFork"]),
                0,
                "{label}: tree.json states are at fork 0"
            );
            let writer_length = u64_of(&v["writerLength"]);

            // (1) generation: structured proof and encoded data message.
            let request = request_of(&v["request"]);
            let expected = proof_of(&v["proof"]);
            let generated = tree.answer(mode, writer_length, &request);
            assert_eq!(generated, expected, "{label}: generated proof");
            assert_eq!(
                encode_data(&generated),
                hex(&v["dataMessage"]["encoded"]),
                "{label}: encoded data message"
            );
            assert_eq!(
                decode_data(&hex(&v["dataMessage"]["encoded"])),
                expected,
                "{label}: decode"
            );

            // (2) verification on a fresh reader after the setup proofs.
            let mut reader = Reader::new(key, manifest, 0);
            for step in v["readerSetup"].as_array().expect("readerSetup") {
                let encoded = hex(&step["dataMessageEncoded"]);
                if let Some(captured) = step["request"]["captured"].as_str() {
                    assert_eq!(
                        encoded,
                        hex(&by_name(captured)["dataMessage"]["encoded"]),
                        "{label}: captured {captured}"
                    );
                } else {
                    let req = request_of(&step["request"]);
                    if let Some(nodes) = Reader::requested_nodes(&req) {
                        assert_eq!(
                            reader.missing(&req),
                            Some(nodes),
                            "{label}: setup missing nodes"
                        );
                    }
                    let p = tree.answer(mode, writer_length, &req);
                    assert_eq!(encode_data(&p), encoded, "{label}: setup proof");
                }
                assert_eq!(
                    reader.apply(&decode_data(&encoded)),
                    Ok(true),
                    "{label}: setup applies"
                );
                assert_eq!(
                    reader.length,
                    u64_of(&step["readerLengthAfter"]),
                    "{label}: setup length"
                );
            }
            assert_eq!(
                reader.length,
                u64_of(&v["readerStartLength"]),
                "{label}: start length"
            );

            let ver = &v["verification"];
            let accepted = ver["accepted"].as_bool().expect("accepted");
            if accepted {
                // The vector's `nodes` is what the replicator computes on this reader.
                assert_eq!(
                    reader.missing(&request),
                    Reader::requested_nodes(&request),
                    "{label}: missing nodes"
                );
            }
            let message = match v["tampered"].as_object() {
                Some(t) => hex(&t["dataMessageEncoded"]),
                None => hex(&v["dataMessage"]["encoded"]),
            };
            let outcome = reader.apply(&decode_data(&message));
            let expected_outcome = match ver["error"].as_str() {
                Some(code) => Err(code),
                None => Ok(accepted),
            };
            assert_eq!(
                outcome.map_err(str::to_owned),
                expected_outcome.map_err(str::to_owned),
                "{label}: outcome"
            );
            assert_eq!(
                reader.length,
                u64_of(&ver["readerLengthAfter"]),
                "{label}: length after"
            );
            assert_eq!(
                reader.fork,
                u64_of(&ver["readerForkAfter"]),
                "{label}: fork after"
            );
            assert_eq!(
                tree_hash(&reader.roots),
                hex32(&ver["readerTreeHashAfter"]),
                "{label}: tree hash after"
            );
            let stored = request.block.and_then(|b| reader.blocks.get(&b.index));
            assert_eq!(
                stored.map(|b| b.to_vec()),
                opt(&ver["blockStored"], hex),
                "{label}: block stored"
            );
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn upgrade_from_another_fork_is_ignored() {
    let mut cases = Cases::new("truncate upgradeFromZero: generation and fork handling");
    for (path, file) in files(Schema::Truncate) {
        let label = name(&path);
        let key = hex32(&file["key"]);
        let tree = tree_for(&key);
        let manifest = tree.mode("modern").1;
        let last = file["steps"]
            .as_array()
            .and_then(|s| s.last())
            .expect("steps");
        let (length, fork) = (u64_of(&last["length"]), u64_of(&last["fork"]));
        let up = &file["upgradeFromZero"];

        // The writer after the last step answers a full upgrade with the vector's proof.
        let roots = nodes_of(&last["roots"]);
        assert_eq!(
            tree_hash(&roots),
            hex32(&last["treeHash"]),
            "{label}: roots"
        );
        let nodes: Vec<Node> = last["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .enumerate()
            .map(|(i, b)| ferrocore::hash::leaf(i as u64, &hex(b)))
            .collect();
        assert_eq!(nodes, roots, "{label}: a one-block tree is its leaf");
        let state = SenderState {
            key: &key,
            manifest: Some(&manifest),
            fork,
            length,
            signature: Some(hex(&last["signature"]).into()),
        };
        let request = Request {
            upgrade: Some(RequestUpgrade { start: 0, length }),
            ..Request::default()
        };
        let generated = generate(&state, nodes.as_slice(), &request, None).expect("generate");
        let expected = proof_of(&up["proof"]);
        assert_eq!(generated, expected, "{label}: generated proof");
        assert_eq!(
            encode_data(&generated),
            hex(&up["dataMessageEncoded"]),
            "{label}: encoding"
        );

        // A fresh reader at fork 0 ignores it without error.
        let fresh = &up["freshReader"];
        let mut reader = Reader::new(key, manifest.clone(), 0);
        let outcome = reader.apply(&decode_data(&hex(&up["dataMessageEncoded"])));
        let expected_outcome = match fresh["error"].as_str() {
            Some(code) => Err(code.to_owned()),
            None => Ok(fresh["accepted"].as_bool().expect("accepted")),
        };
        assert_eq!(
            outcome.map_err(str::to_owned),
            expected_outcome,
            "{label}: fresh reader"
        );
        assert_eq!(
            reader.length,
            u64_of(&fresh["lengthAfter"]),
            "{label}: length"
        );
        assert_eq!(reader.fork, u64_of(&fresh["forkAfter"]), "{label}: fork");

        // The same proof verifies for a reader on the writer's fork.
        let mut on_fork = Reader::new(key, manifest, fork);
        assert_eq!(
            on_fork.apply(&expected),
            Ok(true),
            "{label}: reader on fork {fork}"
        );
        assert_eq!(
            (on_fork.length, on_fork.roots.clone()),
            (length, roots),
            "{label}: adopted"
        );
        cases.pass();
    }
    cases.report();
}
