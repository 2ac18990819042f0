//! What the swarm knows of one peer (JS `lib/peer-info.js`): attempts, priority, ban.

use alloc::vec::Vec;
use core::time::Duration;

use crate::types::{PublicKey, Topic};

/// A connection that lasted this long resets the attempts (JS `MIN_CONNECTION_TIME`).
pub const MIN_CONNECTION_TIME: Duration = Duration::from_secs(15);

/// A peer's place in the connect queue (JS's five priorities, higher first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Stale or given up on (JS `VERY_LOW_PRIORITY`, 0).
    VeryLow = 0,
    /// Third retry (JS `LOW_PRIORITY`, 1).
    Low = 1,
    /// A fresh peer (JS `NORMAL_PRIORITY`, 2).
    Normal = 2,
    /// Second retry (JS `HIGH_PRIORITY`, 3).
    High = 3,
    /// First retry (JS `VERY_HIGH_PRIORITY`, 4).
    VeryHigh = 4,
}

/// One known peer (JS `PeerInfo`).
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's key.
    pub public_key: PublicKey,
    /// The relay addresses it announced last ("new is always better").
    pub relay_addresses: Vec<Vec<u8>>,
    /// False stops retries (JS `reconnect(false)`).
    pub reconnecting: bool,
    /// A client connection to it opened once.
    pub proven: bool,
    /// When the current client connection opened.
    pub connected_time: Option<Duration>,
    /// When the last client connection closed.
    pub disconnected_time: Duration,
    /// Banned peers are never dialled and their connections are refused.
    pub banned: bool,
    /// JS `tried` (never set by hyperswarm 4.17.2 itself; kept for the priority rule).
    pub tried: bool,
    /// Joined with [`crate::Swarm::join_peer`].
    pub explicit: bool,
    /// In a retry timer.
    pub waiting: bool,
    /// Holepunching failed; dial through the relay.
    pub force_relaying: bool,
    /// In the connect queue.
    pub queued: bool,
    /// The last kept connection was ours (JS `client`; `server` is its negation).
    pub client: bool,
    /// Topics it was found on, first seen first.
    pub topics: Vec<Topic>,
    /// Failed or short client connections since the last reset.
    pub attempts: u32,
    /// Its queue priority.
    pub priority: Priority,
    /// The flush tick at which it was queued.
    pub(crate) flush_tick: u64,
}

impl PeerInfo {
    pub(crate) fn new(public_key: PublicKey, relay_addresses: Vec<Vec<u8>>) -> Self {
        PeerInfo {
            public_key,
            relay_addresses,
            reconnecting: true,
            proven: false,
            connected_time: None,
            disconnected_time: Duration::ZERO,
            banned: false,
            tried: false,
            explicit: false,
            waiting: false,
            force_relaying: false,
            queued: false,
            client: false,
            topics: Vec::new(),
            attempts: 0,
            priority: Priority::Normal,
            flush_tick: 0,
        }
    }

    /// JS `server`: the peer was not last connected as our client.
    pub fn server(&self) -> bool {
        !self.client
    }

    /// JS `prioritized`: at least normal priority.
    pub fn prioritized(&self) -> bool {
        self.priority >= Priority::Normal
    }

    fn compute_priority(&self) -> Priority {
        let stale = self.tried && !self.proven;
        match self.attempts {
            _ if stale => Priority::VeryLow,
            0 => Priority::Normal,
            1 => Priority::VeryHigh,
            2 => Priority::High,
            3 => Priority::Low,
            _ => Priority::VeryLow,
        }
    }

    pub(crate) fn connected(&mut self, now: Duration) {
        self.proven = true;
        self.connected_time = Some(now);
    }

    pub(crate) fn disconnected(&mut self, now: Duration) {
        self.disconnected_time = now;
        if let Some(opened) = self.connected_time.take() {
            if now.saturating_sub(opened) >= MIN_CONNECTION_TIME {
                self.attempts = 0; // fast retry
            }
        }
        self.attempts += 1;
    }

    pub(crate) fn reset(&mut self) {
        self.client = false;
        self.proven = false;
        self.tried = false;
        self.attempts = 0;
    }

    /// JS `_updatePriority`: false when the peer must not be queued now.
    pub(crate) fn update_priority(&mut self) -> bool {
        if self.explicit && self.attempts > 3 {
            self.attempts = 3; // _deprioritize
        }
        if self.banned || self.queued || self.attempts > 3 {
            return false;
        }
        self.priority = self.compute_priority();
        true
    }

    pub(crate) fn add_topic(&mut self, topic: &Topic) {
        if !self.topics.contains(topic) {
            self.topics.push(*topic);
        }
    }

    /// JS `shouldGC`.
    pub(crate) fn should_gc(&self) -> bool {
        !(self.banned || self.queued || self.explicit || self.waiting)
    }
}
