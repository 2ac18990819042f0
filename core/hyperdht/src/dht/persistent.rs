//! A persistent HyperDHT node's storage and request handlers (`hyperdht@6.34.0`
//! `lib/persistent.js`), without I/O.
//!
//! [`Persistent::handle_request`] answers `FIND_PEER`, `LOOKUP`, `ANNOUNCE`, `UNANNOUNCE`,
//! `MUTABLE_PUT`, `MUTABLE_GET`, `IMMUTABLE_PUT`, `IMMUTABLE_GET` and `PLUGIN` as JS does:
//! the same checks (target and token present, Ed25519 signatures over the
//! [`signable`](ferrocore_wire::dht::signable)s, the mutable sequence rules with
//! `SEQ_REUSED` / `SEQ_TOO_LOW`, the immutable hash), the same stores with the same size
//! caps and ages ([`Config`]), and the same reply flags. A request JS ignores gives
//! [`Outcome::Drop`]. Announcements of a server's own key (target = BLAKE2b-256 of the
//! announced public key) go to the [`Router`]'s forwarding table, which the caller owns and
//! passes in (JS's node holds both).
//!
//! The request's token is taken as already checked: dht-rpc answers `INVALID_TOKEN` to a
//! request with a wrong one before any handler runs
//! ([`Io`](crate::rpc::io::Io) does the same), so a token here means a valid one.
//!
//! Known difference: JS decodes sequence numbers and bumps as doubles, so values above
//! 2^53 compare inexactly there; here they are exact `u64`s.

use bytes::Bytes;
use core::time::Duration;
use ferrocore_wire::dht::signable::{announce_signable, NS_ANNOUNCE, NS_UNANNOUNCE};
use ferrocore_wire::dht::{
    dht_commands as cmd, errors, immutable_target, mutable_signable, mutable_target, Announce,
    Ipv4Address, MutableGetResponse, MutablePutRequest, Peer, PluginRequest, Request,
};
use ferrocore_wire::encoding::{Decode, Encode, Reader, Writer};

use super::records::RecordCache;
use super::records_cache::Cache;
use super::router::{Forward, Outcome, Reply, Router, Target, DEFAULT_MAX_AGE, DEFAULT_MAX_SIZE};

/// Records a lookup returns at most (JS `records.get(k, 20)`).
pub const MAX_LOOKUP_RECORDS: usize = 20;
/// Relay addresses kept of an announced record (JS truncates to 3).
pub const MAX_RELAY_ADDRESSES: usize = 3;
/// How far (ms) past the node's wall clock a bump may lie (JS `MAX_BUMP_DRIFT`).
pub const MAX_BUMP_DRIFT_MS: u64 = 60_000;
/// The default age limit of mutable and immutable records (48 hours).
pub const DEFAULT_VALUE_MAX_AGE: Duration = Duration::from_secs(48 * 60 * 60);

/// Cache sizes and ages (JS `defaultCacheOpts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Size cap of records, refreshes and bumps (per generation).
    pub max_size: usize,
    /// Age limit of records, refreshes and bumps.
    pub max_age: Duration,
    /// Size cap of mutable and of immutable records (JS: `max_size / 2`).
    pub values_max_size: usize,
    /// Age limit of mutable and immutable records (JS: 48 h unless `maxAge` is given).
    pub values_max_age: Duration,
    /// The UNIX time (ms) at `now == 0`, for the bump drift check (0 when `now` counts
    /// from the UNIX epoch).
    pub unix_origin_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self::from_options(None, None)
    }
}

impl Config {
    /// The configuration JS derives from the node options `maxSize` and `maxAge`
    /// (`None` for unset; 0 counts as unset, as JS's `||` does).
    #[must_use]
    pub fn from_options(max_size: Option<usize>, max_age: Option<Duration>) -> Self {
        let size = max_size.filter(|s| *s != 0).unwrap_or(DEFAULT_MAX_SIZE);
        let age = max_age.filter(|a| !a.is_zero());
        Self {
            max_size: size,
            max_age: age.unwrap_or(DEFAULT_MAX_AGE),
            values_max_size: size / 2,
            values_max_age: age.unwrap_or(DEFAULT_VALUE_MAX_AGE),
            unix_origin_ms: 0,
        }
    }
}

