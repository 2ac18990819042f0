//! The protomux state machine (work in progress).
