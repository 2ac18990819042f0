//! Tests of the dispatch and router.
