//! The connection side of the swarm (JS `_connect`, `_handleServerConnection` and the close
//! handlers): dialling, opening, deduplicating and closing connections, explicit peers.

use alloc::vec::Vec;
use core::time::Duration;

use crate::peer::PeerInfo;
use crate::swarm::Conn;
use crate::types::{CloseReason, Command, ConnId, ErrorCode, Event, PublicKey, Topic};
use crate::Swarm;

impl Swarm {
    // ---- client connections ------------------------------------------------------------

    pub(crate) fn connect(&mut self, key: &PublicKey, queued: bool) {
        let skip = self.peers.get(key).is_none_or(|p| p.banned) || self.by_key.contains_key(key);
        if skip || self.handle_firewall(key, None) {
            if queued {
                self.flush_maybe(key);
            }
            return;
        }
        let Some(peer) = self.peers.get(key) else {
            return;
        };
        let relay_through = self
            .config
            .relay_through
            .filter(|_| peer.force_relaying || self.randomized);
        let relay_addresses = peer.relay_addresses.clone();
        let conn = self.alloc_conn_id();
        self.commands.push_back(Command::Connect {
            conn,
            public_key: *key,
            relay_addresses,
            relay_through,
        });
        self.conns.insert(
            conn,
            Conn {
                remote: *key,
                client: true,
                opened: false,
                queued,
                closing: false,
                bytes_read: 0,
                bytes_written: 0,
            },
        );
        self.by_key.insert(*key, conn);
        self.stats.client_attempted += 1;
        self.connecting += 1;
        self.client_connections += 1;
        self.update();
    }

    fn connect_done(&mut self) {
        self.connecting -= 1;
        if self.connecting < self.config.max_parallel {
            self.attempt_client_connections();
        }
        if self.connecting == 0 {
            self.flush_all_maybe();
        }
    }

    /// A connection opened: `initiator` for one the swarm dialled ([`Command::Connect`]),
    /// otherwise an incoming connection the DHT server accepted (its id from
    /// [`Swarm::alloc_conn_id`]), deduplicated against an existing one to the same peer.
    pub fn handle_connected(
        &mut self,
        now: Duration,
        conn: ConnId,
        remote: PublicKey,
        initiator: bool,
    ) {
        self.now = now;
        if initiator {
            self.client_opened(conn);
        } else {
            self.server_connection(conn, remote);
        }
        self.progress_flushes();
    }

    fn client_opened(&mut self, id: ConnId) {
        let Some(c) = self.conns.get(&id) else {
            return;
        };
        if !c.client || c.opened || c.closing {
            return;
        }
        let (key, queued) = (c.remote, c.queued);
        self.stats.client_opened += 1;
        self.connect_done();
        if let Some(c) = self.conns.get_mut(&id) {
            c.opened = true;
        }
        let now = self.now;
        let topics = match self.peers.get_mut(&key) {
            Some(peer) => {
                peer.connected(now);
                peer.client = true;
                peer.topics.clone()
            }
            None => Vec::new(),
        };
        self.events.push_back(Event::Connection {
            conn: id,
            remote_public_key: key,
            is_initiator: true,
            topics,
        });
        if queued {
            self.flush_maybe(&key);
        }
        self.update();
    }

    /// JS `_handleServerConnection`.
    fn server_connection(&mut self, id: ConnId, remote: PublicKey) {
        if self.destroyed || self.suspended {
            self.commands.push_back(Command::Close {
                conn: id,
                reason: CloseReason::Destroyed,
            });
            return;
        }
        if let Some(&existing) = self.by_key.get(&remote) {
            let old = &self.conns[&existing];
            // A connection that has both sent and received is outdated: the peer must have
            // lost it and be reconnecting. Otherwise the connection dialled by the peer with
            // the larger key wins; this one was dialled by the remote.
            let outdated = old.bytes_read > 0 && old.bytes_written > 0;
            let we_initiate = self.key > remote;
            let keep_new = outdated || !we_initiate;
            if !keep_new {
                self.commands
                    .push_back(Command::SendKeepAlive { conn: existing });
                self.commands.push_back(Command::Close {
                    conn: id,
                    reason: CloseReason::Duplicate,
                });
                return;
            }
            if let Some(c) = self.conns.get_mut(&existing) {
                c.closing = true;
            }
            self.commands.push_back(Command::Close {
                conn: existing,
                reason: CloseReason::Duplicate,
            });
            self.swaps.push((existing, id));
            return;
        }
        self.stats.server_opened += 1;
        let topics = match self.upsert_peer(&remote, Vec::new()) {
            Some(peer) => {
                peer.client = false;
                peer.topics.clone()
            }
            None => Vec::new(),
        };
        self.conns.insert(
            id,
            Conn {
                remote,
                client: false,
                opened: true,
                queued: false,
                closing: false,
                bytes_read: 0,
                bytes_written: 0,
            },
        );
        self.by_key.insert(remote, id);
        self.server_connections += 1;
        self.events.push_back(Event::Connection {
            conn: id,
            remote_public_key: remote,
            is_initiator: false,
            topics,
        });
        self.update();
    }

