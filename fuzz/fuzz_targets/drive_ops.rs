//! The drive's machines (`ferrocore_hyperdrive::drive`) over hostile cores: a db core of
//! real Hyperbee nodes holding arbitrary entry values (raw bytes, or entries whose blob
//! ids and link targets come from the input) or raw hostile blocks, and a blobs core of
//! arbitrary blocks (map blocks included). Every read, listing, diff, `has`, `clear`,
//! `truncate`, write stream and put runs to a result or a typed error: never a panic,
//! and never more block requests than a small multiple of the cores' sizes.
#![no_main]

use bytes::Bytes;
use ferrocore_hyperbee::testing::{cut_blocks, MemBee};
use ferrocore_hyperbee::{BeeConfig, Op};
use ferrocore_hyperblobs::{BlobId, ReadOptions};
use ferrocore_hyperdrive::drive::{
    DriveOp, GetOptions, ListOptions, Machine, View, WriteStreamOptions,
};
use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::list::Ignore;
use ferrocore_hyperdrive::path;
use ferrocore_hyperdrive::testing::MemDrive;
use ferrocore_hyperdrive::DriveConfig;
use ferrocore_wire::bee::Metadata;
use ferrocore_wire::json::Value;

/// Reads bytes off the input.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }

    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte()).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        b
    }

    fn num(&mut self) -> u64 {
        u64::from(u16::from_le_bytes([self.byte(), self.byte()]))
    }
}

/// The db core: real nodes with hostile values, or raw blocks.
fn db(input: &mut Input<'_>, paths: &mut Vec<String>) -> Vec<Bytes> {
    if input.byte() % 4 == 0 {
        return cut_blocks(input.bytes());
    }
    let mut bee = MemBee::with_config(BeeConfig {
        metadata: Some(Metadata::default()),
        ..BeeConfig::default()
    });
    for _ in 0..input.byte() % 12 {
        let name = String::from_utf8_lossy(input.bytes()).into_owned();
        let value = match input.byte() % 3 {
            0 => input.bytes().to_vec(),
            1 => {
                let id = BlobId {
                    block_offset: input.num(),
                    byte_offset: input.num() * 7,
                    block_length: input.num() % 80,
                    byte_length: input.num(),
                    block_map: input.byte() % 2 == 0,
                };
                Entry::file(id, false, Value::Null).encode()
            }
            _ => Entry::symlink(&String::from_utf8_lossy(input.bytes()), Value::Null).encode(),
        };
        let key = path::normalize(&name).map_or_else(|_| name.clone(), |p| p);
        let op = if input.byte() % 5 == 0 {
            Op::del(path::entry_key(&key))
        } else {
            Op::put(path::entry_key(&key), Some(value.into()))
        };
        let _ = bee.batch(vec![op]);
        paths.push(name);
    }
    bee.blocks
}

/// The most block requests one operation may make on these cores: a few per block of
/// either core, and a block map's 64 blocks per entry at most.
fn limit(d: &MemDrive) -> u64 {
    let (db, blobs) = (d.db.len() as u64, d.blobs.len() as u64);
    4 * (db + blobs + 1) + 64 * (db + 1)
}

/// Runs `m` to a result or an error, within the limit.
fn bounded<M: Machine>(d: &mut MemDrive, mut m: M) {
    let before = d.fetched;
    let _ = d.run(&mut m);
    assert!(d.fetched - before <= limit(d), "unbounded work");
}

/// Runs an iterator to its end or an error; its requests stay within the limit (each
/// block once, the bee's cache serving repeats).
fn all<M: Machine<Output = Option<T>>, T>(d: &mut MemDrive, mut m: M) {
    let before = d.fetched;
    while let Ok(Some(_)) = d.run(&mut m) {
        assert!(d.fetched - before <= limit(d), "unbounded work");
    }
    assert!(d.fetched - before <= limit(d), "unbounded work");
}

fn reads(d: &mut MemDrive, view: View, paths: &[String], r: &[u8]) {
    let range = ReadOptions {
        start: r.first().map(|&s| u64::from(s) * 97),
        end: r.get(1).map(|&e| i64::from(e) * 131 - 2),
        length: r
            .get(2)
            .filter(|&&l| l % 2 == 0)
            .map(|&l| u64::from(l) * 37),
    };
    for p in paths.iter().map(String::as_str).chain(["/", ""]) {
        bounded(d, view.entry(p, false));
        bounded(d, view.entry(p, true));
        bounded(d, view.exists(p));
        bounded(d, view.get(p, GetOptions::default()));
        bounded(
            d,
            view.get(
                p,
                GetOptions {
                    follow: true,
                    range,
                },
            ),
        );
        all(d, view.read_stream(p, range));
        bounded(d, view.has(p));
        all(d, view.list(Some(p), ListOptions::default()));
        let ignore = Ignore::new([p]).ok();
        let shallow = ListOptions {
            recursive: false,
            ignore,
        };
        all(d, view.list(Some(p), shallow));
        all(d, view.readdir(Some(p)));
        all(d, view.diff(1, Some(p)));
        let clear = d.drive.clear(p);
        bounded(d, clear);
    }
    bounded(d, view.blobs_length());
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut paths = Vec::new();
    let db = db(&mut input, &mut paths);
    let blobs: Vec<Bytes> = (0..input.byte() % 16)
        .map(|_| Bytes::copy_from_slice(input.bytes()))
        .collect();
    let r = input.bytes().to_vec();
    let mut d = MemDrive::from_blocks(
        db,
        blobs,
        DriveConfig {
            block_size: Some(7),
            ..DriveConfig::default()
        },
    );
    d.cleared
        .extend(r.iter().map(|&b| u64::from(b % 16)).take(2));
    let version = d.drive.version();
    for v in [version, 1 + u64::from(input.byte()) % version] {
        let view = d.drive.checkout(v);
        reads(&mut d, view, &paths, &r);
    }
    if let Ok(to) = d.run(
        &mut d
            .drive
            .truncate(u64::from(input.byte()) % (version + 1), None),
    ) {
        assert!(to.db <= d.db.len() as u64 && to.blobs <= d.blobs.len() as u64);
    }
    // Writes on the hostile db: a typed error, or blocks appended.
    let name = paths.first().cloned().unwrap_or_else(|| "/f".into());
    let put = DriveOp::Put {
        path: name.clone(),
        content: Bytes::from(r.clone()),
        executable: true,
        metadata: Value::Null,
    };
    let _ = d.run(&mut d.drive.write(vec![put, DriveOp::Del { path: "/x".into() }]));
    let opts = WriteStreamOptions {
        dedup: true,
        ..WriteStreamOptions::default()
    };
    let mut ws = d.drive.write_stream(&name, opts);
    ws.write(Bytes::from(r));
    ws.end();
    let _ = d.run(&mut ws);
});
