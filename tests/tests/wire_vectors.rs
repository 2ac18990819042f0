//! Conformance of `ferrocore-wire` with the JS reference vectors: compact-encoding
//! primitives, hypercore messages, manifests, protomux frames, the bitfield/range messages of
//! `core/bitfield.json`, and every plaintext frame of the recorded sessions.
//!
//! JSON values are converted to Rust values by the helpers below; each helper asserts the
//! exact key set of the object it reads, so a field the vectors add later fails the test
//! instead of being skipped.

use bytes::Bytes;
use ferrocore_tests::{files, hex, hex32, name, u64_of, Cases, Schema};
use ferrocore_wire::encoding::{
    array_len, buffer_len, frame_len, int_len, uint32_array_len, uint_len, Raw, Reader, Writer,
};
use ferrocore_wire::protomux::{BatchBuilder, ChannelMessage, Frame};
use ferrocore_wire::{
    Bitfield, Cancel, Data, DataBlock, DataHash, DataSeek, DataUpgrade, Decode, DecodeError,
    Encode, Extension, Handshake, HashAlgorithm, Manifest, Message, MessageType, NoData, Node,
    Prologue, Proof, Range, ReorgHint, Request, RequestBlock, RequestSeek, RequestUpgrade,
    SignatureAlgorithm, Signer, Sync, Unwant, Want,
};
use serde_json::{Map, Value};

// ----- JSON helpers ---------------------------------------------------------------------

/// The object `v`, asserting its keys are exactly `keys`.
fn obj<'a>(v: &'a Value, keys: &[&str]) -> &'a Map<String, Value> {
    let m = v
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, got {v}"));
    let mut have: Vec<&str> = m.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = keys.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    assert_eq!(have, want, "unexpected key set in {v}");
    m
}

fn field<'a>(m: &'a Map<String, Value>, k: &str) -> &'a Value {
    m.get(k).unwrap_or_else(|| panic!("missing field {k}"))
}

fn u(m: &Map<String, Value>, k: &str) -> u64 {
    u64_of(field(m, k))
}

fn b(m: &Map<String, Value>, k: &str) -> bool {
    field(m, k)
        .as_bool()
        .unwrap_or_else(|| panic!("{k}: expected a bool"))
}

fn s<'a>(m: &'a Map<String, Value>, k: &str) -> &'a str {
    field(m, k)
        .as_str()
        .unwrap_or_else(|| panic!("{k}: expected a string"))
}

fn bytes(v: &Value) -> Bytes {
    Bytes::from(hex(v))
}

