//! The datagrams a stream writes: DESTROY, acknowledgements (with SACK blocks), heartbeats,
//! MESSAGEs, then retransmissions and new data as the window and the pacer allow, in
//! batches of equal-size datagrams for GSO.

use alloc::vec::Vec;
use core::net::SocketAddr;

use ferrocore_wire::udx::{flags, write_ack, Header, MAX_SACKS};

use super::send::{PktState, SentPacket};
use super::{header_overhead, Stream, CLOSED};
use crate::Transmit;

/// A packet the data path could write next.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// Retransmit this sequence number.
    Retransmit(u32),
    /// A new packet: payload length and MTU-probe padding.
    New { len: usize, padding: Option<u8> },
}

impl Stream {
    fn header(&self, pflags: u8, seq: u32) -> Header {
        Header {
            flags: pflags,
            data_offset: 0,
            stream_id: self.remote_id,
            rwnd: self.rcv.rwnd(),
            seq,
            ack: self.rcv.ack,
        }
    }

    fn single(&mut self, dst: SocketAddr, start: usize, buf: &[u8]) -> Option<Transmit> {
        let len = buf.len() - start;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += len as u64;
        Some(Transmit {
            dst,
            len,
            segment_size: len,
        })
    }

    fn write_state(&mut self, buf: &mut Vec<u8>) {
        let mut sacks = [(0u32, 0u32); MAX_SACKS];
        let n = self.rcv.sacks(&mut sacks);
        let h = self.header(0, self.snd.seq);
        write_ack(&h, &sacks[..n], buf);
        self.ack_pending = false;
    }

    /// The next datagram(s) of this stream, appended to `buf`.
    pub fn poll_transmit(
        &mut self,
        now: u64,
        buf: &mut Vec<u8>,
        max_segments: usize,
    ) -> Option<Transmit> {
        let remote = self.remote?;
        let start = buf.len();
        if self.destroy_pending {
            self.destroy_pending = false;
            self.ack_pending = false;
            let h = self.header(flags::DESTROY, self.snd.seq);
            self.snd.seq = self.snd.seq.wrapping_add(1);
            h.write(buf);
            return self.single(remote, start, buf);
        }
        if self.is(CLOSED) {
            if self.ack_pending {
                self.write_state(buf);
                return self.single(remote, start, buf);
            }
            return None;
        }
        if self.ack_pending && self.rcv.has_gaps() {
            self.write_state(buf);
            return self.single(remote, start, buf);
        }
        if self.heartbeat_pending {
            self.heartbeat_pending = false;
            self.header(flags::HEARTBEAT, self.snd.seq).write(buf);
            return self.single(remote, start, buf);
        }
        if let Some(m) = self.messages.pop_front() {
            self.header(flags::MESSAGE, self.snd.seq).write(buf);
            buf.extend_from_slice(&m);
            return self.single(remote, start, buf);
        }
        if let Some(t) = self.poll_data(now, buf, max_segments, remote) {
            // Every data packet carries the cumulative ack and window.
            self.ack_pending = false;
            return Some(t);
        }
        if self.ack_pending {
            self.write_state(buf);
            return self.single(remote, start, buf);
        }
        None
    }

    fn may_send(&self, retransmit: bool) -> bool {
        let cwnd = self.cc.cwnd();
        if retransmit {
            return self.snd.inflight < cwnd;
        }
        let rwnd = self.snd.send_rwnd;
        let rwnd_pkts = if rwnd == 0 {
            0
        } else {
            (rwnd / self.max_payload() as u32).max(1)
        };
        // The receiver keeps what it holds ahead of a gap within its window too, so the
        // window bounds everything sent since the cumulative ack, not just what is in
        // flight (counting only that, a sender with many SACKed packets overran it and
        // had everything beyond dropped and resent again and again).
        let outstanding = self.snd.seq.wrapping_sub(self.snd.remote_acked);
        self.snd.inflight < cwnd && outstanding < rwnd_pkts
    }

    fn next(&mut self, tlp: bool) -> Option<Next> {
        if tlp {
            if self.snd.has_new() {
                return Some(self.next_new(true));
            }
            return Some(Next::Retransmit(self.snd.seq.wrapping_sub(1)));
        }
        if let Some(s) = self.snd.peek_lost() {
            return self.may_send(true).then_some(Next::Retransmit(s));
        }
        if self.snd.has_new() && self.may_send(false) {
            return Some(self.next_new(false));
        }
        None
    }

    fn next_new(&self, tlp: bool) -> Next {
        let len = self.snd.unsent().min(self.max_payload());
        let padding = if tlp || self.remote_changing.is_some() || len == 0 {
            None
        } else {
            self.mtu.probe_padding(len + header_overhead(self.remote))
        };
        Next::New { len, padding }
    }

