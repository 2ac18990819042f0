//! Sender side: build the proof that answers a request (spec §7.2).

use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::{DataBlock, DataHash, DataSeek, DataUpgrade, Request};

use super::error::{GenerateError, InvalidRequest};
use super::prologue_upgrade;
use super::source::NodeSource;
use super::tree::{checked_parent, double, MAX_NUMBER};
use crate::flat_tree::{contains, depth, full_roots, parent, right_span, sibling};
use crate::manifest::is_compat;
use crate::{Manifest, Node, Proof};

/// The sender's signed state: what it proves from.
#[derive(Debug, Clone)]
pub struct SenderState<'a> {
    /// The core key (decides whether the core is compat, see `manifest`).
    pub key: &'a [u8; 32],
    /// The core's manifest. It is put in the proof only if the request asks for it and
    /// the core is not compat with it; its prologue rewrites upgrade requests.
    pub manifest: Option<&'a Manifest>,
    /// The sender's fork id.
    pub fork: u64,
    /// The sender's signed length.
    pub length: u64,
    /// The signature over `(treeHash, length, fork)`, as stored and sent.
    pub signature: Option<Bytes>,
}

pub(super) type Result<T, S> = core::result::Result<T, GenerateError<<S as NodeSource>::Error>>;

/// The node a block or hash request is about.
#[derive(Debug, Clone, Copy)]
struct Target {
    /// Flat-tree index (`2 · block` for a block).
    index: u64,
    /// A block (the leaf is recomputed from the value, so it is not listed).
    is_block: bool,
    /// The last block under the node.
    last_block: u64,
    /// The requested number of uncle levels.
    nodes: u64,
}

impl Target {
    fn of(request: &Request) -> core::result::Result<Option<Self>, InvalidRequest> {
        let (index, is_block, r) = match (request.block, request.hash) {
            (Some(b), _) => (double(b.index), true, b),
            (None, Some(h)) => ((h.index <= MAX_NUMBER).then_some(h.index), false, h),
            (None, None) => return Ok(None),
        };
        let index = index.ok_or(InvalidRequest::NumberTooLarge)?;
        Ok(Some(Self {
            index,
            is_block,
            last_block: right_span(index) / 2,
            nodes: r.nodes,
        }))
    }
}

/// Collects the sections of a proof while it is being built.
pub(super) struct Builder<'s, S: ?Sized> {
    pub(super) source: &'s S,
    node: Option<Vec<Node>>,
    seek: Option<Vec<Node>>,
}

/// Builds the proof that answers `request` (spec §7.2), byte-exact with the reference.
///
/// `value` is the requested block's stored bytes (needed only for a block request). The
/// upgrade range is first rewritten by the manifest's prologue ([`prologue_upgrade`]); the
/// answer's `upgrade.start`/`length` echo the rewritten range. A sender with no blocks
/// answers with an empty proof. The manifest is included only if requested and the core
/// is not compat.
///
/// # Errors
/// [`GenerateError::Request`] for an invalid request (answer with `noData`),
/// [`GenerateError::MissingNode`] / [`GenerateError::MissingBlock`] when the sender lacks
/// data the proof needs, [`GenerateError::Source`] when the node source fails.
pub fn generate<S: NodeSource + ?Sized>(
    state: &SenderState<'_>,
    source: &S,
    request: &Request,
    value: Option<Bytes>,
) -> Result<Proof, S> {
    let prologue = state.manifest.and_then(|m| m.prologue);
    let upgrade = request
        .upgrade
        .map(|u| prologue_upgrade(u, prologue.as_ref()));
    let manifest = state
        .manifest
        .filter(|m| request.manifest && !is_compat(state.key, m))
        .cloned();
    let mut proof = Proof {
        fork: state.fork,
        manifest,
        ..Proof::default()
    };
    let head = double(state.length).ok_or(InvalidRequest::NumberTooLarge)?;
    if head == 0 {
        return Ok(proof);
    }
    let (from, to) = match upgrade {
        Some(u) => (
            double(u.start),
            u.start.checked_add(u.length).and_then(double),
        ),
        None => (Some(0), Some(head)),
    };
    let (from, to) = from.zip(to).ok_or(InvalidRequest::NumberTooLarge)?;
    if from >= to || to > head {
        return Err(InvalidRequest::InvalidUpgrade.into());
    }
    let target = Target::of(request)?;
    if let Some(t) = target {
        if request.seek.is_some() && upgrade.is_some() && t.index >= from {
            return Err(InvalidRequest::SeekWithUpgrade.into());
        }
        if right_span(t.index) >= head {
            return Err(InvalidRequest::OutOfRange.into());
        }
    }

    let mut b = Builder {
        source,
        node: None,
        seek: None,
    };
    let mut sub_tree = None;
    match (target, upgrade) {
        // Case A: the uncles climb `nodes` levels to a subtree root the receiver has.
        (Some(t), _) if upgrade.is_none_or(|u| t.last_block < u.start) => {
            let root = nodes_to_root(t.index, t.nodes, to)?;
            let seek_root = match request.seek {
                Some(s) => Some(b.seek_untrusted(state.length, root, s)?),
                None => None,
            };
            b.block_and_seek(Some(t), seek_root, root)?;
        }
        // Case B: the block/hash/seek path replaces a node of the upgrade.
        (_, Some(_)) => {
            sub_tree = match request.seek {
                Some(s) => b.seek_from_head(to, s)?,
                None => target.map(|t| t.index),
            };
        }
        _ => {}
    }

    if let Some(u) = upgrade {
        let seek_root = request.seek.and(sub_tree);
        let nodes = b.upgrade_nodes(from, to, |b, candidate| {
            let replace = b.node.is_none()
                && b.seek.is_none()
                && sub_tree.is_some_and(|s| contains(candidate, s));
            if replace {
                b.block_and_seek(target, seek_root, candidate)?;
            }
            Ok(replace)
        })?;
        let additional_nodes = if head > to {
            b.upgrade_nodes(to, head, |_, _| Ok(false))?
        } else {
            Vec::new()
        };
        proof.upgrade = Some(DataUpgrade {
            start: u.start,
            length: u.length,
            nodes,
            additional_nodes,
            signature: state.signature.clone(),
        });
    }

    if let Some(blk) = request.block {
        let nodes = b.node.take().ok_or(InvalidRequest::Unreachable)?;
        let value = value.ok_or(GenerateError::MissingBlock(blk.index))?;
        proof.block = Some(DataBlock {
            index: blk.index,
            value,
            nodes,
        });
    } else if let Some(h) = request.hash {
        let nodes = b.node.take().ok_or(InvalidRequest::Unreachable)?;
        proof.hash = Some(DataHash {
            index: h.index,
            nodes,
        });
    }
    if let (Some(s), Some(nodes)) = (request.seek, b.seek) {
        proof.seek = Some(DataSeek {
            bytes: s.bytes,
            nodes,
        });
    }
    Ok(proof)
}

