//! UDX without I/O: reliable, ordered, congestion-controlled streams over UDP, on the wire
//! exactly as libudx (`udx-native@1.21.3`) speaks them.
//!
//! A [`Socket`] is the UDX state of one UDP socket: every stream on it and the router of
//! its datagrams (UDX by stream id; dht-rpc and holepunch probes are handed back as
//! [`Routed`]). Input is datagrams ([`Socket::handle_datagram`]) and time
//! ([`Socket::handle_timeout`]); output is datagrams with their destination
//! ([`Socket::poll_transmit`], batch-friendly for GSO), [`Event`]s and the next deadline
//! ([`Socket::poll_timeout`]). After any `&mut` call the caller drains `poll_transmit` and
//! `poll_event` until they return `None`.
//!
//! Per stream, as libudx: sequence numbers count packets; the receiver acknowledges every
//! DATA/END packet at once (cumulative ack + up to 50 SACK blocks; acknowledgements of the
//! datagrams handled between two `poll_transmit` calls are one, and a data packet going
//! out carries it), HEARTBEAT forces an acknowledgement; losses are found by RACK-TLP and
//! by the RTO (the stream dies when one packet times out a seventh time); the peer's
//! receive window bounds what is in flight; sending is paced (25 MB/s until the congestion
//! controller knows better); congestion control sits behind [`CongestionControl`] (BBR by
//! default, as libudx; NewReno); the path MTU is probed from 1200 up to 1500 in 32-byte
//! steps with padded DATA packets. MESSAGE datagrams are unordered and unreliable, END
//! closes the write side after the queued data, DESTROY resets.
//!
//! Where libudx is fragile this implementation departs from it, on the wire compatibly:
//! with more than 50 holes the lowest and the highest 25 SACK blocks are reported (libudx
//! reports the lowest 50), the RTT estimate takes one sample per acknowledgement, and a
//! stream closed gracefully lingers a few seconds to acknowledge a resent END.
//!
//! Memory per stream is bounded whatever the peer sends: out-of-order packets are kept
//! only within the receive window (in bytes, and in sequence numbers: one per KiB of it)
//! and never dropped once acknowledged, unread bytes never exceed the window (plus a
//! packet), what `write` accepts is bounded by [`Config::send_buffer`], and what is kept sent
//! and unacknowledged by [`Config::max_send_window`] whatever window the peer advertises.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod cc;
mod mtu;
mod pacing;
mod rate;
mod socket;
mod stream;

use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

pub use cc::{Bbr, BbrState, CaState, CcContext, CongestionControl, NewReno, RateSample};
pub use ferrocore_wire::udx as packet;
pub use socket::Socket;

/// A stream's LOCAL id: the peer addresses its packets to it.
pub type StreamId = u32;

/// Which congestion controller a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CcKind {
    /// RFC 6582 NewReno with RACK loss detection.
    NewReno,
    /// BBR v1 as libudx has it (`udx_bbr.c`): libudx's only controller since its PR #256
    /// (August 2025; udx-native 1.19.0 and later).
    #[default]
    Bbr,
}

/// Settings of a [`Socket`] and its streams; the defaults are libudx's.
#[derive(Clone, Debug)]
pub struct Config {
    /// The congestion controller of new streams.
    pub cc: CcKind,
    /// Starting MTU (IP + UDP + UDX headers included, as libudx counts): 1200.
    pub min_mtu: u16,
    /// Largest MTU probed: 1500.
    pub max_mtu: u16,
    /// Whether to probe the path MTU upwards from `min_mtu` (libudx does).
    pub mtu_probing: bool,
    /// Receive window advertised (`rwnd`) and most bytes a stream holds for its reader,
    /// in order or not: 4 MiB.
    pub recv_window: u32,
    /// Bytes `write` accepts beyond what is in flight (bounded memory).
    pub send_buffer: usize,
    /// Most bytes a stream keeps sent and not cumulatively acknowledged, whatever window
    /// the peer advertises (a peer advertising 4 GiB and never acknowledging would
    /// otherwise make the sender hold all its application writes): 8 MiB, twice the
    /// largest window libudx advertises, so it never limits a libudx peer.
    pub max_send_window: u32,
    /// Most streams one socket holds at once.
    pub max_streams: usize,
    /// Pacing rate before the congestion controller has a better figure, in bytes per
    /// second: 25 MB/s.
    pub initial_pacing_rate: u64,
    /// Send a HEARTBEAT when a stream has been idle this long (libudx
    /// `udx_stream_set_keepalive`); `None` (the default) sends none.
    pub keepalive: Option<Duration>,
    /// Most MESSAGE datagrams queued per stream before `send_message` refuses more.
    pub max_queued_messages: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cc: CcKind::default(),
            min_mtu: 1200,
            max_mtu: 1500,
            mtu_probing: true,
            recv_window: 4 * 1024 * 1024,
            send_buffer: 1024 * 1024,
            max_send_window: 8 * 1024 * 1024,
            max_streams: 65_536,
            initial_pacing_rate: 25_000_000,
            keepalive: None,
            max_queued_messages: 256,
        }
    }
}

