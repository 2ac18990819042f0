//! The `ferrocore` binary end to end: every command's happy path and error paths, CLI to
//! CLI replication over loopback TCP (full, sparse, live, a peer without the core, a peer
//! that serves corrupted blocks), and replication with the real JS hypercore 11.37.1
//! (`tests/js/hypercore-peer.mjs`) in both directions.
//!
//! The JS tests need Node.js and `npm ci` in `tests/js`, as the workspace's other interop
//! tests do (`scripts/test` runs it); they fail, not skip, without them.

mod support;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use ferrocore::keys::KeyPair;
use ferrocore::log::{Log, LogOptions};
use ferrocore::replication::{CoreId, EndpointConfig};
use ferrocore::storage::{MemoryStorage, Storage, StorageError, StorageEstimate, WriteBatch};
use ferrocore::{hash, id};
use ferrocore_blocking::Node;
use ferrocore_cli::exit;
use ferrocore_cli::keys::parse_key;
use ferrocore_tests::js::{block_value, JsPeer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{create, info, run, run_with_stdin, s, serve, Proc, T};

const USAGE: i32 = exit::USAGE as i32;
const ERROR: i32 = exit::ERROR as i32;
const NOT_FOUND: i32 = exit::NOT_FOUND as i32;
const PEER: i32 = exit::PEER as i32;
const NETWORK: i32 = exit::NETWORK as i32;
const TIMEOUT: i32 = exit::TIMEOUT as i32;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn is_lower_hex64(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn key_bytes(hex_key: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut k).unwrap();
    k
}

/// A port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

// ----- help --------------------------------------------------------------------------------------

#[test]
fn help_lists_exit_codes_and_every_command_has_examples() {
    let top = run(&["--help"]).ok();
    assert!(top.contains("Exit codes:"), "{top}");
    for code in ["0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "6 "] {
        assert!(top.contains(&format!("\n  {code}")), "code {code} in {top}");
    }
    for cmd in [
        "create", "append", "info", "get", "cat", "truncate", "serve", "clone",
    ] {
        assert!(top.contains(cmd), "{cmd} listed in {top}");
        let help = run(&[cmd, "--help"]).ok();
        assert!(
            help.contains("Examples:") && help.contains(&format!("ferrocore {cmd} ")),
            "`{cmd} --help` has examples: {help}"
        );
    }
    // No command: clap's usage error.
    assert_eq!(run(&[]).code, Some(USAGE));
}

// ----- local commands ----------------------------------------------------------------------------

#[test]
fn create_prints_the_key_and_a_second_create_fails() {
    let t = tmp();
    let dir = t.path().join("new/nested");
    let key = create(&dir, &[]);
    assert!(is_lower_hex64(&Value::from(key.clone())), "{key}");
    assert!(dir.join("core.db").is_file() && dir.join("ferrocore.json").is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&dir) & 0o777, 0o700, "the directory is private");
        assert_eq!(
            mode(&dir.join("core.db")) & 0o777,
            0o600,
            "the database too"
        );
    }
    run(&["create", s(&dir)]).fails(ERROR, "already holds a core");
    // The first core is untouched.
    assert_eq!(info(&dir, &[])["key"], key);

    // --json, and the keys of two cores differ (random key pairs).
    let other = t.path().join("other");
    let v: Value = serde_json::from_str(&run(&["create", s(&other), "--json"]).ok()).unwrap();
    assert!(is_lower_hex64(&v["key"]) && is_lower_hex64(&v["discoveryKey"]));
    assert_ne!(v["key"], key);
    assert_eq!(v["id"], id::core_id(&key_bytes(v["key"].as_str().unwrap())));
}

#[test]
fn append_with_arguments_and_with_stdin_lines() {
    let t = tmp();
    let dir = t.path().join("c");
    create(&dir, &[]);
    assert_eq!(
        run(&["append", s(&dir), "hello", "wörld"]).ok(),
        "length 2\n"
    );
    let out = run_with_stdin(
        &["append", s(&dir)],
        Some(b"one\ntwo\r\n\nlast-without-newline"),
    );
    assert_eq!(out.ok(), "length 3\nlength 4\nlength 5\nlength 6\n");
    let cat = run(&["cat", s(&dir)]).ok();
    assert_eq!(cat, "hello\nwörld\none\ntwo\n\nlast-without-newline\n");
    assert_eq!(run(&["get", s(&dir), "4"]).stdout, b"");
    // Empty stdin appends nothing.
    assert_eq!(run(&["append", s(&dir)]).ok(), "");
    assert_eq!(info(&dir, &[])["length"], 6);
}

#[test]
fn append_from_stdin_reports_each_block_before_the_next_line_arrives() {
    let t = tmp();
    let dir = t.path().join("c");
    create(&dir, &[]);
    let mut p = Proc::spawn(&["append", s(&dir)]);
    for n in 1..=3 {
        p.write_line(&format!("line {n}"));
        // Printed (and flushed) once stored, while stdin is still open.
        assert_eq!(p.line(), format!("length {n}"));
    }
    p.close_stdin();
    assert!(p.wait().success());
    assert_eq!(run(&["cat", s(&dir)]).ok(), "line 1\nline 2\nline 3\n");
}

