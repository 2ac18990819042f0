//! The command line, as [`clap`] derive types: [`Cli`] and one argument struct per
//! subcommand. Parse with [`clap::Parser::parse`] and hand the result to
//! [`run`](crate::run).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::keys::{parse_encryption_key, parse_key};

/// A core name (`--name`): at most [`ferrocore_storage::MAX_NAME_LEN`] bytes, as the store
/// keeps them.
fn parse_name(s: &str) -> Result<String, String> {
    let max = ferrocore_storage::MAX_NAME_LEN;
    if s.len() > max {
        return Err(format!(
            "a core name is at most {max} bytes, not {}",
            s.len()
        ));
    }
    Ok(s.to_owned())
}

/// Exit codes, shown under `ferrocore --help` (see [`crate::exit`]).
const EXIT_CODES: &str = "\
Exit codes:
  0    success (also after SIGTERM/SIGINT for `serve` and `clone --live`)
  1    error: no core in DIR, no such core name or key in the store, a core (or name) exists
       already, read-only core, wrong encryption key, DIR busy, storage failure, ...
  2    usage: bad arguments (a malformed key, index or option; a drive path naming the
       root or climbing above it)
  3    not found: the block is not stored locally (`get`, `bee`, `drive`), the peer's core
       has no such block (`clone --blocks`), the key is absent (`bee get`), or the file is
       absent or a symlink (`drive get`, `drive rm`)
  4    the peer misbehaved: it sent data that failed verification, a wrong capability or
       malformed messages
  5    network: could not connect or listen, or the connection was lost
  6    timed out (`clone --timeout`: connecting, or the download made no progress)
  7    `bee`, `drive`: the core is not a hyperbee / drive, or its blocks are damaged
  130  `clone` (without --live) interrupted by SIGINT before it finished (143: SIGTERM)";

const TOP_EXAMPLES: &str = "\
Examples:
  ferrocore create ./writer
  ferrocore append ./writer hello world
  ferrocore serve ./writer --listen 127.0.0.1:4000 --append-stdin
  ferrocore clone ./reader <KEY> --connect 127.0.0.1:4000 --live
  ferrocore cat ./reader
  ferrocore create ./writer --name chat --namespace rooms   # another core in the same store
  ferrocore append ./writer --name chat --namespace rooms hi
  ferrocore cores ./writer
  ferrocore drive create ./site && ferrocore drive put ./site /index.html index.html
  ferrocore clone ./copy <DRIVE KEY> --connect 127.0.0.1:4000 --paths /docs   # a sparse drive

A DIR is a store: one database (core.db, with core.db-data and core.db-wal beside it) for
any number of cores, and ferrocore.json naming its default core (the first one created or
cloned into it). Commands work on the default core unless --name NAME [--namespace NS]...
(a core created by name) or --core NAME|KEY picks another; `cores` lists them all. A core
created with --name has the key pair JS corestore 7 derives from the store's primary key,
its namespaces and NAME (`store.namespace(NS).get({ name })`); `create --primary-key`
sets that key for a new store, for interop and recovery only: whoever knows it can sign
for every named core. `clone --add` adds a core to a store that holds others.

The database holds every writer's key pair and every encryption key given to `create` or
`clone` (never ferrocore.json), so later commands need no --encryption-key: keep DIR
private (its files are mode 0600 on Unix).

One process at a time may write to a DIR: while `serve` or `clone` runs on it, `append`,
`truncate`, `create` and `clone` on it fail until it stops (use `serve --append-stdin` to
append while serving); `info`, `get`, `cat` and `cores` open it read-only and show what
that process had durably stored when they started.

KEY is a core key as 64 hex characters (either case) or as its 52-character z-base-32 id
(as `ferrocore info` prints both).";

/// `ferrocore`: create, append to, read, serve and clone Hypercore cores.
#[derive(Debug, Parser)]
#[command(
    name = "ferrocore",
    version,
    about = "Create, append to, read, serve and clone Hypercore cores in stores (wire-compatible with JS hypercore 11 and corestore 7)",
    after_help = format!("{TOP_EXAMPLES}\n\n{EXIT_CODES}"),
    propagate_version = true
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new writable core in the store DIR (created if missing); prints `key <hex>`
    #[command(after_help = "\
