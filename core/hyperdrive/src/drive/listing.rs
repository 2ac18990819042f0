//! Listings: `list`, `readdir`, `diff` and `getBlobsLength`.

use alloc::string::String;
use bytes::Bytes;
use ferrocore_hyperbee::{Machine as _, Range, RangeOptions};

use super::{db, decode_value, Drive, DriveError, Machine, Node, Step};
use crate::list::{self, Ignore, Shallow};
use crate::path::{self, PathError};

/// The options of `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    /// Every entry under the folder (`true`, JS's default) or the first under each child.
    pub recursive: bool,
    /// Paths left out, with what lies under them.
    pub ignore: Option<Ignore>,
}

impl Default for ListOptions {
    fn default() -> Self {
        ListOptions {
            recursive: true,
            ignore: None,
        }
    }
}

fn range_options(range: ferrocore_hyperbee::sub::KeyRange, limit: Option<u64>) -> RangeOptions {
    RangeOptions {
        gt: range.gt,
        gte: range.gte,
        lt: range.lt,
        lte: range.lte,
        limit,
        ..RangeOptions::default()
    }
}

/// The peek loop of a shallow listing over the bee: each child's name and its first entry.
#[derive(Debug, Clone)]
struct ShallowIter {
    version: u64,
    dir: Shallow,
    peek: Option<Range>,
}

impl ShallowIter {
    fn poll(
        &mut self,
        drive: &mut Drive,
    ) -> Result<Step<Option<(String, ferrocore_hyperbee::Entry)>>, DriveError> {
        loop {
            let (version, dir) = (self.version, &self.dir);
            let peek = self
                .peek
                .get_or_insert_with(|| Range::new(version, range_options(dir.range(), Some(1))));
            let found = db!(peek.poll(drive.bee_mut())?);
            self.peek = None;
            let Some(e) = found else {
                return Ok(Step::Done(None));
            };
            if let list::Step::Yield(name) = self.dir.on_entry(&e.key)? {
                return Ok(Step::Done(Some((
                    String::from_utf8_lossy(&name).into_owned(),
                    e,
                ))));
            }
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.peek {
            Some(r) => Ok(r.handle_block(seq, block)?),
            None => Err(DriveError::Unexpected("db", seq)),
        }
    }
}

#[derive(Debug, Clone)]
enum ListPhase {
    Bad(PathError),
    Deep(Range),
    Shallow(ShallowIter),
    Done,
}

impl ListPhase {
    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match self {
            ListPhase::Deep(r) => Ok(r.handle_block(seq, block)?),
            ListPhase::Shallow(s) => s.handle_db(seq, block),
            _ => Err(DriveError::Unexpected("db", seq)),
        }
    }

    /// The first error of a folder JS refuses.
    fn bad(&mut self) -> Result<(), DriveError> {
        match core::mem::replace(self, ListPhase::Done) {
            ListPhase::Bad(e) => Err(e.into()),
            other => {
                *self = other;
                Ok(())
            }
        }
    }
}

fn shallow(version: u64, folder: Option<&str>) -> ListPhase {
    match Shallow::of(folder) {
        Ok(dir) => ListPhase::Shallow(ShallowIter {
            version,
            dir,
            peek: None,
        }),
        Err(e) => ListPhase::Bad(e),
    }
}

/// `list(folder, opts)`: `Done(Some(node))` per entry, `Done(None)` at the end.
#[derive(Debug, Clone)]
pub struct List {
    phase: ListPhase,
    ignore: Option<Ignore>,
}

impl List {
    /// `list(folder, opts)` at db `version` (`None`: the root).
    #[must_use]
    pub fn new(version: u64, folder: Option<&str>, opts: ListOptions) -> Self {
        let phase = if opts.recursive {
            match list::list_range_of(folder) {
                Ok(r) => ListPhase::Deep(Range::new(version, range_options(r, None))),
                Err(e) => ListPhase::Bad(e),
            }
        } else {
            shallow(version, folder)
        };
        List {
            phase,
            ignore: opts.ignore,
        }
    }

    fn ignored(&self, key: &[u8]) -> bool {
        let path = path::path_of_key(key).unwrap_or(key);
        self.ignore.as_ref().is_some_and(|i| i.ignores(path))
    }
}

