//! A datagram state machine (a dht-rpc node, a HyperDHT node) run beside the UDX streams
//! on one UDP socket: it takes the datagrams the UDX router does not, and its output goes
//! out of the same socket. The loop body is written once here; a runtime adds its timer
//! ([`drive_machine`] for async runtimes, [`run_machine_blocking`] for a thread).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::run::{LoopTimer, Sleep, SocketDriver};
use crate::shared::Datagram;
use crate::UdxSocket;

/// Events kept for the application until it takes them (more are dropped and counted in
/// [`MachineNode::dropped_events`]).
pub const EVENT_QUEUE: usize = 4096;

/// Datagrams one loop turn hands to the machine before it looks at timers and output.
const TURN_DATAGRAMS: usize = 256;

/// A sans-IO datagram state machine with the `handle_*` / `poll_*` shape: time is the
/// socket's clock ([`crate::Shared::now`]).
pub trait Machine: Send + 'static {
    /// What it reports to the application.
    type Event: Send + 'static;

    /// A datagram from `from`.
    fn handle_datagram(&mut self, now: Duration, from: SocketAddr, data: &[u8]);

    /// Runs what is due at `now`.
    fn handle_timeout(&mut self, now: Duration);

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    fn poll_timeout(&self) -> Option<Duration>;

    /// The next datagram to send.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;

    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
}

struct State<M: Machine> {
    machine: M,
    events: VecDeque<M::Event>,
    dropped: u64,
    event_waker: Option<Waker>,
    loop_waker: Option<Waker>,
    woken: bool,
    /// The deadline the loop sleeps until.
    armed: Option<Duration>,
}

struct Inner<M: Machine> {
    socket: UdxSocket,
    state: Mutex<State<M>>,
}

impl<M: Machine> Drop for Inner<M> {
    fn drop(&mut self) {
        // The loop sees the handles gone at its next look.
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = st.loop_waker.take() {
            w.wake();
        }
        self.socket.shared().kick();
    }
}

impl<M: Machine> Inner<M> {
    fn lock(&self) -> MutexGuard<'_, State<M>> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        self.socket.shared().now()
    }

    /// After any change to the machine: queue its events, send its datagrams.
    fn after(&self, st: &mut State<M>) {
        let mut any = false;
        while let Some(e) = st.machine.poll_event() {
            if st.events.len() < EVENT_QUEUE {
                st.events.push_back(e);
                any = true;
            } else {
                st.dropped += 1;
            }
        }
        while let Some((to, bytes)) = st.machine.poll_transmit() {
            self.socket.send_datagram(to, &bytes);
        }
        if any {
            if let Some(w) = st.event_waker.take() {
                w.wake();
            }
        }
    }

    /// [`after`](Self::after) a change from a handle: also wakes the loop when its timer
    /// is now too late.
    fn after_handle(&self, st: &mut State<M>) {
        self.after(st);
        let deadline = st.machine.poll_timeout();
        let earlier = match (deadline, st.armed) {
            (Some(d), Some(a)) => d < a,
            (Some(_), None) => true,
            _ => false,
        };
        if earlier {
            st.armed = deadline;
            st.woken = true;
            if let Some(w) = st.loop_waker.take() {
                w.wake();
            }
            self.socket.shared().kick();
        }
    }

    fn handle(&self, st: &mut State<M>, now: Duration, d: &Datagram) {
        let from = to_v4(d.from).unwrap_or(d.from);
        st.machine.handle_datagram(now, from, &d.data);
    }

    /// One loop turn: the datagrams queued, the timers due, the output. Returns the next
    /// deadline.
    fn turn(&self, first: Option<Datagram>) -> Option<Duration> {
        let now = self.now();
        let mut st = self.lock();
        st.woken = false;
        if let Some(d) = first {
            self.handle(&mut st, now, &d);
        }
        for _ in 0..TURN_DATAGRAMS {
            let Some(d) = self.socket.try_recv_datagram() else {
                break;
            };
            self.handle(&mut st, now, &d);
        }
        if st.machine.poll_timeout().is_some_and(|t| t <= now) {
            st.machine.handle_timeout(now);
        }
        self.after(&mut st);
        let deadline = st.machine.poll_timeout();
        st.armed = deadline;
        deadline
    }

    /// Registers the loop's waker unless it was woken since its turn (then true).
    fn take_wake(&self, waker: &Waker) -> bool {
        let st = &mut *self.lock();
        crate::run::register_unless_woken(&mut st.woken, &mut st.loop_waker, waker)
    }
}

