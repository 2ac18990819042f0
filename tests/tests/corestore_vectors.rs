//! Conformance of corestore key derivation (`ferrocore_corestore::keys`) and of what a `get`
//! resolves to (`ferrocore_corestore::auth`) with the pinned JS corestore 7.12.5 on
//! hypercore 11.37.1 (`tests/vectors/corestore/*.json`), by schema.

use ferrocore::hash::discovery_key;
use ferrocore::keys::KeyPair;
use ferrocore::manifest::{create_manifest, ManifestOptions, SignerOptions};
use ferrocore::Manifest;
use ferrocore_corestore::auth::{resolve, AuthError, GetOptions};
use ferrocore_corestore::keys::corestore_ns;
use ferrocore_corestore::{Namespace, PrimaryKey};
use ferrocore_tests::{arr, files, hex32, name, str_of, u64_of, Cases, Schema};
use serde_json::{json, Value};

fn path_of(v: &Value) -> Vec<&str> {
    arr(v).iter().map(str_of).collect()
}

/// A manifest in the vector files' JSON form (as `manifestJ` prints a JS manifest).
fn manifest_json(m: &Manifest) -> Value {
    fn h(b: impl AsRef<[u8]>) -> String {
        ::hex::encode(b)
    }
    json!({
        "version": m.version,
        "hash": "blake2b",
        "allowPatch": m.allow_patch,
        "quorum": m.quorum,
        "signers": m.signers.iter().map(|s| json!({
            "signature": "ed25519",
            "namespace": h(s.namespace),
            "publicKey": h(s.public_key),
        })).collect::<Vec<_>>(),
        "prologue": m.prologue.as_ref().map(|p| json!({ "hash": h(p.hash), "length": p.length })),
        "linked": m.linked.as_ref().map(|l| l.iter().map(h).collect::<Vec<_>>()),
        "userData": m.user_data.as_ref().map(h),
    })
}

#[test]
fn namespaces_match_js() {
    let mut cases = Cases::new("corestore namespaces");
    for (path, v) in files(Schema::CorestoreKeys) {
        let file = name(&path);
        assert_eq!(corestore_ns(), hex32(&v["corestoreNamespace"]), "{file}");
        for c in arr(&v["namespaces"]) {
            let p = path_of(&c["path"]);
            let chained = p.iter().fold(Namespace::ROOT, |ns, n| ns.child(n));
            assert_eq!(chained.0, hex32(&c["namespace"]), "{file}: {p:?}");
            assert_eq!(Namespace::from_path(p.iter().copied()), chained);
            cases.pass();
        }
    }
    cases.report();
}

/// Checks a case's namespace, seed and public key (`createKeyPair(core_name, ns)`) and
/// returns its primary key and namespace.
fn check_key_pair(c: &Value, core_name: &str, what: &str) -> (PrimaryKey, Namespace) {
    let primary = PrimaryKey::from_bytes(hex32(&c["primaryKey"]));
    let ns = Namespace::from_path(path_of(&c["namespacePath"]));
    assert_eq!(ns.0, hex32(&c["namespace"]), "{what}: namespace");
    let seed = primary.seed(&ns, core_name);
    assert_eq!(seed, hex32(&c["seed"]), "{what}: seed");
    let kp = primary.key_pair(&ns, core_name);
    assert_eq!(kp.public_key, hex32(&c["publicKey"]), "{what}: public key");
    (primary, ns)
}

