//! Conformance of keys, hashing, namespaces, manifests, signatures, block encryption and ids
//! with the JS reference vectors (hypercore 11.37.1 / hypercore-crypto 3.7.0), by schema.

use bytes::Bytes;
use ferrocore::encryption::{self, BlockEncryption, KeyMode, PADDING};
use ferrocore::hash::{self, ns};
use ferrocore::keys::{self, KeyPair};
use ferrocore::signature::{self, MultiSignature, PartialSignature, Verifier};
use ferrocore::wire::{
    Decode, Encode, HashAlgorithm, Prologue, Reader, SignatureAlgorithm, Signer, Writer,
};
use ferrocore::{flat_tree, id, manifest, Manifest, Node};
use ferrocore_tests::{files, hex, hex32, name, u64_of, Cases, Schema};
use serde_json::Value;

mod crypto_support;
use crypto_support::{node_from, roots_of};

// ------------------------------------------------------------------------------------------
// JSON helpers
// ------------------------------------------------------------------------------------------

fn arr(v: &Value) -> &[Value] {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn node_of(v: &Value) -> Node {
    Node::new(u64_of(&v["index"]), u64_of(&v["size"]), hex32(&v["hash"]))
}

fn nodes_of(v: &Value) -> Vec<Node> {
    arr(v).iter().map(node_of).collect()
}

fn hex64(v: &Value) -> [u8; 64] {
    hex(v).try_into().expect("64 bytes")
}

fn opt_hex(v: &Value) -> Option<Vec<u8>> {
    (!v.is_null()).then(|| hex(v))
}

/// A manifest as the reference prints it (normalised, hex byte strings).
fn manifest_of(v: &Value) -> Manifest {
    assert_eq!(v["hash"], "blake2b");
    Manifest {
        version: u64_of(&v["version"]),
        hash: HashAlgorithm::Blake2b,
        allow_patch: v["allowPatch"].as_bool().expect("allowPatch"),
        quorum: u64_of(&v["quorum"]),
        signers: arr(&v["signers"])
            .iter()
            .map(|s| {
                assert_eq!(s["signature"], "ed25519");
                Signer {
                    signature: SignatureAlgorithm::Ed25519,
                    namespace: hex32(&s["namespace"]),
                    public_key: hex32(&s["publicKey"]),
                }
            })
            .collect(),
        prologue: (!v["prologue"].is_null()).then(|| Prologue {
            hash: hex32(&v["prologue"]["hash"]),
            length: u64_of(&v["prologue"]["length"]),
        }),
        linked: (!v["linked"].is_null()).then(|| arr(&v["linked"]).iter().map(hex32).collect()),
        user_data: (!v["userData"].is_null()).then(|| Bytes::from(hex(&v["userData"]))),
    }
}

/// The key pairs of `crypto.json` (`keys` and `keys.second`), derived from their seeds.
fn test_key_pairs() -> Vec<KeyPair> {
    files(Schema::Crypto)
        .iter()
        .flat_map(|(_, v)| {
            [&v["keys"], &v["keys"]["second"]].map(|k| KeyPair::from_seed(&hex32(&k["seed"])))
        })
        .collect()
}

fn key_pair_for(public_key: &[u8; 32]) -> KeyPair {
    test_key_pairs()
        .into_iter()
        .find(|kp| kp.public_key == *public_key)
        .expect("a test key pair with this public key")
}

/// The blocks of the shared test core (`tree.json` → `blocks[].value`).
fn tree_blocks() -> Vec<Vec<u8>> {
    let (_, v) = files(Schema::Tree)
        .into_iter()
        .next()
        .expect("tree vectors");
    arr(&v["blocks"]).iter().map(|b| hex(&b["value"])).collect()
}

/// A valid signature must stop verifying when one bit of the signature, the length or the
/// fork changes, or when it is missing.
fn assert_tamper_rejected(
    m: &Manifest,
    key: &[u8; 32],
    roots: &[Node],
    length: u64,
    fork: u64,
    sig: &[u8],
    what: &str,
) {
    assert!(
        signature::verify(m, key, roots, length, fork, Some(sig)),
        "{what}: valid"
    );
    // The Ed25519 signature sits at the end of a raw signature and at bytes 2..66 of a
    // one-signer container.
    let ed_offset = if sig.len() == 64 { 0 } else { 2 };
    for bit in [0, 255, 256, 511] {
        let mut bad = sig.to_vec();
        bad[ed_offset + bit / 8] ^= 1 << (bit % 8);
        assert!(
            !signature::verify(m, key, roots, length, fork, Some(&bad)),
            "{what}: signature bit {bit}"
        );
    }
    assert!(
        !signature::verify(m, key, roots, length ^ 1, fork, Some(sig)),
        "{what}: length"
    );
    assert!(
        !signature::verify(m, key, roots, length, fork ^ 1, Some(sig)),
        "{what}: fork"
    );
    assert!(
        !signature::verify(m, key, roots, length, fork, None),
        "{what}: missing"
    );
}

/// `namespace("hypercore", 6)` by name, in id order.
const HYPERCORE_NAMESPACES: [(&str, hash::Hash); 6] = [
    ("TREE", ns::TREE),
    ("REPLICATE_INITIATOR", ns::REPLICATE_INITIATOR),
    ("REPLICATE_RESPONDER", ns::REPLICATE_RESPONDER),
    ("MANIFEST", ns::MANIFEST),
    ("DEFAULT_NAMESPACE", ns::DEFAULT_NAMESPACE),
    ("DEFAULT_ENCRYPTION", ns::DEFAULT_ENCRYPTION),
];

// ------------------------------------------------------------------------------------------
// crypto.json
// ------------------------------------------------------------------------------------------

#[test]
fn crypto_keys_hashing_and_manifests() {
    let mut cases = Cases::new("crypto: keys, namespaces, hashing, ed25519, z32, manifests");
    for (path, v) in files(Schema::Crypto) {
        let file = name(&path);
        check_keys(&v["keys"], &mut cases);
        check_namespaces(&v["namespaces"], &mut cases);

        let cap = &v["capability"];
        let (key, hh) = (hex32(&cap["key"]), hex(&cap["handshakeHash"]));
        assert_eq!(
            hash::capability(&hh, true, &key),
            hex32(&cap["initiator"]),
            "{file}"
        );
        assert_eq!(
            hash::capability(&hh, false, &key),
            hex32(&cap["responder"]),
            "{file}"
        );
        cases.pass();

        check_hashing(&v["hashing"], &mut cases);

        let ed = &v["ed25519"];
        let kp = KeyPair::from_secret_key(&hex64(&ed["secretKey"])).expect("valid key pair");
        assert_eq!(kp.public_key, hex32(&ed["publicKey"]));
        let msg = hex(&ed["message"]);
        let sig = kp.sign(&msg);
        assert_eq!(sig, hex64(&ed["signature"]), "{file}: ed25519");
        assert!(keys::verify(&kp.public_key, &msg, &sig));
        cases.pass();

        for z in arr(&v["z32"]) {
            let (bytes, text) = (hex(&z["bytes"]), z["z32"].as_str().expect("z32"));
            assert_eq!(id::z32_encode(&bytes), text);
            assert_eq!(id::z32_decode(text).unwrap(), bytes);
            cases.pass();
        }

        for m in arr(&v["manifests"]) {
            check_manifest(m, &mut cases);
        }
    }
    cases.report();
}

fn check_keys(k: &Value, cases: &mut Cases) {
    for kv in [k, &k["second"]] {
        let seed = hex32(&kv["seed"]);
        let text = kv["seedText"].as_str().expect("seedText");
        assert_eq!(
            hash::blake2b256(&[text.as_bytes()]),
            seed,
            "seed of {text:?}"
        );
        let kp = KeyPair::from_seed(&seed);
        assert_eq!(kp.public_key, hex32(&kv["publicKey"]));
        assert_eq!(kp.secret_key, hex64(&kv["secretKey"]));
        cases.pass();
    }
    let pk = hex32(&k["publicKey"]);
    assert_eq!(
        manifest::key_from_public_key(&pk, true),
        hex32(&k["compatKey"])
    );
    let manifest_key = manifest::key_from_public_key(&pk, false);
    assert_eq!(manifest_key, hex32(&k["manifestKey"]));
    assert_eq!(manifest_key, hex32(&k["keyFromPublicKeyDefault"]));
    let default = manifest::default_manifest(&pk);
    assert_eq!(manifest::core_key(&default, false), Ok(manifest_key));
    assert_eq!(manifest::core_key(&default, true), Ok(pk));
    cases.pass();

    for mode in ["compat", "manifest"] {
        let m = &k[mode];
        let key = hex32(&m["key"]);
        assert_eq!(
            hash::discovery_key(&key),
            hex32(&m["discoveryKey"]),
            "{mode}"
        );
        let id_text = m["id"].as_str().expect("id");
        assert_eq!(id::core_id(&key), id_text);
        assert_eq!(id::decode_key(id_text), Ok(key));
        if let Some(via) = m["idViaHypercoreIdEncoding"].as_str() {
            assert_eq!(id::normalize(&::hex::encode(key)).as_deref(), Ok(via));
        }
        let pre = &m["discoveryKeyPreimage"];
        if !pre.is_null() {
            assert_eq!(hex(&pre["message"]), b"hypercore");
            assert_eq!(
                hash::blake2b256_keyed(&hex(&pre["key"]), &[&hex(&pre["message"])]),
                hex32(&m["discoveryKey"])
            );
        }
        cases.pass();
    }
}

fn check_namespaces(n: &Value, cases: &mut Cases) {
    let base = hex32(&n["base"]["value"]);
    assert_eq!(hex(&n["base"]["preimage"]), b"hypercore");
    assert_eq!(hash::blake2b256(&[b"hypercore"]), base);
    cases.pass();
    let computed: [hash::Hash; 6] = hash::namespace("hypercore");
    for e in arr(&n["list"]) {
        let (id, value) = (u64_of(&e["id"]) as usize, hex32(&e["value"]));
        let name = e["name"].as_str().expect("name");
        let preimage = hex(&e["preimage"]);
        assert_eq!(preimage, [&base[..], &[id as u8]].concat(), "{name}");
        assert_eq!(hash::blake2b256(&[&preimage]), value, "{name}");
        assert_eq!(computed[id], value, "{name}");
        assert_eq!(HYPERCORE_NAMESPACES[id], (name, value), "{name}");
        cases.pass();
    }
}

fn check_hashing(h: &Value, cases: &mut Cases) {
    for leaf in [&h["leaf"], &h["emptyLeaf"]] {
        let data = hex(&leaf["data"]);
        if let Some(pre) = opt_hex(&leaf["preimage"]) {
            assert_eq!(hash::leaf_preimage(&data), pre);
        }
        assert_eq!(hash::leaf_hash(&data), hex32(&leaf["hash"]));
        assert_eq!(hash::leaf(3, &data).size, data.len() as u64);
        cases.pass();
    }

    let p = &h["parent"];
    let (l, r) = (node_of(&p["left"]), node_of(&p["right"]));
    assert_eq!(hash::parent_preimage(&l, &r).to_vec(), hex(&p["preimage"]));
    assert_eq!(hash::parent(&l, &r).hash, hex32(&p["hash"]));
    assert_eq!(hash::parent(&r, &l).hash, hex32(&p["hashSwappedArgs"]));
    assert_eq!(hash::parent(&l, &r).size, l.size + r.size);
    cases.pass();

    for t in [&h["treeHash"], &h["emptyTreeHash"]] {
        let roots = nodes_of(&t["roots"]);
        assert_eq!(hash::tree_hash_preimage(&roots), hex(&t["preimage"]));
        assert_eq!(hash::tree_hash(&roots), hex32(&t["hash"]));
        cases.pass();
    }
    assert_eq!(hash::EMPTY_TREE_HASH, hex32(&h["emptyTreeHash"]["hash"]));

    for u in arr(&h["uint64le"]) {
        let n = u64_of(&u["n"]);
        let mut buf = [0u8; 8];
        Writer::new(&mut buf).u64(n);
        assert_eq!(buf.to_vec(), hex(&u["bytes"]), "u64le({n})");
        assert_eq!(Reader::new(&buf).u64(), Ok(n));
        cases.pass();
    }
    for u in arr(&h["varint"]) {
        let n = u64_of(&u["n"]);
        let bytes = hex(&u["bytes"]);
        let mut buf = vec![0u8; ferrocore::wire::encoding::uint_len(n)];
        Writer::new(&mut buf).uint(n);
        assert_eq!(buf, bytes, "varint({n})");
        assert_eq!(Reader::new(&bytes).uint(), Ok(n));
        cases.pass();
    }
}

fn check_manifest(mv: &Value, cases: &mut Cases) {
    let label = mv["name"].as_str().expect("name");
    let m = manifest_of(&mv["manifest"]);
    let encoded = hex(&mv["encoded"]);
    assert_eq!(m.to_vec(), encoded, "{label}: encoding");
    assert_eq!(
        manifest::hash_preimage(&m),
        hex(&mv["hashPreimage"]),
        "{label}"
    );
    let mh = manifest::manifest_hash(&m);
    assert_eq!(mh, hex32(&mv["manifestHash"]), "{label}: hash");
    let key = manifest::core_key(&m, false).unwrap();
    assert_eq!(key, hex32(&mv["key"]), "{label}: key");
    assert!(manifest::is_valid_manifest(&key, &m));
    assert_eq!(
        hash::discovery_key(&key),
        hex32(&mv["discoveryKey"]),
        "{label}"
    );
    assert_eq!(id::core_id(&key), mv["id"].as_str().expect("id"), "{label}");
    let decoded = Manifest::decode_exact(&encoded).expect("decodes");
    assert_eq!(
        decoded,
        manifest_of(&mv["decodedRoundTrip"]),
        "{label}: decode"
    );

    // The reference normalised these manifests; creating them again with every field given
    // is the identity, and a quorum equal to the default may be left out.
    manifest::validate(&m).expect("valid manifest");
    let mut options = manifest::ManifestOptions {
        version: Some(m.version),
        allow_patch: m.allow_patch,
        quorum: Some(m.quorum),
        signers: m
            .signers
            .iter()
            .map(|s| manifest::SignerOptions {
                public_key: s.public_key,
                namespace: Some(s.namespace),
            })
            .collect(),
        prologue: m.prologue,
        linked: m.linked.clone(),
        user_data: m.user_data.clone(),
    };
    assert_eq!(
        manifest::create_manifest(&options),
        Ok(m.clone()),
        "{label}"
    );
    let default_quorum = match m.signers.len() as u64 {
        0 => 0,
        n => n / 2 + 1,
    };
    if m.quorum == default_quorum {
        options.quorum = None;
        assert_eq!(manifest::create_manifest(&options), Ok(m), "{label}");
    }
    cases.pass();
}

// ------------------------------------------------------------------------------------------
// tree.json
// ------------------------------------------------------------------------------------------

#[test]
fn tree_leaves_nodes_states_and_signatures() {
    let mut cases = Cases::new("tree: leaves, nodes, states, signables, signatures");
    for (path, v) in files(Schema::Tree) {
        let file = name(&path);
        let kp = KeyPair::from_secret_key(&hex64(&v["secretKey"])).expect("key pair");
        assert_eq!(kp.public_key, hex32(&v["publicKey"]));
        let m = manifest_of(&v["manifest"]);
        assert_eq!(m, manifest::default_manifest(&kp.public_key));
        assert_eq!(m.to_vec(), hex(&v["manifestEncoded"]));
        let (compat_key, manifest_key) = (hex32(&v["compatKey"]), hex32(&v["manifestKey"]));
        assert_eq!(manifest::core_key(&m, true), Ok(compat_key));
        assert_eq!(manifest::core_key(&m, false), Ok(manifest_key));
        cases.pass();

        let blocks: Vec<Vec<u8>> = arr(&v["blocks"]).iter().map(|b| hex(&b["value"])).collect();
        for (i, leaf) in arr(&v["leaves"]).iter().enumerate() {
            let data = &blocks[i];
            assert_eq!(u64_of(&leaf["index"]), 2 * i as u64);
            assert_eq!(
                hash::leaf_preimage(data),
                hex(&leaf["preimage"]),
                "{file} leaf {i}"
            );
            let node = hash::leaf(i as u64, data);
            assert_eq!(node, node_of(leaf), "{file} leaf {i}");
            cases.pass();
        }
        for n in arr(&v["nodes"]) {
            let expected = node_of(n);
            assert_eq!(node_from(&blocks, expected.index), expected, "{file} node");
            cases.pass();
        }

        for s in arr(&v["states"]) {
            let (length, fork) = (u64_of(&s["length"]), u64_of(&s["fork"]));
            let roots = roots_of(&blocks[..length as usize]);
            assert_eq!(roots, nodes_of(&s["roots"]), "{file} roots at {length}");
            let indexes: Vec<u64> = arr(&s["rootIndexes"]).iter().map(u64_of).collect();
            assert_eq!(flat_tree::full_roots(length).collect::<Vec<_>>(), indexes);
            let byte_length: u64 = roots.iter().map(|r| r.size).sum();
            assert_eq!(byte_length, u64_of(&s["byteLength"]));
            let th = hash::tree_hash(&roots);
            assert_eq!(th, hex32(&s["treeHash"]), "{file} treeHash at {length}");

            // Compat mode.
            let c = &s["compat"];
            let ck = hex32(&c["key"]);
            let verifier = Verifier::new(&ck, &m);
            assert!(verifier.is_compat());
            let signable = signature::compat_signable(&th, length, fork);
            assert_eq!(signable.to_vec(), hex(&c["signable"]));
            assert_eq!(
                verifier.signable(0, &th, length, fork).unwrap().to_vec(),
                signable
            );
            let legacy = verifier.clone().with_legacy(true);
            let legacy_signable = legacy.signable(0, &th, length, fork).unwrap();
            assert_eq!(legacy_signable.to_vec(), hex(&c["signableLegacyNoHeader"]));
            assert_eq!(
                &legacy_signable[..],
                signature::legacy_signable(&th, length, fork)
            );
            let sig = signature::sign(&m, &ck, &roots, length, fork, &kp).unwrap();
            assert_eq!(
                sig,
                hex(&c["signature"]),
                "{file} compat signature at {length}"
            );
            assert_tamper_rejected(&m, &ck, &roots, length, fork, &sig, "compat");
            cases.pass();

            // Manifest mode.
            let mm = &s["manifest"];
            let mk = hex32(&mm["key"]);
            let verifier = Verifier::new(&mk, &m);
            assert!(!verifier.is_compat());
            let signable = verifier.signable(0, &th, length, fork).unwrap();
            assert_eq!(signable.to_vec(), hex(&mm["signable"]));
            assert_eq!(&signable[..], signature::signable(&mk, &th, length, fork));
            let sig = signature::sign(&m, &mk, &roots, length, fork, &kp).unwrap();
            assert_eq!(sig.len(), 68);
            assert_eq!(
                sig,
                hex(&mm["signature"]),
                "{file} manifest signature at {length}"
            );
            let decoded = MultiSignature::decode_exact(&sig).unwrap();
            let dv = &mm["signatureDecoded"];
            let proofs = arr(&dv["proofs"]);
            assert_eq!(decoded.proofs.len(), proofs.len());
            for (p, pv) in decoded.proofs.iter().zip(proofs) {
                assert_eq!(p.signer, u64_of(&pv["signer"]));
                assert_eq!(p.signature, hex64(&pv["signature"]));
                assert_eq!(p.patch, u64_of(&pv["patch"]));
                assert!(keys::verify(&kp.public_key, &signable, &p.signature));
            }
            assert_eq!(decoded.patch, nodes_of(&dv["patch"]));
            assert_tamper_rejected(&m, &mk, &roots, length, fork, &sig, "manifest");
            cases.pass();
        }
    }
    cases.report();
}

// ------------------------------------------------------------------------------------------
// signers.json
// ------------------------------------------------------------------------------------------

#[test]
fn signer_variants() {
    let mut cases = Cases::new("signers: v0 single, v1 2-of-2 containers, prologue checks");
    let blocks = tree_blocks();
    for (path, v) in files(Schema::Signers) {
        let file = name(&path);
        for variant in arr(&v["variants"]) {
            let label = format!("{file} {}", variant["name"]);
            let m = manifest_of(&variant["manifest"]);
            assert_eq!(m.to_vec(), hex(&variant["manifestEncoded"]), "{label}");
            let key = hex32(&variant["key"]);
            assert_eq!(manifest::manifest_hash(&m), key, "{label}");
            let verifier = Verifier::new(&key, &m);
            assert!(!verifier.is_compat());
            cases.pass();

            if !variant["checks"].is_null() {
                check_prologue_variant(&m, &key, variant, &blocks, &label, &mut cases);
                continue;
            }

            let (length, fork) = (u64_of(&variant["length"]), u64_of(&variant["fork"]));
            let roots = roots_of(&blocks[..length as usize]);
            let th = hash::tree_hash(&roots);
            assert_eq!(th, hex32(&variant["treeHash"]), "{label}");
            let expected_signable = hex(&variant["signable"]);
            for (i, s) in m.signers.iter().enumerate() {
                let signable = verifier.signable(i as u64, &th, length, fork).unwrap();
                assert_eq!(signable.to_vec(), expected_signable, "{label} signer {i}");
                let context = if m.version == 0 { s.namespace } else { key };
                assert_eq!(
                    &signable[..],
                    signature::signable(&context, &th, length, fork)
                );
            }

            if variant["containers"].is_null() {
                // One raw signature (version-0 single signer).
                let kp = key_pair_for(&m.signers[0].public_key);
                let sig = signature::sign(&m, &key, &roots, length, fork, &kp).unwrap();
                assert_eq!(sig, hex(&variant["signature"]), "{label}");
                let valid = variant["valid"].as_bool().expect("valid");
                assert_eq!(
                    signature::verify(&m, &key, &roots, length, fork, Some(&sig)),
                    valid,
                    "{label}"
                );
                assert_tamper_rejected(&m, &key, &roots, length, fork, &sig, &label);
                cases.pass();
                continue;
            }

            let partials: Vec<PartialSignature> = m
                .signers
                .iter()
                .map(|s| {
                    verifier
                        .partial_sign(&key_pair_for(&s.public_key), &th, length, fork)
                        .unwrap()
                })
                .collect();
            for (p, expected) in partials.iter().zip(arr(&variant["partialSignatures"])) {
                assert_eq!(p.signature, hex64(expected), "{label} partial {}", p.signer);
                cases.pass();
            }
            for c in arr(&variant["containers"]) {
                let what = format!("{label} {}", c["description"]);
                let bytes = hex(&c["signature"]);
                // Re-assembling the decoded proofs from our own partial signatures gives the
                // same bytes.
                let decoded = MultiSignature::decode_exact(&bytes).unwrap();
                let inputs: Vec<PartialSignature> = decoded
                    .proofs
                    .iter()
                    .map(|p| {
                        let ours = partials[p.signer as usize].clone();
                        assert_eq!(ours.signature, p.signature, "{what}");
                        ours
                    })
                    .collect();
                assert_eq!(verifier.assemble(&inputs).unwrap(), bytes, "{what}");
                let valid = c["valid"].as_bool().expect("valid");
                assert_eq!(
                    signature::verify(&m, &key, &roots, length, fork, Some(&bytes)),
                    valid,
                    "{what}"
                );
                if valid {
                    assert_tamper_rejected(&m, &key, &roots, length, fork, &bytes, &what);
                }
                cases.pass();
            }
        }
    }
    cases.report();
}

fn check_prologue_variant(
    m: &Manifest,
    key: &[u8; 32],
    variant: &Value,
    blocks: &[Vec<u8>],
    label: &str,
    cases: &mut Cases,
) {
    let prologue = m.prologue.expect("prologue manifest");
    let kp = key_pair_for(&m.signers[0].public_key);
    let verifier = Verifier::new(key, m);
    for check in arr(&variant["checks"]) {
        let what = format!("{label} {}", check["note"]);
        let length = u64_of(&check["length"]);
        let roots = roots_of(&blocks[..length as usize]);
        let th = hash::tree_hash(&roots);
        assert_eq!(th, hex32(&check["treeHash"]), "{what}");
        if length == prologue.length {
            assert_eq!(th, prologue.hash, "{what}");
        }
        let sig = opt_hex(&check["signature"]);
        if let Some(expected) = opt_hex(&check["signable"]) {
            let signable = verifier.signable(0, &th, length, 0).unwrap();
            assert_eq!(signable.to_vec(), expected, "{what}");
            let ours = signature::sign(m, key, &roots, length, 0, &kp).unwrap();
            assert_eq!(Some(ours), sig, "{what}");
        }
        let valid = check["valid"].as_bool().expect("valid");
        assert_eq!(
            signature::verify(m, key, &roots, length, 0, sig.as_deref()),
            valid,
            "{what}"
        );
        cases.pass();
    }
}

// ------------------------------------------------------------------------------------------
// truncate.json
// ------------------------------------------------------------------------------------------

#[test]
fn truncate_steps() {
    let mut cases = Cases::new("truncate: steps (upgradeFromZero is a proof vector)");
    let kp = key_pair_for(&test_key_pairs()[0].public_key);
    let m = manifest::default_manifest(&kp.public_key);
    for (path, v) in files(Schema::Truncate) {
        let file = name(&path);
        let key = hex32(&v["key"]);
        assert_eq!(manifest::manifest_hash(&m), key, "{file}");
        let verifier = Verifier::new(&key, &m);
        for (i, step) in arr(&v["steps"]).iter().enumerate() {
            let what = format!("{file} step {i}");
            let (length, fork) = (u64_of(&step["length"]), u64_of(&step["fork"]));
            let blocks: Vec<Vec<u8>> = arr(&step["blocks"]).iter().map(hex).collect();
            assert_eq!(blocks.len() as u64, length, "{what}");
            let roots = roots_of(&blocks);
            assert_eq!(roots, nodes_of(&step["roots"]), "{what}");
            assert_eq!(
                roots.iter().map(|r| r.size).sum::<u64>(),
                u64_of(&step["byteLength"])
            );
            let th = hash::tree_hash(&roots);
            assert_eq!(th, hex32(&step["treeHash"]), "{what}");
            let signable = verifier.signable(0, &th, length, fork).unwrap();
            assert_eq!(signable.to_vec(), hex(&step["signable"]), "{what}");
            let sig = signature::sign(&m, &key, &roots, length, fork, &kp).unwrap();
            assert_eq!(sig, hex(&step["signature"]), "{what}");
            let inner = MultiSignature::decode_exact(&sig).unwrap().proofs[0].signature;
            assert_eq!(inner, hex64(&step["signatureInner"]), "{what}");
            assert_eq!(kp.sign(&signable), inner);
            assert_tamper_rejected(&m, &key, &roots, length, fork, &sig, &what);
            cases.pass();
        }
    }
    cases.report();
}

// ------------------------------------------------------------------------------------------
// encryption.json
// ------------------------------------------------------------------------------------------

fn mode_of(name: &str) -> KeyMode {
    match name {
        "manifest" => KeyMode::Manifest,
        "compat" => KeyMode::Compat,
        "blockKey" => KeyMode::BlockKey,
        other => panic!("unknown encryption mode {other:?}"),
    }
}

#[test]
fn block_encryption() {
    let mut cases = Cases::new("encryption: key derivation, samples, real cores");
    for (path, v) in files(Schema::Encryption) {
        let file = name(&path);
        let ek = hex32(&v["encryptionKey"]);
        let core_key = hex32(&v["hypercoreKey"]);
        for mode in ["manifest", "compat", "blockKey"] {
            let k = &v["keys"][mode];
            let enc = BlockEncryption::new(&ek, &core_key, mode_of(mode));
            assert_eq!(enc.block_key(), &hex32(&k["blockKey"]), "{file} {mode}");
            assert_eq!(
                enc.blinding_key(),
                &hex32(&k["blindingKey"]),
                "{file} {mode}"
            );
            assert_eq!(
                encryption::blinding_key(enc.block_key()),
                hex32(&k["blindingKey"])
            );
            cases.pass();
        }
        assert_eq!(
            encryption::block_encryption_key(&core_key, &ek),
            hex32(&v["staticBlockEncryptionKey"])
        );
        cases.pass();

        for s in arr(&v["samples"]) {
            let mode = s["mode"].as_str().expect("mode");
            let what = format!("{file} {mode} sample {}/{}", s["index"], s["fork"]);
            let enc = BlockEncryption::new(&ek, &core_key, mode_of(mode));
            let (index, fork) = (u64_of(&s["index"]), u64_of(&s["fork"]));
            let plaintext = hex(&s["plaintext"]);
            assert_eq!(
                encryption::blinding_nonce(index).to_vec(),
                hex(&s["blindingNonce"]),
                "{what}"
            );
            let blinded = enc.blinded_fork(index, fork);
            assert_eq!(blinded.to_vec(), hex(&s["blindedFork"]), "{what}");
            assert_eq!(enc.unblind_fork(index, &blinded), fork);
            assert_eq!(
                encryption::nonce(index, &blinded).to_vec(),
                hex(&s["nonce"]),
                "{what}"
            );
            let stored = enc.encrypt(index, fork, &plaintext);
            assert_eq!(stored, hex(&s["encrypted"]), "{what}");
            let mut into = vec![0u8; plaintext.len() + PADDING];
            enc.encrypt_into(index, fork, &plaintext, &mut into)
                .unwrap();
            assert_eq!(into, stored);
            assert_eq!(hash::leaf_hash(&stored), hex32(&s["leafHash"]), "{what}");
            assert_eq!(enc.decrypt(index, &stored).unwrap(), plaintext, "{what}");
            cases.pass();
        }

        for core in arr(&v["realCores"]) {
            let mode = core["mode"].as_str().expect("mode");
            let what = format!("{file} real {mode} core");
            let key = hex32(&core["key"]);
            let compat = core["compat"].as_bool().expect("compat");
            assert_eq!(
                mode_of(mode),
                if compat {
                    KeyMode::Compat
                } else {
                    KeyMode::Manifest
                }
            );
            let enc = BlockEncryption::new(&ek, &key, mode_of(mode));
            assert_eq!(enc.block_key(), &hex32(&core["blockKey"]), "{what}");
            assert_eq!(enc.blinding_key(), &hex32(&core["blindingKey"]), "{what}");
            assert_eq!(u64_of(&core["padding"]), PADDING as u64);
            let current_fork = u64_of(&core["encryptionFork"]);
            let mut stored_blocks = Vec::new();
            let mut byte_length = 0u64;
            for b in arr(&core["blocks"]) {
                let index = u64_of(&b["index"]);
                let plaintext = hex(&b["plaintext"]);
                let stored = hex(&b["stored"]);
                assert_eq!(enc.decrypt(index, &stored).unwrap(), plaintext, "{what}");
                // The block was appended at some fork up to the current one; encrypting the
                // plaintext at that fork reproduces the stored bytes exactly.
                let padding: [u8; PADDING] = stored[..PADDING].try_into().unwrap();
                let fork = enc.unblind_fork(index, &padding);
                assert!(fork <= current_fork, "{what}: block {index} fork {fork}");
                assert_eq!(enc.encrypt(index, fork, &plaintext), stored, "{what}");
                assert_eq!(hash::leaf_hash(&stored), hex32(&b["leafHash"]), "{what}");
                byte_length += plaintext.len() as u64;
                stored_blocks.push(stored);
                cases.pass();
            }
            assert_eq!(stored_blocks.len() as u64, u64_of(&core["length"]));
            assert_eq!(byte_length, u64_of(&core["byteLength"]), "{what}");
            let roots = roots_of(&stored_blocks);
            let tree_bytes: u64 = roots.iter().map(|r| r.size).sum();
            assert_eq!(tree_bytes, u64_of(&core["treeByteLength"]), "{what}");
            assert_eq!(
                tree_bytes - PADDING as u64 * stored_blocks.len() as u64,
                byte_length
            );
            assert_eq!(hash::tree_hash(&roots), hex32(&core["treeHash"]), "{what}");
            cases.pass();
        }
    }
    cases.report();
}

// ------------------------------------------------------------------------------------------
// wire/constants.json, noise-handshake.json (keys only), session-*.json (hypercore section)
// ------------------------------------------------------------------------------------------

#[test]
fn wire_constants() {
    let mut cases = Cases::new("constants: namespaces, discovery key, capability");
    for (path, v) in files(Schema::Constants) {
        let file = name(&path);
        let hc = &v["hypercoreNamespace"];
        let computed: [hash::Hash; 6] = hash::namespace("hypercore");
        for (i, (name, constant)) in HYPERCORE_NAMESPACES.into_iter().enumerate() {
            assert_eq!(constant, hex32(&hc[name]), "{file} {name}");
            assert_eq!(computed[i], constant, "{file} {name}");
            cases.pass();
        }
        let ss = &v["secretStreamNamespace"];
        let computed: [hash::Hash; 3] = hash::namespace("hyperswarm/secret-stream");
        for (i, name) in ["NS_INITIATOR", "NS_RESPONDER", "NS_SEND"]
            .iter()
            .enumerate()
        {
            assert_eq!(computed[i], hex32(&ss[name]), "{file} {name}");
            cases.pass();
        }
        assert_eq!(
            hash::blake2b256(&[b"hypercore"]),
            hex32(&v["blake2b256_of_hypercore_ascii"])
        );
        cases.pass();
        let dk = &v["discoveryKeyExample"];
        assert_eq!(
            hash::discovery_key(&hex32(&dk["key"])),
            hex32(&dk["discoveryKey"])
        );
        cases.pass();
        let cap = &v["capabilityExample"];
        let (key, hh) = (hex32(&cap["key"]), hex(&cap["handshakeHash"]));
        assert_eq!(hash::capability(&hh, true, &key), hex32(&cap["initiator"]));
        assert_eq!(hash::capability(&hh, false, &key), hex32(&cap["responder"]));
        cases.pass();
    }
    cases.report();
}

#[test]
fn noise_static_and_ephemeral_key_pairs() {
    // Only the Ed25519 key pairs from seeds; the Noise DH (`scalar`, `dh`) and handshake
    // states belong to the transport work item.
    let mut cases = Cases::new("noise-handshake: keys from seeds");
    for (path, v) in files(Schema::NoiseHandshake) {
        let keys = v["keys"].as_object().expect("keys");
        assert!(!keys.is_empty());
        for (role, k) in keys {
            let kp = KeyPair::from_seed(&hex32(&k["seed"]));
            assert_eq!(
                kp.public_key,
                hex32(&k["publicKey"]),
                "{} {role}",
                name(&path)
            );
            assert_eq!(
                kp.secret_key,
                hex64(&k["secretKey"]),
                "{} {role}",
                name(&path)
            );
            cases.pass();
        }
    }
    cases.report();
}

#[test]
fn session_core_keys_and_capabilities() {
    let mut cases = Cases::new("session: core key, discovery key, capabilities");
    for (path, v) in files(Schema::Session) {
        let file = name(&path);
        let h = &v["hypercore"];
        let pk = hex32(&h["writerPublicKey"]);
        let kp = KeyPair::from_secret_key(&hex64(&h["writerSecretKey"])).expect("key pair");
        assert_eq!(kp.public_key, pk);
        let m = manifest_of(&h["manifest"]);
        assert_eq!(m, manifest::default_manifest(&pk), "{file}");
        let encoded = hex(&h["manifestEncodedHex"]);
        assert_eq!(m.to_vec(), encoded, "{file}");
        let core_key = hex32(&h["coreKey"]);
        assert_eq!(manifest::manifest_hash(&m), core_key, "{file}");
        assert_eq!(
            hash::blake2b256(&[&ns::MANIFEST, &encoded]),
            core_key,
            "{file}"
        );
        let decoded = Manifest::decode_exact(&encoded).unwrap();
        assert_eq!(manifest::manifest_hash(&decoded), core_key, "{file}");
        assert_eq!(manifest::key_from_public_key(&pk, false), core_key);
        assert_eq!(
            hash::discovery_key(&core_key),
            hex32(&h["discoveryKey"]),
            "{file}"
        );
        let hh = hex(&v["transport"]["handshakeHash"]);
        assert_eq!(
            hash::capability(&hh, true, &core_key),
            hex32(&h["capabilityInitiatorSends"]),
            "{file}"
        );
        assert_eq!(
            hash::capability(&hh, false, &core_key),
            hex32(&h["capabilityResponderSends"]),
            "{file}"
        );
        cases.pass();
    }
    cases.report();
}
