//! Suspend and resume (JS `swarm.suspend()` / `swarm.resume()`), for hosts that sleep.

use alloc::vec::Vec;
use core::time::Duration;

use crate::queue::ConnectQueue;
use crate::retry::RetryTimer;
use crate::types::{CloseReason, Command, ConnId, Topic};
use crate::Swarm;

impl Swarm {
    /// Suspends the swarm: [`Command::Suspend`] for the DHT and its server, every topic's
    /// query and refresh stopped (and unannounced if it announced), every connection closed,
    /// the connect queue and pending retries dropped. Nothing is dialled or accepted until
    /// [`Swarm::resume`].
    ///
    /// Unlike JS 4.17.2, peers dropped from the queue or a retry timer get their `queued` /
    /// `waiting` flags cleared, so they can be queued again after the resume (JS leaves them
    /// set, and such peers are never dialled again).
    pub fn suspend(&mut self, now: Duration) {
        self.now = now;
        if self.suspended {
            return;
        }
        self.commands.push_back(Command::Suspend);
        let topics: Vec<Topic> = self.discoveries.keys().copied().collect();
        for topic in topics {
            let d = self.discoveries.get_mut(&topic).expect("listed");
            if d.suspended {
                continue;
            }
            d.suspended = true;
            if !d.destroyed {
                self.stop_discovery(&topic);
            }
        }
        let conns: Vec<ConnId> = self.by_key.values().copied().collect();
        for conn in conns {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.closing = true;
            }
            self.commands.push_back(Command::Close {
                conn,
                reason: CloseReason::Suspended,
            });
        }
        self.suspended = true;
        self.retry = RetryTimer::new(self.backoffs, self.config.jitter, &mut self.rng);
        self.queue = ConnectQueue::default();
        for peer in self.peers.values_mut() {
            peer.queued = false;
            peer.waiting = false;
        }
        let keys: Vec<_> = self.peers.keys().copied().collect();
        for key in keys {
            self.maybe_delete_peer(&key);
        }
        self.progress_flushes();
    }

    /// Resumes a suspended swarm: [`Command::Resume`], every topic refreshed, dialling again.
    pub fn resume(&mut self, now: Duration) {
        self.now = now;
        if !self.suspended {
            return;
        }
        self.commands.push_back(Command::Resume);
        let topics: Vec<Topic> = self.discoveries.keys().copied().collect();
        for topic in topics {
            let d = self.discoveries.get_mut(&topic).expect("listed");
            if !d.suspended {
                continue;
            }
            d.suspended = false;
            self.refresh_discovery(&topic);
        }
        self.suspended = false;
        self.attempt_client_connections();
        self.progress_flushes();
    }

    /// Turns reconnecting to a known peer off or on (JS `peerInfo.reconnect(val)`): a peer
    /// not reconnecting is not retried after its connection closes.
    pub fn set_reconnect(&mut self, key: &crate::PublicKey, reconnect: bool) {
        if let Some(peer) = self.peers.get_mut(key) {
            peer.reconnecting = reconnect;
        }
    }

    /// The topics joined (JS `topics()`), including ones still tearing down after a leave.
    pub fn topics(&self) -> impl Iterator<Item = &Topic> + '_ {
        self.discoveries.keys()
    }

    /// True between [`Swarm::suspend`] and [`Swarm::resume`].
    pub fn is_suspended(&self) -> bool {
        self.suspended
    }
}