#[test]
fn named_cores_match_js() {
    let mut cases = Cases::new("corestore named cores");
    for (path, v) in files(Schema::CorestoreKeys) {
        let file = name(&path);
        for c in arr(&v["named"]) {
            let core_name = str_of(&c["name"]);
            let what = format!("{file}: {:?} / {core_name:.20}", c["namespacePath"]);
            let (primary, ns) = check_key_pair(c, core_name, &what);
            let key = primary.core_key(&ns, core_name);
            assert_eq!(key, hex32(&c["key"]), "{what}: core key");
            assert_eq!(discovery_key(&key), hex32(&c["discoveryKey"]), "{what}");

            let auth = resolve(&primary, &ns, 1, None, &GetOptions::name(core_name))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(auth.key, Some(key), "{what}: get key");
            assert_eq!(auth.discovery_key, hex32(&c["discoveryKey"]), "{what}");
            let manifest = auth.manifest.as_ref().expect("a named core has a manifest");
            assert_eq!(manifest_json(manifest), c["manifest"], "{what}: manifest");
            assert_eq!(auth.writable(), c["writable"].as_bool().unwrap(), "{what}");
            assert!(
                !auth.compat,
                "{what}: corestore 7 makes no compat named core"
            );
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn the_empty_name_derives_a_key_pair_but_names_no_core() {
    let mut cases = Cases::new("corestore empty name");
    for (path, v) in files(Schema::CorestoreKeys) {
        let file = name(&path);
        for c in arr(&v["emptyName"]) {
            let (primary, ns) = check_key_pair(c, "", &file);
            assert!(
                c["getError"].is_string(),
                "{file}: JS get({{ name: '' }}) throws"
            );
            let got = resolve(&primary, &ns, 1, None, &GetOptions::name(""));
            assert_eq!(got.unwrap_err(), AuthError::NoDiscoveryKey, "{file}");
            cases.pass();
        }
    }
    cases.report();
}

/// The `manifest` input of an options case: JS `createManifest` defaults applied.
fn manifest_input(v: &Value) -> Manifest {
    create_manifest(&ManifestOptions {
        version: v.get("version").map(u64_of),
        quorum: v.get("quorum").map(u64_of),
        signers: arr(&v["signers"])
            .iter()
            .map(|s| SignerOptions::new(hex32(&s["publicKey"])))
            .collect(),
        ..ManifestOptions::default()
    })
    .unwrap_or_else(|e| panic!("manifest input {v}: {e}"))
}

#[test]
fn get_with_explicit_options_matches_js() {
    let mut cases = Cases::new("corestore get options");
    for (path, v) in files(Schema::CorestoreOptions) {
        let file = name(&path);
        for c in arr(&v["options"]) {
            let what = format!("{file}: {}", str_of(&c["label"]));
            let primary = PrimaryKey::from_bytes(hex32(&c["primaryKey"]));
            let version = c["storeManifestVersion"].as_u64().unwrap_or(1);
            let input = &c["input"];
            let ns = Namespace::from_path(input.get("namespacePath").map_or(vec![], path_of));
            let key_pair = input
                .get("keyPairSeed")
                .map(|s| KeyPair::from_seed(&hex32(s)));
            let manifest = input.get("manifest").map(manifest_input);
            let opts = GetOptions {
                name: input.get("name").map(str_of),
                key_pair: key_pair.as_ref(),
                key: input.get("key").map(hex32),
                discovery_key: None,
                manifest: manifest.as_ref(),
            };
            let got = resolve(&primary, &ns, version, None, &opts);
            let Some(result) = c["result"].as_object() else {
                assert!(c["error"].is_string(), "{what}: a result or an error");
                assert_eq!(got.unwrap_err(), AuthError::NoDiscoveryKey, "{what}");
                cases.pass();
                continue;
            };
            let auth = got.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(auth.key, Some(hex32(&result["key"])), "{what}: key");
            assert_eq!(auth.discovery_key, hex32(&result["discoveryKey"]), "{what}");
            let manifest = auth.manifest.as_ref().map(manifest_json);
            assert_eq!(
                manifest.unwrap_or(Value::Null),
                result["manifest"],
                "{what}"
            );
            assert_eq!(
                Some(auth.writable()),
                result["writable"].as_bool(),
                "{what}"
            );
            assert_eq!(
                Some(auth.compat),
                result["compat"].as_bool(),
                "{what}: compat"
            );
            cases.pass();
        }
    }
    cases.report();
}
