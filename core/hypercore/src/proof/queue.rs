//! The verifier's node queue: hands out proof nodes in the exact order it expects them.

use crate::{Node, ProofError};

/// `Q(list, extra)`: nodes are taken in list order and must have the expected index,
/// except that `extra` (a subtree root computed from another section) is handed out
/// instead whenever its index is the expected one.
pub(crate) struct Queue<'a> {
    list: &'a [Node],
    next: usize,
    extra: Option<Node>,
}

impl<'a> Queue<'a> {
    pub(crate) fn new(list: &'a [Node], extra: Option<Node>) -> Self {
        Self {
            list,
            next: 0,
            extra,
        }
    }

    /// Unused nodes, counting an unconsumed `extra`.
    pub(crate) fn remaining(&self) -> usize {
        self.list.len().saturating_sub(self.next) + usize::from(self.extra.is_some())
    }

    /// True once `extra` was handed out (or if there was none).
    pub(crate) fn extra_consumed(&self) -> bool {
        self.extra.is_none()
    }

    /// The next node, which must have index `expected`.
    pub(crate) fn shift(&mut self, expected: u64) -> Result<Node, ProofError> {
        if let Some(extra) = self.extra.filter(|e| e.index == expected) {
            self.extra = None;
            return Ok(extra);
        }
        match self.list.get(self.next) {
            Some(n) if n.index == expected => {
                self.next += 1;
                Ok(*n)
            }
            other => Err(ProofError::UnexpectedNode {
                expected,
                got: other.map(|n| n.index),
            }),
        }
    }

    /// The index of the next list node, if any (for error reports).
    pub(crate) fn peek(&self) -> Option<u64> {
        self.list.get(self.next).map(|n| n.index)
    }
}
