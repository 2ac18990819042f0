//! Property tests of `ferrocore-wire`: every codec round-trips, `encoded_len` is exact,
//! decoding arbitrary or truncated bytes returns errors (never panics), and decoded values
//! re-encode to something that decodes to the same value.

use bytes::Bytes;
use ferrocore_wire::encoding::{
    int_len, uint_len, zigzag_decode, zigzag_encode, Reader, Writer, MAX_SAFE_INTEGER,
};
use ferrocore_wire::protomux::{Batch, BatchBuilder, ChannelMessage, Frame, Open};
use ferrocore_wire::{
    Bitfield, Cancel, Data, DataBlock, DataHash, DataSeek, DataUpgrade, Decode, DecodeError,
    Encode, Extension, Handshake, HashAlgorithm, Manifest, Message, MessageType, NoData, Node,
    Prologue, Proof, Range, ReorgHint, Request, RequestBlock, RequestSeek, RequestUpgrade,
    SignatureAlgorithm, Signer, Sync, Unwant, Want,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ----- strategies -----------------------------------------------------------------------

/// A JS-safe integer, biased towards the `uint` size boundaries.
fn safe() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..=300u64,
        0xfc..=0x1_0001u64,
        0xffff_fff0..=0x1_0000_0010u64,
        0..=MAX_SAFE_INTEGER,
        (MAX_SAFE_INTEGER - 16)..=MAX_SAFE_INTEGER,
    ]
}

fn blob(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

/// An `optionalBuffer` value: `None` or non-empty (empty and absent are one encoding).
fn opt_blob(max: usize) -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(vec(any::<u8>(), 1..max).prop_map(Bytes::from))
}

fn node() -> impl Strategy<Value = Node> {
    (safe(), safe(), any::<[u8; 32]>()).prop_map(|(i, s, h)| Node::new(i, s, h))
}

fn nodes() -> impl Strategy<Value = Vec<Node>> {
    vec(node(), 0..4)
}

fn signer() -> impl Strategy<Value = Signer> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(namespace, public_key)| Signer {
        signature: SignatureAlgorithm::Ed25519,
        namespace,
        public_key,
    })
}

/// Manifests of version ≥ 1 with every optional section.
fn manifest_v1() -> BoxedStrategy<Manifest> {
    (
        1..=3u64,
        any::<bool>(),
        safe(),
        vec(signer(), 0..3),
        proptest::option::of((any::<[u8; 32]>(), safe())),
        proptest::option::of(vec(any::<[u8; 32]>(), 0..3)),
        proptest::option::of(blob(40)),
    )
        .prop_map(
            |(version, allow_patch, quorum, signers, prologue, linked, user_data)| Manifest {
                version,
                hash: HashAlgorithm::Blake2b,
                allow_patch,
                quorum,
                signers,
                prologue: prologue.map(|(hash, length)| Prologue { hash, length }),
                linked,
                user_data,
            },
        )
        .boxed()
}

/// The three shapes a version-0 manifest can take.
fn manifest_v0() -> BoxedStrategy<Manifest> {
    let base = Manifest {
        version: 0,
        hash: HashAlgorithm::Blake2b,
        allow_patch: false,
        quorum: 0,
        signers: Vec::new(),
        prologue: None,
        linked: None,
        user_data: None,
    };
    let (b0, b1, b2) = (base.clone(), base.clone(), base);
    prop_oneof![
        any::<[u8; 32]>().prop_map(move |hash| Manifest {
            prologue: Some(Prologue { hash, length: 0 }),
            ..b0.clone()
        }),
        signer().prop_map(move |s| Manifest {
            quorum: 1,
            signers: vec![s],
            ..b1.clone()
        }),
        (any::<bool>(), safe(), vec(signer(), 0..3))
            .prop_filter("not the single-signer shape", |(p, q, s)| {
                *p || *q != 1 || s.len() != 1
            })
            .prop_map(move |(allow_patch, quorum, signers)| Manifest {
                allow_patch,
                quorum,
                signers,
                ..b2.clone()
            }),
    ]
    .boxed()
}

