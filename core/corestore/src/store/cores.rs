//! Open cores: references from sessions and replication channels, and the idle close.

use core::time::Duration;

use super::{Core, CoreInfo, DiscoveryKey, Released, SessionId, Store, StoreError, StoreEvent};
use crate::store::Acquired;

impl Store {
    /// `session` opened the core `dk` (JS `get`, once [`crate::auth::resolve`] gave its
    /// discovery key): one more reference, released by [`release_core`](Self::release_core)
    /// or by closing the session. The answer says whether the adapter must open it from
    /// storage. A core opened passively by replication stops being passive.
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`].
    pub fn open_core(
        &mut self,
        session: SessionId,
        dk: DiscoveryKey,
    ) -> Result<Acquired, StoreError> {
        let s = self.live_session_mut(session)?;
        *s.opened.entry(dk).or_insert(0) += 1;
        let acquired = self.acquire(dk, false);
        let core = self.cores.get_mut(&dk).expect("acquired");
        core.sessions += 1;
        core.passive = false;
        Ok(acquired)
    }

    /// One of `session`'s references to `dk` went (a core session closed). Returns whether
    /// the core is now idle.
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`], [`StoreError::NotOpenedBy`].
    pub fn release_core(
        &mut self,
        session: SessionId,
        dk: DiscoveryKey,
        now: Duration,
    ) -> Result<Released, StoreError> {
        let s = self.live_session_mut(session)?;
        let refs = s
            .opened
            .get_mut(&dk)
            .ok_or(StoreError::NotOpenedBy(session, dk))?;
        *refs -= 1;
        if *refs == 0 {
            s.opened.remove(&dk);
        }
        let core = self.cores.get_mut(&dk).expect("a referenced core is open");
        core.sessions -= 1;
        Ok(self.released(dk, now))
    }

    /// A replication channel of `dk` attached: to a live connection when the core was open
    /// (JS `attachTo` from `replicate` or `ondownloading`), or because a peer asked for a
    /// core we hold (JS `_attachMaybe`: the adapter checked storage first; a core not open
    /// yet is opened passively, [`Acquired::Opened`]). The channel keeps the core open until
    /// [`handle_peer_closed`](Self::handle_peer_closed).
    ///
    /// # Errors
    /// [`StoreError::Closed`].
    pub fn handle_peer_opened(&mut self, dk: DiscoveryKey) -> Result<Acquired, StoreError> {
        self.live()?;
        let acquired = self.acquire(dk, true);
        self.cores.get_mut(&dk).expect("acquired").peers += 1;
        Ok(acquired)
    }

    /// A replication channel of `dk` went (closed, rejected, or its connection ended).
    /// Returns whether the core is now idle.
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::NoPeer`].
    pub fn handle_peer_closed(
        &mut self,
        dk: DiscoveryKey,
        now: Duration,
    ) -> Result<Released, StoreError> {
        self.live()?;
        let core = self
            .cores
            .get_mut(&dk)
            .filter(|c| c.peers > 0)
            .ok_or(StoreError::NoPeer(dk))?;
        core.peers -= 1;
        Ok(self.released(dk, now))
    }

    /// Whether `dk` is open (referenced, or idle and not closed yet).
    #[must_use]
    pub fn is_open(&self, dk: &DiscoveryKey) -> bool {
        self.cores.contains_key(dk)
    }

    /// A snapshot of the open core `dk`.
    #[must_use]
    pub fn core(&self, dk: &DiscoveryKey) -> Option<CoreInfo> {
        self.cores.get(dk).map(|c| CoreInfo {
            sessions: c.sessions,
            peers: c.peers,
            passive: c.passive,
            idle_deadline: c.idle.map(|(d, _)| d),
        })
    }

    /// Every open core, in discovery-key order (JS iterates `store.cores`: e.g. to offer
    /// them all on a new connection).
    pub fn open_cores(&self) -> impl Iterator<Item = DiscoveryKey> + '_ {
        self.cores.keys().copied()
    }

    /// How many cores are open.
    #[must_use]
    pub fn open_core_count(&self) -> usize {
        self.cores.len()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called: the earliest
    /// idle core's close deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.idle.keys().next().map(|(d, _)| *d)
    }

    /// Time passed: every idle core whose deadline is at or before `now` is forgotten and
    /// announced with [`StoreEvent::CloseIdle`], in deadline order.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some(entry) = self.idle.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let dk = entry.remove();
            self.cores.remove(&dk);
            self.events
                .push_back(StoreEvent::CloseIdle { discovery_key: dk });
        }
    }

    /// The next thing the adapter must do, until `None`.
    pub fn poll_event(&mut self) -> Option<StoreEvent> {
        self.events.pop_front()
    }

    /// A reference to `dk` is being added: open it, or cancel its idle close.
    fn acquire(&mut self, dk: DiscoveryKey, passive: bool) -> Acquired {
        match self.cores.get_mut(&dk) {
            None => {
                self.cores.insert(
                    dk,
                    Core {
                        sessions: 0,
                        peers: 0,
                        passive,
                        idle: None,
                    },
                );
                Acquired::Opened
            }
            Some(core) => match core.idle.take() {
                Some(slot) => {
                    self.idle.remove(&slot);
                    Acquired::Revived
                }
                None => Acquired::Shared,
            },
        }
    }

    fn released(&mut self, dk: DiscoveryKey, now: Duration) -> Released {
        match self.maybe_idle(dk, now) {
            Some(deadline) => Released::Idle { deadline },
            None => Released::InUse,
        }
    }

    /// If `dk` has no reference left, schedules its close and returns the deadline.
    pub(super) fn maybe_idle(&mut self, dk: DiscoveryKey, now: Duration) -> Option<Duration> {
        let core = self.cores.get_mut(&dk)?;
        if core.sessions > 0 || core.peers > 0 || core.idle.is_some() {
            return None;
        }
        let slot = (now.saturating_add(self.config.idle_timeout), self.next_seq);
        self.next_seq += 1;
        core.idle = Some(slot);
        self.idle.insert(slot, dk);
        Some(slot.0)
    }
}
