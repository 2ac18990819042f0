//! The `ferrocore` binary on stores (issue 25): a DIR holds any number of cores.
//!
//! | what | test |
//! |---|---|
//! | `--help` describes stores; `cores --help` has examples | `help_describes_stores_and_cores_has_examples` |
//! | `create --name/--namespace` gives JS corestore 7's keys for the store's primary key; a name, a plain create and another primary key are refused once taken | `named_cores_have_the_keys_js_corestore_derives` |
//! | a failed `create` leaves no half-made store; an over-long name is a usage error | `a_create_that_fails_leaves_no_half_made_store` |
//! | the first core created by name is the default core | `the_first_named_core_is_the_default_core` |
//! | `--name/--namespace/--core` pick the core of append, info, get, cat, truncate; unknown ones fail helpfully | `name_and_core_pick_the_core_of_every_command` |
//! | `cores --json` lists named, default and cloned cores | `cores_lists_every_core_of_the_store` |
//! | `serve` serves every core (named ones on demand), `--core` picks the one it prints and appends to | `serve_serves_every_core_and_appends_to_the_picked_one` |
//! | a JS corestore reads the default, a namespaced and an encrypted core from one `serve` over one connection | `a_js_corestore_reads_every_served_core_over_one_connection` |
//! | `clone` into a store of other cores needs `--add`, then resumes without it | `clone_into_a_store_of_other_cores_needs_add` |
//! | encryption keys given to `create`/`clone` are remembered, not in ferrocore.json, files 0600 | `encryption_keys_are_remembered_for_created_and_cloned_cores` |
//! | reads beside a running `serve` see what it acknowledged; writes are refused | `reads_work_while_serve_holds_the_store` |
//!
//! The JS test needs Node.js and `npm ci` in `tests/js` (as `tests/cli.rs` does).

mod support;

use std::path::Path;

use ferrocore::{hash, id};
use ferrocore_cli::exit;
use ferrocore_tests::js::JsPeer;
use serde_json::{json, Value};
use support::{create, info, run, run_with_stdin, s, serve, Proc, T};

const USAGE: i32 = exit::USAGE as i32;
const ERROR: i32 = exit::ERROR as i32;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

fn key_bytes(hex_key: &str) -> [u8; 32] {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut k).unwrap();
    k
}

/// The discovery key (hex) of core `hex_key`.
fn dk(hex_key: &str) -> String {
    hex::encode(hash::discovery_key(&key_bytes(hex_key)))
}

/// `create DIR --name NAME [--namespace NS]... extra...`; returns the key.
fn create_named(dir: &Path, ns: &[&str], name: &str, extra: &[&str]) -> String {
    let mut args = vec!["--name", name];
    for n in ns {
        args.extend(["--namespace", n]);
    }
    args.extend_from_slice(extra);
    create(dir, &args)
}

/// `cores DIR --json`, one value per line.
fn cores(dir: &Path) -> Vec<Value> {
    run(&["cores", s(dir), "--json"])
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

/// The line of `cores` about core `key`.
fn core_line<'a>(list: &'a [Value], key: &str) -> &'a Value {
    list.iter()
        .find(|v| v["key"] == key)
        .unwrap_or_else(|| panic!("no core {key} in {list:?}"))
}

/// Sends `cmd` to the JS peer and waits for its reply (panicking on an error reply).
fn ask(js: &mut JsPeer, cmd: Value) -> Value {
    let id = js.send(cmd.clone());
    let reply = js.wait_for(T, |v| v.get("reply").is_some() && v["id"] == id);
    assert!(reply.get("error").is_none(), "{cmd} failed: {reply}");
    reply
}

#[test]
fn help_describes_stores_and_cores_has_examples() {
    let top = run(&["--help"]).ok();
    for needle in ["cores", "A DIR is a store", "--primary-key", "clone --add"] {
        assert!(top.contains(needle), "{needle} in {top}");
    }
    let help = run(&["cores", "--help"]).ok();
    assert!(
        help.contains("Examples:") && help.contains("ferrocore cores "),
        "{help}"
    );
}

// ----- create ------------------------------------------------------------------------------------

