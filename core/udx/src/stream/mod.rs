//! One UDX stream: its state, the packets it receives, and the calls of its user.
//!
//! `recv` holds the receive side, `send` the send-side bookkeeping, `recovery` the
//! acknowledgement processing, RTT estimation, RACK-TLP and the timers, and `output` the
//! datagrams the stream writes.

mod output;
mod recovery;
mod recv;
mod send;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::net::SocketAddr;

use ferrocore_wire::udx::{flags, Packet};

use crate::cc::{new_cc, CaState, CcContext, CongestionControl};
use crate::mtu::Mtu;
use crate::pacing::Pacer;
use crate::rate::Rate;
use crate::{Config, Event, Stats, StreamId, UdxError};

pub(crate) use recovery::Timer;

/// `connect` was called.
pub(crate) const CONNECTED: u16 = 1;
/// `end` was called.
pub(crate) const ENDING: u16 = 2;
/// Our END was acknowledged.
pub(crate) const ENDED: u16 = 4;
/// The peer's END arrived (maybe ahead of a gap).
pub(crate) const REMOTE_ENDING: u16 = 8;
/// The peer's END was reached in order.
pub(crate) const REMOTE_ENDED: u16 = 16;
/// The stream is closed (its last control packets may still be waiting to go out).
pub(crate) const CLOSED: u16 = 32;

/// How long a gracefully closed stream keeps acknowledging retransmissions (at least
/// two RTOs).
pub(crate) const LINGER_US: u64 = 4_000_000;

/// Bytes of IP + UDP + UDX headers within an MTU (libudx `UDX_IPV4_HEADER_SIZE` / V6).
pub(crate) fn header_overhead(addr: Option<SocketAddr>) -> usize {
    match addr {
        Some(SocketAddr::V6(_)) => 40 + 8 + 20,
        _ => 20 + 8 + 20,
    }
}

/// One stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub id: StreamId,
    pub remote_id: StreamId,
    pub remote: Option<SocketAddr>,
    /// Last address other than `remote` a packet came from (reported once).
    foreign: Option<SocketAddr>,
    pub status: u16,
    pub snd: send::SendQueue,
    pub rcv: recv::Receiver,
    pub rec: recovery::Recovery,
    pub mtu: Mtu,
    pub cc: Box<dyn CongestionControl>,
    pub pacer: Pacer,
    pub rate: Rate,
    pub ack_pending: bool,
    pub heartbeat_pending: bool,
    pub destroy_pending: bool,
    pub messages: VecDeque<Vec<u8>>,
    /// Packets for this stream are forwarded to that stream's peer (libudx relay).
    pub relay_to: Option<StreamId>,
    /// Acknowledgements of packets sent before `change_remote` are awaited up to here.
    pub remote_changing: Option<u32>,
    pub stats: Stats,
    pub keepalive_us: Option<u64>,
    /// When the pacer lets the next packet out, if it held one back.
    pub pacing_wait: Option<u64>,
    /// After a graceful close: until when the closed stream still acknowledges the
    /// peer's retransmitted DATA/END (its last acknowledgement may have been lost; TCP's
    /// TIME_WAIT). libudx forgets the stream at once and its peer then times out.
    pub linger_until: Option<u64>,
    readable_notified: bool,
    want_writable: bool,
    send_buffer: usize,
    max_messages: usize,
}

impl Stream {
    /// A new, unconnected stream.
    pub fn new(id: StreamId, cfg: &Config, now_us: u64) -> Self {
        Stream {
            id,
            remote_id: 0,
            remote: None,
            foreign: None,
            status: 0,
            snd: send::SendQueue::new(4 * 1024 * 1024, cfg.max_send_window),
            rcv: recv::Receiver::new(cfg.recv_window),
            rec: recovery::Recovery::new(),
            mtu: Mtu::new(cfg.min_mtu, cfg.max_mtu, cfg.mtu_probing),
            cc: new_cc(cfg.cc),
            pacer: Pacer::new(cfg.initial_pacing_rate, now_us),
            rate: Rate::new(),
            ack_pending: false,
            heartbeat_pending: false,
            destroy_pending: false,
            messages: VecDeque::new(),
            relay_to: None,
            remote_changing: None,
            stats: Stats::default(),
            keepalive_us: cfg.keepalive.map(|d| d.as_micros() as u64),
            pacing_wait: None,
            linger_until: None,
            readable_notified: false,
            want_writable: false,
            send_buffer: cfg.send_buffer,
            max_messages: cfg.max_queued_messages,
        }
    }

