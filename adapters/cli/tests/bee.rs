//! `ferrocore bee` end to end: each subcommand, its exit codes and encodings, a batch
//! from stdin, list bounds against a model, history and diff output, a core that is not
//! a bee, and a bee written by `bee put` replicated with `serve` / `clone --connect` and
//! read back on the clone.

mod support;

use std::collections::BTreeMap;

use ferrocore_cli::exit::{ERROR, NOT_A_BEE, NOT_FOUND, USAGE};
use support::{create, info, run, run_with_stdin, s, serve};

/// `ferrocore bee <cmd> <dir> args…`.
fn bee(cmd: &str, dir: &std::path::Path, args: &[&str]) -> support::Out {
    let mut all = vec!["bee", cmd, s(dir)];
    all.extend_from_slice(args);
    run(&all)
}

fn batch(dir: &std::path::Path, lines: &str, args: &[&str]) -> support::Out {
    let mut all = vec!["bee", "batch", s(dir)];
    all.extend_from_slice(args);
    run_with_stdin(&all, Some(lines.as_bytes()))
}

fn length(dir: &std::path::Path) -> u64 {
    info(dir, &[])["length"].as_u64().unwrap()
}

#[test]
fn put_get_del_print_exact_bytes_and_exit_3_when_absent() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    assert_eq!(bee("put", &d, &["a", "one\n"]).ok(), "");
    assert_eq!(length(&d), 2, "the header, then one block");
    bee("put", &d, &["b", ""]).ok();
    assert_eq!(bee("get", &d, &["a"]).stdout, b"one\n");
    assert_eq!(bee("get", &d, &["b"]).stdout, b"");
    bee("get", &d, &["b"]).ok();
    bee("get", &d, &["c"]).fails(NOT_FOUND.into(), "no key \"c\"");
    bee("del", &d, &["a"]).ok();
    bee("get", &d, &["a"]).fails(NOT_FOUND.into(), "no key");
    bee("del", &d, &["a"]).ok();
    assert_eq!(length(&d), 4, "a delete of an absent key writes nothing");
    // The old version still has it.
    assert_eq!(bee("get", &d, &["a", "--checkout", "3"]).stdout, b"one\n");
    bee("get", &d, &["--key-encoding", "hex", "zz"]).fails(USAGE.into(), "not hex");
    bee("get", &t.path().join("none"), &["a"]).fails(ERROR.into(), "");
}

#[test]
fn encodings_hex_and_json() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    let hex = ["--key-encoding", "hex", "--value-encoding", "hex"];
    bee("put", &d, &[&hex[..], &["00ff", "c3a9ff"]].concat()).ok();
    assert_eq!(
        bee("get", &d, &[&hex[..], &["00ff"]].concat()).ok(),
        "c3a9ff"
    );
    assert_eq!(
        bee("get", &d, &["--key-encoding", "hex", "00ff"]).stdout,
        [0xc3, 0xa9, 0xff],
        "the stored bytes"
    );
    // Not UTF-8: listing it as text says which flag to use.
    bee("list", &d, &[]).fails(ERROR.into(), "--key-encoding");
    assert_eq!(bee("list", &d, &hex).ok(), "00ff\tc3a9ff\n");

    let json = ["--value-encoding", "json"];
    bee(
        "put",
        &d,
        &[&json[..], &["cfg", "{ \"a\" : [1, true] }"]].concat(),
    )
    .ok();
    assert_eq!(
        bee("get", &d, &["cfg"]).ok(),
        r#"{"a":[1,true]}"#,
        "JSON.stringify's bytes"
    );
    bee("put", &d, &[&json[..], &["bad", "{"]].concat()).fails(USAGE.into(), "json");
    let line = bee("list", &d, &[&json[..], &["--gte", "a", "--json"]].concat()).ok();
    let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(v["key"], "cfg");
    assert_eq!(v["value"], serde_json::json!({"a": [1, true]}));
    assert_eq!(v["seq"], 2);
    bee("list", &d, &["--key-encoding", "latin1"]).fails(USAGE.into(), "latin1");
}