/// `null` → `None`, else `f(value)`.
fn opt<T>(v: &Value, f: impl FnOnce(&Value) -> T) -> Option<T> {
    if v.is_null() {
        None
    } else {
        Some(f(v))
    }
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

fn words(v: &Value) -> Vec<u32> {
    arr(v)
        .iter()
        .map(|w| u32::try_from(u64_of(w)).expect("uint32 word"))
        .collect()
}

/// `{uint32array: [...], hex}` → the words, checking `hex` is their LE encoding.
fn uint32array(v: &Value) -> Vec<u32> {
    let m = obj(v, &["uint32array", "hex"]);
    let w = words(field(m, "uint32array"));
    let le: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(le, hex(field(m, "hex")), "uint32array hex");
    w
}

// ----- JSON → wire values ---------------------------------------------------------------

fn node(v: &Value) -> Node {
    let m = obj(v, &["index", "size", "hash"]);
    Node::new(u(m, "index"), u(m, "size"), hex32(field(m, "hash")))
}

fn nodes(v: &Value) -> Vec<Node> {
    arr(v).iter().map(node).collect()
}

fn manifest(v: &Value) -> Manifest {
    let m = obj(
        v,
        &[
            "version",
            "hash",
            "allowPatch",
            "quorum",
            "signers",
            "prologue",
            "linked",
            "userData",
        ],
    );
    assert_eq!(s(m, "hash"), "blake2b");
    Manifest {
        version: u(m, "version"),
        hash: HashAlgorithm::Blake2b,
        allow_patch: b(m, "allowPatch"),
        quorum: u(m, "quorum"),
        signers: arr(field(m, "signers"))
            .iter()
            .map(|sv| {
                let sm = obj(sv, &["signature", "namespace", "publicKey"]);
                assert_eq!(s(sm, "signature"), "ed25519");
                Signer {
                    signature: SignatureAlgorithm::Ed25519,
                    namespace: hex32(field(sm, "namespace")),
                    public_key: hex32(field(sm, "publicKey")),
                }
            })
            .collect(),
        prologue: opt(field(m, "prologue"), |p| {
            let pm = obj(p, &["hash", "length"]);
            Prologue {
                hash: hex32(field(pm, "hash")),
                length: u(pm, "length"),
            }
        }),
        linked: opt(field(m, "linked"), |l| arr(l).iter().map(hex32).collect()),
        user_data: opt(field(m, "userData"), bytes),
    }
}

fn handshake(v: &Value) -> Handshake {
    let m = obj(v, &["seeks", "capability"]);
    Handshake {
        seeks: b(m, "seeks"),
        capability: hex32(field(m, "capability")),
    }
}

fn reorg_hint(v: &Value) -> ReorgHint {
    let m = obj(v, &["from", "to", "ancestors"]);
    ReorgHint {
        from: u(m, "from"),
        to: u(m, "to"),
        ancestors: u(m, "ancestors"),
    }
}

fn index_nodes(v: &Value) -> RequestBlock {
    let m = obj(v, &["index", "nodes"]);
    RequestBlock {
        index: u(m, "index"),
        nodes: u(m, "nodes"),
    }
}

fn request(v: &Value) -> Request {
    let m = obj(
        v,
        &[
            "id", "fork", "block", "hash", "seek", "upgrade", "manifest", "priority",
        ],
    );
    Request {
        id: u(m, "id"),
        fork: u(m, "fork"),
        block: opt(field(m, "block"), index_nodes),
        hash: opt(field(m, "hash"), index_nodes),
        seek: opt(field(m, "seek"), |x| {
            let sm = obj(x, &["bytes", "padding"]);
            RequestSeek {
                bytes: u(sm, "bytes"),
                padding: u(sm, "padding"),
            }
        }),
        upgrade: opt(field(m, "upgrade"), |x| {
            let um = obj(x, &["start", "length"]);
            RequestUpgrade {
                start: u(um, "start"),
                length: u(um, "length"),
            }
        }),
        manifest: b(m, "manifest"),
        priority: u(m, "priority"),
    }
}

fn data(v: &Value) -> Data {
    let m = obj(
        v,
        &[
            "request", "fork", "block", "hash", "seek", "upgrade", "manifest",
        ],
    );
    Data {
        request: u(m, "request"),
        proof: Proof {
            fork: u(m, "fork"),
            block: opt(field(m, "block"), |x| {
                let bm = obj(x, &["index", "value", "nodes"]);
                DataBlock {
                    index: u(bm, "index"),
                    value: bytes(field(bm, "value")),
                    nodes: nodes(field(bm, "nodes")),
                }
            }),
            hash: opt(field(m, "hash"), |x| {
                let hm = obj(x, &["index", "nodes"]);
                DataHash {
                    index: u(hm, "index"),
                    nodes: nodes(field(hm, "nodes")),
                }
            }),
            seek: opt(field(m, "seek"), |x| {
                let sm = obj(x, &["bytes", "nodes"]);
                DataSeek {
                    bytes: u(sm, "bytes"),
                    nodes: nodes(field(sm, "nodes")),
                }
            }),
            upgrade: opt(field(m, "upgrade"), |x| {
                let um = obj(
                    x,
                    &["start", "length", "nodes", "additionalNodes", "signature"],
                );
                DataUpgrade {
                    start: u(um, "start"),
                    length: u(um, "length"),
                    nodes: nodes(field(um, "nodes")),
                    additional_nodes: nodes(field(um, "additionalNodes")),
                    signature: opt(field(um, "signature"), bytes),
                }
            }),
            manifest: opt(field(m, "manifest"), manifest),
        },
    }
}

/// `want` / `unwant` fields.
fn want_fields(v: &Value) -> (u64, u64, bool) {
    let m = obj(v, &["start", "length", "any"]);
    (u(m, "start"), u(m, "length"), b(m, "any"))
}

fn range(v: &Value) -> Range {
    let m = obj(v, &["drop", "start", "length"]);
    Range {
        drop: b(m, "drop"),
        start: u(m, "start"),
        length: u(m, "length"),
    }
}

/// A channel message from its reference name and JSON value.
fn message(name: &str, v: &Value) -> Message {
    match name {
        "sync" => {
            let m = obj(
                v,
                &[
                    "fork",
                    "length",
                    "remoteLength",
                    "canUpgrade",
                    "uploading",
                    "downloading",
                    "hasManifest",
                    "allowPush",
                ],
            );
            Message::Sync(Sync {
                fork: u(m, "fork"),
                length: u(m, "length"),
                remote_length: u(m, "remoteLength"),
                can_upgrade: b(m, "canUpgrade"),
                uploading: b(m, "uploading"),
                downloading: b(m, "downloading"),
                has_manifest: b(m, "hasManifest"),
                allow_push: b(m, "allowPush"),
            })
        }
        "request" => Message::Request(request(v)),
        "cancel" => Message::Cancel(Cancel {
            request: u(obj(v, &["request"]), "request"),
        }),
        "data" => Message::Data(data(v)),
        "noData" => {
            let m = obj(v, &["request", "reason"]);
            Message::NoData(NoData {
                request: u(m, "request"),
                reason: u(m, "reason"),
            })
        }
        "want" => {
            let (start, length, any) = want_fields(v);
            Message::Want(Want { start, length, any })
        }
        "unwant" => {
            let (start, length, any) = want_fields(v);
            Message::Unwant(Unwant { start, length, any })
        }
        "bitfield" => {
            let m = obj(v, &["start", "bitfield"]);
            Message::Bitfield(Bitfield {
                start: u(m, "start"),
                bitfield: uint32array(field(m, "bitfield")),
            })
        }
        "range" => Message::Range(range(v)),
        "extension" => {
            let m = obj(v, &["name", "message"]);
            Message::Extension(Extension {
                name: s(m, "name").to_owned(),
                message: bytes(field(m, "message")),
            })
        }
        other => panic!("unknown message name {other}"),
    }
}

// ----- generic checks -------------------------------------------------------------------

/// `value` encodes to `hex` (with a matching `encoded_len`) and `hex` decodes, consuming
/// every byte, to `decoded`.
fn check_codec<T: Encode + Decode + PartialEq + std::fmt::Debug>(
    what: &str,
    value: &T,
    hex_bytes: &[u8],
    decoded: &T,
) {
    assert_eq!(value.to_vec(), hex_bytes, "{what}: encode");
    assert_eq!(value.encoded_len(), hex_bytes.len(), "{what}: encoded_len");
    assert_eq!(
        &T::decode_exact(hex_bytes).unwrap_or_else(|e| panic!("{what}: decode: {e}")),
        decoded,
        "{what}: decode"
    );
    assert_eq!(
        &T::decode_bytes(&Bytes::copy_from_slice(hex_bytes)).expect("zero-copy decode"),
        decoded,
        "{what}: zero-copy decode"
    );
}

/// Encodes with a closure over a large scratch buffer; returns the bytes written.
fn written(f: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::new(&mut buf);
    f(&mut w);
    let n = w.position();
    buf.truncate(n);
    buf
}

// ----- compact-encoding.json ------------------------------------------------------------

/// `uint` as an [`Encode`]/[`Decode`] element, to exercise the generic array codec.
#[derive(Debug, PartialEq)]
struct U(u64);

impl Encode for U {
    fn encoded_len(&self) -> usize {
        uint_len(self.0)
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.uint(self.0);
    }
}

impl Decode for U {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.uint().map(U)
    }
}

