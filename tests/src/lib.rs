//! Shared helpers for ferrocore's conformance tests.
//!
//! Vector files live in `tests/vectors/{core,wire,corestore,dht,udx,bee}/*.json`. They are loaded **by schema**,
//! not by file name: [`Schema::detect`] recognises a file from its top-level keys, and each
//! test asks for [`files`] of its schema. A new file of a known schema dropped into those
//! folders is therefore tested with no code change; a file of no known schema fails
//! `every_vector_file_has_a_known_schema`, so nothing is skipped silently.

use std::path::{Path, PathBuf};

use serde_json::Value;

pub mod content;
pub mod echo;
pub mod heap;
pub mod hostile;
pub mod js;
pub mod net;
pub mod netsim;
pub mod reader;
pub mod relay;
pub mod sim;
pub use reader::ProofReader;

/// An empty in-memory log of the core `key`: a reader for it to replicate into.
pub fn memory_reader(key: [u8; 32]) -> ferrocore::log::Log<ferrocore::storage::MemoryStorage> {
    ferrocore::log::Log::open(
        ferrocore::storage::MemoryStorage::new(),
        ferrocore::log::LogOptions {
            key: Some(key),
            ..ferrocore::log::LogOptions::default()
        },
    )
    .expect("an empty in-memory reader opens")
}

/// The documented schemas of the vector files (see `tests/vectors/*/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    /// `core/flat-tree.json`: `indexes`, `indexOf`, `fullRoots`.
    FlatTree,
    /// `core/crypto.json`: `keys`, `namespaces`, `hashing`, `manifests`, ...
    Crypto,
    /// `core/tree.json`: `blocks`, `leaves`, `nodes`, `states`.
    Tree,
    /// `core/proofs.json`: `proofs[]`.
    Proofs,
    /// `core/signers.json`: `variants[]`.
    Signers,
    /// `core/truncate.json`: `steps[]`, `upgradeFromZero`.
    Truncate,
    /// `core/encryption.json`: `samples[]`, `realCores[]`.
    Encryption,
    /// `core/bitfield.json`: `bitfieldMessage`, `rangeMessages[]`.
    BitfieldMessages,
    /// `wire/compact-encoding.json`: `cases[]`, `decodeOnly[]`.
    CompactEncoding,
    /// `wire/constants.json`: `hypercoreNamespace`, `secretStreamNamespace`, ...
    Constants,
    /// `wire/hypercore-messages.json`: `types[]`, `messages{}`.
    HypercoreMessages,
    /// `wire/protomux-frames.json`: `frames[]`.
    ProtomuxFrames,
    /// `wire/session-*.json`: `plaintextFrames[]`, `rawChunks[]`, `transport`.
    Session,
    /// `wire/noise-handshake.json`: `protocolName`, `keys`, `dh`, `states`, `messages`.
    NoiseHandshake,
    /// `corestore/keys.json`: `corestoreNamespace`, `namespaces[]`, `named[]`, `emptyName[]`.
    CorestoreKeys,
    /// `corestore/options.json`: `options[]` (`get` with explicit key pair, key, manifest).
    CorestoreOptions,
    /// `dht/rpc.json`: `requests[]`, `responses[]`, `nodeIds[]`, `tokens[]`.
    DhtRpc,
    /// `dht/messages.json`: `dhtMessages[]`, `dhtConstants`.
    DhtMessages,
    /// `dht/payloads.json`: `handshakes[]`, `sealed[]`, `unsealable[]`.
    DhtPayloads,
    /// `dht/signables.json`: `announceSignables[]`, `mutableSignables[]`, ...
    DhtSignables,
    /// `wire/noise-ik.json`: `nsPeerHandshake`, `cases[]` (IK handshakes, secret-stream starts).
    NoiseIk,
    /// `udx/packets.json`: `udxPackets[]` (datagrams udx-native sent and received).
    UdxPackets,
    /// `dht/handshake.json`: `peerHandshakes[]` (PEER_HANDSHAKE exchanges; checked by
    /// `core/hyperdht/tests/handshake_vectors.rs`).
    DhtHandshakes,
    /// `dht/records.json`: `recordsConfig`, `recordsSteps[]` (a persistent node's answers).
    DhtRecords,
    /// `bee/ops.json`: `headers[]`, `cases[]` (Hyperbee steps, every block, reads).
    BeeOps,
    /// `bee/encodings.json`: `codecs`, `vectors[]` (hyperbee's key and value codecs).
    BeeEncodings,
    /// `bee/extension.json`: `messages[]`, `snapshots[]` (the `hyperbee` extension).
    BeeExtension,
    /// `drive/blobs.json`: `blobCases[]` (Hyperblobs puts, blocks, ids, ranged reads).
    DriveBlobs,
    /// `drive/drive.json`: `driveCases[]` (Hyperdrive keys, paths, steps, entries, reads).
    DriveOps,
}

