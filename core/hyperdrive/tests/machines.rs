//! The drive machines' contracts on their own: what a write stream hands out and when,
//! dedup through the path's current entry, misuse and hostile ids as typed errors,
//! `has` over held and missing blocks, and the truncate and clear plans.

use bytes::Bytes;
use ferrocore_hyperblobs::BlobId;
use ferrocore_hyperdrive::drive::{DriveOp, Machine, Step, WriteStreamOptions};
use ferrocore_hyperdrive::entry::Entry;
use ferrocore_hyperdrive::path::PathError;
use ferrocore_hyperdrive::testing::MemDrive;
use ferrocore_hyperdrive::{DriveConfig, DriveError};
use ferrocore_wire::json::Value;

fn put(d: &mut MemDrive, path: &str, content: &'static [u8]) {
    let mut w = d
        .drive
        .put(path, Bytes::from_static(content), false, Value::Null);
    let out = d.run(&mut w).unwrap();
    assert_eq!(out.results, [Ok(())]);
}

fn small() -> MemDrive {
    MemDrive::new(DriveConfig {
        block_size: Some(4),
        ..DriveConfig::default()
    })
}

#[test]
fn a_write_stream_waits_for_its_end_and_dedups_against_the_current_entry() {
    let mut d = small();
    let opts = WriteStreamOptions {
        dedup: true,
        ..WriteStreamOptions::default()
    };
    let mut ws = d.drive.write_stream("/f", opts.clone());
    for chunk in ["ab", "cd", "ab"] {
        ws.write(Bytes::from(chunk));
        assert_eq!(d.run(&mut ws).unwrap(), None, "open until ended");
    }
    assert!(d.db.is_empty(), "the entry waits for the end");
    ws.end();
    let first = d.run(&mut ws).unwrap().unwrap();
    // Two data blocks (the repeated one deduplicated) and one map block.
    assert_eq!(d.blobs.len(), 3);
    assert!(first.block_map && first.block_offset == 2 && first.block_length == 1);
    assert_eq!(d.db.len(), 2);
    let mut ws = d.drive.write_stream("/f", opts);
    ws.write(Bytes::from("cd"));
    ws.write(Bytes::from("ef"));
    ws.end();
    let second = d.run(&mut ws).unwrap().unwrap();
    // `cd` is found in the old entry's map: only `ef` and the map are appended.
    assert_eq!(d.blobs.len(), 5);
    assert_eq!(second.block_offset, 4);
    let mut get = d.drive.view().get("/f", Default::default());
    assert_eq!(d.run(&mut get).unwrap().as_deref(), Some(&b"cdef"[..]));
}

#[test]
fn a_put_to_a_refused_path_stores_its_blob_and_no_entry() {
    let mut d = small();
    put(&mut d, "/a", b"x");
    let (db, blobs) = (d.db.len(), d.blobs.len());
    let mut w = d
        .drive
        .put("/", Bytes::from_static(b"12345"), false, Value::Null);
    let out = d.run(&mut w).unwrap();
    assert_eq!(out.results, [Err(PathError::Root)]);
    assert_eq!((d.db.len(), d.blobs.len()), (db, blobs + 2));
    let ops = vec![
        DriveOp::Del { path: "/a".into() },
        DriveOp::Symlink {
            path: "/l".into(),
            target: "/a".into(),
            metadata: Value::Null,
        },
    ];
    let out = d.run(&mut d.drive.write(ops)).unwrap();
    assert_eq!(
        (out.db_blocks, d.db.len()),
        (2, db + 2),
        "one append for the batch"
    );
}

#[test]
fn answers_not_asked_for_are_errors() {
    let mut d = small();
    put(&mut d, "/a", b"abcdefgh");
    // Reopened: the bee's cache is cold, so the lookup asks for blocks.
    let mut d = MemDrive::from_blocks(d.db, d.blobs, DriveConfig::default());
    let view = d.drive.view();
    let mut get = view.get("/a", Default::default());
    let Step::NeedDb(seq) = get.poll(&mut d.drive).unwrap() else {
        panic!("a lookup starts in the db")
    };
    let block = d.db[seq as usize].clone();
    assert!(matches!(
        get.handle_db(seq + 1, &block),
        Err(DriveError::Bee(_))
    ));
    assert_eq!(
        get.handle_blobs(0, None),
        Err(DriveError::Unexpected("blobs", 0))
    );
    assert_eq!(
        get.handle_has(0, 1, true),
        Err(DriveError::Unexpected("has", 0))
    );
}

