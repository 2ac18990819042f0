//! Mirroring through a Hyperdrive (the blocking adapter's drive on two cores of a node):
//! a generated folder → drive → folder comes back identical (contents, exec bits, link
//! targets, Unicode names), drive → drive too; mirroring again finds everything equal; a
//! change of only the exec bit goes to the drive as a `putEntry` (no bytes counted, the
//! blob kept), as mirror-drive does with a Hyperdrive target.

mod common;

use common::{generate, new_drive, snapshot, temp_drive};
use ferrocore::replication::EndpointConfig;
use ferrocore_blocking::Node;
use ferrocore_mirror::{Mirror, MirrorSource, Op};
use ferrocore_wire::json::Value;

#[test]
fn a_folder_goes_through_a_drive_and_back_unchanged() {
    let (_a, src) = temp_drive();
    let total = generate(&src, 0xd21e);
    let node = Node::new(EndpointConfig::default()).unwrap();
    let mut drive = new_drive(&node, 1);

    let s = Mirror::new(&src, &mut drive).run().unwrap();
    assert_eq!(s.bytes_added, total);
    assert_eq!((s.count.remove, s.count.change), (0, 0));
    let tree = snapshot(&src);
    assert_eq!(snapshot(&drive), tree, "the drive holds the folder");

    let (_b, mut back) = temp_drive();
    let s = Mirror::new(&drive, &mut back).run().unwrap();
    assert_eq!(s.bytes_added, total);
    assert_eq!(snapshot(&back), tree, "the folder out of the drive");

    // Drive → drive.
    let mut other = new_drive(&node, 2);
    Mirror::new(&drive, &mut other).run().unwrap();
    assert_eq!(snapshot(&other), tree, "drive to drive");

    // Again: nothing to do.
    let version = drive.version();
    let again = Mirror::new(&src, &mut drive).run().unwrap();
    assert_eq!(
        (again.count.add, again.count.change, again.count.remove),
        (0, 0, 0)
    );
    assert_eq!(drive.version(), version, "nothing written");

    // An exec bit flipped: a putEntry keeping the blob, no bytes counted.
    let key = "/sizes/file-04.bin";
    let before = drive.entry(key, false).unwrap().unwrap().entry;
    let data = src.get(key).unwrap().unwrap();
    src.put(key, &data, !before.executable, &Value::Null)
        .unwrap();
    let mut m = Mirror::new(&src, &mut drive);
    let diffs: Vec<_> = (&mut m).collect::<Result<_, _>>().unwrap();
    let s = m.summary();
    drop(m);
    assert_eq!(diffs.len(), 1);
    assert_eq!((diffs[0].op, diffs[0].key.as_str()), (Op::Change, key));
    assert_eq!((s.bytes_added, s.bytes_removed), (0, 0));
    let after = drive.entry(key, false).unwrap().unwrap().entry;
    assert_eq!(after.executable, !before.executable);
    assert_eq!(after.blob, before.blob, "the blob is kept");

    // A file removed from the folder goes (prune is on by default).
    src.del("/many/d0/f1").ok();
    src.del(key).unwrap();
    let s = Mirror::new(&src, &mut drive).run().unwrap();
    assert!(s.count.remove >= 1);
    assert!(drive.entry(key, false).unwrap().is_none());
    assert_eq!(snapshot(&drive), snapshot(&src));
    assert!(MirrorSource::supports_metadata(&drive));
}