    pub fn is(&self, bits: u16) -> bool {
        self.status & bits != 0
    }

    /// Payload bytes per packet at the current MTU.
    pub fn max_payload(&self) -> usize {
        usize::from(self.mtu.mtu)
            .saturating_sub(header_overhead(self.remote))
            .max(1)
    }

    /// What the congestion controller is told.
    pub fn cc_context(&self, now_us: u64) -> CcContext {
        CcContext {
            now_us,
            inflight: self.snd.inflight,
            delivered: self.rate.delivered,
            srtt_us: self.rec.srtt_us,
            min_rtt_us: self.rec.min_rtt_us(),
            mss: self.max_payload() as u32,
            ca_state: self.rec.ca_state,
            app_limited: self.rate.app_limited != 0,
        }
    }

    /// Whether the socket may forget the stream.
    pub fn is_finished(&self) -> bool {
        self.is(CLOSED)
            && self.linger_until.is_none()
            && !self.ack_pending
            && !self.destroy_pending
            && self.rcv.readable.is_empty()
    }

    /// Starts sending to `remote_id` at `remote`.
    pub fn connect(
        &mut self,
        now_us: u64,
        remote_id: StreamId,
        remote: SocketAddr,
    ) -> Result<(), UdxError> {
        if self.is(CONNECTED) {
            return Err(UdxError::Misuse("stream already connected"));
        }
        if remote.port() == 0 {
            return Err(UdxError::Misuse("remote port 0"));
        }
        self.status |= CONNECTED;
        self.remote_id = remote_id;
        self.remote = Some(remote);
        if let Some(k) = self.keepalive_us {
            self.rec.start(Timer::Keepalive, now_us + k);
        }
        Ok(())
    }

    /// Changes the keep-alive interval (microseconds).
    pub fn set_keepalive(&mut self, now_us: u64, interval: Option<u64>) {
        self.keepalive_us = interval.filter(|&k| k > 0);
        let idle = self.snd.seq == self.snd.remote_acked;
        let keepalive_armed = self.rec.timer.is_some_and(|(t, _)| t == Timer::Keepalive);
        if keepalive_armed || (idle && self.rec.timer.is_none()) {
            match (self.keepalive_us, self.is(CONNECTED)) {
                (Some(k), true) => self.rec.start(Timer::Keepalive, now_us + k),
                _ if keepalive_armed => self.rec.stop(),
                _ => {}
            }
        }
    }

    /// Sends to a new peer from now on (libudx `udx_stream_change_remote`).
    pub fn change_remote(
        &mut self,
        remote_id: StreamId,
        remote: SocketAddr,
    ) -> Result<(), UdxError> {
        if !self.is(CONNECTED) {
            return Err(UdxError::Misuse("change_remote on an unconnected stream"));
        }
        if remote.port() == 0 {
            return Err(UdxError::Misuse("remote port 0"));
        }
        self.remote_id = remote_id;
        self.remote = Some(remote);
        self.foreign = None;
        if self.snd.seq != self.snd.remote_acked {
            self.remote_changing = Some(self.snd.seq);
        }
        self.mtu.reset();
        Ok(())
    }