/// What a refresh token re-announces (JS's refreshes entries).
#[derive(Debug, Clone)]
struct Refresh {
    target: Target,
    record: Bytes,
    public_key: [u8; 32],
    announce_self: bool,
}

/// The persistent node's stores and handlers (JS `Persistent`).
#[derive(Debug, Clone)]
pub struct Persistent {
    config: Config,
    records: RecordCache,
    bumps: Cache<Target, u64>,
    refreshes: Cache<[u8; 32], Refresh>,
    mutables: Cache<Target, MutableGetResponse>,
    immutables: Cache<Target, Bytes>,
    rng: u64,
}

impl Persistent {
    /// Empty stores created at `now`; `seed` drives the random choice of the records a
    /// lookup returns.
    #[must_use]
    pub fn new(config: Config, now: Duration, seed: u64) -> Self {
        let (size, age) = (config.max_size, config.max_age);
        let (vsize, vage) = (config.values_max_size, config.values_max_age);
        Self {
            records: RecordCache::new(now, size, age),
            bumps: Cache::new(now, size, age),
            refreshes: Cache::new(now, size, age),
            mutables: Cache::new(now, vsize, vage),
            immutables: Cache::new(now, vsize, vage),
            rng: seed | 1,
            config,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Entries held: `(records, refreshes, bumps, mutables, immutables)`.
    #[must_use]
    pub fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.records.len(),
            self.refreshes.len(),
            self.bumps.len(),
            self.mutables.len(),
            self.immutables.len(),
        )
    }