/// `fixed32` as an array element.
#[derive(Debug, PartialEq)]
struct F32([u8; 32]);

impl Encode for F32 {
    fn encoded_len(&self) -> usize {
        32
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.raw(&self.0);
    }
}

impl Decode for F32 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        r.fixed().map(F32)
    }
}

/// `string` as an [`Encode`] value, to exercise `frame(T)`.
struct Str<'a>(&'a str);

impl Encode for Str<'_> {
    fn encoded_len(&self) -> usize {
        buffer_len(self.0.len())
    }
    fn encode(&self, w: &mut Writer<'_>) {
        w.string(self.0);
    }
}

/// A decoded compact-encoding value, in JSON form, for comparison with the vectors.
fn decode_primitive(ty: &str, r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    let hexv = |b: &[u8]| Value::from(::hex::encode(b));
    Ok(match ty {
        "uint" => r.uint()?.into(),
        "uint8" => r.u8()?.into(),
        "uint16" => r.u16()?.into(),
        "uint24" => r.u24()?.into(),
        "uint32" => r.u32()?.into(),
        "uint64" => r.u64()?.into(),
        "int" => r.int()?.into(),
        "bool" => r.bool()?.into(),
        "fixed32" => hexv(&r.fixed::<32>()?),
        "fixed64" => hexv(&r.fixed::<64>()?),
        "buffer" => hexv(r.buffer()?),
        "optionalBuffer" => r.optional_buffer_bytes()?.map_or(Value::Null, |b| hexv(&b)),
        "raw" => hexv(r.rest()),
        "string" => r.string()?.into(),
        "array(uint)" => r
            .array::<U>(1)?
            .into_iter()
            .map(|x| Value::from(x.0))
            .collect(),
        "array(fixed32)" => r
            .array::<F32>(32)?
            .into_iter()
            .map(|x| hexv(&x.0))
            .collect(),
        "uint32array" => {
            let w = r.uint32_array()?;
            let le: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
            serde_json::json!({ "uint32array": w, "hex": ::hex::encode(le) })
        }
        "frame(string)" => {
            let mut inner = r.frame()?;
            inner.string()?.into()
        }
        other => panic!("unknown compact-encoding type {other}"),
    })
}

