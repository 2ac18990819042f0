//! Keeps a server's peer record on the DHT (`hyperdht@6.34.0` `lib/announcer.js`)
//! without I/O.
//!
//! An update runs a `FIND_PEER` query for the target, signs an `ANNOUNCE` for each of the
//! three closest replies (with that node's id and token) and sends it; the nodes that
//! accept become the server's relays (offered for holepunching) and, with our own address
//! when we are reachable, its `relayAddresses` (at most three). Nodes that held the
//! record in the update before last but not in the last one get a signed `UNANNOUNCE`
//! (after a `FIND_PEER` request for a fresh token).
//!
//! Between updates the relays are pinged every [`PING_INTERVAL`], for
//! [`PING_ROUNDS`] rounds (about five minutes), then the record is refreshed; when fewer
//! than `min(relays, 3)` relays answer a round, at once. [`Announcer::stop`] unannounces
//! the current relays.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use ed25519_dalek::{Signer, SigningKey};
use ferrocore_wire::dht::signable::{NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    announce_signable, dht_commands, Announce, Ipv4Address, Peer, RelayInfo,
};
use ferrocore_wire::noise::KeyPair;
use ferrocore_wire::Encode;

use super::handshake::target;

/// Rounds of relay pings between two updates (`i < 100`).
pub const PING_ROUNDS: u32 = 100;
/// Pause between two rounds of relay pings (`sleeper.pause(3000)`).
pub const PING_INTERVAL: Duration = Duration::from_secs(3);
/// Relays that must answer a round (at most this many) to skip an early refresh
/// (`MIN_ACTIVE`).
pub const MIN_ACTIVE: usize = 3;
/// Closest replies announced to (`pickBest`).
pub const ANNOUNCE_TO: usize = 3;
/// `relayAddresses` published, at most.
pub const MAX_RELAY_ADDRESSES: usize = 3;

/// The announcer's handle on one of its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AnnounceRequestId(pub u64);

/// A `FIND_PEER` query reply the announcer can commit to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosestReply {
    /// The replying node.
    pub from: Ipv4Address,
    /// Its (verified) id.
    pub id: [u8; 32],
    /// The token it gave us.
    pub token: [u8; 32],
    /// Our address as it saw it.
    pub to: Ipv4Address,
}

/// What the caller does for the announcer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnounceAction {
    /// Run a `FIND_PEER` query for `target` (starting from `nodes` when not empty), then
    /// call [`Announcer::handle_query_done`] with its closest replies (those with id and
    /// token, closest first) and closest nodes.
    Query {
        /// The server's target.
        target: [u8; 32],
        /// The closest nodes of the previous update.
        nodes: Vec<Ipv4Address>,
    },
    /// Send a request; report [`Announcer::handle_response`] or [`Announcer::handle_failure`].
    Request {
        /// The handle to report with.
        id: AnnounceRequestId,
        /// Where.
        to: Ipv4Address,
        /// The token to send.
        token: Option<[u8; 32]>,
        /// `FIND_PEER`, `ANNOUNCE` or `UNANNOUNCE`.
        command: u64,
        /// The server's target.
        target: [u8; 32],
        /// The encoded [`Announce`], if any.
        value: Option<Bytes>,
    },
    /// Ping a relay (internal `PING`); report as for [`AnnounceAction::Request`].
    Ping {
        /// The handle to report with.
        id: AnnounceRequestId,
        /// The relay.
        to: Ipv4Address,
    },
    /// The relays changed: hand them to the [`Server`](super::server::Server).
    Relays {
        /// Relay pairs for holepunching.
        relays: Vec<RelayInfo>,
        /// The published `relayAddresses`.
        relay_addresses: Vec<Ipv4Address>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Commit(ClosestReply),
    UnannounceToken,
    Unannounce,
    Ping,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Idle,
    Querying,
    Committing,
    /// Pinging relays in round `n`; `answered` so far.
    Pinging {
        round: u32,
        answered: usize,
        sent: usize,
    },
    /// Sleeping until the next round.
    Sleeping {
        round: u32,
        until: Duration,
    },
    Stopped,
}

/// Announces one key pair's record.
pub struct Announcer {
    key_pair: KeyPair,
    signing: SigningKey,
    target: [u8; 32],
    our_address: Option<Ipv4Address>,
    phase: Phase,
    /// The latest time an input brought.
    now: Duration,
    refreshing: bool,
    next_id: u64,
    pending: BTreeMap<AnnounceRequestId, (Ipv4Address, Pending)>,
    closest_nodes: Vec<Ipv4Address>,
    /// `_serverRelays`: the nodes holding our record in the update before last, the last
    /// one and the running one.
    server_relays: [Vec<Ipv4Address>; 3],
    relays: Vec<RelayInfo>,
    relay_addresses: Vec<Ipv4Address>,
    new_relays: Vec<RelayInfo>,
    new_relay_addresses: Vec<Ipv4Address>,
    actions: VecDeque<AnnounceAction>,
}