#[test]
fn info_json_has_every_field() {
    let t = tmp();
    let dir = t.path().join("c");
    let key = create(&dir, &[]);
    run(&["append", s(&dir), "a", "bb", "cccc"]).ok();
    let v = info(&dir, &[]);
    let mut fields: Vec<&String> = v.as_object().unwrap().keys().collect();
    fields.sort_unstable();
    let mut expected = [
        "byteLength",
        "contiguousLength",
        "discoveryKey",
        "fork",
        "id",
        "key",
        "length",
        "writable",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected, "exactly the 8 fields: {v}");
    assert_eq!(v["key"], key);
    assert!(is_lower_hex64(&v["key"]) && is_lower_hex64(&v["discoveryKey"]));
    let k = key_bytes(&key);
    assert_eq!(v["discoveryKey"], hex::encode(hash::discovery_key(&k)));
    // The id is the z-base-32 form of the key (`Log::id`), and decodes back to it.
    let id_str = v["id"].as_str().unwrap();
    assert_eq!(id_str.len(), 52);
    assert_eq!(id_str, id::core_id(&k));
    assert_eq!(parse_key(id_str), Ok(k));
    assert_eq!(v["length"], 3);
    assert_eq!(v["contiguousLength"], 3);
    assert_eq!(v["byteLength"], 7);
    assert_eq!(v["fork"], 0);
    assert_eq!(v["writable"], true);
    // The plain form names the same things.
    let plain = run(&["info", s(&dir)]).ok();
    assert!(plain.contains(&key) && plain.contains(id_str) && plain.contains("writable"));
}

#[test]
fn z32_ids_round_trip_with_log_id() {
    for seed in [0u8, 1, 7, 0x80, 0xff] {
        let log = Log::open(
            MemoryStorage::new(),
            LogOptions {
                key_pair: Some(KeyPair::from_seed(&[seed; 32])),
                ..LogOptions::default()
            },
        )
        .unwrap();
        assert_eq!(parse_key(&log.id()), Ok(*log.key()));
        assert_eq!(parse_key(&hex::encode(log.key())), Ok(*log.key()));
        assert_eq!(parse_key(&hex::encode_upper(log.key())), Ok(*log.key()));
    }
}

#[test]
fn get_and_cat_with_ranges() {
    let t = tmp();
    let dir = t.path().join("c");
    create(&dir, &[]);
    let blocks: Vec<String> = (0..6).map(|i| format!("block {i}")).collect();
    let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
    let mut args = vec!["append", s(&dir)];
    args.extend_from_slice(&refs);
    run(&args).ok();
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(run(&["get", s(&dir), &i.to_string()]).stdout, b.as_bytes());
    }
    assert_eq!(
        run(&["cat", s(&dir), "--start", "2", "--end", "4"]).ok(),
        "block 2\nblock 3\n"
    );
    assert_eq!(
        run(&["cat", s(&dir), "--start", "4"]).ok(),
        "block 4\nblock 5\n"
    );
    assert_eq!(run(&["cat", s(&dir), "--end", "1"]).ok(), "block 0\n");
    // --end is capped at the length; an empty range prints nothing.
    assert_eq!(
        run(&["cat", s(&dir), "--start", "5", "--end", "99"]).ok(),
        "block 5\n"
    );
    assert_eq!(
        run(&["cat", s(&dir), "--start", "3", "--end", "3"]).ok(),
        ""
    );
    run(&["cat", s(&dir), "--start", "4", "--end", "2"]).fails(USAGE, "--start 4 is after --end 2");
}

