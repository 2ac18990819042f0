//! The seed's tutorial (`tests/js/tutorial/run-tutorial.mjs`: writer.js / reader.js as the
//! seed gives them) with the built `ferrocore` on either side: a JS writer with a ferrocore
//! `clone --swarm --live` reader, and a ferrocore `serve --swarm --append-stdin` writer with
//! the JS reader, on a JS testnet and on a DHT of `ferrocore dht` nodes only (which must
//! store the announces: `--bootstrap none` / `--persistent` nodes are persistent). The runner
//! checks that the reader finds the writer, prints each block typed into the writer live,
//! and that both exit as expected on a signal.
//!
//! Needs Node.js and `npm ci` in `tests/js`, as the other interop tests.

use std::process::Command;
use std::sync::Mutex;

/// The runner's JS testnet binds fixed ports: one run at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[track_caller]
fn tutorial(writer: &str, reader: &str, dht: &str) {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let script = ferrocore_tests::js::js_dir().join("tutorial/run-tutorial.mjs");
    let out = Command::new("node")
        .arg(script)
        .args(["--writer", writer, "--reader", reader, "--dht", dht])
        .args(["--ferrocore", env!("CARGO_BIN_EXE_ferrocore")])
        .output()
        .expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{writer} writer, {reader} reader, {dht} DHT:\n{text}"
    );
    assert!(text.contains(" passed, 0 failed"), "{text}");
}

#[test]
fn js_writer_ferrocore_reader_on_a_js_testnet() {
    tutorial("js", "ferrocore", "js");
}

#[test]
fn ferrocore_writer_js_reader_on_a_js_testnet() {
    tutorial("ferrocore", "js", "js");
}

#[test]
fn js_writer_ferrocore_reader_on_a_ferrocore_dht() {
    tutorial("js", "ferrocore", "ferrocore");
}

#[test]
fn ferrocore_writer_js_reader_on_a_ferrocore_dht() {
    tutorial("ferrocore", "js", "ferrocore");
}