Examples:
  ferrocore create ./mycore
  ferrocore create ./mycore --json
  ferrocore create ./legacy --compat
  ferrocore create ./secret --encryption-key $(openssl rand -hex 32)
  ferrocore create ./store --name feed                    # JS store.get({ name: 'feed' })
  ferrocore create ./store --name feed --namespace app    # store.namespace('app').get(...)
  ferrocore create ./store --primary-key <HEX64> --name feed

Without --name, a new random key pair; fails (exit 1) if DIR already has a default core.
With --name, the key pair JS corestore 7 derives from the store's primary key, the
namespaces and NAME, so the same primary key and name give the same core key in ferrocore
and in JS; DIR may hold other cores, and fails (exit 1) if the name is taken. The first
core of a store becomes its default core.

--primary-key sets the primary key of a new store (otherwise random); an existing store
with another one refuses it. It is for interop with a JS store and for recovery only:
whoever knows it can sign for every named core of the store.

--encryption-key is remembered in the store's database (not in ferrocore.json): later
commands need not pass it.")]
    Create(CreateArgs),

    /// Append blocks: each TEXT, or each line of stdin (printing `length <n>` as each is stored)
    #[command(after_help = "\
Examples:
  ferrocore append ./mycore hello world      # two blocks, one signature; prints `length <n>`
  printf 'a\\nb\\n' | ferrocore append ./mycore  # one block per line, `length <n>` after each
  ferrocore append ./store --name feed hello  # the core created with `--name feed`

With no TEXT, every line of stdin (without its \"\\n\" or \"\\r\\n\") becomes one block, and
`length <n>` is printed (and flushed) once the block is durably stored.")]
    Append(AppendArgs),

    /// Show the core's key, id, lengths, fork and whether it is writable
    #[command(after_help = "\
Examples:
  ferrocore info ./mycore
  ferrocore info ./mycore --json
  ferrocore info ./store --core <KEY>

--json prints one object: {\"key\",\"discoveryKey\",\"id\",\"length\",\"contiguousLength\",
\"byteLength\",\"fork\",\"writable\"} (keys as lowercase hex, id in z-base-32).")]
    Info(InfoArgs),

    /// Write block INDEX's bytes to stdout (exit 3 if it is not stored locally)
    #[command(after_help = "\
Examples:
  ferrocore get ./mycore 0
  ferrocore get ./mycore 42 > block42.bin
  ferrocore get ./store 0 --name feed --namespace app

Exit code 3 if block INDEX is not stored locally (beyond the length, or not downloaded).")]
    Get(GetArgs),

    /// Write every locally stored block in [start, end), each followed by a newline
    #[command(after_help = "\
Examples:
  ferrocore cat ./mycore
  ferrocore cat ./mycore --start 10 --end 20
  ferrocore cat ./sparse --index             # `<index>\\t<block>` per line
  ferrocore cat ./store --core feed          # a core named feed (root namespace)

Blocks that are not stored locally (a sparse clone) are skipped, and listed on stderr
(`skipped 3 blocks not stored locally: 0, 2, 4-5`; exit 0). --start defaults to 0, --end
to the length (and is capped at it). --index prefixes each block with its index and a tab,
so blocks that contain newlines or were skipped stay unambiguous.")]
    Cat(CatArgs),

    /// Truncate the core to LENGTH blocks (a new fork); prints `length <n>` and `fork <f>`
    #[command(after_help = "\
Examples:
  ferrocore truncate ./mycore 0
  ferrocore truncate ./mycore 10
  ferrocore truncate ./store 0 --name feed

Only the writer can truncate; readers that replicate the core follow the new fork.")]
    Truncate(TruncateArgs),

    /// Serve every core of the store to every peer that connects over TCP, until SIGTERM
    #[command(after_help = "\