    /// The next time a store ages entries out ([`Persistent::handle_timeout`]); calling it
    /// is optional (every request applies due aging first) and only releases memory sooner.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        [
            self.records.poll_timeout(),
            self.bumps.poll_timeout(),
            self.refreshes.poll_timeout(),
            self.mutables.poll_timeout(),
            self.immutables.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ages entries out as due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.records.handle_timeout(now);
        self.bumps.handle_timeout(now);
        self.refreshes.handle_timeout(now);
        self.mutables.handle_timeout(now);
        self.immutables.handle_timeout(now);
    }

    /// Answers a HyperDHT request from `from` sent to this node, whose id is `node_id`
    /// (announce signatures cover it). `PEER_HANDSHAKE`, `PEER_HOLEPUNCH` and unknown
    /// commands are not this struct's: they get [`Reply::unknown_command`] (send the first
    /// two to [`Router::handle_request`]).
    pub fn handle_request(
        &mut self,
        now: Duration,
        router: &mut Router,
        node_id: &[u8; 32],
        from: Ipv4Address,
        req: &Request,
    ) -> Outcome {
        let q = |t| In {
            now,
            node_id,
            from,
            t,
            req,
        };
        let outcome = match (req.command, req.target) {
            (cmd::FIND_PEER, Some(t)) => {
                let record = router.get(now, &t).map(|f| f.record.clone());
                Some(Outcome::Reply(Reply::ok(from, record, true, true)))
            }
            (cmd::LOOKUP, Some(t)) => Some(self.on_lookup(router, &q(t))),
            (cmd::ANNOUNCE, Some(t)) => self.on_announce(router, &q(t)),
            (cmd::UNANNOUNCE, Some(t)) => self.on_unannounce(router, &q(t)),
            (cmd::MUTABLE_PUT, Some(t)) => self.on_mutable_put(&q(t)),
            (cmd::MUTABLE_GET, Some(t)) => self.on_mutable_get(&q(t)),
            (cmd::IMMUTABLE_PUT, Some(t)) => self.on_immutable_put(&q(t)),
            (cmd::IMMUTABLE_GET, Some(t)) => {
                let value = self.immutables.get(now, &t).cloned();
                Some(Outcome::Reply(Reply::ok(from, value, true, true)))
            }
            (cmd::PLUGIN, _) => req
                .value
                .as_ref()
                .and_then(|v| PluginRequest::decode_bytes(v).ok())
                .map(Outcome::Plugin),
            (cmd::FIND_PEER..=cmd::IMMUTABLE_GET, None) => None,
            _ => Some(Outcome::Reply(Reply::unknown_command(
                from,
                req.target.is_some(),
            ))),
        };
        outcome.unwrap_or(Outcome::Drop)
    }

    /// JS `unannounce(target, publicKey)`: forgets `public_key`'s record under `target`
    /// (and the forward, when the key is the target's own).
    pub fn unannounce(
        &mut self,
        now: Duration,
        router: &mut Router,
        target: &Target,
        public_key: &[u8; 32],
    ) {
        if mutable_target(public_key) == *target {
            router.delete(now, target);
        }
        self.records.remove(now, target, public_key);
    }

    fn on_lookup(&mut self, router: &mut Router, q: &In<'_>) -> Outcome {
        let rng = &mut self.rng;
        let mut peers = self
            .records
            .get(q.now, &q.t, MAX_LOOKUP_RECORDS, &mut |b| random(rng, b));
        let bump = self.bumps.get(q.now, &q.t).copied().unwrap_or(0);
        if let Some(fwd) = router.get(q.now, &q.t) {
            if peers.len() < MAX_LOOKUP_RECORDS {
                peers.push(fwd.record.clone());
            }
        }
        let value = (!peers.is_empty()).then(|| lookup_reply(&peers, bump));
        Outcome::Reply(Reply::ok(q.from, value, true, true))
    }

    fn on_refresh(&mut self, router: &mut Router, q: &In<'_>, token: &[u8; 32]) -> Option<Outcome> {
        let now = q.now;
        let active = mutable_target(token);
        let r = self.refreshes.get(now, &active)?.clone();
        if r.announce_self {
            router.set(now, r.target, remote_forward(q.from, r.record.clone()));
            self.records.remove(now, &r.target, &r.public_key);
        } else {
            let (t, pk) = (r.target, r.public_key);
            self.records.add(now, t, pk, r.record.clone());
        }
        self.refreshes.delete(now, &active);
        self.refreshes.set(now, *token, r);
        Some(done(q.from))
    }

    fn on_announce(&mut self, router: &mut Router, q: &In<'_>) -> Option<Outcome> {
        let (now, t) = (q.now, &q.t);
        let ann = q.announce()?;
        if ann.peer.is_none() {
            return self.on_refresh(router, q, ann.refresh.as_ref()?);
        }
        let peer = q.signed_peer(&NS_ANNOUNCE, &ann)?;
        let record = stored_record(peer);
        let announce_self = mutable_target(&peer.public_key) == *t;
        if announce_self {
            router.set(now, *t, remote_forward(q.from, record.clone()));
            self.records.remove(now, t, &peer.public_key);
        } else {
            let current = self.bumps.get(now, t).copied().unwrap_or(0);
            let wall_ms = self.config.unix_origin_ms.saturating_add(millis(now));
            if ann.bump > current && ann.bump <= wall_ms.saturating_add(MAX_BUMP_DRIFT_MS) {
                self.bumps.set(now, *t, ann.bump);
            }
            self.records.add(now, *t, peer.public_key, record.clone());
        }
        if let Some(refresh) = ann.refresh {
            let entry = Refresh {
                target: *t,
                record,
                public_key: peer.public_key,
                announce_self,
            };
            self.refreshes.set(now, refresh, entry);
        }
        Some(done(q.from))
    }

    fn on_unannounce(&mut self, router: &mut Router, q: &In<'_>) -> Option<Outcome> {
        let un = q.announce()?;
        let peer = q.signed_peer(&NS_UNANNOUNCE, &un)?;
        self.unannounce(q.now, router, &q.t, &peer.public_key);
        Some(done(q.from))
    }

    fn on_mutable_get(&mut self, q: &In<'_>) -> Option<Outcome> {
        let seq = Reader::new(q.req.value.as_ref()?).uint().ok()?;
        let value = match self.mutables.get(q.now, &q.t) {
            Some(local) if local.seq >= seq => Some(Bytes::from(local.to_vec())),
            _ => None,
        };
        Some(Outcome::Reply(Reply::ok(q.from, value, true, true)))
    }

    fn on_mutable_put(&mut self, q: &In<'_>) -> Option<Outcome> {
        q.req.token.as_ref()?;
        let p = MutablePutRequest::decode_bytes(q.req.value.as_ref()?).ok()?;
        if mutable_target(&p.public_key) != q.t {
            return None;
        }
        let signable = mutable_signable(p.seq, &p.value);
        if !ferrocore::keys::verify(&p.public_key, &signable, &p.signature) {
            return None;
        }
        if let Some(existing) = self.mutables.get(q.now, &q.t) {
            if existing.seq == p.seq && existing.value != p.value {
                return Some(Outcome::Reply(Reply::error(q.from, errors::SEQ_REUSED)));
            }
            if p.seq < existing.seq {
                return Some(Outcome::Reply(Reply::error(q.from, errors::SEQ_TOO_LOW)));
            }
        }
        let stored = MutableGetResponse {
            seq: p.seq,
            // A copy, so the stored value does not pin the whole datagram (JS `unslab`).
            value: Bytes::copy_from_slice(&p.value),
            signature: p.signature,
        };
        self.mutables.set(q.now, q.t, stored);
        Some(Outcome::Reply(Reply::ok(q.from, None, true, true)))
    }

    fn on_immutable_put(&mut self, q: &In<'_>) -> Option<Outcome> {
        q.req.token.as_ref()?;
        let value = q.req.value.as_ref()?;
        if immutable_target(value) != q.t {
            return None;
        }
        self.immutables
            .set(q.now, q.t, Bytes::copy_from_slice(value));
        Some(Outcome::Reply(Reply::ok(q.from, None, true, true)))
    }
}