#[test]
fn truncate_shortens_and_forks() {
    let t = tmp();
    let dir = t.path().join("c");
    create(&dir, &[]);
    run(&["append", s(&dir), "a", "b", "c", "d"]).ok();
    assert_eq!(info(&dir, &[])["fork"], 0);
    assert_eq!(run(&["truncate", s(&dir), "2"]).ok(), "length 2\nfork 1\n");
    let v = info(&dir, &[]);
    assert_eq!(
        (v["length"].as_u64(), v["fork"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(v["byteLength"], 2);
    assert_eq!(run(&["cat", s(&dir)]).ok(), "a\nb\n");
    run(&["get", s(&dir), "2"]).fails(NOT_FOUND, "does not exist");
    // Appending continues on the new fork; truncating again forks again.
    assert_eq!(run(&["append", s(&dir), "x"]).ok(), "length 3\n");
    run(&["truncate", s(&dir), "0"]).ok();
    let v = info(&dir, &[]);
    assert_eq!(
        (v["length"].as_u64(), v["fork"].as_u64()),
        (Some(0), Some(2))
    );
    run(&["truncate", s(&dir), "1"]).fails(ERROR, "has only 0 blocks");
}

#[test]
fn the_writer_key_pair_persists_across_runs() {
    let t = tmp();
    let dir = t.path().join("c");
    let key = create(&dir, &[]);
    for i in 0..3 {
        assert_eq!(
            run(&["append", s(&dir), &format!("{i}")]).ok(),
            format!("length {}\n", i + 1)
        );
    }
    let v = info(&dir, &[]);
    assert_eq!(
        (v["key"].as_str(), v["writable"].as_bool()),
        (Some(&*key), Some(true))
    );
}

#[test]
fn encrypted_cores_remember_their_key() {
    // Issue 25 changed this contract: a core created (or cloned) with --encryption-key
    // remembers it in its store's database (beside the signing key), so later commands
    // need not pass it; a key that is passed must be the right one.
    let t = tmp();
    let dir = t.path().join("c");
    let ekey = "5a".repeat(32);
    let key = create(&dir, &["--encryption-key", &ekey]);
    assert!(!std::fs::read_to_string(dir.join("ferrocore.json"))
        .unwrap()
        .contains(&ekey));
    assert_eq!(run(&["append", s(&dir), "secret"]).ok(), "length 1\n");
    run(&[
        "append",
        s(&dir),
        "secret",
        "--encryption-key",
        &"5b".repeat(32),
    ])
    .fails(ERROR, "wrong encryption key");
    assert_eq!(
        run(&["append", s(&dir), "stuff", "--encryption-key", &ekey]).ok(),
        "length 2\n"
    );
    assert_eq!(run(&["get", s(&dir), "0"]).stdout, b"secret");
    assert_eq!(run(&["cat", s(&dir)]).ok(), "secret\nstuff\n");
    assert_eq!(
        run(&["get", s(&dir), "0", "--encryption-key", &ekey]).stdout,
        b"secret"
    );
    assert_eq!(
        run(&["cat", s(&dir), "--encryption-key", &ekey]).ok(),
        "secret\nstuff\n"
    );
    // info works without the key, and reports the byte length without padding.
    let v = info(&dir, &[]);
    assert_eq!(
        (v["key"].as_str(), v["byteLength"].as_u64()),
        (Some(&*key), Some(11))
    );
    assert_eq!(info(&dir, &["--encryption-key", &ekey])["byteLength"], 11);
    // A plain core refuses a key.
    let plain = t.path().join("plain");
    create(&plain, &[]);
    run(&["cat", s(&plain), "--encryption-key", &ekey]).fails(ERROR, "without an encryption key");
    // A malformed key is a usage error.
    run(&["create", s(&t.path().join("x")), "--encryption-key", "abc"]).fails(USAGE, "64 hex");
}

#[test]
fn compat_cores_use_the_public_key_as_core_key() {
    let t = tmp();
    let dir = t.path().join("c");
    let key = create(&dir, &["--compat"]);
    run(&["append", s(&dir), "x"]).ok();
    let plain = run(&["info", s(&dir)]).ok();
    assert!(plain.contains("compat            true"), "{plain}");
    assert_eq!(info(&dir, &[])["key"], key);
}

// ----- error paths -------------------------------------------------------------------------------

#[test]
fn missing_directory_and_directory_without_a_core() {
    let t = tmp();
    let missing = t.path().join("missing");
    for cmd in [
        vec!["info", s(&missing)],
        vec!["append", s(&missing), "x"],
        vec!["get", s(&missing), "0"],
        vec!["cat", s(&missing)],
        vec!["truncate", s(&missing), "0"],
        vec!["serve", s(&missing), "--listen", "127.0.0.1:0"],
    ] {
        run(&cmd).fails(ERROR, "no such directory");
    }
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for cmd in [
        vec!["info", s(&empty)],
        vec!["append", s(&empty), "x"],
        vec!["get", s(&empty), "0"],
        vec!["cat", s(&empty)],
        vec!["truncate", s(&empty), "0"],
        vec!["serve", s(&empty), "--listen", "127.0.0.1:0"],
    ] {
        let out = run(&cmd);
        out.fails(ERROR, "no core in");
        assert!(
            out.stderr.contains("ferrocore create"),
            "says what to do: {out:?}"
        );
    }
    // A file where a directory should be.
    let file = t.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    run(&["info", s(&file)]).fails(ERROR, "not a directory");
    run(&["create", s(&file)]).fails(ERROR, "not a directory");
    // A database without the marker (an interrupted create) is reported, not guessed at.
    let half = t.path().join("half");
    create(&half, &[]);
    std::fs::remove_file(half.join("ferrocore.json")).unwrap();
    run(&["info", s(&half)]).fails(ERROR, "no ferrocore.json");
    run(&["create", s(&half)]).fails(ERROR, "no ferrocore.json");
}

#[test]
fn bad_keys_are_usage_errors() {
    let t = tmp();
    let dir = t.path().join("c");
    let addr = format!("127.0.0.1:{}", dead_port());
    let good = create(&t.path().join("w"), &[]);
    let z32 = id::core_id(&key_bytes(&good));
    let cases = [
        ("abcd".to_owned(), "got 4 characters"),
        (good[..63].to_owned(), "got 63 characters"),
        (format!("{}0", good), "got 65 characters"),
        ("g".repeat(64), "not hex"),
        (z32.to_uppercase(), "not z-base-32"),
        (format!("{}0", &z32[..51]), "not z-base-32"),
        (format!("{}b", &z32[..51]), "padding bits"),
    ];
    for (key, why) in cases {
        let out = run(&["clone", s(&dir), &key, "--connect", &addr]);
        out.fails(USAGE, why);
        assert!(out.stderr.contains("<KEY>"), "names the argument: {out:?}");
    }
    assert!(!dir.exists(), "nothing is created for a bad key");
    // Bad numbers are usage errors too.
    run(&["get", s(&dir), "-1"]).fails(USAGE, "INDEX");
    run(&["get", s(&dir), "x"]).fails(USAGE, "INDEX");
    run(&[
        "clone",
        s(&dir),
        &good,
        "--connect",
        &addr,
        "--blocks",
        "1,x",
    ])
    .fails(USAGE, "--blocks");
}

#[test]
fn get_beyond_the_length_or_not_stored_is_not_found() {
    let t = tmp();
    let dir = t.path().join("c");
    create(&dir, &[]);
    run(&["append", s(&dir), "a", "b"]).ok();
    run(&["get", s(&dir), "2"]).fails(NOT_FOUND, "block 2 does not exist: the core in");
    run(&["get", s(&dir), "18446744073709551615"]).fails(NOT_FOUND, "has length 2");
}

#[test]
fn a_read_only_clone_cannot_append_or_truncate() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    run(&["append", s(&w), "a", "b", "c"]).ok();
    let (server, key, addr) = serve(&w, &[]);
    run(&["clone", s(&r), &key, "--connect", &addr]).ok();
    drop(server);
    assert_eq!(info(&r, &[])["writable"], false);
    run(&["append", s(&r), "x"]).fails(ERROR, "read-only");
    run(&["truncate", s(&r), "1"]).fails(ERROR, "read-only");
    let out = run(&["serve", s(&r), "--listen", "127.0.0.1:0", "--append-stdin"]);
    out.fails(ERROR, "read-only");
}

#[test]
fn an_unreachable_peer_is_a_network_error() {
    let t = tmp();
    let dir = t.path().join("c");
    let key = "ab".repeat(32);
    let addr = format!("127.0.0.1:{}", dead_port());
    let out = run(&[
        "clone",
        s(&dir),
        &key,
        "--connect",
        &addr,
        "--timeout",
        "10",
    ]);
    out.fails(NETWORK, &format!("could not connect to {addr}"));
    assert!(
        !dir.exists(),
        "a first clone that failed leaves no directory behind"
    );
    // An address that does not parse.
    run(&["clone", s(&dir), &key, "--connect", "no-port"]).fails(NETWORK, "cannot resolve");
    // Listening where one cannot.
    let w = t.path().join("w");
    create(&w, &[]);
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    run(&["serve", s(&w), "--listen", &busy_addr]).fails(NETWORK, "cannot listen on");
}

#[test]
fn a_peer_without_the_core_times_out_with_a_clear_message() {
    let t = tmp();
    let a = t.path().join("a");
    let b = t.path().join("b");
    let c = t.path().join("clone");
    create(&a, &[]);
    run(&["append", s(&a), "a"]).ok();
    let key_b = create(&b, &[]);
    let (server, _key_a, addr) = serve(&a, &[]);
    // The peer serves core A only: core B's channel is never opened.
    let out = run(&["clone", s(&c), &key_b, "--connect", &addr, "--timeout", "5"]);
    out.fails(TIMEOUT, "never opened core");
    assert!(out.stderr.contains("check KEY"), "{out:?}");
    assert!(!c.exists(), "nothing was kept");
    assert!(server.terminate().success());
}

#[test]
fn a_silent_peer_times_out_and_an_interrupted_clone_exits_with_the_signal() {
    // A TCP server that accepts and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let t = tmp();
    let dir = t.path().join("c");
    let key = "cd".repeat(32);
    let mut clone = Proc::spawn(&["clone", s(&dir), &key, "--connect", &addr, "--timeout", "1"]);
    let (_conn, _) = silent.accept().unwrap();
    assert_eq!(clone.wait().code(), Some(TIMEOUT));
    assert!(clone.rest_of_stderr().contains("no handshake with"));
    assert!(!dir.exists());

    // Without a time limit it waits until a signal; having connected, its handlers are
    // installed, and it exits with 128 + SIGTERM.
    let clone = Proc::spawn(&["clone", s(&dir), &key, "--connect", &addr, "--timeout", "0"]);
    let (_conn, _) = silent.accept().unwrap();
    assert_eq!(clone.terminate().code(), Some(128 + 15));
}

/// Storage whose blocks go out through `hook` (block index, stored bytes): a peer that
/// corrupts or delays what it serves. Everything else is the peer's genuine data.
struct Hooked {
    inner: MemoryStorage,
    hook: Box<dyn Fn(u64, Bytes) -> Bytes + Send>,
}

impl Storage for Hooked {
    fn header(&self) -> Result<Option<Bytes>, StorageError> {
        self.inner.header()
    }
    fn node(&self, index: u64) -> Result<Option<ferrocore::Node>, StorageError> {
        self.inner.node(index)
    }
    fn block(&self, index: u64) -> Result<Option<Bytes>, StorageError> {
        Ok(self.inner.block(index)?.map(|b| (self.hook)(index, b)))
    }
    fn bitfield_pages(&self) -> Result<Vec<(u64, Bytes)>, StorageError> {
        self.inner.bitfield_pages()
    }
    fn write(&mut self, batch: WriteBatch) -> Result<(), StorageError> {
        self.inner.write(batch)
    }
    fn estimate(&self) -> Result<StorageEstimate, StorageError> {
        self.inner.estimate()
    }
}

/// An in-process writer serving `blocks` (`<prefix> <i>`) through `hook`, listening on
/// 127.0.0.1; its node, core, key (hex) and address.
fn hooked_writer(
    seed: u8,
    prefix: &str,
    blocks: u64,
    hook: impl Fn(u64, Bytes) -> Bytes + Send + 'static,
) -> (Node<Hooked>, CoreId, String, String) {
    let storage = Hooked {
        inner: MemoryStorage::new(),
        hook: Box::new(hook),
    };
    let options = LogOptions {
        key_pair: Some(KeyPair::from_seed(&[seed; 32])),
        ..LogOptions::default()
    };
    let mut log = Log::open(storage, options).unwrap();
    let blocks: Vec<String> = (0..blocks).map(|i| format!("{prefix} {i}")).collect();
    log.append_batch(blocks.iter().map(String::as_bytes))
        .unwrap();
    let key = hex::encode(log.key());
    let node = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    let addr = node.listen("127.0.0.1:0").unwrap().to_string();
    (node, core, key, addr)
}

#[test]
fn a_peer_that_serves_corrupted_blocks_fails_verification() {
    // Block 3 goes out with its first byte flipped: the peer's handshake, capability,
    // tree nodes and signature are all genuine; only that block's bytes lie.
    let (node, _, key, addr) = hooked_writer(0x17, "honest block", 6, |i, b| {
        if i != 3 {
            return b;
        }
        let mut v = b.to_vec();
        v[0] ^= 1;
        Bytes::from(v)
    });
    let t = tmp();
    let dir = t.path().join("clone");
    let out = run(&[
        "clone",
        s(&dir),
        &key,
        "--connect",
        &addr,
        "--timeout",
        "30",
    ]);
    out.fails(PEER, "sent data that failed verification");
    // Block 3 was never stored; a clone of only the honest blocks works.
    if dir.exists() {
        run(&["get", s(&dir), "3"]).fails(NOT_FOUND, "not stored locally");
    }
    run(&[
        "clone",
        s(&dir),
        &key,
        "--connect",
        &addr,
        "--blocks",
        "0,5",
    ])
    .ok();
    assert_eq!(
        run(&["cat", s(&dir)]).ok().lines().next(),
        Some("honest block 0")
    );
    assert_eq!(run(&["get", s(&dir), "5"]).stdout, b"honest block 5");
    run(&["get", s(&dir), "3"]).fails(NOT_FOUND, "not stored locally");
    node.shutdown().unwrap();
}

/// A TCP proxy to `upstream` on 127.0.0.1 whose downstream direction is a slow link:
/// at most 1 KiB per 50 ms. Its address.
fn slow_link(upstream: &str) -> String {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let upstream = upstream.to_owned();
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = std::net::TcpStream::connect(&upstream).unwrap();
        let (mut client_in, mut server_out) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = server.read(&mut buf) {
            if client.write_all(&buf[..n]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
    addr
}

#[test]
fn a_slow_clone_that_keeps_receiving_blocks_is_not_timed_out() {
    // 64 blocks of 2 KiB through a link of 1 KiB per 50 ms take at least 6.4 s: longer
    // than --timeout 3, which used to bound the whole download. It bounds only connecting
    // and each wait for a block now, and a block arrives every 100 ms or so.
    let pad = "x".repeat(2048);
    let (node, _, key, addr) = hooked_writer(0x21, &pad, 64, |_, b| b);
    let t = tmp();
    let dir = t.path().join("clone");
    let slow = slow_link(&addr);
    run(&["clone", s(&dir), &key, "--connect", &slow, "--timeout", "3"]).ok();
    let expected: String = (0..64).map(|i| format!("{pad} {i}\n")).collect();
    assert_eq!(run(&["cat", s(&dir)]).ok(), expected);
    node.shutdown().unwrap();
}

#[test]
fn a_clone_whose_peer_stops_sending_blocks_times_out() {
    // The peer connects, says its length and serves blocks 0-4; then it stalls (until the
    // test ends) without closing the connection.
    let release = Arc::new(AtomicBool::new(false));
    let released = release.clone();
    let (node, _, key, addr) = hooked_writer(0x22, "stalling", 10, move |i, b| {
        while i >= 5 && !released.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(10));
        }
        b
    });
    let t = tmp();
    let dir = t.path().join("clone");
    let out = run(&["clone", s(&dir), &key, "--connect", &addr, "--timeout", "1"]);
    out.fails(TIMEOUT, &format!("no progress from {addr} for 1 s"));
    assert!(out.stderr.contains("of 10 blocks downloaded"), "{out:?}");
    release.store(true, Ordering::Release);
    node.shutdown().unwrap();
}

// ----- CLI to CLI --------------------------------------------------------------------------------

#[test]
fn serve_then_clone_everything() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    let lines: String = (0..200)
        .map(|i| format!("line {i} {}\n", "x".repeat(i % 50)))
        .collect();
    run_with_stdin(&["append", s(&w)], Some(lines.as_bytes())).ok();
    let vw = info(&w, &[]);
    let (server, key, addr) = serve(&w, &[]);
    let out = run(&["clone", s(&r), &key, "--connect", &addr]);
    out.ok();
    assert_eq!(run(&["cat", s(&r)]).ok(), lines);
    let vr = info(&r, &[]);
    for field in [
        "key",
        "discoveryKey",
        "id",
        "length",
        "contiguousLength",
        "byteLength",
        "fork",
    ] {
        assert_eq!(vw[field], vr[field], "{field}");
    }
    assert_eq!(vr["writable"], false);

    // Again into the same directory (by z-base-32 id this time): it resumes, and learns
    // new blocks. While `serve` runs, its database is locked for other writers; readers
    // open it read-only (issue 25).
    run(&["append", s(&w), "after"]).fails(ERROR, "another ferrocore process");
    assert_eq!(info(&w, &[])["length"], 200);
    assert!(server.terminate().success());
    run(&["append", s(&w), "after"]).ok();
    let (server, _, addr) = serve(&w, &[]);
    let id = vw["id"].as_str().unwrap();
    run(&["clone", s(&r), id, "--connect", &addr]).ok();
    assert_eq!(run(&["cat", s(&r)]).ok(), format!("{lines}after\n"));
    // A directory holding another core refuses a clone.
    let other = create(&t.path().join("other"), &[]);
    run(&["clone", s(&r), &other, "--connect", &addr]).fails(ERROR, "clone into another directory");
    assert!(server.terminate().success());
}

#[test]
fn clone_only_the_listed_blocks() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    run(&["append", s(&w), "b0", "b1", "b2", "b3", "b4", "b5", "b6"]).ok();
    let (server, key, addr) = serve(&w, &[]);
    run(&["clone", s(&r), &key, "--connect", &addr, "--blocks", "1,3"]).ok();
    assert_eq!(run(&["get", s(&r), "1"]).stdout, b"b1");
    assert_eq!(run(&["get", s(&r), "3"]).stdout, b"b3");
    for missing in ["0", "2", "4", "6"] {
        run(&["get", s(&r), missing]).fails(NOT_FOUND, "not stored locally");
    }
    // `cat` says which blocks it skipped; --index says which block each line is.
    let cat = run(&["cat", s(&r)]);
    assert_eq!(cat.ok(), "b1\nb3\n");
    assert!(
        cat.stderr
            .contains("skipped 5 blocks not stored locally: 0, 2, 4-6"),
        "{cat:?}"
    );
    assert_eq!(run(&["cat", s(&r), "--index"]).ok(), "1\tb1\n3\tb3\n");
    let one = run(&["cat", s(&r), "--start", "2", "--end", "3"]);
    assert_eq!(one.ok(), "");
    assert!(
        one.stderr.contains("skipped 1 block not stored locally: 2"),
        "{one:?}"
    );
    let v = info(&r, &[]);
    assert_eq!(
        (v["length"].as_u64(), v["contiguousLength"].as_u64()),
        (Some(7), Some(0))
    );
    // An index the peer does not have.
    run(&["clone", s(&r), &key, "--connect", &addr, "--blocks", "2,7"]).fails(
        NOT_FOUND,
        "block 7 does not exist: the peer's core has length 7",
    );
    assert!(server.terminate().success());
    let full = run(&["cat", s(&w)]);
    assert!(full.stderr.is_empty(), "nothing skipped: {full:?}");
}

