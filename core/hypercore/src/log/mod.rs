//! The log: a Hypercore core's local API (the local half of JS `Hypercore`), sans-IO over
//! a [`Storage`].
//!
//! Hot state (key, manifest, fork, length, roots, signature, contiguous length, the local
//! bitfield) lives in memory; storage is read only for blocks and nodes. Every mutation is
//! **one** [`WriteBatch`] (header + nodes + blocks + bitfield
//! pages), and memory changes only after the write succeeded, so a failed or interrupted
//! write leaves the old state.
//!
//! ```
//! use ferrocore::keys::KeyPair;
//! use ferrocore::log::{Log, LogOptions};
//! use ferrocore::storage::MemoryStorage;
//!
//! let options = LogOptions { key_pair: Some(KeyPair::from_seed(&[1; 32])), ..LogOptions::default() };
//! let mut log = Log::open(MemoryStorage::new(), options).unwrap();
//! log.append(b"hello").unwrap();
//! log.append_batch([&b"big"[..], b"world"]).unwrap();
//! assert_eq!(log.length(), 3);
//! assert_eq!(log.byte_length(), 13);
//! assert_eq!(log.get(2).unwrap().as_deref(), Some(&b"world"[..]));
//! assert_eq!(log.seek(6).unwrap(), Some((1, 1)));
//! ```

mod append;
mod events;
mod header;
mod options;
mod read;
mod reorg;
mod replicate;
mod snapshot;
mod truncate;

use alloc::vec::Vec;
use bytes::Bytes;

pub use append::AppendOutcome;
pub use events::Event;
pub use header::Header;
pub use options::LogOptions;
pub use read::{ByteRangeReader, LiveRangeReader, LiveRead, RangeReader};
pub use reorg::Reorg;
pub use replicate::Applied;
pub use snapshot::Snapshot;
pub use truncate::ClearOutcome;

use crate::bitfield::{Bitfield, WORDS_PER_PAGE};
use crate::encryption::{BlockEncryption, KeyMode, PADDING};
use crate::flat_tree::full_roots;
use crate::keys::KeyPair;
use crate::manifest::{core_key, default_manifest, is_compat, is_valid_manifest};
use crate::storage::{
    Record, Storage, StorageError, StorageEstimate, WriteBatch, BITFIELD_PAGE_BYTES,
};
use crate::{hash, Error, Manifest, Node};
use events::Events;
use ferrocore_wire::encoding::Encode;
use snapshot::Truncations;

/// One core's log over storage `S`. `Debug` shows the state, never keys.
pub struct Log<S: Storage> {
    storage: S,
    key: [u8; 32],
    discovery_key: [u8; 32],
    key_pair: Option<KeyPair>,
    compat: bool,
    encryption: Option<BlockEncryption>,
    encryption_key: Option<[u8; 32]>,
    state: State,
    bitfield: Bitfield,
    events: Events,
    truncations: Truncations,
    /// The room of the last commit's [`Undo`], reused by the next.
    spare_undo: Undo,
    /// The manifest's signer keys, decoded once for the signatures of upgrades.
    signers: Vec<crate::keys::DecodedKey>,
}

impl<S: Storage> core::fmt::Debug for Log<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Log")
            .field("id", &self.id())
            .field("length", &self.state.length)
            .field("byte_length", &self.byte_length())
            .field("fork", &self.state.fork)
            .field("contiguous_length", &self.state.contiguous_length)
            .field("writable", &self.writable())
            .field("compat", &self.compat)
            .field("encrypted", &self.encryption.is_some())
            .finish_non_exhaustive()
    }
}

/// Lengths, fork and storage use of a log (see [`Log::info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Signed length.
    pub length: u64,
    /// Blocks present contiguously from 0.
    pub contiguous_length: u64,
    /// User-visible byte length (without padding).
    pub byte_length: u64,
    /// Fork id.
    pub fork: u64,
    /// Padding bytes per block (8 when encrypted, else 0).
    pub padding: u64,
    /// What the storage holds.
    pub storage: StorageEstimate,
}