    fn poll_data(
        &mut self,
        now: u64,
        buf: &mut Vec<u8>,
        max_segments: usize,
        remote: SocketAddr,
    ) -> Option<Transmit> {
        let start = buf.len();
        let mut count = 0usize;
        let mut seg = 0usize;
        let mut dst = remote;
        self.pacing_wait = None;
        while count < max_segments.max(1) {
            let tlp = self.rec.tlp_due;
            let Some(next) = self.next(tlp) else { break };
            if !tlp && !self.pacer.may_send(now) {
                self.pacing_wait = Some(self.pacer.next_send_us());
                break;
            }
            let (size, to) = match next {
                Next::Retransmit(s) => match self.snd.get(s) {
                    Some(p) => (20 + usize::from(p.len), p.dst),
                    None => {
                        self.rec.tlp_due = false;
                        break;
                    }
                },
                Next::New { len, padding } => {
                    (20 + len + usize::from(padding.unwrap_or(0)), remote)
                }
            };
            if count > 0 && (size > seg || to != dst) {
                break;
            }
            match next {
                Next::Retransmit(s) => self.retransmit(now, s, tlp, buf),
                Next::New { padding, .. } => self.send_new(now, padding, tlp, remote, buf),
            }
            if count == 0 {
                seg = size;
                dst = to;
            }
            count += 1;
            self.pacer.consume(size);
            self.stats.packets_sent += 1;
            self.stats.bytes_sent += size as u64;
            if tlp {
                self.rec.tlp_due = false;
                break;
            }
            if size < seg {
                break;
            }
        }
        (count > 0).then(|| Transmit {
            dst,
            len: buf.len() - start,
            segment_size: seg,
        })
    }

    fn send_new(
        &mut self,
        now: u64,
        padding: Option<u8>,
        tlp: bool,
        dst: SocketAddr,
        buf: &mut Vec<u8>,
    ) {
        let max = self.max_payload();
        self.rate.check_app_limited(
            self.snd.unsent() < max,
            self.snd.inflight < self.cc.cwnd(),
            self.snd.peek_lost().is_none(),
            self.snd.inflight,
        );
        let idle = self.snd.seq == self.snd.remote_acked;
        let (offset, len) = self.snd.take(max);
        let mut pflags = 0;
        if len > 0 {
            pflags |= flags::DATA;
        }
        if self.snd.end_queued && self.snd.unsent() == 0 && !self.snd.end_sent && len < max {
            pflags |= flags::END;
            self.snd.end_sent = true;
        }
        let seq = self.snd.seq;
        let mut h = self.header(pflags, seq);
        h.data_offset = padding.unwrap_or(0);
        h.write(buf);
        buf.resize(buf.len() + usize::from(h.data_offset), 0);
        self.snd.copy_payload(offset, len, buf);
        let rate = self.rate.on_sent(now, idle);
        self.snd.pkts.push_back(SentPacket {
            offset,
            len: len as u16,
            flags: pflags,
            state: PktState::InFlight,
            transmits: 1,
            rto_timeouts: 0,
            retransmitted: false,
            probe: padding,
            time_sent: now,
            rate,
            dst,
            remote_id: self.remote_id,
        });
        self.snd.order.push_back((seq, 1));
        self.snd.inflight += 1;
        self.snd.seq = seq.wrapping_add(1);
        if padding.is_some() {
            self.mtu.on_probe_sent();
        }
        if self.snd.inflight == 1 {
            let ctx = self.cc_context(now);
            self.cc.on_transmit_start(&ctx);
        }
        if tlp {
            self.rec.tlp_is_retrans = false;
            self.rec.tlp_in_flight = true;
            self.rec.tlp_end_seq = seq;
            self.rec.tlp_permitted = false;
        }
        self.arm_timers(now, !tlp);
    }

    fn retransmit(&mut self, now: u64, s: u32, tlp: bool, buf: &mut Vec<u8>) {
        let rwnd = self.rcv.rwnd();
        let ack = self.rcv.ack;
        let idle = self.snd.seq == self.snd.remote_acked;
        let rate = self.rate.on_sent(now, idle);
        let Some(p) = self.snd.get_mut(s) else { return };
        if p.state == PktState::Lost {
            p.state = PktState::InFlight;
            self.snd.inflight += 1;
        }
        let Some(p) = self.snd.get_mut(s) else { return };
        p.transmits = p.transmits.wrapping_add(1);
        p.retransmitted = true;
        p.time_sent = now;
        p.rate = rate;
        let h = Header {
            flags: p.flags,
            data_offset: 0,
            stream_id: p.remote_id,
            rwnd,
            seq: s,
            ack,
        };
        let (offset, len, tx) = (p.offset, usize::from(p.len), p.transmits);
        h.write(buf);
        self.snd.copy_payload(offset, len, buf);
        self.snd.order.push_back((s, tx));
        self.stats.packets_retransmitted += 1;
        if self.snd.inflight == 1 {
            let ctx = self.cc_context(now);
            self.cc.on_transmit_start(&ctx);
        }
        if tlp {
            self.rec.tlp_is_retrans = true;
            self.rec.tlp_in_flight = true;
            self.rec.tlp_end_seq = s;
            self.rec.tlp_permitted = false;
        }
        self.arm_timers(now, false);
    }

    /// When this stream next needs `handle_timeout`.
    pub fn poll_timeout(&self) -> Option<u64> {
        let t = self.timer_deadline().or(self.linger_until);
        match (t, self.pacing_wait) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
