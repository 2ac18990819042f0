//! `ferrocore drive` end to end: `drive create` gives the keys JS gives for the same
//! primary key (`tests/vectors/drive/drive.json`), every subcommand with its output
//! formats and exit codes (unicode paths, a 3 MiB file through stdin, executable and
//! metadata in `ls --json`, symlinks, diff, bad paths, a core that is not a drive), and a
//! drive served by `serve` and cloned by `clone` over loopback, whole and with `--paths`.

mod support;

use std::path::Path;

use ferrocore_cli::exit::{ERROR, NOT_A_BEE, NOT_FOUND, USAGE};
use ferrocore_tests::{files, Schema};
use serde_json::Value;
use support::{create, run, run_with_stdin, s, serve};

/// `ferrocore drive <cmd> <dir> args…`.
fn drive(cmd: &str, dir: &Path, args: &[&str]) -> support::Out {
    let mut all = vec!["drive", cmd, s(dir)];
    all.extend_from_slice(args);
    run(&all)
}

/// `drive put DIR PATH` with `data` on stdin.
fn put(dir: &Path, path: &str, data: &[u8], extra: &[&str]) -> support::Out {
    let mut all = vec!["drive", "put", s(dir), path];
    all.extend_from_slice(extra);
    run_with_stdin(&all, Some(data))
}

/// `drive info DIR --json`, parsed.
fn info(dir: &Path) -> Value {
    serde_json::from_str(&drive("info", dir, &["--json"]).ok()).unwrap()
}

/// `drive ls DIR args… --json`, parsed.
fn ls_json(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--json");
    drive("ls", dir, &all)
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Bytes that are not all alike (a pattern that does not repeat every block).
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ ((i >> 9) as u8) ^ seed)
        .collect()
}

/// A new drive in `dir`; its key.
fn new_drive(dir: &Path) -> String {
    let text = drive("create", dir, &[]).ok();
    text.strip_prefix("key ")
        .and_then(|k| k.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("drive create printed {text:?}"))
        .to_owned()
}