#[test]
fn named_cores_have_the_keys_js_corestore_derives() {
    let t = tmp();
    let dir = t.path().join("store");
    let primary: String = (0u8..32).map(|i| format!("{:02x}", i * 7 + 3)).collect();
    // A plain core (random key pair) in a store with a known primary key.
    let default = create(&dir, &["--primary-key", &primary]);
    let cases: [(&[&str], &str); 5] = [
        (&[], "alpha"),
        (&[], "beta"),
        (&["ns1"], "alpha"),
        (&["ns1", "ns2"], "alpha"),
        (&["ns2"], "gamma"),
    ];
    let ours: Vec<String> = cases
        .iter()
        .map(|(ns, name)| create_named(&dir, ns, name, &[]))
        .collect();

    let mut js = JsPeer::spawn("corestore-peer.mjs", &["--timeout", "120000"]);
    ask(&mut js, json!({"op": "open", "primaryKey": primary}));
    for ((ns, name), key) in cases.iter().zip(&ours) {
        let reply = ask(&mut js, json!({"op": "get", "name": name, "namespace": ns}));
        assert_eq!(reply["key"], *key, "{ns:?}/{name}");
        assert_eq!(reply["discoveryKey"], dk(key), "{ns:?}/{name}");
    }
    js.finish();
    let distinct: std::collections::BTreeSet<&String> = ours.iter().collect();
    assert_eq!(
        distinct.len(),
        ours.len(),
        "every name and namespace its own key"
    );

    // A name is taken once per namespace.
    run(&["create", s(&dir), "--name", "alpha"]).fails(ERROR, "already has a core named \"alpha\"");
    run(&["create", s(&dir), "--name", "alpha", "--namespace", "ns1"])
        .fails(ERROR, "in namespace ns1");
    // A plain create on a store with a default core.
    run(&["create", s(&dir)]).fails(ERROR, "already holds a core");
    // The store's primary key is given again (same: fine) or refused (another).
    let same = create_named(&dir, &[], "delta", &["--primary-key", &primary]);
    let other = "ee".repeat(32);
    run(&[
        "create",
        s(&dir),
        "--name",
        "epsilon",
        "--primary-key",
        &other,
    ])
    .fails(ERROR, "another primary key");
    // Nothing of that failure was added; the default core is the plain one.
    let list = cores(&dir);
    assert_eq!(list.len(), 1 + ours.len() + 1, "{list:?}");
    assert!(list.iter().all(|v| v["name"] != "epsilon"), "{list:?}");
    core_line(&list, &same);
    assert_eq!(info(&dir, &[])["key"], default);

    // The same primary key and name give the same core in a new store.
    let fresh = t.path().join("fresh");
    assert_eq!(
        create_named(&fresh, &["ns1"], "alpha", &["--primary-key", &primary]),
        ours[2]
    );
}

#[test]
fn the_first_named_core_is_the_default_core() {
    let t = tmp();
    let dir = t.path().join("store");
    let first = create_named(&dir, &[], "first", &[]);
    let second = create_named(&dir, &["ns"], "second", &[]);
    assert_ne!(first, second);
    assert_eq!(info(&dir, &[])["key"], first);
    let plain = run(&["info", s(&dir)]).ok();
    assert!(
        plain.contains(&first) && !plain.contains(&second),
        "{plain}"
    );
    assert_eq!(run(&["append", s(&dir), "to first"]).ok(), "length 1\n");
    assert_eq!(run(&["cat", s(&dir), "--name", "first"]).ok(), "to first\n");
    assert_eq!(
        info(&dir, &["--name", "second", "--namespace", "ns"])["length"],
        0
    );
    run(&["create", s(&dir)]).fails(ERROR, "already holds a core");
    let marker = std::fs::read_to_string(dir.join("ferrocore.json")).unwrap();
    assert!(marker.contains(&first), "{marker}");
}

#[test]
fn a_create_that_fails_leaves_no_half_made_store() {
    let t = tmp();
    let dir = t.path().join("store");
    // The marker cannot be written (its temporary file's name is taken by a directory).
    std::fs::create_dir_all(dir.join(".ferrocore.json.tmp")).unwrap();
    run(&["create", s(&dir), "--name", "a"]).fails(ERROR, "cannot write");
    assert!(!dir.join("core.db").exists(), "the new database is removed");
    run(&["info", s(&dir)]).fails(ERROR, "no core in");
    std::fs::remove_dir(dir.join(".ferrocore.json.tmp")).unwrap();
    let key = create_named(&dir, &[], "a", &[]);
    assert_eq!(info(&dir, &[])["key"], key);
    // A name longer than the store keeps is a usage error, before anything is made.
    let long = "n".repeat(ferrocore_storage::MAX_NAME_LEN + 1);
    let fresh = t.path().join("fresh");
    run(&["create", s(&fresh), "--name", &long]).fails(USAGE, "at most");
    assert!(!fresh.exists());
    run(&["info", s(&dir), "--core", &long]).fails(USAGE, "at most");
    assert_eq!(cores(&dir).len(), 1);
}

