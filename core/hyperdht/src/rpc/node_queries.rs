//! The node's queries: starting them, carrying out what they ask (visits, DOWN_HINTs) and
//! their commits (see [`CommitMode`]).

use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{commands, Ipv4Address};

use super::super::config::REFRESH_TICKS;
use super::super::io::{Outgoing, RequestId};
use super::super::query::{Query, QueryAction, QueryConfig, QueryPeer, QueryReply};
use super::{
    ping_to, Check, CommitMode, Commits, Kind, Node, NodeEvent, QueryId, QueryRequest, Running,
    QUERY_RETRIES,
};

impl Node {
    /// Starts an iterative query for `req` seeded with `nodes` (closest first; the table
    /// and [`Node::bootstrap`] fill in), committing as [`CommitMode::Events`].
    pub fn query(
        &mut self,
        now: Duration,
        req: QueryRequest,
        cfg: QueryConfig,
        nodes: &[QueryPeer],
    ) -> QueryId {
        self.query_with(now, req, cfg, CommitMode::Events, nodes)
    }

    /// [`Node::query`] with a [`CommitMode`] (JS `findNode`/`query`: resets the refresh
    /// countdown).
    pub fn query_with(
        &mut self,
        now: Duration,
        req: QueryRequest,
        cfg: QueryConfig,
        mode: CommitMode,
        nodes: &[QueryPeer],
    ) -> QueryId {
        self.refresh_ticks = REFRESH_TICKS;
        self.start_query(now, req, cfg, mode, Kind::User, nodes)
    }

    pub(super) fn start_query(
        &mut self,
        now: Duration,
        req: QueryRequest,
        cfg: QueryConfig,
        mode: CommitMode,
        kind: Kind,
        nodes: &[QueryPeer],
    ) -> QueryId {
        let id = QueryId(self.next_query);
        self.next_query += 1;
        let mut query = Query::new(req.target, *self.table().id(), cfg, nodes);
        query.open(self.io.table(), &self.bootstrap);
        let retries = if req.internal && req.command == commands::DOWN_HINT {
            3
        } else {
            QUERY_RETRIES
        };
        self.queries.insert(
            id,
            Running {
                query,
                req,
                retries,
                kind,
                mode,
                commits: Commits::default(),
            },
        );
        self.pump(now, id);
        id
    }

    /// Queries running.
    #[must_use]
    pub fn queries(&self) -> usize {
        self.queries.len()
    }

    /// Answers a [`NodeEvent::QueryCommit`] of a [`CommitMode::Awaited`] query: `Some`
    /// request to send (its outcome is also reported as a `Response`/`Timeout` event), or
    /// `None` for a commit that failed at once. Returns the request's id.
    pub fn commit(
        &mut self,
        now: Duration,
        q: QueryId,
        out: Option<Outgoing>,
    ) -> Option<RequestId> {
        let r = self.queries.get_mut(&q)?;
        if r.mode != CommitMode::Awaited || r.commits.unanswered == 0 {
            return None;
        }
        r.commits.unanswered -= 1;
        let Some(out) = out else {
            self.commit_ended(now, q, false, false);
            return None;
        };
        r.commits.inflight += 1;
        let rid = self.io.request(now, out);
        self.own.insert(rid, Check::Commit(q));
        Some(rid)
    }

    /// A commit of query `q` ended: a request that was in flight (`sent`) or one failed at
    /// once.
    pub(super) fn commit_ended(&mut self, now: Duration, q: QueryId, sent: bool, ok: bool) {
        let Some(r) = self.queries.get_mut(&q) else {
            return;
        };
        if sent {
            r.commits.inflight = r.commits.inflight.saturating_sub(1);
        }
        if ok {
            r.commits.ok += 1;
        }
        self.finish_commits(now, q);
    }