/// A `list` case: its arguments, the model keys it keeps, reversed, its limit.
type Case = (Vec<String>, Box<dyn Fn(&str) -> bool>, bool, Option<usize>);

#[test]
fn a_batch_from_stdin_is_one_append_and_list_bounds_match_a_model() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    let mut model = BTreeMap::new();
    let mut lines = String::new();
    for i in 0..60u32 {
        let k = format!("k{:02}", (i * 37) % 60);
        lines.push_str(&format!("{{\"put\":[\"{k}\",\"v{i}\"]}}\n"));
        model.insert(k, format!("v{i}"));
    }
    lines.push_str("\n{\"del\":\"k07\"}\n");
    model.remove("k07");
    assert_eq!(batch(&d, &lines, &[]).ok(), "");
    assert_eq!(length(&d), 62, "header + 61 blocks");
    let hist = bee("history", &d, &["--json"]).ok();
    assert_eq!(hist.lines().count(), 61);

    // A bad line: nothing is written.
    batch(&d, "{\"put\":[\"x\",\"1\"]}\n{\"put\":\"x\"}\n", &[]).fails(USAGE.into(), "line 2");
    batch(&d, "not json\n", &[]).fails(USAGE.into(), "line 1");
    assert_eq!(length(&d), 62);

    let key = |i: u32| format!("k{i:02}");
    let cases: Vec<Case> = vec![
        (vec![], Box::new(|_| true), false, None),
        (
            vec!["--gt".into(), key(10), "--lt".into(), key(20)],
            Box::new(|k| k > "k10" && k < "k20"),
            false,
            None,
        ),
        (
            vec![
                "--gte".into(),
                key(10),
                "--lte".into(),
                key(20),
                "--reverse".into(),
            ],
            Box::new(|k| ("k10"..="k20").contains(&k)),
            true,
            None,
        ),
        (
            vec!["--gte".into(), key(50), "--limit".into(), "4".into()],
            Box::new(|k| k >= "k50"),
            false,
            Some(4),
        ),
        (
            vec![
                "--lt".into(),
                key(5),
                "--reverse".into(),
                "--limit".into(),
                "2".into(),
            ],
            Box::new(|k| k < "k05"),
            true,
            Some(2),
        ),
    ];
    for (args, keep, reverse, limit) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = bee("list", &d, &args).ok();
        let mut want: Vec<String> = model
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| format!("{k}\t{v}\n"))
            .collect();
        if reverse {
            want.reverse();
        }
        want.truncate(limit.unwrap_or(usize::MAX));
        assert_eq!(got, want.concat(), "list {args:?}");
    }
    // JSON lines carry the seq that wrote each entry.
    let first = bee("list", &d, &["--json", "--limit", "1"]).ok();
    let v: serde_json::Value = serde_json::from_str(first.trim()).unwrap();
    assert_eq!(
        (v["key"].as_str(), v["value"].as_str()),
        (Some("k00"), Some("v0"))
    );
    assert_eq!(v["seq"], 1);
}

#[test]
fn history_and_diff_say_what_changed() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    bee("put", &d, &["a", "1"]).ok(); // seq 1
    bee("put", &d, &["b", "2"]).ok(); // seq 2
    bee("put", &d, &["a", "3"]).ok(); // seq 3
    bee("del", &d, &["b"]).ok(); // seq 4
    bee("put", &d, &["c", "5"]).ok(); // seq 5
    assert_eq!(
        bee("history", &d, &[]).ok(),
        "1\tput\ta\t1\n2\tput\tb\t2\n3\tput\ta\t3\n4\tdel\tb\n5\tput\tc\t5\n"
    );
    assert_eq!(
        bee("history", &d, &["--gte", "-2"]).ok(),
        "4\tdel\tb\n5\tput\tc\t5\n"
    );
    // More than there is: all of it.
    assert_eq!(
        bee("history", &d, &["--gte", "-100"]).ok().lines().count(),
        5
    );
    assert_eq!(bee("history", &d, &["--lt", "-100"]).ok(), "");
    assert_eq!(
        bee("history", &d, &["--gte", "2", "--lt", "4", "--reverse"]).ok(),
        "3\tput\ta\t3\n2\tput\tb\t2\n"
    );
    let j = bee("history", &d, &["--gte", "4", "--lt", "5", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(j.trim()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"seq": 4, "type": "del", "key": "b", "value": null})
    );

    // From version 3 (a=1, b=2) to now (a=3, c=5).
    assert_eq!(
        bee("diff", &d, &["--from", "3"]).ok(),
        "put\ta\t3\ndel\tb\nput\tc\t5\n"
    );
    assert_eq!(bee("diff", &d, &["--from", "3", "--to", "3"]).ok(), "");
    let j = bee("diff", &d, &["--from", "2", "--to", "4", "--json"]).ok();
    let lines: Vec<serde_json::Value> = j
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            serde_json::json!({"key": "a", "left": {"seq": 3, "value": "3"}, "right": {"seq": 1, "value": "1"}}),
            serde_json::json!({"key": "b", "left": {"seq": 2, "value": "2"}, "right": null}),
        ]
    );
    bee("diff", &d, &[]).fails(USAGE.into(), "--from");
}

