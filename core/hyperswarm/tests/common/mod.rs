//! A scripted adapter for the swarm tests: it records commands and events, and answers
//! nothing by itself.

#![allow(dead_code)]

use core::time::Duration;
use ferrocore_hyperswarm::{
    Command, ConnId, Event, JoinOptions, Peer, PublicKey, QueryId, SessionId, Swarm, SwarmConfig,
    Topic,
};

pub const TOPIC: Topic = [7; 32];

pub fn key(n: u8) -> PublicKey {
    [n; 32]
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn peer(n: u8) -> Peer {
    Peer {
        public_key: key(n),
        relay_addresses: Vec::new(),
    }
}

/// Backoffs 1 s, 5 s, 15 s, 10 min without jitter: tick periods 660, 3300, 9900, 396000 ms.
pub fn fixed_config() -> SwarmConfig {
    SwarmConfig {
        backoffs: Some([ms(1000), ms(5000), ms(15000), ms(600_000)]),
        jitter: Duration::ZERO,
        ..SwarmConfig::default()
    }
}

pub struct Harness {
    pub swarm: Swarm,
    pub now: Duration,
    pub commands: Vec<Command>,
    pub events: Vec<Event>,
}

impl Harness {
    pub fn new(ours: u8, config: SwarmConfig) -> Self {
        Harness {
            swarm: Swarm::new(key(ours), config, 42),
            now: Duration::ZERO,
            commands: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Drains the swarm, keeping everything it said.
    pub fn drain(&mut self) {
        while let Some(c) = self.swarm.poll_command() {
            self.commands.push(c);
        }
        while let Some(e) = self.swarm.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes the commands said so far.
    pub fn take_commands(&mut self) -> Vec<Command> {
        self.drain();
        core::mem::take(&mut self.commands)
    }

    /// Takes the events said so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        core::mem::take(&mut self.events)
    }

    pub fn advance(&mut self, to: Duration) {
        self.now = to;
        self.swarm.handle_timeout(to);
        self.drain();
    }

    pub fn join(&mut self, opts: JoinOptions) -> SessionId {
        let s = self.swarm.join(self.now, TOPIC, opts).unwrap();
        self.drain();
        s
    }

    pub fn client_only() -> JoinOptions {
        JoinOptions {
            server: false,
            client: true,
            limit: None,
        }
    }

    /// Joins as a client and returns the lookup's id.
    pub fn join_client(&mut self) -> QueryId {
        self.join(Self::client_only());
        self.take_lookup()
    }

    /// The one lookup (or lookup-and-unannounce / announce) among the pending commands.
    pub fn take_lookup(&mut self) -> QueryId {
        let cmds = self.take_commands();
        let queries: Vec<QueryId> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Lookup { query, .. }
                | Command::LookupAndUnannounce { query, .. }
                | Command::Announce { query, .. } => Some(*query),
                _ => None,
            })
            .collect();
        assert_eq!(queries.len(), 1, "one query expected in {cmds:?}");
        queries[0]
    }

    /// With `config`, joins as a client and finds peers 1 and 2; returns the lookup and the
    /// dials that went out.
    pub fn two_found(config: SwarmConfig) -> (Self, QueryId, Vec<(ConnId, u8)>) {
        let mut h = Harness::new(100, config);
        let q = h.join_client();
        h.found(q, &[1, 2]);
        let dials = h.take_dials();
        (h, q, dials)
    }

    /// The keys (first bytes) of the dials that went out.
    pub fn dialled(&mut self) -> Vec<u8> {
        self.take_dials().iter().map(|d| d.1).collect()
    }

    /// Asserts the pending commands are exactly one close of `conn` for `reason`.
    pub fn expect_only_close(&mut self, conn: ConnId, reason: ferrocore_hyperswarm::CloseReason) {
        assert_eq!(self.take_commands(), vec![Command::Close { conn, reason }]);
    }

    /// Asserts the pending commands are exactly a resume and one lookup.
    pub fn expect_resume_lookup(&mut self) {
        let cmds = self.take_commands();
        assert!(
            matches!(cmds[..], [Command::Resume, Command::Lookup { .. }]),
            "{cmds:?}"
        );
    }

    pub fn found(&mut self, query: QueryId, peers: &[u8]) {
        let peers: Vec<Peer> = peers.iter().map(|n| peer(*n)).collect();
        self.swarm.handle_query_peers(self.now, query, &peers);
        self.drain();
    }

    pub fn done(&mut self, query: QueryId) {
        self.swarm.handle_query_done(self.now, query, true);
        self.drain();
    }

    /// The dials among the pending commands, as (conn, key byte).
    pub fn take_dials(&mut self) -> Vec<(ConnId, u8)> {
        self.take_commands()
            .into_iter()
            .filter_map(|c| match c {
                Command::Connect {
                    conn, public_key, ..
                } => Some((conn, public_key[0])),
                _ => None,
            })
            .collect()
    }

    pub fn open(&mut self, conn: ConnId, n: u8) {
        self.swarm.handle_connected(self.now, conn, key(n), true);
        self.drain();
    }

    pub fn incoming(&mut self, n: u8) -> ConnId {
        let conn = self.swarm.alloc_conn_id();
        self.swarm.handle_connected(self.now, conn, key(n), false);
        self.drain();
        conn
    }

    pub fn close(&mut self, conn: ConnId) {
        self.swarm.handle_closed(self.now, conn);
        self.drain();
    }

    pub fn fail(&mut self, conn: ConnId, code: ferrocore_hyperswarm::ErrorCode) {
        self.swarm.handle_connect_failed(self.now, conn, &code);
        self.drain();
    }

    pub fn flush_done(&self, id: ferrocore_hyperswarm::FlushId) -> Option<bool> {
        self.events.iter().find_map(|e| match e {
            Event::FlushDone { id: i, ok } if *i == id => Some(*ok),
            _ => None,
        })
    }

    pub fn connections(&self) -> Vec<(ConnId, u8, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Connection {
                    conn,
                    remote_public_key,
                    is_initiator,
                    ..
                } => Some((*conn, remote_public_key[0], *is_initiator)),
                _ => None,
            })
            .collect()
    }
}
