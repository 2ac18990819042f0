//! The connect queue (JS `shuffled-priority-queue`): highest priority first, a random pick
//! within a priority.

use alloc::vec::Vec;

use crate::peer::Priority;
use crate::rng::Rng;
use crate::types::PublicKey;

/// Peers waiting to be dialled, bucketed by priority.
#[derive(Debug, Default)]
pub(crate) struct ConnectQueue {
    buckets: [Vec<PublicKey>; 5],
}

impl ConnectQueue {
    pub(crate) fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    pub(crate) fn add(&mut self, key: PublicKey, priority: Priority) {
        let bucket = &mut self.buckets[priority as usize];
        if !bucket.contains(&key) {
            bucket.push(key);
        }
    }

    /// Takes a random peer of the highest non-empty priority.
    pub(crate) fn shift(&mut self, rng: &mut Rng) -> Option<PublicKey> {
        let bucket = self.buckets.iter_mut().rev().find(|b| !b.is_empty())?;
        let pick = rng.below(bucket.len());
        Some(bucket.swap_remove(pick))
    }

    pub(crate) fn clear(&mut self) {
        for b in &mut self.buckets {
            b.clear();
        }
    }
}
