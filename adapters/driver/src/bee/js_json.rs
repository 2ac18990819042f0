//! JSON text exactly as JS `JSON.stringify` writes a value (what JS hyperbee's `json`
//! encoding stores). The writer lives in [`ferrocore_wire::json`] (no_std, shared with the
//! sans-IO crates); `stringify(&serde_json::Value)` keeps its place here.

pub use ferrocore_wire::json::stringify;
