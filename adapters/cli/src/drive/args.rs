//! `ferrocore drive ...`: the arguments of the Hyperdrive subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::keys::{parse_encryption_key, parse_key};

/// Which drive of the store in DIR: `--drive KEY`, else the core named `db` in the root
/// namespace (what `drive create` and JS `new Hyperdrive(store)` make), else the store's
/// default core (a clone of a drive).
#[derive(Debug, Clone, Args)]
pub struct DriveSelect {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The drive's key (64 hex characters or the z-base-32 id), when the store holds
    /// several (e.g. after `clone --add`).
    #[arg(long, value_name = "KEY", value_parser = parse_key)]
    pub drive: Option<[u8; 32]>,
}

/// `ferrocore drive`.
#[derive(Debug, Args)]
pub struct DriveArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: DriveCommand,
}

/// The `drive` subcommands.
#[derive(Debug, Subcommand)]
pub enum DriveCommand {
    /// Make a drive in the store (JS `new Hyperdrive(store)`): the core `db` and its blobs core
    #[command(after_help = "\
Examples:
  ferrocore drive create ./site                    # prints `key <hex>` (the drive key)
  ferrocore drive create ./site --json             # {\"key\",\"discoveryKey\",\"contentKey\",\"id\"}
  ferrocore drive create ./site --primary-key <HEX64>   # the keys JS derives from that key

The db core is the store's core named `db` (its key pair derived from the store's primary
key, as corestore 7 does); the blobs core's key follows from the db's manifest and it
signs with the db's key pair. A new store's default core is the drive.")]
    Create(CreateArgs),
    /// Store a file: FILE's contents, or stdin's without FILE
    #[command(after_help = "\
Examples:
  ferrocore drive put ./site /index.html index.html
  echo hello | ferrocore drive put ./site /docs/hello.txt
  ferrocore drive put ./site /bin/run run.sh --executable --metadata '{\"mode\":493}'

PATH is normalised as JS hyperdrive does (`a\\b/../c` is `/a/c`); a path naming the root
(`/`, ``, `a/..`) or climbing above it is a usage error (exit 2). Contents are streamed in
64 KiB blocks, as a JS write stream stores them.")]
    Put(PutArgs),
    /// Print a file's contents (exactly its bytes); exit 3 if absent
    #[command(after_help = "\
Examples:
  ferrocore drive get ./site /index.html > index.html
  ferrocore drive get ./site /index.html --checkout 5     # as it was at version 5

A symlink is not followed (as JS `drive.get`): exit 3, naming its target. Exit 3 too when
the file's blocks are not stored locally (a sparse clone).")]
    Get(GetArgs),
    /// List the entries under a folder (default `/`): `KIND SIZE PATH`, or JSON lines
    #[command(after_help = "\
Examples:
  ferrocore drive ls ./site
  ferrocore drive ls ./site /docs --recursive
  ferrocore drive ls ./site --recursive --json     # {\"path\",\"size\",\"executable\",\"linkname\",\"blob\",\"metadata\"}