fn manifest() -> BoxedStrategy<Manifest> {
    prop_oneof![manifest_v0(), manifest_v1()].boxed()
}

fn sync() -> BoxedStrategy<Sync> {
    (safe(), safe(), safe(), any::<[bool; 5]>())
        .prop_map(|(fork, length, remote_length, f)| Sync {
            fork,
            length,
            remote_length,
            can_upgrade: f[0],
            uploading: f[1],
            downloading: f[2],
            has_manifest: f[3],
            allow_push: f[4],
        })
        .boxed()
}

fn pair() -> impl Strategy<Value = (u64, u64)> {
    (safe(), safe())
}

fn request() -> BoxedStrategy<Request> {
    (
        pair(),
        proptest::option::of(pair()),
        proptest::option::of(pair()),
        proptest::option::of(pair()),
        proptest::option::of(pair()),
        any::<bool>(),
        prop_oneof![Just(0u64), safe()],
    )
        .prop_map(
            |((id, fork), block, hash, seek, upgrade, manifest, priority)| Request {
                id,
                fork,
                block: block.map(|(index, nodes)| RequestBlock { index, nodes }),
                hash: hash.map(|(index, nodes)| RequestBlock { index, nodes }),
                seek: seek.map(|(bytes, padding)| RequestSeek { bytes, padding }),
                upgrade: upgrade.map(|(start, length)| RequestUpgrade { start, length }),
                manifest,
                priority,
            },
        )
        .boxed()
}

fn data() -> BoxedStrategy<Data> {
    (
        pair(),
        proptest::option::of((safe(), blob(64), nodes())),
        proptest::option::of((safe(), nodes())),
        proptest::option::of((safe(), nodes())),
        proptest::option::of((pair(), nodes(), nodes(), opt_blob(80))),
        proptest::option::of(manifest()),
    )
        .prop_map(
            |((request, fork), block, hash, seek, upgrade, manifest)| Data {
                request,
                proof: Proof {
                    fork,
                    block: block.map(|(index, value, nodes)| DataBlock {
                        index,
                        value,
                        nodes,
                    }),
                    hash: hash.map(|(index, nodes)| DataHash { index, nodes }),
                    seek: seek.map(|(bytes, nodes)| DataSeek { bytes, nodes }),
                    upgrade: upgrade.map(
                        |((start, length), nodes, additional_nodes, signature)| DataUpgrade {
                            start,
                            length,
                            nodes,
                            additional_nodes,
                            signature,
                        },
                    ),
                    manifest,
                },
            },
        )
        .boxed()
}

fn message() -> BoxedStrategy<Message> {
    prop_oneof![
        sync().prop_map(Message::Sync),
        request().prop_map(Message::Request),
        safe().prop_map(|request| Message::Cancel(Cancel { request })),
        data().prop_map(Message::Data),
        pair().prop_map(|(request, reason)| Message::NoData(NoData { request, reason })),
        (pair(), any::<bool>()).prop_map(|((start, length), any)| Message::Want(Want {
            start,
            length,
            any
        })),
        (pair(), any::<bool>()).prop_map(|((start, length), any)| Message::Unwant(Unwant {
            start,
            length,
            any
        })),
        (safe(), vec(any::<u32>(), 0..8))
            .prop_map(|(start, bitfield)| Message::Bitfield(Bitfield { start, bitfield })),
        (any::<bool>(), pair()).prop_map(|(drop, (start, length))| Message::Range(Range {
            drop,
            start,
            length
        })),
        (".{0,12}", blob(40))
            .prop_map(|(name, message)| Message::Extension(Extension { name, message })),
    ]
    .boxed()
}

fn channel_message(
    channels: std::ops::RangeInclusive<u64>,
) -> impl Strategy<Value = ChannelMessage> {
    (channels, safe(), blob(40)).prop_map(|(channel, message_type, payload)| ChannelMessage {
        channel,
        message_type,
        payload,
    })
}

