//! `ferrocore bee ...`: the arguments of the Hyperbee subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferrocore_blocking::bee::codec::Encoding;

use crate::args::CoreSelect;

/// How keys or values are written on the command line and in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Enc {
    /// Text, stored as its UTF-8 bytes (JS `utf-8`).
    #[default]
    #[value(name = "utf-8", alias = "utf8")]
    Utf8,
    /// Binary, written as hex.
    Hex,
    /// JSON documents, stored as JS `JSON.stringify` writes them (JS `json`).
    Json,
}

impl Enc {
    /// The codec.
    #[must_use]
    pub fn encoding(self) -> Encoding {
        match self {
            Enc::Utf8 => Encoding::Utf8,
            Enc::Hex => Encoding::Hex,
            Enc::Json => Encoding::Json,
        }
    }
}

/// What every `bee` subcommand takes: the store, the core, the encodings.
#[derive(Debug, Clone, Args)]
pub struct BeeCommon {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// How keys are written (arguments, stdin and output).
    #[arg(long, value_enum, default_value_t, value_name = "ENC")]
    pub key_encoding: Enc,
    /// How values are written (arguments, stdin and output).
    #[arg(long, value_enum, default_value_t, value_name = "ENC")]
    pub value_encoding: Enc,
    /// Which core of the store holds the bee.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore bee`.
#[derive(Debug, Args)]
pub struct BeeArgs {
    /// The operation.
    #[command(subcommand)]
    pub command: BeeCommand,
}

/// The `bee` subcommands.
#[derive(Debug, Subcommand)]
pub enum BeeCommand {
    /// Put KEY = VALUE (one block; the header first on an empty core)
    #[command(after_help = "\
Examples:
  ferrocore bee put ./store greeting hello
  ferrocore bee put ./store --value-encoding json config '{\"debug\":true}'
  ferrocore bee put ./store --key-encoding hex 00ff 'binary key'
  ferrocore bee put ./store --name index k v      # the bee on the core named `index`")]
    Put(PutArgs),
    /// Print KEY's value: exactly its bytes (hex with --value-encoding hex); exit 3 if absent
    #[command(after_help = "\
Examples:
  ferrocore bee get ./store greeting              # prints `hello`, no newline added
  ferrocore bee get ./store greeting > value.bin

Exit code 3 when the key is absent (or a block the lookup needs is not stored locally).")]
    Get(GetArgs),
    /// Delete KEY (no error if it is absent)
    #[command(after_help = "\
Examples:
  ferrocore bee del ./store greeting")]
    Del(KeyArgs),
    /// List entries in key order: `key<TAB>value` lines, or JSON lines `{"seq","key","value"}`
    #[command(after_help = "\
Examples:
  ferrocore bee list ./store
  ferrocore bee list ./store --gte a --lt b       # the keys starting with `a`
  ferrocore bee list ./store --reverse --limit 10 --json")]
    List(ListArgs),
    /// Apply JSON lines from stdin as one batch: `{"put":[KEY,VALUE]}` or `{"del":KEY}`
    #[command(after_help = "\
Examples:
  printf '%s\\n' '{\"put\":[\"a\",\"1\"]}' '{\"put\":[\"b\",\"2\"]}' '{\"del\":\"c\"}' | ferrocore bee batch ./store
  ferrocore bee batch ./store --value-encoding json < ops.jsonl   # values: any JSON

Keys and values are JSON strings in the key and value encodings (any JSON value with
json). Nothing is written unless every line parses; then all of it is one append.")]
    Batch(BatchArgs),
    /// Print the bee's blocks in order: `seq<TAB>put<TAB>key<TAB>value` or `seq<TAB>del<TAB>key`
    #[command(after_help = "\
Examples:
  ferrocore bee history ./store
  ferrocore bee history ./store --gte -10         # the last ten writes
  ferrocore bee history ./store --reverse --json  # {\"seq\",\"type\",\"key\",\"value\"}
  ferrocore bee history ./clone --live --gte -1 --connect 127.0.0.1:7000   # then each new write

Negative bounds count back from the version, as in JS.")]
    History(HistoryArgs),
    /// Print what changed from version --from to --to: `put<TAB>key<TAB>value` or `del<TAB>key`
    #[command(after_help = "\
Examples:
  ferrocore bee diff ./store --from 1             # everything, as puts
  ferrocore bee diff ./store --from 10 --to 20 --json

A version is a length of the core (`ferrocore info` prints it). With --json each line is
{\"key\",\"left\",\"right\"}: left the entry at --to, right the one at --from, each
{\"seq\",\"value\"} or null.")]
    Diff(DiffArgs),
    /// Print a line `CURRENT<TAB>PREVIOUS` each time the bee's keys (in the bounds) change, until SIGTERM
    #[command(after_help = "\
Examples:
  ferrocore bee watch ./clone --connect 127.0.0.1:7000            # follow a served bee
  ferrocore bee watch ./clone --connect 127.0.0.1:7000 --gte a --lt b --json

Each line names two versions (lengths of the core) whose entries differ within the
bounds (`bee diff --from PREVIOUS --to CURRENT` shows how), as JS `bee.watch(range)`
yields them; a truncation of the core is always reported (`<TAB>truncated`, or
\"truncated\":true). Without --connect only this process could write, so nothing
changes. Ends with exit 0 on SIGTERM or SIGINT.")]
    Watch(WatchArgs),
    /// Clear the local blocks the current tree no longer links to (JS `clearUnlinked`); print how many
    #[command(after_help = "\
Examples:
  ferrocore bee clear-unlinked ./store            # keep only what the current version reads
  ferrocore bee clear-unlinked ./store --gte 1000 --lt 2000

Every get, list and diff of the current version answers as before; the history and older
versions then need the cleared blocks from a peer. Prints `cleared N blocks below L`.")]
    ClearUnlinked(ClearArgs),
}

/// `bee put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// The key.
    #[arg(value_name = "KEY", allow_hyphen_values = true)]
    pub key: String,
    /// The value.
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    pub value: String,
}

/// `bee get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// The key.
    #[arg(value_name = "KEY", allow_hyphen_values = true)]
    pub key: String,
    /// Read the bee as it was at this version (a length of the core).
    #[arg(long, value_name = "V")]
    pub checkout: Option<u64>,
}

