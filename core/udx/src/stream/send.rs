//! The send side's bookkeeping: the bytes written and not yet acknowledged, and one
//! record per packet sent and not yet cumulatively acknowledged.
//!
//! Bytes live in one ring (`data`) from the first unacknowledged byte to the last
//! written one; a packet records the offset and length of its payload in it, so a
//! retransmission reads the same bytes again and nothing is copied per packet until the
//! datagram is written. Packets live in a second ring indexed by `seq - remote_acked`.

use alloc::collections::VecDeque;
use core::net::SocketAddr;

use crate::rate::PacketRate;

/// Where a sent packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PktState {
    /// Sent, not acknowledged, not deemed lost.
    InFlight,
    /// Deemed lost, waiting for retransmission.
    Lost,
    /// Selectively acknowledged (kept until the cumulative ack passes it).
    Acked,
}

/// A packet sent and not yet cumulatively acknowledged.
#[derive(Debug, Clone)]
pub(crate) struct SentPacket {
    /// Stream offset of the payload's first byte.
    pub offset: u64,
    /// Payload length.
    pub len: u16,
    /// DATA and/or END.
    pub flags: u8,
    pub state: PktState,
    pub transmits: u8,
    pub rto_timeouts: u8,
    pub retransmitted: bool,
    /// `Some(padding)` while the packet is an MTU probe.
    pub probe: Option<u8>,
    pub time_sent: u64,
    pub rate: PacketRate,
    /// Destination and stream id of the first transmission (retransmissions go there
    /// too, as in libudx, even after `change_remote`).
    pub dst: SocketAddr,
    pub remote_id: u32,
}

/// The send state.
#[derive(Debug)]
pub(crate) struct SendQueue {
    /// Next new sequence number (TCP snd.nxt).
    pub seq: u32,
    /// First unacknowledged sequence number (TCP snd.una).
    pub remote_acked: u32,
    /// `pkts[i]` has sequence `remote_acked + i`.
    pub pkts: VecDeque<SentPacket>,
    /// Bytes from stream offset `data_start` on.
    data: VecDeque<u8>,
    data_start: u64,
    /// Offset up to which bytes went into packets.
    pub sent_end: u64,
    /// `end` was called: an END follows the data.
    pub end_queued: bool,
    /// The END went out in a packet.
    pub end_sent: bool,
    /// Lost packets waiting for retransmission, oldest loss first (entries that are no
    /// longer lost are skipped).
    pub lost: VecDeque<u32>,
    /// Transmissions in send order, `(seq, transmit number)` (stale entries skipped).
    pub order: VecDeque<(u32, u8)>,
    /// Packets in flight.
    pub inflight: u32,
    /// Packets selectively acknowledged and not yet cumulatively (libudx `sacks`).
    pub sacked: u32,
    /// The peer's advertised window, and the seq/ack of its last update.
    pub send_rwnd: u32,
    /// The local cap on `send_rwnd` ([`Config::max_send_window`](crate::Config)).
    pub max_window: u32,
    pub wl1: u32,
    pub wl2: u32,
}

impl SendQueue {
    /// An empty queue; `rwnd` is assumed of the peer until it says otherwise, and no
    /// window above `max_window` is ever used.
    pub fn new(rwnd: u32, max_window: u32) -> Self {
        SendQueue {
            seq: 0,
            remote_acked: 0,
            pkts: VecDeque::new(),
            data: VecDeque::new(),
            data_start: 0,
            sent_end: 0,
            end_queued: false,
            end_sent: false,
            lost: VecDeque::new(),
            order: VecDeque::new(),
            inflight: 0,
            sacked: 0,
            send_rwnd: rwnd.min(max_window),
            max_window,
            wl1: 0,
            wl2: 0,
        }
    }

    /// Bytes written and not yet put in a packet.
    pub fn unsent(&self) -> usize {
        let end = self.data_start + self.data.len() as u64;
        (end - self.sent_end) as usize
    }