#[test]
fn create_gives_the_keys_js_gives_for_the_primary_key() {
    let t = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (_, v) in files(Schema::DriveOps) {
        for (i, js) in v["drives"].as_array().unwrap().iter().enumerate() {
            let d = t.path().join(format!("d{checked}-{i}"));
            let pk = js["primaryKey"].as_str().unwrap();
            let out = drive("create", &d, &["--primary-key", pk, "--json"]).ok();
            let got: Value = serde_json::from_str(&out).unwrap();
            for field in ["key", "discoveryKey", "contentKey", "id"] {
                assert_eq!(got[field], js[field], "{field} for primary key {pk}");
            }
            let info = info(&d);
            assert_eq!(info["contentDiscoveryKey"], js["contentDiscoveryKey"]);
            assert_eq!(info["version"], js["version"], "a fresh drive is version 1");
            assert_eq!(info["dbLength"], 0);
            assert_eq!(info["writable"], true);
            // The db core is the store's core named `db`, as `create --name db` makes it.
            let same = t.path().join(format!("n{checked}-{i}"));
            let key = create(&same, &["--name", "db", "--primary-key", pk]);
            assert_eq!(Value::String(key), js["key"]);
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "the vectors hold JS's keys of three primary keys"
    );
    let d = t.path().join("d0-0");
    let all = run(&["cores", s(&d), "--json"]).ok();
    assert_eq!(
        all.lines().count(),
        2,
        "the db core and the blobs core: {all}"
    );
    drive("create", &d, &[]).fails(ERROR.into(), "already has a core named \"db\"");
    let seven = "07".repeat(32);
    let js_key = "9d56810a89a0211db2a242b81ce8eac5265ac648769910177524c82908ab866d";
    let d7 = t.path().join("seven");
    assert_eq!(
        drive("create", &d7, &["--primary-key", &seven]).ok(),
        format!("key {js_key}\n")
    );
}

#[test]
fn put_get_ls_rm_symlink_and_their_exit_codes() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("site");
    new_drive(&d);
    let file = t.path().join("index.html");
    std::fs::write(&file, b"<h1>hi</h1>\n").unwrap();
    drive("put", &d, &["/index.html", s(&file)]).ok();
    put(&d, "docs\\hello.txt", b"hello", &[]).ok();
    put(&d, "/docs/./empty", b"", &[]).ok();
    put(&d, "/héllo wörld/日本.txt", "ünï".as_bytes(), &[]).ok();
    put(
        &d,
        "/bin/run",
        b"#!/bin/sh\n",
        &[
            "--executable",
            "--metadata",
            r#"{"mode":493,"tags":["a",1]}"#,
        ],
    )
    .ok();
    drive("symlink", &d, &["/latest", "/docs/hello.txt"]).ok();

    assert_eq!(drive("get", &d, &["/index.html"]).stdout, b"<h1>hi</h1>\n");
    assert_eq!(
        drive("get", &d, &["docs/../docs/hello.txt"]).stdout,
        b"hello"
    );
    assert_eq!(drive("get", &d, &["/docs/empty"]).ok(), "");
    assert_eq!(
        drive("get", &d, &["/héllo wörld/日本.txt"]).ok(),
        "ünï",
        "unicode paths"
    );
    drive("get", &d, &["/nope"]).fails(NOT_FOUND.into(), "no file /nope");
    drive("get", &d, &["/latest"]).fails(NOT_FOUND.into(), "symlink to /docs/hello.txt");
    for bad in ["/", "", "a/..", "/../x"] {
        drive("get", &d, &[bad]).fails(USAGE.into(), "bad path");
        put(&d, bad, b"x", &[]).fails(USAGE.into(), "bad path");
    }
    put(&d, "/m", b"x", &["--metadata", "{"]).fails(USAGE.into(), "--metadata");

    assert_eq!(
        drive("ls", &d, &[]).ok(),
        "d            - /bin/\n\
         d            - /docs/\n\
         d            - /héllo wörld/\n\
         f           12 /index.html\n\
         l            0 /latest -> /docs/hello.txt\n"
    );
    assert_eq!(
        drive("ls", &d, &["/docs", "--recursive"]).ok(),
        "f            0 /docs/empty\nf            5 /docs/hello.txt\n"
    );
    assert_eq!(
        drive("ls", &d, &["/bin/run"]).ok(),
        "x           10 /bin/run\n",
        "a file's path lists the file"
    );
    let all = ls_json(&d, &["--recursive"]);
    let paths: Vec<&str> = all.iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/bin/run",
            "/docs/empty",
            "/docs/hello.txt",
            "/héllo wörld/日本.txt",
            "/index.html",
            "/latest"
        ]
    );
    let run_entry = &all[0];
    assert_eq!(run_entry["executable"], true);
    assert_eq!(
        run_entry["metadata"],
        serde_json::json!({"mode": 493, "tags": ["a", 1]})
    );
    assert_eq!(run_entry["size"], 10);
    assert_eq!(run_entry["linkname"], Value::Null);
    assert_eq!(run_entry["blob"]["byteLength"], 10);
    assert_eq!(run_entry["blob"]["blockLength"], 1);
    let line = drive("ls", &d, &["/bin", "--json"]).ok();
    assert!(
        line.starts_with(r#"{"path":"/bin/run","size":10,"executable":true,"linkname":null,"blob":{"blockOffset":"#),
        "JSON lines in JS's key order: {line}"
    );
    assert_eq!(all[5]["linkname"], "/docs/hello.txt");
    assert_eq!(all[5]["blob"], Value::Null);
    assert_eq!(all[1]["size"], 0);

    let before = info(&d)["version"].as_u64().unwrap();
    drive("rm", &d, &["/index.html"]).ok();
    drive("get", &d, &["/index.html"]).fails(NOT_FOUND.into(), "no file");
    drive("rm", &d, &["/index.html"]).fails(NOT_FOUND.into(), "no file or symlink");
    drive("rm", &d, &["/"]).fails(USAGE.into(), "bad path");
    assert_eq!(info(&d)["version"].as_u64().unwrap(), before + 1);
    let old = before.to_string();
    assert_eq!(
        drive("get", &d, &["/index.html", "--checkout", &old]).stdout,
        b"<h1>hi</h1>\n",
        "an older version still has it"
    );
    assert_eq!(
        ls_json(&d, &["/", "--recursive", "--checkout", &old]).len(),
        6
    );
    drive("ls", &t.path().join("none"), &[]).fails(ERROR.into(), "no such directory");
}

#[test]
fn a_3_mib_file_through_stdin_and_info() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("big");
    let key = new_drive(&d);
    let data = content(3 << 20, 5);
    put(&d, "/big.bin", &data, &[]).ok();
    let got = drive("get", &d, &["/big.bin"]);
    assert_eq!(got.code, Some(0), "{}", got.stderr);
    assert!(got.stdout == data, "the 3 MiB come back");
    let i = info(&d);
    assert_eq!(i["key"], key.as_str());
    assert_eq!(i["blobsLength"], 48, "64 KiB blocks");
    assert_eq!(i["blobsByteLength"], 3 << 20);
    assert_eq!(i["blobsHeld"], 48);
    assert_eq!(i["dbLength"], 2, "the header, then the entry");
    assert_eq!(i["version"], 2);
    let text = drive("info", &d, &[]).ok();
    assert!(text.contains(&format!("key               {key}")), "{text}");
    assert!(text.contains("blobs             48 blocks (48 stored locally), 3145728 bytes"));
    let ls = ls_json(&d, &[]);
    assert_eq!(ls[0]["size"], 3 << 20);
}

