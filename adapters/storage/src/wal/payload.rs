//! A write batch as a write-ahead log record's payload: the core, then each operation.

use bytes::Bytes;
use ferrocore::storage::{Op, StorageError, WriteBatch};
use ferrocore::Node;

use super::corrupt;
use crate::record::{u32_at, u64_at};

const PUT_HEADER: u8 = 0;
const PUT_NODE: u8 = 1;
const DELETE_NODES: u8 = 2;
const PUT_BLOCK: u8 = 3;
const DELETE_BLOCKS: u8 = 4;
const PUT_PAGE: u8 = 5;
const DELETE_PAGE: u8 = 6;

/// One core's write batch as a record payload: the core, then each operation.
pub(crate) fn encode(core: &[u8; 32], batch: &WriteBatch) -> Vec<u8> {
    let bytes: usize = batch
        .ops()
        .iter()
        .map(|op| match op {
            Op::PutHeader(b) | Op::PutBlock(_, b) | Op::PutBitfieldPage(_, b) => b.len() + 13,
            _ => 49,
        })
        .sum();
    let mut out = Vec::with_capacity(32 + bytes);
    out.extend_from_slice(core);
    let bytes_op = |out: &mut Vec<u8>, tag: u8, index: u64, b: &Bytes| {
        out.push(tag);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(b);
    };
    let range_op = |out: &mut Vec<u8>, tag: u8, a: u64, b: u64| {
        out.push(tag);
        out.extend_from_slice(&a.to_le_bytes());
        out.extend_from_slice(&b.to_le_bytes());
    };
    for op in batch.ops() {
        match op {
            Op::PutHeader(b) => bytes_op(&mut out, PUT_HEADER, 0, b),
            Op::PutNode(n) => {
                out.push(PUT_NODE);
                out.extend_from_slice(&n.index.to_le_bytes());
                out.extend_from_slice(&n.size.to_le_bytes());
                out.extend_from_slice(&n.hash);
            }
            Op::DeleteNodes(r) => range_op(&mut out, DELETE_NODES, r.start, r.end),
            Op::PutBlock(i, b) => bytes_op(&mut out, PUT_BLOCK, *i, b),
            Op::DeleteBlocks(r) => range_op(&mut out, DELETE_BLOCKS, r.start, r.end),
            Op::PutBitfieldPage(p, b) => bytes_op(&mut out, PUT_PAGE, *p, b),
            Op::DeleteBitfieldPage(p) => range_op(&mut out, DELETE_PAGE, *p, 0),
        }
    }
    out
}

/// The core and write batch of a record payload.
pub(crate) fn decode(payload: &[u8]) -> Result<([u8; 32], WriteBatch), StorageError> {
    let bad = || corrupt("malformed record payload".into());
    let mut r = Reader(payload);
    let core: [u8; 32] = r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    let mut batch = WriteBatch::new();
    while !r.0.is_empty() {
        let tag = r.take(1).ok_or_else(bad)?[0];
        let a = r.u64().ok_or_else(bad)?;
        let op = match tag {
            PUT_HEADER | PUT_BLOCK | PUT_PAGE => {
                let len = r.take(4).ok_or_else(bad)?;
                let len = u32_at(len, 0) as usize;
                let b = Bytes::copy_from_slice(r.take(len).ok_or_else(bad)?);
                match tag {
                    PUT_HEADER => Op::PutHeader(b),
                    PUT_BLOCK => Op::PutBlock(a, b),
                    _ => Op::PutBitfieldPage(a, b),
                }
            }
            PUT_NODE => {
                let size = r.u64().ok_or_else(bad)?;
                let hash: [u8; 32] = r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
                Op::PutNode(Node::new(a, size, hash))
            }
            DELETE_NODES | DELETE_BLOCKS | DELETE_PAGE => {
                let b = r.u64().ok_or_else(bad)?;
                match tag {
                    DELETE_NODES => Op::DeleteNodes(a..b),
                    DELETE_BLOCKS => Op::DeleteBlocks(a..b),
                    _ => Op::DeleteBitfieldPage(a),
                }
            }
            _ => return Err(bad()),
        };
        batch.push(op);
    }
    Ok((core, batch))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64_at(b, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_batch() -> WriteBatch {
        let mut b = WriteBatch::new();
        b.push(Op::PutHeader(Bytes::from_static(b"head")));
        b.push(Op::PutNode(Node::new(4, 9, [3; 32])));
        b.push(Op::DeleteNodes(2..7));
        b.push(Op::PutBlock(5, Bytes::from_static(b"block")));
        b.push(Op::DeleteBlocks(1..u64::MAX));
        b.push(Op::PutBitfieldPage(2, Bytes::from(vec![1; 4096])));
        b.push(Op::DeleteBitfieldPage(8));
        b
    }

    #[test]
    fn batches_round_trip_and_malformed_payloads_are_errors() {
        let b = sample_batch();
        let p = encode(&[9; 32], &b);
        let (core, back) = decode(&p).unwrap();
        assert_eq!(core, [9; 32]);
        assert_eq!(back.ops(), b.ops());
        for cut in 0..p.len() {
            if cut == 32 {
                continue; // a core with no operations is a valid (empty) batch
            }
            let ok = decode(&p[..cut]).is_ok_and(|(_, b)| b.ops().len() < 7);
            // Cutting at an operation boundary decodes the operations before it.
            let boundary = decode(&p[..cut]).is_ok();
            assert!(!boundary || ok, "cut at {cut}");
        }
        let mut bad = p.clone();
        bad[32] = 99;
        assert!(decode(&bad).is_err());
    }
}