Text lines are `KIND SIZE PATH`: KIND `f` a file, `x` an executable file, `l` a symlink
(its line ends in ` -> TARGET`), `d` a folder (without --recursive; its path ends in `/`).
With --json `blob` is the stored blob id ({\"blockOffset\",\"byteOffset\",\"blockLength\",
\"byteLength\"}) or null, `size` its byteLength (0 without blob), `metadata` the stored JSON
value (null if none); a folder is a line whose path ends in `/`. A PATH naming a file lists
that file.")]
    Ls(LsArgs),
    /// Delete a file or symlink; exit 3 if there is none
    #[command(after_help = "\
Examples:
  ferrocore drive rm ./site /old.html")]
    Rm(PathArgs),
    /// Make PATH a symlink to TARGET (resolved from PATH when read, as in JS)
    #[command(after_help = "\
Examples:
  ferrocore drive symlink ./site /latest /releases/v2.tar")]
    Symlink(SymlinkArgs),
    /// Print the drive's keys, version and sizes
    #[command(after_help = "\
Examples:
  ferrocore drive info ./site
  ferrocore drive info ./site --json

--json prints {\"key\",\"discoveryKey\",\"contentKey\",\"contentDiscoveryKey\",\"id\",
\"version\",\"writable\",\"dbLength\",\"dbByteLength\",\"blobsLength\",\"blobsByteLength\",
\"blobsHeld\"} (blobsHeld: the blobs blocks stored locally).")]
    Info(InfoArgs),
    /// Print what changed from version --from to --to: `put<TAB>PATH` or `del<TAB>PATH`
    #[command(after_help = "\
Examples:
  ferrocore drive diff ./site --from 1
  ferrocore drive diff ./site --from 3 --to 9 --json

A version is a length of the db core (`drive info` prints the current one). With --json
each line is {\"path\",\"left\",\"right\"} as JS's diff stream gives them: left the entry at
--to, right the one at --from, each {\"seq\",\"key\",\"value\"} or null (value:
{\"executable\",\"linkname\",\"blob\",\"metadata\"}).")]
    Diff(DiffArgs),
    /// Mirror a local FOLDER into the drive (JS localdrive → hyperdrive with mirror-drive)
    #[command(after_help = "\
Examples:
  ferrocore drive import ./site ./public             # adds and changes, deletes nothing
  ferrocore drive import ./site ./public --prune     # also deletes what FOLDER lacks
  ferrocore drive import ./site ./public --dry-run   # lists the changes, writes nothing

Files are compared as mirror-drive compares them: by size, then contents, then the
executable bit (a change of only the bit keeps the blob). Symlinks are stored as links,
not followed. Each change is a line on stdout with --dry-run (`add|change|remove<TAB>PATH
<TAB>BYTES`); a progress line on stderr when it is a terminal; at the end the summary
`added N changed N removed N bytes N` on stderr (bytes: mirror-drive's bytesAdded).")]
    Import(MirrorArgs),
    /// Mirror the drive into a local FOLDER (created if missing)
    #[command(after_help = "\
Examples:
  ferrocore drive export ./site ./out
  ferrocore drive export ./site ./out --prune        # also deletes what the drive lacks
  ferrocore drive export ./clone ./out --path /docs  # only what is under /docs

Reads the drive's local blocks: a sparse clone lacking a file's blocks fails (exit 3);
fetch them first with `ferrocore clone DIR KEY --connect HOST:PORT --paths ...`. Output as
for `drive import`.")]
    Export(MirrorArgs),
}

/// `drive create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The store's directory (created if missing; may hold other cores, not a `db` core).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The primary key of a new store (64 hex characters): the drive then has the keys JS
    /// gives a store with that primary key. For interop and recovery only: whoever knows it
    /// can sign for the drive.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub primary_key: Option<[u8; 32]>,
    /// Print {"key","discoveryKey","contentKey","id"} instead of `key <hex>`.
    #[arg(long)]
    pub json: bool,
}

/// `drive put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The file's path in the drive.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub path: String,
    /// The local file to store (default: stdin).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Mark the file executable.
    #[arg(long)]
    pub executable: bool,
    /// Any JSON value to store with the entry.
    #[arg(long, value_name = "JSON", allow_hyphen_values = true)]
    pub metadata: Option<String>,
}

/// `drive get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The file's path in the drive.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub path: String,
    /// Read the drive as it was at this version.
    #[arg(long, value_name = "V")]
    pub checkout: Option<u64>,
}

/// `drive ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The folder (default `/`), or a file.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub path: Option<String>,
    /// Everything under the folder, not only its children.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// JSON lines {"path","size","executable","linkname","blob","metadata"}.
    #[arg(long)]
    pub json: bool,
    /// List the drive as it was at this version.
    #[arg(long, value_name = "V")]
    pub checkout: Option<u64>,
}

/// `drive import` and `drive export`.
#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The local folder.
    #[arg(value_name = "FOLDER")]
    pub folder: PathBuf,
    /// Delete what the source lacks from the target (mirror-drive's `prune`).
    #[arg(long)]
    pub prune: bool,
    /// List the changes on stdout and change nothing (mirror-drive's `dryRun`).
    #[arg(long)]
    pub dry_run: bool,
    /// Only this folder or file of the source (mirror-drive's `prefix`; repeatable).
    #[arg(long = "path", value_name = "PATH")]
    pub paths: Vec<String>,
}

/// `drive rm`.
#[derive(Debug, Args)]
pub struct PathArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The entry's path in the drive.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub path: String,
}

/// `drive symlink`.
#[derive(Debug, Args)]
pub struct SymlinkArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The symlink's path in the drive.
    #[arg(value_name = "PATH", allow_hyphen_values = true)]
    pub path: String,
    /// What it points at (stored as given).
    #[arg(value_name = "TARGET", allow_hyphen_values = true)]
    pub target: String,
    /// Any JSON value to store with the entry.
    #[arg(long, value_name = "JSON", allow_hyphen_values = true)]
    pub metadata: Option<String>,
}

/// `drive info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// Print one JSON object instead of aligned lines.
    #[arg(long)]
    pub json: bool,
}

/// `drive diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Store and drive.
    #[command(flatten)]
    pub select: DriveSelect,
    /// The versions compared.
    #[command(flatten)]
    pub versions: crate::args::VersionRange,
    /// JSON lines {"path","left","right"}.
    #[arg(long)]
    pub json: bool,
}