    /// Queues bytes; returns how many were taken.
    pub fn write(&mut self, now_us: u64, data: &[u8]) -> Result<usize, UdxError> {
        if !self.is(CONNECTED) {
            return Err(UdxError::Misuse("write on an unconnected stream"));
        }
        if self.is(ENDING) {
            return Err(UdxError::Misuse("write after end"));
        }
        let room = self.send_buffer.saturating_sub(self.snd.unsent());
        let n = room.min(data.len());
        if n < data.len() {
            self.want_writable = true;
        }
        if n == 0 {
            return Ok(0);
        }
        let was_idle = self.snd.held() == 0;
        self.snd.push(&data[..n]);
        if was_idle {
            self.on_data_queued(now_us);
        }
        Ok(n)
    }

    /// Ends the write side after the queued bytes.
    pub fn end(&mut self, now_us: u64) -> Result<(), UdxError> {
        if !self.is(CONNECTED) {
            return Err(UdxError::Misuse("end on an unconnected stream"));
        }
        if self.is(ENDING) {
            return Err(UdxError::Misuse("end called twice"));
        }
        self.status |= ENDING;
        let was_idle = self.snd.held() == 0;
        self.snd.end_queued = true;
        if was_idle {
            self.on_data_queued(now_us);
        }
        Ok(())
    }

    /// An idle stream with a zero window got something to send: probe the window now
    /// (libudx `_udx_stream_write`).
    fn on_data_queued(&mut self, now_us: u64) {
        if self.snd.send_rwnd == 0 && self.snd.pkts.is_empty() {
            self.heartbeat_pending = true;
            self.rec.start(Timer::Zwp, now_us + self.rec.rto_us);
        }
    }

    /// Queues a MESSAGE datagram.
    pub fn send_message(&mut self, data: &[u8]) -> Result<(), UdxError> {
        if !self.is(CONNECTED) {
            return Err(UdxError::Misuse("send_message on an unconnected stream"));
        }
        let max = self.max_payload();
        if data.len() > max {
            return Err(UdxError::MessageTooLarge {
                len: data.len(),
                max,
            });
        }
        if self.messages.len() >= self.max_messages {
            return Err(UdxError::Misuse("message queue full"));
        }
        self.messages.push_back(data.to_vec());
        Ok(())
    }

