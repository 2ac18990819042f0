//! Blob reads: `get`, `createReadStream` and `has`.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use ferrocore_hyperbee::{Machine as _, RangeOptions};
use ferrocore_hyperblobs::map::{self, MapEntry, MAX_MAP_BLOCKS};
use ferrocore_hyperblobs::{BlobError, BlobId, Machine as _, ReadOptions};

use super::lookup::sub;
use super::{blob, db, decode_value, Drive, DriveError, Lookup, Machine, Node, Step};
use crate::list;

/// The options of `get`: `follow` for the entry, the range for the blob.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Follow symlinks.
    pub follow: bool,
    /// `{start, end, length}`, unclamped as in JS.
    pub range: ReadOptions,
}

/// The blob id of a node's entry.
fn blob_of(node: &Node) -> Result<Option<BlobId>, DriveError> {
    node.entry.blob_id().map_err(|error| DriveError::Entry {
        seq: node.seq,
        error,
    })
}

#[derive(Debug, Clone)]
enum GetPhase {
    Lookup(Lookup),
    Blob(ferrocore_hyperblobs::Get),
}

/// `get(path, opts)`: `Done(Some(bytes))`, `Done(None)` without entry or blob (a symlink
/// not followed, a `putEntry` without blob); [`DriveError::BlockNotAvailable`] when a
/// block of the range is missing.
#[derive(Debug, Clone)]
pub struct Get {
    phase: GetPhase,
    range: ReadOptions,
}

impl Get {
    /// `get` of the entry `lookup` finds, with `range`.
    #[must_use]
    pub fn new(lookup: Lookup, range: ReadOptions) -> Self {
        Get {
            phase: GetPhase::Lookup(lookup),
            range,
        }
    }
}

impl Machine for Get {
    type Output = Option<Bytes>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<Bytes>>, DriveError> {
        if let GetPhase::Lookup(l) = &mut self.phase {
            let node = sub!(l.poll(drive)?);
            let Some(id) = node.as_ref().map(blob_of).transpose()?.flatten() else {
                return Ok(Step::Done(None));
            };
            let get = ferrocore_hyperblobs::Get::new(&id, &self.range, drive.blobs_core())?;
            self.phase = GetPhase::Blob(get);
        }
        let GetPhase::Blob(get) = &mut self.phase else {
            return Ok(Step::Done(None));
        };
        match blob!(get.poll()?) {
            Some(bytes) => Ok(Step::Done(Some(bytes))),
            None => Err(DriveError::BlockNotAvailable),
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.phase {
            GetPhase::Lookup(l) => l.handle_db(seq, block),
            GetPhase::Blob(_) => Err(DriveError::Unexpected("db", seq)),
        }
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        match &mut self.phase {
            GetPhase::Blob(g) => Ok(g.handle_block(seq, block)?),
            GetPhase::Lookup(_) => Err(DriveError::Unexpected("blobs", seq)),
        }
    }

    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), DriveError> {
        match &mut self.phase {
            GetPhase::Blob(g) => Ok(g.handle_seek(byte, at)?),
            GetPhase::Lookup(_) => Err(DriveError::Unexpected("seek", byte)),
        }
    }
}

#[derive(Debug, Clone)]
enum StreamPhase {
    Lookup(Lookup),
    Blob(ferrocore_hyperblobs::ReadStream),
    Done,
}

/// `createReadStream(path, range)` (links not followed, as in JS): `Done(Some(chunk))`
/// per chunk, then `Done(None)`. [`DriveError::NoSuchFile`] without entry; an entry
/// without blob or with an empty one streams nothing; [`DriveError::BlockNotAvailable`]
/// when a block is missing.
#[derive(Debug, Clone)]
pub struct ReadStream {
    phase: StreamPhase,
    range: ReadOptions,
}

impl ReadStream {
    /// A stream of the entry `lookup` finds.
    #[must_use]
    pub fn new(lookup: Lookup, range: ReadOptions) -> Self {
        ReadStream {
            phase: StreamPhase::Lookup(lookup),
            range,
        }
    }
}