impl<S: Storage> Log<S> {
    /// Opens the core held by `storage`, or creates one (see [`LogOptions`]).
    ///
    /// # Errors
    /// [`Error::Misuse`] for a new core with neither key pair, key nor manifest, a key that
    /// does not match the stored core or the manifest, or no core with
    /// `create_if_missing: false`; [`Error::Storage`] when storage fails or is corrupt.
    pub fn open(mut storage: S, options: LogOptions) -> Result<Log<S>, Error> {
        let stored = match storage.header()? {
            Some(b) if !b.is_empty() && !options.overwrite => Some(Header::decode_record(&b)?),
            None if !options.overwrite && storage.has_records()? => {
                // A damaged store must not read as a new, empty core.
                return Err(StorageError::corrupt(
                    Record::Header,
                    "header missing while the core has other records",
                )
                .into());
            }
            _ => None,
        };
        let header = match stored {
            Some(h) => {
                if options.key.is_some_and(|k| k != h.key) {
                    return Err(Error::Misuse("key does not match the stored core"));
                }
                h
            }
            None if !options.create_if_missing && !options.overwrite => {
                return Err(Error::Misuse("no core in storage"));
            }
            None => {
                let h = new_header(&options)?;
                let mut batch = WriteBatch::new();
                if options.overwrite {
                    wipe(&storage, &mut batch)?;
                }
                batch.put_header(Bytes::from(h.to_vec()));
                storage.write(batch)?;
                h
            }
        };
        Self::from_header(storage, header, options.encryption_key.as_ref())
    }

    fn from_header(
        storage: S,
        h: Header,
        encryption_key: Option<&[u8; 32]>,
    ) -> Result<Log<S>, Error> {
        let compat = match &h.manifest {
            Some(m) => h.compat || is_compat(&h.key, m),
            None => h.compat,
        };
        let mut roots = Vec::new();
        let mut tree_bytes = 0u64;
        for i in full_roots(h.length) {
            let node = storage
                .node(i)?
                .ok_or_else(|| StorageError::corrupt(Record::Node(i), "root node missing"))?;
            tree_bytes = tree_bytes
                .checked_add(node.size)
                .ok_or_else(|| StorageError::corrupt(Record::Node(i), "size overflow"))?;
            roots.push(node);
        }
        let mut bitfield = Bitfield::new();
        for (p, bytes) in storage.bitfield_pages()? {
            let words = page_words(&bytes)
                .ok_or_else(|| StorageError::corrupt(Record::BitfieldPage(p), "bad page size"))?;
            bitfield
                .insert_page(p, &words)
                .map_err(|_| StorageError::corrupt(Record::BitfieldPage(p), "page out of range"))?;
        }
        // Storage holds exact pages only from the contiguous length on (see `persist_pages`).
        bitfield.set_range(0, h.contiguous_length.min(h.length), true);
        let mode = if compat {
            KeyMode::Compat
        } else {
            KeyMode::Manifest
        };
        Ok(Log {
            signers: h
                .manifest
                .as_ref()
                .map(crate::signature::decode_signers)
                .unwrap_or_default(),
            storage,
            discovery_key: hash::discovery_key(&h.key),
            encryption: encryption_key.map(|k| BlockEncryption::new(k, &h.key, mode)),
            encryption_key: encryption_key.copied(),
            key: h.key,
            key_pair: h.key_pair,
            compat,
            state: State {
                manifest: h.manifest,
                fork: h.fork,
                length: h.length,
                tree_bytes,
                roots,
                signature: h.signature,
                contiguous_length: h.contiguous_length,
            },
            bitfield,
            events: Events::default(),
            truncations: Truncations::default(),
            spare_undo: Undo::default(),
        })
    }

    /// The core key.
    #[must_use]
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The writer's key pair, if writable.
    #[must_use]
    pub fn key_pair(&self) -> Option<&KeyPair> {
        self.key_pair.as_ref()
    }

    /// The discovery key (`hash::discovery_key(key)`).
    #[must_use]
    pub fn discovery_key(&self) -> &[u8; 32] {
        &self.discovery_key
    }

    /// The z-base-32 core id.
    #[must_use]
    pub fn id(&self) -> alloc::string::String {
        crate::id::core_id(&self.key)
    }

    /// The manifest, once known.
    #[must_use]
    pub fn manifest(&self) -> Option<&Manifest> {
        self.state.manifest.as_ref()
    }

    /// True in compat mode.
    #[must_use]
    pub fn compat(&self) -> bool {
        self.compat
    }

    /// Signed length.
    #[must_use]
    pub fn length(&self) -> u64 {
        self.state.length
    }

    /// Blocks present contiguously from 0.
    #[must_use]
    pub fn contiguous_length(&self) -> u64 {
        self.state.contiguous_length
    }

    /// User-visible byte length: the tree's byte length minus the padding of every block.
    #[must_use]
    pub fn byte_length(&self) -> u64 {
        self.state
            .tree_bytes
            .saturating_sub(self.padding().saturating_mul(self.state.length))
    }