/// Any frame except batches.
fn single_frame() -> BoxedStrategy<Frame> {
    prop_oneof![
        (safe(), ".{0,20}", opt_blob(40), blob(40)).prop_map(
            |(local_id, protocol, id, handshake)| Frame::Open(Open {
                local_id,
                protocol,
                id,
                handshake,
            })
        ),
        safe().prop_map(|remote_id| Frame::Reject { remote_id }),
        safe().prop_map(|local_id| Frame::Close { local_id }),
        (4..=MAX_SAFE_INTEGER, blob(40)).prop_map(|(control_type, payload)| {
            Frame::UnknownControl {
                control_type,
                payload,
            }
        }),
        channel_message(1..=MAX_SAFE_INTEGER).prop_map(Frame::Message),
    ]
    .boxed()
}

fn frame() -> BoxedStrategy<Frame> {
    prop_oneof![
        single_frame(),
        vec(channel_message(0..=4), 0..12).prop_map(|entries| Frame::Batch(Batch { entries })),
    ]
    .boxed()
}

// ----- helpers --------------------------------------------------------------------------

/// Encodes, checks `encoded_len`, decodes (exactly and zero-copy) and compares.
fn round_trip<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T) -> Vec<u8> {
    let enc = v.to_vec();
    assert_eq!(v.encoded_len(), enc.len(), "encoded_len of {v:?}");
    assert_eq!(&T::decode_exact(&enc).expect("decode"), v);
    assert_eq!(
        &T::decode_bytes(&Bytes::from(enc.clone())).expect("decode"),
        v
    );
    enc
}

/// Every strict prefix of `enc` fails to decode (for codecs with no trailing optional
/// field).
fn prefixes_fail<T: Decode + std::fmt::Debug>(enc: &[u8]) {
    for n in 0..enc.len() {
        assert!(
            T::decode_from(&enc[..n]).is_err(),
            "prefix of {n}/{} bytes decoded",
            enc.len()
        );
    }
}

/// Decoding and re-encoding `Ok` results of arbitrary input gives the same value again.
fn stable<T: Encode + Decode + PartialEq + std::fmt::Debug>(input: &[u8]) {
    if let Ok(v) = T::decode_from(input) {
        let again = T::decode_exact(&v.to_vec()).expect("re-encoded value decodes");
        assert_eq!(again, v);
    }
}

fn message_round_trip(m: &Message) -> Vec<u8> {
    let enc = m.to_vec();
    assert_eq!(m.encoded_len(), enc.len());
    let mut r = Reader::new(&enc);
    let back = Message::decode(m.message_type().as_u64(), &mut r).expect("decode");
    assert!(r.is_empty(), "decode consumed everything");
    assert_eq!(back.as_ref(), Some(m));
    enc
}

/// Messages whose layout ends in a trailing optional field or `raw`, so bytes appended
/// after them change their meaning.
fn has_open_end(m: &Message) -> bool {
    matches!(
        m.message_type(),
        MessageType::NoData | MessageType::Want | MessageType::Unwant | MessageType::Extension
    )
}

// ----- properties -----------------------------------------------------------------------