#[test]
fn diff_between_versions() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    new_drive(&d);
    put(&d, "/a", b"1", &[]).ok();
    put(&d, "/b", b"2", &[]).ok();
    let v = info(&d)["version"].as_u64().unwrap().to_string();
    put(&d, "/a", b"3", &[]).ok();
    drive("rm", &d, &["/b"]).ok();
    drive("symlink", &d, &["/c", "a"]).ok();
    assert_eq!(
        drive("diff", &d, &["--from", &v]).ok(),
        "put\t/a\ndel\t/b\nput\t/c\n"
    );
    assert_eq!(
        drive("diff", &d, &["--from", "1", "--to", &v]).ok(),
        "put\t/a\nput\t/b\n"
    );
    let lines: Vec<Value> = drive("diff", &d, &["--from", &v, "--json"])
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["path"], "/a");
    assert_eq!(lines[0]["left"]["key"], "/a");
    assert_eq!(lines[0]["left"]["seq"], 3);
    assert_eq!(lines[0]["right"]["seq"], 1);
    assert_eq!(lines[0]["left"]["value"]["executable"], false);
    assert_eq!(lines[0]["left"]["value"]["blob"]["byteLength"], 1);
    assert_eq!(lines[1]["left"], Value::Null);
    assert_eq!(lines[1]["right"]["key"], "/b");
    assert_eq!(lines[2]["left"]["value"]["linkname"], "a");
    assert_eq!(lines[2]["right"], Value::Null);
}

#[test]
fn a_core_that_is_not_a_drive() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("plain");
    create(&d, &[]);
    run(&["append", s(&d), "not a header"]).ok();
    drive("ls", &d, &[]).fails(NOT_A_BEE.into(), "not a drive");
    // A bee: a hyperbee header, but no blobs core in the store.
    let b = t.path().join("bee");
    create(&b, &[]);
    run(&["bee", "put", s(&b), "k", "v"]).ok();
    drive("ls", &b, &[]).fails(ERROR.into(), "lacks the blobs core");
    // A read-only clone refuses writes; --drive names a core the store must hold.
    let d2 = t.path().join("d2");
    new_drive(&d2);
    drive("ls", &d2, &["--drive", &"ab".repeat(32)]).fails(ERROR.into(), "holds no drive");
    drive("ls", &d2, &["--drive", "xyz"]).fails(USAGE.into(), "");
}

#[test]
fn a_drive_beside_other_cores_is_found_by_its_name_or_key() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("mixed");
    let plain = create(&d, &[]);
    let key = new_drive(&d);
    let cores = run(&["cores", s(&d)]).ok();
    assert!(cores.contains(&plain) && cores.contains(" db"), "{cores}");
    assert!(
        cores
            .lines()
            .any(|l| l.starts_with(&plain) && l.ends_with("(default)")),
        "the plain core stays the default: {cores}"
    );
    put(&d, "/f", b"f", &[]).ok();
    assert_eq!(drive("get", &d, &["/f"]).ok(), "f", "the core named db");
    assert_eq!(drive("get", &d, &["/f", "--drive", &key]).ok(), "f");
    drive("get", &d, &["/f", "--drive", &plain]).fails(ERROR.into(), "lacks the blobs core");
    let missing = t.path().join("missing.txt");
    drive("put", &d, &["/g", s(&missing)]).fails(ERROR.into(), "cannot open");
    drive("get", &d, &["/g"]).fails(NOT_FOUND.into(), "no file /g");
}

/// `clone DIR KEY --connect ADDR extra…`.
fn clone(dir: &Path, key: &str, addr: &str, extra: &[&str]) -> support::Out {
    let mut all = vec!["clone", s(dir), key, "--connect", addr];
    all.extend_from_slice(extra);
    run(&all)
}