#[test]
fn live_clone_follows_serve_append_stdin() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    run(&["append", s(&w), "old 0", "old 1"]).ok();
    let (mut server, key, addr) = serve(&w, &["--append-stdin"]);
    let mut live = Proc::spawn(&["clone", s(&r), &key, "--connect", &addr, "--live"]);
    // Once the initial download is done it says so; old blocks are not printed.
    live.wait_stderr("live from block 2");
    for (i, text) in ["hello", "wörld", "3rd line"].iter().enumerate() {
        server.write_line(text);
        assert_eq!(live.line(), format!("Block {}: {text}", i + 2));
    }
    assert_eq!(
        live.out_lines.len(),
        3,
        "only new blocks: {:?}",
        live.out_lines
    );
    let clone_status = live.terminate();
    assert_eq!(
        clone_status.code(),
        Some(0),
        "clone --live exits 0 on SIGTERM"
    );
    let serve_status = server.terminate();
    assert_eq!(serve_status.code(), Some(0), "serve exits 0 on SIGTERM");
    assert_eq!(
        run(&["cat", s(&r)]).ok(),
        "old 0\nold 1\nhello\nwörld\n3rd line\n"
    );
    assert_eq!(run(&["cat", s(&w)]).ok(), run(&["cat", s(&r)]).ok());
}

