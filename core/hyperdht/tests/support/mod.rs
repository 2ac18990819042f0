//! Shared helpers of the integration tests.

pub mod js;
pub mod udp;
