//! The discovery side of the swarm (JS `join`/`leave`/`flush` and `PeerDiscovery`'s
//! refresh, announce and unannounce).

use alloc::vec::Vec;
use core::time::Duration;

use crate::discovery::{
    Discovery, Refresh, Stage, DELAY_GRACE_PERIOD, RANDOM_JITTER, REFRESH_INTERVAL,
};
use crate::swarm::{FlushWait, Listening, PendingFlush, SwarmError};
use crate::types::{Command, Event, FlushId, JoinOptions, Peer, QueryId, SessionId, Topic};
use crate::Swarm;

impl Swarm {
    /// Starts the DHT server once (JS `listen()`); [`Command::Listen`] goes out the first time.
    pub fn listen(&mut self) -> Result<(), SwarmError> {
        if self.listening == Listening::Idle {
            if self.destroyed {
                return Err(SwarmError::Destroyed);
            }
            self.listening = Listening::Pending;
            self.commands.push_back(Command::Listen);
        }
        Ok(())
    }

    /// The DHT server listens: announces waiting for it go out.
    pub fn handle_listening(&mut self, now: Duration) {
        self.now = now;
        self.listening = Listening::Ready;
        let topics: Vec<Topic> = self.discoveries.keys().copied().collect();
        for topic in topics {
            let waiting = self.discoveries[&topic]
                .current
                .is_some_and(|r| r.stage == Stage::Listen);
            if waiting {
                self.start_query(&topic);
            }
        }
        self.progress_flushes();
    }

    /// Joins a topic (JS `join(topic, {server, client, limit})`): announces it as a server,
    /// looks it up and connects to the peers found as a client. Joining a topic again adds a
    /// session to the same discovery.
    pub fn join(
        &mut self,
        now: Duration,
        topic: Topic,
        opts: JoinOptions,
    ) -> Result<SessionId, SwarmError> {
        self.now = now;
        if self.destroyed {
            return Err(SwarmError::Destroyed);
        }
        if !opts.client && !opts.server {
            return Err(SwarmError::NeitherClientNorServer);
        }
        let replace = self.discoveries.get(&topic).map(|d| d.destroyed);
        if replace != Some(false) {
            if let Some(old) = self.discoveries.remove(&topic) {
                self.retiring.push(old);
            }
            let wait_old = self.retiring.iter().any(|d| d.topic == topic);
            let mut d = Discovery::new(topic, wait_old);
            d.suspended = self.suspended;
            self.discoveries.insert(topic, d);
        }
        let session = SessionId(self.alloc());
        self.sessions.insert(session, topic);
        let d = self.discoveries.get_mut(&topic).expect("inserted above");
        d.sessions.insert(session, (false, false));
        self.refresh_session(now, session, opts)?;
        Ok(session)
    }

    /// Changes what a session does and refreshes its topic (JS `session.refresh(opts)`).
    pub fn refresh_session(
        &mut self,
        now: Duration,
        session: SessionId,
        opts: JoinOptions,
    ) -> Result<(), SwarmError> {
        self.now = now;
        if !opts.client && !opts.server {
            return Err(SwarmError::NeitherClientNorServer);
        }
        let topic = *self
            .sessions
            .get(&session)
            .ok_or(SwarmError::UnknownSession)?;
        let d = self
            .discoveries
            .get_mut(&topic)
            .filter(|d| !d.destroyed)
            .ok_or(SwarmError::UnknownSession)?;
        d.sessions.insert(session, (opts.client, opts.server));
        d.limit = opts.limit;
        self.refresh_discovery(&topic);
        self.progress_flushes();
        Ok(())
    }

    /// Ends a session (JS `session.destroy()`): the last one leaves the topic; when no server
    /// session is left the topic is looked up once more with an unannounce.
    pub fn destroy_session(&mut self, now: Duration, session: SessionId) {
        self.now = now;
        let Some(topic) = self.sessions.remove(&session) else {
            return;
        };
        let Some(d) = self.discoveries.get_mut(&topic) else {
            return;
        };
        if d.destroyed || d.sessions.remove(&session).is_none() {
            return;
        }
        if d.sessions.is_empty() {
            self.leave(now, &topic);
        } else if !d.wanted_mode().1 && d.needs_unannounce {
            self.refresh_discovery(&topic);
        }
        self.progress_flushes();
    }