impl core::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Announcer")
            .field("phase", &self.phase)
            .field("relays", &self.relays)
            .finish_non_exhaustive()
    }
}

impl Announcer {
    /// An announcer for `key_pair`; `our_address` is this node's address when it is
    /// reachable (published first among the relay addresses).
    #[must_use]
    pub fn new(key_pair: KeyPair, our_address: Option<Ipv4Address>) -> Self {
        Self {
            signing: SigningKey::from_bytes(&key_pair.seed()),
            target: target(&key_pair.public_key),
            key_pair,
            our_address,
            phase: Phase::Idle,
            now: Duration::ZERO,
            refreshing: false,
            next_id: 0,
            pending: BTreeMap::new(),
            closest_nodes: Vec::new(),
            server_relays: [Vec::new(), Vec::new(), Vec::new()],
            relays: Vec::new(),
            relay_addresses: Vec::new(),
            new_relays: Vec::new(),
            new_relay_addresses: Vec::new(),
            actions: VecDeque::new(),
        }
    }

    /// The relays of the last update.
    #[must_use]
    pub fn relays(&self) -> &[RelayInfo] {
        &self.relays
    }

    /// The relay addresses of the last update.
    #[must_use]
    pub fn relay_addresses(&self) -> &[Ipv4Address] {
        &self.relay_addresses
    }

    /// Whether `addr` held our record in one of the last updates (`isRelay`).
    #[must_use]
    pub fn is_relay(&self, addr: &Ipv4Address) -> bool {
        self.server_relays.iter().any(|r| r.contains(addr))
    }

    /// The first update (`start`); later ones follow by themselves.
    pub fn start(&mut self, now: Duration) {
        self.now = now;
        if self.phase == Phase::Idle {
            self.update();
        }
    }

    /// Asks for an update after the current round (`refresh`).
    pub fn refresh(&mut self) {
        if self.phase != Phase::Stopped {
            self.refreshing = true;
        }
    }

    /// Our reachable address changed.
    pub fn set_our_address(&mut self, addr: Option<Ipv4Address>) {
        self.our_address = addr;
    }

    fn update(&mut self) {
        self.refreshing = false;
        self.server_relays.rotate_left(1);
        self.server_relays[2].clear();
        self.phase = Phase::Querying;
        self.actions.push_back(AnnounceAction::Query {
            target: self.target,
            nodes: self.closest_nodes.clone(),
        });
    }

    fn request(
        &mut self,
        to: Ipv4Address,
        what: Pending,
        token: Option<[u8; 32]>,
        command: u64,
        value: Option<Bytes>,
    ) {
        let id = AnnounceRequestId(self.next_id);
        self.next_id += 1;
        self.pending.insert(id, (to, what));
        self.actions.push_back(if what == Pending::Ping {
            AnnounceAction::Ping { id, to }
        } else {
            AnnounceAction::Request {
                id,
                to,
                token,
                command,
                target: self.target,
                value,
            }
        });
    }

    fn signed(&self, ns: &[u8; 32], node_id: &[u8; 32], token: &[u8; 32]) -> Bytes {
        let peer = Peer {
            public_key: self.key_pair.public_key,
            relay_addresses: Vec::new(),
        };
        let msg = announce_signable(ns, &self.target, node_id, token, &peer, None);
        Bytes::from(
            Announce {
                peer: Some(peer),
                refresh: None,
                signature: Some(self.signing.sign(&msg).to_bytes()),
                bump: 0,
            }
            .to_vec(),
        )
    }

    /// The update's query ended: `replies` are its closest replies, `closest_nodes` its
    /// closest nodes.
    pub fn handle_query_done(
        &mut self,
        now: Duration,
        replies: &[ClosestReply],
        closest_nodes: Vec<Ipv4Address>,
    ) {
        self.now = now;
        if self.phase != Phase::Querying {
            return;
        }
        self.phase = Phase::Committing;
        self.closest_nodes = closest_nodes;
        self.new_relays.clear();
        self.new_relay_addresses = self.our_address.into_iter().collect();
        for r in replies.iter().take(ANNOUNCE_TO) {
            let value = self.signed(&NS_ANNOUNCE, &r.id, &r.token);
            self.request(
                r.from,
                Pending::Commit(*r),
                Some(r.token),
                dht_commands::ANNOUNCE,
                Some(value),
            );
        }
        self.after_commit();
    }

    fn commits_left(&self) -> bool {
        self.pending
            .values()
            .any(|(_, p)| matches!(p, Pending::Commit(_)))
    }