#[test]
fn a_hostile_blob_id_reads_as_missing_without_asking_past_the_core() {
    let mut d = small();
    put(&mut d, "/a", b"abcd");
    let id = BlobId {
        block_offset: 1 << 40,
        byte_offset: 1 << 50,
        block_length: 1 << 30,
        byte_length: 1 << 52,
        block_map: false,
    };
    let entry = Entry::file(id, false, Value::Null);
    let op = DriveOp::PutEntry {
        path: "/evil".into(),
        entry,
    };
    d.run(&mut d.drive.write(vec![op])).unwrap();
    let before = d.fetched;
    let mut get = d.drive.view().get("/evil", Default::default());
    assert_eq!(d.run(&mut get), Err(DriveError::BlockNotAvailable));
    let mut rs = d.drive.view().read_stream("/evil", Default::default());
    assert_eq!(d.collect(&mut rs), Err(DriveError::BlockNotAvailable));
    assert!(d.fetched - before <= 4, "only db blocks were asked");
    assert!(!d.run(&mut d.drive.view().has("/evil")).unwrap());
    let mut map = id;
    map.block_map = true;
    map.block_length = 65;
    let op = DriveOp::PutEntry {
        path: "/map".into(),
        entry: Entry::file(map, false, Value::Null),
    };
    d.run(&mut d.drive.write(vec![op])).unwrap();
    let mut get = d.drive.view().get("/map", Default::default());
    assert!(matches!(d.run(&mut get), Err(DriveError::Blob(_))));
}

#[test]
fn has_clear_and_truncate_follow_the_held_blocks() {
    let mut d = small();
    put(&mut d, "/d/a", b"abcdefgh");
    put(&mut d, "/d/b", b"ij");
    let link = DriveOp::Symlink {
        path: "/d/l".into(),
        // Resolved against the link as a folder (`/d/l/a`) were it relative.
        target: "/d/a".into(),
        metadata: Value::Null,
    };
    d.run(&mut d.drive.write(vec![link])).unwrap();
    let view = d.drive.view();
    assert!(d.run(&mut view.has("/d")).unwrap());
    assert!(d.run(&mut view.has("/d/")).unwrap());
    assert!(
        !d.run(&mut view.has("/d/l")).unwrap(),
        "a link holds no blob"
    );
    assert!(!d.run(&mut view.has("/nothing")).unwrap());
    assert_eq!(d.run(&mut d.drive.clear("/d/l")), Err(DriveError::NoBlob));
    assert_eq!(d.run(&mut d.drive.clear("/none")), Ok(vec![]));
    let ranges = d.run(&mut d.drive.clear("/d/a")).unwrap();
    assert_eq!(ranges, [(0, 2)]);
    d.apply_clear(&ranges);
    assert!(!d.run(&mut view.has("/d")).unwrap());
    assert!(d.run(&mut view.has("/d/b")).unwrap());
    let mut get = view.get("/d/l", Default::default());
    assert_eq!(d.run(&mut get), Ok(None), "a link is not followed");
    let mut get = view.get(
        "/d/l",
        ferrocore_hyperdrive::drive::GetOptions {
            follow: true,
            ..Default::default()
        },
    );
    assert_eq!(d.run(&mut get), Err(DriveError::BlockNotAvailable));

    let len = d.db.len() as u64;
    assert_eq!(
        d.run(&mut d.drive.truncate(len + 1, None)),
        Err(DriveError::BadTruncation)
    );
    assert_eq!(
        d.run(&mut d.drive.truncate(2, Some(99))),
        Err(DriveError::BadTruncation)
    );
    let to = d.run(&mut d.drive.truncate(2, None)).unwrap();
    assert_eq!((to.db, to.blobs), (2, 2), "only /d/a's blocks are needed");
    d.apply_truncate(to);
    assert_eq!(d.drive.version(), 2);
    put(&mut d, "/d/c", b"zz");
    assert_eq!(d.blobs.len(), 3);
}