// ----- picking a core ----------------------------------------------------------------------------

#[test]
fn name_and_core_pick_the_core_of_every_command() {
    let t = tmp();
    let dir = t.path().join("store");
    let d = s(&dir);
    let default = create(&dir, &[]);
    let a = create_named(&dir, &[], "a", &[]);
    let b = create_named(&dir, &["x"], "b", &[]);
    let b_id = id::core_id(&key_bytes(&b));

    assert_eq!(run(&["append", d, "d0"]).ok(), "length 1\n");
    assert_eq!(
        run(&["append", d, "--name", "a", "a0", "a1"]).ok(),
        "length 2\n"
    );
    let out = run_with_stdin(
        &["append", d, "--name", "b", "--namespace", "x"],
        Some(b"b0\n"),
    );
    assert_eq!(out.ok(), "length 1\n");
    assert_eq!(run(&["append", d, "--core", &a, "a2"]).ok(), "length 3\n");
    assert_eq!(
        run(&["append", d, "--core", &b_id, "b1"]).ok(),
        "length 2\n"
    );
    // --core takes a name in the root namespace too.
    assert_eq!(run(&["append", d, "--core", "a", "a3"]).ok(), "length 4\n");

    for (select, key, length) in [
        (vec![], &default, 1),
        (vec!["--name", "a"], &a, 4),
        (vec!["--core", &b], &b, 2),
        (vec!["--name", "b", "--namespace", "x"], &b, 2),
    ] {
        let v = info(&dir, &select);
        assert_eq!(
            (&v["key"], &v["length"]),
            (&json!(key), &json!(length)),
            "{select:?}"
        );
    }
    assert_eq!(run(&["cat", d]).ok(), "d0\n");
    assert_eq!(run(&["cat", d, "--core", "a"]).ok(), "a0\na1\na2\na3\n");
    assert_eq!(
        run(&["cat", d, "--name", "b", "--namespace", "x", "--index"]).ok(),
        "0\tb0\n1\tb1\n"
    );
    assert_eq!(run(&["get", d, "1", "--core", &b_id]).stdout, b"b1");
    assert_eq!(run(&["get", d, "3", "--name", "a"]).stdout, b"a3");

    assert_eq!(
        run(&["truncate", d, "2", "--name", "a"]).ok(),
        "length 2\nfork 1\n"
    );
    assert_eq!(run(&["cat", d, "--name", "a"]).ok(), "a0\na1\n");
    assert_eq!(info(&dir, &[])["fork"], 0, "the default core is untouched");
    assert_eq!(info(&dir, &["--core", &b])["length"], 2);

    // Unknown names and keys: exit 1, saying how to find the cores.
    run(&["info", d, "--name", "nope"]).fails(ERROR, "no core named \"nope\"");
    run(&["cat", d, "--name", "nope"]).fails(ERROR, &format!("ferrocore cores {d}"));
    // b lives in namespace x, not in the root.
    run(&["get", d, "0", "--name", "b"]).fails(ERROR, "no core named \"b\"");
    run(&["append", d, "--name", "a", "--namespace", "x", "z"])
        .fails(ERROR, "no core named \"a\" in namespace x");
    let stranger = "3c".repeat(32);
    run(&["truncate", d, "0", "--core", &stranger]).fails(ERROR, "holds no core");
    run(&["get", d, "0", "--core", "nope"]).fails(ERROR, "no core named \"nope\"");
    assert_eq!(info(&dir, &["--name", "a"])["length"], 2, "nothing changed");
    // --namespace needs --name; --name and --core exclude each other.
    assert_eq!(run(&["info", d, "--namespace", "x"]).code, Some(USAGE));
    assert_eq!(
        run(&["info", d, "--name", "a", "--core", "a"]).code,
        Some(USAGE)
    );
}

// ----- cores -------------------------------------------------------------------------------------

