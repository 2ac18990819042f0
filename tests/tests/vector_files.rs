//! Every vector file must be of a known schema, so none is skipped silently.

use ferrocore_tests::{all_files, name, Schema};

#[test]
fn every_vector_file_has_a_known_schema() {
    let files = all_files();
    assert!(
        files.len() >= 15,
        "expected the JS reference vectors, found {} files",
        files.len()
    );
    for (path, v) in &files {
        assert!(
            Schema::detect(v).is_some(),
            "{}: no known schema (see tests/src/lib.rs)",
            name(path)
        );
    }
}