    /// Carries out what query `q` asks for.
    pub(super) fn pump(&mut self, now: Duration, q: QueryId) {
        while let Some(r) = self.queries.get_mut(&q) {
            let Some(action) = r.query.poll_action() else {
                return;
            };
            let kind = r.kind;
            match action {
                QueryAction::Visit(p) => {
                    let out = Outgoing {
                        to: p.addr,
                        to_id: p.id,
                        token: None,
                        internal: r.req.internal,
                        command: r.req.command,
                        target: Some(r.req.target),
                        value: r.req.value.clone(),
                        retries: Some(r.retries),
                        report_cycle: true,
                    };
                    let rid = self.io.request(now, out);
                    self.visits.insert(rid, (q, p.addr));
                }
                QueryAction::DownHint { to, down } => self.send_down_hint(now, to, down),
                QueryAction::Reply(m) => match kind {
                    Kind::User => self.events.push_back(NodeEvent::QueryReply(q, m)),
                    Kind::Background => self.background_reply(now, q, &m),
                },
                QueryAction::Commit(m) => self.on_commit(now, q, m),
                QueryAction::TooFewNodes => {
                    if kind == Kind::User {
                        self.events.push_back(NodeEvent::QueryTooFewNodes(q));
                    }
                }
                QueryAction::Done => {
                    // As JS destroys the query's session: visits still out are cancelled.
                    let io = &mut self.io;
                    self.visits.retain(|rid, (v, _)| {
                        let keep = *v != q;
                        if !keep {
                            io.cancel(*rid);
                        }
                        keep
                    });
                    r.commits.flushed = true;
                    self.finish_commits(now, q);
                }
            }
        }
    }

    fn on_commit(&mut self, now: Duration, q: QueryId, m: QueryReply) {
        let Some(r) = self.queries.get_mut(&q) else {
            return;
        };
        match r.mode {
            CommitMode::Events => self.events.push_back(NodeEvent::QueryCommit(q, m)),
            CommitMode::Awaited => {
                r.commits.unanswered += 1;
                self.events.push_back(NodeEvent::QueryCommit(q, m));
            }
            CommitMode::Auto => {
                let Some(token) = m.response.token else {
                    // "No token received for closest node": this commit fails
                    return;
                };
                let out = Outgoing {
                    to: m.from,
                    token: Some(token),
                    internal: r.req.internal,
                    command: r.req.command,
                    target: Some(r.req.target),
                    value: r.req.value.clone(),
                    ..Outgoing::default()
                };
                r.commits.inflight += 1;
                let rid = self.io.request(now, out);
                self.own.insert(rid, Check::Commit(q));
            }
        }
    }

    /// Ends query `q` when its visits are over and no commit is outstanding.
    fn finish_commits(&mut self, now: Duration, q: QueryId) {
        let Some(r) = self.queries.get(&q) else {
            return;
        };
        let c = &r.commits;
        if !c.flushed || c.unanswered > 0 || c.inflight > 0 {
            return;
        }
        let waits = r.mode != CommitMode::Events && r.query.committed_to() > 0;
        let kind = r.kind;
        let failed = waits && c.ok == 0;
        self.queries.remove(&q);
        match kind {
            Kind::User => {
                if failed {
                    self.events.push_back(NodeEvent::QueryCommitFailed(q));
                }
                self.events.push_back(NodeEvent::QueryDone(q));
            }
            Kind::Background => self.background_done(now, q),
        }
    }

    fn send_down_hint(&mut self, now: Duration, to: Ipv4Address, down: Ipv4Address) {
        if let Some(limit) = self.cfg.down_hints_rate_limit {
            if self.down_hints_sent >= limit {
                return;
            }
        }
        self.down_hints_sent += 1;
        if !self.cfg.send_down_hints {
            return;
        }
        let mut out = ping_to(to);
        out.command = commands::DOWN_HINT;
        out.value = Some(Bytes::copy_from_slice(&down.to_bytes()));
        self.io.request(now, out);
    }
}