impl Machine for List {
    type Output = Option<Node>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<Node>>, DriveError> {
        self.phase.bad()?;
        loop {
            let found = match &mut self.phase {
                ListPhase::Deep(r) => db!(r.poll(drive.bee_mut())?),
                ListPhase::Shallow(s) => match s.poll(drive)? {
                    Step::Done(found) => found.map(|(_, e)| e),
                    other => return super::lookup::map_ask(other),
                },
                _ => None,
            };
            let Some(e) = found else {
                self.phase = ListPhase::Done;
                return Ok(Step::Done(None));
            };
            if !self.ignored(&e.key) {
                return Ok(Step::Done(Some(Node::decode(&e)?)));
            }
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        self.phase.handle_db(seq, block)
    }
}

/// `readdir(folder)`: `Done(Some(name))` per child, `Done(None)` at the end.
#[derive(Debug, Clone)]
pub struct Readdir(ListPhase);

impl Readdir {
    /// `readdir(folder)` at db `version` (`None`: the root).
    #[must_use]
    pub fn new(version: u64, folder: Option<&str>) -> Self {
        Readdir(shallow(version, folder))
    }
}

impl Machine for Readdir {
    type Output = Option<String>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<String>>, DriveError> {
        self.0.bad()?;
        let ListPhase::Shallow(s) = &mut self.0 else {
            return Ok(Step::Done(None));
        };
        Ok(match s.poll(drive)? {
            Step::Done(None) => {
                self.0 = ListPhase::Done;
                Step::Done(None)
            }
            Step::Done(Some((name, _))) => Step::Done(Some(name)),
            other => super::lookup::map_ask(other)?,
        })
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        self.0.handle_db(seq, block)
    }
}

/// One difference of a [`Diff`]: the entry at the view's version (`left`) and at the
/// other (`right`), `None` where absent.
#[derive(Debug, Clone, PartialEq)]
pub struct DiffNode {
    /// At the view's version.
    pub left: Option<Node>,
    /// At the other version.
    pub right: Option<Node>,
}

/// `drive.checkout(to).diff(from, folder)`: `Done(Some(difference))`, `Done(None)` at
/// the end.
#[derive(Debug, Clone)]
pub struct Diff(Result<ferrocore_hyperbee::Diff, Option<PathError>>);

impl Diff {
    /// The diff of `version` against `from` under `folder` (`None`: the root).
    #[must_use]
    pub fn new(version: u64, from: u64, folder: Option<&str>) -> Self {
        Diff(
            list::list_range_of(folder)
                .map(|r| ferrocore_hyperbee::Diff::new(version, from.max(1), r))
                .map_err(Some),
        )
    }
}

impl Machine for Diff {
    type Output = Option<DiffNode>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<DiffNode>>, DriveError> {
        let d = match &mut self.0 {
            Ok(d) => d,
            Err(e) => return e.take().map_or(Ok(Step::Done(None)), |e| Err(e.into())),
        };
        let Some(d) = db!(d.poll(drive.bee_mut())?) else {
            return Ok(Step::Done(None));
        };
        let side = |e: &Option<ferrocore_hyperbee::Entry>| e.as_ref().map(Node::decode).transpose();
        Ok(Step::Done(Some(DiffNode {
            left: side(&d.left)?,
            right: side(&d.right)?,
        })))
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.0 {
            Ok(d) => Ok(d.handle_block(seq, block)?),
            Err(_) => Err(DriveError::Unexpected("db", seq)),
        }
    }
}

/// `getBlobsLength()`: the largest `blockOffset + blockLength` of the blobs of every
/// entry at a version (0 without any): the blobs core's length that version needs.
#[derive(Debug, Clone)]
pub struct BlobsLength {
    range: Range,
    length: u64,
}

impl BlobsLength {
    /// At db `version`.
    #[must_use]
    pub fn new(version: u64) -> Self {
        BlobsLength {
            range: Range::new(version, RangeOptions::default()),
            length: 0,
        }
    }
}

impl Machine for BlobsLength {
    type Output = u64;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<u64>, DriveError> {
        while let Some(e) = db!(self.range.poll(drive.bee_mut())?) {
            if e.value.is_none() {
                continue;
            }
            let entry = decode_value(&e)?;
            let id = entry
                .blob_id()
                .map_err(|error| DriveError::Entry { seq: e.seq, error })?;
            if let Some(id) = id {
                self.length = self.length.max(id.block_end());
            }
        }
        Ok(Step::Done(self.length))
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        Ok(self.range.handle_block(seq, block)?)
    }
}
