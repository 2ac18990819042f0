//! `findingPeers()`: while a session has one running, the cores it opened wait for peers
//! in `get`/`update` instead of failing fast (JS `FindingPeers`, one per store session).

use alloc::collections::BTreeSet;

use super::{FindingPeersToken, SessionId, Store, StoreError, StoreEvent};

/// The running `findingPeers()` of one session.
#[derive(Debug, Default)]
pub(super) struct Finding {
    running: BTreeSet<u64>,
}

impl Finding {
    pub(super) fn running(&self) -> u64 {
        self.running.len() as u64
    }
}

impl Store {
    /// Starts a `findingPeers()` on `session` (JS `store.findingPeers()`): until every
    /// token of the session is ended with [`finding_peers_done`](Self::finding_peers_done),
    /// [`is_finding_peers`](Self::is_finding_peers) is true for it, and so for the cores it
    /// opens, now or later.
    ///
    /// # Errors
    /// [`StoreError::Closed`], [`StoreError::UnknownSession`].
    pub fn finding_peers(&mut self, session: SessionId) -> Result<FindingPeersToken, StoreError> {
        let id = self.next_seq;
        self.live_session_mut(session)?.finding.running.insert(id);
        self.next_seq += 1;
        Ok(FindingPeersToken { session, id })
    }

    /// Ends a `findingPeers()` (JS: calling its `done`). Ending the session's last one
    /// queues [`StoreEvent::FindingPeersDone`] (JS runs `queueUpdateAll` on its cores).
    /// Returns false, changing nothing, if the token was already ended or its session or
    /// the store is closed (JS `done` is idempotent).
    pub fn finding_peers_done(&mut self, token: FindingPeersToken) -> bool {
        let Ok(s) = self.live_session_mut(token.session) else {
            return false;
        };
        if !s.finding.running.remove(&token.id) {
            return false;
        }
        if s.finding.running.is_empty() {
            self.events.push_back(StoreEvent::FindingPeersDone {
                session: token.session,
            });
        }
        true
    }

    /// Whether `session` has a `findingPeers()` running (false for a closed session).
    #[must_use]
    pub fn is_finding_peers(&self, session: SessionId) -> bool {
        self.sessions
            .get(&session)
            .is_some_and(|s| s.finding.running() > 0)
    }

    /// Whether any session that holds `dk` is finding peers: a `get` or `update` on that core
    /// should wait for peers rather than fail fast.
    #[must_use]
    pub fn is_core_finding_peers(&self, dk: &[u8; 32]) -> bool {
        self.sessions
            .values()
            .any(|s| s.finding.running() > 0 && s.opened.contains_key(dk))
    }
}