    /// Leaves a topic (JS `leave(topic)`): stops its lookups and refreshes and unannounces
    /// it; [`Event::Left`] follows once the unannounce finished.
    pub fn leave(&mut self, now: Duration, topic: &Topic) {
        self.now = now;
        let Some(d) = self.discoveries.get_mut(topic) else {
            self.events.push_back(Event::Left { topic: *topic });
            return;
        };
        d.leaving = true;
        self.sessions.retain(|_, t| t != topic);
        if !d.destroyed {
            self.abort_discovery(topic);
        }
        self.progress_flushes();
    }

    /// Waits until every topic's refresh in flight finished and the connect queue drained
    /// (JS `flush()`); completes with [`Event::FlushDone`].
    pub fn flush(&mut self, now: Duration) -> FlushId {
        self.now = now;
        let id = FlushId(self.alloc());
        let refreshes = self
            .discoveries
            .values()
            .filter_map(|d| d.current.map(|r| r.id))
            .collect();
        self.flush_waits.push(FlushWait { id, refreshes });
        self.progress_flushes();
        id
    }

    /// Tears the swarm down (JS `destroy()`): no more dials or retries, every topic left
    /// (unannounced), pending flushes complete with `ok: false`. The adapter then destroys the
    /// DHT, closing the connections.
    pub fn destroy(&mut self, now: Duration) {
        self.now = now;
        if self.destroyed {
            return;
        }
        self.destroyed = true;
        self.retry.clear();
        self.queue.clear();
        let topics: Vec<Topic> = self.discoveries.keys().copied().collect();
        for topic in topics {
            self.leave(now, &topic);
        }
        self.flush_waits.clear();
        while let Some(f) = self.pending_flushes.pop() {
            self.events.push_back(Event::FlushDone {
                id: f.id,
                ok: false,
            });
        }
    }

    /// Peers from a running query (lookup or announce): a client topic dials them.
    pub fn handle_query_peers(&mut self, now: Duration, query: QueryId, peers: &[Peer]) {
        self.now = now;
        let Some(topic) = self.topic_of_active(query) else {
            return;
        };
        for peer in peers {
            let d = &mut self.discoveries.get_mut(&topic).expect("found above");
            if !d.is_client || !d.is_active() {
                continue;
            }
            // JS's limit counts peers handed on per refresh (its `connections.has(id)` test
            // compares a hex string with connection objects and so never matches).
            if let Some(left) = d.remaining.as_mut() {
                if *left == 0 {
                    continue;
                }
                *left -= 1;
            }
            self.handle_peer(peer, &topic);
        }
        self.progress_flushes();
    }

    /// A query finished (`ok`) or failed; for [`Command::Unannounce`] either way ends the
    /// topic's teardown.
    pub fn handle_query_done(&mut self, now: Duration, query: QueryId, ok: bool) {
        self.now = now;
        if let Some(topic) = self.topic_of_active(query) {
            let d = self.discoveries.get_mut(&topic).expect("found above");
            let refresh = d.current.take().expect("active query");
            let announcing = matches!(
                refresh.stage,
                Stage::Query {
                    announcing: true,
                    ..
                }
            );
            if ok && !announcing {
                d.needs_unannounce = false;
            }
            self.end_refresh(refresh.id);
            if self.discoveries[&topic].is_active() {
                self.refresh_later(&topic, false);
            }
        } else {
            self.unannounce_done(query);
        }
        self.progress_flushes();
    }

    /// JS `_handlePeer`.
    fn handle_peer(&mut self, found: &Peer, topic: &Topic) {
        let key = found.public_key;
        let Some(peer) = self.upsert_peer(&key, found.relay_addresses.clone()) else {
            return;
        };
        peer.add_topic(topic);
        if self.by_key.contains_key(&key) {
            return;
        }
        let peer = self.peers.get_mut(&key).expect("upserted");
        if !peer.prioritized() || peer.server() {
            peer.reset();
        }
        if peer.update_priority() {
            self.enqueue(&key);
        }
    }