/// Encodes a compact-encoding value given in JSON form; also returns the size the length
/// helpers predict for it.
fn encode_primitive(ty: &str, v: &Value) -> (Vec<u8>, usize) {
    let n = || u64_of(v);
    let small = |max: u64| {
        let x = n();
        assert!(x <= max);
        x
    };
    match ty {
        "uint" => (
            written(|w| {
                w.uint(n());
            }),
            uint_len(n()),
        ),
        "uint8" => (
            written(|w| {
                w.u8(small(0xff) as u8);
            }),
            1,
        ),
        "uint16" => (
            written(|w| {
                w.u16(small(0xffff) as u16);
            }),
            2,
        ),
        "uint24" => (
            written(|w| {
                w.u24(small(0xff_ffff) as u32);
            }),
            3,
        ),
        "uint32" => (
            written(|w| {
                w.u32(small(0xffff_ffff) as u32);
            }),
            4,
        ),
        "uint64" => (
            written(|w| {
                w.u64(n());
            }),
            8,
        ),
        "int" => {
            let i = v.as_i64().expect("int");
            (
                written(|w| {
                    w.int(i);
                }),
                int_len(i),
            )
        }
        "bool" => (
            written(|w| {
                w.bool(v.as_bool().expect("bool"));
            }),
            1,
        ),
        "fixed32" | "fixed64" | "raw" => {
            let b = hex(v);
            let len = b.len();
            (
                written(|w| {
                    w.raw(&b);
                }),
                len,
            )
        }
        "buffer" => {
            let b = hex(v);
            (
                written(|w| {
                    w.buffer(&b);
                }),
                buffer_len(b.len()),
            )
        }
        "optionalBuffer" => {
            let b = opt(v, hex);
            let len = buffer_len(b.as_ref().map_or(0, Vec::len));
            (
                written(|w| {
                    w.optional_buffer(b.as_deref());
                }),
                len,
            )
        }
        "string" => {
            let st = v.as_str().expect("string");
            (
                written(|w| {
                    w.string(st);
                }),
                buffer_len(st.len()),
            )
        }
        "array(uint)" => {
            let items: Vec<U> = arr(v).iter().map(|x| U(u64_of(x))).collect();
            (
                written(|w| {
                    w.array(&items);
                }),
                array_len(&items),
            )
        }
        "array(fixed32)" => {
            let items: Vec<F32> = arr(v).iter().map(|x| F32(hex32(x))).collect();
            (
                written(|w| {
                    w.array(&items);
                }),
                array_len(&items),
            )
        }
        "uint32array" => {
            let w32 = uint32array(v);
            (
                written(|w| {
                    w.uint32_array(&w32);
                }),
                uint32_array_len(w32.len()),
            )
        }
        "frame(string)" => {
            let st = Str(v.as_str().expect("string"));
            (
                written(|w| {
                    w.frame(&st);
                }),
                frame_len(st.encoded_len()),
            )
        }
        other => panic!("unknown compact-encoding type {other}"),
    }
}