#[test]
fn a_live_clone_follows_a_truncation_and_makes_what_it_printed_durable() {
    let (node, core, key, addr) = hooked_writer(0x23, "a", 3, |_, b| b);
    let t = tmp();
    let r = t.path().join("r");
    let mut live = Proc::spawn(&["clone", s(&r), &key, "--connect", &addr, "--live"]);
    live.wait_stderr("live from block 3");
    let append = |texts: &[&str]| {
        let blocks = texts.iter().map(|t| Bytes::from(t.to_string())).collect();
        node.append(core, blocks).unwrap();
    };
    append(&["a 3", "a 4"]);
    assert_eq!(live.line(), "Block 3: a 3");
    assert_eq!(live.line(), "Block 4: a 4");
    // The writer replaces blocks 2 on: the clone says so, then prints the new fork's
    // blocks from the truncation point (it used to wait for block 5). (Had the new blocks
    // come with the truncation, the clone could cut further back, at the last tree root
    // both forks share, and print from there.)
    node.truncate(core, 2).unwrap();
    assert!(
        live.line().starts_with("Truncated to length 2 (fork 1)"),
        "{:?}",
        live.out_lines
    );
    append(&["b 2", "b 3", "b 4"]);
    for i in 2..5 {
        assert_eq!(live.line(), format!("Block {i}: b {i}"));
    }
    // What it printed becomes durable while it runs: killed without a chance to flush,
    // the clone keeps every block it printed.
    live.wait_stderr("durable through block 4");
    live.kill();
    assert_eq!(run(&["cat", s(&r)]).ok(), "a 0\na 1\nb 2\nb 3\nb 4\n");
    node.shutdown().unwrap();
}

