//! protomux frames (`protomux@3.12.1`): the multiplexing layer between secret-stream
//! records and channel messages. Each decrypted record is exactly one frame.
//!
//! ```text
//! uint channel ‖ uint type ‖ payload
//! channel 0 = control: type 0 batch, 1 open, 2 reject, 3 close
//! ```
//!
//! Codecs are implemented by the wire work item (see the crate README).
