//! One core on one peer connection: what the peer has and is asked for.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use ferrocore_wire::mux::ChannelId;
use ferrocore_wire::{Bitfield as BitfieldMessage, Range, Sync};

use super::CoreId;
use crate::bitfield::Bitfield;

/// What an outstanding request to the peer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Asked {
    /// A block (below our length).
    Block(u64),
    /// An upgrade from our length to the peer's, with the peer's newest block riding along
    /// when `block` is set (the live tail).
    Upgrade {
        /// The block asked together with the upgrade.
        block: Option<u64>,
    },
    /// A whole signed state on the peer's (other) fork.
    Reorg,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Inflight {
    pub asked: Asked,
    /// Armed (now + timeout) at the first time observation after sending: requests made
    /// from application commands do not know the time.
    pub deadline: Option<Duration>,
    /// The peer's fork and length when asked (a refusal is about that state only).
    pub fork: u64,
    pub length: u64,
}

/// The replication state of one core with one peer (JS: a `Peer` of the replicator).
#[derive(Debug)]
pub(crate) struct Replicator {
    pub core: CoreId,
    pub channel: ChannelId,
    /// The peer's open arrived and its capability verified.
    pub paired: bool,
    /// The peer's last `sync`.
    pub remote: Option<Sync>,
    /// Blocks the peer has contiguously from 0.
    pub remote_contiguous: u64,
    /// Other blocks the peer announced (bounded by `max_pages`).
    pub remote_bits: Bitfield,
    max_pages: usize,
    /// Blocks the peer answered `noData` for (bounded).
    refused: BTreeSet<u64>,
    max_refused: usize,
    /// The peer's length when it last refused an upgrade (not asked again until it changes).
    pub upgrade_refused_at: Option<(u64, u64)>,
    /// Our requests by id.
    pub inflight: BTreeMap<u64, Inflight>,
    free_ids: Vec<u64>,
    next_id: u64,
    /// The last `sync` we sent.
    pub sent: Option<Sync>,
    /// The contiguous length we last announced.
    pub sent_contiguous: u64,
    /// The fork of the last `sync` we sent: our announcements since are about that fork.
    pub announced_fork: Option<u64>,
    pub uploading: bool,
    pub downloading: bool,
    pub invalid_requests: u32,
    /// Name of the previous extension message received (an empty name repeats it).
    pub extension_name: Option<String>,
    /// 2^21-block segments we sent a `want` for.
    pub wanted_segments: BTreeSet<u64>,
}

/// Blocks per `want` segment (JS uses 2^21-aligned segments).
pub(crate) const SEGMENT: u64 = 1 << 21;

impl Replicator {
    pub fn new(
        core: CoreId,
        channel: ChannelId,
        uploading: bool,
        downloading: bool,
        max_pages: usize,
        max_refused: usize,
    ) -> Self {
        Self {
            core,
            channel,
            paired: false,
            remote: None,
            remote_contiguous: 0,
            remote_bits: Bitfield::new(),
            max_pages,
            refused: BTreeSet::new(),
            max_refused,
            upgrade_refused_at: None,
            inflight: BTreeMap::new(),
            free_ids: Vec::new(),
            next_id: 1,
            sent: None,
            sent_contiguous: 0,
            announced_fork: None,
            uploading,
            downloading,
            invalid_requests: 0,
            extension_name: None,
            wanted_segments: BTreeSet::new(),
        }
    }