#[test]
fn cores_lists_every_core_of_the_store() {
    let t = tmp();
    let w = t.path().join("w");
    let r = t.path().join("r");
    let wkey = create(&w, &[]);
    run(&["append", s(&w), "w0", "w1"]).ok();
    let mine = create_named(&r, &[], "mine", &[]);
    run(&["append", s(&r), "m0", "m1", "m2", "--name", "mine"]).ok();
    let (server, _, addr) = serve(&w, &[]);
    run(&[
        "clone",
        s(&r),
        &wkey,
        "--connect",
        &addr,
        "--add",
        "--blocks",
        "1",
    ])
    .ok();
    assert!(server.terminate().success());

    let list = cores(&r);
    assert_eq!(list.len(), 2, "{list:?}");
    let mut fields = [
        "contiguousLength",
        "discoveryKey",
        "key",
        "length",
        "name",
        "writable",
    ];
    fields.sort_unstable();
    for v in &list {
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        keys.sort_unstable();
        assert_eq!(keys, fields, "exactly these fields: {v}");
    }
    assert_eq!(
        core_line(&list, &mine),
        &json!({"name": "mine", "key": mine, "discoveryKey": dk(&mine), "length": 3,
                "contiguousLength": 3, "writable": true})
    );
    // A sparse clone: its length is the peer's, its contiguous length what it holds from 0.
    assert_eq!(
        core_line(&list, &wkey),
        &json!({"name": null, "key": wkey, "discoveryKey": dk(&wkey), "length": 2,
                "contiguousLength": 0, "writable": false})
    );
    // The writer's store: one unnamed default core.
    assert_eq!(
        cores(&w),
        [
            json!({"name": null, "key": wkey, "discoveryKey": dk(&wkey), "length": 2,
                "contiguousLength": 2, "writable": true})
        ]
    );
    // The plain listing marks the default core.
    let plain = run(&["cores", s(&r)]).ok();
    let line = plain.lines().find(|l| l.contains(&mine)).unwrap();
    assert!(
        line.contains("mine") && line.contains("(default)"),
        "{plain}"
    );
    let line = plain.lines().find(|l| l.contains(&wkey)).unwrap();
    assert!(
        line.contains("read-only") && !line.contains("(default)"),
        "{plain}"
    );
}

// ----- serve and clone ---------------------------------------------------------------------------

#[test]
fn serve_serves_every_core_and_appends_to_the_picked_one() {
    let t = tmp();
    let w = t.path().join("w");
    let default = create(&w, &[]);
    let named = create_named(&w, &["apps"], "log", &[]);
    run(&["append", s(&w), "d0"]).ok();
    run(&["append", s(&w), "--core", &named, "n0", "n1"]).ok();

    // Served without --core: the default core's key is printed, the named core is opened
    // when a peer asks for it.
    let (server, key, addr) = serve(&w, &[]);
    assert_eq!(key, default);
    let r = t.path().join("r");
    run(&["clone", s(&r), &named, "--connect", &addr]).ok();
    assert_eq!(run(&["cat", s(&r)]).ok(), "n0\nn1\n");
    let d = t.path().join("d");
    run(&["clone", s(&d), &default, "--connect", &addr]).ok();
    assert_eq!(run(&["cat", s(&d)]).ok(), "d0\n");
    assert!(server.terminate().success());

    // --name picks the core printed and appended to; the others are still served.
    let (mut server, key, addr) = serve(
        &w,
        &["--name", "log", "--namespace", "apps", "--append-stdin"],
    );
    assert_eq!(key, named);
    let mut live = Proc::spawn(&["clone", s(&r), &named, "--connect", &addr, "--live"]);
    live.wait_stderr("live from block 2");
    server.write_line("n2");
    assert_eq!(live.line(), "Block 2: n2");
    assert_eq!(live.terminate().code(), Some(0));
    run(&["clone", s(&d), &default, "--connect", &addr]).ok();
    assert!(server.terminate().success());
    assert_eq!(
        run(&["cat", s(&w), "--name", "log", "--namespace", "apps"]).ok(),
        "n0\nn1\nn2\n"
    );
    assert_eq!(
        run(&["cat", s(&w)]).ok(),
        "d0\n",
        "the default core got nothing"
    );
    assert_eq!(run(&["cat", s(&r)]).ok(), "n0\nn1\nn2\n");

    // --core, by z-base-32 id; a core the store does not hold is refused before listening.
    let (server, key, _) = serve(&w, &["--core", &id::core_id(&key_bytes(&named))]);
    assert_eq!(key, named);
    assert!(server.terminate().success());
    run(&["serve", s(&w), "--listen", "127.0.0.1:0", "--name", "nope"])
        .fails(ERROR, "no core named \"nope\"");
}

