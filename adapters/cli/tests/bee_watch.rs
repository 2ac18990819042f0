//! `ferrocore bee watch` and `bee history --live` following a remote writer (a node of
//! this test serving its bee on loopback TCP): a line per change in the watched bounds, a
//! line per new block, a truncation reported, a clean exit on SIGTERM; and
//! `bee clear-unlinked` leaving every answer of the bee unchanged.

mod support;

use ferrocore::replication::EndpointConfig;
use ferrocore::storage::MemoryStorage;
use ferrocore_blocking::bee::{Bee, BeeOptions};
use ferrocore_blocking::Node;
use support::{create, run, s, Proc};

#[test]
fn watch_and_live_history_follow_a_remote_writer_until_sigterm() {
    let log = ferrocore_tests::hostile::writer_log([7; 32], &[]);
    let key = hex::encode(log.key());
    let node: Node<MemoryStorage> = Node::new(EndpointConfig::default()).unwrap();
    let core = node.add_core(log).unwrap();
    let bee = Bee::open(&node, core, BeeOptions::default()).unwrap();
    for i in 0..5 {
        bee.put(format!("k{i}"), format!("v{i}")).unwrap();
    }
    let addr = node.listen("127.0.0.1:0").unwrap().to_string();
    let t = tempfile::tempdir().unwrap();
    let (r1, r2) = (t.path().join("r1"), t.path().join("r2"));
    run(&["clone", s(&r1), &key, "--connect", &addr]).ok();
    run(&["clone", s(&r2), &key, "--connect", &addr, "--blocks", "0"]).ok();

    // --eager (JS `eager`): the keys already there are a first change, from version 1.
    let mut eager = Proc::spawn(&["bee", "watch", s(&r1), "--eager", "--json"]);
    let c: serde_json::Value = serde_json::from_str(&eager.line()).unwrap();
    assert_eq!(
        (c["previous"].as_u64(), c["current"].as_u64()),
        (Some(1), Some(6))
    );
    eager.terminate_cleanly();

    let watch_args = ["bee", "watch", s(&r1), "--connect", &addr];
    let mut watch =
        Proc::spawn(&[&watch_args[..], &["--gte", "k", "--lt", "l", "--json"]].concat());
    watch.wait_stderr("watching");
    let history_args = ["bee", "history", s(&r2), "--live", "--gte", "-1"];
    let mut history = Proc::spawn(&[&history_args[..], &["--connect", &addr]].concat());
    history.wait_stderr("following");
    assert_eq!(history.line(), "5\tput\tk4\tv4");

    bee.put("z", "outside").unwrap();
    bee.put("k9", "new").unwrap();
    let c: serde_json::Value = serde_json::from_str(&watch.line()).unwrap();
    assert_eq!(c["current"], 8);
    assert_eq!(c["truncated"], false);
    let previous = c["previous"].as_u64().unwrap();
    assert!(previous == 6 || previous == 7, "{c}");
    assert_eq!(history.line(), "6\tput\tz\toutside");
    assert_eq!(history.line(), "7\tput\tk9\tnew");

    // The writer takes its last block back and writes another: reported as a truncation.
    node.truncate(core, 7).unwrap();
    bee.put("k8", "again").unwrap();
    let c: serde_json::Value = serde_json::from_str(&watch.line()).unwrap();
    assert_eq!(c["truncated"], true, "{c}");
    // The live history goes on from the truncation point the replica found (a replica's
    // is conservative: blocks below the writer's may come again, as they are now).
    let now: Vec<String> = (1..=5)
        .map(|i| format!("{i}\tput\tk{}\tv{}", i - 1, i - 1))
        .chain([
            "6\tput\tz\toutside".to_owned(),
            "7\tput\tk8\tagain".to_owned(),
        ])
        .collect();
    loop {
        let line = history.line();
        assert!(
            now.contains(&line),
            "{line:?} is not a block of the new fork"
        );
        if line == now[6] {
            break;
        }
    }
    watch.terminate_cleanly();
    history.terminate_cleanly();
}

#[test]
fn clear_unlinked_keeps_the_listing_and_reports_its_count() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("s");
    create(&d, &[]);
    for i in 0..30 {
        run(&["bee", "put", s(&d), &format!("k{}", i % 5), &i.to_string()]).ok();
    }
    let before = run(&["bee", "list", s(&d)]).ok();
    let out = run(&["bee", "clear-unlinked", s(&d)]).ok();
    let n: u64 = out
        .strip_prefix("cleared ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(n >= 20, "{out}");
    assert_eq!(run(&["bee", "list", s(&d)]).ok(), before);
    // The history of the cleared blocks is gone (exit 3: not stored locally).
    run(&["bee", "history", s(&d)])
        .fails(ferrocore_cli::exit::NOT_FOUND.into(), "not stored locally");
    assert!(run(&["bee", "clear-unlinked", s(&d)])
        .ok()
        .starts_with("cleared 0 blocks"));
}