#[test]
fn a_live_clone_reports_a_peer_that_went_away() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    run(&["append", s(&w), "a"]).ok();
    let (server, key, addr) = serve(&w, &[]);
    let mut live = Proc::spawn(&["clone", s(&r), &key, "--connect", &addr, "--live"]);
    live.wait_stderr("live from block 1");
    assert!(server.terminate().success());
    let status = live.wait();
    assert_eq!(status.code(), Some(NETWORK), "{}", live.rest_of_stderr());
    assert!(live.rest_of_stderr().contains("closed the connection"));
}

#[test]
fn clone_an_empty_core() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    create(&w, &[]);
    let (server, key, addr) = serve(&w, &[]);
    run(&["clone", s(&r), &key, "--connect", &addr]).ok();
    let v = info(&r, &[]);
    assert_eq!(
        (v["length"].as_u64(), v["writable"].as_bool()),
        (Some(0), Some(false))
    );
    assert_eq!(run(&["cat", s(&r)]).ok(), "");
    // A live clone of it that is stopped before any block arrived keeps its directory.
    let r2 = t.path().join("r2");
    let mut live = Proc::spawn(&["clone", s(&r2), &key, "--connect", &addr, "--live"]);
    live.wait_stderr("live from block 0");
    assert_eq!(live.terminate().code(), Some(0));
    assert_eq!(info(&r2, &[])["key"], key);
    assert!(server.terminate().success());
}

