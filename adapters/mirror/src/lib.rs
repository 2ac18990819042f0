//! Mirroring between drives and folders, as JS `localdrive@2.2.1` and
//! `mirror-drive@1.14.2` do it (the pair hyperdrive 13 is used with).
//!
//! * [`local`]: [`LocalDrive`], a folder on disk seen as a drive (paths, entries with
//!   their exec bit and symlinks, listing, streaming reads and atomic writes, deletes that
//!   tidy empty folders);
//! * [`mirror`]: [`Mirror`], which makes a target side hold what a source side holds, with
//!   mirror-drive's comparison, `prune`, `dryRun`, `prefix`, `filter`, `ignore`,
//!   `includeEquals` and counts, yielding each [`Diff`] as it is applied;
//! * [`side`]: the two traits a mirror joins, [`MirrorSource`] and [`MirrorTarget`],
//!   implemented here for [`LocalDrive`], for a Hyperdrive on the blocking adapter
//!   ([`drive`]: `ferrocore_blocking::drive::Drive`) and for the in-memory
//!   [`testing::MemSide`].
//!
//! ```
//! use ferrocore_mirror::{LocalDrive, Mirror, Op};
//! use ferrocore_wire::json::Value;
//!
//! let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
//! let src = LocalDrive::new(a.path())?;
//! let mut dst = LocalDrive::new(b.path())?;
//! src.put("/docs/readme.txt", b"hello", false, &Value::Null)?;
//! src.put("/bin/run.sh", b"#!/bin/sh\n", true, &Value::Null)?;
//! dst.put("/stale.txt", b"old", false, &Value::Null)?;
//!
//! // Each diff is applied, then yielded (a CLI draws its progress bar from them).
//! let mut ops = Vec::new();
//! let mut mirror = Mirror::new(&src, &mut dst);
//! for diff in &mut mirror {
//!     let diff = diff?;
//!     ops.push((diff.op, diff.key));
//! }
//! let summary = mirror.summary();
//! drop(mirror);
//! assert_eq!((summary.count.add, summary.count.remove, summary.bytes_added), (2, 1, 15));
//! assert!(ops.contains(&(Op::Remove, "/stale.txt".to_string())));
//! assert_eq!(dst.get("/docs/readme.txt")?.as_deref(), Some(&b"hello"[..]));
//! assert!(dst.entry("/bin/run.sh")?.unwrap().value.executable);
//!
//! // A second mirror finds everything equal.
//! let again = Mirror::new(&src, &mut dst).run()?;
//! assert_eq!((again.count.files, again.count.add, again.count.change), (2, 0, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod compare;
pub mod drive;
pub mod local;
pub mod mirror;
pub mod side;
pub mod testing;

pub use compare::{same_data, truthy};
pub use local::{LocalDrive, LocalError};
pub use mirror::{Count, Diff, Mirror, MirrorError, Op, Summary};
pub use side::{EntryIter, Ignore, MirrorEntry, MirrorSource, MirrorTarget, SideError};