/// A request with a target, as the handlers see it.
struct In<'a> {
    now: Duration,
    node_id: &'a [u8; 32],
    from: Ipv4Address,
    t: Target,
    req: &'a Request,
}

impl In<'_> {
    /// The request's value as an (un)announce, when it has a token (JS requires one).
    fn announce(&self) -> Option<Announce> {
        self.req.token.as_ref()?;
        Announce::decode_bytes(self.req.value.as_ref()?).ok()
    }

    /// The (un)announce's peer, when its signature in namespace `ns` verifies.
    fn signed_peer<'p>(&self, ns: &[u8; 32], ann: &'p Announce) -> Option<&'p Peer> {
        let (peer, signature) = (ann.peer.as_ref()?, ann.signature.as_ref()?);
        let token = self.req.token.as_ref()?;
        let refresh = ann.refresh.as_ref();
        let signable = announce_signable(ns, &self.t, self.node_id, token, peer, refresh);
        ferrocore::keys::verify(&peer.public_key, &signable, signature).then_some(peer)
    }
}

/// The reply to a handled announce, refresh or unannounce: no value, no token, no nodes.
fn done(from: Ipv4Address) -> Outcome {
    Outcome::Reply(Reply::ok(from, None, false, false))
}

fn remote_forward(relay: Ipv4Address, record: Bytes) -> Forward {
    Forward {
        relay: Some(relay),
        record,
        local: false,
    }
}

/// A number below `bound` from the xorshift64* state `s` (which records a lookup shows).
fn random(s: &mut u64, bound: usize) -> usize {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
    usize::try_from((u128::from(r) * bound as u128) >> 64).unwrap_or(0)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `lookupRawReply`: the stored (already encoded) peer records as an array, then the bump.
fn lookup_reply(peers: &[Bytes], bump: u64) -> Bytes {
    let mut out = alloc::vec::Vec::new();
    let mut w = Writer::append(&mut out);
    w.uint(peers.len() as u64);
    for p in peers {
        w.raw(p);
    }
    w.uint(bump);
    Bytes::from(out)
}

/// The record a verified announce of `peer` stores (relay addresses truncated to
/// [`MAX_RELAY_ADDRESSES`]).
#[must_use]
pub fn stored_record(peer: &Peer) -> Bytes {
    let mut p = peer.clone();
    p.relay_addresses.truncate(MAX_RELAY_ADDRESSES);
    Bytes::from(p.to_vec())
}

#[cfg(test)]
#[path = "persistent_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "persistent_values_tests.rs"]
mod values_tests;

#[cfg(test)]
#[path = "persistent_hostile_tests.rs"]
mod hostile_tests;