/// Maps the reference's error message onto our error variant.
fn error_matches(js: &str, e: &DecodeError) -> bool {
    match js {
        "Out of bounds" => matches!(e, DecodeError::UnexpectedEnd { .. }),
        m if m.starts_with("uint must be between") => {
            matches!(e, DecodeError::IntegerTooLarge(_))
        }
        "Array is too big" => matches!(e, DecodeError::ArrayTooLarge(_)),
        other => panic!("unmapped reference error {other:?}"),
    }
}

#[test]
fn compact_encoding() {
    let mut cases = Cases::new("wire: compact-encoding");
    for (path, file) in files(Schema::CompactEncoding) {
        let fname = name(&path);
        for c in arr(&file["cases"]) {
            let ty = c["type"].as_str().expect("type");
            let want = hex(&c["hex"]);
            let what = format!("{fname} {ty} {}", c["value"]);
            let (got, predicted) = encode_primitive(ty, &c["value"]);
            assert_eq!(::hex::encode(&got), ::hex::encode(&want), "{what}: encode");
            assert_eq!(predicted, want.len(), "{what}: length helper");
            let mut r = Reader::new(&want);
            let decoded = decode_primitive(ty, &mut r).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(decoded, c["decoded"], "{what}: decode");
            assert!(
                r.is_empty(),
                "{what}: decode left {} byte(s)",
                r.remaining()
            );
            cases.pass();
        }
        for c in arr(&file["decodeOnly"]) {
            let ty = c["type"].as_str().expect("type");
            let input = hex(&c["hex"]);
            let what = format!("{fname} decodeOnly {ty} {}", c["hex"]);
            let got = decode_primitive(ty, &mut Reader::new(&input));
            match c.get("error") {
                Some(err) => {
                    let e = got.expect_err(&what);
                    let js = err.as_str().expect("error string");
                    assert!(error_matches(js, &e), "{what}: got {e:?}, reference {js}");
                }
                None => assert_eq!(got.expect(&what), c["decoded"], "{what}"),
            }
            cases.pass();
        }
    }
    cases.report();
}

// ----- hypercore-messages.json -----------------------------------------------------------

/// Checks one `{value, hex, decoded}` case of message `name`.
fn check_message_case(what: &str, name: &str, type_ids: &[(String, u64)], c: &Value) {
    let m = obj(c, &["value", "hex", "decoded"]);
    let bytes_ = hex(field(m, "hex"));
    let (value, decoded) = (field(m, "value"), field(m, "decoded"));
    match name {
        "handshake" => check_codec(what, &handshake(value), &bytes_, &handshake(decoded)),
        "reorgHint" => check_codec(what, &reorg_hint(value), &bytes_, &reorg_hint(decoded)),
        _ => {
            let (v, d) = (message(name, value), message(name, decoded));
            assert_eq!(v.to_vec(), bytes_, "{what}: encode");
            assert_eq!(v.encoded_len(), bytes_.len(), "{what}: encoded_len");
            let ty = v.message_type();
            let id = type_ids
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, id)| *id)
                .unwrap_or_else(|| panic!("{name} not in types[]"));
            assert_eq!(ty.as_u64(), id, "{what}: type id");
            assert_eq!(ty.name(), name, "{what}: name");
            let mut r = Reader::new(&bytes_);
            assert_eq!(
                Message::decode(id, &mut r).expect(what),
                Some(d.clone()),
                "{what}: decode by type id"
            );
            assert!(r.is_empty(), "{what}: decode consumed everything");
            assert_eq!(
                Message::decode_payload(id, &Bytes::from(bytes_.clone())).expect(what),
                Some(d),
                "{what}: zero-copy decode by type id"
            );
        }
    }
}

