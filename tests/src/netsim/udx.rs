//! UDX endpoints for the simulator: [`Machine`] for a bare [`Socket`], and [`UdxPeer`], a
//! socket with an application on top that writes deterministic content into its streams,
//! reads and checks what arrives, and records what happened (events, progress over time)
//! for the tests to assert on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ferrocore_udx::{Config, Event, Routed, Socket, StreamId, UdxError};

use super::{Machine, Metered};

impl Machine for Socket {
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        let _ = Socket::handle_datagram(self, now, from, bytes);
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        Socket::poll_transmit(self, now, buf, 1).map(|t| (t.dst, t.len))
    }
    fn poll_timeout(&self) -> Option<Duration> {
        Socket::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Duration) {
        Socket::handle_timeout(self, now);
    }
}

/// Fills `out` with bytes `offset..` of the deterministic content named `key`: what a
/// writer sends and a reader checks against.
pub fn fill_content(key: u64, offset: u64, out: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < out.len() {
        let mut z = key ^ (pos / 8).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let word = (z ^ (z >> 31)).to_le_bytes();
        let start = (pos % 8) as usize;
        let n = (8 - start).min(out.len() - i);
        out[i..i + n].copy_from_slice(&word[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

/// What the application writes into a stream.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The content's key ([`fill_content`]).
    pub key: u64,
    /// Bytes to write in all.
    pub total: u64,
    /// Bytes the socket took so far.
    pub written: u64,
    /// Call `end` once everything is written.
    pub end: bool,
    /// `end` was called.
    pub ended: bool,
    /// The last `write` took less than offered: wait for [`Event::Writable`].
    pub blocked: bool,
}

/// What the application read from a stream.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// The key of the content expected ([`fill_content`]).
    pub key: u64,
    /// In-order bytes read so far.
    pub received: u64,
    /// Offset of the first byte that differed from the expected content.
    pub mismatch: Option<u64>,
    /// `(time, bytes read by then)`, one entry per instant at which bytes were read.
    pub progress: Vec<(Duration, u64)>,
    /// The application reads (else bytes wait in the socket: a stalled reader).
    pub paused: bool,
    /// A `Readable` came while paused.
    pub pending: bool,
}

impl Incoming {
    /// Bytes read by time `t`.
    #[must_use]
    pub fn received_at(&self, t: Duration) -> u64 {
        let i = self.progress.partition_point(|(at, _)| *at <= t);
        i.checked_sub(1).map_or(0, |i| self.progress[i].1)
    }

    /// Goodput between `from` and `to`, in bytes per second.
    #[must_use]
    pub fn goodput(&self, from: Duration, to: Duration) -> f64 {
        let bytes = self.received_at(to) - self.received_at(from);
        bytes as f64 / (to - from).as_secs_f64()
    }
}

/// One stream as the application sees it.
#[derive(Debug, Clone, Default)]
pub struct StreamApp {
    /// What it writes.
    pub out: Outgoing,
    /// What it read.
    pub incoming: Incoming,
    /// MESSAGE payloads received, with their arrival time (unless the peer's
    /// [`UdxPeer::keep_messages`] is off).
    pub messages: Vec<(Duration, Vec<u8>)>,
    /// MESSAGE datagrams received.
    pub messages_received: u64,
    /// The peer's END was reached (`RemoteEnded`), at this time.
    pub remote_ended: Option<Duration>,
    /// Our END was acknowledged (`Finished`), at this time.
    pub finished: Option<Duration>,
    /// The stream closed, at this time, with this error.
    pub closed: Option<(Duration, Option<UdxError>)>,
    /// `RemoteChanged` events.
    pub remote_changes: u64,
    /// Events for this stream out of the expected order (e.g. `Readable` after `Closed`,
    /// two `RemoteEnded`, `Finished` before `end`).
    pub anomalies: Vec<String>,
}

/// How a [`UdxPeer`]'s socket classified the datagrams it received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoutedCounts {
    /// Consumed by a stream.
    pub udx: u64,
    /// For no stream here.
    pub unknown_stream: u64,
    /// dht-rpc.
    pub rpc: u64,
    /// Holepunch probes.
    pub probe: u64,
    /// Malformed.
    pub ignored: u64,
}

/// A UDX socket with a checking application on top (see the [module docs](self)).
pub struct UdxPeer {
    /// The socket.
    pub socket: Socket,
    /// The streams the application opened, by local id.
    pub streams: BTreeMap<StreamId, StreamApp>,
    /// How datagrams were routed.
    pub routed: RoutedCounts,
    /// Events for ids the application never opened (the first [`KEPT`]).
    pub stray_events: Vec<Event>,
    /// Keep the payload of every MESSAGE (else only count them: a flood of them would
    /// grow the application, not the socket).
    pub keep_messages: bool,
    buf: Vec<u8>,
    expect: Vec<u8>,
}

/// Bytes the application hands to one `write` or asks of one `read`.
const CHUNK: usize = 64 * 1024;
/// Most stray events and anomalies kept (the rest are dropped: a flood must not grow the
/// application).
pub const KEPT: usize = 64;

/// Records an anomaly (the first [`KEPT`]).
fn note(anomalies: &mut Vec<String>, what: impl Into<String>) {
    if anomalies.len() < KEPT {
        anomalies.push(what.into());
    }
}

impl UdxPeer {
    /// A peer with a fresh socket.
    #[must_use]
    pub fn new(config: Config) -> Self {
        Self {
            socket: Socket::new(config),
            streams: BTreeMap::new(),
            routed: RoutedCounts::default(),
            stray_events: Vec::new(),
            keep_messages: true,
            buf: vec![0; CHUNK],
            expect: vec![0; CHUNK],
        }
    }

    /// Opens stream `id`, connected to `remote_id` at `remote`, that writes `out.total`
    /// bytes of content `out.key` (then ends if `out.end`) and expects content `expect`.
    pub fn open(
        &mut self,
        now: Duration,
        id: StreamId,
        remote_id: StreamId,
        remote: SocketAddr,
        out: Outgoing,
        expect: u64,
    ) -> Result<(), UdxError> {
        self.socket.create_stream(id)?;
        self.socket.connect(now, id, remote_id, remote)?;
        let app = StreamApp {
            out,
            incoming: Incoming {
                key: expect,
                ..Incoming::default()
            },
            ..StreamApp::default()
        };
        self.streams.insert(id, app);
        self.pump(now);
        Ok(())
    }

    /// The application's view of stream `id`.
    ///
    /// # Panics
    /// If the application never opened `id`.
    #[must_use]
    pub fn stream(&self, id: StreamId) -> &StreamApp {
        &self.streams[&id]
    }

    /// Stops (`true`) or resumes reading stream `id`.
    pub fn pause_reading(&mut self, now: Duration, id: StreamId, paused: bool) {
        if let Some(app) = self.streams.get_mut(&id) {
            app.incoming.paused = paused;
            if !paused && app.incoming.pending {
                app.incoming.pending = false;
                self.read_all(now, id);
            }
        }
        self.pump(now);
    }

    /// Writes what the application still has to write and handles the socket's events
    /// until there are none. True if it did anything.
    pub fn pump(&mut self, now: Duration) -> bool {
        let mut any = false;
        loop {
            let ids: Vec<StreamId> = self.streams.keys().copied().collect();
            for id in ids {
                any |= self.write_some(now, id);
            }
            let Some(event) = self.socket.poll_event() else {
                return any;
            };
            any = true;
            self.handle_event(now, event);
        }
    }

    fn write_some(&mut self, now: Duration, id: StreamId) -> bool {
        let Some(app) = self.streams.get_mut(&id) else {
            return false;
        };
        let out = &mut app.out;
        if out.blocked || app.closed.is_some() {
            return false;
        }
        let mut any = false;
        while out.written < out.total {
            let n = (out.total - out.written).min(CHUNK as u64) as usize;
            fill_content(out.key, out.written, &mut self.buf[..n]);
            match self.socket.write(now, id, &self.buf[..n]) {
                Ok(took) => {
                    out.written += took as u64;
                    any |= took > 0;
                    if took < n {
                        out.blocked = true;
                        return any;
                    }
                }
                Err(e) => {
                    note(&mut app.anomalies, format!("write failed: {e}"));
                    out.blocked = true;
                    return any;
                }
            }
        }
        if out.end && !out.ended {
            out.ended = true;
            if let Err(e) = self.socket.end(now, id) {
                note(&mut app.anomalies, format!("end failed: {e}"));
            }
            any = true;
        }
        any
    }

    fn read_all(&mut self, now: Duration, id: StreamId) {
        let Some(app) = self.streams.get_mut(&id) else {
            return;
        };
        let incoming = &mut app.incoming;
        loop {
            let n = match self.socket.read(id, &mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    note(&mut app.anomalies, format!("read failed: {e}"));
                    break;
                }
            };
            fill_content(incoming.key, incoming.received, &mut self.expect[..n]);
            if incoming.mismatch.is_none() && self.buf[..n] != self.expect[..n] {
                let at = self.buf[..n]
                    .iter()
                    .zip(&self.expect)
                    .position(|(a, b)| a != b);
                incoming.mismatch = Some(incoming.received + at.unwrap_or(0) as u64);
            }
            incoming.received += n as u64;
        }
        match incoming.progress.last_mut() {
            Some((at, bytes)) if *at == now => *bytes = incoming.received,
            Some((_, bytes)) if *bytes == incoming.received => {}
            _ => incoming.progress.push((now, incoming.received)),
        }
    }

    fn handle_event(&mut self, now: Duration, event: Event) {
        let id = match &event {
            Event::Readable { id }
            | Event::Writable { id }
            | Event::Message { id, .. }
            | Event::RemoteEnded { id }
            | Event::Finished { id }
            | Event::Closed { id, .. }
            | Event::RemoteChanged { id, .. } => *id,
        };
        let Some(app) = self.streams.get_mut(&id) else {
            if self.stray_events.len() < KEPT {
                self.stray_events.push(event);
            }
            return;
        };
        if app.closed.is_some() {
            note(&mut app.anomalies, format!("{event:?} after Closed"));
        }
        match event {
            Event::Readable { .. } if app.incoming.paused => app.incoming.pending = true,
            Event::Readable { .. } => self.read_all(now, id),
            Event::Writable { .. } => app.out.blocked = false,
            Event::Message { data, .. } => {
                app.messages_received += 1;
                if self.keep_messages {
                    app.messages.push((now, data));
                }
            }
            Event::RemoteEnded { .. } => {
                if app.remote_ended.replace(now).is_some() {
                    note(&mut app.anomalies, "RemoteEnded twice");
                }
                // Whatever is still readable was read on its Readable; nothing may follow.
            }
            Event::Finished { .. } => {
                if !app.out.ended || app.finished.replace(now).is_some() {
                    note(&mut app.anomalies, "Finished without end, or twice");
                }
            }
            Event::Closed { error, .. } => app.closed = Some((now, error)),
            Event::RemoteChanged { .. } => app.remote_changes += 1,
        }
    }
}

