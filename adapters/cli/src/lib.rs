//! # ferrocore-cli
//!
//! The `ferrocore` command line: create Hypercore cores in a store, append to them, read
//! them, serve them over TCP and clone them from a peer — ferrocore's or the JS
//! reference's (hypercore 11.37.1 over a raw socket: Noise XX, secret-stream, protomux,
//! `hypercore/alpha`; the side that connects is the Noise initiator). Cores created by
//! name have the keys JS corestore 7.12.5 derives. It runs on the blocking adapter
//! ([`ferrocore_blocking::Node`]), the store of many cores ([`ferrocore_store::Corestore`]
//! while serving) and the persistent database ([`ferrocore_storage::Store`], durable
//! writes).
//!
//! ```text
//! ferrocore create <DIR> [--compat] [--encryption-key <HEX64>] [--json]
//!                  [--name <NAME> [--namespace <NS>]...] [--primary-key <HEX64>]
//! ferrocore append <DIR> [<TEXT>...] [<CORE>] [--encryption-key <HEX64>]
//! ferrocore info <DIR> [--json] [<CORE>] [--encryption-key <HEX64>]
//! ferrocore get <DIR> <INDEX> [<CORE>] [--encryption-key <HEX64>]
//! ferrocore cat <DIR> [--start N] [--end N] [--index] [<CORE>] [--encryption-key <HEX64>]
//! ferrocore truncate <DIR> <LENGTH> [<CORE>]
//! ferrocore cores <DIR> [--json]
//! ferrocore serve <DIR> (--listen <HOST:PORT> | --swarm [--bootstrap <HOST:PORT,...>])...
//!                 [<CORE>] [--append-stdin] [--encryption-key <HEX64>]
//! ferrocore clone <DIR> <KEY> (--connect <HOST:PORT> | --swarm [--bootstrap ...])
//!                 [--add] [--blocks <I,J,...>] [--live]
//!                 [--encryption-key <HEX64>] [--timeout <SECS>]
//! ferrocore dht --listen <HOST:PORT> [--bootstrap <HOST:PORT,...> | --bootstrap none]
//!               [--persistent]
//! ferrocore bee put <DIR> <KEY> <VALUE> | get <DIR> <KEY> [--checkout V] | del <DIR> <KEY>
//! ferrocore bee list <DIR> [--gt K] [--gte K] [--lt K] [--lte K] [--reverse] [--limit N]
//!                    [--json] [--checkout V]
//! ferrocore bee batch <DIR>            (JSON lines on stdin: {"put":[K,V]} / {"del":K})
//! ferrocore bee history <DIR> [--gte N] [--lt N] [--reverse] [--limit N] [--json]
//! ferrocore bee diff <DIR> --from V [--to V] [--json]
//!     each bee command: [<CORE>] [--key-encoding utf-8|hex|json] [--value-encoding ...]
//! ferrocore drive create <DIR> [--primary-key <HEX64>] [--json]
//! ferrocore drive put <DIR> <PATH> [<FILE>] [--executable] [--metadata <JSON>]
//! ferrocore drive get <DIR> <PATH> [--checkout V]
//! ferrocore drive ls <DIR> [<PATH>] [--recursive] [--json] [--checkout V]
//! ferrocore drive rm <DIR> <PATH> | symlink <DIR> <PATH> <TARGET> [--metadata <JSON>]
//! ferrocore drive info <DIR> [--json] | diff <DIR> --from V [--to V] [--json]
//! ferrocore drive import|export <DIR> <FOLDER> [--prune] [--dry-run] [--path P]...
//!     each drive command but create: [--drive <KEY>]
//! ferrocore clone <DIR> <KEY> ... [--paths <PATH,...>]   (a drive: only those contents)
//!
//! <CORE>: --name <NAME> [--namespace <NS>]... | --core <NAME|KEY>   (default: the default core)
//! ```
//!
//! `ferrocore --help` and `ferrocore <command> --help` describe each command with
//! examples. In short:
//!
//! - `create` makes a new writable core in the store DIR (the directory is created if
//!   missing) and prints `key <hex>` (`--json`: `{"key", "discoveryKey", "id"}`). Without
//!   `--name` its key pair is random and DIR must not have a default core yet; with
//!   `--name NAME` (and `--namespace NS`, repeated for nested namespaces) the key pair is
//!   the one JS corestore 7 derives from the store's primary key, the namespaces and NAME
//!   (`store.namespace(NS).get({ name: NAME })`), DIR may hold other cores, and a name
//!   already taken is an error. `--primary-key` gives a new store its primary key (else
//!   random) and must match an existing store's.
//! - `append` appends each TEXT as one block (one signature for all), printing `length
//!   <n>`; with no TEXT each line of stdin (without its `\n` or `\r\n`) becomes a block,
//!   and `length <n>` is printed and flushed once that block is durably stored.
//! - `info --json` prints `{"key", "discoveryKey", "id", "length", "contiguousLength",
//!   "byteLength", "fork", "writable"}` (keys in lowercase hex, `id` in z-base-32).
//! - `get` writes block INDEX's bytes to stdout; `cat` writes every locally stored block
//!   of `[start, end)` (default: all), each followed by `\n` (`--index`: as
//!   `<index>\t<block>`), and lists the blocks it skipped (not stored locally) on stderr;
//!   `truncate` cuts the core to LENGTH blocks (a new fork).
//! - `cores` lists every core of the store, one a line; `--json` prints `{"name", "key",
//!   "discoveryKey", "length", "contiguousLength", "writable"}` per core (`name` null for
//!   a core not created by name).
//! - `serve` prints `key <hex>` (of the picked core) and `listening <HOST:PORT>` (the bound
//!   port), and serves every core of the store to every peer that connects: the picked
//!   core is opened at once, the others when a peer asks for them (a core the store does
//!   not hold is refused). `--append-stdin` appends stdin's lines to the picked core. It
//!   exits 0 on SIGTERM or SIGINT after closing each connection in order. Cores are served
//!   as stored (encrypted blocks stay encrypted).
//! - `clone` opens (or creates) the read-only core KEY in the store DIR, connects, learns
//!   the peer's length and downloads every block below it (or only `--blocks`), verifying
//!   all of it against KEY, and exits 0. A store that holds other cores but not KEY
//!   refuses it without `--add`; cloning KEY again resumes without it. With `--live` it
//!   then prints `Block <i>: <text>` for every newer block as it is verified, until
//!   SIGTERM or SIGINT (exit 0); after a truncation it prints `Truncated to length <n>
//!   ...` and the new fork's blocks from `<n>`, and what it printed is durable within a
//!   second. `--timeout` (default 30 s, 0 for none) bounds connecting and each stretch of
//!   the download without progress, not the whole download. A progress line is drawn on
//!   stderr when it is a terminal.
//! - `dht` runs a HyperDHT node (dht-rpc over UDP) and prints `listening <HOST:PORT>`
//!   and `id <hex>`; with `--bootstrap none` (or `--persistent`) it is persistent from
//!   the start, as JS's bootstrap nodes are, so JS nodes can bootstrap from it. The
//!   default bootstrap list is JS HyperDHT's public nodes ([`args::DEFAULT_BOOTSTRAP`]).
//! - `bee` works on the Hyperbee of the picked core ([`bee`]; the blocks JS hyperbee 2.27.3
//!   writes): `put` and `del` write one block (a writable empty core gets the header
//!   first), `batch` applies stdin's JSON lines as one append (nothing if a line is
//!   malformed), `get` prints exactly the value's bytes (exit 3 if absent), `list` prints
//!   `key<TAB>value` lines (`--json`: `{"seq","key","value"}`), `history` prints
//!   `seq<TAB>put<TAB>key<TAB>value` / `seq<TAB>del<TAB>key` (`--json`:
//!   `{"seq","type","key","value"}`) and `diff` prints the `put`/`del` lines that lead from
//!   version `--from` to `--to` (`--json`: `{"key","left","right"}`). Keys and values are
//!   UTF-8 unless `--key-encoding`/`--value-encoding` say hex or json. Reads use the
//!   blocks the store holds: a block a sparse clone lacks is exit 3.
//! - `drive` works on a Hyperdrive of the store ([`drive`]; the cores JS hyperdrive 13.3.4
//!   writes): `create` adds the core named `db` (key pair derived from the store's primary
//!   key, as `create --name db`) and its blobs core (key from the db's manifest, signed by
//!   the db's key pair), prints `key <hex>` (`--json`: `{"key","discoveryKey","contentKey",
//!   "id"}`), and makes the drive a new store's default core. The other commands use
//!   `--drive KEY`, else the core named `db`, else the default core (a clone). `put`
//!   streams FILE (or stdin) in 64 KiB blocks; `get` prints exactly the contents (exit 3 if
//!   absent, a symlink, or not stored locally); `ls` prints `KIND SIZE PATH` lines (KIND
//!   `f` file, `x` executable, `l` symlink with ` -> TARGET`, `d` folder without
//!   `--recursive`), `--json`: `{"path","size","executable","linkname","blob","metadata"}`
//!   (`blob` the stored id or null; a folder's path ends in `/`); `rm` deletes an entry
//!   (exit 3 if none); `symlink` stores a link; `info` prints the keys, version, db and
//!   blobs lengths (`--json`: `{"key","discoveryKey","contentKey","contentDiscoveryKey",
//!   "id","version","writable","dbLength","dbByteLength","blobsLength","blobsByteLength",
//!   "blobsHeld"}`); `diff` prints `put<TAB>PATH` / `del<TAB>PATH` from `--from` to `--to`
//!   (`--json`: `{"path","left","right"}`, each side `{"seq","key","value"}` or null).
//!   Paths are normalised as JS does; a path naming the root or climbing above it is exit
//!   2. `clone` of a drive (block 0 a hyperbee header with metadata) also fetches the blobs
//!   core, whole or (`--paths`) only the contents of those files and folders, and prints
//!   `downloaded N blobs blocks` on stderr; `serve` serves both cores. `import` mirrors a
//!   local folder into the drive and `export` the drive into one, with JS mirror-drive's
//!   rules ([`ferrocore_mirror`]; `--prune` deletes what the source lacks, `--dry-run`
//!   lists `add|change|remove<TAB>PATH<TAB>BYTES` and writes nothing, `--path` limits it to
//!   a folder or file), drawing a progress line on a terminal and ending with `added N
//!   changed N removed N bytes N` on stderr (mirror-drive's counts).
//!
//! KEY is 64 hex characters (either case) or the 52-character z-base-32 id that `info`
//! prints ([`keys::parse_key`]).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success (also `serve` and `clone --live` ended by SIGTERM/SIGINT) |
//! | 1 | an error without a code of its own: no core in DIR, no such core name or key in the store, a core (or name) exists already, a read-only core, a wrong or missing encryption key, DIR busy, storage failure |
//! | 2 | usage: malformed arguments (clap), e.g. a bad key or index; a drive path naming the root or climbing above it; `--paths` for a core that is not a drive |
//! | 3 | not found: the block is not stored locally (`get`, `bee`, `drive`), the peer's core has no such block (`clone --blocks`), the key is absent (`bee get`), or the file is absent or a symlink (`drive get`, `drive rm`) |
//! | 4 | the peer misbehaved: data that failed verification, a wrong capability, malformed messages |
//! | 5 | network: connecting or listening failed, or the connection was lost |
//! | 6 | `clone --timeout` passed: connecting took too long, or the download made no progress |
//! | 7 | `bee`, `drive`: the core is not a hyperbee / drive (block 0 is not a hyperbee header), or its blocks are damaged |
//! | 128 + signal | `clone` without `--live` interrupted (130: SIGINT, 143: SIGTERM) |
//!
//! They are the constants of [`exit`]; every [`Error`] knows its own
//! ([`Error::exit_code`]). Messages go to stderr and say what to do where they can.
//!
//! # A store directory
//!
//! DIR is a store: one database `core.db` (and `core.db-data`, `core.db-wal` beside it)
//! for any number of cores, and the marker `ferrocore.json`, which names the store's
//! default core (the first core created or cloned into it) and, if that core is
//! encrypted, a check value of its encryption key (never the key). Commands work on the
//! default core unless `--name NAME [--namespace NS]...` picks a core created by name or
//! `--core` picks any core by key (hex or z-base-32 id) or by a name in the root
//! namespace; an unknown name or key is an error (exit 1) that points at `cores`.
//!
//! The database holds the store's primary key (from which the key pairs of named cores
//! are derived), every writer's key pair, the names, and every encryption key given to
//! `create` or `clone`: later commands need no `--encryption-key` (one that is given
//! must be the remembered one). So on Unix the directory `create` or `clone` makes is
//! mode 0700 and the database files mode 0600. `create --primary-key` exists for interop
//! with a JS store and for recovery only: whoever knows the primary key can sign for
//! every named core of the store.
//!
//! One process at a time writes to a store: while `serve` or `clone` runs on DIR,
//! `append`, `truncate`, `create` and `clone` on it fail (exit 1, saying so) until it
//! stops; `serve --append-stdin` is the way to append while serving. `info`, `get`,
//! `cat` and `cores` open the store read-only, so they work beside a running process and
//! show what it had durably stored when they started.
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
pub mod bee;
mod dir;
pub mod drive;
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
        Command::Dht(a) => net::dht(a, out),
        Command::Bee(a) => bee::run(a, out),
        Command::Drive(a) => drive::run(a, out),
    }
}