/// The ancestor `nodes` levels above `index`; it must not cover `to`.
fn nodes_to_root(index: u64, nodes: u64, to: u64) -> core::result::Result<u64, InvalidRequest> {
    let mut cur = index;
    for _ in 0..nodes {
        cur = checked_parent(cur).ok_or(InvalidRequest::NodesOutOfBounds)?;
        if contains(cur, to) {
            return Err(InvalidRequest::NodesOutOfBounds);
        }
    }
    Ok(cur)
}

impl<S: NodeSource + ?Sized> Builder<'_, S> {
    /// A node the proof must contain.
    pub(super) fn fetch(&self, index: u64) -> Result<Node, S> {
        self.source
            .node(index)
            .map_err(GenerateError::Source)?
            .ok_or(GenerateError::MissingNode(index))
    }

    /// The block/hash section from `target` up to (not including) `root`; the sibling
    /// that contains `seek_root` is replaced by the seek section. Without a target, only
    /// the seek section up to `root`.
    fn block_and_seek(
        &mut self,
        target: Option<Target>,
        seek_root: Option<u64>,
        root: u64,
    ) -> Result<(), S> {
        let Some(t) = target else {
            let k = seek_root.ok_or(InvalidRequest::Unreachable)?;
            return self.seek_path(k, root);
        };
        let mut list = Vec::new();
        if !t.is_block {
            list.push(self.fetch(t.index)?);
        }
        let mut cur = t.index;
        while cur != root {
            if depth(cur) >= depth(root) {
                return Err(InvalidRequest::Unreachable.into());
            }
            let sib = sibling(cur);
            match seek_root {
                Some(k) if contains(sib, k) && sib != k => self.seek_path(k, sib)?,
                _ => list.push(self.fetch(sib)?),
            }
            cur = parent(cur);
        }
        self.node = Some(list);
        Ok(())
    }

    /// The seek section: node `k`, then its uncles up to (not including) `root`.
    fn seek_path(&mut self, k: u64, root: u64) -> Result<(), S> {
        let mut list = Vec::from([self.fetch(k)?]);
        let mut cur = k;
        while cur != root {
            if depth(cur) >= depth(root) {
                return Err(InvalidRequest::Unreachable.into());
            }
            list.push(self.fetch(sibling(cur))?);
            cur = parent(cur);
        }
        self.seek = Some(list);
        Ok(())
    }

    /// The nodes that take a receiver with the roots of `from / 2` blocks to the roots of
    /// `to / 2` blocks: the right-hand siblings connecting its last leaf, then the roots.
    /// `substitute(self, node)` may produce a block/seek section in place of a node (and
    /// return true).
    fn upgrade_nodes<F>(&mut self, from: u64, to: u64, mut substitute: F) -> Result<Vec<Node>, S>
    where
        F: FnMut(&mut Self, u64) -> Result<bool, S>,
    {
        let mut out = (from == 0).then(Vec::new);
        for root in full_roots(to / 2) {
            if right_span(root) + 1 < from {
                continue; // the receiver has it
            }
            let last_leaf = from.wrapping_sub(2);
            if out.is_none() && contains(root, last_leaf) {
                let mut list = Vec::new();
                let mut cur = last_leaf;
                while cur != root {
                    let sib = sibling(cur);
                    if sib > last_leaf && !substitute(self, sib)? {
                        list.push(self.fetch(sib)?);
                    }
                    cur = parent(cur);
                }
                out = Some(list);
                continue;
            }
            let include = !substitute(self, root)?;
            let list = out.get_or_insert_with(Vec::new);
            if include {
                list.push(self.fetch(root)?);
            }
        }
        Ok(out.unwrap_or_default())
    }
}