#[test]
fn an_encrypted_core_clones_with_its_key() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    let ekey = "c3".repeat(32);
    create(&w, &["--encryption-key", &ekey]);
    run(&["append", s(&w), "x", "yy", "--encryption-key", &ekey]).ok();
    // The store remembers the key (issue 25): a wrong one is refused, none is needed.
    run(&[
        "serve",
        s(&w),
        "--listen",
        "127.0.0.1:0",
        "--append-stdin",
        "--encryption-key",
        &"c4".repeat(32),
    ])
    .fails(ERROR, "wrong encryption key");
    let (server, key, addr) = serve(&w, &[]);
    run(&[
        "clone",
        s(&r),
        &key,
        "--connect",
        &addr,
        "--encryption-key",
        &ekey,
    ])
    .ok();
    assert_eq!(
        run(&["cat", s(&r), "--encryption-key", &ekey]).ok(),
        "x\nyy\n"
    );
    // The clone remembers the key too (issue 25).
    assert_eq!(run(&["cat", s(&r)]).ok(), "x\nyy\n");
    assert_eq!(info(&r, &[])["byteLength"], 3);
    assert!(server.terminate().success());
}

// ----- CLI and JS hypercore ----------------------------------------------------------------------

const JS_SIZE: usize = 1000;

/// A JS peer listening as the Noise responder (the CLI connects); its `ready` line and
/// address.
fn js_listening(args: &[&str]) -> (JsPeer, Value, String) {
    let (js, ready, addr) = ferrocore_tests::js::js_listening(args, T);
    (js, ready, addr.to_string())
}