    /// A request id: the last freed one, else a new one (never 0).
    pub fn allocate_id(&mut self) -> u64 {
        if let Some(id) = self.free_ids.pop() {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Ends request `id`, returning what it asked.
    pub fn finish(&mut self, id: u64) -> Option<Inflight> {
        let inflight = self.inflight.remove(&id)?;
        self.free_ids.push(id);
        Some(inflight)
    }

    /// Ends request `id` without reusing the id: a late answer to it must not be taken
    /// for a newer request's.
    pub fn abandon(&mut self, id: u64) -> Option<Inflight> {
        self.inflight.remove(&id)
    }

    /// Arms the deadline of every request sent since the last time observation.
    pub fn arm(&mut self, deadline: Duration) {
        for i in self.inflight.values_mut() {
            i.deadline.get_or_insert(deadline);
        }
    }

    /// True if the peer announced block `i` and did not refuse it.
    pub fn has(&self, i: u64) -> bool {
        (i < self.remote_contiguous || self.remote_bits.get(i)) && !self.refused.contains(&i)
    }

    /// The first block at or after `i` the peer announced (`u64::MAX` if none).
    pub fn next_available(&self, i: u64) -> u64 {
        if i < self.remote_contiguous {
            return i;
        }
        self.remote_bits.first_set(i).unwrap_or(u64::MAX)
    }

    /// Remembers that the peer does not have block `i`.
    pub fn refuse(&mut self, i: u64) {
        if self.refused.len() >= self.max_refused {
            if let Some(&first) = self.refused.iter().next() {
                self.refused.remove(&first);
            }
        }
        self.refused.insert(i);
    }

    /// Records the peer's `sync`. When it names another fork than the peer's previous one,
    /// everything the peer announced or refused was about the old fork and is forgotten
    /// (the peer re-announces what it has; `want`s are sent again). Returns true then.
    pub fn on_sync(&mut self, sync: Sync) -> bool {
        let forked = self.remote.is_some_and(|old| old.fork != sync.fork);
        if forked {
            self.remote_contiguous = 0;
            self.remote_bits = Bitfield::new();
            self.refused.clear();
            self.wanted_segments.clear();
            self.upgrade_refused_at = None;
        }
        self.remote = Some(sync);
        forked
    }

    /// Applies a `range` announcement.
    pub fn on_range(&mut self, r: &Range) {
        let end = r.start.saturating_add(r.length);
        if r.drop {
            if r.start < self.remote_contiguous {
                let old = self.remote_contiguous;
                self.remote_contiguous = r.start;
                // Blocks after the dropped range stay known when they fit the page budget.
                if end < old && self.fits(end, old) {
                    self.remote_bits.set_range(end, old, true);
                }
            }
            self.remote_bits.set_range(r.start, end, false);
            return;
        }
        let announced: Vec<u64> = self.refused.range(r.start..end).copied().collect();
        for i in announced {
            self.refused.remove(&i);
        }
        if r.start <= self.remote_contiguous {
            if end > self.remote_contiguous {
                self.remote_contiguous = end;
                // Absorb announced blocks that now continue the prefix.
                if let Some(next) = self.remote_bits.first_unset(end) {
                    if self.remote_bits.get(end) {
                        self.remote_contiguous = next;
                    }
                }
                self.remote_bits.set_range(0, self.remote_contiguous, false);
            }
        } else if self.fits(r.start, end) {
            self.remote_bits.set_range(r.start, end, true);
        }
    }

    /// Applies a `bitfield` message (ignored when it would exceed the page budget).
    pub fn on_bitfield(&mut self, b: &BitfieldMessage) {
        let bits = (b.bitfield.len() as u64).saturating_mul(32);
        if !self.fits(b.start, b.start.saturating_add(bits)) {
            return;
        }
        if self.remote_bits.apply_message(b).is_ok() {
            let c = self.remote_contiguous;
            if c >= b.start && self.remote_bits.get(c) {
                self.remote_contiguous = self.remote_bits.first_unset(c).unwrap_or(u64::MAX);
                self.remote_bits.set_range(0, self.remote_contiguous, false);
            }
        }
    }

    /// True if setting `start..end` keeps the bitfield within its page budget (runs of
    /// whole pages are cheap: only the partial edges can add pages).
    fn fits(&self, start: u64, end: u64) -> bool {
        use crate::bitfield::BITS_PER_PAGE;
        let pages = if end.saturating_sub(start) >= 2 * BITS_PER_PAGE {
            2
        } else {
            end.saturating_sub(start) / BITS_PER_PAGE + 2
        };
        let runs = self.remote_bits.full_page_runs().count() as u64;
        self.remote_bits.allocated_pages() as u64 + runs + pages <= self.max_pages as u64
    }

    /// The earliest request deadline.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.inflight.values().filter_map(|i| i.deadline).min()
    }
}