Examples:
  ferrocore serve ./mycore --listen 127.0.0.1:4000
  ferrocore serve ./mycore --listen 0.0.0.0:0 --append-stdin
  ferrocore serve ./store --listen 127.0.0.1:4000 --name feed --append-stdin

Prints `key <hex>` of the picked core (the default core, or --name/--core), then
`listening <HOST:PORT>` (the real port when 0 was given), both flushed. The picked core is
opened at once; every other core of the store is opened when a peer asks for it (one
connection carries any number of cores, as with JS `store.replicate(stream)`), and a core
the store does not hold is refused. The connecting side is the Noise initiator, as with
JS `core.replicate(socket)` over a raw socket. With --append-stdin every line of stdin is
appended as a block to the picked core while serving (and peers get it live). Cores are
served as stored (an encrypted core's blocks stay encrypted); appending to an encrypted
core uses the key the store remembers (or --encryption-key, checked against it).

While serving, `info`, `get`, `cat` and `cores` on DIR still work (read-only); `append`,
`truncate`, `create` and `clone` on it fail. SIGTERM or SIGINT closes every connection in
order and exits 0.")]
    Serve(ServeArgs),

    /// Download (and verify) a core from a peer into DIR, optionally following it live
    #[command(after_help = "\
Examples:
  ferrocore clone ./copy <KEY> --connect 127.0.0.1:4000
  ferrocore clone ./copy dui9qm615zpd4b9qbnsdeekhoe984ys7dfsf8d47xk1rhyuipogo --connect 127.0.0.1:4000
  ferrocore clone ./copy <KEY> --connect 127.0.0.1:4000 --blocks 1,3,5
  ferrocore clone ./copy <KEY> --connect 127.0.0.1:4000 --live
  ferrocore clone ./copy <KEY> --connect host:4000 --timeout 0   # no time limit
  ferrocore clone ./store <KEY> --connect 127.0.0.1:4000 --add   # beside the store's cores
  ferrocore clone ./site <DRIVE KEY> --connect 127.0.0.1:4000 --paths /docs,/index.html

Opens the read-only core KEY in the store DIR (creating both if missing; the first core
of a new store is its default core), connects, learns the peer's length and downloads
every block below it (or only --blocks), verifying each against KEY. Exits 0 once done.
A store that holds other cores but not KEY refuses it unless --add is given; cloning KEY
again (to resume or catch up) needs no --add. --encryption-key is remembered in the
store, so later commands on the clone need not pass it.

When KEY is a drive (its block 0 is the hyperbee header JS hyperdrive writes), the clone
then opens the drive's blobs core in the store (its key follows from KEY's manifest) and
downloads it whole, or with --paths only the contents of those files and folders (the db
is downloaded whole), and prints `downloaded N blobs blocks` on stderr; `drive ls` and
`drive get` then read the clone (with --blocks: only those db blocks, no contents). --paths
on a core that is not a drive is exit 2.

--timeout (default 30 s; 0: no limit) bounds connecting and learning the length, and then
each stretch of the download without progress (no block stored and less than 16 KiB
received): a large or slow download may take as long as it keeps going.

With --live it then prints `Block <i>: <text>` (lossy UTF-8, flushed) for every block from
that length on as it arrives, until SIGTERM/SIGINT (exit 0). When the writer truncates
below what was printed, it prints `Truncated to length <n> (fork <f>): ...` and goes on
with the new fork's blocks from <n> (where its copy was cut: the writer's truncation
point, or earlier, at the last tree root both forks share). Printed blocks are stored
durably within a second (`durable through block <i>` on stderr), so a killed live clone
keeps them; without --live the download becomes durable when the clone ends.

Exit codes: 3 a --blocks index beyond the peer's length, 4 the peer sent data that failed
verification, 5 connecting failed or the connection was lost, 6 --timeout passed.")]
    Clone(CloneArgs),

    /// List the store's cores (name, key, discovery key, lengths, writable)
    #[command(after_help = "\
Examples:
  ferrocore cores ./store
  ferrocore cores ./store --json