/// The next datagram(s) to send, appended to the caller's buffer by
/// [`Socket::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send them.
    pub dst: SocketAddr,
    /// Bytes appended to the buffer.
    pub len: usize,
    /// Size of each datagram: the appended bytes are `len / segment_size` datagrams of
    /// exactly this size and, when `len` is not a multiple, a last shorter one.
    pub segment_size: usize,
}

/// What [`Socket::handle_datagram`] did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routed {
    /// Consumed by a stream.
    Udx,
    /// A UDX packet for no stream here (JS hands it to the socket's `message` listeners);
    /// the caller decides.
    UnknownStream {
        /// The stream id the packet is addressed to.
        id: StreamId,
    },
    /// A dht-rpc request or response (`0x03` / `0x13`); the bytes are not looked at.
    Rpc,
    /// A 1-byte holepunch probe.
    Probe,
    /// Malformed or of no known kind.
    Ignored,
}

/// What happened on a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// In-order bytes are available to [`Socket::read`].
    Readable {
        /// The stream.
        id: StreamId,
    },
    /// The send buffer has room again after a short [`Socket::write`].
    Writable {
        /// The stream.
        id: StreamId,
    },
    /// A MESSAGE datagram arrived.
    Message {
        /// The stream.
        id: StreamId,
        /// Its payload.
        data: Vec<u8>,
    },
    /// The peer's END was reached in order: no more bytes will come.
    RemoteEnded {
        /// The stream.
        id: StreamId,
    },
    /// Our END was acknowledged: everything we wrote was delivered.
    Finished {
        /// The stream.
        id: StreamId,
    },
    /// The stream is gone (both sides ended, destroyed, or timed out); its id is free.
    Closed {
        /// The stream.
        id: StreamId,
        /// Why, unless it ended gracefully.
        error: Option<UdxError>,
    },
    /// A packet for the stream came from an address other than its remote (or before it
    /// was connected): libudx's `firewall` hook. The packet was processed; the caller
    /// may `connect`, `change_remote` or `destroy`.
    RemoteChanged {
        /// The stream.
        id: StreamId,
        /// Where the packet came from.
        from: SocketAddr,
    },
}

/// Why a stream operation failed or a stream closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdxError {
    /// No stream with this id (never created, or already closed). The caller's fault.
    #[error("no such stream")]
    UnknownStream,
    /// The call does not fit the stream's state or the socket's bounds (the text says
    /// which rule). The caller's fault.
    #[error("misuse: {0}")]
    Misuse(&'static str),
    /// The peer stopped acknowledging: 6 RTO timeouts of one packet. The network's (or
    /// the peer's) fault.
    #[error("stream timed out")]
    Timeout,
    /// The peer reset the stream (DESTROY). The peer's choice.
    #[error("stream destroyed by the peer")]
    Destroyed,
    /// A MESSAGE larger than one packet at the current MTU. The caller's fault.
    #[error("message of {len} bytes exceeds the {max} that fit one packet")]
    MessageTooLarge {
        /// The message's length.
        len: usize,
        /// The most that fits.
        max: usize,
    },
}

/// Counters and estimates of one stream, for diagnostics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Congestion window in packets.
    pub cwnd: u32,
    /// Smoothed round-trip time.
    pub srtt: Duration,
    /// Minimum round-trip time seen.
    pub min_rtt: Duration,
    /// Retransmission timeout.
    pub rto: Duration,
    /// Current MTU (IP + UDP + UDX headers included).
    pub mtu: u16,
    /// Packets in flight.
    pub inflight: u32,
    /// The peer's advertised receive window.
    pub send_rwnd: u32,
    /// Pacing rate in bytes per second.
    pub pacing_rate: u64,
    /// Datagrams sent (data, retransmissions, acknowledgements, probes).
    pub packets_sent: u64,
    /// Bytes of datagrams sent.
    pub bytes_sent: u64,
    /// Datagrams received for the stream.
    pub packets_received: u64,
    /// Bytes of datagrams received for the stream.
    pub bytes_received: u64,
    /// Data packets retransmitted.
    pub packets_retransmitted: u64,
    /// Losses detected by RACK that started a recovery.
    pub fast_recoveries: u32,
    /// RTO expiries.
    pub rto_timeouts: u32,
    /// Data/END packets the receiver dropped (window full, duplicate or out of range).
    pub packets_dropped: u64,
    /// Bytes held for the reader (in order and ahead of gaps).
    pub recv_buffered: usize,
    /// Bytes held for sending (written and not yet acknowledged).
    pub send_buffered: usize,
}

/// Sequence-number arithmetic modulo 2^32 (libudx `seq_diff`, `seq_compare`).
pub(crate) mod seq {
    /// `a - b` as a signed distance.
    pub fn diff(a: u32, b: u32) -> i32 {
        a.wrapping_sub(b) as i32
    }
    /// Whether `a` comes before `b`.
    pub fn lt(a: u32, b: u32) -> bool {
        diff(a, b) < 0
    }
    /// Whether `a` comes at or before `b`.
    pub fn le(a: u32, b: u32) -> bool {
        diff(a, b) <= 0
    }
    /// Whether `a` comes after `b`.
    pub fn gt(a: u32, b: u32) -> bool {
        diff(a, b) > 0
    }
}
