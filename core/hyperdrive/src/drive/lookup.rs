//! `entry(path, {follow})` and `exists(path)`.

use alloc::string::String;
use bytes::Bytes;
use ferrocore_hyperbee::Machine as _;

use super::{db, Drive, DriveError, Machine, Node, Step};
use crate::follow::Follow;
use crate::path;

/// `entry(path, {follow})`: `Done(Some(node))`, or `Done(None)` when absent. With
/// `follow`, a symlink's target is looked up in turn (at most
/// [`MAX_LOOKUPS`](crate::follow::MAX_LOOKUPS) lookups).
#[derive(Debug, Clone)]
pub struct Lookup {
    version: u64,
    name: String,
    follow: Option<Follow>,
    get: Option<ferrocore_hyperbee::Get>,
    done: bool,
}

impl Lookup {
    /// A lookup of `name` (as the caller wrote it) at db `version`.
    #[must_use]
    pub fn new(version: u64, name: &str, follow: bool) -> Self {
        Lookup {
            version,
            name: name.into(),
            follow: follow.then(|| Follow::new(name)),
            get: None,
            done: false,
        }
    }
}

impl Lookup {
    /// Caps the version read at `version` (a lookup made before the drive's version
    /// was known reads the current one).
    pub(crate) fn at_most(&mut self, version: u64) {
        self.version = self.version.min(version);
    }
}

impl Machine for Lookup {
    type Output = Option<Node>;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<Option<Node>>, DriveError> {
        if self.done {
            return Ok(Step::Done(None));
        }
        loop {
            let get = match &mut self.get {
                Some(get) => get,
                None => {
                    let key = match &mut self.follow {
                        Some(f) => f.key()?,
                        None => path::key_of(&self.name)?,
                    };
                    self.get
                        .insert(ferrocore_hyperbee::Get::new(self.version, key.into()))
                }
            };
            let found = db!(get.poll(drive.bee_mut())?);
            self.get = None;
            let Some(found) = found else {
                self.done = true;
                return Ok(Step::Done(None));
            };
            let node = Node::decode(&found)?;
            let answer = match &mut self.follow {
                None => true,
                Some(f) => f.found(&node.path, &node.entry)?,
            };
            if answer {
                self.done = true;
                return Ok(Step::Done(Some(node)));
            }
        }
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        match &mut self.get {
            Some(get) => Ok(get.handle_block(seq, block)?),
            None => Err(DriveError::Unexpected("db", seq)),
        }
    }
}

/// `exists(path)`: whether an entry is stored at `path` (links not followed).
#[derive(Debug, Clone)]
pub struct Exists(Lookup);

impl Exists {
    /// Wraps the lookup.
    #[must_use]
    pub fn new(lookup: Lookup) -> Self {
        Exists(lookup)
    }
}

impl Machine for Exists {
    type Output = bool;

    fn poll(&mut self, drive: &mut Drive) -> Result<Step<bool>, DriveError> {
        Ok(match self.0.poll(drive)? {
            Step::Done(found) => Step::Done(found.is_some()),
            other => map_ask(other)?,
        })
    }

    fn handle_db(&mut self, seq: u64, block: &Bytes) -> Result<(), DriveError> {
        self.0.handle_db(seq, block)
    }
}

/// A sub-machine's ask, passed on (anything but `Done`).
pub(crate) fn map_ask<A, B>(step: Step<A>) -> Result<Step<B>, DriveError> {
    Ok(match step {
        Step::NeedDb(s) => Step::NeedDb(s),
        Step::NeedBlobs(s) => Step::NeedBlobs(s),
        Step::NeedBlobsSeek(b) => Step::NeedBlobsSeek(b),
        Step::HasBlobs { start, end } => Step::HasBlobs { start, end },
        Step::AppendDb(b) => Step::AppendDb(b),
        Step::AppendBlobs(b) => Step::AppendBlobs(b),
        Step::Done(_) => return Err(DriveError::Unexpected("done", 0)),
    })
}

/// Polls a drive sub-machine: its asks become the caller's, its result the value.
macro_rules! sub {
    ($poll:expr) => {
        match $poll {
            $crate::drive::Step::Done(x) => x,
            other => return $crate::drive::lookup::map_ask(other),
        }
    };
}
pub(crate) use sub;