impl Schema {
    /// Recognises a vector file from its top-level keys.
    pub fn detect(v: &Value) -> Option<Schema> {
        let has = |k: &str| v.get(k).is_some();
        Some(if has("indexes") && has("fullRoots") {
            Schema::FlatTree
        } else if has("keys") && has("namespaces") && has("hashing") {
            Schema::Crypto
        } else if has("leaves") && has("nodes") && has("states") {
            Schema::Tree
        } else if has("proofs") {
            Schema::Proofs
        } else if has("variants") {
            Schema::Signers
        } else if has("steps") && has("upgradeFromZero") {
            Schema::Truncate
        } else if has("samples") && has("realCores") {
            Schema::Encryption
        } else if has("bitfieldMessage") && has("rangeMessages") {
            Schema::BitfieldMessages
        } else if has("cases") && has("decodeOnly") {
            Schema::CompactEncoding
        } else if has("hypercoreNamespace") {
            Schema::Constants
        } else if has("messages") && has("types") {
            Schema::HypercoreMessages
        } else if has("frames") {
            Schema::ProtomuxFrames
        } else if has("plaintextFrames") && has("rawChunks") {
            Schema::Session
        } else if has("protocolName") && has("dh") {
            Schema::NoiseHandshake
        } else if has("corestoreNamespace") && has("named") {
            Schema::CorestoreKeys
        } else if has("options") {
            Schema::CorestoreOptions
        } else if has("requests") && has("responses") {
            Schema::DhtRpc
        } else if has("dhtMessages") {
            Schema::DhtMessages
        } else if has("sealed") && has("unsealable") {
            Schema::DhtPayloads
        } else if has("announceSignables") {
            Schema::DhtSignables
        } else if has("nsPeerHandshake") && has("cases") {
            Schema::NoiseIk
        } else if has("udxPackets") {
            Schema::UdxPackets
        } else if has("peerHandshakes") {
            Schema::DhtHandshakes
        } else if has("recordsSteps") {
            Schema::DhtRecords
        } else if has("headers") && has("cases") {
            Schema::BeeOps
        } else if has("codecs") && has("vectors") {
            Schema::BeeEncodings
        } else if has("messages") && has("snapshots") {
            Schema::BeeExtension
        } else if has("blobCases") {
            Schema::DriveBlobs
        } else if has("driveCases") {
            Schema::DriveOps
        } else {
            return None;
        })
    }
}

/// The folder holding the vector files (`tests/vectors`).
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Every `*.json` file under `tests/vectors/{core,wire,corestore,dht,udx,bee,drive}`, parsed,
/// sorted by path.
pub fn all_files() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for sub in ["core", "wire", "corestore", "dht", "udx", "bee", "drive"] {
        let dir = vectors_dir().join(sub);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        for p in paths {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let v: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, v));
        }
    }
    out
}

/// Every vector file of one schema. Panics if there is none (a deleted or renamed folder
/// must not turn a conformance test into a no-op).
pub fn files(schema: Schema) -> Vec<(PathBuf, Value)> {
    let out: Vec<_> = all_files()
        .into_iter()
        .filter(|(_, v)| Schema::detect(v) == Some(schema))
        .collect();
    assert!(
        !out.is_empty(),
        "no vector file of schema {schema:?} under {}",
        vectors_dir().display()
    );
    out
}

/// Short display name of a vector file (`core/proofs.json`).
pub fn name(p: &Path) -> String {
    let parent = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(
        "{parent}/{}",
        p.file_name().unwrap_or_default().to_string_lossy()
    )
}

/// Decodes a hex string field; panics with the field path on malformed vectors.
pub fn hex(v: &Value) -> Vec<u8> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a hex string, got {v}"));
    ::hex::decode(s).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

/// Decodes a 32-byte hex field.
pub fn hex32(v: &Value) -> [u8; 32] {
    hex(v)
        .try_into()
        .unwrap_or_else(|b: Vec<u8>| panic!("expected 32 bytes, got {}", b.len()))
}

/// A JSON array field; panics on malformed vectors.
pub fn arr(v: &Value) -> &[Value] {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

/// A JSON string field; panics on malformed vectors.
pub fn str_of(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// Reads a JSON number as u64.
pub fn u64_of(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an unsigned integer, got {v}"))
}

/// Counts vector cases and reports them, so the test output says how many ran.
#[derive(Debug, Default)]
pub struct Cases {
    label: String,
    count: usize,
}

impl Cases {
    /// A counter for one test.
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            count: 0,
        }
    }

    /// Records one checked case.
    pub fn pass(&mut self) {
        self.count += 1;
    }

    /// How many cases were checked.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Prints `vector cases: N (label)` and asserts at least one case ran.
    pub fn report(self) {
        assert!(self.count > 0, "{}: no vector case ran", self.label);
        // Visible with `cargo test -- --nocapture`; also appended to a summary file so the
        // test command can print a total.
        println!("vector cases: {} ({})", self.count, self.label);
        let summary = std::env::var_os("FERROCORE_VECTOR_SUMMARY");
        if let Some(path) = summary {
            use std::io::Write;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                // One write of the whole line: test binaries run in parallel and append
                // to the same file (a formatted `writeln!` can be several writes, and
                // lines of two binaries then interleave).
                let line = format!("{}\t{}\n", self.count, self.label);
                let _ = f.write_all(line.as_bytes());
            }
        }
    }
}