Prints one line a core: key, length, contiguous length, writable or read-only, its name
(- if none) and (default) for the default core. --json prints one object a line:
{\"name\",\"key\",\"discoveryKey\",\"length\",\"contiguousLength\",\"writable\"}, \"name\"
being null for a core not created by name (created without --name, or cloned). Works
while `serve` or `clone` runs on DIR (read-only).")]
    Cores(CoresArgs),

    /// Run a HyperDHT node on UDP (a bootstrap node for others with --bootstrap none)
    #[command(after_help = "\
Examples:
  ferrocore dht --listen 127.0.0.1:49737 --bootstrap none   # a local network's first node
  ferrocore dht --listen 0.0.0.0:0                          # join JS HyperDHT's public network
  ferrocore dht --listen 127.0.0.1:0 --bootstrap 127.0.0.1:49737

Prints `listening <HOST:PORT>` (the real port when 0 was given), `id <hex>` (the node id:
at once for a bootstrap node, else once bootstrapped, when a persistent node knows its
address) and `bootstrapped <N>` (the nodes it then knows), each flushed; it runs until
SIGTERM or SIGINT (exit 0). Without --bootstrap it joins
JS HyperDHT's public bootstrap nodes; --bootstrap replaces them (HOST:PORT or JS's
IP@HOST:PORT, comma-separated). With --bootstrap none or --persistent the node is
persistent from the start, as JS's bootstrap nodes are: its id is the hash of its address
and other nodes add it to their routing tables. Exit 5 if the address cannot be bound.")]
    Dht(DhtArgs),

    /// Hyperbee: put, get, del, list, batch, history and diff on the bee of a core
    #[command(after_help = "\
Examples:
  ferrocore create ./store --name db
  ferrocore bee put ./store --core db greeting hello
  ferrocore bee get ./store --core db greeting            # hello (exit 3 if absent)
  ferrocore bee list ./store --core db --gte a --lt b --json
  ferrocore serve ./store --core db --listen 127.0.0.1:4000
  ferrocore clone ./copy <KEY> --connect 127.0.0.1:4000 && ferrocore bee get ./copy greeting
  ferrocore bee watch ./copy --connect 127.0.0.1:4000     # a line per change, until Ctrl-C

A bee is the B-tree JS hyperbee 2.27.3 writes on a core, block for block: either reads and
extends the other's bees, and `serve`/`clone` replicate them as any core. Keys and values
are UTF-8 text unless --key-encoding/--value-encoding say hex (any bytes) or json. Exit 7
if the core is not a hyperbee (block 0 is not a hyperbee header) or its blocks are
damaged; exit 3 if a key is absent or a block a read needs is not stored locally.")]
    Bee(crate::bee::args::BeeArgs),

    /// Hyperdrive: create a drive, put, get, ls, rm, symlink, info and diff its files
    #[command(after_help = "\
Examples:
  ferrocore drive create ./site                     # prints `key <hex>`
  ferrocore drive put ./site /index.html index.html
  echo hello | ferrocore drive put ./site /docs/hello.txt
  ferrocore drive ls ./site --recursive
  ferrocore drive get ./site /docs/hello.txt        # hello (exit 3 if absent)
  ferrocore serve ./site --listen 127.0.0.1:4000
  ferrocore clone ./copy <KEY> --connect 127.0.0.1:4000                 # both cores
  ferrocore clone ./sparse <KEY> --connect 127.0.0.1:4000 --paths /docs # only /docs's files

A drive is what JS hyperdrive 13.3.4 writes, block for block: a Hyperbee of entries on the
store's core named `db` (the drive key is its key) and a blobs core of contents whose key
follows from the db's manifest. `drive create --primary-key` with a JS store's primary key
gives the drive JS makes in that store. Drive commands use the core named `db`, else the
store's default core (a clone), unless --drive KEY picks one. Paths are normalised as JS
does; one naming the root or climbing above it is a usage error (exit 2). Exit 3 if a file
is absent or its blocks are not stored locally; exit 7 if the core is not a drive.")]
    Drive(crate::drive::args::DriveArgs),
}

