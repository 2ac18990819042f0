//! dht-rpc's request/reply layer (`lib/io.js`) without I/O.
//!
//! A node has two UDP sockets: the *server* socket (its advertised port) and the *client*
//! socket. A firewalled node sends its requests from the client socket, an open one from
//! the server socket; a persistent (non-ephemeral) node puts its id in what it sends from
//! the server socket. Replies leave from the socket the request came in on. A datagram on
//! the socket a node does not send requests from is *external*.
//!
//! Requests get a `u16` transaction id counting up from a random start (wrapping), are
//! resent every second ([`REQUEST_TIMEOUT`]) up to [`RETRIES`] times and then time out. A
//! congestion window bounds what is sent: at most [`MAX_WINDOW`] sends per 750 ms slot and
//! `2 × MAX_WINDOW` over the last four slots ([`CongestionWindow`]); requests beyond it wait
//! and go out on the next drain. A reply frees one slot. Tokens are BLAKE2b-256 of the
//! requester's host keyed with one of two secrets; every 10 drains (7.5 s) the older secret
//! is replaced by the hash of itself and becomes the newer one, so a token stays valid for
//! 7.5 to 15 s. A request carrying a token that matches neither secret is answered with
//! `INVALID_TOKEN` and not passed on.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;

use ferrocore_wire::dht::{errors, Ipv4Address, Packet, Request, Response};
use ferrocore_wire::Encode;

use super::table::{Table, K};

/// Sends per congestion slot (`MAX_WINDOW`).
pub const MAX_WINDOW: u32 = 80;
/// The drain interval: one congestion slot, and the secret rotation's clock.
pub const DRAIN_INTERVAL: Duration = Duration::from_millis(750);
/// Drains between secret rotations.
pub const ROTATE_SECRETS: u32 = 10;
/// How long a request waits for its reply before it is resent.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);
/// Resends before a request times out (it is sent at most `1 + RETRIES` times).
pub const RETRIES: u32 = 3;

/// One of a node's two UDP sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socket {
    /// The socket on the node's advertised port.
    Server,
    /// The socket a firewalled node sends its requests from.
    Client,
}

/// dht-rpc's congestion window: sends counted in four 750 ms slots.
#[derive(Debug, Clone, Default)]
pub struct CongestionWindow {
    i: usize,
    total: u32,
    window: [u32; 4],
    max: u32,
}

impl CongestionWindow {
    /// A window of `max` sends per slot.
    #[must_use]
    pub fn new(max: u32) -> Self {
        Self {
            max,
            ..Self::default()
        }
    }

    /// Whether nothing more may be sent now.
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.total >= 2 * self.max || self.window[self.i] >= self.max
    }

    /// Counts a send.
    pub fn send(&mut self) {
        self.total += 1;
        self.window[self.i] += 1;
    }

    /// Counts a reply (or a request that ended): frees a send of the current slot.
    pub fn recv(&mut self) {
        if self.window[self.i] > 0 {
            self.window[self.i] -= 1;
            self.total -= 1;
        }
    }

    /// Moves to the next slot, forgetting the oldest.
    pub fn drain(&mut self) {
        self.i = (self.i + 1) & 3;
        self.total -= self.window[self.i];
        self.window[self.i] = 0;
    }

    /// Forgets every send.
    pub fn clear(&mut self) {
        *self = Self::new(self.max);
    }
}

/// Request counters (`io.stats.requests`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Requests created.
    pub total: u64,
    /// Replies received to our requests.
    pub responses: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Resends.
    pub retries: u64,
}

/// The handle of a request this node sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The socket to send it from.
    pub socket: Socket,
    /// Where to.
    pub to: Ipv4Address,
    /// The datagram.
    pub bytes: Vec<u8>,
}

/// Where a request came from, enough to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The socket it came in on.
    pub socket: Socket,
    /// Its sender's address.
    pub from: Ipv4Address,
    /// The sender's id, when it sent one matching its address.
    pub from_id: Option<[u8; 32]>,
    /// Whether it came in on the socket this node does not send requests from.
    pub external: bool,
    /// The request.
    pub request: Request,
}

/// What the I/O layer reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IoEvent {
    /// A request with a valid (or no) token.
    Request(Incoming),
    /// The reply to one of our requests.
    Response {
        /// Our request.
        id: RequestId,
        /// The replier's address.
        from: Ipv4Address,
        /// The replier's id, when it sent one matching its address.
        from_id: Option<[u8; 32]>,
        /// Whether it came in on the external socket.
        external: bool,
        /// Time from the request's creation to the reply.
        rtt: Duration,
        /// The reply.
        response: Response,
    },
    /// One of our requests (sent with `report_cycle`) got no reply in time for the first
    /// time and is resent (JS `oncycle`).
    Cycle {
        /// Our request.
        id: RequestId,
    },
    /// One of our requests got no reply after its retries.
    Timeout {
        /// Our request.
        id: RequestId,
        /// Where it went.
        to: Ipv4Address,
        /// The id we expected there, if any.
        to_id: Option<[u8; 32]>,
    },
}