    /// The raw byte counters of a connection (JS `rawBytesRead`/`rawBytesWritten`): a
    /// connection with traffic both ways loses to a newer duplicate.
    pub fn handle_traffic(&mut self, conn: ConnId, bytes_read: u64, bytes_written: u64) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.bytes_read = bytes_read;
            c.bytes_written = bytes_written;
        }
    }

    /// A dial failed with the DHT's error code (JS `'error'` then `'close'` before `'open'`).
    pub fn handle_connect_failed(&mut self, now: Duration, conn: ConnId, code: &ErrorCode) {
        self.now = now;
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.client && !c.opened && self.config.relay_through.is_some() && code.forces_relaying() {
            if let Some(peer) = self.peers.get_mut(&c.remote) {
                peer.force_relaying = true;
                peer.attempts = 0; // fast connect through the relay
            }
        }
        self.closed(conn);
        self.progress_flushes();
    }

    /// A connection closed (for any reason, including a [`Command::Close`]).
    pub fn handle_closed(&mut self, now: Duration, conn: ConnId) {
        self.now = now;
        self.closed(conn);
        self.progress_flushes();
    }

    fn closed(&mut self, id: ConnId) {
        if let Some(i) = self.swaps.iter().position(|s| s.1 == id) {
            self.swaps.remove(i); // the waiting connection died first
        }
        let Some(c) = self.conns.get(&id).cloned() else {
            return;
        };
        // JS order: a dial that never opened frees its parallel slot while it still holds
        // the peer's place in `_allConnections`, so the slot is not refilled with it.
        if c.client && !c.opened {
            self.connect_done();
        }
        self.conns.remove(&id);
        if self.by_key.get(&c.remote) == Some(&id) {
            self.by_key.remove(&c.remote);
        }
        if c.client {
            self.client_closed(&c);
        } else {
            self.server_connections -= 1;
            self.stats.server_closed += 1;
            self.maybe_delete_peer(&c.remote);
            self.attempt_client_connections();
            self.update();
        }
        if let Some(i) = self.swaps.iter().position(|s| s.0 == id) {
            let (_, waiting) = self.swaps.remove(i);
            self.server_connection(waiting, c.remote);
        }
    }

    fn client_closed(&mut self, c: &Conn) {
        self.stats.client_closed += 1;
        self.client_connections -= 1;
        let now = self.now;
        if let Some(peer) = self.peers.get_mut(&c.remote) {
            peer.disconnected(now);
        }
        if let Some(peer) = self.peers.get(&c.remote) {
            let waiting = self.should_requeue(peer) && self.retry.add(now, peer);
            if let Some(peer) = self.peers.get_mut(&c.remote) {
                peer.waiting = waiting;
            }
        }
        self.maybe_delete_peer(&c.remote);
        if !c.opened && c.queued {
            self.flush_maybe(&c.remote);
        }
        self.attempt_client_connections();
        self.update();
    }

    /// Connect to a peer directly and keep reconnecting (JS `joinPeer`).
    pub fn join_peer(&mut self, now: Duration, key: PublicKey) {
        self.now = now;
        let Some(peer) = self.upsert_peer(&key, Vec::new()) else {
            return;
        };
        peer.explicit = true;
        if !self.explicit.contains(&key) {
            self.explicit.push(key);
        }
        if !self.by_key.contains_key(&key)
            && self
                .peers
                .get_mut(&key)
                .is_some_and(PeerInfo::update_priority)
        {
            self.enqueue(&key);
        }
        self.progress_flushes();
    }

    /// Stop reconnecting to an explicit peer (JS `leavePeer`; an open connection stays).
    pub fn leave_peer(&mut self, key: &PublicKey) {
        let Some(peer) = self.peers.get_mut(key) else {
            return;
        };
        peer.explicit = false;
        self.explicit.retain(|k| k != key);
        self.maybe_delete_peer(key);
    }

    /// The network changed (JS `network-change`, or `network-update` coming online): probe
    /// every connection with a keep-alive and refresh every topic.
    pub fn handle_network_change(&mut self, now: Duration) {
        self.now = now;
        let conns: Vec<ConnId> = self.by_key.values().copied().collect();
        for conn in conns {
            self.commands.push_back(Command::SendKeepAlive { conn });
        }
        let topics: Vec<Topic> = self.discoveries.keys().copied().collect();
        for topic in topics {
            self.refresh_discovery(&topic);
        }
        self.progress_flushes();
    }
}