/// JS HyperDHT's public bootstrap nodes (`hyperdht/lib/constants.js`, `IP@HOST:PORT`).
pub const DEFAULT_BOOTSTRAP: [&str; 3] = [
    "88.99.3.86@node1.hyperdht.org:49737",
    "142.93.90.113@node2.hyperdht.org:49737",
    "138.68.147.8@node3.hyperdht.org:49737",
];

/// `ferrocore dht`.
#[derive(Debug, Args)]
pub struct DhtArgs {
    /// The UDP address to listen on (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,
    /// The nodes to bootstrap from, comma-separated (default: JS HyperDHT's public
    /// nodes), or `none` for the first node of a network.
    #[arg(long, value_name = "HOST:PORT,...|none")]
    pub bootstrap: Option<String>,
    /// Be a persistent node from the start (not firewalled, id = hash of the address).
    #[arg(long)]
    pub persistent: bool,
}

/// Which core of the store in DIR a command works on: by default the store's default
/// core (the first one created or cloned into it).
#[derive(Debug, Clone, Default, Args)]
pub struct CoreSelect {
    /// The core created with `create --name NAME` (in --namespace's namespace).
    #[arg(long, value_name = "NAME", conflicts_with = "core", value_parser = parse_name)]
    pub name: Option<String>,
    /// The namespace of --name (JS `store.namespace(NS)`); repeat it for nested
    /// namespaces (`--namespace a --namespace b` is `store.namespace('a').namespace('b')`).
    #[arg(long, value_name = "NS", requires = "name")]
    pub namespace: Vec<String>,
    /// Any core of the store: its key (64 hex characters or the z-base-32 id), or a name
    /// in the root namespace.
    #[arg(long, value_name = "NAME|KEY", value_parser = parse_name)]
    pub core: Option<String>,
}

/// The versions a `diff` compares (`bee diff`, `drive diff`).
#[derive(Debug, Clone, Args)]
pub struct VersionRange {
    /// The older version.
    #[arg(long, value_name = "V")]
    pub from: u64,
    /// The newer version (default: the current one).
    #[arg(long, value_name = "V")]
    pub to: Option<u64>,
}

/// `ferrocore create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The store's directory (created if missing; without --name it must not hold a core).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Compat mode (hypercore 10 style: the core key is the writer's public key).
    #[arg(long)]
    pub compat: bool,
    /// Encrypt blocks with this 32-byte key (64 hex characters). The store remembers it
    /// (in its database, not in ferrocore.json): later commands need not pass it.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Print {"key","discoveryKey","id"} as JSON instead of `key <hex>`.
    #[arg(long)]
    pub json: bool,
    /// Add the core named NAME to the store (new or existing): its key pair is derived
    /// from the store's primary key, the namespace and NAME, as JS corestore 7's
    /// `store.get({ name })`; fails if the store has a core of that name.
    #[arg(long, value_name = "NAME", conflicts_with = "compat", value_parser = parse_name)]
    pub name: Option<String>,
    /// The namespace of --name (repeat it for nested namespaces).
    #[arg(long, value_name = "NS", requires = "name")]
    pub namespace: Vec<String>,
    /// The primary key of a new store (64 hex characters), for interop with a JS store
    /// and for recovery only: whoever knows it can sign for every named core. An existing
    /// store with another primary key refuses it.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub primary_key: Option<[u8; 32]>,
}

/// `ferrocore cores`.
#[derive(Debug, Args)]
pub struct CoresArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// One JSON object a line (the fields are listed below).
    #[arg(long)]
    pub json: bool,
}