    /// Copies in-order bytes out.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let before = self.rcv.rwnd();
        let n = self.rcv.read(buf);
        if self.rcv.readable.is_empty() {
            self.readable_notified = false;
        }
        // Tell the sender when the window opens again from below half (libudx only
        // answers its zero-window probes; an early update saves it a probe interval).
        let half = self.rcv.window() / 2;
        if before < half && self.rcv.rwnd() >= half && !self.is(CLOSED) {
            self.ack_pending = true;
        }
        n
    }

    /// Closes the stream: `Closed` is reported, every buffer is dropped; pending control
    /// packets (the last acknowledgement, a DESTROY) still go out.
    pub fn close(&mut self, error: Option<UdxError>, ev: &mut VecDeque<Event>) {
        if self.is(CLOSED) {
            return;
        }
        self.status |= CLOSED;
        self.snd.clear();
        if error.is_some() {
            self.rcv.clear();
        } else {
            // Bytes that arrived stay readable after a graceful close.
            self.rcv.drop_ahead();
        }
        self.messages = VecDeque::new();
        self.heartbeat_pending = false;
        self.rec.stop();
        if self.remote.is_none() {
            self.ack_pending = false;
        }
        ev.push_back(Event::Closed { id: self.id, error });
    }

    /// Resets the stream: a DESTROY goes out (if connected) and the stream closes.
    pub fn destroy(&mut self, ev: &mut VecDeque<Event>) {
        if self.is(CONNECTED) && self.relay_to.is_none() {
            self.destroy_pending = true;
        }
        self.close(None, ev);
    }

    /// Frees send-buffer room: report `Writable` if a short write is waiting for it.
    pub(crate) fn check_writable(&mut self, ev: &mut VecDeque<Event>) {
        if self.want_writable && self.snd.unsent() <= self.send_buffer / 2 && !self.is(CLOSED) {
            self.want_writable = false;
            ev.push_back(Event::Writable { id: self.id });
        }
    }

    /// One UDX packet for this stream from `from`.
    pub fn handle_packet(
        &mut self,
        now_us: u64,
        from: SocketAddr,
        pkt: &Packet<'_>,
        len: usize,
        ev: &mut VecDeque<Event>,
    ) {
        self.stats.packets_received += 1;
        self.stats.bytes_received += len as u64;
        if self.remote != Some(from) && self.foreign != Some(from) {
            self.foreign = Some(from);
            ev.push_back(Event::RemoteChanged { id: self.id, from });
        }
        let h = &pkt.header;
        if h.flags & flags::HEARTBEAT != 0 {
            self.ack_pending = true;
            return;
        }
        let data_or_end = h.flags & (flags::DATA | flags::END) != 0;
        if crate::seq::le(self.rcv.ack, h.seq) {
            if data_or_end && !self.is(REMOTE_ENDED | CLOSED) {
                self.on_data(h.seq, h.flags, pkt.payload, ev);
            } else if data_or_end {
                self.stats.packets_dropped += 1;
            }
            if h.flags & flags::DESTROY != 0 {
                self.close(Some(UdxError::Destroyed), ev);
                self.ack_pending = false;
                return;
            }
        } else if data_or_end {
            self.stats.packets_dropped += 1;
        }
        if h.flags & flags::MESSAGE != 0 && !self.is(CLOSED) {
            ev.push_back(Event::Message {
                id: self.id,
                data: pkt.payload.to_vec(),
            });
        }
        self.process_ack(now_us, pkt, ev);
        if data_or_end && (!self.is(CLOSED) || self.linger_until.is_some()) {
            self.ack_pending = true;
        }
        self.check_closed(now_us, ev);
    }

    fn on_data(&mut self, seq: u32, pflags: u8, payload: &[u8], ev: &mut VecDeque<Event>) {
        if self.rcv.holds(seq) {
            self.stats.packets_dropped += 1;
            return;
        }
        let a = self.rcv.on_data(seq, pflags, payload);
        if !a.kept {
            self.stats.packets_dropped += 1;
            return;
        }
        if a.end {
            self.status |= REMOTE_ENDING;
        }
        if a.readable && !self.readable_notified {
            self.readable_notified = true;
            ev.push_back(Event::Readable { id: self.id });
        }
        if a.end_reached {
            self.status |= REMOTE_ENDED;
            ev.push_back(Event::RemoteEnded { id: self.id });
        }
    }

    /// Closes the stream gracefully once both sides ended.
    pub(crate) fn check_closed(&mut self, now_us: u64, ev: &mut VecDeque<Event>) {
        if self.is(ENDED) && self.is(REMOTE_ENDED) && !self.is(CLOSED) {
            // The last acknowledgement (of the peer's END) still goes out, and goes out
            // again for a while if the peer retransmits.
            let ack = self.ack_pending;
            self.close(None, ev);
            self.ack_pending = ack;
            self.linger_until = Some(now_us + LINGER_US.max(2 * self.rec.rto_us));
        }
    }

    /// Whether the stream is in loss recovery (for tests and stats).
    #[allow(dead_code)]
    pub fn ca_state(&self) -> CaState {
        self.rec.ca_state
    }

    /// The stream's counters and estimates.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.cwnd = self.cc.cwnd();
        s.srtt = core::time::Duration::from_micros(self.rec.srtt_us);
        let min = self.rec.min_rtt_us();
        s.min_rtt = core::time::Duration::from_micros(if min == u64::MAX { 0 } else { min });
        s.rto = core::time::Duration::from_micros(self.rec.rto_us);
        s.mtu = self.mtu.mtu;
        s.inflight = self.snd.inflight;
        s.send_rwnd = self.snd.send_rwnd;
        s.pacing_rate = self.pacer.rate();
        s.recv_buffered = self.rcv.held();
        s.send_buffered = self.snd.held();
        s
    }
}