#[test]
fn hypercore_messages() {
    let mut cases = Cases::new("wire: hypercore messages");
    for (path, file) in files(Schema::HypercoreMessages) {
        let fname = name(&path);
        let type_ids: Vec<(String, u64)> = arr(&file["types"])
            .iter()
            .map(|t| {
                let m = obj(t, &["id", "name"]);
                (s(m, "name").to_owned(), u(m, "id"))
            })
            .collect();
        // types[] is exactly our MessageType table, and unknown ids are "ignore".
        assert_eq!(type_ids.len(), MessageType::ALL.len());
        for (n, id) in &type_ids {
            let ty = MessageType::from_u64(*id).expect("known id");
            assert_eq!(ty.name(), n);
            cases.pass();
        }
        assert_eq!(MessageType::from_u64(type_ids.len() as u64), None);
        assert_eq!(
            Message::decode(10, &mut Reader::new(&[1, 2, 3])),
            Ok(None),
            "unknown type is ignored"
        );

        let messages = file["messages"].as_object().expect("messages");
        for (mname, list) in messages {
            for (i, c) in arr(list).iter().enumerate() {
                let what = format!("{fname} {mname}[{i}]");
                check_message_case(&what, mname, &type_ids, c);
                cases.pass();
            }
        }

        for (i, c) in arr(&file["lenientDecoding"]).iter().enumerate() {
            let m = obj(c, &["type", "hex", "decoded", "note"]);
            let mname = s(m, "type");
            let what = format!("{fname} lenientDecoding[{i}] {mname}");
            let want = message(mname, field(m, "decoded"));
            let id = want.message_type().as_u64();
            let input = hex(field(m, "hex"));
            let got = Message::decode(id, &mut Reader::new(&input)).expect(&what);
            assert_eq!(got, Some(want), "{what}");
            cases.pass();
        }

        for (mname, mv) in file["manifests"].as_object().expect("manifests") {
            let m = obj(mv, &["value", "hex"]);
            let v = manifest(field(m, "value"));
            check_codec(
                &format!("{fname} manifest {mname}"),
                &v,
                &hex(field(m, "hex")),
                &v,
            );
            cases.pass();
        }
    }
    cases.report();
}

// ----- protomux frames ------------------------------------------------------------------

/// How a test decodes the payloads of one protocol's messages and handshake into JSON.
trait ProtocolValues {
    /// Keys a message object has besides kind/channel/type/payloadHex/value.
    fn extra_keys(&self) -> &'static [&'static str];
    /// The JSON `handshake` of an open (`null` for an empty handshake).
    fn handshake(&self, protocol: &str, handshake: &Bytes) -> Value;
    /// Checks a message's `decoded` entry fields beyond channel/type/payloadHex.
    fn check_message(&self, what: &str, m: &ChannelMessage, item: &Map<String, Value>);
}

/// `example/v1` of `protomux-frames.json`: string handshake, messages `[string, uint]`.
struct Example;

impl ProtocolValues for Example {
    fn extra_keys(&self) -> &'static [&'static str] {
        &["protocol"]
    }

    fn handshake(&self, protocol: &str, handshake: &Bytes) -> Value {
        assert!(
            protocol == "example/v1" || protocol == "nobody/listens",
            "{protocol}"
        );
        if handshake.is_empty() {
            return Value::Null;
        }
        Reader::new(handshake)
            .string()
            .expect("string handshake")
            .into()
    }

    fn check_message(&self, what: &str, m: &ChannelMessage, item: &Map<String, Value>) {
        assert_eq!(s(item, "protocol"), "example/v1", "{what}");
        let mut r = Reader::new(&m.payload);
        let value: Value = match m.message_type {
            0 => r.string().expect("string message").into(),
            1 => r.uint().expect("uint message").into(),
            other => panic!("{what}: example/v1 has no type {other}"),
        };
        assert!(r.is_empty(), "{what}: payload fully decoded");
        assert_eq!(&value, field(item, "value"), "{what}: value");
    }
}

/// `hypercore/alpha` of the session recordings.
struct Hypercore;

impl ProtocolValues for Hypercore {
    fn extra_keys(&self) -> &'static [&'static str] {
        &["name"]
    }

    fn handshake(&self, protocol: &str, handshake: &Bytes) -> Value {
        assert_eq!(protocol, "hypercore/alpha");
        let h: Handshake = Handshake::decode_exact(handshake).expect("hypercore handshake");
        serde_json::json!({
            "seeks": h.seeks,
            "capability": ::hex::encode(h.capability),
        })
    }

    fn check_message(&self, what: &str, m: &ChannelMessage, item: &Map<String, Value>) {
        let mname = s(item, "name");
        let want = message(mname, field(item, "value"));
        let got = m
            .decode_hypercore()
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|| panic!("{what}: unknown type {}", m.message_type));
        assert_eq!(got.message_type().name(), mname, "{what}: name");
        assert_eq!(got, want, "{what}: value");
        // Re-encoding the typed message reproduces the payload and the frame.
        assert_eq!(got.to_vec(), m.payload, "{what}: payload re-encode");
        assert_eq!(
            ferrocore_wire::protomux::hypercore_frame(m.channel, &got),
            Frame::Message(m.clone()).to_vec(),
            "{what}: frame re-encode"
        );
    }
}

