//! The cores: adding and removing them, finding them by discovery key, answering a peer's
//! opens of cores we did not have, and the `finding peers` scopes their updates wait for.

use alloc::collections::btree_map::Entry;

use ferrocore_wire::mux::MuxConfig;

use super::*;

impl<S: Storage> Endpoint<S> {
    /// Adds a core to replicate with every session, present and future: its channel is
    /// opened on every connected session at once. A peer's open of this core that waits
    /// for the application (see [`Event::UnknownCore`]) pairs with it.
    ///
    /// Adding a core whose discovery key is already replicated adds a second slot that
    /// peers never reach (the discovery key finds the first): remove the first instead.
    pub fn add_core(&mut self, log: Log<S>) -> CoreId {
        let id = CoreId(u32::try_from(self.cores.len()).unwrap_or(u32::MAX));
        let seen_length = log.length();
        let dk = *log.discovery_key();
        self.cores.push(Some(Box::new(CoreSlot {
            log,
            wants: Wants::default(),
            inflight: Claims::default(),
            upgrading: None,
            announce: Vec::new(),
            drops: Vec::new(),
            truncated: None,
            seen_length,
            dirty: true,
            finding_peers: 0,
            had_peers: false,
        })));
        match self.by_key.entry(dk) {
            Entry::Occupied(_) => self.shadowed += 1,
            Entry::Vacant(v) => {
                v.insert(id);
            }
        }
        let sids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for sid in sids {
            self.open_channel(sid, id);
            // A peer's open of this core waited for us: our open paired the oldest one,
            // a duplicate is refused, and the pairing is handled now.
            let Some(s) = self.sessions.get_mut(&sid) else {
                continue;
            };
            let Some(n) = s.unknown.remove(&dk) else {
                continue;
            };
            s.unknown_pending -= n as usize;
            for _ in 1..n {
                s.conn.mux().reject(PROTOCOL, Some(&dk));
            }
            self.ingest_then(sid, None, false);
        }
        id
    }

    /// Stops replicating a core: closes its channels, fails its requests with
    /// [`RequestError::CoreRemoved`] and hands back the log.
    pub fn remove_core(&mut self, core: CoreId) -> Option<Log<S>> {
        let mut slot = self.cores.get_mut(core.0 as usize)?.take()?;
        let dk = *slot.log.discovery_key();
        if self.by_key.get(&dk) == Some(&core) {
            self.by_key.remove(&dk);
            // A core added later with the same key takes over (a scan, only while such
            // shadowed cores exist).
            if self.shadowed > 0 {
                let next = self
                    .cores
                    .iter()
                    .position(|c| c.as_ref().is_some_and(|c| *c.log.discovery_key() == dk));
                if let Some(i) = next {
                    self.shadowed -= 1;
                    self.by_key.insert(dk, CoreId(i as u32));
                }
            }
        } else {
            self.shadowed = self.shadowed.saturating_sub(1);
        }
        for (sid, s) in &mut self.sessions {
            if let Some(ch) = s.by_core.remove(&core) {
                if let Some(r) = s.replicators.remove(&ch) {
                    if r.paired {
                        self.events.push_back(Event::PeerRemoved {
                            session: *sid,
                            core,
                        });
                    }
                }
                let _ = s.conn.mux().close(ch);
            }
        }
        let ids: Vec<RequestId> = self
            .requests
            .iter()
            .filter(|(_, c)| **c == core)
            .map(|(r, _)| *r)
            .collect();
        for id in ids {
            self.requests.remove(&id);
            Self::end_request(
                &mut slot,
                core,
                id,
                RequestError::CoreRemoved,
                &mut self.events,
            );
        }
        Some(slot.log)
    }

    /// Refuses a peer's open of a core we do not replicate, reported by
    /// [`Event::UnknownCore`] (with [`EndpointConfig::ask_unknown_cores`]): the peer gets a
    /// protomux `reject`, and the session's input, which may have waited for the answer,
    /// is handled on. False if no such open waits (the peer withdrew it, or it was
    /// answered already).
    pub fn reject_core(&mut self, session: SessionId, discovery_key: &[u8; 32]) -> bool {
        let Some(s) = self.sessions.get_mut(&session) else {
            return false;
        };
        let Some(n) = s.unknown.remove(discovery_key) else {
            return false;
        };
        s.unknown_pending -= n as usize;
        for _ in 0..n {
            s.conn.mux().reject(PROTOCOL, Some(discovery_key));
        }
        self.events.push_back(Event::CoreRejected {
            session,
            discovery_key: *discovery_key,
        });
        self.ingest_then(session, None, false);
        true
    }

    /// Peer opens of cores we do not replicate that wait for
    /// [`add_core`](Self::add_core) or [`reject_core`](Self::reject_core) on a session.
    #[must_use]
    pub fn unknown_cores(&self, session: SessionId) -> usize {
        self.sessions.get(&session).map_or(0, |s| s.unknown_pending)
    }