    /// Fork id.
    #[must_use]
    pub fn fork(&self) -> u64 {
        self.state.fork
    }

    /// Padding bytes per stored block (8 with an encryption key, else 0).
    #[must_use]
    pub fn padding(&self) -> u64 {
        if self.encryption.is_some() {
            PADDING as u64
        } else {
            0
        }
    }

    /// The signature of the current state.
    #[must_use]
    pub fn signature(&self) -> Option<&Bytes> {
        self.state.signature.as_ref()
    }

    /// The current root nodes.
    #[must_use]
    pub fn roots(&self) -> &[Node] {
        &self.state.roots
    }

    /// True if this log can append (it has a key pair that signs for its manifest).
    #[must_use]
    pub fn writable(&self) -> bool {
        match (&self.key_pair, &self.state.manifest) {
            (Some(kp), Some(m)) => m.signers.iter().any(|s| s.public_key == kp.public_key),
            _ => false,
        }
    }

    /// True if blocks can be read (always: a log reads what it stores).
    #[must_use]
    pub fn readable(&self) -> bool {
        true
    }

    /// Lengths, fork, padding and what the storage holds.
    ///
    /// # Errors
    /// When the storage estimate fails.
    pub fn info(&self) -> Result<Info, Error> {
        Ok(Info {
            length: self.state.length,
            contiguous_length: self.state.contiguous_length,
            byte_length: self.byte_length(),
            fork: self.state.fork,
            padding: self.padding(),
            storage: self.storage.estimate()?,
        })
    }

    /// The next pending event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Closes the log, handing back its storage.
    #[must_use]
    pub fn close(self) -> S {
        self.storage
    }

    /// The storage (read-only access, e.g. for estimates).
    #[must_use]
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The header describing `state` with contiguous length `contiguous_length`.
    fn header(&self, state: &State, contiguous_length: u64) -> Bytes {
        let header = header::HeaderRef {
            key: &self.key,
            manifest: state.manifest.as_ref(),
            secret_key: self.key_pair.as_ref().map(|kp| &kp.secret_key),
            compat: self.compat,
            fork: state.fork,
            length: state.length,
            contiguous_length,
            signature: state.signature.as_deref(),
        };
        Bytes::from(header.to_vec())
    }

    fn state(&self) -> State {
        self.state.clone()
    }

    /// An empty [`Undo`] to stage a change in (the last commit's, its room kept).
    fn undo(&mut self) -> Undo {
        core::mem::take(&mut self.spare_undo)
    }

    /// Writes `batch` plus the header of `state`; on success adopts `state`. On failure
    /// the bitfield changes staged in `undo` are reverted and nothing else changes.
    fn commit(&mut self, batch: WriteBatch, state: State, undo: Undo) -> Result<(), Error> {
        let header = self.header(&state, state.contiguous_length);
        self.write(batch, header, state.contiguous_length, undo)?;
        if self.state.manifest.is_none() {
            if let Some(m) = &state.manifest {
                self.adopt_manifest_mode(m);
                self.signers = crate::signature::decode_signers(m);
            }
        }
        self.state = state;
        Ok(())
    }

    /// [`commit`](Self::commit) of a change to the contiguous length alone (a stored
    /// block): the signed state is neither copied nor replaced.
    fn commit_contiguous(
        &mut self,
        batch: WriteBatch,
        contiguous_length: u64,
        undo: Undo,
    ) -> Result<(), Error> {
        let header = self.header(&self.state, contiguous_length);
        self.write(batch, header, contiguous_length, undo)?;
        self.state.contiguous_length = contiguous_length;
        Ok(())
    }

    /// Writes `batch` with the bitfield pages `undo` changed and `header` (for contiguous
    /// length `contiguous_length`); on failure reverts the staged bitfield changes.
    fn write(
        &mut self,
        mut batch: WriteBatch,
        header: Bytes,
        contiguous_length: u64,
        mut undo: Undo,
    ) -> Result<(), Error> {
        persist_pages(
            &self.bitfield,
            &undo,
            self.state.contiguous_length,
            contiguous_length,
            &mut batch,
        );
        batch.put_header(header);
        let written = self.storage.write(batch);
        if written.is_err() {
            undo.revert(&mut self.bitfield);
        }
        undo.clear();
        self.spare_undo = undo;
        Ok(written?)
    }

