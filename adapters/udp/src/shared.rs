//! The state every handle of one UDX socket shares, and the socket loop's body, written
//! once for every runtime.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::{Duration, Instant};

use ferrocore_udx::{Event, Routed, Socket, StreamId, UdxError};

use crate::io::{Path, RecvBuffers, UdpIo};

/// Datagrams the UDX router did not take, kept for [`crate::UdxSocket::recv_datagram`]
/// (more are dropped, as a full socket buffer would).
pub const UNROUTED_QUEUE: usize = 256;

/// MESSAGE datagrams kept per stream until read (more are dropped: they are unreliable).
pub const MESSAGE_QUEUE: usize = 256;

/// Receive batches the loop reads per turn before it looks at timers and output.
const RECV_BATCHES: usize = 16;

/// How long a socket whose handles are all gone keeps running for streams still
/// delivering their last data.
const LINGER: Duration = Duration::from_secs(5);

/// A datagram the UDX router did not consume: dht-rpc, a holepunch probe, a packet for a
/// stream id this socket does not have, or anything else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Who sent it.
    pub from: SocketAddr,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// The adapter's view of one stream.
#[derive(Default)]
pub(crate) struct Slot {
    pub(crate) read: Option<Waker>,
    pub(crate) write: Option<Waker>,
    pub(crate) message: Option<Waker>,
    pub(crate) messages: VecDeque<Vec<u8>>,
    /// We sent END (close).
    pub(crate) ended: bool,
    /// The stream is gone; with the reason it failed, if it did.
    pub(crate) closed: Option<Option<(io::ErrorKind, String)>>,
}

impl Slot {
    pub(crate) fn wake_all(&mut self) {
        for w in [self.read.take(), self.write.take(), self.message.take()]
            .into_iter()
            .flatten()
        {
            w.wake();
        }
    }
}

pub(crate) struct State {
    pub(crate) socket: Socket,
    pub(crate) slots: HashMap<StreamId, Slot>,
    /// Streams the UDX socket still has (not yet `Closed`).
    live: HashSet<StreamId>,
    pub(crate) unrouted: VecDeque<Datagram>,
    pub(crate) unrouted_waker: Option<Waker>,
    /// A datagram joined `unrouted` (blocking receivers are told).
    unrouted_new: bool,
    /// Counts [`Shared::kick`]s (a blocking datagram receiver returns when it moves).
    pub(crate) kicks: u64,
    /// Raw datagrams to send ahead of UDX output.
    raw_out: VecDeque<Datagram>,
    /// The datagram(s) in `tx` the socket did not take yet: destination, segment size.
    pending: Option<(SocketAddr, usize)>,
    tx: Vec<u8>,
    /// The loop's waker, and whether it was woken since it last looked.
    loop_waker: Option<Waker>,
    woken: bool,
    /// The loop knows the socket did not take all output.
    loop_waits_send: bool,
    /// The deadline the loop sleeps until.
    armed: Option<Duration>,
    /// Counts the batches of events dispatched (blocking waiters wait for it to move).
    pub(crate) events: u64,
    /// Live handles (sockets and streams); the loop ends when none is left.
    pub(crate) handles: usize,
    linger_since: Option<Duration>,
}

/// What the loop waits for after a turn.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    /// When to run the next turn at the latest (on the socket's clock, see
    /// [`Shared::now`]); `None`: only on input or a wake.
    pub deadline: Option<Duration>,
    /// The socket did not take all output: wait for it to be writable.
    pub send_blocked: bool,
    /// Every handle is gone and the streams are done: the loop ends.
    pub done: bool,
}

/// The state of one UDX socket shared by its handles, its streams and its loop.
pub struct Shared {
    state: Mutex<State>,
    /// Blocking readers and writers wait here.
    pub(crate) changed: Condvar,
    pub(crate) io: Arc<dyn UdpIo>,
    path: Path,
    /// The largest datagram UDX sends.
    mtu: usize,
    origin: Instant,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    /// The shared state of a UDX socket over `io`; `batching` picks quinn-udp's batched
    /// path (GSO/GRO, `recvmmsg`) over one datagram per system call.
    pub(crate) fn new(
        io: Arc<dyn UdpIo>,
        config: ferrocore_udx::Config,
        batching: bool,
    ) -> io::Result<Self> {
        let mtu = usize::from(config.max_mtu);
        let path = if batching {
            Path::Batched(quinn_udp::UdpSocketState::new(io.sock())?)
        } else {
            Path::Plain
        };
        Ok(Self {
            state: Mutex::new(State {
                socket: Socket::new(config),
                slots: HashMap::new(),
                live: HashSet::new(),
                unrouted: VecDeque::new(),
                unrouted_waker: None,
                unrouted_new: false,
                kicks: 0,
                raw_out: VecDeque::new(),
                pending: None,
                tx: Vec::new(),
                loop_waker: None,
                woken: false,
                loop_waits_send: false,
                armed: None,
                handles: 0,
                events: 0,
                linger_since: None,
            }),
            changed: Condvar::new(),
            io,
            path,
            mtu,
            origin: Instant::now(),
        })
    }