/// The `cat` output of JS formula blocks `0..n` of core 0.
fn formula_cat(n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        out.extend_from_slice(&block_value(0, i, JS_SIZE));
        out.push(b'\n');
    }
    out
}

#[test]
fn clone_from_a_js_writer() {
    let n = 300u64;
    let (js, ready, addr) = js_listening(&["--writer", "1", "--blocks", &n.to_string()]);
    let key = ready["cores"][0]["key"].as_str().unwrap().to_owned();
    let t = tmp();
    let r = t.path().join("r");
    run(&["clone", s(&r), &key, "--connect", &addr]).ok();
    assert_eq!(run(&["cat", s(&r)]).stdout, formula_cat(n));
    for i in [0, 1, n / 2, n - 1] {
        assert_eq!(
            run(&["get", s(&r), &i.to_string()]).stdout,
            block_value(0, i, JS_SIZE)
        );
    }
    let v = info(&r, &[]);
    assert_eq!(v["key"], key);
    assert_eq!(v["discoveryKey"], ready["cores"][0]["discoveryKey"]);
    assert_eq!(v["length"], n);
    assert_eq!(v["byteLength"], n * JS_SIZE as u64);
    js.finish();
}

#[test]
fn clone_an_encrypted_compat_core_from_js_by_its_id() {
    let ekey = "5a".repeat(32);
    let n = 40u64;
    let (js, ready, addr) = js_listening(&[
        "--writer",
        "1",
        "--blocks",
        &n.to_string(),
        "--compat",
        "--encryption-key",
        &ekey,
    ]);
    let key = key_bytes(ready["cores"][0]["key"].as_str().unwrap());
    let t = tmp();
    let r = t.path().join("r");
    run(&[
        "clone",
        s(&r),
        &id::core_id(&key),
        "--connect",
        &addr,
        "--encryption-key",
        &ekey,
    ])
    .ok();
    assert_eq!(
        run(&["cat", s(&r), "--encryption-key", &ekey]).stdout,
        formula_cat(n)
    );
    js.finish();
}

#[test]
fn a_js_reader_downloads_from_serve() {
    for compat in [false, true] {
        let t = tmp();
        let w = t.path().join("w");
        create(&w, if compat { &["--compat"] } else { &[] });
        let lines: Vec<String> = (0..120).map(|i| format!("from ferrocore {i} ✓")).collect();
        run_with_stdin(&["append", s(&w)], Some(lines.join("\n").as_bytes())).ok();
        let (server, key, addr) = serve(&w, &[]);
        let mut args = ferrocore_tests::js::js_reader_args(&addr, &key);
        if compat {
            args.push("--compat");
        }
        let mut js = JsPeer::spawn("hypercore-peer.mjs", &args);
        let n = lines.len() as u64;
        let id = js.send(json!({"op": "download", "core": 0, "start": 0, "end": n}));
        let reply = js.wait_for(T, |v| v["reply"].is_string() && v["id"] == id);
        assert!(reply.get("error").is_none(), "{reply}");
        let id = js.send(json!({"op": "info", "core": 0, "hashes": true}));
        let reply = js.wait_for(T, |v| v["reply"].is_string() && v["id"] == id);
        assert_eq!(reply["length"], n, "{reply}");
        let expected: Vec<Value> = lines
            .iter()
            .map(|l| Value::from(hex::encode(Sha256::digest(l.as_bytes()))))
            .collect();
        assert_eq!(
            reply["hashes"],
            Value::from(expected),
            "JS holds every block"
        );
        assert!(!js.saw(|v| v["event"] == "error"), "{:?}", js.seen);
        js.finish();
        assert_eq!(server.terminate().code(), Some(0));
    }
}

#[test]
fn a_live_clone_of_a_js_writer() {
    let (mut js, ready, addr) = js_listening(&["--writer", "1", "--blocks", "3"]);
    let key = ready["cores"][0]["key"].as_str().unwrap().to_owned();
    let t = tmp();
    let r = t.path().join("r");
    let mut live = Proc::spawn(&["clone", s(&r), &key, "--connect", &addr, "--live"]);
    live.wait_stderr("live from block 3");
    let values = ["live one", "live two"];
    let hex_values: Vec<String> = values.iter().map(hex::encode).collect();
    let id = js.send(json!({"op": "append-values", "core": 0, "values": hex_values}));
    js.wait_for(T, |v| v["reply"].is_string() && v["id"] == id);
    assert_eq!(live.line(), "Block 3: live one");
    assert_eq!(live.line(), "Block 4: live two");
    assert_eq!(live.terminate().code(), Some(0));
    js.finish();
}