    /// A learned manifest that is compat with the key switches the log to compat mode
    /// (and re-derives the block key, whose derivation depends on the mode).
    fn adopt_manifest_mode(&mut self, manifest: &Manifest) {
        if !self.compat && is_compat(&self.key, manifest) {
            self.compat = true;
            self.encryption = self
                .encryption_key
                .map(|k| BlockEncryption::new(&k, &self.key, KeyMode::Compat));
        }
    }

    /// Signs `(roots, length, fork)` with the log's key pair.
    fn sign(&self, roots: &[Node], length: u64, fork: u64) -> Result<Bytes, Error> {
        let (Some(kp), Some(m)) = (&self.key_pair, &self.state.manifest) else {
            return Err(Error::Misuse("log is not writable"));
        };
        let sig = crate::signature::Verifier::new(&self.key, m)
            .with_compat(self.compat)
            .sign(kp, &hash::tree_hash(roots), length, fork)?;
        Ok(Bytes::from(sig))
    }

    /// The contiguous length after bitfield changes (bits below `from` known set).
    fn contiguous_from(&self, from: u64, length: u64) -> u64 {
        self.bitfield
            .first_unset(from.min(length))
            .unwrap_or(u64::MAX)
            .min(length)
    }
}

/// The mutable part of the signed state, staged before a commit.
#[derive(Debug, Clone)]
struct State {
    manifest: Option<Manifest>,
    fork: u64,
    length: u64,
    /// Sum of the root sizes (stored bytes, including padding).
    tree_bytes: u64,
    roots: Vec<Node>,
    signature: Option<Bytes>,
    contiguous_length: u64,
}

/// The bitfield words a staged change covers, as they were before it: to restore if the
/// write fails, and to tell which pages changed. Only the covered words are kept (one for
/// a single block), not whole 4 KiB pages.
#[derive(Debug, Default)]
struct Undo {
    /// `(page, first word, word count)`, each span's words following the previous
    /// span's in `words`.
    spans: Vec<(u64, usize, usize)>,
    words: Vec<u32>,
}

impl Undo {
    /// Records words `first .. first + count` of page `p` as they are in `bitfield`.
    fn save(&mut self, bitfield: &Bitfield, p: u64, first: usize, count: usize) {
        let at = self.words.len();
        self.words.resize(at + count, 0);
        // The span lies in page `p` of the bitfield, so it is aligned and in range.
        let _ = bitfield.read_words(span_start(p, first), &mut self.words[at..]);
        self.spans.push((p, first, count));
    }

    /// Each span with its saved words.
    fn iter(&self) -> impl Iterator<Item = (u64, usize, &[u32])> {
        let mut at = 0;
        self.spans.iter().map(move |&(p, first, count)| {
            let words = &self.words[at..at + count];
            at += count;
            (p, first, words)
        })
    }

    /// Forgets every span, keeping the room of small ones for the next change.
    fn clear(&mut self) {
        /// Words an idle log keeps room for (a huge clear's are let go).
        const KEEP: usize = 64;
        if self.words.capacity() > KEEP || self.spans.capacity() > KEEP {
            *self = Undo::default();
        }
        self.spans.clear();
        self.words.clear();
    }

    fn revert(&self, bitfield: &mut Bitfield) {
        for (p, first, saved) in self.iter() {
            // Spans come from the bitfield itself, so they are aligned and in range.
            let _ = bitfield.write_words(span_start(p, first), saved);
        }
    }
}

/// The first bit of word `first` of bitfield page `p`.
fn span_start(p: u64, first: usize) -> u64 {
    use crate::bitfield::BITS_PER_PAGE;
    p * BITS_PER_PAGE + first as u64 * 32
}

/// Sets bits `start..end` of `bitfield` to `value` and records the previous content of the
/// words it changes in `undo` (which [`Log::commit`] also uses to know which pages to
/// write). Only pages that can change are visited (for a clear, the pages holding set
/// bits), so a huge sparse range costs what it holds.
fn stage_bits(bitfield: &mut Bitfield, start: u64, end: u64, value: bool, undo: &mut Undo) {
    use crate::bitfield::BITS_PER_PAGE;
    let mut pos = start;
    while pos < end {
        let next = if value {
            Some(pos)
        } else {
            bitfield.first_set(pos).filter(|&i| i < end)
        };
        let Some(i) = next else { break };
        let p = i / BITS_PER_PAGE;
        let base = p * BITS_PER_PAGE;
        let lo = base.max(start);
        let hi = (p + 1).saturating_mul(BITS_PER_PAGE).min(end);
        // Offsets in the page: below BITS_PER_PAGE, so they fit.
        let (first, last) = (((lo - base) / 32) as usize, ((hi - 1 - base) / 32) as usize);
        undo.save(bitfield, p, first, last - first + 1);
        bitfield.set_range(lo, hi, value);
        pos = (p + 1).saturating_mul(BITS_PER_PAGE);
        if pos == u64::MAX {
            break;
        }
    }
}

