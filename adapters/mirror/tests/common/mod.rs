//! What the mirror tests share: a seeded generator and tree snapshots.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read as _;

use ferrocore_mirror::{Ignore, LocalDrive, MirrorSource};

/// A small seeded generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// What a tree holds at a path: a file (contents, exec bit) or a link (target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File(Vec<u8>, bool),
    Link(String),
}

/// Every entry of a side, by key, read through the side's own API.
pub fn snapshot(side: &dyn MirrorSource) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    for e in side.list("/", &Ignore::none()).unwrap() {
        let e = e.unwrap();
        let node = match &e.value.linkname {
            Some(l) if !l.is_empty() => Node::Link(l.clone()),
            _ => {
                let mut data = Vec::new();
                side.read(&e).unwrap().read_to_end(&mut data).unwrap();
                assert_eq!(data.len() as u64, e.size, "{}", e.key);
                Node::File(data, e.value.executable)
            }
        };
        assert!(out.insert(e.key.clone(), node).is_none(), "{} twice", e.key);
    }
    out
}

/// A drive over a fresh temporary folder (kept alive by the returned guard).
pub fn temp_drive() -> (tempfile::TempDir, LocalDrive) {
    let dir = tempfile::tempdir().unwrap();
    let drive = LocalDrive::new(dir.path()).unwrap();
    (dir, drive)
}

/// Temporary files a writer may have left under `root`.
pub fn leftovers(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".localdrive.tmp") {
                out.push(p);
            }
        }
    }
    out
}