/// `bee del`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// The key.
    #[arg(value_name = "KEY", allow_hyphen_values = true)]
    pub key: String,
}

/// `bee list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// Key bounds.
    #[command(flatten)]
    pub bounds: KeyBounds,
    /// Direction, limit, output.
    #[command(flatten)]
    pub walk: Walk,
    /// Read the bee as it was at this version.
    #[arg(long, value_name = "V")]
    pub checkout: Option<u64>,
}

/// Key bounds of `list` and `watch`.
#[derive(Debug, Clone, Args)]
pub struct KeyBounds {
    /// Keys after K.
    #[arg(
        long,
        value_name = "K",
        allow_hyphen_values = true,
        conflicts_with = "gte"
    )]
    pub gt: Option<String>,
    /// Keys from K on.
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    pub gte: Option<String>,
    /// Keys before K.
    #[arg(
        long,
        value_name = "K",
        allow_hyphen_values = true,
        conflicts_with = "lte"
    )]
    pub lt: Option<String>,
    /// Keys up to K.
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    pub lte: Option<String>,
}

/// Where a live command follows the bee's writer from.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Replicate from the peer at HOST:PORT (a `ferrocore serve`, or any peer of the
    /// core): its new blocks come in as it writes, and reads fetch the blocks they need.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
}

/// How `list` and `history` walk and print.
#[derive(Debug, Clone, Args)]
pub struct Walk {
    /// Backwards: largest key (`list`) or newest block (`history`) first.
    #[arg(long)]
    pub reverse: bool,
    /// At most N entries.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// JSON lines: {"seq","key","value"} (`list`), {"seq","type","key","value"} (`history`).
    #[arg(long)]
    pub json: bool,
}

/// `bee batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
}

/// `bee history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// Which blocks.
    #[command(flatten)]
    pub seqs: SeqBounds,
    /// Direction, limit, output.
    #[command(flatten)]
    pub walk: Walk,
    /// Keep going: print each block written from now on too, until SIGTERM/SIGINT
    /// (`--lt` and `--reverse` do not apply).
    #[arg(long, conflicts_with_all = ["lt", "reverse"])]
    pub live: bool,
    /// The writer to follow (with --live).
    #[command(flatten)]
    pub remote: Remote,
}

/// `bee watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// The keys watched (all by default).
    #[command(flatten)]
    pub bounds: KeyBounds,
    /// JSON lines {"current","previous","truncated"}.
    #[arg(long)]
    pub json: bool,
    /// Start from version 1 (JS `eager`): the keys already there are a first change.
    #[arg(long)]
    pub eager: bool,
    /// The writer to follow.
    #[command(flatten)]
    pub remote: Remote,
}

/// `bee clear-unlinked`.
#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// Which blocks (by default 1 up to the version − 1: all but the root's).
    #[command(flatten)]
    pub seqs: SeqBounds,
}

/// Block bounds of `history` and `clear-unlinked`.
#[derive(Debug, Clone, Args)]
pub struct SeqBounds {
    /// From block N on (negative: counted back from the version).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub gte: Option<i64>,
    /// Before block N (negative: counted back from the version).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub lt: Option<i64>,
}

/// `bee diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Store, core and encodings.
    #[command(flatten)]
    pub common: BeeCommon,
    /// The versions compared.
    #[command(flatten)]
    pub versions: crate::args::VersionRange,
    /// JSON lines {"key","left","right"}.
    #[arg(long)]
    pub json: bool,
}