#[test]
fn a_js_corestore_reads_every_served_core_over_one_connection() {
    let t = tmp();
    let w = t.path().join("w");
    let ekey = "e1".repeat(32);
    let default = create(&w, &[]);
    let named = create_named(&w, &["app"], "feed", &[]);
    let secret = create_named(&w, &[], "secret", &["--encryption-key", &ekey]);
    run(&["append", s(&w), "d0", "d1"]).ok();
    run(&["append", s(&w), "--core", &named, "n0"]).ok();
    run(&["append", s(&w), "--core", &secret, "e0", "e1"]).ok();
    let (server, _, addr) = serve(&w, &[]);
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();

    let mut js = JsPeer::spawn("corestore-peer.mjs", &["--timeout", "120000"]);
    ask(&mut js, json!({"op": "open"}));
    let mut handles = Vec::new();
    for (key, encryption) in [(&default, None), (&named, None), (&secret, Some(&ekey))] {
        let mut get = json!({"op": "get", "key": key});
        if let Some(k) = encryption {
            get["encryptionKey"] = json!(k);
        }
        handles.push(ask(&mut js, get)["core"].as_u64().unwrap());
    }
    ask(&mut js, json!({"op": "connect", "port": port}));
    for (h, index, text) in [(0, 1, "d1"), (1, 0, "n0"), (2, 0, "e0"), (2, 1, "e1")] {
        let reply = ask(
            &mut js,
            json!({"op": "getBlock", "core": handles[h], "index": index, "encoding": "utf8"}),
        );
        assert_eq!(reply["value"], text, "core {h} block {index}");
    }
    let connections = js
        .seen
        .iter()
        .filter(|v| v["event"] == "connection")
        .count();
    assert_eq!(connections, 1, "every core rode on one connection");
    js.finish();
    assert!(server.terminate().success());
}

#[test]
fn clone_into_a_store_of_other_cores_needs_add() {
    let t = tmp();
    let w = t.path().join("w");
    let wkey = create(&w, &[]);
    run(&["append", s(&w), "w0", "w1"]).ok();
    let r = t.path().join("r");
    let rkey = create(&r, &[]);
    run(&["append", s(&r), "r0"]).ok();

    let (server, _, addr) = serve(&w, &[]);
    run(&["clone", s(&r), &wkey, "--connect", &addr]).fails(ERROR, "--add");
    assert_eq!(cores(&r).len(), 1, "a refused clone adds nothing");
    run(&["clone", s(&r), &wkey, "--connect", &addr, "--add"]).ok();
    assert!(server.terminate().success());
    assert_eq!(info(&r, &[])["key"], rkey, "the default core is unchanged");
    assert_eq!(run(&["cat", s(&r)]).ok(), "r0\n");
    assert_eq!(run(&["cat", s(&r), "--core", &wkey]).ok(), "w0\nw1\n");

    // Cloning it again resumes (and learns new blocks) without --add.
    run(&["append", s(&w), "w2"]).ok();
    let (server, _, addr) = serve(&w, &[]);
    run(&["clone", s(&r), &wkey, "--connect", &addr]).ok();
    assert!(server.terminate().success());
    assert_eq!(run(&["cat", s(&r), "--core", &wkey]).ok(), "w0\nw1\nw2\n");
    assert_eq!(info(&r, &[])["key"], rkey);
    assert_eq!(cores(&r).len(), 2);
}

// ----- encryption --------------------------------------------------------------------------------

