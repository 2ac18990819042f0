//! Hyperdrive (JS `hyperdrive@13.3.4`) without I/O: the format a drive is made of, byte
//! for byte what JS writes, and its operations as resumable machines over its two cores.
//!
//! A drive is a Hyperbee (the db core) of entries plus a Hyperblobs core of contents, both
//! in a Corestore:
//! * [`path`]: paths normalised as JS does (`unix-path-resolve` from `/`), and the entry
//!   keys `"files" 0x00 utf8(path)`;
//! * [`entry`]: the entry values, `JSON.stringify({executable, linkname, blob, metadata})`;
//! * [`follow`]: `entry(name, {follow: true})`'s lookups through symlinks;
//! * [`list`]: the key ranges of `list` and the peek loop of `readdir`;
//! * [`keys`]: the drive key, the content (blobs) manifest and key, the db header block;
//! * [`drive`]: the operations (`put`, `get`, `createReadStream`, `list`, `diff`, `batch`,
//!   `truncate`, `clear`, …) as machines composed of Hyperbee's and Hyperblobs' own, asking
//!   for blocks of the db core or of the blobs core and handing out appends to either
//!   ([`drive::Step`]); `testing::MemDrive` (feature `testing`) drives them in memory.
//!
//! Bytes from a peer or a disk never panic here: every malformed entry is an
//! [`entry::EntryError`], every refused path a [`path::PathError`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod drive;
pub mod entry;
pub mod follow;
pub mod keys;
pub mod list;
pub mod path;
#[cfg(feature = "testing")]
pub mod testing;

pub use drive::{Drive, DriveConfig, DriveError, Machine, Node, Step, View};
pub use entry::{Entry, EntryError};
pub use ferrocore_hyperblobs::BlobId;
pub use keys::DriveKeys;
pub use path::PathError;