#[test]
fn serve_and_clone_a_drive_whole_and_sparse() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("site");
    let key = new_drive(&d);
    let big = content(200_000, 1);
    put(&d, "/docs/a.bin", &big, &[]).ok();
    put(&d, "/docs/b.txt", b"bee", &[]).ok();
    put(&d, "/img/c.bin", &content(150_000, 2), &["--executable"]).ok();
    put(&d, "/top.txt", b"top", &[]).ok();
    drive("symlink", &d, &["/link", "/top.txt"]).ok();
    let blobs = info(&d)["blobsLength"].as_u64().unwrap();
    assert_eq!(blobs, 4 + 1 + 3 + 1);

    let (server, served, addr) = serve(&d, &[]);
    assert_eq!(served, key, "serve picks the drive (the default core)");

    let whole = t.path().join("whole");
    let out = clone(&whole, &key, &addr, &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("downloaded {blobs} blobs blocks")),
        "{}",
        out.stderr
    );
    assert_eq!(drive("get", &whole, &["/docs/a.bin"]).stdout, big);
    assert_eq!(drive("get", &whole, &["/top.txt"]).ok(), "top");
    assert_eq!(
        drive("ls", &whole, &["--recursive"]).ok(),
        drive("ls", &d, &["--recursive"]).ok()
    );
    let i = info(&whole);
    assert_eq!(i["writable"], false);
    assert_eq!(i["blobsHeld"], blobs);
    put(&whole, "/x", b"x", &[]).fails(ERROR.into(), "read-only");

    let sparse = t.path().join("sparse");
    let out = clone(&sparse, &key, &addr, &["--paths", "/docs/b.txt,/img"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("downloaded 4 blobs blocks"),
        "{}",
        out.stderr
    );
    assert_eq!(info(&sparse)["blobsHeld"], 4, "only those files' blocks");
    assert_eq!(drive("get", &sparse, &["/docs/b.txt"]).ok(), "bee");
    assert_eq!(
        drive("get", &sparse, &["/img/c.bin"]).stdout,
        content(150_000, 2)
    );
    drive("get", &sparse, &["/docs/a.bin"]).fails(NOT_FOUND.into(), "not stored locally");
    drive("get", &sparse, &["/top.txt"]).fails(NOT_FOUND.into(), "--paths /top.txt");
    assert_eq!(
        ls_json(&sparse, &["--recursive"]).len(),
        5,
        "the db is whole"
    );

    // --blocks clones those db blocks only: reads that need others are exit 3.
    let few = t.path().join("few");
    clone(&few, &key, &addr, &["--blocks", "0,1"]).ok();
    assert_eq!(info(&few)["blobsHeld"], 0);
    drive("ls", &few, &[]).fails(NOT_FOUND.into(), "not stored locally");
    drive("get", &few, &["/top.txt"]).fails(NOT_FOUND.into(), "not stored locally");

    // A drive added to a store that holds another core is picked with --drive.
    let other = t.path().join("other");
    create(&other, &[]);
    let out = clone(&other, &key, &addr, &["--add"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        drive("get", &other, &["/top.txt", "--drive", &key]).ok(),
        "top"
    );

    // A core that is not a drive takes no --paths.
    let plain = t.path().join("plain");
    let plain_key = create(&plain, &[]);
    run(&["append", s(&plain), "a"]).ok();
    let (server2, _, addr2) = serve(&plain, &[]);
    clone(&t.path().join("p2"), &plain_key, &addr2, &["--paths", "/a"])
        .fails(USAGE.into(), "--paths is for drives");
    server2.terminate_cleanly();
    server.terminate_cleanly();
}

#[test]
fn clone_swarm_finds_a_served_drive_on_a_local_dht() {
    let t = tempfile::tempdir().unwrap();
    let mut dht = support::Proc::spawn(&["dht", "--listen", "127.0.0.1:0", "--bootstrap", "none"]);
    let boot = loop {
        if let Some(a) = dht.line().strip_prefix("listening ") {
            break a.to_owned();
        }
    };
    let d = t.path().join("site");
    let key = new_drive(&d);
    let data = content(300_000, 9);
    put(&d, "/f.bin", &data, &[]).ok();
    let mut server = support::Proc::spawn(&["serve", s(&d), "--swarm", "--bootstrap", &boot]);
    assert_eq!(server.line(), format!("key {key}"));
    // Both cores are announced: the db's discovery key and the blobs core's.
    let announced: Vec<String> = (0..2).map(|_| server.line()).collect();
    let content_dk = info(&d)["contentDiscoveryKey"].as_str().unwrap().to_owned();
    assert!(
        announced.contains(&format!("announced {content_dk}")),
        "{announced:?}"
    );
    let c = t.path().join("clone");
    let out = run(&[
        "clone",
        s(&c),
        &key,
        "--swarm",
        "--bootstrap",
        &boot,
        "--timeout",
        "20",
    ]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let (db_line, blobs_line) = (
        out.stderr
            .find("downloaded 2 blocks")
            .expect("the db's line"),
        out.stderr
            .find("downloaded 5 blobs blocks")
            .expect("the blobs' line"),
    );
    assert!(db_line < blobs_line, "{}", out.stderr);
    assert!(drive("get", &c, &["/f.bin"]).stdout == data);
    server.terminate_cleanly();
    dht.terminate_cleanly();
}
