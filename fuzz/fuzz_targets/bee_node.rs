//! Hyperbee on arbitrary input: the node, index, header and extension decoders never panic
//! and what they decode re-encodes to bytes that decode the same; then a bee made of
//! hostile blocks (cut from the input, or an honest bee's blocks with bytes flipped by it)
//! is read (gets, range walks both ways, history, a diff) and written to: typed errors at
//! worst, never a panic or a hang.
#![no_main]

use bytes::Bytes;
use ferrocore_hyperbee::sub::KeyRange;
use ferrocore_hyperbee::testing::{cut_blocks, MemBee};
use ferrocore_hyperbee::{BeeConfig, HistoryOptions, Op, RangeOptions};
use ferrocore_wire::bee::{Extension, Header, Node, YoloIndex};

fn decoders(data: &[u8]) {
    let b = Bytes::copy_from_slice(data);
    if let Ok(n) = Node::decode(&b) {
        assert_eq!(n.encode().len(), n.encoded_len());
        assert_eq!(Node::decode(&n.encode().into()).expect("node re-decodes"), n);
    }
    if let Ok(i) = YoloIndex::decode(data) {
        assert_eq!(i.encode().len(), i.encoded_len());
        assert_eq!(YoloIndex::decode(&i.encode()).expect("index re-decodes"), i);
    }
    if let Ok(h) = Header::decode(&b) {
        assert_eq!(Header::decode(&h.encode().into()).expect("header re-decodes"), h);
    }
    if let Ok(e) = Extension::decode(&b) {
        assert_eq!(e.encode().len(), e.encoded_len());
        assert_eq!(Extension::decode(&e.encode().into()).expect("extension re-decodes"), e);
    }
}

/// An honest bee from ops in the input, then bytes flipped at positions the input picks.
fn mangled(data: &[u8]) -> Vec<Bytes> {
    let (ops, flips) = data.split_at(data.len() / 2);
    let mut bee = MemBee::new();
    for c in ops.chunks(3) {
        let key = Bytes::copy_from_slice(&c[..c.len().min(2)]);
        let op = if c[0] % 4 == 0 { Op::del(key) } else { Op::put(key, Some(Bytes::from_static(b"v"))) };
        bee.batch(vec![op]).expect("an honest bee takes any op");
    }
    let mut blocks: Vec<Vec<u8>> = bee.blocks.iter().map(|b| b.to_vec()).collect();
    for f in flips.chunks(3) {
        if blocks.len() < 2 || f.len() < 3 {
            break;
        }
        let which = 1 + f[0] as usize % (blocks.len() - 1);
        let b = &mut blocks[which];
        if !b.is_empty() {
            let at = f[1] as usize % b.len();
            b[at] ^= f[2] | 1;
        }
    }
    blocks.into_iter().map(Bytes::from).collect()
}

fn exercise(blocks: Vec<Bytes>, key: &[u8]) {
    let config = BeeConfig { step_budget: 4096, ..BeeConfig::default() };
    let mut bee = MemBee::from_blocks(blocks, config);
    let len = bee.blocks.len() as u64;
    let _ = bee.get(key);
    let _ = bee.get_at(key, Some(len / 2));
    for reverse in [false, true] {
        let o = RangeOptions { gte: Some(Bytes::copy_from_slice(key)), reverse, limit: Some(16), ..RangeOptions::default() };
        let _ = bee.range(o, None);
    }
    let h = HistoryOptions { gte: Some(-8), limit: Some(8), ..HistoryOptions::default() };
    let _ = bee.history(h, None);
    let mut d = bee.bee.checkout(len / 2).diff(len, KeyRange::default()).with_limit(16);
    let _ = bee.collect(&mut d);
    let _ = bee.batch(vec![Op::put(Bytes::copy_from_slice(key), None), Op::del(Bytes::from_static(b"a"))]);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    decoders(data);
    let Some((&mode, rest)) = data.split_first() else { return };
    let key = &rest[..rest.len().min(2)];
    let blocks = if mode & 1 == 0 { cut_blocks(rest) } else { mangled(rest) };
    exercise(blocks, key);
});
