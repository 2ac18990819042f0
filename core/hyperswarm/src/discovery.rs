//! One topic's discovery state (JS `lib/peer-discovery.js`), driven by [`crate::Swarm`].

use alloc::collections::BTreeMap;
use core::time::Duration;

use crate::types::{QueryId, SessionId, Topic};

/// JS `REFRESH_INTERVAL`: a topic is looked up / announced again 10 minutes after the last
/// query finished…
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(600);
/// …plus up to JS `RANDOM_JITTER` (2 minutes).
pub const RANDOM_JITTER: Duration = Duration::from_secs(120);
/// JS `DELAY_GRACE_PERIOD`: a refresh timer firing this much later than due (a sleeping
/// laptop) reschedules itself with the jitter alone instead of refreshing at once.
pub const DELAY_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// Where the refresh in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Waiting for the topic's previous discovery to finish tearing down (JS `_wait`).
    WaitOld,
    /// Waiting for the DHT server to listen (servers only).
    Listen,
    /// The DHT query runs.
    Query { query: QueryId, announcing: bool },
}

/// JS `_currentRefresh`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refresh {
    /// Unique over the swarm (flushes wait on it).
    pub id: u64,
    pub stage: Stage,
}

/// JS `PeerDiscovery`.
#[derive(Debug)]
pub(crate) struct Discovery {
    pub topic: Topic,
    /// Sessions and their (client, server) modes.
    pub sessions: BTreeMap<SessionId, (bool, bool)>,
    pub limit: Option<usize>,
    pub is_client: bool,
    pub is_server: bool,
    pub destroyed: bool,
    /// The swarm is suspended: no queries until it resumes.
    pub suspended: bool,
    /// `leave` was asked: report [`crate::Event::Left`] when torn down.
    pub leaving: bool,
    pub current: Option<Refresh>,
    /// (armed at, delay).
    pub timer: Option<(Duration, Duration)>,
    pub first_announce: bool,
    pub needs_unannounce: bool,
    pub wait_old: bool,
    /// The teardown's unannounce in flight.
    pub unannounce: Option<QueryId>,
    /// Peers still to hand on in this refresh (`limit`).
    pub remaining: Option<usize>,
}

impl Discovery {
    pub(crate) fn new(topic: Topic, wait_old: bool) -> Self {
        Discovery {
            topic,
            sessions: BTreeMap::new(),
            limit: None,
            is_client: false,
            is_server: false,
            destroyed: false,
            suspended: false,
            leaving: false,
            current: None,
            timer: None,
            first_announce: true,
            needs_unannounce: false,
            wait_old,
            unannounce: None,
            remaining: None,
        }
    }

    /// (client, server): does any session look up / announce.
    pub(crate) fn wanted_mode(&self) -> (bool, bool) {
        let client = self.sessions.values().any(|m| m.0);
        let server = self.sessions.values().any(|m| m.1);
        (client, server)
    }

    /// JS `_isActive`.
    pub(crate) fn is_active(&self) -> bool {
        !self.destroyed && !self.suspended
    }

    pub(crate) fn active_query(&self) -> Option<QueryId> {
        match self.current?.stage {
            Stage::Query { query, .. } => Some(query),
            _ => None,
        }
    }

    pub(crate) fn timer_deadline(&self) -> Option<Duration> {
        self.timer.map(|(at, delay)| at + delay)
    }
}