/// An IPv4-mapped IPv6 address as IPv4 (a dual-stack socket reports IPv4 peers so).
fn to_v4(addr: SocketAddr) -> Option<SocketAddr> {
    match addr {
        SocketAddr::V6(v6) => v6
            .ip()
            .to_ipv4_mapped()
            .map(|ip| SocketAddr::new(ip.into(), v6.port())),
        SocketAddr::V4(_) => None,
    }
}

/// A handle to a [`Machine`] run on a UDX socket's spare datagrams. Clones share it; its
/// loop ends when every handle is dropped.
pub struct MachineNode<M: Machine> {
    inner: Arc<Inner<M>>,
}

impl<M: Machine> Clone for MachineNode<M> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Machine> std::fmt::Debug for MachineNode<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineNode")
            .field("socket", &self.inner.socket)
            .finish_non_exhaustive()
    }
}

impl<M: Machine> MachineNode<M> {
    /// `machine` on `socket` (it takes every datagram the UDX router does not: nothing
    /// else should call `recv_datagram` on the socket). Nothing moves until its loop runs:
    /// [`drive_machine`] or [`run_machine_blocking`].
    pub fn new(socket: UdxSocket, machine: M) -> Self {
        Self {
            inner: Arc::new(Inner {
                socket,
                state: Mutex::new(State {
                    machine,
                    events: VecDeque::new(),
                    dropped: 0,
                    event_waker: None,
                    loop_waker: None,
                    woken: false,
                    armed: None,
                }),
            }),
        }
    }

    /// The UDX socket the machine shares.
    #[must_use]
    pub fn socket(&self) -> &UdxSocket {
        &self.inner.socket
    }

    /// The socket's clock (what the machine is given as `now`).
    #[must_use]
    pub fn now(&self) -> Duration {
        self.inner.now()
    }

    /// Runs `f` on the machine (with the current time), then sends its output, queues its
    /// events and wakes the loop if its next deadline moved earlier.
    pub fn with<R>(&self, f: impl FnOnce(&mut M, Duration) -> R) -> R {
        let now = self.inner.now();
        let mut st = self.inner.lock();
        let r = f(&mut st.machine, now);
        self.inner.after_handle(&mut st);
        r
    }

    /// The next event, if one is queued.
    #[must_use]
    pub fn try_event(&self) -> Option<M::Event> {
        self.inner.lock().events.pop_front()
    }

    /// Polls for the next event.
    pub fn poll_event(&self, cx: &mut Context<'_>) -> Poll<M::Event> {
        let mut st = self.inner.lock();
        match st.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => {
                st.event_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Waits for the next event.
    pub async fn next_event(&self) -> M::Event {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Events dropped because the application did not take them ([`EVENT_QUEUE`]).
    #[must_use]
    pub fn dropped_events(&self) -> u64 {
        self.inner.lock().dropped
    }
}

/// The loop of `node` on an async runtime with timer `sleep`: spawn it. It ends when
/// every handle to the node is dropped.
pub fn drive_machine<M: Machine>(node: &MachineNode<M>, sleep: Sleep) -> SocketDriver {
    let weak = Arc::downgrade(&node.inner);
    let socket = node.inner.socket.clone();
    SocketDriver::new(Box::pin(run(weak, socket, sleep)))
}

async fn run<M: Machine>(weak: Weak<Inner<M>>, socket: UdxSocket, sleep: Sleep) {
    let mut timer = LoopTimer::default();
    let mut first = None;
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let deadline = inner.turn(first.take());
        timer.arm(deadline, inner.now(), &sleep);
        drop(inner);
        poll_fn(|cx| {
            let Some(inner) = weak.upgrade() else {
                return Poll::Ready(());
            };
            if inner.take_wake(cx.waker()) {
                return Poll::Ready(());
            }
            if let Poll::Ready(d) = socket.poll_recv_datagram(cx) {
                first = Some(d);
                return Poll::Ready(());
            }
            timer.poll(cx)
        })
        .await;
    }
}

/// The loop of `node` on the calling thread (run it on a thread of its own): waits in
/// the socket's condition variable for datagrams, the next deadline or a handle's
/// change. Returns when every other handle to the node is dropped.
pub fn run_machine_blocking<M: Machine>(node: MachineNode<M>) {
    let weak = Arc::downgrade(&node.inner);
    let socket = node.inner.socket.clone();
    drop(node);
    let mut kicks = socket.shared().kicks();
    let mut first = None;
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let deadline = inner.turn(first.take());
        let timeout = deadline.map(|d| d.saturating_sub(inner.now()));
        drop(inner);
        first = socket.recv_datagram_timeout(timeout, &mut kicks);
    }
}