/// A request to send ([`Io::request`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outgoing {
    /// Where to.
    pub to: Ipv4Address,
    /// The id expected there (reported back on timeout).
    pub to_id: Option<[u8; 32]>,
    /// A token the receiver gave us.
    pub token: Option<[u8; 32]>,
    /// Whether `command` is an internal one.
    pub internal: bool,
    /// The command.
    pub command: u64,
    /// The key it is about.
    pub target: Option<[u8; 32]>,
    /// Its argument.
    pub value: Option<Bytes>,
    /// Resends before it times out ([`RETRIES`] when `None`).
    pub retries: Option<u32>,
    /// Report its first resend as [`IoEvent::Cycle`] (queries count such visits as slow).
    pub report_cycle: bool,
}

#[derive(Debug)]
struct Inflight {
    id: RequestId,
    tid: u16,
    to: Ipv4Address,
    to_id: Option<[u8; 32]>,
    socket: Socket,
    bytes: Vec<u8>,
    sent: u32,
    retries: u32,
    report_cycle: bool,
    created: Duration,
    deadline: Option<Duration>,
}

/// The I/O state of a dht-rpc node: its routing table, requests in flight, congestion
/// window and token secrets.
#[derive(Debug)]
pub struct Io {
    table: Table,
    /// Whether this node is firewalled (sends requests from its client socket).
    pub firewalled: bool,
    /// Whether this node is ephemeral (never sends its id).
    pub ephemeral: bool,
    tid: u16,
    next_id: u64,
    inflight: Vec<Inflight>,
    pending: VecDeque<RequestId>,
    congestion: CongestionWindow,
    secrets: [[u8; 32]; 2],
    secrets_used: bool,
    rotate: u32,
    next_drain: Duration,
    transmits: VecDeque<Transmit>,
    events: VecDeque<IoEvent>,
    stats: IoStats,
}

impl Io {
    /// A new I/O layer at `now`: firewalled and ephemeral, as JS starts; `tid` is the
    /// random first transaction id and `secrets` the two random token secrets.
    #[must_use]
    pub fn new(now: Duration, table: Table, tid: u16, secrets: [[u8; 32]; 2]) -> Self {
        Self {
            table,
            firewalled: true,
            ephemeral: true,
            tid,
            next_id: 0,
            inflight: Vec::new(),
            pending: VecDeque::new(),
            congestion: CongestionWindow::new(MAX_WINDOW),
            secrets,
            secrets_used: false,
            rotate: ROTATE_SECRETS,
            next_drain: now + DRAIN_INTERVAL,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: IoStats::default(),
        }
    }

    /// Sets the sends per congestion slot (`maxWindow`).
    pub fn set_max_window(&mut self, max: u32) {
        self.congestion = CongestionWindow::new(max);
    }

    /// The request counters.
    #[must_use]
    pub fn stats(&self) -> IoStats {
        self.stats
    }

    /// The routing table.
    #[must_use]
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The routing table, to change.
    pub fn table_mut(&mut self) -> &mut Table {
        &mut self.table
    }

    /// Requests awaiting a reply (sent or queued).
    #[must_use]
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    /// The token for `addr`'s host under secret `i` (0 older, 1 newer).
    pub fn token(&mut self, addr: &Ipv4Address, i: usize) -> [u8; 32] {
        self.secrets_used = true;
        ferrocore_wire::dht::token(addr.host_string().as_bytes(), &self.secrets[i & 1])
    }

    fn socket(&self) -> Socket {
        if self.firewalled {
            Socket::Client
        } else {
            Socket::Server
        }
    }

    fn our_id(&self, socket: Socket) -> Option<[u8; 32]> {
        (!self.ephemeral && socket == Socket::Server).then(|| *self.table.id())
    }

    /// Sends a request (queued while the congestion window is full).
    pub fn request(&mut self, now: Duration, out: Outgoing) -> RequestId {
        let tid = self.tid;
        self.tid = self.tid.wrapping_add(1);
        let socket = self.socket();
        let req = Request {
            tid,
            to: out.to,
            id: self.our_id(socket),
            token: out.token,
            internal: out.internal,
            command: out.command,
            target: out.target,
            value: out.value,
        };
        let id = RequestId(self.next_id);
        self.next_id += 1;
        self.stats.total += 1;
        self.inflight.push(Inflight {
            id,
            tid,
            to: out.to,
            to_id: out.to_id,
            socket,
            bytes: Packet::Request(req).to_vec(),
            sent: 0,
            retries: out.retries.unwrap_or(RETRIES),
            report_cycle: out.report_cycle,
            created: now,
            deadline: None,
        });
        let i = self.inflight.len() - 1;
        self.send(i, now, false);
        id
    }

    fn send(&mut self, i: usize, now: Duration, force: bool) {
        if !force && self.congestion.is_full() {
            self.inflight[i].deadline = None;
            self.pending.push_back(self.inflight[i].id);
            return;
        }
        let r = &mut self.inflight[i];
        r.sent += 1;
        r.deadline = Some(now + REQUEST_TIMEOUT);
        self.congestion.send();
        self.transmits.push_back(Transmit {
            socket: r.socket,
            to: r.to,
            bytes: r.bytes.clone(),
        });
    }