proptest! {
    #[test]
    fn uint_round_trips_over_the_safe_range(n in safe()) {
        let mut buf = [0u8; 9];
        let len = uint_len(n);
        Writer::new(&mut buf).uint(n);
        let mut r = Reader::new(&buf[..len]);
        prop_assert_eq!(r.uint().unwrap(), n);
        prop_assert!(r.is_empty());
        // Too short by one byte: out of bounds.
        let short = Reader::new(&buf[..len - 1]).uint();
        prop_assert!(matches!(short, Err(DecodeError::UnexpectedEnd { .. })), "{:?}", short);
    }

    #[test]
    fn uint_above_2_pow_53_is_rejected(n in (MAX_SAFE_INTEGER + 1)..=u64::MAX) {
        let mut buf = [0u8; 9];
        Writer::new(&mut buf).uint(n);
        prop_assert_eq!(Reader::new(&buf).uint(), Err(DecodeError::IntegerTooLarge(n)));
        prop_assert_eq!(Reader::new(&buf[1..]).u64(), Err(DecodeError::IntegerTooLarge(n)));
    }

    #[test]
    fn int_round_trips(n in -(1i64 << 52)..(1i64 << 52)) {
        prop_assert_eq!(zigzag_decode(zigzag_encode(n)), n);
        prop_assert!(zigzag_encode(n) <= MAX_SAFE_INTEGER);
        let mut buf = [0u8; 9];
        Writer::new(&mut buf).int(n);
        let mut r = Reader::new(&buf[..int_len(n)]);
        prop_assert_eq!(r.int().unwrap(), n);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn node_round_trips(n in node()) {
        let enc = round_trip(&n);
        prefixes_fail::<Node>(&enc);
    }

    #[test]
    fn manifest_round_trips(m in manifest()) {
        let enc = round_trip(&m);
        prefixes_fail::<Manifest>(&enc);
    }

    #[test]
    fn handshake_and_reorg_hint_round_trip(
        seeks in any::<bool>(), capability in any::<[u8; 32]>(), (from, to) in pair(), ancestors in safe()
    ) {
        let enc = round_trip(&Handshake { seeks, capability });
        prefixes_fail::<Handshake>(&enc);
        let enc = round_trip(&ReorgHint { from, to, ancestors });
        prefixes_fail::<ReorgHint>(&enc);
    }

    #[test]
    fn every_message_round_trips(m in message(), junk in vec(any::<u8>(), 1..8)) {
        let enc = message_round_trip(&m);
        // Also through a frame and a batch of one.
        let frame = ferrocore_wire::protomux::hypercore_frame(7, &m);
        let Ok(Frame::Message(cm)) = Frame::decode_from(&frame) else { panic!("message frame") };
        prop_assert_eq!(cm.decode_hypercore().unwrap(), Some(m.clone()));
        if has_open_end(&m) {
            // Strict prefixes may still decode (missing trailing field = 0 / shorter raw),
            // but never panic.
            for n in 0..enc.len() {
                let _ = Message::decode(m.message_type().as_u64(), &mut Reader::new(&enc[..n]));
            }
        } else {
            for n in 0..enc.len() {
                prop_assert!(
                    Message::decode(m.message_type().as_u64(), &mut Reader::new(&enc[..n])).is_err(),
                    "prefix {}/{}", n, enc.len()
                );
            }
            // Trailing bytes after a closed layout are ignored, as by the reference.
            let mut longer = enc.clone();
            longer.extend_from_slice(&junk);
            let back = Message::decode(m.message_type().as_u64(), &mut Reader::new(&longer));
            prop_assert_eq!(back.unwrap(), Some(m));
        }
    }

    #[test]
    fn lenient_trailing_flags(request in safe(), (start, length) in pair()) {
        // A bare `uint request` is noData with reason 0; want/unwant without flags: any=false.
        let mut buf = vec![0u8; uint_len(request)];
        Writer::new(&mut buf).uint(request);
        prop_assert_eq!(NoData::decode_exact(&buf).unwrap(), NoData { request, reason: 0 });
        let want = Want { start, length, any: false };
        prop_assert_eq!(want.to_vec().len(), uint_len(start) + uint_len(length));
        prop_assert_eq!(Unwant::decode_exact(&want.to_vec()).unwrap(), Unwant { start, length, any: false });
    }

    #[test]
    fn frames_round_trip(f in frame()) {
        let enc = round_trip(&f);
        prop_assert_eq!(Frame::decode_record(&Bytes::from(enc)).unwrap(), Some(f));
    }

    #[test]
    fn batch_builder_matches_batch_frames(frames in vec(single_frame(), 1..10)) {
        let mut cork = BatchBuilder::new();
        for f in &frames {
            prop_assert!(cork.push_frame(f).is_none());
        }
        prop_assert_eq!(cork.len(), frames.len());
        let pending = cork.encoded_len();
        let out = cork.finish().unwrap();
        prop_assert_eq!(out.len(), pending);
        let Ok(Frame::Batch(batch)) = Frame::decode_exact(&out) else { panic!("batch frame") };
        let back: Vec<Frame> = batch.frames().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&back, &frames);
        // The typed batch encodes to the very same bytes.
        prop_assert_eq!(Frame::Batch(batch).to_vec(), out.clone());
        // And the lazy decoder yields the same entries.
        let payload = Bytes::copy_from_slice(&out[2..]);
        let lazy: Vec<ChannelMessage> = Batch::entries(&payload).unwrap().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(lazy.len(), frames.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..200)) {
        for ty in 0..12u64 {
            if let Ok(Some(m)) = Message::decode(ty, &mut Reader::new(&input)) {
                // Canonical re-encoding decodes to the same value.
                let again = Message::decode(ty, &mut Reader::new(&m.to_vec())).unwrap();
                prop_assert_eq!(again, Some(m));
            }
        }
        stable::<Frame>(&input);
        stable::<Manifest>(&input);
        stable::<Node>(&input);
        stable::<Handshake>(&input);
        stable::<ReorgHint>(&input);
        if let Ok(Frame::Batch(b)) = Frame::decode_from(&input) {
            for f in b.frames() {
                let _ = f;
            }
        }
        let mut r = Reader::new(&input);
        let _ = (r.uint(), r.int(), r.string(), r.uint32_array(), r.buffer(), r.frame());
    }

    #[test]
    fn arbitrary_frame_bodies_never_panic(channel in 0..3u64, ty in 0..6u64, body in vec(any::<u8>(), 0..120)) {
        let mut buf = Vec::new();
        buf.push(channel as u8);
        buf.push(ty as u8);
        buf.extend_from_slice(&body);
        stable::<Frame>(&buf);
    }
}