/// Checks a channel message against a `decoded` object (a frame, or a batch item, which
/// also has `entryHex`).
fn check_channel_message(
    what: &str,
    p: &dyn ProtocolValues,
    m: &ChannelMessage,
    d: &Value,
    in_batch: bool,
) {
    let mut keys = vec!["kind", "channel", "type", "payloadHex", "value"];
    keys.extend_from_slice(p.extra_keys());
    if in_batch {
        keys.push("entryHex");
    }
    let item = obj(d, &keys);
    assert_eq!(s(item, "kind"), "message", "{what}: kind");
    assert_eq!(m.channel, u(item, "channel"), "{what}: channel");
    assert_eq!(m.message_type, u(item, "type"), "{what}: type");
    assert_eq!(m.payload, hex(field(item, "payloadHex")), "{what}: payload");
    p.check_message(what, m, item);
}

/// Checks a decoded frame against the vector's `decoded` object.
fn check_frame(what: &str, p: &dyn ProtocolValues, frame: &Frame, d: &Value) {
    let kind = d["kind"].as_str().expect("kind");
    match (kind, frame) {
        ("open", Frame::Open(o)) => {
            let m = obj(
                d,
                &[
                    "kind",
                    "localId",
                    "protocol",
                    "id",
                    "handshakeHex",
                    "handshake",
                ],
            );
            assert_eq!(o.local_id, u(m, "localId"), "{what}: localId");
            assert_eq!(o.protocol, s(m, "protocol"), "{what}: protocol");
            assert_eq!(
                o.id.as_ref().map(|b| b.to_vec()),
                opt(field(m, "id"), hex),
                "{what}: id"
            );
            assert_eq!(
                o.handshake,
                hex(field(m, "handshakeHex")),
                "{what}: handshake"
            );
            assert_eq!(
                p.handshake(&o.protocol, &o.handshake),
                *field(m, "handshake"),
                "{what}: handshake value"
            );
        }
        ("message", Frame::Message(msg)) => check_channel_message(what, p, msg, d, false),
        ("batch", Frame::Batch(batch)) => {
            let m = obj(d, &["kind", "items"]);
            let items = arr(field(m, "items"));
            assert_eq!(batch.entries.len(), items.len(), "{what}: item count");
            let mut rebuilt = BatchBuilder::new();
            for (i, (e, item)) in batch.entries.iter().zip(items).enumerate() {
                let what = format!("{what} item {i}");
                let entry = written(|w| {
                    w.uint(e.message_type).raw(&e.payload);
                });
                assert_eq!(entry, hex(&item["entryHex"]), "{what}: entry bytes");
                if e.channel == 0 {
                    // A control frame inside the batch: same fields as the frame alone.
                    let mut alone = item.clone();
                    alone.as_object_mut().expect("item").remove("entryHex");
                    let f = Frame::from_parts(0, e.message_type, &e.payload).expect(&what);
                    check_frame(&what, p, &f, &alone);
                } else {
                    check_channel_message(&what, p, e, item, true);
                }
                let raw = Raw(&e.payload);
                assert!(rebuilt.push(e.channel, e.message_type, &raw).is_none());
            }
            // The interpreted frames agree with the raw entries.
            for (f, e) in batch.frames().zip(&batch.entries) {
                let f = f.expect(what);
                assert_eq!((f.channel(), f.frame_type()), (e.channel, e.message_type));
            }
            assert_eq!(
                rebuilt.finish().expect("non-empty batch"),
                frame.to_vec(),
                "{what}: BatchBuilder reproduces the batch"
            );
        }
        ("reject", Frame::Reject { remote_id }) => {
            let m = obj(d, &["kind", "remoteId", "meaning"]);
            assert_eq!(*remote_id, u(m, "remoteId"), "{what}: remoteId");
        }
        ("close", Frame::Close { local_id }) => {
            let m = obj(d, &["kind", "localId"]);
            assert_eq!(*local_id, u(m, "localId"), "{what}: localId");
        }
        _ => panic!("{what}: vector kind {kind}, decoded {frame:?}"),
    }
}

