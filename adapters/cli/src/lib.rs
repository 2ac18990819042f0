//! # ferrocore-cli
//!
//! The `ferrocore` command line: create a Hypercore core, append to it, read it, serve it
//! over TCP and clone it from a peer — ferrocore's or the JS reference's (hypercore
//! 11.37.1 over a raw socket: Noise XX, secret-stream, protomux, `hypercore/alpha`; the
//! side that connects is the Noise initiator). It runs on the blocking adapter
//! ([`ferrocore_blocking::Node`]) and the persistent store ([`ferrocore_storage::Store`],
//! durable writes).
//!
//! ```text
//! ferrocore create <DIR> [--compat] [--encryption-key <HEX64>] [--json]
//! ferrocore append <DIR> [<TEXT>...] [--encryption-key <HEX64>]
//! ferrocore info <DIR> [--json] [--encryption-key <HEX64>]
//! ferrocore get <DIR> <INDEX> [--encryption-key <HEX64>]
//! ferrocore cat <DIR> [--start N] [--end N] [--index] [--encryption-key <HEX64>]
//! ferrocore truncate <DIR> <LENGTH>
//! ferrocore serve <DIR> --listen <HOST:PORT> [--append-stdin] [--encryption-key <HEX64>]
//! ferrocore clone <DIR> <KEY> --connect <HOST:PORT> [--blocks <I,J,...>] [--live]
//!                 [--encryption-key <HEX64>] [--timeout <SECS>]
//! ```
//!
//! `ferrocore --help` and `ferrocore <command> --help` describe each command with
//! examples. In short:
//!
//! - `create` makes a new writable core in DIR (the directory is created if missing; an
//!   existing core is an error) and prints `key <hex>` (`--json`: `{"key", "discoveryKey",
//!   "id"}`).
//! - `append` appends each TEXT as one block (one signature for all), printing `length
//!   <n>`; with no TEXT each line of stdin (without its `\n` or `\r\n`) becomes a block,
//!   and `length <n>` is printed and flushed once that block is durably stored.
//! - `info --json` prints `{"key", "discoveryKey", "id", "length", "contiguousLength",
//!   "byteLength", "fork", "writable"}` (keys in lowercase hex, `id` in z-base-32).
//! - `get` writes block INDEX's bytes to stdout; `cat` writes every locally stored block
//!   of `[start, end)` (default: all), each followed by `\n` (`--index`: as
//!   `<index>\t<block>`), and lists the blocks it skipped (not stored locally) on stderr;
//!   `truncate` cuts the core to LENGTH blocks (a new fork).
//! - `serve` prints `key <hex>` and `listening <HOST:PORT>` (the bound port), serves every
//!   peer that connects, appends stdin's lines with `--append-stdin`, and exits 0 on
//!   SIGTERM or SIGINT after closing each connection in order. An encrypted core is
//!   served without its key; `--encryption-key` is needed only with `--append-stdin`.
//! - `clone` opens (or creates) the read-only core KEY in DIR, connects, learns the
//!   peer's length and downloads every block below it (or only `--blocks`), verifying
//!   all of it against KEY, and exits 0. With `--live` it then prints `Block <i>: <text>`
//!   for every newer block as it is verified, until SIGTERM or SIGINT (exit 0); after a
//!   truncation it prints `Truncated to length <n> ...` and the new fork's blocks from
//!   `<n>`, and what it printed is durable within a second. `--timeout` (default 30 s, 0
//!   for none) bounds connecting and each stretch of the download without progress, not
//!   the whole download. A progress line is drawn on stderr when it is a terminal.
//!
//! KEY is 64 hex characters (either case) or the 52-character z-base-32 id that `info`
//! prints ([`keys::parse_key`]).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success (also `serve` and `clone --live` ended by SIGTERM/SIGINT) |
//! | 1 | an error without a code of its own: no core in DIR, a core exists already, a read-only core, a wrong or missing encryption key, storage failure |
//! | 2 | usage: malformed arguments (clap), e.g. a bad key or index |
//! | 3 | not found: the block is not stored locally (`get`), or the peer's core has no such block (`clone --blocks`) |
//! | 4 | the peer misbehaved: data that failed verification, a wrong capability, malformed messages |
//! | 5 | network: connecting or listening failed, or the connection was lost |
//! | 6 | `clone --timeout` passed: connecting took too long, or the download made no progress |
//! | 128 + signal | `clone` without `--live` interrupted (130: SIGINT, 143: SIGTERM) |
//!
//! They are the constants of [`exit`]; every [`Error`] knows its own
//! ([`Error::exit_code`]). Messages go to stderr and say what to do where they can.
//!
//! # A core directory
//!
//! DIR holds one core: the store's database `core.db` (and `core.db-data`, `core.db-wal`
//! beside it) and the marker `ferrocore.json`, which names the core key and, for an
//! encrypted core, a check value of the encryption key (never the key). The writer's key
//! pair persists in the core's header inside the database (the log stores it), so on Unix
//! the directory `create` makes is mode 0700 and the database files mode 0600. An
//! encryption key is not stored: commands that read, append or serve blocks of an
//! encrypted core need `--encryption-key` again, and a wrong one is refused.
//!
//! The store locks its database for one process at a time: while `serve` or `clone` runs
//! on DIR, other commands on the same DIR fail (exit 1, saying so) until it stops.
//! `serve --append-stdin` is the way to append while serving.
//!
//! # Use as a library
//!
//! The binary is `main.rs` around [`run`]:
//!
//! ```no_run
//! use clap::Parser;
//!
//! let cli = ferrocore_cli::Cli::parse();
//! if let Err(e) = ferrocore_cli::run(&cli) {
//!     eprintln!("ferrocore: {e}");
//!     std::process::exit(i32::from(e.exit_code()));
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod args;
mod dir;
mod error;
pub mod keys;
mod local;
mod net;
mod pick;

use std::io::{BufWriter, Write};

pub use args::{Cli, Command};
pub use error::{exit, Error};

/// Runs one command, writing its output to stdout (and reading stdin where the command
/// does).
///
/// # Errors
/// Whatever stopped the command; [`Error::exit_code`] is the process exit code.
pub fn run(cli: &Cli) -> Result<(), Error> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let result = run_with(cli, &mut out);
    let flushed = out.flush();
    result?;
    flushed.map_err(Error::from)
}

fn run_with(cli: &Cli, out: &mut dyn Write) -> Result<(), Error> {
    match &cli.command {
        Command::Create(a) => local::create(a, out),
        Command::Append(a) => local::append(a, out),
        Command::Info(a) => local::info(a, out),
        Command::Get(a) => local::get(a, out),
        Command::Cat(a) => local::cat(a, out),
        Command::Truncate(a) => local::truncate(a, out),
        Command::Serve(a) => net::serve(a, out),
        Command::Clone(a) => net::clone(a, out),
        Command::Cores(a) => local::cores(a, out),
    }
}
