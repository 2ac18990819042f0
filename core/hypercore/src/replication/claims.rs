//! [`Claims`]: which blocks of a core are requested, and from which session.

use alloc::collections::BTreeMap;

use super::SessionId;

/// Blocks per bitmap word.
const WORD: u64 = 64;

/// The blocks of one core that are requested from some peer, each with the session asked.
///
/// Besides the owner of each block it keeps a sparse bitmap of the claimed indexes, so the
/// end of a run of claimed blocks (a pipelined download's whole window) is found a word at a
/// time rather than one ordered-map entry at a time.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    owners: BTreeMap<u64, SessionId>,
    /// Word `i / 64` has bit `i % 64` set for every claimed block `i`; no word is zero.
    words: BTreeMap<u64, u64>,
}

impl Claims {
    /// The session block `index` is requested from.
    pub(crate) fn owner(&self, index: u64) -> Option<SessionId> {
        self.owners.get(&index).copied()
    }

    /// Whether block `index` is requested.
    pub(crate) fn contains(&self, index: u64) -> bool {
        self.words
            .get(&(index / WORD))
            .is_some_and(|w| w & (1 << (index % WORD)) != 0)
    }

    /// Records that block `index` is requested from `session` (replacing any owner).
    pub(crate) fn insert(&mut self, index: u64, session: SessionId) {
        self.owners.insert(index, session);
        *self.words.entry(index / WORD).or_insert(0) |= 1 << (index % WORD);
    }

    /// Forgets the request for block `index`.
    pub(crate) fn remove(&mut self, index: u64) {
        if self.owners.remove(&index).is_none() {
            return;
        }
        let key = index / WORD;
        if let Some(w) = self.words.get_mut(&key) {
            *w &= !(1 << (index % WORD));
            if *w == 0 {
                self.words.remove(&key);
            }
        }
    }

    /// The first block at or past `index` that is not requested.
    pub(crate) fn run_end(&self, index: u64) -> u64 {
        let mut key = index / WORD;
        let mut shift = index % WORD;
        loop {
            let Some(&w) = self.words.get(&key) else {
                return key * WORD + shift;
            };
            let ones = (w >> shift).trailing_ones() as u64;
            if shift + ones < WORD {
                return key * WORD + shift + ones;
            }
            if key == u64::MAX / WORD {
                // Claimed through `u64::MAX`: nothing past it to point at.
                return u64::MAX;
            }
            key += 1;
            shift = 0;
        }
    }

    /// How many blocks are requested.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.owners.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use proptest::prelude::*;

    proptest! {
        /// Against a plain ordered set: membership, owners and run ends agree after any
        /// sequence of claims and releases, including around word edges and `u64::MAX`.
        #[test]
        fn claims_match_a_set(ops in proptest::collection::vec(
            (any::<bool>(), prop_oneof![0u64..300, (u64::MAX - 130)..=u64::MAX], 0u64..3),
            0..200,
        )) {
            let mut claims = Claims::default();
            let mut model: BTreeMap<u64, SessionId> = BTreeMap::new();
            for (add, index, sid) in ops {
                if add {
                    claims.insert(index, SessionId(sid));
                    model.insert(index, SessionId(sid));
                } else {
                    claims.remove(index);
                    model.remove(&index);
                }
            }
            prop_assert_eq!(claims.len(), model.len());
            let set: BTreeSet<u64> = model.keys().copied().collect();
            let probes = (0u64..300).chain((u64::MAX - 130)..=u64::MAX);
            for i in probes {
                prop_assert_eq!(claims.contains(i), set.contains(&i));
                prop_assert_eq!(claims.owner(i), model.get(&i).copied());
                let mut end = i;
                while end < u64::MAX && set.contains(&end) {
                    end += 1;
                }
                if end == u64::MAX && set.contains(&end) {
                    prop_assert_eq!(claims.run_end(i), u64::MAX);
                } else {
                    prop_assert_eq!(claims.run_end(i), end);
                }
            }
            prop_assert!(claims.words.values().all(|&w| w != 0));
        }
    }
}