/// Decodes a frame both ways, checks it, and checks it re-encodes to the same bytes.
fn check_frame_bytes(what: &str, p: &dyn ProtocolValues, raw: &[u8], d: &Value) {
    let frame = Frame::decode_exact(raw).unwrap_or_else(|e| panic!("{what}: {e}"));
    let zero_copy = Frame::decode_record(&Bytes::copy_from_slice(raw))
        .expect(what)
        .expect("non-empty");
    assert_eq!(frame, zero_copy, "{what}: zero-copy decode");
    check_frame(what, p, &frame, d);
    assert_eq!(frame.to_vec(), raw, "{what}: re-encode");
    assert_eq!(frame.encoded_len(), raw.len(), "{what}: encoded_len");
    // Any frame can also travel inside a batch and comes back unchanged.
    let mut cork = BatchBuilder::new();
    assert!(cork.push_frame(&frame).is_none());
    let batched = cork.finish().expect("one entry");
    let Ok(Frame::Batch(batch)) = Frame::decode_from(&batched) else {
        panic!("{what}: batch of one")
    };
    let inner: Vec<Frame> = batch.frames().collect::<Result<_, _>>().expect(what);
    assert_eq!(inner, [frame], "{what}: through a batch");
}

#[test]
fn protomux_frames() {
    let mut cases = Cases::new("wire: protomux frames");
    for (path, file) in files(Schema::ProtomuxFrames) {
        let fname = name(&path);
        for f in arr(&file["frames"]) {
            let what = format!("{fname} frame {}", f["seq"]);
            check_frame_bytes(&what, &Example, &hex(&f["hex"]), &f["decoded"]);
            cases.pass();
        }
    }
    assert_eq!(
        Frame::decode_record(&Bytes::new()),
        Ok(None),
        "empty record"
    );
    cases.report();
}

#[test]
fn session_plaintext_frames() {
    let mut cases = Cases::new("wire: session plaintext frames");
    for (path, file) in files(Schema::Session) {
        let fname = name(&path);
        for f in arr(&file["plaintextFrames"]) {
            let what = format!("{fname} frame {} ({})", f["seq"], f["step"]);
            check_frame_bytes(&what, &Hypercore, &hex(&f["hex"]), &f["decoded"]);
            cases.pass();
        }
        // The recorded manifest encoding decodes to the recorded manifest.
        let hc = &file["hypercore"];
        let m = manifest(&hc["manifest"]);
        let enc = hex(&hc["manifestEncodedHex"]);
        check_codec(&format!("{fname} manifest"), &m, &enc, &m);
        cases.pass();
    }
    cases.report();
}

// ----- core/bitfield.json ----------------------------------------------------------------

#[test]
fn bitfield_and_range_messages() {
    let mut cases = Cases::new("wire: bitfield and range messages");
    for (path, file) in files(Schema::BitfieldMessages) {
        let fname = name(&path);
        let m = obj(
            &file["bitfieldMessage"],
            &["start", "setBits", "words", "bytes", "encoded"],
        );
        let w = words(field(m, "words"));
        // Bit j is word j >> 5, bit j & 31.
        let mut from_bits = vec![0u32; w.len()];
        for bit in arr(field(m, "setBits")).iter().map(u64_of) {
            from_bits[(bit >> 5) as usize] |= 1 << (bit & 31);
        }
        assert_eq!(from_bits, w, "{fname}: words from setBits");
        let le: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(le, hex(field(m, "bytes")), "{fname}: word bytes");
        let msg = Bitfield {
            start: u(m, "start"),
            bitfield: w,
        };
        check_codec(
            &format!("{fname} bitfieldMessage"),
            &msg,
            &hex(field(m, "encoded")),
            &msg,
        );
        cases.pass();

        for (i, rv) in arr(&file["rangeMessages"]).iter().enumerate() {
            let rm = obj(rv, &["drop", "start", "length", "encoded"]);
            let r = Range {
                drop: b(rm, "drop"),
                start: u(rm, "start"),
                length: u(rm, "length"),
            };
            check_codec(
                &format!("{fname} rangeMessages[{i}]"),
                &r,
                &hex(field(rm, "encoded")),
                &r,
            );
            cases.pass();
        }
    }
    cases.report();
}