#[test]
fn a_core_that_is_not_a_bee_and_a_read_only_core_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    run(&["append", s(&d), "hello"]).ok();
    bee("get", &d, &["a"]).fails(NOT_A_BEE.into(), "not a hyperbee");
    bee("put", &d, &["a", "b"]).fails(NOT_A_BEE.into(), "not a hyperbee");
    assert_eq!(
        length(&d),
        1,
        "nothing appended to a core that is not a bee"
    );
    // A named core of the same store holds a bee.
    create(&d, &["--name", "db"]);
    bee("put", &d, &["--core", "db", "k", "v"]).ok();
    assert_eq!(bee("get", &d, &["--core", "db", "k"]).ok(), "v");
    bee("get", &d, &["--core", "nope", "k"]).fails(ERROR.into(), "no core named");
}

#[test]
fn a_bee_written_by_put_replicates_with_serve_and_clone() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    create(&w, &[]);
    let mut lines = String::new();
    for i in 0..200 {
        lines.push_str(&format!("{{\"put\":[\"key{i:03}\",\"value {i}\"]}}\n"));
    }
    batch(&w, &lines, &[]).ok();
    bee("put", &w, &["greeting", "hello"]).ok();
    let (server, key, addr) = serve(&w, &[]);

    // A sparse clone holds only block 0: reads that need more say so (exit 3).
    let sparse = t.path().join("sparse");
    run(&[
        "clone",
        s(&sparse),
        &key,
        "--connect",
        &addr,
        "--blocks",
        "0",
    ])
    .ok();
    bee("get", &sparse, &["greeting"]).fails(NOT_FOUND.into(), "not stored locally");

    let r = t.path().join("r");
    run(&["clone", s(&r), &key, "--connect", &addr]).ok();
    drop(server);
    assert_eq!(bee("get", &r, &["greeting"]).ok(), "hello");
    assert_eq!(bee("get", &r, &["key123"]).ok(), "value 123");
    assert_eq!(bee("list", &r, &[]).ok(), bee("list", &w, &[]).ok());
    assert_eq!(bee("list", &r, &[]).ok().lines().count(), 201);
    bee("put", &r, &["x", "y"]).fails(ERROR.into(), "read-only");
}

#[test]
fn bee_help_has_examples_for_every_subcommand_and_the_exit_code_7() {
    let top = run(&["--help"]).ok();
    assert!(top.contains("\n  7 ") && top.contains("bee"), "{top}");
    let help = run(&["bee", "--help"]).ok();
    assert!(
        help.contains("Examples:") && help.contains("ferrocore bee put"),
        "{help}"
    );
    for cmd in ["put", "get", "del", "list", "batch", "history", "diff"] {
        let help = run(&["bee", cmd, "--help"]).ok();
        assert!(
            help.contains("Examples:") && help.contains(&format!("ferrocore bee {cmd} ")),
            "`bee {cmd} --help` has examples: {help}"
        );
        assert!(help.contains("--key-encoding"), "{help}");
    }
}