impl Machine for ReadStream {
    type Output = Option<Bytes>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<Bytes>>, DriveError> {
        if let StreamPhase::Lookup(l) = &mut self.phase {
            let node = sub!(l.poll(drive)?).ok_or(DriveError::NoSuchFile)?;
            match blob_of(&node)? {
                Some(id) if id.byte_length > 0 => {
                    let rs = ferrocore_hyperblobs::ReadStream::new(
                        &id,
                        &self.range,
                        drive.blobs_core(),
                    )?;
                    self.phase = StreamPhase::Blob(rs);
                }
                _ => self.phase = StreamPhase::Done,
            }
        }
        let StreamPhase::Blob(rs) = &mut self.phase else {
            return Ok(Step::Done(None));
        };
        Ok(match rs.poll()? {
            ferrocore_hyperblobs::Step::NeedBlock(s) => Step::NeedBlobs(s),
            ferrocore_hyperblobs::Step::NeedSeek(b) => Step::NeedBlobsSeek(b),
            ferrocore_hyperblobs::Step::Chunk(c) => Step::Done(Some(c)),
            ferrocore_hyperblobs::Step::Done(complete) => {
                self.phase = StreamPhase::Done;
                if !complete {
                    return Err(DriveError::BlockNotAvailable);
                }
                Step::Done(None)
            }
        })
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.phase {
            StreamPhase::Lookup(l) => l.handle_db(seq, block),
            _ => Err(DriveError::Unexpected("db", seq)),
        }
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        match &mut self.phase {
            StreamPhase::Blob(rs) => Ok(rs.handle_block(seq, block)?),
            _ => Err(DriveError::Unexpected("blobs", seq)),
        }
    }

    fn handle_seek(&mut self, byte: u64, at: Option<(u64, u64)>) -> Result<(), DriveError> {
        match &mut self.phase {
            StreamPhase::Blob(rs) => Ok(rs.handle_seek(byte, at)?),
            _ => Err(DriveError::Unexpected("seek", byte)),
        }
    }
}

/// Whether one blob is held (JS `_hasEntry`): its blocks, or for a block map its map
/// blocks and then every block the map names.
#[derive(Debug, Clone)]
struct HasBlob {
    id: BlobId,
    asked: Option<(u64, u64)>,
    answer: Option<bool>,
    map_loaded: u64,
    want: Option<u64>,
    got: Option<Option<Bytes>>,
    entries: Vec<MapEntry>,
    next: usize,
}

impl HasBlob {
    fn new(id: BlobId) -> Self {
        HasBlob {
            id,
            asked: None,
            answer: None,
            map_loaded: 0,
            want: None,
            got: None,
            entries: Vec::new(),
            next: 0,
        }
    }

    fn has(&mut self, start: u64, end: u64) -> Result<bool, Step<bool>> {
        match self.answer.take() {
            Some(a) if self.asked == Some((start, end)) => Ok(a),
            _ => {
                self.asked = Some((start, end));
                Err(Step::HasBlobs { start, end })
            }
        }
    }

    fn poll(&mut self) -> Result<Step<bool>, DriveError> {
        let id = self.id;
        let end = id.block_offset.saturating_add(id.block_length);
        if self.map_loaded == 0 && self.next == 0 && self.entries.is_empty() {
            match self.has(id.block_offset, end) {
                Err(ask) => return Ok(ask),
                Ok(false) => return Ok(Step::Done(false)),
                Ok(true) if !id.block_map => return Ok(Step::Done(true)),
                Ok(true) => {
                    if id.block_length > MAX_MAP_BLOCKS {
                        return Err(BlobError::MapTooLarge(id.block_length).into());
                    }
                    if id.block_length == 0 {
                        return Err(BlobError::EmptyBlockMap.into());
                    }
                    // Remember the answer: the map's range is held.
                    self.map_loaded = 1;
                }
            }
        }
        while self.map_loaded <= id.block_length {
            let seq = id.block_offset.saturating_add(self.map_loaded - 1);
            match self.got.take() {
                None => {
                    self.want = Some(seq);
                    return Ok(Step::NeedBlobs(seq));
                }
                Some(None) => return Err(BlobError::MapNotAvailable.into()),
                Some(Some(block)) => {
                    map::decode_into(&block, &mut self.entries)
                        .map_err(|error| BlobError::Map { seq, error })?;
                    self.map_loaded += 1;
                }
            }
        }
        while let Some(e) = self.entries.get(self.next) {
            let end = e.index.saturating_add(1);
            match self.has(e.index, end) {
                Err(ask) => return Ok(ask),
                Ok(false) => return Ok(Step::Done(false)),
                Ok(true) => self.next += 1,
            }
        }
        Ok(Step::Done(true))
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        if self.want.take() != Some(seq) {
            return Err(DriveError::Unexpected("blobs", seq));
        }
        self.got = Some(block);
        Ok(())
    }