    /// Cancels a request; no event is reported for it.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        match self.inflight.iter().position(|r| r.id == id) {
            Some(i) => {
                self.inflight.swap_remove(i);
                self.congestion.recv();
                true
            }
            None => false,
        }
    }

    /// Handles a datagram that arrived on `socket` from `from`. Anything that is not a
    /// well-formed dht-rpc datagram from a non-zero port is dropped.
    pub fn handle_datagram(
        &mut self,
        now: Duration,
        socket: Socket,
        from: Ipv4Address,
        bytes: &[u8],
    ) {
        if bytes.len() < 2 || from.port == 0 {
            return;
        }
        let Ok(packet) = Packet::decode(bytes) else {
            return;
        };
        let external = socket != self.socket();
        match packet {
            Packet::Request(request) => {
                let from_id = request.verified_id(&from);
                if let Some(t) = request.token {
                    if t != self.token(&from, 1) && t != self.token(&from, 0) {
                        let inc = Incoming {
                            socket,
                            from,
                            from_id,
                            external,
                            request,
                        };
                        self.reply(&inc, errors::INVALID_TOKEN, None, true, true);
                        return;
                    }
                }
                self.events.push_back(IoEvent::Request(Incoming {
                    socket,
                    from,
                    from_id,
                    external,
                    request,
                }));
            }
            Packet::Response(response) => {
                let Some(i) = self.inflight.iter().position(|r| r.tid == response.tid) else {
                    return;
                };
                let r = self.inflight.swap_remove(i);
                self.congestion.recv();
                self.stats.responses += 1;
                self.events.push_back(IoEvent::Response {
                    id: r.id,
                    from,
                    from_id: response.verified_id(&from),
                    external,
                    rtt: now.saturating_sub(r.created),
                    response,
                });
            }
        }
    }

    /// Answers `req` (`sendReply`): `error` 0 for success, the reply's `value`, a token for
    /// the requester when `token`, and the nodes closest to the request's target when
    /// `closer_nodes` and the request has one.
    pub fn reply(
        &mut self,
        req: &Incoming,
        error: u64,
        value: Option<Bytes>,
        token: bool,
        closer_nodes: bool,
    ) {
        self.reply_to(req, req.from, error, value, token, closer_nodes);
    }

    /// [`Io::reply`] sent to `to` instead of the requester (PING_NAT).
    pub fn reply_to(
        &mut self,
        req: &Incoming,
        to: Ipv4Address,
        error: u64,
        value: Option<Bytes>,
        token: bool,
        closer_nodes: bool,
    ) {
        let closer_nodes = match (&req.request.target, closer_nodes) {
            (Some(t), true) => self.table.closest(t, K).iter().map(|n| n.addr).collect(),
            _ => Vec::new(),
        };
        let token = token.then(|| self.token(&to, 1));
        let res = Response {
            tid: req.request.tid,
            to,
            id: self.our_id(req.socket),
            token,
            closer_nodes,
            error,
            value,
        };
        self.transmits.push_back(Transmit {
            socket: req.socket,
            to,
            bytes: Packet::Response(res).to_vec(),
        });
    }

    /// The next time [`Io::handle_timeout`] has work.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.inflight
            .iter()
            .filter_map(|r| r.deadline)
            .chain(core::iter::once(self.next_drain))
            .min()
    }

    /// Runs the drains and request timers due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        while self.next_drain <= now {
            self.next_drain += DRAIN_INTERVAL;
            self.drain(now);
        }
        let mut i = 0;
        while i < self.inflight.len() {
            match self.inflight[i].deadline {
                Some(d) if d <= now => {}
                _ => {
                    i += 1;
                    continue;
                }
            }
            if self.inflight[i].report_cycle {
                self.inflight[i].report_cycle = false;
                let id = self.inflight[i].id;
                self.events.push_back(IoEvent::Cycle { id });
            }
            if self.inflight[i].sent > self.inflight[i].retries {
                let r = self.inflight.swap_remove(i);
                self.congestion.recv();
                self.stats.timeouts += 1;
                self.events.push_back(IoEvent::Timeout {
                    id: r.id,
                    to: r.to,
                    to_id: r.to_id,
                });
            } else {
                self.stats.retries += 1;
                self.send(i, now, false);
                i += 1;
            }
        }
    }

    fn drain(&mut self, now: Duration) {
        if self.secrets_used {
            self.rotate -= 1;
            if self.rotate == 0 {
                self.rotate = ROTATE_SECRETS;
                let old = self.secrets[0];
                self.secrets[0] = self.secrets[1];
                self.secrets[1] = blake2b_simd::Params::new()
                    .hash_length(32)
                    .hash(&old)
                    .as_bytes()
                    .try_into()
                    .unwrap_or([0; 32]);
            }
        }
        self.congestion.drain();
        while !self.congestion.is_full() {
            let Some(id) = self.pending.pop_front() else {
                return;
            };
            if let Some(i) = self.inflight.iter().position(|r| r.id == id) {
                self.send(i, now, true);
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<IoEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
#[path = "io_tests.rs"]
mod tests;
