//! The `hyperbee` core extension (`lib/extension.js`), both sides, without I/O.
//!
//! * **Responder** ([`Responder`]): a peer asks `Get{version, key}` or `Iterator{…}`; we
//!   run the same lookup at `checkout(version)` over the blocks we hold (JS's
//!   `wait: false`: the first block we lack ends the walk, and is still named) and answer
//!   the seqs it touched as [`ExtensionCache`] replies of at most [`FLUSH_BATCH`] seqs,
//!   built as JS's `Batch` builds them ([`CacheBatch`]). A range walk stops once it touched
//!   [`MAX_ACTIVE_BATCH`] blocks. Requests at version 0 or above ours are ignored.
//! * **Requester**: [`get_request`] is what a `get` broadcasts the first time it waits for
//!   a block; [`iterator_request`] what a range broadcasts, paced by [`Requests`] (at most
//!   once per [`MAX_PASSIVE_BATCH`] blocks asked); [`blocks_to_download`] turns a `Cache`
//!   reply into the blocks to download.
//!
//! On a core's channel a message travels as hypercore's extensions encode what they send
//! (`c.buffer`: a length, then the protobuf bytes): [`encode_message`] and
//! [`decode_message`].
//!
//! The responder works on a private [`Bee`] (an empty cache), so every block the lookup
//! touches is asked for once, in the order the lookup first reaches it: the set a JS
//! responder with cold caches names (JS skips blocks whose keys its caches already hold).

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_wire::bee::{Extension, ExtensionCache, ExtensionGet, ExtensionIterator};
use ferrocore_wire::encoding::{Reader, Writer};

use crate::{Bee, BeeConfig, Get, Machine, Range, RangeOptions, Step};

/// The extension's name on a core's channel.
pub const NAME: &str = "hyperbee";
/// Seqs per `Cache` reply (JS's `FLUSH_BATCH`).
pub const FLUSH_BATCH: usize = 128;
/// Blocks a range asks between two iterator requests (JS's `MAX_PASSIVE_BATCH`).
pub const MAX_PASSIVE_BATCH: u64 = 2048;
/// Distinct blocks a range walk of the responder touches at most (JS's
/// `MAX_ACTIVE_BATCH`).
pub const MAX_ACTIVE_BATCH: usize = 2048 + 128;
/// Most entries a responder's range walk yields (a hostile tree can yield entries without
/// touching new blocks; an honest one touches one block per entry).
pub const MAX_ENTRIES: usize = 4 * MAX_ACTIVE_BATCH;
/// Most keys an iterator request's checkpoint names (deeper than any honest tree).
pub const MAX_CHECKPOINT: usize = 3 * crate::MAX_DEPTH;

/// A message's bytes on the wire: the extension's encoding in hypercore (`c.buffer`: the
/// protobuf's length, then its bytes).
#[must_use]
pub fn encode_message(message: &Extension) -> Vec<u8> {
    let pb = message.encode();
    let mut out = Vec::with_capacity(pb.len() + 10);
    Writer::append(&mut out).buffer(&pb);
    out
}

/// A message from the wire; `None` for bytes JS would drop too (a bad length, an empty
/// buffer, a protobuf that does not decode).
#[must_use]
pub fn decode_message(bytes: &Bytes) -> Option<Extension> {
    let pb = Reader::from_bytes(bytes).buffer_bytes().ok()?;
    if pb.is_empty() {
        return None;
    }
    Extension::decode(&pb).ok()
}

/// JS's `Batch` of the extension: seqs gathered into `Cache` replies, one every
/// [`FLUSH_BATCH`] seqs and one for the rest; `start` is the smallest seq of a reply and
/// `end` one past the largest.
#[derive(Debug, Default, Clone)]
pub struct CacheBatch {
    blocks: Vec<u64>,
    start: u64,
    end: u64,
    ready: Vec<ExtensionCache>,
}

impl CacheBatch {
    /// Adds `seq` (JS's `push`), flushing a full reply.
    pub fn push(&mut self, seq: u64) {
        self.blocks.push(seq);
        let first = self.blocks.len() == 1;
        if first || seq < self.start {
            self.start = seq;
        }
        if first || seq >= self.end {
            self.end = seq.saturating_add(1);
        }
        if self.blocks.len() >= FLUSH_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.blocks.is_empty() {
            self.ready.push(ExtensionCache {
                start: self.start,
                end: self.end,
                blocks: core::mem::take(&mut self.blocks),
            });
        }
        self.start = 0;
        self.end = 0;
    }

