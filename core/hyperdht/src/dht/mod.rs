//! HyperDHT (`hyperdht@6.34.0`) on top of [`rpc`](crate::rpc).

pub mod persistent;
pub mod records;
pub mod records_cache;
pub mod router;