impl Machine for UdxPeer {
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        match self.socket.handle_datagram(now, from, bytes) {
            Routed::Udx => self.routed.udx += 1,
            Routed::UnknownStream { .. } => self.routed.unknown_stream += 1,
            Routed::Rpc => self.routed.rpc += 1,
            Routed::Probe => self.routed.probe += 1,
            Routed::Ignored => self.routed.ignored += 1,
        }
        self.pump(now);
    }
    fn poll_transmit(&mut self, now: Duration, buf: &mut Vec<u8>) -> Option<(SocketAddr, usize)> {
        loop {
            if let Some(t) = self.socket.poll_transmit(now, buf, 1) {
                return Some((t.dst, t.len));
            }
            // Sending can raise events (a window opening); what they lead to may send.
            if !self.pump(now) {
                return None;
            }
        }
    }
    fn poll_timeout(&self) -> Option<Duration> {
        self.socket.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Duration) {
        self.socket.handle_timeout(now);
        self.pump(now);
    }
}

/// A simulation node that is (or holds) a [`UdxPeer`], so test helpers work on plain,
/// metered and mixed simulations alike.
pub trait AsPeer {
    /// The peer.
    fn peer(&self) -> &UdxPeer;
    /// Calls into the peer (metered where the node is).
    fn call<R>(&mut self, f: impl FnOnce(&mut UdxPeer) -> R) -> R;
}

impl AsPeer for UdxPeer {
    fn peer(&self) -> &UdxPeer {
        self
    }
    fn call<R>(&mut self, f: impl FnOnce(&mut UdxPeer) -> R) -> R {
        f(self)
    }
}

impl AsPeer for Metered<UdxPeer> {
    fn peer(&self) -> &UdxPeer {
        self.inner()
    }
    fn call<R>(&mut self, f: impl FnOnce(&mut UdxPeer) -> R) -> R {
        Metered::call(self, f)
    }
}