/// Asserts the database files of `dir` are private (mode 0600) on Unix.
fn assert_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut seen = 0;
        for suffix in ["", "-data", "-wal"] {
            let path = dir.join(format!("core.db{suffix}"));
            if let Ok(m) = std::fs::metadata(&path) {
                seen += 1;
                let mode = m.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is mode {mode:o}", path.display());
            }
        }
        assert!(seen > 0, "no database in {}", dir.display());
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[test]
fn encryption_keys_are_remembered_for_created_and_cloned_cores() {
    let t = tmp();
    let w = t.path().join("w");
    let ekey = "a7".repeat(32);
    let wrong = "a8".repeat(32);
    let plain = create(&w, &[]);
    // A named core created with a key in a store whose default core is plain.
    let secret = create_named(&w, &[], "secret", &["--encryption-key", &ekey]);
    run(&["append", s(&w), "--name", "secret", "hidden", "words"]).ok();
    run(&["append", s(&w), "clear"]).ok();
    assert_eq!(
        run(&["get", s(&w), "0", "--name", "secret"]).stdout,
        b"hidden"
    );
    assert_eq!(
        run(&["cat", s(&w), "--name", "secret"]).ok(),
        "hidden\nwords\n"
    );
    assert_eq!(info(&w, &["--name", "secret"])["byteLength"], 11);
    run(&["cat", s(&w), "--name", "secret", "--encryption-key", &wrong])
        .fails(ERROR, "wrong encryption key");
    run(&["cat", s(&w), "--encryption-key", &ekey]).fails(ERROR, "without an encryption key");
    assert_eq!(info(&w, &[])["key"], plain);

    // Served without the key (on demand: it is not the default core), cloned with it
    // into a new store and, with --add, into a store of other cores.
    let (server, _, addr) = serve(&w, &[]);
    let r = t.path().join("r");
    run(&[
        "clone",
        s(&r),
        &secret,
        "--connect",
        &addr,
        "--encryption-key",
        &ekey,
    ])
    .ok();
    let other = t.path().join("other");
    create(&other, &[]);
    run(&[
        "clone",
        s(&other),
        &secret,
        "--connect",
        &addr,
        "--add",
        "--encryption-key",
        &ekey,
    ])
    .ok();
    assert!(server.terminate().success());
    assert_eq!(run(&["cat", s(&r)]).ok(), "hidden\nwords\n");
    assert_eq!(run(&["get", s(&r), "1"]).stdout, b"words");
    assert_eq!(info(&r, &[])["byteLength"], 11);
    assert_eq!(
        run(&["cat", s(&other), "--core", &secret]).ok(),
        "hidden\nwords\n"
    );
    assert_eq!(info(&other, &["--core", &secret])["byteLength"], 11);
    run(&[
        "cat",
        s(&other),
        "--core",
        &secret,
        "--encryption-key",
        &wrong,
    ])
    .fails(ERROR, "wrong encryption key");

    for dir in [&w, &r, &other] {
        let marker = std::fs::read_to_string(dir.join("ferrocore.json")).unwrap();
        assert!(!marker.contains(&ekey), "{}: {marker}", dir.display());
        assert_private(dir);
    }
}

// ----- beside a running serve --------------------------------------------------------------------

#[test]
fn reads_work_while_serve_holds_the_store() {
    let t = tmp();
    let w = t.path().join("w");
    let ekey = "5e".repeat(32);
    let key = create(&w, &["--encryption-key", &ekey]);
    let named = create_named(&w, &[], "side", &[]);
    run(&["append", s(&w), "old"]).ok();
    run(&["append", s(&w), "--name", "side", "s0"]).ok();
    let (mut server, _, addr) = serve(&w, &["--append-stdin"]);
    let r = t.path().join("r");
    let mut live = Proc::spawn(&[
        "clone",
        s(&r),
        &key,
        "--connect",
        &addr,
        "--live",
        "--encryption-key",
        &ekey,
    ]);
    live.wait_stderr("live from block 1");
    server.write_line("new");
    // The live clone got it: serve stored it durably first.
    assert_eq!(live.line(), "Block 1: new");

    let v = info(&w, &[]);
    assert_eq!(
        (&v["key"], &v["length"], &v["byteLength"]),
        (&json!(key), &json!(2), &json!(6))
    );
    assert_eq!(run(&["get", s(&w), "1"]).stdout, b"new");
    assert_eq!(run(&["cat", s(&w)]).ok(), "old\nnew\n");
    assert_eq!(run(&["cat", s(&w), "--name", "side"]).ok(), "s0\n");
    assert_eq!(info(&w, &["--core", &named])["length"], 1);
    let list = cores(&w);
    assert_eq!(core_line(&list, &key)["length"], 2);
    assert_eq!(core_line(&list, &named)["name"], "side");
    let plain = run(&["info", s(&w)]).ok();
    assert!(plain.contains(&key), "{plain}");

    // Writers are refused while serve runs, on any core of the store.
    let busy = "another ferrocore process";
    run(&["append", s(&w), "x"]).fails(ERROR, busy);
    run(&["append", s(&w), "--name", "side", "x"]).fails(ERROR, busy);
    run(&["truncate", s(&w), "0", "--name", "side"]).fails(ERROR, busy);
    run(&["create", s(&w), "--name", "more"]).fails(ERROR, busy);

    assert_eq!(live.terminate().code(), Some(0));
    assert!(server.terminate().success());
    assert_eq!(
        run(&["append", s(&w), "--name", "side", "s1"]).ok(),
        "length 2\n"
    );
    assert_eq!(cores(&w).len(), 2);
}