    /// Every reply, the partial last one included (JS's final `send`).
    #[must_use]
    pub fn finish(mut self) -> Vec<ExtensionCache> {
        self.flush();
        self.ready
    }
}

/// What a [`Responder`] wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respond {
    /// Hand over block `seq` if it is stored locally ([`Responder::handle_block`]), then
    /// poll again.
    NeedBlock(u64),
    /// The replies to send to the requester (possibly none).
    Done(Vec<ExtensionCache>),
}

#[derive(Debug)]
enum Walk {
    Get(Get),
    Range { range: Range, opened: bool },
}

/// Answers one request of a peer (see the [module docs](self)).
#[derive(Debug)]
pub struct Responder {
    walk: Walk,
    bee: Bee,
    batch: CacheBatch,
    seen: BTreeSet<u64>,
    /// Seqs to leave out first (JS's `skip` of an iterator request with a checkpoint).
    skip: usize,
    entries: usize,
    asked: Option<u64>,
    done: bool,
}

impl Responder {
    fn new(walk: Walk, skip: usize, length: u64) -> Self {
        let config = BeeConfig {
            cache_blocks: 2 * MAX_ACTIVE_BATCH,
            step_budget: 4 * MAX_ACTIVE_BATCH,
            ..BeeConfig::default()
        };
        Responder {
            walk,
            bee: Bee::new(length, config),
            batch: CacheBatch::default(),
            seen: BTreeSet::new(),
            skip,
            entries: 0,
            asked: None,
            done: false,
        }
    }

    /// True if a request at `version` is answered by a bee of `length` blocks (JS ignores
    /// version 0 and versions above its own, `max(1, length)`).
    #[must_use]
    pub fn answers(version: Option<u64>, length: u64) -> bool {
        version.is_some_and(|v| v != 0 && v <= length.max(1))
    }

    /// The responder to a `get` request, `None` if it is ignored.
    #[must_use]
    pub fn get(request: &ExtensionGet, length: u64) -> Option<Self> {
        if !Self::answers(request.version, length) {
            return None;
        }
        let version = request.version?;
        let key = request.key.clone().unwrap_or_default();
        Some(Self::new(Walk::Get(Get::new(version, key)), 0, length))
    }

    /// The responder to an `iterator` request, `None` if it is ignored (or its checkpoint
    /// is longer than [`MAX_CHECKPOINT`] or not triples).
    #[must_use]
    pub fn iterator(request: &ExtensionIterator, length: u64) -> Option<Self> {
        if !Self::answers(request.version, length) {
            return None;
        }
        let cp = &request.checkpoint;
        if cp.len() > MAX_CHECKPOINT || cp.len() % 3 != 0 {
            return None;
        }
        let options = RangeOptions {
            gt: request.gt.clone(),
            gte: request.gte.clone(),
            lt: request.lt.clone(),
            lte: request.lte.clone(),
            reverse: request.reverse.unwrap_or(false),
            limit: request.limit.filter(|&l| l != 0),
            checkpoint: cp.clone(),
        };
        let range = Range::new(request.version?, options);
        let walk = Walk::Range {
            range,
            opened: false,
        };
        Some(Self::new(walk, cp.len(), length))
    }

    /// The responders to a message (a get, an iterator, both or none, as JS).
    #[must_use]
    pub fn for_message(message: &Extension, length: u64) -> Vec<Self> {
        let get = message.get.as_ref().and_then(|g| Self::get(g, length));
        let ite = message
            .iterator
            .as_ref()
            .and_then(|i| Self::iterator(i, length));
        get.into_iter().chain(ite).collect()
    }

    fn touch(&mut self, seq: u64) {
        let range = matches!(self.walk, Walk::Range { .. });
        if range && self.skip > 0 {
            self.skip -= 1;
            return;
        }
        if self.seen.insert(seq) {
            self.batch.push(seq);
        }
    }

    fn finish(&mut self) -> Respond {
        self.done = true;
        Respond::Done(core::mem::take(&mut self.batch).finish())
    }