    /// The socket's clock: time since it was made.
    #[must_use]
    pub fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Receive buffers for this socket's loop.
    #[must_use]
    pub fn recv_buffers(&self) -> RecvBuffers {
        RecvBuffers::new(self.path.recv_count())
    }

    /// Datagrams one send may carry now (1 without GSO; quinn-udp drops to 1 if the OS
    /// refuses a GSO send).
    #[must_use]
    pub fn max_segments(&self) -> usize {
        self.path.max_segments(self.mtu)
    }

    /// Whether datagrams go out in GSO batches of more than one.
    #[must_use]
    pub fn is_batched(&self) -> bool {
        matches!(self.path, Path::Batched(_))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits on the condition variable (blocking handles).
    pub(crate) fn wait<'a>(&self, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed
            .wait(guard)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the threads blocked in [`crate::UdxSocket::recv_datagram_timeout`] (a loop
    /// of the caller's that waits for datagrams has other work).
    pub fn kick(&self) {
        let mut st = self.lock();
        st.kicks = st.kicks.wrapping_add(1);
        drop(st);
        self.changed.notify_all();
    }

    /// How many [`kick`](Self::kick)s there were (see
    /// [`crate::UdxSocket::recv_datagram_timeout`]).
    #[must_use]
    pub fn kicks(&self) -> u64 {
        self.lock().kicks
    }

    /// Waits on the condition variable for at most `timeout`.
    pub(crate) fn wait_timeout<'a>(
        &self,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        self.changed
            .wait_timeout(guard, timeout)
            .map_or_else(|e| e.into_inner().0, |(g, _)| g)
    }

    /// Registers `waker` as the loop's, unless the loop was woken since its last turn
    /// (then it returns true: run a turn now).
    pub fn take_wake(&self, waker: &Waker) -> bool {
        let st = &mut *self.lock();
        crate::run::register_unless_woken(&mut st.woken, &mut st.loop_waker, waker)
    }

    /// One turn of the socket loop: read what the socket holds (a few batches), fire due
    /// timers, dispatch the UDX events to the handles, send what is due. Returns what to
    /// wait for next.
    pub fn turn(&self, rx: &mut RecvBuffers) -> Wait {
        for _ in 0..RECV_BATCHES {
            let now = self.now();
            let mut st = self.lock();
            let st = &mut *st;
            let got = self.path.recv(&*self.io, rx, |from, datagram| {
                on_datagram(st, now, from, datagram);
            });
            self.after(st);
            match got {
                Ok(_) => {}
                // WouldBlock: drained. Others (an ICMP error surfacing): look again later.
                Err(_) => break,
            }
        }
        let now = self.now();
        let mut st = self.lock();
        if st.socket.poll_timeout().is_some_and(|t| t <= now) {
            st.socket.handle_timeout(now);
        }
        self.after(&mut st);
        let deadline = st.socket.poll_timeout();
        st.armed = deadline;
        st.loop_waits_send = st.pending.is_some();
        let done = st.handles == 0 && {
            let since = *st.linger_since.get_or_insert(now);
            (st.live.is_empty() && st.pending.is_none()) || now >= since + LINGER
        };
        Wait {
            deadline: if st.handles == 0 {
                // Look again when the linger ends.
                let end = st.linger_since.unwrap_or(now) + LINGER;
                Some(deadline.map_or(end, |d| d.min(end)))
            } else {
                deadline
            },
            send_blocked: st.pending.is_some(),
            done,
        }
    }

    /// After any change to the UDX socket: hand its events to the handles and send what
    /// is due.
    fn after(&self, st: &mut State) {
        let mut any = false;
        while let Some(event) = st.socket.poll_event() {
            any = true;
            dispatch(st, event);
        }
        self.flush(st);
        if any || std::mem::take(&mut st.unrouted_new) {
            st.events += 1;
            self.changed.notify_all();
        }
    }

    /// [`after`](Self::after) a handle changed the UDX socket (outside the loop): also
    /// wakes the loop if its timer is now too late or it must wait to send.
    pub(crate) fn after_handle(&self, st: &mut State) {
        self.after(st);
        let deadline = st.socket.poll_timeout();
        let earlier = match (deadline, st.armed) {
            (Some(d), Some(a)) => d < a,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier || (st.pending.is_some() && !st.loop_waits_send) {
            st.armed = deadline;
            st.loop_waits_send = st.pending.is_some();
            self.wake_loop(st);
        }
    }

    pub(crate) fn wake_loop(&self, st: &mut State) {
        st.woken = true;
        if let Some(w) = st.loop_waker.take() {
            w.wake();
        }
    }

    /// Sends what is due until the socket would block.
    fn flush(&self, st: &mut State) {
        let max_segments = self.path.max_segments(self.mtu);
        loop {
            if st.pending.is_none() {
                st.tx.clear();
                if let Some(raw) = st.raw_out.pop_front() {
                    st.tx.extend_from_slice(&raw.data);
                    st.pending = Some((raw.from, raw.data.len()));
                } else {
                    let now = self.now();
                    match st.socket.poll_transmit(now, &mut st.tx, max_segments) {
                        Some(t) => st.pending = Some((t.dst, t.segment_size.max(1))),
                        None => return,
                    }
                }
            }
            let Some((dst, segment)) = st.pending else {
                return;
            };
            if self.path.send(&*self.io, dst, &st.tx, segment).is_err() {
                // Would block: the loop waits for the socket to take more.
                return;
            }
            st.pending = None;
        }
    }

    /// Queues a raw datagram (sent ahead of UDX output).
    pub(crate) fn send_raw(&self, to: SocketAddr, data: &[u8]) {
        let mut st = self.lock();
        st.raw_out.push_back(Datagram {
            from: to,
            data: data.to_vec(),
        });
        self.after_handle(&mut st);
    }

    /// A new stream with local id `id`.
    pub(crate) fn create_stream(&self, id: StreamId) -> io::Result<()> {
        let mut st = self.lock();
        st.socket.create_stream(id).map_err(to_io)?;
        st.slots.insert(id, Slot::default());
        st.live.insert(id);
        st.handles += 1;
        Ok(())
    }

    /// A handle (socket or stream) is gone.
    pub(crate) fn release(&self, st: &mut State) {
        st.handles -= 1;
        if st.handles == 0 {
            st.linger_since = Some(self.now());
            self.wake_loop(st);
        }
    }
}

fn on_datagram(st: &mut State, now: Duration, from: SocketAddr, datagram: &[u8]) {
    match st.socket.handle_datagram(now, from, datagram) {
        Routed::Udx => {}
        _ => {
            if st.unrouted.len() < UNROUTED_QUEUE {
                st.unrouted.push_back(Datagram {
                    from,
                    data: datagram.to_vec(),
                });
                st.unrouted_new = true;
                if let Some(w) = st.unrouted_waker.take() {
                    w.wake();
                }
            }
        }
    }
}

fn dispatch(st: &mut State, event: Event) {
    match event {
        Event::Readable { id } | Event::RemoteEnded { id } => {
            if let Some(w) = st.slots.get_mut(&id).and_then(|s| s.read.take()) {
                w.wake();
            }
        }
        Event::Writable { id } | Event::Finished { id } => {
            if let Some(w) = st.slots.get_mut(&id).and_then(|s| s.write.take()) {
                w.wake();
            }
        }
        Event::Message { id, data } => {
            if let Some(slot) = st.slots.get_mut(&id) {
                if slot.messages.len() < MESSAGE_QUEUE {
                    slot.messages.push_back(data);
                }
                if let Some(w) = slot.message.take() {
                    w.wake();
                }
            }
        }
        Event::Closed { id, error } => {
            st.live.remove(&id);
            if let Some(slot) = st.slots.get_mut(&id) {
                slot.closed = Some(error.map(|e| (error_kind(&e), e.to_string())));
                slot.wake_all();
            }
        }
        _ => {}
    }
}

/// The I/O error kind a UDX error stands for.
fn error_kind(e: &UdxError) -> io::ErrorKind {
    match e {
        UdxError::Timeout => io::ErrorKind::TimedOut,
        UdxError::Destroyed => io::ErrorKind::ConnectionReset,
        UdxError::UnknownStream => io::ErrorKind::NotConnected,
        _ => io::ErrorKind::Other,
    }
}

/// A UDX error as an I/O error.
pub(crate) fn to_io(e: UdxError) -> io::Error {
    io::Error::new(error_kind(&e), e.to_string())
}