#[test]
fn huge_counts_allocate_nothing() {
    // An array or uint32array count of 2^32 with no data behind it fails fast.
    let huge = [0xff, 0, 0, 0, 0, 1, 0, 0, 0];
    assert!(matches!(
        Reader::new(&huge).uint32_array(),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    assert!(matches!(
        Reader::new(&huge).array::<Node>(Node::MIN_ENCODED_LEN),
        Err(DecodeError::ArrayTooLarge(0x1_0000_0000))
    ));
    // A buffer length of 2^53-1 with 3 bytes behind it.
    let big = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00, 1, 2, 3,
    ];
    assert!(matches!(
        Reader::new(&big).buffer(),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    // A data message claiming 2^20 upgrade nodes in a few bytes.
    let data = [0x08, 0x01, 0x00, 0x00, 0x05, 0xfe, 0x00, 0x00, 0x10, 0x00];
    assert!(Message::decode(3, &mut Reader::new(&data)).is_err());
}

#[test]
fn batch_builder_flushes_once_a_batch_reaches_8_mib() {
    use ferrocore_wire::encoding::Raw;
    use ferrocore_wire::protomux::MAX_BATCH_BYTES;
    let big = vec![7u8; 5 * 1024 * 1024];
    let mut cork = BatchBuilder::new();
    assert!(cork.push(1, 3, &Raw(&big)).is_none());
    assert!(
        cork.push(2, 3, &Raw(&big)).is_none(),
        "5 MiB pending: below the limit"
    );
    assert!(cork.encoded_len() >= MAX_BATCH_BYTES);
    // The pending 10 MiB batch leaves first; the new entry starts the next batch.
    let first = cork.push(2, 4, &Raw(b"x")).expect("flushed batch");
    assert_eq!(cork.len(), 1);
    let Ok(Frame::Batch(b1)) = Frame::decode_exact(&first) else {
        panic!("batch")
    };
    let heads: Vec<(u64, u64)> = b1
        .entries
        .iter()
        .map(|e| (e.channel, e.message_type))
        .collect();
    assert_eq!(heads, [(1, 3), (2, 3)]);
    assert!(b1.entries.iter().all(|e| e.payload == big));
    // The next batch starts on the new entry's channel.
    assert_eq!(cork.finish().expect("second batch"), [0, 0, 2, 2, 4, b'x']);
    assert_eq!(
        BatchBuilder::new().finish(),
        None,
        "nothing corked, nothing sent"
    );
}