    /// Whether a new packet could be made (data or a pending END).
    pub fn has_new(&self) -> bool {
        self.unsent() > 0 || (self.end_queued && !self.end_sent)
    }

    /// Appends bytes to send.
    pub fn push(&mut self, bytes: &[u8]) {
        self.data.extend(bytes);
    }

    /// Takes the next `max` (at most) unsent bytes into a packet: `(offset, len)`.
    pub fn take(&mut self, max: usize) -> (u64, usize) {
        let len = self.unsent().min(max);
        let off = self.sent_end;
        self.sent_end += len as u64;
        (off, len)
    }

    /// Appends the payload bytes at `offset..offset + len` to `out`.
    pub fn copy_payload(&self, offset: u64, len: usize, out: &mut alloc::vec::Vec<u8>) {
        let start = (offset - self.data_start) as usize;
        let (a, b) = self.data.as_slices();
        if start + len <= a.len() {
            out.extend_from_slice(&a[start..start + len]);
        } else if start >= a.len() {
            let s = start - a.len();
            out.extend_from_slice(&b[s..s + len]);
        } else {
            out.extend_from_slice(&a[start..]);
            out.extend_from_slice(&b[..len - (a.len() - start)]);
        }
    }

    /// The packet with sequence `seq`, if it is in the ring.
    pub fn get(&self, seq: u32) -> Option<&SentPacket> {
        self.pkts.get(seq.wrapping_sub(self.remote_acked) as usize)
    }

    /// The packet with sequence `seq`, mutably.
    pub fn get_mut(&mut self, seq: u32) -> Option<&mut SentPacket> {
        self.pkts
            .get_mut(seq.wrapping_sub(self.remote_acked) as usize)
    }

    /// Forgets packets before `ack` (cumulatively acknowledged) and their bytes.
    pub fn release_through(&mut self, ack: u32) {
        let n = ack.wrapping_sub(self.remote_acked) as usize;
        let n = n.min(self.pkts.len());
        for p in self.pkts.drain(..n) {
            if p.state == PktState::InFlight {
                self.inflight = self.inflight.saturating_sub(1);
            }
            if p.state == PktState::Acked {
                self.sacked = self.sacked.saturating_sub(1);
            }
        }
        self.remote_acked = ack;
        let keep_from = self.pkts.front().map_or(self.sent_end, |p| p.offset);
        let drop = (keep_from - self.data_start) as usize;
        self.data.drain(..drop.min(self.data.len()));
        self.data_start = keep_from;
        while let Some(&(s, tx)) = self.order.front() {
            if self.is_current(s, tx) {
                break;
            }
            self.order.pop_front();
        }
    }

    /// Whether the transmission `(seq, tx)` is the packet's latest and it is in flight.
    pub fn is_current(&self, seq: u32, tx: u8) -> bool {
        self.get(seq)
            .is_some_and(|p| p.state == PktState::InFlight && p.transmits == tx)
    }

    /// Drops stale entries of the send-order list when they outnumber live ones.
    pub fn compact_order(&mut self) {
        if self.order.len() > 2 * self.inflight as usize + 64 {
            let mut order = core::mem::take(&mut self.order);
            order.retain(|&(s, tx)| self.is_current(s, tx));
            self.order = order;
        }
    }

    /// The next lost packet to retransmit, skipping stale entries.
    pub fn peek_lost(&mut self) -> Option<u32> {
        while let Some(&s) = self.lost.front() {
            if self.get(s).is_some_and(|p| p.state == PktState::Lost) {
                return Some(s);
            }
            self.lost.pop_front();
        }
        None
    }

    /// Every byte and packet is gone (the stream closed).
    pub fn clear(&mut self) {
        self.pkts = VecDeque::new();
        self.data = VecDeque::new();
        self.lost = VecDeque::new();
        self.order = VecDeque::new();
        self.inflight = 0;
        self.sacked = 0;
    }

    /// Bytes held (written, not yet acknowledged).
    pub fn held(&self) -> usize {
        self.data.len()
    }
}