    fn handle_has(&mut self, start: u64, end: u64, has: bool) -> Result<(), DriveError> {
        if self.asked != Some((start, end)) || self.answer.is_some() {
            return Err(DriveError::Unexpected("has", start));
        }
        self.answer = Some(has);
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum HasPhase {
    Start,
    Lookup(Lookup),
    List(ferrocore_hyperbee::Range),
    Blob(HasBlob),
    Done(bool),
}

/// `has(path)`: for a file, whether its blob is held (`false` without blob); for a
/// folder (or a path without entry), whether every blob under it is held, `false` when
/// nothing is under it.
#[derive(Debug, Clone)]
pub struct Has {
    version: u64,
    path: String,
    phase: HasPhase,
    is_dir: bool,
    /// The listing a folder's blob check returns to.
    resume: Option<ferrocore_hyperbee::Range>,
}

impl Has {
    /// `has(path)` at db `version`.
    #[must_use]
    pub fn new(version: u64, path: &str) -> Self {
        Has {
            version,
            path: path.into(),
            phase: HasPhase::Start,
            is_dir: false,
            resume: None,
        }
    }

    fn list(&mut self) -> Result<(), DriveError> {
        let folder = (!self.path.is_empty()).then_some(self.path.as_str());
        let range = list::list_range_of(folder)?;
        let o = RangeOptions {
            gt: range.gt,
            lt: range.lt,
            ..RangeOptions::default()
        };
        self.phase = HasPhase::List(ferrocore_hyperbee::Range::new(self.version, o));
        Ok(())
    }
}

impl Machine for Has {
    type Output = bool;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<bool>, DriveError> {
        loop {
            match &mut self.phase {
                HasPhase::Start if self.path.is_empty() || self.path.ends_with('/') => {
                    self.list()?;
                }
                HasPhase::Start => {
                    self.phase = HasPhase::Lookup(Lookup::new(self.version, &self.path, false));
                }
                HasPhase::Lookup(l) => match sub!(l.poll(drive)?) {
                    None => self.list()?,
                    Some(node) => {
                        self.phase = match blob_of(&node)? {
                            Some(id) => HasPhase::Blob(HasBlob::new(id)),
                            None => HasPhase::Done(false),
                        };
                    }
                },
                HasPhase::List(range) => {
                    let Some(e) = db!(range.poll(drive.bee_mut())?) else {
                        let is_dir = self.is_dir;
                        self.phase = HasPhase::Done(is_dir);
                        continue;
                    };
                    self.is_dir = true;
                    let entry = decode_value(&e)?;
                    let id = entry
                        .blob_id()
                        .map_err(|error| DriveError::Entry { seq: e.seq, error })?;
                    if let Some(id) = id {
                        let phase = HasPhase::Blob(HasBlob::new(id));
                        if let HasPhase::List(r) = core::mem::replace(&mut self.phase, phase) {
                            self.resume = Some(r);
                        }
                    }
                }
                HasPhase::Blob(b) => {
                    let held = sub!(b.poll()?);
                    self.phase = match (held, self.resume.take()) {
                        (true, Some(r)) => HasPhase::List(r),
                        (held, _) => HasPhase::Done(held),
                    };
                }
                HasPhase::Done(v) => return Ok(Step::Done(*v)),
            }
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.phase {
            HasPhase::Lookup(l) => l.handle_db(seq, block),
            HasPhase::List(r) => Ok(r.handle_block(seq, block)?),
            _ => Err(DriveError::Unexpected("db", seq)),
        }
    }

    fn handle_blobs(&mut self, seq: u64, block: Option<Bytes>) -> Result<(), DriveError> {
        match &mut self.phase {
            HasPhase::Blob(b) => b.handle_blobs(seq, block),
            _ => Err(DriveError::Unexpected("blobs", seq)),
        }
    }

    fn handle_has(&mut self, start: u64, end: u64, has: bool) -> Result<(), DriveError> {
        match &mut self.phase {
            HasPhase::Blob(b) => b.handle_has(start, end, has),
            _ => Err(DriveError::Unexpected("has", start)),
        }
    }
}