    fn after_commit(&mut self) {
        if self.phase != Phase::Committing || self.commits_left() {
            return;
        }
        self.relays = core::mem::take(&mut self.new_relays);
        self.relay_addresses = core::mem::take(&mut self.new_relay_addresses);
        self.actions.push_back(AnnounceAction::Relays {
            relays: self.relays.clone(),
            relay_addresses: self.relay_addresses.clone(),
        });
        let removed: Vec<Ipv4Address> = self.server_relays[1]
            .iter()
            .filter(|a| !self.server_relays[2].contains(a))
            .copied()
            .collect();
        self.unannounce_all(&removed);
        self.ping_round(0);
    }

    fn unannounce_all(&mut self, nodes: &[Ipv4Address]) {
        for to in nodes {
            self.request(
                *to,
                Pending::UnannounceToken,
                None,
                dht_commands::FIND_PEER,
                None,
            );
        }
    }

    fn ping_round(&mut self, round: u32) {
        if round >= PING_ROUNDS || self.refreshing {
            return self.update();
        }
        let relays = self.server_relays[2].clone();
        self.phase = Phase::Pinging {
            round,
            answered: 0,
            sent: relays.len(),
        };
        for to in relays {
            self.request(to, Pending::Ping, None, 0, None);
        }
        self.after_ping();
    }

    fn after_ping(&mut self) {
        let Phase::Pinging {
            round,
            answered,
            sent,
        } = self.phase
        else {
            return;
        };
        if self.pending.values().any(|(_, p)| *p == Pending::Ping) {
            return;
        }
        if answered < sent.min(MIN_ACTIVE) {
            self.refreshing = true;
        }
        if self.refreshing {
            return self.update();
        }
        self.phase = Phase::Sleeping {
            round: round + 1,
            until: self.now + PING_INTERVAL,
        };
    }

    /// A reply to request `id`: from a node with `node_id` (when it sent a valid one),
    /// with `token`, error code `error` and whether it had a value.
    pub fn handle_response(
        &mut self,
        now: Duration,
        id: AnnounceRequestId,
        node_id: Option<[u8; 32]>,
        token: Option<[u8; 32]>,
        error: u64,
        has_value: bool,
    ) {
        self.now = now;
        let Some((to, what)) = self.pending.remove(&id) else {
            return;
        };
        match what {
            Pending::Commit(r) => {
                if error == 0 {
                    if self.new_relay_addresses.len() < MAX_RELAY_ADDRESSES {
                        self.new_relay_addresses.push(r.from);
                    }
                    self.new_relays.push(RelayInfo {
                        relay_address: r.from,
                        peer_address: r.to,
                    });
                    if !self.server_relays[2].contains(&r.from) {
                        self.server_relays[2].push(r.from);
                    }
                }
                self.after_commit();
            }
            Pending::UnannounceToken => {
                if let (Some(token), Some(node_id), true) = (token, node_id, has_value) {
                    let value = self.signed(&NS_UNANNOUNCE, &node_id, &token);
                    self.request(
                        to,
                        Pending::Unannounce,
                        Some(token),
                        dht_commands::UNANNOUNCE,
                        Some(value),
                    );
                }
            }
            Pending::Unannounce => {}
            Pending::Ping => {
                if let Phase::Pinging { answered, .. } = &mut self.phase {
                    *answered += 1;
                }
                self.after_ping();
            }
        }
    }

    /// Request `id` got no reply.
    pub fn handle_failure(&mut self, now: Duration, id: AnnounceRequestId) {
        self.now = now;
        let Some((_, what)) = self.pending.remove(&id) else {
            return;
        };
        match what {
            Pending::Commit(_) => self.after_commit(),
            Pending::Ping => self.after_ping(),
            Pending::UnannounceToken | Pending::Unannounce => {}
        }
    }

    /// When [`Announcer::handle_timeout`] next has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        match self.phase {
            Phase::Sleeping { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Starts the next round of pings (or an update) when its time came.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.now = now;
        if let Phase::Sleeping { round, until } = self.phase {
            if self.refreshing {
                self.update();
            } else if now >= until {
                self.ping_round(round);
            }
        }
    }

    /// Stops announcing and unannounces the record from the current relays (`stop`).
    pub fn stop(&mut self) {
        if self.phase == Phase::Stopped {
            return;
        }
        self.phase = Phase::Stopped;
        self.pending
            .retain(|_, (_, p)| matches!(p, Pending::UnannounceToken | Pending::Unannounce));
        let current = self.server_relays[2].clone();
        self.unannounce_all(&current);
    }

    /// The next action.
    pub fn poll_action(&mut self) -> Option<AnnounceAction> {
        self.actions.pop_front()
    }
}

#[cfg(test)]
#[path = "announcer_tests.rs"]
mod tests;