    /// True while the session's input waits for the application: for its events to be
    /// drained ([`EndpointConfig::max_event_bytes`]) or for its answers to the peer's
    /// opens of unknown cores ([`EndpointConfig::ask_unknown_cores`]). The peer's records
    /// wait in the session meanwhile, so a transport should stop reading the socket while
    /// this holds, for what a peer sends to stay bounded.
    #[must_use]
    pub fn is_stalled(&self, session: SessionId) -> bool {
        self.sessions.get(&session).is_some_and(|s| s.stalled)
    }

    /// The log of a core.
    #[must_use]
    pub fn log(&self, core: CoreId) -> Option<&Log<S>> {
        self.slot(core).map(|s| &s.log)
    }

    /// The log of a core, for local writes (append, truncate, clear). Connected peers
    /// learn of the change at the next [`poll_transmit`](Self::poll_transmit) or
    /// [`poll_event`](Self::poll_event).
    pub fn log_mut(&mut self, core: CoreId) -> Option<&mut Log<S>> {
        self.slot_mut(core).map(|s| {
            s.dirty = true;
            &mut s.log
        })
    }

    /// The core with this discovery key (a map lookup: O(log n) in the cores).
    #[must_use]
    pub fn find_core(&self, discovery_key: &[u8; 32]) -> Option<CoreId> {
        self.by_key.get(discovery_key).copied()
    }

    /// The cores, in the order they were added.
    pub fn cores(&self) -> impl Iterator<Item = CoreId> + '_ {
        self.cores
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| CoreId(i as u32))
    }

    pub(super) fn slot(&self, core: CoreId) -> Option<&CoreSlot<S>> {
        self.cores.get(core.0 as usize)?.as_deref()
    }

    pub(super) fn slot_mut(&mut self, core: CoreId) -> Option<&mut CoreSlot<S>> {
        self.cores.get_mut(core.0 as usize)?.as_deref_mut()
    }

    /// A session's mux limits: [`EndpointConfig::mux`], with room for a channel per core
    /// on top of its `max_channels` and `max_pending_opens` (see
    /// [`channel_limit`](Self::channel_limit)).
    pub(super) fn mux_config(&self) -> MuxConfig {
        MuxConfig {
            max_channels: self.channel_limit(),
            ..self.config.mux.clone()
        }
    }

    /// The channels a session's mux allows: one per core, plus the configured
    /// `max_channels` (channels closing) and `max_pending_opens` (the peer's opens waiting
    /// for an answer, which count against it too). It grows as cores are added.
    pub(super) fn channel_limit(&self) -> usize {
        (self.by_key.len() + self.shadowed)
            .saturating_add(self.config.mux.max_channels)
            .saturating_add(self.config.mux.max_pending_opens)
    }

    // ----- finding peers -----------------------------------------------------------------

    /// Opens a `finding peers` scope (JS `core.findingPeers()`, or corestore's for the
    /// whole store with `core: None`): until it is closed with
    /// [`stop_finding_peers`](Self::stop_finding_peers), [`update`](Self::update) waits for
    /// a peer even when no session could bring one. Scopes nest (a counter); call this
    /// while the swarm looks for peers and stop once it has connected what it found.
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn start_finding_peers(&mut self, core: Option<CoreId>) -> Result<(), Error> {
        match core {
            None => self.finding_peers = self.finding_peers.saturating_add(1),
            Some(core) => {
                let slot = self.slot_mut(core).ok_or(Error::Misuse("no such core"))?;
                slot.finding_peers = slot.finding_peers.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Closes a scope opened by [`start_finding_peers`](Self::start_finding_peers) with
    /// the same `core`. Once no scope covers a core, its waiting updates end as soon as no
    /// session could still bring a peer.
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core, or when no such scope is open.
    pub fn stop_finding_peers(&mut self, core: Option<CoreId>) -> Result<(), Error> {
        const NONE_OPEN: Error = Error::Misuse("no finding-peers scope open");
        match core {
            None => {
                self.finding_peers = self.finding_peers.checked_sub(1).ok_or(NONE_OPEN)?;
                if self.finding_peers == 0 {
                    for slot in self.cores.iter_mut().flatten() {
                        slot.dirty |= !slot.wants.updates.is_empty();
                    }
                }
            }
            Some(core) => {
                let slot = self.slot_mut(core).ok_or(Error::Misuse("no such core"))?;
                slot.finding_peers = slot.finding_peers.checked_sub(1).ok_or(NONE_OPEN)?;
                slot.dirty = true;
            }
        }
        Ok(())
    }

    /// The `finding peers` scopes covering a core: its own plus the endpoint-wide ones.
    #[must_use]
    pub fn finding_peers(&self, core: CoreId) -> u32 {
        self.slot(core)
            .map_or(0, |s| s.finding_peers.saturating_add(self.finding_peers))
    }
}