    /// Runs the lookup until it needs a block or is done.
    pub fn poll(&mut self) -> Respond {
        if self.done || self.asked.is_some() {
            return self.finish();
        }
        loop {
            let step = match &mut self.walk {
                Walk::Get(g) => g.poll(&mut self.bee).map(|s| map_step(s, |_| false)),
                Walk::Range { range, opened } if !*opened => {
                    let s = range.opening().poll(&mut self.bee);
                    s.map(|s| map_step(s, |()| true))
                }
                Walk::Range { range, .. } => {
                    let s = range.poll(&mut self.bee);
                    s.map(|s| map_step(s, |e| e.is_some()))
                }
            };
            match step {
                Ok(Step::NeedBlock(seq)) => {
                    self.touch(seq);
                    self.asked = Some(seq);
                    return Respond::NeedBlock(seq);
                }
                Ok(Step::Done(true)) => {
                    if let Walk::Range { opened, .. } = &mut self.walk {
                        if !*opened {
                            *opened = true;
                            continue;
                        }
                    }
                    self.entries += 1;
                    if self.seen.len() >= MAX_ACTIVE_BATCH || self.entries >= MAX_ENTRIES {
                        return self.finish();
                    }
                }
                // The end, a damaged tree (JS: the walk throws), or an append (none).
                Ok(Step::Done(false) | Step::Append(_)) | Err(_) => return self.finish(),
            }
        }
    }

    /// Hands over the block the last [`Respond::NeedBlock`] asked for: `None` if it is not
    /// stored locally, which ends the walk (JS's `wait: false`).
    pub fn handle_block(&mut self, seq: u64, block: Option<&Bytes>) {
        if self.asked != Some(seq) {
            self.done = true;
            return;
        }
        self.asked = None;
        let Some(bytes) = block else {
            self.done = true;
            return;
        };
        let fed = match &mut self.walk {
            Walk::Get(g) => g.handle_block(seq, bytes),
            Walk::Range { range, .. } => range.handle_block(seq, bytes),
        };
        if fed.is_err() {
            self.done = true;
        }
    }

    /// Runs the lookup to its end with `local` answering blocks (`None`: not held).
    pub fn run(mut self, mut local: impl FnMut(u64) -> Option<Bytes>) -> Vec<ExtensionCache> {
        loop {
            match self.poll() {
                Respond::NeedBlock(seq) => {
                    let b = local(seq);
                    self.handle_block(seq, b.as_ref());
                }
                Respond::Done(replies) => return replies,
            }
        }
    }
}

/// A machine's step with its output reduced to "go on".
fn map_step<T>(s: Step<T>, go_on: impl FnOnce(T) -> bool) -> Step<bool> {
    match s {
        Step::NeedBlock(seq) => Step::NeedBlock(seq),
        Step::Append(b) => Step::Append(b),
        Step::Done(t) => Step::Done(go_on(t)),
    }
}

/// The message a `get` at `version` broadcasts the first time it waits for a block (JS:
/// `Get{version: rootSeq + 1, key}`, the root being block `version - 1`).
#[must_use]
pub fn get_request(version: u64, key: &Bytes) -> Extension {
    Extension {
        get: Some(ExtensionGet {
            version: Some(version),
            key: Some(key.clone()),
        }),
        ..Extension::default()
    }
}

/// The message a range broadcasts when it waits for a block: its snapshot, unless it
/// ended or has no entries left to yield.
#[must_use]
pub fn iterator_request(range: &Range) -> Option<Extension> {
    let iterator = range.snapshot().to_request()?;
    Some(Extension {
        iterator: Some(iterator),
        ..Extension::default()
    })
}

/// JS's pacing of a reader's requests: the first wait sends, then `every` blocks asked
/// must pass before a wait sends again (a range: [`MAX_PASSIVE_BATCH`]; a get sends once:
/// `u64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requests {
    next: u64,
    every: u64,
}

impl Requests {
    /// Pacing that sends again after `every` blocks.
    #[must_use]
    pub fn new(every: u64) -> Self {
        Requests { next: 0, every }
    }

    /// The reader asked for a block (local or not).
    pub fn on_block(&mut self) {
        self.next = self.next.saturating_sub(1);
    }

    /// The reader waits for a remote block: true if it should send its request now.
    pub fn on_wait(&mut self) -> bool {
        if self.next != 0 {
            return false;
        }
        self.next = self.every;
        true
    }
}

/// The blocks a `Cache` reply asks a bee of `length` blocks to download: those below
/// `length` and not yet `held`, each once, at most `max` of them (JS downloads the list as
/// it is; an empty list is ignored).
#[must_use]
pub fn blocks_to_download(
    cache: &ExtensionCache,
    length: u64,
    max: usize,
    mut held: impl FnMut(u64) -> bool,
) -> Vec<u64> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for &seq in &cache.blocks {
        if out.len() >= max {
            break;
        }
        if seq < length && seen.insert(seq) && !held(seq) {
            out.push(seq);
        }
    }
    out
}

#[cfg(test)]
mod tests;
