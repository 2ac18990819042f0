//! The application's requests (get, download, update, cancel, uploading and downloading per peer, extensions) and what it can ask of a session's peers.

use super::*;

impl<S: Storage> Endpoint<S> {
    pub(super) fn new_request(
        &mut self,
        core: CoreId,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        if self.slot(core).is_none() {
            return Err(Error::Misuse("no such core"));
        }
        let id = RequestId(self.next_request);
        self.next_request += 1;
        self.requests.insert(id, core);
        if let (Some(d), Some(slot)) = (deadline, self.slot_mut(core)) {
            slot.wants.set_deadline(id, d);
        }
        Ok(id)
    }

    /// Asks for block `index`: from local storage if present, else from the first peer
    /// that has it. Ends with [`Event::Get`], at the latest at `deadline` (absolute, on the
    /// caller's clock) with [`RequestError::Timeout`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn get(
        &mut self,
        core: CoreId,
        index: u64,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.gets.entry(index).or_default().push(id);
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Downloads blocks `start..end` (`end: None`: from `start` on, following new appends
    /// live, never ending by itself). Ends with [`Event::Download`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn download(
        &mut self,
        core: CoreId,
        start: u64,
        end: Option<u64>,
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        self.add_download(core, deadline, start, Span::Range { end })
    }

    /// Downloads exactly these blocks. Ends with [`Event::Download`].
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn download_blocks(
        &mut self,
        core: CoreId,
        blocks: &[u64],
        deadline: Option<Duration>,
    ) -> Result<RequestId, Error> {
        self.add_download(
            core,
            deadline,
            0,
            Span::List(blocks.iter().copied().collect()),
        )
    }

    /// A new download request of `core` over `span`, from `start`.
    fn add_download(
        &mut self,
        core: CoreId,
        deadline: Option<Duration>,
        start: u64,
        span: Span,
    ) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.downloads.insert(
                id,
                Download {
                    start,
                    cursor: start,
                    span,
                },
            );
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Learns the newest length from the connected peers: ends with [`Event::Update`] once
    /// an upgrade was applied or every peer that has told its length has nothing newer.
    /// With no such peer it ends once no session could still bring one (none is
    /// handshaking, and every channel of the core was answered), at once if there are
    /// none, unless the core never had a peer and a
    /// [`finding peers`](Self::start_finding_peers) scope covers it: then it waits for a
    /// peer, or for the last scope to close. This is JS `update({ wait: true })`; JS's
    /// default `wait` is `findingPeers > 0`, so without a scope JS `update()` does not
    /// ask the peers at all (its length still follows them with eager upgrades).
    ///
    /// # Errors
    /// [`Error::Misuse`] for an unknown core.
    pub fn update(&mut self, core: CoreId, deadline: Option<Duration>) -> Result<RequestId, Error> {
        let id = self.new_request(core, deadline)?;
        if let Some(slot) = self.slot_mut(core) {
            slot.wants.updates.insert(id);
            slot.dirty = true;
        }
        Ok(id)
    }

    /// Cancels a request: it ends with [`RequestError::Cancelled`]. False if it already
    /// ended.
    pub fn cancel(&mut self, request: RequestId) -> bool {
        let Some(core) = self.requests.remove(&request) else {
            return false;
        };
        if let Some(Some(slot)) = self.cores.get_mut(core.0 as usize) {
            Self::end_request(
                slot,
                core,
                request,
                RequestError::Cancelled,
                &mut self.events,
            );
        }
        true
    }

    /// Stops or resumes answering a peer's requests for a core (announced in `sync`).
    pub fn set_uploading(&mut self, session: SessionId, core: CoreId, uploading: bool) {
        if let Some(r) = self.replicator_mut(session, core) {
            r.uploading = uploading;
        }
        if let Some(slot) = self.slot_mut(core) {
            slot.dirty = true;
        }
    }

    /// Stops or resumes downloading a core from a peer (announced in `sync`).
    pub fn set_downloading(&mut self, session: SessionId, core: CoreId, downloading: bool) {
        if let Some(r) = self.replicator_mut(session, core) {
            r.downloading = downloading;
        }
        if let Some(slot) = self.slot_mut(core) {
            slot.dirty = true;
        }
    }

    /// Sends an extension message on a core's channel with a peer.
    ///
    /// # Errors
    /// [`Error::Misuse`] if the session has no channel for the core.
    pub fn send_extension(
        &mut self,
        session: SessionId,
        core: CoreId,
        name: &str,
        message: &[u8],
    ) -> Result<(), Error> {
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(Error::Misuse("no such session"))?;
        let ch = *s
            .by_core
            .get(&core)
            .ok_or(Error::Misuse("no channel for this core"))?;
        send(
            &mut s.conn,
            ch,
            &Message::Extension(Extension {
                name: String::from(name),
                message: Bytes::copy_from_slice(message),
            }),
        );
        Ok(())
    }

    /// The sessions that replicate `core` with a paired channel.
    #[must_use]
    pub fn peers(&self, core: CoreId) -> Vec<SessionId> {
        self.sessions
            .iter()
            .filter(|(_, s)| {
                s.by_core
                    .get(&core)
                    .and_then(|ch| s.replicators.get(ch))
                    .is_some_and(|r| r.paired)
            })
            .map(|(sid, _)| *sid)
            .collect()
    }

    /// The length a peer announced for a core (its last `sync`).
    #[must_use]
    pub fn remote_length(&self, session: SessionId, core: CoreId) -> Option<u64> {
        let s = self.sessions.get(&session)?;
        let r = s.replicators.get(s.by_core.get(&core)?)?;
        r.remote.as_ref().map(|s| s.length)
    }

    /// Whether we believe the peer has block `index` of a core (announced, not refused).
    #[cfg(test)]
    pub(crate) fn remote_has(&self, session: SessionId, core: CoreId, index: u64) -> bool {
        self.sessions
            .get(&session)
            .and_then(|s| s.replicators.get(s.by_core.get(&core)?))
            .is_some_and(|r| r.has(index))
    }

    /// Requests in flight to a peer for a core.
    #[must_use]
    pub fn inflight(&self, session: SessionId, core: CoreId) -> usize {
        self.sessions
            .get(&session)
            .and_then(|s| s.replicators.get(s.by_core.get(&core)?))
            .map_or(0, |r| r.inflight.len())
    }

    pub(super) fn replicator_mut(
        &mut self,
        session: SessionId,
        core: CoreId,
    ) -> Option<&mut Replicator> {
        let s = self.sessions.get_mut(&session)?;
        let ch = s.by_core.get(&core)?;
        s.replicators.get_mut(ch).map(|r| &mut **r)
    }
}