    fn topic_of_active(&self, query: QueryId) -> Option<Topic> {
        self.discoveries
            .iter()
            .find(|(_, d)| d.active_query() == Some(query))
            .map(|(t, _)| *t)
    }

    /// JS `PeerDiscovery.refresh()`.
    pub(crate) fn refresh_discovery(&mut self, topic: &Topic) {
        let Some(d) = self.discoveries.get_mut(topic) else {
            return;
        };
        if d.destroyed || d.suspended {
            return;
        }
        let (client, server) = d.wanted_mode();
        if client == d.is_client && server == d.is_server {
            if d.current.is_some() {
                return;
            }
        } else {
            if let Some(old) = d.current.take() {
                if let Stage::Query { query, .. } = old.stage {
                    self.commands.push_back(Command::CancelQuery { query });
                }
                self.end_refresh(old.id);
            }
            let d = self.discoveries.get_mut(topic).expect("checked");
            d.is_client = client;
            d.is_server = server;
        }
        let id = self.alloc();
        self.live_refreshes.insert(id);
        let d = self.discoveries.get_mut(topic).expect("checked");
        let stage = if d.wait_old {
            Stage::WaitOld
        } else {
            Stage::Listen
        };
        d.current = Some(Refresh { id, stage });
        if stage == Stage::Listen {
            self.proceed_refresh(topic);
        }
    }

    /// The part of JS `_refresh` after the wait for the previous discovery.
    fn proceed_refresh(&mut self, topic: &Topic) {
        let d = self.discoveries.get_mut(topic).expect("caller checked");
        if d.is_server && self.listening != Listening::Ready {
            if let Some(r) = d.current.as_mut() {
                r.stage = Stage::Listen;
            }
            let _ = self.listen();
            return;
        }
        self.start_query(topic);
    }

    fn start_query(&mut self, topic: &Topic) {
        let query = self.push_query();
        let d = self.discoveries.get_mut(topic).expect("caller checked");
        let announcing = d.is_server;
        let clear = announcing && d.first_announce;
        if clear {
            d.first_announce = false;
        }
        if announcing {
            d.needs_unannounce = true;
        }
        d.remaining = d.limit;
        if let Some(r) = d.current.as_mut() {
            r.stage = Stage::Query { query, announcing };
        }
        let topic = *topic;
        self.commands.push_back(if announcing {
            Command::Announce {
                query,
                topic,
                clear,
            }
        } else if d.needs_unannounce {
            Command::LookupAndUnannounce { query, topic }
        } else {
            Command::Lookup { query, topic }
        });
    }

    fn refresh_later(&mut self, topic: &Topic, eager: bool) {
        let jitter_ms = self.rng.up_to(RANDOM_JITTER.as_millis() as u64);
        let jitter = Duration::from_millis(jitter_ms);
        let delay = if eager {
            jitter
        } else {
            REFRESH_INTERVAL + jitter
        };
        if let Some(d) = self.discoveries.get_mut(topic) {
            d.timer = Some((self.now, delay));
        }
    }

    pub(crate) fn refresh_due_topics(&mut self) {
        let now = self.now;
        let due: Vec<(Topic, Duration, Duration)> = self
            .discoveries
            .iter()
            .filter_map(|(t, d)| d.timer.map(|(at, delay)| (*t, at, delay)))
            .filter(|(_, at, delay)| *at + *delay <= now)
            .collect();
        for (topic, at, delay) in due {
            if let Some(d) = self.discoveries.get_mut(&topic) {
                d.timer = None;
            }
            if now - at > delay + DELAY_GRACE_PERIOD {
                self.refresh_later(&topic, true); // woke from sleep: spread the refreshes
            } else {
                self.refresh_discovery(&topic);
            }
        }
    }

    fn end_refresh(&mut self, id: u64) {
        self.live_refreshes.remove(&id);
    }