/// `ferrocore append`.
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Blocks to append (each one block, its UTF-8 bytes). None: read lines from stdin.
    #[arg(value_name = "TEXT")]
    pub texts: Vec<String>,
    /// The core's encryption key: optional (the store remembers the one it was created or
    /// cloned with); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Print one JSON object instead of aligned lines.
    #[arg(long)]
    pub json: bool,
    /// The core's encryption key: optional (the store remembers it); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The block index (from 0).
    #[arg(value_name = "INDEX")]
    pub index: u64,
    /// The core's encryption key: optional (the store remembers the one it was created or
    /// cloned with); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore cat`.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The first block (default 0).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub start: u64,
    /// The block after the last one (default: the length).
    #[arg(long, value_name = "N")]
    pub end: Option<u64>,
    /// Prefix each block with its index and a tab (`<index>\t<block>`).
    #[arg(long)]
    pub index: bool,
    /// The core's encryption key: optional (the store remembers the one it was created or
    /// cloned with); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore truncate`.
#[derive(Debug, Args)]
pub struct TruncateArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The new length (at most the current one).
    #[arg(value_name = "LENGTH")]
    pub length: u64,
    /// The core's encryption key: optional (the store remembers it); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The TCP address to listen on (port 0: any free port); optional with --swarm.
    #[arg(long, value_name = "HOST:PORT", required_unless_present = "swarm")]
    pub listen: Option<String>,
    /// Also join the discovery key of every core of the store on the HyperDHT swarm (as
    /// a server) and replicate with whoever connects; prints `announced <hex>` per core.
    #[arg(long)]
    pub swarm: bool,
    /// The DHT nodes to bootstrap from with --swarm (HOST:PORT,...; default: JS
    /// HyperDHT's public nodes).
    #[arg(long, value_name = "HOST:PORT,...", requires = "swarm")]
    pub bootstrap: Option<String>,
    /// Append every line of stdin as a block while serving.
    #[arg(long)]
    pub append_stdin: bool,
    /// The picked core's encryption key: optional (the store remembers it; blocks are
    /// served as stored, encrypted); checked if given.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Which core of the store.
    #[command(flatten)]
    pub select: CoreSelect,
}

/// `ferrocore clone`.
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// The store's directory (created if missing; may hold an earlier clone of KEY, or
    /// other cores with --add).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The core key: 64 hex characters or the 52-character z-base-32 id.
    #[arg(value_name = "KEY", value_parser = parse_key)]
    pub key: [u8; 32],
    /// The peer to download from (or --swarm).
    #[arg(
        long,
        value_name = "HOST:PORT",
        required_unless_present = "swarm",
        conflicts_with = "swarm"
    )]
    pub connect: Option<String>,
    /// Find the peers through the HyperDHT swarm instead: join the core's discovery key as
    /// a client and download from whoever is found (exit 6 if none before --timeout).
    #[arg(long)]
    pub swarm: bool,
    /// The DHT nodes to bootstrap from with --swarm (HOST:PORT,...; default: JS
    /// HyperDHT's public nodes).
    #[arg(long, value_name = "HOST:PORT,...", requires = "swarm")]
    pub bootstrap: Option<String>,
    /// Download only these blocks (comma-separated indices).
    #[arg(long, value_name = "I,J,...", value_delimiter = ',', num_args = 1)]
    pub blocks: Option<Vec<u64>>,
    /// A drive: download its db whole but only the contents of these files and folders
    /// (comma-separated drive paths; a folder means every file under it).
    #[arg(
        long,
        value_name = "PATH,...",
        value_delimiter = ',',
        num_args = 1,
        conflicts_with = "blocks"
    )]
    pub paths: Option<Vec<String>>,
    /// After the download, keep running and print `Block <i>: <text>` for each new block
    /// (following the writer's truncations).
    #[arg(long)]
    pub live: bool,
    /// The core's encryption key (needed to read an encrypted core's blocks); the store
    /// remembers it.
    #[arg(long, value_name = "HEX64", value_parser = parse_encryption_key)]
    pub encryption_key: Option<[u8; 32]>,
    /// Seconds that connecting (and learning the peer's length) may take, and that the
    /// download may go without progress (0: no limit); not a bound on the whole download,
    /// nor on following with --live.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    pub timeout: u64,
    /// Add KEY to a store that already holds other cores (without it, a DIR whose
    /// default core is another core is refused).
    #[arg(long)]
    pub add: bool,
}
