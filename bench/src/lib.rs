//! What the side-by-side benchmark binaries share (`src/bin/`): the JSON row they print,
//! one median and percentile definition (the same as `bench/js/stats.mjs`), process CPU
//! and memory figures from `/proc`, and the content digest both implementations compute
//! over downloaded blocks. The criterion benchmarks live in `benches/`.

use std::path::Path;
use std::time::{Duration, Instant};

use ferrocore::hash::{blake2b256, Hash};
use ferrocore_storage::{Durability, Store, StoreOptions};

/// One JSON object, fields in insertion order (written by hand: no serde here).
pub struct Row(String);

impl Row {
    /// An empty object.
    #[must_use]
    pub fn new() -> Row {
        Row(String::from("{"))
    }

    fn field(&mut self, name: &str, value: &str) -> &mut Row {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&format!("\"{name}\":{value}"));
        self
    }

    /// A string field.
    pub fn str(&mut self, name: &str, value: &str) -> &mut Row {
        let mut quoted = String::with_capacity(value.len() + 2);
        quoted.push('"');
        for c in value.chars() {
            match c {
                '"' | '\\' => {
                    quoted.push('\\');
                    quoted.push(c);
                }
                c if (c as u32) < 0x20 => quoted.push_str(&format!("\\u{:04x}", c as u32)),
                c => quoted.push(c),
            }
        }
        quoted.push('"');
        self.field(name, &quoted)
    }

    /// A number field (`null` when not finite); integers print without a fraction.
    pub fn num(&mut self, name: &str, value: f64) -> &mut Row {
        let text = if value.is_finite() {
            if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{value:.0}")
            } else {
                format!("{value:.4}")
            }
        } else {
            "null".into()
        };
        self.field(name, &text)
    }

    /// A boolean field.
    pub fn boolean(&mut self, name: &str, value: bool) -> &mut Row {
        self.field(name, if value { "true" } else { "false" })
    }

    /// Closes the object.
    #[must_use]
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }

    /// Adds `peak_rss_mb` (this process's `VmHWM`) and closes the object.
    #[must_use]
    pub fn finish_with_peak_rss(mut self) -> String {
        let peak = status_kib("VmHWM:").map_or(f64::NAN, mib);
        self.num("peak_rss_mb", peak);
        self.finish()
    }
}

/// Marsaglia's xorshift32 (13, 17, 5); the JS drivers run the same generator
/// (`bench/js/log.mjs`, `tests/js/bee-data.mjs`).
pub struct XorShift32(pub u32);

impl XorShift32 {
    /// The sequence of `seed`; a zero seed (a fixed point) counts as 1, as `bee-data.mjs`.
    #[must_use]
    pub fn new(seed: u32) -> Self {
        XorShift32(if seed == 0 { 1 } else { seed })
    }

    /// The next value (not an [`Iterator`]: the sequence never ends).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

impl Default for Row {
    fn default() -> Row {
        Row::new()
    }
}

/// The median: the middle value, or the mean of the two middle values of an even count
/// (`bench/js/stats.mjs` defines it the same way). Sorts `values`; NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The median of durations, in seconds.
pub fn median_secs(times: &[Duration]) -> f64 {
    let mut secs: Vec<f64> = times.iter().map(Duration::as_secs_f64).collect();
    median(&mut secs)
}

/// The nearest-rank percentile `p` (0..=100) of sorted `values` (as `stats.mjs`); NaN when
/// empty.
#[must_use]
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// User + system CPU seconds of this whole process (every thread, exited ones included),
/// from `/proc/self/stat`; `None` where that is not available. Resolution: one clock
/// tick (10 ms).
#[must_use]
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // The kernel reports USER_HZ ticks, 100 per second on Linux.
    Some(ticks / 100.0)
}

/// A benchmark binary's command line: its mode (`what` says which there are when it is
/// missing), then `--flag value` pairs.
///
/// # Errors
/// When the mode is missing or a flag has no value.
pub fn mode_and_flags(what: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut argv = std::env::args().skip(1);
    let mode = argv.next().ok_or(what)?;
    let mut flags = Vec::new();
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        flags.push((flag, value));
    }
    Ok((mode, flags))
}

/// The value of `flag` as a number.
///
/// # Errors
/// When it is not one.
pub fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value.parse().map_err(|e| format!("{flag}: {e}"))
}

/// Runs `f`: its output, wall seconds and CPU seconds ([`process_cpu_seconds`]: the whole
/// process, NaN where not available).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let cpu0 = process_cpu_seconds().unwrap_or(f64::NAN);
    let t0 = Instant::now();
    let out = f();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds().unwrap_or(f64::NAN) - cpu0;
    (out, wall, cpu)
}

/// The persistent store `dir/db` (`dir` made if missing) with [`Durability::Logged`] (a
/// WAL write per append, no sync: the JS side's RocksDB writes without sync too).
///
/// # Panics
/// If the folder cannot be made or the store not opened.
#[must_use]
pub fn logged_store(dir: &Path) -> Store {
    store_with(dir, Durability::Logged)
}

/// The persistent store `dir/db` (`dir` made if missing) with `durability`.
///
/// # Panics
/// If the folder cannot be made or the store not opened.
#[must_use]
pub fn store_with(dir: &Path, durability: Durability) -> Store {
    std::fs::create_dir_all(dir).expect("store directory");
    let options = StoreOptions {
        durability,
        ..StoreOptions::default()
    };
    Store::open(dir.join("db"), options).expect("store opens")
}

/// A `kB` field of `/proc/self/status` (`VmRSS:`, `VmHWM:`).
///
/// # Errors
/// When the file or the field cannot be read.
pub fn status_kib(field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status"))
}

/// KiB to MiB.
#[must_use]
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The digest of a run of blocks, block by block: `d = BLAKE2b-256(d ‖ block)` from 32 zero
/// bytes. `bench/js/replicate.mjs` computes the same (hypercore-crypto's `hash([d, block])`),
/// so a reader's digest of what it downloaded can be compared across implementations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Digest(Hash);

impl Digest {
    /// Folds the next block in.
    pub fn add(&mut self, block: &[u8]) {
        self.0 = blake2b256(&[&self.0, block]);
    }

    /// The digest in hex.
    #[must_use]
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// The [`Durability`] a `--durability` value names: `immediate`, `logged` or `eventual`.
///
/// # Errors
/// For any other value.
pub fn parse_durability(value: &str) -> Result<Durability, String> {
    match value {
        "immediate" => Ok(Durability::Immediate),
        "logged" => Ok(Durability::Logged),
        "eventual" => Ok(Durability::Eventual),
        _ => Err(format!(
            "--durability {value}: immediate, logged or eventual"
        )),
    }
}

/// The name rows give a durability (the `--durability` value).
#[must_use]
pub fn durability_name(d: Durability) -> &'static str {
    match d {
        Durability::Immediate => "immediate",
        Durability::Logged => "logged",
        Durability::Eventual => "eventual",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_or_the_mean_of_the_two_middles() {
        assert!(median(&mut []).is_nan());
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&v, 99.0), 10.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
    }

    #[test]
    fn rows_escape_strings() {
        let mut r = Row::new();
        r.str("a", "x\"y\\z\n")
            .num("b", 1.0)
            .num("c", 0.5)
            .boolean("d", true);
        assert_eq!(
            r.finish(),
            r#"{"a":"x\"y\\z\u000a","b":1,"c":0.5000,"d":true}"#
        );
    }
}
