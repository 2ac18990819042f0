//! Shared helpers for ferrocore's conformance and property tests.