    /// JS `_abort` on destroy: stop the query and timer, then unannounce if we announced.
    fn abort_discovery(&mut self, topic: &Topic) {
        let d = self.discoveries.get_mut(topic).expect("caller checked");
        d.destroyed = true;
        self.stop_discovery(topic);
    }

    /// Stops a discovery's query and timer and unannounces it if it announced (the part of
    /// JS `_abort` that suspend shares with destroy).
    pub(crate) fn stop_discovery(&mut self, topic: &Topic) {
        let d = self.discoveries.get_mut(topic).expect("caller checked");
        d.timer = None;
        let current = d.current.take();
        if let Some(r) = current {
            if let Stage::Query { query, .. } = r.stage {
                self.commands.push_back(Command::CancelQuery { query });
            }
            self.end_refresh(r.id);
        }
        let d = self.discoveries.get_mut(topic).expect("caller checked");
        if d.needs_unannounce {
            let query = self.push_query();
            let d = self.discoveries.get_mut(topic).expect("caller checked");
            d.unannounce = Some(query);
            self.commands.push_back(Command::Unannounce {
                query,
                topic: *topic,
            });
        } else if d.destroyed {
            self.finish_teardown(|d| d.topic == *topic && d.unannounce.is_none());
        }
    }

    fn unannounce_done(&mut self, query: QueryId) {
        let suspended = self
            .discoveries
            .values_mut()
            .find(|d| !d.destroyed && d.unannounce == Some(query));
        if let Some(d) = suspended {
            d.unannounce = None;
            d.needs_unannounce = false;
            return;
        }
        self.finish_teardown(|d| d.unannounce == Some(query));
    }

    /// Removes the torn-down discovery matching `which` (current or retiring), reports
    /// [`Event::Left`], and lets a rejoin waiting on it proceed.
    fn finish_teardown(&mut self, which: impl Fn(&Discovery) -> bool) {
        let matches = |d: &Discovery| d.destroyed && which(d);
        let done = if let Some(i) = self.retiring.iter().position(matches) {
            self.retiring.remove(i)
        } else {
            let Some(topic) = self
                .discoveries
                .values()
                .find(|d| matches(d))
                .map(|d| d.topic)
            else {
                return;
            };
            self.discoveries.remove(&topic).expect("found")
        };
        let topic = done.topic;
        if done.leaving {
            self.events.push_back(Event::Left { topic });
        }
        if self.retiring.iter().any(|d| d.topic == topic) {
            return;
        }
        let Some(next) = self.discoveries.get_mut(&topic) else {
            return;
        };
        next.wait_old = false;
        if next.current.is_some_and(|r| r.stage == Stage::WaitOld) {
            self.proceed_refresh(&topic);
        }
    }

    /// Moves flushes on: the first stage waits for listening and for the refreshes in flight
    /// when it was asked; the second (JS's code after `await`) for the queue to drain.
    pub(crate) fn progress_flushes(&mut self) {
        let mut i = 0;
        while i < self.flush_waits.len() {
            let wait = &self.flush_waits[i];
            let listening = self.listening == Listening::Pending;
            if listening
                || wait
                    .refreshes
                    .iter()
                    .any(|r| self.live_refreshes.contains(r))
            {
                i += 1;
                continue;
            }
            let id = self.flush_waits.remove(i).id;
            self.flush_stage_two(id);
        }
    }

    fn flush_stage_two(&mut self, id: FlushId) {
        if self.flush_all_maybe() {
            self.events.push_back(Event::FlushDone { id, ok: true });
            return;
        }
        let opened = self.conns.values().filter(|c| c.opened).count();
        let pending = self.by_key.len().saturating_sub(opened);
        let queued = self.queue.len();
        if queued == 0 && pending == 0 {
            self.events.push_back(Event::FlushDone { id, ok: true });
            return;
        }
        let tick = self.flush_tick;
        self.flush_tick += 1;
        self.pending_flushes.push(PendingFlush {
            id,
            missing: queued + pending,
            tick,
        });
    }
}
