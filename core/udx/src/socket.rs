//! The UDX state of one UDP socket: its streams and the router of its datagrams.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

use ferrocore_wire::udx::{self as packet, DatagramKind};

use crate::pacing::Pacer;
use crate::stream::{Stream, CLOSED, REMOTE_ENDED};
use crate::{Config, Event, Routed, Stats, StreamId, Transmit, UdxError};

/// Most relayed datagrams waiting to go out before more are dropped.
const MAX_RELAY_QUEUE: usize = 1024;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 4)
}

/// UDX state of ONE UDP socket: every stream on it, and the router for its datagrams.
#[derive(Debug)]
pub struct Socket {
    config: Config,
    streams: BTreeMap<StreamId, Stream>,
    events: VecDeque<Event>,
    relay_out: VecDeque<(SocketAddr, Vec<u8>)>,
    /// Next stream to ask for datagrams (round robin).
    cursor: StreamId,
    /// Some stream closed: sweep finished ones and the streams relaying to it.
    dirty: bool,
}

impl Socket {
    /// A socket with no stream.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Socket {
            config,
            streams: BTreeMap::new(),
            events: VecDeque::new(),
            relay_out: VecDeque::new(),
            cursor: 0,
            dirty: false,
        }
    }

    /// The socket's settings.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A new stream with local id `id` (the caller draws it at random; JS does too).
    pub fn create_stream(&mut self, id: StreamId) -> Result<(), UdxError> {
        self.sweep();
        // A stream lingering after its graceful close gives way to a new one.
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.linger_until.is_some())
        {
            self.streams.remove(&id);
        }
        if self.streams.contains_key(&id) {
            return Err(UdxError::Misuse("stream id in use"));
        }
        let lingering = self
            .streams
            .values()
            .filter(|s| s.linger_until.is_some())
            .count();
        if self.streams.len() - lingering >= self.config.max_streams {
            return Err(UdxError::Misuse("too many streams on this socket"));
        }
        self.streams.insert(id, Stream::new(id, &self.config, 0));
        Ok(())
    }

    fn live(&mut self, id: StreamId) -> Result<&mut Stream, UdxError> {
        live(&mut self.streams, id)
    }

    /// Start sending to the peer's stream `remote_id` at `remote` (no UDX handshake
    /// exists).
    pub fn connect(
        &mut self,
        now: Duration,
        id: StreamId,
        remote_id: StreamId,
        remote: SocketAddr,
    ) -> Result<(), UdxError> {
        let rate = self.config.initial_pacing_rate;
        let s = self.live(id)?;
        s.connect(micros(now), remote_id, remote)?;
        s.pacer = Pacer::new(rate, micros(now));
        Ok(())
    }

    /// Sets the sequence number of the next packet (libudx `udx_stream_set_seq`; hyperdht
    /// exchanges it in the Noise payload). Only before anything was sent.
    pub fn set_seq(&mut self, id: StreamId, seq: u32) -> Result<(), UdxError> {
        let s = self.live(id)?;
        if !s.snd.pkts.is_empty() || s.snd.seq != s.snd.remote_acked {
            return Err(UdxError::Misuse("set_seq after sending"));
        }
        s.snd.seq = seq;
        s.snd.remote_acked = seq;
        s.snd.wl2 = seq;
        Ok(())
    }

    /// Sets the next sequence number expected from the peer (libudx
    /// `udx_stream_set_ack`). Only before anything was received.
    pub fn set_ack(&mut self, id: StreamId, ack: u32) -> Result<(), UdxError> {
        let s = self.live(id)?;
        if s.stats.packets_received > 0 {
            return Err(UdxError::Misuse("set_ack after receiving"));
        }
        s.rcv.ack = ack;
        s.snd.wl1 = ack;
        Ok(())
    }

    /// Sends a HEARTBEAT whenever the stream has been idle (everything acknowledged) for
    /// `interval`; `None` stops it (libudx `udx_stream_set_keepalive`).
    pub fn set_keepalive(
        &mut self,
        now: Duration,
        id: StreamId,
        interval: Option<Duration>,
    ) -> Result<(), UdxError> {
        self.live(id)?
            .set_keepalive(micros(now), interval.map(micros));
        Ok(())
    }

    /// One datagram received on this socket from `from`.
    pub fn handle_datagram(&mut self, now: Duration, from: SocketAddr, datagram: &[u8]) -> Routed {
        match packet::classify(datagram) {
            DatagramKind::HolepunchProbe => return Routed::Probe,
            DatagramKind::RpcRequest | DatagramKind::RpcResponse => return Routed::Rpc,
            DatagramKind::Unknown => return Routed::Ignored,
            DatagramKind::Udx => {}
        }
        let Ok(pkt) = packet::decode(datagram) else {
            return Routed::Ignored;
        };
        let id = pkt.header.stream_id;
        let Some(s) = self.streams.get_mut(&id) else {
            return Routed::UnknownStream { id };
        };
        if s.is(CLOSED) && s.linger_until.is_none() {
            return Routed::UnknownStream { id };
        }
        if let Some(to) = s.relay_to {
            self.relay(id, to, &pkt.header, datagram);
            return Routed::Udx;
        }
        s.handle_packet(micros(now), from, &pkt, datagram.len(), &mut self.events);
        if s.is(CLOSED) {
            self.dirty = true;
        }
        Routed::Udx
    }

    fn relay(&mut self, id: StreamId, to: StreamId, h: &packet::Header, datagram: &[u8]) {
        if let Some(s) = self.streams.get_mut(&id) {
            if crate::seq::gt(h.seq, s.snd.seq) {
                s.snd.seq = h.seq;
            }
        }
        if let Some(t) = self.streams.get(&to) {
            if let (Some(dst), false) = (t.remote, t.is(CLOSED)) {
                if self.relay_out.len() < MAX_RELAY_QUEUE {
                    let mut d = datagram.to_vec();
                    d[4..8].copy_from_slice(&t.remote_id.to_le_bytes());
                    self.relay_out.push_back((dst, d));
                }
            }
        }
        if h.flags & packet::flags::DESTROY != 0 {
            if let Some(s) = self.streams.get_mut(&id) {
                s.close(Some(UdxError::Destroyed), &mut self.events);
                self.dirty = true;
            }
        }
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Duration) {
        let now = micros(now);
        for s in self.streams.values_mut() {
            if s.linger_until.is_some_and(|t| t <= now) {
                s.linger_until = None;
                self.dirty = true;
            }
            if s.timer_deadline().is_some_and(|t| t <= now) {
                s.handle_timer(now, &mut self.events);
                if s.is(CLOSED) {
                    self.dirty = true;
                }
            }
        }
        self.sweep();
    }

    /// When `handle_timeout` should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.streams
            .values()
            .filter_map(Stream::poll_timeout)
            .min()
            .map(Duration::from_micros)
    }

    /// The next datagram(s) to send. Appends to `buf` one datagram, or several of equal
    /// size `segment_size` (the last may be shorter) all to the same `dst` (for GSO);
    /// returns `None` when nothing is due now (pacing and windows permitting). The caller
    /// sends and calls again until `None`.
    #[must_use]
    pub fn poll_transmit(
        &mut self,
        now: Duration,
        buf: &mut Vec<u8>,
        max_segments: usize,
    ) -> Option<Transmit> {
        if let Some((dst, d)) = self.relay_out.pop_front() {
            buf.extend_from_slice(&d);
            return Some(Transmit {
                dst,
                len: d.len(),
                segment_size: d.len(),
            });
        }
        let now = micros(now);
        let cursor = self.cursor;
        let found = poll_range(self.streams.range_mut(cursor..), now, buf, max_segments)
            .or_else(|| poll_range(self.streams.range_mut(..cursor), now, buf, max_segments));
        let (id, t) = found?;
        self.cursor = id.wrapping_add(1);
        if self.streams.get(&id).is_some_and(Stream::is_finished) {
            self.dirty = true;
        }
        Some(t)
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.sweep();
        self.events.pop_front()
    }

    /// Forgets finished streams; closes streams relaying to a closed one.
    fn sweep(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let closed: Vec<StreamId> = self
            .streams
            .iter()
            .filter(|(_, s)| s.is(CLOSED))
            .map(|(&id, _)| id)
            .collect();
        for s in self.streams.values_mut() {
            if s.relay_to.is_some_and(|to| closed.contains(&to)) {
                s.relay_to = None;
                s.close(None, &mut self.events);
            }
        }
        self.streams.retain(|_, s| !s.is_finished());
        if self.streams.values().any(|s| s.is(CLOSED)) {
            // Streams still draining their last packets or unread bytes.
            self.dirty = true;
        }
    }

    /// Queues bytes for the stream; returns how many were taken (0: send buffer full, wait
    /// for [`Event::Writable`]).
    pub fn write(&mut self, now: Duration, id: StreamId, data: &[u8]) -> Result<usize, UdxError> {
        self.live(id)?.write(micros(now), data)
    }

    /// Reads in-order bytes; `Ok(0)` with [`Socket::is_remote_ended`] means end of
    /// stream, `Ok(0)` otherwise means wait for [`Event::Readable`]. Bytes that arrived
    /// before a graceful close stay readable after [`Event::Closed`].
    pub fn read(&mut self, id: StreamId, buf: &mut [u8]) -> Result<usize, UdxError> {
        let s = self.streams.get_mut(&id).ok_or(UdxError::UnknownStream)?;
        let n = s.read(buf);
        if s.is(CLOSED) {
            self.dirty = true;
        }
        Ok(n)
    }

    /// An unordered, unreliable MESSAGE datagram (must fit one packet).
    pub fn send_message(
        &mut self,
        _now: Duration,
        id: StreamId,
        data: &[u8],
    ) -> Result<(), UdxError> {
        self.live(id)?.send_message(data)
    }

    /// Graceful END after the queued data.
    pub fn end(&mut self, now: Duration, id: StreamId) -> Result<(), UdxError> {
        self.live(id)?.end(micros(now))
    }

    /// Sends DESTROY (if connected) and drops the stream's state.
    pub fn destroy(&mut self, _now: Duration, id: StreamId) -> Result<(), UdxError> {
        let s = live(&mut self.streams, id)?;
        s.destroy(&mut self.events);
        s.rcv.clear();
        self.dirty = true;
        Ok(())
    }

    /// Sends to a new peer stream / address from now on (libudx `udx_stream_change_remote`);
    /// packets in flight are still retransmitted to the old one until acknowledged.
    pub fn change_remote(
        &mut self,
        _now: Duration,
        id: StreamId,
        remote_id: StreamId,
        remote: SocketAddr,
    ) -> Result<(), UdxError> {
        self.live(id)?.change_remote(remote_id, remote)
    }

    /// Forwards every packet arriving for `id` to the peer of `to` (libudx
    /// `udx_stream_relay_to`, used by blind relays); `id` is closed when `to` closes.
    pub fn relay_to(&mut self, id: StreamId, to: StreamId) -> Result<(), UdxError> {
        if id == to {
            return Err(UdxError::Misuse("a stream cannot relay to itself"));
        }
        self.live(to)?;
        let s = self.live(id)?;
        if s.relay_to.is_some() {
            return Err(UdxError::Misuse("stream already relayed"));
        }
        s.relay_to = Some(to);
        Ok(())
    }

    /// Whether packets sent before the last `change_remote` still await acknowledgement
    /// (libudx calls `on_remote_changed` when they are all acknowledged).
    #[must_use]
    pub fn is_remote_changing(&self, id: StreamId) -> bool {
        self.streams
            .get(&id)
            .is_some_and(|s| s.remote_changing.is_some())
    }

    /// Whether the peer's END was reached in order.
    #[must_use]
    pub fn is_remote_ended(&self, id: StreamId) -> bool {
        self.streams.get(&id).is_some_and(|s| s.is(REMOTE_ENDED))
    }

    /// The stream's counters and estimates.
    #[must_use]
    pub fn stats(&self, id: StreamId) -> Option<Stats> {
        self.streams.get(&id).map(Stream::stats)
    }

    /// Whether a stream with this id exists (closed streams with unread bytes included).
    #[must_use]
    pub fn has_stream(&self, id: StreamId) -> bool {
        self.streams.contains_key(&id)
    }

    /// How many streams the socket holds (those lingering after a graceful close too).
    #[must_use]
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// How many streams are not closed yet: open ones, and ended or destroyed ones whose
    /// close is not acknowledged. Streams that closed gracefully and only linger to
    /// acknowledge a retransmitted END again are not counted.
    #[must_use]
    pub fn open_stream_count(&self) -> usize {
        self.streams
            .values()
            .filter(|s| s.linger_until.is_none())
            .count()
    }
}

fn poll_range<'a>(
    streams: impl Iterator<Item = (&'a StreamId, &'a mut Stream)>,
    now: u64,
    buf: &mut Vec<u8>,
    max_segments: usize,
) -> Option<(StreamId, Transmit)> {
    for (&id, s) in streams {
        if let Some(t) = s.poll_transmit(now, buf, max_segments) {
            return Some((id, t));
        }
    }
    None
}

fn live(streams: &mut BTreeMap<StreamId, Stream>, id: StreamId) -> Result<&mut Stream, UdxError> {
    match streams.get_mut(&id) {
        Some(s) if !s.is(CLOSED) => Ok(s),
        _ => Err(UdxError::UnknownStream),
    }
}