/// Adds to `batch` the pages of `bitfield` that storage must hold after a change from
/// contiguous length `old` to `new`: storage keeps exact pages only at and above the
/// contiguous length (the header vouches for every block below it, so appends by the
/// writer write no page). That is every changed page reaching `new` or beyond, and, when
/// the contiguous length shrank, every page of `new..old`, whose stored copies may be stale.
fn persist_pages(bitfield: &Bitfield, undo: &Undo, old: u64, new: u64, batch: &mut WriteBatch) {
    use crate::bitfield::BITS_PER_PAGE;
    let mut pages: Vec<u64> = undo
        .iter()
        .filter(|(p, first, before)| {
            let mut now = alloc::vec![0; before.len()];
            let _ = bitfield.read_words(span_start(*p, *first), &mut now);
            let from = new.saturating_sub(p * BITS_PER_PAGE);
            changed_from(before, &now, from.saturating_sub(*first as u64 * 32))
        })
        .map(|(p, _, _)| p)
        .collect();
    if new < old {
        pages.extend(new / BITS_PER_PAGE..=(old - 1) / BITS_PER_PAGE);
    }
    pages.sort_unstable();
    pages.dedup();
    for p in pages {
        match bitfield.page(p) {
            Some(words) => batch.put_bitfield_page(p, page_bytes(&words)),
            None => batch.delete_bitfield_page(p),
        };
    }
}

/// True if any bit at or after `from` (a bit offset in the words `a` and `b`, of equal
/// length) differs.
fn changed_from(a: &[u32], b: &[u32], from: u64) -> bool {
    let Ok(from) = usize::try_from(from) else {
        return false;
    };
    let (word, bit) = (from / 32, from % 32);
    if word >= a.len() {
        return false;
    }
    let first = (a[word] ^ b[word]) >> bit != 0;
    first || a[word + 1..] != b[word + 1..]
}

fn page_bytes(words: &[u32; WORDS_PER_PAGE]) -> Bytes {
    let mut out = Vec::with_capacity(BITFIELD_PAGE_BYTES);
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Bytes::from(out)
}

fn page_words(bytes: &[u8]) -> Option<[u32; WORDS_PER_PAGE]> {
    if bytes.len() != BITFIELD_PAGE_BYTES {
        return None;
    }
    let mut words = [0u32; WORDS_PER_PAGE];
    for (w, c) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    Some(words)
}

/// Adds to `batch` the deletion of every record of the core (the header excepted).
fn wipe<S: Storage>(storage: &S, batch: &mut WriteBatch) -> Result<(), StorageError> {
    batch.delete_nodes(0..u64::MAX).delete_blocks(0..u64::MAX);
    for (p, _) in storage.bitfield_pages()? {
        batch.delete_bitfield_page(p);
    }
    Ok(())
}

/// The header of a new core.
fn new_header(o: &LogOptions) -> Result<Header, Error> {
    let manifest = match (&o.manifest, &o.key_pair, &o.key) {
        (Some(m), _, _) => Some(m.clone()),
        (None, Some(kp), _) => Some(default_manifest(&kp.public_key)),
        (None, None, Some(k)) if o.compat => Some(default_manifest(k)),
        (None, None, Some(_)) => None,
        (None, None, None) => {
            return Err(Error::Misuse(
                "a new core needs a key pair, a key or a manifest",
            ))
        }
    };
    let key = match (&manifest, o.key) {
        (Some(m), Some(k)) => {
            if !(is_valid_manifest(&k, m) || (o.compat && is_compat(&k, m))) {
                return Err(Error::Misuse("manifest does not match the key"));
            }
            k
        }
        (Some(m), None) => core_key(m, o.compat)?,
        (None, Some(k)) => k,
        (None, None) => return Err(Error::Misuse("a new core needs a key")),
    };
    if let (Some(kp), Some(k)) = (&o.key_pair, o.key) {
        if manifest.is_none() && kp.public_key != k {
            return Err(Error::Misuse("key pair does not match the key"));
        }
    }
    Ok(Header {
        key,
        manifest,
        key_pair: o.key_pair.clone(),
        compat: o.compat,
        fork: 0,
        length: 0,
        contiguous_length: 0,
        signature: None,
    })
}
