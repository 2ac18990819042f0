//! A write batch as a write-ahead log record's payload: the core, then each operation; a
//! change to the store's catalog is a record of catalog operations (under an all-zero core,
//! which they ignore).

use bytes::Bytes;
use ferrocore::storage::{Op, StorageError, WriteBatch};
use ferrocore::Node;

use super::corrupt;
use crate::catalog::CatalogOp;
use crate::record::{u32_at, u64_at};

const PUT_HEADER: u8 = 0;
const PUT_NODE: u8 = 1;
const DELETE_NODES: u8 = 2;
const PUT_BLOCK: u8 = 3;
const DELETE_BLOCKS: u8 = 4;
const PUT_PAGE: u8 = 5;
const DELETE_PAGE: u8 = 6;
/// A catalog operation: its kind ([`INSERT`], [`PUT`], [`DELETE`]), key and value (each a
/// u32 length, then the bytes).
const CATALOG: u8 = 7;
const INSERT: u8 = 0;
const PUT: u8 = 1;
const DELETE: u8 = 2;

/// Catalog operations as a record payload.
pub(crate) fn encode_catalog(ops: &[CatalogOp]) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    let field = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&u32::try_from(b.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(b);
    };
    for op in ops {
        let (kind, key, value) = match op {
            CatalogOp::Insert { key, value } => (INSERT, key, &value[..]),
            CatalogOp::Put { key, value } => (PUT, key, &value[..]),
            CatalogOp::Delete { key } => (DELETE, key, &[][..]),
        };
        out.push(CATALOG);
        out.push(kind);
        field(&mut out, key);
        field(&mut out, value);
    }
    out
}

/// A decoded record payload: a core's write batch, and catalog operations (a record holds
/// one or the other).
pub(crate) type Decoded = ([u8; 32], WriteBatch, Vec<CatalogOp>);

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

/// The core and write batch, and the catalog operations, of a record payload.
pub(crate) fn decode(payload: &[u8]) -> Result<Decoded, StorageError> {
    let bad = || corrupt("malformed record payload".into());
    let mut r = Reader(payload);
    let core: [u8; 32] = r.take(32).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    let mut batch = WriteBatch::new();
    let mut catalog = Vec::new();
    while !r.0.is_empty() {
        let tag = r.take(1).ok_or_else(bad)?[0];
        if tag == CATALOG {
            let kind = r.take(1).ok_or_else(bad)?[0];
            let key = r.field().ok_or_else(bad)?.to_vec();
            let value = r.field().ok_or_else(bad)?.to_vec();
            catalog.push(match kind {
                INSERT => CatalogOp::Insert { key, value },
                PUT => CatalogOp::Put { key, value },
                DELETE if value.is_empty() => CatalogOp::Delete { key },
                _ => return Err(bad()),
            });
            continue;
        }
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
    Ok((core, batch, catalog))
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

    /// A u32 length, then as many bytes.
    fn field(&mut self) -> Option<&'a [u8]> {
        let len = u32_at(self.take(4)?, 0) as usize;
        self.take(len)
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
        let (core, back, catalog) = decode(&p).unwrap();
        assert_eq!(core, [9; 32]);
        assert_eq!(back.ops(), b.ops());
        assert!(catalog.is_empty());
        for cut in 0..p.len() {
            if cut == 32 {
                continue; // a core with no operations is a valid (empty) batch
            }
            let ok = decode(&p[..cut]).is_ok_and(|(_, b, _)| b.ops().len() < 7);
            // Cutting at an operation boundary decodes the operations before it.
            let boundary = decode(&p[..cut]).is_ok();
            assert!(!boundary || ok, "cut at {cut}");
        }
        let mut bad = p.clone();
        bad[32] = 99;
        assert!(decode(&bad).is_err());
    }

    #[test]
    fn catalog_operations_round_trip_and_cut_ones_are_errors() {
        let ops = vec![
            CatalogOp::Insert {
                key: vec![1; 40],
                value: vec![2; 32],
            },
            CatalogOp::Put {
                key: vec![3],
                value: Vec::new(),
            },
            CatalogOp::Delete { key: vec![4, 5] },
        ];
        let p = encode_catalog(&ops);
        let (_, batch, back) = decode(&p).unwrap();
        assert!(batch.is_empty());
        assert_eq!(back, ops);
        let ends: Vec<usize> = (1..=ops.len())
            .map(|n| encode_catalog(&ops[..n]).len())
            .collect();
        for cut in 33..p.len() {
            assert_eq!(
                decode(&p[..cut]).is_ok(),
                ends.contains(&cut),
                "cut at {cut}"
            );
        }
        let mut bad = p.clone();
        bad[34] = 9;
        assert!(decode(&bad).is_err(), "unknown catalog operation");
    }
}
