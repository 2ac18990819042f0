//! The application's event queue, with the memory it holds counted, so that a peer's input
//! is handled only while the application keeps up (see
//! [`EndpointConfig::max_event_bytes`](crate::replication::EndpointConfig::max_event_bytes)).

use alloc::collections::VecDeque;
use core::mem::size_of;

use super::Event;

/// Events waiting for [`Endpoint::poll_event`](super::Endpoint::poll_event), and their cost.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    queue: VecDeque<Event>,
    bytes: usize,
}

impl EventQueue {
    pub(super) fn push_back(&mut self, event: Event) {
        self.bytes += cost(&event);
        self.queue.push_back(event);
    }

    pub(super) fn pop_front(&mut self) -> Option<Event> {
        let event = self.queue.pop_front()?;
        self.bytes -= cost(&event);
        Some(event)
    }

    /// Bytes the queued events hold (see [`cost`]).
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// What an event holds: itself, and the payload of an extension message (a copy of the
/// peer's bytes, the one part of an event a peer chooses the size of).
fn cost(event: &Event) -> usize {
    size_of::<Event>()
        + match event {
            Event::Extension { name, message, .. } => name.len() + message.len(),
            _ => 0,
        }
}
